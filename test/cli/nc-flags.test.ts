/** The forms and flags of OpenBSD nc that hands type without thinking: -l PORT, -k, -z, -w. */
import { type ChildProcess, spawn } from 'node:child_process';
import net from 'node:net';
import { beforeAll, describe, expect, it } from 'vitest';
import { ExitStatus } from '../../src/cli/exit-status.js';
import { CLI, freePort, requireTools, sockit } from '../helpers.js';

beforeAll(() => requireTools());

interface Listener {
  child: ChildProcess;
  port: Promise<number>;
  stdout(): string;
  exited: Promise<number | null>;
}

/** Spawns `sockit nc ARGS` (which must include -v) and learns the port it announces. */
function listener(args: string[]): Listener {
  const child = spawn(process.execPath, [CLI, 'nc', ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
  child.stdin?.end();
  let out = '';
  let err = '';
  child.stdout?.on('data', (d: Buffer) => {
    out += d.toString();
  });
  const exited = new Promise<number | null>((resolve) => child.on('close', resolve));
  const port = new Promise<number>((resolve, reject) => {
    child.stderr?.on('data', (d: Buffer) => {
      err += d.toString();
      const m = /listening on [^\n]*:(\d+)\n/.exec(err);
      if (m) resolve(Number(m[1]));
    });
    void exited.then(() => reject(new Error(`exited before listening: ${err}`)));
  });
  return { child, port, stdout: () => out, exited };
}

/** Connects, sends `text`, ends, and waits for the peer to close. */
async function send(port: number, text: string): Promise<void> {
  const socket = net.connect(port, '127.0.0.1');
  socket.end(text);
  socket.resume();
  await new Promise((resolve) => socket.once('close', resolve));
}

async function until(check: () => boolean): Promise<void> {
  for (let i = 0; i < 100 && !check(); i++) await new Promise((r) => setTimeout(r, 50));
}

describe('sockit nc -l forms', () => {
  it('nc -l PORT listens on that port', async () => {
    const port = await freePort();
    const l = listener(['-l', '-v', String(port)]);
    expect(await l.port).toBe(port);
    await send(port, 'hello');
    expect(await l.exited).toBe(0);
    expect(l.stdout()).toBe('hello');
  });

  it('nc -l HOST PORT binds that host', async () => {
    const l = listener(['-l', '-v', '127.0.0.1', '0']);
    const port = await l.port;
    await send(port, 'x');
    expect(await l.exited).toBe(0);
    expect(l.stdout()).toBe('x');
  });

  it('-k serves the next peer after one leaves', async () => {
    const l = listener(['-lkv', '127.0.0.1', '0']);
    const port = await l.port;
    await send(port, 'one,');
    await until(() => l.stdout() === 'one,');
    await send(port, 'two');
    await until(() => l.stdout() === 'one,two');
    expect(l.child.exitCode).toBeNull();
    l.child.kill();
    await l.exited;
    expect(l.stdout()).toBe('one,two');
  });

  it('a bad port argument is a usage error with a code', async () => {
    const result = await sockit(['nc', '-l', '99999']);
    expect(result.code).toBe(ExitStatus.USAGE);
    expect(result.stderr).toMatch(/^sockit: [^\n]*\[ERR_INVALID_ARGUMENT\]\n$/);
  });
});

describe('sockit nc -z', () => {
  it('exits 0 on an open port and sends nothing', async () => {
    let received = 0;
    let accepted = 0;
    const server = net.createServer((s) => {
      accepted++;
      s.on('data', (d: Buffer) => {
        received += d.length;
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as net.AddressInfo;
    const result = await sockit(['nc', '-z', '127.0.0.1', String(port)], { input: 'data' });
    await until(() => accepted > 0);
    server.close();
    expect(result.code).toBe(0);
    expect(accepted).toBe(1);
    expect(received).toBe(0);
  });

  it('exits 1 with ERR_CONNECT_FAILED on a closed port', async () => {
    const result = await sockit(['nc', '-z', '127.0.0.1', String(await freePort())]);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/^sockit: [^\n]*\[ERR_CONNECT_FAILED\]\n$/);
  });
});

describe('sockit nc -w', () => {
  it('closes a connection on which nothing moved for that long, exit 0', async () => {
    // The server reads but never answers nor closes: without -w, nc would wait forever.
    const server = net.createServer({ allowHalfOpen: true }, (s) => s.resume());
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as net.AddressInfo;
    const result = await sockit(['nc', '-w', '0.3', '127.0.0.1', String(port)], { timeoutMs: 10_000 });
    server.close();
    expect(result.signal).toBeNull();
    expect(result.code).toBe(0);
  });
});

describe('sockit nc --log-level debug', () => {
  it('adds the bytes each way at the close to what -v says; -v alone does not', async () => {
    const server = net.createServer({ allowHalfOpen: true }, (s) => s.pipe(s));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as net.AddressInfo;
    const debug = await sockit(['--log-level', 'debug', 'nc', '127.0.0.1', String(port)], { input: 'hello' });
    const verbose = await sockit(['nc', '-v', '127.0.0.1', String(port)], { input: 'hello' });
    server.close();
    expect(debug.code, debug.stderr).toBe(0);
    expect(debug.stdout.toString()).toBe('hello');
    expect(debug.stderr).toBe(`nc: connected to 127.0.0.1:${port}\nnc: closed sent=5 received=5\n`);
    expect(verbose.stderr).toBe(`nc: connected to 127.0.0.1:${port}\n`);
  });
});
