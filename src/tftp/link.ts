/**
 * The socket side of one transfer: owns its UDP socket (its TID) and its one timer, checks
 * that datagrams come from the peer's TID, decodes them, and hands packets to the session.
 * A datagram from anyone else gets ERROR 5 and changes nothing (RFC 1350 §4).
 */
import type dgram from 'node:dgram';
import { AnswerPoll } from '../runtime/busy-poll.js';
import { decodePacket, encodeError, type Packet, TftpErrorCode } from './packet.js';

export interface Peer {
  address: string;
  port: number;
}

export interface LinkHandler {
  packet(packet: Packet): void;
  /** A datagram from the peer that does not decode: answered with ERROR, transfer over. */
  malformed(code: TftpErrorCode, reason: string): void;
  timeout(): void;
}

/** Same host, whatever the spelling: `::ffff:127.0.0.1` is `127.0.0.1`. */
export function sameHost(a: string, b: string): boolean {
  const plain = (x: string): string => (x.startsWith('::ffff:') ? x.slice(7) : x).toLowerCase();
  return plain(a) === plain(b);
}

export class TransferLink {
  readonly socket: dgram.Socket;
  /** The peer's TID; a client learns the port from the first answer. */
  peer: Peer | undefined;
  #expectHost: string;
  #handler: LinkHandler | undefined;
  #timer: NodeJS.Timeout | undefined;
  #closed = false;
  /** Datagrams from strangers, answered with ERROR 5. */
  strangers = 0;
  /** When the peer was last heard from (Date.now()); undefined until its first datagram. */
  heardAt: number | undefined;
  #poll: AnswerPoll;
  /**
   * What a defect that throws in the transfer's handling (of a packet, of the timer, or of a
   * callback run through `guard`) becomes: the transfer's failure, not the process's. Unset,
   * the error is thrown on.
   */
  onDefect: ((err: unknown) => void) | undefined;

  /** `pollUs`: how long to busy-poll for the peer's answer after a send (see AnswerPoll); 0: never. */
  constructor(socket: dgram.Socket, expectHost: string, peer?: Peer, pollUs?: number) {
    this.socket = socket;
    this.#expectHost = expectHost;
    this.peer = peer;
    this.#poll = new AnswerPoll(pollUs);
    // Per datagram: the guard inline, without a closure to allocate for each.
    socket.on('message', (msg, from) => {
      try {
        this.#receive(msg, from);
      } catch (err) {
        this.#defect(err);
      }
    });
    socket.on('error', () => {
      // ICMP errors (port unreachable) surface here; the retransmission timer decides.
    });
  }

  attach(handler: LinkHandler): void {
    this.#handler = handler;
  }

  send = (packet: Buffer | readonly Buffer[], to: Peer | undefined = this.peer): void => {
    if (this.#closed || !to) return;
    this.socket.send(packet as Buffer[], to.port, to.address);
    this.#poll.sent(Array.isArray(packet) ? (packet[1]?.length ?? 0) : packet.length);
  };

  /** (Re)starts the timer; refreshing an existing timer of the same length is the cheap path. */
  arm = (ms: number): void => {
    if (this.#closed) return;
    if (this.#timer && this.#timerMs === ms) {
      this.#timer.refresh();
      return;
    }
    clearTimeout(this.#timer);
    this.#timerMs = ms;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.guard(() => this.#handler?.timeout());
    }, ms);
  };

  #timerMs = 0;

  disarm = (): void => {
    clearTimeout(this.#timer);
    this.#timer = undefined;
  };

  /** Runs `work`, a part of the transfer's handling: what it throws goes to `onDefect`. */
  guard = (work: () => void): void => {
    try {
      work();
    } catch (err) {
      this.#defect(err);
    }
  };

  #defect(err: unknown): void {
    if (!this.onDefect) throw err;
    this.onDefect(err);
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.disarm();
    // A send to an address goes out after a tick (the address "lookup"): closing at once
    // would drop the last packet, typically the ERROR that explains the end.
    setImmediate(() => this.socket.close());
  }

  #receive(msg: Buffer, from: dgram.RemoteInfo): void {
    if (this.#closed) return;
    const peer = this.peer;
    if (!peer) {
      if (!sameHost(from.address, this.#expectHost)) {
        this.#stranger(from);
        return;
      }
      this.peer = { address: from.address, port: from.port };
    } else if (
      from.port !== peer.port ||
      (from.address !== peer.address && !sameHost(from.address, peer.address))
    ) {
      this.#stranger(from);
      return;
    }
    this.#poll.answered();
    this.heardAt = Date.now();
    const decoded = decodePacket(msg);
    if (!decoded.ok) {
      this.send(encodeError(decoded.code, decoded.reason));
      this.#handler?.malformed(decoded.code, decoded.reason);
      return;
    }
    this.#handler?.packet(decoded.packet);
  }

  #stranger(from: dgram.RemoteInfo): void {
    this.strangers++;
    if (this.#closed) return;
    this.socket.send(encodeError(TftpErrorCode.UNKNOWN_TID, 'unknown transfer ID'), from.port, from.address);
  }
}
