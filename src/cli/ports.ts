/** `sockit ports`: the socket table, like `ss -tuan` or `netstat -an`. */
import { Command } from 'commander';
import { filterPorts, listPorts } from '../ports/list.js';
import { parseSocketState, type SocketState } from '../ports/states.js';
import { formatPortTable } from '../ports/text.js';
import { parsePort } from './args.js';

interface PortsFlags {
  tcp?: boolean;
  udp?: boolean;
  listening?: boolean;
  state?: SocketState;
  port?: number;
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
    .option(
      '--state <state>',
      'only this state, e.g. LISTEN, ESTABLISHED (or ESTAB), TIME_WAIT',
      parseSocketState,
    )
    .option('-p, --port <port>', 'only sockets with this local or peer port', parsePort)
    .option('--json', 'print a JSON array instead of text')
    .addHelpText(
      'after',
      `
Ports are labelled by IANA range (RFC 6335): well-known 0-1023, registered 1024-49151,
dynamic 49152-65535. Other users' processes are shown only when run with privilege
(as with ss -p). Linux only: elsewhere use netstat -an or lsof -i.

Examples:
  sockit ports --listening                 what is listening, and which process
  sockit ports --tcp --state established   open TCP connections
  sockit ports --port 5432 --json          everything on port 5432, for scripts`,
    )
    .action(async (flags: PortsFlags) => {
      const entries = filterPorts(await listPorts(), flags);
      process.stdout.write(flags.json ? `${JSON.stringify(entries, null, 2)}\n` : formatPortTable(entries));
    });
}
