/**
 * `sockit http serve` under clients that would stop a naive server: heads dripped a byte at
 * a time (slowloris), 10,000 idle keep-alive connections against a limit of 1024, and
 * clients that ask for a large file and never read it. Others are served throughout.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { mkdtemp, rm, truncate, writeFile } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { requireTools, run, startServer } from '../helpers.js';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function curlStatus(url: string): Promise<number> {
  const result = await run('curl', ['-sS', '-o', '/dev/null', '-w', '%{http_code}', '--max-time', '10', url]);
  return Number(result.stdout.toString());
}

function rssMiB(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+) kB/.exec(status)?.[1]) / 1024;
}

/** A connection from `localAddress`, resolved once connected. */
function connect(port: number, localAddress: string): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: '127.0.0.1', port, localAddress }, () => resolve(socket));
    socket.once('error', reject);
  });
}

/** A connection from 127.0.0.1 that sends `request` and then reads nothing. */
async function neverReads(port: number, request: string): Promise<net.Socket> {
  const socket = await connect(port, '127.0.0.1');
  socket.on('error', () => {});
  socket.pause();
  socket.write(request);
  return socket;
}

describe('sockit http serve under hostile clients', () => {
  let dir = '';

  beforeAll(async () => {
    requireTools('curl');
    dir = await mkdtemp(path.join(tmpdir(), 'sockit-http-clients-'));
    await writeFile(path.join(dir, 'hello.txt'), 'hello\n');
    await writeFile(path.join(dir, 'large.bin'), '');
    await truncate(path.join(dir, 'large.bin'), 64 * 1024 * 1024);
    // Sparse: 3 GiB that take no disk.
    await writeFile(path.join(dir, 'huge.bin'), '');
    await truncate(path.join(dir, 'huge.bin'), 3 * 1024 ** 3);
  });

  afterAll(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('closes heads that drip in slower than --headers-timeout, serving others meanwhile', async () => {
    const server = await startServer(
      [
        'http',
        'serve',
        dir,
        '--host',
        '127.0.0.1',
        '--port',
        '0',
        '--headers-timeout',
        '1',
        '--no-access-log',
      ],
      1,
    );
    const port = server.listening[0]?.port as number;
    const slow: net.Socket[] = [];
    const closed = new Set<net.Socket>();
    let dripping: NodeJS.Timeout | undefined;
    try {
      for (let i = 0; i < 50; i++) {
        const socket = await connect(port, '127.0.0.1');
        socket.on('error', () => {});
        socket.on('close', () => closed.add(socket));
        socket.write('GET /hello.txt HTTP/1.1\r\nHost: x\r\n');
        slow.push(socket);
      }
      dripping = setInterval(() => {
        for (const s of slow) if (!s.destroyed) s.write('X');
      }, 200);
      for (let i = 0; i < 5; i++) expect(await curlStatus(`http://127.0.0.1:${port}/hello.txt`)).toBe(200);
      for (let i = 0; i < 150 && closed.size < slow.length; i++) await sleep(100);
      expect(closed.size).toBe(slow.length);
      expect(await curlStatus(`http://127.0.0.1:${port}/hello.txt`)).toBe(200);
    } finally {
      clearInterval(dripping);
      for (const s of slow) s.destroy();
      await server.stop();
    }
  });

  it('serves everyone while 10,000 keep-alive connections sit idle against a limit of 1024', {
    timeout: 120_000,
  }, async () => {
    const server = await startServer(
      ['http', 'serve', dir, '--host', '127.0.0.1', '--port', '0', '--keep-alive-timeout', '120'].concat([
        '--max-connections',
        '1024',
        '--no-access-log',
      ]),
      1,
    );
    const port = server.listening[0]?.port as number;
    const sockets: net.Socket[] = [];
    let answered = 0;
    let failed = 0;
    try {
      const open = async (i: number): Promise<void> => {
        // From 127.0.1.1 to 127.0.40.250: many hosts, as real clients are.
        const from = `127.0.${1 + Math.floor(i / 250)}.${1 + (i % 250)}`;
        let socket: net.Socket;
        try {
          socket = await connect(port, from);
        } catch {
          failed++;
          return;
        }
        sockets.push(socket);
        await new Promise<void>((resolve) => {
          let seen = '';
          socket.on('data', (d: Buffer) => {
            seen += d.toString('latin1');
            if (seen.includes('\r\n\r\nhello\n')) {
              if (seen.startsWith('HTTP/1.1 200')) answered++;
              resolve();
            }
          });
          socket.on('error', () => resolve());
          socket.on('close', () => resolve());
          socket.write('GET /hello.txt HTTP/1.1\r\nHost: x\r\nConnection: keep-alive\r\n\r\n');
        });
      };
      // 200 at a time, each then left open and idle.
      let next = 0;
      await Promise.all(
        Array.from({ length: 200 }, async () => {
          while (next < 10_000) await open(next++);
        }),
      );
      expect(failed).toBe(0);
      expect(answered).toBe(10_000);
      // The server kept at most its limit; the newest are still open, idle. (The closes of
      // the last ones it let go may still be on their way here.)
      const openNow = (): number => sockets.filter((s) => !s.destroyed && !s.readableEnded).length;
      for (let i = 0; i < 100 && openNow() > 1024; i++) await sleep(20);
      const stillOpen = openNow();
      expect(stillOpen).toBeGreaterThan(0);
      expect(stillOpen).toBeLessThanOrEqual(1024);
      // Someone new is served at once.
      expect(await curlStatus(`http://127.0.0.1:${port}/hello.txt`)).toBe(200);
    } finally {
      for (const s of sockets) s.destroy();
      await server.stop();
    }
  });

  it('holds no more than socket buffers for clients that never read a large file', {
    timeout: 60_000,
  }, async () => {
    const server = await startServer(
      ['http', 'serve', dir, '--host', '127.0.0.1', '--port', '0', '--no-access-log'],
      1,
    );
    const port = server.listening[0]?.port as number;
    const stalled: net.Socket[] = [];
    try {
      const before = rssMiB(server.child.pid as number);
      for (let i = 0; i < 20; i++) {
        stalled.push(await neverReads(port, 'GET /large.bin HTTP/1.1\r\nHost: x\r\n\r\n'));
      }
      await sleep(1000);
      for (let i = 0; i < 5; i++) expect(await curlStatus(`http://127.0.0.1:${port}/hello.txt`)).toBe(200);
      const after = rssMiB(server.child.pid as number);
      // 20 x 64 MiB asked for; what the server holds is its read-ahead and the socket buffers.
      expect(after - before).toBeLessThan(100);
    } finally {
      for (const s of stalled) s.destroy();
      await server.stop();
    }
  });

  it('streams several ranges of a file past 2 GiB without holding them, and lives on', async () => {
    const server = await startServer(
      ['http', 'serve', dir, '--host', '127.0.0.1', '--port', '0', '--no-access-log'],
      1,
    );
    const port = server.listening[0]?.port as number;
    try {
      const before = rssMiB(server.child.pid as number);
      const stalled: net.Socket[] = [];
      for (let i = 0; i < 10; i++) {
        stalled.push(
          await neverReads(port, 'GET /huge.bin HTTP/1.1\r\nHost: x\r\nRange: bytes=0-0,2-\r\n\r\n'),
        );
      }
      await sleep(1000);
      expect(server.child.exitCode).toBeNull();
      expect(rssMiB(server.child.pid as number) - before).toBeLessThan(100);
      // Its head says what comes: two parts, the second 3 GiB - 2 bytes long.
      const head = await run(
        'curl',
        [
          '-sS',
          '-r',
          '0-0,2-',
          '-o',
          '/dev/null',
          '-D',
          '-',
          '--max-time',
          '5',
          '--max-filesize',
          '1',
        ].concat([`http://127.0.0.1:${port}/huge.bin`]),
      );
      expect(head.stdout.toString()).toMatch(/^HTTP\/1\.1 206 /);
      expect(head.stdout.toString()).toMatch(/Content-Type: multipart\/byteranges; boundary=/);
      for (const s of stalled) s.destroy();
      expect(await curlStatus(`http://127.0.0.1:${port}/hello.txt`)).toBe(200);
    } finally {
      await server.stop();
    }
  });

  it('answers pipelined requests one at a time: thousands queued on one connection hold little', {
    timeout: 60_000,
  }, async () => {
    const server = await startServer(
      ['http', 'serve', dir, '--host', '127.0.0.1', '--port', '0', '--no-access-log'],
      1,
    );
    const port = server.listening[0]?.port as number;
    const pid = server.child.pid as number;
    try {
      const before = rssMiB(pid);
      // Reads nothing of the answers.
      const socket = await neverReads(port, 'GET /large.bin HTTP/1.1\r\nHost: x\r\n\r\n'.repeat(5000));
      await sleep(2000);
      const fds = readdirSync(`/proc/${pid}/fd`).length;
      expect(fds).toBeLessThan(100);
      expect(rssMiB(pid) - before).toBeLessThan(150);
      expect(await curlStatus(`http://127.0.0.1:${port}/hello.txt`)).toBe(200);
      socket.destroy();
    } finally {
      await server.stop();
    }
  });

  it('lets a client in when clients that never read fill every place, even from its own address', {
    timeout: 60_000,
  }, async () => {
    const server = await startServer(
      [
        'http',
        'serve',
        dir,
        '--host',
        '127.0.0.1',
        '--port',
        '0',
        '--no-access-log',
        '--max-connections',
        '40',
      ],
      1,
    );
    const port = server.listening[0]?.port as number;
    const stalled: net.Socket[] = [];
    try {
      for (let i = 0; i < 40; i++) {
        stalled.push(await neverReads(port, 'GET /large.bin HTTP/1.1\r\nHost: x\r\n\r\n'));
      }
      // Once they have taken nothing for a while, a newcomer from the same address gets one's place.
      let status = 0;
      for (let i = 0; i < 30 && status !== 200; i++) {
        await sleep(500);
        status = await curlStatus(`http://127.0.0.1:${port}/hello.txt`);
      }
      expect(status).toBe(200);
    } finally {
      for (const s of stalled) s.destroy();
      await server.stop();
    }
  });
});
