/**
 * The IP Messenger packet (H. Shirouzu's protocol, spoken by IP Messenger, FeiQ and iptux):
 * one UDP datagram of text,
 *
 *   Ver:PacketNo:User:Host:Command:Extra
 *
 * Ver is `1` (FeiQ sends `1_lbt...#...`), PacketNo a number unique per sender, Command a
 * decimal 32-bit number whose low 8 bits are the mode (BR_ENTRY, SENDMSG, ...) and whose high
 * bits are options (SENDCHECKOPT, UTF8OPT, ...). Extra, everything after the fifth colon, is
 * the mode's own data: NUL-separated fields, colons allowed.
 *
 * Text is UTF-8 when the command carries UTF8OPT, else in the peers' legacy charset (GBK for
 * FeiQ, CP932 for the original IP Messenger, UTF-8 for iptux's default). The five header
 * separators are found in the raw bytes: ':' (0x3A) and NUL never occur inside a GBK or CP932
 * character (their second bytes start at 0x40), so splitting before decoding is safe.
 *
 * Parsing never throws: anything that is not a packet is `undefined`.
 */
import iconv from 'iconv-lite';

export const IPMSG_PORT = 2425;
export const IPMSG_VERSION = 1;

/** Modes: the command's low 8 bits (ipmsg.h). */
export const Mode = {
  NOOPERATION: 0x00,
  BR_ENTRY: 0x01,
  BR_EXIT: 0x02,
  ANSENTRY: 0x03,
  BR_ABSENCE: 0x04,
  BR_ISGETLIST: 0x10,
  OKGETLIST: 0x11,
  GETLIST: 0x12,
  ANSLIST: 0x13,
  BR_ISGETLIST2: 0x18,
  SENDMSG: 0x20,
  RECVMSG: 0x21,
  READMSG: 0x30,
  DELMSG: 0x31,
  ANSREADMSG: 0x32,
  GETINFO: 0x40,
  SENDINFO: 0x41,
  GETABSENCEINFO: 0x50,
  SENDABSENCEINFO: 0x51,
  GETFILEDATA: 0x60,
  RELEASEFILES: 0x61,
  GETDIRFILES: 0x62,
  GETPUBKEY: 0x72,
  ANSPUBKEY: 0x73,
} as const;

/** Options of every mode. */
export const Opt = {
  ABSENCE: 0x00000100,
  SERVER: 0x00000200,
  DIALUP: 0x00010000,
  FILEATTACH: 0x00200000,
  ENCRYPT: 0x00400000,
  UTF8: 0x00800000,
  CAPUTF8: 0x01000000,
  ENCEXTMSG: 0x04000000,
  CLIPBOARD: 0x08000000,
  // Options of SENDMSG (the same bits as ABSENCE and SERVER above, for another mode).
  SENDCHECK: 0x00000100,
  SECRET: 0x00000200,
  BROADCAST: 0x00000400,
  MULTICAST: 0x00000800,
  AUTORET: 0x00002000,
  RETRY: 0x00004000,
  PASSWORD: 0x00008000,
  NOLOG: 0x00020000,
  NOADDLIST: 0x00080000,
  READCHECK: 0x00100000,
} as const;

/** File attributes of an attachment (the low 8 bits of its attr field). */
export const FileType = {
  REGULAR: 0x01,
  DIR: 0x02,
  RETPARENT: 0x03,
  SYMLINK: 0x04,
  CDEV: 0x05,
  BDEV: 0x06,
  FIFO: 0x07,
  RESFORK: 0x10,
  CLIPBOARD: 0x20,
} as const;

/** Extended file attributes (`id=value` after the fixed fields), the ones sockit writes. */
export const FileExt = {
  MTIME: 0x14,
  PERM: 0x10,
} as const;

/** Separator of the attachments in SENDMSG's extra, and of the host list. */
export const FILELIST_SEPARATOR = '\u0007';

/** The largest datagram read or made: IP Messenger's own buffer (MAX_UDPBUF) is 32 KiB. */
export const MAX_PACKET = 32 * 1024;

export type Charset = 'utf-8' | 'gbk' | 'cp932';

export const mode = (command: number): number => command & 0xff;
export const has = (command: number, option: number): boolean => (command & option) === option;

export interface Packet {
  /** As sent: `1`, or FeiQ's longer form. */
  version: string;
  /** Decimal, as sent (kept as text: some clients send more than 2^53). */
  packetNo: string;
  /** The sender's login name and host name. */
  user: string;
  host: string;
  command: number;
  /** The mode's data, undecoded. */
  extra: Buffer;
}

const COLON = 0x3a;
const DIGITS = /^\d{1,20}$/;

/** The charset of a packet's text: UTF-8 when it says so, else `legacy`. */
export function charsetOf(command: number, legacy: Charset): Charset {
  return has(command, Opt.UTF8) ? 'utf-8' : legacy;
}

/** `bytes` as text in `charset`; bytes that are not valid become U+FFFD. */
export function decode(bytes: Buffer, charset: Charset): string {
  return charset === 'utf-8' ? bytes.toString('utf8') : iconv.decode(bytes, charset);
}

/** `text` in `charset`; characters it cannot hold become `?`. */
export function encode(text: string, charset: Charset): Buffer {
  return charset === 'utf-8' ? Buffer.from(text, 'utf8') : iconv.encode(text, charset);
}

/**
 * A datagram as a packet, or undefined: fewer than five colons, a version that does not
 * start with 1, a packet number or command that is not a decimal number, or too large.
 */
export function parsePacket(data: Buffer, legacy: Charset): Packet | undefined {
  if (data.length > MAX_PACKET) return undefined;
  const cuts: number[] = [];
  for (let at = 0; cuts.length < 5; at++) {
    const next = data.indexOf(COLON, at);
    if (next < 0) return undefined;
    cuts.push(next);
    at = next;
  }
  const [c1, c2, c3, c4, c5] = cuts as [number, number, number, number, number];
  const version = data.subarray(0, c1).toString('latin1');
  const packetNo = data.subarray(c1 + 1, c2).toString('latin1');
  const commandText = data.subarray(c4 + 1, c5).toString('latin1');
  if (!/^1(?:[_#.][\x20-\x7e]{0,120})?$/.test(version)) return undefined;
  if (!DIGITS.test(packetNo) || !DIGITS.test(commandText)) return undefined;
  const command = Number(commandText);
  if (command > 0xffffffff) return undefined;
  const charset = charsetOf(command, legacy);
  return {
    version,
    packetNo,
    user: decode(data.subarray(c2 + 1, c3), charset),
    host: decode(data.subarray(c3 + 1, c4), charset),
    command,
    extra: data.subarray(c5 + 1),
  };
}

/** What `buildPacket` makes a packet of. */
export interface PacketFields {
  packetNo: string | number;
  user: string;
  host: string;
  command: number;
  /** Bytes as they are, or text in the packet's charset. */
  extra?: Buffer | string;
}

/** A header field as it may travel: no colon (no escape exists for one), no NUL, no newline. */
function headerField(text: string): string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: replacing them is the point
  return text.replace(/[:\u0000-\u001f\u007f]/g, '_').slice(0, 255);
}

/** The datagram of a packet: text in UTF-8 when its command carries UTF8OPT, else in `legacy`. */
export function buildPacket(fields: PacketFields, legacy: Charset): Buffer {
  const charset = charsetOf(fields.command, legacy);
  const head = encode(
    `${IPMSG_VERSION}:${fields.packetNo}:${headerField(fields.user)}:${headerField(fields.host)}:${fields.command >>> 0}:`,
    charset,
  );
  const extra =
    fields.extra === undefined
      ? Buffer.alloc(0)
      : typeof fields.extra === 'string'
        ? encode(fields.extra, charset)
        : fields.extra;
  return Buffer.concat([head, extra]);
}

/** The NUL-separated fields of an extra (the last one without its NUL, if it had none). */
export function splitNul(extra: Buffer): Buffer[] {
  const parts: Buffer[] = [];
  let at = 0;
  while (at < extra.length) {
    const nul = extra.indexOf(0, at);
    if (nul < 0) {
      parts.push(extra.subarray(at));
      break;
    }
    parts.push(extra.subarray(at, nul));
    at = nul + 1;
  }
  return parts;
}
