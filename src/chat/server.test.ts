/**
 * The server core without sockets: peers that record what they are sent, a history that
 * answers when the test lets it, so that the order of history and live events is checked.
 */
import { describe, expect, it } from 'vitest';
import { ErrorCode } from '../errors.js';
import type { ChatHistory, HistoryPage } from './history.js';
import { ChatHub } from './hub.js';
import type { ChatEvent, ChatMessage } from './protocol.js';
import { type ChatPeer, ChatServer } from './server.js';

class Peer implements ChatPeer {
  readonly events: ChatEvent[] = [];
  closed: { code: ErrorCode; reason: string } | undefined;
  deliver(event: ChatEvent): void {
    this.events.push(event);
  }
  close(code: ErrorCode, reason: string): void {
    this.closed = { code, reason };
  }
  types(): string[] {
    return this.events.map((e) => e.type);
  }
}

/** A history whose room reads wait until `release()`; appends are kept. */
class SlowHistory implements ChatHistory {
  readonly kind = 'sqlite' as const;
  readonly stored: ChatMessage[] = [];
  #waiting: (() => void)[] = [];
  async append(message: ChatMessage): Promise<void> {
    this.stored.push(message);
  }
  async room(room: string, page: { before?: string } = {}): Promise<HistoryPage> {
    await new Promise<void>((resolve) => this.#waiting.push(resolve));
    const before = page.before;
    return {
      messages: this.stored.filter((m) => m.room === room && (before === undefined || m.id < before)),
      more: false,
    };
  }
  async direct(): Promise<HistoryPage> {
    return { messages: [], more: false };
  }
  async undelivered(): Promise<ChatMessage[]> {
    return [];
  }
  async markDelivered(): Promise<void> {}
  async latestId(): Promise<string | undefined> {
    return undefined;
  }
  async close(): Promise<void> {}
  /** Lets every read under way answer, once those asked for have started. */
  async release(): Promise<void> {
    await new Promise((resolve) => setImmediate(resolve));
    for (const wake of this.#waiting.splice(0)) wake();
  }
  get pending(): number {
    return this.#waiting.length;
  }
}

function attach(server: ChatServer, peer: Peer): string {
  const attached = server.attach(peer);
  if (!('session' in attached)) throw new Error('refused');
  return attached.session;
}

const settle = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

describe('ChatServer', () => {
  it('routes deliveries to the peers the hub names, and stores messages', async () => {
    const history = new SlowHistory();
    const server = new ChatServer({ hub: new ChatHub(), history });
    const ann = new Peer();
    const bob = new Peer();
    const a = attach(server, ann);
    const b = attach(server, bob);
    expect(server.command(a, { type: 'nick', nick: 'ann' })).toBeUndefined();
    expect(server.command(b, { type: 'nick', nick: 'bob' })).toBeUndefined();
    server.command(a, { type: 'join', room: 'lobby' });
    server.command(b, { type: 'join', room: 'lobby' });
    await history.release();
    await settle();
    await history.release();
    await settle();
    server.command(a, { type: 'say', room: 'lobby', text: 'hello' });
    const said = bob.events.find((e) => e.type === 'message');
    expect(said).toMatchObject({ type: 'message', message: { from: 'ann', room: 'lobby', text: 'hello' } });
    await settle();
    expect(history.stored.map((m) => m.text)).toEqual(['hello']);
    await server.close();
  });

  it('holds live events behind a scrollback still being read, then sends them after it', async () => {
    const history = new SlowHistory();
    const server = new ChatServer({ hub: new ChatHub(), history });
    const ann = new Peer();
    const bob = new Peer();
    const a = attach(server, ann);
    const b = attach(server, bob);
    server.command(a, { type: 'nick', nick: 'ann' });
    server.command(b, { type: 'nick', nick: 'bob' });
    server.command(a, { type: 'join', room: 'lobby' });
    await history.release();
    await settle();
    server.command(a, { type: 'say', room: 'lobby', text: 'before bob' });
    await settle();
    // Bob joins; his scrollback is not read yet when ann speaks again.
    server.command(b, { type: 'join', room: 'lobby' });
    server.command(a, { type: 'say', room: 'lobby', text: 'while bob waits' });
    await settle();
    expect(bob.types()).toEqual(['welcome', 'joined']);
    expect(history.pending).toBe(1);
    await history.release();
    await settle();
    const texts = bob.events.flatMap((e) =>
      e.type === 'history'
        ? e.messages.map((m) => `history:${m.text}`)
        : e.type === 'message'
          ? [`live:${e.message.text}`]
          : [],
    );
    expect(texts).toEqual(['history:before bob', 'live:while bob waits']);
    await server.close();
  });

  it("reads one session's history in turn, so that its pages come in the order asked", async () => {
    const history = new SlowHistory();
    const server = new ChatServer({ hub: new ChatHub(), history });
    const ann = new Peer();
    const a = attach(server, ann);
    server.command(a, { type: 'nick', nick: 'ann' });
    server.command(a, { type: 'join', room: 'lobby' });
    server.command(a, { type: 'history', room: 'lobby', limit: 5 });
    // The second read waits for the first: one at a time.
    await settle();
    expect(history.pending).toBe(1);
    await history.release();
    await settle();
    expect(history.pending).toBe(1);
    await history.release();
    await settle();
    expect(ann.types().filter((t) => t === 'history')).toHaveLength(2);
    await server.close();
  });

  it('reads at most maxHistoryReads histories at once across sessions; the others wait their turn', async () => {
    const history = new SlowHistory();
    const server = new ChatServer({ hub: new ChatHub(), history, maxHistoryReads: 2 });
    const peers = Array.from({ length: 5 }, () => new Peer());
    peers.forEach((peer, i) => {
      const s = attach(server, peer);
      server.command(s, { type: 'nick', nick: `p${i}` });
      server.command(s, { type: 'join', room: 'lobby' });
    });
    await settle();
    expect(history.pending).toBe(2);
    expect(server.historyReads).toEqual({ running: 2, waiting: 3 });
    await history.release();
    await settle();
    expect(history.pending).toBe(2);
    await history.release();
    await settle();
    await history.release();
    await settle();
    expect(server.historyReads).toEqual({ running: 0, waiting: 0 });
    for (const peer of peers) expect(peer.types()).toContain('history');
    await server.close();
  });

  it('gives empty history pages at once without a store', () => {
    const server = new ChatServer({ hub: new ChatHub() });
    const ann = new Peer();
    const a = attach(server, ann);
    server.command(a, { type: 'nick', nick: 'ann' });
    server.command(a, { type: 'join', room: 'lobby' });
    expect(ann.events.at(-1)).toEqual({ type: 'history', room: 'lobby', messages: [], more: false });
    return server.close();
  });

  it('closes the peer the hub lets go, and every peer on close()', async () => {
    const server = new ChatServer({ hub: new ChatHub() });
    const abuser = new Peer();
    const s = attach(server, abuser);
    for (let i = 0; i < 30 && !abuser.closed; i++) server.command(s, { type: 'join', room: '#bad room' });
    expect(abuser.closed?.reason).toMatch(/too many refused commands/);
    expect(server.sessions).toBe(0);
    const other = new Peer();
    attach(server, other);
    await server.close('bye now');
    expect(other.closed).toEqual({ code: ErrorCode.CONNECTION_CLOSED, reason: 'bye now' });
    expect(server.sessions).toBe(0);
  });

  it('refuses a peer when the hub is full', () => {
    const server = new ChatServer({ hub: new ChatHub({ limits: { maxSessions: 1 } }) });
    attach(server, new Peer());
    const refused = server.attach(new Peer());
    expect(refused).toMatchObject({ refusal: { code: ErrorCode.TOO_MANY_CONNECTIONS } });
    return server.close();
  });
});
