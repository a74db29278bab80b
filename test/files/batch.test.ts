/**
 * Batches: `uploadFiles` sends small files as eager puts without a round trip each, and
 * `downloadFiles` asks for files ahead. Both keep the one-by-one semantics: everything
 * intact, stopped at the first refusal with nothing stored or fetched after it, and the
 * connection still in step for the next request. An eager put is bounded on the server.
 */
import { createHash, randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deriveCredentials } from '../../src/auth/scram.js';
import { openUserStore, type UserStore } from '../../src/auth/store.js';
import { ErrorCode } from '../../src/errors.js';
import { FilesClient, type UploadItem } from '../../src/files/client.js';
import { EAGER_PUT_MAX } from '../../src/files/protocol.js';
import { Channel } from '../../src/runtime/channel.js';
import type { TcpService } from '../../src/runtime/tcp.js';
import { codeOf } from '../codes.js';
import { scramLogin, sendEagerPut } from './raw-login.js';
import { serveFilesForTest, TEST_ITERATIONS } from './serve.js';

const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

describe('batches of files', () => {
  let base: string;
  let store: UserStore;
  let service: TcpService;
  let home: string;
  let local: string;
  let client: FilesClient;
  const files = new Map<string, Buffer>();

  beforeAll(async () => {
    base = await mkdtemp(path.join(tmpdir(), 'sockit-files-batch-'));
    store = await openUserStore(path.join(base, 'users.db'));
    await store.add('ann', await deriveCredentials('correct horse', { iterations: TEST_ITERATIONS }));
    service = await serveFilesForTest(path.join(base, 'root'), store);
    home = path.join(base, 'root', 'ann');
    local = path.join(base, 'local');
    await mkdir(local);
    // 150 small files (more than the client's window), one empty, one just at the eager limit,
    // one above it (sent as a resumable upload in the middle of the batch).
    for (let i = 0; i < 150; i++)
      files.set(`f${String(i).padStart(3, '0')}.bin`, randomBytes(1 + ((i * 977) % 70_000)));
    files.set('empty.bin', Buffer.alloc(0));
    files.set('limit.bin', randomBytes(EAGER_PUT_MAX));
    files.set('large.bin', randomBytes(EAGER_PUT_MAX + 12345));
    for (const [name, data] of files) await writeFile(path.join(local, name), data);
    client = await FilesClient.login({
      host: '127.0.0.1',
      port: service.address.port,
      user: 'ann',
      password: 'correct horse',
    });
  });
  afterAll(async () => {
    client?.close();
    await service?.close();
    await store?.close();
    await rm(base, { recursive: true, force: true });
  });

  const items = (folder: string, names: Iterable<string>): UploadItem[] =>
    [...names].map((name) => ({ local: path.join(local, name), remote: `${folder}/${name}` }));

  it('uploads every file intact, in order, small ones eagerly and a large one resumably', async () => {
    await client.mkdir('up');
    const done: string[] = [];
    await client.uploadFiles(items('up', files.keys()), {
      onDone: (item, result) => {
        expect(result.sha256).toBe(sha(files.get(path.basename(item.local)) as Buffer));
        done.push(path.basename(item.local));
      },
    });
    expect(done).toEqual([...files.keys()]);
    for (const [name, data] of files)
      expect(sha(await readFile(path.join(home, 'up', name)))).toBe(sha(data));
    // The connection is in step: one more request works.
    expect((await client.stat('up/large.bin')).size).toBe(EAGER_PUT_MAX + 12345);
  });

  it('uploads every file intact through a connection that keeps stalling, its buffers waiting to be sent', async () => {
    // Forwards to the server, pausing the client's side for 50 ms after each 2 MB: the
    // client's socket backs up, and its reused read buffers wait until all is sent.
    let forwarded = 0;
    let stalls = 0;
    const proxy = net.createServer((from) => {
      const to = net.connect(service.address.port, '127.0.0.1');
      to.pipe(from);
      from.on('data', (chunk: Buffer) => {
        to.write(chunk);
        forwarded += chunk.length;
        if (forwarded > 2_000_000) {
          forwarded = 0;
          stalls++;
          from.pause();
          setTimeout(() => from.resume(), 50);
        }
      });
      from.on('close', () => to.destroy());
      to.on('close', () => from.destroy());
    });
    await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
    const slow = await FilesClient.login({
      host: '127.0.0.1',
      port: (proxy.address() as net.AddressInfo).port,
      user: 'ann',
      password: 'correct horse',
    });
    try {
      // Small files go out several at a time (corked together, below the socket's high-water
      // mark): each is read while those before it still wait in the socket.
      const big = new Map<string, Buffer>();
      for (let i = 0; i < 300; i++) {
        const size = i % 15 === 14 ? 400_000 + i : 1 + ((i * 7919) % 30_000);
        big.set(`s${String(i).padStart(3, '0')}.bin`, randomBytes(size));
      }
      for (const [name, data] of big) await writeFile(path.join(local, name), data);
      await slow.mkdir('stalled');
      await slow.uploadFiles(items('stalled', big.keys()));
      for (const [name, data] of big)
        expect(sha(await readFile(path.join(home, 'stalled', name))), name).toBe(sha(data));
      expect(stalls).toBeGreaterThan(3);
    } finally {
      slow.close();
      proxy.close();
    }
  });

  it('stops at the first refused file: nothing after it is stored, the connection goes on', async () => {
    await client.mkdir('stop');
    await writeFile(path.join(home, 'stop', 'f010.bin'), 'already here');
    const names = [...files.keys()].filter((n) => n.startsWith('f')).slice(0, 60);
    const done: string[] = [];
    const failure = await codeOf(
      client.uploadFiles(items('stop', names), { onDone: (item) => done.push(path.basename(item.local)) }),
    );
    expect(failure).toBe(ErrorCode.EXISTS);
    expect(done).toEqual(names.slice(0, 10));
    expect((await readdir(path.join(home, 'stop'))).sort()).toEqual(names.slice(0, 11));
    expect(await readFile(path.join(home, 'stop', 'f010.bin'), 'utf8')).toBe('already here');
    // A new batch starts afresh, and with overwrite replaces the file.
    await client.uploadFiles(items('stop', names.slice(10, 12)), { overwrite: true });
    expect(sha(await readFile(path.join(home, 'stop', 'f010.bin')))).toBe(
      sha(files.get('f010.bin') as Buffer),
    );
  });

  it('downloads every file intact with requests sent ahead', async () => {
    const into = path.join(base, 'down');
    await mkdir(into);
    const names = [...files.keys()];
    const done: string[] = [];
    await client.downloadFiles(
      names.map((name) => ({ remote: `up/${name}`, local: path.join(into, name) })),
      { onDone: (item) => done.push(path.basename(item.local)) },
    );
    expect(done).toEqual(names);
    for (const [name, data] of files) expect(sha(await readFile(path.join(into, name)))).toBe(sha(data));
    expect((await readdir(into)).filter((n) => n.endsWith('.sockit-part'))).toEqual([]);
  });

  it('downloads into a folder new for it without looking there first, and still replaces nothing', async () => {
    const into = path.join(base, 'fresh');
    await mkdir(into);
    const names = [...files.keys()].slice(0, 40);
    // Put there behind the caller's back: a file at one name, a stale part at another.
    await writeFile(path.join(into, names[5] as string), 'mine');
    await writeFile(path.join(into, `${names[7]}.sockit-part`), 'stale bytes');
    const login = () =>
      FilesClient.login({
        host: '127.0.0.1',
        port: service.address.port,
        user: 'ann',
        password: 'correct horse',
      });
    // A client of its own: a failure on this side leaves its connection out of step.
    const own = await login();
    const done: string[] = [];
    const err = await codeOf(
      own.downloadFiles(
        names.map((name) => ({ remote: `up/${name}`, local: path.join(into, name), inNewFolder: true })),
        { onDone: (item) => done.push(path.basename(item.local)) },
      ),
    );
    own.close();
    // Not looked for first: found when its name is to be given, and kept.
    expect(err).toBe(ErrorCode.EXISTS);
    expect(await readFile(path.join(into, names[5] as string), 'utf8')).toBe('mine');
    expect(done).toEqual(expect.arrayContaining(names.slice(0, 5)));
    expect(done).not.toContain(names[5]);
    // The rest asked for again: the stale part is written over from the start.
    const again = await login();
    try {
      const rest = names.slice(6).filter((name) => !done.includes(name));
      await again.downloadFiles(
        rest.map((name) => ({ remote: `up/${name}`, local: path.join(into, name), inNewFolder: true })),
      );
    } finally {
      again.close();
    }
    for (const name of names.slice(6))
      expect(sha(await readFile(path.join(into, name)))).toBe(sha(files.get(name) as Buffer));
  });

  it('stops downloading at a missing file, takes what was asked before it, and goes on', async () => {
    const into = path.join(base, 'down-stop');
    await mkdir(into);
    const names = ['f000.bin', 'f001.bin', 'missing.bin', 'f002.bin', 'f003.bin'];
    const done: string[] = [];
    const failure = await codeOf(
      client.downloadFiles(
        names.map((name) => ({ remote: `up/${name}`, local: path.join(into, name) })),
        { onDone: (item) => done.push(path.basename(item.local)) },
      ),
    );
    expect(failure).toBe(ErrorCode.NOT_FOUND);
    // Asked ahead of the refusal, and received in step: placed.
    expect(done).toEqual(['f000.bin', 'f001.bin', 'f002.bin', 'f003.bin']);
    expect((await readdir(into)).sort()).toEqual(['f000.bin', 'f001.bin', 'f002.bin', 'f003.bin']);
    expect((await client.stat('up/f000.bin')).type).toBe('file');
  });

  it('fails at a file whose name was taken meanwhile, after placing and reporting what was received', async () => {
    const into = path.join(base, 'down-taken');
    await mkdir(into);
    const names = [...files.keys()].filter((n) => n.startsWith('f')).slice(0, 60);
    // When the first file is reported, 17 have been received (LANDING_WINDOW + 1) and the
    // next 16 asked for (DOWNLOAD_WINDOW): the 26th is asked for, not yet received.
    const taken = names[25] as string;
    const done: string[] = [];
    // A client of its own: a failure on this side leaves its connection out of step.
    const own = await FilesClient.login({
      host: '127.0.0.1',
      port: service.address.port,
      user: 'ann',
      password: 'correct horse',
    });
    const failure = await codeOf(
      own.downloadFiles(
        names.map((name) => ({ remote: `up/${name}`, local: path.join(into, name) })),
        {
          onDone: (item) => {
            const name = path.basename(item.local);
            done.push(name);
            if (name === names[0]) writeFileSync(path.join(into, taken), 'mine');
          },
        },
      ),
    );
    own.close();
    expect(failure).toBe(ErrorCode.EXISTS);
    expect(await readFile(path.join(into, taken), 'utf8')).toBe('mine');
    expect(done).toEqual(expect.arrayContaining(names.slice(0, 25)));
    expect(done).not.toContain(taken);
    // Every file reported is there, intact; nothing else was placed, and nothing is placed
    // after the call has ended.
    const placed = async (): Promise<string[]> =>
      (await readdir(into)).filter((n) => n !== taken && !n.endsWith('.sockit-part')).sort();
    expect(await placed()).toEqual([...done].sort());
    for (const name of done)
      expect(sha(await readFile(path.join(into, name)))).toBe(sha(files.get(name) as Buffer));
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(await placed()).toEqual([...done].sort());
  });

  it('places a destination named twice in one batch as one by one would: the second replaces or is refused', async () => {
    const into = path.join(base, 'down-twice');
    await mkdir(into);
    const twice = [
      { remote: 'up/f000.bin', local: path.join(into, 'a.bin') },
      { remote: 'up/f001.bin', local: path.join(into, 'b.bin') },
      { remote: 'up/f002.bin', local: path.join(into, 'a.bin') },
    ];
    const done: string[] = [];
    await client.downloadFiles(twice, { overwrite: true, onDone: (item) => done.push(item.remote) });
    expect(done).toEqual(['up/f000.bin', 'up/f001.bin', 'up/f002.bin']);
    expect(sha(await readFile(path.join(into, 'a.bin')))).toBe(sha(files.get('f002.bin') as Buffer));
    expect((await readdir(into)).sort()).toEqual(['a.bin', 'b.bin']);

    const own = await FilesClient.login({
      host: '127.0.0.1',
      port: service.address.port,
      user: 'ann',
      password: 'correct horse',
    });
    await rm(into, { recursive: true });
    await mkdir(into);
    const failure = await codeOf(own.downloadFiles(twice));
    own.close();
    expect(failure).toBe(ErrorCode.EXISTS);
    expect(sha(await readFile(path.join(into, 'a.bin')))).toBe(sha(files.get('f000.bin') as Buffer));
    expect((await readdir(into)).filter((n) => n.endsWith('.sockit-part'))).toEqual([]);
  });

  it('takes two spellings of one destination for one (a/./x, and A vs a as a case-folding disk would)', async () => {
    const into = path.join(base, 'down-alias');
    await mkdir(into);
    const done: string[] = [];
    // Same name through `./`: one file, the second replaces the first.
    await client.downloadFiles(
      [
        { remote: 'up/f010.bin', local: path.join(into, 'y.bin') },
        { remote: 'up/f011.bin', local: `${into}/./y.bin` },
      ],
      { overwrite: true, onDone: (item) => done.push(item.remote) },
    );
    expect(done).toEqual(['up/f010.bin', 'up/f011.bin']);
    expect(sha(await readFile(path.join(into, 'y.bin')))).toBe(sha(files.get('f011.bin') as Buffer));
    // Names equal but for case are placed in turn too (here, on a case-sensitive disk, two files).
    await client.downloadFiles(
      [
        { remote: 'up/f012.bin', local: path.join(into, 'Z.bin') },
        { remote: 'up/f013.bin', local: path.join(into, 'z.bin') },
      ],
      { overwrite: true },
    );
    expect(sha(await readFile(path.join(into, 'Z.bin')))).toBe(sha(files.get('f012.bin') as Buffer));
    expect(sha(await readFile(path.join(into, 'z.bin')))).toBe(sha(files.get('f013.bin') as Buffer));
    expect((await readdir(into)).filter((n) => n.endsWith('.sockit-part'))).toEqual([]);
  });

  it("names the file a batch failed on when the server's refusal does not", async () => {
    await client.mkdir('q');
    await store.setQuota('ann', 1);
    try {
      const err = (await client
        .uploadFiles(items('q', ['f005.bin', 'f006.bin']))
        .catch((e: unknown) => e)) as Error & {
        code?: string;
      };
      expect(err.code).toBe(ErrorCode.QUOTA_EXCEEDED);
      expect(err.message).toMatch(/^"q\/f005\.bin": .*quota/);
    } finally {
      await store.setQuota('ann', null);
    }
    // A refusal that names the file already is left as it is.
    const missing = (await client
      .downloadFiles([{ remote: 'up/nope.bin', local: path.join(base, 'nope.bin') }])
      .catch((e: unknown) => e)) as Error;
    expect(missing.message).not.toMatch(/^"up\/nope\.bin": /);
    expect(missing.message).toContain('up/nope.bin');
  });

  it('a raw client: an eager put over the limit ends the connection; a refused one is read to its end', async () => {
    const raw = await rawLogin(service.address.port);
    // Refused (the folder does not exist), its bytes still read: the next request is answered.
    const data = randomBytes(1000);
    sendEagerPut(raw.channel, 'nowhere/a.bin', data);
    raw.channel.send({ op: 'stat', path: 'up' });
    expect((await raw.channel.receive()).header).toMatchObject({ ok: false, code: ErrorCode.NOT_FOUND });
    expect((await raw.channel.receive()).header).toMatchObject({ ok: true, entry: { type: 'dir' } });
    // Chained after a refusal: refused too, not stored.
    sendEagerPut(raw.channel, 'up/chained.bin', data, { chained: true });
    expect((await raw.channel.receive()).header).toMatchObject({ ok: false, code: ErrorCode.ABORTED });
    await expect(readFile(path.join(home, 'up', 'chained.bin'))).rejects.toMatchObject({ code: 'ENOENT' });
    // Over the limit: the server cannot know it will be sent in step; it says so and closes.
    raw.channel.send({ op: 'put', path: 'up/big.bin', size: EAGER_PUT_MAX + 1, eager: true });
    expect((await raw.channel.receive()).header).toMatchObject({ ok: false, code: ErrorCode.BAD_REQUEST });
    await new Promise((resolve) => raw.channel.socket.once('close', resolve));
  });

  // The server reads an eager put's next request while the put's sync runs; what it answers
  // must still be what one-by-one handling would answer, in the requests' order.
  it('a raw client: a file refused while it lands stops its batch; answers keep the order', async () => {
    const raw = await rawLogin(service.address.port);
    await client.mkdir('landing');
    const put = (name: string, data: Buffer, fields: Record<string, unknown> = {}, sha256 = sha(data)) =>
      sendEagerPut(raw.channel, `landing/${name}`, data, fields, sha256);
    const data = Array.from({ length: 30 }, (_, i) => randomBytes(1000 + i * 997));
    // 12 files (more than the server lands at once), then one whose hash is wrong (found
    // only once its bytes are in), then 5 chained behind it, then a new batch of 3 and a stat.
    for (let i = 0; i < 12; i++) put(`a${i}.bin`, data[i] as Buffer, { chained: i > 0 });
    put('bad.bin', data[12] as Buffer, { chained: true }, sha(Buffer.from('not these bytes')));
    for (let i = 13; i < 18; i++) put(`b${i}.bin`, data[i] as Buffer, { chained: true });
    for (let i = 18; i < 21; i++) put(`c${i}.bin`, data[i] as Buffer, { chained: i > 18 });
    raw.channel.send({ op: 'stat', path: 'landing/c20.bin' });
    const answers = [];
    for (let i = 0; i < 22; i++) answers.push((await raw.channel.receive()).header);
    for (let i = 0; i < 12; i++)
      expect(answers[i]).toMatchObject({ ok: true, sha256: sha(data[i] as Buffer) });
    expect(answers[12]).toMatchObject({ ok: false, code: ErrorCode.INTEGRITY });
    for (let i = 13; i < 18; i++) expect(answers[i]).toMatchObject({ ok: false, code: ErrorCode.ABORTED });
    for (let i = 18; i < 21; i++)
      expect(answers[i]).toMatchObject({ ok: true, sha256: sha(data[i] as Buffer) });
    expect(answers[21]).toMatchObject({
      ok: true,
      entry: { type: 'file', size: (data[20] as Buffer).length },
    });
    const stored = (await readdir(path.join(home, 'landing'))).sort();
    expect(stored).toEqual(
      [...Array.from({ length: 12 }, (_, i) => `a${i}.bin`), 'c18.bin', 'c19.bin', 'c20.bin'].sort(),
    );
    for (let i = 0; i < 12; i++)
      expect(sha(await readFile(path.join(home, 'landing', `a${i}.bin`)))).toBe(sha(data[i] as Buffer));

    // One name twice in a batch: the second is checked once the first has landed, as one
    // by one: refused as existing without overwrite, replacing it with.
    put('twice.bin', data[21] as Buffer);
    put('twice.bin', data[22] as Buffer, { chained: true });
    expect((await raw.channel.receive()).header).toMatchObject({ ok: true });
    expect((await raw.channel.receive()).header).toMatchObject({ ok: false, code: ErrorCode.EXISTS });
    put('twice.bin', data[23] as Buffer, { overwrite: true });
    put('twice.bin', data[24] as Buffer, { overwrite: true, chained: true });
    expect((await raw.channel.receive()).header).toMatchObject({ ok: true, sha256: sha(data[23] as Buffer) });
    expect((await raw.channel.receive()).header).toMatchObject({ ok: true, sha256: sha(data[24] as Buffer) });
    expect(sha(await readFile(path.join(home, 'landing', 'twice.bin')))).toBe(sha(data[24] as Buffer));

    // A client that leaves right after sending: what it sent whole still lands.
    for (let i = 0; i < 20; i++) put(`gone${i}.bin`, data[i] as Buffer, { chained: i > 0 });
    raw.channel.socket.end();
    await new Promise((resolve) => raw.channel.socket.once('close', resolve));
    const landed = async () =>
      (await readdir(path.join(home, 'landing'))).filter((n) => n.startsWith('gone'));
    for (let i = 0; i < 100 && (await landed()).length < 20; i++) await new Promise((r) => setTimeout(r, 20));
    expect((await landed()).length).toBe(20);
    for (let i = 0; i < 20; i++)
      expect(sha(await readFile(path.join(home, 'landing', `gone${i}.bin`)))).toBe(sha(data[i] as Buffer));
    const parts = await readdir(path.join(base, 'root', '.parts', 'ann')).catch(() => []);
    expect(parts.filter((n) => n.endsWith('.part'))).toEqual([]);
  });
});

/** A logged-in connection over a bare channel, to send what the client library would not. */
async function rawLogin(port: number): Promise<{ channel: Channel }> {
  const socket = net.connect(port, '127.0.0.1');
  await new Promise((resolve, reject) => socket.once('connect', resolve).once('error', reject));
  const channel = new Channel(socket);
  await scramLogin(channel);
  return { channel };
}
