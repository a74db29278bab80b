/**
 * SCRAM-SHA-256 (RFC 5802, with SHA-256 per RFC 7677) without channel binding: the client always
 * sends the GS2 header "n,,". Both sides are socket-free state machines that take one message and
 * return the next; a transport carries the strings. Every message a peer sends is bounded and
 * parsed strictly against the RFC 5802 §7 grammar, and a bad one throws `SockitError(AUTH_PROTOCOL)`.
 */

import { createHash, createHmac, pbkdf2, randomBytes, timingSafeEqual } from 'node:crypto';
import { promisify } from 'node:util';
import { ErrorCode, SockitError } from '../errors.js';
import { DEFAULT_ITERATIONS, MAX_ITERATIONS, MIN_ITERATIONS, type ScramCredentials } from './credentials.js';
import { saslPrep } from './saslprep.js';

const pbkdf2Async = promisify(pbkdf2);

/** Longest message accepted from a peer, in UTF-8 bytes. */
const MAX_MESSAGE_BYTES = 4096;
/** Longest user name, in UTF-8 bytes once unescaped. */
const MAX_USER_BYTES = 255;
const SALT_BYTES = 16;
/** SHA-256 output: the size of every key and of the proof. */
const KEY_BYTES = 32;
/** RFC 5802 §7 gs2-header with no channel binding and no authzid, and the c= that repeats it. */
const GS2_HEADER = 'n,,';
const CHANNEL_BINDING = Buffer.from(GS2_HEADER).toString('base64');
/** RFC 5802 §7 `printable`: what a nonce is made of (no comma). */
const PRINTABLE = /^[\x21-\x2b\x2d-\x7e]+$/;

const protocol = (why: string): never => {
  throw new SockitError(ErrorCode.AUTH_PROTOCOL, `SCRAM: ${why}`);
};
const invalid = (why: string): never => {
  throw new SockitError(ErrorCode.INVALID_ARGUMENT, why);
};

const hmac = (key: Buffer, data: string): Buffer => createHmac('sha256', key).update(data).digest();
const sha256 = (data: Buffer): Buffer => createHash('sha256').update(data).digest();
const xor = (a: Buffer, b: Buffer): Buffer => Buffer.from(a.map((byte, i) => byte ^ (b[i] as number)));
const newNonce = (): string => randomBytes(18).toString('base64');

function checkIterations(n: number, what: string, min = MIN_ITERATIONS, max = MAX_ITERATIONS): void {
  if (!Number.isSafeInteger(n) || n < min || n > max)
    invalid(`${what} must be an integer from ${min} to ${max}`);
}

function bounded(message: string): string {
  if (message.length > MAX_MESSAGE_BYTES || Buffer.byteLength(message) > MAX_MESSAGE_BYTES) {
    protocol(`message longer than ${MAX_MESSAGE_BYTES} bytes`);
  }
  return message;
}

/**
 * Parses `k=value,k=value` (RFC 5802 §7 attr-val) and returns the values of `keys`, which must open
 * the message in that order. Any further attributes are extensions, which §7 says to ignore, except
 * m=: a mandatory extension we cannot know, so §5.1 says the exchange fails.
 */
function parseAttributes(message: string, keys: readonly string[]): string[] {
  const values: string[] = [];
  for (const [i, part] of bounded(message).split(',').entries()) {
    if (!/^[A-Za-z]=/.test(part) || part.includes('\0')) protocol('malformed attribute');
    if (part[0] === 'm') protocol('mandatory extensions (m=) are not supported');
    const key = keys[i];
    if (key === undefined) continue;
    if (part[0] !== key) protocol(`expected ${key}= as attribute ${i + 1}`);
    values.push(part.slice(2));
  }
  if (values.length < keys.length) protocol(`missing ${keys[values.length]}=`);
  return values;
}

function decodeBase64(value: string, what: string): Buffer {
  const bytes = Buffer.from(value, 'base64');
  // Node skips characters outside the alphabet; the round trip rejects them and sloppy padding.
  if (value === '' || bytes.toString('base64') !== value) protocol(`${what} is not valid base64`);
  return bytes;
}

function checkNonce(nonce: string): void {
  if (!PRINTABLE.test(nonce)) protocol('nonce is empty or has characters outside RFC 5802 printable');
}

/** RFC 5802 §5.1: in a saslname, "," is sent as "=2C" and "=" as "=3D". */
const escapeUser = (user: string): string => user.replaceAll('=', '=3D').replaceAll(',', '=2C');

function unescapeUser(saslname: string): string {
  if (saslname === '' || /=(?!2C|3D)/.test(saslname)) protocol('malformed user name');
  const user = saslname.replace(/=2C|=3D/g, (sequence) => (sequence === '=2C' ? ',' : '='));
  if (Buffer.byteLength(user) > MAX_USER_BYTES) protocol(`user name longer than ${MAX_USER_BYTES} bytes`);
  return user;
}

/** RFC 5802 §3: ClientKey, StoredKey and ServerKey from SaltedPassword := Hi(Normalize(password), salt, i). */
async function saltedKeys(prepared: string, salt: Buffer, iterations: number) {
  // Hi() is PBKDF2 (RFC 2898) with HMAC-SHA-256; the async form runs on libuv's thread pool.
  const salted = await pbkdf2Async(prepared, salt, iterations, KEY_BYTES, 'sha256');
  const clientKey = hmac(salted, 'Client Key');
  return { clientKey, storedKey: sha256(clientKey), serverKey: hmac(salted, 'Server Key') };
}

/**
 * Computes what a server stores for a password (RFC 5802 §3). The password goes through SASLprep;
 * the salt is 16 random bytes and the count `DEFAULT_ITERATIONS` unless given.
 *
 * @example
 * ```ts
 * const credentials = await deriveCredentials(password);
 * await users.insert({ name, ...credentials });
 * ```
 */
export async function deriveCredentials(
  password: string,
  options: { salt?: Buffer; iterations?: number } = {},
): Promise<ScramCredentials> {
  const { salt = randomBytes(SALT_BYTES), iterations = DEFAULT_ITERATIONS } = options;
  checkIterations(iterations, 'iterations');
  if (salt.length < SALT_BYTES) invalid(`salt must be at least ${SALT_BYTES} bytes`);
  const { storedKey, serverKey } = await saltedKeys(saslPrep(password), salt, iterations);
  return { salt, iterations, storedKey, serverKey };
}

/** Options of a `ScramClient`. */
export interface ScramClientOptions {
  /** The client nonce; random unless given (tests only). */
  nonce?: string;
  /** Refuse a server that asks for more PBKDF2 iterations than this; default 10,000,000. */
  maxIterations?: number;
  /** Refuse a server that asks for fewer (a downgrade); default 4096 (RFC 7677 §4). */
  minIterations?: number;
  /**
   * Salted keys kept from an earlier log-in with this salt and count (RFC 5802 §3 lets a client
   * cache ClientKey and ServerKey for them): when it returns keys, no PBKDF2 is run and the
   * password is never asked for. Bound to one server and user by the caller.
   */
  cache?: {
    get(salt: Buffer, iterations: number): Promise<SaltedKeys | undefined>;
    set(salt: Buffer, iterations: number, keys: SaltedKeys): Promise<void>;
  };
}

/** ClientKey and ServerKey (RFC 5802 §3): what a client may cache for one salt and count. */
export interface SaltedKeys {
  clientKey: Buffer;
  serverKey: Buffer;
}

/**
 * The client side of one SCRAM-SHA-256 exchange: `first()`, then `final(serverFirst)`, then
 * `verify(serverFinal)`, each once and in that order.
 *
 * @example
 * ```ts
 * const scram = new ScramClient('alice', password);
 * const serverFirst = await send(scram.first());
 * const serverFinal = await send(await scram.final(serverFirst));
 * scram.verify(serverFinal); // throws unless the server knows the password too
 * ```
 */
export class ScramClient {
  readonly #user: string;
  readonly #password: () => Promise<string>;
  readonly #nonce: string;
  readonly #minIterations: number;
  readonly #maxIterations: number;
  readonly #cache: ScramClientOptions['cache'];
  #step = 0;
  #serverSignature: Buffer = Buffer.alloc(0);
  #fresh: { salt: Buffer; iterations: number; keys: SaltedKeys } | undefined;
  /** True when the last proof came from cached keys. */
  #cached = false;

  /**
   * `password` may be a function: it is then called only when the keys are not cached (so a
   * command line need not prompt for a password it will not use).
   */
  constructor(user: string, password: string | (() => Promise<string>), options: ScramClientOptions = {}) {
    // RFC 5802 §5.1: the client SHOULD prepare the user name with SASLprep; §3 Normalize() is SASLprep.
    this.#user = saslPrep(user);
    if (this.#user === '' || Buffer.byteLength(this.#user) > MAX_USER_BYTES) {
      invalid(`user name must be 1 to ${MAX_USER_BYTES} bytes`);
    }
    if (typeof password === 'string') {
      const prepared = saslPrep(password);
      this.#password = async () => prepared;
    } else {
      this.#password = async () => saslPrep(await password());
    }
    this.#cache = options.cache;
    this.#nonce = options.nonce ?? newNonce();
    if (!PRINTABLE.test(this.#nonce)) invalid('nonce must be printable ASCII without ","');
    this.#minIterations = options.minIterations ?? MIN_ITERATIONS;
    this.#maxIterations = options.maxIterations ?? MAX_ITERATIONS;
    checkIterations(this.#minIterations, 'minIterations', 1, Number.MAX_SAFE_INTEGER);
    checkIterations(this.#maxIterations, 'maxIterations', this.#minIterations, Number.MAX_SAFE_INTEGER);
  }

  #advance(from: number): void {
    if (this.#step !== from) protocol('client steps called out of order');
    this.#step++;
  }

  get #clientFirstBare(): string {
    return `n=${escapeUser(this.#user)},r=${this.#nonce}`;
  }

  /** The client-first-message (RFC 5802 §7). */
  first(): string {
    this.#advance(0);
    return GS2_HEADER + this.#clientFirstBare;
  }

  /** Checks the server-first-message and returns the client-final-message with the proof (§3, §7). */
  async final(serverFirst: string): Promise<string> {
    this.#advance(1);
    const [nonce = '', salt64 = '', count = ''] = parseAttributes(serverFirst, ['r', 's', 'i']);
    checkNonce(nonce);
    // §5.1: the server appends its own nonce to ours; anything else is a confused or hostile server.
    if (!nonce.startsWith(this.#nonce) || nonce.length === this.#nonce.length) {
      protocol('server nonce does not extend the client nonce');
    }
    const salt = decodeBase64(salt64, 'salt');
    const iterations = /^[1-9][0-9]{0,9}$/.test(count) ? Number(count) : protocol('malformed i=');
    if (iterations < this.#minIterations || iterations > this.#maxIterations) {
      protocol(
        `server asks for ${iterations} iterations, outside ${this.#minIterations}..${this.#maxIterations}`,
      );
    }
    const withoutProof = `c=${CHANNEL_BINDING},r=${nonce}`;
    const authMessage = `${this.#clientFirstBare},${serverFirst},${withoutProof}`;
    let keys = await this.#cache?.get(salt, iterations);
    this.#cached = keys !== undefined;
    if (keys === undefined) {
      keys = await saltedKeys(await this.#password(), salt, iterations);
      this.#fresh = { salt, iterations, keys };
    }
    const { clientKey, serverKey } = keys;
    const storedKey = sha256(clientKey);
    this.#serverSignature = hmac(serverKey, authMessage);
    // §3: ClientProof := ClientKey XOR HMAC(StoredKey, AuthMessage).
    return `${withoutProof},p=${xor(clientKey, hmac(storedKey, authMessage)).toString('base64')}`;
  }

  /**
   * Checks the server-final-message. Throws `AUTH_FAILED` when the server refused the log-in (e=)
   * and `AUTH_PROTOCOL` when its signature is wrong: it does not know the password (§3, §9).
   */
  /** True when the proof was made from cached keys (a refusal may then mean a stale cache). */
  get usedCache(): boolean {
    return this.#cached;
  }

  /**
   * Checks the server's answer like `verify`, then stores freshly computed keys in the cache:
   * only keys the server has just accepted are ever cached.
   */
  async verifyAndCache(serverFinal: string): Promise<void> {
    this.verify(serverFinal);
    if (this.#fresh && this.#cache) {
      await this.#cache.set(this.#fresh.salt, this.#fresh.iterations, this.#fresh.keys);
    }
  }

  verify(serverFinal: string): void {
    this.#advance(2);
    if (serverFinal.startsWith('e=')) {
      parseAttributes(serverFinal, ['e']);
      throw new SockitError(ErrorCode.AUTH_FAILED, 'invalid username or password');
    }
    const [signature = ''] = parseAttributes(serverFinal, ['v']);
    const got = decodeBase64(signature, 'server signature');
    const expected = this.#serverSignature;
    if (got.length !== expected.length || !timingSafeEqual(got, expected)) {
      protocol('wrong server signature: the server does not know the password');
    }
  }
}

/** Options of a `ScramServer`. */
export interface ScramServerOptions {
  /** Finds the stored credentials of a (SASLprep-ed) user name, or `undefined` when there is none. */
  lookup: (user: string) => Promise<ScramCredentials | undefined>;
  /** A server secret of at least 32 bytes, from which unknown users' stable fake salts are made. */
  fakeKey: Buffer;
  /**
   * The iteration count unknown users are told, or a function of the name giving it (so that
   * unknown names can mirror the counts real accounts have); default `DEFAULT_ITERATIONS`.
   */
  iterations?: number | ((user: string) => number);
  /** The server nonce; random unless given (tests only). */
  nonce?: string;
}

/** How an exchange ended: the server-final-message to send either way, and who tried. */
export type ScramServerResult =
  | { ok: true; user: string; serverFinal: string }
  | { ok: false; user: string; serverFinal: string };

/**
 * The server side of one SCRAM-SHA-256 log-in attempt: `first(clientFirst)`, then
 * `final(clientFinal)`. An unknown user gets a salt that is stable per name and the default
 * iteration count, and a proof checked against a random key by the same code, so neither the
 * messages nor the work done tell whether the account exists.
 *
 * @example
 * ```ts
 * const scram = new ScramServer({ lookup: (name) => users.credentials(name), fakeKey });
 * const clientFinal = await send(await scram.first(clientFirst));
 * const result = scram.final(clientFinal);
 * await send(result.serverFinal);
 * if (!result.ok) throttle.failed(result.user);
 * ```
 */
export class ScramServer {
  readonly #lookup: ScramServerOptions['lookup'];
  readonly #fakeKey: Buffer;
  readonly #iterations: (user: string) => number;
  readonly #serverNonce: string;
  #step = 0;
  #user = '';
  #nonce = '';
  #clientFirstBare = '';
  #serverFirst = '';
  #credentials: ScramCredentials | undefined;

  constructor(options: ScramServerOptions) {
    if (options.fakeKey.length < 32) invalid('fakeKey must be at least 32 bytes');
    this.#lookup = options.lookup;
    this.#fakeKey = options.fakeKey;
    const iterations = options.iterations ?? DEFAULT_ITERATIONS;
    if (typeof iterations === 'number') checkIterations(iterations, 'iterations');
    this.#iterations = typeof iterations === 'number' ? () => iterations : iterations;
    this.#serverNonce = options.nonce ?? newNonce();
    if (!PRINTABLE.test(this.#serverNonce)) invalid('nonce must be printable ASCII without ","');
  }

  /** The (SASLprep-ed) name the client gave in its first message; '' before it. */
  get user(): string {
    return this.#user;
  }

  #advance(from: number): void {
    if (this.#step !== from) protocol('server steps called out of order');
    this.#step++;
  }

  /** Credentials for a name with no account: a stable salt, and keys no password matches. */
  #fakeCredentials(name: string): ScramCredentials {
    return {
      salt: hmac(this.#fakeKey, `salt:${name}`).subarray(0, SALT_BYTES),
      iterations: this.#iterations(name),
      storedKey: randomBytes(KEY_BYTES),
      serverKey: randomBytes(KEY_BYTES),
    };
  }

  /** Takes the client-first-message and returns the server-first-message (RFC 5802 §7). */
  async first(clientFirst: string): Promise<string> {
    this.#advance(0);
    bounded(clientFirst);
    // §7 gs2-header. §6 lets a server that cannot bind channels accept "y" (the client could, but
    // thinks we cannot); we refuse it too, so that adding SCRAM-SHA-256-PLUS can never open a downgrade.
    if (/^(?:p=|y,)/.test(clientFirst)) protocol('channel binding is not supported');
    if (clientFirst.startsWith('n,a=')) protocol('authorization identities are not supported');
    if (!clientFirst.startsWith(GS2_HEADER)) protocol('malformed GS2 header');
    const bare = clientFirst.slice(GS2_HEADER.length);
    const [saslname = '', nonce = ''] = parseAttributes(bare, ['n', 'r']);
    const name = unescapeUser(saslname);
    checkNonce(nonce);
    let prepared: string | undefined;
    try {
      prepared = saslPrep(name);
    } catch {
      // A name SASLprep rejects cannot have an account; it is treated like any unknown name.
    }
    // Made for every attempt, so the work does not depend on the answer of lookup(); from the
    // name as it is looked up, so that spellings SASLprep makes one (a soft hyphen, a zero-width
    // space added) get one salt whether or not the account exists.
    const fake = this.#fakeCredentials(prepared ?? name);
    const found = prepared === undefined ? undefined : await this.#lookup(prepared);
    this.#user = prepared ?? name;
    this.#credentials = found ?? fake;
    this.#nonce = nonce + this.#serverNonce;
    this.#clientFirstBare = bare;
    const { salt, iterations } = this.#credentials;
    this.#serverFirst = `r=${this.#nonce},s=${salt.toString('base64')},i=${iterations}`;
    return this.#serverFirst;
  }

  /** Checks the client-final-message (RFC 5802 §3) and says whether the proof is right. */
  final(clientFinal: string): ScramServerResult {
    this.#advance(1);
    const at = bounded(clientFinal).lastIndexOf(',p=');
    const withoutProof = at < 0 ? protocol('missing p=') : clientFinal.slice(0, at);
    const [channelBinding, nonce] = parseAttributes(withoutProof, ['c', 'r']);
    if (channelBinding !== CHANNEL_BINDING) protocol('c= does not repeat the GS2 header "n,,"');
    if (nonce !== this.#nonce) protocol('nonce does not match this exchange');
    const proof = decodeBase64(clientFinal.slice(at + 3), 'proof');
    if (proof.length !== KEY_BYTES) protocol(`proof is not ${KEY_BYTES} bytes`);
    const { storedKey, serverKey } = this.#credentials as ScramCredentials;
    const authMessage = `${this.#clientFirstBare},${this.#serverFirst},${withoutProof}`;
    // §3: ClientKey := ClientProof XOR HMAC(StoredKey, AuthMessage), genuine if H(ClientKey) = StoredKey.
    const clientKey = xor(proof, hmac(storedKey, authMessage));
    const serverSignature = hmac(serverKey, authMessage);
    if (timingSafeEqual(sha256(clientKey), storedKey)) {
      return { ok: true, user: this.#user, serverFinal: `v=${serverSignature.toString('base64')}` };
    }
    return { ok: false, user: this.#user, serverFinal: 'e=invalid-proof' };
  }
}
