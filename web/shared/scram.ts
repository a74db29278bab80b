/**
 * SCRAM-SHA-256 (RFC 5802, RFC 7677), the client side, on WebCrypto: the password never
 * leaves the page, and the server proves that it knows the account's keys too. The messages
 * are those of sockit's log-in exchange (src/auth/login-transport.ts):
 *
 *   {op:'auth', mechanism:'SCRAM-SHA-256', data: client-first}  ->  {ok:true, data: server-first}
 *   {op:'auth-final', data: client-final}                       ->  {ok:true, data: server-final, user}
 *                                                               |   {ok:false, code, message}
 *
 * The password is prepared with NFKC normalization, which is what SASLprep (RFC 4013) does to
 * the passwords people type; the characters SASLprep prohibits are refused by the server.
 */

/** Iterations a server may ask for: fewer is a weak key, more would hang the page. */
const MIN_ITERATIONS = 4096;
const MAX_ITERATIONS = 10_000_000;

const encoder = new TextEncoder();
const bytes = (text: string): Uint8Array<ArrayBuffer> => encoder.encode(text) as Uint8Array<ArrayBuffer>;
const toBase64 = (data: Uint8Array): string => btoa(String.fromCharCode(...data));
const fromBase64 = (text: string): Uint8Array<ArrayBuffer> =>
  Uint8Array.from(atob(text), (c) => c.charCodeAt(0)) as Uint8Array<ArrayBuffer>;

async function hmac(key: Uint8Array<ArrayBuffer>, text: string): Promise<Uint8Array<ArrayBuffer>> {
  const k = await crypto.subtle.importKey('raw', key, { name: 'HMAC', hash: 'SHA-256' }, false, ['sign']);
  return new Uint8Array(await crypto.subtle.sign('HMAC', k, bytes(text)));
}

async function sha256(data: Uint8Array<ArrayBuffer>): Promise<Uint8Array<ArrayBuffer>> {
  return new Uint8Array(await crypto.subtle.digest('SHA-256', data));
}

/** `,` and `=` in a SCRAM user name (RFC 5802 5.1). */
const escapeUser = (user: string): string => user.normalize('NFKC').replace(/=/g, '=3D').replace(/,/g, '=2C');

/**
 * The keys derived from a password for one salt and iteration count: what a page keeps (in
 * memory only) to log in again after a lost connection without the password.
 */
export interface DerivedKeys {
  salt: string;
  iterations: number;
  clientKey: Uint8Array<ArrayBuffer>;
  serverKey: Uint8Array<ArrayBuffer>;
}

/** One log-in: `first()`, then `final(serverFirst)`, then `verify(serverFinal)`. */
export class ScramLogin {
  readonly #bare: string;
  readonly #nonce: string;
  #password: string | undefined;
  #serverSignature: Uint8Array | undefined;
  /** The keys, once derived (or given): see `DerivedKeys`. */
  keys: DerivedKeys | undefined;

  constructor(user: string, secret: string | DerivedKeys) {
    const random = crypto.getRandomValues(new Uint8Array(18));
    this.#nonce = toBase64(random).replace(/,/g, '');
    this.#bare = `n=${escapeUser(user)},r=${this.#nonce}`;
    if (typeof secret === 'string') this.#password = secret;
    else this.keys = secret;
  }

  first(): string {
    return `n,,${this.#bare}`;
  }

  async final(serverFirst: string): Promise<string> {
    const attrs = new Map(serverFirst.split(',').map((a) => [a.slice(0, 1), a.slice(2)] as const));
    const nonce = attrs.get('r') ?? '';
    const salt = attrs.get('s') ?? '';
    const iterations = Number(attrs.get('i'));
    if (!nonce.startsWith(this.#nonce) || nonce === this.#nonce)
      throw new Error('the server answered with a bad nonce');
    if (!Number.isSafeInteger(iterations) || iterations < MIN_ITERATIONS || iterations > MAX_ITERATIONS) {
      throw new Error(`the server asks for ${iterations} iterations: refused`);
    }
    let keys = this.keys;
    if (keys === undefined || keys.salt !== salt || keys.iterations !== iterations) {
      if (this.#password === undefined)
        throw new Error('the server changed the account’s keys: log in again');
      const password = this.#password;
      this.#password = undefined; // not kept past the key derivation
      const material = await crypto.subtle.importKey(
        'raw',
        bytes(password.normalize('NFKC')),
        'PBKDF2',
        false,
        ['deriveBits'],
      );
      const salted = new Uint8Array(
        await crypto.subtle.deriveBits(
          { name: 'PBKDF2', hash: 'SHA-256', salt: fromBase64(salt), iterations },
          material,
          256,
        ),
      );
      keys = {
        salt,
        iterations,
        clientKey: await hmac(salted, 'Client Key'),
        serverKey: await hmac(salted, 'Server Key'),
      };
      this.keys = keys;
    }
    const { clientKey, serverKey } = keys;
    const storedKey = await sha256(clientKey);
    const withoutProof = `c=biws,r=${nonce}`;
    const authMessage = `${this.#bare},${serverFirst},${withoutProof}`;
    const signature = await hmac(storedKey, authMessage);
    const proof = clientKey.map((b, i) => b ^ (signature[i] as number));
    this.#serverSignature = await hmac(serverKey, authMessage);
    return `${withoutProof},p=${toBase64(proof)}`;
  }

  /** True when the server's signature proves it holds the account's keys. */
  verify(serverFinal: string): boolean {
    const v = serverFinal.startsWith('v=') ? serverFinal.slice(2) : '';
    return this.#serverSignature !== undefined && v === toBase64(this.#serverSignature);
  }
}
