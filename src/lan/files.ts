/**
 * File and folder transfer of the LAN messenger, over TCP on the messenger's port:
 *
 * - serving (`FileOffers`): files and folders offered in a message may be fetched by the peer
 *   they were sent to, from its address, while the offer lasts; a request is one packet
 *   (GETFILEDATA `pkt:fid:offset` or GETDIRFILES `pkt:fid`, all hex), read with a size cap and
 *   a time limit; the answer is the file's bytes, or the folder stream (attachments.ts). A
 *   folder is walked through a confined root: links are never followed, and only folders and
 *   regular files are sent.
 * - receiving (`fetchAttachment`): the file or folder is written into a destination folder
 *   through a confined root, under a name of its own (`name (1)` when `name` is taken: nothing
 *   is overwritten), to a hidden part file first, renamed when complete.
 */

import { randomBytes } from 'node:crypto';
import { constants } from 'node:fs';
import { open, realpath, stat, statfs } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import { ErrorCode, SockitError } from '../errors.js';
import { ConfinedRoot } from '../runtime/confine.js';
import {
  type Attachment,
  buildDirHeader,
  type DirEvent,
  DirStreamParser,
  safeFileName,
} from './attachments.js';
import { buildPacket, type Charset, charsetOf, FileType, Mode, mode, Opt, parsePacket } from './ipmsg.js';
import type { LanAddress } from './node.js';

export interface OfferedFile extends Attachment {
  /** Where it is here. */
  path: string;
  /**
   * Which file or folder it was when offered (device and inode): one that stands at that path
   * later, a folder above it swapped for a link say, is not it and is not served.
   */
  dev: number;
  ino: number;
}

interface Offer {
  address: string;
  files: Map<number, OfferedFile>;
  expires: number;
  charset: Charset;
}

/** The longest request packet. */
const MAX_REQUEST = 1024;

export interface OffersOptions {
  /** How long an offer may be fetched, in ms. Default one hour. */
  ttlMs?: number;
  /** A request must arrive within this, in ms. Default 10 s. */
  requestTimeoutMs?: number;
  /** Transfers at once. Default 16. */
  maxTransfers?: number;
  /** Called when a transfer starts and ends (for progress lines). */
  onTransfer?: (event: {
    file: OfferedFile;
    to: string;
    done: boolean;
    bytes: number;
    error?: string;
  }) => void;
  now?: () => number;
}

export class FileOffers {
  readonly #offers = new Map<number, Offer>();
  #nextId = Math.floor(Math.random() * 0x3fff0000);
  #active = 0;
  readonly #perAddress = new Map<string, number>();
  readonly #o: Required<Omit<OffersOptions, 'onTransfer'>> & Pick<OffersOptions, 'onTransfer'>;

  constructor(options: OffersOptions = {}) {
    this.#o = {
      ttlMs: options.ttlMs ?? 3600_000,
      requestTimeoutMs: options.requestTimeoutMs ?? 10_000,
      maxTransfers: options.maxTransfers ?? 16,
      onTransfer: options.onTransfer,
      now: options.now ?? Date.now,
    };
  }

  /** The attachments for `paths` (files or folders), with ids of their own. */
  async prepare(paths: readonly string[]): Promise<OfferedFile[]> {
    const out: OfferedFile[] = [];
    for (const p of paths) {
      const st = await stat(p);
      const name = safeFileName(path.basename(path.resolve(p)));
      if (name === undefined) throw new SockitError(ErrorCode.INVALID_ARGUMENT, `${p}: not a name to send`);
      if (!st.isFile() && !st.isDirectory())
        throw new SockitError(ErrorCode.INVALID_ARGUMENT, `${p}: not a file or a folder`);
      this.#nextId = (this.#nextId + 1) % 0x3fffffff;
      out.push({
        id: this.#nextId,
        name,
        size: st.isFile() ? st.size : 0,
        mtime: Math.floor(st.mtimeMs / 1000),
        attr: st.isFile() ? FileType.REGULAR : FileType.DIR,
        path: await realpath(p),
        dev: st.dev,
        ino: st.ino,
      });
    }
    return out;
  }

  /** Offers `files` to the peer at `address`, under the number of the message that carried them. */
  add(packetNo: number, address: string, files: readonly OfferedFile[], charset: Charset): void {
    this.#sweep();
    this.#offers.set(packetNo, {
      address,
      files: new Map(files.map((f) => [f.id, f])),
      expires: this.#o.now() + this.#o.ttlMs,
      charset,
    });
  }

  /** The peer at `address` will not fetch the files of `packetNo` (RELEASEFILES). */
  release(packetNo: number, address: string): void {
    if (this.#offers.get(packetNo)?.address === address) this.#offers.delete(packetNo);
  }

  #sweep(): void {
    const now = this.#o.now();
    for (const [n, offer] of this.#offers) if (offer.expires <= now) this.#offers.delete(n);
  }

  /** Serves one TCP connection: one request, then the file or folder, then the end. */
  handle(socket: net.Socket, legacy: Charset): void {
    socket.on('error', () => {});
    // A peer that stops reading (or sending its request) is dropped after a minute of nothing.
    socket.setTimeout(60_000, () => socket.destroy());
    const timer = setTimeout(() => socket.destroy(), this.#o.requestTimeoutMs);
    let request = Buffer.alloc(0);
    const onData = (chunk: Buffer): void => {
      request = Buffer.concat([request, chunk]);
      if (request.length > MAX_REQUEST) {
        socket.destroy();
        return;
      }
      const packet = parsePacket(request, legacy);
      // A request is complete once its extra holds the numbers (packet:file[:offset]).
      if (packet === undefined || !/^[0-9a-fA-F]+:[0-9a-fA-F]+(:|$)/.test(packet.extra.toString('latin1')))
        return;
      socket.off('data', onData);
      clearTimeout(timer);
      socket.pause();
      this.#serve(socket, packet.command, packet.extra.toString('latin1')).catch(() => socket.destroy());
    };
    socket.on('data', onData);
  }

  async #serve(socket: net.Socket, command: number, extra: string): Promise<void> {
    this.#sweep();
    const [pktHex = '', fidHex = '', offsetHex = '0'] = extra.replace(/\0.*$/s, '').split(':');
    const offer = this.#offers.get(Number.parseInt(pktHex, 16));
    const address = normalize(socket.remoteAddress ?? '');
    const file = offer?.files.get(Number.parseInt(fidHex, 16));
    // Only the peer the files were sent to, from its address, for what was offered.
    if (offer === undefined || file === undefined || offer.address !== address) {
      socket.destroy();
      return;
    }
    const wantsDir = mode(command) === Mode.GETDIRFILES;
    const mine = this.#perAddress.get(address) ?? 0;
    // All the transfers at once, and a quarter of them for one peer.
    const busy = this.#active >= this.#o.maxTransfers || mine >= Math.max(1, this.#o.maxTransfers / 4);
    if (wantsDir !== ((file.attr & 0xff) === FileType.DIR) || busy) {
      socket.destroy();
      return;
    }
    const charset = has8(command) ? 'utf-8' : offer.charset;
    this.#active++;
    this.#perAddress.set(address, mine + 1);
    let bytes = 0;
    const report = (done: boolean, error?: string) =>
      this.#o.onTransfer?.({ file, to: address, done, bytes, ...(error ? { error } : {}) });
    report(false);
    try {
      if (wantsDir) {
        bytes = await sendFolder(socket, file, charset);
      } else {
        const offset = /^[0-9a-fA-F]{1,13}$/.test(offsetHex) ? Number.parseInt(offsetHex, 16) : 0;
        bytes = await sendFile(socket, file, Math.min(offset, file.size));
      }
      socket.end();
      report(true);
    } catch (err) {
      socket.destroy();
      report(true, (err as Error).message);
    } finally {
      this.#active--;
      const left = (this.#perAddress.get(address) ?? 1) - 1;
      if (left > 0) this.#perAddress.set(address, left);
      else this.#perAddress.delete(address);
    }
  }
}

const has8 = (command: number): boolean => (command & Opt.UTF8) === Opt.UTF8;

/** `::ffff:10.0.0.1` as `10.0.0.1`: UDP and TCP may see one peer in either form. */
export function normalize(address: string): string {
  return address.startsWith('::ffff:') && address.includes('.') ? address.slice(7) : address;
}

const closed = (): SockitError => new SockitError(ErrorCode.CONNECTION_CLOSED, 'the connection closed');

/** Writes `data` with backpressure; rejects when the connection is gone. */
function write(socket: net.Socket, data: Buffer): Promise<void> {
  if (socket.destroyed) return Promise.reject(closed());
  if (socket.write(data)) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const done = (err?: SockitError) => {
      socket.off('drain', ok);
      socket.off('close', gone);
      if (err) reject(err);
      else resolve();
    };
    const ok = () => done();
    const gone = () => done(closed());
    socket.once('drain', ok);
    socket.once('close', gone);
  });
}

/**
 * The bytes of an offered file from `offset`, and no more than its offered size: opened
 * without following a link or waiting on a FIFO, and only if it is still the file offered.
 */
async function sendFile(socket: net.Socket, file: OfferedFile, offset: number): Promise<number> {
  let bytes = 0;
  const handle = await open(file.path, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  try {
    const st = await handle.stat();
    if (!st.isFile() || st.dev !== file.dev || st.ino !== file.ino) {
      throw new SockitError(ErrorCode.PATH_DENIED, `${file.name} is not the file that was offered any more`);
    }
    let left = file.size - offset;
    let at = offset;
    const buffer = Buffer.allocUnsafe(256 * 1024);
    while (left > 0) {
      const { bytesRead } = await handle.read(buffer, 0, Math.min(buffer.length, left), at);
      if (bytesRead === 0) throw new SockitError(ErrorCode.IO, `${file.name} shrank while being sent`);
      left -= bytesRead;
      at += bytesRead;
      bytes += bytesRead;
      await write(socket, Buffer.from(buffer.subarray(0, bytesRead)));
    }
  } finally {
    await handle.close();
  }
  return bytes;
}

/** The folder stream of an offered folder: itself, its folders and regular files, depth first. */
async function sendFolder(socket: net.Socket, top: OfferedFile, charset: Charset): Promise<number> {
  const root = await ConfinedRoot.open(top.path);
  const st = await root.stat('').catch(() => undefined);
  if (st === undefined || st.dev !== top.dev || st.ino !== top.ino) {
    await root.close();
    throw new SockitError(ErrorCode.PATH_DENIED, `${top.name} is not the folder that was offered any more`);
  }
  let bytes = 0;
  const walk = async (rel: string[], depth: number): Promise<void> => {
    if (depth > 32) return;
    for (const entry of await root.readdir(rel, { max: 100_000 })) {
      const mtime = Math.floor(entry.stats.mtimeMs / 1000);
      const name = safeFileName(entry.name);
      if (name === undefined) continue;
      if (entry.stats.isDirectory()) {
        await write(socket, buildDirHeader({ name, size: 0, attr: FileType.DIR, mtime }, charset));
        await walk([...rel, name], depth + 1);
        await write(socket, buildDirHeader({ name: '.', size: 0, attr: FileType.RETPARENT, mtime }, charset));
      } else if (entry.stats.isFile()) {
        const handle = await root
          .openFile([...rel, name], constants.O_RDONLY | constants.O_NONBLOCK)
          .catch(() => undefined);
        if (handle === undefined) continue; // gone, or turned into a link: not sent
        try {
          const st = await handle.stat();
          if (!st.isFile()) continue; // turned into something else meanwhile
          await write(
            socket,
            buildDirHeader({ name, size: st.size, attr: FileType.REGULAR, mtime }, charset),
          );
          let left = st.size;
          const buffer = Buffer.allocUnsafe(256 * 1024);
          while (left > 0) {
            const { bytesRead } = await handle.read(buffer, 0, Math.min(buffer.length, left), null);
            if (bytesRead === 0) {
              // It shrank while being sent: the header promised more; the stream is ended broken.
              throw new SockitError(ErrorCode.IO, `${name} shrank while being sent`);
            }
            left -= bytesRead;
            bytes += bytesRead;
            await write(socket, Buffer.from(buffer.subarray(0, bytesRead)));
          }
        } finally {
          await handle.close();
        }
      }
    }
  };
  try {
    await write(
      socket,
      buildDirHeader({ name: top.name, size: 0, attr: FileType.DIR, mtime: top.mtime }, charset),
    );
    await walk([], 1);
    await write(
      socket,
      buildDirHeader({ name: '.', size: 0, attr: FileType.RETPARENT, mtime: top.mtime }, charset),
    );
  } finally {
    await root.close();
  }
  return bytes;
}

export interface FetchOptions {
  /** Our names, for the request packet. */
  user: string;
  host: string;
  /** The packet number for the request. */
  packetNo: number;
  /** The message's number, which names the offer. */
  messageNo: string;
  /** The charset the message came in. */
  charset: Charset;
  /** Give up when nothing arrives for this long, in ms. Default 60 s. */
  stallMs?: number;
  /** Called with the bytes received so far. */
  onProgress?: (bytes: number) => void;
  /** A folder's limits. */
  maxDepth?: number;
  maxEntries?: number;
  /** Bytes a file, or a folder's files together, may have at most. Default 4 GiB. */
  maxBytes?: number;
  /** Ends the transfer (its part file removed). */
  signal?: AbortSignal;
}

/** What a fetch keeps free on the destination's file system besides what it writes. */
const SPARE_BYTES = 64 * 1024 * 1024;

/**
 * Fetches one attachment of a message from `from` into the folder `dest`; resolves with the
 * name it was saved under (inside `dest`).
 */
export async function fetchAttachment(
  from: LanAddress,
  attachment: Attachment,
  dest: string,
  options: FetchOptions,
): Promise<{ name: string; bytes: number }> {
  const isDir = (attachment.attr & 0xff) === FileType.DIR;
  const utf8 = options.charset === 'utf-8';
  const command = (isDir ? Mode.GETDIRFILES : Mode.GETFILEDATA) | (utf8 ? Opt.UTF8 : 0);
  const extra = isDir
    ? `${Number(options.messageNo).toString(16)}:${attachment.id.toString(16)}:`
    : `${Number(options.messageNo).toString(16)}:${attachment.id.toString(16)}:0:`;
  const request = buildPacket(
    { packetNo: options.packetNo, user: options.user, host: options.host, command, extra },
    charsetOf(command, options.charset),
  );
  const maxBytes = options.maxBytes ?? 4 * 1024 ** 3;
  if (attachment.size > maxBytes) {
    throw new SockitError(
      ErrorCode.FILE_TOO_LARGE,
      `${attachment.name} is ${attachment.size} bytes, more than the ${maxBytes} taken`,
    );
  }
  // Room for what is announced (a folder announces nothing: its files are counted as they come).
  const fs = await statfs(dest);
  const free = fs.bavail * fs.bsize;
  if (attachment.size + SPARE_BYTES > free) {
    throw new SockitError(
      ErrorCode.QUOTA_EXCEEDED,
      `no room for ${attachment.name} in ${dest} (${free} bytes free)`,
    );
  }
  const root = await ConfinedRoot.open(dest);
  const socket = net.connect({ host: from.address, port: from.port, timeout: 10_000 });
  const abort = () => socket.destroy(new SockitError(ErrorCode.ABORTED, 'the transfer was stopped'));
  options.signal?.addEventListener('abort', abort, { once: true });
  try {
    socket.setNoDelay(true);
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', () => {
        socket.setTimeout(0);
        resolve();
      });
      socket.once('timeout', () =>
        socket.destroy(
          new SockitError(ErrorCode.CONNECT_FAILED, `${from.address}:${from.port} did not answer`),
        ),
      );
      socket.once('error', reject);
      socket.once('close', () => reject(new SockitError(ErrorCode.ABORTED, 'the transfer was stopped')));
    });
    socket.write(request);
    const limits = { ...options, maxBytes: Math.min(maxBytes, Math.max(0, free - SPARE_BYTES)) };
    return isDir
      ? await receiveFolder(socket, root, attachment.name, limits)
      : await receiveFile(socket, root, attachment, limits);
  } finally {
    options.signal?.removeEventListener('abort', abort);
    socket.destroy();
    await root.close();
  }
}

/** A hidden name for what is being received, short whatever the name it will get. */
const partName = () => `.sockit-${randomBytes(6).toString('hex')}.part`;

/** A name in `root` that is not taken: `name`, else `name (1)`, `name (2)`, ... */
async function freeName(name: string, taken: (n: string) => Promise<boolean>): Promise<string> {
  const ext = path.extname(name);
  const stem = ext && ext !== name ? name.slice(0, -ext.length) : name;
  for (let i = 0; i < 1000; i++) {
    const candidate = i === 0 ? name : `${stem} (${i})${ext}`;
    if (!(await taken(candidate))) return candidate;
  }
  throw new SockitError(ErrorCode.EXISTS, `${name}: no free name in the destination`);
}

const exists = (root: ConfinedRoot) => (name: string) =>
  root.stat(name).then(
    () => true,
    (err: unknown) => (err as NodeJS.ErrnoException).code !== 'ENOENT',
  );

/** Bytes from `socket` as they come, failing after `stallMs` without any. */
async function* chunks(socket: net.Socket, stallMs: number): AsyncGenerator<Buffer> {
  let timer: NodeJS.Timeout | undefined;
  const arm = () => {
    clearTimeout(timer);
    timer = setTimeout(
      () => socket.destroy(new SockitError(ErrorCode.IDLE_TIMEOUT, 'the sender stopped sending')),
      stallMs,
    );
  };
  arm();
  try {
    for await (const chunk of socket) {
      arm();
      yield chunk as Buffer;
    }
  } finally {
    clearTimeout(timer);
    socket.destroy();
  }
}

async function receiveFile(
  socket: net.Socket,
  root: ConfinedRoot,
  attachment: Attachment,
  options: FetchOptions,
): Promise<{ name: string; bytes: number }> {
  const part = partName();
  const handle = await root.openFile(part, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, 0o644);
  let bytes = 0;
  let ok = false;
  try {
    for await (const chunk of chunks(socket, options.stallMs ?? 60_000)) {
      const take = Math.min(chunk.length, attachment.size - bytes);
      if (take > 0) await handle.write(chunk.subarray(0, take));
      bytes += take;
      options.onProgress?.(bytes);
      if (bytes >= attachment.size) break;
    }
    await handle.close();
    if (bytes < attachment.size) {
      throw new SockitError(
        ErrorCode.CONNECTION_CLOSED,
        `${attachment.name}: the sender stopped after ${bytes} of ${attachment.size} bytes`,
      );
    }
    // A link to the final name fails if it exists: never an overwrite, even against a race.
    for (;;) {
      const name = await freeName(attachment.name, exists(root));
      try {
        await root.link(part, name);
        ok = true;
        return { name, bytes };
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      }
    }
  } finally {
    await handle.close().catch(() => {});
    await root.unlink(part).catch(() => {});
    if (!ok) socket.destroy();
  }
}

async function receiveFolder(
  socket: net.Socket,
  root: ConfinedRoot,
  name: string,
  options: FetchOptions,
): Promise<{ name: string; bytes: number }> {
  const parser = new DirStreamParser(options.charset, {
    maxDepth: options.maxDepth ?? 32,
    maxEntries: options.maxEntries ?? 100_000,
  });
  // The folder goes in under a part name, renamed once complete.
  const part = partName();
  await root.mkdir(part);
  const where: string[] = [];
  let file: import('node:fs/promises').FileHandle | undefined;
  let bytes = 0;
  let complete = false;
  const apply = async (event: DirEvent): Promise<void> => {
    switch (event.kind) {
      case 'dir':
        // The first entry is the folder itself: it is the part folder.
        if (where.length === 0 && !complete) {
          where.push(part);
          return;
        }
        where.push(event.name);
        await root.mkdir(where).catch(async (err: unknown) => {
          // A folder sent twice is entered again; anything else that is there is an error.
          if (!(await root.stat(where)).isDirectory()) throw err;
        });
        return;
      case 'file':
        if (!event.keep) return;
        file = await root.openFile(
          [...where, event.name],
          constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL,
          0o644,
        );
        return;
      case 'data':
        bytes += event.bytes.length;
        if (bytes > (options.maxBytes ?? Number.POSITIVE_INFINITY)) {
          throw new SockitError(ErrorCode.FILE_TOO_LARGE, `${name}: more than ${options.maxBytes} bytes`);
        }
        if (file) await file.write(event.bytes);
        options.onProgress?.(bytes);
        return;
      case 'file-end':
        await file?.close();
        file = undefined;
        return;
      case 'up':
        where.pop();
        return;
      case 'end':
        complete = true;
        return;
    }
  };
  try {
    for await (const chunk of chunks(socket, options.stallMs ?? 60_000)) {
      for (const event of parser.push(chunk)) await apply(event);
      if (complete) break;
    }
    if (!complete)
      throw new SockitError(
        ErrorCode.CONNECTION_CLOSED,
        `${name}: the folder stream ended before the folder did`,
      );
    for (;;) {
      const final = await freeName(name, exists(root));
      try {
        // rename(2) would replace an empty folder made between the check and here: a race
        // with an empty folder at most, never lost contents (a folder with any is ENOTEMPTY).
        await root.rename(part, final);
        return { name: final, bytes };
      } catch (err) {
        if (
          (err as NodeJS.ErrnoException).code !== 'EEXIST' &&
          (err as NodeJS.ErrnoException).code !== 'ENOTEMPTY'
        )
          throw err;
      }
    }
  } catch (err) {
    await file?.close().catch(() => {});
    await root.remove(part).catch(() => {});
    throw err;
  }
}
