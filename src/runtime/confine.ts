/**
 * Paths confined to a root folder, by verified directory handles: every operation walks the
 * requested path from the root's handle one component at a time (see confine-walk.ts) and
 * acts only relative to the folder handle it verified, never by handing the whole path to
 * the kernel. A folder swapped for a symbolic link during an operation makes it fail; it
 * never leads outside the root. Symbolic links are refused, or with `follow` followed only
 * while their target stays inside the root (resolved here, never by the kernel).
 *
 * Paths are relative to the root, with '/' separators; '' and '.' name the root itself.
 * Errors: ERR_PATH_DENIED for what would leave the root (unsafe names, links), and the
 * system's own errors (ENOENT, ENOTDIR, EEXIST, ...) for the rest, for callers to word.
 */
import {
  constants,
  fstatSync,
  linkSync,
  lstatSync,
  mkdirSync,
  openSync,
  renameSync,
  rmdirSync,
  type Stats,
  unlinkSync,
} from 'node:fs';
import { type FileHandle, lstat, open, readdir, realpath, rmdir, stat, unlink } from 'node:fs/promises';
import { ErrorCode, SockitError } from '../errors.js';
import { ConfinedDir, type ConfinedEntry } from './confine-dir.js';
import {
  closeDir,
  components,
  DIR_FLAGS,
  type DirRef,
  denied,
  errnoOf,
  lstatIn,
  sameFile,
  type Walked,
  Walker,
} from './confine-walk.js';

export { isSafeName } from './confine-walk.js';
export { ConfinedDir, type ConfinedEntry };

export interface ConfineOptions {
  /** Follow symbolic links whose target stays inside the root. Default false: refuse them. */
  follow?: boolean;
}

/** A path relative to the root: 'a/b', or its components. */
export type Relative = string | readonly string[];

/**
 * A folder that operations cannot leave.
 *
 * @example
 * ```ts
 * const root = await ConfinedRoot.open('/srv/files');
 * const file = await root.openFile('alice/notes.txt', constants.O_RDONLY);
 * await file.close();
 * await root.close();
 * ```
 */
export class ConfinedRoot {
  readonly #walker: Walker;
  /** The root's own handle, closed by close(). */
  readonly #handle: FileHandle;
  /** Operations under way, and what close() waits for. */
  #running = 0;
  #closed: Promise<void> | undefined;
  #idle: (() => void) | undefined;

  private constructor(walker: Walker, handle: FileHandle) {
    this.#walker = walker;
    this.#handle = handle;
  }

  /**
   * Opens `dir` (trusted: the server's configured folder) as the root. `procFd: false`
   * forces the weaker walk used where /proc/self/fd is missing (for tests).
   */
  static async open(dir: string, options: { procFd?: boolean } = {}): Promise<ConfinedRoot> {
    const real = await realpath(dir);
    const handle = await open(real, DIR_FLAGS);
    try {
      let proc = false;
      if (options.procFd !== false) {
        const seen = await stat(`/proc/self/fd/${handle.fd}`).catch(() => undefined);
        proc = seen !== undefined && sameFile(seen, await handle.stat());
      }
      return new ConfinedRoot(
        new Walker({ fd: handle.fd, at: proc ? `/proc/self/fd/${handle.fd}` : real }, real, proc),
        handle,
      );
    } catch (err) {
      await handle.close();
      throw err;
    }
  }

  /** The root's real path. */
  get path(): string {
    return this.#walker.real;
  }

  /** Whether operations are relative to verified handles (Linux /proc/self/fd) or the weaker fallback. */
  get verified(): boolean {
    return this.#walker.proc;
  }

  /**
   * Closes the root once the operations under way have ended; later ones fail with
   * ERR_ROOT_CLOSED (its descriptor number could name another folder by then).
   */
  async close(): Promise<void> {
    this.#closed ??= new Promise<void>((resolve) => {
      this.#idle = resolve;
      if (this.#running === 0) resolve();
    }).then(() => this.#handle.close());
    return this.#closed;
  }

  /** Walks to `rel` and runs `act` on its folder and last name; the handles are closed after. */
  async #at<T>(
    rel: Relative,
    o: ConfineOptions & { makeParents?: number },
    act: (w: Walked) => Promise<T>,
  ): Promise<T> {
    const shown = this.#shown(rel);
    this.#running++;
    try {
      const walked = this.#walker.walk(components(rel), shown, o);
      try {
        return await act(walked);
      } finally {
        walked.release();
      }
    } finally {
      if (--this.#running === 0) this.#idle?.();
    }
  }

  /** `rel` as messages show it; refused once the root is closed. */
  #shown(rel: Relative): string {
    const shown = typeof rel === 'string' ? rel : rel.join('/');
    if (this.#closed) throw new SockitError(ErrorCode.ROOT_CLOSED, `"${shown}": the root is closed`);
    return shown;
  }

  /** The path of `rel` from the root with links resolved (they must exist and stay inside). */
  async resolve(rel: Relative, o: ConfineOptions = {}): Promise<string> {
    return this.#at(rel, o, async (w) => w.names.join('/'));
  }

  /**
   * Opens a file with `flags` (O_NOFOLLOW is always added). With O_CREAT the file is made in
   * the verified folder; O_EXCL makes it new.
   */
  async openFile(rel: Relative, flags: number, mode = 0o640, o: ConfineOptions = {}): Promise<FileHandle> {
    return this.#at(rel, o, async ({ dir, name }) => {
      if (name === '') throw new SockitError(ErrorCode.EXISTS, 'the root is a folder');
      return open(`${dir.at}/${name}`, flags | constants.O_NOFOLLOW, mode);
    });
  }

  /**
   * `openFile` without the thread pool: the descriptor, to use with the synchronous calls and
   * close with `closeSync`. For small files (a few KiB of description), where the round trips
   * of open, read and close through the pool cost far more than the calls.
   */
  openFileSync(rel: Relative, flags: number, mode = 0o640, o: ConfineOptions = {}): number {
    const shown = this.#shown(rel);
    const { dir, name, release } = this.#walker.walk(components(rel), shown, o);
    try {
      if (name === '') throw new SockitError(ErrorCode.EXISTS, 'the root is a folder');
      return openSync(`${dir.at}/${name}`, flags | constants.O_NOFOLLOW, mode);
    } finally {
      release();
    }
  }

  /** The entry's status, not following a link (with `follow`, a link inside the root is followed). */
  async stat(rel: Relative, o: ConfineOptions = {}): Promise<Stats> {
    return this.#at(rel, o, async ({ dir, name }) =>
      name === '' ? fstatSync(dir.fd) : lstatSync(`${dir.at}/${name}`),
    );
  }

  /** The entries of a folder, sorted by name, each with its status (links not followed). */
  async readdir(rel: Relative, o: ConfineOptions & { max?: number } = {}): Promise<ConfinedEntry[]> {
    return this.#inDir(rel, o, async (ref) => {
      const names = (await readdir(ref.at)).sort();
      if (o.max !== undefined && names.length > o.max) {
        throw new SockitError(ErrorCode.INVALID_ARGUMENT, `more than ${o.max} entries in one folder`);
      }
      const entries: ConfinedEntry[] = [];
      for (const name of names) {
        const stats = await lstat(`${ref.at}/${name}`).catch(() => undefined);
        if (stats) entries.push({ name, stats }); // gone meanwhile: not listed
      }
      return entries;
    });
  }

  /**
   * Opens the folder `rel` as a verified handle, to walk down from it (see confine-dir.ts);
   * close() of the root waits until every folder opened so is closed.
   */
  async openDir(rel: Relative, o: ConfineOptions = {}): Promise<ConfinedDir> {
    const done = this.#hold();
    try {
      return await this.#at(rel, o, async ({ dir, name, names }) => {
        let ref: DirRef;
        try {
          ref = this.#walker.openIn(dir, name || '.', names);
        } catch (err) {
          // A link as the last name is refused as one on the way is (see Walker.walk).
          const code = errnoOf(err);
          if ((code === 'ELOOP' || code === 'ENOTDIR') && name && lstatIn(dir.at, name)?.isSymbolicLink())
            throw denied(this.#shown(rel), 'symbolic links are not followed');
          throw err;
        }
        return new ConfinedDir(ref, names, this.#walker, () => this.#hold(), done);
      });
    } catch (err) {
      done();
      throw err;
    }
  }

  /** Counts one more use of the root until the function it returns is called (once). */
  #hold(): () => void {
    if (this.#closed) throw new SockitError(ErrorCode.ROOT_CLOSED, 'the root is closed');
    this.#running++;
    let once = false;
    return () => {
      if (once) return;
      once = true;
      if (--this.#running === 0) this.#idle?.();
    };
  }

  /** Makes a folder; with `parents`, the missing ones above it too (and no error if it exists). */
  async mkdir(rel: Relative, o: { parents?: boolean; mode?: number } = {}): Promise<void> {
    const mode = o.mode ?? 0o750;
    await this.#at(rel, { makeParents: o.parents ? mode : undefined }, async ({ dir, name }) => {
      if (name === '') {
        if (o.parents) return;
        throw new SockitError(ErrorCode.EXISTS, 'the root exists');
      }
      if (o.parents) return this.#walker.mkdirIn(dir, name, mode);
      try {
        mkdirSync(`${dir.at}/${name}`, { mode });
      } catch (err) {
        throw lstatIn(dir.at, name)?.isSymbolicLink() ? denied(name, 'symbolic links are not followed') : err;
      }
    });
  }

  /** Removes a file or a link (never what a link points to). */
  async unlink(rel: Relative): Promise<void> {
    await this.#at(rel, {}, async ({ dir, name }) => unlinkSync(`${dir.at}/${this.#notRoot(rel, name)}`));
  }

  /** Removes an empty folder. */
  async rmdir(rel: Relative): Promise<void> {
    await this.#at(rel, {}, async ({ dir, name }) => rmdirSync(`${dir.at}/${this.#notRoot(rel, name)}`));
  }

  /** Removes a file, a link, or a folder and everything in it, by handles, following no link. */
  async remove(rel: Relative): Promise<void> {
    await this.#at(rel, {}, ({ dir, name, names }) =>
      this.#removeIn(dir, this.#notRoot(rel, name), names.slice(0, -1)),
    );
  }

  /** rename(2) between two verified folders: replaces a file at `to`. */
  async rename(from: Relative, to: Relative): Promise<void> {
    await this.#pair(from, to, async (a, b) => renameSync(a, b));
  }

  /** link(2) between two verified folders: fails with EEXIST if `to` exists (nothing is replaced). */
  async link(from: Relative, to: Relative): Promise<void> {
    await this.#pair(from, to, async (a, b) => linkSync(a, b));
  }

  async #pair(from: Relative, to: Relative, act: (a: string, b: string) => Promise<void>): Promise<void> {
    await this.#at(from, {}, (a) =>
      this.#at(to, {}, (b) =>
        act(`${a.dir.at}/${this.#notRoot(from, a.name)}`, `${b.dir.at}/${this.#notRoot(to, b.name)}`),
      ),
    );
  }

  /** Runs `act` on the folder `rel` itself, opened as a verified handle. */
  async #inDir<T>(rel: Relative, o: ConfineOptions, act: (ref: DirRef) => Promise<T>): Promise<T> {
    return this.#at(rel, o, async ({ dir, name, names }) => {
      if (name === '') return act(dir);
      const ref = this.#walker.openIn(dir, name, names);
      try {
        return await act(ref);
      } finally {
        closeDir(ref);
      }
    });
  }

  /** Removes `name` in `dir` (whose path from the root is `names`), depth first, by handles. */
  async #removeIn(dir: DirRef, name: string, names: readonly string[]): Promise<void> {
    const info = await lstat(`${dir.at}/${name}`);
    if (!info.isDirectory()) return unlink(`${dir.at}/${name}`);
    let ref: DirRef;
    try {
      ref = this.#walker.openIn(dir, name, [...names, name]);
    } catch (err) {
      // Swapped for a link or a file meanwhile: that is what gets removed, not its target.
      if (errnoOf(err) === 'ENOTDIR' || errnoOf(err) === 'ELOOP') return unlink(`${dir.at}/${name}`);
      throw err;
    }
    try {
      for (const entry of await readdir(ref.at)) await this.#removeIn(ref, entry, [...names, name]);
    } finally {
      closeDir(ref);
    }
    await rmdir(`${dir.at}/${name}`);
  }

  #notRoot(rel: Relative, name: string): string {
    if (name === '') throw denied(typeof rel === 'string' ? rel : rel.join('/'), 'the root itself');
    return name;
  }
}
