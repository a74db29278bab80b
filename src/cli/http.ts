/** `sockit http serve`: a folder over HTTP. */
import { stat } from 'node:fs/promises';
import path from 'node:path';
import { Command, Option } from 'commander';
import { ErrorCode, fileError, SockitError } from '../errors.js';
import { HTTP_PORT } from '../http/port.js';
import { launch } from '../runtime/launch.js';
import { bytesOption, parseCount, parsePort, secondsOption } from './args.js';
import { loggerFor } from './context.js';
import { loadTls, type TlsFlags, tlsServerOptions } from './tls.js';

interface HttpServeFlags extends TlsFlags {
  host?: string;
  port: number;
  model: 'event-loop' | 'cluster';
  workers?: number;
  dotfiles?: boolean;
  spa?: boolean;
  cors?: boolean;
  listing: boolean;
  compress: boolean;
  accessLog: boolean;
  cacheControl: string;
  cacheFile: number;
  cacheSize: number;
  maxConnections: number;
  headersTimeout: number;
  requestTimeout: number;
  keepAliveTimeout: number;
}

export function httpCommand(): Command {
  const http = new Command('http').description('HTTP: a static file server').addHelpText(
    'after',
    `
Examples:
  sockit http serve                     this folder on http://localhost:8080/
  sockit http serve site --spa --port 3000`,
  );

  tlsServerOptions(http.command('serve'))
    .description('serve a folder over HTTP/1.1: ranges, conditional requests, compression, listings')
    .argument('[dir]', 'the folder to serve', '.')
    .option('-H, --host <address>', 'bind address (default: all, IPv6 and IPv4)')
    .option('-p, --port <port>', 'port; 0 picks a free one', parsePort, HTTP_PORT)
    .addOption(
      new Option('-m, --model <model>', 'event-loop (one process) or cluster (one per worker)')
        .choices(['event-loop', 'cluster'])
        .default('event-loop'),
    )
    .option('-w, --workers <n>', 'worker processes for --model cluster (default: one per CPU)', parseCount)
    .option('--dotfiles', 'serve names that start with a dot (hidden by default: 404)')
    .option('--spa', 'answer a missing page (a path without an extension) with /index.html')
    .option('--cors', 'let any web origin read the files (Access-Control-Allow-Origin: *)')
    .option('--no-listing', 'no folder listings (a folder without index.html is 403)')
    .option('--no-compress', 'never gzip or brotli (text is compressed when the client accepts it)')
    .option('--no-access-log', 'no line per request')
    .option('--cache-control <value>', 'Cache-Control of files', 'public, max-age=0')
    .addOption(bytesOption('--cache-file <bytes>', 'files up to this size are kept in memory', '1MiB'))
    .addOption(bytesOption('--cache-size <bytes>', 'memory for cached files, in all', '64MiB'))
    .option(
      '--max-connections <n>',
      'connections at once (the idle ones make room when full)',
      parseCount,
      1024,
    )
    .addOption(secondsOption('--headers-timeout <seconds>', 'time for a request head to arrive', 10))
    .addOption(secondsOption('--request-timeout <seconds>', 'time for a whole request to arrive', 30))
    .addOption(secondsOption('--keep-alive-timeout <seconds>', 'an idle connection is closed after', 5))
    .addHelpText(
      'after',
      `
Paths stay inside DIR: no "..", no symbolic link leading out (links inside are followed),
no dotfiles unless --dotfiles. A folder shows its index.html, else a listing (HTML, or JSON
for Accept: application/json). Files up to --cache-file are served from memory and checked
against the disk at most once a second.

Examples:
  sockit http serve                                 the current folder on port 8080
  sockit http serve ./public --port 3000 --spa      a single-page app
  sockit http serve site --tls-cert cert.pem --tls-key key.pem --port 8443
  curl -r 0-99 http://localhost:8080/big.iso        a range`,
    )
    .action(async (dir: string, flags: HttpServeFlags, command: Command) => {
      const log = loggerFor(command);
      const root = path.resolve(dir);
      const found = await stat(root).catch((err: unknown) => {
        throw fileError(err, 'DIR', root, 'read', 'give the folder to serve');
      });
      if (!found.isDirectory()) {
        throw new SockitError(ErrorCode.INVALID_ARGUMENT, `DIR: ${root} is a file; give the folder to serve`);
      }
      const tls = await loadTls(flags);
      const { serveHttp } = await import('../http/serve.js');
      const launched = await launch({ model: flags.model, workers: flags.workers, log }, async () => [
        await serveHttp({
          root,
          host: flags.host,
          port: flags.port,
          ...(tls ? { tls } : {}),
          dotfiles: flags.dotfiles === true,
          spa: flags.spa === true,
          cors: flags.cors === true,
          listing: flags.listing,
          compress: flags.compress,
          accessLog: flags.accessLog,
          cacheControl: flags.cacheControl,
          cacheFileBytes: flags.cacheFile,
          cacheBytes: flags.cacheSize,
          maxConnections: flags.maxConnections,
          headersTimeoutMs: flags.headersTimeout,
          requestTimeoutMs: flags.requestTimeout,
          keepAliveTimeoutMs: flags.keepAliveTimeout,
          log,
        }),
      ]);
      await launched.stopped;
    });
  return http;
}
