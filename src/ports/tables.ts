/**
 * Reading the socket tables, /proc/net/{tcp,tcp6,udp,udp6}, in as few kernel walks as can be.
 *
 * Each read() of a TCP table makes the kernel walk its whole established-connection hash
 * (262,144 buckets on a 24 GiB machine: ~1.6 ms), however few sockets there are, and so
 * does the read that finds the end: `cat /proc/net/tcp` pays two walks for one page of text.
 * These tables are seq_files: a read fills the caller's buffer record by record and stops
 * only at the end of the table, at a full caller's buffer, or when the next record does not
 * fit in the kernel's own buffer, which is at least a page (4096 bytes). So a read that
 * returns less than a page minus the longest record (a TCP line is ~150 bytes, a TCP6 line
 * ~180; 512 is the bound used) ended at the table's end, and the read that would return 0
 * is not made. A longer read is followed by another, as usual.
 *
 * `prefetchSocketTables` starts the first read of each table in the thread pool, for
 * `sockit ports` to start before its code is loaded: the walks then run on the other core
 * meanwhile, and the second page of a table longer than that (more than ~25 sockets) as
 * well; the rest of a longer one is read on when that page is taken up.
 */
import { closeSync, openSync, read, readSync } from 'node:fs';

/** The tables, in the order `sockit ports` reads them. */
const SOCKET_TABLES = ['tcp', 'tcp6', 'udp', 'udp6'] as const;

/** The kernel's seq_file buffer holds at least a page (4096 bytes on every architecture). */
const SEQ_BUFFER = 4096;
/** Longer than any /proc/net/{tcp,udp}{,6} line, whatever its numbers. */
const LONGEST_RECORD = 512;
/** Each read asks for this much; the kernel gives a page or less. */
const CHUNK = 64 * 1024;

/**
 * True when a read of `n` bytes from a socket table was its last: 0, or short of the
 * kernel's buffer by more than a record (the reasoning is at the top of this file).
 */
export function lastTableRead(n: number): boolean {
  return n <= SEQ_BUFFER - LONGEST_RECORD;
}

/**
 * A socket table's text, or undefined when the file does not exist (a kernel without IPv6
 * has no tcp6); other errors are thrown. Synchronous: /proc answers from memory, and a
 * thread-pool round trip costs more than the read.
 *
 * @example
 * ```ts
 * const text = readSocketTable('/proc/net/tcp');
 * ```
 */
export function readSocketTable(file: string): string | undefined {
  const fd = openTable(file);
  if (fd === undefined) return undefined;
  const parts: string[] = [];
  try {
    readRestSync(fd, parts);
  } finally {
    closeSync(fd);
  }
  return parts.join('');
}

/** One buffer for the synchronous reads: each returns a page or less, kept as text at once. */
const SHARED = Buffer.allocUnsafe(CHUNK);

/** Reads `fd` to the table's end, appending each read's text to `parts`. */
function readRestSync(fd: number, parts: string[]): void {
  for (;;) {
    const n = readSync(fd, SHARED, 0, CHUNK, null);
    parts.push(SHARED.toString('latin1', 0, n));
    if (lastTableRead(n)) return;
  }
}

/**
 * Like readSocketTable, but takes up a read that `prefetchSocketTables` started, if any.
 *
 * @example
 * ```ts
 * const text = await readSocketTableAsync('/proc/net/tcp');
 * ```
 */
export async function readSocketTableAsync(file: string): Promise<string | undefined> {
  const prefetched = takePrefetched(file);
  if (prefetched === undefined) return readSocketTable(file);
  const result = await prefetched;
  if ('error' in result) throw result.error;
  return result.text;
}

/** A started read: the table's text (undefined: no such table), or why it failed. */
type Pending = Promise<{ text: string | undefined } | { error: unknown }>;

/** Shared through globalThis: the entry point that starts the reads and the command's bundle are separate files. */
const PREFETCHED = Symbol.for('sockit.ports.prefetched-tables');

function prefetchedTables(): Map<string, Pending> | undefined {
  return (globalThis as { [PREFETCHED]?: Map<string, Pending> })[PREFETCHED];
}

/** A prefetched read of `file`, used once: a later call reads the table afresh. */
function takePrefetched(file: string): Pending | undefined {
  const tables = prefetchedTables();
  const entry = tables?.get(file);
  if (entry !== undefined) tables?.delete(file);
  return entry;
}

/**
 * Starts reading every socket table in the thread pool, for readSocketTable(Async) of the
 * same paths to take up. Never throws; an error is handed to the reader.
 *
 * @example
 * ```ts
 * prefetchSocketTables(); // then load the code that calls listPorts()
 * ```
 */
export function prefetchSocketTables(procRoot = '/proc'): void {
  const tables = new Map<string, Pending>();
  (globalThis as { [PREFETCHED]?: Map<string, Pending> })[PREFETCHED] = tables;
  for (const name of SOCKET_TABLES) {
    const file = `${procRoot}/net/${name}`;
    let fd: number | undefined;
    try {
      fd = openTable(file);
    } catch (error) {
      tables.set(file, Promise.resolve({ error }));
      continue;
    }
    tables.set(file, fd === undefined ? Promise.resolve({ text: undefined }) : readAll(fd));
  }
}

function readAll(fd: number): Pending {
  return new Promise((resolve) => {
    const buffer = Buffer.allocUnsafe(CHUNK);
    const parts: string[] = [];
    // The first page comes from the pool while the command loads. So does the second, if
    // any (a table of more than ~25 sockets, as on most machines): the read that reaches
    // the end pays the walk of the empty buckets left, and the command reads the
    // descriptors' links meanwhile. A longer table's other pages are then read at once on
    // this thread: as further requests, each would wait for the main thread to take its
    // callback (with 1,500 sockets, 57 pages, 12 ms of waiting).
    const onRead = (error: Error | null, n: number): void => {
      let result: { text: string } | { error: unknown };
      try {
        if (error) throw error;
        parts.push(buffer.toString('latin1', 0, n));
        if (!lastTableRead(n) && parts.length === 1) {
          read(fd, buffer, 0, CHUNK, null, onRead);
          return;
        }
        if (!lastTableRead(n)) readRestSync(fd, parts);
        result = { text: parts.join('') };
      } catch (err) {
        result = { error: err };
      }
      closeSync(fd);
      resolve(result);
    };
    read(fd, buffer, 0, CHUNK, null, onRead);
  });
}

function openTable(file: string): number | undefined {
  try {
    return openSync(file, 'r');
  } catch (err) {
    // Only a missing file is "no table"; anything else is a real failure.
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}
