#!/usr/bin/env node
/** The `sockit` command: one subcommand per tool. */
import { realpathSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { Command, Option } from 'commander';
import { LOG_LEVELS } from '../runtime/log.js';
import { completionCommand } from './completion.js';
import { reportFailure, withUsageErrors } from './context.js';
import { echoCommand } from './echo.js';
import { filesCommand } from './files.js';
import { ipCommand } from './ip.js';
import { ncCommand } from './nc.js';
import { tooOldNode } from './node-version.js';
import { portsCommand } from './ports.js';
import { secretCommand } from './secret.js';
import { serveCommand } from './serve.js';
import { tftpCommand } from './tftp.js';
import { usersCommand } from './users.js';

const { version } = createRequire(import.meta.url)('../../package.json') as { version: string };

export function program(): Command {
  const sockit = new Command('sockit')
    .description('socket programming as real tools: servers, clients and utilities for TCP and UDP')
    .version(version)
    .addOption(new Option('--log-level <level>', 'log detail').choices(LOG_LEVELS))
    .addOption(
      new Option('--log-format <format>', 'log lines: pretty on a terminal, JSON otherwise')
        .choices(['auto', 'pretty', 'json'])
        .default('auto'),
    )
    .addCommand(serveCommand())
    .addCommand(echoCommand())
    .addCommand(ncCommand())
    .addCommand(tftpCommand())
    .addCommand(filesCommand())
    .addCommand(usersCommand())
    .addCommand(secretCommand())
    .addCommand(ipCommand())
    .addCommand(portsCommand())
    .addCommand(completionCommand())
    .addHelpText(
      'after',
      `
Examples:
  sockit serve                                 echo, TFTP and files with their defaults
  sockit ip 10.1.2.3/20                        an IP calculator
  sockit files upload ann@127.0.0.1 notes.txt  a verified upload
  sockit COMMAND --help                        each command's options and examples`,
    );
  return withUsageErrors(sockit);
}

/** True when this file is the program run (also through an npm bin symlink), not an import. */
function isEntryPoint(): boolean {
  const script = process.argv[1];
  if (script === undefined) return false;
  const self = fileURLToPath(import.meta.url);
  // `node dist/cli/main` names the file without its extension, as Node resolves it.
  return [script, `${script}.js`].some((path) => {
    try {
      return realpathSync(path) === self;
    } catch {
      return false;
    }
  });
}

// Imported (the help test walks program()'s tree), it must not parse the importer's argv.
if (isEntryPoint()) run();

function run(): void {
  const tooOld = tooOldNode(process.versions.node);
  if (tooOld) {
    process.stderr.write(`${tooOld}\n`);
    process.exit(1);
  }

  let settled = false;
  program()
    .parseAsync()
    .catch((err: unknown) => reportFailure(err))
    .finally(() => {
      settled = true;
    });
  // Nothing left to wait for, yet the command has not finished: a stalled stream, not success.
  process.on('beforeExit', () => {
    if (settled || process.exitCode) return;
    process.stderr.write('sockit: internal error: the command stopped with its work unfinished\n');
    process.exitCode = 70;
  });
}
