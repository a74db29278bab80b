/** `sockit serve`: every sockit service at once, on unprivileged default ports. */
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { Command, Option } from 'commander';
import { defaultDatabase } from '../auth/connect.js';
import { ECHO_SERVE_PORT, serveEcho } from '../echo/server.js';
import { FILES_PORT } from '../files/port.js';
import { launch } from '../runtime/launch.js';
import { serveTftp, TFTP_SERVE_PORT } from '../tftp/server.js';
import { parsePort } from './args.js';
import { loggerFor } from './context.js';

interface ServeAllFlags {
  host?: string;
  echoPort: number;
  tftpPort: number;
  filesPort: number;
  dataDir: string;
  db?: string;
}

export function serveCommand(): Command {
  return new Command('serve')
    .description('run every sockit service with embedded defaults, one start-up line per service')
    .option('-H, --host <address>', 'bind address for every service (default: all)')
    .option('--data-dir <dir>', 'where services keep their files (created if missing)', 'sockit-data')
    .option('--echo-port <port>', 'echo service, TCP and UDP', parsePort, ECHO_SERVE_PORT)
    .option(
      '--tftp-port <port>',
      'TFTP service, read-only, serving DATA-DIR/tftp',
      parsePort,
      TFTP_SERVE_PORT,
    )
    .option('--files-port <port>', 'file service, homes in DATA-DIR/files', parsePort, FILES_PORT)
    .addOption(
      new Option(
        '--db <url>',
        'accounts: mysql://, postgres:// or sqlite:FILE (default: DATA-DIR/sockit.db)',
      ).env('SOCKIT_DB'),
    )
    .addHelpText(
      'after',
      `
Services and their default ports:
  echo   ${ECHO_SERVE_PORT}/tcp and ${ECHO_SERVE_PORT}/udp (RFC 862)
  tftp   ${TFTP_SERVE_PORT}/udp, read-only, files from DATA-DIR/tftp (RFC 1350)
  files  ${FILES_PORT}/tcp, accounts from --db (add them with sockit users add), homes in DATA-DIR/files

Stops gracefully on SIGINT/SIGTERM.`,
    )
    .action(async (flags: ServeAllFlags, command: Command) => {
      const log = loggerFor(command);
      const tftpRoot = path.resolve(flags.dataDir, 'tftp');
      await mkdir(tftpRoot, { recursive: true });
      const [{ openUserStore }, { loadFakeKey, serveFiles }] = await Promise.all([
        import('../auth/store.js'),
        import('../files/server.js'),
      ]);
      const store = await openUserStore(flags.db ?? defaultDatabase(flags.dataDir));
      try {
        const launched = await launch({ model: 'event-loop', log }, async (model) => [
          ...(await serveEcho({ host: flags.host, port: flags.echoPort, model, log })),
          await serveTftp({ root: tftpRoot, host: flags.host, port: flags.tftpPort, log }),
          await serveFiles({
            root: path.resolve(flags.dataDir, 'files'),
            store,
            host: flags.host,
            port: flags.filesPort,
            fakeKey: await loadFakeKey(flags.dataDir),
            log,
          }),
        ]);
        await launched.stopped;
      } finally {
        // Also when start-up fails: an open pool would keep the process alive.
        await store.close();
      }
    });
}
