#!/usr/bin/env node
/**
 * Static file serving: `sockit http serve` against nginx (1 and 2 workers, Debian's, unpacked
 * by scripts/interop-tools.sh), `serve` (Vercel's, as `npx serve` runs it) and `http-server`,
 * measured with wrk (Debian's): keep-alive, 50 connections, one thread, a 1 KiB file and a
 * 1 MiB file. Interleaved: each round runs every server on each file once, in an order
 * rotated from round to round (bench/lib/interleave.mjs), after a warm-up round; ratios are
 * taken within a round. Every server runs fresh for each measurement, logs off (nginx
 * `access_log off`, sockit `--no-access-log`, serve `-L`, http-server `-s`), and its peak
 * memory (VmHWM, of all its processes) is read at the end of the run.
 *
 * Goals: sockit >= 0.6x nginx (1 worker) on 1 KiB requests/s, >= 5x serve, and >= 0.8x
 * nginx on 1 MiB throughput.
 *
 * usage: node bench/http/run.mjs [--rounds 3] [--duration 5] [--connections 50] [--only a,b] [--json FILE]
 */
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { interleave, ratios, spread } from '../lib/interleave.mjs';
import { freePort, waitForPort } from '../lib/ports.mjs';

const root = path.resolve(import.meta.dirname, '../..');
const { values } = parseArgs({
  options: {
    rounds: { type: 'string', default: '3' },
    duration: { type: 'string', default: '5' },
    connections: { type: 'string', default: '50' },
    only: { type: 'string' },
    json: { type: 'string' },
  },
});
const NGINX = path.join(root, '.tools/interop/nginx/usr/sbin/nginx');
const WRK = spawnSync('sh', ['-c', 'command -v wrk'], { encoding: 'utf8' }).stdout.trim();
if (!WRK || !existsSync(NGINX)) {
  console.error(
    'bench/http needs wrk and nginx: run bash scripts/interop-tools.sh (as root, or install wrk)',
  );
  process.exit(1);
}
const cli = path.join(root, 'dist/cli/main.cjs');
const bin = (name) => path.join(root, 'node_modules/.bin', name);

const work = mkdtempSync(path.join(tmpdir(), 'sockit-bench-http-'));
// nginx's workers run as nobody when started as root: they must read the files.
chmodSync(work, 0o755);
const site = path.join(work, 'site');
spawnSync('mkdir', ['-p', site]);
writeFileSync(path.join(site, '1k.bin'), Buffer.alloc(1024, 'x'));
writeFileSync(path.join(site, '1m.bin'), Buffer.alloc(1024 * 1024, 'y'));
const FILES = { '1 KiB': '/1k.bin', '1 MiB': '/1m.bin' };

function nginxConfig(dir, port, workers) {
  return `worker_processes ${workers};
daemon off;
master_process on;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
events { worker_connections 4096; }
http {
  types { application/octet-stream bin; }
  default_type application/octet-stream;
  access_log off;
  sendfile on;
  tcp_nopush on;
  keepalive_requests 1000000;
  client_body_temp_path ${dir}/body; proxy_temp_path ${dir}/proxy; fastcgi_temp_path ${dir}/fcgi;
  uwsgi_temp_path ${dir}/uwsgi; scgi_temp_path ${dir}/scgi;
  server { listen 127.0.0.1:${port}; root ${site}; }
}
`;
}

/** Each contender: how to start it on `port`, with its arguments. */
const contenders = {
  sockit: (port) => [
    process.execPath,
    [cli, 'http', 'serve', site, '--host', '127.0.0.1', '--port', String(port), '--no-access-log'],
  ],
  'sockit -w 2': (port) => [
    process.execPath,
    [
      cli,
      'http',
      'serve',
      site,
      '--host',
      '127.0.0.1',
      '--port',
      String(port),
      '--no-access-log',
      '--model',
      'cluster',
      '-w',
      '2',
    ],
  ],
  'nginx 1 worker': (port, dir) => {
    writeFileSync(path.join(dir, 'nginx.conf'), nginxConfig(dir, port, 1));
    return [NGINX, ['-p', dir, '-e', path.join(dir, 'error.log'), '-c', path.join(dir, 'nginx.conf')]];
  },
  'nginx 2 workers': (port, dir) => {
    writeFileSync(path.join(dir, 'nginx.conf'), nginxConfig(dir, port, 2));
    return [NGINX, ['-p', dir, '-e', path.join(dir, 'error.log'), '-c', path.join(dir, 'nginx.conf')]];
  },
  serve: (port) => [bin('serve'), ['-L', '-n', '-l', `tcp://127.0.0.1:${port}`, site]],
  'http-server': (port) => [bin('http-server'), [site, '-a', '127.0.0.1', '-p', String(port), '-s', '-c-1']],
};
const chosen = values.only ? values.only.split(',') : Object.keys(contenders);

/** The peak resident memory of a process and its children, in MiB (VmHWM summed). */
function peakMiB(pid) {
  const pids = [
    pid,
    ...spawnSync('pgrep', ['-P', String(pid)], { encoding: 'utf8' })
      .stdout.split('\n')
      .filter(Boolean)
      .map(Number),
  ];
  let kib = 0;
  for (const p of pids) {
    try {
      kib += Number(/VmHWM:\s+(\d+)/.exec(readFileSync(`/proc/${p}/status`, 'utf8'))?.[1] ?? 0);
    } catch {}
  }
  return kib / 1024;
}

/** wrk's requests/s and bytes/s for `url`. */
function wrk(url) {
  const run = spawnSync(WRK, ['-t1', `-c${values.connections}`, `-d${values.duration}s`, '--latency', url], {
    encoding: 'utf8',
  });
  if (run.status !== 0) throw new Error(`wrk failed: ${run.stderr}`);
  const reqs = Number(/Requests\/sec:\s+([\d.]+)/.exec(run.stdout)?.[1]);
  const transfer = /Transfer\/sec:\s+([\d.]+)(\w+)/.exec(run.stdout);
  const unit = { B: 1, KB: 1024, MB: 1024 ** 2, GB: 1024 ** 3 }[transfer?.[2] ?? 'B'] ?? 1;
  const errors = /Non-2xx or 3xx responses: (\d+)|Socket errors: (.*)/.exec(run.stdout);
  const p99 = /99%\s+([\d.]+)(us|ms|s)/.exec(run.stdout);
  const p99ms = p99 ? Number(p99[1]) * { us: 0.001, ms: 1, s: 1000 }[p99[2]] : Number.NaN;
  return { reqs, bytesPerSec: Number(transfer?.[1]) * unit, p99ms, errors: errors?.[0] };
}

const peaks = {};
async function measure(name, file) {
  const port = await freePort();
  const dir = mkdtempSync(path.join(work, 'run-'));
  const [command, args] = contenders[name](port, dir);
  const child = spawn(command, args, { stdio: ['ignore', 'ignore', 'pipe'], cwd: dir });
  let stderr = '';
  child.stderr.on('data', (d) => {
    stderr += d;
  });
  try {
    await waitForPort(port);
    const result = wrk(`http://127.0.0.1:${port}${file}`);
    if (result.errors) console.log(`  ${name} ${file}: ${result.errors}`);
    const peak = peakMiB(child.pid);
    peaks[name] = Math.max(peaks[name] ?? 0, peak);
    return { ...result, peakMiB: peak };
  } catch (err) {
    throw new Error(`${name}: ${err.message}\n${stderr}`);
  } finally {
    child.kill('SIGTERM');
    await new Promise((resolve) => {
      const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
      child.once('exit', () => {
        clearTimeout(timer);
        resolve();
      });
    });
  }
}

console.log(
  `http benchmark: wrk -t1 -c${values.connections} -d${values.duration}s, keep-alive; ${values.rounds} rounds + warm-up; node ${process.version}`,
);
const tasks = {};
for (const [label, file] of Object.entries(FILES)) {
  for (const name of chosen) tasks[`${name} | ${label}`] = () => measure(name, file);
}
const results = await interleave(tasks, {
  rounds: Number(values.rounds),
  onRound: (r) => console.log(`round ${r + 1} done`),
});
rmSync(work, { recursive: true, force: true });

const f0 = (n) => Math.round(n).toLocaleString('en-US');
const r2 = (n) => n.toFixed(2);
const report = { rounds: Number(values.rounds), results, peaks };
for (const label of Object.keys(FILES)) {
  const big = label === '1 MiB';
  console.log(`\n${label}: ${big ? 'MiB/s' : 'requests/s'} per round`);
  for (const name of chosen) {
    const runs = results[`${name} | ${label}`];
    const v = runs.map((m) => (big ? m.bytesPerSec / 1024 ** 2 : m.reqs));
    const s = spread(v);
    console.log(
      `  ${name.padEnd(16)} ${v.map(f0).join(', ').padEnd(30)} median ${f0(s.median)}; peak RSS ${peaks[name]?.toFixed(1)} MiB`,
    );
  }
}
const ratio = (a, b, label, big) => {
  const av = results[`${a} | ${label}`]?.map((m) => (big ? m.bytesPerSec : m.reqs));
  const bv = results[`${b} | ${label}`]?.map((m) => (big ? m.bytesPerSec : m.reqs));
  if (!av || !bv) return undefined;
  return spread(ratios(av, bv));
};
const goals = [
  ['sockit', 'nginx 1 worker', '1 KiB', false, 0.6],
  ['sockit', 'serve', '1 KiB', false, 5],
  ['sockit', 'nginx 1 worker', '1 MiB', true, 0.8],
  ['sockit -w 2', 'nginx 2 workers', '1 KiB', false, undefined],
  ['sockit -w 2', 'nginx 2 workers', '1 MiB', true, undefined],
];
console.log('');
report.ratios = [];
for (const [a, b, label, big, goal] of goals) {
  const q = ratio(a, b, label, big);
  if (!q) continue;
  const verdict =
    goal === undefined ? '' : q.median >= goal ? `goal >= ${goal}x: MET` : `goal >= ${goal}x: NOT met`;
  console.log(`${a} / ${b}, ${label}: ${r2(q.median)}x (min-max ${r2(q.min)}-${r2(q.max)}) ${verdict}`);
  report.ratios.push({ a, b, label, ...q, goal });
}
if (values.json) writeFileSync(values.json, `${JSON.stringify(report, null, 2)}\n`);
