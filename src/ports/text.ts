/**
 * The socket table as aligned text, the way `netstat -tuanp` lays it out: the process as
 * PID and command, with the whole command line (`node server.js` says more than `node`).
 */
import { visible } from '../runtime/text.js';
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
  // The padded columns, then the process (the last: not padded), filled in one pass.
  const columns: string[][] = [[], [], [], [], []];
  const processes: string[] = [];
  const widths = HEADER.slice(0, 5).map((title) => title.length);
  const add = (cells: readonly string[], process: string): void => {
    for (let col = 0; col < 5; col++) {
      const cell = cells[col] as string;
      (columns[col] as string[]).push(cell);
      if (cell.length > (widths[col] as number)) widths[col] = cell.length;
    }
    processes.push(process);
  };
  add(HEADER, HEADER[5]);
  for (const e of entries) {
    add(
      [
        e.family === 6 ? `${e.protocol}6` : e.protocol,
        e.state,
        hostPort(e.local),
        hostPort(e.remote),
        portLabel(e),
      ],
      processCell(e.processes),
    );
  }
  const lines: string[] = [];
  for (let row = 0; row < processes.length; row++) {
    let line = '';
    for (let col = 0; col < 5; col++)
      line += `${((columns[col] as string[])[row] as string).padEnd(widths[col] as number)}  `;
    lines.push(`${line}${processes[row]}`.trimEnd());
  }
  if (entries.length === 0) lines.push('(no sockets match)');
  return `${lines.join('\n')}\n`;
}

/**
 * `PID COMMAND LINE` of each process, or `-`. A command line is whatever the process made
 * its arguments (or its name): line breaks, escape sequences and reordering marks in it are
 * written out (`\u{1b}`), so that it can neither break the table nor drive the terminal.
 */
function processCell(processes: PortEntry['processes']): string {
  if (processes.length === 0) return '-';
  const [only] = processes;
  if (processes.length === 1 && only) return `${only.pid} ${visible(only.commandLine, MAX_SHOWN)}`;
  return processes.map((p) => `${p.pid} ${visible(p.commandLine, MAX_SHOWN)}`).join(', ');
}

/** The whole of a command line as read (owners.ts keeps its first 4096 bytes). */
const MAX_SHOWN = 4096;

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
  let text = e.local.range ?? '';
  if (e.local.service) text = text ? `${text} ${e.local.service}` : e.local.service;
  if (e.remote.service) text = text ? `${text} (peer ${e.remote.service})` : `(peer ${e.remote.service})`;
  return text || '-';
}
