/**
 * Connecting a client: TCP or TLS, with a time limit, cancellable, and failures a user can act
 * on (`ERR_CONNECT_FAILED` naming what to check, TLS failures in `tls-errors.ts`'s words).
 * Every sockit client that opens a stream connection dials through here.
 */
import net from 'node:net';
import tls from 'node:tls';
import { ErrorCode, formatHostPort, SockitError } from '../errors.js';
import { tlsConnectError, tlsHandshakeError } from './tls-errors.js';

/** System error codes that mean nothing answered at the address. */
const UNREACHED = new Set(['ECONNREFUSED', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'ECONNRESET']);

export interface DialOptions {
  host: string;
  port: number;
  /** Use TLS; `ca` adds trusted certificates (PEM), e.g. a self-signed server's own. */
  tls?: { ca?: string | Buffer; servername?: string };
  /** Give up after this long, in ms; 0: wait as long as the system does. Default 10000. */
  timeoutMs?: number;
  /** Rejects with `ERR_ABORTED` and destroys the socket. */
  signal?: AbortSignal;
  /** Plain TCP only: read into this buffer (see `ReusedReads`). */
  onread?: net.OnReadOpts;
}

/** The error an aborted operation rejects with. */
export function abortedError(signal: AbortSignal): SockitError {
  return new SockitError(ErrorCode.ABORTED, 'the operation was aborted', { cause: signal.reason });
}

/**
 * A connected socket (TLS: handshake done), with a no-op error listener so that later errors
 * surface through whoever reads it.
 *
 * @example
 * ```ts
 * const socket = await dial({ host: 'chat.example', port: 7788, tls: {} });
 * ```
 */
export async function dial(options: DialOptions): Promise<net.Socket> {
  const { host, port, signal } = options;
  const where = formatHostPort(host, port);
  if (signal?.aborted) throw abortedError(signal);
  const socket = await new Promise<net.Socket>((resolve, reject) => {
    const onAbort = (): void => {
      clearTimeout(timer);
      socket.destroy();
      reject(abortedError(signal as AbortSignal));
    };
    signal?.addEventListener('abort', onAbort, { once: true });
    const limitMs = options.timeoutMs ?? 10_000;
    const giveUp = (): void => {
      socket.destroy();
      const silence = `no answer within ${limitMs} ms`;
      // Connected, but no TLS handshake: a plain server waits for a request that never comes.
      reject(
        options.tls && !socket.connecting
          ? tlsHandshakeError(where, silence)
          : new SockitError(
              ErrorCode.CONNECT_FAILED,
              `${where}: ${silence}; is the server running on ${where}?`,
            ),
      );
    };
    // 0: no limit of ours; the system's own connect timeout still applies.
    const timer = limitMs > 0 ? setTimeout(giveUp, limitMs) : undefined;
    const done = (): void => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      socket.off('error', fail);
      resolve(socket);
    };
    const fail = (err: Error): void => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      const code = (err as NodeJS.ErrnoException).code ?? '';
      // Nothing answered: say what to check. A name failure keeps its own words.
      const message = UNREACHED.has(code)
        ? `cannot connect to ${where} (${code}); is the server running on ${where}?`
        : `${where}: ${err.message}`;
      const failedTls = options.tls ? tlsConnectError(err, where) : undefined;
      reject(failedTls ?? new SockitError(ErrorCode.CONNECT_FAILED, message, { cause: err }));
    };
    const socket: net.Socket = options.tls
      ? tls.connect(
          { host, port, ca: options.tls.ca, servername: options.tls.servername ?? servername(host) },
          done,
        )
      : net.connect(
          { host, port, noDelay: true, ...(options.onread ? { onread: options.onread } : {}) },
          done,
        );
    socket.once('error', fail);
  });
  socket.on('error', () => {});
  return socket;
}

/** SNI takes host names only, never IP literals (RFC 6066 §3). */
export function servername(host: string): string | undefined {
  return net.isIP(host) === 0 ? host : undefined;
}
