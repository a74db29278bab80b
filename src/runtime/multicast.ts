/**
 * Multicast group membership for UDP sockets, IPv4 (RFC 1112) and IPv6 (RFC 4291 §2.7).
 * An interface is named the way people name it (`eth0`, `lo`) or by one of its IPv4
 * addresses; it becomes what the kernel wants: an IPv4 address for IP_ADD_MEMBERSHIP, a
 * scope (`::%eth0`) for IPV6_JOIN_GROUP.
 */
import type dgram from 'node:dgram';
import net from 'node:net';
import type os from 'node:os';
import { ErrorCode, SockitError } from '../errors.js';
import { listInterfaces } from './interfaces.js';

export interface MulticastOptions {
  /**
   * The interface to join on and send through: a name (`eth0`) or, for IPv4, one of its
   * addresses. Default: the system's choice (the interface of the default route).
   */
  interface?: string;
  /** Hops a sent datagram may take (IP_MULTICAST_TTL); default 1, this link only. */
  ttl?: number;
  /** Receive our own group datagrams on this host; default true (the kernel's default). */
  loopback?: boolean;
  /** Interfaces to resolve names against; default `os.networkInterfaces()`. */
  interfaces?: NodeJS.Dict<os.NetworkInterfaceInfo[]>;
}

/** True for 224.0.0.0/4 and ff00::/8. */
export function isMulticastAddress(address: string): boolean {
  if (net.isIPv4(address)) {
    const first = Number(address.slice(0, address.indexOf('.')));
    return first >= 224 && first <= 239;
  }
  return net.isIPv6(address) && /^ff[0-9a-f]{2}:/i.test(address);
}

/**
 * What to hand the kernel for `iface` in the family of `group`: an IPv4 address, or `::%name`
 * for IPv6. Undefined when `iface` is undefined (the system chooses).
 *
 * @example
 * ```ts
 * multicastInterface('239.1.2.3', 'lo'); // '127.0.0.1'
 * multicastInterface('ff02::1', 'eth0'); // '::%eth0'
 * ```
 */
export function multicastInterface(
  group: string,
  iface: string | undefined,
  interfaces?: NodeJS.Dict<os.NetworkInterfaceInfo[]>,
): string | undefined {
  if (iface === undefined) return undefined;
  if (net.isIPv6(group)) return iface.startsWith('::%') || net.isIPv6(iface) ? iface : `::%${iface}`;
  if (net.isIPv4(iface)) return iface;
  const found = listInterfaces(interfaces).find((i) => i.name === iface && i.family === 4);
  if (!found) {
    throw new SockitError(ErrorCode.INVALID_ARGUMENT, `no IPv4 address on interface "${iface}"`);
  }
  return found.address;
}

function checkGroup(group: string): void {
  if (!isMulticastAddress(group)) {
    throw new SockitError(
      ErrorCode.INVALID_ARGUMENT,
      `${group} is not a multicast address (IPv4 224.0.0.0/4, IPv6 ff00::/8)`,
    );
  }
}

function membershipError(err: unknown, action: string, group: string): SockitError {
  const code = (err as NodeJS.ErrnoException).code ?? 'error';
  return new SockitError(ErrorCode.MULTICAST, `cannot ${action} multicast group ${group}: ${code}`, {
    cause: err,
  });
}

/**
 * Joins `group` and, with an interface given, sends group datagrams through it too.
 * Throws `ERR_INVALID_ARGUMENT` for a non-multicast group, `ERR_MULTICAST` when the kernel
 * refuses (e.g. the group is already joined on that interface).
 *
 * @example
 * ```ts
 * const socket = await bindUdp({ port: 5007, reuseAddr: true, host: '0.0.0.0' });
 * joinMulticast(socket, '239.255.0.1', { interface: 'eth0' });
 * ```
 */
export function joinMulticast(socket: dgram.Socket, group: string, options: MulticastOptions = {}): void {
  checkGroup(group);
  const iface = multicastInterface(group, options.interface, options.interfaces);
  try {
    socket.addMembership(group, iface);
    if (iface !== undefined) socket.setMulticastInterface(iface);
    socket.setMulticastTTL(options.ttl ?? 1);
    socket.setMulticastLoopback(options.loopback ?? true);
  } catch (err) {
    throw membershipError(err, 'join', group);
  }
}

/**
 * Leaves `group` on the interface it was joined on. Throws `ERR_MULTICAST` when the socket
 * is not a member.
 *
 * @example
 * ```ts
 * leaveMulticast(socket, '239.255.0.1', { interface: 'eth0' });
 * ```
 */
export function leaveMulticast(socket: dgram.Socket, group: string, options: MulticastOptions = {}): void {
  checkGroup(group);
  try {
    socket.dropMembership(group, multicastInterface(group, options.interface, options.interfaces));
  } catch (err) {
    throw membershipError(err, 'leave', group);
  }
}
