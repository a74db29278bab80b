#!/usr/bin/env node
/**
 * Start-up in instructions: the user-space instructions that `node -e 0` and the short
 * `sockit` commands execute, counted by valgrind's callgrind, with their ratios to `node -e 0`.
 *
 * The goal of bench/cli/run.mjs is in wall time, and wall time here depends on the hour: this
 * machine is a virtual machine whose first touch of a fresh page costs from ~2 to ~27 us
 * (docs/benchmarks.md), so the same build measures 1.2x on one hour and 1.35x on another. An
 * instruction count does not move with the hour, and tells a change of 1 % apart where a
 * timed A/B needs hundreds of rounds. It does not count the kernel's work (the /proc reads
 * of `ports`, page faults) nor waiting, so it is a companion to run.mjs, not the goal.
 *
 * Each count is less V8's search for random primes when a process starts
 * (HashSeed::InitializeRoots with what it calls, 5-17 M instructions that vary from run to
 * run in every process, `node -e 0` included): taking it from both sides of a ratio makes the
 * ratio larger, not smaller. (Taking off only its prime test, `detail::sprp`, left up to
 * 0.5 M of the search's own loop varying with it.) Commands run as a user runs them, through
 * the launcher set-up writes (.tools/bin/sockit, as bench/cli/run.mjs does), or with --direct,
 * or when compared with another build (whose checkout's launcher may differ), as
 * `node --no-concurrent-sparkplug dist/cli/main.cjs ...`, the flag the launcher passes.
 *
 * usage: node bench/cli/instructions.mjs [--rounds N] [--direct] [--compare OTHER/dist/cli/main.cjs]
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { interleave, ratios, spread } from '../lib/interleave.mjs';

const root = path.resolve(import.meta.dirname, '../..');
const { values } = parseArgs({
  options: {
    rounds: { type: 'string', default: '3' },
    direct: { type: 'boolean', default: false },
    compare: { type: 'string' },
  },
});

for (const tool of ['valgrind', 'callgrind_annotate']) {
  if (spawnSync('sh', ['-c', `command -v ${tool}`]).status !== 0) {
    console.error(`instructions: ${tool} is not installed (Debian: apt-get install -y valgrind)`);
    process.exit(1);
  }
}

const main = path.join(root, 'dist/cli/main.cjs');
const launcher = path.join(root, '.tools/bin/sockit');
const FLAG = '--no-concurrent-sparkplug';
const direct = values.direct || values.compare !== undefined || !existsSync(launcher);
const sockit = direct ? [process.execPath, FLAG, main] : [launcher];
const COMMANDS = [['--version'], ['ip', '10.1.2.3/20'], ['ports']];
const contenders = { 'node -e 0': [process.execPath, '-e', '0'] };
for (const args of COMMANDS) contenders[`sockit ${args.join(' ')}`] = [...sockit, ...args];
if (values.compare) {
  for (const args of COMMANDS) {
    contenders[`compared ${args.join(' ')}`] = [
      process.execPath,
      FLAG,
      path.resolve(values.compare),
      ...args,
    ];
  }
}

const scratch = mkdtempSync(path.join(os.tmpdir(), 'sockit-instructions-'));
let runs = 0;

/**
 * Millions of instructions one run of ARGV executes (Node, or a script Node runs), less the
 * hash seed's prime search (HashSeed::InitializeRoots, inclusive of what it calls).
 */
function count(argv) {
  const out = path.join(scratch, `callgrind.${runs++}`);
  const command = argv.join(' ');
  const run = spawnSync('valgrind', ['--tool=callgrind', `--callgrind-out-file=${out}`, ...argv], {
    stdio: ['ignore', 'ignore', 'pipe'],
    encoding: 'utf8',
  });
  if (run.status !== 0) throw new Error(`${command} exited ${run.status}: ${run.stderr.slice(-2000)}`);
  const annotated = spawnSync('callgrind_annotate', ['--inclusive=yes', '--threshold=100', out], {
    encoding: 'utf8',
    maxBuffer: 64 * 1024 * 1024,
  }).stdout;
  rmSync(out, { force: true });
  const number = (line) => Number(line.trim().split(/\s+/)[0].replaceAll(',', ''));
  const lines = annotated.split('\n');
  const total = lines.find((line) => line.includes('PROGRAM TOTALS'));
  if (!total) throw new Error(`no totals from callgrind_annotate for ${command}`);
  // Once per process, not recursive: its inclusive count is the whole search.
  const seed = lines.find((line) => /\bHashSeed::InitializeRoots\(/.test(line));
  if (!seed) throw new Error(`no HashSeed::InitializeRoots in ${command}: another V8?`);
  return (number(total) - number(seed)) / 1e6;
}

try {
  console.log(
    `node ${process.version}, ${values.rounds} rounds, user-space instructions (millions), sockit ${direct ? 'run as node main.cjs' : 'through the launcher'}`,
  );
  const results = await interleave(
    Object.fromEntries(Object.entries(contenders).map(([name, args]) => [name, () => count(args)])),
    { rounds: Number(values.rounds), warmup: 1 },
  );
  const base = results['node -e 0'];
  console.log(`${'command'.padEnd(24)}  median M (min-max)      ratio to node -e 0: median (min-max)`);
  for (const [name, counts] of Object.entries(results)) {
    const c = spread(counts);
    const line = `${name.padEnd(24)}  ${c.median.toFixed(2).padStart(8)} (${c.min.toFixed(2)}-${c.max.toFixed(2)})`;
    if (name === 'node -e 0') {
      console.log(line);
      continue;
    }
    const q = spread(ratios(counts, base));
    console.log(`${line.padEnd(50)}  ${q.median.toFixed(3)}x (${q.min.toFixed(3)}-${q.max.toFixed(3)})`);
  }
} finally {
  rmSync(scratch, { recursive: true, force: true });
}
