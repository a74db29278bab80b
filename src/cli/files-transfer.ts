/**
 * What `sockit files upload` and `download` share: the rules for files that exist at the
 * destination (refuse, `--overwrite`, `--skip-existing`, `--skip-identical`), the SHA-256
 * comparison behind `--skip-identical`, and what is reported of each file and in all.
 */
import { open } from 'node:fs/promises';
import { ErrorCode, isSockitError, SockitError } from '../errors.js';
import type { FilesClient, RemoteSum, TransferResult } from '../files/client.js';
import { hashPrefix } from '../files/transfer.js';
import type { Output } from './files-output.js';
import type { OutputHelp } from './output.js';
import { counted } from './plural.js';
import { formatBytes } from './progress.js';

/** `--json`, `-q` and `-v` of an upload or download. */
export const TRANSFER_OUTPUT: OutputHelp = {
  json: 'one JSON object per file on stdout instead of the lines: {status, reason, path, local, bytes, sha256, resumedFrom}',
  quiet: 'no progress bar and no summary; errors only',
  verbose: 'each step (connection, log-in), and a line for each file, also those left alone',
};

/** What to do with a destination that exists: refuse (the default), replace, or skip it. */
export interface Existing {
  overwrite: boolean;
  skipExisting: boolean;
  /** Skip a destination whose SHA-256 is the source's; a different one follows the rules above. */
  skipIdentical: boolean;
}

/** `--overwrite` and `--skip-existing` contradict each other. */
export function existingPolicy(flags: {
  overwrite?: boolean;
  skipExisting?: boolean;
  skipIdentical?: boolean;
}): Existing {
  if (flags.overwrite && flags.skipExisting) {
    throw new SockitError(
      ErrorCode.INVALID_ARGUMENT,
      '--overwrite and --skip-existing contradict each other; give one',
    );
  }
  return {
    overwrite: flags.overwrite ?? false,
    skipExisting: flags.skipExisting ?? false,
    skipIdentical: flags.skipIdentical ?? false,
  };
}

/** One transfer under way: the client, the rules, where its lines go, and Ctrl-C. */
export interface TransferContext {
  client: FilesClient;
  existing: Existing;
  output: Output;
  report: TransferReport;
  signal: AbortSignal;
}

export function summary(verb: string, name: string, r: TransferResult, ms: number): string {
  const rate = ms > 0 ? `, ${formatBytes((r.size - r.resumedFrom) / (ms / 1000))}/s` : '';
  const resumed = r.resumedFrom > 0 ? `, resumed at ${formatBytes(r.resumedFrom)}` : '';
  return `${verb} ${name}: ${formatBytes(r.size)} in ${(ms / 1000).toFixed(2)} s${rate}${resumed}, sha256 ${r.sha256.slice(0, 16)}…`;
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
    if (isSockitError(err, ErrorCode.NOT_FOUND)) return false;
    throw err;
  }
}

/**
 * The SHA-256 that `remote` on the server and the local file `local` share when both hold the
 * same `size` bytes, else undefined (also when `remote` does not exist). The server is asked
 * first and hashes only a file of that size; the local file is hashed only when it did.
 */
export async function identicalSha256(
  ctx: TransferContext,
  remote: string,
  local: string,
  size: number,
): Promise<string | undefined> {
  const asked = ctx.output.progress(`compare ${remote}`);
  let theirs: RemoteSum;
  try {
    theirs = await ctx.client.sum(remote, size, {
      signal: ctx.signal,
      progress: (n, total) => asked.update(n, total),
    });
  } catch (err) {
    if (isSockitError(err, ErrorCode.NOT_FOUND)) return undefined;
    throw err;
  } finally {
    asked.done();
  }
  if (theirs.sha256 === undefined) return undefined;
  const ours = await localSha256(ctx, local, size);
  return ours === theirs.sha256 ? ours : undefined;
}

/** The SHA-256 of `local` when it holds exactly `size` bytes, else undefined. */
async function localSha256(ctx: TransferContext, local: string, size: number): Promise<string | undefined> {
  const handle = await open(local, 'r');
  const bar = ctx.output.progress(`hash ${local}`);
  try {
    if ((await handle.stat()).size !== size) return undefined;
    // A large file takes a while: the server is told this side is at work.
    const hash = await ctx.client.working(() =>
      hashPrefix(handle, size, {
        signal: ctx.signal,
        progress: (n) => bar.update(n, size),
      }),
    );
    return hash?.digest('hex');
  } finally {
    bar.done();
    await handle.close();
  }
}

export type SkipReason = 'identical' | 'exists';

/**
 * What a transfer reports: each file transferred (a line, or a JSON object), each file left
 * alone (a line with `-v`, or a JSON object), and a total once more than one file was seen
 * or any was left alone.
 */
export class TransferReport {
  readonly #output: Output;
  readonly #verb: 'uploaded' | 'downloaded';
  #files = 0;
  #bytes = 0;
  readonly #skipped: Record<SkipReason, number> = { identical: 0, exists: 0 };

  constructor(output: Output, verb: 'uploaded' | 'downloaded') {
    this.#output = output;
    this.#verb = verb;
  }

  done(remote: string, local: string, result: TransferResult, ms: number): void {
    this.#files++;
    this.#bytes += result.size;
    const facts = {
      status: this.#verb,
      reason: null,
      path: remote,
      local,
      bytes: result.size,
      sha256: result.sha256,
      resumedFrom: result.resumedFrom,
    };
    this.#output.result(facts, summary(this.#verb, remote, result, ms));
  }

  /** `facts`: the source's size, and its SHA-256 when it was compared. */
  skipped(
    remote: string,
    local: string,
    reason: SkipReason,
    facts: { bytes?: number; sha256?: string },
  ): void {
    this.#skipped[reason]++;
    const why =
      reason === 'identical'
        ? `identical, sha256 ${facts.sha256?.slice(0, 16)}…`
        : this.#verb === 'uploaded'
          ? 'exists'
          : `${local} exists`;
    this.#output.detail(
      {
        status: 'skipped',
        reason,
        path: remote,
        local,
        bytes: facts.bytes ?? null,
        sha256: facts.sha256 ?? null,
        resumedFrom: null,
      },
      `skipped ${remote}: ${why}`,
    );
  }

  /** The total line, when there is more to say than the one file's line. */
  end(): void {
    const { identical, exists } = this.#skipped;
    const skipped = identical + exists;
    if (this.#files <= 1 && skipped === 0) return;
    const reasons = [
      identical > 0 ? `${identical} identical` : '',
      exists > 0 ? `${exists} existing` : '',
    ].filter(Boolean);
    const left = skipped > 0 ? `, skipped ${skipped} (${reasons.join(', ')})` : '';
    this.#output.say(`${this.#verb} ${counted(this.#files, 'file')} (${formatBytes(this.#bytes)})${left}`);
  }
}

/** One file of a batch, as both directions name it. */
interface BatchItem {
  local: string;
  remote: string;
}

/**
 * What a batch transfer (`uploadFiles`, `downloadFiles`) reports through: a line per file
 * done, and a progress bar for a file large enough to report progress, ended when it is done
 * (or the batch is). Call `end()` once the batch is over.
 */
export function batchReport<I extends BatchItem>(
  ctx: TransferContext,
  verb: 'upload' | 'download',
): {
  onDone: (item: I, result: TransferResult, ms: number) => void;
  progress: (item: I, bytes: number, total: number) => void;
  end: () => void;
} {
  let bar: { item: I; progress: ReturnType<TransferContext['output']['progress']> } | undefined;
  const end = (): void => {
    bar?.progress.done();
    bar = undefined;
  };
  return {
    onDone: (item, result, ms) => {
      if (bar?.item === item) end();
      ctx.report.done(item.remote, item.local, result, ms);
    },
    progress: (item, bytes, total) => {
      if (bar?.item !== item) {
        end();
        bar = { item, progress: ctx.output.progress(`${verb} ${item.remote}`) };
      }
      bar.progress.update(bytes, total);
    },
    end,
  };
}
