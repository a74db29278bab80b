/**
 * UDP helpers: bind (with the same clear errors as TCP), send as a promise, broadcast,
 * multicast membership, and a datagram service that fits the `Service` shape.
 */
import dgram from 'node:dgram';
import dns from 'node:dns';
import net from 'node:net';
import { bindError, ErrorCode, SockitError } from '../errors.js';
import { events } from './events.js';
import { type Logger, silentLogger } from './log.js';
import { announceListening, checkInteger, type Service } from './service.js';

/** The largest UDP payload over IPv4: 65535 less the IP (20) and UDP (8) headers. */
export const MAX_UDP_PAYLOAD = 65_507;

export interface UdpBindOptions {
  /** Bind address; default: every address, IPv6 and IPv4 where the system allows. */
  host?: string;
  /** Port; 0 picks a free one. Default 0. */
  port?: number;
  /** Kernel receive buffer in bytes (the kernel may cap it: see net.core.rmem_max). */
  recvBufferSize?: number;
  /** Kernel send buffer in bytes. */
  sendBufferSize?: number;
  /**
   * Allow sending to broadcast addresses. Broadcast exists in IPv4 only (IPv6 has multicast
   * instead, RFC 4291 §2.7), so with no host the socket binds `0.0.0.0`, not `::`.
   */
  broadcast?: boolean;
  /**
   * SO_REUSEADDR: several sockets may bind one port (and, for multicast and broadcast, each
   * gets a copy of what arrives), as every LAN messenger on one machine needs.
   */
  reuseAddr?: boolean;
  /** Name for error messages. Default `udp`. */
  what?: string;
}

/** The last literal looked up, and its family: a socket mostly sends to one peer. */
let lastLiteral = '';
let lastFamily = 0;

/**
 * Address lookup for sends: an IP literal is answered at once. Node's default defers even
 * literals by a tick (dns.lookup answers through process.nextTick), a cost paid on every
 * datagram sent to an address; names still go through dns.lookup. The last literal's family
 * is kept: net.isIP's patterns cost a lock-step TFTP transfer ~1.5 us a block.
 */
export const literalLookup = ((
  hostname: string,
  options: unknown,
  callback: (err: NodeJS.ErrnoException | null, address: string, family: number) => void,
): void => {
  if (hostname === lastLiteral) {
    callback(null, hostname, lastFamily);
    return;
  }
  const family = net.isIP(hostname);
  if (family !== 0) {
    lastLiteral = hostname;
    lastFamily = family;
    callback(null, hostname, family);
    return;
  }
  dns.lookup(hostname, options as dns.LookupOneOptions, callback);
}) as unknown as dgram.SocketOptions['lookup'];

function bindOnce(
  type: 'udp4' | 'udp6',
  host: string,
  port: number,
  reuseAddr = false,
): Promise<dgram.Socket> {
  return new Promise((resolve, reject) => {
    const socket = dgram.createSocket({ type, ipv6Only: false, reuseAddr, lookup: literalLookup });
    const onError = (err: Error): void => {
      socket.close();
      reject(err);
    };
    socket.once('error', onError);
    socket.bind({ address: host, port }, () => {
      socket.off('error', onError);
      resolve(socket);
    });
  });
}

/**
 * A bound UDP socket. With no host it binds `::` (IPv6 and IPv4) and falls back to
 * `0.0.0.0` on systems without IPv6.
 *
 * @example
 * ```ts
 * const socket = await bindUdp({ port: 0 });
 * socket.on('message', (msg, peer) => socket.send(msg, peer.port, peer.address));
 * ```
 */
export async function bindUdp(options: UdpBindOptions = {}): Promise<dgram.Socket> {
  const port = checkInteger('port', options.port ?? 0, 0, 65535);
  const what = options.what ?? 'udp';
  const reuse = options.reuseAddr ?? false;
  if (options.broadcast && options.host !== undefined && net.isIPv6(options.host)) {
    throw new SockitError(
      ErrorCode.INVALID_ARGUMENT,
      `${what}: broadcast needs an IPv4 address, not ${options.host} (IPv6 has multicast instead)`,
    );
  }
  const host = options.host ?? (options.broadcast ? '0.0.0.0' : undefined);
  let socket: dgram.Socket;
  try {
    if (host === undefined) {
      socket = await bindOnce('udp6', '::', port, reuse).catch((err: NodeJS.ErrnoException) => {
        if (err.code === 'EAFNOSUPPORT' || err.code === 'EADDRNOTAVAIL')
          return bindOnce('udp4', '0.0.0.0', port, reuse);
        throw err;
      });
    } else {
      socket = await bindOnce(net.isIPv6(host) ? 'udp6' : 'udp4', host, port, reuse);
    }
  } catch (err) {
    throw bindError(err, what, host ?? '::', port);
  }
  if (options.recvBufferSize) socket.setRecvBufferSize(options.recvBufferSize);
  if (options.sendBufferSize) socket.setSendBufferSize(options.sendBufferSize);
  if (options.broadcast) socket.setBroadcast(true);
  return socket;
}

/** Sends one datagram; resolves when the kernel has taken it. */
export function sendUdp(
  socket: dgram.Socket,
  data: Uint8Array,
  port: number,
  address: string,
): Promise<void> {
  return new Promise((resolve, reject) => {
    socket.send(data, port, address, (err) => (err ? reject(err) : resolve()));
  });
}

/**
 * Sends one datagram to a broadcast address (default the limited broadcast 255.255.255.255).
 * The socket must be IPv4; broadcast is switched on for it.
 */
export function broadcastUdp(
  socket: dgram.Socket,
  data: Uint8Array,
  port: number,
  address = '255.255.255.255',
): Promise<void> {
  socket.setBroadcast(true);
  return sendUdp(socket, data, port, address);
}

export interface UdpServiceOptions extends Omit<UdpBindOptions, 'what'> {
  /** Service name for logs, e.g. `echo`. */
  name: string;
  /** Called for each datagram; reply through `socket`. */
  onMessage: (msg: Buffer, peer: dgram.RemoteInfo, socket: dgram.Socket) => void;
  log?: Logger;
}

export interface UdpService extends Service {
  readonly protocol: 'udp';
  readonly socket: dgram.Socket;
}

/**
 * A datagram service: binds, hands every datagram to `onMessage`, closes on `close()`.
 *
 * @example
 * ```ts
 * const echo = await serveUdp({ name: 'echo', port: 0, onMessage: (m, p, s) => s.send(m, p.port, p.address) });
 * ```
 */
export async function serveUdp(options: UdpServiceOptions): Promise<UdpService> {
  const log = (options.log ?? silentLogger).child({ service: options.name });
  const socket = await bindUdp({ ...options, what: `${options.name}/udp` });
  const name = options.name;
  socket.on('message', (msg, peer) => {
    if (events.datagram.hasSubscribers) {
      events.datagram.publish({ service: name, direction: 'in', bytes: msg.length });
    }
    options.onMessage(msg, peer, socket);
  });
  socket.on('error', (err) => log.warn({ err: err.message }, 'udp socket error'));
  const bound = socket.address();
  let closed: Promise<void> | undefined;
  const service: UdpService = {
    name: options.name,
    protocol: 'udp',
    socket,
    address: { address: bound.address, port: bound.port, family: bound.family },
    close() {
      closed ??= new Promise<void>((resolve) => socket.close(() => resolve()));
      return closed;
    },
  };
  announceListening(log, service);
  return service;
}
