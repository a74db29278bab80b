/**
 * This machine's network interfaces with what a LAN service needs from each: prefix length
 * and, for IPv4, the directed broadcast address (RFC 919 §7: the network's host bits all
 * ones). The subnet arithmetic is `ip/`'s (pure, it imports nothing but errors), reused here
 * so that `sockit ip` and the UDP services compute broadcast addresses with one piece of code.
 */
import os from 'node:os';
import { formatValue, parseIp } from '../ip/address.js';
import { maskToPrefix } from '../ip/mask.js';
import { lastAddress, subnetOf } from '../ip/subnet.js';

/** One address of one interface. */
export interface InterfaceAddress {
  /** Interface name, e.g. `eth0`, `lo`. */
  name: string;
  address: string;
  family: 4 | 6;
  /** Prefix length of the interface's subnet. */
  prefix: number;
  /** True for loopback. */
  internal: boolean;
  mac: string;
  /**
   * IPv4 only: the subnet's directed broadcast address. Absent for IPv6 (no broadcast) and
   * for /31 and /32 (RFC 3021 §2: a /31 point-to-point link has no broadcast address).
   */
  broadcast?: string;
  /** IPv6 only: the scope id (interface index) of a link-local address. */
  scopeid?: number;
}

/**
 * The directed broadcast address of the IPv4 subnet holding `address`, or `undefined` when
 * there is none (IPv6, /31, /32). `mask` is a prefix length or a dotted netmask.
 *
 * @example
 * ```ts
 * broadcastAddress('192.168.1.77', 24); // '192.168.1.255'
 * broadcastAddress('10.1.2.3', '255.255.240.0'); // '10.1.15.255'
 * broadcastAddress('10.0.0.0', 31); // undefined
 * ```
 */
export function broadcastAddress(address: string, mask: number | string): string | undefined {
  const ip = parseIp(address);
  if (ip.version !== 4) return undefined;
  const prefix = typeof mask === 'number' ? mask : maskToPrefix(4, parseIp(mask).value);
  if (prefix >= 31) return undefined;
  return formatValue(4, lastAddress(subnetOf(ip, prefix)));
}

/**
 * Every address of every interface, with prefix and broadcast address. `source` defaults to
 * `os.networkInterfaces()`; pass a literal list to compute for another machine or a test.
 *
 * @example
 * ```ts
 * for (const i of listInterfaces()) if (i.broadcast && !i.internal) console.log(i.name, i.broadcast);
 * ```
 */
export function listInterfaces(
  source: NodeJS.Dict<os.NetworkInterfaceInfo[]> = os.networkInterfaces(),
): InterfaceAddress[] {
  const out: InterfaceAddress[] = [];
  for (const [name, infos] of Object.entries(source)) {
    for (const info of infos ?? []) {
      const family = info.family === 'IPv6' ? 6 : 4;
      const prefix = maskToPrefix(family, parseIp(info.netmask).value);
      const entry: InterfaceAddress = {
        name,
        address: info.address,
        family,
        prefix,
        internal: info.internal,
        mac: info.mac,
      };
      if (family === 4) {
        const broadcast = broadcastAddress(info.address, prefix);
        if (broadcast !== undefined) entry.broadcast = broadcast;
      } else if (info.family === 'IPv6' && info.scopeid !== undefined) {
        entry.scopeid = info.scopeid;
      }
      out.push(entry);
    }
  }
  return out;
}

/**
 * Where a LAN broadcast should go: the directed broadcast address of each external IPv4
 * interface (duplicates removed), or the limited broadcast `255.255.255.255` when there is
 * none. Directed broadcasts leave by the right interface on multi-homed hosts, where the
 * limited one leaves by the default route only.
 *
 * @example
 * ```ts
 * for (const to of broadcastTargets()) await broadcastUdp(socket, hello, 2425, to);
 * ```
 */
export function broadcastTargets(
  source: NodeJS.Dict<os.NetworkInterfaceInfo[]> = os.networkInterfaces(),
): string[] {
  const targets = new Set<string>();
  for (const i of listInterfaces(source)) {
    if (!i.internal && i.broadcast !== undefined) targets.add(i.broadcast);
  }
  return targets.size > 0 ? [...targets] : ['255.255.255.255'];
}
