/**
 * Admin log-in for a web page: sockit's own log-in exchange (SCRAM-SHA-256 through the shared
 * `LoginServer`, with its throttles) carried by two POSTs, and a session cookie for the
 * accounts with the `admin` grant.
 *
 *   POST /api/login {op:'auth', mechanism:'SCRAM-SHA-256', data: client-first}
 *     -> 200 {ok:true, data: server-first, sid}          | 401/429 {ok:false, code, message}
 *   POST /api/login {sid, op:'auth-final', data: client-final}
 *     -> 200 {ok:true, data: server-final, user} + Set-Cookie: sockit_admin=TOKEN
 *      | 401/403/429 {ok:false, code, message}
 *
 * The password never crosses (the page derives its keys with WebCrypto), the server proves it
 * holds the account's keys (server-final), and the cookie is HttpOnly, SameSite=Strict, only
 * for this page's host. Sessions live in memory: a restart logs everyone out.
 */

import { createHash, randomBytes } from 'node:crypto';
import type http from 'node:http';
import { accountMark } from '../auth/account-mark.js';
import type { LoginPeer, LoginServer } from '../auth/login-server.js';
import { AuthRequest, type LoginMessage, refusal, ThrottledError } from '../auth/login-transport.js';
import type { UserRecord } from '../auth/store.js';
import { ErrorCode, isSockitError, SockitError } from '../errors.js';
import { networkGroup } from '../runtime/netgroup.js';

/** The cookie that carries an admin session. */
export const ADMIN_COOKIE = 'sockit_admin';

export interface AdminSessionOptions {
  /** A session unused this long ends. Default 30 minutes. */
  idleMs?: number;
  /** A session ends this long after its log-in, used or not. Default 12 hours. */
  maxAgeMs?: number;
  /** Sessions at once; a new one ends the least recently used. Default 256. */
  maxSessions?: number;
  now?: () => number;
}

interface Session {
  user: string;
  /** What the account was at log-in (see `accountMark`): a new password or a new account ends it. */
  mark: string;
  created: number;
  seen: number;
}

/**
 * Admin sessions by token. Only a hash of each token is kept: the map's keys tell nothing
 * that would let anyone log in, and a lookup compares hashes, not the secret itself.
 *
 * @example
 * ```ts
 * const sessions = new AdminSessions();
 * const token = sessions.issue('ann');
 * sessions.user(token); // 'ann'
 * ```
 */
export class AdminSessions {
  readonly #sessions = new Map<string, Session>();
  readonly #idleMs: number;
  readonly #maxAgeMs: number;
  readonly #max: number;
  readonly #now: () => number;

  constructor(options: AdminSessionOptions = {}) {
    this.#idleMs = options.idleMs ?? 30 * 60_000;
    this.#maxAgeMs = options.maxAgeMs ?? 12 * 3600_000;
    this.#max = options.maxSessions ?? 256;
    this.#now = options.now ?? Date.now;
  }

  /** A new session for `user`: its token (43 characters of base64url, 256 random bits). */
  issue(user: string, mark = ''): string {
    const token = randomBytes(32).toString('base64url');
    const now = this.#now();
    this.#sessions.set(hash(token), { user, mark, created: now, seen: now });
    // Least recently used first: Map keeps insertion order, and `user()` re-inserts.
    while (this.#sessions.size > this.#max) {
      const oldest = this.#sessions.keys().next().value as string;
      this.#sessions.delete(oldest);
    }
    return token;
  }

  /** The user of a live session (and the session counts as used), or undefined. */
  user(token: string | undefined): string | undefined {
    return this.session(token)?.user;
  }

  /** A live session's user and account mark (the session counts as used), or undefined. */
  session(token: string | undefined): { user: string; mark: string } | undefined {
    if (token === undefined || !/^[A-Za-z0-9_-]{43}$/.test(token)) return undefined;
    const key = hash(token);
    const session = this.#sessions.get(key);
    if (session === undefined) return undefined;
    const now = this.#now();
    if (now - session.seen > this.#idleMs || now - session.created > this.#maxAgeMs) {
      this.#sessions.delete(key);
      return undefined;
    }
    session.seen = now;
    this.#sessions.delete(key);
    this.#sessions.set(key, session);
    return { user: session.user, mark: session.mark };
  }

  /** Ends a session (log-out); nothing happens for an unknown token. */
  end(token: string | undefined): void {
    if (token !== undefined) this.#sessions.delete(hash(token));
  }

  /** Ends every session of `user` (its grant was taken back, or it was removed). */
  endUser(user: string): void {
    for (const [key, session] of this.#sessions) if (session.user === user) this.#sessions.delete(key);
  }

  /**
   * Ends every session whose account no longer is what it was at log-in: gone, without the
   * admin grant, or with another mark (a new password, or made again).
   */
  sweep(users: readonly Pick<UserRecord, 'name' | 'grants' | 'credentials' | 'createdAt'>[]): void {
    if (this.#sessions.size === 0) return;
    const admins = new Map(
      users.filter((u) => u.grants.includes('admin')).map((u) => [u.name, accountMark(u)]),
    );
    for (const [key, session] of this.#sessions) {
      if (admins.get(session.user) !== session.mark) this.#sessions.delete(key);
    }
  }

  get size(): number {
    return this.#sessions.size;
  }
}

function hash(token: string): string {
  return createHash('sha256').update(token).digest('base64url');
}

/** The admin token a request carries in its cookie, if any. */
export function adminToken(req: http.IncomingMessage): string | undefined {
  const header = req.headers.cookie;
  if (header === undefined) return undefined;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === ADMIN_COOKIE) return part.slice(eq + 1).trim();
  }
  return undefined;
}

/** An answer for the HTTP layer: status, JSON body, extra headers. */
export interface JsonAnswer {
  status: number;
  body: LoginMessage;
  headers?: Record<string, string>;
}

interface Attempt {
  address: string;
  network: string;
  /** The server's messages, in order, for the POSTs waiting on them. */
  sent: LoginMessage[];
  wakeSent: (() => void) | undefined;
  /** The client's final message, once its POST came. */
  deliver: ((message: LoginMessage) => void) | undefined;
  result: Promise<UserRecord>;
  settled: boolean;
}

export interface AdminLoginOptions {
  login: LoginServer;
  sessions: AdminSessions;
  /**
   * Log-ins under way at once from one network (an IPv4 /24, an IPv6 /48); more are refused
   * for a second. Default 8. (One address has at most one: the log-in server's rule.)
   */
  maxPerNetwork?: number;
  /** Log-ins under way at once in all; more are refused for a second. Default 4096. */
  maxAttempts?: number;
  /** Whether the cookie is only for HTTPS (the page is served over TLS). */
  secure?: boolean;
}

/**
 * The two steps of a web admin log-in (see the module's comment), each one POST.
 *
 * @example
 * ```ts
 * const admin = new AdminLogin({ login, sessions });
 * const answer = await admin.step(JSON.parse(body), { address: req.socket.remoteAddress ?? '?' });
 * ```
 */
export class AdminLogin {
  readonly #o: AdminLoginOptions;
  readonly #attempts = new Map<string, Attempt>();
  /** Log-ins under way per network. */
  readonly #networks = new Map<string, number>();

  constructor(options: AdminLoginOptions) {
    this.#o = options;
  }

  /** Answers one POST of the exchange: a first message, or a final one naming its `sid`. */
  async step(message: unknown, peer: LoginPeer): Promise<JsonAnswer> {
    const m = (typeof message === 'object' && message !== null ? message : {}) as LoginMessage;
    return m.op === 'auth-final' ? this.#finish(m, peer) : this.#start(m, peer);
  }

  async #start(message: LoginMessage, peer: LoginPeer): Promise<JsonAnswer> {
    const parsed = AuthRequest.safeParse(message);
    if (!parsed.success || parsed.data.mechanism !== 'SCRAM-SHA-256') {
      return refused(
        new SockitError(ErrorCode.BAD_REQUEST, 'expected {op:"auth", mechanism:"SCRAM-SHA-256", data}'),
      );
    }
    // Many addresses of one network cannot fill the table: others still log in.
    const network = networkGroup(peer.address);
    const fromNetwork = this.#networks.get(network) ?? 0;
    if (fromNetwork >= (this.#o.maxPerNetwork ?? 8) || this.#attempts.size >= (this.#o.maxAttempts ?? 4096)) {
      return refused(new ThrottledError(1000, 'too many log-ins under way'));
    }
    this.#networks.set(network, fromNetwork + 1);
    const sid = randomBytes(18).toString('base64url');
    const attempt: Attempt = {
      address: peer.address,
      network,
      sent: [],
      wakeSent: undefined,
      deliver: undefined,
      result: Promise.resolve() as unknown as Promise<UserRecord>,
      settled: false,
    };
    const transport = {
      send: (m: LoginMessage): void => {
        attempt.sent.push(m);
        attempt.wakeSent?.();
      },
      receive: (): Promise<LoginMessage> =>
        new Promise<LoginMessage>((resolve) => {
          attempt.deliver = resolve;
        }),
    };
    attempt.result = this.#o.login
      .authenticate(transport, parsed.data, peer, { attempts: 0, throttled: 0 }, async (user) => {
        if (!user.grants.includes('admin')) {
          throw new SockitError(
            ErrorCode.FORBIDDEN,
            `${user.name} is not an admin: sockit users grant ${user.name} admin`,
          );
        }
      })
      .then((r) => r.user)
      .finally(() => {
        attempt.settled = true;
        this.#attempts.delete(sid);
        const left = (this.#networks.get(network) ?? 1) - 1;
        if (left > 0) this.#networks.set(network, left);
        else this.#networks.delete(network);
        attempt.wakeSent?.();
      });
    // Settled by itself (a refusal) or by the final step; either way it is not left unhandled.
    attempt.result.catch(() => {});
    this.#attempts.set(sid, attempt);
    await new Promise<void>((resolve) => {
      if (attempt.sent.length > 0 || attempt.settled) resolve();
      else attempt.wakeSent = resolve;
    });
    attempt.wakeSent = undefined;
    const first = attempt.sent.shift();
    if (first === undefined || attempt.settled) {
      try {
        await attempt.result;
      } catch (err) {
        return refused(err);
      }
      return refused(new SockitError(ErrorCode.AUTH_PROTOCOL, 'the log-in ended early'));
    }
    return { status: 200, body: { ...first, sid } };
  }

  async #finish(message: LoginMessage, peer: LoginPeer): Promise<JsonAnswer> {
    const sid = typeof message.sid === 'string' ? message.sid : '';
    const attempt = this.#attempts.get(sid);
    if (attempt === undefined || attempt.address !== peer.address || attempt.deliver === undefined) {
      return refused(
        new SockitError(ErrorCode.AUTH_PROTOCOL, 'no log-in under way with that sid: start again'),
      );
    }
    const deliver = attempt.deliver;
    attempt.deliver = undefined;
    deliver({ op: 'auth-final', data: message.data });
    let user: UserRecord;
    try {
      user = await attempt.result;
    } catch (err) {
      return refused(err);
    }
    const last = attempt.sent.at(-1) ?? {};
    const token = this.#o.sessions.issue(user.name, accountMark(user));
    const cookie = [
      `${ADMIN_COOKIE}=${token}`,
      'HttpOnly',
      'SameSite=Strict',
      'Path=/',
      ...(this.#o.secure ? ['Secure'] : []),
    ].join('; ');
    return {
      status: 200,
      body: { ok: true, data: last.data, user: user.name },
      headers: { 'Set-Cookie': cookie },
    };
  }
}

/** A refusal as an answer: 429 with Retry-After when throttled, 403, 400, else 401. */
function refused(err: unknown): JsonAnswer {
  const e = isSockitError(err) ? err : new SockitError(ErrorCode.INTERNAL, 'log-in failed');
  if (e instanceof ThrottledError) {
    return {
      status: 429,
      body: refusal(e),
      headers: { 'Retry-After': String(Math.max(1, Math.ceil(e.retryAfterMs / 1000))) },
    };
  }
  const status =
    e.code === ErrorCode.FORBIDDEN
      ? 403
      : e.code === ErrorCode.BAD_REQUEST || e.code === ErrorCode.AUTH_PROTOCOL
        ? 400
        : 401;
  return { status, body: refusal(e) };
}
