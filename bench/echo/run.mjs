#!/usr/bin/env node
/**
 * Echo benchmark: sockit's three concurrency models against a minimal C epoll echo server
 * (built here with gcc) and a bare Node `net` echo, all measured in one run with the same
 * load: `sockit echo bench`, 100 connections, 64-byte messages, closed loop.
 *
 * On two cores the load generator can saturate before a fast server does, so besides
 * messages/s each server's own CPU time (utime+stime of its process and its children, from
 * /proc) is read before and after the load; the fair comparison is messages per server
 * CPU-second, reported as a ratio to the C server.
 *
 * All servers run at once; each round loads every server once (--duration seconds each), in an
 * order rotated from round to round, after a warm-up round, and the ratios to the C server are
 * taken within each round (median and range over --rounds rounds).
 *
 * usage: node bench/echo/run.mjs [--duration S] [--rounds N] [--connections N] [--size B] [--json FILE]
 */
import { execFileSync, spawn } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { interleave, ratios, spread } from '../lib/interleave.mjs';

const here = import.meta.dirname;
const root = path.resolve(here, '../..');
const cli = path.join(root, 'dist/cli/main.cjs');
const { values } = parseArgs({
  options: {
    duration: { type: 'string', default: '5' },
    rounds: { type: 'string', default: '3' },
    connections: { type: 'string', default: '100' },
    size: { type: 'string', default: '64' },
    json: { type: 'string' },
  },
});

const ROUNDS = Number(values.rounds);
const TICKS = Number(execFileSync('getconf', ['CLK_TCK']).toString().trim());

function cpuSeconds(pid) {
  // Fields after the command name: state is field 3; utime and stime are fields 14 and 15.
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / TICKS;
}

function children(pid) {
  const out = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === pid) out.push(Number(entry));
    } catch {
      // the process ended while we looked
    }
  }
  return out;
}

/** CPU seconds of a process and all its descendants (cluster workers). */
function treeCpu(pid) {
  let total = cpuSeconds(pid);
  for (const child of children(pid)) total += treeCpu(child);
  return total;
}

/** Starts a server; resolves with its process and port once it says where it listens. */
function startServer(command, args, readPort) {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let text = '';
    const onData = (d) => {
      text += d.toString();
      const port = readPort(text);
      if (port) resolve({ child, port });
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.once('exit', (code) => reject(new Error(`${command} exited with ${code}: ${text}`)));
    setTimeout(() => reject(new Error(`${command} did not start: ${text}`)), 15_000).unref();
  });
}

const firstLinePort = (text) => (/^(\d+)\n/.exec(text) ? Number(/^(\d+)\n/.exec(text)[1]) : 0);
const sockitPort = (expect) => (text) => {
  const lines = text.split('\n').filter((l) => l.includes('listening on'));
  if (lines.length < expect) return 0;
  return JSON.parse(lines[0]).port;
};

function load(port) {
  const out = execFileSync(
    process.execPath,
    [
      cli,
      'echo',
      'bench',
      `127.0.0.1:${port}`,
      '-c',
      values.connections,
      '-s',
      values.size,
      '-d',
      values.duration,
      '--json',
    ],
    { timeout: (Number(values.duration) + 60) * 1000 },
  );
  return JSON.parse(out.toString());
}

/** One load on a running server: messages/s, latency, and its CPU for those messages. */
function measure(name, server) {
  const cpuBefore = treeCpu(server.child.pid);
  const result = load(server.port);
  const cpu = treeCpu(server.child.pid) - cpuBefore;
  return {
    server: name,
    messages: result.messages,
    messagesPerSecond: result.messagesPerSecond,
    p50ms: result.latencyMs.p50,
    p99ms: result.latencyMs.p99,
    serverCpuSeconds: cpu,
    messagesPerCpuSecond: result.messages / cpu,
  };
}

const buildDir = path.join(here, 'build');
mkdirSync(buildDir, { recursive: true });
const cServer = path.join(buildDir, 'epoll_echo');
execFileSync('gcc', ['-O2', '-o', cServer, path.join(here, 'epoll_echo.c')]);

const sockitServe =
  (model, extra = []) =>
  () =>
    startServer(
      process.execPath,
      [
        cli,
        '--log-format',
        'json',
        'echo',
        'serve',
        '--tcp',
        '--host',
        '127.0.0.1',
        '--port',
        '0',
        '--model',
        model,
        ...extra,
      ],
      sockitPort(1),
    );

const runs = [
  ['c-epoll', () => startServer(cServer, ['127.0.0.1', '0'], firstLinePort)],
  [
    'node-bare-net',
    () => startServer(process.execPath, [path.join(here, 'node_bare_echo.mjs')], firstLinePort),
  ],
  ['sockit event-loop', sockitServe('event-loop')],
  ['sockit cluster (2 workers)', sockitServe('cluster', ['--workers', '2'])],
  ['sockit iterative', sockitServe('iterative')],
];

console.log(
  `echo benchmark: ${values.connections} connections, ${values.size}-byte messages, ${values.duration} s per load, ${ROUNDS} interleaved rounds, ` +
    `node ${process.version}, ${execFileSync('nproc').toString().trim()} cores`,
);
// Every server runs at once (idle while another is loaded); each round loads every server
// once, in an order rotated from round to round, after a warm-up round (bench/lib/
// interleave.mjs), and the ratios to the C server are taken within each round.
const servers = {};
let rows = [];
try {
  for (const [name, start] of runs) servers[name] = await start();
  const measured = Object.fromEntries(runs.map(([name]) => [name, []]));
  await interleave(
    Object.fromEntries(
      runs.map(([name]) => [
        name,
        () => {
          const row = measure(name, servers[name]);
          measured[name].push(row);
          return row.messagesPerSecond;
        },
      ]),
    ),
    {
      rounds: ROUNDS,
      onRound: (r) =>
        console.log(
          `  round ${r + 1}: ${runs.map(([n]) => `${n} ${Math.round(measured[n].at(-1).messagesPerSecond)}`).join(' | ')} msg/s`,
        ),
    },
  );
  // The warm-up round's loads come first in each list.
  for (const name of Object.keys(measured)) measured[name] = measured[name].slice(-ROUNDS);
  rows = runs.map(([name]) => {
    const list = measured[name];
    const c = measured['c-epoll'];
    const perSecond = spread(
      ratios(
        list.map((m) => m.messagesPerSecond),
        c.map((m) => m.messagesPerSecond),
      ),
    );
    const perCpu = spread(
      ratios(
        list.map((m) => m.messagesPerCpuSecond),
        c.map((m) => m.messagesPerCpuSecond),
      ),
    );
    const med = (f) => spread(list.map(f)).median;
    return {
      server: name,
      messagesPerSecond: Math.round(med((m) => m.messagesPerSecond)),
      p50ms: med((m) => m.p50ms),
      p99ms: med((m) => m.p99ms),
      serverCpuSeconds: Math.round(med((m) => m.serverCpuSeconds) * 100) / 100,
      cpuSecondsPerMillion: Math.round(med((m) => (m.serverCpuSeconds / m.messages) * 1e6) * 100) / 100,
      messagesPerCpuSecond: Math.round(med((m) => m.messagesPerCpuSecond)),
      vsC_messagesPerSecond: Math.round(perSecond.median * 100) / 100,
      vsC_messagesPerSecondRange: [perSecond.min, perSecond.max].map((x) => Math.round(x * 100) / 100),
      vsC_messagesPerCpuSecond: Math.round(perCpu.median * 100) / 100,
      vsC_messagesPerCpuSecondRange: [perCpu.min, perCpu.max].map((x) => Math.round(x * 100) / 100),
    };
  });
} finally {
  for (const s of Object.values(servers)) {
    s.child.kill('SIGTERM');
    await new Promise((resolve) => (s.child.exitCode === null ? s.child.once('exit', resolve) : resolve()));
  }
}
console.table(
  rows.map((r) => ({
    server: r.server,
    'msg/s': r.messagesPerSecond,
    'p50 ms': r.p50ms,
    'p99 ms': r.p99ms,
    'server CPU s': r.serverCpuSeconds,
    'CPU s / 1M msg': r.cpuSecondsPerMillion,
    'msg / CPU s': r.messagesPerCpuSecond,
    'x C (msg/s), per round': `${r.vsC_messagesPerSecond} (${r.vsC_messagesPerSecondRange.join('-')})`,
    'x C (msg/CPU s), per round': `${r.vsC_messagesPerCpuSecond} (${r.vsC_messagesPerCpuSecondRange.join('-')})`,
  })),
);
const eventLoop = rows.find((r) => r.server === 'sockit event-loop');
const goal = 0.6;
console.log(
  `goal: sockit event-loop >= ${goal}x the C server's messages per CPU-second: ` +
    `${eventLoop.vsC_messagesPerCpuSecond}x ${eventLoop.vsC_messagesPerCpuSecond >= goal ? 'MET' : 'NOT MET'}`,
);
if (values.json)
  writeFileSync(values.json, `${JSON.stringify({ date: new Date().toISOString(), rows }, null, 2)}\n`);
