/** `sockit files upload`: files, folders and stdin to the file service. */
import { readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { Command, Option } from 'commander';
import { ErrorCode, SockitError } from '../errors.js';
import type { FilesClient } from '../files/client.js';
import { type ClientFlags, clientOptions, withClient } from './files-client.js';
import { STDIO, uploadStream } from './files-stdio.js';
import { type Existing, existingPolicy, remoteExists, summary } from './files-transfer.js';
import { Progress } from './progress.js';

interface UploadFlags extends ClientFlags {
  to: string;
  as?: string;
  overwrite?: boolean;
  skipExisting?: boolean;
}

async function uploadOne(
  client: FilesClient,
  local: string,
  remote: string,
  existing: Existing,
  signal: AbortSignal,
): Promise<void> {
  if (existing.skipExisting && (await remoteExists(client, remote, signal))) {
    process.stderr.write(`skipped ${remote}: exists\n`);
    return;
  }
  const overwrite = existing.overwrite;
  const progress = new Progress(`upload ${remote}`);
  const began = Date.now();
  const result = await client
    .upload(local, remote, {
      overwrite,
      signal,
      progress: (n, total) => progress.update(n, total),
    })
    .finally(() => progress.done());
  process.stderr.write(summary('uploaded', remote, result, Date.now() - began));
}

/** Uploads a file, or a folder with everything in it (links and special files are skipped). */
async function uploadPath(
  client: FilesClient,
  local: string,
  remote: string,
  existing: Existing,
  signal: AbortSignal,
): Promise<void> {
  const info = await stat(local);
  if (info.isFile()) return uploadOne(client, local, remote, existing, signal);
  if (!info.isDirectory())
    throw new SockitError(ErrorCode.INVALID_ARGUMENT, `${local} is neither a file nor a folder`);
  await client.mkdir(remote, true, { signal });
  for (const entry of await readdir(local, { withFileTypes: true })) {
    if (!entry.isFile() && !entry.isDirectory()) continue;
    await uploadPath(client, path.join(local, entry.name), `${remote}/${entry.name}`, existing, signal);
  }
}

export function uploadCommand(): Command {
  return clientOptions(
    new Command('upload')
      .description('upload files and folders (resumes an interrupted upload of the same file)')
      .argument('<server>', '[USER@]HOST[:PORT]')
      .argument('<local...>', 'files or folders; - reads stdin (give --as)')
      .addOption(new Option('--to <dir>', 'remote folder to upload into').default('', 'your home'))
      .option('--as <name>', 'name on the server of a single file or of stdin (default: the local name)')
      .option('--overwrite', 'replace files that exist (default: refuse with ERR_EXISTS)')
      .option('--skip-existing', 'leave files that exist on the server as they are, and go on with the rest')
      .addHelpText(
        'after',
        `
Examples:
  sockit files upload ann@127.0.0.1 report.pdf
  sockit files upload ann@127.0.0.1 ./photos --to backup --skip-existing
  tar c src | sockit files upload ann@127.0.0.1 - --as src.tar`,
      ),
  ).action(async (target: string, locals: string[], flags: UploadFlags) => {
    const existing = existingPolicy(flags);
    if (flags.as !== undefined && locals.length > 1) {
      throw new SockitError(ErrorCode.INVALID_ARGUMENT, '--as names one upload: give one LOCAL');
    }
    if (locals.includes(STDIO) && flags.as === undefined) {
      throw new SockitError(
        ErrorCode.INVALID_ARGUMENT,
        'an upload from stdin needs a name on the server: give --as NAME',
      );
    }
    await withClient(target, flags, async (client, signal) => {
      if (flags.to) await client.mkdir(flags.to, true, { signal });
      for (const local of locals) {
        const name = flags.as ?? path.basename(path.resolve(local));
        if (local === STDIO) {
          const remote = flags.to ? `${flags.to}/${name}` : name;
          if (existing.skipExisting && (await remoteExists(client, remote, signal))) {
            process.stderr.write(`skipped ${remote}: exists\n`);
            continue;
          }
          const began = Date.now();
          const result = await uploadStream(client, process.stdin, remote, {
            overwrite: existing.overwrite,
            signal,
          });
          process.stderr.write(summary('uploaded', remote, result, Date.now() - began));
          continue;
        }
        const remote = flags.to ? `${flags.to}/${name}` : name;
        await uploadPath(client, local, remote, existing, signal);
      }
    });
  });
}
