/**
 * Text lines as messages: what `nc` users, IRC (RFC 2812 §2.3: CR LF, 512 bytes) and many
 * classic protocols speak. `LineDecoder` cuts a byte stream into lines; `LineConnection` puts
 * it on the shared `StreamConnection` (bounded queue, slow-reader policy, batched writes).
 *
 * Lines end with LF or CR LF. They are cut on bytes and decoded whole, so a character split
 * across chunks decodes as one (LF, 0x0A, never occurs inside a multi-byte UTF-8 sequence);
 * bytes that are not UTF-8 become U+FFFD (`pushBytes` hands lines over undecoded instead). The length limit counts bytes, without the line end,
 * and a longer line is refused as soon as it passes the limit: at most `maxLineLength + 1`
 * bytes of it are ever held.
 */
import type { Duplex } from 'node:stream';
import { ErrorCode, SockitError } from '../errors.js';
import { StreamConnection, type StreamConnectionOptions, type StreamFraming } from './conn.js';

const LF = 0x0a;
const CR = 0x0d;

/** Default longest line, in bytes without its end. */
export const DEFAULT_MAX_LINE_LENGTH = 8192;

/**
 * Cuts lines from a byte stream. Pure: no socket.
 *
 * @example
 * ```ts
 * const decoder = new LineDecoder({ maxLineLength: 512 });
 * decoder.push(Buffer.from('NICK ann\r\nJOIN #c'), (line) => console.log(line)); // NICK ann
 * decoder.push(Buffer.from('hat\n'), (line) => console.log(line));             // JOIN #chat
 * ```
 */
export class LineDecoder {
  readonly maxLineLength: number;
  /** The current line's bytes so far, never more than `maxLineLength + 1` (a CR may follow). */
  #parts: Buffer[] = [];
  #held = 0;
  /** `pushBytes` only: the rest of a line already reported too long is dropped up to its end. */
  #skipping = false;

  constructor(options: { maxLineLength?: number } = {}) {
    this.maxLineLength = options.maxLineLength ?? DEFAULT_MAX_LINE_LENGTH;
  }

  /** Bytes of an unfinished line held now. */
  get held(): number {
    return this.#held;
  }

  /** Calls `emit` for each line that `chunk` completes; throws `ERR_FRAME_TOO_LARGE` for a line over the limit. */
  push(chunk: Buffer, emit: (line: string) => void): void {
    this.#cut(chunk, (line) => emit((line as Buffer).toString('utf8')), false);
  }

  /**
   * Like `push`, for a protocol that checks the encoding itself (IRC refuses invalid UTF-8
   * rather than showing it mangled): each line is handed over as its bytes, undecoded (they
   * may share memory with `chunk`), and a line over the limit does not throw: `emit` gets
   * `undefined` for it, once, as soon as it passes the limit, and its rest is dropped up to
   * its end, so that the next line is read as it should be.
   */
  pushBytes(chunk: Buffer, emit: (line: Buffer | undefined) => void): void {
    this.#cut(chunk, emit, true);
  }

  /** The stream ended: a last line without its end, if any. */
  end(): string | undefined {
    this.#skipping = false;
    if (this.#held === 0) return undefined;
    return (this.#take(Buffer.alloc(0), false) as Buffer).toString('utf8');
  }

  #cut(chunk: Buffer, emit: (line: Buffer | undefined) => void, skip: boolean): void {
    let start = 0;
    for (;;) {
      const at = chunk.indexOf(LF, start);
      if (at < 0) break;
      const piece = chunk.subarray(start, at);
      start = at + 1;
      if (this.#skipping) {
        // The end of a line already reported too long.
        this.#skipping = false;
        continue;
      }
      emit(this.#take(piece, skip));
    }
    if (start < chunk.length && !this.#skipping && !this.#hold(chunk.subarray(start), skip)) {
      this.#skipping = true;
      emit(undefined);
    }
  }

  /** Keeps a piece of the current line; false (with `skip`) when that passed the limit. */
  #hold(piece: Buffer, skip: boolean): boolean {
    // Only a line whose last byte is a CR may hold one byte over the limit.
    if (this.#held + piece.length > this.maxLineLength + 1) return this.#tooLong(skip);
    this.#parts.push(Buffer.from(piece));
    this.#held += piece.length;
    return true;
  }

  /** The whole line, without its CR; undefined (with `skip`) when it is over the limit. */
  #take(tail: Buffer, skip: boolean): Buffer | undefined {
    const last = tail.length > 0 ? tail[tail.length - 1] : this.#parts.at(-1)?.at(-1);
    const length = this.#held + tail.length - (last === CR ? 1 : 0);
    // Checked before joining, so a long line in one chunk is not copied.
    if (length > this.maxLineLength) return void this.#tooLong(skip);
    const line = this.#parts.length === 0 ? tail : Buffer.concat([...this.#parts, tail]);
    this.#parts = [];
    this.#held = 0;
    return line.subarray(0, length);
  }

  #tooLong(skip: boolean): false {
    this.#parts = [];
    this.#held = 0;
    if (skip) return false;
    throw new SockitError(ErrorCode.FRAME_TOO_LARGE, `line longer than ${this.maxLineLength} bytes`);
  }
}

export interface LineConnectionOptions extends StreamConnectionOptions {
  /** Longest line received, in bytes without its end. Default 8192. */
  maxLineLength?: number;
  /** What ends a line sent. Default `\n`; IRC and most RFC protocols want `\r\n`. */
  newline?: '\n' | '\r\n';
}

/**
 * Lines in, lines out over a stream socket. A line over the limit stops reading: the iterator
 * yields the lines before it, then throws `ERR_FRAME_TOO_LARGE`, and the connection stays
 * writable so that a refusal can be sent before `close()`. `send()` throws
 * `ERR_INVALID_ARGUMENT` for a line that contains CR or LF (it would forge a line).
 *
 * @example
 * ```ts
 * const conn = new LineConnection(socket, { maxLineLength: 512, newline: '\r\n' });
 * try {
 *   for await (const line of conn) if (!conn.send(line.toUpperCase())) break;
 * } catch (err) {
 *   conn.send(`ERR ${(err as SockitError).code}`);
 * }
 * await conn.close();
 * ```
 */
export class LineConnection extends StreamConnection<string, string> {
  constructor(socket: Duplex, options: LineConnectionOptions = {}) {
    super(socket, lineFraming(options), options);
  }
}

function lineFraming(options: LineConnectionOptions): StreamFraming<string, string> {
  const decoder = new LineDecoder(options);
  const newline = options.newline ?? '\n';
  return {
    onBadInput: 'stop',
    push: (chunk, emit) => decoder.push(chunk, emit),
    end: () => decoder.end(),
    encode: (line) => encodeLine(line, newline),
  };
}

function encodeLine(line: string, newline: string): Buffer {
  if (/[\r\n]/.test(line))
    throw new SockitError(ErrorCode.INVALID_ARGUMENT, 'a line cannot contain CR or LF');
  return Buffer.from(line + newline, 'utf8');
}

/** A line that could not be taken: over the length limit, or not valid UTF-8. */
export interface BadLine {
  problem: 'length' | 'encoding';
}

const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * Lines in, lines out, for a person typing: a line that is not valid UTF-8, or is over the
 * limit, arrives as a `BadLine` (to refuse) instead of mangled text or the end of reading;
 * the lines after it are read as usual. Otherwise as `LineConnection`.
 *
 * @example
 * ```ts
 * for await (const line of new CheckedLineConnection(socket, { maxLineLength: 4096 })) {
 *   if (typeof line !== 'string') conn.send(`! that line was refused (${line.problem})`);
 * }
 * ```
 */
export class CheckedLineConnection extends StreamConnection<string | BadLine, string> {
  constructor(socket: Duplex, options: LineConnectionOptions = {}) {
    const decoder = new LineDecoder(options);
    const newline = options.newline ?? '\n';
    const take = (line: Buffer | undefined): string | BadLine => {
      if (line === undefined) return { problem: 'length' };
      try {
        return strictUtf8.decode(line);
      } catch {
        return { problem: 'encoding' };
      }
    };
    super(
      socket,
      {
        onBadInput: 'stop',
        push: (chunk, emit) => decoder.pushBytes(chunk, (line) => emit(take(line))),
        end: () => decoder.end(),
        encode: (line) => encodeLine(line, newline),
      },
      options,
    );
  }
}
