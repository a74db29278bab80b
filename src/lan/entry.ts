/**
 * The extra of the entry packets (BR_ENTRY, ANSENTRY, BR_ABSENCE, BR_EXIT): `nick\0group\0`
 * in the packet's charset, then, from clients that can do UTF-8 (CAPUTF8OPT), a block of
 * `\nUN:user\nHN:host\nNN:nick\nGN:group` lines in UTF-8 whose values win over the legacy
 * ones (IP Messenger protocol draft 14, §3.9). iptux adds `icon\0encoding\0` instead.
 */
import { isIPv4 } from 'node:net';
import { withoutHidden } from '../runtime/text.js';
import { type Charset, decode, encode, splitNul } from './ipmsg.js';

export interface EntryInfo {
  nick: string;
  group: string;
}

/** The longest nick or group kept from a peer, in characters. */
export const MAX_NAME = 64;

/** Control characters out (a peer's name is shown on terminals), cut to MAX_NAME. */
export function cleanName(text: string): string {
  const name = withoutHidden(text).trim().slice(0, MAX_NAME);
  // A nick that reads as an address would pass for the peer at that address: marked as a nick.
  return isIPv4(name) ? `~${name}` : name;
}

/** Reads an entry extra; `utf8Block` only when the packet had CAPUTF8OPT, as IP Messenger does. */
export function parseEntry(extra: Buffer, charset: Charset, utf8Block: boolean): EntryInfo {
  const parts = splitNul(extra);
  let nick = decode(parts[0] ?? Buffer.alloc(0), charset);
  let group = decode(parts[1] ?? Buffer.alloc(0), charset);
  if (utf8Block) {
    const block = parts.slice(2).find((p) => p[0] === 0x0a);
    if (block !== undefined) {
      for (const line of block.toString('utf8').split('\n')) {
        if (line.startsWith('NN:')) nick = line.slice(3);
        else if (line.startsWith('GN:')) group = line.slice(3);
      }
    }
  }
  return { nick: cleanName(nick), group: cleanName(group) };
}

/**
 * An entry extra: nick and group in `charset`; with `utf8Block`, the UTF-8 lines too (for
 * broadcasts, which every kind of client reads, so they cannot be UTF-8 as a whole).
 */
export function buildEntry(
  info: EntryInfo & { user: string; host: string },
  charset: Charset,
  utf8Block: boolean,
): Buffer {
  const parts = [encode(info.nick, charset), Buffer.from([0]), encode(info.group, charset), Buffer.from([0])];
  if (utf8Block && charset !== 'utf-8') {
    parts.push(Buffer.from(`\nUN:${info.user}\nHN:${info.host}\nNN:${info.nick}\nGN:${info.group}`, 'utf8'));
  }
  return Buffer.concat(parts);
}
