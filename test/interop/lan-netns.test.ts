/**
 * The LAN messenger between two machines: `sockit lan` in two network namespaces joined by a
 * veth pair, made here (nothing touches the host's own network). They find each other by
 * broadcast, exchange messages both ways (each acknowledged, each shown once), and a folder
 * sent from one arrives intact in the other (sha256 of every file). Then both ends of the link
 * drop 10% of outgoing UDP (nftables `numgen random mod 10 0 drop`) and messages must still
 * arrive exactly once.
 *
 * Needs root, ip (iproute2) and nft (nftables): scripts/interop-tools.sh installs them.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { CLI, run } from '../helpers.js';
import { TestNetwork } from '../netns.js';

const network = new TestNetwork('lan', 'slv', 214, 24);
const NS_A = network.nsA;
const NS_B = network.nsB;
const IP_A = network.ipA;
const IP_B = network.ipB;

interface Messenger {
  ns: string;
  nick: string;
  env: NodeJS.ProcessEnv;
  downloads: string;
  child: ChildProcess;
  events(): Record<string, unknown>[];
}

/** Processes whose command line has `arg` and this test's namespace name. */
function processesWith(arg: string): number[] {
  return readdirSync('/proc')
    .filter((d) => /^\d+$/.test(d))
    .filter((d) => {
      try {
        const argv = readFileSync(`/proc/${d}/cmdline`, 'utf8').split('\0');
        return argv.includes(arg) && argv.includes(CLI) && argv.includes('lan');
      } catch {
        return false;
      }
    })
    .map(Number);
}

const sha = (file: string) => createHash('sha256').update(readFileSync(file)).digest('hex');

/** Every file under `dir` with its sha256, by relative path. */
function tree(dir: string, rel = ''): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name of readdirSync(path.join(dir, rel)).sort()) {
    const full = path.join(dir, rel, name);
    if (statSync(full).isDirectory())
      Object.assign(out, tree(dir, path.join(rel, name)), { [`${path.join(rel, name)}/`]: 'dir' });
    else out[path.join(rel, name)] = sha(full);
  }
  return out;
}

describe('sockit lan between two network namespaces', () => {
  let dir = '';
  const messengers: Messenger[] = [];

  function start(ns: string, nick: string): Messenger {
    const home = path.join(dir, nick);
    const downloads = path.join(home, 'downloads');
    mkdirSync(downloads, { recursive: true });
    mkdirSync(path.join(home, 'run'), { mode: 0o700 });
    // Bob's data folder is a file: his history cannot be written, which must not stop him.
    const data = path.join(home, 'data');
    if (nick === 'Bob') writeFileSync(data, 'not a folder');
    const env = { ...process.env, XDG_RUNTIME_DIR: path.join(home, 'run'), SOCKIT_DATA_DIR: data };
    const child = spawn(
      'ip',
      [
        'netns',
        'exec',
        ns,
        process.execPath,
        CLI,
        'lan',
        '--nick',
        nick,
        '--json',
        '--accept-files',
        '--download-dir',
        downloads,
      ],
      { env, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let out = '';
    child.stdout?.on('data', (d: Buffer) => {
      out += d;
    });
    child.stderr?.on('data', (d: Buffer) => {
      out += d;
    });
    const m: Messenger = {
      ns,
      nick,
      env,
      downloads,
      child,
      events: () =>
        out
          .split('\n')
          .filter((l) => l.startsWith('{'))
          .map((l) => JSON.parse(l) as Record<string, unknown>),
    };
    messengers.push(m);
    return m;
  }

  /** `sockit lan ARGS` in `m`'s namespace, handed to its running messenger. */
  const lan = (m: Messenger, args: string[]) =>
    run('ip', ['netns', 'exec', m.ns, process.execPath, CLI, 'lan', ...args], {
      env: m.env,
      timeoutMs: 60_000,
    });

  const texts = (m: Messenger) => m.events().flatMap((e) => (e.type === 'message' ? [e.text as string] : []));

  let ann: Messenger;
  let bob: Messenger;

  beforeAll(async () => {
    TestNetwork.require('the LAN test');
    dir = mkdtempSync(path.join(os.tmpdir(), 'sockit-lan-'));
    network.create();
    ann = start(NS_A, 'Ann');
    bob = start(NS_B, 'Bob');
    await vi.waitFor(
      () => {
        expect(
          ann.events().some((e) => e.type === 'peer' && (e.peer as { nick: string }).nick === 'Bob'),
        ).toBe(true);
        expect(
          bob.events().some((e) => e.type === 'peer' && (e.peer as { nick: string }).nick === 'Ann'),
        ).toBe(true);
      },
      { timeout: 15_000, interval: 100 },
    );
  }, 30_000);

  afterAll(async () => {
    for (const m of messengers) {
      if (m.child.exitCode !== null) continue;
      const exited = new Promise((resolve) => m.child.once('exit', resolve));
      m.child.kill('SIGTERM');
      const timer = setTimeout(() => m.child.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(timer);
    }
    network.delete();
    if (dir) rmSync(dir, { recursive: true, force: true });
  }, 30_000);

  it('find each other by broadcast, and list each other as peers', async () => {
    const peers = await lan(ann, ['peers', '--json']);
    expect(peers.code, peers.stderr).toBe(0);
    expect(JSON.parse(peers.stdout.toString())).toEqual([
      expect.objectContaining({ nick: 'Bob', address: IP_B, port: 2425, client: 'ipmsg' }),
    ]);
  });

  it('exchange messages both ways, each acknowledged and shown once', async () => {
    for (let i = 0; i < 5; i++) {
      const a = await lan(ann, ['send', 'Bob', `from Ann ${i} 你好`]);
      expect([a.code, a.stderr]).toEqual([0, 'sockit: sent to Bob\n']);
      const b = await lan(bob, ['send', IP_A, `from Bob ${i} こんにちは`]);
      expect([b.code, b.stderr]).toEqual([0, 'sockit: sent to Ann\n']);
    }
    await vi.waitFor(() => expect(texts(bob)).toHaveLength(5));
    // Said once, and Bob goes on.
    expect(bob.events().filter((e) => e.type === 'error' && e.what === 'history')).toHaveLength(1);
    expect(bob.child.exitCode).toBeNull();
    expect(texts(bob)).toEqual(Array.from({ length: 5 }, (_, i) => `from Ann ${i} 你好`));
    expect(texts(ann)).toEqual(Array.from({ length: 5 }, (_, i) => `from Bob ${i} こんにちは`));
  }, 60_000);

  it('sends a folder that arrives intact, and a file that never overwrites one there', async () => {
    const src = path.join(dir, 'to-send', 'project');
    mkdirSync(path.join(src, 'docs', 'deep'), { recursive: true });
    mkdirSync(path.join(src, 'empty'));
    writeFileSync(path.join(src, 'big.bin'), randomBytes(5 * 1024 * 1024 + 17));
    writeFileSync(path.join(src, 'docs', 'a: colon.txt'), 'colons travel as ::');
    writeFileSync(path.join(src, 'docs', 'deep', '中文.txt'), '名前');
    for (let i = 0; i < 50; i++) writeFileSync(path.join(src, 'docs', `small-${i}.txt`), randomBytes(i * 97));
    writeFileSync(path.join(ann.downloads, 'note.txt'), 'already here');
    const note = path.join(dir, 'to-send', 'note.txt');
    writeFileSync(note, 'the new note');
    const sent = await lan(bob, ['send-file', 'Ann', src, note, '-m', 'the project']);
    expect(sent.code, sent.stderr).toBe(0);
    await vi.waitFor(() => expect(ann.events().filter((e) => e.type === 'saved')).toHaveLength(2), {
      timeout: 30_000,
    });
    expect(tree(path.join(ann.downloads, 'project'))).toEqual(tree(src));
    expect(readFileSync(path.join(ann.downloads, 'note.txt'), 'utf8')).toBe('already here');
    expect(readFileSync(path.join(ann.downloads, 'note (1).txt'), 'utf8')).toBe('the new note');
    expect(ann.events().find((e) => e.type === 'message' && e.text === 'the project')).toMatchObject({
      files: [
        { name: 'project', folder: true },
        { name: 'note.txt', folder: false },
      ],
    });
  }, 60_000);

  it('with 10% of UDP dropped each way, still delivers every message exactly once', async () => {
    network.addLoss();
    const before = { ann: texts(ann).length, bob: texts(bob).length };
    const sends: Promise<{ code: number | null; stderr: string }>[] = [];
    for (let i = 0; i < 15; i++) {
      sends.push(lan(ann, ['send', 'Bob', `lossy a${i}`]), lan(bob, ['send', 'Ann', `lossy b${i}`]));
    }
    const results = await Promise.all(sends);
    expect(results.filter((r) => r.code !== 0).map((r) => r.stderr)).toEqual([]);
    await vi.waitFor(() => expect(texts(bob).length - before.bob).toBe(15), { timeout: 20_000 });
    await new Promise((resolve) => setTimeout(resolve, 3000)); // late resends would show as duplicates
    const got = (m: Messenger, from: number) => texts(m).slice(from).sort();
    expect(got(bob, before.bob)).toEqual(Array.from({ length: 15 }, (_, i) => `lossy a${i}`).sort());
    expect(got(ann, before.ann)).toEqual(Array.from({ length: 15 }, (_, i) => `lossy b${i}`).sort());
  }, 120_000);
  it('works on its own when no sockit lan runs, and on a terminal as a full-duplex line interface', async () => {
    network.removeLoss();
    // Ann leaves: Bob sees her go.
    const exited = new Promise((resolve) => ann.child.once('exit', resolve));
    ann.child.kill('SIGTERM');
    await exited;
    await vi.waitFor(() =>
      expect(bob.events().some((e) => e.type === 'gone' && (e.peer as { nick: string }).nick === 'Ann')).toBe(
        true,
      ),
    );
    // sockit lan send with nothing running in Ann's namespace: it announces itself, sends, leaves.
    const alone = await lan(ann, ['send', '--nick', 'Ann2', 'Bob', 'sent on its own']);
    expect([alone.code, alone.stderr]).toEqual([0, `sockit: sent to Bob (${IP_B})\n`]);
    await vi.waitFor(() => expect(texts(bob).at(-1)).toBe('sent on its own'));
    const peers = await lan(ann, ['peers', '--json', '--wait', '1']);
    expect(JSON.parse(peers.stdout.toString())).toEqual([expect.objectContaining({ nick: 'Bob' })]);
    // On a terminal (script(1) gives it one): a typed line goes to the peer, and a message
    // arrives while a line is half typed, which stays as it was.
    const ttyDownloads = path.join(dir, 'tty-downloads');
    mkdirSync(ttyDownloads);
    const command = [
      'ip',
      'netns',
      'exec',
      NS_A,
      process.execPath,
      CLI,
      'lan',
      '--nick',
      'Tty',
      '--download-dir',
      ttyDownloads,
    ]
      .map((a) => `'${a}'`)
      .join(' ');
    // A terminal of a size (script's own has none: 0 columns).
    const tty = spawn('script', ['-qec', `stty cols 120 rows 40; ${command}`, '/dev/null'], { env: ann.env });
    let screen = '';
    // What the terminal shows, without readline's cursor movements.
    tty.stdout.on('data', (d: Buffer) => {
      // biome-ignore lint/suspicious/noControlCharactersInRegex: removing escape sequences is the point
      screen += d.toString().replace(/\u001b\[[0-9;]*[A-Za-z]/g, '');
    });
    try {
      await vi.waitFor(() => expect(screen).toMatch(/Bob \(10\.214\.\d+\.2\) is here/), { timeout: 10_000 });
      tty.stdin.write('/to Bob\r');
      tty.stdin.write('typed on a terminal\r');
      await vi.waitFor(() => expect(texts(bob).at(-1)).toBe('typed on a terminal'));
      tty.stdin.write('half a li');
      const back = await lan(bob, ['send', 'Tty', 'while you type']);
      expect(back.code, back.stderr).toBe(0);
      await vi.waitFor(() => expect(screen).toMatch(/Bob \(10\.214\.\d+\.2\): while you type/));
      // The message printed above the line being typed, which is drawn again as it was.
      await vi.waitFor(() =>
        expect(screen.slice(screen.lastIndexOf('while you type'))).toContain('[Bob] > half a li'),
      );
      tty.stdin.write('ne\r');
      await vi.waitFor(() => expect(texts(bob).at(-1)).toBe('half a line'));
      // Files offered to the terminal: /get fetches them, with a progress bar on its stderr.
      const big = path.join(dir, 'for-tty.bin');
      writeFileSync(big, randomBytes(8 * 1024 * 1024));
      expect((await lan(bob, ['send-file', 'Tty', big])).code).toBe(0);
      await vi.waitFor(() => expect(screen).toMatch(/offers 1\) for-tty\.bin/));
      tty.stdin.write('/get\r');
      await vi.waitFor(() => expect(screen).toMatch(/saved for-tty\.bin \(8(\.0)? MiB\)/), {
        timeout: 20_000,
      });
      expect(screen).toMatch(/get for-tty\.bin/); // the bar's label
      expect(sha(path.join(ttyDownloads, 'for-tty.bin'))).toBe(sha(big));
      tty.stdin.write('/quit\r');
      await new Promise((resolve) => tty.once('exit', resolve));
    } finally {
      tty.kill();
      // The messenger under script(1) too, whatever happened to script.
      for (const pid of processesWith('Tty')) process.kill(pid, 'SIGKILL');
    }
  }, 60_000);
});
