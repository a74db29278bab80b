#!/usr/bin/env node
/**
 * File transfer benchmark: `sockit files` upload and download (log-in with SCRAM-SHA-256,
 * SHA-256 checked end to end, each received file synced to disk before it is named) against
 * scp and rsync over ssh (a private sshd on a loopback port with a generated key, see
 * bench/lib/sshd.mjs) and a raw TCP pipe (socat from a file to a file), on 127.0.0.1, in one
 * interleaved run, for two loads:
 *   - big: one file of --size MiB (default 1024) of random bytes, each way;
 *   - small: a folder of --files files (default 2000) of 4-64 KiB each, each way (`sockit files
 *     upload/download` of the folder, `scp -r`, `rsync -a`): per-file round trips dominate.
 * Times are whole commands, from start to the last byte being in place on the receiving side,
 * start-up and log-in included. sockit logs in with the salted keys its first log-in (in the
 * warm-up) kept in its key cache, as a user's second command does; ssh with an ed25519 key.
 *
 * sockit syncs every received file to disk before it names it (a crash or power cut must not
 * leave a file that is named but not all there); socat, scp and rsync do not, so the raw pipe is
 * also timed followed by an fsync of the file it wrote.
 *
 * Files live in --dir, by default /dev/shm (memory): on a virtual disk, writeback of one run's
 * gigabyte slows the next by seconds, at random, for every contender alike. In memory the
 * run measures what the programs do; --dir on a disk measures the disk as well.
 *
 * First --warmup rounds (default 1) run everything untimed: on a virtual machine the first
 * touch of guest memory that was never used is slow (seen: socat 5.3 s the first time, 1.4 s
 * after), and whichever program comes first would pay for it.
 *
 * Each case runs once per round, --runs rounds, in an order rotated from round to round;
 * ratios are taken within each round and reported as the median with their range. Every
 * received file or folder is checked against the source (SHA-256) after it is timed.
 *
 * With BENCH_SERVER_LOG=FILE the sockit server's log lines (one per transfer, with its own
 * timing) are kept there.
 *
 * Needs socat, scp, rsync and the unpacked sshd and sftp-server: scripts/interop-tools.sh.
 *
 * usage: node bench/files/run.mjs [--size MIB] [--files N] [--only big|small] [--runs N] [--warmup N]
 *                                 [--iterations N] [--dir DIR] [--json FILE]
 */
import { execFileSync, spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import {
  chmodSync,
  chownSync,
  closeSync,
  cpSync,
  createReadStream,
  existsSync,
  fsyncSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readdirSync,
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
import { startSshd } from '../lib/sshd.mjs';

const root = path.resolve(import.meta.dirname, '../..');
const cli = path.join(root, 'dist/cli/main.cjs');
const { values } = parseArgs({
  options: {
    size: { type: 'string', default: '1024' },
    files: { type: 'string', default: '2000' },
    only: { type: 'string' },
    runs: { type: 'string', default: '3' },
    warmup: { type: 'string', default: '1' },
    iterations: { type: 'string', default: '600000' },
    dir: { type: 'string', default: existsSync('/dev/shm') ? '/dev/shm' : os.tmpdir() },
    json: { type: 'string' },
  },
});
const SIZE = Number(values.size) * 1024 * 1024;
const FILES = Number(values.files);
const RUNS = Number(values.runs);
const LOADS = values.only ? values.only.split(',') : ['big', 'small'];
for (const load of LOADS) if (load !== 'big' && load !== 'small') fail(`--only ${load}: big or small`);

if (!existsSync(cli)) fail(`${cli} is missing: run "npm run build"`);
for (const [program, args] of [
  ['socat', ['-V']],
  ['rsync', ['--version']],
  ['scp', ['-h']],
]) {
  try {
    execFileSync(program, args, { stdio: 'ignore' });
  } catch (err) {
    if (err.code === 'ENOENT') fail(`${program} is missing: run scripts/interop-tools.sh`);
  }
}

function fail(message) {
  console.error(message);
  process.exit(1);
}

const work = mkdtempSync(path.join(values.dir, 'sockit-bench-files-'));
// The ssh user (sockit-bench when run as root) must reach its folder in here.
chmodSync(work, 0o755);
const stops = [];
process.on('exit', () => {
  for (const stop of stops) stop();
  rmSync(work, { recursive: true, force: true });
});
const source = path.join(work, 'source.bin');
{
  const fd = openSync(source, 'w');
  const block = 16 * 1024 * 1024;
  for (let done = 0; done < SIZE; done += block) writeSync(fd, randomBytes(Math.min(block, SIZE - done)));
  closeSync(fd);
}
const sourceHash = await sha256(source);
// The small files: sizes spread evenly over 4-64 KiB, random bytes.
const smallSource = path.join(work, 'small');
mkdirSync(smallSource);
let smallBytes = 0;
for (let i = 0; i < FILES; i++) {
  const size = 4096 + Math.floor(Math.random() * (60 * 1024 + 1));
  smallBytes += size;
  writeFileSync(path.join(smallSource, `file-${String(i).padStart(5, '0')}.bin`), randomBytes(size));
}
const smallHash = treeHash(smallSource);

function sha256(file) {
  return new Promise((resolve, reject) => {
    const hash = createHash('sha256');
    createReadStream(file, { highWaterMark: 1024 * 1024 })
      .on('data', (d) => hash.update(d))
      .on('end', () => resolve(hash.digest('hex')))
      .on('error', reject);
  });
}

/** SHA-256 over a flat folder's names and contents, in name order. */
function treeHash(dir) {
  const hash = createHash('sha256');
  for (const name of readdirSync(dir).sort()) {
    hash.update(`${name}\0`);
    hash.update(readFileSync(path.join(dir, name)));
  }
  return hash.digest('hex');
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

const sockitEnv = {
  ...process.env,
  SOCKIT_PASSWORD: 'bench password',
  SOCKIT_CACHE_DIR: path.join(work, 'cache'),
};
function sockit(args) {
  const child = spawn(process.execPath, [cli, ...args], {
    stdio: ['ignore', 'ignore', 'pipe'],
    env: sockitEnv,
  });
  return exited(child, `sockit ${args.slice(0, 2).join(' ')}`);
}

/** A whole command's seconds; the program's stderr goes to `andThen` (sockit's summary line). */
async function timed(file, args, andThen) {
  const began = process.hrtime.bigint();
  const stderr =
    file === 'sockit'
      ? await sockit(args)
      : await exited(spawn(file, args, { stdio: ['ignore', 'ignore', 'pipe'] }), file);
  const seconds = Number(process.hrtime.bigint() - began) / 1e9;
  andThen?.(stderr);
  return seconds;
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
stops.push(() => server.kill('SIGTERM'));
let serverLog = '';
server.stderr.on('data', (d) => {
  serverLog += d;
});
process.on('exit', () => {
  if (process.env.BENCH_SERVER_LOG) writeFileSync(process.env.BENCH_SERVER_LOG, serverLog);
});
await waitForPort(port);
const target = `bench@127.0.0.1:${port}`;
const home = path.join(dataDir, 'files', 'bench');

// The ssh side: its user's folder holds the copies scp and rsync download, and what they upload.
const sshDir = path.join(work, 'sshd');
mkdirSync(sshDir);
const sshd = await startSshd(sshDir);
stops.unshift(sshd.stop);
const remote = path.join(work, 'remote');
mkdirSync(remote);
if (LOADS.includes('big')) cpSync(source, path.join(remote, 'source.bin'));
if (LOADS.includes('small')) cpSync(smallSource, path.join(remote, 'small'), { recursive: true });
if (process.getuid?.() === 0) {
  const id = (flag) => Number(execFileSync('id', [flag, sshd.user], { encoding: 'utf8' }).trim());
  const [uid, gid] = [id('-u'), id('-g')];
  for (const p of [remote, ...walk(remote)]) chownSync(p, uid, gid);
}
function walk(dir) {
  return readdirSync(dir, { recursive: true }).map((name) => path.join(dir, name));
}
const at = (p) => `${sshd.host}:${p}`;
const rsyncShell = ['-e', ['ssh', ...sshd.options].join(' ')];

console.log(
  `files benchmark over 127.0.0.1, files in ${values.dir}: ` +
    [
      LOADS.includes('big') ? `one file of ${values.size} MiB` : '',
      LOADS.includes('small')
        ? `a folder of ${FILES} files of 4-64 KiB (${(smallBytes / 1024 / 1024).toFixed(1)} MiB)`
        : '',
    ]
      .filter(Boolean)
      .join(' and ') +
    `; ${RUNS} interleaved rounds after ${values.warmup} warm-up, node ${process.version}, ${os.cpus().length} cores`,
);

/** Checks a received file or folder against its source (untimed), then removes it. */
async function check(what, received, folder) {
  const ok = folder ? treeHash(received) === smallHash : (await sha256(received)) === sourceHash;
  if (!ok) fail(`${what}: received bytes differ`);
  rmSync(received, { recursive: true, force: true });
}

const rawDest = path.join(work, 'raw.bin');
const down = path.join(work, 'down');
const transferOf = { upload: [], download: [] };
/** Each case: its function, and what it is reported against. */
const cases = {};
if (LOADS.includes('big')) {
  Object.assign(cases, {
    raw: async () => {
      const t = await rawPipe(rawDest);
      await check('raw pipe', rawDest);
      return t;
    },
    rawSync: async () => {
      const t = await rawPipe(rawDest, true);
      rmSync(rawDest);
      return t;
    },
    login: () => timed('sockit', ['files', 'ls', target]),
    upload: async () => {
      // The last copy goes first, untimed, as for the others: freeing a gigabyte is not part
      // of any transfer.
      rmSync(path.join(home, 'source.bin'), { force: true });
      const t = await timed('sockit', ['files', 'upload', target, source], (e) =>
        transferOf.upload.push(transferSeconds(e)),
      );
      await check('sockit upload', path.join(home, 'source.bin'));
      // What the downloads fetch: put back (the check removed it).
      cpSync(source, path.join(home, 'source.bin'));
      return t;
    },
    download: async () => {
      const t = await timed('sockit', ['files', 'download', target, 'source.bin', down], (e) =>
        transferOf.download.push(transferSeconds(e)),
      );
      await check('sockit download', down);
      return t;
    },
    scpUpload: async () => {
      const t = await timed('scp', ['-q', ...sshd.scpOptions, source, at(path.join(remote, 'up.bin'))]);
      await check('scp upload', path.join(remote, 'up.bin'));
      return t;
    },
    scpDownload: async () => {
      const t = await timed('scp', ['-q', ...sshd.scpOptions, at(path.join(remote, 'source.bin')), down]);
      await check('scp download', down);
      return t;
    },
    rsyncUpload: async () => {
      const t = await timed('rsync', ['-a', ...rsyncShell, source, at(path.join(remote, 'up.bin'))]);
      await check('rsync upload', path.join(remote, 'up.bin'));
      return t;
    },
    rsyncDownload: async () => {
      const t = await timed('rsync', ['-a', ...rsyncShell, at(path.join(remote, 'source.bin')), down]);
      await check('rsync download', down);
      return t;
    },
  });
}
if (LOADS.includes('small')) {
  Object.assign(cases, {
    smallUpload: async () => {
      rmSync(path.join(home, 'small'), { recursive: true, force: true });
      const t = await timed('sockit', ['files', 'upload', target, smallSource, '-q']);
      await check('sockit upload of the folder', path.join(home, 'small'), true);
      cpSync(smallSource, path.join(home, 'small'), { recursive: true });
      return t;
    },
    smallDownload: async () => {
      const t = await timed('sockit', ['files', 'download', target, 'small', down, '-q']);
      await check('sockit download of the folder', down, true);
      return t;
    },
    smallScpUpload: async () => {
      const t = await timed('scp', [
        '-q',
        '-r',
        ...sshd.scpOptions,
        smallSource,
        at(path.join(remote, 'up')),
      ]);
      await check('scp -r upload', path.join(remote, 'up'), true);
      return t;
    },
    smallScpDownload: async () => {
      const t = await timed('scp', ['-q', '-r', ...sshd.scpOptions, at(path.join(remote, 'small')), down]);
      await check('scp -r download', down, true);
      return t;
    },
    smallRsyncUpload: async () => {
      const t = await timed('rsync', ['-a', ...rsyncShell, `${smallSource}/`, at(path.join(remote, 'up'))]);
      await check('rsync -a upload', path.join(remote, 'up'), true);
      return t;
    },
    smallRsyncDownload: async () => {
      const t = await timed('rsync', ['-a', ...rsyncShell, `${at(path.join(remote, 'small'))}/`, down]);
      await check('rsync -a download', down, true);
      return t;
    },
  });
}
// The sockit cases' copies to download: put there, untimed, before the warm-up.
if (LOADS.includes('big')) cpSync(source, path.join(home, 'source.bin'));
if (LOADS.includes('small')) cpSync(smallSource, path.join(home, 'small'), { recursive: true });

const times = await interleave(cases, {
  rounds: RUNS,
  warmup: Number(values.warmup),
  onRound: (r, res) =>
    console.log(
      `  round ${r + 1}: ${Object.entries(res)
        .map(([name, list]) => `${name} ${list[r].toFixed(2)} s`)
        .join(', ')}`,
    ),
});
// The transfer times of the timed rounds only (the warm-up's come first).
if (LOADS.includes('big')) {
  times.uploadTransfer = transferOf.upload.slice(-RUNS);
  times.downloadTransfer = transferOf.download.slice(-RUNS);
}

/** Per-round ratio of `base` time over `what` time (throughput ratio), median and range. */
const perRound = (what, base) => {
  if (!base) return '';
  const s = spread(ratios(base, what));
  return `${s.median.toFixed(2)}x (${s.min.toFixed(2)}-${s.max.toFixed(2)})`;
};
const rows = [];
const row = (load, name, key, against) =>
  rows.push({
    load,
    case: name,
    seconds: median(times[key]).toFixed(2),
    'MB/s': ((load === 'big' ? SIZE : smallBytes) / 1e6 / median(times[key])).toFixed(0),
    ...Object.fromEntries(
      Object.entries(against).map(([label, base]) => [label, perRound(times[key], times[base])]),
    ),
  });
if (LOADS.includes('big')) {
  row('big', 'raw TCP pipe (socat file -> socat file)', 'raw', {});
  row('big', 'raw TCP pipe, then fsync of the file', 'rawSync', {});
  for (const [way, cap] of [
    ['upload', 'Upload'],
    ['download', 'Download'],
  ]) {
    row('big', `sockit files ${way}: whole command`, way, {
      'vs raw (goal >= 0.8x)': 'raw',
      'vs raw + fsync': 'rawSync',
      'vs scp (goal >= 1.5x)': `scp${cap}`,
      'vs rsync': `rsync${cap}`,
    });
    row('big', `sockit files ${way}: transfer after log-in`, `${way}Transfer`, {
      'vs raw (goal >= 0.8x)': 'raw',
    });
    row('big', `scp ${way}`, `scp${cap}`, {});
    row('big', `rsync ${way}`, `rsync${cap}`, {});
  }
  row('big', 'sockit files ls: start-up and log-in', 'login', {});
}
if (LOADS.includes('small')) {
  for (const [way, cap] of [
    ['upload', 'Upload'],
    ['download', 'Download'],
  ]) {
    row('small', `sockit files ${way} of the folder`, `small${cap}`, {
      'vs scp (goal >= 2x)': `smallScp${cap}`,
      'vs rsync (goal >= 1.0x)': `smallRsync${cap}`,
    });
    row('small', `scp -r ${way}`, `smallScp${cap}`, {});
    row('small', `rsync -a ${way}`, `smallRsync${cap}`, {});
  }
}
console.table(rows);
console.log(
  "Ratios are throughput (the other contender's time over sockit's, in each round): median (min-max) over the rounds;\n" +
    'above 1 sockit is faster. sockit: SHA-256 checked end to end, each received file synced before it is named;\n' +
    `log-in from the key cache (the first log-in, in the warm-up, ran PBKDF2 with ${values.iterations} iterations).`,
);
if (values.json)
  writeFileSync(
    values.json,
    `${JSON.stringify({ size: SIZE, files: FILES, smallBytes, times, rows }, null, 2)}\n`,
  );
// The servers are stopped (and the folder removed) by the exit handler.
process.exit(0);
