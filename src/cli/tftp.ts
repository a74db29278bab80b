/** `sockit tftp serve`, `sockit tftp get` and `sockit tftp put` (the clients: tftp-client.ts). */
import { Command, InvalidArgumentError, Option } from 'commander';
import { launch } from '../runtime/launch.js';
import type { Rollover } from '../tftp/blocks.js';
import { parseRewrite, type RewriteRule } from '../tftp/paths.js';
import { serveTftp, TFTP_PORT } from '../tftp/server.js';
import { bytesOption, parseCount, parsePort, ranged } from './args.js';
import { loggerFor } from './context.js';
import { tftpClientCommands } from './tftp-client.js';

export { parseTftpHost } from './tftp-client.js';

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

  tftpClientCommands(tftp);

  return tftp;
}
