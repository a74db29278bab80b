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
 * Every operation goes through the root's ConfinedRoot: no path a peer names is handed to
 * the kernel whole, so a folder swapped for a link meanwhile cannot lead outside the home.
 */
import { createHash } from 'node:crypto';
import { closeSync, constants, fstatSync, readFileSync, type Stats, writeFileSync } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import { ErrorCode, SockitError } from '../errors.js';
import type { ConfinedDir, ConfinedRoot } from '../runtime/confine.js';
import type { Entry } from './protocol.js';

/** Most entries one listing returns. */
export const MAX_LIST_ENTRIES = 100_000;

/**
 * Most bytes of JSON one listing returns: well inside the client's 64 MiB message limit, so
 * an answer the server builds is one the client can read.
 */
export const MAX_LIST_BYTES = 32 * 1024 * 1024;

/**
 * Most folders a path may go down from the home (its components). Deeper paths are refused
 * with ERR_TOO_DEEP everywhere (mkdir, upload, download, stat, list): such trees cannot be
 * made through the service, and one made on the disk is not walked past this depth.
 */
export const MAX_DEPTH = 256;

/** Largest description of a part the service reads (it writes ~100 bytes plus the path). */
const MAX_META_BYTES = 64 * 1024;

/** The folder of the upload parts, under the root. */
export const PARTS_FOLDER = '.parts';

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
  if (segments.length > MAX_DEPTH) throw tooDeep(requested);
  return segments;
}

function tooDeep(requested: string): SockitError {
  return new SockitError(ErrorCode.TOO_DEEP, `"${requested}": more than ${MAX_DEPTH} folders deep`);
}

/** The id of the part of an upload to `display` (a path as `UserFiles.display` shows it). */
export function partId(display: string): string {
  return createHash('sha256').update(display).digest('hex').slice(0, 32);
}

/** Where an unfinished upload keeps its bytes and its description: names in the parts folder. */
export interface PartInfo {
  part: string;
  meta: string;
}

const missing = (err: unknown): boolean => {
  const code = (err as NodeJS.ErrnoException).code;
  return code === 'ENOENT' || code === 'ENOTDIR';
};

export class UserFiles {
  readonly root: ConfinedRoot;
  readonly user: string;
  /**
   * The user's parts folder, the service's own (no home reaches it), held open while the
   * user is logged in: an upload's dozen calls on its part and description are then one call
   * each, not a walk from the root each.
   */
  #parts: Promise<ConfinedDir> | undefined;
  /**
   * The folder of the last upload's target, kept for the next upload into the same folder
   * (see target): a folder of small files is otherwise a walk from the root, and its close,
   * for every file.
   */
  #lastFolder: { key: string; dir: ConfinedDir } | undefined;

  /** `user` must be a checked user name (a single safe component). */
  constructor(root: ConfinedRoot, user: string) {
    this.root = root;
    this.user = user;
  }

  async ensure(): Promise<void> {
    await this.root.mkdir([this.user], { parents: true, mode: 0o750 });
    await this.root.mkdir([PARTS_FOLDER, this.user], { parents: true, mode: 0o700 });
  }

  /** Lets go of what is held open (the parts folder); call once the session is over. */
  async close(): Promise<void> {
    const parts = this.#parts;
    this.#parts = undefined;
    this.#forgetFolder();
    await (await parts?.catch(() => undefined))?.close();
  }

  #partsDir(): Promise<ConfinedDir> {
    if (!this.#parts) {
      const opening = this.root.openDir([PARTS_FOLDER, this.user]);
      // A failure is not kept: the next call tries again.
      opening.catch(() => {
        if (this.#parts === opening) this.#parts = undefined;
      });
      this.#parts = opening;
    }
    return this.#parts;
  }

  /** The path of `requested` from the root. */
  #at(requested: string): string[] {
    return [this.user, ...splitPath(requested)];
  }

  /** Display form of a requested path, relative to the home. */
  display(requested: string): string {
    return splitPath(requested).join('/') || '.';
  }

  /** What is at `requested` (not followed), or undefined when nothing is; a link is refused. */
  async entry(requested: string): Promise<Stats | undefined> {
    let info: Stats;
    try {
      info = await this.root.stat(this.#at(requested));
    } catch (err) {
      if (missing(err)) return undefined;
      throw err;
    }
    if (info.isSymbolicLink()) throw denied(requested, 'symbolic links are not followed');
    return info;
  }

  async #existing(requested: string): Promise<Stats> {
    const info = await this.entry(requested);
    if (!info) throw new SockitError(ErrorCode.NOT_FOUND, `"${requested}" does not exist`);
    return info;
  }

  async stat(requested: string): Promise<Entry> {
    return toEntry(this.display(requested), await this.#existing(requested));
  }

  /**
   * The entries of a folder (with `recursive`, of its whole tree), sorted by path. The walk
   * goes down from each folder's verified handle (one open per folder, closed as it leaves
   * it); no more than MAX_DEPTH deep from the home (ERR_TOO_DEEP), MAX_LIST_ENTRIES entries
   * and MAX_LIST_BYTES of JSON (ERR_INVALID_ARGUMENT).
   */
  async list(requested: string, recursive: boolean): Promise<Entry[]> {
    const segments = splitPath(requested);
    const info = await this.#existing(requested);
    if (!info.isDirectory()) return [toEntry(segments.at(-1) ?? '.', info)];
    const entries: Entry[] = [];
    let bytes = 2; // the array's brackets
    const walk = async (dir: ConfinedDir, below: string[]): Promise<void> => {
      for (const { name, stats } of await dir.entries({ max: MAX_LIST_ENTRIES })) {
        if (!stats.isFile() && !stats.isDirectory()) continue; // links, sockets, devices: not ours
        if (segments.length + below.length + 1 > MAX_DEPTH) throw tooDeep([...segments, ...below].join('/'));
        const entry = toEntry([...below, name].join('/'), stats);
        bytes += Buffer.byteLength(JSON.stringify(entry)) + 1;
        if (entries.length >= MAX_LIST_ENTRIES || bytes > MAX_LIST_BYTES) {
          throw new SockitError(
            ErrorCode.INVALID_ARGUMENT,
            `more than ${MAX_LIST_ENTRIES} entries or ${MAX_LIST_BYTES} bytes to list`,
          );
        }
        entries.push(entry);
        if (!recursive || !stats.isDirectory()) continue;
        const child = await dir.openDir(name).catch((err: unknown) => {
          if (missing(err)) return undefined; // gone meanwhile: listed, not walked
          throw err;
        });
        if (!child) continue;
        try {
          await walk(child, [...below, name]);
        } finally {
          await child.close();
        }
      }
    };
    const top = await this.root.openDir(this.#at(requested));
    try {
      await walk(top, []);
    } finally {
      await top.close();
    }
    return entries;
  }

  async mkdir(requested: string, parents: boolean): Promise<void> {
    if (splitPath(requested).length === 0) return;
    try {
      await this.root.mkdir(this.#at(requested), { parents, mode: 0o750 });
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'EEXIST') throw new SockitError(ErrorCode.EXISTS, `"${requested}" already exists`);
      if (code === 'ENOENT')
        throw new SockitError(ErrorCode.NOT_FOUND, `the folder above "${requested}" does not exist`);
      if (code === 'ENOTDIR')
        throw new SockitError(ErrorCode.NOT_FOUND, `a part of "${requested}" is a file`);
      throw err;
    }
  }

  /** Removes a file or folder; resolves to the bytes of the files it held. */
  async remove(requested: string, recursive: boolean): Promise<number> {
    if (splitPath(requested).length === 0)
      throw denied(requested, 'the home folder itself cannot be removed');
    const info = await this.#existing(requested);
    if (info.isDirectory() && !recursive) {
      try {
        await this.root.rmdir(this.#at(requested));
        return 0;
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        if (code !== 'ENOTEMPTY' && code !== 'EEXIST') throw err;
        throw new SockitError(
          ErrorCode.EXISTS,
          `"${requested}" is a folder that is not empty (remove it recursively)`,
        );
      }
    }
    // Measured before: what the removal takes from the user's usage.
    const bytes = info.isDirectory() ? await this.#bytesUnder(this.#at(requested)) : info.size;
    await this.root.remove(this.#at(requested));
    return bytes;
  }

  /** Opens a file of the home for reading (never through a link). */
  async openRead(requested: string): Promise<FileHandle> {
    try {
      return await this.root.openFile(this.#at(requested), constants.O_RDONLY | constants.O_NONBLOCK);
    } catch (err) {
      throw this.#readError(requested, err);
    }
  }

  /** `openRead` without the thread pool: a descriptor, for a file small enough to read at once. */
  openReadFd(requested: string): number {
    try {
      return this.root.openFileSync(this.#at(requested), constants.O_RDONLY | constants.O_NONBLOCK);
    } catch (err) {
      throw this.#readError(requested, err);
    }
  }

  #readError(requested: string, err: unknown): unknown {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return new SockitError(ErrorCode.NOT_FOUND, `"${requested}" does not exist`);
    if (code === 'ELOOP') return denied(requested, 'symbolic links are not followed');
    return err;
  }

  /**
   * Where an upload to `requested` would land: its folder, opened and held (undefined when it
   * does not exist), and what is at its name there now (a link is refused). The upload checks
   * this first and is placed into the same folder at its end (see `place`), without a second
   * walk; the caller closes the folder when it is done.
   */
  async target(requested: string): Promise<UploadTarget> {
    const at = this.#at(requested);
    const name = at.at(-1) as string;
    if (at.length < 2) throw new SockitError(ErrorCode.EXISTS, 'the home folder is not a file');
    const folder = at.slice(0, -1);
    let dir = this.#keptFolder(folder);
    if (!dir) {
      try {
        dir = await this.root.openDir(folder);
      } catch (err) {
        if (missing(err)) return { requested, dir: undefined, name, entry: undefined };
        throw err;
      }
      this.#keepFolder(folder, dir);
    }
    try {
      const entry = dir.lstat(name);
      if (entry?.isSymbolicLink()) throw denied(requested, 'symbolic links are not followed');
      return { requested, dir, name, entry };
    } catch (err) {
      await dir.close();
      throw err;
    }
  }

  /**
   * A share of the kept folder when it is `folder` and still there (ConfinedDir.inPlace: one
   * readlink of it and one of the root, where a walk is two opens and two closes); the kept
   * one is let go otherwise. Where there is no /proc, inPlace is a walk itself: nothing kept.
   */
  #keptFolder(folder: readonly string[]): ConfinedDir | undefined {
    const kept = this.#lastFolder;
    if (kept?.key === folder.join('/') && kept.dir.inPlace()) return kept.dir.share();
    this.#forgetFolder();
    return undefined;
  }

  #keepFolder(folder: readonly string[], dir: ConfinedDir): void {
    this.#forgetFolder();
    if (dir.walker.proc) this.#lastFolder = { key: folder.join('/'), dir: dir.share() };
  }

  #forgetFolder(): void {
    const kept = this.#lastFolder;
    this.#lastFolder = undefined;
    void kept?.dir.close();
  }

  /**
   * Bytes held by the user: the home's files and the bytes of unfinished parts (not their
   * few bytes of description). A walk of the whole home: the file service keeps the result
   * in the user store and moves it with each change, walking only when it is unknown.
   */
  async usage(): Promise<number> {
    const home = await this.#bytesUnder([this.user]);
    const parts = await this.root.readdir([PARTS_FOLDER, this.user]).catch(() => []);
    let partBytes = 0;
    for (const { name, stats } of parts)
      if (stats.isFile() && name.endsWith('.part')) partBytes += stats.size;
    return home + partBytes;
  }

  /** Bytes of the files under a folder, from the root (links and others not counted). */
  async #bytesUnder(dir: string[]): Promise<number> {
    let total = 0;
    const walk = async (at: string[]): Promise<void> => {
      const children = await this.root.readdir(at).catch(() => []);
      for (const { name, stats } of children) {
        if (stats.isDirectory()) await walk([...at, name]);
        else if (stats.isFile()) total += stats.size;
      }
    };
    await walk(dir);
    return total;
  }

  /** Where the unfinished upload of `requested` keeps its bytes and its description. */
  partFor(requested: string): PartInfo {
    const id = partId(this.display(requested));
    return { part: `${id}.part`, meta: `${id}.json` };
  }

  /** The part's file, opened with `flags` (O_CREAT makes it, mode 0640). */
  async openPart(part: PartInfo, flags: number): Promise<FileHandle> {
    return (await this.#partsDir()).openFile(part.part, flags, 0o640);
  }

  /** The part's file to write, as a descriptor opened without the thread pool (see descriptorFile). */
  async openPartFd(part: PartInfo, flags: number): Promise<number> {
    return (await this.#partsDir()).openFileSync(part.part, flags, 0o640);
  }

  /** Bytes already in the part (0 when there is none). */
  async partSize(part: PartInfo): Promise<number> {
    try {
      const info = (await this.#partsDir()).lstat(part.part);
      return info?.isFile() ? info.size : 0;
    } catch {
      return 0;
    }
  }

  /**
   * The size an unfinished upload was started for, when its part is for `requested` and `size`.
   * The description is a few bytes: read without the thread pool (see openFileSync).
   */
  async partMatches(part: PartInfo, requested: string, size: number): Promise<boolean> {
    try {
      const fd = (await this.#partsDir()).openFileSync(part.meta, constants.O_RDONLY | constants.O_NONBLOCK);
      let text: string;
      try {
        // One the service wrote is far shorter; anything longer was not.
        if (fstatSync(fd).size > MAX_META_BYTES) return false;
        text = readFileSync(fd, 'utf8');
      } finally {
        closeSync(fd);
      }
      const meta = JSON.parse(text) as { path?: unknown; size?: unknown };
      return meta.path === this.display(requested) && meta.size === size;
    } catch {
      return false;
    }
  }

  async describePart(part: PartInfo, requested: string, size: number): Promise<void> {
    const flags = constants.O_WRONLY | constants.O_CREAT | constants.O_TRUNC;
    const fd = (await this.#partsDir()).openFileSync(part.meta, flags, 0o600);
    try {
      writeFileSync(fd, JSON.stringify({ path: this.display(requested), size }));
    } finally {
      closeSync(fd);
    }
  }

  async dropPart(part: PartInfo): Promise<void> {
    await this.#unlinkPart(part.part);
    await this.dropMeta(part);
  }

  async dropMeta(part: PartInfo): Promise<void> {
    await this.#unlinkPart(part.meta);
  }

  async #unlinkPart(name: string): Promise<void> {
    try {
      (await this.#partsDir()).unlink(name);
    } catch {
      // gone already: nothing to drop
    }
  }

  /**
   * Moves a finished part to its name in `target`'s folder in one step, once that folder is
   * found still where it was when the upload was checked (see ConfinedDir.inPlace): rename when
   * replacing is allowed, link otherwise (link fails if the name exists, so two uploads
   * cannot both win). Resolves to the bytes of the file it replaced, as they were at that
   * moment (0 for none).
   */
  async place(part: PartInfo, target: UploadTarget, overwrite: boolean): Promise<number> {
    const parts = await this.#partsDir();
    const { dir, name } = target;
    if (!dir)
      throw new SockitError(ErrorCode.NOT_FOUND, `the folder of "${target.requested}" does not exist`);
    // Held since the upload was checked: moved out of its place meanwhile, it takes nothing.
    if (!dir.inPlace()) {
      throw new SockitError(
        ErrorCode.NOT_FOUND,
        `the folder of "${target.requested}" was moved or removed during the upload; nothing was stored`,
      );
    }
    if (overwrite) {
      const replaced = dir.renameFrom(parts, part.part, name);
      return replaced?.isFile() ? replaced.size : 0;
    }
    try {
      dir.linkFrom(parts, part.part, name);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EEXIST') {
        throw new SockitError(
          ErrorCode.EXISTS,
          `"${target.requested}" appeared meanwhile; upload with overwrite to replace it`,
        );
      }
      throw err;
    }
    parts.unlink(part.part);
    return 0;
  }
}

/** An upload's folder, held open from its check to its placing, and its name there. */
export interface UploadTarget {
  /** The path as the upload named it, for messages. */
  requested: string;
  /** The folder, or undefined when it does not exist. */
  dir: ConfinedDir | undefined;
  name: string;
  /** What is at the name now (never a link), or undefined. */
  entry: Stats | undefined;
}

function toEntry(rel: string, info: Stats): Entry {
  return {
    path: rel,
    type: info.isDirectory() ? 'dir' : 'file',
    size: info.isDirectory() ? 0 : info.size,
    mtime: Math.round(info.mtimeMs),
  };
}
