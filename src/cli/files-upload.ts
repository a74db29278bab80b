/** `sockit files upload`: files, folders and stdin to the file service. */
import { readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { Command, Option } from 'commander';
import { ErrorCode, SockitError } from '../errors.js';
import type { UploadItem } from '../files/client.js';
import { type ClientFlags, clientOptions, withClient } from './files-client.js';
import { Output, type OutputFlags } from './files-output.js';
import { STDIO, withSpooled } from './files-stdio.js';
import {
  batchReport,
  existingPolicy,
  identicalSha256,
  remoteExists,
  TRANSFER_OUTPUT,
  type TransferContext,
  TransferReport,
} from './files-transfer.js';
import { checkReadable } from './local-files.js';
import { outputOptions } from './output.js';

interface UploadFlags extends ClientFlags, OutputFlags {
  to: string;
  as?: string;
  overwrite?: boolean;
  skipExisting?: boolean;
  skipIdentical?: boolean;
}

/** Uploads the file `local` of `size` bytes to `remote`; `shown` is its name in the report. */
async function uploadOne(
  ctx: TransferContext,
  local: string,
  remote: string,
  size: number,
  shown = local,
): Promise<void> {
  const { client, existing, signal } = ctx;
  if (existing.skipExisting && (await remoteExists(client, remote, signal))) {
    ctx.report.skipped(remote, shown, 'exists', { bytes: size });
    return;
  }
  const same = existing.skipIdentical ? await identicalSha256(ctx, remote, local, size) : undefined;
  if (same !== undefined) {
    ctx.report.skipped(remote, shown, 'identical', { bytes: size, sha256: same });
    return;
  }
  const progress = ctx.output.progress(`upload ${remote}`);
  const began = Date.now();
  const result = await client
    .upload(local, remote, {
      overwrite: existing.overwrite,
      signal,
      progress: (n, total) => progress.update(n, total),
    })
    .finally(() => progress.done());
  ctx.report.done(remote, shown, result, Date.now() - began);
}

/**
 * Uploads a file, or a folder with everything in it (links and special files are skipped):
 * a folder's files first, together (see uploadFiles), then its folders.
 */
async function uploadPath(ctx: TransferContext, local: string, remote: string): Promise<void> {
  const info = await stat(local);
  if (info.isFile()) return uploadOne(ctx, local, remote, info.size);
  if (!info.isDirectory())
    throw new SockitError(ErrorCode.INVALID_ARGUMENT, `${local} is neither a file nor a folder`);
  await ctx.client.mkdir(remote, true, { signal: ctx.signal });
  const entries = await readdir(local, { withFileTypes: true });
  const files = entries
    .filter((e) => e.isFile())
    .map((e) => ({ local: path.join(local, e.name), remote: `${remote}/${e.name}` }));
  if (ctx.existing.skipExisting || ctx.existing.skipIdentical) {
    // Each file is looked at on the server first: one at a time.
    for (const file of files) await uploadOne(ctx, file.local, file.remote, (await stat(file.local)).size);
  } else {
    await uploadFiles(ctx, files);
  }
  for (const entry of entries) {
    if (entry.isDirectory()) await uploadPath(ctx, path.join(local, entry.name), `${remote}/${entry.name}`);
  }
}

/** Files without a question to the server first: sent without a round trip each. */
async function uploadFiles(ctx: TransferContext, files: UploadItem[]): Promise<void> {
  const { end, ...report } = batchReport<UploadItem>(ctx, 'upload');
  try {
    await ctx.client.uploadFiles(files, { overwrite: ctx.existing.overwrite, signal: ctx.signal, ...report });
  } finally {
    end();
  }
}

export function uploadCommand(): Command {
  const command = new Command('upload')
    .description('upload files and folders (resumes an interrupted upload of the same file)')
    .argument('<server>', '[USER@]HOST[:PORT]')
    .argument('<local...>', 'files or folders; - reads stdin (give --as)')
    .addOption(new Option('--to <dir>', 'remote folder to upload into').default('', 'your home'))
    .option('--as <name>', 'name on the server of a single file or of stdin (default: the local name)')
    .option('--overwrite', 'replace files that exist (default: refuse with ERR_EXISTS)')
    .option('--skip-existing', 'leave files that exist on the server as they are, and go on with the rest')
    .option(
      '--skip-identical',
      'leave files the server holds with the same SHA-256; others that exist follow the rules above',
    );
  outputOptions(command, TRANSFER_OUTPUT);
  return clientOptions(
    command.addHelpText(
      'after',
      `
--skip-identical compares sizes first: only a file of the same size is hashed, on both sides.
A summary line ends a transfer of more than one file; -v adds a line per file left alone.

Examples:
  sockit files upload ann@127.0.0.1 report.pdf
  sockit files upload ann@127.0.0.1 ./photos --to backup --skip-existing
  sockit files upload ann@127.0.0.1 ./photos --to backup --skip-identical --overwrite
  tar c src | sockit files upload ann@127.0.0.1 - --as src.tar`,
    ),
  ).action(async (target: string, locals: string[], flags: UploadFlags) => {
    const existing = existingPolicy(flags);
    const output = new Output(flags);
    if (flags.as !== undefined && locals.length > 1) {
      throw new SockitError(ErrorCode.INVALID_ARGUMENT, '--as names one upload: give one LOCAL');
    }
    if (locals.includes(STDIO) && flags.as === undefined) {
      throw new SockitError(
        ErrorCode.INVALID_ARGUMENT,
        'an upload from stdin needs a name on the server: give --as NAME',
      );
    }
    // Once the server answers, before a password is asked for or anything is sent.
    const prepare = async (): Promise<void> => {
      for (const local of locals) if (local !== STDIO) await checkReadable(local);
    };
    await withClient(
      target,
      flags,
      async (client, signal) => {
        const report = new TransferReport(output, 'uploaded');
        const ctx: TransferContext = { client, existing, output, report, signal };
        if (flags.to) await client.mkdir(flags.to, true, { signal });
        for (const local of locals) {
          const name = flags.as ?? path.basename(path.resolve(local));
          const remote = flags.to ? `${flags.to}/${name}` : name;
          if (local === STDIO) {
            await withSpooled(process.stdin, signal, async (file) =>
              uploadOne(ctx, file, remote, (await stat(file)).size, STDIO),
            );
          } else await uploadPath(ctx, local, remote);
        }
        report.end();
      },
      prepare,
    );
  });
}
