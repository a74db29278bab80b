/** `sockit ports`: the socket table, like `ss -tuan` or `netstat -an`. */
import { Command, InvalidArgumentError } from 'commander';
import { isSockitError } from '../errors.js';
import { filterPorts, listPorts } from '../ports/list.js';
import { type PortSpan, parsePortSpec } from '../ports/port-spec.js';
import { parseSocketState, type SocketState } from '../ports/states.js';
import { formatPortTable } from '../ports/text.js';
import { printResult } from './output.js';

interface PortsFlags {
  tcp?: boolean;
  udp?: boolean;
  listening?: boolean;
  state?: SocketState | 'listening';
  port?: PortSpan;
  json?: boolean;
}

export function portsCommand(): Command {
  return new Command('ports')
    .description(
      'list TCP and UDP sockets: protocol, local and peer address:port, state, port range and ' +
        'service, and the owning process where readable (Linux, from /proc/net)',
    )
    .option('-t, --tcp', 'TCP sockets (with neither --tcp nor --udp, both)')
    .option('-u, --udp', 'UDP sockets')
    .option('-l, --listening', 'only listening sockets: TCP in LISTEN, UDP not connected')
    .option('-a, --all', 'all sockets (the default; accepted as ss and netstat spell it)')
    .option('-n, --numeric', 'numeric addresses and ports (always so; accepted as in ss -n)')
    .option('-p, --processes', 'owning processes (always shown where readable; as in ss -p)')
    .option(
      '--state <state>',
      'only this state, e.g. LISTEN, ESTABLISHED (or ESTAB), TIME_WAIT, or listening (as -l)',
      parseStateFlag,
    )
    .option(
      '--port <port>',
      'only sockets with a local or peer port in this port, range or service (22, 8000-8100, ssh)',
      parsePortFlag,
    )
    .option('--json', 'print a JSON array instead of text')
    .addHelpText(
      'after',
      `
Ports are labelled by IANA range (RFC 6335): well-known 0-1023, registered 1024-49151,
dynamic 49152-65535. Other users' processes are shown only when run with privilege
(as with ss -p). Linux only: elsewhere use netstat -an or lsof -i.

Examples:
  sockit ports --listening                 what is listening, and which process
  sockit ports -tlnp                       the same for TCP, as ss spells it
  sockit ports --tcp --state established   open TCP connections
  sockit ports --port 8000-8100            anything on those ports
  sockit ports --port 5432 --json          everything on port 5432, for scripts`,
    )
    .action(async (flags: PortsFlags) => {
      const listening = flags.listening || flags.state === 'listening';
      const state = flags.state === 'listening' ? undefined : flags.state;
      const protocols =
        flags.tcp || flags.udp ? (['tcp', 'udp'] as const).filter((p) => flags[p]) : undefined;
      const entries = filterPorts(await listPorts({ protocols }), { ...flags, listening, state });
      printResult(flags, entries, () => formatPortTable(entries));
    });
}

/** `--state`: a socket state, or `listening` as ss's `state listening` (TCP LISTEN, UDP UNCONN). */
function parseStateFlag(text: string): SocketState | 'listening' {
  return /^\s*listening\s*$/i.test(text) ? 'listening' : parseSocketState(text);
}

/** `--port`: commander reports a bad value as its own usage error. */
function parsePortFlag(text: string): PortSpan {
  try {
    return parsePortSpec(text);
  } catch (err) {
    if (isSockitError(err)) throw new InvalidArgumentError(err.message);
    throw err;
  }
}
