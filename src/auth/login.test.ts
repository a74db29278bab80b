/**
 * LoginServer and the login-client functions together over an in-memory transport pair: no
 * socket. Covers the exchanges, the shared-secret bindings, the fake entries' counts, the
 * registration rate limit and the client's key cache.
 */

import { randomBytes } from 'node:crypto';
import { chmod, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { codeOf } from '../../test/codes.js';
import { ErrorCode, isSockitError } from '../errors.js';
import { SecretChallengeClient, SecretChallengeServer } from './challenge.js';
import type { ScramCredentials } from './credentials.js';
import { IterationMix } from './iteration-mix.js';
import { MemoryKeyCache } from './key-cache.js';
import { registerAccount, scramLogin, secretLogin } from './login-client.js';
import { LoginServer, type LoginServerOptions } from './login-server.js';
import { type LoginMessage, type LoginTransport, memoryPair } from './login-transport.js';
import { RateLimit } from './rate-limit.js';
import { deriveCredentials, ScramClient } from './scram.js';
import { SecretKey } from './secret-key.js';
import type { UserRecord, UserStore } from './store.js';

/** A user store in memory: what LoginServer needs of one. */
function memoryStore(): UserStore & { users: Map<string, UserRecord> } {
  const users = new Map<string, UserRecord>();
  return {
    kind: 'sqlite',
    users,
    get: async (name) => users.get(name),
    add: async (name, credentials) => {
      if (users.has(name)) throw Object.assign(new Error('taken'), { code: 'x' });
      users.set(name, {
        name,
        credentials,
        quotaBytes: null,
        usageBytes: null,
        createdAt: new Date(),
        grants: [],
      });
    },
    setCredentials: async () => {},
    setQuota: async () => {},
    setGrants: async () => {},
    addUsage: async () => {},
    setUsage: async () => {},
    remove: async () => {},
    list: async () => [...users.values()],
    close: async () => {},
  };
}

/** Runs the server's `accept` against a client function; the client's result or error code. */
async function run<T>(
  server: LoginServer,
  client: (t: LoginTransport) => Promise<T>,
  peer = { address: '10.0.0.1' } as { address: string; channelBinding?: Buffer },
  tamper?: (m: LoginMessage) => LoginMessage,
): Promise<T | string> {
  const [c, s] = memoryPair();
  const relayed: LoginTransport = tamper ? { send: (m) => c.send(tamper(m)), receive: () => c.receive() } : c;
  const accepted = server.accept(s, peer).catch(() => undefined);
  try {
    return await client(relayed);
  } catch (err) {
    if (isSockitError(err)) return err.code;
    throw err;
  } finally {
    // Leave the server's loop: a message out of place ends it.
    void c.send({ op: 'nonsense' });
    await accepted;
  }
}

const ITERATIONS = 4096;

async function setup(extra: Partial<LoginServerOptions> = {}) {
  const store = memoryStore();
  await store.add('ann', await deriveCredentials('correct horse', { iterations: ITERATIONS }));
  const server = new LoginServer({ store, fakeKey: randomBytes(32), minIterations: ITERATIONS, ...extra });
  return { store, server };
}

describe('LoginServer with the login-client functions', () => {
  it('logs in with SCRAM, and refuses a wrong password and an unknown name alike', async () => {
    const { server } = await setup();
    expect(await run(server, (t) => scramLogin(t, 'ann', 'correct horse'))).toBe('ann');
    expect(await run(server, (t) => scramLogin(t, 'ann', 'wrong'))).toBe(ErrorCode.AUTH_FAILED);
    expect(await run(server, (t) => scramLogin(t, 'nobody', 'x'))).toBe(ErrorCode.AUTH_FAILED);
  });

  it('registers an account that then logs in', async () => {
    const { server } = await setup({ allowRegister: true });
    expect(await run(server, (t) => registerAccount(t, 'dan', 'dan password', ITERATIONS))).toBeUndefined();
    expect(await run(server, (t) => scramLogin(t, 'dan', 'dan password'))).toBe('dan');
  });

  it('refuses a malformed registration from the peer with ERR_BAD_REQUEST', async () => {
    const { server } = await setup({ allowRegister: true, minIterations: 8192 });
    const key = randomBytes(32).toString('base64');
    const request = {
      op: 'register' as const,
      user: 'eve',
      salt: randomBytes(16).toString('base64'),
      iterations: 8192,
      storedKey: key,
      serverKey: key,
    };
    const peer = { address: '10.0.0.9' };
    expect(await codeOf(server.register({ ...request, iterations: 4096 }, peer))).toBe(ErrorCode.BAD_REQUEST);
    expect(await codeOf(server.register({ ...request, storedKey: 'AAAA' }, peer))).toBe(
      ErrorCode.BAD_REQUEST,
    );
    expect(await codeOf(server.register({ ...request, salt: 'AAAA' }, peer))).toBe(ErrorCode.BAD_REQUEST);
    expect(await codeOf(server.register(request, peer))).toBe('resolved');
  });

  it('rate-limits registrations per address and for the whole server', async () => {
    const { server } = await setup({
      allowRegister: true,
      registerPerAddress: new RateLimit({ limit: 2, windowMs: 60_000 }),
      registerGlobal: new RateLimit({ limit: 3, windowMs: 60_000 }),
    });
    const reg = (name: string, address: string) =>
      run(server, (t) => registerAccount(t, name, 'a password', ITERATIONS), { address });
    expect(await reg('u1', 'a')).toBeUndefined();
    expect(await reg('u2', 'a')).toBeUndefined();
    expect(await reg('u3', 'a')).toBe(ErrorCode.THROTTLED); // the address's two are used
    expect(await reg('u4', 'b')).toBeUndefined();
    expect(await reg('u5', 'c')).toBe(ErrorCode.THROTTLED); // the server's three are used
  });

  it('accepts a shared-secret log-in bound to the same user and channel', async () => {
    const secret = SecretKey.generate();
    const { server } = await setup({ secret });
    const channel = randomBytes(32);
    const peer = { address: '10.0.0.1', channelBinding: channel };
    expect(await run(server, (t) => secretLogin(t, 'ann', secret, channel), peer)).toBe('ann');
  });

  it('refuses a secret proof relayed to another user', async () => {
    const secret = SecretKey.generate();
    const { store, server } = await setup({ secret });
    await store.add('root', await deriveCredentials('x', { iterations: ITERATIONS }));
    // A relay rewrites the user of a genuine exchange made for ann.
    const asRoot = (m: LoginMessage) => (m.op === 'auth' ? { ...m, user: 'root' } : m);
    expect(await run(server, (t) => secretLogin(t, 'ann', secret), undefined, asRoot)).toBe(
      ErrorCode.AUTH_FAILED,
    );
    // Before the user was bound, the same relay worked: nothing in the proofs named the user.
    const oldServer = new SecretChallengeServer(secret.bytes);
    const oldClient = new SecretChallengeClient(secret.bytes);
    const hello = oldServer.hello(oldClient.hello());
    expect(oldServer.check(oldClient.answer(hello.serverNonce, hello.serverProof))).toBe(true);
  });

  it('refuses a secret proof relayed through another TLS connection', async () => {
    const secret = SecretKey.generate();
    const { server } = await setup({ secret });
    // The client's TLS connection (to the relay) exports other keying material than the server's.
    const peer = { address: '10.0.0.1', channelBinding: randomBytes(32) };
    expect(await run(server, (t) => secretLogin(t, 'ann', secret, randomBytes(32)), peer)).toBe(
      ErrorCode.AUTH_FAILED,
    );
    expect(await run(server, (t) => secretLogin(t, 'ann', secret, undefined), peer)).toBe(
      ErrorCode.AUTH_FAILED,
    );
  });

  it('shows unknown names the store’s iteration counts in its proportions, stable per name', async () => {
    const store = memoryStore();
    const entry = (iterations: number): ScramCredentials => ({
      salt: randomBytes(16),
      iterations,
      storedKey: randomBytes(32),
      serverKey: randomBytes(32),
    });
    // One account in four has 4096; the rest the default.
    for (let i = 0; i < 40; i++) await store.add(`u${i}`, entry(i % 4 === 0 ? 4096 : 600_000));
    const server = new LoginServer({ store, fakeKey: randomBytes(32), minIterations: 4096 });
    const countOf = async (name: string): Promise<number> => {
      const [c, s] = memoryPair();
      const scram = new ScramClient(name, 'x');
      const request = { op: 'auth' as const, mechanism: 'SCRAM-SHA-256' as const, data: scram.first() };
      const done = server.authenticate(s, request, { address: name }, { attempts: 0, throttled: 0 });
      const first = await c.receive();
      void c.send({ op: 'nonsense' });
      await done.catch(() => undefined);
      return Number(/i=(\d+)/.exec(String(first.data))?.[1]);
    };
    await countOf('warm-up'); // the first read of the store's counts
    await new Promise((r) => setTimeout(r, 10));
    const counts = [];
    for (let i = 0; i < 800; i++) counts.push(await countOf(`ghost${i}`));
    expect(new Set(counts)).toEqual(new Set([4096, 600_000]));
    const share = counts.filter((n) => n === 4096).length / counts.length;
    // 1/4 expected; 800 draws put 5 standard deviations at about ±0.077.
    expect(share).toBeGreaterThan(0.25 - 0.077);
    expect(share).toBeLessThan(0.25 + 0.077);
    for (let i = 0; i < 20; i++) expect(await countOf(`ghost${i}`)).toBe(counts[i]);
  });

  it("keeps unknown names' counts when the account mix changes slightly", async () => {
    const accounts: { credentials: { iterations: number } }[] = [];
    const add = (iterations: number, n: number) => {
      for (let i = 0; i < n; i++) accounts.push({ credentials: { iterations } });
    };
    add(600_000, 15);
    add(4096, 5);
    const store = { list: async () => accounts as unknown as UserRecord[] };
    const mix = new IterationMix({ store, fakeKey: randomBytes(32), fallback: 600_000, refreshMs: 1e9 });
    await mix.refresh();
    const names = Array.from({ length: 400 }, (_, i) => `ghost${i}`);
    const before = names.map((n) => mix.countFor(n));
    expect(new Set(before)).toEqual(new Set([4096, 600_000]));
    add(600_000, 1); // one more account: 16 to 5
    await mix.refresh();
    expect(names.map((n) => mix.countFor(n))).toEqual(before);
  });

  it('logs in again from cached keys without asking for the password, and drops refused ones', async () => {
    const { store, server } = await setup();
    const cache = new MemoryKeyCache();
    let asked = 0;
    const password = async () => {
      asked++;
      return 'correct horse';
    };
    const options = { cache, server: 'tcp:test:7021' };
    expect(await run(server, (t) => scramLogin(t, 'ann', password, options))).toBe('ann');
    expect(await run(server, (t) => scramLogin(t, 'ann', password, options))).toBe('ann');
    expect(asked).toBe(1);
    // Another server (same name and salt) does not share the entry.
    expect(
      await run(server, (t) => scramLogin(t, 'ann', password, { cache, server: 'tcp:other:7021' })),
    ).toBe('ann');
    expect(asked).toBe(2);
    // The password changes but (by a careless admin tool) the salt and count stay: the keys fail and go.
    const old = store.users.get('ann') as UserRecord;
    const changed = await deriveCredentials('new password', {
      salt: old.credentials.salt,
      iterations: ITERATIONS,
    });
    store.users.set('ann', { ...old, credentials: changed });
    expect(await run(server, (t) => scramLogin(t, 'ann', password, options))).toBe(ErrorCode.AUTH_FAILED);
    expect(await run(server, (t) => scramLogin(t, 'ann', async () => 'new password', options))).toBe('ann');
  });
});

describe('SecretKey', () => {
  it('writes a key of 32 random bytes, mode 0600, and never over a file', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'sockit-key-'));
    try {
      const file = path.join(dir, 'k');
      const key = SecretKey.generate();
      await key.write(file);
      expect((await stat(file)).mode & 0o777).toBe(0o600);
      expect((await readFile(file, 'utf8')).startsWith('sockit-secret-v1:')).toBe(true);
      expect((await SecretKey.read(file)).bytes.equals(key.bytes)).toBe(true);
      expect(key.bytes.length).toBe(32);
      await expect(SecretKey.generate().write(file)).rejects.toMatchObject({ code: 'EEXIST' });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('refuses a key file that its group or others may read, until chmod 600', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'sockit-key-'));
    try {
      const file = path.join(dir, 'k');
      const key = SecretKey.generate();
      await key.write(file);
      for (const mode of [0o644, 0o640, 0o604, 0o660]) {
        await chmod(file, mode);
        expect(await codeOf(SecretKey.read(file))).toBe(ErrorCode.BAD_SECRET);
      }
      await chmod(file, 0o600);
      expect((await SecretKey.read(file)).bytes.equals(key.bytes)).toBe(true);
      await chmod(file, 0o400);
      expect((await SecretKey.read(file)).bytes.equals(key.bytes)).toBe(true);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('refuses a passphrase, random bytes and a malformed key', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'sockit-key-'));
    try {
      const cases = [
        'correct horse battery staple, a long passphrase\n',
        randomBytes(32).toString('binary'),
        `sockit-secret-v1:${randomBytes(16).toString('base64url')}`,
        `sockit-secret-v1:${randomBytes(32).toString('base64')}==`,
      ];
      for (const [i, text] of cases.entries()) {
        const file = path.join(dir, `bad${i}`);
        // Owner-only, so that the content (not the mode) is what is refused.
        await writeFile(file, text, { encoding: 'binary', mode: 0o600 });
        expect(await codeOf(SecretKey.read(file))).toBe(ErrorCode.BAD_SECRET);
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
