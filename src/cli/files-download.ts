/** `sockit files download`: a file or a folder from the file service, or a file to stdout. */
import { lstat, mkdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { Command, Option } from 'commander';
import { ErrorCode, SockitError } from '../errors.js';
import type { FilesClient, TransferResult } from '../files/client.js';
import { makeLocalFolder, planTree } from '../files/download.js';
import { requestedForm } from '../files/names.js';
import { parseBytes } from './args.js';
import { type ClientFlags, clientOptions, withClient } from './files-client.js';
import { downloadStream, STDIO } from './files-stdio.js';
import { existingPolicy, summary } from './files-transfer.js';
import { Progress } from './progress.js';

interface DownloadFlags extends ClientFlags {
  overwrite?: boolean;
  skipExisting?: boolean;
  maxFileSize?: number;
  maxFilesize?: number;
}

async function downloadOne(
  client: FilesClient,
  remote: string,
  local: string,
  options: {
    overwrite: boolean;
    skipExisting: boolean;
    maxFileSize: number | undefined;
    signal: AbortSignal;
  },
): Promise<void> {
  if (options.skipExisting && (await lstat(local).catch(() => undefined))) {
    process.stderr.write(`skipped ${remote}: ${local} exists\n`);
    return;
  }
  const progress = new Progress(`download ${remote}`);
  const began = Date.now();
  let result: TransferResult;
  try {
    result = await client.download(remote, local, {
      ...options,
      progress: (n, total) => progress.update(n, total),
    });
  } finally {
    progress.done();
  }
  process.stderr.write(summary('downloaded', remote, result, Date.now() - began));
}

/** The local name of a download: the last component of the user's `remote`, or `user` for the home. */
function localName(remote: string, user: string): string {
  const name = path.posix.basename(requestedForm(remote));
  const chosen = name === '.' ? user : name;
  if (chosen === '..' || /[\\\0]/.test(chosen)) {
    throw new SockitError(ErrorCode.INVALID_ARGUMENT, `${JSON.stringify(remote)} names no file to download`);
  }
  return chosen;
}

export function downloadCommand(): Command {
  return clientOptions(
    new Command('download')
      .description('download a file or a folder (resumes from LOCAL.sockit-part)')
      .argument('<server>', '[USER@]HOST[:PORT]')
      .argument('<remote>', 'file or folder in your home')
      .argument('[local]', 'destination; - writes to stdout (default: the remote name, here)')
      .option('--overwrite', 'replace local files that exist (default: refuse with ERR_EXISTS)')
      .option('--skip-existing', 'leave local files that exist as they are, and go on with the rest')
      .addOption(
        new Option(
          '--max-file-size <bytes>',
          'refuse a file the server announces larger than this, before writing (default: no limit but the free disk space)',
        ).argParser(parseBytes),
      )
      .addOption(new Option('--max-filesize <bytes>').argParser(parseBytes).hideHelp())
      .addHelpText(
        'after',
        `
Each file is written to LOCAL.sockit-part and renamed to LOCAL only once its SHA-256 matches
the server's; rerun the same command after an interruption and it resumes. Ctrl-C removes the
part. Names the server sends are checked: '..', '.', empty names, '/', '\\' and NUL in a name
or an absolute path fail with ERR_BAD_REQUEST, and nothing is written outside LOCAL. An
existing file is never replaced without --overwrite. The server's announced size is checked
against --max-file-size and the free space before a byte is written, and no more than that
size is ever taken.

Examples:
  sockit files download ann@127.0.0.1 report.pdf
  sockit files download ann@127.0.0.1 photos ./restore/ --skip-existing
  sockit files download ann@127.0.0.1 src.tar - | tar x`,
      ),
  ).action(async (target: string, remote: string, local: string | undefined, flags: DownloadFlags) => {
    await withClient(target, flags, async (client, signal) => {
      const options = {
        ...existingPolicy(flags),
        maxFileSize: flags.maxFileSize ?? flags.maxFilesize,
        signal,
      };
      // The library refuses a stat answer about another path than `remote`.
      const entry = await client.stat(remote, { signal });
      // The local name is the user's own: the last component of `remote` (the user's name for
      // the home), never a name the server sent.
      if (local === STDIO) {
        if (entry.type !== 'file') {
          throw new SockitError(
            ErrorCode.INVALID_ARGUMENT,
            `${remote} is a folder: only a file goes to stdout`,
          );
        }
        const began = Date.now();
        const result = await downloadStream(client, remote, process.stdout, options);
        process.stderr.write(summary('downloaded', remote, result, Date.now() - began));
        return;
      }
      const name = localName(remote, flags.user);
      // Like cp: into an existing folder, under the remote name.
      const into = local !== undefined && (await stat(local).catch(() => undefined))?.isDirectory();
      const base = local === undefined ? name : into ? path.join(local, name) : local;
      if (entry.type === 'file') return downloadOne(client, remote, base, options);
      const steps = planTree(base, await client.list(remote, true, { signal }));
      await mkdir(base, { recursive: true });
      const from = requestedForm(remote);
      for (const step of steps) {
        if (step.entry.type === 'dir') await makeLocalFolder(step.local);
        else
          await downloadOne(
            client,
            from === '.' ? step.listed : `${from}/${step.listed}`,
            step.local,
            options,
          );
      }
    });
  });
}
