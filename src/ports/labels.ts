/**
 * What a port number means: its IANA range (RFC 6335 §6) and, for the common ones, the
 * service that listens there. The table is small on purpose; /etc/services has the rest.
 */
import type { Protocol } from './states.js';

export type PortRange = 'well-known' | 'registered' | 'dynamic';

/** Last port of the System (well-known) range, which needs privilege to bind on Unix. */
export const LAST_WELL_KNOWN_PORT = 1023;
/** Last port of the User (registered) range; above it is the Dynamic (ephemeral) range. */
export const LAST_REGISTERED_PORT = 49151;

/** Port to service name, on both TCP and UDP unless `UDP_ONLY` or `TCP_ONLY` holds the port. */
const SERVICES: ReadonlyMap<number, string> = new Map([
  [7, 'echo'],
  [20, 'ftp-data'],
  [21, 'ftp'],
  [22, 'ssh'],
  [23, 'telnet'],
  [25, 'smtp'],
  [53, 'domain'],
  [67, 'bootps'],
  [68, 'bootpc'],
  [69, 'tftp'],
  [80, 'http'],
  [110, 'pop3'],
  [111, 'sunrpc'],
  [119, 'nntp'],
  [123, 'ntp'],
  [137, 'netbios-ns'],
  [143, 'imap'],
  [161, 'snmp'],
  [179, 'bgp'],
  [389, 'ldap'],
  [443, 'https'],
  [445, 'microsoft-ds'],
  [465, 'submissions'],
  [514, 'syslog'],
  [587, 'submission'],
  [631, 'ipp'],
  [636, 'ldaps'],
  [853, 'domain-s'],
  [993, 'imaps'],
  [995, 'pop3s'],
  [1883, 'mqtt'],
  [3306, 'mysql'],
  [3389, 'ms-wbt-server'],
  [4369, 'epmd'],
  [5353, 'mdns'],
  [5432, 'postgresql'],
  [5672, 'amqp'],
  [6379, 'redis'],
  [8080, 'http-alt'],
  [8443, 'https-alt'],
  [9418, 'git'],
  [11211, 'memcache'],
  [27017, 'mongodb'],
]);

/** Services that exist on one protocol only (the rest share a number on both). */
const UDP_ONLY = new Set([67, 68, 69, 123, 137, 161, 514, 5353]);
const TCP_ONLY = new Set([20, 21, 22, 23, 25, 110, 119, 143, 179, 445, 465, 587, 636]);

/**
 * The IANA range of a port: well-known 0-1023, registered 1024-49151, dynamic 49152-65535.
 *
 * @example
 * ```ts
 * portRange(443); // 'well-known'
 * portRange(5432); // 'registered'
 * portRange(51234); // 'dynamic'
 * ```
 */
export function portRange(port: number): PortRange {
  if (port <= LAST_WELL_KNOWN_PORT) return 'well-known';
  if (port <= LAST_REGISTERED_PORT) return 'registered';
  return 'dynamic';
}

/**
 * The service usually found on a port, from a small built-in table, or undefined.
 *
 * @example
 * ```ts
 * serviceName(22, 'tcp'); // 'ssh'
 * serviceName(53, 'udp'); // 'domain'
 * serviceName(22, 'udp'); // undefined
 * ```
 */
export function serviceName(port: number, protocol: Protocol): string | undefined {
  if (protocol === 'tcp' && UDP_ONLY.has(port)) return undefined;
  if (protocol === 'udp' && TCP_ONLY.has(port)) return undefined;
  return SERVICES.get(port);
}

/**
 * The port of a service name from the built-in table (`ssh` → 22), or undefined.
 *
 * @example
 * ```ts
 * servicePort('ssh'); // 22
 * servicePort('postgresql'); // 5432
 * ```
 */
export function servicePort(name: string): number | undefined {
  const wanted = name.toLowerCase();
  for (const [port, service] of SERVICES) if (service === wanted) return port;
  return undefined;
}
