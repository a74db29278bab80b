/**
 * Chat across several server processes (nodes) through Redis: each node keeps its own hub,
 * and tells the others, on one pub/sub channel, what its sessions do (log-ins, commands that
 * went through, ends). Each node replays that onto mirror sessions (`ChatHub.replay`), so its
 * clients see the other nodes' users in rooms, get their messages and direct messages, and
 * cannot take their nicks.
 *
 * - A node's number (0-1023, in its message and session ids) is claimed in Redis
 *   (`PREFIX:node:N`, set if absent, kept alive every second, gone 10 s after the node).
 * - A node that starts says `hello` with what its sessions are; every other node forgets
 *   whatever it mirrored of that number before, replays the hello, and answers with its own
 *   (`state`, to the newcomer only).
 * - Every node beats once a second; one not heard from for `deadAfterMs` (3.5 s) is taken
 *   for dead and its mirrored sessions quit, so that its clients, reconnecting to another
 *   node, get their nicks back. A node that stops says `bye`: the same at once.
 * - History is not on the channel: each node stores what its own sessions said, in the
 *   database given by `--db`, which the nodes must share for scrollback and resumption to
 *   see every node's messages (message ids are unique across nodes and sort by time).
 *
 * Redis pub/sub keeps the order of one publisher's messages, so one node's commands are
 * replayed elsewhere in the order they happened there. Commands of two nodes at the same
 * moment may be replayed in different orders on different nodes; the only race with a
 * lasting effect, one guest nick taken on two nodes at once, is settled alike everywhere
 * (see `ChatHub.replay`).
 */
import { randomBytes } from 'node:crypto';
import type { Redis as RedisClient } from 'ioredis';
import { ErrorCode, SockitError } from '../errors.js';
import { type Logger, silentLogger } from '../runtime/log.js';
import type { Replayed } from './hub.js';
import { isMessageId, MAX_NODE } from './ids.js';
import { parseCommand } from './protocol.js';
import type { RoomState } from './rooms.js';
import type { ChatServer } from './server.js';

export interface ChatClusterOptions {
  /** redis://[user:password@]host:port[/db], or rediss:// for TLS. */
  url: string;
  /** This node's number; default: the lowest free one. */
  node?: number;
  /** Key and channel prefix, for several chats on one Redis. Default `sockit:chat`. */
  prefix?: string;
  beatMs?: number;
  deadAfterMs?: number;
  log?: Logger;
}

/** How long a node's claim on its number outlives its last renewal. */
const CLAIM_MS = 10_000;

type Wire =
  | { kind: 'hello'; items: Replayed[] }
  | { kind: 'state'; to: number; items: Replayed[] }
  | { kind: 'do'; item: Replayed }
  | { kind: 'beat' }
  | { kind: 'bye' };

type Envelope = Wire & { node: number; epoch: string };

/** Renews a claim only while it is still ours. */
const RENEW = `if redis.call('get', KEYS[1]) == ARGV[1] then
  return redis.call('pexpire', KEYS[1], ARGV[2]) else return 0 end`;
/** Lets a claim go only while it is still ours. */
const RELEASE = `if redis.call('get', KEYS[1]) == ARGV[1] then
  return redis.call('del', KEYS[1]) else return 0 end`;

/**
 * @example
 * ```ts
 * const cluster = await ChatCluster.connect({ url: 'redis://127.0.0.1:6379' });
 * const server = new ChatServer({ hub: new ChatHub({ node: cluster.node }), relay: cluster });
 * cluster.start(server);
 * // ...
 * await server.close();
 * await cluster.close();
 * ```
 */
export class ChatCluster {
  readonly node: number;
  readonly #pub: RedisClient;
  readonly #sub: RedisClient;
  readonly #epoch: string;
  readonly #channel: string;
  readonly #claim: string;
  readonly #beatMs: number;
  readonly #deadAfterMs: number;
  readonly #log: Logger;
  /** Other nodes heard from: node -> its epoch and when. */
  readonly #peers = new Map<number, { epoch: string; at: number }>();
  #server: ChatServer | undefined;
  #timer: NodeJS.Timeout | undefined;
  #closed = false;

  private constructor(
    pub: RedisClient,
    sub: RedisClient,
    node: number,
    epoch: string,
    prefix: string,
    options: ChatClusterOptions,
  ) {
    this.#epoch = epoch;
    this.#pub = pub;
    this.#sub = sub;
    this.node = node;
    this.#channel = `${prefix}:events`;
    this.#claim = `${prefix}:node:${node}`;
    this.#beatMs = options.beatMs ?? 1000;
    this.#deadAfterMs = options.deadAfterMs ?? 3500;
    this.#log = options.log ?? silentLogger;
  }

  /** Connects to Redis (failing with ERR_CONNECT_FAILED if it cannot) and claims a node number. */
  static async connect(options: ChatClusterOptions): Promise<ChatCluster> {
    const { Redis } = await import('ioredis').catch((err: NodeJS.ErrnoException) => {
      if (err.code !== 'ERR_MODULE_NOT_FOUND' && err.code !== 'MODULE_NOT_FOUND') throw err;
      throw new SockitError(
        ErrorCode.INVALID_ARGUMENT,
        'chat across nodes needs the "ioredis" package, which is not installed: npm install ioredis',
        { cause: err },
      );
    });
    const prefix = options.prefix ?? 'sockit:chat';
    const where = redacted(options.url);
    const open = async (): Promise<RedisClient> => {
      const client = new Redis(options.url, { lazyConnect: true, maxRetriesPerRequest: 2 });
      client.on('error', () => {}); // reported by the commands that fail, and retried by ioredis
      try {
        await client.connect();
        return client;
      } catch (err) {
        client.disconnect();
        throw new SockitError(
          ErrorCode.CONNECT_FAILED,
          `cannot reach Redis at ${where} (${(err as Error).message}); is it running? check --redis`,
          { cause: err },
        );
      }
    };
    const pub = await open();
    let sub: RedisClient | undefined;
    try {
      sub = await open();
      const epoch = randomBytes(8).toString('hex');
      const node = await claimNode(pub, prefix, options.node, epoch);
      return new ChatCluster(pub, sub, node, epoch, prefix, options);
    } catch (err) {
      pub.disconnect();
      sub?.disconnect();
      throw err;
    }
  }

  /** Starts relaying for `server`: says hello, then follows the channel and beats. */
  async start(server: ChatServer): Promise<void> {
    this.#server = server;
    this.#sub.on('message', (_channel: string, text: string) => this.#receive(text));
    await this.#sub.subscribe(this.#channel);
    // After a lost connection, the others may have taken this node for dead: hello again.
    this.#sub.on('ready', () => {
      if (this.#closed) return;
      for (const node of [...this.#peers.keys()]) this.#forget(node, 'lost touch with a chat server node');
      this.#hello(server);
    });
    this.#hello(server);
    this.#timer = setInterval(() => this.#beat(), this.#beatMs);
    this.#timer.unref();
  }

  /** What a session of this node did, for the others. */
  publish(item: Replayed): void {
    this.#send({ kind: 'do', item });
  }

  /** Other nodes heard from now. */
  get peers(): number[] {
    return [...this.#peers.keys()];
  }

  /**
   * How the link stands, for a status page: `node 2 of 3, redis ready`, or with the Redis
   * connection's state when it is not ready (`connecting`, `reconnecting`, ...).
   */
  get state(): string {
    const pub = this.#pub.status;
    const sub = this.#sub.status;
    const redis = pub === 'ready' && sub === 'ready' ? 'ready' : pub === 'ready' ? sub : pub;
    return `node ${this.node} of ${this.#peers.size + 1}, redis ${redis}`;
  }

  /** Says bye (the others let this node's sessions go at once), gives the number back, disconnects. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    clearInterval(this.#timer);
    try {
      await this.#pub.publish(this.#channel, JSON.stringify(this.#envelope({ kind: 'bye' })));
      await this.#pub.eval(RELEASE, 1, this.#claim, this.#epoch);
    } catch (err) {
      this.#log.warn({ err: (err as Error).message }, 'could not say goodbye on Redis');
    }
    this.#sub.disconnect();
    await this.#pub.quit().catch(() => this.#pub.disconnect());
  }

  /** This node's sessions, for every other node (each answers with its own). */
  #hello(server: ChatServer): void {
    this.#send({ kind: 'hello', items: server.hub.snapshot() });
  }

  /**
   * `node` is heard from under `epoch`: what was mirrored of it goes when it was of another
   * epoch (the node restarted), or with `reset` (it says what it holds now, from scratch).
   */
  #meet(server: ChatServer, node: number, epoch: string, reset: boolean): void {
    const known = this.#peers.get(node);
    if (known && (reset || known.epoch !== epoch)) server.forgetNode(node, 'a chat server node restarted');
    this.#peers.set(node, { epoch, at: Date.now() });
  }

  #envelope(wire: Wire): Envelope {
    return { ...wire, node: this.node, epoch: this.#epoch };
  }

  #send(wire: Wire): void {
    if (this.#closed) return;
    this.#pub.publish(this.#channel, JSON.stringify(this.#envelope(wire))).catch((err: unknown) => {
      this.#log.warn({ err: (err as Error).message }, 'could not publish to Redis');
    });
  }

  #beat(): void {
    this.#send({ kind: 'beat' });
    this.#pub.eval(RENEW, 1, this.#claim, this.#epoch, CLAIM_MS).catch(() => undefined);
    const now = Date.now();
    for (const [node, peer] of [...this.#peers]) {
      if (now - peer.at > this.#deadAfterMs) {
        this.#log.warn({ node }, 'chat node not heard from: its sessions leave');
        this.#forget(node, 'a chat server node stopped answering');
      }
    }
  }

  #forget(node: number, reason: string): void {
    this.#peers.delete(node);
    this.#server?.forgetNode(node, reason);
  }

  #receive(text: string): void {
    const server = this.#server;
    if (server === undefined || this.#closed) return;
    let m: Envelope;
    try {
      m = JSON.parse(text) as Envelope;
    } catch {
      return;
    }
    if (!Number.isInteger(m.node) || m.node === this.node || typeof m.epoch !== 'string') return;
    if (m.kind === 'bye') {
      if (this.#peers.get(m.node)?.epoch === m.epoch) this.#forget(m.node, 'a chat server node stopped');
      return;
    }
    if (m.kind === 'hello') {
      // A node started (or lost touch): what was mirrored of its number is replaced by what it says.
      this.#meet(server, m.node, m.epoch, true);
      for (const item of list(m.items)) replayChecked(server, item);
      this.#send({ kind: 'state', to: m.node, items: server.hub.snapshot() });
      return;
    }
    if (m.kind === 'state') {
      if (m.to !== this.node) return;
      // The answer to our hello: that node's sessions.
      this.#meet(server, m.node, m.epoch, false);
      for (const item of list(m.items)) replayChecked(server, item);
      return;
    }
    const known = this.#peers.get(m.node);
    if (known?.epoch !== m.epoch) {
      // A node this one has not heard say hello (its hello was missed, or it restarted
      // unseen): start over with it, and hello to it, which it answers with its sessions.
      this.#meet(server, m.node, m.epoch, false);
      this.#hello(server);
    } else known.at = Date.now();
    if (m.kind === 'do') replayChecked(server, m.item);
  }
}

const SESSION_ID = /^\d{1,4}-\d{1,15}$/;

function list(items: unknown): unknown[] {
  return Array.isArray(items) ? items : [];
}

/**
 * Replays an item from the channel once it has the form of one: the other nodes are trusted
 * as the database is (whoever can publish on the Redis can speak for them), but a node of
 * another version, or a stray publisher, must not reach the hub with what its rules never
 * checked. Commands go through the same schema as a client's.
 */
function replayChecked(server: ChatServer, raw: unknown): void {
  const item = raw as Partial<Record<string, unknown>> | null;
  if (item === null || typeof item !== 'object') return;
  if (item.type === 'room') {
    // Its fields are checked by the hub (`applyRoomState`), as a client's input would be.
    server.replay({ type: 'room', room: item.room as RoomState });
    return;
  }
  const session = item.session;
  if (typeof session !== 'string' || !SESSION_ID.test(session)) return;
  const datagram = item.datagram === true ? { datagram: true } : {};
  if (item.type === 'close') {
    server.replay({ type: 'close', session, reason: String(item.reason ?? '').slice(0, 500) });
  } else if (item.type === 'auth') {
    if (typeof item.account !== 'string') return;
    server.replay({ type: 'auth', session, account: item.account, admin: item.admin === true, ...datagram });
  } else if (item.type === 'command') {
    const command = parseCommand(item.command);
    if ('code' in command) return;
    const stamp = item.stamp as { id?: unknown; at?: unknown } | undefined;
    const stamped =
      stamp !== undefined && isMessageId(stamp.id) && Number.isSafeInteger(stamp.at)
        ? { stamp: { id: stamp.id, at: stamp.at as number } }
        : {};
    server.replay({ type: 'command', session, command, ...stamped, ...datagram });
  }
}

/** The node number asked for, or the lowest free one, claimed under `epoch`. */
async function claimNode(
  redis: RedisClient,
  prefix: string,
  wanted: number | undefined,
  epoch: string,
): Promise<number> {
  const candidates = wanted === undefined ? Array.from({ length: MAX_NODE + 1 }, (_, i) => i) : [wanted];
  for (const node of candidates) {
    const ok = await redis.set(`${prefix}:node:${node}`, epoch, 'PX', CLAIM_MS, 'NX');
    if (ok === 'OK') return node;
  }
  throw new SockitError(
    ErrorCode.INVALID_ARGUMENT,
    wanted === undefined
      ? `every chat node number (0-${MAX_NODE}) is taken on this Redis`
      : `chat node ${wanted} is taken by another server on this Redis; give another --node, or none to get a free one`,
  );
}

/** The URL without its password, for messages. */
function redacted(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    return parsed.toString();
  } catch {
    return url;
  }
}
