/**
 * Hostile clients against the chat server: a flood of bad JOINs, a client that never reads,
 * an oversized line, a flood of datagrams. Each gets a clear refusal or is let go, within
 * bounds, while a well-behaved client keeps talking.
 */
import dgram from 'node:dgram';
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ChatClient, type ClientEvent } from '../../src/chat/client.js';
import { ChatHub } from '../../src/chat/hub.js';
import { type ChatListeners, listenChat } from '../../src/chat/serve.js';
import { ChatServer } from '../../src/chat/server.js';
import { CHAT_PROTOCOL_VERSION } from '../../src/chat/session.js';
import { ErrorCode } from '../../src/errors.js';
import { encodeEnvelope } from '../../src/wire/envelope.js';

async function next(client: ChatClient, until: (e: ClientEvent) => boolean): Promise<ClientEvent> {
  for await (const event of client) if (until(event)) return event;
  throw new Error('the connection ended first');
}

function closed(socket: net.Socket): Promise<void> {
  return new Promise((resolve) => {
    if (socket.destroyed) resolve();
    else socket.once('close', () => resolve());
  });
}

describe('the chat server against hostile clients', () => {
  let server: ChatServer;
  let listeners: ChatListeners;
  let port = 0;

  beforeAll(async () => {
    // A fast sender is needed to fill a queue: the rate limit is lifted for this test.
    server = new ChatServer({ hub: new ChatHub({ limits: { burst: 100_000, refillMs: 1 } }) });
    listeners = await listenChat({ server, host: '127.0.0.1', port: 0 });
    port = listeners.tcp.address.port;
  });

  afterAll(async () => {
    await listeners.close();
    await server.close();
  });

  it('10,000 bad JOINs: a few refusals, then the client is let go; another is unaffected', async () => {
    const good = await ChatClient.connect({ host: '127.0.0.1', port, nick: 'good' });
    good.send({ type: 'join', room: 'lobby' });
    await next(good, (e) => e.type === 'history');
    const socket = net.connect({ host: '127.0.0.1', port });
    const frames = [
      encodeEnvelope({ op: 'hello', version: CHAT_PROTOCOL_VERSION }),
      encodeEnvelope({ type: 'nick', nick: 'joiner' }),
    ];
    for (let i = 0; i < 10_000; i++) frames.push(encodeEnvelope({ type: 'join', room: `#bad room ${i}` }));
    socket.write(Buffer.concat(frames));
    let refusals = 0;
    let bye = '';
    let buffered = Buffer.alloc(0);
    socket.on('data', (d: Buffer) => {
      buffered = Buffer.concat([buffered, d]);
      while (buffered.length >= 4 && buffered.length >= 4 + buffered.readUInt32BE(0)) {
        const size = buffered.readUInt32BE(0);
        const header = JSON.parse(buffered.subarray(8, 4 + size).toString()) as {
          type: string;
          reason?: string;
        };
        buffered = buffered.subarray(4 + size);
        if (header.type === 'refused') refusals++;
        if (header.type === 'bye') bye = header.reason ?? '';
      }
    });
    socket.on('error', () => {});
    await closed(socket);
    expect(bye).toMatch(/too many refused commands/);
    expect(refusals).toBeGreaterThan(0);
    expect(refusals).toBeLessThanOrEqual(11);
    good.send({ type: 'say', room: 'lobby', text: 'still here' });
    expect(await next(good, (e) => e.type === 'message')).toMatchObject({ message: { text: 'still here' } });
    await good.close();
  });

  it('a client that never reads is dropped; the one that reads gets every message', {
    timeout: 120_000,
  }, async () => {
    const reader = await ChatClient.connect({ host: '127.0.0.1', port, nick: 'reader' });
    reader.send({ type: 'join', room: 'flood' });
    await next(reader, (e) => e.type === 'history');
    // The idle one joins, then stops reading.
    const idle = net.connect({ host: '127.0.0.1', port });
    idle.write(
      Buffer.concat([
        encodeEnvelope({ op: 'hello', version: CHAT_PROTOCOL_VERSION }),
        encodeEnvelope({ type: 'nick', nick: 'sleeper' }),
        encodeEnvelope({ type: 'join', room: 'flood' }),
      ]),
    );
    idle.on('error', () => {});
    await next(reader, (e) => e.type === 'join');
    idle.pause();
    const sender = await ChatClient.connect({ host: '127.0.0.1', port, nick: 'sender' });
    sender.send({ type: 'join', room: 'flood' });
    await next(sender, (e) => e.type === 'history');
    const text = 'x'.repeat(2000);
    // 48 MB to every member: past the 2 MiB a queue may hold and what the kernel buffers on
    // both ends of a loopback connection (here up to 4 MiB sent and 32 MiB received).
    const count = 24_000;
    let got = 0;
    let sleeperLeft = false;
    let readerDone = false;
    const reading = (async () => {
      for await (const event of reader) {
        if (event.type === 'message') got++;
        if (event.type === 'quit' && event.nick === 'sleeper') sleeperLeft = true;
        if (got === count) break;
      }
    })().finally(() => {
      readerDone = true;
    });
    // In batches, each sent once the last one's echo is back (the client's own queue is
    // bounded too) and the reader has it.
    for (let i = 0; i < count; i += 400) {
      for (let j = i; j < i + 400; j++) sender.send({ type: 'say', room: 'flood', text: `${j} ${text}` });
      const last = `${i + 399} ${text}`;
      await next(sender, (e) => e.type === 'message' && e.echo === true && e.message.text === last);
      // The reader keeps up (a reader more than 2 MiB behind is dropped too, as it should be).
      while (got < i + 400 && !readerDone) await new Promise((resolve) => setTimeout(resolve, 5));
    }
    await reading;
    expect(got).toBe(count);
    // The server let the sleeper go (the others were told it quit); once it reads again it
    // finds its connection closed, with far less than was sent.
    expect(sleeperLeft).toBe(true);
    idle.resume();
    await closed(idle);
    expect(idle.bytesRead).toBeLessThan((count * 2000) / 2);
    await Promise.all([reader.close(), sender.close()]);
  });

  it('a line over 4 KiB in line mode is refused; the next line is taken as usual', async () => {
    const socket = net.connect({ host: '127.0.0.1', port });
    let text = '';
    socket.setEncoding('utf8');
    socket.on('data', (d: string) => {
      text += d;
    });
    socket.on('error', () => {});
    socket.write('longliner\n');
    socket.write(`${'y'.repeat(10_000)}\n`);
    socket.write('/whois longliner\n');
    for (let i = 0; i < 300 && !/longliner \(guest\): online/.test(text); i++) {
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    expect(text).toMatch(/! that line is longer than 4096 bytes \[ERR_FRAME_TOO_LARGE\]/);
    expect(text).toMatch(/-- longliner \(guest\): online/);
    expect(text).not.toMatch(/yyyy/);
    socket.destroy();
  });

  it('a flood of datagrams from one source lands as a handful of messages, none answered', async () => {
    const watcher = await ChatClient.connect({ host: '127.0.0.1', port, nick: 'watcher' });
    watcher.send({ type: 'join', room: 'lobby' });
    await next(watcher, (e) => e.type === 'history');
    const udp = dgram.createSocket('udp4');
    let answers = 0;
    udp.on('message', () => answers++);
    await new Promise<void>((resolve) => udp.bind(0, '127.0.0.1', () => resolve()));
    for (let i = 0; i < 2000; i++) udp.send(`flood ${i}`, port, '127.0.0.1');
    // A marker from a second source shows when the flood has been taken in.
    await new Promise((resolve) => setTimeout(resolve, 300));
    const marker = dgram.createSocket('udp4');
    await new Promise<void>((resolve) => marker.bind(0, '127.0.0.2', () => resolve()));
    await new Promise<void>((resolve) => marker.send('marker', port, '127.0.0.1', () => resolve()));
    let flood = 0;
    for await (const event of watcher) {
      if (event.type === 'message' && event.message.text.startsWith('flood ')) flood++;
      if (event.type === 'message' && event.message.text === 'marker') break;
    }
    // A burst of 5, and 2 a second after it.
    expect(flood).toBeGreaterThanOrEqual(5);
    expect(flood).toBeLessThanOrEqual(10);
    expect(answers).toBe(0);
    udp.close();
    marker.close();
    await watcher.close();
  });

  it('a client may send 5,000 messages in one go: its own queue does not drop it', async () => {
    const sender = await ChatClient.connect({ host: '127.0.0.1', port, nick: 'burster' });
    sender.send({ type: 'join', room: 'burst' });
    await next(sender, (e) => e.type === 'history');
    // Five times the 1,024 messages a connection queues by default; short, so that the 5,000
    // echoes (about 1 MB) stay within what the server queues for a client that reads late.
    for (let i = 0; i < 5000; i++) {
      expect(sender.send({ type: 'say', room: 'burst', text: `${i} ${'b'.repeat(20)}` })).toBe(true);
    }
    const last = await next(sender, (e) => e.type === 'message' && e.message.text.startsWith('4999 '));
    expect(last).toMatchObject({ echo: true });
    await sender.close();
  });

  it('a refusal names the ref of the command it answers', async () => {
    const client = await ChatClient.connect({ host: '127.0.0.1', port, nick: 'reffer' });
    client.send({ type: 'join', room: 'not a room!' }, 'r-17');
    expect(await next(client, (e) => e.type === 'refused')).toMatchObject({
      type: 'refused',
      code: ErrorCode.BAD_ROOM,
      ref: 'r-17',
    });
    await client.close();
  });
});
