/**
 * Files in IP Messenger: the attachment list that a SENDMSG with FILEATTACHOPT carries after
 * its message, and the folder stream that answers GETDIRFILES (protocol draft 14, §3.5).
 *
 *   list entry:   fileID:name:size:mtime:attr[:ext=val...]:\a     (fileID decimal, the rest hex)
 *   folder entry: hhhh:name:size:attr[:ext=val...]:contents         (hhhh: header bytes, hex)
 *
 * A ':' in a name travels as '::'. A folder stream is depth-first: the folder itself first, a
 * DIR entry goes down into it, a RETPARENT entry (name '.') comes back up, and the stream ends
 * when the top folder is left.
 */
import { ErrorCode, SockitError } from '../errors.js';
import { hasHidden } from '../runtime/text.js';
import { type Charset, decode, encode, FILELIST_SEPARATOR, FileType } from './ipmsg.js';

/** A folder stream that breaks its rules. */
const bad = (why: string): SockitError => new SockitError(ErrorCode.BAD_REQUEST, `folder stream: ${why}`);

export interface Attachment {
  /** Decimal in the list, hex in the requests for it. */
  id: number;
  name: string;
  size: number;
  /** Unix seconds. */
  mtime: number;
  /** FileType in the low 8 bits. */
  attr: number;
}

/** Attachments of one message at most. */
export const MAX_ATTACHMENTS = 256;
/**
 * The longest file name taken, in bytes of UTF-8: file systems take 255, and a name taken
 * here may get ` (999)` added.
 */
const MAX_NAME_BYTES = 240;

/**
 * A name a peer sent, if it can be a file's name here: not empty, `.` or `..`, no `/`, `\`,
 * NUL, control, reordering or invisible characters, at most 240 bytes. Undefined for anything else: such a
 * name is refused, never rewritten into something that could mean another place.
 */
export function safeFileName(name: string): string | undefined {
  if (name === '' || name === '.' || name === '..') return undefined;
  // Control characters, and those that reorder or hide what follows (a name shown as
  // 'exe.jpg' that is 'gpj.exe' reversed): never in a name saved here.
  if (/[/\\]/.test(name) || hasHidden(name)) return undefined;
  if (Buffer.byteLength(name, 'utf8') > MAX_NAME_BYTES) return undefined;
  return name;
}

const escapeName = (name: string): string => name.replaceAll(':', '::');

/** The fields of `text` split at single colons, `::` read as a colon. */
function fields(text: string): string[] {
  const out: string[] = [];
  let current = '';
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c !== ':') current += c;
    else if (text[i + 1] === ':') {
      current += ':';
      i++;
    } else {
      out.push(current);
      current = '';
    }
  }
  if (current !== '') out.push(current);
  return out;
}

const HEX = /^[0-9a-fA-F]{1,16}$/;
const hex = (text: string | undefined): number | undefined => {
  if (text === undefined || !HEX.test(text)) return undefined;
  const n = Number.parseInt(text, 16);
  return Number.isSafeInteger(n) ? n : undefined;
};

/** The attachment list, as a SENDMSG's extra carries it after `message\0`. */
export function buildAttachmentList(files: readonly Attachment[], charset: Charset): Buffer {
  const text = files
    .map(
      (f) =>
        `${f.id}:${escapeName(f.name)}:${f.size.toString(16)}:${f.mtime.toString(16)}:${f.attr.toString(16)}:${FILELIST_SEPARATOR}`,
    )
    .join('');
  return encode(text, charset);
}

/**
 * The attachments of a list: entries that do not parse, have an unsafe name or a type other
 * than a file or a folder are left out (never the whole list for one bad entry).
 */
export function parseAttachmentList(list: Buffer, charset: Charset): Attachment[] {
  const out: Attachment[] = [];
  for (let entry of decode(list, charset).split(FILELIST_SEPARATOR)) {
    if (out.length >= MAX_ATTACHMENTS) break;
    if (entry.startsWith(':')) entry = entry.slice(1);
    if (entry === '') continue;
    const [idText, rawName, sizeText, mtimeText, attrText] = fields(entry);
    const id = idText !== undefined && /^\d{1,10}$/.test(idText) ? Number(idText) : undefined;
    const name = rawName === undefined ? undefined : safeFileName(rawName);
    const size = hex(sizeText);
    const mtime = hex(mtimeText) ?? 0;
    const attr = hex(attrText);
    if (id === undefined || name === undefined || size === undefined || attr === undefined) continue;
    const type = attr & 0xff;
    if (type !== FileType.REGULAR && type !== FileType.DIR) continue;
    if (out.some((f) => f.id === id)) continue; // one file per id
    out.push({ id, name, size, mtime, attr });
  }
  return out;
}

/** One header of a folder stream: `hhhh:name:size:attr:14=mtime:`. */
export function buildDirHeader(
  entry: { name: string; size: number; attr: number; mtime: number },
  charset: Charset,
): Buffer {
  const rest = encode(
    `:${escapeName(entry.name)}:${entry.size.toString(16)}:${entry.attr.toString(16)}:14=${entry.mtime.toString(16)}:`,
    charset,
  );
  const size = 4 + rest.length;
  if (size > 0xffff) throw new SockitError(ErrorCode.INVALID_ARGUMENT, 'folder entry header too long');
  return Buffer.concat([Buffer.from(size.toString(16).padStart(4, '0'), 'latin1'), rest]);
}

export type DirEvent =
  | { kind: 'dir'; name: string; mtime: number }
  | { kind: 'file'; name: string; size: number; mtime: number; keep: boolean }
  | { kind: 'data'; bytes: Buffer }
  | { kind: 'file-end' }
  | { kind: 'up' }
  | { kind: 'end' };

export interface DirLimits {
  /** Folders deep at most. */
  maxDepth: number;
  /** Entries (files and folders) at most. */
  maxEntries: number;
}

/** The longest header a folder stream may send (IP Messenger's are under 2 KiB). */
const MAX_HEADER = 8192;

/**
 * Reads a folder stream as it arrives: `push` returns what each chunk completed. A stream
 * that breaks its rules (a header that does not parse, an unsafe name, a RETPARENT above the
 * top, too deep, too many entries) throws, and the reader should drop the connection.
 */
export class DirStreamParser {
  #buffer: Buffer = Buffer.alloc(0);
  #left = 0;
  #inFile = false;
  #depth = 0;
  #entries = 0;
  #ended = false;

  constructor(
    readonly charset: Charset,
    readonly limits: DirLimits = { maxDepth: 32, maxEntries: 100_000 },
  ) {}

  push(chunk: Buffer): DirEvent[] {
    if (this.#ended) {
      if (chunk.length > 0) throw bad('data after the end of the folder');
      return [];
    }
    this.#buffer = this.#buffer.length === 0 ? chunk : Buffer.concat([this.#buffer, chunk]);
    const events: DirEvent[] = [];
    for (;;) {
      if (this.#inFile) {
        if (this.#left > 0 && this.#buffer.length > 0) {
          const take = Math.min(this.#left, this.#buffer.length);
          events.push({ kind: 'data', bytes: this.#buffer.subarray(0, take) });
          this.#buffer = this.#buffer.subarray(take);
          this.#left -= take;
        }
        if (this.#left > 0) return events;
        this.#inFile = false;
        events.push({ kind: 'file-end' });
      }
      if (this.#ended) {
        if (this.#buffer.length > 0) throw bad('data after the end of the folder');
        return events;
      }
      const colon = this.#buffer.indexOf(0x3a);
      if (colon < 0) {
        if (this.#buffer.length > 8) throw bad('folder entry header without its size');
        return events;
      }
      const size = hex(this.#buffer.subarray(0, colon).toString('latin1'));
      if (size === undefined || size < 8 || size > MAX_HEADER) throw bad('bad folder entry header size');
      if (this.#buffer.length < size) return events;
      const header = this.#buffer.subarray(0, size);
      this.#buffer = this.#buffer.subarray(size);
      if (header[header.length - 1] !== 0x3a) throw bad('folder entry header does not end with ":"');
      events.push(...this.#entry(fields(decode(header, this.charset))));
    }
  }

  #entry([, rawName, sizeText, attrText, ...ext]: string[]): DirEvent[] {
    const size = hex(sizeText);
    const attr = hex(attrText);
    if (size === undefined || attr === undefined || rawName === undefined) {
      throw bad('folder entry header does not parse');
    }
    const mtimeField = ext.find((e) => e.startsWith('14='));
    const mtime = hex(mtimeField?.slice(3)) ?? 0;
    const type = attr & 0xff;
    if (type === FileType.RETPARENT) {
      if (this.#depth === 0) throw bad('folder stream went above its top');
      this.#depth--;
      if (this.#depth === 0) {
        this.#ended = true;
        return [{ kind: 'up' }, { kind: 'end' }];
      }
      return [{ kind: 'up' }];
    }
    if (++this.#entries > this.limits.maxEntries) throw bad('too many entries in the folder');
    const name = safeFileName(rawName);
    if (name === undefined) throw bad(`unsafe name in the folder: ${JSON.stringify(rawName.slice(0, 64))}`);
    if (type === FileType.DIR) {
      if (++this.#depth > this.limits.maxDepth) throw bad('folder too deep');
      return [{ kind: 'dir', name, mtime }];
    }
    if (this.#depth === 0) throw bad('a file outside the folder');
    // Its bytes follow; only a regular file's are kept (a link's or a device's are skipped).
    this.#inFile = true;
    this.#left = size;
    return [{ kind: 'file', name, size, mtime, keep: type === FileType.REGULAR }];
  }
}
