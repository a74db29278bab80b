/**
 * What a UDP service that answers every datagram (echo, daytime, a LAN "who is there")
 * must check before answering, since a datagram's source is whatever the sender wrote:
 *
 * - Loops. A datagram spoofed from the service's own port (ours, or a twin's on another
 *   host) is answered to itself, for ever. FreeBSD inetd's `check_loop()` refuses any
 *   datagram whose source port is that of one of its built-in datagram services ("loop
 *   request REFUSED"); NetBSD's `port_good_dg()` refuses the source ports of echo, discard,
 *   daytime, chargen and time, and multicast, broadcast and 0.0.0.0/8 sources.
 * - Reflection. Answering a source port of another service that answers (chargen, DNS, NTP,
 *   ...) starts a ping-pong between two machines that never ends.
 * - Floods. One token bucket per source address bounds the answers a source (or a victim
 *   whose address is spoofed) gets; the table of buckets is bounded too.
 *
 * Pure: it takes an address and a port and says why not, or `undefined` to answer.
 */
import net from 'node:net';
import type { DropReason } from './events.js';

/**
 * Source ports of services that answer any datagram: echo 7, discard 9, daytime 13, qotd 17,
 * chargen 19, time 37 (the inetd built-ins), DNS 53, TFTP 69, portmap 111, NTP 123,
 * NetBIOS-NS 137, SNMP 161, CLDAP 389, SSDP 1900, NFS 2049, mDNS 5353, memcached 11211
 * (the usual reflectors).
 */
export const REFLECTING_PORTS: readonly number[] = [
  7, 9, 13, 17, 19, 37, 53, 69, 111, 123, 137, 161, 389, 1900, 2049, 5353, 11211,
];

export interface UdpGuardOptions {
  /** The service's own port: datagrams from it are refused. */
  ownPort: number;
  /** Source ports refused besides `ownPort`. Default `REFLECTING_PORTS`. */
  refusedPorts?: Iterable<number>;
  /** Answers per second per source address; 0 turns the rate limit off. Default 1000. */
  ratePerSecond?: number;
  /** Answers a source may get in a burst. Default `ratePerSecond`. */
  burst?: number;
  /** Source addresses tracked at most; beyond, new sources share one bucket. Default 4096. */
  maxSources?: number;
  /** Clock in milliseconds (tests). Default `performance.now`. */
  now?: () => number;
}

interface Bucket {
  tokens: number;
  at: number;
}

/**
 * Decides which datagrams a reflecting UDP service may answer.
 *
 * @example
 * ```ts
 * const guard = new UdpGuard({ ownPort: 7 });
 * socket.on('message', (msg, peer) => {
 *   if (guard.check(peer.address, peer.port) === undefined) socket.send(msg, peer.port, peer.address);
 * });
 * ```
 */
export class UdpGuard {
  readonly #ownPort: number;
  readonly #refused: Set<number>;
  readonly #rate: number;
  readonly #burst: number;
  readonly #maxSources: number;
  readonly #now: () => number;
  /** Insertion order is use order (touched entries are re-inserted): the first is the oldest. */
  readonly #buckets = new Map<string, Bucket>();
  readonly #overflow: Bucket;

  constructor(options: UdpGuardOptions) {
    this.#ownPort = options.ownPort;
    this.#refused = new Set(options.refusedPorts ?? REFLECTING_PORTS);
    this.#rate = options.ratePerSecond ?? 1000;
    this.#burst = options.burst ?? Math.max(1, this.#rate);
    this.#maxSources = options.maxSources ?? 4096;
    this.#now = options.now ?? (() => performance.now());
    this.#overflow = { tokens: this.#burst, at: this.#now() };
  }

  /** Source addresses with a bucket now (never above `maxSources`). */
  get trackedSources(): number {
    return this.#buckets.size;
  }

  /** Why the datagram from `address`:`port` must not be answered, or `undefined`. */
  check(address: string, port: number): DropReason | undefined {
    if (port === this.#ownPort) return 'self';
    if (this.#refused.has(port)) return 'reflector';
    if (port === 0 || badSource(address)) return 'source';
    if (this.#rate > 0 && !this.#take(address)) return 'rate';
    return undefined;
  }

  #take(address: string): boolean {
    const now = this.#now();
    let bucket = this.#buckets.get(address);
    if (bucket) {
      this.#buckets.delete(address);
      this.#buckets.set(address, bucket);
    } else {
      bucket = this.#newBucket(address, now);
    }
    const tokens = Math.min(this.#burst, bucket.tokens + ((now - bucket.at) * this.#rate) / 1000);
    bucket.at = now;
    if (tokens < 1) {
      bucket.tokens = tokens;
      return false;
    }
    bucket.tokens = tokens - 1;
    return true;
  }

  /**
   * A bucket for a new source. When the table is full, the oldest entry makes room only if
   * it has refilled (forgetting it changes nothing); otherwise the new source shares the
   * overflow bucket, so cycling through spoofed addresses cannot reset anyone's limit.
   */
  #newBucket(address: string, now: number): Bucket {
    if (this.#buckets.size >= this.#maxSources) {
      const oldest = this.#buckets.entries().next().value;
      if (!oldest) return this.#overflow;
      const [key, b] = oldest;
      if (b.tokens + ((now - b.at) * this.#rate) / 1000 < this.#burst) return this.#overflow;
      this.#buckets.delete(key);
    }
    const bucket = { tokens: this.#burst, at: now };
    this.#buckets.set(address, bucket);
    return bucket;
  }
}

/**
 * Sources no real client has: multicast, unspecified, broadcast (as NetBSD inetd's
 * `port_good_dg()`), including their IPv4-mapped IPv6 forms.
 */
function badSource(address: string): boolean {
  const v4 = address.startsWith('::ffff:') ? address.slice(7) : address;
  if (net.isIPv4(v4)) {
    const first = Number(v4.slice(0, v4.indexOf('.')));
    return first === 0 || (first >= 224 && first <= 239) || v4 === '255.255.255.255';
  }
  return address === '::' || /^ff[0-9a-f]{2}:/i.test(address);
}
