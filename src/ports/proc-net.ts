/**
 * Parses the socket tables of Linux's /proc/net/{tcp,tcp6,udp,udp6} (see proc(5)).
 *
 * Each line after the header is one socket:
 *
 *     sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
 *      0: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000  1000        0 41234 ...
 *
 * Ports are hex in host order. Addresses are the raw `__be32` words printed as host-order
 * hex: on a little-endian machine 127.0.0.1 reads `0100007F`, so each 32-bit word's bytes
 * are reversed back into network order. A pure parser: it reads text, not files.
 */
import { ErrorCode, SockitError } from '../errors.js';
import { formatIPv6 } from '../ip/ipv6.js';
import { type Protocol, type SocketState, socketState } from './states.js';

export type Endianness = 'LE' | 'BE';

/**
 * This machine's byte order, as os.endianness() gives it, without loading node:os for it
 * (half a millisecond of `sockit ports`).
 */
const MACHINE_ORDER: Endianness = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1 ? 'LE' : 'BE';

export interface Endpoint {
  /** Canonical text: dotted decimal, or RFC 5952 IPv6 (`::ffff:a.b.c.d` when mapped). */
  address: string;
  /** 0 for a wildcard peer. */
  port: number;
}

/** One row of a /proc/net table. */
export interface SocketEntry {
  protocol: Protocol;
  family: 4 | 6;
  local: Endpoint;
  remote: Endpoint;
  state: SocketState;
  /** Bytes queued to send, and queued unread (for LISTEN, the accept queue). */
  txQueue: number;
  rxQueue: number;
  uid: number;
  /** The socket's inode, which links it to the process holding it; 0 for TIME_WAIT. */
  inode: number;
}

/**
 * Parses the whole text of one /proc/net table; lines that do not parse are skipped, so
 * a table from a newer kernel with extra columns still reads.
 *
 * @example
 * ```ts
 * const entries = parseProcNet(readFileSync('/proc/net/tcp', 'utf8'), 'tcp', 4);
 * entries[0]?.local; // { address: '127.0.0.1', port: 8080 }
 * ```
 */
export function parseProcNet(
  text: string,
  protocol: Protocol,
  family: 4 | 6,
  byteOrder: Endianness = MACHINE_ORDER,
): SocketEntry[] {
  const entries: SocketEntry[] = [];
  // Most sockets share a few addresses (a busy server's thousands of connections, one or two
  // local ones): each distinct text is decoded once.
  const addresses = new Map<string, string>();
  const width = family === 4 ? 8 : 32;
  ROWS.lastIndex = 0;
  for (let m = ROWS.exec(text); m !== null; m = ROWS.exec(text)) {
    const [, localHex, localPort, remoteHex, remotePort, st, tx, rx, uid, inode] = m as unknown as string[];
    if (localHex?.length !== width || remoteHex?.length !== width) continue;
    entries.push({
      protocol,
      family,
      local: { address: decodeOnce(addresses, localHex, byteOrder), port: hex(localPort) },
      remote: { address: decodeOnce(addresses, remoteHex as string, byteOrder), port: hex(remotePort) },
      state: socketState(protocol, hex(st)),
      txQueue: hex(tx),
      rxQueue: hex(rx),
      uid: Number(uid),
      inode: Number(inode),
    });
  }
  return entries;
}

/**
 * A row, at the start of a line. One search through the whole table, not one per line: V8
 * runs a pattern first in its interpreter and compiles it to machine code on the second run,
 * or at once for a text of 1,000 characters or more, so line by line it compiled this pattern
 * twice (0.5 M instructions of `sockit ports`, with the split into lines). It reads each line
 * as the per-line pattern did (`^` and `\s` within a line split on `\n`): a line starts at
 * the text's start or after `\n` (not after `\r` or U+2028, as `^` with the m flag would),
 * and its spaces are any white space but `\n`, so a match never runs into the next line (a
 * row cut before its inode would take the next line's number and lose that line). Hex digits
 * are spelled in both cases rather than with the i flag: with it, V8 folds the case of every
 * character `[^\S\n]` holds when it compiles the pattern (+5 M instructions).
 */
const ROWS =
  /(?<![^\n])[^\S\n]*\d+:[^\S\n]+([0-9A-Fa-f]+):([0-9A-Fa-f]{4})[^\S\n]+([0-9A-Fa-f]+):([0-9A-Fa-f]{4})[^\S\n]+([0-9A-Fa-f]{2})[^\S\n]+([0-9A-Fa-f]{8}):([0-9A-Fa-f]{8})[^\S\n]+\S+[^\S\n]+\S+[^\S\n]+(\d+)[^\S\n]+\d+[^\S\n]+(\d+)/g;

/** An address the line's pattern has checked, decoded the first time it is seen. */
function decodeOnce(seen: Map<string, string>, hexText: string, order: Endianness): string {
  let address = seen.get(hexText);
  if (address === undefined) {
    address = decodeHex(hexText, order);
    seen.set(hexText, address);
  }
  return address;
}

/**
 * Decodes a /proc/net address column: 8 hex digits for IPv4, 32 for IPv6.
 *
 * @example
 * ```ts
 * decodeAddress('0100007F', 'LE'); // '127.0.0.1'
 * decodeAddress('00000000000000000000000001000000', 'LE'); // '::1'
 * ```
 */
export function decodeAddress(hexText: string, order: Endianness = MACHINE_ORDER): string {
  if (!/^([0-9A-F]{8}|[0-9A-F]{32})$/i.test(hexText)) {
    throw new SockitError(
      ErrorCode.INVALID_ARGUMENT,
      `"${hexText}" is not a /proc/net address (8 or 32 hex digits)`,
    );
  }
  return decodeHex(hexText, order);
}

/** decodeAddress for 8 or 32 hex digits already checked. */
function decodeHex(hexText: string, order: Endianness): string {
  // Each 32-bit word as a number, its bytes swapped on little-endian machines: a table of
  // thousands of sockets is decoded in a few milliseconds (BigInt arithmetic on strings took
  // five times as long).
  if (hexText.length === 8) {
    const v = word(hexText, 0, order);
    return `${v >>> 24}.${(v >>> 16) & 0xff}.${(v >>> 8) & 0xff}.${v & 0xff}`;
  }
  let value = 0n;
  for (let at = 0; at < 32; at += 8) value = (value << 32n) | BigInt(word(hexText, at, order));
  return formatIPv6(value);
}

/** The 32-bit word at `at` of an address column, in network order. */
function word(hexText: string, at: number, order: Endianness): number {
  const w = Number.parseInt(hexText.slice(at, at + 8), 16);
  return order === 'LE'
    ? (w & 0xff) * 0x1000000 + ((w >>> 8) & 0xff) * 0x10000 + ((w >>> 16) & 0xff) * 0x100 + (w >>> 24)
    : w;
}

function hex(text: string | undefined): number {
  return Number.parseInt(text ?? '0', 16);
}
