/**
 * The server's side of the file system, confined to its root: opening what a read request
 * names (or what the content hook hands out instead), checking and creating an upload's
 * temporary file, and placing it under its name once complete. Paths are relative to the
 * root as `resolveInRoot` returns them, and every call goes through the root's
 * ConfinedRoot: a folder swapped for a link meanwhile makes it fail, never leave the root.
 */
import { type BigIntStats, constants, createReadStream, fstatSync } from 'node:fs';
import { type FileHandle, statfs } from 'node:fs/promises';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { ErrorCode, isSockitError, SockitError } from '../errors.js';
import type { ConfinedRoot } from '../runtime/confine.js';
import { changedError, type FileEnd, readChunkSize } from './io.js';
import type { Peer } from './link.js';
import { TftpErrorCode } from './packet.js';

/** Why a request is refused: the ERROR it gets. */
export interface Refusal {
  code: TftpErrorCode | 0;
  reason: string;
}

export const refuse = (code: TftpErrorCode | 0, reason: string): Refusal => ({ code, reason });

/** What a content hook returns: a stream, and its size when known (for tsize). */
export interface Content {
  stream: Readable;
  /** Announced to the client: a stream that ends short of it, or gives more, fails the transfer (ERROR 0). */
  size?: number;
}

/** A file to read, opened; its stream is made once the block size is known. */
export interface Source {
  size: number | undefined;
  stream(blksize: number, windowsize: number): Readable;
  /** The open file, when the content is one (not a hook's stream). */
  handle?: FileHandle;
  /**
   * The file is on a local file system (localFileSystem), whose reads its sender may make on
   * the event loop while they are fast (see FILE_READS); others are read through the pool.
   */
  local?: boolean;
  /**
   * For a file on a local file system: what it must still be when its end is read (its size
   * when opened, and unchanged since: see FileEnd). Absent where sizes cannot be trusted.
   */
  end?: FileEnd;
  close(): void;
}

export interface StorageOptions {
  /** The root, opened. */
  root: ConfinedRoot;
  writable: boolean;
  overwrite: boolean;
  content?: (name: string, client: Peer) => Promise<Content | undefined> | Content | undefined;
  acceptUpload?: (name: string, client: Peer, size: number | undefined) => Promise<boolean> | boolean;
}

export class ServedFiles {
  readonly #o: StorageOptions;
  /** Upload temporaries not yet placed or removed: close() waits for them. */
  readonly #temps = new Set<string>();
  #drained: (() => void) | undefined;

  constructor(options: StorageOptions) {
    this.#o = options;
  }

  /** Opens `file` (the resolved path of `name`) for a read, or takes the hook's content. */
  async openForRead(file: string, name: string, client: Peer): Promise<Source | Refusal> {
    const hooked = await this.#o.content?.(name, client);
    if (hooked) {
      const stated = hooked.size;
      if (stated !== undefined && !(Number.isSafeInteger(stated) && stated >= 0)) {
        hooked.stream.destroy();
        throw new SockitError(
          ErrorCode.INVALID_ARGUMENT,
          `the content hook gave ${JSON.stringify(name)} a size that is not a whole number of bytes: ${stated}`,
        );
      }
      return {
        size: hooked.size,
        // A size is announced to the client (tsize): the content must be exactly that long.
        ...(hooked.size === undefined ? {} : { end: { size: hooked.size } }),
        stream: () => hooked.stream,
        close: () => hooked.stream.destroy(),
      };
    }
    let handle: FileHandle;
    try {
      handle = await this.#o.root.openFile(file, constants.O_RDONLY | constants.O_NONBLOCK);
    } catch (err) {
      return refusal(err, 'cannot read the file');
    }
    // In nanoseconds: a rewrite within the same millisecond must still change the time seen.
    const info = await handle.stat({ bigint: true }).catch(() => undefined);
    if (!info?.isFile()) {
      await handle.close();
      return refuse(TftpErrorCode.FILE_NOT_FOUND, 'not a file');
    }
    // The file as it is now; undefined once its descriptor is closed (nothing then to ask).
    const statNow = (): BigIntStats | undefined => {
      try {
        return fstatSync(handle.fd, { bigint: true });
      } catch {
        return undefined;
      }
    };
    // A stream closes the file right after its end, maybe before its last block is cut: the
    // file is looked at as the end is read.
    let atEnd: BigIntStats | undefined;
    const size = Number(info.size);
    const local = await localFileSystem(handle, Number(info.dev));
    const unchanged = (): SockitError | undefined => {
      const now = atEnd ?? statNow();
      if (now === undefined) return undefined;
      return now.size === info.size && now.mtimeNs === info.mtimeNs ? undefined : changedError();
    };
    return {
      size,
      handle,
      local,
      ...(local ? { end: { size, unchanged } } : {}),
      stream: (blksize, windowsize) => {
        const stream = createReadStream('', {
          fd: handle,
          highWaterMark: readChunkSize(blksize, windowsize),
        });
        stream.once('end', () => {
          atEnd = statNow();
        });
        return stream;
      },
      close: () => void handle.close().catch(() => {}),
    };
  }

  /** Whether an upload to `file` may go ahead: writable, new (unless overwrite), accepted by the hook. */
  async checkUpload(
    file: string,
    name: string,
    client: Peer,
    tsize: string | undefined,
  ): Promise<Refusal | undefined> {
    if (!this.#o.writable) return refuse(TftpErrorCode.ACCESS_VIOLATION, 'the server is read-only');
    const exists = await this.#o.root.stat(file).then(
      () => true,
      () => false,
    );
    if (exists && !this.#o.overwrite) return refuse(TftpErrorCode.FILE_EXISTS, 'file already exists');
    const dir = await this.#o.root.stat(path.posix.dirname(file)).catch(() => undefined);
    if (!dir?.isDirectory()) return refuse(TftpErrorCode.FILE_NOT_FOUND, 'no such folder');
    const size = tsize !== undefined && /^\d+$/.test(tsize) ? Number(tsize) : undefined;
    if (this.#o.acceptUpload && !(await this.#o.acceptUpload(name, client, size))) {
      return refuse(TftpErrorCode.ACCESS_VIOLATION, 'upload refused');
    }
    return undefined;
  }

  /** Creates a new file for an upload, in the verified folder of `file`. */
  async createInside(file: string): Promise<FileHandle | Refusal> {
    try {
      const flags = constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL;
      const handle = await this.#o.root.openFile(file, flags, 0o666);
      this.#temps.add(file);
      return handle;
    } catch {
      return refuse(TftpErrorCode.ACCESS_VIOLATION, 'cannot create the file');
    }
  }

  /** Removes an upload's temporary file (an abandoned or failed transfer). */
  async discard(temp: string): Promise<void> {
    await this.#o.root.unlink(temp).catch(() => {});
    this.#settled(temp);
  }

  /** Closes the root once every upload's temporary file is placed or removed (waits 5 s at most). */
  async close(): Promise<void> {
    if (this.#temps.size > 0) {
      await new Promise<void>((resolve) => {
        this.#drained = resolve;
        setTimeout(resolve, 5000).unref();
      });
    }
    await this.#o.root.close();
  }

  #settled(temp: string): void {
    this.#temps.delete(temp);
    if (this.#temps.size === 0) this.#drained?.();
  }

  /** Moves a finished upload into place: atomically, and without replacing unless allowed. */
  async place(temp: string, target: string): Promise<void> {
    try {
      if (this.#o.overwrite) {
        await this.#o.root.rename(temp, target);
        return;
      }
      // link() fails if anything (a file, a symlink) took the name meanwhile: no clobbering.
      await this.#o.root.link(temp, target);
      await this.#o.root.unlink(temp);
    } finally {
      this.#settled(temp);
    }
  }
}

/** The ERROR a failed file-system call on a requested path gets. */
function refusal(err: unknown, otherwise: string): Refusal {
  if (isSockitError(err, ErrorCode.PATH_DENIED))
    return refuse(TftpErrorCode.ACCESS_VIOLATION, 'outside the root');
  if (isSockitError(err, ErrorCode.EXISTS)) return refuse(TftpErrorCode.FILE_NOT_FOUND, 'not a file');
  const code = (err as NodeJS.ErrnoException).code;
  if (code === 'ENOENT' || code === 'ENOTDIR') return refuse(TftpErrorCode.FILE_NOT_FOUND, 'file not found');
  if (code === 'EACCES' || code === 'EPERM' || code === 'ELOOP')
    return refuse(TftpErrorCode.ACCESS_VIOLATION, 'permission denied');
  return refuse(0, otherwise);
}

/**
 * statfs(2) f_type of the local file systems, whose reads wait for a local device at worst:
 * ext2/3/4, XFS, Btrfs, F2FS, ZFS, tmpfs, ramfs, overlayfs (containers' layers), SquashFS;
 * and the ones of removable and read-only media a TFTP server is often pointed at: FAT
 * (vfat, msdos), exFAT, EROFS, ISO 9660, UDF, the kernel's NTFS drivers (ntfs3, ntfs); and
 * bcachefs, JFS, NILFS2, HFS+ (numbers from Linux's include/uapi/linux/magic.h and the file
 * systems' own headers). A network or FUSE file system (NFS, CIFS, sshfs, and ntfs-3g, which
 * is FUSE) may keep a read waiting for seconds.
 */
const LOCAL_FILE_SYSTEMS = new Set([
  0xef53, 0x58465342, 0x9123683e, 0xf2f52010, 0x2fc12fc1, 0x01021994, 0x858458f6, 0x794c7630, 0x73717368,
  0x4d44, 0x2011bab0, 0xe0f5e1e2, 0x9660, 0x15013346, 0x7366746e, 0x5346544e, 0xca451a4e, 0x3153464a, 0x3434,
  0x482b,
]);

/**
 * What localFileSystem found, by device: a block device's file system keeps its type while
 * mounted. Not kept for a device without a block device under it (major number 0: tmpfs,
 * NFS, FUSE, overlayfs, proc ...), whose numbers the kernel hands out again to whatever is
 * mounted next: a tmpfs's number may be a FUSE file system's after a remount.
 */
const LOCAL_BY_DEVICE = new Map<number, boolean>();
const KEPT_DEVICES = 64;

/** The major number of a device number as Linux encodes it (new_encode_dev; glibc's major()). */
function majorOf(dev: number): number {
  return ((dev >>> 8) & 0xfff) | ((Math.floor(dev / 2 ** 32) >>> 0) & ~0xfff);
}

/**
 * Whether the open file (on device `dev`, from its stat) is on a local file system: asked of
 * the file itself (its descriptor, through /proc/self/fd), so that no rename of a path between
 * open and statfs can mislead it, once per block device; false when that cannot be told (no /proc).
 */
export async function localFileSystem(handle: FileHandle, dev: number): Promise<boolean> {
  const kept = majorOf(dev) !== 0;
  const known = kept ? LOCAL_BY_DEVICE.get(dev) : undefined;
  if (known !== undefined) return known;
  let local = false;
  try {
    local = LOCAL_FILE_SYSTEMS.has((await statfs(`/proc/self/fd/${handle.fd}`)).type);
  } catch {
    return false;
  }
  if (!kept) return local;
  if (LOCAL_BY_DEVICE.size >= KEPT_DEVICES) LOCAL_BY_DEVICE.clear();
  LOCAL_BY_DEVICE.set(dev, local);
  return local;
}
