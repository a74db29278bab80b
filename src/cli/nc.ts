/** `sockit nc`: netcat. */
import { Command, Option } from 'commander';
import { ErrorCode, isSockitError, SockitError } from '../errors.js';
import { ncCheck, ncConnect, ncListen } from '../nc/nc.js';
import { MAX_UDP_PAYLOAD } from '../runtime/udp.js';
import { bytesOption, bytesWithin, parsePort, parseSeconds, secondsOption } from './args.js';
import { ExitStatus } from './exit-status.js';
import { reportFailure } from './failure.js';
import { interruptible } from './interrupt.js';
import { plainLogger } from './plain-log.js';

interface NcFlags {
  listen?: boolean;
  port?: number;
  host?: string;
  udp?: boolean;
  verbose?: boolean;
  keepOpen?: boolean;
  check?: boolean;
  timeout?: number;
  quitAfter: number;
  datagramSize: number;
}

export function ncCommand(): Command {
  return new Command('nc')
    .description('netcat: stdin to a socket, the socket to stdout, binary-safe')
    .argument('[host]', 'host to connect to (with -l: address to bind, or the port)')
    .argument('[port]', 'port to connect to (with -l: port to listen on)')
    .option('-l, --listen', 'wait for a peer instead of connecting')
    .option('-p, --port <port>', 'with --listen: port to listen on (0 picks one; see -v)', parsePort)
    .option('-H, --host <address>', 'with --listen: bind address (default: all)')
    .option('-k, --keep-open', 'with --listen: after a peer leaves, serve the next one (TCP)')
    .option('-z, --check', 'only check that HOST PORT accepts TCP connections: exit 0 open, 1 not')
    .addOption(
      new Option(
        '-w, --timeout <seconds>',
        'TCP: give up connecting, or close when idle, after this long',
      ).argParser(parseSeconds),
    )
    .option('-u, --udp', 'use UDP datagrams instead of a TCP stream')
    .option('-v, --verbose', 'say on stderr where it listens and who connects')
    .addOption(
      secondsOption('-q, --quit-after <seconds>', 'UDP: after stdin ends, exit once silent this long', 1),
    )
    .addOption(
      bytesOption(
        '--datagram-size <bytes>',
        'UDP: largest datagram sent',
        '8192',
        bytesWithin(1, MAX_UDP_PAYLOAD),
      ),
    )
    .addHelpText(
      'after',
      `
TCP: when stdin ends, sockit shuts down its sending side (half-close) and keeps printing
what the peer sends until the peer closes. Exit status 0 after a clean close.
The forms of OpenBSD nc work too: nc -l 9000, nc -l HOST PORT, -k, -z, -w.

Examples:
  sockit nc 127.0.0.1 7007 < file             send a file, print the reply
  sockit nc -l 9000 > received                receive one connection's bytes
  sockit nc -lk 127.0.0.1 9000                serve peer after peer
  sockit nc -z -w 2 db.example 5432 && echo up
  echo ping | sockit nc --udp 127.0.0.1 7007`,
    )
    .action(
      async (host: string | undefined, portText: string | undefined, flags: NcFlags, command: Command) => {
        const log = plainLogger(command, 'nc', flags.verbose ? 'info' : 'warn');
        const port = portText === undefined ? undefined : portArgument(portText);
        const io = {
          input: process.stdin,
          output: process.stdout,
          udp: flags.udp,
          quitAfterMs: flags.quitAfter,
          datagramSize: flags.datagramSize,
          log,
        };
        // Nothing to clean up: Ctrl-C ends nc at once, with one line and status 130.
        await interruptible(
          async () => {
            if (flags.listen) {
              // nc -l 9000 (the port alone), nc -l HOST PORT, or --host/--port.
              const portOnly = port === undefined && flags.port === undefined && host !== undefined;
              const listenPort = flags.port ?? port ?? (portOnly ? portArgument(host) : undefined);
              const listenHost = flags.host ?? (portOnly ? undefined : host);
              if (listenPort === undefined) throw usage('--listen needs a port: nc -l PORT, or --port P');
              if (flags.check) throw usage('-z checks a remote port; it does not go with --listen');
              await ncListen({ ...io, host: listenHost, port: listenPort, keepListening: flags.keepOpen });
            } else {
              if (host === undefined || port === undefined)
                throw usage('give HOST PORT, or --listen --port P');
              if (flags.check) {
                if (flags.udp) throw usage('-z checks TCP ports only');
                if (await isOpen(host, port, flags.timeout)) log.info(`${host} ${port} open`);
              } else await ncConnect({ ...io, host, port, timeoutMs: flags.timeout });
            }
          },
          { atOnce: true },
        );
        // stdin may still hold the event loop open (a terminal); the work is done.
        process.stdin.destroy();
      },
    );
}

/**
 * `-z`: true when the port accepts a connection. A closed one is reported in one line with
 * status 1, as OpenBSD nc answers "not open", whatever kept it from answering.
 */
async function isOpen(host: string, port: number, timeoutMs: number | undefined): Promise<boolean> {
  try {
    await ncCheck({ host, port, timeoutMs });
    return true;
  } catch (err) {
    if (!isSockitError(err, ErrorCode.CONNECT_FAILED)) throw err;
    reportFailure(err);
    process.exitCode = ExitStatus.FAILURE;
    return false;
  }
}

/** A port given as an argument; a bad one is a usage error with its code. */
function portArgument(text: string): number {
  const n = Number(text);
  if (!/^\d+$/.test(text) || n > 65535) throw usage(`"${text}" is not a port (0 to 65535)`);
  return n;
}

function usage(message: string): SockitError {
  return new SockitError(ErrorCode.INVALID_ARGUMENT, `nc: ${message}`);
}
