/**
 * Confinement under a race: a swapper process exchanges `home/d` (a real folder) and
 * `home/l` (a link to a folder outside) with renameat2(RENAME_EXCHANGE) as fast as it can,
 * while reads, creations, mkdirs and removals of `d/...` run through the ConfinedRoot, the
 * file service and the TFTP server. A walk that re-resolves names after checking them is
 * led outside; one that acts only on verified handles fails cleanly instead.
 *
 * Escapes counted: a read that returns the outside file, and any change to the outside
 * folder (a file or folder created in it, written or removed), by snapshot.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { constants, existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Readable, Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deriveCredentials } from '../../src/auth/scram.js';
import { openUserStore, type UserStore } from '../../src/auth/store.js';
import { FilesClient } from '../../src/files/client.js';
import { ConfinedRoot } from '../../src/runtime/confine.js';
import type { TcpService } from '../../src/runtime/tcp.js';
import { tftpGet, tftpPut } from '../../src/tftp/client.js';
import { serveTftp, type TftpService } from '../../src/tftp/server.js';
import { serveFilesForTest } from '../files/serve.js';

const ITERATIONS = 4096;
const OUTSIDE = 'OUTSIDE SECRET';
const INSIDE = 'inside, ours';
/** Per part: at most this many rounds, and no longer than this. */
const ROUNDS = 400;
const BUDGET_MS = 15_000;

// Exchanges two names in pairs (so that it stops with both where they began) until STOP exists.
const SWAPPER = `
import ctypes, os, sys
libc = ctypes.CDLL(None, use_errno=True)
a, b, stop = (s.encode() for s in sys.argv[1:4])
n = 0
while not os.path.exists(stop) and n < 50_000_000:
    for _ in range(500):
        if libc.renameat2(-100, a, -100, b, 2) != 0:
            sys.exit("renameat2: " + os.strerror(ctypes.get_errno()))
    n += 500
print(n)
`;

interface Tally {
  ops: number;
  failed: number;
  /** Reads that returned the outside file. */
  escapes: number;
  /** Entries of the outside folder created, changed or removed. */
  outsideChanged: number;
}

async function snapshot(dir: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (at: string, rel: string): Promise<void> => {
    for (const name of (await readdir(at)).sort()) {
      const info = await stat(path.join(at, name));
      const sub = rel ? `${rel}/${name}` : name;
      if (info.isDirectory()) {
        out.push(`${sub}/`);
        await walk(path.join(at, name), sub);
      } else {
        const sum = createHash('sha256')
          .update(await readFile(path.join(at, name)))
          .digest('hex');
        out.push(`${sub} ${sum}`);
      }
    }
  };
  await walk(dir, '');
  return out;
}

describe('confinement holds while a folder is swapped for a link to the outside', () => {
  let base: string;
  let root: string;
  let home: string;
  let outside: string;
  let store: UserStore;
  let before: string[];
  const tallies: Record<string, Tally> = {};

  beforeAll(async () => {
    base = await mkdtemp(path.join(tmpdir(), 'sockit-race-'));
    root = path.join(base, 'root');
    home = path.join(root, 'ann');
    outside = path.join(base, 'outside');
    for (const dir of [path.join(home, 'd'), outside]) {
      await mkdir(dir, { recursive: true });
      for (const part of ['confine', 'files']) {
        for (let i = 0; i < ROUNDS; i++) {
          await mkdir(path.join(dir, `rm-${part}-${i}`));
          await writeFile(path.join(dir, `rm-${part}-${i}`, 'f'), dir === outside ? OUTSIDE : INSIDE);
        }
      }
    }
    await writeFile(path.join(home, 'd', 'secret.txt'), INSIDE);
    await writeFile(path.join(outside, 'secret.txt'), OUTSIDE);
    await symlink(outside, path.join(home, 'l'));
    before = await snapshot(outside);
    store = await openUserStore(path.join(base, 'users.db'));
    await store.add('ann', await deriveCredentials('correct horse', { iterations: ITERATIONS }));
  });

  afterAll(async () => {
    await store?.close();
    if (base) await rm(base, { recursive: true, force: true });
    // How many operations ran and how many the swap made fail (cleanly, when there are no escapes).
    console.log('confine race:', JSON.stringify(tallies));
  });

  /** Runs `round(i)` until ROUNDS or the budget, with the swapper running. */
  async function underSwap(name: string, round: (i: number, tally: Tally) => Promise<void>): Promise<Tally> {
    const stop = path.join(base, `stop-${name}`);
    const swapper: ChildProcess = spawn(
      'python3',
      ['-c', SWAPPER, path.join(home, 'd'), path.join(home, 'l'), stop],
      {
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let swaps = '';
    let trouble = '';
    swapper.stdout?.on('data', (d: Buffer) => {
      swaps += d;
    });
    swapper.stderr?.on('data', (d: Buffer) => {
      trouble += d;
    });
    const exited = new Promise<number | null>((resolve) => swapper.once('exit', resolve));
    const tally: Tally = { ops: 0, failed: 0, escapes: 0, outsideChanged: 0 };
    const start = new Set(await snapshot(outside));
    try {
      await new Promise((resolve) => setTimeout(resolve, 200)); // let it get going
      const until = Date.now() + BUDGET_MS;
      for (let i = 0; i < ROUNDS && Date.now() < until; i++) await round(i, tally);
    } finally {
      await writeFile(stop, '');
      const timer = setTimeout(() => swapper.kill('SIGKILL'), 10_000);
      expect(await exited, trouble).toBe(0);
      clearTimeout(timer);
    }
    expect(Number(swaps), 'swaps').toBeGreaterThan(0);
    const end = new Set(await snapshot(outside));
    tally.outsideChanged =
      [...end].filter((e) => !start.has(e)).length + [...start].filter((e) => !end.has(e)).length;
    tallies[name] = tally;
    return tally;
  }

  /** Counts one operation: failures are clean refusals, a result equal to the outside file an escape. */
  async function count(tally: Tally, work: () => Promise<unknown>): Promise<void> {
    tally.ops++;
    try {
      const result = await work();
      if (typeof result === 'string' && result.includes(OUTSIDE)) tally.escapes++;
    } catch {
      tally.failed++;
    }
  }

  it('through ConfinedRoot itself', async () => {
    const confined = await ConfinedRoot.open(root);
    try {
      const tally = await underSwap('confine', async (i, t) => {
        await count(t, async () => {
          const file = await confined.openFile('ann/d/secret.txt', constants.O_RDONLY);
          return file.readFile('utf8').finally(() => file.close());
        });
        await count(t, async () => {
          const flags = constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL;
          const file = await confined.openFile(`ann/d/c-confine-${i}`, flags);
          await file.writeFile('x').finally(() => file.close());
        });
        await count(t, () => confined.mkdir(`ann/d/m-confine-${i}/x`, { parents: true }));
        await count(t, () => confined.remove(`ann/d/rm-confine-${i}`));
        await count(t, () => confined.rename(`ann/d/c-confine-${i}`, `ann/d/rn-confine-${i}`));
        await count(t, () => confined.link(`ann/d/rn-confine-${i}`, `ann/d/ln-confine-${i}`));
      });
      expect(tally).toMatchObject({ escapes: 0, outsideChanged: 0 });
    } finally {
      await confined.close();
    }
    expect(await snapshot(outside)).toEqual(before);
  }, 60_000);

  it('through the file service', async () => {
    const service: TcpService = await serveFilesForTest(root, store);
    const local = path.join(base, 'local');
    await mkdir(local);
    await writeFile(path.join(local, 'payload'), 'payload');
    const client = await FilesClient.login({
      host: '127.0.0.1',
      port: service.address.port,
      user: 'ann',
      password: 'correct horse',
    });
    try {
      const tally = await underSwap('files', async (i, t) => {
        await count(t, async () => {
          const to = path.join(local, `get-${i}`);
          await client.download('d/secret.txt', to);
          return readFile(to, 'utf8');
        });
        await count(t, () => client.upload(path.join(local, 'payload'), `d/u-files-${i}`));
        await count(t, () => client.mkdir(`d/m-files-${i}/x`, true));
        await count(t, () => client.remove(`d/rm-files-${i}`, true));
      });
      expect(tally).toMatchObject({ escapes: 0, outsideChanged: 0 });
    } finally {
      client.close();
      await service.close();
    }
    expect(await snapshot(outside)).toEqual(before);
  }, 60_000);

  it('through the TFTP server', async () => {
    const server: TftpService = await serveTftp({ root: home, host: '127.0.0.1', port: 0, writable: true });
    const opts = { host: '127.0.0.1', port: server.address.port, retries: 2 };
    try {
      const tally = await underSwap('tftp', async (i, t) => {
        await count(t, async () => {
          const chunks: Buffer[] = [];
          const sink = new Writable({
            write(chunk: Buffer, _enc, done) {
              chunks.push(chunk);
              done();
            },
          });
          await tftpGet(opts, 'd/secret.txt', sink);
          return Buffer.concat(chunks).toString();
        });
        await count(t, () => tftpPut(opts, `d/t-tftp-${i}`, Readable.from([Buffer.from('payload')]), 7));
      });
      expect(tally).toMatchObject({ escapes: 0, outsideChanged: 0 });
    } finally {
      await server.close();
    }
    expect(await snapshot(outside)).toEqual(before);
    expect(existsSync(path.join(home, 'd', 'secret.txt'))).toBe(true);
  }, 60_000);
});
