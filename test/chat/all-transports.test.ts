/**
 * One conversation over every transport of one chat service (`serveChat`, as the commands
 * start it): a native client, a WebSocket client, an IRC client and a person with `nc` in
 * `lobby` each say one line; each sees the others' lines in the same order, with server time.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openUserStore, type UserStore } from '../../src/auth/store.js';
import { ChatClient, type ClientEvent } from '../../src/chat/client.js';
import { type ChatService, serveChat } from '../../src/chat/service.js';
import { IrcClient } from '../irc.js';
import { WsChat } from './ws-client.js';

const WHO = ['native', 'web', 'irc', 'nc'] as const;

describe('one room, every transport', () => {
  let dir: string;
  let store: UserStore;
  let chat: ChatService;

  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'sockit-chat-all-'));
    const db = path.join(dir, 'sockit.db');
    store = await openUserStore(db);
    chat = await serveChat({
      store,
      history: db,
      fakeKey: randomBytes(32),
      host: '127.0.0.1',
      port: 0,
      ircPort: 0,
    });
  });

  afterAll(async () => {
    await chat.close();
    await store.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('a native, a WebSocket, an IRC and an nc user see each other, in one order, with server time', async () => {
    const port = chat.address.port;
    const ircPort = chat.others[0]?.address.port as number;

    const native = await ChatClient.connect({ host: '127.0.0.1', port, nick: 'native' });
    native.send({ type: 'join', room: 'lobby' });
    const { chat: web } = await WsChat.guest(`ws://127.0.0.1:${port}/chat/ws`, 'web');
    web.send({ type: 'join', room: 'lobby' });
    await web.until((m) => m.type === 'history');
    const irc = await IrcClient.connect(ircPort);
    await irc.register('irc', { caps: ['server-time', 'echo-message'] });
    await irc.join('#lobby');
    const nc = net.connect({ host: '127.0.0.1', port });
    let ncText = '';
    nc.setEncoding('utf8');
    nc.on('data', (d: string) => {
      ncText += d;
    });
    nc.write('nc\n');
    for (let i = 0; i < 300 && !/you are in #lobby/.test(ncText); i++)
      await new Promise((r) => setTimeout(r, 10));

    native.send({ type: 'say', room: 'lobby', text: 'from native' });
    web.send({ type: 'say', room: 'lobby', text: 'from web' });
    irc.send('PRIVMSG #lobby :from irc');
    nc.write('from nc\n');

    // The native client: all four (its own as an echo), with server time and ids.
    const seen: ClientEvent[] = [];
    for await (const event of native) {
      if (event.type === 'message') seen.push(event);
      if (seen.length === 4) break;
    }
    const order = seen.map((e) => (e.type === 'message' ? `${e.message.from}: ${e.message.text}` : ''));
    expect([...order].sort()).toEqual(WHO.map((w) => `${w}: from ${w}`).sort());
    for (const e of seen)
      if (e.type === 'message') expect(Math.abs(e.message.at - Date.now())).toBeLessThan(60_000);

    // The WebSocket client: the same order.
    const webOrder: string[] = [];
    while (webOrder.length < 4) {
      const m = (await web.next()) as { type: string; message?: { from: string; text: string; at: number } };
      if (m.type === 'message' && m.message) webOrder.push(`${m.message.from}: ${m.message.text}`);
    }
    expect(webOrder).toEqual(order);

    // The IRC client (with echo-message, its own too), each line with its server-time tag.
    const ircOrder: string[] = [];
    while (ircOrder.length < 4) {
      const line = await irc.expect(/ PRIVMSG #lobby :from /);
      expect(line).toMatch(/^@(?:\S*;)?time=\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z[ ;]/);
      const m = / :(\w+)!\S* PRIVMSG #lobby :(from \w+)$/.exec(line);
      ircOrder.push(`${m?.[1]}: ${m?.[2]}`);
    }
    expect(ircOrder).toEqual(order);

    // The nc user: the others' lines, as [HH:MM] nick: text, in the same order.
    const others = order.filter((o) => !o.startsWith('nc:'));
    for (let i = 0; i < 300 && (ncText.match(/\] \w+: from \w+\r\n/g) ?? []).length < 3; i++) {
      await new Promise((r) => setTimeout(r, 10));
    }
    const ncOrder = [...ncText.matchAll(/\[\d\d:\d\d\] (\w+: from \w+)\r\n/g)].map((m) => m[1]);
    expect(ncOrder).toEqual(others);

    nc.destroy();
    irc.close();
    await web.close();
    await native.close();
  });
});
