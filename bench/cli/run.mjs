#!/usr/bin/env node
/**
 * Start-up benchmark: how long short `sockit` commands take, whole (process start to exit),
 * against `node -e 0` with the same Node, interleaved (every round runs each command once,
 * order rotated; see bench/lib/interleave.mjs). The goal: `sockit --version`,
 * `sockit ip 10.1.2.3/20` and `sockit ports` each within 1.3x of `node -e 0`.
 *
 * sockit runs as a user runs it: the launcher .tools/bin/sockit that set-up writes (a Node
 * script with Node's path in its #! line that runs dist/cli/main.cjs, or where that
 * cannot be written a sh script exec-ing Node on it: scripts/launcher.sh), or
 * dist/cli/main.cjs directly with --direct.
 * The first round is a warm-up (Node's compile cache for sockit is filled on first run).
 * `ss -tuanp`, when installed, runs too, for reference: it reads the /proc tables that
 * `sockit ports` reads.
 *
 * usage: node bench/cli/run.mjs [--rounds N] [--direct] [--compare OTHER/dist/cli/main.cjs] [--json FILE]
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { interleave, ratios, spread } from '../lib/interleave.mjs';

const root = path.resolve(import.meta.dirname, '../..');
const { values } = parseArgs({
  options: {
    rounds: { type: 'string', default: '30' },
    direct: { type: 'boolean', default: false },
    json: { type: 'string' },
    // Another build's dist/cli/main.cjs (e.g. an older commit's), timed alongside: an A/B.
    compare: { type: 'string' },
  },
});
const GOAL = 1.3;
const launcher = path.join(root, '.tools/bin/sockit');
const main = path.join(root, 'dist/cli/main.cjs');
const sockit = !values.direct && existsSync(launcher) ? [launcher] : [process.execPath, main];

const commands = {
  'node -e 0': [process.execPath, '-e', '0'],
  'sockit --version': [...sockit, '--version'],
  'sockit ip 10.1.2.3/20': [...sockit, 'ip', '10.1.2.3/20'],
  'sockit ports': [...sockit, 'ports'],
};
// What `sockit ports` stands in for, reading the same /proc tables (for reference, no goal).
const ss = spawnSync('sh', ['-c', 'command -v ss'], { encoding: 'utf8' }).stdout.trim();
if (ss) commands['ss -tuanp'] = [ss, '-tuanp'];
if (values.compare) {
  for (const args of [['--version'], ['ip', '10.1.2.3/20'], ['ports']]) {
    commands[`compared ${args.join(' ')}`] = [process.execPath, path.resolve(values.compare), ...args];
  }
}

// CPU time (user + system) of each command, from GNU time when installed: on a busy machine
// wall time mostly measures the waiting for a core, CPU time what the command itself costs.
const GNU_TIME = '/usr/bin/time';
const haveTime = existsSync(GNU_TIME);

/** One run: wall milliseconds, and CPU milliseconds when GNU time is there. */
function timed([file, ...args]) {
  const argv = haveTime ? [GNU_TIME, '-f', 'cpu %U %S', file, ...args] : [file, ...args];
  const start = process.hrtime.bigint();
  const run = spawnSync(argv[0], argv.slice(1), { stdio: ['ignore', 'ignore', 'pipe'], encoding: 'utf8' });
  const wall = Number(process.hrtime.bigint() - start) / 1e6;
  if (run.status !== 0) throw new Error(`${file} ${args.join(' ')} exited ${run.status}: ${run.stderr}`);
  const cpu = /cpu (\S+) (\S+)\s*$/.exec(run.stderr);
  return { wall, cpu: cpu ? (Number(cpu[1]) + Number(cpu[2])) * 1000 : Number.NaN };
}

/**
 * What `sockit ports` (and `ss -tuanp`) has to read, which changes its time from hour to hour:
 * the sockets in the /proc/net tables (more than ~25 TCP sockets, a test run's TIME-WAITs,
 * make a second page of /proc/net/tcp to read) and the open descriptors of every process
 * (a readlink each).
 */
function machineLoad() {
  const lines = (file) => {
    try {
      return readFileSync(file, 'latin1')
        .split('\n')
        .filter((l) => /^\s*\d+:/.test(l)).length;
    } catch {
      return 0;
    }
  };
  let descriptors = 0;
  let processes = 0;
  for (const pid of readdirSync('/proc').filter((n) => /^\d+$/.test(n))) {
    try {
      descriptors += readdirSync(`/proc/${pid}/fd`).length;
      processes++;
    } catch {
      // Gone, or another user's.
    }
  }
  return {
    tcp: lines('/proc/net/tcp') + lines('/proc/net/tcp6'),
    udp: lines('/proc/net/udp') + lines('/proc/net/udp6'),
    processes,
    descriptors,
  };
}

const rounds = Number(values.rounds);
console.log(`node ${process.version}, ${rounds} rounds, sockit run as: ${sockit.join(' ')}`);
const loadBefore = machineLoad();
const results = await interleave(
  Object.fromEntries(Object.entries(commands).map(([name, argv]) => [name, () => timed(argv)])),
  { rounds },
);

const f = (n) => n.toFixed(1);
const r = (n) => n.toFixed(2);
const report = {};
for (const kind of haveTime ? ['wall', 'cpu'] : ['wall']) {
  const base = results['node -e 0'].map((m) => m[kind]);
  console.log(`\n${kind === 'wall' ? 'wall time' : 'CPU time (user + system, 10 ms resolution)'}`);
  console.log(
    `${'command'.padEnd(24)}  median ms (p25-p75)    ratio to node -e 0: median (p25-p75, min-max)`,
  );
  for (const [name, runs] of Object.entries(results)) {
    const ms = runs.map((m) => m[kind]);
    const t = spread(ms);
    const line = `${name.padEnd(24)}  ${f(t.median).padStart(6)} (${f(t.p25)}-${f(t.p75)})`;
    report[name] ??= {};
    if (name === 'node -e 0') {
      console.log(line);
      report[name][kind] = { ms: t };
      continue;
    }
    const q = spread(ratios(ms, base));
    const verdict = !name.startsWith('sockit') ? '' : q.median <= GOAL ? 'meets the goal' : 'misses the goal';
    console.log(
      `${line.padEnd(46)}  ${r(q.median)}x (${r(q.p25)}-${r(q.p75)}, ${r(q.min)}-${r(q.max)})  ${verdict}`,
    );
    report[name][kind] = { ms: t, ratio: q };
  }
}
const loadAfter = machineLoad();
console.log(
  `\nwhat ports reads, before and after: TCP sockets ${loadBefore.tcp} and ${loadAfter.tcp}, UDP ` +
    `${loadBefore.udp} and ${loadAfter.udp}; descriptors ${loadBefore.descriptors} and ` +
    `${loadAfter.descriptors} in ${loadBefore.processes} and ${loadAfter.processes} processes`,
);
if (values.json) {
  const machine = { before: loadBefore, after: loadAfter };
  writeFileSync(
    values.json,
    `${JSON.stringify({ node: process.version, rounds, machine, report }, null, 2)}\n`,
  );
}
