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
  readonly seen: { account: string; at: number }[] = [];
  async recordSeen(account: string, at: number): Promise<void> {
    this.seen.push({ account, at });
  }
  async lastSeen(): Promise<{ account: string; at: number }[]> {
    return [];
  }
  async prune(): Promise<number> {
    return 0;
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

  it('disconnects every session of one user by nick, in any case, and tells the room it left', async () => {
    const server = new ChatServer({ hub: new ChatHub() });
    const [ann1, ann2, bob] = [new Peer(), new Peer(), new Peer()];
    const a1 = attach(server, ann1);
    const a2 = attach(server, ann2);
    const b = attach(server, bob);
    server.login(a1, { name: 'ann', grants: [] });
    server.login(a2, { name: 'ann', grants: [] });
    server.command(b, { type: 'nick', nick: 'bob' });
    server.command(a1, { type: 'join', room: 'lobby' });
    server.command(b, { type: 'join', room: 'lobby' });
    await settle();
    expect(server.disconnect('nobody', 'x')).toBe(0);
    expect(server.disconnect('ANN', 'disconnected by an admin')).toBe(2);
    expect(ann1.closed).toEqual({ code: ErrorCode.FORBIDDEN, reason: 'disconnected by an admin' });
    expect(ann2.closed).toEqual({ code: ErrorCode.FORBIDDEN, reason: 'disconnected by an admin' });
    expect(bob.closed).toBeUndefined();
    expect(bob.events.at(-1)).toEqual({
      type: 'part',
      room: 'lobby',
      nick: 'ann',
      reason: 'disconnected by an admin',
    });
    expect(server.sessions).toBe(1);
    expect(server.hub.sessionsOf('ann')).toEqual([]);
    await server.close();
  });

  it('refuses a peer when the hub is full', () => {
    const server = new ChatServer({ hub: new ChatHub({ limits: { maxSessions: 1 } }) });
    attach(server, new Peer());
    const refused = server.attach(new Peer());
    expect(refused).toMatchObject({ refusal: { code: ErrorCode.TOO_MANY_CONNECTIONS } });
    return server.close();
  });
});

describe('the cap on all clients’ queues', () => {
  /** A client whose every event waits in its queue (it never reads), or one that reads at once. */
  class Queueing implements ChatPeer {
    bytes = 0;
    dropped: { code: ErrorCode; reason: string } | undefined;
    closed: { code: ErrorCode; reason: string } | undefined;
    constructor(readonly reads: boolean) {}
    deliver(event: ChatEvent): void {
      if (!this.reads) this.bytes += JSON.stringify(event).length;
    }
    close(code: ErrorCode, reason: string): void {
      this.closed = { code, reason };
    }
    queuedBytes(): number {
      return this.bytes;
    }
    /** What it held when let go. */
    held = 0;
    drop(code: ErrorCode, reason: string): void {
      this.dropped = { code, reason };
      this.held = this.bytes;
      this.bytes = 0;
    }
  }

  const text = 'x'.repeat(1000);

  /** A server with `sleepers` that joined in turn (each missing 50 messages less than the one before), then a flood. */
  function flooded(cap: number, tickMs: number, flood: number) {
    const server = new ChatServer({
      hub: new ChatHub({ limits: { burst: 1_000_000, refillMs: 1 } }),
      maxQueuedBytes: cap,
      tickMs,
    });
    const join = (peer: Queueing, nick: string): string => {
      const attached = server.attach(peer);
      if (!('session' in attached)) throw new Error('refused');
      expect(server.command(attached.session, { type: 'nick', nick })).toBeUndefined();
      expect(server.command(attached.session, { type: 'join', room: 'flood' })).toBeUndefined();
      return attached.session;
    };
    const reader = new Queueing(true);
    const sender = join(reader, 'reader');
    const sleepers = Array.from({ length: 10 }, () => new Queueing(false));
    for (const [i, sleeper] of sleepers.entries()) {
      join(sleeper, `sleeper${i}`);
      for (let j = 0; j < 50; j++) server.command(sender, { type: 'say', room: 'flood', text });
    }
    for (let j = 0; j < flood; j++) server.command(sender, { type: 'say', room: 'flood', text });
    return { server, reader, sleepers };
  }

  it('once a second, lets go of the clients that hold the most, most first, to under 3/4 of the cap', async () => {
    const cap = 1024 * 1024;
    // 1,000 deliveries in all: the check by count never comes; the clock's does.
    const { server, reader, sleepers } = flooded(cap, 20, 0);
    const before = server.queuedBytes;
    expect(before).toBeGreaterThan(2 * cap); // 500 messages of ~1 KB to the first, 50 to the last
    expect(sleepers.some((s) => s.dropped)).toBe(false);
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(server.queuedBytes).toBeLessThanOrEqual((cap * 3) / 4);
    const dropped = sleepers.map((s) => s.dropped !== undefined);
    // The earliest sleepers (the longest queues) went, and no more than needed: before the
    // last of them went, the total was still over 3/4 of the cap.
    const kept = dropped.indexOf(false);
    expect(kept).toBeGreaterThan(0);
    expect(dropped.slice(kept).some(Boolean)).toBe(false);
    expect(server.queuedBytes + (sleepers[kept - 1] as Queueing).held).toBeGreaterThan((cap * 3) / 4);
    expect(sleepers[0]?.dropped?.code).toBe(ErrorCode.IDLE_TIMEOUT);
    expect(sleepers[0]?.dropped?.reason).toMatch(/not reading/);
    expect(reader.dropped).toBeUndefined();
    expect(reader.closed).toBeUndefined();
    expect(server.sessions).toBe(1 + (10 - kept));
    await server.close();
  });

  it('also looks every 16,384 deliveries, without waiting for the clock', async () => {
    const cap = 1024 * 1024;
    // 2,000 more messages to 11 sessions: 22,000 deliveries, and an hour between ticks.
    const { server, sleepers } = flooded(cap, 3_600_000, 2000);
    expect(sleepers[0]?.dropped).toBeDefined();
    await server.close();
  });
});
