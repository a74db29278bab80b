/**
 * The server's side of the file system, confined to its root: opening what a read request
 * names (or what the content hook hands out instead), checking and creating an upload's
 * temporary file, and placing it under its name once complete.
 */
import { createReadStream } from 'node:fs';
import { type FileHandle, link, open, rename, stat, unlink } from 'node:fs/promises';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { readChunkSize } from './io.js';
import type { Peer } from './link.js';
import { TftpErrorCode } from './packet.js';
import { openedInside } from './paths.js';

/** Why a request is refused: the ERROR it gets. */
export interface Refusal {
  code: TftpErrorCode | 0;
  reason: string;
}

export const refuse = (code: TftpErrorCode | 0, reason: string): Refusal => ({ code, reason });

/** What a content hook returns: a stream, and its size when known (for tsize). */
export interface Content {
  stream: Readable;
  size?: number;
}

/** A file to read, opened; its stream is made once the block size is known. */
export interface Source {
  size: number | undefined;
  stream(blksize: number, windowsize: number): Readable;
  /** The open file, when the content is one (not a hook's stream). */
  handle?: FileHandle;
  close(): void;
}

export interface StorageOptions {
  /** The real path of the root. */
  root: string;
  writable: boolean;
  overwrite: boolean;
  content?: (name: string, client: Peer) => Promise<Content | undefined> | Content | undefined;
  acceptUpload?: (name: string, client: Peer, size: number | undefined) => Promise<boolean> | boolean;
}

export class ServedFiles {
  readonly #o: StorageOptions;

  constructor(options: StorageOptions) {
    this.#o = options;
  }

  /** Opens `file` (the resolved path of `name`) for a read, or takes the hook's content. */
  async openForRead(file: string, name: string, client: Peer): Promise<Source | Refusal> {
    const hooked = await this.#o.content?.(name, client);
    if (hooked)
      return { size: hooked.size, stream: () => hooked.stream, close: () => hooked.stream.destroy() };
    try {
      const handle = await open(file, 'r');
      if (!(await openedInside(this.#o.root, handle))) {
        await handle.close();
        return refuse(TftpErrorCode.ACCESS_VIOLATION, 'the file is outside the root');
      }
      const info = await handle.stat();
      if (!info.isFile()) {
        await handle.close();
        return refuse(TftpErrorCode.FILE_NOT_FOUND, 'not a file');
      }
      return {
        size: info.size,
        handle,
        stream: (blksize, windowsize) =>
          createReadStream('', { fd: handle, highWaterMark: readChunkSize(blksize, windowsize) }),
        close: () => void handle.close().catch(() => {}),
      };
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' || code === 'ENOTDIR')
        return refuse(TftpErrorCode.FILE_NOT_FOUND, 'file not found');
      if (code === 'EACCES' || code === 'EPERM')
        return refuse(TftpErrorCode.ACCESS_VIOLATION, 'permission denied');
      return refuse(0, 'cannot read the file');
    }
  }

  /** Whether an upload to `file` may go ahead: writable, new (unless overwrite), accepted by the hook. */
  async checkUpload(
    file: string,
    name: string,
    client: Peer,
    tsize: string | undefined,
  ): Promise<Refusal | undefined> {
    if (!this.#o.writable) return refuse(TftpErrorCode.ACCESS_VIOLATION, 'the server is read-only');
    const exists = await stat(file).then(
      () => true,
      () => false,
    );
    if (exists && !this.#o.overwrite) return refuse(TftpErrorCode.FILE_EXISTS, 'file already exists');
    const dir = await stat(path.dirname(file)).catch(() => undefined);
    if (!dir?.isDirectory()) return refuse(TftpErrorCode.FILE_NOT_FOUND, 'no such folder');
    const size = tsize !== undefined && /^\d+$/.test(tsize) ? Number(tsize) : undefined;
    if (this.#o.acceptUpload && !(await this.#o.acceptUpload(name, client, size))) {
      return refuse(TftpErrorCode.ACCESS_VIOLATION, 'upload refused');
    }
    return undefined;
  }

  /** Creates a new file for an upload, refused if the folder it landed in is outside the root. */
  async createInside(file: string): Promise<FileHandle | Refusal> {
    let handle: FileHandle;
    try {
      handle = await open(file, 'wx');
    } catch {
      return refuse(TftpErrorCode.ACCESS_VIOLATION, 'cannot create the file');
    }
    if (await openedInside(this.#o.root, handle)) return handle;
    await handle.close();
    await unlink(file).catch(() => {});
    return refuse(TftpErrorCode.ACCESS_VIOLATION, 'the folder is outside the root');
  }

  /** Moves a finished upload into place: atomically, and without replacing unless allowed. */
  async place(temp: string, target: string): Promise<void> {
    if (this.#o.overwrite) {
      await rename(temp, target);
      return;
    }
    // link() fails if anything (a file, a symlink) took the name meanwhile: no clobbering.
    await link(temp, target);
    await unlink(temp);
  }
}
