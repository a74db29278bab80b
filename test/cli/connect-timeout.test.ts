/**
 * `--connect-timeout`: a server whose listen queue is full never answers a connection
 * attempt (Linux drops the SYN), which is what a host behind a dropping firewall looks like,
 * made on loopback: a listener with a backlog of one whose process never accepts, and two
 * connections that fill its queue.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ExitStatus } from '../../src/cli/exit-status.js';
import { requireTools, sockit } from '../helpers.js';

requireTools();

// Listens with a backlog of one, prints the port, then blocks its event loop so that no
// connection is ever accepted.
const HOLDER = `
const net = require('node:net');
const server = net.createServer();
server.listen({ host: '127.0.0.1', port: 0, backlog: 1 }, () => {
  process.stdout.write(server.address().port + '\\n', () => {
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 60_000);
  });
});
`;

let holder: ChildProcess;
let port: number;
const fillers: net.Socket[] = [];

beforeAll(async () => {
  holder = spawn(process.execPath, ['-e', HOLDER], { stdio: ['ignore', 'pipe', 'inherit'] });
  port = await new Promise<number>((resolve, reject) => {
    holder.stdout?.once('data', (d: Buffer) => resolve(Number(d.toString().trim())));
    holder.once('error', reject);
  });
  // The queue holds these two; a third attempt gets no answer at all.
  for (let i = 0; i < 2; i++) {
    const socket = net.connect(port, '127.0.0.1');
    await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject));
    fillers.push(socket);
  }
});

afterAll(() => {
  for (const socket of fillers) socket.destroy();
  holder.kill('SIGKILL');
});

describe('sockit files --connect-timeout', () => {
  it('gives up on a server that never answers, with one coded line, before its own timeout', async () => {
    const r = await sockit(['files', 'ls', `ann@127.0.0.1:${port}`, '--connect-timeout', '0.5'], {
      env: { ...process.env, SOCKIT_PASSWORD: 'unused' },
      timeoutMs: 8_000,
    });
    // Killed by run()'s timer (signal set) would mean the timeout did not work.
    expect(r.signal).toBeNull();
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/^sockit: [^\n]*no answer within 500 ms[^\n]*\[ERR_CONNECT_FAILED\]\n$/);
  });

  it('--connect-timeout 0 waits without a limit of its own, until Ctrl-C', async () => {
    const r = await sockit(['files', 'ls', `ann@127.0.0.1:${port}`, '--connect-timeout', '0'], {
      env: { ...process.env, SOCKIT_PASSWORD: 'unused' },
      timeoutMs: 8_000,
      // Longer than the 500 ms above, and not "no answer within 0 ms" at once.
      interrupt: { when: new Promise((resolve) => setTimeout(resolve, 1500)) },
    });
    expect(r.signal).toBeNull();
    expect(r.code).toBe(ExitStatus.INTERRUPTED);
    expect(r.stderr).toMatch(/^sockit: [^\n]*\[ERR_ABORTED\]\n$/);
  });
});
