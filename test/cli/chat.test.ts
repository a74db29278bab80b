/**
 * `sockit chat` as a user runs it: the server with its embedded defaults (SQLite in a data
 * folder), `send` and `tail` for scripts, `join` fed from a pipe, an account logging in, and
 * history surviving a restart of the server.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { errorLine, type Server, sockit, startServer } from '../helpers.js';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('sockit chat', () => {
  let dir: string;
  let server: Server;
  let target = '';
  let ircPort = 0;

  const start = async (): Promise<void> => {
    server = await startServer(
      ['chat', 'serve', '--data-dir', dir, '--host', '127.0.0.1', '--port', '0', '--irc-port', '0'],
      3,
    );
    const tcp = server.listening.find((l) => l.service === 'chat' && l.protocol === 'tcp');
    target = `127.0.0.1:${tcp?.port}`;
    ircPort = server.listening.find((l) => l.service === 'irc')?.port ?? 0;
  };

  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'sockit-chat-cli-'));
    const added = await sockit(['users', 'add', 'ann', '--data-dir', dir, '--iterations', '4096'], {
      env: { ...process.env, SOCKIT_PASSWORD: 'ann password' },
    });
    expect(added.code, added.stderr).toBe(0);
    await start();
  });

  afterAll(async () => {
    await server?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it('send puts a message in a room; tail prints the room, in text and JSON', async () => {
    const sent = await sockit([
      'chat',
      'send',
      target,
      'lobby',
      'build',
      '42',
      'passed',
      '--nick',
      'ci',
      '--json',
    ]);
    expect(sent.code, sent.stderr).toBe(0);
    const message = JSON.parse(sent.stdout.toString()) as {
      id: string;
      from: string;
      text: string;
      at: number;
    };
    expect(message).toMatchObject({ from: 'ci', text: 'build 42 passed', room: 'lobby' });

    const text = await sockit(['chat', 'tail', target, 'lobby', '--no-follow', '--nick', 'reader']);
    expect(text.code, text.stderr).toBe(0);
    expect(text.stdout.toString()).toMatch(/^\[\d\d:\d\d\] ci: build 42 passed\n$/m);

    const json = await sockit(['chat', 'tail', target, 'lobby', '--no-follow', '--json', '--nick', 'reader']);
    const lines = json.stdout
      .toString()
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(lines.at(-1)).toEqual(message);
  });

  it('an account logs in with its password; a wrong one is refused with status 4', async () => {
    const ok = await sockit(['chat', 'send', target, 'lobby', 'from', 'an', 'account', '--user', 'ann'], {
      env: { ...process.env, SOCKIT_PASSWORD: 'ann password' },
    });
    expect(ok.code, ok.stderr).toBe(0);
    const bad = await sockit(['chat', 'send', target, 'lobby', 'x', '--user', 'ann'], {
      env: { ...process.env, SOCKIT_PASSWORD: 'wrong' },
    });
    expect(bad.code).toBe(4);
    expect(errorLine(bad.stderr)).toMatch(/\[ERR_AUTH_FAILED\]$/);
    // A guest may not take an account's name.
    const taken = await sockit(['chat', 'send', target, 'lobby', 'x', '--nick', 'ann']);
    expect(errorLine(taken.stderr)).toMatch(/\[ERR_NICK_IN_USE\]$/);
  });

  it('join reads lines from its input and sends them; /msg and /quit work', async () => {
    const joined = await sockit(['chat', 'join', target, '--nick', 'piper'], {
      input: 'hello from a pipe\n/msg ann are you there\n/quit\n',
    });
    expect(joined.code, joined.stderr).toBe(0);
    const out = joined.stdout.toString();
    expect(out).toMatch(/-- connected to 127\.0\.0\.1:\d+ as piper/);
    // The scrollback of lobby, from before it joined.
    expect(out).toMatch(/ci: build 42 passed/);
    const tail = await sockit(['chat', 'tail', target, 'lobby', '--no-follow', '--json', '--nick', 'reader']);
    const texts = tail.stdout
      .toString()
      .trim()
      .split('\n')
      .map((l) => (JSON.parse(l) as { text: string }).text);
    expect(texts).toContain('hello from a pipe');
    // The direct message to ann, an account that is offline, waited for her.
    expect(out).toMatch(/\(to ann\) piper: are you there \(kept until they log in\)/);
    const ann = await sockit(['chat', 'join', target, '--user', 'ann'], {
      input: '/quit\n',
      env: { ...process.env, SOCKIT_PASSWORD: 'ann password' },
    });
    expect(ann.code, ann.stderr).toBe(0);
    expect(ann.stdout.toString()).toMatch(
      /messages that waited for you:\n\[\d\d:\d\d\] \(private\) piper: are you there/,
    );
  });

  it('join marks what is unread since it last left a room', async () => {
    const room = 'marks';
    const join = (input: string) =>
      sockit(['chat', 'join', target, '--nick', 'marker', '--room', room], { input });
    const say = async (text: string) => {
      const sent = await sockit(['chat', 'send', target, room, text, '--nick', 'other']);
      expect(sent.code, sent.stderr).toBe(0);
    };
    await say('old one');
    const first = await join('/quit\n');
    expect(first.code, first.stderr).toBe(0);
    // Nothing was seen in this room before: no mark.
    expect(first.stdout.toString()).toMatch(/other: old one/);
    expect(first.stdout.toString()).not.toMatch(/-- unread/);
    await say('new one');
    await say('newer one');
    const second = await join('/quit\n');
    expect(second.code, second.stderr).toBe(0);
    const lines = second.stdout.toString().split('\n');
    const at = lines.indexOf('-- unread: 2');
    expect(at, second.stdout.toString()).toBeGreaterThan(0);
    expect(lines[at - 1]).toMatch(/other: old one$/);
    expect(lines[at + 1]).toMatch(/other: new one$/);
    expect(lines[at + 2]).toMatch(/other: newer one$/);
    // Seen now: the next join marks nothing.
    const third = await join('/quit\n');
    expect(third.stdout.toString()).not.toMatch(/-- unread/);
  });

  it('--keep-days deletes older messages at start, and keeps the rest', async () => {
    const own = await mkdtemp(path.join(tmpdir(), 'sockit-chat-keep-'));
    try {
      const { openChatHistory } = await import('../../src/chat/history.js');
      const { MessageIds } = await import('../../src/chat/ids.js');
      const database = path.join(own, 'sockit.db');
      const seeded = await openChatHistory(database);
      const ids = new MessageIds();
      const at = (ms: number, text: string) => ({
        id: ids.next(ms),
        at: ms,
        from: 'ann',
        room: 'lobby',
        text,
      });
      const now = Date.now();
      await seeded.append(at(now - 3 * 86_400_000, 'three days old'));
      await seeded.append(at(now - 60_000, 'a minute old'));
      await seeded.close();
      const kept = await startServer(
        [
          'chat',
          'serve',
          '--data-dir',
          own,
          '--host',
          '127.0.0.1',
          '--port',
          '0',
          '--no-irc',
          '--no-udp',
        ].concat(['--keep-days', '2']),
        1,
      );
      try {
        for (let i = 0; i < 250 && !kept.log().includes('old messages deleted'); i++) await sleep(20);
        const line = kept
          .log()
          .split('\n')
          .find((l) => l.includes('old messages deleted'));
        expect(JSON.parse(line ?? '{}')).toMatchObject({ removed: 1, keepDays: 2 });
      } finally {
        expect(await kept.stop()).toBe(0);
      }
      const after = await openChatHistory(database);
      expect((await after.room('lobby')).messages.map((m) => m.text)).toEqual(['a minute old']);
      await after.close();
      const bad = await sockit(['chat', 'serve', '--data-dir', own, '--keep-days', '0']);
      expect(bad.code).toBe(2);
      expect(errorLine(bad.stderr)).toMatch(/--keep-days.*\[ERR_USAGE\]$/);
    } finally {
      await rm(own, { recursive: true, force: true });
    }
  });

  it('--burst and --rate set how fast a client may send', async () => {
    const limited = await startServer(
      [
        'chat',
        'serve',
        '--data-dir',
        dir,
        '--host',
        '127.0.0.1',
        '--port',
        '0',
        '--no-irc',
        '--no-udp',
      ].concat(['--burst', '4', '--rate', '1']),
      1,
    );
    try {
      const { ChatClient } = await import('../../src/chat/client.js');
      const client = await ChatClient.connect({
        host: '127.0.0.1',
        port: limited.listening[0]?.port,
        nick: 'quick',
      });
      // The nick and the join took two of the four; two messages pass, the third is refused.
      client.send({ type: 'join', room: 'limits' });
      for (const text of ['one', 'two', 'three']) client.send({ type: 'say', room: 'limits', text }, text);
      // (The refusal answers at once; the echoes follow the join's scrollback.)
      const seen: string[] = [];
      const refused: unknown[] = [];
      for await (const event of client) {
        if (event.type === 'message' && event.echo) seen.push(event.message.text);
        if (event.type === 'refused') refused.push(event);
        if (seen.length === 2 && refused.length === 1) break;
      }
      expect(seen).toEqual(['one', 'two']);
      expect(refused).toEqual([expect.objectContaining({ ref: 'three', code: 'ERR_THROTTLED' })]);
      expect((refused[0] as { retryAfterMs: number }).retryAfterMs).toBeLessThanOrEqual(1000);
      await client.close();
    } finally {
      await limited.stop();
    }
  });

  it('serves IRC beside it, on the same rooms', async () => {
    const irc = net.connect({ host: '127.0.0.1', port: ircPort });
    let text = '';
    irc.setEncoding('utf8');
    irc.on('data', (d: string) => {
      text += d;
    });
    irc.write('NICK ircer\r\nUSER ircer 0 * :IRC user\r\nJOIN #lobby\r\n');
    for (let i = 0; i < 300 && !/ 366 /.test(text); i++) await new Promise((r) => setTimeout(r, 10));
    expect(text).toMatch(/ 001 ircer /);
    const sent = await sockit(['chat', 'send', target, 'lobby', 'to', 'irc', '--nick', 'native']);
    expect(sent.code, sent.stderr).toBe(0);
    for (let i = 0; i < 300 && !/PRIVMSG #lobby :to irc/.test(text); i++)
      await new Promise((r) => setTimeout(r, 10));
    expect(text).toMatch(/:native!\S+ PRIVMSG #lobby :to irc\r\n/);
    irc.destroy();
  });

  it('refuses a bad server address and a missing server with one line each', async () => {
    const bad = await sockit(['chat', 'send', 'localhost:99999', 'lobby', 'x']);
    expect(bad.code).toBe(2);
    expect(errorLine(bad.stderr)).toMatch(/port must be from 1 to 65535.*\[ERR_INVALID_ARGUMENT\]$/);
    const down = await sockit(['chat', 'send', '127.0.0.1:1', 'lobby', 'x', '--nick', 'n']);
    expect(down.code).toBe(5);
    expect(errorLine(down.stderr)).toMatch(/cannot connect to 127\.0\.0\.1:1.*\[ERR_CONNECT_FAILED\]$/);
  });

  it('history survives a restart of the server', async () => {
    await server.stop();
    await start();
    const tail = await sockit(['chat', 'tail', target, 'lobby', '--no-follow', '--json', '--nick', 'reader']);
    expect(tail.code, tail.stderr).toBe(0);
    const texts = tail.stdout
      .toString()
      .trim()
      .split('\n')
      .map((l) => (JSON.parse(l) as { text: string }).text);
    expect(texts).toEqual(['build 42 passed', 'from an account', 'hello from a pipe', 'to irc']);
    // New ids continue after the stored ones.
    const sent = await sockit([
      'chat',
      'send',
      target,
      'lobby',
      'after',
      'restart',
      '--nick',
      'ci',
      '--json',
    ]);
    const after = JSON.parse(sent.stdout.toString()) as { id: string };
    const before = JSON.parse(tail.stdout.toString().trim().split('\n').at(-1) as string) as { id: string };
    expect(after.id > before.id).toBe(true);
  });
});
