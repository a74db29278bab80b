/**
 * UDP datagrams to the chat port land in a room, as the lesson's UDP chat room printed every
 * datagram as `[time] ip: text`: each source address is a guest named after it
 * (`udp-127-0-0-1`), which joins the room with its first datagram. Nothing is ever sent back
 * (a forged source address cannot turn the server into a reflector), datagrams are rate
 * limited per source (the shared `UdpGuard`, then the hub's own limit), and a source silent
 * for `idleMs` leaves.
 */
import { createHash } from 'node:crypto';
import type dgram from 'node:dgram';
import { ErrorCode } from '../errors.js';
import { foldAddress } from '../runtime/guard.js';
import { type Logger, silentLogger } from '../runtime/log.js';
import { UdpGuard } from '../runtime/udp-guard.js';
import { MAX_NICK_LENGTH } from './names.js';
import type { ChatPeer, ChatServer } from './server.js';

export interface UdpRoomOptions {
  server: ChatServer;
  /** The room datagrams land in. */
  room: string;
  /** The chat port: datagrams from it are dropped. */
  ownPort: number;
  /** Sources with a session at once; datagrams from more are dropped. Default 256. */
  maxSources?: number;
  /** A source silent this long leaves, in ms. Default 10 minutes. */
  idleMs?: number;
  /** Datagrams per second per source address. Default 2, in bursts of 5. */
  ratePerSecond?: number;
  burst?: number;
  log?: Logger;
}

interface Source {
  session: string;
  last: number;
}

/** What UDP sessions are sent: nothing (a datagram is never answered). */
const MUTE: ChatPeer = { deliver() {}, close() {} };

/**
 * @example
 * ```ts
 * const room = new UdpRoom({ server, room: 'lobby', ownPort: 7788 });
 * udpSocket.on('message', (msg, peer) => room.datagram(msg, peer));
 * ```
 */
export class UdpRoom {
  readonly #o: UdpRoomOptions;
  readonly #guard: UdpGuard;
  readonly #sources = new Map<string, Source>();
  readonly #sweeper: NodeJS.Timeout;
  readonly #log: Logger;

  constructor(options: UdpRoomOptions) {
    this.#o = options;
    this.#log = options.log ?? silentLogger;
    this.#guard = new UdpGuard({
      ownPort: options.ownPort,
      ratePerSecond: options.ratePerSecond ?? 2,
      burst: options.burst ?? 5,
    });
    const idle = options.idleMs ?? 10 * 60_000;
    this.#sweeper = setInterval(() => this.#sweep(idle), Math.min(idle, 60_000));
    this.#sweeper.unref();
  }

  /** Sources with a session now. */
  get sources(): number {
    return this.#sources.size;
  }

  /** One datagram: its text, as one message from its source, in the room. */
  datagram(msg: Buffer, peer: dgram.RemoteInfo): void {
    const dropped = this.#guard.check(peer.address, peer.port);
    if (dropped !== undefined) {
      this.#log.debug({ from: peer.address, reason: dropped }, 'chat datagram dropped');
      return;
    }
    // One name whether it came over IPv4 or, on a dual-stack socket, as ::ffff:a.b.c.d.
    const address = foldAddress(peer.address);
    const source = this.#source(address);
    if (source === undefined) return;
    source.last = Date.now();
    // One datagram is one message; a final line end is not part of it.
    const text = new Uint8Array(msg.subarray(0, msg.length - trailingNewline(msg)));
    const refused = this.#o.server.command(source.session, { type: 'say', room: this.#o.room, text });
    if (refused === undefined) return;
    this.#log.debug({ from: peer.address, code: refused.code }, 'chat datagram refused');
    // Let go by the hub (too many refusals): a later datagram starts afresh, within the limits.
    if (refused.code === ErrorCode.CONNECTION_CLOSED) this.#sources.delete(address);
  }

  close(): void {
    clearInterval(this.#sweeper);
    for (const { session } of this.#sources.values()) this.#o.server.detach(session, 'udp source gone');
    this.#sources.clear();
  }

  #source(address: string): Source | undefined {
    const known = this.#sources.get(address);
    if (known) return known;
    if (this.#sources.size >= (this.#o.maxSources ?? 256)) return undefined;
    const attached = this.#o.server.attach(MUTE, { datagram: true });
    if ('refusal' in attached) return undefined;
    const { session } = attached;
    const server = this.#o.server;
    if (
      server.command(session, { type: 'nick', nick: udpNick(address) }) ??
      server.command(session, { type: 'join', room: this.#o.room })
    ) {
      server.detach(session);
      return undefined;
    }
    const source = { session, last: Date.now() };
    this.#sources.set(address, source);
    return source;
  }

  #sweep(idleMs: number): void {
    const before = Date.now() - idleMs;
    for (const [address, source] of this.#sources) {
      if (source.last >= before) continue;
      this.#sources.delete(address);
      this.#o.server.detach(source.session, 'udp source silent');
    }
  }
}

/**
 * `udp-` and the address with its dots and colons as dashes (`udp-127-0-0-1`). An address
 * too long for a nick (most IPv6 ones) keeps its start and ends in 8 hex digits of its
 * SHA-256: cut short alone, every host of a /64 had the same nick, and all but the first
 * were dropped as that nick was taken.
 */
export function udpNick(address: string): string {
  const nick = `udp-${address.replace(/[^0-9A-Za-z]/g, '-')}`;
  if (nick.length <= MAX_NICK_LENGTH) return nick;
  const hash = createHash('sha256').update(address).digest('hex').slice(0, 8);
  return `${nick.slice(0, MAX_NICK_LENGTH - 9)}-${hash}`;
}

function trailingNewline(msg: Buffer): number {
  if (msg.at(-1) !== 0x0a) return 0;
  return msg.at(-2) === 0x0d ? 2 : 1;
}
