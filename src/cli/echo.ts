/** `sockit echo serve` and `sockit echo bench`. */
import { Command, InvalidArgumentError, Option } from 'commander';
import { benchEcho, type EchoBenchResult } from '../echo/bench.js';
import { ECHO_PORT, serveEcho } from '../echo/server.js';
import { ErrorCode, SockitError } from '../errors.js';
import { launch, SERVER_MODELS, type ServerModel } from '../runtime/launch.js';
import { counted } from '../runtime/plural.js';
import { MAX_UDP_PAYLOAD } from '../runtime/udp.js';
import { groupDigits } from '../runtime/units.js';
import {
  bytesOption,
  bytesWithin,
  parseCount,
  parseHostPort,
  parsePort,
  ranged,
  secondsOption,
  secondsWithin,
} from './args.js';
import { loggerFor } from './context.js';
import { interruptible } from './interrupt.js';
import { levelOf, type OutputFlags, outputOptions, printResult } from './output.js';
import { plainLogger } from './plain-log.js';
import { loadTls, type TlsFlags, tlsServerOptions } from './tls.js';

interface ServeFlags extends TlsFlags {
  tcp?: boolean;
  udp?: boolean;
  host?: string;
  port: number;
  model: ServerModel;
  workers?: number;
  framed?: boolean;
  maxFrameSize: number;
  maxConnections: number;
  idleTimeout: number;
  backlog: number;
  drainTimeout: number;
  udpRate: number;
}

interface BenchFlags extends OutputFlags {
  udp?: boolean;
  connections: number;
  duration: number;
  size: number;
  timeout: number;
}

export function echoCommand(): Command {
  const echo = new Command('echo')
    .description('the echo service of RFC 862, and a load generator for echo servers')
    .addHelpText(
      'after',
      `
Examples:
  sockit echo serve --port 7007
  sockit echo bench 127.0.0.1:7007 -c 50 -d 5`,
    );

  tlsServerOptions(echo.command('serve'))
    .description('echo every byte (TCP) and every datagram (UDP) back to its sender')
    .option('--tcp', 'serve TCP (with neither --tcp nor --udp, both are served)')
    .option('--udp', 'serve UDP')
    .option('-H, --host <address>', 'bind address (default: all, IPv6 and IPv4)')
    .option('-p, --port <port>', 'port; 0 picks a free one', parsePort, ECHO_PORT)
    .addOption(
      new Option(
        '-m, --model <model>',
        'concurrency model: event-loop (all at once), iterative (one at a time), cluster',
      )
        .choices(SERVER_MODELS)
        .default('event-loop'),
    )
    .option('-w, --workers <n>', 'worker processes for --model cluster (default: one per CPU)', parseCount)
    .option('--framed', 'echo length-prefixed envelopes instead of raw bytes (TCP)')
    .addOption(bytesOption('--max-frame-size <bytes>', 'largest frame accepted with --framed', '16MiB'))
    .option('--max-connections <n>', 'connections at once; more are closed at accept', parseCount, 1024)
    .addOption(
      secondsOption('--idle-timeout <seconds>', 'close a connection silent this long (0: never)', 300),
    )
    .option('--backlog <n>', 'kernel accept queue length', parseCount, 511)
    .option('--udp-rate <n>', 'UDP: echoes per second to one source address (0: no limit)', parseRate, 1000)
    .addOption(
      secondsOption('--drain-timeout <seconds>', 'on SIGINT/SIGTERM, time given to open connections', 10),
    )
    .addHelpText(
      'after',
      `
UDP never answers datagrams from its own port or from the ports of other answering
services (7, 13, 19, 37, 53, 69, 123, ...): a spoofed one would start an endless loop.

Port 7 is privileged: run as root, grant the capability, or pick a port with --port.
Stops gracefully on SIGINT/SIGTERM (a second signal stops at once).

Examples:
  sockit echo serve --port 7007                  TCP and UDP on 7007
  sockit echo serve --tcp --model cluster -w 4   four processes share the port
  echo hello | nc -q1 127.0.0.1 7007`,
    )
    .action(async (flags: ServeFlags, command: Command) => {
      const log = loggerFor(command);
      const tls = await loadTls(flags);
      const launched = await launch({ model: flags.model, workers: flags.workers, log }, (model) =>
        serveEcho({
          // TLS is for TCP: with it, UDP is served only when asked for.
          tcp: flags.tcp || tls !== undefined,
          udp: flags.udp,
          tls,
          host: flags.host,
          port: flags.port,
          model,
          framed: flags.framed,
          maxFrameSize: flags.maxFrameSize,
          maxConnections: flags.maxConnections,
          idleTimeoutMs: flags.idleTimeout,
          backlog: flags.backlog,
          drainTimeoutMs: flags.drainTimeout,
          udpLimits: { ratePerSecond: flags.udpRate },
          log,
        }),
      );
      await launched.stopped;
    });

  const bench = echo
    .command('bench')
    .description('load an echo server with closed-loop clients; print messages/s, MB/s and latency')
    .argument('<host:port>', 'the echo server, e.g. 127.0.0.1:7007 or [::1]:7007', parseHostPort)
    .option('--udp', 'send datagrams instead of a TCP stream')
    .option(
      '-c, --connections <n>',
      'concurrent connections (UDP: sockets), at most 10000',
      ranged(1, 10_000),
      10,
    )
    .addOption(
      secondsOption(
        '-d, --duration <seconds>',
        'how long to run, at most 3600',
        10,
        secondsWithin(0.001, 3600),
      ),
    )
    .option(
      '-s, --size <bytes>',
      `message size, at most 16MiB (UDP: ${MAX_UDP_PAYLOAD})`,
      bytesWithin(1, 16 * 1024 ** 2),
      64,
    )
    .addOption(
      secondsOption(
        '--timeout <seconds>',
        'UDP: count a datagram lost after this long',
        1,
        secondsWithin(0.001, 60),
      ),
    );
  outputOptions(bench, {
    json: 'print one JSON object instead of text',
    verbose: 'a line on stderr for each step and each connection opened and closed',
  })
    .addHelpText(
      'after',
      `
The report goes to stdout, as text or, with --json, as one JSON object on one line.
-v writes each step on stderr, as --log-level debug does.

Examples:
  sockit echo bench 127.0.0.1:7007                      10 TCP connections for 10 s
  sockit echo bench [::1]:7007 -c 100 -s 1KiB -d 30     100 connections, 1 KiB messages
  sockit echo bench 127.0.0.1:7007 --udp --json         UDP, one JSON object`,
    )
    .action(async (target: { host: string; port: number }, flags: BenchFlags, command: Command) => {
      if (flags.udp && flags.size > MAX_UDP_PAYLOAD) {
        throw new SockitError(
          ErrorCode.INVALID_ARGUMENT,
          `--size ${flags.size} is more than a UDP datagram holds; give at most ${MAX_UDP_PAYLOAD} with --udp`,
        );
      }
      // Nothing to clean up: Ctrl-C ends the run at once, with one line and status 130.
      const result = await interruptible(
        () =>
          benchEcho({
            host: target.host,
            port: target.port,
            udp: flags.udp,
            connections: flags.connections,
            durationMs: flags.duration,
            size: flags.size,
            timeoutMs: flags.timeout,
            log: plainLogger(command, 'echo bench', levelOf(flags)),
          }),
        { atOnce: true },
      );
      printResult(flags, result, () => formatBench(result));
    });

  return echo;
}

/** A non-negative integer rate (0 allowed: no limit). */
function parseRate(text: string): number {
  const n = Number(text);
  if (!/^\d+$/.test(text) || !Number.isSafeInteger(n)) {
    throw new InvalidArgumentError('expected a whole number, 0 for no limit');
  }
  return n;
}

function formatBench(r: EchoBenchResult): string {
  const n = groupDigits;
  const lines = [
    `echo ${r.protocol} ${r.target}: ${counted(r.connections, 'connection')}, ${r.size}-byte messages, ${r.seconds} s`,
    `  ${counted(n(r.messages), 'message', undefined, r.messages)}   ${n(r.messagesPerSecond)} msg/s   ${r.megabytesPerSecond} MB/s`,
    `  latency ms: p50 ${r.latencyMs.p50}   p99 ${r.latencyMs.p99}   max ${r.latencyMs.max}   mean ${r.latencyMs.mean}`,
  ];
  if (r.protocol === 'udp') lines.push(`  lost datagrams: ${n(r.lost)}`);
  return `${lines.join('\n')}\n`;
}
