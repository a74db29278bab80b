/** `sockit files`: the authenticated file service and its client commands. */

import { Command } from 'commander';
import { iterationsOption } from './args.js';
import { type ClientFlags, resolveTarget } from './files-client.js';
import { downloadCommand } from './files-download.js';
import { Output, type OutputFlags } from './files-output.js';
import { lsCommand, mkdirCommand, rmCommand } from './files-remote.js';
import { serveCommand } from './files-serve.js';
import { uploadCommand } from './files-upload.js';
import { outputOptions } from './output.js';
import { readPassword } from './password.js';
import { clientTls } from './tls.js';

export { parseServer, resolveTarget, USER_ENV } from './files-client.js';

function registerCommand(): Command {
  const command = new Command('register')
    .description('create an account on a server started with --allow-register')
    .argument('<server>', '[USER@]HOST[:PORT]')
    .option(
      '-u, --user <name>',
      'account name: 1-32 of A-Z a-z 0-9 _ . - (default: USER@ of the server, SOCKIT_USER or your login name)',
    )
    .addOption(iterationsOption())
    .option('--tls', 'connect over TLS')
    .option('--tls-ca <file>', 'trust this certificate (PEM); implies --tls');
  return outputOptions(command, {
    json: 'one JSON object on stdout: {user, status: "registered"}',
    quiet: 'nothing on success; errors only',
  })
    .addHelpText(
      'after',
      `
The password comes from SOCKIT_PASSWORD, or else is asked for twice on the terminal.

Examples:
  sockit files register ann@127.0.0.1
  sockit files register ann@files.example:8021 --tls`,
    )
    .action(async (target: string, flags: ClientFlags & OutputFlags & { iterations: number }) => {
      const output = new Output(flags);
      const tls = await clientTls(flags);
      const { FilesClient } = await import('../files/client.js');
      // Connected first: with the server down, nobody types a password for nothing.
      const { user, ...server } = resolveTarget(target, flags);
      flags.user = user;
      const client = await FilesClient.connect({ ...server, tls });
      try {
        const password = await readPassword({ prompt: `Password for ${flags.user}: `, confirm: true });
        await client.register(flags.user, password, flags.iterations);
      } finally {
        client.close();
      }
      output.result({ user: flags.user, status: 'registered' }, `registered ${flags.user}`);
    });
}

export function filesCommand(): Command {
  return new Command('files')
    .description(
      'an authenticated file service: accounts with SCRAM-SHA-256, per-user folders, verified and resumable transfers',
    )
    .addHelpText(
      'after',
      `
Examples:
  sockit files serve
  sockit files upload ann@127.0.0.1 ./photos
  sockit files ls ann@127.0.0.1 -R`,
    )
    .addCommand(serveCommand())
    .addCommand(registerCommand())
    .addCommand(lsCommand())
    .addCommand(uploadCommand())
    .addCommand(downloadCommand())
    .addCommand(rmCommand())
    .addCommand(mkdirCommand());
}
