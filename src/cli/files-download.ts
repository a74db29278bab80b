/** `sockit files download`: a file or a folder from the file service, or a file to stdout. */
import { lstat, mkdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { Command, Option } from 'commander';
import { ErrorCode, SockitError } from '../errors.js';
import type { DownloadItem } from '../files/client.js';
import { makeLocalFolder, planTree } from '../files/download.js';
import { requestedForm } from '../files/names.js';
import { parseBytes } from './args.js';
import { type ClientFlags, clientOptions, EMPTY_REMOTE, withClient } from './files-client.js';
import { Output, type OutputFlags } from './files-output.js';
import { downloadStream, STDIO } from './files-stdio.js';
import {
  batchReport,
  existingPolicy,
  identicalSha256,
  TRANSFER_OUTPUT,
  type TransferContext,
  TransferReport,
} from './files-transfer.js';
import { checkWritableFolder, folderOf } from './local-files.js';
import { outputOptions } from './output.js';

interface DownloadFlags extends ClientFlags, OutputFlags {
  overwrite?: boolean;
  skipExisting?: boolean;
  skipIdentical?: boolean;
  maxFileSize?: number;
  maxFilesize?: number;
}

interface DownloadContext extends TransferContext {
  maxFileSize: number | undefined;
}

/** A folder's files, every one wanted: asked for ahead (see FilesClient.downloadFiles). */
async function downloadFiles(ctx: DownloadContext, files: DownloadItem[]): Promise<void> {
  const { end, ...report } = batchReport<DownloadItem>(ctx, 'download');
  try {
    await ctx.client.downloadFiles(files, {
      overwrite: ctx.existing.overwrite,
      maxFileSize: ctx.maxFileSize,
      signal: ctx.signal,
      ...report,
    });
  } finally {
    end();
  }
}

/** Downloads `remote`, which the server announced as `size` bytes, to `local`. */
async function downloadOne(ctx: DownloadContext, remote: string, local: string, size: number): Promise<void> {
  const { existing } = ctx;
  const there = await lstat(local).catch(() => undefined);
  if (there && existing.skipExisting) {
    ctx.report.skipped(remote, local, 'exists', { bytes: size });
    return;
  }
  const same =
    existing.skipIdentical && there?.isFile() && there.size === size
      ? await identicalSha256(ctx, remote, local, size)
      : undefined;
  if (same !== undefined) {
    ctx.report.skipped(remote, local, 'identical', { bytes: size, sha256: same });
    return;
  }
  const progress = ctx.output.progress(`download ${remote}`);
  const began = Date.now();
  const result = await ctx.client
    .download(remote, local, {
      overwrite: existing.overwrite,
      maxFileSize: ctx.maxFileSize,
      signal: ctx.signal,
      progress: (n, total) => progress.update(n, total),
    })
    .finally(() => progress.done());
  ctx.report.done(remote, local, result, Date.now() - began);
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

/** Whether `local` is a folder to download into (like cp, under the remote name). */
async function isFolder(local: string | undefined): Promise<boolean> {
  return local !== undefined && ((await stat(local).catch(() => undefined))?.isDirectory() ?? false);
}

export function downloadCommand(): Command {
  const command = new Command('download')
    .description('download a file or a folder (resumes from LOCAL.sockit-part)')
    .argument('<server>', '[USER@]HOST[:PORT]')
    .argument('<remote>', 'file or folder in your home')
    .argument('[local]', 'destination; - writes to stdout (default: the remote name, here)')
    .option('--overwrite', 'replace local files that exist (default: refuse with ERR_EXISTS)')
    .option('--skip-existing', 'leave local files that exist as they are, and go on with the rest')
    .option(
      '--skip-identical',
      'leave local files with the same SHA-256 as on the server; others that exist follow the rules above',
    )
    .addOption(
      new Option(
        '--max-file-size <bytes>',
        'refuse a file the server announces larger than this, before writing (default: no limit but the free disk space)',
      ).argParser(parseBytes),
    )
    .addOption(new Option('--max-filesize <bytes>').argParser(parseBytes).hideHelp());
  outputOptions(command, TRANSFER_OUTPUT);
  return clientOptions(
    command.addHelpText(
      'after',
      `
Each file is written to LOCAL.sockit-part and renamed to LOCAL only once its SHA-256 matches
the server's; rerun the same command after an interruption and it resumes. Ctrl-C removes the
part. Names the server sends are checked: '..', '.', empty names, '/', '\\' and NUL in a name
or an absolute path fail with ERR_BAD_REQUEST, and nothing is written outside LOCAL. An
existing file is never replaced without --overwrite. The server's announced size is checked
against --max-file-size and the free space before a byte is written, and no more than that
size is ever taken. The folder LOCAL goes into must exist and be writable. --skip-identical
hashes only files of the same size, on both sides.

Examples:
  sockit files download ann@127.0.0.1 report.pdf
  sockit files download ann@127.0.0.1 photos ./restore/ --skip-existing
  sockit files download ann@127.0.0.1 photos ./restore/ --skip-identical --overwrite
  sockit files download ann@127.0.0.1 src.tar - | tar x`,
    ),
  ).action(
    async (
      target: string,
      remote: string,
      local: string | undefined,
      flags: DownloadFlags,
      self: Command,
    ) => {
      if (local === STDIO && flags.json) {
        self.error('--json does not go with LOCAL "-": stdout carries the file; name a file instead');
      }
      if (remote === '') self.error(EMPTY_REMOTE);
      const existing = existingPolicy(flags);
      const output = new Output(flags);
      // Once the server answers, before a password is asked for or anything is sent.
      const prepare = async (): Promise<void> => {
        if (local === STDIO) return;
        await checkWritableFolder((await isFolder(local)) ? (local as string) : folderOf(local ?? '.'));
      };
      await withClient(
        target,
        flags,
        async (client, signal) => {
          const report = new TransferReport(output, 'downloaded');
          const ctx = {
            client,
            existing,
            output,
            report,
            signal,
            maxFileSize: flags.maxFileSize ?? flags.maxFilesize,
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
            const result = await downloadStream(client, remote, process.stdout, {
              maxFileSize: ctx.maxFileSize,
              signal,
            });
            report.done(remote, STDIO, result, Date.now() - began);
            return;
          }
          const name = localName(remote, flags.user);
          const base = local === undefined ? name : (await isFolder(local)) ? path.join(local, name) : local;
          if (entry.type === 'file') {
            await downloadOne(ctx, remote, base, entry.size);
            report.end();
            return;
          }
          const steps = planTree(base, await client.list(remote, true, { signal }));
          // Folders this download makes are empty: nothing is looked for in them (inNewFolder).
          const made = new Set<string>();
          if ((await mkdir(base, { recursive: true })) !== undefined) made.add(path.resolve(base));
          const from = requestedForm(remote);
          const files: (DownloadItem & { size: number })[] = [];
          for (const step of steps) {
            if (step.entry.type === 'dir') {
              if (await makeLocalFolder(step.local)) made.add(path.resolve(step.local));
            } else {
              const listed = from === '.' ? step.listed : `${from}/${step.listed}`;
              const inNewFolder = made.has(path.resolve(path.dirname(step.local)));
              files.push({ remote: listed, local: step.local, size: step.entry.size, inNewFolder });
            }
          }
          if (existing.skipExisting || existing.skipIdentical) {
            // Each file is looked at here (and maybe on the server) first: one at a time.
            for (const file of files) await downloadOne(ctx, file.remote, file.local, file.size);
          } else {
            await downloadFiles(ctx, files);
          }
          report.end();
        },
        prepare,
      );
    },
  );
}
