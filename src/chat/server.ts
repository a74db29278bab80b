/**
 * The chat server's core, between the hub (pure rules) and the transports (sockets): it owns
 * the hub, runs its effects against the history, expires typing notices, and routes each
 * delivery to the peer of every session it names. A transport only turns bytes into
 * commands and events into bytes; everything else about a connection is decided here.
 *
 * Order: a session's events go out in the order the hub made them. While a session waits for
 * history (scrollback on join, a `history` command, direct messages that waited for its
 * account), live events for it are held and follow the history, so that a client that prints
 * what arrives prints it in order, with nothing twice (the scrollback ends where live begins:
 * see `Effect`).
 */
import type { Grant } from '../auth/grants.js';
import { ErrorCode } from '../errors.js';
import { type Logger, silentLogger } from '../runtime/log.js';
import { runHistoryEffect } from './effects.js';
import type { ChatHistory } from './history.js';
import type { ChatHub, Replayed } from './hub.js';
import type { ChatCommand, ChatEvent, Delivery, Effect, Outcome, Refusal, SessionId } from './protocol.js';

/** One connected client, as a transport presents it to the server. */
export interface ChatPeer {
  /**
   * Writes an event to the client. `echo`: the client's own message coming back (see
   * `Delivery`). One event object may go to many peers: a transport can serialise it once
   * (e.g. with a WeakMap keyed by the event).
   */
  deliver(event: ChatEvent, echo: boolean): void;
  /** The server let the session go (abuse, shutdown): write `reason` if the protocol can, then close. */
  close(code: ErrorCode, reason: string): void;
  /** Bytes written to the client and not yet sent, for the cap on all clients' queues. */
  queuedBytes?(): number;
  /** Lets the client go at once, dropping what is queued for it (it is not reading). */
  drop?(code: ErrorCode, reason: string): void;
}

export interface ChatServerOptions {
  hub: ChatHub;
  /** Where messages are kept; without one nothing is stored and history is empty. */
  history?: ChatHistory;
  /** How often typing notices are expired, in ms. Default 1000. */
  tickMs?: number;
  /**
   * History reads (scrollback, history pages, waiting messages) under way at once across all
   * sessions; more wait their turn. Default 16: a crowd asking for history cannot take every
   * database connection, or the event loop in one burst.
   */
  maxHistoryReads?: number;
  /**
   * Bytes that may wait, unsent, for all clients together. Each connection's queue is capped
   * by its transport (1-2 MiB), but thousands of clients that stop reading would still add
   * up to gigabytes: above this the clients with the longest queues are let go, longest
   * first, until the total is back under three quarters of it. Checked every second and
   * every 16,384 deliveries. Default 128 MiB.
   */
  maxQueuedBytes?: number;
  /** Where what this node's sessions do goes for the other nodes (see `cluster.ts`). */
  relay?: { publish(replayed: Replayed): void };
  /**
   * Accounts that are admins (operators of every room) besides those with the `admin` grant
   * (`sockit users grant NAME admin`): `sockit chat serve --admin NAME`.
   */
  admins?: Iterable<string>;
  log?: Logger;
}

/** Commands that change what other nodes' clients see, and so are passed on to them. */
const RELAYED = new Set<ChatCommand['type']>([
  'nick',
  'join',
  'part',
  'say',
  'dm',
  'topic',
  'lock',
  'kick',
  'ban',
  'unban',
  'op',
  'away',
  'typing',
]);

/** Deliveries between two looks at the total of the clients' queues. */
const QUEUE_CHECK_EVERY = 16_384;

/** Live events held for one session while its history is read; beyond, it is let go. */
const MAX_HELD = 10_000;

interface Attached {
  peer: ChatPeer;
  /** History effects not yet sent; while any, live events wait in `held`. */
  waiting: number;
  held: Delivery['event'][];
  heldEcho: boolean[];
  /** The session's history reads, one after another: their answers keep the order asked. */
  reads: Promise<unknown>;
}

/**
 * @example
 * ```ts
 * const server = new ChatServer({ hub: new ChatHub(), history });
 * const session = server.attach(peer);           // a refusal when the chat is full
 * const refusal = server.command(session, { type: 'nick', nick: 'ann' });
 * server.detach(session, 'connection closed');
 * await server.close();
 * ```
 */
export class ChatServer {
  readonly hub: ChatHub;
  readonly #history: ChatHistory | undefined;
  readonly #log: Logger;
  readonly #peers = new Map<SessionId, Attached>();
  readonly #ticker: NodeJS.Timeout;
  /** Effects under way, so that `close()` can wait for the history writes. */
  readonly #running = new Set<Promise<unknown>>();
  readonly #maxReads: number;
  readonly #relay: ChatServerOptions['relay'];
  readonly #maxQueued: number;
  readonly #admins: ReadonlySet<string>;
  /** Deliveries until the next look at the queues' total. */
  #untilCheck = QUEUE_CHECK_EVERY;
  #reading = 0;
  /** Reads waiting for a turn, oldest first. */
  readonly #readQueue: (() => void)[] = [];

  constructor(options: ChatServerOptions) {
    this.hub = options.hub;
    this.#history = options.history;
    this.#log = options.log ?? silentLogger;
    this.#maxReads = options.maxHistoryReads ?? 16;
    this.#relay = options.relay;
    this.#maxQueued = options.maxQueuedBytes ?? 128 * 1024 * 1024;
    this.#admins = new Set(options.admins ?? []);
    this.#ticker = setInterval(() => {
      this.#apply(this.hub.tick());
      this.#capQueues();
    }, options.tickMs ?? 1000);
    this.#ticker.unref();
  }

  /** A client connected: its session, or why it cannot have one (the chat is full). `datagram`: a UDP source. */
  attach(
    peer: ChatPeer,
    options: { datagram?: boolean } = {},
  ): { session: SessionId } | { refusal: Refusal } {
    const opened = this.hub.open(options);
    if (opened.session === undefined) return { refusal: opened.refusal };
    this.#peers.set(opened.session, { peer, waiting: 0, held: [], heldEcho: [], reads: Promise.resolve() });
    return { session: opened.session };
  }

  /**
   * The session logged in as `user` (after `auth`'s `LoginServer` said so); an admin when the
   * account has the `admin` grant or is one of the `admins` option's.
   */
  login(session: SessionId, user: { name: string; grants: readonly Grant[] }): Refusal | undefined {
    const account = user.name;
    const admin = user.grants.includes('admin') || this.#admins.has(account);
    const refused = this.#apply(this.hub.authenticate(session, account, { admin }));
    if (refused === undefined && this.#relay) {
      this.#relay.publish({ type: 'auth', session, account, admin, ...this.#datagram(session) });
    }
    return refused;
  }

  /** Runs one command; a refusal is for the transport to answer in its own form. */
  command(session: SessionId, command: ChatCommand): Refusal | undefined {
    const relay = this.#relay;
    if (relay === undefined || !RELAYED.has(command.type))
      return this.#apply(this.hub.handle(session, command));
    const outcome = this.hub.handle(session, command);
    const stamp = this.hub.takeStamp();
    if (outcome.refusal === undefined) {
      // A join's `after` is this client's resumption: the other nodes only need the join.
      const relayed: ChatCommand = command.type === 'join' ? { type: 'join', room: command.room } : command;
      relay.publish({
        type: 'command',
        session,
        command: relayed,
        ...(stamp ? { stamp } : {}),
        ...this.#datagram(session),
      });
    }
    return this.#apply(outcome);
  }

  /** Does what a session of another node did (see `ChatHub.replay`). */
  replay(replayed: Replayed): void {
    this.#apply(this.hub.replay(replayed));
  }

  /** Another node is gone: its sessions leave the rooms here. */
  forgetNode(node: number, reason?: string): void {
    this.#apply(this.hub.forgetNode(node, reason));
  }

  #datagram(session: SessionId): { datagram?: boolean } {
    return this.hub.isDatagram(session) ? { datagram: true } : {};
  }

  /** Tells the other nodes that a session of ours is gone (when it had got as far as a nick). */
  #relayClose(session: SessionId, reason: string, named: boolean): void {
    if (named) this.#relay?.publish({ type: 'close', session, reason });
  }

  /** The client is gone (its connection closed); calling it twice is harmless. */
  detach(session: SessionId, reason = 'connection closed'): void {
    if (!this.#peers.delete(session)) return;
    const named = this.hub.nickOf(session) !== undefined;
    this.#apply(this.hub.close(session, reason));
    this.#relayClose(session, reason, named);
  }

  /**
   * Lets go of every session of this node that `nick` (any case) is in, telling each client
   * `reason`: an admin's way to end a user's presence here (other nodes keep theirs). The
   * number of sessions closed.
   */
  disconnect(nick: string, reason: string): number {
    let closed = 0;
    for (const session of this.hub.sessionsOf(nick)) {
      const attached = this.#peers.get(session);
      if (attached === undefined) continue;
      this.detach(session, reason);
      attached.peer.close(ErrorCode.FORBIDDEN, reason);
      closed++;
    }
    return closed;
  }

  /** Bytes waiting, unsent, for all clients together (as their transports count them). */
  get queuedBytes(): number {
    let total = 0;
    for (const attached of this.#peers.values()) total += attached.peer.queuedBytes?.() ?? 0;
    return total;
  }

  /** Lets go of the clients with the longest queues while all queues hold more than the cap. */
  #capQueues(): void {
    let total = 0;
    const queues: [SessionId, Attached, number][] = [];
    for (const [session, attached] of this.#peers) {
      const bytes = attached.peer.queuedBytes?.() ?? 0;
      total += bytes;
      if (bytes > 0) queues.push([session, attached, bytes]);
    }
    if (total <= this.#maxQueued) return;
    queues.sort((a, b) => b[2] - a[2]);
    const target = (this.#maxQueued * 3) / 4;
    const reason = 'disconnected: not reading, while the server holds too much for its clients';
    let dropped = 0;
    for (const [session, attached, bytes] of queues) {
      if (total <= target) break;
      total -= bytes;
      dropped++;
      this.#peers.delete(session);
      const named = this.hub.nickOf(session) !== undefined;
      this.#apply(this.hub.close(session, 'not reading'));
      this.#relayClose(session, 'not reading', named);
      // Closing would wait for the queue to drain, which a client that does not read never lets it.
      if (attached.peer.drop) attached.peer.drop(ErrorCode.IDLE_TIMEOUT, reason);
      else attached.peer.close(ErrorCode.IDLE_TIMEOUT, reason);
    }
    this.#log.warn(
      { dropped, queuedBytes: total, maxQueuedBytes: this.#maxQueued },
      'chat output over its cap: slowest clients let go',
    );
  }

  /** Sessions attached now. */
  get sessions(): number {
    return this.#peers.size;
  }

  /** Closes every session (each peer is told `reason`), stops the clock, and waits for pending writes. */
  async close(reason = 'the chat server is stopping'): Promise<void> {
    clearInterval(this.#ticker);
    for (const [session, attached] of [...this.#peers]) {
      this.#peers.delete(session);
      this.#apply(this.hub.close(session, reason));
      attached.peer.close(ErrorCode.CONNECTION_CLOSED, reason);
    }
    while (this.#running.size > 0) await Promise.allSettled([...this.#running]);
  }

  #apply(outcome: Outcome): Refusal | undefined {
    for (const delivery of outcome.deliveries) this.#deliver(delivery);
    for (const effect of outcome.effects) this.#effect(effect);
    return outcome.refusal;
  }

  #deliver(delivery: Delivery): void {
    this.#untilCheck -= delivery.to.length;
    if (this.#untilCheck <= 0) {
      this.#untilCheck = QUEUE_CHECK_EVERY;
      this.#capQueues();
    }
    const echo = delivery.echo === true;
    for (const session of delivery.to) {
      const attached = this.#peers.get(session);
      if (attached === undefined) continue;
      if (attached.waiting > 0) {
        if (attached.held.length >= MAX_HELD) {
          // The history store is far behind: better a clear end than memory without bound.
          this.#peers.delete(session);
          const named = this.hub.nickOf(session) !== undefined;
          this.#apply(this.hub.close(session, 'history unavailable'));
          this.#relayClose(session, 'history unavailable', named);
          attached.peer.close(ErrorCode.DATABASE, 'the chat history is not answering; connect again');
          continue;
        }
        attached.held.push(delivery.event);
        attached.heldEcho.push(echo);
      } else {
        attached.peer.deliver(delivery.event, echo);
      }
    }
  }

  #effect(effect: Effect): void {
    if (effect.type === 'close') {
      const attached = this.#peers.get(effect.session);
      this.#peers.delete(effect.session);
      // The hub has let the session go already (it quit where it had a nick).
      if (attached) this.#relayClose(effect.session, effect.reason, true);
      attached?.peer.close(effect.code, effect.reason);
      return;
    }
    const history = this.#history;
    if (history === undefined) {
      // No store: scrollback and history are empty pages, at once.
      if (effect.type === 'history') {
        this.#deliver({
          to: [effect.session],
          event: {
            type: 'history',
            ...(effect.room === undefined ? { direct: true } : { room: effect.room }),
            messages: [],
            more: false,
          },
        });
      }
      return;
    }
    const holder =
      effect.type === 'store' || effect.type === 'seen' ? undefined : this.#peers.get(effect.session);
    if (holder) holder.waiting++;
    const send = (d: Delivery): void => {
      // The history itself goes out now, ahead of what was held behind it.
      for (const session of d.to) this.#peers.get(session)?.peer.deliver(d.event, d.echo === true);
    };
    // A session's reads run in turn (a pooled database could answer two at once out of
    // order); writes go straight to the history, which keeps their order itself.
    const run = (): Promise<unknown> =>
      holder
        ? this.#turn(() => runHistoryEffect(history, effect, send))
        : runHistoryEffect(history, effect, send);
    const started = holder ? holder.reads.then(run) : run();
    if (holder) holder.reads = started.catch(() => undefined);
    const running = started
      .catch((err: unknown) => {
        this.#log.error({ err: (err as Error).message, effect: effect.type }, 'chat history failed');
      })
      .finally(() => {
        this.#running.delete(running);
        if (holder) this.#release(holder);
      });
    this.#running.add(running);
  }

  /** Runs a history read when one of the `maxHistoryReads` turns is free. */
  async #turn<T>(read: () => Promise<T>): Promise<T> {
    if (this.#reading >= this.#maxReads) await new Promise<void>((resolve) => this.#readQueue.push(resolve));
    else this.#reading++;
    try {
      return await read();
    } finally {
      const next = this.#readQueue.shift();
      // The turn passes straight to the next read waiting; otherwise it is free.
      if (next) next();
      else this.#reading--;
    }
  }

  /** Reads under way now (at most `maxHistoryReads`), and waiting for a turn. */
  get historyReads(): { running: number; waiting: number } {
    return { running: this.#reading, waiting: this.#readQueue.length };
  }

  /** One history effect of the session is done: when none is left, what was held goes out. */
  #release(attached: Attached): void {
    attached.waiting--;
    if (attached.waiting > 0) return;
    const { held, heldEcho } = attached;
    attached.held = [];
    attached.heldEcho = [];
    for (let i = 0; i < held.length; i++) attached.peer.deliver(held[i] as ChatEvent, heldEcho[i] === true);
  }
}
