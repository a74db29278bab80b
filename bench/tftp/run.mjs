#!/usr/bin/env node
/**
 * TFTP download benchmark: `sockit tftp serve` against the C servers tftpd-hpa (in.tftpd) and
 * atftpd, all measured in one run with the same client, atftp, fetching the same file (100 MiB
 * of random bytes by default) over 127.0.0.1:
 *   - blksize 512, 1468 and 65464, lock-step (windowsize 1): all three servers
 *   - blksize 1468 and 8192 with windowsize 16 (RFC 7440): sockit and atftpd (tftpd-hpa has
 *     no windowsize)
 * All three servers run at once; each setting is measured in --runs interleaved rounds after a
 * warm-up round (each round downloads once from every server, in a rotated order), and the
 * median time counts; sockit's ratio to the fastest C server is taken within each round and
 * reported as the median with its range. Every download is checked for its full size.
 *
 * Reported per setting: seconds and MB/s for each server, and sockit's throughput as a ratio
 * to the fastest C server. Reported per server: peak resident memory, VmHWM from
 * /proc/PID/status of the server and of every process it forked for a transfer (in.tftpd
 * forks one per transfer; those are sampled every 20 ms while they live); per setting, the
 * server's CPU time per download (user + system, sampled the same way) and, for sockit, its
 * retransmissions (from its transfer log lines).
 *
 * Memory per transfer: each server's proportional set size (Pss from /proc/PID/smaps_rollup,
 * summed over in.tftpd's children, so that pages forked children share count once) sampled
 * every 50 ms while it serves one download of the big file, then while it serves --concurrent
 * downloads at once (default 200; atftp clients, blksize 1468, a 4 MiB file each, to
 * /dev/null), and once they are over. Reported: idle, peak with 1 and with N, after, the most
 * transfers seen at once (sockets open in the tree), and (peak - idle) / that per transfer.
 *
 * Needs the peers: scripts/interop-tools.sh. Runs as root (in.tftpd chroots).
 * --only 65464x1,1468x16 runs just those settings (BLKSIZExWINDOWSIZE); --only memory just
 * the memory phase; settings and memory combine.
 *
 * --busy-poll US starts sockit's server with that polling budget (0: off), for its CPU per
 * block without polling.
 *
 * usage: node bench/tftp/run.mjs [--size MIB] [--runs N] [--only SETTINGS] [--concurrent N]
 *                                [--busy-poll US] [--json FILE]
 */
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  rmSync,
  statSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { interleave, spread } from '../lib/interleave.mjs';

const here = import.meta.dirname;
const root = path.resolve(here, '../..');
const cli = path.join(root, 'dist/cli/main.cjs');
const IN_TFTPD = path.join(root, '.tools/interop/tftpd-hpa/usr/sbin/in.tftpd');
const ATFTPD = path.join(root, '.tools/interop/atftpd/usr/sbin/atftpd');
const { values } = parseArgs({
  options: {
    size: { type: 'string', default: '100' },
    runs: { type: 'string', default: '3' },
    cap: { type: 'string', default: '60' },
    only: { type: 'string' },
    concurrent: { type: 'string', default: '200' },
    'busy-poll': { type: 'string' },
    json: { type: 'string' },
  },
});
const SIZE = Number(values.size) * 1024 * 1024;
const RUNS = Number(values.runs);
const CAP = Number(values.cap);

for (const [what, ok] of [
  [cli, existsSync(cli)],
  [IN_TFTPD, existsSync(IN_TFTPD)],
  [ATFTPD, existsSync(ATFTPD)],
  ['atftp', spawnOk('atftp', ['--version'])],
]) {
  if (!ok) {
    console.error(`${what} is missing: run "npm run build" and scripts/interop-tools.sh`);
    process.exit(1);
  }
}
if (process.getuid() !== 0) {
  console.error('run as root: in.tftpd chroots into the served folder');
  process.exit(1);
}

function spawnOk(command, args) {
  try {
    execFileSync(command, args, { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

const TICKS = Number(execFileSync('getconf', ['CLK_TCK']).toString().trim());
/** utime + stime of one process, in seconds. */
function cpuSeconds(pid) {
  const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = text.slice(text.lastIndexOf(')') + 2).split(' ');
  return (Number(f[11]) + Number(f[12])) / TICKS;
}
/** A process and its descendants (in.tftpd forks one per transfer). */
function tree(pid) {
  const out = [pid];
  try {
    for (const task of readdirSync(`/proc/${pid}/task`)) {
      const children = readFileSync(`/proc/${pid}/task/${task}/children`, 'utf8').trim();
      for (const child of children ? children.split(' ') : []) out.push(...tree(Number(child)));
    }
  } catch {
    // it ended while we looked
  }
  return out;
}
const hwmKiB = (pid) => {
  try {
    return Number(/VmHWM:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0);
  } catch {
    return 0;
  }
};

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
/** Proportional set size of one process, KiB (0 once it is gone). */
const pssKiB = (pid) => {
  try {
    return Number(/^Pss:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8'))?.[1] ?? 0);
  } catch {
    return 0;
  }
};

/**
 * A server's memory while it serves `count` downloads of `file` at once: Pss of its process
 * tree, idle before, the peak sampled every 50 ms, and after (once all have ended).
 */
async function memoryUnder(server, count, file, size) {
  const pid = server.child.pid;
  const total = () => tree(pid).reduce((sum, p) => sum + pssKiB(p), 0);
  const idleSockets = sockets(pid);
  const idle = total();
  let peak = idle;
  let concurrent = 0;
  const timer = setInterval(() => {
    peak = Math.max(peak, total());
    concurrent = Math.max(concurrent, sockets(pid) - idleSockets);
  }, 50);
  const clients = Array.from({ length: count }, () =>
    spawn(
      'atftp',
      ['--get', '-r', file, '-l', '/dev/null', '--option', 'blksize 1468', '127.0.0.1', `${server.port}`],
      {
        stdio: 'ignore',
      },
    ),
  );
  const codes = await Promise.all(clients.map((c) => new Promise((resolve) => c.on('exit', resolve))));
  clearInterval(timer);
  peak = Math.max(peak, total());
  const failed = codes.filter((c) => c !== 0).length;
  if (failed > 0) throw new Error(`${failed} of ${count} downloads of ${file} (${size} bytes) failed`);
  await sleep(500);
  return { idle, peak, after: total(), concurrent };
}

/** UDP and other sockets open in a server's process tree (one per transfer), counted once each. */
function sockets(pid) {
  const seen = new Set();
  for (const p of tree(pid)) {
    try {
      for (const fd of readdirSync(`/proc/${p}/fd`)) {
        const target = readlinkOrEmpty(`/proc/${p}/fd/${fd}`);
        if (target.startsWith('socket:')) seen.add(target);
      }
    } catch {
      // it ended while we looked
    }
  }
  return seen.size;
}

function readlinkOrEmpty(file) {
  try {
    return readlinkSync(file);
  } catch {
    return '';
  }
}
function udpBound(port) {
  const hex = `:${port.toString(16).toUpperCase().padStart(4, '0')}`;
  return readFileSync('/proc/net/udp', 'utf8')
    .split('\n')
    .some((l) => l.trim().split(/\s+/)[1]?.endsWith(hex));
}

/** Starts a server; resolves with its process and port once it listens. */
async function start(name, dir) {
  if (name === 'sockit') {
    const args = [
      '--log-format',
      'json',
      'tftp',
      'serve',
      '--root',
      dir,
      '--host',
      '127.0.0.1',
      '--port',
      '0',
      ...(values['busy-poll'] === undefined ? [] : ['--busy-poll', values['busy-poll']]),
      // The memory phase's clients all come from 127.0.0.1; the C servers have no such limit.
      '--max-per-address',
      String(Math.max(16, Number(values.concurrent))),
    ];
    const child = spawn(process.execPath, [cli, ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
    let text = '';
    return new Promise((resolve, reject) => {
      child.stderr.on('data', (d) => {
        text += d;
        const line = text.split('\n').find((l) => l.includes('listening on'));
        if (line) resolve({ child, port: JSON.parse(line).port, log: () => text });
      });
      child.once('exit', (code) => reject(new Error(`sockit exited with ${code}: ${text}`)));
      setTimeout(() => reject(new Error(`sockit did not start: ${text}`)), 15_000).unref();
    });
  }
  for (let attempt = 0; attempt < 5; attempt++) {
    const port = 20_000 + Math.floor(Math.random() * 12_000);
    if (udpBound(port)) continue;
    const args =
      name === 'tftpd-hpa'
        ? ['-L', '-s', '-p', '-u', 'root', '-B', '65464', '-a', `127.0.0.1:${port}`, dir]
        : ['--daemon', '--no-fork', '--user', 'root', '--logfile', '/dev/null', '--port', `${port}`].concat([
            '--bind-address',
            '127.0.0.1',
            dir,
          ]);
    const child = spawn(name === 'tftpd-hpa' ? IN_TFTPD : ATFTPD, args, { stdio: 'ignore' });
    for (let i = 0; i < 100 && child.exitCode === null && !udpBound(port); i++) await sleep(50);
    if (child.exitCode === null && udpBound(port)) return { child, port, log: () => '' };
    child.kill('SIGKILL');
  }
  throw new Error(`${name} did not start`);
}

async function stop(child) {
  if (child.exitCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
  await exited;
  clearTimeout(timer);
}

/** One download with atftp; resolves with seconds taken, or Infinity past --cap seconds. */
function download(port, setting, dest) {
  const args = ['--get', '-r', 'bench.bin', '-l', dest, '--option', `blksize ${setting.blksize}`];
  if (setting.windowsize > 1) args.push('--option', `windowsize ${setting.windowsize}`);
  args.push('127.0.0.1', `${port}`);
  return new Promise((resolve, reject) => {
    const began = process.hrtime.bigint();
    const child = spawn('atftp', args, { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d) => {
      stderr += d;
    });
    let capped = false;
    const timer = setTimeout(() => {
      capped = true;
      child.kill('SIGKILL');
    }, CAP * 1000);
    child.on('exit', (code) => {
      clearTimeout(timer);
      const seconds = Number(process.hrtime.bigint() - began) / 1e9;
      const size = existsSync(dest) ? statSync(dest).size : -1;
      rmSync(dest, { force: true });
      if (capped) resolve(Number.POSITIVE_INFINITY);
      else if (code !== 0 || size !== SIZE) reject(new Error(`atftp exit ${code}, ${size} bytes: ${stderr}`));
      else resolve(seconds);
    });
  });
}

const allSettings = [
  { blksize: 512, windowsize: 1, servers: ['sockit', 'tftpd-hpa', 'atftpd'] },
  { blksize: 1468, windowsize: 1, servers: ['sockit', 'tftpd-hpa', 'atftpd'] },
  { blksize: 65464, windowsize: 1, servers: ['sockit', 'tftpd-hpa', 'atftpd'] },
  { blksize: 1468, windowsize: 16, servers: ['sockit', 'atftpd'] },
  { blksize: 8192, windowsize: 16, servers: ['sockit', 'atftpd'] },
];
const only = values.only?.split(',');
const settings = only
  ? allSettings.filter((x) => only.includes(`${x.blksize}x${x.windowsize}`))
  : allSettings;
const MEMORY = !only || only.includes('memory');
const CONCURRENT = Number(values.concurrent);
if (settings.length === 0 && !MEMORY) {
  console.error(`--only ${values.only}: no such setting`);
  process.exit(1);
}

const dir = mkdtempSync(path.join(os.tmpdir(), 'sockit-tftp-bench-'));
const served = path.join(dir, 'root');
mkdirSync(served, { mode: 0o755 });
{
  const fd = openSync(path.join(served, 'bench.bin'), 'w', 0o644);
  for (let left = SIZE; left > 0; left -= 8 << 20) writeSync(fd, randomBytes(Math.min(left, 8 << 20)));
}
writeFileSync(path.join(served, 'probe.bin'), 'x', { mode: 0o644 });
const MEMORY_FILE_SIZE = 4 * 1024 * 1024;
writeFileSync(path.join(served, 'memory.bin'), randomBytes(MEMORY_FILE_SIZE), { mode: 0o644 });
const dest = path.join(dir, 'download.bin');

/** What a server grants for a setting: atftp --trace on a 1-byte file shows the OACK. */
function granted(port, setting) {
  const args = ['--trace', '--get', '-r', 'probe.bin', '-l', dest, '--option', `blksize ${setting.blksize}`];
  if (setting.windowsize > 1) args.push('--option', `windowsize ${setting.windowsize}`);
  const probe = spawnSync('atftp', [...args, '127.0.0.1', `${port}`], { timeout: 20_000 });
  const out = `${probe.stdout}${probe.stderr}`;
  rmSync(dest, { force: true });
  const oack = /received OACK <([^>]*)>/.exec(out)?.[1] ?? '';
  const value = (name, fallback) => Number(new RegExp(`${name}: (\\d+)`).exec(oack)?.[1] ?? fallback);
  return { blksize: value('blksize', 512), windowsize: value('windowsize', 1) };
}

console.log(
  `tftp benchmark: ${values.size} MiB download with the atftp client over 127.0.0.1, ${RUNS} interleaved rounds, ` +
    `node ${process.version}, ${os.cpus().length} cores`,
);
/**
 * Samples a server's process tree every 20 ms: CPU time (own utime + stime of each process;
 * in.tftpd's children are not reaped into its cutime) and the largest VmHWM seen.
 */
function meter(pid) {
  const base = new Map([[pid, cpuSeconds(pid)]]);
  const last = new Map(base);
  let peak = 0;
  const sample = () => {
    for (const p of tree(pid)) {
      try {
        last.set(p, cpuSeconds(p));
        if (!base.has(p)) base.set(p, 0);
        peak = Math.max(peak, hwmKiB(p));
      } catch {
        // it ended while we looked
      }
    }
  };
  const timer = setInterval(sample, 20);
  return () => {
    clearInterval(timer);
    sample();
    let cpu = 0;
    for (const [p, v] of last) cpu += v - (base.get(p) ?? 0);
    return { cpu, peak };
  };
}

const retransmits = (log) =>
  log
    .split('\n')
    .filter((l) => l.includes('"msg":"transfer"'))
    .map((l) => JSON.parse(l).retransmits);
const sum = (list) => list.reduce((a, b) => a + b, 0);
const key = (setting) => ({ blksize: setting.blksize, windowsize: setting.windowsize });

// All servers run at once (each idle while another serves); each setting is measured in
// interleaved rounds (bench/lib/interleave.mjs): every round downloads once from every server,
// in an order rotated from round to round, after a warm-up round, so that the machine's drift
// falls on all servers alike; the ratio to the fastest C server is taken within each round.
const rows = [];
const servers = {};
const running = {};
try {
  for (const name of ['sockit', 'tftpd-hpa', 'atftpd']) running[name] = await start(name, served);
  const peaks = Object.fromEntries(Object.keys(running).map((n) => [n, 0]));
  for (const setting of settings) {
    const names = setting.servers;
    const got = Object.fromEntries(names.map((n) => [n, granted(running[n].port, setting)]));
    const cpu = Object.fromEntries(names.map((n) => [n, 0]));
    const before = retransmits(running.sockit.log()).length;
    const capped = new Set();
    const contenders = Object.fromEntries(
      names.map((n) => [
        n,
        async () => {
          // One past the cap is the result for this setting: not worth repeating.
          if (capped.has(n)) return Number.POSITIVE_INFINITY;
          const done = meter(running[n].child.pid);
          const seconds = await download(running[n].port, setting, dest);
          const measured = done();
          cpu[n] += measured.cpu;
          peaks[n] = Math.max(peaks[n], measured.peak);
          if (!Number.isFinite(seconds)) capped.add(n);
          return seconds;
        },
      ]),
    );
    const results = await interleave(contenders, { rounds: RUNS });
    // The warm-up's CPU counted too: per download over RUNS + 1.
    for (const n of names) {
      const times = results[n];
      const s = spread(times.filter(Number.isFinite));
      const seconds = times.every(Number.isFinite) ? s.median : null;
      const row = { server: n, ...key(setting), granted: got[n], seconds, times };
      row.mbPerSecond = seconds === null ? 0 : Math.round((SIZE / 1e6 / seconds) * 10) / 10;
      row.cpuSecondsPerDownload = Math.round((cpu[n] / (RUNS + 1)) * 100) / 100;
      if (n === 'sockit') {
        row.retransmitsPerDownload = sum(retransmits(running.sockit.log()).slice(before)) / (RUNS + 1);
      }
      rows.push(row);
      console.log(
        `  ${n} blksize ${setting.blksize} windowsize ${setting.windowsize}: ` +
          `${seconds === null ? `over ${CAP}` : seconds.toFixed(2)} s (${times.map((t) => (Number.isFinite(t) ? t.toFixed(2) : 'cap')).join(' ')}), ` +
          `server CPU ${row.cpuSecondsPerDownload} s` +
          (row.retransmitsPerDownload === undefined ? '' : `, ${row.retransmitsPerDownload} retransmits`),
      );
    }
    // sockit's throughput over the fastest C server's, round by round.
    const cNames = names.filter((n) => n !== 'sockit');
    const perRound = results.sockit.map((t, i) => Math.min(...cNames.map((c) => results[c][i])) / t);
    const ours = rows.find(
      (r) => r.server === 'sockit' && r.blksize === setting.blksize && r.windowsize === setting.windowsize,
    );
    if (ours) {
      const s = spread(perRound.filter(Number.isFinite));
      ours.vsFastestCRounds = perRound;
      ours.vsFastestC = perRound.some(Number.isFinite) ? Math.round(s.median * 100) / 100 : null;
      ours.vsFastestCSpread = perRound.some(Number.isFinite) ? [s.min, s.max] : null;
    }
  }
  for (const n of Object.keys(running)) servers[n] = { peakRssMiB: Math.round((peaks[n] / 1024) * 10) / 10 };
  if (MEMORY) {
    for (const n of Object.keys(running)) {
      const one = await memoryUnder(running[n], 1, 'bench.bin', SIZE);
      const many = await memoryUnder(running[n], CONCURRENT, 'memory.bin', MEMORY_FILE_SIZE);
      servers[n].memory = { one, many, count: CONCURRENT };
    }
  }
} finally {
  for (const r of Object.values(running)) await stop(r.child);
  rmSync(dir, { recursive: true, force: true });
}

const table = [];
const time = (r) => r.seconds ?? Number.POSITIVE_INFINITY;
for (const setting of settings) {
  const at = rows.filter((r) => r.blksize === setting.blksize && r.windowsize === setting.windowsize);
  const ours = at.find((r) => r.server === 'sockit');
  const fastestC = at.filter((r) => r.server !== 'sockit').sort((a, b) => time(a) - time(b))[0];
  const line = { setting: `blksize ${setting.blksize}, windowsize ${setting.windowsize}` };
  for (const r of at) {
    const g = r.granted;
    const asked = g.blksize === r.blksize && g.windowsize === r.windowsize;
    line[r.server] =
      (r.seconds === null
        ? `over ${CAP} s`
        : `${r.seconds.toFixed(2)} s ${r.mbPerSecond} MB/s (CPU ${r.cpuSecondsPerDownload} s)`) +
      (asked ? '' : ` [granted ${g.blksize}x${g.windowsize}]`);
  }
  if (!ours || ours.vsFastestC === null || ours.vsFastestC === undefined) line['sockit / fastest C'] = 'n/a';
  else {
    const [lo, hi] = ours.vsFastestCSpread;
    line['sockit / fastest C'] =
      `${ours.vsFastestC.toFixed(2)}x (${lo.toFixed(2)}-${hi.toFixed(2)}; vs ${fastestC?.server ?? '?'})`;
  }
  table.push(line);
}
console.table(table);
for (const r of rows.filter((row) => row.seconds === null)) {
  console.log(
    `note: ${r.server} at blksize ${r.blksize} x windowsize ${r.windowsize} took over ${CAP} s: a window that ` +
      "overflows the atftp client's default socket receive buffer (net.core.rmem_default) loses its last " +
      'blocks, and the transfer waits out a retransmission timeout each time (see atftp --trace).',
  );
}
console.log(
  "sockit / fastest C is throughput (the fastest C server's time over sockit's, in each round), as the median over the rounds (min-max): above 1 sockit is faster, below 1 slower.",
);
if (settings.length > 0) {
  console.table(
    Object.entries(servers).map(([server, s]) => ({
      server,
      'peak RSS (VmHWM) MiB': s.peakRssMiB,
    })),
  );
}
if (MEMORY) {
  const mib = (kib) => Math.round((kib / 1024) * 10) / 10;
  console.table(
    Object.entries(servers).map(([server, { memory: m }]) => ({
      server,
      'idle Pss MiB': mib(m.one.idle),
      'peak, 1 download': mib(m.one.peak),
      [`peak, ${m.count} at once`]: mib(m.many.peak),
      'after they ended': mib(m.many.after),
      'most transfers at once (sockets)': m.many.concurrent,
      'KiB per transfer at the peak': Math.round(
        (m.many.peak - m.many.idle) / Math.max(1, m.many.concurrent),
      ),
    })),
  );
  console.log(
    `memory: Pss of each server's processes (in.tftpd forks one per transfer), sampled every 50 ms; ${CONCURRENT} atftp clients ` +
      `at once, blksize 1468, ${MEMORY_FILE_SIZE / 1024 / 1024} MiB each.`,
  );
}
if (values.json) {
  writeFileSync(
    values.json,
    `${JSON.stringify({ date: new Date().toISOString(), size: SIZE, rows, servers }, null, 2)}\n`,
  );
}
