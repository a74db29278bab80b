/** `sockit tftp` as a user runs it: files on disk, exit codes, one-line errors. */
import { createHash, randomBytes } from 'node:crypto';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ExitStatus } from '../../src/cli/exit-status.js';
import { requireTools, type Server, sockit, startServer } from '../helpers.js';

const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

describe('sockit tftp', () => {
  let root: string;
  let work: string;
  let server: Server;
  let port: number;
  const data = randomBytes(200_000);

  beforeAll(async () => {
    requireTools();
    root = mkdtempSync(path.join(os.tmpdir(), 'sockit-cli-tftp-'));
    work = mkdtempSync(path.join(os.tmpdir(), 'sockit-cli-work-'));
    writeFileSync(path.join(root, 'image.bin'), data);
    server = await startServer(
      ['tftp', 'serve', '--root', root, '--host', '127.0.0.1', '--port', '0', '--writable'],
      1,
    );
    port = server.listening[0]?.port ?? 0;
  });
  afterAll(async () => {
    expect(await server.stop()).toBe(0);
    rmSync(root, { recursive: true, force: true });
    rmSync(work, { recursive: true, force: true });
  });

  it('gets a file into the named destination and prints a summary', async () => {
    const dest = path.join(work, 'copy.bin');
    const r = await sockit(['tftp', 'get', `127.0.0.1:${port}`, 'image.bin', dest, '--blksize', '1428']);
    expect(r.code, r.stderr).toBe(0);
    expect(sha(readFileSync(dest))).toBe(sha(data));
    expect(r.stderr).toMatch(/^received image\.bin: 195\.3 KiB in [\d.]+ s .*blksize 1428, windowsize 1\n$/);
  });

  it('gets into an existing folder under the remote base name, with or without a trailing /', async () => {
    const into = path.join(work, 'into');
    mkdirSync(into);
    const r = await sockit(['tftp', 'get', `127.0.0.1:${port}`, 'image.bin', `${into}/`]);
    expect(r.code, r.stderr).toBe(0);
    expect(sha(readFileSync(path.join(into, 'image.bin')))).toBe(sha(data));
    rmSync(path.join(into, 'image.bin'));
    const s = await sockit(['tftp', 'get', `127.0.0.1:${port}`, 'image.bin', into]);
    expect(s.code, s.stderr).toBe(0);
    expect(readdirSync(into)).toEqual(['image.bin']);
  });

  it('makes the temporary file of a download into a folder in that folder, before the request', async () => {
    const into = path.join(work, 'into-temp');
    mkdirSync(into);
    const dgram = await import('node:dgram');
    const silent = dgram.createSocket('udp4');
    await new Promise<void>((r) => silent.bind(0, '127.0.0.1', r));
    let atRequest: { into: string[]; parent: string[] } | undefined;
    silent.once('message', () => {
      atRequest = { into: readdirSync(into), parent: readdirSync(work).filter((f) => f.endsWith('.part')) };
    });
    const r = await sockit([
      'tftp',
      'get',
      `127.0.0.1:${silent.address().port}`,
      'dir/image.bin',
      into,
      '--timeout',
      '1',
      '--retries',
      '1',
    ]);
    silent.close();
    expect(r.stderr).toMatch(/\[ERR_TFTP_TIMEOUT\]\n$/);
    expect(atRequest?.parent).toEqual([]);
    expect(atRequest?.into).toHaveLength(1);
    expect(atRequest?.into[0]).toMatch(/^\.image\.bin\.[0-9a-f]{8}\.part$/);
    expect(readdirSync(into)).toEqual([]);
  });

  it('writes to stdout with -', async () => {
    const r = await sockit(['tftp', 'get', `127.0.0.1:${port}`, 'image.bin', '-', '-w', '8']);
    expect(r.code).toBe(0);
    expect(sha(r.stdout)).toBe(sha(data));
  });

  it('puts a file and from stdin', async () => {
    const local = path.join(work, 'up.bin');
    const upload = randomBytes(50_000);
    writeFileSync(local, upload);
    const r = await sockit(['tftp', 'put', `127.0.0.1:${port}`, local, 'uploaded.bin', '--tsize']);
    expect(r.code, r.stderr).toBe(0);
    expect(sha(readFileSync(path.join(root, 'uploaded.bin')))).toBe(sha(upload));
    const s = await sockit(['tftp', 'put', `127.0.0.1:${port}`, '-', 'from-stdin.bin'], { input: upload });
    expect(s.code, s.stderr).toBe(0);
    expect(sha(readFileSync(path.join(root, 'from-stdin.bin')))).toBe(sha(upload));
  });

  it('puts a sysfs file, whose stated size (4096) is not its length, as it reads', async () => {
    // Files whose size cannot be trusted are sent as read; the size check is for local files.
    const local = '/sys/class/net/lo/address';
    const content = readFileSync(local);
    expect(content.length).toBeLessThan(4096);
    const r = await sockit(['tftp', 'put', `127.0.0.1:${port}`, local, 'lo-address.txt', '--tsize']);
    expect(r.code, r.stderr).toBe(0);
    expect(readFileSync(path.join(root, 'lo-address.txt')).equals(content)).toBe(true);
  });

  it('fails with one line and leaves no file under the destination name', async () => {
    const dest = path.join(work, 'missing.bin');
    const r = await sockit(['tftp', 'get', `127.0.0.1:${port}`, 'missing.bin', dest]);
    expect(r.code).toBe(ExitStatus.NOT_FOUND);
    expect(r.stderr).toBe('sockit: TFTP error 1 (file not found) [ERR_TFTP_REMOTE]\n');
    expect(existsSync(dest)).toBe(false);
    expect(readdirSync(work).filter((f) => f.includes('missing'))).toEqual([]);
  });

  it('times out against a silent port with ERR_TFTP_TIMEOUT and leaves no file', async () => {
    const dest = path.join(work, 'silent.bin');
    // A bound UDP port that never answers: our own server's port on another address is not
    // available, so use a port of this test process.
    const dgram = await import('node:dgram');
    const silent = dgram.createSocket('udp4');
    await new Promise<void>((r) => silent.bind(0, '127.0.0.1', r));
    const r = await sockit([
      'tftp',
      'get',
      `127.0.0.1:${silent.address().port}`,
      'x',
      dest,
      '--timeout',
      '1',
      '--retries',
      '1',
    ]);
    silent.close();
    expect(r.code).toBe(ExitStatus.NETWORK);
    expect(r.stderr).toMatch(/\[ERR_TFTP_TIMEOUT\]\n$/);
    expect(existsSync(dest)).toBe(false);
  });

  it('on SIGINT aborts a download with ERR_ABORTED, telling the server, and leaves no file', async () => {
    const dest = path.join(work, 'interrupted.bin');
    // A server that answers the request with one block and then waits: the download is
    // under way, with its temporary file open, when the signal comes.
    const dgram = await import('node:dgram');
    const { decodePacket, encodeData, Opcode } = await import('../../src/tftp/packet.js');
    const fake = dgram.createSocket('udp4');
    const told: number[] = [];
    fake.on('message', (msg, from) => {
      const d = decodePacket(msg);
      if (!d.ok) return;
      if (d.packet.opcode === Opcode.RRQ)
        fake.send(encodeData(1, Buffer.alloc(512)), from.port, from.address);
      if (d.packet.opcode === Opcode.ERROR) told.push(d.packet.code);
    });
    await new Promise<void>((r) => fake.bind(0, '127.0.0.1', r));
    const { spawn } = await import('node:child_process');
    const { CLI } = await import('../helpers.js');
    const child = spawn(process.execPath, [
      CLI,
      'tftp',
      'get',
      `127.0.0.1:${fake.address().port}`,
      'x',
      dest,
    ]);
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
    });
    // Wait until the temporary file exists, then interrupt.
    const started = Date.now();
    while (!readdirSync(work).some((f) => f.includes('interrupted.bin')) && Date.now() - started < 10_000)
      await new Promise((r) => setTimeout(r, 20));
    await new Promise((r) => setTimeout(r, 200)); // the block has come and been acknowledged
    child.kill('SIGINT');
    const code = await new Promise<number | null>((r) => child.on('exit', (c) => r(c)));
    fake.close();
    expect(code).toBe(ExitStatus.INTERRUPTED);
    expect(stderr).toBe('sockit: interrupted by Ctrl-C (SIGINT) [ERR_ABORTED]\n');
    expect(told).toEqual([0]);
    expect(readdirSync(work).filter((f) => f.includes('interrupted.bin'))).toEqual([]);
  });

  it('refuses a destination in a missing folder before asking the server', async () => {
    const before = server
      .log()
      .split('\n')
      .filter((l) => l.includes('"msg":"transfer"')).length;
    const dest = path.join(work, 'no-such-folder', 'copy.bin');
    const r = await sockit(['tftp', 'get', `127.0.0.1:${port}`, 'image.bin', dest]);
    expect(r.code).toBe(ExitStatus.NOT_FOUND);
    expect(r.stderr).toBe(
      `sockit: tftp get: cannot create ${dest}: the folder it goes in does not exist; make it first [ERR_NOT_FOUND]\n`,
    );
    const after = server
      .log()
      .split('\n')
      .filter((l) => l.includes('"msg":"transfer"')).length;
    expect(after).toBe(before);
  });

  it('logs one line per transfer with the facts', async () => {
    const lines = server
      .log()
      .split('\n')
      .filter((l) => l.includes('"msg":"transfer"'))
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    const read = lines.find((l) => l.file === 'image.bin' && l.ok === true);
    expect(read).toMatchObject({ direction: 'read', bytes: 200_000, retransmits: 0 });
    expect(read).toHaveProperty('ms');
    expect(read).toHaveProperty('client');
    expect(lines.some((l) => l.direction === 'write' && l.bytes === 50_000)).toBe(true);
  });
});
