/**
 * A kept connection (exec/control.ts): commands through its Unix socket behave as on the
 * connection itself (status, signals, stdout and stderr apart, stdin and EOF, refusals); a
 * local client that goes away takes its commands with it; the kept connection ends when it
 * is idle, asked to stop, or the server closes; a socket file left behind is replaced.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { ExecClient } from '../../src/exec/client.js';
import { serveControl, stopControl } from '../../src/exec/control.js';
import type { ExecService } from '../../src/exec/server.js';
import { codeOf } from '../codes.js';
import { alive, type ExecFixture, execFixture, startSleeper } from './fixture.js';

let f: ExecFixture;
let server: ExecService;
let dir = '';
let n = 0;
const socketPath = (): string => path.join(dir, `kept-${++n}.sock`);

beforeAll(async () => {
  f = await execFixture();
  server = await f.serve();
  dir = mkdtempSync(path.join(os.tmpdir(), 'sockit-kept-'));
});

afterAll(async () => {
  await f?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** A kept connection to the test server, and a client attached to it. */
async function kept(idleMs = 60_000) {
  const upstream = await f.connect(server);
  const where = socketPath();
  const control = await serveControl(upstream, { path: where, idleMs });
  const local = await ExecClient.attach(where, 'ann');
  if (local === undefined) throw new Error('no kept connection to attach to');
  return { upstream, where, control, local };
}

describe('a kept connection', () => {
  it('runs commands as the connection itself would: status, signals, streams, stdin', async () => {
    const { local, control, where } = await kept();
    expect(statSync(where).isSocket()).toBe(true);
    expect((await local.run(['sh', '-c', 'exit 42'])).exit).toBe(42);
    expect(await local.run(['sh', '-c', 'kill -SEGV $$'])).toMatchObject({ exit: null, signal: 'SEGV' });
    const script = 'i=0; while [ $i -lt 500 ]; do echo out$i; echo err$i >&2; i=$((i+1)); done';
    const both = await local.run(['sh', '-c', script]);
    expect(both.stdout.toString().trimEnd().split('\n')).toEqual(
      Array.from({ length: 500 }, (_, i) => `out${i}`),
    );
    expect(both.stderr.toString().trimEnd().split('\n')).toEqual(
      Array.from({ length: 500 }, (_, i) => `err${i}`),
    );
    const input = randomBytes(2 * 1024 * 1024);
    const copied = await local.run(['cat'], { stdin: input });
    expect(copied.stdout.equals(input)).toBe(true);
    expect((await local.run(['pwd'], { cwd: '' })).stdout.toString().trim()).toBe(f.dir);
    // The server's refusals come through as they are.
    expect(await codeOf(local.run(['rm', '-rf', '/']))).toBe('ERR_FORBIDDEN');
    expect(await codeOf(local.run({ shell: 'id' }))).toBe('ERR_FORBIDDEN');
    // A signal for a running command reaches its process group.
    const p = local.start([
      'sh',
      '-c',
      'trap "echo got-int; exit 7" INT; echo ready; while :; do sleep 0.05; done',
    ]);
    p.stdin.end();
    await new Promise((resolve) => p.stdout.once('data', resolve));
    p.kill('INT');
    expect(await p.done).toMatchObject({ exit: 7 });
    local.close();
    control.stop();
    expect(await control.ended).toBe('stopped');
  });

  it('ends the commands of a local client that goes away', async () => {
    const { local, control } = await kept();
    const { pid } = await startSleeper(local);
    expect(alive(pid)).toBe(true);
    local.close();
    await vi.waitFor(() => expect(alive(pid)).toBe(false), { timeout: 10_000 });
    await vi.waitFor(() => expect(server.running).toBe(0));
    control.stop();
  });

  it('refuses on its own past 24 refused commands a minute, before the server would close it', async () => {
    const { local, control } = await kept();
    const p = local.start(['sh', '-c', 'sleep 1; echo still here']);
    p.stdin.end();
    const codes: string[] = [];
    for (let i = 0; i < 30; i++) codes.push((await codeOf(local.run(['not-allowed']))) ?? 'none');
    expect(codes.slice(0, 24)).toEqual(Array(24).fill('ERR_FORBIDDEN'));
    expect(codes.slice(24)).toEqual(Array(6).fill('ERR_BUSY'));
    // The command running meanwhile, and the connection, are fine.
    const out = await new Promise<string>((resolve) => {
      let text = '';
      p.stdout.on('data', (c: Buffer) => {
        text += c;
      });
      p.stdout.once('end', () => resolve(text));
    });
    expect(out).toBe('still here\n');
    expect((await p.done).exit).toBe(0);
    local.close();
    control.stop();
  });

  it('ends when asked to (stopControl), when idle, and when the server closes the connection', async () => {
    const asked = await kept();
    expect(await stopControl(asked.where)).toBe(true);
    expect(await asked.control.ended).toBe('stopped');
    expect(await stopControl(asked.where)).toBe(false);
    expect(await ExecClient.attach(asked.where, 'ann')).toBeUndefined();

    const idle = await kept(200);
    idle.local.close();
    expect(await idle.control.ended).toBe('idle');

    const other = await f.serve();
    const upstream = await f.connect(other);
    const where = socketPath();
    const control = await serveControl(upstream, { path: where, idleMs: 60_000 });
    await other.close();
    expect(await control.ended).toBe('server closed');
    expect(await ExecClient.attach(where, 'ann')).toBeUndefined();
  });

  it('replaces a socket file nobody answers on, and refuses one that answers', async () => {
    const where = socketPath();
    // A socket file left by a process killed with -9: nothing listens on it.
    const holder = spawn(process.execPath, [
      '-e',
      `require('node:net').createServer().listen(${JSON.stringify(where)}, () => console.log('up'))`,
    ]);
    await new Promise((resolve) => holder.stdout.once('data', resolve));
    holder.kill('SIGKILL');
    await new Promise((resolve) => holder.once('exit', resolve));
    expect(statSync(where).isSocket()).toBe(true);
    const first = await serveControl(await f.connect(server), { path: where, idleMs: 60_000 });
    expect(await codeOf(serveControl(await f.connect(server), { path: where, idleMs: 60_000 }))).toBe(
      'ERR_ADDRESS_IN_USE',
    );
    const local = await ExecClient.attach(where, 'ann');
    expect((await local?.run(['true']))?.exit).toBe(0);
    local?.close();
    first.stop();
    expect(await first.ended).toBe('stopped');
  });
});
