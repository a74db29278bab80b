/**
 * What tftpGet and tftpPut share: their options, the socket and the server's address, the
 * options asked for and the checks on the answer, the retry without options, and abort.
 */
import dns from 'node:dns/promises';
import net from 'node:net';
import { ErrorCode, isSockitError, SockitError } from '../errors.js';
import { DEFAULT_POLL_US } from '../runtime/busy-poll.js';
import { type Direction, events } from '../runtime/events.js';
import { type Logger, silentLogger } from '../runtime/log.js';
import { checkInteger } from '../runtime/service.js';
import { bindUdp } from '../runtime/udp.js';
import type { Rollover } from './blocks.js';
import { localError, remoteError, type TftpError } from './errors.js';
import { type Peer, TransferLink } from './link.js';
import {
  acceptOack,
  bufferWindowCap,
  DEFAULT_BLKSIZE,
  MAX_BLKSIZE,
  type TransferOptions,
} from './options.js';
import { encodeError, Opcode, type Packet, TftpErrorCode, type TransferMode } from './packet.js';
import { Rto } from './rto.js';
import type { SessionOptions, TransferStats } from './sender.js';
import { TFTP_PORT } from './server.js';

export interface TftpClientOptions {
  /** The server: an IP address or a name, resolved once before the request. */
  host: string;
  /** Default 69. */
  port?: number;
  /** Ask for this blksize (RFC 2348). */
  blksize?: number;
  /** Ask for this windowsize (RFC 7440). */
  windowsize?: number;
  /** Ask for this timeout in seconds (RFC 2349); without it the timer adapts to the round trip. */
  timeout?: number;
  /**
   * Timeouts in a row before giving up, and not before the silence that as many timeouts
   * backing off from 1 s would take (see Rto.exhausted; 22 s for 5). Default 5.
   */
  retries?: number;
  /** Default octet. */
  mode?: TransferMode;
  /** Ask for the transfer size (RFC 2349): a download learns the size, an upload states it. */
  tsize?: boolean;
  rollover?: Rollover;
  /**
   * After each send, poll for the server's answer this many microseconds before sleeping,
   * while its answers come back that fast (see AnswerPoll). 0 turns it off. Default 100.
   */
  busyPollUs?: number;
  /** Called as data moves: bytes so far, and the total when known. */
  onProgress?: (bytes: number, total: number | undefined) => void;
  /**
   * Aborts the transfer: the server is sent ERROR 0, the socket closes, and the promise
   * rejects with ERR_ABORTED (as undici's `signal`). An upload's part is then removed by the
   * server; a download's output is left to the caller (the CLI removes its temporary file).
   */
  signal?: AbortSignal;
  log?: Logger;
}

export interface TftpResult extends TransferStats {
  /** What the transfer ran with after negotiation. */
  options: TransferOptions;
  ms: number;
}

export function requestOptions(
  opts: TftpClientOptions,
  size: number | undefined,
  buffer: number,
): Map<string, string> {
  const asked = new Map<string, string>();
  const blksize =
    opts.blksize === undefined ? undefined : checkInteger('blksize', opts.blksize, 8, MAX_BLKSIZE);
  if (blksize !== undefined) asked.set('blksize', String(blksize));
  if (opts.windowsize !== undefined) {
    // Never ask for a window our own receive buffer cannot hold at once (see bufferWindowCap).
    const wanted = checkInteger('windowsize', opts.windowsize, 1, 65535);
    asked.set('windowsize', String(Math.min(wanted, bufferWindowCap(blksize ?? DEFAULT_BLKSIZE, buffer))));
  }
  if (opts.timeout !== undefined) asked.set('timeout', String(checkInteger('timeout', opts.timeout, 1, 255)));
  // A download asks with 0 (RFC 2349 §2); an upload states its size, when it is known.
  if (opts.tsize && size !== undefined) asked.set('tsize', String(size));
  return asked;
}

/**
 * The server's address. A name is resolved once, before the request: the server answers
 * from an address, and the link judges every datagram by it (a reply from an address that
 * is not the server's is a stranger's), so sends and checks must use the same one.
 */
async function resolveServer(host: string): Promise<string> {
  if (net.isIP(host) !== 0) return host;
  try {
    // IPv4 first: many TFTP servers listen on IPv4 only (atftpd, firmware), and where
    // /etc/hosts lists ::1 first for localhost a wrong guess shows only as a timeout.
    return (await dns.lookup(host, { order: 'ipv4first' })).address;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? 'lookup failed';
    throw new SockitError(ErrorCode.ADDRESS_UNAVAILABLE, `tftp client: cannot resolve ${host} (${code})`, {
      cause: err,
    });
  }
}

/**
 * A defect that throws while the transfer is handled (a packet, the timer, the output's
 * callbacks) ends this transfer, the server told, with ERR_INTERNAL: not the process.
 */
export function failOnDefect(link: TransferLink, settle: (err: Error) => void): void {
  link.onDefect = (err) => {
    link.send(encodeError(TftpErrorCode.NOT_DEFINED, 'internal error in the client'));
    const message = `tftp client: internal error: ${(err as Error)?.message ?? err}`;
    settle(new SockitError(ErrorCode.INTERNAL, message, { cause: err }));
  };
}

export interface OpenLink {
  link: TransferLink;
  /** Where the request goes: the server's address and its well-known port. */
  server: Peer;
  /** The receive buffer the kernel gave (what it charges against, halved). */
  buffer: number;
}

export async function openLink(opts: TftpClientOptions): Promise<OpenLink> {
  const port = checkInteger('port', opts.port ?? TFTP_PORT, 1, 65535);
  const pollUs = checkInteger('busyPollUs', opts.busyPollUs ?? DEFAULT_POLL_US, 0, 10_000);
  const address = await resolveServer(opts.host);
  const ipv6 = net.isIPv6(address);
  const socket = await bindUdp({ host: ipv6 ? '::' : '0.0.0.0', port: 0, what: 'tftp client' });
  socket.setRecvBufferSize(8 * 1024 * 1024); // the kernel gives at most net.core.rmem_max
  return {
    link: new TransferLink(socket, address, undefined, pollUs),
    server: { address, port },
    buffer: socket.getRecvBufferSize() / 2,
  };
}

/** A session before negotiation: RFC 1350 defaults, the asked timeout fixed or else adaptive. */
export function sessionDefaults(opts: TftpClientOptions): SessionOptions {
  return {
    blksize: DEFAULT_BLKSIZE,
    windowsize: 1,
    rollover: opts.rollover ?? 0,
    rto: new Rto({ initialMs: (opts.timeout ?? 1) * 1000, fixed: opts.timeout !== undefined }),
    retries: opts.retries ?? 5,
    now: Date.now,
  };
}

/** The error an aborted transfer rejects with; the signal's reason is its cause. */
export function abortError(signal: AbortSignal): SockitError {
  return new SockitError(ErrorCode.ABORTED, 'tftp: the transfer was aborted', { cause: signal.reason });
}

/**
 * Ties a transfer to the caller's signal: on abort the server is told (ERROR 0, to its TID
 * once known; before that it has no transfer to end) and the transfer settles with
 * ERR_ABORTED. Returns what undoes the tie, for when the transfer settles first.
 */
export function onAbort(
  signal: AbortSignal | undefined,
  link: TransferLink,
  settle: (err: Error) => void,
): () => void {
  if (!signal) return () => {};
  const abort = (): void => {
    link.send(encodeError(TftpErrorCode.NOT_DEFINED, 'aborted by the client'));
    settle(abortError(signal));
  };
  if (signal.aborted) {
    queueMicrotask(abort);
    return () => {};
  }
  signal.addEventListener('abort', abort, { once: true });
  return () => signal.removeEventListener('abort', abort);
}

/** ERRORs 8 that answered a request with options, before any transfer: worth a retry without. */
export const refusedOptions = new WeakSet<TftpError>();

/**
 * RFC 2347 §3: a server may refuse options with ERROR 8. Some do so for options they do not
 * support (tftpd-hpa refuses tsize in netascii mode); the request is then made once more
 * without any option, and the transfer runs with the defaults.
 */
export async function withOptionFallback(
  opts: TftpClientOptions,
  attempt: (withOptions: boolean) => Promise<TftpResult>,
): Promise<TftpResult> {
  try {
    return await attempt(true);
  } catch (err) {
    if (!refusedOptions.has(err as TftpError)) throw err;
    (opts.log ?? silentLogger).info(`${(err as Error).message}; asking again without options`);
    return attempt(false);
  }
}

/** Checks an OACK against what was asked; on refusal sends ERROR 8 and ends the transfer. */
export function checkOack(
  asked: ReadonlyMap<string, string>,
  granted: ReadonlyMap<string, string>,
  link: TransferLink,
  settle: (err: TftpError) => void,
): TransferOptions | undefined {
  const accepted = acceptOack(asked, granted);
  if (accepted.ok) return accepted.options;
  link.send(encodeError(TftpErrorCode.OPTION_NEGOTIATION, accepted.reason));
  settle(localError(TftpErrorCode.OPTION_NEGOTIATION, accepted.reason));
  return undefined;
}

/** The server's ERROR ends the transfer; any other unexpected packet is answered with ERROR 4. */
export function endOnOther(
  packet: Packet,
  link: TransferLink,
  settle: (err: TftpError) => void,
  beforeTransfer: boolean,
): void {
  if (packet.opcode === Opcode.ERROR) {
    const err = remoteError(packet.code, packet.message);
    if (beforeTransfer && packet.code === TftpErrorCode.OPTION_NEGOTIATION) refusedOptions.add(err);
    settle(err);
    return;
  }
  link.send(encodeError(TftpErrorCode.ILLEGAL_OPERATION, 'unexpected packet'));
  settle(localError(TftpErrorCode.ILLEGAL_OPERATION, `unexpected opcode ${packet.opcode} from the server`));
}

/**
 * Runs one client transfer (every try of `withOptionFallback` together) and publishes its
 * start and end. A failed transfer reports 0 bytes: what moved before it failed is not kept.
 */
export async function observeTransfer(
  direction: Direction,
  size: number | undefined,
  run: () => Promise<TftpResult>,
): Promise<TftpResult> {
  if (!events.transferStart.hasSubscribers && !events.transferEnd.hasSubscribers) return run();
  const started = performance.now();
  events.transferStart.publish({ service: 'tftp', direction, size });
  try {
    const result = await run();
    events.transferEnd.publish({
      service: 'tftp',
      direction,
      bytes: result.bytes,
      ok: true,
      durationMs: performance.now() - started,
    });
    return result;
  } catch (err) {
    const code = isSockitError(err) ? err.code : ErrorCode.INTERNAL;
    events.transferEnd.publish({
      service: 'tftp',
      direction,
      bytes: 0,
      ok: false,
      durationMs: performance.now() - started,
      code,
    });
    events.error.publish({ service: 'tftp', code });
    throw err;
  }
}
