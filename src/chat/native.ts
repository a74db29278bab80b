/**
 * The native transport: the chat's own messages (session.ts) as length-prefixed envelopes
 * (`wire/envelope`: a 4-byte length, then a JSON header) over TCP or TLS, through the shared
 * `EnvelopeConnection` (bounded queue, slow readers dropped, one write per event-loop turn).
 */
import { ErrorCode, SockitError } from '../errors.js';
import type { EnvelopeConnection } from '../runtime/conn.js';
import type { Logger } from '../runtime/log.js';
import type { MessageLink } from './session.js';

/** Largest command a client may send, in bytes. */
export const MAX_COMMAND_SIZE = 64 * 1024;
/** Largest message the server sends (a page of 200 history messages of 2 KiB fits), in bytes. */
export const MAX_EVENT_SIZE = 1024 * 1024;

/**
 * A `MessageLink` over an envelope connection. `frames` caches the bytes of events shared
 * by many clients (one cache per server): each is serialised once, whatever the fan-out.
 */
export function envelopeLink(
  conn: EnvelopeConnection,
  frames: WeakMap<object, Buffer>,
  log: Logger,
): MessageLink {
  const incoming = conn[Symbol.asyncIterator]();
  const encode = (message: object): Buffer | undefined => {
    try {
      return conn.encode({ header: message as Record<string, unknown> });
    } catch (err) {
      // Over the size limit: that message is lost for this client, not the whole fan-out.
      log.warn({ err: (err as Error).message }, 'chat event too large to send');
      return undefined;
    }
  };
  return {
    async receive() {
      const next = await incoming.next();
      if (next.done) throw new SockitError(ErrorCode.CONNECTION_CLOSED, 'the client closed the connection');
      return next.value.header;
    },
    send(message, shared) {
      let frame = shared ? frames.get(message) : undefined;
      if (frame === undefined) {
        frame = encode(message);
        if (frame === undefined) return;
        if (shared) frames.set(message, frame);
      }
      conn.sendEncoded(frame);
    },
    end() {
      void conn.close();
    },
    get queuedBytes() {
      return conn.queuedBytes;
    },
    destroy() {
      conn.destroy(new SockitError(ErrorCode.CONNECTION_CLOSED, 'let go: not reading'));
    },
  };
}
