/**
 * TFTP packets (RFC 1350 §5, options RFC 2347 §2): a pure codec. Decoding never throws:
 * every malformed datagram comes back as a `{ ok: false }` result with the TFTP error code
 * to answer it with, so nothing a peer sends can escape to the socket as an exception.
 */

/** Opcodes, RFC 1350 §5 and RFC 2347 (OACK). */
export const Opcode = {
  RRQ: 1,
  WRQ: 2,
  DATA: 3,
  ACK: 4,
  ERROR: 5,
  OACK: 6,
} as const;
export type Opcode = (typeof Opcode)[keyof typeof Opcode];

/** Error codes, RFC 1350 appendix, and 8 from RFC 2347. */
export const TftpErrorCode = {
  NOT_DEFINED: 0,
  FILE_NOT_FOUND: 1,
  ACCESS_VIOLATION: 2,
  DISK_FULL: 3,
  ILLEGAL_OPERATION: 4,
  UNKNOWN_TID: 5,
  FILE_EXISTS: 6,
  NO_SUCH_USER: 7,
  OPTION_NEGOTIATION: 8,
} as const;
export type TftpErrorCode = (typeof TftpErrorCode)[keyof typeof TftpErrorCode];

/** The standard text of each error code, for messages and logs. */
export const ERROR_TEXT: Readonly<Record<number, string>> = {
  0: 'not defined',
  1: 'file not found',
  2: 'access violation',
  3: 'disk full or allocation exceeded',
  4: 'illegal TFTP operation',
  5: 'unknown transfer ID',
  6: 'file already exists',
  7: 'no such user',
  8: 'option negotiation failed',
};

export type TransferMode = 'octet' | 'netascii';

/** A read or write request. Option names are lower-cased; values are kept as sent. */
export interface Request {
  opcode: typeof Opcode.RRQ | typeof Opcode.WRQ;
  filename: string;
  mode: TransferMode;
  options: Map<string, string>;
}
export interface DataPacket {
  opcode: typeof Opcode.DATA;
  block: number;
  data: Buffer;
}
export interface AckPacket {
  opcode: typeof Opcode.ACK;
  block: number;
}
export interface ErrorPacket {
  opcode: typeof Opcode.ERROR;
  code: number;
  message: string;
}
export interface OackPacket {
  opcode: typeof Opcode.OACK;
  options: Map<string, string>;
}
export type Packet = Request | DataPacket | AckPacket | ErrorPacket | OackPacket;

export type Decoded = { ok: true; packet: Packet } | { ok: false; code: TftpErrorCode; reason: string };

/** RFC 2347 §2: a request, options included, fits in 512 octets. */
export const MAX_REQUEST_SIZE = 512;
/** Largest DATA payload any peer may send: blksize 65464 (RFC 2348). */
export const MAX_BLKSIZE = 65464;

const fail = (code: TftpErrorCode, reason: string): Decoded => ({ ok: false, code, reason });

/** Splits NUL-terminated strings; undefined if the last one is unterminated. */
function strings(buf: Buffer, from: number): string[] | undefined {
  const out: string[] = [];
  let at = from;
  while (at < buf.length) {
    const end = buf.indexOf(0, at);
    if (end < 0) return undefined;
    out.push(buf.toString('latin1', at, end));
    at = end + 1;
  }
  return out;
}

function decodeOptions(fields: string[]): Map<string, string> | string {
  // Some clients pad a request with NULs; the options end where a name is empty, as
  // tftpd-hpa and atftpd read them.
  let end = 0;
  while (end < fields.length && fields[end] !== '') end += 2;
  if (end > fields.length) return 'an option has no value';
  const list = fields.slice(0, end);
  const options = new Map<string, string>();
  for (let i = 0; i < list.length; i += 2) {
    const name = (list[i] as string).toLowerCase();
    // RFC 2347 does not allow repeats; keep the first, as tftp-hpa does.
    if (!options.has(name)) options.set(name, list[i + 1] as string);
  }
  return options;
}

/**
 * Decodes one datagram.
 *
 * @example
 * ```ts
 * const d = decodePacket(msg);
 * if (!d.ok) socket.send(encodeError(d.code, d.reason), port, host);
 * ```
 */
export function decodePacket(buf: Buffer): Decoded {
  if (buf.length < 4)
    return fail(TftpErrorCode.ILLEGAL_OPERATION, `datagram of ${buf.length} bytes is too short`);
  const opcode = buf.readUInt16BE(0);
  switch (opcode) {
    case Opcode.RRQ:
    case Opcode.WRQ: {
      if (buf.length > MAX_REQUEST_SIZE) {
        return fail(
          TftpErrorCode.ILLEGAL_OPERATION,
          `request of ${buf.length} bytes exceeds ${MAX_REQUEST_SIZE}`,
        );
      }
      const fields = strings(buf, 2);
      if (!fields || fields.length < 2) return fail(TftpErrorCode.ILLEGAL_OPERATION, 'malformed request');
      const [filename, rawMode, ...rest] = fields as [string, string, ...string[]];
      if (filename === '') return fail(TftpErrorCode.ILLEGAL_OPERATION, 'empty file name');
      const modeName = rawMode.toLowerCase();
      if (modeName === 'mail') return fail(TftpErrorCode.ILLEGAL_OPERATION, 'mail mode is not supported');
      if (modeName !== 'octet' && modeName !== 'netascii') {
        return fail(TftpErrorCode.ILLEGAL_OPERATION, `unknown transfer mode "${rawMode}"`);
      }
      const options = decodeOptions(rest);
      if (typeof options === 'string') return fail(TftpErrorCode.OPTION_NEGOTIATION, options);
      return { ok: true, packet: { opcode, filename, mode: modeName, options } };
    }
    case Opcode.DATA:
      if (buf.length > 4 + MAX_BLKSIZE)
        return fail(TftpErrorCode.ILLEGAL_OPERATION, 'DATA larger than any blksize');
      return { ok: true, packet: { opcode, block: buf.readUInt16BE(2), data: buf.subarray(4) } };
    case Opcode.ACK:
      return { ok: true, packet: { opcode, block: buf.readUInt16BE(2) } };
    case Opcode.ERROR: {
      const end = buf.indexOf(0, 4);
      const message = buf.toString('latin1', 4, end < 0 ? buf.length : end);
      return { ok: true, packet: { opcode, code: buf.readUInt16BE(2), message } };
    }
    case Opcode.OACK: {
      const fields = strings(buf, 2);
      const options = fields ? decodeOptions(fields) : 'malformed OACK';
      if (typeof options === 'string') return fail(TftpErrorCode.OPTION_NEGOTIATION, options);
      return { ok: true, packet: { opcode, options } };
    }
    default:
      return fail(TftpErrorCode.ILLEGAL_OPERATION, `unknown opcode ${opcode}`);
  }
}

function zstrings(values: string[]): number {
  return values.reduce((n, v) => n + Buffer.byteLength(v, 'latin1') + 1, 0);
}

function writeStrings(out: Buffer, at: number, values: string[]): number {
  let pos = at;
  for (const v of values) {
    pos += out.write(v, pos, 'latin1');
    out[pos++] = 0;
  }
  return pos;
}

function optionList(options: Map<string, string> | undefined): string[] {
  return options ? [...options].flat() : [];
}

/** An RRQ or WRQ with optional RFC 2347 options. */
export function encodeRequest(
  opcode: typeof Opcode.RRQ | typeof Opcode.WRQ,
  filename: string,
  mode: TransferMode,
  options?: Map<string, string>,
): Buffer {
  const fields = [filename, mode, ...optionList(options)];
  const out = Buffer.allocUnsafe(2 + zstrings(fields));
  out.writeUInt16BE(opcode, 0);
  writeStrings(out, 2, fields);
  return out;
}

/** DATA: the header and the payload in one buffer. */
export function encodeData(block: number, data: Uint8Array): Buffer {
  const out = Buffer.allocUnsafe(4 + data.length);
  out.writeUInt16BE(Opcode.DATA, 0);
  out.writeUInt16BE(block, 2);
  out.set(data, 4);
  return out;
}

/** The 4-byte DATA header alone, to send with the payload as a second buffer (no copy). */
export function dataHeader(block: number): Buffer {
  const out = Buffer.allocUnsafe(4);
  out.writeUInt16BE(Opcode.DATA, 0);
  out.writeUInt16BE(block, 2);
  return out;
}

export function encodeAck(block: number): Buffer {
  const out = Buffer.allocUnsafe(4);
  out.writeUInt16BE(Opcode.ACK, 0);
  out.writeUInt16BE(block, 2);
  return out;
}

export function encodeError(code: number, message: string): Buffer {
  const text = message.slice(0, 400);
  const out = Buffer.allocUnsafe(4 + Buffer.byteLength(text, 'latin1') + 1);
  out.writeUInt16BE(Opcode.ERROR, 0);
  out.writeUInt16BE(code, 2);
  writeStrings(out, 4, [text]);
  return out;
}

export function encodeOack(options: Map<string, string>): Buffer {
  const fields = optionList(options);
  const out = Buffer.allocUnsafe(2 + zstrings(fields));
  out.writeUInt16BE(Opcode.OACK, 0);
  writeStrings(out, 2, fields);
  return out;
}
