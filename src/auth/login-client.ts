/**
 * The client side of log-in and registration over any `LoginTransport`: the counterpart of
 * `LoginServer`. A refusal (`{ok:false, code, message}`) becomes a `SockitError` of its code;
 * `ERR_THROTTLED` becomes a `ThrottledError`, retried after the wait when it is short.
 */
import { ErrorCode, isSockitError, SockitError } from '../errors.js';
import { type Logger, silentLogger } from '../runtime/log.js';
import { SecretChallengeClient, secretContext } from './challenge.js';
import type { KeyCache } from './key-cache.js';
import { type LoginMessage, type LoginTransport, ThrottledError } from './login-messages.js';
import { deriveCredentials, ScramClient } from './scram.js';
import type { SecretKey } from './secret-key.js';

export interface ScramLoginOptions {
  /** Salted keys from earlier log-ins to this server (see `KeyCache`); off when absent. */
  cache?: KeyCache;
  /** Who the server is, for the cache: e.g. `tls:files.example:7021`. Required with `cache`. */
  server?: string;
  /** Wait and retry a throttled attempt when told to wait at most this long, in ms; default 30,000 (the longest back-off). */
  maxRetryWaitMs?: number;
  /** At debug: each step (mechanism, PBKDF2 count, cached keys or not, the outcome); never a secret. */
  log?: Logger;
}

const codes = new Set<string>(Object.values(ErrorCode));

/** The answer to a request, or the refusal as an error. */
async function ask(transport: LoginTransport, request: LoginMessage): Promise<LoginMessage> {
  await transport.send(request);
  const answer = await transport.receive();
  if (answer.ok === true) return answer;
  const code = typeof answer.code === 'string' && codes.has(answer.code) ? answer.code : ErrorCode.BAD_REPLY;
  const message = typeof answer.message === 'string' ? answer.message.slice(0, 500) : 'refused';
  if (code === ErrorCode.THROTTLED) {
    const wait = Number(answer.retryAfterMs);
    throw new ThrottledError(Number.isFinite(wait) && wait > 0 ? Math.min(wait, 86_400_000) : 1000);
  }
  if (answer.ok !== false)
    throw new SockitError(ErrorCode.BAD_REPLY, 'the server sent an answer out of place');
  throw new SockitError(code as ErrorCode, message);
}

function text(answer: LoginMessage, field: string): string {
  const value = answer[field];
  if (typeof value !== 'string' || value.length > 4096) {
    throw new SockitError(ErrorCode.BAD_REPLY, `the server's answer has no valid ${field}`);
  }
  return value;
}

/** Runs `once`, waiting out short `ERR_THROTTLED` refusals (at most 5 times); logs how it ends. */
async function retrying<T>(maxWaitMs: number, log: Logger, once: () => Promise<T>): Promise<T> {
  for (let tries = 0; ; tries++) {
    try {
      return await once();
    } catch (err) {
      if (!(err instanceof ThrottledError) || err.retryAfterMs > maxWaitMs || tries >= 5) {
        log.debug({ code: isSockitError(err) ? err.code : undefined }, 'log-in failed');
        throw err;
      }
      log.debug({ retryAfterMs: err.retryAfterMs }, 'log-in throttled: waiting to try again');
      await new Promise((resolve) => setTimeout(resolve, err.retryAfterMs));
    }
  }
}

/**
 * Logs in with SCRAM-SHA-256; returns the user name the server confirmed. `password` may be a
 * function, called only when the cache has no keys for the server's salt and count.
 *
 * @example
 * ```ts
 * const user = await scramLogin(transport, 'ann', () => readPassword(), { cache, server: 'host:7021' });
 * ```
 */
export async function scramLogin(
  transport: LoginTransport,
  user: string,
  password: string | (() => Promise<string>),
  options: ScramLoginOptions = {},
): Promise<string> {
  const { cache, server } = options;
  if (cache && server === undefined)
    throw new SockitError(ErrorCode.INVALID_ARGUMENT, 'a cache needs `server`');
  const bound = cache && server !== undefined ? cache.bind(server, user) : undefined;
  const log = options.log ?? silentLogger;
  return retrying(options.maxRetryWaitMs ?? 30_000, log, async () => {
    log.debug({ mechanism: 'SCRAM-SHA-256', user }, 'log-in');
    const scram = new ScramClient(user, password, { cache: bound });
    const cont = await ask(transport, { op: 'auth', mechanism: 'SCRAM-SHA-256', data: scram.first() });
    const serverFirst = text(cont, 'data');
    const clientFinal = await scram.final(serverFirst);
    const iterations = Number(/(?:^|,)i=(\d+)/.exec(serverFirst)?.[1]);
    log.debug({ iterations, cachedKeys: scram.usedCache }, 'SCRAM: proof sent');
    let done: LoginMessage;
    try {
      done = await ask(transport, { op: 'auth-final', data: clientFinal });
    } catch (err) {
      // Keys the server no longer accepts (a password reset with an unchanged salt) are dropped.
      if (scram.usedCache && err instanceof SockitError && err.code === ErrorCode.AUTH_FAILED) {
        await bound?.drop();
      }
      throw err;
    }
    await scram.verifyAndCache(text(done, 'data'));
    const confirmed = text(done, 'user');
    log.debug({ user: confirmed }, 'logged in; the server proved it knows the password');
    return confirmed;
  });
}

/**
 * Logs in as `user` with a shared secret; `channelBinding` is the TLS exporter value when the
 * transport runs over TLS (see `tlsExporter`). Throws `ERR_AUTH_FAILED` for a server that does
 * not know the key, before sending any proof.
 *
 * @example
 * ```ts
 * await secretLogin(transport, 'backup', await SecretKey.read('machines.key'), tlsExporter(socket));
 * ```
 */
export async function secretLogin(
  transport: LoginTransport,
  user: string,
  secret: SecretKey,
  channelBinding?: Buffer,
  options: { maxRetryWaitMs?: number; log?: Logger } = {},
): Promise<string> {
  const log = options.log ?? silentLogger;
  return retrying(options.maxRetryWaitMs ?? 30_000, log, async () => {
    log.debug({ mechanism: 'SECRET', user, channelBound: channelBinding !== undefined }, 'log-in');
    const challenge = new SecretChallengeClient(secret.bytes, {
      context: secretContext(user, channelBinding),
    });
    const cont = await ask(transport, {
      op: 'auth',
      mechanism: 'SECRET',
      user,
      data: challenge.hello().toString('base64'),
    });
    const [nonce = '', proof = ''] = text(cont, 'data').split(',');
    const answer = challenge.answer(Buffer.from(nonce, 'base64'), Buffer.from(proof, 'base64'));
    const done = await ask(transport, { op: 'auth-final', data: answer.toString('base64') });
    const confirmed = text(done, 'user');
    log.debug({ user: confirmed }, 'logged in; the server proved it holds the key');
    return confirmed;
  });
}

/**
 * Creates an account; the password never leaves this machine, only SCRAM's salted keys do.
 *
 * @example
 * ```ts
 * await registerAccount(transport, 'dan', password, 600_000);
 * ```
 */
export async function registerAccount(
  transport: LoginTransport,
  user: string,
  password: string,
  iterations?: number,
): Promise<void> {
  const credentials = await deriveCredentials(password, { iterations });
  await ask(transport, {
    op: 'register',
    user,
    salt: credentials.salt.toString('base64'),
    iterations: credentials.iterations,
    storedKey: credentials.storedKey.toString('base64'),
    serverKey: credentials.serverKey.toString('base64'),
  });
}
