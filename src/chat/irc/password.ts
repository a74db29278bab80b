/**
 * Checking a password an IRC client sent in plain (PASS, SASL PLAIN) against the user store,
 * which keeps only SCRAM's salted keys (RFC 5802 §3). The check is a whole SCRAM-SHA-256
 * exchange run in this process: the server side is the `LoginServer` every sockit service
 * uses, so the IRC log-in gets the same back-off per address and per account, the same fake
 * salts and counts for names that have no account (the same work whether or not it exists),
 * and the same constant-time proof check; the client side derives the proof from the password
 * with the salt and count the server gave, which costs what the check costs a SCRAM client.
 */

import type { LoginPeer, LoginServer } from '../../auth/login-server.js';
import { memoryPair } from '../../auth/login-transport.js';
import { ScramClient } from '../../auth/scram.js';
import type { UserRecord } from '../../auth/store.js';
import { ErrorCode, isSockitError, SockitError } from '../../errors.js';

/** A connection's tally of log-in attempts, as `LoginServer.authenticate` keeps it. */
export interface AttemptCounts {
  attempts: number;
  throttled: number;
}

/**
 * The account `user` when `password` is its password. Throws `ERR_AUTH_FAILED` when it is
 * not (or there is no such account: the refusal does not say which), `ERR_THROTTLED` (a
 * `ThrottledError`, with the wait) while the address or the account backs off; an error that
 * `isOutOfStep` marks means the connection should close (too many attempts).
 *
 * @example
 * ```ts
 * const account = await checkPassword(login, 'ann', 'secret', { address: conn.address }, counts);
 * ```
 */
export async function checkPassword(
  login: LoginServer,
  user: string,
  password: string,
  peer: LoginPeer,
  counts: AttemptCounts,
): Promise<UserRecord> {
  let scram: ScramClient;
  try {
    scram = new ScramClient(user, password);
  } catch {
    // SASLprep refuses the name or the password: no account can match them.
    throw new SockitError(ErrorCode.AUTH_FAILED, 'invalid username or password');
  }
  const [client, server] = memoryPair();
  const request = { op: 'auth' as const, mechanism: 'SCRAM-SHA-256' as const, data: scram.first() };
  const checked = login.authenticate(server, request, peer, counts);
  // The client's side runs beside the check; when the check ends early (a throttled attempt)
  // it waits on a transport nobody answers, and is collected with it.
  void (async () => {
    const first = await client.receive();
    let final = '';
    try {
      if (first.ok === true && typeof first.data === 'string') final = await scram.final(first.data);
    } catch (err) {
      if (!isSockitError(err)) throw err;
      // A count outside what the client accepts: an empty proof fails the attempt at once.
    }
    await client.send({ op: 'auth-final', data: final });
  })().catch(() => {});
  const { user: record } = await checked;
  return record;
}
