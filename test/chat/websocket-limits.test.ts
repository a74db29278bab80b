/**
 * The WebSocket transport's limits: a client that does not read is dropped while the others
 * talk on (and the server's buffered bytes stay within the bound), a client that answers no
 * ping is cut, and an HTTP request that is too large or too slow never becomes a WebSocket.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import type net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ChatHub } from '../../src/chat/hub.js';
import type { ChatMessage } from '../../src/chat/protocol.js';
import { type ChatListeners, listenChat } from '../../src/chat/serve.js';
import { ChatServer } from '../../src/chat/server.js';
import { type WebSocketAcceptor, webSocketAcceptor } from '../../src/chat/websocket.js';
import { ErrorCode } from '../../src/errors.js';
import { events } from '../../src/runtime/events.js';
import { requireTools } from '../helpers.js';
import { exchange, WsChat } from './ws-client.js';

const BOUND = 256 * 1024;

describe('the WebSocket transport’s limits', () => {
  let server: ChatServer;
  let acceptor: WebSocketAcceptor;
  let keepalive: WebSocketAcceptor;
  let listeners: ChatListeners;
  let pinging: ChatListeners;
  /** The server's side of every WebSocket connection, to watch what it holds unsent. */
  const sockets: net.Socket[] = [];
  let port = 0;

  beforeAll(async () => {
    // Rate limits off: the test talks as fast as it can.
    server = new ChatServer({ hub: new ChatHub({ limits: { burst: 1_000_000, refillMs: 1 } }) });
    acceptor = webSocketAcceptor({
      server,
      maxQueuedBytes: BOUND,
      upgradeTimeoutMs: 300,
      maxHeaderSize: 4096,
    });
    listeners = await listenChat({
      server,
      host: '127.0.0.1',
      port: 0,
      udp: false,
      webSocket: (socket, conn) => {
        sockets.push(socket);
        return acceptor.accept(socket, conn);
      },
    });
    port = listeners.tcp.address.port;
    keepalive = webSocketAcceptor({ server, pingIntervalMs: 250 });
    pinging = await listenChat({
      server,
      host: '127.0.0.1',
      port: 0,
      udp: false,
      webSocket: (socket, conn) => keepalive.accept(socket, conn),
    });
  });

  afterAll(async () => {
    await server.close();
    await Promise.all([acceptor.close(), keepalive.close()]);
    await Promise.all([listeners.close(), pinging.close()]);
  });

  it('drops a client that never reads, with bounded buffers, while another keeps talking', async () => {
    // The talker is on the other listener: what `acceptor` holds is the sleeper's alone.
    const { chat: talker } = await WsChat.guest(
      `ws://127.0.0.1:${pinging.tcp.address.port}/chat/ws`,
      'talker',
    );
    talker.send({ type: 'join', room: 'lobby' });
    await talker.until((m) => m.type === 'history');
    const first = sockets.length;
    const sleeper = await startSleeper(port);
    let sampling = true;
    try {
      // The sleeper has joined once the server lists it.
      for (;;) {
        talker.send({ type: 'members', room: 'lobby' });
        const [members] = await talker.until((m) => m.type === 'members');
        if (JSON.stringify(members).includes('"sleeper"')) break;
      }
      let gone = false;
      (sockets[first] as net.Socket).once('close', () => {
        gone = true;
      });
      const dropped: string[] = [];
      const off = events.error.subscribe((e) => {
        if (e.service === 'chat') dropped.push(e.code);
      });
      // What the server holds for the sleeper, looked at every event-loop turn.
      let most = 0;
      const sample = (): void => {
        most = Math.max(most, acceptor.queuedBytes);
        if (sampling) setImmediate(sample);
      };
      sample();
      const text = 'x'.repeat(2000);
      let sent = 0;
      try {
        // The kernel's buffers fill first (the sleeper's is small), then the server's queue.
        for (let batch = 0; batch < 1000 && !gone; batch++) {
          for (let i = 0; i < 50; i++) talker.send({ type: 'say', room: 'lobby', text: `${sent++} ${text}` });
          // The talker reads its own messages back, every one: it is not held up by the sleeper.
          const last = `${sent - 1} `;
          const back = await talker.until(
            (m) => m.type === 'message' && (m.message as ChatMessage).text.startsWith(last),
          );
          expect(back.filter((m) => m.type === 'message')).toHaveLength(50);
        }
      } finally {
        off();
      }
      expect(gone).toBe(true);
      expect(dropped).toContain(ErrorCode.SLOW_READER);
      // The sleeper's queue came near the bound and never passed it.
      expect(most).toBeGreaterThan(BOUND / 2);
      expect(most).toBeLessThanOrEqual(BOUND);
      expect(acceptor.connections).toBe(0);
      // The talker goes on.
      talker.send({ type: 'say', room: 'lobby', text: 'still here' });
      const after = await talker.until((m) => m.type === 'message');
      expect(after.at(-1)).toMatchObject({ echo: true, message: { text: 'still here' } });
      // The others were told the sleeper left.
      expect(after).toContainEqual(expect.objectContaining({ type: 'quit', nick: 'sleeper' }));
    } finally {
      sampling = false;
      sleeper.kill();
      await talker.close();
    }
  });

  it('pings its clients and cuts one that answers none', async () => {
    const wsUrl = `ws://127.0.0.1:${pinging.tcp.address.port}/chat/ws`;
    const { chat: live } = await WsChat.guest(wsUrl, 'live');
    const { chat: dead } = await WsChat.guest(wsUrl, 'dead', { autoPong: false });
    let pings = 0;
    live.ws.on('ping', () => pings++);
    // A connection dropped without a close frame: 1006.
    expect((await dead.closed).code).toBe(1006);
    while (pings < 2) await new Promise((resolve) => live.ws.once('ping', resolve));
    expect(live.ws.readyState).toBe(live.ws.OPEN);
    live.send({ type: 'rooms' });
    expect(await live.next()).toMatchObject({ type: 'rooms' });
    await live.close();
  });

  it('answers a request head over the bound with 431', async () => {
    const answer = await exchange(
      port,
      `GET /chat/ws HTTP/1.1\r\nHost: x\r\nX-Pad: ${'a'.repeat(8000)}\r\n\r\n`,
    );
    expect(answer).toMatch(/^HTTP\/1\.1 431 /);
  });

  it('cuts a request that is not whole in time', async () => {
    const answer = await exchange(port, 'GET /chat/ws HTTP/1.1\r\nHost: x\r\n');
    expect(answer).toBe('');
    // A whole one still gets its answer.
    expect(await exchange(port, 'GET /chat/ws HTTP/1.1\r\nHost: x\r\n\r\n')).toMatch(/^HTTP\/1\.1 426 /);
  });
});

/**
 * A WebSocket client that joins lobby and then never reads, with a small receive buffer
 * (SO_RCVBUF, which Node cannot set): the kernel then holds little for it, whatever the
 * system's TCP autotuning allows, and the server's own bound is what is reached.
 */
const SLEEPER = `
import base64, json, os, socket, sys
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
s.connect(('127.0.0.1', int(sys.argv[1])))
key = base64.b64encode(os.urandom(16)).decode()
s.sendall(('GET /chat/ws HTTP/1.1\\r\\nHost: x\\r\\nUpgrade: websocket\\r\\nConnection: Upgrade\\r\\n'
  'Sec-WebSocket-Key: ' + key + '\\r\\nSec-WebSocket-Version: 13\\r\\n\\r\\n').encode())
for m in [{'op': 'hello', 'version': 1}, {'type': 'nick', 'nick': 'sleeper'}, {'type': 'join', 'room': 'lobby'}]:
  data = json.dumps(m).encode()
  mask = os.urandom(4)
  s.sendall(bytes([0x81, 0x80 | len(data)]) + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(data)))
print('ready', flush=True)
sys.stdin.read()
`;

async function startSleeper(port: number): Promise<ChildProcess> {
  requireTools('python3');
  const child = spawn('python3', ['-c', SLEEPER, String(port)], { stdio: ['pipe', 'pipe', 'inherit'] });
  await new Promise<void>((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', (code) => reject(new Error(`the sleeper exited with ${code}`)));
    child.stdout?.once('data', () => resolve());
  });
  return child;
}
