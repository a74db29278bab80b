/**
 * `sockit chat join` on a real terminal (tmux): typing a message sends typing notices to the
 * room, others' notices show in the prompt until they speak, and a reconnection marks what
 * was missed. Needs tmux (scripts/interop-tools.sh installs it).
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ChatClient, type ClientEvent } from '../../src/chat/client.js';
import { CLI, freePort, requireTools, type Server, sockit, startServer } from '../helpers.js';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('sockit chat join on a terminal', () => {
  let dir = '';
  let socket = '';
  let server: Server | undefined;
  let port = 0;

  const tmux = (...args: string[]): string => {
    const result = spawnSync('tmux', ['-S', socket, ...args], { encoding: 'utf8' });
    if (result.status !== 0) throw new Error(`tmux ${args.join(' ')} failed: ${result.stderr}`);
    return result.stdout;
  };
  const screen = (): string => tmux('capture-pane', '-p', '-t', 'join');
  const waitScreen = async (pattern: RegExp): Promise<string> => {
    for (let i = 0; i < 500; i++) {
      const shown = screen();
      if (pattern.test(shown)) return shown;
      await sleep(20);
    }
    throw new Error(`the terminal never showed ${pattern}; it shows:\n${screen()}`);
  };
  const serve = async (): Promise<void> => {
    server = await startServer(
      [
        'chat',
        'serve',
        '--data-dir',
        dir,
        '--host',
        '127.0.0.1',
        '--port',
        String(port),
        '--no-irc',
        '--no-udp',
      ],
      1,
    );
  };

  beforeAll(async () => {
    requireTools('tmux');
    dir = await mkdtemp(path.join(tmpdir(), 'sockit-chat-tty-'));
    socket = path.join(dir, 'tmux.sock');
    port = await freePort();
    await serve();
  });

  afterAll(async () => {
    if (socket && existsSync(socket)) spawnSync('tmux', ['-S', socket, 'kill-server']);
    await server?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('sends typing notices while a message is typed, shows the others’, and marks what a reconnection missed', {
    timeout: 60_000,
  }, async () => {
    const watcher = await ChatClient.connect({ host: '127.0.0.1', port, nick: 'watcher' });
    const events: ClientEvent[] = [];
    const reading = (async () => {
      try {
        for await (const event of watcher) events.push(event);
      } catch {
        // the server restarts below
      }
    })();
    watcher.send({ type: 'join', room: 'lobby' });
    const command = `${process.execPath} ${CLI} chat join 127.0.0.1:${port} --nick typer`;
    const env = `SOCKIT_CACHE_DIR=${path.join(dir, 'cache')}`;
    tmux('new-session', '-d', '-s', 'join', '-x', '120', '-y', '30', `env ${env} ${command}`);
    await waitScreen(/#lobby>/);

    // A message being typed: the room hears that typer is typing.
    tmux('send-keys', '-t', 'join', '-l', 'hel');
    for (let i = 0; i < 250 && !events.some((e) => e.type === 'typing' && e.nick === 'typer'); i++)
      await sleep(20);
    expect(events.find((e) => e.type === 'typing')).toMatchObject({
      nick: 'typer',
      room: 'lobby',
      active: true,
    });
    tmux('send-keys', '-t', 'join', '-l', 'lo');
    tmux('send-keys', '-t', 'join', 'Enter');
    for (let i = 0; i < 250 && !events.some((e) => e.type === 'message' && e.message.text === 'hello'); i++)
      await sleep(20);
    expect(events.some((e) => e.type === 'message' && e.message.from === 'typer')).toBe(true);

    // The watcher types: the prompt says so, until the watcher speaks.
    watcher.send({ type: 'typing', room: 'lobby', active: true });
    await waitScreen(/#lobby \(watcher typing\)>/);
    watcher.send({ type: 'say', room: 'lobby', text: 'done typing' });
    await waitScreen(/watcher: done typing\n#lobby>/);

    // The server goes away; while it is away, a message reaches the room's history (through
    // a second server on the same data folder, on another port); then it comes back, and
    // what the terminal missed is shown under a mark.
    await server?.stop();
    await reading;
    await waitScreen(/reconnecting/);
    const other = await startServer(
      ['chat', 'serve', '--data-dir', dir, '--host', '127.0.0.1', '--port', '0', '--no-irc', '--no-udp'],
      1,
    );
    const said = await sockit([
      'chat',
      'send',
      `127.0.0.1:${other.listening[0]?.port}`,
      'lobby',
      'while you were out',
      '--nick',
      'w',
    ]);
    expect(said.code, said.stderr).toBe(0);
    expect(await other.stop()).toBe(0);
    await serve();
    const shown = await waitScreen(/-- 1 new while you were away\n.*w: while you were out/);
    // Nothing said before the break is shown twice.
    expect(shown.match(/done typing/g)).toHaveLength(1);
    tmux('send-keys', '-t', 'join', '-l', '/quit');
    tmux('send-keys', '-t', 'join', 'Enter');
  });
});
