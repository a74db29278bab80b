/** `sockit tftp get` and `sockit tftp put`: the client commands, their flags and their report. */
import { constants, createWriteStream } from 'node:fs';
import { open, rename, stat, unlink } from 'node:fs/promises';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { type Command, Option } from 'commander';
import { ErrorCode, fileError, formatHostPort, SockitError } from '../errors.js';
import type { Rollover } from '../tftp/blocks.js';
import { type TftpClientOptions, type TftpResult, tftpGet, tftpPut } from '../tftp/client.js';
import type { TransferMode } from '../tftp/packet.js';
import { temporaryBeside } from '../tftp/paths.js';
import { TFTP_PORT } from '../tftp/server.js';
import { localFileSystem } from '../tftp/storage.js';
import { type Endpoint, parseEndpoint, ranged } from './args.js';
import { interruptible } from './interrupt.js';
import { levelOf, type OutputFlags, outputOptions, printResult } from './output.js';
import { plainLogger } from './plain-log.js';
import { counted } from './plural.js';
import { formatBytes, Progress } from './progress.js';

interface ClientFlags extends OutputFlags {
  blksize?: number;
  windowsize?: number;
  timeout?: number;
  retries: number;
  mode: TransferMode;
  tsize?: boolean;
  rollover: string;
  busyPoll: number;
}

/** What `--json` prints for one transfer: one object, on one line. */
export interface TransferReport {
  op: 'get' | 'put';
  /** The server asked, as `HOST:PORT`. */
  server: string;
  /** The name on the server. */
  file: string;
  /** The local file, or `-` for stdin or stdout. */
  local: string;
  bytes: number;
  blocks: number;
  /** Packets sent again after a timeout or a request to go back. */
  retransmits: number;
  /** What the transfer ran with after negotiation. */
  blksize: number;
  windowsize: number;
  /** The timeout negotiated, in seconds; null when the timer adapted. */
  timeout: number | null;
  /** The size the server told (get) or the file's (put); null when unknown. */
  tsize: number | null;
  seconds: number;
  bytesPerSecond: number;
}

/** `HOST`, `HOST:PORT`, `[IPv6]:PORT`, `[IPv6]` or a bare IPv6 address; the port defaults to 69. */
export function parseTftpHost(value: string): Endpoint {
  return parseEndpoint(value, TFTP_PORT);
}

function clientOptions(target: Endpoint, flags: ClientFlags, command: Command): TftpClientOptions {
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
    log: plainLogger(command, 'tftp', levelOf(flags)),
  };
}

/**
 * Downloads `remote` to LOCAL ("-": stdout) under a temporary name, renamed when complete:
 * a failed download leaves nothing under LOCAL. Returns where it went.
 */
async function download(
  options: TftpClientOptions,
  remote: string,
  local: string | undefined,
): Promise<{ result: TftpResult; destination: string }> {
  if (local === '-') return { result: await tftpGet(options, remote, process.stdout), destination: '-' };
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
    options.log?.debug({ from: temp, to: destination }, 'complete: renamed');
    return { result, destination };
  } catch (err) {
    output.destroy(); // closes the file, which the stream owns
    await unlink(temp).catch(() => {});
    throw err;
  }
}

/**
 * The file to upload, opened, and its size where that can be trusted (a file on a local
 * file system, see localFileSystem: sysfs states 4096 bytes for a few): with a size, an
 * input that ends short fails the upload instead of sending a cut file as whole. A missing
 * file, or one that is not a file, is one coded line.
 */
async function openUpload(local: string): Promise<{ input: Readable; size: number | undefined }> {
  const info = await stat(local).catch((err: unknown) => {
    throw fileError(err, 'tftp put', local);
  });
  const notAFile = (): SockitError =>
    new SockitError(ErrorCode.INVALID_ARGUMENT, `tftp put: ${local} is not a file; give a file`);
  if (!info.isFile()) throw notAFile();
  // Non-blocking: should a FIFO have taken the file's place since, the open does not wait for a writer.
  const handle = await open(local, constants.O_RDONLY | constants.O_NONBLOCK).catch((err: unknown) => {
    throw fileError(err, 'tftp put', local);
  });
  try {
    const opened = await handle.stat();
    if (!opened.isFile()) throw notAFile();
    const size = (await localFileSystem(handle, opened.dev)) ? opened.size : undefined;
    return { input: handle.createReadStream({ highWaterMark: 256 * 1024 }), size };
  } catch (err) {
    await handle.close();
    throw err;
  }
}

function clientFlags(command: Command): Command {
  command
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
  return outputOptions(command, {
    json: 'print one JSON object on stdout instead of the summary (see below)',
    quiet: 'no progress bar and no summary; errors only',
    verbose: 'a line on stderr for each step: request, answer, options negotiated, timeouts',
  });
}

const OUTPUT_HELP = `
--json prints {op, server, file, local, bytes, blocks, retransmits, blksize, windowsize,
timeout, tsize, seconds, bytesPerSecond} on one line (timeout and tsize null when not
negotiated or unknown); -v writes each step on stderr, as --log-level debug does.`;

function report(op: 'get' | 'put', target: Endpoint, file: string, local: string, r: TftpResult) {
  const seconds = r.ms / 1000;
  const o = r.options;
  return {
    op,
    server: formatHostPort(target.host, target.port),
    file,
    local,
    bytes: r.bytes,
    blocks: r.blocks,
    retransmits: r.retransmits,
    blksize: o.blksize,
    windowsize: o.windowsize,
    timeout: o.timeoutMs === undefined ? null : o.timeoutMs / 1000,
    tsize: o.tsize ?? null,
    seconds,
    bytesPerSecond: Math.round(r.bytes / Math.max(seconds, 0.001)),
  } satisfies TransferReport;
}

/** The result: `--json`'s object on stdout, else the summary line on stderr (none with -q). */
function printTransfer(flags: ClientFlags, r: TransferReport): void {
  const verb = r.op === 'get' ? 'received' : 'sent';
  printResult(
    flags,
    r,
    () =>
      `${verb} ${r.file}: ${formatBytes(r.bytes)} in ${r.seconds.toFixed(2)} s (${formatBytes(r.bytesPerSecond)}/s), ` +
      `${counted(r.blocks, 'block')}, ${counted(r.retransmits, 'retransmit')}, ` +
      `blksize ${r.blksize}, windowsize ${r.windowsize}\n`,
    process.stderr,
  );
}

/** Adds `get` and `put` to the `tftp` command group. */
export function tftpClientCommands(tftp: Command): void {
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
server gives tsize); a summary line follows on stderr. With LOCAL "-" stdout carries the
file, so --json is refused there.
${OUTPUT_HELP}

Examples:
  sockit tftp get 127.0.0.1:6969 pxelinux.0               into ./pxelinux.0
  sockit tftp get [::1]:6969 boot/kernel /tmp/            into /tmp/kernel
  sockit tftp get 127.0.0.1:6969 config.txt - | less      to stdout
  sockit tftp get 127.0.0.1:6969 pxelinux.0 --json        the facts, for scripts`,
    )
    .action(
      async (
        target: Endpoint,
        remote: string,
        local: string | undefined,
        flags: ClientFlags,
        command: Command,
      ) => {
        if (local === '-' && flags.json) {
          command.error(
            '--json does not go with LOCAL "-": stdout carries the file; name a file, or use -v for details on stderr',
          );
        }
        // tsize is asked by default for the progress bar, but not in netascii mode, where
        // tftpd-hpa refuses it (ERROR 8): the size on the wire is not the file's.
        const options = clientOptions(
          target,
          { ...flags, tsize: flags.tsize ?? flags.mode === 'octet' },
          command,
        );
        const progress = new Progress(`get ${remote}`, flags.quiet ? false : undefined);
        options.onProgress = (bytes, total) => progress.update(bytes, total);
        // Ctrl-C or SIGTERM aborts the transfer (the server is told with an ERROR) instead of
        // killing the process mid-way, so that a download's temporary file is removed.
        const { result, destination } = await interruptible((signal) =>
          download({ ...options, signal }, remote, local).finally(() => progress.done()),
        );
        printTransfer(flags, report('get', target, remote, destination, result));
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
The server must allow writes (sockit tftp serve --writable). A progress bar shows on a
terminal; a summary line follows on stderr.
${OUTPUT_HELP}

Examples:
  sockit tftp put 127.0.0.1:6969 ./firmware.bin
  sockit tftp put [::1]:6969 ./build.log logs/build.log
  date | sockit tftp put 127.0.0.1:6969 - now.txt        from stdin`,
      ),
  ).action(
    async (
      target: Endpoint,
      local: string,
      remote: string | undefined,
      flags: ClientFlags,
      command: Command,
    ) => {
      const options = clientOptions(target, flags, command);
      const name = remote ?? (local === '-' ? undefined : path.basename(local));
      if (!name)
        throw new SockitError(ErrorCode.INVALID_ARGUMENT, 'tftp put: give REMOTE when reading stdin');
      const { input, size } =
        local === '-' ? { input: process.stdin, size: undefined } : await openUpload(local);
      const progress = new Progress(`put ${name}`, flags.quiet ? false : undefined);
      options.onProgress = (bytes, total) => progress.update(bytes, total);
      const result = await interruptible((signal) =>
        tftpPut({ ...options, signal }, name, input, size).finally(() => {
          progress.done();
          // A file's stream closes its descriptor; stdin is left for the lines below.
          if (local !== '-') input.destroy();
        }),
      );
      printTransfer(flags, report('put', target, name, local, result));
      if (local === '-') process.stdin.destroy();
    },
  );
}
