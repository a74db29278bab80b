/**
 * Message ids: unique, strictly increasing on one hub, and sortable as plain strings, so
 * that "after id X" resumes without duplicates and a database orders them with a binary
 * string comparison.
 *
 * An id is 16 characters of Crockford base32 (`0-9 A-Z` without `I L O U`, which sort in
 * ASCII order): 10 for the milliseconds since the epoch, 4 for a sequence within that
 * millisecond, 2 for the node that made it (0 to 1023). Several hub nodes (scale-out) make
 * ids that never collide and that interleave by time. When the clock stands still or steps
 * back, the sequence carries on from the last id; when the sequence of one millisecond runs
 * out (over a million ids), the id borrows the next millisecond. Either way each id is
 * greater than the one before.
 */
import { ErrorCode, SockitError } from '../errors.js';

const ALPHABET = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';
const TIME_CHARS = 10;
const SEQ_CHARS = 4;
const NODE_CHARS = 2;
export const MESSAGE_ID_LENGTH = TIME_CHARS + SEQ_CHARS + NODE_CHARS;
const MAX_SEQ = 32 ** SEQ_CHARS - 1;
export const MAX_NODE = 32 ** NODE_CHARS - 1;
const MESSAGE_ID = new RegExp(`^[${ALPHABET}]{${MESSAGE_ID_LENGTH}}$`);

/** True when `id` has the form of a message id (any node, any time). */
export function isMessageId(id: unknown): id is string {
  return typeof id === 'string' && MESSAGE_ID.test(id);
}

/**
 * Makes the ids of one node.
 *
 * @example
 * ```ts
 * const ids = new MessageIds({ node: 3 });
 * const a = ids.next(Date.now());
 * const b = ids.next(Date.now());
 * a < b; // true, as strings
 * ```
 */
export class MessageIds {
  readonly node: number;
  #time = 0;
  #seq = -1;
  readonly #suffix: string;

  /**
   * `node`: this hub's number, 0 to 1023, unique among the nodes sharing rooms. `after`: an
   * id to continue after, e.g. the newest in the history, so ids stay increasing across a
   * restart even when the clock went back.
   */
  constructor(options: { node?: number; after?: string } = {}) {
    const node = options.node ?? 0;
    if (!Number.isInteger(node) || node < 0 || node > MAX_NODE) {
      throw new SockitError(
        ErrorCode.INVALID_ARGUMENT,
        `chat node must be a whole number from 0 to ${MAX_NODE}`,
      );
    }
    this.node = node;
    this.#suffix = encode(node, NODE_CHARS);
    if (options.after !== undefined) {
      if (!isMessageId(options.after)) {
        throw new SockitError(ErrorCode.INVALID_ARGUMENT, 'chat ids: "after" is not a message id');
      }
      this.#time = decode(options.after.slice(0, TIME_CHARS));
      this.#seq = decode(options.after.slice(TIME_CHARS, TIME_CHARS + SEQ_CHARS));
    }
  }

  /** A new id for a message stamped `now` (ms since the epoch). */
  next(now: number): string {
    const ms = Math.floor(now);
    if (ms > this.#time) {
      this.#time = ms;
      this.#seq = 0;
    } else if (this.#seq < MAX_SEQ) {
      this.#seq++;
    } else {
      this.#time++;
      this.#seq = 0;
    }
    return encode(this.#time, TIME_CHARS) + encode(this.#seq, SEQ_CHARS) + this.#suffix;
  }
}

/** The milliseconds since the epoch an id was made at (its node's clock, or later). */
export function idTime(id: string): number {
  return decode(id.slice(0, TIME_CHARS));
}

/** The lowest id of millisecond `ms` (any node): every id made at `ms` or later sorts after or equal. */
export function firstIdAt(ms: number): string {
  return encode(Math.max(0, Math.floor(ms)), TIME_CHARS) + '0'.repeat(SEQ_CHARS + NODE_CHARS);
}

function encode(value: number, width: number): string {
  let out = '';
  let rest = value;
  for (let i = 0; i < width; i++) {
    out = ALPHABET[rest % 32] + out;
    rest = Math.floor(rest / 32);
  }
  return out;
}

function decode(text: string): number {
  let value = 0;
  for (const ch of text) value = value * 32 + ALPHABET.indexOf(ch);
  return value;
}
