/**
 * The chat's WebSocket endpoint on a port of its own (`serveChatWebSocket`), plain and TLS,
 * beside the chat's main port on the same server: accounts and guests, a native client in the
 * same room, Origin checks, and a stop that tells WebSocket clients it is going away.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ChatClient } from '../../src/chat/client.js';
import type { ChatMessage } from '../../src/chat/protocol.js';
import { type ChatListeners, listenChat } from '../../src/chat/serve.js';
import { serveChatWebSocket } from '../../src/chat/websocket.js';
import type { Service } from '../../src/runtime/service.js';
import { type ChatFixture, chatFixture, PASSWORD } from './fixture.js';
import { WsChat } from './ws-client.js';

describe('the chat’s WebSocket port', () => {
  let fixture: ChatFixture;
  let main: ChatListeners;
  let plain: Service;
  let secure: Service;
  let ca: Buffer;
  let url = '';
  let tlsUrl = '';

  beforeAll(async () => {
    fixture = await chatFixture();
    const { server, login } = fixture;
    main = await listenChat({ server, login, host: '127.0.0.1', port: 0, udp: false });
    const allowedOrigins = ['https://chat.example'];
    plain = await serveChatWebSocket({ server, login, host: '127.0.0.1', port: 0, allowedOrigins });
    url = `ws://127.0.0.1:${plain.address.port}/chat/ws`;
    ca = fixture.cert;
    secure = await serveChatWebSocket({
      server,
      login,
      host: '127.0.0.1',
      port: 0,
      path: '/talk',
      tls: { cert: fixture.cert, key: fixture.key },
      allowedOrigins: (origin) => origin === undefined || origin.endsWith('.example'),
    });
    tlsUrl = `wss://127.0.0.1:${secure.address.port}/talk`;
  });

  afterAll(async () => {
    await fixture.server.close();
    await Promise.all([main.close(), plain.close(), secure.close()]);
    await fixture.close();
  });

  it('an account logged in over WebSocket and a native guest talk in one room', async () => {
    const { chat: carol, welcome } = await WsChat.account(url, 'carol', PASSWORD);
    expect(welcome).toMatchObject({ type: 'welcome', nick: 'carol', account: 'carol' });
    carol.send({ type: 'join', room: 'lobby' });
    await carol.until((m) => m.type === 'history');
    const bob = await ChatClient.connect({ host: '127.0.0.1', port: main.tcp.address.port, nick: 'bob' });
    bob.send({ type: 'join', room: 'lobby' });
    for await (const e of bob) if (e.type === 'history') break;

    carol.send({ type: 'say', room: 'lobby', text: 'from the browser' });
    bob.send({ type: 'say', room: 'lobby', text: 'from the terminal' });
    const carolSaw = await carol.until(
      (m) => m.type === 'message' && (m.message as ChatMessage).text === 'from the terminal',
    );
    const bobSaw: ChatMessage[] = [];
    for await (const e of bob) {
      if (e.type === 'message') bobSaw.push(e.message);
      if (bobSaw.length === 2) break;
    }
    const messages = carolSaw.flatMap((m) => (m.type === 'message' ? [m.message as ChatMessage] : []));
    // The same two messages, in the same order, with the same ids and server times.
    expect(messages.map((m) => [m.id, m.at, m.from, m.text])).toEqual(
      bobSaw.map((m) => [m.id, m.at, m.from, m.text]),
    );
    await Promise.all([carol.close(), bob.close()]);
  });

  it('a guest over TLS at its own path', async () => {
    const { chat, welcome } = await WsChat.guest(tlsUrl, 'dora', { ca, origin: 'https://www.example' });
    expect(welcome).toMatchObject({ nick: 'dora' });
    await expect(WsChat.open(tlsUrl.replace('/talk', '/chat/ws'), { ca })).rejects.toMatchObject({
      status: 404,
    });
    await chat.close();
  });

  it('refuses an origin that is not allowed with 403', async () => {
    await expect(WsChat.open(url, { origin: 'https://evil.test' })).rejects.toMatchObject({ status: 403 });
    await expect(WsChat.open(tlsUrl, { ca, origin: 'https://evil.test' })).rejects.toMatchObject({
      status: 403,
    });
    // Allowed: the listed origin (in any case), and a client that is not a browser (no Origin).
    for (const options of [{ origin: 'https://CHAT.example' }, {}]) {
      const chat = await WsChat.hello(url, options);
      await chat.close();
    }
  });

  it('without allowed origins, takes only its own pages and clients that are not browsers', async () => {
    // Another site's page, opened by someone who can reach the chat, must not read its rooms.
    const own = await serveChatWebSocket({ server: fixture.server, host: '127.0.0.1', port: 0 });
    try {
      const port = own.address.port;
      const at = `ws://127.0.0.1:${port}/chat/ws`;
      for (const origin of [
        'https://evil.test',
        `http://127.0.0.1:${port + 1}`,
        `http://localhost:${port}`,
        'null',
        'not a url',
      ]) {
        await expect(WsChat.open(at, { origin }), origin).rejects.toMatchObject({ status: 403 });
      }
      for (const options of [
        { origin: `http://127.0.0.1:${port}` },
        { origin: `HTTP://127.0.0.1:${port}` },
        {},
      ]) {
        const chat = await WsChat.hello(at, options);
        await chat.close();
      }
    } finally {
      await own.close();
    }
  });

  it('tells its WebSocket clients it is going away when it stops', async () => {
    const spare = await serveChatWebSocket({ server: fixture.server, host: '127.0.0.1', port: 0 });
    const { chat } = await WsChat.guest(`ws://127.0.0.1:${spare.address.port}/chat/ws`, 'erin');
    await spare.close();
    expect(await chat.closed).toEqual({ code: 1001, reason: 'the chat server is stopping' });
    // The session left the chat with its connection.
    const other = await WsChat.guest(url, 'erin');
    await other.chat.close();
  });
});
