/**
 * A user's files on the server's disk: a home folder under the root, paths confined to it,
 * and upload parts kept outside it until they are complete.
 *
 *   ROOT/NAME/...                    the user's home (names never start with '.')
 *   ROOT/.parts/NAME/ID.part         bytes of an unfinished upload (ID: hash of its path)
 *   ROOT/.parts/NAME/ID.json         what the part is for: { path, size }
 *
 * A part lives on the same file system as the home, so finishing an upload is one link or
 * rename: the file appears under its real name whole, or not at all.
 *
 * Requested paths are relative to the home with '/' separators. Refused with
 * ERR_PATH_DENIED: absolute paths, '..' segments, backslashes, NUL, and any symbolic link
 * on the way (the service never makes one; one found there was put there by someone else).
 */
import { createHash } from 'node:crypto';
import type { Stats } from 'node:fs';
import { lstat, mkdir, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { ErrorCode, SockitError } from '../errors.js';
import type { Entry } from './protocol.js';

/** Most entries one listing returns. */
export const MAX_LIST_ENTRIES = 100_000;

function denied(requested: string, why: string): SockitError {
  return new SockitError(ErrorCode.PATH_DENIED, `"${requested}": ${why}`);
}

/** The segments of a requested path, or a refusal. '' and '.' name the home itself. */
export function splitPath(requested: string): string[] {
  if (requested.includes('\0')) throw denied(requested, 'NUL in the path');
  if (requested.includes('\\')) throw denied(requested, 'backslash in the path (use /)');
  if (requested.startsWith('/')) throw denied(requested, 'absolute paths are not allowed');
  const segments = requested.split('/').filter((s) => s !== '' && s !== '.');
  if (segments.includes('..')) throw denied(requested, "'..' leaves the home folder");
  return segments;
}

export interface PartInfo {
  part: string;
  meta: string;
}

export class UserFiles {
  readonly root: string;
  readonly user: string;
  readonly home: string;
  readonly #parts: string;

  /** `root` must be a real path (no symbolic links in it). */
  constructor(root: string, user: string) {
    this.root = root;
    this.user = user;
    this.home = path.join(root, user);
    this.#parts = path.join(root, '.parts', user);
  }

  async ensure(): Promise<void> {
    await mkdir(this.home, { recursive: true, mode: 0o750 });
    await mkdir(this.#parts, { recursive: true, mode: 0o700 });
  }

  /**
   * The on-disk path of `requested`, after checking that no existing component is a
   * symbolic link. The last component may be missing (for uploads and mkdir).
   */
  async resolve(requested: string): Promise<string> {
    const segments = splitPath(requested);
    let at = this.home;
    for (const segment of segments) {
      at = path.join(at, segment);
      let info: Stats;
      try {
        info = await lstat(at);
      } catch (err) {
        // Missing, or under a file: what is asked for does not exist (the request says how).
        const code = (err as NodeJS.ErrnoException).code;
        if (code === 'ENOENT' || code === 'ENOTDIR') return path.join(this.home, ...segments);
        throw err;
      }
      if (info.isSymbolicLink()) throw denied(requested, 'symbolic links are not followed');
    }
    return at;
  }

  /** Display form of a requested path, relative to the home. */
  display(requested: string): string {
    return splitPath(requested).join('/') || '.';
  }

  async stat(requested: string): Promise<Entry> {
    const full = await this.resolve(requested);
    const info = await statOrMissing(full, requested);
    return toEntry(this.display(requested), info);
  }

  /** The entries of a folder (with `recursive`, of its whole tree), sorted by path. */
  async list(requested: string, recursive: boolean): Promise<Entry[]> {
    const full = await this.resolve(requested);
    const info = await statOrMissing(full, requested);
    if (!info.isDirectory()) return [toEntry(path.basename(full), info)];
    const entries: Entry[] = [];
    const walk = async (dir: string, prefix: string): Promise<void> => {
      const names = (await readdir(dir)).sort();
      for (const name of names) {
        const child = path.join(dir, name);
        const childInfo = await lstat(child);
        if (!childInfo.isFile() && !childInfo.isDirectory()) continue; // links, sockets, devices: not ours
        const rel = prefix ? `${prefix}/${name}` : name;
        if (entries.length >= MAX_LIST_ENTRIES) {
          throw new SockitError(ErrorCode.INVALID_ARGUMENT, `more than ${MAX_LIST_ENTRIES} entries to list`);
        }
        entries.push(toEntry(rel, childInfo));
        if (recursive && childInfo.isDirectory()) await walk(child, rel);
      }
    };
    await walk(full, '');
    return entries;
  }

  async mkdir(requested: string, parents: boolean): Promise<void> {
    const full = await this.resolve(requested);
    if (full === this.home) return;
    try {
      await mkdir(full, { recursive: parents, mode: 0o750 });
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'EEXIST') throw new SockitError(ErrorCode.EXISTS, `"${requested}" already exists`);
      if (code === 'ENOENT')
        throw new SockitError(ErrorCode.NOT_FOUND, `the folder above "${requested}" does not exist`);
      if (code === 'ENOTDIR')
        throw new SockitError(ErrorCode.NOT_FOUND, `a part of "${requested}" is a file`);
      throw err;
    }
    // A parent made by `recursive` could have raced with a link put there: check again.
    await this.resolve(requested);
  }

  async remove(requested: string, recursive: boolean): Promise<void> {
    const full = await this.resolve(requested);
    if (full === this.home) throw denied(requested, 'the home folder itself cannot be removed');
    const info = await statOrMissing(full, requested);
    if (info.isDirectory() && !recursive) {
      if ((await readdir(full)).length > 0) {
        throw new SockitError(
          ErrorCode.EXISTS,
          `"${requested}" is a folder that is not empty (remove it recursively)`,
        );
      }
    }
    await rm(full, { recursive: true, force: false });
  }

  /** Bytes held by the user: the home's files and unfinished parts. */
  async usage(): Promise<number> {
    let total = 0;
    const walk = async (dir: string): Promise<void> => {
      let names: string[];
      try {
        names = await readdir(dir);
      } catch {
        return;
      }
      for (const name of names) {
        const child = path.join(dir, name);
        const info = await lstat(child).catch(() => undefined);
        if (info?.isDirectory()) await walk(child);
        else if (info?.isFile()) total += info.size;
      }
    };
    await walk(this.home);
    await walk(this.#parts);
    return total;
  }

  /** Where the unfinished upload of `requested` keeps its bytes and its description. */
  partFor(requested: string): PartInfo {
    const id = createHash('sha256').update(this.display(requested)).digest('hex').slice(0, 32);
    return { part: path.join(this.#parts, `${id}.part`), meta: path.join(this.#parts, `${id}.json`) };
  }

  /** The size an unfinished upload was started for, when its part is for `requested` and `size`. */
  async partMatches(part: PartInfo, requested: string, size: number): Promise<boolean> {
    try {
      const meta = JSON.parse(await readFile(part.meta, 'utf8')) as { path?: unknown; size?: unknown };
      return meta.path === this.display(requested) && meta.size === size;
    } catch {
      return false;
    }
  }

  async describePart(part: PartInfo, requested: string, size: number): Promise<void> {
    await writeFile(part.meta, JSON.stringify({ path: this.display(requested), size }), { mode: 0o600 });
  }

  async dropPart(part: PartInfo): Promise<void> {
    await rm(part.part, { force: true });
    await rm(part.meta, { force: true });
  }
}

async function statOrMissing(full: string, requested: string): Promise<Stats> {
  try {
    return await stat(full);
  } catch (err) {
    if (
      (err as NodeJS.ErrnoException).code === 'ENOENT' ||
      (err as NodeJS.ErrnoException).code === 'ENOTDIR'
    ) {
      throw new SockitError(ErrorCode.NOT_FOUND, `"${requested}" does not exist`);
    }
    throw err;
  }
}

function toEntry(rel: string, info: Stats): Entry {
  return {
    path: rel,
    type: info.isDirectory() ? 'dir' : 'file',
    size: info.isDirectory() ? 0 : info.size,
    mtime: Math.round(info.mtimeMs),
  };
}
