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
