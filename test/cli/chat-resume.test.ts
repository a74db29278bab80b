/**
 * `sockit chat tail` across a restart of the server: it connects again by itself and goes on
 * after the last message it printed, so that every message is printed exactly once.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { CLI, freePort, type Server, sockit, startServer } from '../helpers.js';

describe('sockit chat tail, following through a restart', () => {
  let dir = '';
  let server: Server | undefined;

  afterAll(async () => {
    await server?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('prints each message once, before, during and after the server is away', {
    timeout: 60_000,
  }, async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'sockit-chat-resume-'));
    const port = String(await freePort());
    const serve = () =>
      startServer(['chat', 'serve', '--data-dir', dir, '--host', '127.0.0.1', '--port', port, '--no-irc'], 2);
    const target = `127.0.0.1:${port}`;
    const say = async (text: string): Promise<void> => {
      const sent = await sockit(['chat', 'send', target, 'lobby', text, '--nick', 'writer']);
      expect(sent.code, sent.stderr).toBe(0);
    };
    server = await serve();
    await say('one');
    const tail = spawn(
      process.execPath,
      [CLI, 'chat', 'tail', target, 'lobby', '--json', '--nick', 'follower'],
      {
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let out = '';
    tail.stdout.on('data', (d: Buffer) => {
      out += d.toString();
    });
    const texts = (): string[] =>
      out
        .trim()
        .split('\n')
        .filter((l) => l !== '')
        .map((l) => (JSON.parse(l) as { text: string }).text);
    const waitFor = async (n: number): Promise<void> => {
      for (let i = 0; i < 1000 && texts().length < n; i++) await new Promise((r) => setTimeout(r, 20));
    };
    try {
      await waitFor(1);
      await say('two');
      await waitFor(2);
      await server.stop();
      // While the server is away nothing can be said; once back, what is said is printed.
      server = await serve();
      await say('three');
      await say('four');
      await waitFor(4);
      expect(texts()).toEqual(['one', 'two', 'three', 'four']);
    } finally {
      tail.kill('SIGINT');
    }
  });
});
