/**
 * Quotas mean what they say (0: nothing may be stored; 'unlimited'; null: the server's
 * default), and the usage they are checked against is kept in the user store, moved by
 * each upload, overwrite, removal and cut upload, without a walk of the home per upload.
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { deriveCredentials, ScramClient } from '../../src/auth/scram.js';
import { openUserStore, type UserStore } from '../../src/auth/store.js';
import { ErrorCode } from '../../src/errors.js';
import { FilesClient } from '../../src/files/client.js';
import { UserFiles } from '../../src/files/storage.js';
import { Channel } from '../../src/runtime/channel.js';
import type { TcpService } from '../../src/runtime/tcp.js';
import { codeOf } from '../codes.js';
import { onDisk } from './on-disk.js';
import { scramLogin } from './raw-login.js';
import { serveFilesForTest } from './serve.js';

const ITERATIONS = 4096;
const PASSWORD = 'correct horse';

describe('file service quotas and usage', () => {
  let base: string;
  let root: string;
  let store: UserStore;
  let service: TcpService;
  let port: number;

  const login = (user: string): Promise<FilesClient> =>
    FilesClient.login({ host: '127.0.0.1', port, user, password: PASSWORD });

  async function local(name: string, size: number): Promise<string> {
    const file = path.join(base, name);
    await writeFile(file, randomBytes(size));
    return file;
  }

  beforeAll(async () => {
    base = await mkdtemp(path.join(tmpdir(), 'sockit-quota-'));
    root = path.join(base, 'root');
    store = await openUserStore(path.join(base, 'users.db'));
    const credentials = await deriveCredentials(PASSWORD, { iterations: ITERATIONS });
    await store.add('zero', credentials, { quotaBytes: 0 });
    await store.add('free', credentials, { quotaBytes: 'unlimited' });
    await store.add('dflt', credentials);
    await store.add('ann', credentials, { quotaBytes: 1024 * 1024 });
    service = await serveFilesForTest(root, store, {
      quotaBytes: 10_000,
    });
    port = service.address.port;
  });

  afterEach(() => {
    vi.restoreAllMocks();
  });

  afterAll(async () => {
    await service?.close();
    await store?.close();
    await rm(base, { recursive: true, force: true });
  });

  it('refuses even one byte to a user whose quota is 0, and takes an empty file', async () => {
    const client = await login('zero');
    expect(await codeOf(client.upload(await local('one.bin', 1), 'one.bin'))).toBe(ErrorCode.QUOTA_EXCEEDED);
    await client.upload(await local('empty.bin', 0), 'empty.bin');
    expect(await client.list()).toMatchObject([{ path: 'empty.bin', size: 0 }]);
    client.close();
  });

  it("lets an unlimited user store more than the server's default", async () => {
    const client = await login('free');
    await client.upload(await local('big.bin', 50_000), 'big.bin');
    expect((await client.stat('big.bin')).size).toBe(50_000);
    client.close();
  });

  it("applies the server's default to a user without a quota of their own, read at each upload", async () => {
    const client = await login('dflt');
    expect(await codeOf(client.upload(await local('over.bin', 10_001), 'over.bin'))).toBe(
      ErrorCode.QUOTA_EXCEEDED,
    );
    await client.upload(await local('fits.bin', 10_000), 'fits.bin');
    expect(await codeOf(client.upload(await local('more.bin', 1), 'more.bin'))).toBe(
      ErrorCode.QUOTA_EXCEEDED,
    );
    // A quota set meanwhile applies to the next upload of the same connection.
    await store.setQuota('dflt', 'unlimited');
    await client.upload(path.join(base, 'more.bin'), 'more.bin');
    client.close();
  });

  it('keeps usage equal to the bytes on disk through upload, overwrite, cut upload, resume and rm', async () => {
    const client = await login('ann');
    const expectCounted = async (): Promise<void> => {
      expect((await store.get('ann'))?.usageBytes).toBe(await onDisk(root, 'ann'));
    };
    await client.upload(await local('a.bin', 300_000), 'a.bin');
    await expectCounted();
    // Overwriting counts the difference.
    await client.upload(await local('a2.bin', 100_000), 'a.bin', { overwrite: true });
    await expectCounted();
    await client.mkdir('docs/deep', true);
    await client.upload(await local('b.bin', 70_000), 'docs/deep/b.bin');
    await client.upload(await local('c.bin', 30_000), 'docs/c.bin');
    await expectCounted();
    expect((await store.get('ann'))?.usageBytes).toBe(200_000);

    // A cut upload leaves a part, which counts; its resume places the file.
    const half = randomBytes(40_000);
    const whole = Buffer.concat([half, randomBytes(40_000)]);
    await writeFile(path.join(base, 'cut.bin'), whole);
    await cutUpload('cut.bin', whole.length, half);
    await expectCounted();
    expect((await store.get('ann'))?.usageBytes).toBe(240_000);
    const resumed = await client.upload(path.join(base, 'cut.bin'), 'cut.bin');
    expect(resumed.resumedFrom).toBe(40_000);
    await expectCounted();

    await client.remove('docs', true);
    await expectCounted();
    await client.remove('a.bin');
    await expectCounted();
    expect((await store.get('ann'))?.usageBytes).toBe(80_000);
    client.close();
  });

  it('does not walk the home on an upload once the usage is known', async () => {
    const client = await login('ann');
    await client.upload(await local('warm.bin', 10), 'warm.bin', { overwrite: true });
    expect((await store.get('ann'))?.usageBytes).not.toBeNull();
    const walk = vi.spyOn(UserFiles.prototype, 'usage');
    await client.upload(await local('spy.bin', 1000), 'spy.bin');
    await client.upload(await local('spy2.bin', 2000), 'spy.bin', { overwrite: true });
    expect(walk).not.toHaveBeenCalled();
    expect((await store.get('ann'))?.usageBytes).toBe(await onDisk(root, 'ann'));
    client.close();
  });

  it('counts an account whose usage is unknown once, then keeps it', async () => {
    await store.setUsage('ann', null);
    const walk = vi.spyOn(UserFiles.prototype, 'usage');
    const client = await login('ann');
    await client.upload(await local('u1.bin', 100), 'u1.bin');
    expect(walk).toHaveBeenCalledTimes(1);
    await client.upload(await local('u2.bin', 100), 'u2.bin');
    expect(walk).toHaveBeenCalledTimes(1);
    expect((await store.get('ann'))?.usageBytes).toBe(await onDisk(root, 'ann'));
    client.close();
  });

  it('moves no usage of an unlimited user whose usage is unknown, and counts it once a quota is set', async () => {
    const credentials = await deriveCredentials(PASSWORD, { iterations: ITERATIONS });
    await store.add('open', credentials, { quotaBytes: 'unlimited' });
    const adds = vi.spyOn(store, 'addUsage');
    const client = await login('open');
    await client.upload(await local('o1.bin', 5000), 'o1.bin');
    await client.upload(await local('o2.bin', 7000), 'o1.bin', { overwrite: true });
    // Its usage was never counted: an update would match no row, and none is made.
    expect(adds).not.toHaveBeenCalled();
    expect((await store.get('open'))?.usageBytes).toBeNull();

    // An upload under way (checked while the quota was unlimited) when a quota is set, and
    // another one checked after it: the usage is counted once neither is under way, and
    // matches the disk.
    const data = randomBytes(300_000);
    const socket = net.connect(port, '127.0.0.1');
    const channel = new Channel(socket);
    await scramLogin(channel, 'open', PASSWORD);
    channel.send({ op: 'put', path: 'slow.bin', size: data.length });
    expect((await channel.receive()).header).toMatchObject({ ok: true, offset: 0 });
    channel.send({ op: 'put-from', offset: 0 });
    await channel.sendBytes(data.subarray(0, 100_000));
    await store.setQuota('open', 1024 * 1024);
    await client.upload(await local('o3.bin', 3000), 'o3.bin');
    await channel.sendBytes(data.subarray(100_000));
    channel.send({ op: 'put-end', sha256: createHash('sha256').update(data).digest('hex') });
    expect((await channel.receive()).header).toMatchObject({ ok: true });
    socket.destroy();
    await client.upload(await local('o4.bin', 1000), 'o4.bin');
    expect((await store.get('open'))?.usageBytes).toBe(await onDisk(root, 'open'));
    expect(await onDisk(root, 'open')).toBe(7000 + 300_000 + 3000 + 1000);
    // Known from now on, it moves with each upload, also once the quota is unlimited again.
    await store.setQuota('open', 'unlimited');
    await client.upload(await local('o5.bin', 500), 'o5.bin');
    expect((await store.get('open'))?.usageBytes).toBe(await onDisk(root, 'open'));
    client.close();
  });

  /** Logs in as ann, starts uploading `remote` of `size` bytes, sends `sent` and vanishes. */
  async function cutUpload(remote: string, size: number, sent: Buffer): Promise<void> {
    const socket = net.connect(port, '127.0.0.1');
    const channel = new Channel(socket);
    await channel.receive();
    const scram = new ScramClient('ann', PASSWORD);
    channel.send({ op: 'auth', mechanism: 'SCRAM-SHA-256', data: scram.first() });
    channel.send({
      op: 'auth-final',
      data: await scram.final(String((await channel.receive()).header.data)),
    });
    expect((await channel.receive()).header.ok).toBe(true);
    channel.send({ op: 'put', path: remote, size });
    expect((await channel.receive()).header).toMatchObject({ ok: true, offset: 0 });
    channel.send({ op: 'put-from', offset: 0 });
    await channel.sendBytes(sent);
    const closed = new Promise((r) => socket.once('close', r));
    // The part is written when the upload ends (the sink batches): let the bytes arrive, then cut.
    await new Promise((r) => setTimeout(r, 100));
    socket.destroy();
    await closed;
    // The server counts the part when it sees the connection end.
    for (let i = 0; i < 200; i++) {
      if ((await store.get('ann'))?.usageBytes === (await onDisk(root, 'ann'))) return;
      await new Promise((r) => setTimeout(r, 20));
    }
  }
});
