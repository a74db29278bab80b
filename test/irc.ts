/**
 * A raw IRC client for tests: lines over a plain or TLS socket, waits for an expected line
 * (never for a length of time), and an in-process IRC service over a chat server with the
 * stores the test asks for. `settled` proves that nothing more is coming for a client: the
 * server answers a PING after everything queued for that client before it.
 */
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import tls from 'node:tls';
import { deriveCredentials } from '../src/auth/scram.js';
import { openUserStore, type UserStore } from '../src/auth/store.js';
import { AccountNames } from '../src/chat/accounts.js';
import { type ChatHistory, openChatHistory } from '../src/chat/history.js';
import { ChatHub } from '../src/chat/hub.js';
import { type IrcServiceOptions, serveIrc } from '../src/chat/irc/serve.js';
import type { ChatLimits } from '../src/chat/protocol.js';
import { ChatServer } from '../src/chat/server.js';
import type { TcpService } from '../src/runtime/tcp.js';

const WAIT_MS = 10_000;

export class IrcClient {
  readonly socket: net.Socket;
  /** Every line received, in order. */
  readonly lines: string[] = [];
  /** Lines before this index have been consumed by `expect`. */
  cursor = 0;
  #partial = '';
  #wake: (() => void) | undefined;
  #closed = false;
  #marks = 0;

  constructor(socket: net.Socket) {
    this.socket = socket;
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => {
      const parts = (this.#partial + chunk).split('\r\n');
      this.#partial = parts.pop() as string;
      this.lines.push(...parts);
      this.#wake?.();
    });
    socket.on('error', () => {});
    socket.on('close', () => {
      this.#closed = true;
      this.#wake?.();
    });
  }

  static async connect(port: number, options: { tls?: boolean } = {}): Promise<IrcClient> {
    const socket = options.tls
      ? tls.connect({ host: '127.0.0.1', port, rejectUnauthorized: false })
      : net.connect({ host: '127.0.0.1', port });
    await once(socket, options.tls ? 'secureConnect' : 'connect');
    return new IrcClient(socket);
  }

  get closed(): boolean {
    return this.#closed;
  }

  send(...lines: string[]): void {
    for (const line of lines) this.socket.write(`${line}\r\n`);
  }

  /** Waits for the next line (from the cursor) that matches, and moves the cursor past it. */
  async expect(match: RegExp | string): Promise<string> {
    const test = (line: string): boolean =>
      typeof match === 'string' ? line.includes(match) : match.test(line);
    const deadline = Date.now() + WAIT_MS;
    for (;;) {
      for (let i = this.cursor; i < this.lines.length; i++) {
        if (test(this.lines[i] as string)) {
          this.cursor = i + 1;
          return this.lines[i] as string;
        }
      }
      this.cursor = this.lines.length;
      if (this.#closed) throw new Error(`closed while waiting for ${match}; last lines:\n${this.tail()}`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no line matched ${match}; last lines:\n${this.tail()}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.#wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
  }

  /** Lines received from the cursor up to the answer of a PING sent now: all there is for now. */
  async settled(): Promise<string[]> {
    const from = this.cursor;
    const mark = `mark${++this.#marks}`;
    this.send(`PING ${mark}`);
    await this.expect(new RegExp(` PONG \\S+ :?${mark}$`));
    return this.lines.slice(from, this.cursor - 1);
  }

  /** Waits for the socket to close (the server let the client go). */
  async closedNow(): Promise<void> {
    while (!this.#closed) await new Promise<void>((resolve) => (this.#wake = resolve));
  }

  /** Registers as `nick` (after CAP negotiation of `caps`, when given) and waits for the welcome's end. */
  async register(nick: string, options: { caps?: string[]; pass?: string } = {}): Promise<void> {
    if (options.caps) this.send('CAP LS 302');
    if (options.pass !== undefined) this.send(`PASS ${options.pass}`);
    this.send(`NICK ${nick}`, `USER ${nick} 0 * :${nick} test`);
    if (options.caps) {
      await this.expect(/ CAP \* LS /);
      this.send(`CAP REQ :${options.caps.join(' ')}`);
      await this.expect(/ CAP \S+ ACK /);
      this.send('CAP END');
    }
    await this.expect(/ 001 /);
    await this.expect(/ (?:422|376) /);
  }

  /** Joins and waits for the end of the names. */
  async join(channel: string): Promise<void> {
    this.send(`JOIN ${channel}`);
    await this.expect(` 366 `);
  }

  tail(): string {
    return this.lines.slice(-15).join('\n');
  }

  close(): void {
    this.socket.destroy();
  }
}

/** Holds room history reads while closed: a slow history store, for the order of events. */
export class HistoryGate {
  #open = true;
  #waiting: (() => void)[] = [];

  close(): void {
    this.#open = false;
  }

  open(): void {
    this.#open = true;
    for (const wake of this.#waiting.splice(0)) wake();
  }

  wrap(history: ChatHistory): ChatHistory {
    return {
      kind: history.kind,
      append: (message, options) => history.append(message, options),
      room: async (room, page) => {
        if (!this.#open) await new Promise<void>((resolve) => this.#waiting.push(resolve));
        return history.room(room, page);
      },
      direct: (nick, page) => history.direct(nick, page),
      undelivered: (nick, limit) => history.undelivered(nick, limit),
      markDelivered: (ids) => history.markDelivered(ids),
      latestId: () => history.latestId(),
      recordSeen: (account, at) => history.recordSeen(account, at),
      lastSeen: (limit) => history.lastSeen(limit),
      prune: (before) => history.prune(before),
      close: () => history.close(),
    };
  }
}

/** A line without its IRCv3 tags. */
export function untagged(line: string): string {
  return line.startsWith('@') ? line.slice(line.indexOf(' ') + 1) : line;
}

export interface IrcFixture {
  service: TcpService;
  server: ChatServer;
  port: number;
  store?: UserStore;
  history?: ChatHistory;
  clients: IrcClient[];
  connect(options?: { tls?: boolean }): Promise<IrcClient>;
  /** A client registered as `nick`. */
  guest(nick: string, caps?: string[]): Promise<IrcClient>;
  /**
   * Guests registered (a nick, or a nick and the caps it negotiates) and in `channel`, joined
   * in order, each having read everything up to the last join.
   */
  together<const G extends (string | readonly [string, readonly string[]])[]>(
    channel: string,
    ...guests: G
  ): Promise<{ [K in keyof G]: IrcClient }>;
  close(): Promise<void>;
}

/**
 * An IRC service on a free port over a fresh chat server. `accounts`: names and passwords
 * made in a temporary SQLite user store (PBKDF2 at 4096 rounds, the least allowed, to be quick);
 * `history`: keep messages in a temporary SQLite history; `gate`: while it is closed, room
 * history pages wait (as from a database far away), and so do live events behind them.
 */
export async function ircFixture(
  options: {
    accounts?: Record<string, string>;
    /** Of `accounts`, those with the `admin` grant. */
    admins?: string[];
    history?: boolean;
    gate?: HistoryGate;
    limits?: Partial<ChatLimits>;
    irc?: Partial<IrcServiceOptions>;
  } = {},
): Promise<IrcFixture> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'sockit-irc-'));
  const file = path.join(dir, `chat-${randomBytes(4).toString('hex')}.db`);
  let store: UserStore | undefined;
  if (options.accounts) {
    store = await openUserStore(file);
    for (const [name, password] of Object.entries(options.accounts))
      await store.add(name, await deriveCredentials(password, { iterations: 4096 }), {
        grants: options.admins?.includes(name) ? ['admin'] : [],
      });
  }
  const history = options.history ? await openChatHistory(file) : undefined;
  const accounts = store ? await AccountNames.fromStore(store) : undefined;
  const hub = new ChatHub({
    ...(accounts ? { accounts } : {}),
    ...(options.limits ? { limits: options.limits } : {}),
  });
  const shown = history && options.gate ? options.gate.wrap(history) : history;
  const server = new ChatServer({ hub, ...(shown ? { history: shown } : {}) });
  const service = await serveIrc({
    server,
    host: '127.0.0.1',
    port: 0,
    ...(store ? { store } : {}),
    ...options.irc,
  });
  const port = service.address.port;
  const clients: IrcClient[] = [];
  const fixture: IrcFixture = {
    service,
    server,
    port,
    clients,
    async connect(connectOptions = {}) {
      const client = await IrcClient.connect(port, connectOptions);
      clients.push(client);
      return client;
    },
    async guest(nick, caps) {
      const client = await fixture.connect();
      await client.register(nick, caps && caps.length > 0 ? { caps } : {});
      return client;
    },
    async together(channel, ...guests) {
      const joined: IrcClient[] = [];
      for (const guest of guests) {
        const client =
          typeof guest === 'string'
            ? await fixture.guest(guest)
            : await fixture.guest(guest[0], [...guest[1]]);
        await client.join(channel);
        joined.push(client);
      }
      for (const client of joined) await client.settled();
      return joined as { [K in keyof typeof guests]: IrcClient };
    },
    async close() {
      for (const client of clients) client.close();
      await service.close();
      await server.close();
      await history?.close();
      await store?.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
  if (store) fixture.store = store;
  if (history) fixture.history = history;
  return fixture;
}
