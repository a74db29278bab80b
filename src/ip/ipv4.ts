/**
 * IPv4 addresses as 32-bit `bigint`s: dotted-decimal text in and out.
 *
 * Only the strict form is accepted: four decimal octets from 0 to 255, without leading
 * zeros (the `dec-octet` rule of RFC 3986 §3.2.2). `inet_aton` also takes `127.1`,
 * `0x7f.1` and `0177.0.0.1`, and reads a leading zero as octal where other parsers read
 * decimal; that ambiguity has let addresses slip past filters (CVE-2021-29921), so it is
 * refused with a clear message rather than guessed at.
 */
import { ErrorCode, SockitError } from '../errors.js';

/** Bits in an IPv4 address. */
export const IPV4_BITS = 32;
/** The largest IPv4 address as a number: 255.255.255.255. */
export const IPV4_MAX = (1n << 32n) - 1n;

const OCTET = /^(0|[1-9]\d{0,2})$/;

/**
 * Parses dotted-decimal text to a 32-bit value. Throws `ERR_INVALID_ARGUMENT`.
 *
 * @example
 * ```ts
 * parseIPv4('192.168.1.10'); // 3232235786n
 * ```
 */
export function parseIPv4(text: string): bigint {
  const parts = text.split('.');
  if (parts.length !== 4) {
    throw invalidIPv4(text, 'expected four decimal numbers separated by dots, e.g. 192.168.1.10');
  }
  let value = 0n;
  for (const part of parts) {
    if (!OCTET.test(part)) {
      const why = /^0\d+$/.test(part)
        ? `"${part}" has a leading zero, which some systems read as octal`
        : `"${part}" is not a decimal number from 0 to 255`;
      throw invalidIPv4(text, why);
    }
    const octet = Number(part);
    if (octet > 255) throw invalidIPv4(text, `${part} is above 255`);
    value = (value << 8n) | BigInt(octet);
  }
  return value;
}

/**
 * Formats a 32-bit value as dotted-decimal text.
 *
 * @example
 * ```ts
 * formatIPv4(0xc0a8010an); // '192.168.1.10'
 * ```
 */
export function formatIPv4(value: bigint): string {
  checkIPv4(value);
  return [24n, 16n, 8n, 0n].map((shift) => String((value >> shift) & 0xffn)).join('.');
}

/**
 * The address as four 8-bit binary groups, the way subnetting is taught.
 *
 * @example
 * ```ts
 * binaryIPv4(0xffffff00n); // '11111111.11111111.11111111.00000000'
 * ```
 */
export function binaryIPv4(value: bigint): string {
  checkIPv4(value);
  return [24n, 16n, 8n, 0n].map((shift) => ((value >> shift) & 0xffn).toString(2).padStart(8, '0')).join('.');
}

function checkIPv4(value: bigint): void {
  if (value < 0n || value > IPV4_MAX) {
    throw new SockitError(ErrorCode.INVALID_ARGUMENT, `${value} is not a 32-bit IPv4 address value`);
  }
}

function invalidIPv4(text: string, why: string): SockitError {
  return new SockitError(ErrorCode.INVALID_ARGUMENT, `invalid IPv4 address "${text}": ${why}`);
}
