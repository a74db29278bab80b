/**
 * What the log-in exchange needs from a service: a way to send and receive JSON-able messages.
 * The file service carries them in envelopes; chat, exec and the web client carry them in
 * their own frames. The messages are the file service's (protocol version 1); their schemas
 * are in login-transport.ts, apart, so that a client need not load zod:
 *
 *   client: {op:'auth', mechanism:'SCRAM-SHA-256'|'SECRET', data, user?}
 *   server: {ok:true, data}                          (server-first, or the secret challenge)
 *   client: {op:'auth-final', data}
 *   server: {ok:true, data, user}  |  {ok:false, code, message, retryAfterMs?}
 *   client: {op:'register', user, salt, iterations, storedKey, serverKey}  ->  {ok:true}
 */
import { ErrorCode, SockitError } from '../errors.js';

/** A message as it travels: a JSON object. */
export type LoginMessage = Record<string, unknown>;

/** Carries log-in messages; `receive` rejects when the peer is gone. */
export interface LoginTransport {
  send(message: LoginMessage): void | Promise<void>;
  receive(): Promise<LoginMessage>;
}

/**
 * A refusal that says when to try again: `ERR_THROTTLED`, with the wait in ms. Sent as
 * `{ok:false, code, message, retryAfterMs}`.
 *
 * @example
 * ```ts
 * if (err instanceof ThrottledError) await sleep(err.retryAfterMs);
 * ```
 */
export class ThrottledError extends SockitError {
  readonly retryAfterMs: number;

  constructor(retryAfterMs: number, what = 'too many attempts') {
    super(ErrorCode.THROTTLED, `${what}: try again in ${Math.ceil(retryAfterMs / 1000)} s`);
    this.retryAfterMs = retryAfterMs;
  }
}

/**
 * The fields of a refusal for `err`: `{ok:false, code, message}`, plus `retryAfterMs` for a
 * throttled attempt.
 *
 * @example
 * ```ts
 * transport.send(refusal(err));
 * ```
 */
export function refusal(err: SockitError): LoginMessage {
  const fields: LoginMessage = { ok: false, code: err.code, message: err.message };
  if (err instanceof ThrottledError) fields.retryAfterMs = err.retryAfterMs;
  return fields;
}

/** Errors after which the exchange is out of step: the connection should close after its refusal. */
const OUT_OF_STEP = new WeakSet<Error>();

export function outOfStep(err: SockitError): SockitError {
  OUT_OF_STEP.add(err);
  return err;
}

/** True for an error after which the connection cannot go on (see `outOfStep`). */
export function isOutOfStep(err: unknown): boolean {
  return err instanceof Error && OUT_OF_STEP.has(err);
}

/**
 * Two connected in-memory transports, for tests and for running both sides in one process.
 *
 * @example
 * ```ts
 * const [client, server] = memoryPair();
 * await Promise.all([loginServer.accept(server, { address: 'test' }), scramLogin(client, 'ann', pw)]);
 * ```
 */
export function memoryPair(): [LoginTransport, LoginTransport] {
  const make = () => ({ queue: [] as LoginMessage[], waiting: [] as ((m: LoginMessage) => void)[] });
  const a = make();
  const b = make();
  const side = (inbox: typeof a, outbox: typeof a): LoginTransport => ({
    send(message) {
      // Through JSON, as on a wire: nothing but JSON-able values crosses.
      const copy = JSON.parse(JSON.stringify(message)) as LoginMessage;
      const waiter = outbox.waiting.shift();
      if (waiter) waiter(copy);
      else outbox.queue.push(copy);
    },
    receive() {
      const next = inbox.queue.shift();
      if (next) return Promise.resolve(next);
      return new Promise((resolve) => inbox.waiting.push(resolve));
    },
  });
  return [side(a, b), side(b, a)];
}
