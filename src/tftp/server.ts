/**
 * The TFTP server: requests arrive on the well-known port, and each transfer runs on a
 * socket of its own (its TID), driven by the sender or receiver state machine.
 */
import type dgram from 'node:dgram';
import { readFileSync } from 'node:fs';
import { ErrorCode, fileError, formatHostPort, SockitError } from '../errors.js';
import { DEFAULT_POLL_US } from '../runtime/busy-poll.js';
import { ConfinedRoot } from '../runtime/confine.js';
import { type Logger, silentLogger } from '../runtime/log.js';
import { logLimited } from '../runtime/log-limit.js';
import { announceListening, checkInteger, type Service } from '../runtime/service.js';
import { bindUdp } from '../runtime/udp.js';
import type { Rollover } from './blocks.js';
import type { Peer } from './link.js';
import { MAX_BLKSIZE, type ServerLimits } from './options.js';
import { decodePacket, encodeError, Opcode, type Request } from './packet.js';
import { type RewriteRule, resolveInRoot } from './paths.js';
import { ReadTransfer } from './read-transfer.js';
import { type Slot, type TransferInfo, TransferSlots } from './slots.js';
import { type Content, ServedFiles } from './storage.js';
import type { ServerContext, Transfer } from './transfer.js';
import { WriteTransfer } from './write-transfer.js';

export type { Content } from './storage.js';

/** A client's receive buffer, assumed to be the system default (net.core.rmem_default). */
function defaultReceiveBuffer(): number {
  try {
    return Number(readFileSync('/proc/sys/net/core/rmem_default', 'utf8').trim()) || 212_992;
  } catch {
    return 212_992;
  }
}

/**
 * ERROR `code` with as much of `reason` as keeps it within `size` bytes (the datagram it
 * answers); undefined when not even an empty reason fits.
 */
function errorWithin(code: number, reason: string, size: number): Buffer | undefined {
  const room = size - 5; // opcode, code, and the reason's NUL
  if (room < 0) return undefined;
  return encodeError(code, Buffer.from(reason, 'latin1').subarray(0, room).toString('latin1'));
}

/** The TFTP port (RFC 1350). */
export const TFTP_PORT = 69;
/** The unprivileged port `sockit serve` uses for TFTP. */
export const TFTP_SERVE_PORT = 6969;

export interface TftpServerOptions {
  /** Folder served; every path stays inside it. */
  root: string;
  host?: string;
  /** Default 69. */
  port?: number;
  /** Accept uploads (WRQ). Default false. */
  writable?: boolean;
  /** Let uploads replace existing files. Default false. */
  overwrite?: boolean;
  /** Largest upload, in bytes. Default 4 GiB. */
  maxFileSize?: number;
  /**
   * Transfers at once. A request beyond it takes the place of the oldest transfer whose
   * client has never answered, else of the transfer silent longest if that is more than twice
   * its retransmission timeout (at least 1 s; a negotiated timeout counts up to 5 s), and gets
   * ERROR 0 "server busy" when every transfer is moving. Default 1000.
   */
  maxTransfers?: number;
  /**
   * Transfers at once from one client address, counting an IPv6 /64 as one address (a host is
   * handed a whole /64); more get ERROR 0 "server busy". Default 16.
   */
  maxPerAddress?: number;
  /**
   * How long a transfer waits for its client's first answer, whatever timeout the client
   * negotiated (RFC 2349 allows 255 s a retry): then it is dropped. Default 10000 ms.
   */
  firstAnswerMs?: number;
  /** How long a client that has answered may then stay silent before its transfer is dropped. Default 60000 ms. */
  maxSilenceMs?: number;
  /** Largest blksize granted. Default 65464. */
  maxBlksize?: number;
  /** Largest windowsize granted. Default 64. */
  maxWindowsize?: number;
  /** First retransmission timeout in ms, when the client negotiates none. Default 1000. */
  timeoutMs?: number;
  /**
   * Timeouts in a row before a transfer is abandoned, and not before the silence that as
   * many timeouts backing off from `timeoutMs` would take (see Rto.exhausted). Default 5.
   */
  retries?: number;
  /** Options never granted. */
  refuse?: readonly string[];
  /** Rewrite rules applied to requested names, in order. */
  rewrite?: readonly RewriteRule[];
  /** Block number after 65535. Default 0. */
  rollover?: Rollover;
  /**
   * After each send, poll for the client's answer this many microseconds before sleeping,
   * while its answers come back that fast (see AnswerPoll): a lock-step client on the same
   * host or a fast LAN is served without a wake-up per block. 0 turns it off. Default 100.
   */
  busyPollUs?: number;
  /**
   * Serves content that is not a file: called for every read request before the disk is
   * looked at; return undefined to fall back to the file under the root.
   */
  content?: (name: string, client: Peer) => Promise<Content | undefined> | Content | undefined;
  /** Accepts or refuses an upload (after the read-only and existence checks). */
  acceptUpload?: (name: string, client: Peer, size: number | undefined) => Promise<boolean> | boolean;
  log?: Logger;
}

export interface TftpService extends Service {
  readonly protocol: 'udp';
  /** Transfers running now. */
  readonly transfers: number;
  /** Transfers dropped so far because their client was silent, or to make room for a request. */
  readonly dropped: number;
  /** The transfers under way: file, client, direction, bytes so far, size when announced. */
  active(): TransferInfo[];
  /**
   * Ends the transfer with `client` (`address:port`, as `active()` names it), sending it
   * ERROR 0 with `reason`; false when no transfer has that client.
   */
  stop(client: string, reason?: string): boolean;
}

/**
 * Starts a TFTP server and resolves once it listens.
 *
 * @example
 * ```ts
 * const tftp = await serveTftp({ root: '/srv/tftp', port: 6969 });
 * ```
 */
export async function serveTftp(options: TftpServerOptions): Promise<TftpService> {
  const log = (options.log ?? silentLogger).child({ service: 'tftp' });
  const root = await ConfinedRoot.open(options.root).catch((err: unknown) => {
    // A file where the folder should be (or on its path): opening it as a folder says ENOTDIR.
    if ((err as NodeJS.ErrnoException).code !== 'ENOTDIR') {
      throw fileError(err, 'tftp root', options.root, 'read', 'give the folder to serve');
    }
    throw new SockitError(ErrorCode.INVALID_ARGUMENT, `tftp: root ${options.root} is not a folder`, {
      cause: err,
    });
  });
  const limits: ServerLimits = {
    maxBlksize: checkInteger('maxBlksize', options.maxBlksize ?? MAX_BLKSIZE, 8, MAX_BLKSIZE),
    maxWindowsize: checkInteger('maxWindowsize', options.maxWindowsize ?? 64, 1, 65535),
    refuse: new Set((options.refuse ?? []).map((o) => o.toLowerCase())),
    maxFileSize: options.maxFileSize ?? 4 * 1024 ** 3,
  };
  const maxTransfers = checkInteger('maxTransfers', options.maxTransfers ?? 1000, 1, 100_000);
  const timeoutMs = checkInteger('timeoutMs', options.timeoutMs ?? 1000, 10, 255_000);
  const slots = new TransferSlots({
    timeoutMs,
    // An adapted timer stops at 5 s or the starting timeout (Rto): a negotiated one counts no more.
    maxTakeoverRtoMs: Math.max(timeoutMs, 5000),
    maxTransfers,
    maxPerAddress: checkInteger('maxPerAddress', options.maxPerAddress ?? 16, 1, 100_000),
    firstAnswerMs: checkInteger('firstAnswerMs', options.firstAnswerMs ?? 10_000, 10, 600_000),
    maxSilenceMs: checkInteger('maxSilenceMs', options.maxSilenceMs ?? 60_000, 10, 3_600_000),
  });
  const context: ServerContext = {
    root,
    files: new ServedFiles({
      root,
      writable: options.writable ?? false,
      overwrite: options.overwrite ?? false,
      content: options.content,
      acceptUpload: options.acceptUpload,
    }),
    limits,
    rules: options.rewrite ?? [],
    rollover: options.rollover ?? 0,
    timeoutMs,
    retries: checkInteger('retries', options.retries ?? 5, 0, 100),
    pollUs: checkInteger('busyPollUs', options.busyPollUs ?? DEFAULT_POLL_US, 0, 10_000),
    peerReceiveBuffer: defaultReceiveBuffer(),
    slots,
    log,
  };
  const port = options.port ?? TFTP_PORT;

  const main = await bindUdp({ host: options.host, port, what: 'tftp' }).catch(async (err: unknown) => {
    await root.close();
    throw err;
  });
  const local = main.address();
  let closing = false;

  main.on('message', (msg, from) => {
    try {
      onRequest(msg, from);
    } catch (err) {
      // A defect in answering one datagram: logged, and the server goes on with the next.
      log.error({ err, client: formatHostPort(from.address, from.port) }, 'request failed');
    }
  });

  function onRequest(msg: Buffer, from: dgram.RemoteInfo): void {
    if (closing) return;
    // Only a request is answered on this port, and never with more bytes than it had: an
    // answer to anything else, or a long ERROR to a short datagram, would let a forged source
    // turn the server on a third party (an ERROR 4 with a reason is 8 times an ACK). As
    // tftpd-hpa, which hands only RRQ and WRQ to its transfer code and exits on anything
    // else; RFC 1350 §4 asks for an ERROR only to a packet from a wrong TID of a transfer.
    const opcode = msg.length >= 2 ? msg.readUInt16BE(0) : 0;
    if (opcode !== Opcode.RRQ && opcode !== Opcode.WRQ) return;
    const decoded = decodePacket(msg);
    if (!decoded.ok) {
      // Per kind, not per datagram: a source address is easily forged.
      logLimited(
        'warn',
        log,
        'tftp:bad request',
        { client: formatHostPort(from.address, from.port), reason: decoded.reason },
        'bad request',
      );
      const answer = errorWithin(decoded.code, decoded.reason, msg.length);
      if (answer) main.send(answer, from.port, from.address);
      return;
    }
    const request = decoded.packet;
    if (request.opcode !== Opcode.RRQ && request.opcode !== Opcode.WRQ) return;
    log.debug(
      {
        client: formatHostPort(from.address, from.port),
        op: request.opcode === Opcode.RRQ ? 'RRQ' : 'WRQ',
        file: request.filename,
        mode: request.mode,
        asked: Object.fromEntries(request.options),
      },
      'request',
    );
    // The slot is taken at once, so that a repeat of the request arriving meanwhile is ignored.
    const taken = slots.take(from.address, from.port);
    if (!taken.ok) {
      if (taken.why === 'repeat') {
        // The client has not heard the transfer's first packet: it may go out again now.
        taken.slot.repeated();
        return;
      }
      const answer = errorWithin(0, 'server busy, try again later', msg.length);
      if (answer) main.send(answer, from.port, from.address);
      return;
    }
    void start(request, { address: from.address, port: from.port }, taken.slot).catch((err: unknown) => {
      slots.release(taken.slot);
      log.error({ err }, 'transfer failed to start');
    });
  }

  async function start(request: Request, client: Peer, slot: Slot): Promise<void> {
    const socket = await bindUdp({ host: local.address, port: 0, what: 'tftp transfer' });
    if (!slots.holds(slot)) {
      socket.close(); // the server closed, or the slot was given to a newer request, meanwhile
      return;
    }
    const Kind = request.opcode === Opcode.WRQ ? WriteTransfer : ReadTransfer;
    const t: Transfer = new Kind(context, request, client, socket, slot);
    try {
      const ip = client.address.replace(/^::ffff:/, '');
      const resolved = await resolveInRoot(root, request.filename, context.rules, ip);
      if (!resolved.ok) return t.deny(resolved);
      await t.run(resolved);
    } catch (err) {
      // A hook or the file system failed in a way nobody foresaw: the client is told, the
      // slot freed, and what the transfer had opened let go.
      log.error({ err, ...t.entry }, 'transfer failed');
      t.abort('server error', true);
    }
  }

  const service: TftpService = {
    name: 'tftp',
    protocol: 'udp',
    address: { address: local.address, port: local.port, family: local.family },
    get transfers() {
      return slots.size;
    },
    get dropped() {
      return slots.dropped;
    },
    active: () => slots.list(),
    stop: (client, reason = "stopped by the server's admin") => slots.stop(client, reason),
    close() {
      closing = true;
      // Each transfer tells its client, lets go of its file (an upload's part is removed)
      // and logs its line; one still starting sees its slot gone and stops.
      slots.stopAll('the server is shutting down');
      return new Promise<void>((resolve) => main.close(() => resolve())).then(() => context.files.close());
    },
  };
  announceListening(log, service);
  return service;
}
