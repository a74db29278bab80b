/**
 * Mutual authentication of two machines that share a secret: the classic HMAC challenge, done so
 * that neither side can be fooled by its own words. Each side sends a fresh 32-byte nonce, and each
 * proves the secret with
 *
 *   HMAC-SHA-256(secret, label || 0x00 || clientNonce || serverNonce || context)
 *
 * where the label differs by role, so a server's proof is never a valid client proof (no
 * reflection), and both nonces are in every proof, so no proof is good in another exchange (no
 * replay). The nonces have a fixed length, so the concatenation is unambiguous.
 *
 * The server proves itself first, so anyone may ask it for one proof per connection: the secret must
 * be random (at least 16 bytes, checked), never a password, or those proofs allow offline guessing.
 * A man in the middle can still relay a whole exchange; pass something that binds it to the
 * connection as `context`, such as TLS exported keying material (RFC 5705), to stop that.
 */

import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import tls from 'node:tls';
import { ErrorCode, SockitError } from '../errors.js';

/** Length of each side's nonce and of each proof (HMAC-SHA-256). */
export const CHALLENGE_BYTES = 32;
const MIN_SECRET_BYTES = 16;
// v2: the context binds the user name and the TLS channel (see `secretContext`).
const CLIENT_LABEL = 'sockit client proof v2';
const SERVER_LABEL = 'sockit server proof v2';
/** RFC 5705 exporter label for the shared-secret log-in (the tls-exporter idea of RFC 9266). */
export const SECRET_EXPORTER_LABEL = 'EXPORTER-sockit-secret';
export const EXPORTER_BYTES = 32;

/**
 * The context a log-in's proofs cover: the user name it is for (length-prefixed, so no two
 * (user, channel) pairs give the same bytes) and, over TLS, the connection's exported keying
 * material. A proof then logs in only that user, only on that connection: a relay to another
 * user or through another TLS connection fails.
 *
 * @example
 * ```ts
 * const context = secretContext('backup', tlsSocket.exportKeyingMaterial(32, SECRET_EXPORTER_LABEL));
 * ```
 */
export function secretContext(user: string, channel?: Buffer): Buffer {
  const name = Buffer.from(user, 'utf8');
  const length = Buffer.alloc(2);
  length.writeUInt16BE(Math.min(name.length, 0xffff));
  return Buffer.concat([length, name.subarray(0, 0xffff), channel ?? Buffer.alloc(0)]);
}

/**
 * The connection's RFC 5705 exported keying material under `SECRET_EXPORTER_LABEL` (32 bytes),
 * or undefined for a plain TCP socket. Both ends of one TLS connection get the same value, and
 * no other connection does. (RFC 9266 asks for TLS 1.3, or TLS 1.2 with extended master secret.)
 *
 * @example
 * ```ts
 * const binding = tlsExporter(socket); // pass to secretLogin / LoginPeer.channelBinding
 * ```
 */
export function tlsExporter(socket: Socket | Duplex): Buffer | undefined {
  if (!(socket instanceof tls.TLSSocket)) return undefined;
  return socket.exportKeyingMaterial(EXPORTER_BYTES, SECRET_EXPORTER_LABEL, Buffer.alloc(0));
}

/** Options shared by both sides. */
export interface SecretChallengeOptions {
  /** Bytes both sides know about this connection (e.g. a TLS exporter value); default empty. */
  context?: Buffer;
}

const protocol = (why: string): never => {
  throw new SockitError(ErrorCode.AUTH_PROTOCOL, `challenge: ${why}`);
};

function checkSecret(secret: Buffer): void {
  if (secret.length < MIN_SECRET_BYTES) {
    throw new SockitError(
      ErrorCode.INVALID_ARGUMENT,
      `shared secret must be at least ${MIN_SECRET_BYTES} bytes`,
    );
  }
}

function checkNonce(nonce: Buffer, whose: string): void {
  if (nonce.length !== CHALLENGE_BYTES) protocol(`${whose} nonce is not ${CHALLENGE_BYTES} bytes`);
}

function proof(secret: Buffer, label: string, clientNonce: Buffer, serverNonce: Buffer, context: Buffer) {
  return createHmac('sha256', secret)
    .update(label)
    .update(Buffer.of(0))
    .update(clientNonce)
    .update(serverNonce)
    .update(context)
    .digest();
}

const same = (a: Buffer, b: Buffer): boolean => a.length === b.length && timingSafeEqual(a, b);

/**
 * The side that accepts connections. One instance per connection: `hello`, then `check`, once each.
 *
 * @example
 * ```ts
 * const auth = new SecretChallengeServer(secret);
 * const { serverNonce, serverProof } = auth.hello(await read(32));
 * await write(Buffer.concat([serverNonce, serverProof]));
 * if (!auth.check(await read(32))) socket.destroy();
 * ```
 */
export class SecretChallengeServer {
  readonly #secret: Buffer;
  readonly #context: Buffer;
  #expected: Buffer | undefined;
  #step = 0;

  constructor(secret: Buffer, options: SecretChallengeOptions = {}) {
    checkSecret(secret);
    this.#secret = secret;
    this.#context = options.context ?? Buffer.alloc(0);
  }

  /** Takes the client's nonce; returns a fresh server nonce and the server's proof. */
  hello(clientNonce: Buffer): { serverNonce: Buffer; serverProof: Buffer } {
    if (this.#step++ !== 0) protocol('hello() called twice');
    checkNonce(clientNonce, 'client');
    const serverNonce = randomBytes(CHALLENGE_BYTES);
    const args = [clientNonce, serverNonce, this.#context] as const;
    this.#expected = proof(this.#secret, CLIENT_LABEL, ...args);
    return { serverNonce, serverProof: proof(this.#secret, SERVER_LABEL, ...args) };
  }

  /** True when the client proved it knows the secret. One try per exchange. */
  check(clientProof: Buffer): boolean {
    if (this.#step++ !== 1) protocol('check() called before hello() or twice');
    return same(clientProof, this.#expected as Buffer);
  }
}

/**
 * The side that connects. One instance per connection: `hello`, then `answer`, once each.
 *
 * @example
 * ```ts
 * const auth = new SecretChallengeClient(secret);
 * await write(auth.hello());
 * const reply = await read(64);
 * await write(auth.answer(reply.subarray(0, 32), reply.subarray(32))); // throws on an impostor
 * ```
 */
export class SecretChallengeClient {
  readonly #secret: Buffer;
  readonly #context: Buffer;
  readonly #clientNonce = randomBytes(CHALLENGE_BYTES);
  #step = 0;

  constructor(secret: Buffer, options: SecretChallengeOptions = {}) {
    checkSecret(secret);
    this.#secret = secret;
    this.#context = options.context ?? Buffer.alloc(0);
  }

  /** The client's fresh nonce, to send first. */
  hello(): Buffer {
    if (this.#step++ !== 0) protocol('hello() called twice');
    return this.#clientNonce;
  }

  /**
   * Checks the server's proof and returns the client's. Throws `AUTH_FAILED` when the server does
   * not know the secret; the client's proof is then never computed, let alone sent.
   */
  answer(serverNonce: Buffer, serverProof: Buffer): Buffer {
    if (this.#step++ !== 1) protocol('answer() called before hello() or twice');
    checkNonce(serverNonce, 'server');
    const args = [this.#clientNonce, serverNonce, this.#context] as const;
    if (!same(serverProof, proof(this.#secret, SERVER_LABEL, ...args))) {
      throw new SockitError(ErrorCode.AUTH_FAILED, 'the server does not know the shared secret');
    }
    return proof(this.#secret, CLIENT_LABEL, ...args);
  }
}
