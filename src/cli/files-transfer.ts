/** What `sockit files upload` and `download` share: the rules for existing files, and the summary line. */
import { ErrorCode, isSockitError, SockitError } from '../errors.js';
import type { FilesClient, TransferResult } from '../files/client.js';
import { formatBytes } from './progress.js';

/** What to do with a destination that exists: refuse (the default), replace, or skip it. */
export interface Existing {
  overwrite: boolean;
  skipExisting: boolean;
}

/** `--overwrite` and `--skip-existing` contradict each other. */
export function existingPolicy(flags: { overwrite?: boolean; skipExisting?: boolean }): Existing {
  if (flags.overwrite && flags.skipExisting) {
    throw new SockitError(
      ErrorCode.INVALID_ARGUMENT,
      '--overwrite and --skip-existing contradict each other; give one',
    );
  }
  return { overwrite: flags.overwrite ?? false, skipExisting: flags.skipExisting ?? false };
}

export function summary(verb: string, name: string, r: TransferResult, ms: number): string {
  const rate = ms > 0 ? `, ${formatBytes((r.size - r.resumedFrom) / (ms / 1000))}/s` : '';
  const resumed = r.resumedFrom > 0 ? `, resumed at ${formatBytes(r.resumedFrom)}` : '';
  return `${verb} ${name}: ${formatBytes(r.size)} in ${(ms / 1000).toFixed(2)} s${rate}${resumed}, sha256 ${r.sha256.slice(0, 16)}…\n`;
}

/** Whether `remote` names something on the server; an answer of ERR_NOT_FOUND means no. */
export async function remoteExists(
  client: FilesClient,
  remote: string,
  signal: AbortSignal,
): Promise<boolean> {
  try {
    await client.stat(remote, { signal });
    return true;
  } catch (err) {
    if (isSockitError(err) && err.code === ErrorCode.NOT_FOUND) return false;
    throw err;
  }
}
