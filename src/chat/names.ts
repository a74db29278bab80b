/**
 * Nicks and room names: what they may be, and when two are the same.
 *
 * Nicks follow IRC (RFC 2812 §2.3.1) so that IRC clients can show every chat user: a letter
 * or one of `[ ] \ ` _ ^ { | }`, then also digits and `-`, at most 32 characters. Two nicks
 * are the same when they fold alike under IRC's `rfc1459` case mapping (A-Z, and `[ ] \ ~`,
 * are the upper case of a-z and `{ } | ^`). An account's nick is its account name, which
 * `auth/names` already keeps to letters, digits and `_ . -` (it may start with a digit or
 * contain `.`, which IRC clients parse without trouble in `nick!user@host`).
 *
 * Room names are kept in one form: lower case, without the `#` IRC puts in front, a letter or
 * digit and then letters, digits and `_ . -`, at most 49 characters (`#` + 49 = IRC's usual
 * CHANNELLEN of 50).
 */
import { MAX_USER_NAME_LENGTH } from '../auth/names.js';
import { ErrorCode } from '../errors.js';
import type { Refusal } from './protocol.js';

/** The longest nick, in characters (each one ASCII byte): as long as the longest account name. */
export const MAX_NICK_LENGTH = MAX_USER_NAME_LENGTH;
/** The longest room name, in characters, without IRC's `#`. */
export const MAX_ROOM_LENGTH = 49;
/** The room every session may join, where line-mode and UDP messages land. */
export const DEFAULT_ROOM = 'lobby';

const NICK = /^[A-Za-z[\]\\`_^{|}][A-Za-z0-9[\]\\`_^{|}-]*$/;
const ROOM = /^[a-z0-9][a-z0-9_.-]*$/;

/**
 * The form two nicks share when they are the same nick (IRC's `rfc1459` case mapping).
 *
 * @example
 * ```ts
 * foldNick('Ann[1]') === foldNick('ann{1}'); // true
 * ```
 */
export function foldNick(nick: string): string {
  let folded = '';
  for (const ch of nick) {
    const code = ch.charCodeAt(0);
    // A-Z and [ ] \ fold 0x20 up (to a-z and { } |); ~ folds to ^.
    if ((code >= 0x41 && code <= 0x5d) || ch === '~')
      folded += ch === '~' ? '^' : String.fromCharCode(code + 0x20);
    else folded += ch;
  }
  return folded;
}

/**
 * Whether `nick` is one that IRC networks give their services (NickServ, ChanServ, MemoServ,
 * OperServ ... any nick ending in `serv`, and Global): IRC clients are often set to send
 * `PRIVMSG NickServ :IDENTIFY name password` on connecting, so whoever held such a nick
 * would collect passwords. This chat has no services: no one may take these nicks, and no
 * direct message is delivered to them.
 *
 * @example
 * ```ts
 * serviceNick('NickServ'); // true
 * serviceNick('servo');    // false
 * ```
 */
export function serviceNick(nick: string): boolean {
  const folded = foldNick(nick);
  return folded.endsWith('serv') || folded === 'global';
}

/**
 * `undefined` when `nick` may be a guest's nick, else the refusal saying why (`ERR_BAD_NICK`).
 *
 * @example
 * ```ts
 * nickProblem('ann');    // undefined
 * nickProblem('1ann');   // { code: 'ERR_BAD_NICK', message: 'bad nick "1ann": ...' }
 * ```
 */
export function nickProblem(nick: unknown): Refusal | undefined {
  if (typeof nick === 'string' && nick.length <= MAX_NICK_LENGTH && NICK.test(nick)) return undefined;
  return { code: ErrorCode.BAD_NICK, message: `bad nick ${quote(nick)}: ${whyNick(nick)}` };
}

function whyNick(nick: unknown): string {
  if (typeof nick !== 'string' || nick.length === 0) return 'it is empty';
  if (nick.length > MAX_NICK_LENGTH) return `it is longer than ${MAX_NICK_LENGTH} characters`;
  if (/^[0-9-]/.test(nick)) return 'it may not start with a digit or -';
  return 'use letters A-Z a-z, digits, - and [ ] \\ ` _ ^ { | }';
}

/**
 * The room's one name: `#Lobby`, `lobby` and `LOBBY` are all `lobby`. `undefined` when the
 * name cannot be a room's (see `roomProblem`).
 *
 * @example
 * ```ts
 * normalizeRoom('#Team-A'); // 'team-a'
 * normalizeRoom('a b');     // undefined
 * ```
 */
export function normalizeRoom(name: unknown): string | undefined {
  if (typeof name !== 'string') return undefined;
  const bare = (name.startsWith('#') ? name.slice(1) : name).toLowerCase();
  return bare.length <= MAX_ROOM_LENGTH && ROOM.test(bare) ? bare : undefined;
}

/** The refusal for a name `normalizeRoom` turned down (`ERR_BAD_ROOM`). */
export function roomProblem(name: unknown): Refusal {
  const bare = typeof name === 'string' ? name.replace(/^#/, '') : '';
  const why =
    bare.length === 0
      ? 'it is empty'
      : bare.length > MAX_ROOM_LENGTH
        ? `it is longer than ${MAX_ROOM_LENGTH} characters`
        : 'use letters a-z, digits and _ . - (not first), after an optional #';
  return { code: ErrorCode.BAD_ROOM, message: `bad room name ${quote(name)}: ${why}` };
}

/** A name quoted for a refusal: one line, control characters escaped, long names cut. */
export function quote(name: unknown): string {
  if (typeof name !== 'string') return String(typeof name);
  return JSON.stringify(name.length > 40 ? `${name.slice(0, 40)}...` : name);
}

/**
 * The nicks that `text` names as a word: `ann`, `@Ann`, `ann:` and `ann.` all name `ann`;
 * `annie` and `joanna` do not. `member` maps a folded nick to the nick as shown when it is
 * someone who can be named (a member of the room), else to `undefined`. At most `limit`
 * nicks, each once, in the order they first appear.
 *
 * @example
 * ```ts
 * const room = new Map([['ann', 'Ann'], ['bob', 'bob']]);
 * mentions('hi @Ann, and bob.', (key) => room.get(key)); // ['Ann', 'bob']
 * ```
 */
export function mentions(text: string, member: (key: string) => string | undefined, limit = 20): string[] {
  const found: string[] = [];
  const seen = new Set<string>();
  // Words are runs of nick and account-name characters; '.' ends sentences as often as it
  // sits inside account names, so a word is tried as it is and without trailing dots.
  for (const word of text.match(/[A-Za-z0-9[\]\\`_^{|}.-]+/g) ?? []) {
    for (const candidate of [word, word.replace(/[.-]+$/, '')]) {
      const key = foldNick(candidate);
      const nick = member(key);
      if (nick === undefined) continue;
      if (!seen.has(key)) {
        seen.add(key);
        found.push(nick);
      }
      break;
    }
    if (found.length >= limit) break;
  }
  return found;
}
