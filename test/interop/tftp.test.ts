/**
 * TFTP interop: `sockit tftp serve` with the tftp-hpa, atftp, curl and BusyBox clients, `sockit tftp get/put`
 * with the tftpd-hpa (in.tftpd) and atftpd servers, every file compared by sha256.
 * scripts/interop-tools.sh installs the clients and unpacks the servers into .tools/interop/.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  truncateSync,
  writeFileSync,
} from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ExitStatus } from '../../src/cli/exit-status.js';
import { ROOT, type RunResult, requireTools, run, type Server, sockit, startServer } from '../helpers.js';

const IN_TFTPD = path.join(ROOT, '.tools/interop/tftpd-hpa/usr/sbin/in.tftpd');
const ATFTPD = path.join(ROOT, '.tools/interop/atftpd/usr/sbin/atftpd');
const FIX = 'run scripts/interop-tools.sh (as root) to install the TFTP peers';

/** Fails loudly, never skips, when a peer is missing. */
function requirePeers(): void {
  requireTools();
  for (const tool of ['tftp', 'atftp', 'curl', 'busybox']) {
    if (spawnSync('sh', ['-c', `command -v ${tool}`]).status !== 0) throw new Error(`no ${tool}; ${FIX}`);
  }
  for (const bin of [IN_TFTPD, ATFTPD]) if (!existsSync(bin)) throw new Error(`${bin} is missing; ${FIX}`);
}

const sha = (file: string): string => createHash('sha256').update(readFileSync(file)).digest('hex');
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const hostPort = (h: string, p: number) => (h.includes(':') ? `[${h}]:${p}` : `${h}:${p}`);

type Opts = { blksize?: number; windowsize?: number; ascii?: boolean; tsize?: boolean };
type Addr = { host: string; port: number };
/** One client run: `get ADDR REMOTE LOCAL` or `put ADDR LOCAL REMOTE`. */
type Client = (verb: 'get' | 'put', at: Addr, from: string, to: string, o: Opts) => Promise<RunResult>;
const T = { timeoutMs: 90_000 };
/** tftp-hpa 5.2's client negotiates no options at all: always 512-byte blocks. */
const hpaClient: Client = (verb, at, from, to, o) =>
  run('tftp', ['-m', o.ascii ? 'ascii' : 'binary', at.host, `${at.port}`, '-c', verb, from, to], T);
const atftpClient: Client = (verb, at, from, to, o) => {
  const files = verb === 'get' ? ['-r', from, '-l', to] : ['-l', from, '-r', to];
  const opts = Object.entries(o).flatMap(([k, v]) =>
    typeof v === 'number' ? ['--option', `${k} ${v}`] : [],
  );
  return run('atftp', [`--${verb}`, ...files, ...opts, at.host, `${at.port}`], T);
};
/** curl asks for blksize only when given --tftp-blksize, and for tsize always. */
const curlClient: Client = (verb, at, from, to, o) => {
  const url = (name: string) => `tftp://${hostPort(at.host, at.port)}/${name}`;
  const files = verb === 'get' ? [url(from), '-o', to] : ['-T', from, url(to)];
  const opts = o.blksize ? ['--tftp-blksize', `${o.blksize}`] : [];
  return run('curl', ['--silent', '--show-error', ...opts, ...files], T);
};
/** BusyBox's tftp: octet only, blksize by -b (RFC 2348). */
const busyboxClient: Client = (verb, at, from, to, o) => {
  const files = verb === 'get' ? ['-g', '-r', from, '-l', to] : ['-p', '-l', from, '-r', to];
  const opts = o.blksize ? ['-b', `${o.blksize}`] : [];
  return run('busybox', ['tftp', ...opts, ...files, at.host, `${at.port}`], T);
};
const sockitClient: Client = (verb, at, from, to, o) => {
  const flags = Object.entries(o).flatMap(([k, v]) =>
    k === 'ascii' ? ['--mode', 'netascii'] : v === true ? [`--${k}`] : [`--${k}`, `${v}`],
  );
  return sockit(['tftp', verb, hostPort(at.host, at.port), from, to, ...flags], T);
};

/** Served by every server: a size that is a multiple of 512 and 1428 (the last DATA is empty),
 * an odd size, and text with LF, CRLF and bare CR for netascii. */
const FILES = { 'even.bin': 512 * 1428 * 2, 'odd.bin': 3_000_001 };
/** 81921 blocks of 512 bytes: the block number wraps from 65535 to 0. */
const BIG = 40 * 1024 * 1024;
const TEXT = Buffer.from('line one\nline two\r\nbare cr\r in the middle\n\n\r\rend\n'.repeat(2000));
let dir: string;
let seq = 0;
const local = (name: string) => path.join(dir, 'local', `${++seq}-${name}`);

function makeRoot(name: string, files: Record<string, Buffer>): string {
  const root = path.join(dir, name);
  mkdirSync(root, { recursive: true, mode: 0o777 });
  for (const [file, data] of Object.entries(files)) writeFileSync(path.join(root, file), data);
  return root;
}
const standardFiles = () => ({
  ...Object.fromEntries(Object.entries(FILES).map(([f, size]) => [f, randomBytes(size)])),
  'text.txt': TEXT,
});

beforeAll(() => {
  requirePeers();
  dir = mkdtempSync(path.join(os.tmpdir(), 'sockit-tftp-'));
  mkdirSync(path.join(dir, 'local'));
});
afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

type Line = Record<string, unknown>;
const isTransfer = (l: string) => l.includes('"msg":"transfer"');
function transfers(server: Server): Line[] {
  const lines = server.log().split('\n');
  return lines.filter(isTransfer).map((l) => JSON.parse(l));
}
/** The server's log line for the transfer after the first `before` ones. */
async function nextTransfer(server: Server, before: number): Promise<Line> {
  for (let i = 0; i < 100 && transfers(server).length <= before; i++) await sleep(50);
  const line = transfers(server)[before];
  if (!line) throw new Error(`no transfer line logged; the server said:\n${server.log()}`);
  return line;
}

/** Gets each file from the server whose folder is `root`, puts it back under a new name. */
async function roundTrip(client: Client, at: Addr, root: string, o: Opts, files: string[]) {
  const results: RunResult[] = [];
  for (const file of files) {
    const got = local(file);
    const result = await client('get', at, file, got, o);
    expect(result.code, `get ${file}: ${result.stderr}`).toBe(0);
    expect(sha(got), `get ${file}`).toBe(sha(path.join(root, file)));
    const remote = `up-${seq}-${file}`;
    const sent = await client('put', at, got, remote, o);
    expect(sent.code, `put ${file}: ${sent.stderr}`).toBe(0);
    expect(sha(path.join(root, remote)), `put ${file}`).toBe(sha(got));
    results.push(result, sent);
  }
  return results;
}

async function serveOurs(root: string): Promise<[Server, Addr]> {
  const args = ['tftp', 'serve', '--root', root, '--host', '127.0.0.1', '--port', '0', '--writable'];
  const server = await startServer(args, 1);
  const port = server.listening[0]?.port ?? 0;
  expect(server.listening[0]).toMatchObject({ service: 'tftp', protocol: 'udp', port });
  return [server, { host: '127.0.0.1', port }];
}

describe('sockit tftp serve answers the C clients', () => {
  let server: Server;
  let at: Addr;
  let root: string;
  beforeAll(async () => {
    root = makeRoot('ours', { ...standardFiles(), 'big.bin': randomBytes(BIG) });
    [server, at] = await serveOurs(root);
  });
  afterAll(async () => {
    if (server) expect(await server.stop()).toBe(0);
  });

  it.each([
    ['tftp-hpa', {}, hpaClient],
    ['atftp', { blksize: 512 }, atftpClient],
    ['atftp', { blksize: 1428 }, atftpClient],
    ['atftp', { blksize: 512, windowsize: 4 }, atftpClient],
    ['atftp', { blksize: 1428, windowsize: 16 }, atftpClient],
    ['curl', { blksize: 512 }, curlClient],
    ['curl', { blksize: 1428 }, curlClient],
    ['busybox', { blksize: 512 }, busyboxClient],
    ['busybox', { blksize: 1428 }, busyboxClient],
  ] as [string, Opts, Client][])('%s gets and puts files byte for byte, %o', async (_name, o, client) => {
    const before = transfers(server).length;
    await roundTrip(client, at, root, o, Object.keys(FILES));
    const lines = [];
    for (let i = 0; i < 4; i++) lines.push(await nextTransfer(server, before + i));
    expect(lines.map((l) => [l.direction, l.bytes, l.ok])).toEqual([
      ['read', FILES['even.bin'], true],
      ['write', FILES['even.bin'], true],
      ['read', FILES['odd.bin'], true],
      ['write', FILES['odd.bin'], true],
    ]);
    // The block count proves the block size that was negotiated.
    expect(lines[3]?.blocks).toBe(Math.floor(FILES['odd.bin'] / (o.blksize ?? 512)) + 1);
  });

  it('tftp-hpa gets and puts text in netascii mode unchanged', async () => {
    await roundTrip(hpaClient, at, root, { ascii: true }, ['text.txt']);
  });

  it('refuses an upload over an existing file without --overwrite', async () => {
    const before = transfers(server).length;
    const original = sha(path.join(root, 'odd.bin'));
    const result = await atftpClient('put', at, path.join(root, 'even.bin'), 'odd.bin', {});
    expect(result.code).not.toBe(0);
    expect(sha(path.join(root, 'odd.bin'))).toBe(original);
    const line = await nextTransfer(server, before);
    expect(line).toMatchObject({ file: 'odd.bin', direction: 'write', ok: false });
  });

  it.each([
    ['sockit', sockitClient],
    ['atftp', atftpClient],
    ['curl', curlClient],
  ] as const)('%s downloads and uploads 40 MiB at blksize 512 intact', async (_name, client) => {
    const before = transfers(server).length;
    await roundTrip(client, at, root, { blksize: 512 }, ['big.bin']);
    for (const i of [0, 1]) {
      const line = await nextTransfer(server, before + i);
      expect(line).toMatchObject({ bytes: BIG, blocks: BIG / 512 + 1, ok: true });
    }
  });

  it('tftp-hpa downloads 40 MiB intact (past block 65535)', async () => {
    const got = local('big.bin');
    expect((await hpaClient('get', at, 'big.bin', got, {})).code).toBe(0);
    expect(sha(got)).toBe(sha(path.join(root, 'big.bin')));
  });
});

/** Whether anything has UDP `port` open (the C servers cannot report a port they chose). */
function bound(port: number): boolean {
  const hex = `:${port.toString(16).toUpperCase().padStart(4, '0')}`;
  const table = readFileSync('/proc/net/udp', 'utf8') + readFileSync('/proc/net/udp6', 'utf8');
  return table.split('\n').some((l) => l.trim().split(/\s+/)[1]?.endsWith(hex));
}

type Peer = Addr & { child: ChildProcess; stop(): Promise<void> };
/** The command lines: foreground, as root (in.tftpd chroots to the folder), uploads may create files. */
function peerArgs(kind: 'tftpd-hpa' | 'atftpd', host: string, port: number, root: string): string[] {
  if (kind === 'tftpd-hpa')
    return ['-L', '-s', '-p', '-c', '-u', 'root', '-B', '65464', '-a', hostPort(host, port), root];
  return [
    ...'--daemon --no-fork --user root --logfile - --port'.split(' '),
    `${port}`,
    '--bind-address',
    host,
    root,
  ];
}
/** Starts in.tftpd or atftpd on a free port of `host`, serving `root`. */
async function startPeer(kind: 'tftpd-hpa' | 'atftpd', root: string, host = '127.0.0.1'): Promise<Peer> {
  for (let attempt = 0; ; attempt++) {
    const port = 20_000 + Math.floor(Math.random() * 12_000); // below the ephemeral range
    if (bound(port)) continue;
    const child = spawn(kind === 'tftpd-hpa' ? IN_TFTPD : ATFTPD, peerArgs(kind, host, port, root));
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output += d));
    child.stderr.on('data', (d: Buffer) => (output += d));
    const exit = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    for (let i = 0; i < 100 && child.exitCode === null && !bound(port); i++) await sleep(50);
    const stop = async () => {
      const timer = setTimeout(() => child.kill('SIGKILL'), 3000);
      child.kill('SIGTERM');
      await exit;
      clearTimeout(timer);
    };
    if (child.exitCode === null && bound(port)) return { host, port, child, stop };
    await stop();
    if (attempt >= 2) throw new Error(`${kind} did not listen on ${hostPort(host, port)}: ${output}`);
  }
}

// atftpd 0.8.0 is IPv4 only (--bind-address ::1 binds 0.0.0.0): only tftpd-hpa gets the IPv6 case.
describe.each([
  ['tftpd-hpa', true],
  ['atftpd', false],
] as const)('sockit tftp get/put against %s', (kind, ipv6) => {
  let peer: Peer;
  let root: string;
  beforeAll(async () => {
    if (process.getuid?.() !== 0) throw new Error(`${kind} runs as root here (chroot, --user root)`);
    root = makeRoot(kind, standardFiles());
    peer = await startPeer(kind, root);
  });
  afterAll(async () => {
    await peer?.stop();
  });

  it.each<Opts>([
    { blksize: 512 },
    { blksize: 1428 },
    { blksize: 1428, tsize: true },
    { blksize: 512, windowsize: 4 },
    { blksize: 1428, windowsize: 16 }, // tftpd-hpa grants no windowsize: lock-step it is
    { ascii: true },
  ])('%o, byte for byte', async (o) => {
    const files = o.ascii ? ['text.txt'] : Object.keys(FILES);
    const results = await roundTrip(sockitClient, peer, root, o, files);
    // The summary line says what was negotiated.
    const window = kind === 'atftpd' ? (o.windowsize ?? 1) : 1;
    for (const r of results) expect(r.stderr).toContain(`blksize ${o.blksize ?? 512}, windowsize ${window}`);
  });

  it('exits 3 (not found) with a one-line error for a missing file', async () => {
    const result = await sockitClient('get', peer, 'nothing', local('missing'), {});
    expect(result.code).toBe(ExitStatus.NOT_FOUND);
    expect(result.stderr.trim().split('\n')).toHaveLength(1);
  });

  it('fails, keeping nothing, a download whose file the server cuts short on its way', async () => {
    // The C servers end such a transfer with a short block as if the file were whole; the
    // size they announced (tsize, which sockit asks for) is what tells the client.
    const file = path.join(root, 'cut.bin');
    writeFileSync(file, randomBytes(32 * 1024 * 1024));
    const out = local('cut.bin');
    const result = sockitClient('get', peer, 'cut.bin', out, { blksize: 512 });
    // 32 MiB in 512-byte blocks takes seconds: the cut comes mid-transfer.
    await sleep(200);
    truncateSync(file, 100_000);
    const { code, stderr } = await result;
    expect(code, stderr).toBe(ExitStatus.PROTOCOL);
    expect(stderr.trim().split('\n')).toHaveLength(1);
    expect(stderr).toMatch(
      /the server announced 33554432 bytes \(tsize\) and sent \d+: the file was cut short/,
    );
    expect(stderr).toContain('[ERR_INTEGRITY]');
    expect(readdirSync(path.dirname(out)).filter((f) => f.includes('cut.bin'))).toEqual([]);
    rmSync(file);
  });

  if (ipv6) {
    it('works over IPv6 ([::1]:PORT)', async () => {
      const v6 = await startPeer(kind, root, '::1');
      try {
        await roundTrip(sockitClient, v6, root, { blksize: 1428 }, ['odd.bin']);
      } finally {
        await v6.stop();
      }
    });
  }
});
