/**
 * The chat service on each database engine: messages and a direct message waiting for an
 * account outlive a restart of the server, and new ids continue after the stored ones.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deriveCredentials } from '../../src/auth/scram.js';
import { openUserStore, type UserStore } from '../../src/auth/store.js';
import { ChatClient, type ClientEvent } from '../../src/chat/client.js';
import { type ChatService, serveChat } from '../../src/chat/service.js';
import { createTestDatabase, DB_KINDS, type DbKind, type TestDatabase } from '../databases.js';
import { TEST_ITERATIONS } from '../files/serve.js';

const PASSWORD = 'restart password';

async function until(client: ChatClient, wanted: (e: ClientEvent) => boolean): Promise<ClientEvent> {
  for await (const event of client) if (wanted(event)) return event;
  throw new Error('the connection ended first');
}

describe.each(DB_KINDS)('the chat service on %s', (kind: DbKind) => {
  let db: TestDatabase;
  let store: UserStore;
  const fakeKey = randomBytes(32);
  const start = (): Promise<ChatService> =>
    serveChat({
      store,
      history: db.url,
      fakeKey,
      host: '127.0.0.1',
      port: 0,
      udp: false,
      minIterations: TEST_ITERATIONS,
    });

  beforeAll(async () => {
    db = await createTestDatabase(kind);
    store = await openUserStore(db.url);
    await store.add('zoe', await deriveCredentials(PASSWORD, { iterations: TEST_ITERATIONS }));
  });

  afterAll(async () => {
    await store?.close();
    await db?.drop();
  });

  it('keeps the room and a waiting direct message across a restart', async () => {
    let chat = await start();
    const ann = await ChatClient.connect({ host: '127.0.0.1', port: chat.address.port, nick: 'ann' });
    ann.send({ type: 'join', room: 'lobby' });
    await until(ann, (e) => e.type === 'history');
    const sent: string[] = [];
    for (const text of ['one', 'two', 'three']) {
      ann.send({ type: 'say', room: 'lobby', text });
      const echo = await until(ann, (e) => e.type === 'message' && e.echo === true);
      if (echo.type === 'message') sent.push(echo.message.id);
    }
    ann.send({ type: 'dm', to: 'zoe', text: 'for when you are back' });
    expect(await until(ann, (e) => e.type === 'message')).toMatchObject({ queued: true });
    await ann.close();
    await chat.close();

    chat = await start();
    const bob = await ChatClient.connect({ host: '127.0.0.1', port: chat.address.port, nick: 'bob' });
    bob.send({ type: 'join', room: 'lobby' });
    const page = await until(bob, (e) => e.type === 'history');
    expect(page.type === 'history' && page.messages.map((m) => [m.id, m.text])).toEqual([
      [sent[0], 'one'],
      [sent[1], 'two'],
      [sent[2], 'three'],
    ]);
    bob.send({ type: 'say', room: 'lobby', text: 'four' });
    const four = await until(bob, (e) => e.type === 'message' && e.echo === true);
    expect(four.type === 'message' && four.message.id > (sent[2] as string)).toBe(true);

    const zoe = await ChatClient.connect({
      host: '127.0.0.1',
      port: chat.address.port,
      user: 'zoe',
      password: PASSWORD,
    });
    const waited = await until(zoe, (e) => e.type === 'history' && e.offline === true);
    expect(waited.type === 'history' && waited.messages.map((m) => `${m.from}: ${m.text}`)).toEqual([
      'ann: for when you are back',
    ]);
    await Promise.all([bob.close(), zoe.close()]);
    await chat.close();
  });

  it('remembers when an account was last seen across a restart (a guest, not)', async () => {
    let chat = await start();
    const zoe = await ChatClient.connect({
      host: '127.0.0.1',
      port: chat.address.port,
      user: 'zoe',
      password: PASSWORD,
    });
    const guest = await ChatClient.connect({ host: '127.0.0.1', port: chat.address.port, nick: 'passerby' });
    const watcher = await ChatClient.connect({ host: '127.0.0.1', port: chat.address.port, nick: 'watcher' });
    await Promise.all([zoe.close(), guest.close()]);
    // What this server says now, before the restart.
    const before = Date.now();
    let seenThen: number | undefined;
    for (let i = 0; i < 100 && seenThen === undefined; i++) {
      watcher.send({ type: 'whois', nick: 'zoe' });
      const answer = await until(watcher, (e) => e.type === 'whois');
      if (answer.type === 'whois' && !answer.user.online) seenThen = answer.user.lastSeen;
      else await new Promise((resolve) => setTimeout(resolve, 20));
    }
    expect(seenThen).toBeLessThanOrEqual(before);
    await watcher.close();
    await chat.close();

    chat = await start();
    const asker = await ChatClient.connect({ host: '127.0.0.1', port: chat.address.port, nick: 'asker' });
    asker.send({ type: 'whois', nick: 'ZOE' });
    expect(await until(asker, (e) => e.type === 'whois')).toMatchObject({
      user: { nick: 'zoe', account: 'zoe', online: false, lastSeen: seenThen },
    });
    // A guest's nick is anyone's: after a restart nothing is known of it.
    asker.send({ type: 'whois', nick: 'passerby' });
    const refused = await until(asker, (e) => e.type === 'refused');
    expect(refused).toMatchObject({ code: 'ERR_NO_SUCH_NICK' });
    await asker.close();
    await chat.close();
  });
});
