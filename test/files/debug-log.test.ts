/**
 * The file service's debug lines at both ends, over TLS: the connection, TLS, the greeting,
 * each log-in step and its outcome, where a transfer starts; never a password or a proof.
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { deriveCredentials } from '../../src/auth/scram.js';
import { SecretKey } from '../../src/auth/secret-key.js';
import { openUserStore, type UserStore } from '../../src/auth/store.js';
import { FilesClient } from '../../src/files/client.js';
import type { TcpService } from '../../src/runtime/tcp.js';
import { codeOf } from '../codes.js';
import { recordLog } from '../log.js';
import { selfSignedCertificate } from '../tls.js';
import { serveFilesForTest, TEST_ITERATIONS } from './serve.js';

const PASSWORD = 'correct horse battery';
const SECRET = SecretKey.generate();

describe('file service debug lines', () => {
  let dir: string;
  let store: UserStore;
  let service: TcpService;
  let ca: Buffer;
  const served = recordLog('debug');

  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'sockit-files-debug-'));
    const files = selfSignedCertificate(dir);
    ca = await readFile(files.cert);
    store = await openUserStore(path.join(dir, 'users.db'));
    await store.add('ann', await deriveCredentials(PASSWORD, { iterations: TEST_ITERATIONS }));
    service = await serveFilesForTest(path.join(dir, 'root'), store, {
      secret: SECRET,
      tls: { cert: ca, key: await readFile(files.key) },
      log: served.log,
    });
  });
  afterAll(async () => {
    await service?.close();
    await store?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  const options = () => ({ host: '127.0.0.1', port: service.address.port, user: 'ann', tls: { ca } });
  /** The server's lines about the connection from `local`, the client's port. */
  const ofClient = (local: unknown) => served.entries.filter((e) => e.remote === `127.0.0.1:${local}`);

  it('logs connecting, TLS, the greeting, each SCRAM step and an upload at both ends', async () => {
    const logged = recordLog('debug');
    const client = await FilesClient.login({ ...options(), password: PASSWORD, log: logged.log });
    const local = path.join(dir, 'up.bin');
    await writeFile(local, 'some bytes');
    await client.upload(local, 'up.bin');
    client.close();

    const msgs = logged.entries.map((e) => e.msg);
    expect(msgs).toEqual([
      'connected',
      'TLS negotiated',
      'greeting',
      'log-in',
      'SCRAM: proof sent',
      'logged in; the server proved it knows the password',
      'upload: sending',
      'closing',
    ]);
    const [connected, secured, greeting, login, proof] = logged.entries;
    expect(connected).toMatchObject({ level: 20, server: `127.0.0.1:${service.address.port}` });
    expect(secured).toMatchObject({ protocol: 'TLSv1.3', authorized: true });
    expect(typeof secured?.cipher).toBe('string');
    expect(greeting).toMatchObject({ mechanisms: ['SCRAM-SHA-256', 'SECRET'], register: false });
    expect(login).toMatchObject({ mechanism: 'SCRAM-SHA-256', user: 'ann' });
    expect(proof).toMatchObject({ iterations: TEST_ITERATIONS, cachedKeys: false });
    expect(logged.entries[6]).toMatchObject({ path: 'up.bin', size: 10, from: 0 });

    await vi.waitFor(() => expect(ofClient(connected?.local).some((e) => e.msg === 'closed')).toBe(true));
    const server = ofClient(connected?.local);
    expect(server.find((e) => e.msg === 'connection opened')).toMatchObject({ level: 20, service: 'files' });
    expect(server.find((e) => e.msg === 'TLS negotiated')).toMatchObject({
      protocol: 'TLSv1.3',
      cipher: secured?.cipher,
    });
    expect(server.find((e) => e.msg === 'log-in attempt')).toMatchObject({
      level: 20,
      mechanism: 'SCRAM-SHA-256',
      attempt: 1,
    });
    expect(server.find((e) => e.msg === 'logged in')).toMatchObject({ level: 30, user: 'ann' });

    const everything = JSON.stringify([...logged.entries, ...served.entries]);
    expect(everything).not.toContain(PASSWORD);
    expect(everything).not.toMatch(/[cr]=[A-Za-z0-9+/]{8}/); // no SCRAM message, nonce or proof
  });

  it('logs a refused log-in with its code at both ends', async () => {
    const logged = recordLog('debug');
    const refused = FilesClient.login({ ...options(), password: 'not it', log: logged.log });
    expect(await codeOf(refused)).toBe('ERR_AUTH_FAILED');
    expect(logged.entries.map((e) => e.msg).slice(-2)).toEqual(['log-in failed', 'closing']);
    expect(logged.entries.at(-2)).toMatchObject({ code: 'ERR_AUTH_FAILED' });
    const local = logged.entries.find((e) => e.msg === 'connected')?.local;
    await vi.waitFor(() =>
      expect(ofClient(local).find((e) => e.msg === 'log-in failed')).toMatchObject({
        mechanism: 'SCRAM-SHA-256',
        code: 'ERR_AUTH_FAILED',
      }),
    );
    expect(JSON.stringify(logged.entries)).not.toContain('not it');
  });

  it('logs a shared-secret log-in, bound to the TLS channel', async () => {
    const logged = recordLog('debug');
    const client = await FilesClient.login({ ...options(), secret: SECRET, log: logged.log });
    client.close();
    expect(logged.entries.find((e) => e.msg === 'log-in')).toMatchObject({
      mechanism: 'SECRET',
      user: 'ann',
      channelBound: true,
    });
    expect(logged.entries.some((e) => e.msg === 'logged in; the server proved it holds the key')).toBe(true);
  });

  it('logs nothing at info on the client', async () => {
    const logged = recordLog('info');
    const client = await FilesClient.login({ ...options(), password: PASSWORD, log: logged.log });
    client.close();
    expect(logged.entries).toEqual([]);
  });
});
