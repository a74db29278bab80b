#!/usr/bin/env node
/**
 * File service benchmark: a 1 GiB upload and download through `sockit files` (log-in with
 * SCRAM-SHA-256, SHA-256 checked end to end, the upload synced to disk before it is renamed
 * into place) against a raw TCP pipe (socat from a file to a file) on 127.0.0.1, in one run.
 *
 * sockit syncs every received file to disk before it names it (a crash or power cut must not
 * leave a file that is named but not all there); socat does not, so the raw pipe is timed
 * twice: as it is, and followed by an fsync of the file it wrote.
 *
 * Files live in --dir, by default /dev/shm (memory): on a virtual disk, writeback of one run's
 * gigabyte slows the next by seconds, at random, for socat and sockit alike. In memory the
 * run measures what the programs do; --dir on a disk measures the disk as well.
 *
 * First --warmup rounds (default 1) run everything untimed: on a virtual machine the first
 * touch of guest memory that was never used is slow (seen: socat 5.3 s the first time, 1.4 s
 * after), and whichever program comes first would pay for it.
 *
 * Each case runs once per round, --runs rounds, in an order rotated from round to round;
 * ratios are taken within each round and reported as the median with their range. Times are
 * whole commands, from start to the file being complete on the receiving side; sockit's
 * include the log-in (PBKDF2 with --iterations, default 600,000, as `sockit users add` makes
 * accounts). Every received file is checked against the source's SHA-256 after it is timed.
 *
 * With BENCH_SERVER_LOG=FILE the server's log lines (one per transfer, with its own timing) are
 * kept there.
 *
 * usage: node bench/files/run.mjs [--size MIB] [--runs N] [--warmup N] [--iterations N] [--dir DIR] [--json FILE]
 */
import { execFileSync, spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import {
  closeSync,
  createReadStream,
  existsSync,
  fsyncSync,
  mkdtempSync,
  openSync,
  readFileSync,
  rmSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { interleave, ratios, spread } from '../lib/interleave.mjs';
import { freePort, waitForPort } from '../lib/ports.mjs';

const root = path.resolve(import.meta.dirname, '../..');
const cli = path.join(root, 'dist/cli/main.cjs');
const { values } = parseArgs({
  options: {
    size: { type: 'string', default: '1024' },
    runs: { type: 'string', default: '3' },
    warmup: { type: 'string', default: '1' },
    iterations: { type: 'string', default: '600000' },
    dir: { type: 'string', default: existsSync('/dev/shm') ? '/dev/shm' : os.tmpdir() },
    json: { type: 'string' },
  },
});
const SIZE = Number(values.size) * 1024 * 1024;
const RUNS = Number(values.runs);

if (!existsSync(cli)) fail(`${cli} is missing: run "npm run build"`);
try {
  execFileSync('socat', ['-V'], { stdio: 'ignore' });
} catch {
  fail('socat is missing: apt-get install -y socat');
}

function fail(message) {
  console.error(message);
  process.exit(1);
}

const work = mkdtempSync(path.join(values.dir, 'sockit-bench-files-'));
process.on('exit', () => rmSync(work, { recursive: true, force: true }));
const source = path.join(work, 'source.bin');
{
  const fd = openSync(source, 'w');
  const block = 16 * 1024 * 1024;
  for (let done = 0; done < SIZE; done += block) writeSync(fd, randomBytes(Math.min(block, SIZE - done)));
  closeSync(fd);
}
const sourceHash = await sha256(source);

function sha256(file) {
  return new Promise((resolve, reject) => {
    const hash = createHash('sha256');
    createReadStream(file, { highWaterMark: 1024 * 1024 })
      .on('data', (d) => hash.update(d))
      .on('end', () => resolve(hash.digest('hex')))
      .on('error', reject);
  });
}

/** Resolves with what the program wrote to stderr once it exits with 0. */
function exited(child, what) {
  return new Promise((resolve, reject) => {
    let stderr = '';
    child.stderr?.on('data', (d) => {
      stderr += d;
    });
    child.on('exit', (code) =>
      code === 0 ? resolve(stderr) : reject(new Error(`${what} exited ${code}: ${stderr}`)),
    );
  });
}

/** The transfer's own time from sockit's summary line ("... 1.0 GiB in 3.10 s ..."). */
function transferSeconds(stderr) {
  const m = / in (\d+\.\d+) s/.exec(stderr);
  if (!m) fail(`no summary line in: ${stderr}`);
  return Number(m[1]);
}

/** socat listening and writing a file, socat sending one: the raw pipe; with `sync`, then fsync of the file. */
async function rawPipe(dest, sync = false) {
  const port = await freePort();
  const receiver = spawn(
    'socat',
    ['-u', `TCP-LISTEN:${port},bind=127.0.0.1,reuseaddr`, `OPEN:${dest},creat,trunc`],
    {
      stdio: ['ignore', 'ignore', 'pipe'],
    },
  );
  const done = exited(receiver, 'socat receiver');
  await waitForListener(port);
  const began = process.hrtime.bigint();
  const sender = spawn('socat', ['-u', `OPEN:${source}`, `TCP:127.0.0.1:${port}`], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  await Promise.all([exited(sender, 'socat sender'), done]);
  if (sync) {
    const fd = openSync(dest, 'r+');
    fsyncSync(fd);
    closeSync(fd);
  }
  return Number(process.hrtime.bigint() - began) / 1e9;
}

/** Waits until something listens on `port`, without connecting (socat would take the probe for its one peer). */
async function waitForListener(port) {
  const hex = `:${port.toString(16).toUpperCase().padStart(4, '0')} `;
  for (let i = 0; i < 200; i++) {
    const table = readFileSync('/proc/net/tcp', 'utf8').split('\n');
    if (table.some((line) => line.includes(hex) && line.split(/\s+/)[4] === '0A')) return;
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error(`nothing listens on ${port}`);
}

function sockit(args, env = {}) {
  const child = spawn(process.execPath, [cli, ...args], {
    stdio: ['ignore', 'ignore', 'pipe'],
    env: { ...process.env, SOCKIT_PASSWORD: 'bench password', ...env },
  });
  return exited(child, `sockit ${args.slice(0, 2).join(' ')}`);
}

async function timed(work, transfers) {
  const began = process.hrtime.bigint();
  const stderr = await work();
  if (transfers) transfers.push(transferSeconds(stderr));
  return Number(process.hrtime.bigint() - began) / 1e9;
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

// The sockit server, with one account.
const dataDir = path.join(work, 'data');
await sockit(['users', 'add', 'bench', '--data-dir', dataDir, '--iterations', values.iterations]);
const port = await freePort();
const server = spawn(
  process.execPath,
  [
    cli,
    '--log-format',
    'json',
    'files',
    'serve',
    '--data-dir',
    dataDir,
    '--host',
    '127.0.0.1',
    '--port',
    String(port),
  ],
  { stdio: ['ignore', 'ignore', 'pipe'] },
);
let serverLog = '';
server.stderr.on('data', (d) => {
  serverLog += d;
});
process.on('exit', () => {
  if (process.env.BENCH_SERVER_LOG) writeFileSync(process.env.BENCH_SERVER_LOG, serverLog);
});
await waitForPort(port);
const target = `127.0.0.1:${port}`;
const home = path.join(dataDir, 'files', 'bench');

const times = {
  raw: [],
  rawSync: [],
  upload: [],
  download: [],
  login: [],
  uploadTransfer: [],
  downloadTransfer: [],
};
console.log(
  `files benchmark: ${values.size} MiB over 127.0.0.1, files in ${values.dir}, ${RUNS} interleaved rounds, ` +
    `node ${process.version}, ${os.cpus().length} cores`,
);
const WARMUP = Number(values.warmup);
// Each round runs every case once, in an order rotated from round to round (bench/lib/
// interleave.mjs), so that the machine's drift falls on all alike; ratios are per round.
// (A download in a round before its upload fetches the previous round's copy: the same bytes.)
const rawDest = path.join(work, 'raw.bin');
const down = path.join(work, 'down.bin');
const transferOf = { upload: [], download: [] };
const cases = {
  raw: async () => {
    const t = await rawPipe(rawDest);
    if ((await sha256(rawDest)) !== sourceHash) fail('raw pipe: received bytes differ');
    rmSync(rawDest);
    return t;
  },
  rawSync: async () => {
    const t = await rawPipe(rawDest, true);
    rmSync(rawDest);
    return t;
  },
  login: () => timed(() => sockit(['files', 'ls', target, '--user', 'bench'])),
  upload: async () => {
    // The last copy goes first, untimed, as socat's output does: freeing a gigabyte is not
    // part of either transfer.
    rmSync(path.join(home, 'source.bin'), { force: true });
    const t = await timed(
      () => sockit(['files', 'upload', target, source, '--user', 'bench']),
      transferOf.upload,
    );
    if ((await sha256(path.join(home, 'source.bin'))) !== sourceHash)
      fail('sockit upload: stored bytes differ');
    return t;
  },
  download: async () => {
    const t = await timed(
      () => sockit(['files', 'download', target, 'source.bin', down, '--user', 'bench']),
      transferOf.download,
    );
    if ((await sha256(down)) !== sourceHash) fail('sockit download: received bytes differ');
    rmSync(down);
    return t;
  },
};
// The warm-up round must upload before anything downloads.
await cases.upload();
const results = await interleave(cases, {
  rounds: RUNS,
  warmup: WARMUP,
  onRound: (r, res) =>
    console.log(
      `  round ${r + 1}: raw pipe ${res.raw[r].toFixed(2)} s (${res.rawSync[r].toFixed(2)} s with fsync), sockit upload ${res.upload[r].toFixed(2)} s, ` +
        `download ${res.download[r].toFixed(2)} s, log-in + ls ${res.login[r].toFixed(2)} s`,
    ),
});
for (const name of Object.keys(times)) {
  if (results[name]) times[name] = results[name];
}
// The transfer times of the timed rounds only (the warm-up's come first).
times.uploadTransfer = transferOf.upload.slice(-RUNS);
times.downloadTransfer = transferOf.download.slice(-RUNS);
server.kill('SIGTERM');

const mb = SIZE / 1e6;
/** Per-round ratio of `base` time over `what` time (throughput ratio), median and range. */
const perRound = (what, base) => {
  const r = ratios(base, what);
  const s = spread(r);
  return `${s.median.toFixed(2)}x (${s.min.toFixed(2)}-${s.max.toFixed(2)})`;
};
const rows = [
  { case: 'raw TCP pipe (socat file -> socat file)', key: 'raw' },
  { case: 'raw TCP pipe, then fsync of the file', key: 'rawSync' },
  ...['upload', 'download'].flatMap((what) => [
    { case: `sockit files ${what}: whole command`, key: what },
    { case: `sockit files ${what}: transfer after log-in`, key: `${what}Transfer` },
  ]),
].map((r) => ({
  ...r,
  seconds: median(times[r.key]),
  'ratio to raw': perRound(times[r.key], times.raw),
  'ratio to raw + fsync': perRound(times[r.key], times.rawSync),
}));
console.table(
  rows.map((r) => ({
    case: r.case,
    seconds: r.seconds.toFixed(2),
    'MB/s': (mb / r.seconds).toFixed(0),
    'ratio to raw (per round: median, range)': r['ratio to raw'],
    'ratio to raw + fsync': r['ratio to raw + fsync'],
  })),
);
console.log(
  `sockit: SHA-256 checked end to end, received file synced before it is named. A whole command includes\n` +
    `starting Node and logging in (log-in + ls alone: ${median(times.login).toFixed(2)} s, PBKDF2 ` +
    `${values.iterations} iterations); the transfer time is the client's own, from its summary line. Goal: ratio >= 0.8.`,
);
if (values.json) writeFileSync(values.json, `${JSON.stringify({ size: SIZE, times, rows }, null, 2)}\n`);
