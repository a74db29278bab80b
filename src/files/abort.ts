/**
 * Cancelling a client operation, and giving socket failures a code.
 *
 * As undici does, an operation takes an `AbortSignal`; aborting destroys the connection (the
 * only way to stop a peer in the middle of a byte run) and the operation rejects with
 * `ERR_ABORTED`. A socket error (`read ECONNRESET`, `write EPIPE`) would otherwise reach the
 * caller as a bare system error without a sockit code.
 */
import type { Duplex } from 'node:stream';
import { ErrorCode, isSockitError, SockitError } from '../errors.js';
import { abortedError } from '../runtime/dial.js';

/** System error codes that mean the connection is gone. */
const CONNECTION_LOST = new Set([
  'ECONNRESET',
  'EPIPE',
  'ECONNABORTED',
  'ETIMEDOUT',
  'ENETDOWN',
  'ENETUNREACH',
  'EHOSTUNREACH',
  'ERR_STREAM_DESTROYED',
  'ERR_STREAM_WRITE_AFTER_END',
  'ERR_SOCKET_CLOSED',
]);

export { abortedError };

/**
 * `err` as a SockitError when it is a lost connection (`ERR_CONNECTION_CLOSED`), otherwise
 * unchanged (local file errors keep their own code and message).
 *
 * @example
 * ```ts
 * try { await channel.receive(); } catch (err) { throw connectionError(err); }
 * ```
 */
export function connectionError(err: unknown): unknown {
  if (isSockitError(err)) return err;
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  if (typeof code === 'string' && CONNECTION_LOST.has(code)) {
    return new SockitError(
      ErrorCode.CONNECTION_CLOSED,
      `connection to the server lost (${(err as Error).message})`,
      { cause: err },
    );
  }
  return err;
}

/**
 * Runs `work`; if `signal` fires first the socket is destroyed and the result is
 * `ERR_ABORTED`. Other failures pass through `connectionError`.
 *
 * @example
 * ```ts
 * const entries = await guarded(socket, options.signal, () => listOverChannel());
 * ```
 */
export async function guarded<T>(
  socket: Duplex,
  signal: AbortSignal | undefined,
  work: () => Promise<T>,
): Promise<T> {
  if (signal?.aborted) throw abortedError(signal);
  const abort = (): void => {
    socket.destroy(signal ? abortedError(signal) : undefined);
  };
  signal?.addEventListener('abort', abort, { once: true });
  try {
    return await work();
  } catch (err) {
    if (signal?.aborted) throw abortedError(signal);
    throw connectionError(err);
  } finally {
    signal?.removeEventListener('abort', abort);
  }
}
