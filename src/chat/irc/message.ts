/**
 * IRC lines: parsing what a client sent (RFC 1459 §2.3.1, RFC 2812 §2.3, with IRCv3 message
 * tags) and formatting what the server sends. A line is at most 512 bytes with its CR LF,
 * plus up to 8191 bytes of tags in front; it must be UTF-8 (ISUPPORT `UTF8ONLY`): a line that
 * is not is refused whole rather than shown mangled.
 */

/** Longest line without its tags and CR LF (RFC 2812 §2.3: 512 with CR LF). */
export const MAX_BODY_BYTES = 510;
/** Longest tag section, its `@` and trailing space included (IRCv3 message-tags). */
export const MAX_TAGS_BYTES = 8191;
/** Longest line read, without its end: tags and body. */
export const MAX_LINE_BYTES = MAX_TAGS_BYTES + MAX_BODY_BYTES;
/** RFC 2812 §2.3: at most 15 parameters. */
const MAX_PARAMS = 15;

/** One message from a client. */
export interface IrcMessage {
  tags: Map<string, string>;
  source?: string;
  /** Upper case: `PRIVMSG`, or three digits. */
  command: string;
  params: string[];
}

/** Why a line could not be taken, and its command when that much could be read. */
export interface LineProblem {
  problem: 'too-long' | 'utf8' | 'malformed';
  command?: string;
}

const strictUtf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
const COMMAND = /^(?:[A-Za-z]+|[0-9]{3})$/;

/**
 * The message a line holds; `undefined` for an empty line (RFC 2812 §2.3.1: ignored
 * silently); else the problem with it.
 *
 * @example
 * ```ts
 * parseLine(Buffer.from('@+typing=active TAGMSG #lobby')); // { command: 'TAGMSG', params: ['#lobby'], ... }
 * ```
 */
export function parseLine(bytes: Buffer): IrcMessage | LineProblem | undefined {
  let start = 0;
  if (bytes[0] === 0x40 /* @ */) {
    const space = bytes.indexOf(0x20);
    if (space < 0) return { problem: 'malformed' };
    // The spaces after the tags belong to the tag section.
    start = space;
    while (bytes[start] === 0x20) start++;
    if (start > MAX_TAGS_BYTES) return { problem: 'too-long', command: guessCommand(bytes, start) };
  }
  if (bytes.length - start > MAX_BODY_BYTES)
    return { problem: 'too-long', command: guessCommand(bytes, start) };
  let text: string;
  try {
    text = strictUtf8.decode(bytes);
  } catch {
    return { problem: 'utf8', command: guessCommand(bytes, start) };
  }
  if (text.includes('\0')) return { problem: 'malformed', command: guessCommand(bytes, start) };
  return parseText(text);
}

/** The command of a line that cannot be parsed whole, for the refusal (`FAIL <command> ...`). */
function guessCommand(bytes: Buffer, start: number): string | undefined {
  const words = bytes
    .subarray(start, start + 600)
    .toString('latin1')
    .split(' ')
    .filter(Boolean);
  const word = words[0]?.startsWith(':') ? words[1] : words[0];
  return word !== undefined && COMMAND.test(word) ? word.toUpperCase() : undefined;
}

function parseText(line: string): IrcMessage | LineProblem | undefined {
  let rest = line;
  const tags = new Map<string, string>();
  if (rest.startsWith('@')) {
    const space = rest.indexOf(' ');
    for (const tag of rest.slice(1, space).split(';')) {
      if (tag === '') continue;
      const eq = tag.indexOf('=');
      if (eq < 0) tags.set(tag, '');
      else tags.set(tag.slice(0, eq), unescapeTag(tag.slice(eq + 1)));
    }
    rest = rest.slice(space);
  }
  rest = rest.replace(/^ +/, '');
  if (rest === '') return tags.size > 0 ? { problem: 'malformed' } : undefined;
  let source: string | undefined;
  if (rest.startsWith(':')) {
    const space = rest.indexOf(' ');
    if (space < 0) return { problem: 'malformed' };
    source = rest.slice(1, space);
    rest = rest.slice(space).replace(/^ +/, '');
  }
  const space = rest.indexOf(' ');
  const command = space < 0 ? rest : rest.slice(0, space);
  if (!COMMAND.test(command)) return { problem: 'malformed' };
  rest = space < 0 ? '' : rest.slice(space);
  const params: string[] = [];
  while (params.length < MAX_PARAMS) {
    rest = rest.replace(/^ +/, '');
    if (rest === '') break;
    if (rest.startsWith(':') || params.length === MAX_PARAMS - 1) {
      params.push(rest.startsWith(':') ? rest.slice(1) : rest);
      break;
    }
    const next = rest.indexOf(' ');
    params.push(next < 0 ? rest : rest.slice(0, next));
    rest = next < 0 ? '' : rest.slice(next);
  }
  const message: IrcMessage = { tags, command: command.toUpperCase(), params };
  if (source !== undefined) message.source = source;
  return message;
}

/** True for a parse problem rather than a message. */
export function isProblem(value: IrcMessage | LineProblem): value is LineProblem {
  return 'problem' in value;
}

const TAG_UNESCAPES: Record<string, string> = { ':': ';', s: ' ', '\\': '\\', r: '\r', n: '\n' };

function unescapeTag(value: string): string {
  return value.replace(/\\(.?)/g, (_, ch: string) => TAG_UNESCAPES[ch] ?? ch);
}

const TAG_ESCAPES: Record<string, string> = {
  ';': '\\:',
  ' ': '\\s',
  '\\': '\\\\',
  '\r': '\\r',
  '\n': '\\n',
};

function escapeTag(value: string): string {
  return value.replace(/[; \\\r\n]/g, (ch) => TAG_ESCAPES[ch] as string);
}

/** Tags for a line sent: name to value ('' for a tag without one). */
export type Tags = Record<string, string>;

/**
 * One line to send (without its CR LF). The last parameter becomes a trailing one (`:text`)
 * when it must; CR, LF and NUL, which would end or cut the line, become spaces; a body over
 * 510 bytes is cut at a character boundary (callers split long texts themselves first).
 * `trailing`: the last parameter is a trailing one even when it need not be (text).
 *
 * @example
 * ```ts
 * formatLine({ source: 'ann!ann@sockit', command: 'PRIVMSG', params: ['#lobby', 'hi there'] });
 * // ':ann!ann@sockit PRIVMSG #lobby :hi there'
 * ```
 */
export function formatLine(line: {
  tags?: Tags;
  source?: string;
  command: string;
  params: string[];
  /** Always send the last parameter as a trailing one, as servers do for text. */
  trailing?: boolean;
}): string {
  const params = line.params.map((p) => p.replace(/[\r\n\0]/g, ' '));
  const last = params.length - 1;
  let body = line.source === undefined ? line.command : `:${line.source} ${line.command}`;
  for (let i = 0; i < last; i++) body += ` ${params[i] === '' ? '*' : params[i]}`;
  if (last >= 0) {
    const p = params[last] as string;
    const head = `${body} `;
    const trailing = line.trailing || p === '' || p.includes(' ') || p.startsWith(':') ? `:${p}` : p;
    body = head + cutUtf8(trailing, MAX_BODY_BYTES - Buffer.byteLength(head));
  }
  const tags = Object.entries(line.tags ?? {});
  if (tags.length === 0) return body;
  const section = tags.map(([k, v]) => (v === '' ? k : `${k}=${escapeTag(v)}`)).join(';');
  return `@${section} ${body}`;
}

/** `text` cut to at most `maxBytes` bytes of UTF-8, at a character boundary. */
export function cutUtf8(text: string, maxBytes: number): string {
  if (text.length * 3 <= maxBytes) return text;
  const bytes = Buffer.from(text, 'utf8');
  if (bytes.length <= maxBytes) return text;
  let end = Math.max(0, maxBytes);
  while (end > 0 && ((bytes[end] as number) & 0xc0) === 0x80) end--;
  return bytes.toString('utf8', 0, end);
}

/**
 * `text` in pieces of at most `maxBytes` bytes of UTF-8 each, cut at a space near the end
 * of a piece when there is one, else at a character boundary.
 */
export function splitUtf8(text: string, maxBytes: number): string[] {
  const size = Math.max(4, maxBytes);
  const pieces: string[] = [];
  let rest = text;
  while (Buffer.byteLength(rest, 'utf8') > size) {
    let piece = cutUtf8(rest, size);
    const space = piece.lastIndexOf(' ');
    if (space > piece.length / 2) piece = piece.slice(0, space + 1);
    pieces.push(piece);
    rest = rest.slice(piece.length);
  }
  pieces.push(rest);
  return pieces;
}

/** IRCv3 server-time's form: `2023-11-14T22:13:20.000Z`. */
export function serverTime(ms: number): string {
  return new Date(ms).toISOString();
}
