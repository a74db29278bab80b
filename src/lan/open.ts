/**
 * The LAN messenger on real sockets: a UDP socket and a TCP listener on one port (2425 by
 * default, as IP Messenger's), a `LanNode` speaking through the UDP socket, and the file
 * offers served on the TCP listener. Broadcasts go to 255.255.255.255 and to the directed
 * broadcast address of each interface (runtime/interfaces, the subnet arithmetic of `ip/`),
 * plus any addresses given (subnets behind a router).
 */
import dgram from 'node:dgram';
import { once } from 'node:events';
import net from 'node:net';
import os from 'node:os';
import { ErrorCode, SockitError } from '../errors.js';
import { broadcastTargets, listInterfaces } from '../runtime/interfaces.js';
import type { Attachment } from './attachments.js';
import { FileOffers, fetchAttachment, normalize, type OfferedFile } from './files.js';
import { type Charset, IPMSG_PORT, MAX_PACKET } from './ipmsg.js';
import { type LanAddress, type LanMessage, LanNode, type LanNodeOptions, type Peer } from './node.js';

export interface OpenLanOptions
  extends Omit<LanNodeOptions, 'broadcast' | 'isSelf' | 'user' | 'host' | 'nick'> {
  /** Default: the login name. */
  nick?: string;
  /** Default: the login name and the host name. */
  user?: string;
  host?: string;
  /** UDP and TCP port. Default 2425. */
  port?: number;
  /** Bind address. Default: all IPv4 addresses. */
  bind?: string;
  /** More broadcast (or unicast) addresses for the entry packets, e.g. a routed subnet's. */
  broadcast?: readonly string[];
  /** Only these: no 255.255.255.255 and no interface broadcasts. */
  broadcastOnly?: boolean;
  /** Bytes a fetched file, or a fetched folder's files together, may have. Default 4 GiB. */
  maxBytes?: number;
  onTransfer?: ConstructorParameters<typeof FileOffers>[0] extends infer O
    ? O extends { onTransfer?: infer T }
      ? T
      : never
    : never;
}

export interface Lan {
  readonly node: LanNode;
  readonly port: number;
  /** Sends files and folders to a peer, with a message; resolves once acknowledged. */
  sendFiles(peer: Peer, text: string, paths: readonly string[]): Promise<OfferedFile[]>;
  /** Fetches one attachment of a received message into the folder `dest`. */
  fetch(
    message: LanMessage,
    attachment: Attachment,
    dest: string,
    onProgress?: (bytes: number) => void,
  ): Promise<{ name: string; bytes: number }>;
  close(): Promise<void>;
}

/**
 * Where the entry broadcasts of a node on `port` go: as IP Messenger and iptux send them, to
 * 255.255.255.255 and to each interface's directed broadcast address (runtime/interfaces),
 * plus `extra`; with `only`, to `extra` alone.
 */
export function lanTargets(
  port: number,
  extra: readonly string[] = [],
  only = false,
  interfaces = os.networkInterfaces(),
): LanAddress[] {
  const addresses = new Set<string>(only ? [] : ['255.255.255.255', ...broadcastTargets(interfaces)]);
  for (const a of extra) addresses.add(a);
  return [...addresses].map((address) => ({ address, port }));
}

export async function openLan(options: OpenLanOptions): Promise<Lan> {
  const port = options.port ?? IPMSG_PORT;
  const charset: Charset = options.charset ?? 'utf-8';
  const udp = dgram.createSocket({ type: 'udp4', reuseAddr: false, recvBufferSize: 1 << 20 });
  const tcp = net.createServer({ pauseOnConnect: false });
  try {
    // UDP on every address even with --bind: a socket bound to one address hears no
    // broadcast. --bind limits the file transfers (TCP).
    udp.bind({ port, exclusive: true });
    await Promise.race([once(udp, 'listening'), once(udp, 'error').then(([err]) => Promise.reject(err))]);
    const bound = udp.address().port;
    tcp.listen({ port: bound, host: options.bind ?? '0.0.0.0', exclusive: true });
    await Promise.race([once(tcp, 'listening'), once(tcp, 'error').then(([err]) => Promise.reject(err))]);
  } catch (err) {
    udp.close();
    tcp.close();
    if ((err as NodeJS.ErrnoException).code === 'EADDRINUSE') {
      throw new SockitError(
        ErrorCode.ADDRESS_IN_USE,
        `port ${port} is taken (another messenger on this machine?); choose another with --port`,
      );
    }
    throw err;
  }
  udp.setBroadcast(true);
  const bound = udp.address().port;
  const user = options.user ?? loginName();
  const host = options.host ?? os.hostname();
  const local = new Set(listInterfaces().map((i) => i.address));
  const node = new LanNode(
    {
      send: (data, to) => {
        udp.send(data, to.port, to.address, () => {
          // A broadcast address with no route, a peer gone: UDP is best effort.
        });
      },
    },
    {
      ...options,
      nick: options.nick ?? user,
      user,
      host,
      broadcast: lanTargets(bound, options.broadcast, options.broadcastOnly),
      isSelf: (from) => from.port === bound && local.has(from.address),
    },
  );
  udp.on('message', (data, rinfo) => {
    if (data.length > MAX_PACKET) return;
    node.receive(data, { address: normalize(rinfo.address), port: rinfo.port });
  });
  udp.on('error', () => {});
  const offers = new FileOffers({ ...(options.onTransfer ? { onTransfer: options.onTransfer } : {}) });
  node.on('release', ({ peer, packetNo }) => offers.release(Number(packetNo), peer.address));
  // Connections at once, requests and transfers together (16 of them transfers at most).
  tcp.maxConnections = 64;
  const served = new Set<net.Socket>();
  tcp.on('connection', (socket) => {
    served.add(socket);
    socket.once('close', () => served.delete(socket));
    offers.handle(socket, charset);
  });
  const fetching = new Slots(4, 1);
  const stopping = new AbortController();
  tcp.on('error', () => {});
  return {
    node,
    port: bound,
    async sendFiles(peer, text, paths) {
      const files = await offers.prepare(paths);
      // The offer exists before the message can arrive: a peer may ask for the files at once.
      const packetNo = node.nextPacketNo();
      offers.add(packetNo, peer.address, files, peer.utf8 ? 'utf-8' : charset);
      try {
        await node.send(peer, text, { attachments: files, packetNo });
      } catch (err) {
        offers.release(packetNo, peer.address);
        throw err;
      }
      return files;
    },
    async fetch(message, attachment, dest, onProgress) {
      // Only from a peer that announced itself from that address and port: a message's source
      // can be forged, and fetching from it would connect wherever the forger chose.
      if (!message.from.announced) {
        throw new SockitError(
          ErrorCode.FORBIDDEN,
          `${message.from.address}:${message.from.port} never announced itself: its files are not fetched`,
        );
      }
      await fetching.take(message.from.address);
      try {
        return await fetchAttachment(
          { address: message.from.address, port: message.from.port },
          attachment,
          dest,
          {
            user,
            host,
            packetNo: node.nextPacketNo(),
            messageNo: message.packetNo,
            charset: message.charset,
            signal: stopping.signal,
            ...(options.maxBytes === undefined ? {} : { maxBytes: options.maxBytes }),
            ...(onProgress ? { onProgress } : {}),
          },
        );
      } finally {
        fetching.release(message.from.address);
      }
    },
    async close() {
      stopping.abort();
      // Goodbye twice, 100 ms apart, as IP Messenger says it: one datagram may be lost.
      node.goodbye();
      await new Promise((resolve) => setTimeout(resolve, 100));
      node.close();
      // The goodbye goes out before the socket closes.
      await new Promise((resolve) => setTimeout(resolve, 20));
      udp.close();
      // Transfers still running are given two seconds, then cut.
      const closed = new Promise((resolve) => tcp.close(() => resolve(undefined)));
      const cut = setTimeout(() => {
        for (const socket of served) socket.destroy();
      }, 2000);
      await closed;
      clearTimeout(cut);
    },
  };
}

/**
 * Fetches at once: `total` in all, `perPeer` from one address; the others wait their turn (a
 * peer that offers hundreds of files gets them one after another, not hundreds of sockets).
 */
class Slots {
  #used = 0;
  readonly #per = new Map<string, number>();
  readonly #waiting: (() => void)[] = [];
  constructor(
    readonly total: number,
    readonly perPeer: number,
  ) {}

  async take(peer: string): Promise<void> {
    while (this.#used >= this.total || (this.#per.get(peer) ?? 0) >= this.perPeer) {
      await new Promise<void>((resolve) => this.#waiting.push(resolve));
    }
    this.#used++;
    this.#per.set(peer, (this.#per.get(peer) ?? 0) + 1);
  }

  release(peer: string): void {
    this.#used--;
    const left = (this.#per.get(peer) ?? 1) - 1;
    if (left > 0) this.#per.set(peer, left);
    else this.#per.delete(peer);
    // Every waiter looks again (one may be of another peer that can go now).
    for (const wake of this.#waiting.splice(0)) wake();
  }
}

/** This user's login name (sockit when there is none to read). */
function loginName(): string {
  try {
    return os.userInfo().username.slice(0, 64);
  } catch {
    return 'sockit';
  }
}
