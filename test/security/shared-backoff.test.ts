/**
 * One back-off for failed log-ins across the file service, the chat and IRC, when they are
 * given the same throttles (as `sockit serve` gives them): guesses spent on one service count
 * on the others, so a guesser gains nothing by going from one to the next.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deriveCredentials, ScramClient } from '../../src/auth/scram.js';
import { openUserStore, type UserStore } from '../../src/auth/store.js';
import { Throttle } from '../../src/auth/throttle.js';
import { ChatClient } from '../../src/chat/client.js';
import { type ChatService, serveChat } from '../../src/chat/service.js';
import { ErrorCode } from '../../src/errors.js';
import { Channel } from '../../src/runtime/channel.js';
import type { TcpService } from '../../src/runtime/tcp.js';
import { serveFilesForTest, TEST_ITERATIONS } from '../files/serve.js';
import { IrcClient } from '../irc.js';

describe('one log-in back-off for files, chat and IRC', () => {
  let dir: string;
  let store: UserStore;
  let files: TcpService;
  let chat: ChatService;
  let ircPort = 0;

  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'sockit-backoff-'));
    store = await openUserStore(path.join(dir, 'users.db'));
    await store.add('ann', await deriveCredentials('correct horse', { iterations: TEST_ITERATIONS }));
    // No free failures and a minute's wait: one wrong guess anywhere stops the next everywhere.
    const throttles = {
      throttle: new Throttle({ freeFailures: 0, baseMs: 60_000, maxMs: 60_000 }),
      accountThrottle: new Throttle({ freeFailures: 0, baseMs: 60_000, maxMs: 60_000 }),
    };
    files = await serveFilesForTest(path.join(dir, 'root'), store, throttles);
    chat = await serveChat({
      store,
      history: path.join(dir, 'users.db'),
      fakeKey: randomBytes(32),
      host: '127.0.0.1',
      port: 0,
      udp: false,
      ircPort: 0,
      minIterations: TEST_ITERATIONS,
      ...throttles,
    });
    ircPort = chat.others[0]?.address.port ?? 0;
  });

  afterAll(async () => {
    await chat?.close();
    await files?.close();
    await store?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('a wrong guess on the file service makes the chat and IRC log-ins wait, the right password too', async () => {
    // One wrong guess at the file service.
    const socket = net.connect({ port: files.address.port, host: '127.0.0.1' });
    const channel = new Channel(socket);
    await channel.receive();
    const scram = new ScramClient('ann', 'a wrong guess');
    channel.send({ op: 'auth', mechanism: 'SCRAM-SHA-256', data: scram.first() });
    const first = (await channel.receive()).header;
    expect(first.ok).toBe(true);
    channel.send({ op: 'auth-final', data: await scram.final(String(first.data)) });
    expect((await channel.receive()).header).toMatchObject({ ok: false, code: ErrorCode.AUTH_FAILED });
    socket.destroy();

    // The chat, with the right password: throttled, not checked.
    await expect(
      ChatClient.connect({
        host: '127.0.0.1',
        port: chat.address.port,
        user: 'ann',
        password: 'correct horse',
      }),
    ).rejects.toMatchObject({ code: ErrorCode.THROTTLED });

    // IRC, with the right password (PASS from this host): refused as throttled too.
    const irc = await IrcClient.connect(ircPort);
    irc.send('PASS ann:correct horse', 'NICK ann', 'USER ann 0 * :Ann');
    expect(await irc.expect(/ 464 \* :/)).toMatch(/wait|try again/i);
    irc.close();
  });
});
