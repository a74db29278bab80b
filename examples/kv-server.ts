/**
 * A line-based key-value server with log-in, built from sockit's shared pieces alone: the
 * guarded TCP host, a `LineConnection` per connection, and the SCRAM-SHA-256 log-in of
 * `sockit/auth` carried as one JSON message per line. After log-in, one command per line:
 * `GET k`, `SET k v`, `DEL k`, `KEYS`; the answer is `OK`, `VALUE ...` or `ERR CODE message`.
 */
import { ErrorCode, isSockitError, SockitError } from 'sockit';
import { isOutOfStep, LoginServer, type LoginTransport, type UserStore } from 'sockit/auth';
import { type Connection, LineConnection, type MessageConnection, serveTcp } from 'sockit/runtime';

/** Bytes per line, key and value; keys per user. */
export const LIMITS = { line: 8192, key: 128, value: 4096, keys: 1000 };

/** The log-in messages as JSON lines; any other line before log-in is refused. */
export function lineTransport(conn: MessageConnection<string, string>): LoginTransport {
  const lines = conn[Symbol.asyncIterator]();
  return {
    send: (message) => {
      conn.send(JSON.stringify(message));
    },
    async receive() {
      const next = await lines.next();
      if (next.done) throw new SockitError(ErrorCode.CONNECTION_CLOSED, 'the peer left');
      let message: unknown;
      try {
        message = JSON.parse(next.value);
      } catch {}
      if (typeof message !== 'object' || message === null || Array.isArray(message)) {
        throw new SockitError(ErrorCode.FORBIDDEN, 'log in first');
      }
      return message as Record<string, unknown>;
    },
  };
}

/** One command against one user's keys; returns the answer line. */
export function answer(keys: Map<string, string>, line: string): string {
  const [command, key = '', ...rest] = line.split(' ');
  const value = rest.join(' ');
  if (line === 'KEYS') return ['VALUE', ...[...keys.keys()].sort()].join(' ');
  if (!/^[^\s\p{Cc}]+$/u.test(key) || Buffer.byteLength(key) > LIMITS.key) {
    return `ERR ${ErrorCode.BAD_REQUEST} a key is 1 to ${LIMITS.key} bytes, no spaces`;
  }
  if (command === 'GET' && rest.length === 0) {
    const found = keys.get(key);
    return found === undefined ? `ERR ${ErrorCode.NOT_FOUND} no such key` : `VALUE ${found}`;
  }
  if (command === 'DEL' && rest.length === 0) {
    return keys.delete(key) ? 'OK' : `ERR ${ErrorCode.NOT_FOUND} no such key`;
  }
  if (command !== 'SET' || rest.length === 0) {
    return `ERR ${ErrorCode.BAD_REQUEST} expected GET k, SET k v, DEL k or KEYS`;
  }
  if (/\p{Cc}/u.test(value) || Buffer.byteLength(value) > LIMITS.value) {
    return `ERR ${ErrorCode.BAD_REQUEST} a value is at most ${LIMITS.value} bytes, no control characters`;
  }
  if (!keys.has(key) && keys.size >= LIMITS.keys) {
    return `ERR ${ErrorCode.QUOTA_EXCEEDED} at most ${LIMITS.keys} keys`;
  }
  keys.set(key, value);
  return 'OK';
}

/** Serves one connection: log-in first (the guard closes it if that takes too long), then commands. */
async function serve(peer: Connection, login: LoginServer, data: Map<string, Map<string, string>>) {
  const conn = new LineConnection(peer.socket, { maxLineLength: LIMITS.line, log: peer.log });
  try {
    const { user } = await login.accept(lineTransport(conn), { address: peer.address });
    peer.authenticate();
    const keys = data.get(user.name) ?? new Map<string, string>();
    data.set(user.name, keys);
    for await (const line of conn) if (!conn.send(answer(keys, line))) break;
  } catch (err) {
    if (!isSockitError(err)) throw err;
    // The log-in server answers its own refusals; the rest (a line too long, no log-in) here.
    if (!isOutOfStep(err)) conn.send(`ERR ${err.code} ${err.message}`);
  }
  await conn.close();
}

/** Starts the server; every connection must log in as an account of `store`. */
export function serveKv(options: { store: UserStore; fakeKey: Buffer; host?: string; port?: number }) {
  const login = new LoginServer({ store: options.store, fakeKey: options.fakeKey });
  const data = new Map<string, Map<string, string>>();
  return serveTcp({
    name: 'kv',
    host: options.host,
    port: options.port ?? 0,
    login: true,
    handler: (peer) => serve(peer, login, data),
  });
}
