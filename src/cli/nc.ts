/** `sockit nc`: netcat. */
import { Command } from 'commander';
import { pino } from 'pino';
import { ErrorCode, SockitError } from '../errors.js';
import { ncConnect, ncListen } from '../nc/nc.js';
import type { Logger, LogLevel } from '../runtime/log.js';
import { bytesOption, parsePort, secondsOption } from './args.js';
import { loggerFor } from './context.js';

interface NcFlags {
  listen?: boolean;
  port?: number;
  host?: string;
  udp?: boolean;
  verbose?: boolean;
  quitAfter: number;
  datagramSize: number;
}

export function ncCommand(): Command {
  return new Command('nc')
    .description('netcat: stdin to a socket, the socket to stdout, binary-safe')
    .argument('[host]', 'host to connect to')
    .argument('[port]', 'port to connect to', parsePort)
    .option('-l, --listen', 'wait for one peer instead of connecting')
    .option('-p, --port <port>', 'with --listen: port to listen on (0 picks one; see -v)', parsePort)
    .option('-H, --host <address>', 'with --listen: bind address (default: all)')
    .option('-u, --udp', 'use UDP datagrams instead of a TCP stream')
    .option('-v, --verbose', 'say on stderr where it listens and who connects')
    .addOption(
      secondsOption('-q, --quit-after <seconds>', 'UDP: after stdin ends, exit once silent this long', 1),
    )
    .addOption(bytesOption('--datagram-size <bytes>', 'UDP: largest datagram sent', '8192'))
    .addHelpText(
      'after',
      `
TCP: when stdin ends, sockit shuts down its sending side (half-close) and keeps printing
what the peer sends until the peer closes. Exit status 0 after a clean close.

Examples:
  sockit nc 127.0.0.1 7007 < file             send a file, print the reply
  sockit nc --listen --port 9000 > received   receive one connection's bytes
  echo ping | sockit nc --udp 127.0.0.1 7007`,
    )
    .action(async (host: string | undefined, port: number | undefined, flags: NcFlags, command: Command) => {
      const log = ncLogger(command, flags.verbose ? 'info' : 'warn');
      const io = {
        input: process.stdin,
        output: process.stdout,
        udp: flags.udp,
        quitAfterMs: flags.quitAfter,
        datagramSize: flags.datagramSize,
        log,
      };
      if (flags.listen) {
        if (flags.port === undefined) throw usage('--listen needs --port P');
        await ncListen({ ...io, host: flags.host ?? host, port: flags.port });
      } else {
        if (host === undefined || port === undefined) throw usage('give HOST PORT, or --listen --port P');
        await ncConnect({ ...io, host, port });
      }
      // stdin may still hold the event loop open (a terminal); the work is done.
      process.stdin.destroy();
    });
}

/**
 * nc's stderr is for a person, as OpenBSD nc's `-v` is: `nc: listening on ...` lines, also
 * when stderr is a pipe. JSON or pretty logs only when `--log-format` asks for them.
 */
function ncLogger(command: Command, fallbackLevel: LogLevel): Logger {
  const opts = command.optsWithGlobals<{ logFormat?: string; logLevel?: LogLevel }>();
  if (opts.logFormat !== undefined && opts.logFormat !== 'auto') return loggerFor(command, fallbackLevel);
  return pino(
    { level: opts.logLevel ?? fallbackLevel, base: undefined, timestamp: false },
    {
      write(line: string): void {
        const entry = JSON.parse(line) as { msg?: string; err?: { message?: string } };
        process.stderr.write(`nc: ${entry.msg ?? entry.err?.message ?? ''}\n`);
      },
    },
  );
}

function usage(message: string): SockitError {
  return new SockitError(ErrorCode.INVALID_ARGUMENT, `nc: ${message}`);
}
