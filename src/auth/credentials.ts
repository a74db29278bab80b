/**
 * What a server keeps of a password: SCRAM's salted keys (RFC 5802 §3). Neither key lets
 * anyone log in: a client must prove it knows ClientKey, of which StoredKey is only a hash.
 */
export interface ScramCredentials {
  readonly salt: Buffer;
  readonly iterations: number;
  /** H(ClientKey). */
  readonly storedKey: Buffer;
  /** HMAC(SaltedPassword, "Server Key"). */
  readonly serverKey: Buffer;
}

/** PBKDF2-HMAC-SHA256 iterations for new passwords: OWASP's 2023 guidance for PBKDF2-SHA256. */
export const DEFAULT_ITERATIONS = 600_000;

/** RFC 7677 §4: the iteration count SHOULD be at least 4096. */
export const MIN_ITERATIONS = 4096;

/** More than this only makes a client burn CPU: ten million rounds take several seconds. */
export const MAX_ITERATIONS = 10_000_000;
