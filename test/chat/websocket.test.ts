/**
 * The chat over WebSocket on the chat's own port (plain and TLS): guests and accounts, a
 * WebSocket client and a native client in one room, refusals, and what is not a chat
 * WebSocket (a wrong path, a plain GET, binary or non-JSON frames, an oversized frame).
 */
import { randomBytes } from 'node:crypto';
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ChatClient } from '../../src/chat/client.js';
import type { ChatMessage } from '../../src/chat/protocol.js';
import { type ChatListeners, listenChat } from '../../src/chat/serve.js';
import { type WebSocketAcceptor, webSocketAcceptor } from '../../src/chat/websocket.js';
import { ErrorCode } from '../../src/errors.js';
import { type ChatFixture, chatFixture, collect, PASSWORD } from './fixture.js';
import { exchange, WsChat } from './ws-client.js';

describe('the chat over WebSocket on the chat port', () => {
  let fixture: ChatFixture;
  let acceptor: WebSocketAcceptor;
  let listeners: ChatListeners;
  let tlsListeners: ChatListeners;
  let ca: Buffer;
  let url = '';
  let tlsUrl = '';
  let port = 0;

  beforeAll(async () => {
    fixture = await chatFixture();
    const { server, login } = fixture;
    acceptor = webSocketAcceptor({ server, login });
    const webSocket = (socket: net.Socket, conn: Parameters<WebSocketAcceptor['accept']>[1]) =>
      acceptor.accept(socket, conn);
    listeners = await listenChat({ server, login, host: '127.0.0.1', port: 0, udp: false, webSocket });
    port = listeners.tcp.address.port;
    url = `ws://127.0.0.1:${port}/chat/ws`;
    ca = fixture.cert;
    const tls = { cert: fixture.cert, key: fixture.key };
    tlsListeners = await listenChat({
      server,
      login,
      host: '127.0.0.1',
      port: 0,
      udp: false,
      tls,
      webSocket,
    });
    tlsUrl = `wss://127.0.0.1:${tlsListeners.tcp.address.port}/chat/ws`;
  });

  afterAll(async () => {
    // Every client is told goodbye first, so that no listener waits for one to leave.
    await fixture.server.close();
    await acceptor.close();
    await Promise.all([listeners.close(), tlsListeners.close()]);
    await fixture.close();
  });

  it('a WebSocket guest, a WebSocket account over TLS and a native client talk in one room', async () => {
    const { chat: ann, welcome } = await WsChat.guest(url, 'ann');
    expect(welcome).toMatchObject({ type: 'welcome', nick: 'ann', admin: false });
    ann.send({ type: 'join', room: 'lobby' });
    await ann.until((m) => m.type === 'history');

    const { chat: carol, welcome: carolWelcome } = await WsChat.account(tlsUrl, 'carol', PASSWORD, { ca });
    expect(carolWelcome).toMatchObject({ nick: 'carol', account: 'carol' });
    carol.send({ type: 'join', room: 'lobby' });
    await carol.until((m) => m.type === 'history');

    const bob = await ChatClient.connect({ host: '127.0.0.1', port, nick: 'bob' });
    bob.send({ type: 'join', room: 'lobby' });
    await collect(bob, (e) => e.type === 'history');

    ann.send({ type: 'say', room: 'lobby', text: 'one from ann' });
    await ann.until((m) => m.type === 'message');
    bob.send({ type: 'say', room: 'lobby', text: 'two from bob' });
    // Each waits for its own echo before the next speaks: the order is then the sending order.
    await collect(bob, (e) => e.type === 'message' && e.message.from === 'bob');
    carol.send({ type: 'say', room: 'lobby', text: 'three from carol' });

    const said = (seen: Record<string, unknown>[]) =>
      seen.flatMap((m) => (m.type === 'message' ? [m.message as ChatMessage] : []));
    const annSaw = said(
      await ann.until((m) => m.type === 'message' && (m.message as ChatMessage).from === 'carol'),
    );
    const carolSaw = said(
      await carol.until((m) => m.type === 'message' && (m.message as ChatMessage).from === 'carol'),
    );
    // Ann's own message was taken before; she then sees bob's and carol's, carol all three.
    expect(annSaw.map((m) => `${m.from}: ${m.text}`)).toEqual([
      'bob: two from bob',
      'carol: three from carol',
    ]);
    expect(carolSaw.map((m) => `${m.from}: ${m.text}`)).toEqual([
      'ann: one from ann',
      'bob: two from bob',
      'carol: three from carol',
    ]);
    for (let i = 1; i < carolSaw.length; i++) {
      const [before, after] = [carolSaw[i - 1] as ChatMessage, carolSaw[i] as ChatMessage];
      expect(after.id > before.id).toBe(true);
      expect(after.at).toBeGreaterThanOrEqual(before.at);
      expect(Math.abs(after.at - Date.now())).toBeLessThan(60_000);
    }
    // The native client sees the WebSocket clients' messages; carol's own comes back as an echo.
    const bobSaw = await collect(bob, (e) => e.type === 'message' && e.message.from === 'carol');
    expect(bobSaw.at(-1)).toMatchObject({ message: { text: 'three from carol', account: 'carol' } });
    expect(bobSaw.at(-1)).not.toHaveProperty('echo');
    // Nothing else came to carol: the answer to her next command is the next thing she reads.
    carol.send({ type: 'members', room: 'lobby' });
    expect(await carol.next()).toMatchObject({ type: 'members', room: { name: 'lobby', members: 3 } });
    await Promise.all([ann.close(), carol.close(), bob.close()]);
  });

  it('marks the echo of a WebSocket client’s own message, and refuses a command with its ref', async () => {
    const { chat: dave } = await WsChat.guest(url, 'dave');
    dave.send({ type: 'join', room: 'lobby' });
    await dave.until((m) => m.type === 'history');
    dave.send({ type: 'say', room: 'lobby', text: 'me again' });
    const [echo] = await dave.until((m) => m.type === 'message');
    expect(echo).toMatchObject({ echo: true, message: { from: 'dave', text: 'me again' } });
    dave.send({ type: 'join', room: 'no such room!', ref: 'r-17' });
    expect(await dave.next()).toMatchObject({ type: 'refused', code: ErrorCode.BAD_ROOM, ref: 'r-17' });
    // A taken nick, for another WebSocket client.
    const erin = await WsChat.hello(url);
    erin.send({ type: 'nick', nick: 'DAVE', ref: 'n1' });
    expect(await erin.next()).toMatchObject({ type: 'refused', code: ErrorCode.NICK_IN_USE, ref: 'n1' });
    // A wrong password, by the log-in messages.
    await expect(WsChat.account(url, 'carol', 'wrong')).rejects.toMatchObject({
      code: ErrorCode.AUTH_FAILED,
    });
    await Promise.all([dave.close(), erin.close()]);
  });

  it('answers a wrong path with 404 and a plain GET with 426; the chat port still speaks its other protocols', async () => {
    await expect(WsChat.open(`ws://127.0.0.1:${port}/elsewhere`)).rejects.toMatchObject({ status: 404 });
    await expect(WsChat.open(`${tlsUrl.replace('/chat/ws', '/')}`, { ca })).rejects.toMatchObject({
      status: 404,
    });
    const plain = await exchange(port, 'GET /chat/ws HTTP/1.1\r\nHost: x\r\n\r\n');
    expect(plain).toMatch(/^HTTP\/1\.1 426 Upgrade Required\r\n/);
    expect(plain).toMatch(/WebSocket endpoint/);
    const other = await exchange(port, 'GET /index.html HTTP/1.1\r\nHost: x\r\n\r\n');
    expect(other).toMatch(/^HTTP\/1\.1 404 Not Found\r\n/);
    // A query string is not part of the path.
    const { chat } = await WsChat.guest(`${url}?v=1`, 'frank');
    await chat.close();
  });

  it('takes an upgrade request that arrives in pieces', async () => {
    const socket = net.connect({ host: '127.0.0.1', port });
    await new Promise((resolve) => socket.once('connect', resolve));
    let text = '';
    socket.on('data', (d: Buffer) => {
      text += d.toString('latin1');
    });
    const key = randomBytes(16).toString('base64');
    const head = `GET /chat/ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n\r\n`;
    for (const piece of [head.slice(0, 5), head.slice(5, 40), head.slice(40)]) {
      socket.write(piece);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    for (let i = 0; i < 250 && !text.includes('\r\n\r\n'); i++) await new Promise((r) => setTimeout(r, 20));
    expect(text).toMatch(/^HTTP\/1\.1 101 Switching Protocols\r\n/);
    socket.destroy();
  });

  it('closes a client that sends a binary frame, text that is not a JSON object or not UTF-8, or a frame over 64 KiB', async () => {
    const binary = await WsChat.hello(url);
    binary.ws.send(Buffer.from('{"type":"nick","nick":"gina"}'));
    expect(await binary.closed).toEqual({
      code: 1003,
      reason: 'binary frames are not accepted: send JSON text',
    });
    expect(binary.inbox.at(-1)).toMatchObject({ type: 'bye', code: ErrorCode.BAD_REQUEST });

    const notJson = await WsChat.hello(url);
    notJson.ws.send('nick gina');
    expect(await notJson.closed).toEqual({ code: 1007, reason: 'a message must be one JSON object' });

    const array = await WsChat.guest(url, 'gina');
    array.chat.ws.send('[1,2,3]');
    expect((await array.chat.closed).code).toBe(1007);

    const notUtf8 = await WsChat.hello(url);
    notUtf8.ws.send(Buffer.from([0x7b, 0xff, 0x7d]), { binary: false });
    expect((await notUtf8.closed).code).toBe(1007);

    const big = await WsChat.hello(url);
    big.send({ type: 'nick', nick: 'hank', pad: 'x'.repeat(65 * 1024) });
    expect((await big.closed).code).toBe(1009);

    // Frames arrive in order: what came before the bad one was served.
    const before = await WsChat.hello(url);
    before.send({ type: 'nick', nick: 'ivan' });
    before.ws.send('oops');
    expect(await before.until((m) => m.type === 'welcome')).toHaveLength(1);
    expect((await before.closed).code).toBe(1007);
  });
});
