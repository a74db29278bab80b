/**
 * The socket table as aligned text, the way `netstat -tuanp` lays it out: the process as
 * PID and command, with the whole command line (`node server.js` says more than `node`).
 */
import type { LabelledEndpoint, PortEntry } from './list.js';

const HEADER = ['Proto', 'State', 'Local Address:Port', 'Peer Address:Port', 'Port', 'Process'] as const;

/**
 * One line per socket under a header; `tcp6`/`udp6` for IPv6 as netstat writes it.
 *
 * @example
 * ```ts
 * process.stdout.write(formatPortTable(await listPorts()));
 * // Proto  State   Local Address:Port  Peer Address:Port  Port                   Process
 * // tcp    LISTEN  127.0.0.1:5432      0.0.0.0:*          registered postgresql  2185 postgres -D /srv/pg
 * ```
 */
export function formatPortTable(entries: readonly PortEntry[]): string {
  const rows: string[][] = [[...HEADER]];
  for (const e of entries) {
    rows.push([
      e.family === 6 ? `${e.protocol}6` : e.protocol,
      e.state,
      hostPort(e.local),
      hostPort(e.remote),
      portLabel(e),
      e.processes.map((p) => `${p.pid} ${p.commandLine}`).join(', ') || '-',
    ]);
  }
  const widths = HEADER.map((_, col) => Math.max(...rows.map((row) => row[col]?.length ?? 0)));
  const lines = rows.map((row) =>
    row
      .map((cell, col) => (col === row.length - 1 ? cell : cell.padEnd(widths[col] ?? 0)))
      .join('  ')
      .trimEnd(),
  );
  if (entries.length === 0) lines.push('(no sockets match)');
  return `${lines.join('\n')}\n`;
}

/**
 * `address:port`, IPv6 in brackets, `*` for a wildcard port (as `ss -n` prints them).
 *
 * @example
 * ```ts
 * hostPort({ address: '::1', port: 0, range: null, service: null }); // '[::1]:*'
 * ```
 */
export function hostPort(endpoint: LabelledEndpoint): string {
  const host = endpoint.address.includes(':') ? `[${endpoint.address}]` : endpoint.address;
  return `${host}:${endpoint.port === 0 ? '*' : endpoint.port}`;
}

/** The local port's range and service, and the peer's service when it has a known one. */
function portLabel(e: PortEntry): string {
  const parts = [e.local.range ?? '', e.local.service ?? ''].filter((s) => s !== '');
  if (e.remote.service) parts.push(`(peer ${e.remote.service})`);
  return parts.join(' ') || '-';
}
