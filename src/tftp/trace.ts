/**
 * The debug lines of a transfer, for a person finding out why one is slow or fails: the
 * request, who answered, the options asked for and granted, and each timeout that made a side
 * send again. Never a line per block.
 */
import { formatHostPort } from '../errors.js';
import type { Logger } from '../runtime/log.js';
import type { Peer, TransferLink } from './link.js';
import { Opcode, type Packet } from './packet.js';
import type { TransferStats } from './sender.js';

/** The options of a request (`asked`) and of its OACK (`granted`, `{}` when none), as log fields. */
export function negotiation(
  asked: ReadonlyMap<string, string>,
  granted: ReadonlyMap<string, string> | undefined,
): { asked: Record<string, string>; granted: Record<string, string> } {
  return { asked: Object.fromEntries(asked), granted: granted ? Object.fromEntries(granted) : {} };
}

/**
 * Runs a session's `timeout` and, when it sent anything again, logs the silence that fired it
 * (`afterMs`, the timer before it backed off), the packets sent again, and the count so far.
 */
export function timeoutLogged(
  log: Logger,
  fields: object,
  rtoMs: number,
  stats: TransferStats,
  timeout: () => void,
): void {
  const before = stats.retransmits;
  timeout();
  const resent = stats.retransmits - before;
  if (resent > 0) {
    log.debug({ ...fields, afterMs: rtoMs, resent, retransmits: stats.retransmits }, 'timeout: sent again');
  }
}

/** A client transfer's lines, from its request to its end. */
export class ClientTrace {
  readonly #log: Logger;
  readonly #asked: ReadonlyMap<string, string>;
  #answered = false;

  constructor(log: Logger, asked: ReadonlyMap<string, string>) {
    this.#log = log;
    this.#asked = asked;
  }

  request(op: 'RRQ' | 'WRQ', file: string, mode: string, server: Peer, link: TransferLink): void {
    this.#log.debug(
      {
        op,
        file,
        mode,
        server: formatHostPort(server.address, server.port),
        local: link.socket.address().port,
        asked: Object.fromEntries(this.#asked),
      },
      'request sent',
    );
  }

  /** Every packet from the server: the first says from which port (its TID) it answers. */
  packet(packet: Packet, link: TransferLink): void {
    if (this.#answered) return;
    this.#answered = true;
    const from = link.peer ? formatHostPort(link.peer.address, link.peer.port) : '?';
    this.#log.debug({ from }, 'server answered');
    if (this.#asked.size > 0 && (packet.opcode === Opcode.DATA || packet.opcode === Opcode.ACK)) {
      this.#log.debug(
        { asked: Object.fromEntries(this.#asked) },
        'no OACK: the server ignored the options; RFC 1350 defaults',
      );
    }
  }

  negotiated(granted: ReadonlyMap<string, string>): void {
    this.#log.debug(negotiation(this.#asked, granted), 'options negotiated');
  }

  timeout(rtoMs: number, stats: TransferStats, timeout: () => void): void {
    timeoutLogged(this.#log, {}, rtoMs, stats, timeout);
  }

  done(stats: TransferStats, ms: number): void {
    this.#log.debug({ ...stats, ms }, 'transfer complete');
  }
}
