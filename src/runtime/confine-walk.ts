/**
 * The walk under a confined root: from a verified directory handle, one component at a time,
 * each folder opened with O_DIRECTORY|O_NOFOLLOW relative to the folder before it.
 *
 * Node has no openat(2). On Linux the kernel resolves `/proc/self/fd/N/name` from the folder
 * that descriptor N refers to, not by walking names again, so a call on that path is the
 * *at(2) call relative to N: open, mkdir, unlink, rename and link on it cannot be led
 * elsewhere by a folder swapped for a symbolic link meanwhile. Where /proc/self/fd is not
 * usable, the walk uses plain paths and compares each opened folder with what its name
 * shows (a narrower window, not a guarantee; see docs/confine.md).
 *
 * The walk's own calls (open and close of each folder, lstat, readlink, mkdir) are made
 * synchronously: each is one metadata call on a folder the kernel has at hand, a few
 * microseconds, where a round trip through Node's thread pool costs tens (about 100 µs on a
 * virtual machine, where every wake-up is dear), and an upload walked some sixty times.
 */
import {
  closeSync,
  constants,
  fstatSync,
  lstatSync,
  mkdirSync,
  openSync,
  readlinkSync,
  type Stats,
} from 'node:fs';
import path from 'node:path';
import { ErrorCode, SockitError } from '../errors.js';

export const DIR_FLAGS = constants.O_RDONLY | constants.O_DIRECTORY | constants.O_NOFOLLOW;
/** Links followed in one walk at most (Linux's own limit is 40). */
export const MAX_HOPS = 40;

/** A verified folder: its descriptor, and the path that names children relative to it. */
export interface DirRef {
  fd: number;
  /** `/proc/self/fd/N`, or the folder's plain path where /proc is not usable. */
  at: string;
}

/** Closes a folder's descriptor; a failure to close changes nothing for the caller. */
export function closeDir(ref: DirRef): void {
  try {
    closeSync(ref.fd);
  } catch {
    // EBADF or EIO on a folder: nothing to undo
  }
}

/** Stats of `at/name`, not followed; undefined when there is nothing there. */
export function lstatIn(at: string, name: string): Stats | undefined {
  return lstatSync(`${at}/${name}`, { throwIfNoEntry: false });
}

export interface WalkOptions {
  /** Follow symbolic links whose target stays inside the root (resolved here, lexically). */
  follow?: boolean;
  /** Make missing folders on the way, with this mode. */
  makeParents?: number;
}

/** Where a walk ended: the verified folder and the last name in it ('' for the folder itself). */
export interface Walked {
  dir: DirRef;
  name: string;
  /** The path from the root with links resolved. */
  names: string[];
  release(): void;
}

export function denied(requested: string, why: string): SockitError {
  return new SockitError(ErrorCode.PATH_DENIED, `"${requested}": ${why}`);
}

/** Whether `name` is one plain component: not '', '.', '..', without '/' or NUL. */
export function isSafeName(name: string): boolean {
  return name !== '' && name !== '.' && name !== '..' && !name.includes('/') && !name.includes('\0');
}

/** The components of a path relative to the root ('' and '.' dropped); any other unsafe one is refused. */
export function components(requested: string | readonly string[]): string[] {
  const list = typeof requested === 'string' ? requested.split('/') : [...requested];
  const shown = typeof requested === 'string' ? requested : requested.join('/');
  const names = list.filter((s) => s !== '' && s !== '.');
  for (const name of names) if (!isSafeName(name)) throw denied(shown, 'not a plain name inside the root');
  return names;
}

export const errnoOf = (err: unknown): string | undefined => (err as NodeJS.ErrnoException)?.code;

/** The walker of one root: `root` is its verified handle, `real` its real path. */
export class Walker {
  constructor(
    readonly root: DirRef,
    readonly real: string,
    readonly proc: boolean,
  ) {}

  /** A DirRef for the folder just opened as `fd`, whose plain path is `names` under the root. */
  ref(fd: number, names: readonly string[]): DirRef {
    const plain = path.join(this.real, ...names);
    if (this.proc) return { fd, at: `/proc/self/fd/${fd}` };
    // No /proc: the folder opened must be the one the name shows now.
    let named: Stats | undefined;
    try {
      named = lstatSync(plain, { throwIfNoEntry: false });
      if (named && sameFile(fstatSync(fd), named)) return { fd, at: plain };
    } catch {
      // treated as changed
    }
    closeSync(fd);
    throw denied(names.join('/'), 'the folder changed while it was opened');
  }

  /** Opens the folder `name` in `dir` (never through a link) as a verified DirRef. */
  openIn(dir: DirRef, name: string, names: readonly string[]): DirRef {
    return this.ref(openSync(`${dir.at}/${name}`, DIR_FLAGS), names);
  }

  /** Walks to the parent of the last component of `parts`; the caller acts on `name` there. */
  walk(parts: readonly string[], shown: string, o: WalkOptions = {}): Walked {
    const stack: DirRef[] = [];
    const names: string[] = [];
    const release = (): void => {
      for (const ref of stack.splice(0).reverse()) closeDir(ref);
    };
    let pending = [...parts];
    let hops = 0;
    let made = 0;
    const top = (): DirRef => stack.at(-1) ?? this.root;
    const follow = (dir: DirRef, name: string): string[] => {
      if (!o.follow) throw denied(shown, 'symbolic links are not followed');
      if (++hops > MAX_HOPS) throw denied(shown, 'too many symbolic links');
      const target = readlinkSync(`${dir.at}/${name}`);
      if (!path.isAbsolute(target)) return target.split('/').filter((s) => s !== '' && s !== '.');
      const rel = path.relative(this.real, path.resolve(target));
      if (rel === '..' || rel.startsWith(`..${path.sep}`) || path.isAbsolute(rel)) {
        throw denied(shown, 'links outside the root');
      }
      release();
      names.length = 0;
      return rel.split(path.sep).filter((s) => s !== '');
    };
    try {
      while (pending.length > 0) {
        const name = pending.shift() as string;
        if (name === '..') {
          // Only a link's target can bring '..' here: it may climb back, never above the root.
          if (stack.length === 0) throw denied(shown, 'links outside the root');
          closeDir(stack.pop() as DirRef);
          names.pop();
          continue;
        }
        if (name.includes('\0') || name.includes('/')) throw denied(shown, 'not a plain name');
        const dir = top();
        if (pending.length === 0) {
          const info = o.follow ? lstatIn(dir.at, name) : undefined;
          if (!info?.isSymbolicLink()) return { dir, name, names: [...names, name], release };
          pending = follow(dir, name);
          continue;
        }
        let child: DirRef;
        try {
          child = this.openIn(dir, name, [...names, name]);
        } catch (err) {
          const code = errnoOf(err);
          if (code === 'ENOENT' && o.makeParents !== undefined && made++ < MAX_HOPS + parts.length) {
            this.mkdirIn(dir, name, o.makeParents);
            pending.unshift(name);
            continue;
          }
          if (code === 'ENOTDIR' || code === 'ELOOP') {
            if (lstatIn(dir.at, name)?.isSymbolicLink()) {
              pending = [...follow(dir, name), ...pending];
              continue;
            }
          }
          throw err;
        }
        stack.push(child);
        names.push(name);
      }
      return { dir: top(), name: '', names: [...names], release };
    } catch (err) {
      release();
      throw err;
    }
  }

  /** mkdirat: made, or already a folder (a file or a link there stays an error: EEXIST). */
  mkdirIn(dir: DirRef, name: string, mode: number): void {
    try {
      mkdirSync(`${dir.at}/${name}`, { mode });
    } catch (err) {
      if (errnoOf(err) !== 'EEXIST') throw err;
      const info = lstatIn(dir.at, name);
      if (info?.isSymbolicLink()) throw denied(name, 'symbolic links are not followed');
      if (!info?.isDirectory()) throw err;
    }
  }
}

export function sameFile(a: Stats, b: Stats): boolean {
  return a.dev === b.dev && a.ino === b.ino;
}
