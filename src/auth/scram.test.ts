import { randomBytes } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ErrorCode, SockitError } from '../errors.js';
import { DEFAULT_ITERATIONS, type ScramCredentials } from './credentials.js';
import { deriveCredentials, ScramClient, ScramServer } from './scram.js';

// RFC 7677 §3, the SCRAM-SHA-256 test vector.
const RFC = {
  user: 'user',
  password: 'pencil',
  clientNonce: 'rOprNGfwEbeRWgbNEkqO',
  serverNonce: '%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0',
  clientFirst: 'n,,n=user,r=rOprNGfwEbeRWgbNEkqO',
  serverFirst: 'r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096',
  clientFinal:
    'c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=',
  serverFinal: 'v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=',
};
const ITERATIONS = 4096;
const fakeKey = randomBytes(32);

/** A server whose database holds `accounts`, with test-speed iterations for unknown users. */
function serverFor(accounts: Record<string, ScramCredentials>, nonce?: string) {
  const looked: string[] = [];
  const server = new ScramServer({
    lookup: async (user) => {
      looked.push(user);
      return Object.hasOwn(accounts, user) ? accounts[user] : undefined;
    },
    fakeKey,
    iterations: ITERATIONS,
    ...(nonce === undefined ? {} : { nonce }),
  });
  return { server, looked };
}

async function codeOf(promise: Promise<unknown> | (() => unknown)): Promise<string | undefined> {
  try {
    await (typeof promise === 'function' ? promise() : promise);
  } catch (err) {
    return err instanceof SockitError ? err.code : `not a SockitError: ${String(err)}`;
  }
  return undefined;
}

/** Runs a whole exchange and returns the server's result and the client's verdict on it. */
async function exchange(client: ScramClient, server: ScramServer) {
  const serverFirst = await server.first(client.first());
  const result = server.final(await client.final(serverFirst));
  return { result, verdict: await codeOf(() => client.verify(result.serverFinal)) };
}

const pencil = await deriveCredentials(RFC.password, {
  salt: Buffer.from('W22ZaJ0SNY7soEsUEjb6gQ==', 'base64'),
  iterations: ITERATIONS,
});

describe('SCRAM-SHA-256, RFC 7677 §3 test vector', () => {
  it('the client sends exactly the messages of the RFC and accepts its server signature', async () => {
    const client = new ScramClient(RFC.user, RFC.password, { nonce: RFC.clientNonce });
    expect(client.first()).toBe(RFC.clientFirst);
    expect(await client.final(RFC.serverFirst)).toBe(RFC.clientFinal);
    expect(() => client.verify(RFC.serverFinal)).not.toThrow();
  });

  it('the server sends exactly the messages of the RFC and accepts its proof', async () => {
    const { server } = serverFor({ user: pencil }, RFC.serverNonce);
    expect(await server.first(RFC.clientFirst)).toBe(RFC.serverFirst);
    expect(server.final(RFC.clientFinal)).toEqual({ ok: true, user: 'user', serverFinal: RFC.serverFinal });
  });
});

describe('SCRAM-SHA-256 exchanges', () => {
  it('completes with random nonces, escaping "," and "=" in the user name (RFC 5802 §5.1)', async () => {
    const { server, looked } = serverFor({ 'a,b=c': pencil });
    const client = new ScramClient('a,b=c', 'pencil');
    expect(client.first()).toMatch(/^n,,n=a=2Cb=3Dc,r=[A-Za-z0-9+/=]{24}$/);
    const { result, verdict } = await exchange(new ScramClient('a,b=c', 'pencil'), server);
    expect(result).toMatchObject({ ok: true, user: 'a,b=c' });
    expect(verdict).toBeUndefined();
    expect(looked).toEqual(['a,b=c']);
  });

  it('applies SASLprep to names and passwords, so equivalent spellings log in', async () => {
    const stored = await deriveCredentials('I\u00ADX', { iterations: ITERATIONS });
    const { server, looked } = serverFor({ IX: stored });
    const { result } = await exchange(new ScramClient('\u2168', 'IX'), server);
    expect(result.ok).toBe(true);
    expect(looked).toEqual(['IX']);
  });

  it('refuses a wrong password with e=invalid-proof, which the client reports as AUTH_FAILED', async () => {
    const { server } = serverFor({ user: pencil });
    const { result, verdict } = await exchange(new ScramClient('user', 'pen'), server);
    expect(result).toEqual({ ok: false, user: 'user', serverFinal: 'e=invalid-proof' });
    expect(verdict).toBe(ErrorCode.AUTH_FAILED);
  });

  it('gives an unknown user a stable fake salt, the usual iteration count and the same refusal', async () => {
    const saltOf = async (name: string, iterations?: number) => {
      const server = new ScramServer({
        lookup: async () => undefined,
        fakeKey,
        ...(iterations === undefined ? {} : { iterations }),
      });
      const serverFirst = await server.first(`n,,n=${name},r=abc`);
      return serverFirst.split(',').slice(1).join(',');
    };
    const ghost = await saltOf('ghost');
    expect(ghost).toMatch(/^s=[A-Za-z0-9+/]{22}==,i=600000$/);
    expect(await saltOf('ghost')).toBe(ghost);
    expect(await saltOf('ghosts')).not.toBe(ghost);

    // A real account stored with the defaults is told the same iteration count.
    const real = new ScramServer({
      lookup: async () => ({ ...pencil, iterations: DEFAULT_ITERATIONS }),
      fakeKey,
    });
    expect((await real.first('n,,n=user,r=abc')).split(',i=')[1]).toBe(ghost.split(',i=')[1]);

    // Spellings that SASLprep makes one name get one salt, as an account's would: otherwise
    // a name with a soft hyphen or a zero-width space added would tell real from unknown.
    expect(await saltOf('gho\u00adst')).toBe(ghost);
    expect(await saltOf('ghost\u200b')).toBe(ghost);

    const { server: empty } = serverFor({});
    const { result, verdict } = await exchange(new ScramClient('ghost', 'pencil'), empty);
    expect(result).toEqual({ ok: false, user: 'ghost', serverFinal: 'e=invalid-proof' });
    expect(verdict).toBe(ErrorCode.AUTH_FAILED);
  });

  it('treats a name that fails SASLprep as unknown without looking it up', async () => {
    const { server, looked } = serverFor({});
    const serverFirst = await server.first('n,,n=bad\u0007,r=abc');
    const nonce = serverFirst.split(',')[0]?.slice(2);
    const result = server.final(`c=biws,r=${nonce},p=${randomBytes(32).toString('base64')}`);
    expect(result).toEqual({ ok: false, user: 'bad\u0007', serverFinal: 'e=invalid-proof' });
    expect(looked).toEqual([]);
  });

  it('refuses a client-final replayed from an earlier successful exchange', async () => {
    const client = new ScramClient('user', 'pencil');
    const clientFirst = client.first();
    const first = serverFor({ user: pencil }).server;
    const clientFinal = await client.final(await first.first(clientFirst));
    expect(first.final(clientFinal).ok).toBe(true);

    const second = serverFor({ user: pencil }).server;
    await second.first(clientFirst);
    expect(await codeOf(() => second.final(clientFinal))).toBe(ErrorCode.AUTH_PROTOCOL);
  });

  it('the client refuses a server that accepts it without knowing the password', async () => {
    // Stolen StoredKey, no ServerKey: the server can check proofs but cannot sign (RFC 5802 §9).
    const { server } = serverFor({ user: { ...pencil, serverKey: randomBytes(32) } });
    const { result, verdict } = await exchange(new ScramClient('user', 'pencil'), server);
    expect(result.ok).toBe(true);
    expect(verdict).toBe(ErrorCode.AUTH_PROTOCOL);
  });

  it('the client refuses a bad server-first or server-final', async () => {
    const serverFirsts = [
      'r=someoneelse,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096', // does not extend our nonce
      'r=rOprNGfwEbeRWgbNEkqO,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096', // adds nothing to it
      'r=rOprNGfwEbeRWgbNEkqOx,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4095', // below RFC 7677's minimum
      'r=rOprNGfwEbeRWgbNEkqOx,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=10000001', // absurd work
      'r=rOprNGfwEbeRWgbNEkqOx,s=W22ZaJ0SNY7soEsUEjb6gQ,i=4096', // unpadded base64
      'r=rOprNGfwEbeRWgbNEkqOx,s=,i=4096',
      'm=ext,r=rOprNGfwEbeRWgbNEkqOx,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096',
      's=W22ZaJ0SNY7soEsUEjb6gQ==,r=rOprNGfwEbeRWgbNEkqOx,i=4096',
      'r=rOprNGfwEbeRWgbNEkqOx,s=W22ZaJ0SNY7soEsUEjb6gQ==',
    ];
    for (const serverFirst of serverFirsts) {
      const client = new ScramClient('user', 'pencil', { nonce: RFC.clientNonce });
      client.first();
      expect(await codeOf(client.final(serverFirst)), serverFirst).toBe(ErrorCode.AUTH_PROTOCOL);
    }
    for (const serverFinal of ['v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4', 'v=', 'x=1', '']) {
      const client = new ScramClient('user', 'pencil', { nonce: RFC.clientNonce });
      client.first();
      await client.final(RFC.serverFirst);
      expect(await codeOf(() => client.verify(serverFinal)), serverFinal).toBe(ErrorCode.AUTH_PROTOCOL);
    }
  });

  it('the server throws AUTH_PROTOCOL on each kind of malformed client-first', async () => {
    const clientFirsts = [
      '',
      'n,,',
      'p=tls-unique,,n=user,r=abc',
      'y,,n=user,r=abc',
      'n,a=admin,n=user,r=abc',
      'n,,m=ext,n=user,r=abc',
      'n,,r=abc,n=user',
      'n,,n=user',
      'n,,n=us=er,r=abc',
      'n,,n=,r=abc',
      'n,,n=user,r=',
      'n,,n=user,r=a\u00E9',
      `n,,n=${'x'.repeat(256)},r=abc`,
      `n,,n=user,r=abc,x=${'y'.repeat(4096)}`,
    ];
    for (const clientFirst of clientFirsts) {
      const { server } = serverFor({});
      expect(await codeOf(server.first(clientFirst)), clientFirst.slice(0, 40)).toBe(ErrorCode.AUTH_PROTOCOL);
    }
  });

  it('the server throws AUTH_PROTOCOL on each kind of malformed client-final', async () => {
    const proof = 'dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=';
    const nonce = `${RFC.clientNonce}${RFC.serverNonce}`;
    const clientFinals = [
      `c=biws,r=${nonce}`, // no proof
      `c=eSws,r=${nonce},p=${proof}`, // c= says "y,,"
      `c=biws,r=${RFC.clientNonce}other,p=${proof}`,
      `c=biws,r=${nonce},p=!${proof}`,
      `c=biws,r=${nonce},p=${proof.slice(0, 24)}`, // 16 bytes, not 32
      `r=${nonce},c=biws,p=${proof}`,
      `c=biws,r=${nonce},m=ext,p=${proof}`,
      `c=biws,r=${nonce},p=${proof},x=${'y'.repeat(4096)}`,
    ];
    for (const clientFinal of clientFinals) {
      const { server } = serverFor({ user: pencil }, RFC.serverNonce);
      await server.first(RFC.clientFirst);
      expect(await codeOf(() => server.final(clientFinal)), clientFinal.slice(0, 60)).toBe(
        ErrorCode.AUTH_PROTOCOL,
      );
    }
  });

  it('the server throws AUTH_PROTOCOL when its steps come out of order', async () => {
    const { server } = serverFor({ user: pencil }, RFC.serverNonce);
    expect(await codeOf(() => server.final(RFC.clientFinal))).toBe(ErrorCode.AUTH_PROTOCOL);
    const { server: twice } = serverFor({ user: pencil }, RFC.serverNonce);
    await twice.first(RFC.clientFirst);
    expect(await codeOf(twice.first(RFC.clientFirst))).toBe(ErrorCode.AUTH_PROTOCOL);
  });

  it('arbitrary input never makes either side throw anything but SockitError', async () => {
    const text = fc.oneof(
      fc.string({ unit: 'binary', maxLength: 200 }),
      fc
        .array(fc.constantFrom('n', ',', '=', 'r', 's', 'i', 'c', 'p', 'v', 'e', 'biws', '2C', 'a', 'm'), {
          maxLength: 30,
        })
        .map((parts) => parts.join('')),
    );
    const onlySockitErrors = async (run: () => unknown) => {
      const code = await codeOf(async () => run());
      expect(code === undefined || !code.startsWith('not a')).toBe(true);
    };
    await fc.assert(
      fc.asyncProperty(text, text, async (a, b) => {
        const server = serverFor({ user: pencil }, RFC.serverNonce).server;
        await onlySockitErrors(() => server.first(`n,,n=user,r=${a}`));
        await onlySockitErrors(() => server.final(b));
        await onlySockitErrors(() => serverFor({}).server.first(a));
        const client = new ScramClient('user', 'pencil', { nonce: RFC.clientNonce, maxIterations: 4096 });
        client.first();
        await onlySockitErrors(() =>
          client.final(`r=${RFC.clientNonce}x,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096${a}`),
        );
        await onlySockitErrors(() => client.verify(b));
      }),
      { numRuns: 300 },
    );
  });
});

describe('deriveCredentials', () => {
  it('defaults to 600,000 iterations and a fresh 16-byte salt', async () => {
    const credentials = await deriveCredentials('pencil');
    expect(credentials.iterations).toBe(600_000);
    expect(credentials.salt).toHaveLength(16);
    expect(credentials.storedKey).toHaveLength(32);
    expect(credentials.serverKey).toHaveLength(32);
    const again = await deriveCredentials('pencil', { iterations: ITERATIONS });
    expect(again.salt.equals(credentials.salt)).toBe(false);
  });

  it('rejects weak parameters and passwords SASLprep refuses with INVALID_ARGUMENT', async () => {
    expect(await codeOf(deriveCredentials('pencil', { iterations: 4095 }))).toBe(ErrorCode.INVALID_ARGUMENT);
    expect(await codeOf(deriveCredentials('pencil', { salt: Buffer.alloc(8) }))).toBe(
      ErrorCode.INVALID_ARGUMENT,
    );
    expect(await codeOf(deriveCredentials('pen\u0000cil', { iterations: ITERATIONS }))).toBe(
      ErrorCode.INVALID_ARGUMENT,
    );
  });

  it('ScramServer refuses a fakeKey shorter than 32 bytes', () => {
    expect(() => new ScramServer({ lookup: async () => undefined, fakeKey: Buffer.alloc(31) })).toThrow(
      expect.objectContaining({ code: ErrorCode.INVALID_ARGUMENT }),
    );
  });
});
