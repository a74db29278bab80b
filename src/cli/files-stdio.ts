/**
 * `-` as a file for `sockit files`: stdin for `upload`, stdout for `download`. The protocol
 * states an upload's size first and verifies a download's SHA-256 last, so both pass through
 * a private temporary folder: an upload learns its size, and a download writes to stdout only
 * bytes whose hash the server confirmed (a failed download writes nothing).
 */
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import type { DownloadOptions, FilesClient, TransferResult } from '../files/client.js';

/** The name that means stdin or stdout. */
export const STDIO = '-';

/** Runs `work` with a fresh folder of mode 0700 under the system's temporary folder, removed after. */
async function withTemporaryFolder<T>(work: (folder: string) => Promise<T>): Promise<T> {
  const folder = await mkdtemp(path.join(tmpdir(), 'sockit-stdio-'));
  try {
    return await work(folder);
  } finally {
    await rm(folder, { recursive: true, force: true });
  }
}

/**
 * Runs `work` with everything `input` gives (stdin for an upload) in a private temporary
 * file, removed afterwards: an upload states its size first, and is compared by its SHA-256.
 *
 * @example
 * await withSpooled(process.stdin, signal, (file) => client.upload(file, 'notes/today.txt', { signal }));
 */
export async function withSpooled<T>(
  input: NodeJS.ReadableStream,
  signal: AbortSignal | undefined,
  work: (file: string) => Promise<T>,
): Promise<T> {
  return withTemporaryFolder(async (folder) => {
    const file = path.join(folder, 'stdin');
    await pipeline(input, createWriteStream(file, { mode: 0o600 }), { signal });
    return work(file);
  });
}

/**
 * Downloads the file `remote` and, once its SHA-256 matches, writes it to `output` (default
 * stdout), which is left open.
 *
 * @example
 * await downloadStream(client, 'notes/today.txt', process.stdout, { signal });
 */
export async function downloadStream(
  client: FilesClient,
  remote: string,
  output: NodeJS.WritableStream,
  options: DownloadOptions,
): Promise<TransferResult> {
  return withTemporaryFolder(async (folder) => {
    const file = path.join(folder, 'download');
    const result = await client.download(remote, file, { ...options, overwrite: false });
    await pipeline(createReadStream(file), output, { end: false, signal: options.signal });
    return result;
  });
}
