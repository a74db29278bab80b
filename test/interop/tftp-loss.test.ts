/**
 * TFTP under packet loss: `sockit tftp serve` in one network namespace and `sockit tftp
 * get/put` in another, joined by a veth pair whose two ends each drop 10% of outgoing UDP
 * at random (nftables `numgen random mod 10 0 drop`). Every transfer must still arrive
 * intact, and the server's transfer log must show that it had to retransmit.
 *
 * Needs root, ip (iproute2) and nft (nftables): scripts/interop-tools.sh installs them.
 * Nothing touches the host's own network: the addresses live inside the namespaces only.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLI, run } from '../helpers.js';
import { TestNetwork } from '../netns.js';

const network = new TestNetwork('tftp', 'stv', 213, 30);
const NS_A = network.nsA;
const NS_B = network.nsB;
const SERVER_IP = network.ipA;
const SIZE = 128 * 1024;

const sha = (data: Buffer): string => createHash('sha256').update(data).digest('hex');
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

type Line = { file: string; direction: string; bytes: number; retransmits: number; ok: boolean };

interface Served {
  child: ChildProcess;
  port: number;
  log(): string;
}

/** Runs `sockit tftp serve` inside NS_A and resolves with its port. */
function serveInNamespace(root: string): Promise<Served> {
  const args = ['netns', 'exec', NS_A, process.execPath, CLI, '--log-format', 'json', 'tftp', 'serve'];
  // Default timeouts and retries: what a user gets is what must survive the loss.
  args.push('--root', root, '--host', SERVER_IP, '--port', '0', '--writable');
  const child = spawn('ip', args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let text = '';
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`server did not start in 15 s:\n${text}`)), 15_000);
    child.stdout.on('data', (d: Buffer) => (text += d));
    child.stderr.on('data', (d: Buffer) => {
      text += d;
      const line = text.split('\n').find((l) => l.includes('listening on'));
      if (!line) return;
      clearTimeout(timer);
      resolve({ child, port: (JSON.parse(line) as { port: number }).port, log: () => text });
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`server exited with ${code}:\n${text}`));
    });
  });
}

describe('sockit tftp through a veth dropping 10% of UDP each way', () => {
  let dir: string;
  let server: Served | undefined;

  beforeAll(async () => {
    TestNetwork.require('the TFTP loss test');
    dir = mkdtempSync(path.join(os.tmpdir(), 'sockit-tftp-loss-'));
    mkdirSync(path.join(dir, 'root'));
    mkdirSync(path.join(dir, 'local'));
    network.create();
    network.addLoss();
    server = await serveInNamespace(path.join(dir, 'root'));
  }, 30_000);

  afterAll(async () => {
    if (server && server.child.exitCode === null) {
      const exited = new Promise((resolve) => server?.child.once('exit', resolve));
      server.child.kill('SIGTERM');
      const timer = setTimeout(() => server?.child.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(timer);
    }
    network.delete();
    if (dir) rmSync(dir, { recursive: true, force: true });
  }, 30_000);

  it('completes 20 downloads and 20 uploads of 128 KiB intact, retransmitting', async () => {
    const live = server;
    if (!live) throw new Error('no server');
    const jobs = Array.from({ length: 40 }, (_, i) => {
      const data = randomBytes(SIZE);
      const download = i < 20;
      const name = download ? `down-${i}.bin` : `up-${i}.bin`;
      const local = path.join(dir, 'local', name);
      writeFileSync(path.join(dir, download ? 'root' : 'local', name), data);
      return { i, download, name, local, hash: sha(data), windowsize: i % 5 === 0 };
    });
    const failures: string[] = [];
    const transfer = async (job: (typeof jobs)[number]) => {
      const flags = ['--blksize', '1428'];
      if (job.windowsize) flags.push('--windowsize', '4');
      const target = `${SERVER_IP}:${live.port}`;
      const verb = job.download ? ['get', target, job.name, job.local] : ['put', target, job.local, job.name];
      const args = ['netns', 'exec', NS_B, process.execPath, CLI, 'tftp', ...verb, ...flags];
      const result = await run('ip', args, { timeoutMs: 60_000 });
      const written = job.download ? job.local : path.join(dir, 'root', job.name);
      let got = '';
      try {
        got = sha(readFileSync(written));
      } catch {
        // missing: reported below
      }
      if (result.code !== 0 || got !== job.hash) {
        // The server's side of the story, for a failure that happens once in many runs.
        const logged = live
          .log()
          .split('\n')
          .filter((l) => l.includes(`"file":"${job.name}"`));
        failures.push(
          `${job.name}: exit ${result.code} ${result.signal ?? ''}, sha ${got || 'none'}: ${result.stderr}` +
            `server: ${logged.join('\n') || 'no line'}`,
        );
      }
    };
    // Four transfers at a time: each waits out its own losses.
    let next = 0;
    const worker = async () => {
      while (next < jobs.length) {
        const job = jobs[next++];
        if (job) await transfer(job);
      }
    };
    await Promise.all([worker(), worker(), worker(), worker()]);
    expect(failures).toEqual([]);

    const lines = (): Line[] =>
      live
        .log()
        .split('\n')
        .filter((l) => l.includes('"msg":"transfer"'))
        .map((l) => JSON.parse(l));
    for (let i = 0; i < 200 && lines().length < 40; i++) await sleep(50);
    const logged = lines();
    expect(logged).toHaveLength(40);
    expect(logged.filter((l) => !l.ok)).toEqual([]);
    expect(logged.filter((l) => l.direction === 'read' && l.ok && l.bytes === SIZE)).toHaveLength(20);
    expect(logged.filter((l) => l.direction === 'write' && l.ok && l.bytes === SIZE)).toHaveLength(20);
    const retransmits = (direction: string) =>
      logged.filter((l) => l.direction === direction).reduce((sum, l) => sum + l.retransmits, 0);
    expect(retransmits('read') + retransmits('write')).toBeGreaterThan(0);
    console.log(
      `tftp loss: 40 transfers intact; the server retransmitted ${retransmits('read')} times ` +
        `in downloads, ${retransmits('write')} in uploads`,
    );
  }, 300_000);
});
