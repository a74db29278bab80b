/** `sockit secret`: shared-secret keys for machine log-ins. */
import { Command } from 'commander';
import { SecretKey } from '../auth/secret-key.js';
import { ErrorCode, fileError, SockitError } from '../errors.js';
import { type OutputFlags, outputOptions } from './output.js';

/**
 * The `secret` command group.
 *
 * @example
 * ```ts
 * new Command('sockit').addCommand(secretCommand());
 * // sockit secret new machines.key
 * ```
 */
export function secretCommand(): Command {
  const secret = new Command('secret')
    .description('shared-secret keys for machine log-ins')
    .addHelpText('after', '\nExamples:\n  sockit secret new ~/.config/sockit/secret.key');
  outputOptions(secret.command('new'), { quiet: 'print nothing on success' })
    .description('write a new random key (32 bytes) to FILE, readable by its owner only')
    .argument('<file>', 'where to write the key; an existing file is never replaced')
    .addHelpText(
      'after',
      '\nGive the same file to the server and to the machines that log in with it (--secret-file).\n' +
        'Only keys made here are accepted: a passphrase could be guessed offline from one exchange.\n\n' +
        'Examples:\n' +
        '  sockit secret new machines.key\n' +
        '  sockit files serve --secret-file machines.key\n' +
        '  sockit files ls build-bot@127.0.0.1 --secret-file machines.key',
    )
    .action(async (file: string, flags: OutputFlags) => {
      try {
        await SecretKey.generate().write(file);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'EEXIST') {
          throw new SockitError(ErrorCode.EXISTS, `${file} already exists; a key is never overwritten`);
        }
        throw fileError(err, 'secret new', file, 'create');
      }
      if (!flags.quiet) process.stderr.write(`wrote a new key to ${file} (mode 0600)\n`);
    });
  return secret;
}
