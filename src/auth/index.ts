/**
 * `sockit/auth`: accounts for every sockit service. SCRAM-SHA-256 (RFC 5802, RFC 7677) so
 * that passwords never travel and are never stored; a shared-secret challenge for machines;
 * a back-off for failed attempts; and a user store on SQLite, MySQL/MariaDB or PostgreSQL.
 *
 * @example
 * ```ts
 * import { deriveCredentials, openUserStore } from 'sockit/auth';
 * const store = await openUserStore('postgres://sockit@db.internal/sockit');
 * await store.add('ann', await deriveCredentials(password));
 * ```
 */
export { SecretChallengeClient, SecretChallengeServer } from './challenge.js';
export { DEFAULT_ITERATIONS, type ScramCredentials } from './credentials.js';
export { checkUserName, MAX_USER_NAME_LENGTH } from './names.js';
export { saslPrep } from './saslprep.js';
export {
  deriveCredentials,
  ScramClient,
  type ScramClientOptions,
  ScramServer,
  type ScramServerOptions,
  type ScramServerResult,
} from './scram.js';
export { defaultDatabase, openUserStore, type StoreKind, type UserRecord, type UserStore } from './store.js';
export { Throttle, type ThrottleOptions } from './throttle.js';
