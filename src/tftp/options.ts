/**
 * Option negotiation (RFC 2347) for blksize (RFC 2348), timeout and tsize (RFC 2349) and
 * windowsize (RFC 7440). The server answers only what the client asked for (EFI PXE
 * firmware rejects an OACK carrying an unasked tsize), may lower blksize and windowsize to
 * its limits, and leaves out options it does not know or refuses.
 */
import { TftpErrorCode } from './packet.js';

export const DEFAULT_BLKSIZE = 512;
export const MIN_BLKSIZE = 8;
export const MAX_BLKSIZE = 65464;
export const MAX_WINDOWSIZE = 65535;
/** A window never holds more than this many bytes, whatever blksize x windowsize asked. */
export const MAX_WINDOW_BYTES = 4 * 1024 * 1024;

/** What a transfer runs with once negotiation is over. */
export interface TransferOptions {
  blksize: number;
  windowsize: number;
  /** The timeout both sides agreed on (RFC 2349), in ms; undefined when not negotiated. */
  timeoutMs: number | undefined;
  /** The transfer size, when the peer told it. */
  tsize: number | undefined;
}

export const DEFAULT_OPTIONS: TransferOptions = {
  blksize: DEFAULT_BLKSIZE,
  windowsize: 1,
  timeoutMs: undefined,
  tsize: undefined,
};

export interface ServerLimits {
  maxBlksize: number;
  maxWindowsize: number;
  /** Options never granted, for clients that break when they are. */
  refuse: ReadonlySet<string>;
  /** Largest upload accepted, in bytes. */
  maxFileSize: number;
  /** Receive buffer a window must fit in: the peer's (assumed default) for reads, ours for writes. */
  receiveBuffer?: number;
}

export type Negotiated =
  | { ok: true; options: TransferOptions; oack: Map<string, string> | undefined }
  | { ok: false; code: TftpErrorCode; reason: string };

function integer(text: string | undefined): number | undefined {
  if (text === undefined || !/^\d{1,12}$/.test(text)) return undefined;
  return Number(text);
}

/** The most blocks of `blksize` bytes that a window may hold. */
export function windowCap(blksize: number): number {
  return Math.max(1, Math.min(MAX_WINDOWSIZE, Math.floor(MAX_WINDOW_BYTES / blksize)));
}

/**
 * The most datagrams of `blksize` bytes that a receive buffer of `bufferBytes` holds when a
 * whole window arrives before the receiver reads any. The kernel charges each datagram its
 * buffer's true size, about the payload plus headers rounded up to a power of two; measured
 * on Linux with the default 208 KiB buffer, 166 datagrams of 512 bytes fit, 92 of 1468,
 * 12 of 8192 and 3 of 65464. A window larger than this is lost in part every time: the
 * stall seen with windowed C servers at blksize 8192 x windowsize 16.
 */
export function bufferWindowCap(blksize: number, bufferBytes: number): number {
  const charged = 1.3 * 2 ** Math.ceil(Math.log2(blksize + 360));
  return Math.max(1, Math.floor(bufferBytes / charged));
}

/**
 * The server's side: which requested options it grants, and at what values.
 * `fileSize` is the size a read will send (for tsize), when known.
 */
export function negotiate(
  requested: ReadonlyMap<string, string>,
  limits: ServerLimits,
  direction: 'read' | 'write',
  fileSize: number | undefined,
): Negotiated {
  const options: TransferOptions = { ...DEFAULT_OPTIONS };
  const oack = new Map<string, string>();
  const asked = (name: string): string | undefined =>
    limits.refuse.has(name) ? undefined : requested.get(name);

  const blksize = asked('blksize');
  if (blksize !== undefined) {
    const n = integer(blksize);
    if (n === undefined || n < MIN_BLKSIZE) {
      return {
        ok: false,
        code: TftpErrorCode.OPTION_NEGOTIATION,
        reason: `blksize "${blksize}" is not 8 or more`,
      };
    }
    options.blksize = Math.min(n, limits.maxBlksize, MAX_BLKSIZE);
    oack.set('blksize', String(options.blksize));
  }
  const windowsize = asked('windowsize');
  if (windowsize !== undefined) {
    const n = integer(windowsize);
    if (n === undefined || n < 1) {
      return {
        ok: false,
        code: TftpErrorCode.OPTION_NEGOTIATION,
        reason: `windowsize "${windowsize}" is not 1 or more`,
      };
    }
    const fits = limits.receiveBuffer
      ? bufferWindowCap(options.blksize, limits.receiveBuffer)
      : MAX_WINDOWSIZE;
    options.windowsize = Math.min(n, limits.maxWindowsize, windowCap(options.blksize), fits);
    oack.set('windowsize', String(options.windowsize));
  }
  const timeout = integer(asked('timeout'));
  if (timeout !== undefined && timeout >= 1 && timeout <= 255) {
    options.timeoutMs = timeout * 1000;
    oack.set('timeout', String(timeout));
  }
  const tsize = integer(asked('tsize'));
  if (tsize !== undefined) {
    if (direction === 'write') {
      if (tsize > limits.maxFileSize) {
        return {
          ok: false,
          code: TftpErrorCode.DISK_FULL,
          reason: `upload of ${tsize} bytes exceeds the limit of ${limits.maxFileSize}`,
        };
      }
      options.tsize = tsize;
      oack.set('tsize', String(tsize));
    } else if (fileSize !== undefined) {
      options.tsize = fileSize;
      oack.set('tsize', String(fileSize));
    }
  }
  return { ok: true, options, oack: oack.size > 0 ? oack : undefined };
}

/**
 * The client's side: checks an OACK against what was asked. A server may lower blksize and
 * windowsize but not raise them, and may not add options nobody asked for.
 */
export function acceptOack(
  asked: ReadonlyMap<string, string>,
  oack: ReadonlyMap<string, string>,
): { ok: true; options: TransferOptions } | { ok: false; reason: string } {
  const options: TransferOptions = { ...DEFAULT_OPTIONS };
  for (const [name, value] of oack) {
    const wanted = asked.get(name);
    if (wanted === undefined)
      return { ok: false, reason: `the server granted "${name}", which was not asked for` };
    const n = integer(value);
    if (n === undefined) return { ok: false, reason: `the server's ${name} "${value}" is not a number` };
    switch (name) {
      case 'blksize':
        if (n < MIN_BLKSIZE || n > Number(wanted))
          return { ok: false, reason: `blksize ${n} is out of range` };
        options.blksize = n;
        break;
      case 'windowsize':
        if (n < 1 || n > Number(wanted)) return { ok: false, reason: `windowsize ${n} is out of range` };
        options.windowsize = n;
        break;
      case 'timeout':
        if (n < 1 || n > 255) return { ok: false, reason: `timeout ${n} is out of range` };
        options.timeoutMs = n * 1000;
        break;
      case 'tsize':
        options.tsize = n;
        break;
      default:
        break;
    }
  }
  return { ok: true, options };
}
