#!/usr/bin/env node
/**
 * Remote commands: `sockit exec` against OpenSSH on this machine, interleaved (each round runs
 * every contender once, order rotated; see bench/lib/interleave.mjs), in one run:
 *
 * - whole command, a new connection each time: `sockit exec HOST -- true` against
 *   `ssh HOST true`, process start to exit, log-in included (sockit from its key cache, as a
 *   user's second command runs; ssh with an ed25519 key). Goal: <= 0.5x ssh.
 * - on an open connection, from a Node program: `ExecClient.run(['true'])` against spawning
 *   `ssh` through a ControlMaster socket (ssh's way to skip the log-in). Goal: <= 0.2x.
 * - 1 GiB of stdout: `head -c 1073741824 /dev/zero` through each, to /dev/null, whole command.
 *   Goal: >= 1.0x ssh's throughput.
 * - for reference (no goal): a whole `sockit exec HOST -- true` through a kept connection
 *   (`--keep`) against `ssh` through its ControlMaster; and Node's own `spawn()` of `true`
 *   (to its exit, three pipes) in this process against `ExecClient.run(['true'])`: the floor
 *   under any Node server's command.
 *
 * The bench starts both servers on loopback ports: `sockit exec serve` from dist/, and a
 * private sshd (from scripts/interop-tools.sh's unpacked openssh-server) with generated host
 * and client keys, in a temporary folder; both are stopped at the end.
 *
 * usage: node bench/exec/run.mjs [--rounds N] [--ops N] [--json FILE]
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { interleave, ratios, spread } from '../lib/interleave.mjs';
import { freePort, waitForPort } from '../lib/ports.mjs';
import { startSshd } from '../lib/sshd.mjs';

const root = path.resolve(import.meta.dirname, '../..');
const { values } = parseArgs({
  options: {
    rounds: { type: 'string', default: '9' },
    ops: { type: 'string', default: '50' },
    json: { type: 'string' },
  },
});
const ROUNDS = Number(values.rounds);
const OPS = Number(values.ops);
const CLI = path.join(root, 'dist/cli/main.cjs');
const GIB = 1024 ** 3;
/** Whole commands through a kept connection per round (each ~0.1 s). */
const KEPT_OPS = Math.max(5, Math.round(OPS / 5));

const dir = mkdtempSync(path.join(os.tmpdir(), 'sockit-bench-exec-'));
const env = {
  ...process.env,
  SOCKIT_DATA_DIR: path.join(dir, 'data'),
  SOCKIT_CACHE_DIR: path.join(dir, 'cache'),
  SOCKIT_PASSWORD: 'bench password 1',
};
const children = [];
/** Run first at exit, while the folder is still there. */
const stops = [];
const cleanup = () => {
  for (const stop of stops) stop();
  for (const c of children) c.kill('SIGTERM');
  rmSync(dir, { recursive: true, force: true });
};
process.on('exit', cleanup);

function must(file, args, options = {}) {
  const r = spawnSync(file, args, { encoding: 'utf8', env, ...options });
  if (r.status !== 0) throw new Error(`${file} ${args.join(' ')}: ${r.status} ${r.stderr}`);
  return r.stdout;
}

// The account, with the default 600,000 PBKDF2 iterations: its keys are derived once, by the
// warm-up round, and read from the key cache after that.
must(process.execPath, [CLI, 'users', 'add', 'bench', '-q']);
must(process.execPath, [CLI, 'users', 'grant', 'bench', 'exec', '-q']);
const execPort = await freePort();
children.push(
  spawn(
    process.execPath,
    [
      CLI,
      'exec',
      'serve',
      '--host',
      '127.0.0.1',
      '--port',
      String(execPort),
      '--allow',
      'true',
      '--allow',
      'head',
      '--log-level',
      'warn',
    ],
    { env, stdio: 'ignore' },
  ),
);

// As root, ssh logs in as sockit-bench (see bench/lib/sshd.mjs).
const sshd = await startSshd(dir);
stops.push(sshd.stop);
await waitForPort(execPort);
const control = path.join(dir, 'ctl');
const sshBase = sshd.options;
const sshHost = sshd.host;
const sockitHost = `bench@127.0.0.1:${execPort}`;

/** Wall milliseconds of a whole command, its stdout to /dev/null. */
function whole(file, args, childEnv = env) {
  return new Promise((resolve, reject) => {
    const start = process.hrtime.bigint();
    const child = spawn(file, args, { env: childEnv, stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    child.stderr.on('data', (d) => {
      err += d;
    });
    child.on('close', (code) => {
      if (code !== 0) reject(new Error(`${file} ${args.join(' ')}: exit ${code}: ${err}`));
      else resolve(Number(process.hrtime.bigint() - start) / 1e6);
    });
  });
}

const { ExecClient } = await import(path.join(root, 'dist/exec/client.js'));
const { FileKeyCache } = await import(path.join(root, 'dist/auth/key-cache.js'));
// Its first log-in derives the keys (600,000 iterations) and fills the cache; the timed runs reuse them.
const client = await ExecClient.connect({
  host: '127.0.0.1',
  port: execPort,
  user: 'bench',
  password: env.SOCKIT_PASSWORD,
  keyCache: new FileKeyCache(path.join(env.SOCKIT_CACHE_DIR, 'scram')),
});
// The ssh master for the open-connection runs.
children.push(
  spawn('ssh', [...sshBase, '-M', '-N', '-S', control, '-o', 'ControlPersist=no', sshHost], {
    stdio: 'ignore',
  }),
);
for (
  let i = 0;
  i < 100 && spawnSync('ssh', ['-S', control, '-O', 'check', sshHost], { stdio: 'ignore' }).status !== 0;
  i++
) {
  await new Promise((resolve) => setTimeout(resolve, 50));
}

/** Median milliseconds per operation over OPS operations. */
async function perOp(op, ops = OPS) {
  const times = [];
  for (let i = 0; i < ops; i++) {
    const start = process.hrtime.bigint();
    await op();
    times.push(Number(process.hrtime.bigint() - start) / 1e6);
  }
  return spread(times).median;
}

// Kept connections (`sockit exec --keep`) live in XDG_RUNTIME_DIR: the new-connection runs get
// an empty one, the kept-connection runs the one that the kept process listens in.
for (const name of ['run-none', 'run-kept']) mkdirSync(path.join(dir, name), { mode: 0o700 });
const freshEnv = { ...env, XDG_RUNTIME_DIR: path.join(dir, 'run-none') };
const keptEnv = { ...env, XDG_RUNTIME_DIR: path.join(dir, 'run-kept') };
must(process.execPath, [CLI, 'exec', sockitHost, '--keep', '--keep-for', '0'], { env: keptEnv });
stops.push(() =>
  spawnSync(process.execPath, [CLI, 'exec', sockitHost, '--stop'], { env: keptEnv, stdio: 'ignore' }),
);

/** Milliseconds from spawn() to exit of `true` with three pipes, in this process: Node's own cost. */
function spawnTrue() {
  return new Promise((resolve) => {
    const start = process.hrtime.bigint();
    const child = spawn('/usr/bin/true', [], { stdio: ['pipe', 'pipe', 'pipe'], detached: true });
    child.stdin.end();
    child.stdout.resume();
    child.stderr.resume();
    child.on('close', () => resolve(Number(process.hrtime.bigint() - start) / 1e6));
  });
}

const contenders = {
  'sockit exec -- true': () => whole(process.execPath, [CLI, 'exec', sockitHost, '--', 'true'], freshEnv),
  'ssh true': () => whole('ssh', [...sshBase, sshHost, 'true']),
  'ExecClient.run(true)': () =>
    perOp(async () => {
      const r = await client.run(['true']);
      if (r.exit !== 0) throw new Error(`true: ${JSON.stringify(r)}`);
    }),
  'ssh -S master true': () => perOp(() => whole('ssh', ['-S', control, sshHost, 'true'])),
  'sockit exec (kept) -- true': () =>
    perOp(() => whole(process.execPath, [CLI, 'exec', sockitHost, '--', 'true'], keptEnv), KEPT_OPS),
  'node spawn(true)': () => perOp(spawnTrue),
  'sockit exec 1 GiB': () =>
    whole(process.execPath, [CLI, 'exec', sockitHost, '--', 'head', '-c', String(GIB), '/dev/zero']),
  'ssh 1 GiB': () => whole('ssh', [...sshBase, sshHost, 'head', '-c', String(GIB), '/dev/zero']),
};

console.log(
  `node ${process.version}, ${os.cpus().length} cores, ${ROUNDS} rounds (1 warm-up), ${OPS} operations per open-connection measurement`,
);
const results = await interleave(contenders, {
  rounds: ROUNDS,
  onRound: (r, res) =>
    console.log(
      `round ${r + 1}: ${Object.entries(res)
        .map(([k, v]) => `${k} ${v[r].toFixed(1)}`)
        .join(' | ')}`,
    ),
});
client.close();

const f = (n) => n.toFixed(2);
const line = (name, values) => {
  const s = spread(values);
  return `${name}: median ${f(s.median)} (p25 ${f(s.p25)}, p75 ${f(s.p75)}, ${f(s.min)}-${f(s.max)})`;
};
const report = {};
const compare = (title, ours, theirs, goal, higherIsBetter = false) => {
  const r = higherIsBetter ? ratios(results[theirs], results[ours]) : ratios(results[ours], results[theirs]);
  const s = spread(r);
  const met = goal === undefined ? undefined : higherIsBetter ? s.median >= goal : s.median <= goal;
  console.log(`\n${title}`);
  console.log(`  ${line(ours, results[ours])} ms`);
  console.log(`  ${line(theirs, results[theirs])} ms`);
  console.log(
    `  ${higherIsBetter ? 'throughput ratio' : 'time ratio'} per round: ${r.map(f).join(' ')}; median ${f(s.median)} (${f(s.min)}-${f(s.max)})${goal === undefined ? ' (for reference, no goal)' : `; goal ${higherIsBetter ? '>=' : '<='} ${goal}: ${met ? 'met' : 'NOT met'}`}`,
  );
  report[title] = { ours: results[ours], theirs: results[theirs], ratios: r, median: s.median, goal, met };
};
compare('whole command, new connection (sockit / ssh)', 'sockit exec -- true', 'ssh true', 0.5);
compare(
  'on an open connection (sockit / ssh ControlMaster)',
  'ExecClient.run(true)',
  'ssh -S master true',
  0.2,
);
compare(
  'whole command, kept connection (sockit exec after --keep / ssh through a ControlMaster)',
  'sockit exec (kept) -- true',
  'ssh -S master true',
  undefined,
);
compare(
  "Node's own spawn() of true against ExecClient.run(true): what is left to the protocol",
  'node spawn(true)',
  'ExecClient.run(true)',
  undefined,
);
compare(
  '1 GiB of stdout (ssh time / sockit time = sockit throughput / ssh)',
  'sockit exec 1 GiB',
  'ssh 1 GiB',
  1.0,
  true,
);
for (const name of ['sockit exec 1 GiB', 'ssh 1 GiB']) {
  const mibs = results[name].map((ms) => 1024 / (ms / 1000));
  console.log(`  ${name}: ${f(spread(mibs).median)} MiB/s median`);
}
if (values.json) writeFileSync(values.json, `${JSON.stringify(report, null, 2)}\n`);
spawnSync('ssh', ['-S', control, '-O', 'exit', sshHost], { stdio: 'ignore' });
process.exit(0);
