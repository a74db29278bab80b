/**
 * The TFTP server: requests arrive on the well-known port, and each transfer runs on a
 * socket of its own (its TID), driven by the sender or receiver state machine.
 */
import type dgram from 'node:dgram';
import { createWriteStream, readFileSync } from 'node:fs';
import { ErrorCode, formatHostPort, SockitError } from '../errors.js';
import { DEFAULT_POLL_US } from '../runtime/busy-poll.js';
import { ConfinedRoot } from '../runtime/confine.js';
import { type Logger, silentLogger } from '../runtime/log.js';
import { announceListening, checkInteger, type Service } from '../runtime/service.js';
import { bindUdp } from '../runtime/udp.js';
import type { Rollover } from './blocks.js';
import type { TftpError } from './errors.js';
import { BlockPump, BlockWriter, FilePump, type Pump } from './io.js';
import { type Peer, TransferLink } from './link.js';
import { MAX_BLKSIZE, negotiate, type ServerLimits, type TransferOptions } from './options.js';
import { decodePacket, encodeError, encodeOack, Opcode, type Request, TftpErrorCode } from './packet.js';
import { type RewriteRule, resolveInRoot, temporaryBeside } from './paths.js';
import { TftpReceiver } from './receiver.js';
import { Rto } from './rto.js';
import { type SessionOptions, TftpSender, type TransferStats } from './sender.js';
import { type Content, type Refusal, refuse, ServedFiles } from './storage.js';

export type { Content } from './storage.js';

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
  /**
   * Timeouts in a row before a transfer is abandoned, and not before the silence that as
   * many timeouts backing off from `timeoutMs` would take (see Rto.exhausted). Default 5.
   */
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

/** A transfer under way, from its request on: its slot counts against --max-transfers. */
interface Running {
  /** Ends it now (the server is closing): ERROR 0 to the client, its file let go, a log line. */
  abort(reason: string): void;
}

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
  const root = await ConfinedRoot.open(options.root).catch((err: unknown) => {
    throw new SockitError(ErrorCode.INVALID_ARGUMENT, `tftp: root ${options.root} is not a folder`, {
      cause: err,
    });
  });
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
  const files = new ServedFiles({
    root,
    writable: options.writable ?? false,
    overwrite: options.overwrite ?? false,
    content: options.content,
    acceptUpload: options.acceptUpload,
  });
  const peerReceiveBuffer = defaultReceiveBuffer();
  const port = options.port ?? TFTP_PORT;

  const main = await bindUdp({ host: options.host, port, what: 'tftp' }).catch(async (err: unknown) => {
    await root.close();
    throw err;
  });
  const local = main.address();
  const active = new Map<string, Running>();
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
    // The slot is taken at once, so that a repeat of the request arriving meanwhile is ignored.
    const running: Running = { abort: () => active.delete(key) };
    active.set(key, running);
    void start(request, { address: from.address, port: from.port }, key, running).catch((err: unknown) => {
      active.delete(key);
      log.error({ err }, 'transfer failed to start');
    });
  });

  /** One transfer's socket, log line and ending, shared by its read or write side. */
  interface Transfer {
    request: Request;
    client: Peer;
    link: TransferLink;
    socket: dgram.Socket;
    running: Running;
    /** True once the transfer has ended (logged): what is opened after must be let go. */
    readonly over: boolean;
    /** Logs the one line of the transfer; a failure also releases it. */
    finish(ok: boolean, stats: TransferStats | undefined, error?: string): void;
    /** Ends it for good: its socket closes and its client may ask again. */
    release(): void;
    /** Ends it with an ERROR to the client. */
    deny(refusal: Refusal, stats?: TransferStats): void;
    /** What either end runs with once negotiated; the OACK, if any, is its block 0. */
    session(o: TransferOptions, oack: Map<string, string> | undefined): SessionOptions & { initial?: Buffer };
  }

  async function start(request: Request, client: Peer, key: string, running: Running): Promise<void> {
    const socket = await bindUdp({ host: local.address, port: 0, what: 'tftp transfer' });
    if (active.get(key) !== running) {
      socket.close(); // the server closed meanwhile
      return;
    }
    const link = new TransferLink(socket, client.address, client, pollUs);
    const began = Date.now();
    const entry = { client: formatHostPort(client.address, client.port), file: request.filename };
    let logged = false;
    const t: Transfer = {
      request,
      client,
      link,
      socket,
      running,
      get over() {
        return logged;
      },
      release: () => {
        link.close();
        active.delete(key);
      },
      finish: (ok, stats, error) => {
        if (logged) return;
        logged = true;
        if (!ok) t.release();
        const ms = Date.now() - began;
        const line = {
          ...entry,
          direction: request.opcode === Opcode.WRQ ? 'write' : 'read',
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
      },
      deny: (refusal, stats) => {
        if (logged) return;
        link.send(encodeError(refusal.code, refusal.reason));
        t.finish(false, stats, refusal.reason);
      },
      session: (o, oack) => ({
        blksize: o.blksize,
        windowsize: o.windowsize,
        rollover,
        rto: new Rto({ initialMs: o.timeoutMs ?? timeoutMs, fixed: o.timeoutMs !== undefined }),
        retries,
        initial: oack ? encodeOack(oack) : undefined,
        now: Date.now,
      }),
    };
    // Until a side has something of its own to let go of, aborting is refusing.
    running.abort = (reason) => t.deny(refuse(0, reason));
    try {
      const ip = client.address.replace(/^::ffff:/, '');
      const resolved = await resolveInRoot(root, request.filename, rules, ip);
      if (!resolved.ok) return t.deny(resolved);
      if (request.opcode === Opcode.WRQ) await receive(t, resolved);
      else await send(t, resolved);
    } catch (err) {
      // A hook or the file system failed in a way nobody foresaw: the client is told, the
      // slot freed, and what the transfer had opened let go.
      log.error({ err, ...entry }, 'transfer failed');
      running.abort('server error');
    }
  }

  /** A read request: the file, or a hook's content, goes to the client. */
  async function send(t: Transfer, file: { path: string; name: string }): Promise<void> {
    const { request, link } = t;
    const netascii = request.mode === 'netascii';
    const content = await files.openForRead(file.path, file.name, t.client);
    if ('code' in content) return t.deny(content);
    if (t.over) return content.close();
    t.running.abort = (reason) => {
      content.close();
      t.deny(refuse(0, reason));
    };
    const negotiated = negotiate(
      request.options,
      { ...limits, receiveBuffer: peerReceiveBuffer },
      'read',
      netascii ? undefined : content.size,
    );
    if (!negotiated.ok) {
      content.close();
      return t.deny(negotiated);
    }
    const o = negotiated.options;
    t.socket.setSendBufferSize(
      Math.max(64 * 1024, Math.min(8 * 1024 * 1024, 2 * o.windowsize * (o.blksize + 64))),
    );
    const sender = new TftpSender(t.session(o, negotiated.oack), {
      send: link.send,
      arm: link.arm,
      disarm: link.disarm,
      complete: () => {
        pump.stop();
        t.finish(true, sender.stats);
        t.release();
      },
      fail: (err: TftpError) => {
        pump.stop();
        t.finish(false, sender.stats, err.message);
      },
    });
    const readFailed = (err: Error): void => {
      link.send(encodeError(0, 'read error'));
      t.finish(false, sender.stats, err.message);
    };
    // A file in octet mode is read into reused buffers; netascii and hooks' streams go through a stream.
    const pump: Pump =
      content.handle && !netascii
        ? new FilePump(content.handle, sender, readFailed)
        : new BlockPump(content.stream(o.blksize, o.windowsize), sender, o.blksize, netascii, readFailed);
    const end = (error: string): void => {
      pump.stop();
      t.finish(false, sender.stats, error);
    };
    t.running.abort = (reason) => {
      pump.stop();
      t.deny(refuse(0, reason), sender.stats);
    };
    link.attach({
      packet: (packet) => {
        if (packet.opcode === Opcode.ACK) {
          sender.ack(packet.block);
          pump.pump();
        } else if (packet.opcode === Opcode.ERROR) {
          end(`client sent ERROR ${packet.code}: ${packet.message}`);
        }
      },
      malformed: (_code, reason) => end(reason),
      timeout: () => {
        sender.timeout();
        pump.pump();
      },
    });
    sender.start();
    pump.start(o.blksize);
  }

  /** A write request: the upload lands under a temporary name, placed only when complete. */
  async function receive(t: Transfer, target: { path: string; name: string }): Promise<void> {
    const { request, link } = t;
    const upload = await files.checkUpload(target.path, target.name, t.client, request.options.get('tsize'));
    if (upload) return t.deny(upload);
    if (t.over) return;
    // Ask for a receive buffer that holds the largest window we grant, then grant only what fits.
    t.socket.setRecvBufferSize(MAX_RECEIVE_BUFFER);
    const ours = t.socket.getRecvBufferSize() / 2; // Linux reports twice what it charges against
    const negotiated = negotiate(request.options, { ...limits, receiveBuffer: ours }, 'write', undefined);
    if (!negotiated.ok) return t.deny(negotiated);
    const o = negotiated.options;
    const temp = temporaryBeside(target.path);
    const created = await files.createInside(temp);
    if ('code' in created) return t.deny(created);
    t.running.abort = (reason) => {
      void created.close().then(
        () => files.discard(temp),
        () => {},
      );
      t.deny(refuse(0, reason));
    };
    const file = createWriteStream('', { fd: created });
    let failed = false;
    const discard = (): void => {
      if (failed) return;
      failed = true;
      // Unlink once the stream has closed: it may still be creating the file.
      file.once('close', () => void files.discard(temp));
      file.destroy();
    };
    if (t.over) return discard();
    const end = (error: string): void => {
      discard();
      t.finish(false, receiver.stats, error);
    };
    const writer = new BlockWriter(file, {
      netascii: request.mode === 'netascii',
      onError: () => {
        if (failed) return;
        link.send(encodeError(TftpErrorCode.DISK_FULL, 'write failed'));
        end('write failed');
      },
      onDrain: () => receiver.resume(),
    });
    const receiver: TftpReceiver = new TftpReceiver(
      { ...t.session(o, negotiated.oack), maxBytes: limits.maxFileSize },
      {
        send: link.send,
        arm: link.arm,
        disarm: link.disarm,
        write: (data) => writer.write(data),
        complete: () =>
          writer
            .finish()
            .then(() => {
              if (failed) throw new Error('the upload was aborted');
              return files.place(temp, target.path);
            })
            .then(() => t.finish(true, receiver.stats)),
        // The dally is over: only now may the client's TID be used again.
        close: t.release,
        fail: (err: TftpError) => end(err.message),
      },
    );
    t.running.abort = (reason) => {
      if (t.over) return t.release(); // placed, and dallying
      discard();
      t.deny(refuse(0, reason), receiver.stats);
    };
    link.attach({
      packet: (packet) => {
        if (packet.opcode === Opcode.DATA) receiver.data(packet.block, packet.data);
        else if (packet.opcode === Opcode.ERROR) end(`client sent ERROR ${packet.code}: ${packet.message}`);
      },
      malformed: (_code, reason) => end(reason),
      timeout: () => receiver.timeout(),
    });
    receiver.start();
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
      // Each transfer tells its client, lets go of its file (an upload's part is removed)
      // and logs its line; one still starting sees its slot gone and stops.
      for (const running of [...active.values()]) running.abort('the server is shutting down');
      active.clear();
      return new Promise<void>((resolve) => main.close(() => resolve())).then(() => files.close());
    },
  };
  announceListening(log, service);
  return service;
}
