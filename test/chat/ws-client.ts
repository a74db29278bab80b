/**
 * A chat client over WebSocket for tests, on the `ws` package: the messages a browser would
 * send and read (session.ts), collected in order, with log-in by SCRAM over the same frames.
 */
import net from 'node:net';
import { WebSocket } from 'ws';
import { scramLogin } from '../../src/auth/login-client.js';

type Message = Record<string, unknown>;

/** How long any wait for the server lasts before the test fails, in ms. */
const WAIT_MS = 5000;

export class WsChat {
  readonly ws: WebSocket;
  /** Messages received and not yet taken, in order. */
  readonly inbox: Message[] = [];
  /** Resolves with the close code and reason once the connection is closed. */
  readonly closed: Promise<{ code: number; reason: string }>;
  #wake: (() => void) | undefined;

  private constructor(ws: WebSocket) {
    this.ws = ws;
    ws.on('message', (data, binary) => {
      if (binary) throw new Error('the server sent a binary frame');
      this.inbox.push(JSON.parse(String(data)) as Message);
      this.#notify();
    });
    this.closed = new Promise((resolve) => {
      ws.on('close', (code, reason) => {
        this.#notify();
        resolve({ code, reason: reason.toString() });
      });
    });
    ws.on('error', () => {});
  }

  /** Connects; rejects with the HTTP status when the server answers the upgrade with one. */
  static open(url: string, options: ConstructorParameters<typeof WebSocket>[2] = {}): Promise<WsChat> {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(url, options);
      const chat = new WsChat(ws);
      ws.once('open', () => resolve(chat));
      ws.once('unexpected-response', (_req, res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => {
          body += d;
        });
        res.on('end', () =>
          reject(Object.assign(new Error(`HTTP ${res.statusCode}`), { status: res.statusCode, body })),
        );
      });
      ws.once('error', reject);
    });
  }

  /** Opens and greets: the server's hello. */
  static async hello(url: string, options: ConstructorParameters<typeof WebSocket>[2] = {}): Promise<WsChat> {
    const chat = await WsChat.open(url, options);
    chat.send({ op: 'hello', version: 1 });
    const hello = await chat.next();
    if (hello.type !== 'hello') throw new Error(`expected hello, got ${JSON.stringify(hello)}`);
    return chat;
  }

  /** A guest with `nick`: resolves with the welcome. */
  static async guest(url: string, nick: string, options: ConstructorParameters<typeof WebSocket>[2] = {}) {
    const chat = await WsChat.hello(url, options);
    chat.send({ type: 'nick', nick });
    return {
      chat,
      welcome: await chat.until((m) => m.type === 'welcome').then((seen) => seen.at(-1) as Message),
    };
  }

  /** Logs in to an account with SCRAM over the WebSocket: resolves with the welcome. */
  static async account(
    url: string,
    user: string,
    password: string,
    options: ConstructorParameters<typeof WebSocket>[2] = {},
  ) {
    const chat = await WsChat.hello(url, options);
    await scramLogin({ send: (m) => chat.send(m), receive: () => chat.next() }, user, password);
    return {
      chat,
      welcome: await chat.until((m) => m.type === 'welcome').then((seen) => seen.at(-1) as Message),
    };
  }

  send(message: object): void {
    this.ws.send(JSON.stringify(message));
  }

  /** The next message, within 5 s. */
  async next(): Promise<Message> {
    const deadline = Date.now() + WAIT_MS;
    for (;;) {
      const message = this.inbox.shift();
      if (message !== undefined) return message;
      if (this.ws.readyState === WebSocket.CLOSED) throw new Error('the connection closed');
      const left = deadline - Date.now();
      if (left <= 0) throw new Error('no message from the server in time');
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.#wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
  }

  /** The messages up to and including the first that `match` accepts. */
  async until(match: (m: Message) => boolean): Promise<Message[]> {
    const seen: Message[] = [];
    for (;;) {
      const message = await this.next();
      seen.push(message);
      if (match(message)) return seen;
    }
  }

  close(): Promise<{ code: number; reason: string }> {
    this.ws.close();
    return this.closed;
  }

  #notify(): void {
    const wake = this.#wake;
    this.#wake = undefined;
    wake?.();
  }
}

/** Sends `request` as it is over TCP; resolves with everything the server wrote before it closed (10 s at most). */
export function exchange(port: number, request: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: '127.0.0.1', port }, () => socket.write(request));
    let text = '';
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`the server did not close; it wrote ${text.slice(0, 200)}`));
    }, 10_000);
    socket.setEncoding('utf8');
    socket.on('data', (d: string) => {
      text += d;
    });
    socket.on('error', () => {});
    socket.on('close', () => {
      clearTimeout(timer);
      resolve(text);
    });
  });
}
