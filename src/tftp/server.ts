/**
 * The TFTP server: requests arrive on the well-known port, and each transfer runs on a
 * socket of its own (its TID), driven by the sender or receiver state machine.
 */
import type dgram from 'node:dgram';
import { createReadStream, createWriteStream, readFileSync } from 'node:fs';
import { type FileHandle, link, open, realpath, rename, stat, unlink } from 'node:fs/promises';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { ErrorCode, formatHostPort, SockitError } from '../errors.js';
import { DEFAULT_POLL_US } from '../runtime/busy-poll.js';
import { type Logger, silentLogger } from '../runtime/log.js';
import { announceListening, checkInteger, type Service } from '../runtime/service.js';
import { bindUdp } from '../runtime/udp.js';
import type { Rollover } from './blocks.js';
import type { TftpError } from './errors.js';
import { BlockPump, BlockWriter, FilePump, type Pump, readChunkSize } from './io.js';
import { type Peer, TransferLink } from './link.js';
import { MAX_BLKSIZE, negotiate, type ServerLimits, type TransferOptions } from './options.js';
import { decodePacket, encodeError, encodeOack, Opcode, type Request, TftpErrorCode } from './packet.js';
import { openedInside, type RewriteRule, resolveInRoot, temporaryBeside } from './paths.js';
import { TftpReceiver } from './receiver.js';
import { Rto } from './rto.js';
import { type SessionOptions, TftpSender, type TransferStats } from './sender.js';

/** The receive buffer asked for uploads; the kernel may give less (net.core.rmem_max). */
const MAX_RECEIVE_BUFFER = 8 * 1024 * 1024;

/** A client's receive buffer, assumed to be the system default (net.core.rmem_default). */
function defaultReceiveBuffer(): number {
  try {
    return Number(readFileSync('/proc/sys/net/core/rmem_default', 'utf8').trim()) || 212_992;
  } catch {
    return 212_992;
  }
}

/** The TFTP port (RFC 1350). */
export const TFTP_PORT = 69;
/** The unprivileged port `sockit serve` uses for TFTP. */
export const TFTP_SERVE_PORT = 6969;

/** What a content hook returns: a stream, and its size when known (for tsize). */
export interface Content {
  stream: Readable;
  size?: number;
}

export interface TftpServerOptions {
  /** Folder served; every path stays inside it. */
  root: string;
  host?: string;
  /** Default 69. */
  port?: number;
  /** Accept uploads (WRQ). Default false. */
  writable?: boolean;
  /** Let uploads replace existing files. Default false. */
  overwrite?: boolean;
  /** Largest upload, in bytes. Default 4 GiB. */
  maxFileSize?: number;
  /** Transfers at once; more requests get ERROR 0 "server busy". Default 1000. */
  maxTransfers?: number;
  /** Largest blksize granted. Default 65464. */
  maxBlksize?: number;
  /** Largest windowsize granted. Default 64. */
  maxWindowsize?: number;
  /** First retransmission timeout in ms, when the client negotiates none. Default 1000. */
  timeoutMs?: number;
  /** Timeouts in a row before a transfer is abandoned, and not before `retries` x `timeoutMs`. Default 5. */
  retries?: number;
  /** Options never granted. */
  refuse?: readonly string[];
  /** Rewrite rules applied to requested names, in order. */
  rewrite?: readonly RewriteRule[];
  /** Block number after 65535. Default 0. */
  rollover?: Rollover;
  /**
   * After each send, poll for the client's answer this many microseconds before sleeping,
   * while its answers come back that fast (see AnswerPoll): a lock-step client on the same
   * host or a fast LAN is served without a wake-up per block. 0 turns it off. Default 100.
   */
  busyPollUs?: number;
  /**
   * Serves content that is not a file: called for every read request before the disk is
   * looked at; return undefined to fall back to the file under the root.
   */
  content?: (name: string, client: Peer) => Promise<Content | undefined> | Content | undefined;
  /** Accepts or refuses an upload (after the read-only and existence checks). */
  acceptUpload?: (name: string, client: Peer, size: number | undefined) => Promise<boolean> | boolean;
  log?: Logger;
}

export interface TftpService extends Service {
  readonly protocol: 'udp';
  /** Transfers running now. */
  readonly transfers: number;
}

interface Refusal {
  code: TftpErrorCode | 0;
  reason: string;
}

const refuse = (code: TftpErrorCode | 0, reason: string): Refusal => ({ code, reason });

/**
 * Starts a TFTP server and resolves once it listens.
 *
 * @example
 * ```ts
 * const tftp = await serveTftp({ root: '/srv/tftp', port: 6969 });
 * ```
 */
export async function serveTftp(options: TftpServerOptions): Promise<TftpService> {
  const log = (options.log ?? silentLogger).child({ service: 'tftp' });
  const root = await realpath(options.root).catch((err: unknown) => {
    throw new SockitError(ErrorCode.INVALID_ARGUMENT, `tftp: root ${options.root} is not a folder`, {
      cause: err,
    });
  });
  if (!(await stat(root)).isDirectory()) {
    throw new SockitError(ErrorCode.INVALID_ARGUMENT, `tftp: root ${options.root} is not a folder`);
  }
  const limits: ServerLimits = {
    maxBlksize: checkInteger('maxBlksize', options.maxBlksize ?? MAX_BLKSIZE, 8, MAX_BLKSIZE),
    maxWindowsize: checkInteger('maxWindowsize', options.maxWindowsize ?? 64, 1, 65535),
    refuse: new Set((options.refuse ?? []).map((o) => o.toLowerCase())),
    maxFileSize: options.maxFileSize ?? 4 * 1024 ** 3,
  };
  const maxTransfers = checkInteger('maxTransfers', options.maxTransfers ?? 1000, 1, 100_000);
  const timeoutMs = checkInteger('timeoutMs', options.timeoutMs ?? 1000, 10, 255_000);
  const retries = checkInteger('retries', options.retries ?? 5, 0, 100);
  const pollUs = checkInteger('busyPollUs', options.busyPollUs ?? DEFAULT_POLL_US, 0, 10_000);
  const rollover = options.rollover ?? 0;
  const rules = options.rewrite ?? [];
  const peerReceiveBuffer = defaultReceiveBuffer();
  const port = options.port ?? TFTP_PORT;

  const main = await bindUdp({ host: options.host, port, what: 'tftp' });
  const local = main.address();
  const active = new Map<string, TransferLink>();
  let closing = false;

  const reply = (to: dgram.RemoteInfo, refusal: Refusal): void => {
    main.send(encodeError(refusal.code, refusal.reason), to.port, to.address);
  };

  main.on('message', (msg, from) => {
    if (closing) return;
    const decoded = decodePacket(msg);
    if (!decoded.ok) {
      log.warn({ client: formatHostPort(from.address, from.port), reason: decoded.reason }, 'bad request');
      return reply(from, refuse(decoded.code, decoded.reason));
    }
    const request = decoded.packet;
    if (request.opcode !== Opcode.RRQ && request.opcode !== Opcode.WRQ) {
      // DATA, ACK, ERROR or OACK to the request port belong to no transfer.
      if (request.opcode !== Opcode.ERROR)
        reply(from, refuse(TftpErrorCode.UNKNOWN_TID, 'no transfer on this port'));
      return;
    }
    const key = `${from.address}|${from.port}`;
    if (active.has(key)) return; // a repeated request: the transfer already answers it
    if (active.size >= maxTransfers) return reply(from, refuse(0, 'server busy, try again later'));
    void start(request, { address: from.address, port: from.port }, key).catch((err: unknown) => {
      log.error({ err }, 'transfer failed to start');
    });
  });

  async function start(request: Request, client: Peer, key: string): Promise<void> {
    const socket = await bindUdp({ host: local.address, port: 0, what: 'tftp transfer' });
    const link = new TransferLink(socket, client.address, client, pollUs);
    active.set(key, link);
    const began = Date.now();
    const write = request.opcode === Opcode.WRQ;
    const entry = { client: formatHostPort(client.address, client.port), file: request.filename };
    let logged = false;
    /** Ends the transfer for good: its socket closes and its client may ask again. */
    const release = (): void => {
      link.close();
      active.delete(key);
    };
    /** Logs the one line of the transfer; failures release at once. */
    const finish = (ok: boolean, stats: TransferStats | undefined, error?: string): void => {
      if (logged) return;
      logged = true;
      if (!ok) release();
      const ms = Date.now() - began;
      const line = {
        ...entry,
        direction: write ? 'write' : 'read',
        bytes: stats?.bytes ?? 0,
        blocks: stats?.blocks ?? 0,
        retransmits: stats?.retransmits ?? 0,
        strangers: link.strangers,
        ms,
        mbPerSecond: Math.round(((stats?.bytes ?? 0) / Math.max(ms, 1) / 1000) * 100) / 100,
        ok,
        ...(error ? { error } : {}),
      };
      if (ok) log.info(line, 'transfer');
      else log.warn(line, 'transfer');
    };
    const deny = (refusal: Refusal): void => {
      link.send(encodeError(refusal.code, refusal.reason));
      finish(false, undefined, refusal.reason);
    };

    const resolved = await resolveInRoot(
      root,
      request.filename,
      rules,
      client.address.replace(/^::ffff:/, ''),
    );
    if (!resolved.ok) return deny(resolved);
    /** What either end runs with once negotiated; the OACK, if any, is its block 0. */
    const session = (
      o: TransferOptions,
      oack: Map<string, string> | undefined,
    ): SessionOptions & { initial?: Buffer } => ({
      blksize: o.blksize,
      windowsize: o.windowsize,
      rollover,
      rto: new Rto({ initialMs: o.timeoutMs ?? timeoutMs, fixed: o.timeoutMs !== undefined }),
      retries,
      initial: oack ? encodeOack(oack) : undefined,
      now: Date.now,
    });
    const netascii = request.mode === 'netascii';

    if (!write) {
      const content = await openForRead(resolved.path, resolved.name, client);
      if ('code' in content) return deny(content);
      const negotiated = negotiate(
        request.options,
        { ...limits, receiveBuffer: peerReceiveBuffer },
        'read',
        netascii ? undefined : content.size,
      );
      if (!negotiated.ok) {
        content.close();
        return deny(negotiated);
      }
      const o = negotiated.options;
      socket.setSendBufferSize(
        Math.max(64 * 1024, Math.min(8 * 1024 * 1024, 2 * o.windowsize * (o.blksize + 64))),
      );
      const sender = new TftpSender(session(o, negotiated.oack), {
        send: link.send,
        arm: link.arm,
        disarm: link.disarm,
        complete: () => {
          pump.stop();
          finish(true, sender.stats);
          release();
        },
        fail: (err: TftpError) => {
          pump.stop();
          finish(false, sender.stats, err.message);
        },
      });
      const readFailed = (err: Error): void => {
        link.send(encodeError(0, 'read error'));
        finish(false, sender.stats, err.message);
      };
      // A file in octet mode is read into reused buffers; netascii and hooks' streams go through a stream.
      const pump: Pump =
        content.handle && !netascii
          ? new FilePump(content.handle, sender, readFailed)
          : new BlockPump(content.stream(o.blksize, o.windowsize), sender, o.blksize, netascii, readFailed);
      link.attach({
        packet: (packet) => {
          if (packet.opcode === Opcode.ACK) {
            sender.ack(packet.block);
            pump.pump();
          } else if (packet.opcode === Opcode.ERROR) {
            pump.stop();
            finish(false, sender.stats, `client sent ERROR ${packet.code}: ${packet.message}`);
          }
        },
        malformed: (_code, reason) => {
          pump.stop();
          finish(false, sender.stats, reason);
        },
        timeout: () => {
          sender.timeout();
          pump.pump();
        },
      });
      sender.start();
      pump.start(o.blksize);
      return;
    }

    const upload = await checkUpload(resolved.path, resolved.name, client, request.options.get('tsize'));
    if (upload) return deny(upload);
    // Ask for a receive buffer that holds the largest window we grant, then grant only what fits.
    socket.setRecvBufferSize(MAX_RECEIVE_BUFFER);
    const ours = socket.getRecvBufferSize() / 2; // Linux reports twice what it charges against
    const negotiated = negotiate(request.options, { ...limits, receiveBuffer: ours }, 'write', undefined);
    if (!negotiated.ok) return deny(negotiated);
    const o = negotiated.options;
    const temp = temporaryBeside(resolved.path);
    const created = await createInside(temp);
    if ('code' in created) return deny(created);
    const file = createWriteStream('', { fd: created });
    let failed = false;
    const discard = (): void => {
      if (failed) return;
      failed = true;
      // Unlink once the stream has closed: it may still be creating the file.
      file.once('close', () => void unlink(temp).catch(() => {}));
      file.destroy();
    };
    const writer = new BlockWriter(file, {
      netascii,
      onError: () => {
        if (failed) return;
        link.send(encodeError(TftpErrorCode.DISK_FULL, 'write failed'));
        discard();
        finish(false, receiver.stats, 'write failed');
      },
      onDrain: () => receiver.resume(),
    });
    const receiver: TftpReceiver = new TftpReceiver(
      { ...session(o, negotiated.oack), maxBytes: limits.maxFileSize },
      {
        send: link.send,
        arm: link.arm,
        disarm: link.disarm,
        write: (data) => writer.write(data),
        complete: () =>
          writer
            .finish()
            .then(() => place(temp, resolved.path, options.overwrite ?? false))
            .then(() => finish(true, receiver.stats)),
        // The dally is over: only now may the client's TID be used again.
        close: release,
        fail: (err: TftpError) => {
          discard();
          finish(false, receiver.stats, err.message);
        },
      },
    );
    link.attach({
      packet: (packet) => {
        if (packet.opcode === Opcode.DATA) receiver.data(packet.block, packet.data);
        else if (packet.opcode === Opcode.ERROR) {
          discard();
          finish(false, receiver.stats, `client sent ERROR ${packet.code}: ${packet.message}`);
        }
      },
      malformed: (_code, reason) => {
        discard();
        finish(false, receiver.stats, reason);
      },
      timeout: () => receiver.timeout(),
    });
    receiver.start();
  }

  /** A file to read, opened; its stream is made once the block size is known. */
  interface Source {
    size: number | undefined;
    stream(blksize: number, windowsize: number): Readable;
    /** The open file, when the content is one (not a hook's stream). */
    handle?: FileHandle;
    close(): void;
  }

  async function openForRead(file: string, name: string, client: Peer): Promise<Source | Refusal> {
    const hooked = await options.content?.(name, client);
    if (hooked)
      return { size: hooked.size, stream: () => hooked.stream, close: () => hooked.stream.destroy() };
    try {
      const handle = await open(file, 'r');
      if (!(await openedInside(root, handle))) {
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

  /** Creates a new file for an upload, refused if the folder it landed in is outside the root. */
  async function createInside(file: string): Promise<FileHandle | Refusal> {
    let handle: FileHandle;
    try {
      handle = await open(file, 'wx');
    } catch {
      return refuse(TftpErrorCode.ACCESS_VIOLATION, 'cannot create the file');
    }
    if (await openedInside(root, handle)) return handle;
    await handle.close();
    await unlink(file).catch(() => {});
    return refuse(TftpErrorCode.ACCESS_VIOLATION, 'the folder is outside the root');
  }

  async function checkUpload(
    file: string,
    name: string,
    client: Peer,
    tsize: string | undefined,
  ): Promise<Refusal | undefined> {
    if (!options.writable) return refuse(TftpErrorCode.ACCESS_VIOLATION, 'the server is read-only');
    const exists = await stat(file).then(
      () => true,
      () => false,
    );
    if (exists && !options.overwrite) return refuse(TftpErrorCode.FILE_EXISTS, 'file already exists');
    const dir = await stat(path.dirname(file)).catch(() => undefined);
    if (!dir?.isDirectory()) return refuse(TftpErrorCode.FILE_NOT_FOUND, 'no such folder');
    const size = tsize !== undefined && /^\d+$/.test(tsize) ? Number(tsize) : undefined;
    if (options.acceptUpload && !(await options.acceptUpload(name, client, size))) {
      return refuse(TftpErrorCode.ACCESS_VIOLATION, 'upload refused');
    }
    return undefined;
  }

  const service: TftpService = {
    name: 'tftp',
    protocol: 'udp',
    address: { address: local.address, port: local.port, family: local.family },
    get transfers() {
      return active.size;
    },
    close() {
      closing = true;
      for (const l of active.values()) l.close();
      active.clear();
      return new Promise<void>((resolve) => main.close(() => resolve()));
    },
  };
  announceListening(log, service);
  return service;
}

/** Moves a finished upload into place: atomically, and without replacing unless allowed. */
async function place(temp: string, target: string, overwrite: boolean): Promise<void> {
  if (overwrite) {
    await rename(temp, target);
    return;
  }
  // link() fails if anything (a file, a symlink) took the name meanwhile: no clobbering.
  await link(temp, target);
  await unlink(temp);
}
