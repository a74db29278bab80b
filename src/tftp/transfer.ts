/**
 * What a read and a write transfer of the server share: the socket of their own (their
 * TID), the slot they hold, the one log line, and the way they end.
 */

import type dgram from 'node:dgram';
import { ErrorCode, formatHostPort } from '../errors.js';
import type { ConfinedRoot } from '../runtime/confine.js';
import { type Direction, events } from '../runtime/events.js';
import type { Logger } from '../runtime/log.js';
import type { Rollover } from './blocks.js';
import { codeOfTftpError } from './errors.js';
import { type Peer, TransferLink } from './link.js';
import type { ServerLimits, TransferOptions } from './options.js';
import { encodeError, encodeOack, Opcode, type Request } from './packet.js';
import type { RewriteRule } from './paths.js';
import { Rto } from './rto.js';
import type { SessionOptions, TransferStats } from './sender.js';
import type { Slot, TransferInfo, TransferSlots } from './slots.js';
import { type Refusal, refuse, type ServedFiles } from './storage.js';
import { negotiation, timeoutLogged } from './trace.js';

/** The least time between two answers to repeats of a request. */
const MIN_REPEAT_GAP_MS = 250;

/**
 * Where a transfer is:
 * - `negotiating`: the name is resolved, the file opened or created, options negotiated;
 * - `transferring`: blocks are moving;
 * - `finishing`: an upload is complete and placed, and its final ACK repeated on request;
 * - `done`: its socket is closed and its slot given back.
 */
export type TransferState = 'negotiating' | 'transferring' | 'finishing' | 'done';

/** What every transfer of one server runs with. */
export interface ServerContext {
  root: ConfinedRoot;
  files: ServedFiles;
  limits: ServerLimits;
  rules: readonly RewriteRule[];
  rollover: Rollover;
  timeoutMs: number;
  retries: number;
  pollUs: number;
  /** A client's receive buffer, assumed to be the system default. */
  peerReceiveBuffer: number;
  slots: TransferSlots;
  log: Logger;
}

export abstract class Transfer {
  state: TransferState = 'negotiating';
  readonly link: TransferLink;
  readonly #began = Date.now();
  /** When blocks began to move (`performance.now()`); a refused request never starts. */
  #started: number | undefined;
  #size: number | undefined;
  #logged = false;

  constructor(
    readonly context: ServerContext,
    readonly request: Request,
    readonly client: Peer,
    readonly socket: dgram.Socket,
    readonly slot: Slot,
  ) {
    this.link = new TransferLink(socket, client.address, client, context.pollUs);
    // A defect in this transfer fails it alone, as one that throws while it starts does.
    this.link.onDefect = (err) => {
      context.log.error({ err, ...this.entry }, 'transfer failed');
      this.abort('server error', true);
    };
    slot.heard = () => this.link.heardAt;
    slot.stop = (reason, tell) => this.abort(reason, tell);
    slot.repeated = () => this.#repeated();
    slot.info = () => this.info();
  }

  /** What the transfer is and how far it got. */
  info(): TransferInfo {
    const info: TransferInfo = {
      file: this.request.filename,
      client: formatHostPort(this.client.address, this.client.port),
      direction: this.direction,
      bytes: this.progress?.bytes ?? 0,
      seconds: (Date.now() - this.#began) / 1000,
    };
    if (this.#size !== undefined) info.size = this.#size;
    return info;
  }

  /** The counts of the sender or receiver, once there is one. */
  protected abstract get progress(): TransferStats | undefined;

  #repeats = 0;
  #repeatedAt = 0;

  /**
   * The client sent its request again before a word on this transfer's port: our first
   * packet (or its answer) was lost, and the repeat is the news of it, sooner than our timer
   * (1, 2, 4 s apart) would act on it. So it is sent again now, as tftpd-hpa answers every
   * request. The source may be forged: at most `retries` such answers per transfer and one
   * per 250 ms, to the client's own address and port, so a flood of repeats draws no more
   * than the timer itself would send.
   */
  #repeated(): void {
    if (this.link.heardAt !== undefined || this.state !== 'transferring') return;
    const now = Date.now();
    if (this.#repeats >= this.context.retries || now - this.#repeatedAt < MIN_REPEAT_GAP_MS) return;
    this.#repeats++;
    this.#repeatedAt = now;
    this.context.log.debug(
      { ...this.entry, repeats: this.#repeats },
      'request repeated: first packet sent again',
    );
    this.answerRepeat();
  }

  /** Sends the transfer's first packet again (see #repeated). */
  protected abstract answerRepeat(): void;

  /** For log lines: who and what. */
  get entry(): { client: string; file: string } {
    return { client: formatHostPort(this.client.address, this.client.port), file: this.request.filename };
  }

  /** True once the transfer has ended (logged): what is opened after must be let go. */
  get over(): boolean {
    return this.#logged;
  }

  /** From this process's side: a read request sends (`out`), a write request receives (`in`). */
  get direction(): Direction {
    return this.request.opcode === Opcode.WRQ ? 'in' : 'out';
  }

  /** Blocks begin to move: the transfer is under way (and published as started). */
  protected begin(size?: number): void {
    this.#size = size;
    this.state = 'transferring';
    this.#started = performance.now();
    events.transferStart.publish({ service: 'tftp', direction: this.direction, size });
  }

  /** Runs the transfer of the resolved file; resolves once it is under way or refused. */
  abstract run(file: { path: string; name: string }): Promise<void>;

  /**
   * Ends it now, letting go of what it holds: with ERROR 0 and the reason to the client
   * when `tell`, quietly otherwise (the client is gone or never answered).
   */
  abstract abort(reason: string, tell: boolean): void;

  /** Ends it for good: its socket closes and its client may ask again. */
  release(): void {
    this.state = 'done';
    this.link.close();
    this.context.slots.release(this.slot);
  }

  /**
   * Logs the one line of the transfer and publishes its end; a failure also releases it.
   * `code` says why it failed (default `ERR_TFTP_PROTOCOL`).
   */
  finish(ok: boolean, stats: TransferStats | undefined, error?: string, code?: ErrorCode): void {
    if (this.#logged) return;
    this.#logged = true;
    if (!ok) this.release();
    const failure = ok ? undefined : (code ?? ErrorCode.TFTP_PROTOCOL);
    if (this.#started !== undefined) {
      events.transferEnd.publish({
        service: 'tftp',
        direction: this.direction,
        bytes: stats?.bytes ?? 0,
        ok,
        durationMs: performance.now() - this.#started,
        ...(failure ? { code: failure } : {}),
      });
    }
    if (failure) events.error.publish({ service: 'tftp', code: failure });
    const ms = Date.now() - this.#began;
    const line = {
      ...this.entry,
      direction: this.request.opcode === Opcode.WRQ ? 'write' : 'read',
      bytes: stats?.bytes ?? 0,
      blocks: stats?.blocks ?? 0,
      retransmits: stats?.retransmits ?? 0,
      strangers: this.link.strangers,
      ms,
      mbPerSecond: Math.round(((stats?.bytes ?? 0) / Math.max(ms, 1) / 1000) * 100) / 100,
      ok,
      ...(failure ? { code: failure } : {}),
      ...(error ? { error } : {}),
    };
    if (ok) this.context.log.info(line, 'transfer');
    else this.context.log.warn(line, 'transfer');
  }

  /** Ends it with an ERROR to the client. */
  deny(refusal: Refusal, stats?: TransferStats, code = codeOfTftpError(refusal.code)): void {
    if (this.#logged) return;
    this.link.send(encodeError(refusal.code, refusal.reason));
    this.finish(false, stats, refusal.reason, code);
  }

  /** Ends it after an abort: told (ERROR 0) or quiet. */
  protected stopWith(reason: string, tell: boolean, stats?: TransferStats): void {
    if (tell) this.deny(refuse(0, reason), stats, ErrorCode.ABORTED);
    else this.finish(false, stats, reason, ErrorCode.ABORTED);
  }

  /**
   * Runs the session's timeout, logging (at debug) the silence and what was sent again.
   * A session's timer fires only once its session exists, and so its `rtoMs`.
   */
  protected timeout(stats: TransferStats, timeout: () => void): void {
    timeoutLogged(this.context.log, this.entry, this.slot.rtoMs(), stats, timeout);
  }

  /** What either end runs with once negotiated; the OACK, if any, is its block 0. */
  session(o: TransferOptions, oack: Map<string, string> | undefined): SessionOptions & { initial?: Buffer } {
    const { rollover, timeoutMs, retries } = this.context;
    if (this.request.options.size > 0) {
      this.context.log.debug(
        { ...this.entry, ...negotiation(this.request.options, oack) },
        'options negotiated',
      );
    }
    const rto = new Rto({ initialMs: o.timeoutMs ?? timeoutMs, fixed: o.timeoutMs !== undefined });
    this.slot.rtoMs = () => rto.ms;
    return {
      blksize: o.blksize,
      windowsize: o.windowsize,
      rollover,
      rto,
      retries,
      initial: oack ? encodeOack(oack) : undefined,
      now: Date.now,
    };
  }
}
