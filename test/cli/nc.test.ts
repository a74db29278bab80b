/**
 * `sockit nc` moves bytes unchanged, against itself and against the system's nc and socat,
 * in both directions.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import net from 'node:net';
import { beforeAll, describe, expect, it } from 'vitest';
import { ExitStatus } from '../../src/cli/exit-status.js';
import { CLI, freePort, requireTools, run, sockit } from '../helpers.js';

beforeAll(() => requireTools('nc', 'socat'));

const TEN_MIB = randomBytes(10 * 1024 * 1024);
const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

interface Receiver {
  child: ChildProcess;
  output: Promise<{ code: number | null; stdout: Buffer; stderr: string }>;
}

/** Starts a listening process that writes what it receives to stdout. */
function receiver(command: string, args: string[]): Receiver {
  const child = spawn(command, args, { stdio: ['pipe', 'pipe', 'pipe'] });
  const chunks: Buffer[] = [];
  let stderr = '';
  child.stdout?.on('data', (d: Buffer) => chunks.push(d));
  child.stderr?.on('data', (d: Buffer) => {
    stderr += d.toString();
  });
  child.stdin?.end();
  const output = new Promise<{ code: number | null; stdout: Buffer; stderr: string }>((resolve) => {
    child.on('close', (code) => resolve({ code, stdout: Buffer.concat(chunks), stderr }));
  });
  return { child, output };
}

/** Retries a client until the listener that was just spawned accepts it. */
async function sendWhenListening(send: () => Promise<{ code: number | null }>): Promise<void> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const result = await send();
    if (result.code === 0) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error('the listener never accepted the connection');
}

/** Reads the port a `sockit nc -l -v --port 0` announces on stderr. */
function announcedPort(child: ChildProcess): Promise<number> {
  return new Promise((resolve, reject) => {
    let text = '';
    child.stderr?.on('data', (d: Buffer) => {
      text += d.toString();
      const m = /listening on [^\n]*:(\d+)/.exec(text);
      if (m) resolve(Number(m[1]));
    });
    child.once('exit', () => reject(new Error(`exited before listening: ${text}`)));
  });
}

describe('sockit nc over TCP', () => {
  it('carries 10 MiB from sockit nc to sockit nc -l unchanged, though the listener half-closes first', async () => {
    const listen = receiver(process.execPath, [
      CLI,
      'nc',
      '--listen',
      '-v',
      '--host',
      '127.0.0.1',
      '--port',
      '0',
    ]);
    const port = await announcedPort(listen.child);
    const sender = await sockit(['nc', '127.0.0.1', String(port)], { input: TEN_MIB, timeoutMs: 60_000 });
    expect(sender.code).toBe(0);
    const got = await listen.output;
    expect(got.code).toBe(0);
    expect(got.stdout.length).toBe(TEN_MIB.length);
    expect(sha(got.stdout)).toBe(sha(TEN_MIB));
  });

  it('sends 10 MiB to a socat listener unchanged', async () => {
    const port = await freePort();
    const listen = receiver('socat', ['-u', `TCP-LISTEN:${port},bind=127.0.0.1,reuseaddr`, '-']);
    await sendWhenListening(() =>
      sockit(['nc', '127.0.0.1', String(port)], { input: TEN_MIB, timeoutMs: 60_000 }),
    );
    const got = await listen.output;
    expect(sha(got.stdout)).toBe(sha(TEN_MIB));
  });

  it('receives 10 MiB from a socat client unchanged', async () => {
    const listen = receiver(process.execPath, [CLI, 'nc', '-l', '-v', '-H', '127.0.0.1', '-p', '0']);
    const port = await announcedPort(listen.child);
    const sender = await run('socat', ['-u', '-', `TCP:127.0.0.1:${port}`], {
      input: TEN_MIB,
      timeoutMs: 60_000,
    });
    expect(sender.code).toBe(0);
    const got = await listen.output;
    expect(got.code).toBe(0);
    expect(sha(got.stdout)).toBe(sha(TEN_MIB));
  });

  it('sends 10 MiB to an OpenBSD nc listener unchanged', async () => {
    const port = await freePort();
    const listen = receiver('nc', ['-l', '127.0.0.1', String(port)]);
    await sendWhenListening(() =>
      sockit(['nc', '127.0.0.1', String(port)], { input: TEN_MIB, timeoutMs: 60_000 }),
    );
    const got = await listen.output;
    expect(sha(got.stdout)).toBe(sha(TEN_MIB));
  });

  it('receives 10 MiB from an OpenBSD nc client unchanged', async () => {
    const listen = receiver(process.execPath, [CLI, 'nc', '-l', '-v', '-p', '0']);
    const port = await announcedPort(listen.child);
    const sender = await run('nc', ['-N', '127.0.0.1', String(port)], { input: TEN_MIB, timeoutMs: 60_000 });
    expect(sender.code).toBe(0);
    expect(sha((await listen.output).stdout)).toBe(sha(TEN_MIB));
  });

  it('keeps reading the reply after its own input ends (half-close)', async () => {
    // The server reads until EOF, then answers: only a half-closing client sees the answer.
    const server = net.createServer({ allowHalfOpen: true }, (socket) => {
      const chunks: Buffer[] = [];
      socket.on('data', (d: Buffer) => chunks.push(d));
      socket.on('end', () => socket.end(`got ${Buffer.concat(chunks).length} bytes`));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as net.AddressInfo;
    const result = await sockit(['nc', '127.0.0.1', String(port)], { input: randomBytes(12345) });
    server.close();
    expect(result.code).toBe(0);
    expect(result.stdout.toString()).toBe('got 12345 bytes');
  });

  it('reports a refused connection in one line, without a stack trace', async () => {
    const port = await freePort();
    const result = await sockit(['nc', '127.0.0.1', String(port)]);
    expect(result.code).toBe(ExitStatus.NETWORK);
    expect(result.stderr.trim().split('\n')).toHaveLength(1);
    expect(result.stderr).toMatch(
      /cannot connect to 127\.0\.0\.1:\d+: .*ECONNREFUSED.*\[ERR_CONNECT_FAILED\]/,
    );
  });
});

describe('sockit nc over UDP', () => {
  it('exchanges datagrams with an OpenBSD nc -u listener', async () => {
    const port = await freePort();
    const listen = receiver('nc', ['-u', '-l', '-W', '1', '127.0.0.1', String(port)]);
    await new Promise((resolve) => setTimeout(resolve, 300));
    const data = randomBytes(1200);
    const sender = await sockit(['nc', '-u', '-q', '0.5', '127.0.0.1', String(port)], { input: data });
    expect(sender.code).toBe(0);
    expect((await listen.output).stdout.equals(data)).toBe(true);
  });

  it('receives a datagram from socat as a -u listener and answers its sender', async () => {
    const listen = spawn(
      process.execPath,
      [CLI, 'nc', '-u', '-l', '-v', '-H', '127.0.0.1', '-p', '0', '-q', '0.5'],
      {
        stdio: ['pipe', 'pipe', 'pipe'],
      },
    );
    const port = await announcedPort(listen);
    const received: Buffer[] = [];
    listen.stdout?.on('data', (d: Buffer) => received.push(d));
    const reply = randomBytes(500);
    const data = randomBytes(900);
    // socat sends, then waits for the answer that the listener writes from its stdin.
    const client = run('socat', ['-t', '2', '-', `UDP:127.0.0.1:${port}`], { input: data });
    await new Promise((resolve) => setTimeout(resolve, 300));
    listen.stdin?.end(reply);
    const answered = await client;
    expect(Buffer.concat(received).equals(data)).toBe(true);
    expect(answered.stdout.equals(reply)).toBe(true);
    listen.kill();
  });
});
