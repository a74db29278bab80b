/**
 * Where `sockit chat join` left off in each room, so that the next join can mark what is new
 * in its scrollback: the newest message id shown, per server, account or nick, and room, in
 * `chat-read.json` of the cache folder ($XDG_CACHE_HOME/sockit; mode 0600). Losing the file
 * loses only the marks; a damaged one is started again. At most `MAX_MARKS` rooms are kept,
 * the least recently left dropped first.
 */
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { isMessageId } from '../chat/ids.js';

export const MAX_MARKS = 500;

export class ReadMarks {
  readonly #file: string;
  #marks = new Map<string, string>();

  constructor(dir: string) {
    this.#file = path.join(dir, 'chat-read.json');
  }

  static key(server: string, who: string, room: string): string {
    return `${server}|${who}|${room}`;
  }

  async load(): Promise<this> {
    try {
      const data = JSON.parse(await readFile(this.#file, 'utf8')) as unknown;
      if (data !== null && typeof data === 'object' && !Array.isArray(data)) {
        for (const [key, id] of Object.entries(data)) if (isMessageId(id)) this.#marks.set(key, id);
      }
    } catch {
      // none yet, or damaged: no marks
    }
    return this;
  }

  get(key: string): string | undefined {
    return this.#marks.get(key);
  }

  /** The newest id seen in a room; kept as the most recent entry. */
  set(key: string, id: string): void {
    const old = this.#marks.get(key);
    if (old !== undefined && old >= id) return;
    this.#marks.delete(key);
    this.#marks.set(key, id);
  }

  /** Writes the marks (the newest `MAX_MARKS`), replacing the file in one rename. */
  async save(): Promise<void> {
    const entries = [...this.#marks].slice(-MAX_MARKS);
    await mkdir(path.dirname(this.#file), { recursive: true, mode: 0o700 });
    const temp = `${this.#file}.${process.pid}.tmp`;
    await writeFile(temp, `${JSON.stringify(Object.fromEntries(entries))}\n`, { mode: 0o600 });
    await rename(temp, this.#file);
  }
}
