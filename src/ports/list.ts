/**
 * The socket table, like `ss -tuanp` or `netstat -tuanp`: every TCP and UDP socket of
 * this network namespace with its state, port labels and owning processes.
 */
import path from 'node:path';
import { ErrorCode, SockitError } from '../errors.js';
import { type PortRange, portRange, serviceName } from './labels.js';
import { type ProcessInfo, socketOwners } from './owners.js';
import { inPortSpan, type PortSpan } from './port-spec.js';
import { type Endianness, type Endpoint, parseProcNet, type SocketEntry } from './proc-net.js';
import { type Protocol, type SocketState, ssStateName } from './states.js';
import { readSocketTableAsync } from './tables.js';

export interface LabelledEndpoint extends Endpoint {
  /** The IANA range of the port; null for port 0 (a wildcard peer). */
  range: PortRange | null;
  /** The service usually on this port, from the built-in table, or null. */
  service: string | null;
}

export interface PortEntry extends SocketEntry {
  local: LabelledEndpoint;
  remote: LabelledEndpoint;
  /** The processes holding the socket, by pid; empty when none is visible to us. */
  processes: ProcessInfo[];
}

export interface ListPortsOptions {
  /** Where procfs is mounted; default `/proc`. Tests point it at a fake tree. */
  procRoot?: string;
  /** Default `process.platform`; only `linux` has /proc/net. */
  platform?: NodeJS.Platform;
  /** Look up owning processes (walks /proc/PID/fd); default true. */
  processes?: boolean;
  /** Byte order of the machine that wrote the tables; default this machine's. */
  byteOrder?: Endianness;
  /** Which tables to read; default both. Each /proc/net table costs the kernel a walk of its hash. */
  protocols?: readonly Protocol[];
}

export interface PortFilter {
  tcp?: boolean;
  udp?: boolean;
  /** Only listening sockets: TCP in LISTEN, UDP not connected (as `ss -l`). */
  listening?: boolean;
  state?: SocketState;
  /** Local or remote port, or a span of ports (see `parsePortSpec`). */
  port?: number | PortSpan;
}

const TABLES: readonly { file: string; protocol: Protocol; family: 4 | 6 }[] = [
  { file: 'tcp', protocol: 'tcp', family: 4 },
  { file: 'tcp6', protocol: 'tcp', family: 6 },
  { file: 'udp', protocol: 'udp', family: 4 },
  { file: 'udp6', protocol: 'udp', family: 6 },
];

/**
 * Reads every TCP and UDP socket from /proc/net. Throws `ERR_UNSUPPORTED_PLATFORM` off
 * Linux, or when /proc/net is not mounted.
 *
 * @example
 * ```ts
 * const listening = filterPorts(await listPorts(), { listening: true });
 * for (const e of listening) console.log(e.protocol, e.local.port, e.processes[0]?.command);
 * ```
 */
export async function listPorts(options: ListPortsOptions = {}): Promise<PortEntry[]> {
  const platform = options.platform ?? process.platform;
  const procRoot = options.procRoot ?? '/proc';
  if (platform !== 'linux') {
    throw new SockitError(
      ErrorCode.UNSUPPORTED_PLATFORM,
      `ports: the socket table is read from /proc/net, which only Linux has (this is ${platform}); ` +
        'use "netstat -an" or "lsof -i" here',
    );
  }
  const wanted = options.protocols ?? ['tcp', 'udp'];
  const reading = Promise.all(
    TABLES.filter((t) => wanted.includes(t.protocol)).map(async ({ file, protocol, family }) => {
      const text = await readSocketTableAsync(`${procRoot}/net/${file}`);
      return text === undefined ? undefined : parseProcNet(text, protocol, family, options.byteOrder);
    }),
  );
  // The process scan runs here while reads started by prefetchSocketTables finish in the
  // thread pool; a failed read is reported once the scan is done.
  reading.catch(() => {});
  const owners =
    options.processes === false ? new Map<number, ProcessInfo[]>() : await socketOwners(procRoot);
  const tables = await reading;
  if (tables.every((t) => t === undefined)) {
    throw new SockitError(
      ErrorCode.UNSUPPORTED_PLATFORM,
      `ports: ${path.join(procRoot, 'net')} has no ${wanted.join(' or ')} table (IPv4 or IPv6); is /proc mounted?`,
    );
  }
  const entries: PortEntry[] = [];
  for (const table of tables) {
    for (const e of table ?? []) {
      entries.push({
        protocol: e.protocol,
        family: e.family,
        local: label(e.local, e.protocol),
        remote: label(e.remote, e.protocol),
        state: e.state,
        txQueue: e.txQueue,
        rxQueue: e.rxQueue,
        uid: e.uid,
        inode: e.inode,
        processes: (e.inode !== 0 && owners.get(e.inode)) || [],
      });
    }
  }
  return entries.sort(compareEntries);
}

/**
 * Keeps the entries that pass every filter given; `tcp` and `udp` both unset means both.
 *
 * @example
 * ```ts
 * filterPorts(entries, { tcp: true, state: 'ESTABLISHED', port: 443 });
 * filterPorts(entries, { port: { from: 8000, to: 8100 } });
 * ```
 */
export function filterPorts<T extends SocketEntry>(entries: readonly T[], filter: PortFilter): T[] {
  const anyProtocol = !filter.tcp && !filter.udp;
  const wantedState = filter.state === undefined ? undefined : ssStateName(filter.state);
  const span: PortSpan | undefined =
    typeof filter.port === 'number' ? { from: filter.port, to: filter.port } : filter.port;
  return entries.filter(
    (e) =>
      (anyProtocol || (e.protocol === 'tcp' ? filter.tcp : filter.udp)) &&
      (!filter.listening || isListening(e)) &&
      (wantedState === undefined || ssStateName(e.state) === wantedState) &&
      (span === undefined || inPortSpan(e.local.port, span) || inPortSpan(e.remote.port, span)),
  );
}

/**
 * Listening as `ss -l` means it: a TCP socket in LISTEN, or a UDP socket with no peer.
 *
 * @example
 * ```ts
 * entries.filter(isListening);
 * ```
 */
export function isListening(entry: SocketEntry): boolean {
  return entry.protocol === 'tcp' ? entry.state === 'LISTEN' : entry.state === 'UNCONN';
}

function label(endpoint: Endpoint, protocol: Protocol): LabelledEndpoint {
  const { address, port } = endpoint;
  if (port === 0) return { address, port, range: null, service: null };
  return { address, port, range: portRange(port), service: serviceName(port, protocol) ?? null };
}

function compareEntries(a: SocketEntry, b: SocketEntry): number {
  return (
    ordinal(a.protocol, b.protocol) ||
    a.family - b.family ||
    a.local.port - b.local.port ||
    ordinal(a.local.address, b.local.address) ||
    a.remote.port - b.remote.port ||
    ordinal(a.remote.address, b.remote.address)
  );
}

/** Code-unit order: the same on every machine, and without loading a locale's collation. */
function ordinal(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
