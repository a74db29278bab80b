/**
 * An open folder under a confined root, for walks that go down a tree: each child folder is
 * opened relative to its parent's verified handle (O_DIRECTORY|O_NOFOLLOW), so a walk of a
 * tree N deep opens N folders, not the 1 + 2 + ... + N a walk from the root for each would.
 * A child swapped for a symbolic link fails to open (ELOOP/ENOTDIR); it is never followed.
 */
import {
  constants,
  fstatSync,
  linkSync,
  lstatSync,
  openSync,
  readlinkSync,
  renameSync,
  type Stats,
  unlinkSync,
} from 'node:fs';
import { type FileHandle, lstat, open, readdir } from 'node:fs/promises';
import path from 'node:path';
import { ErrorCode, SockitError } from '../errors.js';
import { closeDir, type DirRef, denied, isSafeName, sameFile, type Walker } from './confine-walk.js';

/** An entry of a folder, not followed if it is a link. */
export interface ConfinedEntry {
  name: string;
  stats: Stats;
}

/** What Linux adds to the path /proc shows for a removed file or folder. */
const DELETED = ' (deleted)';

/**
 * A verified folder handle; close it when done (its children may outlive it).
 *
 * @example
 * ```ts
 * const dir = await root.openDir('alice/photos');
 * try {
 *   for (const { name, stats } of await dir.entries()) if (stats.isDirectory()) (await dir.openDir(name)).close();
 * } finally {
 *   await dir.close();
 * }
 * ```
 */
export class ConfinedDir {
  #closed = false;
  /** Set once the folder is shared (see share): its handle is closed when the last holder closes. */
  #holders: { count: number; release: () => void } | undefined;

  /** @internal Made by `ConfinedRoot.openDir`; `done` is called once, when it is closed. */
  constructor(
    readonly ref: DirRef,
    /** The path from the root. */
    readonly names: readonly string[],
    readonly walker: Walker,
    readonly hold: () => () => void,
    readonly done: () => void,
  ) {}

  /** The entries, sorted by name, each with its status (links not followed). */
  async entries(o: { max?: number } = {}): Promise<ConfinedEntry[]> {
    this.#open();
    const names = (await readdir(this.ref.at)).sort();
    if (o.max !== undefined && names.length > o.max) {
      throw new SockitError(ErrorCode.INVALID_ARGUMENT, `more than ${o.max} entries in one folder`);
    }
    const entries: ConfinedEntry[] = [];
    for (const name of names) {
      const stats = await lstat(`${this.ref.at}/${name}`).catch(() => undefined);
      if (stats) entries.push({ name, stats }); // gone meanwhile: not listed
    }
    return entries;
  }

  /** Opens the folder `name` in this one, relative to this handle; a link there is refused. */
  async openDir(name: string): Promise<ConfinedDir> {
    this.#open();
    const names = [...this.names, name];
    if (!isSafeName(name)) throw denied(names.join('/'), 'not a plain name inside the root');
    const done = this.hold();
    try {
      const ref = this.walker.openIn(this.ref, name, names);
      return new ConfinedDir(ref, names, this.walker, this.hold, done);
    } catch (err) {
      done();
      throw err;
    }
  }

  /** The status of `name` here, not followed; undefined when there is nothing. */
  lstat(name: string): Stats | undefined {
    return lstatSync(this.at(name), { throwIfNoEntry: false });
  }

  /** Opens the file `name` here (never through a link); O_CREAT makes it in this folder. */
  openFile(name: string, flags: number, mode = 0o640): Promise<FileHandle> {
    return open(this.at(name), flags | constants.O_NOFOLLOW, mode);
  }

  /** `openFile` without the thread pool, for small files: a descriptor for the synchronous calls. */
  openFileSync(name: string, flags: number, mode = 0o640): number {
    return openSync(this.at(name), flags | constants.O_NOFOLLOW, mode);
  }

  /** Removes the file or link `name` here. */
  unlink(name: string): void {
    unlinkSync(this.at(name));
  }

  /**
   * link(2) of `name` in `from` (an open folder of the same root) to `to` here: fails with
   * EEXIST when `to` exists, so nothing is ever replaced. Both ends are named relative to
   * verified handles: a folder on either path swapped for a link meanwhile changes nothing.
   */
  linkFrom(from: ConfinedDir, name: string, to: string): void {
    linkSync(this.#source(from, name), this.at(to));
  }

  /**
   * rename(2) of `name` in `from` (an open folder of the same root) to `to` here, replacing a
   * file there; returns the status of what it replaced (looked at just before: nothing of
   * ours runs in between), if anything.
   */
  renameFrom(from: ConfinedDir, name: string, to: string): Stats | undefined {
    const source = this.#source(from, name);
    const before = this.lstat(to);
    renameSync(source, this.at(to));
    return before;
  }

  /**
   * Whether this folder is still where it was opened: at its names under the root, not moved
   * elsewhere (another user's home, outside the root), not removed, not replaced. A handle
   * held for a while (an upload's folder) is checked before anything is put in it. With
   * /proc, one readlink each of this folder and of the root; without, a fresh walk.
   */
  inPlace(): boolean {
    this.#open();
    try {
      if (this.walker.proc) {
        const here = readlinkSync(this.ref.at);
        if (here !== path.join(readlinkSync(this.walker.root.at), ...this.names)) return false;
        // A removed folder reads as its last path and " (deleted)": the same text as a folder
        // of that name still there, which only its link count tells apart.
        return !here.endsWith(DELETED) || fstatSync(this.ref.fd).nlink > 0;
      }
      const shown = this.names.join('/');
      const walked = this.walker.walk(this.names, shown);
      try {
        const now = this.walker.openIn(walked.dir, walked.name || '.', this.names);
        try {
          return sameFile(fstatSync(now.fd), fstatSync(this.ref.fd));
        } finally {
          closeDir(now);
        }
      } finally {
        walked.release();
      }
    } catch {
      return false; // gone, or a link on the way: not where it was
    }
  }

  #source(from: ConfinedDir, name: string): string {
    if (from.walker !== this.walker) throw new SockitError(ErrorCode.INTERNAL, 'a folder of another root');
    return from.at(name);
  }

  /**
   * The path that names `name` relative to this folder's handle (`/proc/self/fd/N/name`):
   * `name` checked as one plain component, and only while the folder is open.
   */
  at(name: string): string {
    this.#open();
    if (!isSafeName(name)) throw denied([...this.names, name].join('/'), 'not a plain name inside the root');
    return `${this.ref.at}/${name}`;
  }

  /**
   * Another holder of this open folder, with a close() of its own: the handle is let go once
   * every holder has closed. A folder kept for later use hands out shares, so that whoever
   * took one closes it as any folder, and the keeper lets go of its own when it is done.
   */
  share(): ConfinedDir {
    this.#open();
    this.#holders ??= {
      count: 1,
      release: () => {
        closeDir(this.ref);
        this.done();
      },
    };
    const holders = this.#holders;
    holders.count++;
    const twin = new ConfinedDir(this.ref, this.names, this.walker, this.hold, () => {});
    twin.#holders = holders;
    return twin;
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    const holders = this.#holders;
    if (holders === undefined) {
      closeDir(this.ref);
      this.done();
    } else if (--holders.count === 0) {
      holders.release();
    }
  }

  #open(): void {
    if (this.#closed) throw new SockitError(ErrorCode.ROOT_CLOSED, `"${this.names.join('/')}": closed`);
  }
}
