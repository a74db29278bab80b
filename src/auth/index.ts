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
export {
  SECRET_EXPORTER_LABEL,
  SecretChallengeClient,
  SecretChallengeServer,
  secretContext,
  tlsExporter,
} from './challenge.js';
export { DEFAULT_ITERATIONS, type ScramCredentials } from './credentials.js';
export { IterationMix, type IterationMixOptions } from './iteration-mix.js';
export { type BoundKeyCache, FileKeyCache, type KeyCache, MemoryKeyCache } from './key-cache.js';
export { registerAccount, type ScramLoginOptions, scramLogin, secretLogin } from './login-client.js';
export {
  type LoginPeer,
  type LoginResult,
  LoginServer,
  type LoginServerOptions,
  MAX_ATTEMPTS,
  throttleKey,
} from './login-server.js';
export {
  isOutOfStep,
  type LoginMessage,
  type LoginTransport,
  memoryPair,
  refusal,
  ThrottledError,
} from './login-transport.js';
export { checkUserName, MAX_USER_NAME_LENGTH } from './names.js';
export { RateLimit, type RateLimitOptions } from './rate-limit.js';
export { saslPrep } from './saslprep.js';
export {
  deriveCredentials,
  type SaltedKeys,
  ScramClient,
  type ScramClientOptions,
  ScramServer,
  type ScramServerOptions,
  type ScramServerResult,
} from './scram.js';
export { SecretKey } from './secret-key.js';
export {
  defaultDatabase,
  GRANTS,
  type Grant,
  isGrant,
  openUserStore,
  type Quota,
  type StoreKind,
  type UserRecord,
  type UserStore,
} from './store.js';
export { Throttle, type ThrottleOptions } from './throttle.js';
