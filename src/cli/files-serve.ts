/** `sockit files serve`: the authenticated file service. */
import path from 'node:path';
import { Command, Option } from 'commander';
import { defaultDatabase } from '../auth/connect.js';
import { DEFAULT_ITERATIONS, MAX_ITERATIONS, MIN_ITERATIONS } from '../auth/credentials.js';
import type { Quota } from '../auth/store.js';
import { FILES_PORT } from '../files/port.js';
import { launch } from '../runtime/launch.js';
import {
  bytesOption,
  guardLoginOptions,
  type LoginLimitFlags,
  parseCount,
  parseIterations,
  parsePort,
  secondsOption,
} from './args.js';
import { loggerFor } from './context.js';
import { databaseOption, dataDirOption } from './data-dir.js';
import { readSecret } from './files-client.js';
import { parseServerQuota } from './quota.js';
import { loadTls, type TlsFlags, tlsServerOptions } from './tls.js';

interface ServeFlags extends TlsFlags, LoginLimitFlags {
  root?: string;
  dataDir: string;
  db?: string;
  host?: string;
  port: number;
  allowRegister?: boolean;
  secretFile?: string;
  minIterations: number;
  maxFileSize: number;
  quota: Quota;
  maxConnections: number;
  maxPerUser: number;
  maxWaitingPerAddress: number;
  idleTimeout: number;
}

export function serveCommand(): Command {
  return guardLoginOptions(tlsServerOptions(new Command('serve')))
    .description('serve a folder holding one home per user')
    .option('--root <dir>', "folder of the users' homes (default: DATA-DIR/files)")
    .addOption(dataDirOption('where the account database and keys live, as for sockit serve and users'))
    .addOption(databaseOption('accounts'))
    .option('-H, --host <address>', 'bind address (default: all, IPv6 and IPv4)')
    .option('-p, --port <port>', 'port; 0 picks a free one', parsePort, FILES_PORT)
    .option('--allow-register', 'let anyone who can connect create an account')
    .option(
      '--secret-file <file>',
      'key made by `sockit secret new`, for machine log-ins as an existing user',
    )
    .option(
      '--min-iterations <n>',
      `least PBKDF2 iterations for self-registered accounts, ${MIN_ITERATIONS} to ${MAX_ITERATIONS}`,
      parseIterations,
      DEFAULT_ITERATIONS,
    )
    .addOption(bytesOption('--max-file-size <bytes>', 'largest file accepted', '64GiB'))
    .addOption(
      new Option(
        '--quota <bytes>',
        "quota of users without their own (sockit users quota): a size, 0 (nothing may be stored) or 'unlimited'",
      )
        .argParser(parseServerQuota)
        .default('unlimited'),
    )
    .option('--max-connections <n>', 'connections at once', parseCount, 256)
    .option('--max-per-user <n>', 'logged-in connections at once of one user', parseCount, 16)
    .option(
      '--max-waiting-per-address <n>',
      'connections not yet logged in at once from one address (an IPv6 /64)',
      parseCount,
      8,
    )
    .addOption(
      secondsOption('--idle-timeout <seconds>', 'close a connection silent this long (0: never)', 300),
    )
    .addHelpText(
      'after',
      `
Accounts: sockit users add NAME (same --db), or with --allow-register, sockit files register.
Uploads land under their real name only once whole and verified (SHA-256); interrupted ones
resume. Each user sees only ROOT/NAME; '..', absolute paths and symbolic links are refused.

Examples:
  sockit files serve                                       port 7021, accounts in DATA-DIR
  sockit files serve --port 8021 --quota 10GiB --allow-register
  sockit files serve --tls-cert cert.pem --tls-key key.pem`,
    )
    .action(async (flags: ServeFlags, command: Command) => {
      const log = loggerFor(command);
      const tls = await loadTls(flags);
      const [{ openUserStore }, { loadFakeKey, serveFiles }] = await Promise.all([
        import('../auth/store.js'),
        import('../files/server.js'),
      ]);
      const store = await openUserStore(flags.db ?? defaultDatabase(flags.dataDir));
      try {
        const launched = await launch({ model: 'event-loop', log }, async () => [
          await serveFiles({
            root: flags.root ?? path.join(flags.dataDir, 'files'),
            store,
            host: flags.host,
            port: flags.port,
            allowRegister: flags.allowRegister,
            secret: flags.secretFile ? await readSecret(flags.secretFile) : undefined,
            fakeKey: await loadFakeKey(flags.dataDir),
            minIterations: flags.minIterations,
            maxFileSize: flags.maxFileSize,
            quotaBytes: flags.quota,
            maxConnections: flags.maxConnections,
            maxPerAddress: flags.maxPerAddress,
            maxPerUser: flags.maxPerUser,
            maxUnauthenticatedPerAddress: flags.maxWaitingPerAddress,
            loginTimeoutMs: flags.loginTimeout,
            idleTimeoutMs: flags.idleTimeout,
            tls,
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
