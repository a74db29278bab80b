#!/usr/bin/env node
/**
 * Chat benchmark: one room, N clients (1000), 10 of them senders, 100-byte messages, the load
 * generator (bench/chat/load.mjs) in a process of its own, in one run against
 *   - sockit's IRC transport and ngircd (Debian's ngircd, on its IRC port) with the same IRC
 *     load;
 *   - sockit's WebSocket transport (ws://127.0.0.1:PORT/chat/ws, the native protocol's JSON)
 *     and a plain Socket.IO 4 server (bench/chat/socketio-server.mjs) driven by
 *     socket.io-client over its websocket transport.
 * For each, the highest offered rate that keeps p99 latency <= 100 ms with >= 99% delivered
 * (see load.mjs for a step and the search), the deliveries/s there, the server's CPU time per
 * delivery (utime + stime from /proc; on two cores the load generator shares the machine)
 * and its peak resident memory (VmHWM). Contenders are interleaved: each round measures each
 * once, a fresh server each time, in an order rotated from round to round; ratios are taken
 * within a round. Goals: sockit IRC >= 1.0x ngircd's deliveries/s, sockit WebSocket >= 3x
 * Socket.IO's.
 *
 * sockit runs as `sockit chat serve`, the command, with the per-client rate limit raised
 * (`--burst 1000 --rate 1000`), since its default (2 messages/s per client) caps 10 senders at
 * 20 messages/s. A short check after the rounds runs the command with its defaults
 * (`--cli-check 0` skips it).
 *
 * Needs ngircd (apt-get install -y ngircd, or scripts/interop-tools.sh) and a build.
 *
 * usage: node bench/chat/run.mjs [--clients 1000] [--rounds 3] [--duration 4] [--warmup 1]
 *          [--only sockit-irc,ngircd,sockit-ws,socketio] [--cli-check 12] [--json FILE]
 */
import { execFileSync, spawn } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { interleave, ratios, spread } from '../lib/interleave.mjs';

const here = import.meta.dirname;
const root = path.resolve(here, '../..');
const cli = path.join(root, 'dist/cli/main.cjs');
const { values } = parseArgs({
  options: {
    clients: { type: 'string', default: '1000' },
    senders: { type: 'string', default: '10' },
    size: { type: 'string', default: '100' },
    rounds: { type: 'string', default: '3' },
    warmup: { type: 'string', default: '1' },
    duration: { type: 'string', default: '4' },
    grace: { type: 'string', default: '2' },
    start: { type: 'string', default: '50' },
    bisect: { type: 'string', default: '3' },
    burst: { type: 'string', default: '1000' },
    rate: { type: 'string', default: '1000' },
    only: { type: 'string' },
    'cli-check': { type: 'string', default: '12' },
    json: { type: 'string' },
  },
});
const CLIENTS = Number(values.clients);
const CONNECTION_LIMITS = [
  '--max-connections',
  String(CLIENTS + 1000),
  '--max-per-address',
  String(CLIENTS + 1000),
];

/** ngircd as scripts/interop-tools.sh unpacks it, else an installed one. */
function findNgircd() {
  const dirs = [path.join(root, '.tools/interop/ngircd/usr/sbin'), ...(process.env.PATH ?? '').split(':')];
  for (const dir of [...dirs, '/usr/sbin', '/usr/local/sbin']) {
    const candidate = path.join(dir, 'ngircd');
    if (dir && existsSync(candidate)) return candidate;
  }
  return undefined;
}
const NGIRCD = findNgircd();
if (!NGIRCD) {
  console.error(
    'ngircd is not installed: the chat benchmark measures it. Unpack it with\n' +
      '  scripts/interop-tools.sh          (into .tools/interop/ngircd, no service started)\n' +
      'or install it with\n' +
      '  sudo apt-get install -y ngircd    (Debian/Ubuntu; starts a daemon on port 6667)',
  );
  process.exit(1);
}
if (!existsSync(cli)) {
  console.error(`${cli} is missing: run "npm run build" first (or npm run bench:chat)`);
  process.exit(1);
}

/** A free TCP port on 127.0.0.1 (for ngircd, which cannot be told to pick one). */
function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

/**
 * Starts a server; resolves once `ready(text)` finds what it needs in its output (stdout and
 * stderr together) with `{ child, info, log }`; `log()` is all it printed so far.
 */
function startServer(command, args, ready, options = {}) {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'], ...options });
    let text = '';
    let done = false;
    const onData = (d) => {
      text += d.toString();
      if (done) return;
      const info = ready(text);
      if (info) {
        done = true;
        resolve({ child, info, log: () => text });
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.once('exit', (code) => {
      if (!done) reject(new Error(`${command} exited with ${code}: ${text}`));
    });
    setTimeout(() => {
      if (!done) {
        child.kill('SIGKILL');
        reject(new Error(`${command} did not start: ${text}`));
      }
    }, 15_000).unref();
  });
}

async function stopServer(child) {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
  await exited;
  clearTimeout(timer);
}

const jsonLine = (text) => {
  const line = text.split('\n').find((l) => l.startsWith('{"port"'));
  return line ? JSON.parse(line) : undefined;
};

/** `sockit chat serve` with the rate limit raised for the load. */
function startSockit(dir) {
  return startSockitCli(dir, ['--burst', values.burst, '--rate', values.rate]);
}

/** `sockit chat serve` as a user runs it, plus `extra` flags. */
async function startSockitCli(dir, extra = []) {
  const listening = (text) => {
    const lines = text
      .split('\n')
      .filter((l) => l.includes('listening on'))
      .map((l) => JSON.parse(l));
    const chat = lines.find((l) => l.service === 'chat');
    const irc = lines.find((l) => l.service === 'irc');
    return chat && irc ? { port: chat.port, ircPort: irc.port } : undefined;
  };
  const args = [
    cli,
    '--log-format',
    'json',
    'chat',
    'serve',
    '--host',
    '127.0.0.1',
    '--port',
    '0',
    '--irc-port',
    '0',
    '--no-udp',
    '--data-dir',
    dir,
    ...CONNECTION_LIMITS,
    ...extra,
  ];
  const started = await startServer(process.execPath, args, listening);
  return { ...started, ports: started.info };
}

/** The ngircd configuration the benchmark uses; see docs/benchmarks.md for why each line. */
function ngircdConfig(dir, port) {
  return `[Global]
\tName = bench.ngircd
\tInfo = sockit chat benchmark
\tAdminInfo1 = sockit chat benchmark
\tAdminInfo2 = loopback only
\tAdminEMail = bench@localhost
\tListen = 127.0.0.1
\tPorts = ${port}
\tMotdPhrase = bench
\tPidFile = ${dir}/ngircd.pid
[Limits]
\tMaxConnections = 0
\tMaxConnectionsIP = 0
\tMaxJoins = 0
\tMaxPenaltyTime = 0
\tPingTimeout = 600
\tPongTimeout = 120
[Options]
\tIncludeDir = ${dir}/conf.d
\tDNS = no
\tIdent = no
\tPAM = no
`;
}

async function startNgircd(dir) {
  const port = await freePort();
  // ngircd started as root runs as nobody: its pid file must be writable by that user.
  chmodSync(dir, 0o777);
  mkdirSync(path.join(dir, 'conf.d'));
  writeFileSync(path.join(dir, 'ngircd.conf'), ngircdConfig(dir, port));
  const started = await startServer(
    NGIRCD,
    ['--nodaemon', '--config', path.join(dir, 'ngircd.conf')],
    (text) => (text.includes('Now listening on') ? { port } : undefined),
  );
  return { ...started, ports: { port } };
}

/** Runs the load generator against a started server; resolves with its result. */
function runLoad(proto, port, pid, extra = []) {
  return new Promise((resolve, reject) => {
    const args = [
      path.join(here, 'load.mjs'),
      '--proto',
      proto,
      '--port',
      String(port),
      '--pid',
      String(pid),
      '--clients',
      values.clients,
      '--senders',
      values.senders,
      '--size',
      values.size,
      '--warmup',
      values.warmup,
      '--duration',
      values.duration,
      '--grace',
      values.grace,
      '--bisect',
      values.bisect,
      ...extra,
    ];
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (d) => {
      out += d.toString();
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), 600_000);
    child.once('exit', (code) => {
      clearTimeout(timer);
      const lines = out
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l));
      const result = lines.find((l) => l.result)?.result;
      if (code !== 0 || !result) reject(new Error(`load generator exited with ${code}: ${out.slice(-2000)}`));
      else resolve(result);
    });
  });
}

/** What a server logged that was not routine: sockit's warnings and errors, ngircd's <= 4. */
function complaints(name, text) {
  const out = new Map();
  for (const line of text.split('\n')) {
    let key;
    if (name.startsWith('sockit')) {
      if (!line.startsWith('{')) continue;
      try {
        const entry = JSON.parse(line);
        if (entry.level >= 40) key = entry.msg;
      } catch {
        key = line.slice(0, 120);
      }
    } else if (name === 'ngircd') {
      const m = /^\[\d+:([0-4]) +\d+\] (.*)$/.exec(line);
      if (m) key = m[2].replace(/\d+/g, 'N');
    } else if (line.trim() && !line.startsWith('{"port"')) key = line.slice(0, 120);
    if (key) out.set(key, (out.get(key) ?? 0) + 1);
  }
  return Object.fromEntries(out);
}

const contenders = {
  'sockit-irc': {
    label: 'sockit IRC',
    proto: 'irc',
    start: (dir) => startSockit(dir),
    port: (p) => p.ircPort,
  },
  ngircd: { label: 'ngircd', proto: 'irc', start: startNgircd, port: (p) => p.port },
  'sockit-ws': {
    label: 'sockit WebSocket',
    proto: 'ws',
    start: (dir) => startSockit(dir),
    port: (p) => p.port,
  },
  socketio: {
    label: 'Socket.IO 4',
    proto: 'sio',
    start: () =>
      startServer(process.execPath, [path.join(here, 'socketio-server.mjs')], jsonLine).then((s) => ({
        ...s,
        ports: s.info,
      })),
    port: (p) => p.port,
  },
};
const chosen = values.only ? values.only.split(',') : Object.keys(contenders);
for (const name of chosen) if (!contenders[name]) throw new Error(`unknown contender ${name}`);

const runs = Object.fromEntries(chosen.map((n) => [n, []]));

async function measure(name, extra = [], start = contenders[name].start) {
  const c = contenders[name];
  const dir = mkdtempSync(path.join(os.tmpdir(), 'sockit-bench-chat-'));
  const server = await start(dir);
  try {
    const t0 = Date.now();
    const result = await runLoad(c.proto, c.port(server.ports), server.child.pid, extra);
    result.seconds = (Date.now() - t0) / 1000;
    result.complaints = complaints(name, server.log());
    result.exitedEarly = server.child.exitCode !== null;
    return result;
  } finally {
    await stopServer(server.child);
    rmSync(dir, { recursive: true, force: true });
  }
}

const fmt = (n, digits = 0) =>
  n === null || n === undefined ? '-' : n.toLocaleString('en-US', { maximumFractionDigits: digits });

console.log(
  `chat benchmark: ${values.clients} clients in one room, ${values.senders} senders, ${values.size}-byte messages, ` +
    `p99 <= 100 ms and >= 99% delivered; ${values.warmup} s warm-up + ${values.duration} s per step; ` +
    `node ${process.version}, ${execFileSync('nproc').toString().trim()} cores, ${execFileSync(NGIRCD, ['--version']).toString().split('\n')[0]}`,
);

const bench = Object.fromEntries(
  chosen.map((name) => [
    name,
    async () => {
      const previous = runs[name].at(-1)?.best?.rate;
      const start = previous ? Math.max(10, Math.round(previous / 2)) : Number(values.start);
      const result = await measure(name, ['--start', String(start)]);
      runs[name].push(result);
      const b = result.best;
      console.log(
        `  ${contenders[name].label}: max ${fmt(b?.rate)} msg/s = ${fmt(b?.deliveriesPerSecond)} deliveries/s ` +
          `(p50 ${fmt(b?.p50ms, 2)} ms, p99 ${fmt(b?.p99ms, 2)} ms, ${fmt((b?.deliveredFraction ?? 0) * 100, 2)}% delivered, ` +
          `server CPU ${fmt(b?.serverCpuShare * 100)}%, ${fmt(b?.serverCpuUsPerDelivery, 2)} us and ${fmt(b?.serverWritesPerDelivery, 3)} write calls per delivery, ` +
          `load generator CPU ${fmt(b?.loadCpuShare * 100)}%); ` +
          `steps ${result.steps.map((s) => `${s.rate}${s.pass ? '+' : '-'}`).join(' ')}; peak RSS ${fmt(result.serverPeakKiB / 1024, 1)} MiB; ` +
          `${result.seconds.toFixed(0)} s`,
      );
      return b?.deliveriesPerSecond ?? 0;
    },
  ]),
);

if (Number(values.rounds) < 1) throw new Error('--rounds must be 1 or more');
const perRound = await interleave(bench, {
  rounds: Number(values.rounds),
  warmup: 0,
  onRound: (r) => console.log(`round ${r + 1} done`),
});

const rows = chosen.map((name) => {
  const list = runs[name];
  const rates = list.map((r) => r.best?.rate ?? 0);
  const medianIndex = (() => {
    const sorted = [...rates].map((v, i) => [v, i]).sort((a, b) => a[0] - b[0]);
    return sorted[Math.floor((sorted.length - 1) / 2)][1];
  })();
  const mid = list[medianIndex].best ?? {};
  return {
    name,
    label: contenders[name].label,
    rates,
    deliveries: perRound[name],
    median: spread(perRound[name]).median,
    mid,
    cpuUs: list.map((r) => r.best?.serverCpuUsPerDelivery ?? null),
    peakMiB: Math.max(...list.map((r) => r.serverPeakKiB)) / 1024,
    rssAfterConnectMiB: Math.max(...list.map((r) => r.serverRssAfterConnectKiB)) / 1024,
    complaints: list.map((r) => r.complaints),
    closed: list.map((r) => r.totals.closed),
  };
});

console.log('\nper round, max sustained messages/s (deliveries/s):');
console.table(
  Object.fromEntries(
    rows.map((r) => [
      r.label,
      Object.fromEntries(r.rates.map((rate, i) => [`round ${i + 1}`, `${rate} (${fmt(r.deliveries[i])})`])),
    ]),
  ),
);
console.table(
  rows.map((r) => ({
    server: r.label,
    'max msg/s (median)': spread(r.rates).median,
    'deliveries/s (median)': Math.round(r.median),
    'p50 ms': r.mid.p50ms,
    'p99 ms': r.mid.p99ms,
    'delivered %': r.mid.deliveredFraction === undefined ? '-' : (r.mid.deliveredFraction * 100).toFixed(2),
    'server CPU %': r.mid.serverCpuShare === undefined ? '-' : Math.round(r.mid.serverCpuShare * 100),
    'server us/delivery': r.mid.serverCpuUsPerDelivery,
    'writes/delivery': r.mid.serverWritesPerDelivery,
    'load gen CPU %': r.mid.loadCpuShare === undefined ? '-' : Math.round(r.mid.loadCpuShare * 100),
    'peak RSS MiB': Number(r.peakMiB.toFixed(1)),
    'RSS after connect MiB': Number(r.rssAfterConnectMiB.toFixed(1)),
  })),
);

const goals = [];
function ratio(a, b, goal) {
  if (!runs[a] || !runs[b]) return;
  const per = ratios(perRound[a], perRound[b]);
  const s = spread(per);
  const cpu = ratios(
    runs[b].map((r) => r.best?.serverCpuUsPerDelivery ?? Number.NaN),
    runs[a].map((r) => r.best?.serverCpuUsPerDelivery ?? Number.NaN),
  );
  const line = {
    what: `${contenders[a].label} / ${contenders[b].label}`,
    perRound: per.map((v) => Number(v.toFixed(2))),
    median: Number(s.median.toFixed(2)),
    min: Number(s.min.toFixed(2)),
    max: Number(s.max.toFixed(2)),
    cpuEfficiencyPerRound: cpu.map((v) => Number(v.toFixed(2))),
    goal,
    met: s.median >= goal,
  };
  goals.push(line);
  console.log(
    `${line.what}: deliveries/s ${line.median}x (min-max ${line.min}-${line.max}; rounds ${line.perRound.join(', ')}); ` +
      `deliveries per server CPU-second ${line.cpuEfficiencyPerRound.join(', ')}x; goal >= ${goal}x: ${line.met ? 'MET' : 'NOT MET'}`,
  );
}
console.log('');
ratio('sockit-irc', 'ngircd', 1.0);
ratio('sockit-ws', 'socketio', 3.0);

for (const r of rows) {
  const seen = r.complaints.filter((c) => Object.keys(c).length > 0);
  if (seen.length > 0 || r.closed.some((n) => n > 0)) {
    console.log(
      `${r.label}: clients dropped per round ${r.closed.join(', ')}; logged: ${JSON.stringify(seen)}`,
    );
  }
}

// The command as a user starts it: its default rate limit (burst 20, then 1 per 500 ms per
// session) against 10 senders at 2 and 6 messages/s each.
let cliCheck;
const checkSeconds = Number(values['cli-check']);
if (checkSeconds > 0 && chosen.includes('sockit-irc')) {
  console.log(`\nsockit chat serve (the command, default rate limits), IRC, ${checkSeconds} s steps:`);
  cliCheck = await measure(
    'sockit-irc',
    ['--rates', '20,60', '--duration', String(checkSeconds)],
    startSockitCli,
  );
  for (const s of cliCheck.steps) {
    console.log(
      `  offered ${s.rate} msg/s: ${fmt(s.deliveriesPerSecond)} deliveries/s, ${(s.deliveredFraction * 100).toFixed(2)}% delivered, ` +
        `p99 ${fmt(s.p99ms, 2)} ms, ${s.refused} refusals (RPL_TRYAGAIN), ${s.closed} clients dropped: ${s.pass ? 'sustained' : 'NOT sustained'}`,
    );
  }
}

if (values.json) {
  writeFileSync(
    values.json,
    `${JSON.stringify({ date: new Date().toISOString(), node: process.version, options: values, runs, goals, cliCheck }, null, 2)}\n`,
  );
}
