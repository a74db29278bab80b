/** `sockit tftp serve`, `sockit tftp get` and `sockit tftp put`. */
import { createReadStream, createWriteStream } from 'node:fs';
import { open, rename, stat, unlink } from 'node:fs/promises';
import path from 'node:path';
import { Command, InvalidArgumentError, Option } from 'commander';
import { ErrorCode, fileError, SockitError } from '../errors.js';
import { launch } from '../runtime/launch.js';
import { counted } from '../runtime/plural.js';
import type { Rollover } from '../tftp/blocks.js';
import { type TftpClientOptions, type TftpResult, tftpGet, tftpPut } from '../tftp/client.js';
import type { TransferMode } from '../tftp/packet.js';
import { parseRewrite, type RewriteRule, temporaryBeside } from '../tftp/paths.js';
import { serveTftp, TFTP_PORT } from '../tftp/server.js';
import { bytesOption, type Endpoint, parseCount, parseEndpoint, parsePort, ranged } from './args.js';
import { loggerFor } from './context.js';
import { interruptible } from './interrupt.js';
import { formatBytes, Progress } from './progress.js';

interface ServeFlags {
  root: string;
  host?: string;
  port: number;
  writable?: boolean;
  overwrite?: boolean;
  maxFileSize: number;
  maxTransfers: number;
  maxPerAddress: number;
  maxBlksize: number;
  maxWindow: number;
  timeout: number;
  retries: number;
  refuse: string[];
  rewrite: RewriteRule[];
  rollover: string;
  busyPoll: number;
}

interface ClientFlags {
  blksize?: number;
  windowsize?: number;
  timeout?: number;
  retries: number;
  mode: TransferMode;
  tsize?: boolean;
  rollover: string;
  busyPoll: number;
}

const collect =
  <T>(parse: (v: string) => T) =>
  (value: string, previous: T[]) => [...previous, parse(value)];

function rewriteRule(value: string): RewriteRule {
  try {
    return parseRewrite(value);
  } catch (err) {
    throw new InvalidArgumentError((err as Error).message);
  }
}

/** `HOST`, `HOST:PORT`, `[IPv6]:PORT`, `[IPv6]` or a bare IPv6 address; the port defaults to 69. */
export function parseTftpHost(value: string): Endpoint {
  return parseEndpoint(value, TFTP_PORT);
}

function clientOptions(target: { host: string; port: number }, flags: ClientFlags): TftpClientOptions {
  return {
    host: target.host,
    port: target.port,
    blksize: flags.blksize,
    windowsize: flags.windowsize,
    timeout: flags.timeout,
    retries: flags.retries,
    mode: flags.mode,
    tsize: flags.tsize,
    rollover: Number(flags.rollover) as Rollover,
    busyPollUs: flags.busyPoll,
  };
}

function clientFlags(command: Command): Command {
  return command
    .option('-b, --blksize <bytes>', 'ask for this block size, 8-65464 (RFC 2348)', ranged(8, 65464))
    .option('-w, --windowsize <blocks>', 'ask for this window, 1-65535 (RFC 7440)', ranged(1, 65535))
    .option(
      '-t, --timeout <seconds>',
      'ask for this timeout, 1-255 (RFC 2349); else it adapts',
      ranged(1, 255),
    )
    .option(
      '-r, --retries <n>',
      'timeouts in a row before giving up, and not before N timeouts backing off from 1 s would take (22 s for 5)',
      ranged(0, 100),
      5,
    )
    .addOption(
      new Option('-m, --mode <mode>', 'transfer mode').choices(['octet', 'netascii']).default('octet'),
    )
    .option(
      '--tsize',
      'ask for / state the transfer size (RFC 2349); an upload from stdin or in netascii states none',
    )
    .option(
      '--busy-poll <us>',
      'after each send, poll this many microseconds for the answer before sleeping, while answers come that fast; 0: off',
      ranged(0, 10_000),
      100,
    )
    .addOption(new Option('--rollover <n>', 'block number after 65535').choices(['0', '1']).default('0'));
}

function summary(verb: string, name: string, r: TftpResult): string {
  const seconds = r.ms / 1000;
  const rate = formatBytes(r.bytes / Math.max(seconds, 0.001));
  const o = r.options;
  return (
    `${verb} ${name}: ${formatBytes(r.bytes)} in ${seconds.toFixed(2)} s (${rate}/s), ${counted(r.blocks, 'block')}, ` +
    `${counted(r.retransmits, 'retransmit')}, blksize ${o.blksize}, windowsize ${o.windowsize}\n`
  );
}

export function tftpCommand(): Command {
  const tftp = new Command('tftp')
    .description('TFTP server and client (RFC 1350, 2347-2349, 7440)')
    .addHelpText(
      'after',
      `
Examples:
  sockit tftp serve --root ./images --port 6969
  sockit tftp get 127.0.0.1:6969 pxelinux.0`,
    );

  tftp
    .command('serve')
    .description('serve files from a folder over TFTP; read-only unless --writable')
    .requiredOption('-d, --root <dir>', 'folder to serve; no path leaves it')
    .option('-H, --host <address>', 'bind address (default: all, IPv6 and IPv4)')
    .option('-p, --port <port>', 'port; 0 picks a free one', parsePort, TFTP_PORT)
    .option('--writable', 'accept uploads (new files only, unless --overwrite)')
    .option('--overwrite', 'let uploads replace existing files')
    .addOption(bytesOption('--max-file-size <bytes>', 'largest upload', '4GiB'))
    .option(
      '--max-transfers <n>',
      'transfers at once; when full, a request takes the slot of the oldest client that never answered',
      parseCount,
      1000,
    )
    .option('--max-per-address <n>', 'transfers at once from one client address', parseCount, 16)
    .option('--max-blksize <bytes>', 'largest blksize granted', ranged(8, 65464), 65464)
    .option('--max-window <blocks>', 'largest windowsize granted', ranged(1, 65535), 64)
    .option(
      '--timeout <seconds>',
      'first retransmission timeout when the client asks none',
      ranged(1, 255),
      1,
    )
    .option(
      '--retries <n>',
      'timeouts in a row before a transfer is dropped, and not before N timeouts backing off from --timeout would take (22 s for 5)',
      ranged(0, 100),
      5,
    )
    .option('--refuse <option>', 'never grant this option (repeatable), e.g. tsize', collect(String), [])
    .option(
      '--rewrite <rule>',
      "rewrite names: 'REGEX=>REPLACEMENT', \\i is the client IP (repeatable)",
      collect(rewriteRule),
      [],
    )
    .option(
      '--busy-poll <us>',
      'after each send, poll this many microseconds for the answer before sleeping, while answers come that fast; 0: off',
      ranged(0, 10_000),
      100,
    )
    .addOption(new Option('--rollover <n>', 'block number after 65535').choices(['0', '1']).default('0'))
    .addHelpText(
      'after',
      `
Names are taken relative to the root whatever their leading / or \\ (as PXE sends them);
"..", absolute paths and symlinks leaving the root get ERROR 2. Uploads land under a
temporary name and appear only when complete. One log line per transfer.
A client that never answers the first packet of its transfer loses its slot after 10 s,
one that answered and then stays silent after 60 s, whatever timeout it negotiated.
Only requests are answered on the server's port, never with more bytes than they had.
Port 69 is privileged: run as root, grant CAP_NET_BIND_SERVICE, or use --port.

Examples:
  sockit tftp serve --root /srv/tftp
  sockit tftp serve --root ./images --port 6969 --writable
  sockit tftp serve --root /srv/tftp --rewrite '^pxelinux.cfg/default$=>pxelinux.cfg/\\i'`,
    )
    .action(async (flags: ServeFlags, command: Command) => {
      const log = loggerFor(command);
      const launched = await launch({ model: 'event-loop', log }, async () => [
        await serveTftp({
          root: flags.root,
          host: flags.host,
          port: flags.port,
          writable: flags.writable,
          overwrite: flags.overwrite,
          maxFileSize: flags.maxFileSize,
          maxTransfers: flags.maxTransfers,
          maxPerAddress: flags.maxPerAddress,
          maxBlksize: flags.maxBlksize,
          maxWindowsize: flags.maxWindow,
          timeoutMs: flags.timeout * 1000,
          retries: flags.retries,
          refuse: flags.refuse,
          rewrite: flags.rewrite,
          rollover: Number(flags.rollover) as Rollover,
          busyPollUs: flags.busyPoll,
          log,
        }),
      ]);
      await launched.stopped;
    });

  clientFlags(
    tftp
      .command('get')
      .description('download a file; LOCAL "-" writes to stdout')
      .argument(
        '<host[:port]>',
        'the server, by address or name, e.g. 192.0.2.1, 127.0.0.1:6969, [::1]:69, tftp.lan',
        parseTftpHost,
      )
      .argument('<remote>', 'file name on the server')
      .argument(
        '[local]',
        'where to write it; an existing folder means into it (default: the remote name, here)',
      ),
  )
    .addHelpText(
      'after',
      `
The file is written under a temporary name and renamed when complete: a failed download
leaves nothing under LOCAL. A progress bar shows on a terminal (with the size when the
server gives tsize); a summary line follows.

Examples:
  sockit tftp get 127.0.0.1:6969 pxelinux.0               into ./pxelinux.0
  sockit tftp get [::1]:6969 boot/kernel /tmp/            into /tmp/kernel
  sockit tftp get 127.0.0.1:6969 config.txt - | less      to stdout`,
    )
    .action(
      async (
        target: { host: string; port: number },
        remote: string,
        local: string | undefined,
        flags: ClientFlags,
      ) => {
        // tsize is asked by default for the progress bar, but not in netascii mode, where
        // tftpd-hpa refuses it (ERROR 8): the size on the wire is not the file's.
        const options = clientOptions(target, { ...flags, tsize: flags.tsize ?? flags.mode === 'octet' });
        const progress = new Progress(`get ${remote}`);
        options.onProgress = (bytes, total) => progress.update(bytes, total);
        // Ctrl-C or SIGTERM aborts the transfer (the server is told with an ERROR) instead of
        // killing the process mid-way, so that a download's temporary file is removed.
        const result = await interruptible((signal) =>
          download({ ...options, signal }, remote, local).finally(() => progress.done()),
        );
        process.stderr.write(summary('received', remote, result));
      },
    );

  clientFlags(
    tftp
      .command('put')
      .description('upload a file; LOCAL "-" reads stdin')
      .argument('<host[:port]>', 'the server, by address or name (as for get)', parseTftpHost)
      .argument('<local>', 'file to send')
      .argument('[remote]', 'name on the server (default: the local file name)')
      .addHelpText(
        'after',
        `
The server must allow writes (sockit tftp serve --writable).

Examples:
  sockit tftp put 127.0.0.1:6969 ./firmware.bin
  sockit tftp put [::1]:6969 ./build.log logs/build.log
  date | sockit tftp put 127.0.0.1:6969 - now.txt        from stdin`,
      ),
  ).action(
    async (
      target: { host: string; port: number },
      local: string,
      remote: string | undefined,
      flags: ClientFlags,
    ) => {
      const options = clientOptions(target, flags);
      const name = remote ?? (local === '-' ? undefined : path.basename(local));
      if (!name)
        throw new SockitError(ErrorCode.INVALID_ARGUMENT, 'tftp put: give REMOTE when reading stdin');
      const size = local === '-' ? undefined : await fileSize(local);
      const input = local === '-' ? process.stdin : createReadStream(local, { highWaterMark: 256 * 1024 });
      const progress = new Progress(`put ${name}`);
      options.onProgress = (bytes, total) => progress.update(bytes, total);
      const result = await interruptible((signal) =>
        tftpPut({ ...options, signal }, name, input, size).finally(() => progress.done()),
      );
      process.stderr.write(summary('sent', name, result));
      if (local === '-') process.stdin.destroy();
    },
  );

  return tftp;
}

/**
 * Downloads `remote` to LOCAL ("-": stdout) under a temporary name, renamed when complete:
 * a failed download leaves nothing under LOCAL.
 */
async function download(options: TftpClientOptions, remote: string, local: string | undefined) {
  if (local === '-') return tftpGet(options, remote, process.stdout);
  const name = path.basename(remote.replaceAll('\\', '/'));
  // Like cp: an existing folder means into that folder, under the remote's base name;
  // decided before the request, so the temporary file is made in that folder too.
  const into = local !== undefined && (await stat(local).catch(() => undefined))?.isDirectory();
  const destination = local === undefined ? name : into ? path.join(local, name) : local;
  const temp = temporaryBeside(destination);
  // Created before the request: a destination that cannot be written fails at once.
  const file = await open(temp, 'wx').catch((err: unknown) => {
    throw fileError(err, 'tftp get', destination, 'create');
  });
  const output = createWriteStream('', { fd: file });
  try {
    const result = await tftpGet(options, remote, output);
    await rename(temp, destination);
    return result;
  } catch (err) {
    output.destroy(); // closes the file, which the stream owns
    await unlink(temp).catch(() => {});
    throw err;
  }
}

/** The size of a local file to upload; a missing one, or a folder, is one coded line. */
async function fileSize(local: string): Promise<number> {
  const info = await stat(local).catch((err: unknown) => {
    throw fileError(err, 'tftp put', local);
  });
  if (!info.isFile()) {
    throw new SockitError(ErrorCode.INVALID_ARGUMENT, `tftp put: ${local} is not a file; give a file`);
  }
  return info.size;
}
