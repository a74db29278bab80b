/**
 * One conversation over the chat's transports on one server: a native client (TCP), a native
 * client over TLS logged in to an account, a person with `nc` (line mode) and a UDP datagram
 * all meet in `lobby` and see each other's messages, in order, with server time.
 */
import dgram from 'node:dgram';
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ChatClient, type ClientEvent } from '../../src/chat/client.js';
import type { ChatMessage } from '../../src/chat/protocol.js';
import { type ChatListeners, listenChat } from '../../src/chat/serve.js';
import { ErrorCode } from '../../src/errors.js';
import { type ChatFixture, chatFixture, collect, PASSWORD } from './fixture.js';

/** Reads line-mode output until `match` shows, within 5 s. */
class LineClient {
  readonly socket: net.Socket;
  text = '';
  constructor(port: number) {
    this.socket = net.connect({ host: '127.0.0.1', port });
    this.socket.setEncoding('utf8');
    this.socket.on('data', (d: string) => {
      this.text += d;
    });
  }
  write(line: string): void {
    this.socket.write(`${line}\n`);
  }
  async waitFor(match: RegExp): Promise<string> {
    for (let i = 0; i < 500; i++) {
      const found = this.text.match(match);
      if (found) return found[0];
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    throw new Error(`line client never saw ${match}; it saw:\n${this.text}`);
  }
}

const isMessage = (text: string) => (e: ClientEvent) => e.type === 'message' && e.message.text === text;

describe('the chat transports', () => {
  let fixture: ChatFixture;
  let listeners: ChatListeners;
  let port = 0;
  let ca: Buffer;
  let tlsListeners: ChatListeners;

  beforeAll(async () => {
    fixture = await chatFixture();
    const { server, login } = fixture;
    listeners = await listenChat({ server, login, host: '127.0.0.1', port: 0, greetAfterMs: 200 });
    port = listeners.tcp.address.port;
    ca = fixture.cert;
    tlsListeners = await listenChat({
      server,
      login,
      host: '127.0.0.1',
      port: 0,
      udp: false,
      tls: { cert: fixture.cert, key: fixture.key },
    });
  });

  afterAll(async () => {
    await Promise.all([listeners.close(), tlsListeners.close()]);
    await fixture.close();
  });

  it('a native guest, an account over TLS, an nc user and a datagram talk in one room', async () => {
    const ann = await ChatClient.connect({ host: '127.0.0.1', port, nick: 'ann' });
    expect(ann.welcome).toMatchObject({ nick: 'ann', admin: false });
    ann.send({ type: 'join', room: 'lobby' });
    await collect(ann, (e) => e.type === 'history');

    const carol = await ChatClient.connect({
      host: '127.0.0.1',
      port: tlsListeners.tcp.address.port,
      tls: { ca },
      user: 'carol',
      password: PASSWORD,
    });
    expect(carol.welcome).toMatchObject({ nick: 'carol', account: 'carol' });
    carol.send({ type: 'join', room: 'lobby' });
    await collect(carol, (e) => e.type === 'history');

    // The nc user types its nick first; it is put in lobby.
    const nc = new LineClient(port);
    nc.write('dave');
    await nc.waitFor(/you are in #lobby: .*dave/);

    ann.send({ type: 'say', room: 'lobby', text: 'hello from ann' });
    carol.send({ type: 'say', room: 'lobby', text: 'hello from carol' });
    nc.write('hello from dave');
    const udp = dgram.createSocket('udp4');
    await new Promise<void>((resolve) => udp.send('hello by datagram\n', port, '127.0.0.1', () => resolve()));
    udp.close();

    // The four arrive in the order the server took them (which may not be the order they
    // were sent from four clients); every client sees that same order.
    const all = [
      'ann: hello from ann',
      'carol: hello from carol',
      'dave: hello from dave',
      'udp-127-0-0-1: hello by datagram',
    ];
    const texts = (events: ClientEvent[]) =>
      events.flatMap((e) => (e.type === 'message' ? [`${e.message.from}: ${e.message.text}`] : []));
    const seenByAnn: ClientEvent[] = [];
    while (texts(seenByAnn).length < 4) seenByAnn.push(...(await collect(ann, (e) => e.type === 'message')));
    expect([...texts(seenByAnn)].sort()).toEqual(all);
    const messages = seenByAnn.flatMap((e) => (e.type === 'message' ? [e.message] : [])) as ChatMessage[];
    // Server time and ids, increasing.
    for (let i = 1; i < messages.length; i++) {
      expect((messages[i] as ChatMessage).id > (messages[i - 1] as ChatMessage).id).toBe(true);
      expect((messages[i] as ChatMessage).at).toBeGreaterThanOrEqual((messages[i - 1] as ChatMessage).at);
    }
    // Ann's own message came back as an echo; the others did not.
    expect(seenByAnn.find(isMessage('hello from ann'))).toMatchObject({ echo: true });
    expect(seenByAnn.find(isMessage('hello from carol'))).not.toHaveProperty('echo');

    const seenByCarol: ClientEvent[] = [];
    while (texts(seenByCarol).length < 4)
      seenByCarol.push(...(await collect(carol, (e) => e.type === 'message')));
    expect(texts(seenByCarol)).toEqual(texts(seenByAnn));

    // The nc user sees the others as the lesson's chat room printed them, not its own line.
    await nc.waitFor(/\[\d\d:\d\d\] udp-127-0-0-1: hello by datagram\r\n/);
    await nc.waitFor(/\[\d\d:\d\d\] ann: hello from ann\r\n/);
    await nc.waitFor(/\[\d\d:\d\d\] carol: hello from carol\r\n/);
    expect(nc.text).not.toMatch(/dave: hello from dave/);
    const ncOrder = [...nc.text.matchAll(/\] ([\w-]+: hello [\w ]+)\r\n/g)].map((m) => m[1]);
    expect(ncOrder).toEqual(texts(seenByAnn).filter((t) => !t.startsWith('dave')));

    // A newcomer gets the conversation as scrollback, from the history.
    const erin = await ChatClient.connect({ host: '127.0.0.1', port, nick: 'erin' });
    erin.send({ type: 'join', room: 'lobby' });
    const joined = await collect(erin, (e) => e.type === 'history');
    const page = joined.at(-1);
    expect(page?.type === 'history' && page.messages.map((m) => `${m.from}: ${m.text}`)).toEqual(
      texts(seenByAnn),
    );
    nc.socket.destroy();
    await Promise.all([ann.close(), carol.close(), erin.close()]);
  });

  it('refuses a taken nick and a wrong password with their codes', async () => {
    const first = await ChatClient.connect({ host: '127.0.0.1', port, nick: 'frank' });
    await expect(ChatClient.connect({ host: '127.0.0.1', port, nick: 'FRANK' })).rejects.toMatchObject({
      code: ErrorCode.NICK_IN_USE,
    });
    // A guest may not take an account's name.
    await expect(ChatClient.connect({ host: '127.0.0.1', port, nick: 'carol' })).rejects.toMatchObject({
      code: ErrorCode.NICK_IN_USE,
    });
    await expect(
      ChatClient.connect({ host: '127.0.0.1', port, user: 'carol', password: 'wrong' }),
    ).rejects.toMatchObject({ code: ErrorCode.AUTH_FAILED });
    await first.close();
  });

  it('asks a silent nc user for its nick, and refuses a line that is not UTF-8', async () => {
    const nc = new LineClient(port);
    await nc.waitFor(/your nick\?/);
    nc.write('gina');
    await nc.waitFor(/you are in #lobby/);
    nc.socket.write(Buffer.from([0x68, 0xff, 0x69, 0x0a]));
    await nc.waitFor(/not valid UTF-8 \[ERR_BAD_REQUEST\]/);
    // U+FFFD typed as such is text like any other, not taken for bad bytes.
    nc.write('a real \uFFFD here');
    nc.write('/msg nobody-here hi');
    await nc.waitFor(/ERR_NO_SUCH_NICK/);
    expect(nc.text.match(/not valid UTF-8/g)).toHaveLength(1);
    nc.socket.destroy();
  });

  it('a native client that sends garbage is closed; the others go on', async () => {
    const ann = await ChatClient.connect({ host: '127.0.0.1', port, nick: 'hank' });
    const bad = net.connect({ host: '127.0.0.1', port });
    // A frame that claims 1 MiB: over the 64 KiB a command may have.
    bad.write(Buffer.from([0x00, 0x10, 0x00, 0x00, 0x7b]));
    await new Promise((resolve) => bad.once('close', resolve));
    ann.send({ type: 'join', room: 'lobby' });
    await collect(ann, (e) => e.type === 'history');
    await ann.close();
  });
});
