/**
 * Which processes hold which sockets, the way `ss -p` and `netstat -p` find out: every
 * open file descriptor under /proc/PID/fd that is a socket reads as a link to
 * `socket:[INODE]`, and the inode matches the last column of /proc/net/{tcp,udp}.
 *
 * Other users' /proc/PID/fd is unreadable without privilege; those processes are
 * skipped, so an entry without an owner means "not visible to us", not "no owner".
 *
 * The reads are synchronous: /proc is answered by the kernel from memory, and a thousand
 * descriptors read one by one take a few milliseconds, where a promise and a thread-pool
 * round trip for each took ten times as long. The one exception is the listing of each
 * process's descriptors started by prefetchSocketOwners before the command's code loads,
 * which has that time to finish in the pool.
 */
import { closeSync, existsSync, openSync, readdir, readdirSync, readlinkSync, readSync } from 'node:fs';

export interface ProcessInfo {
  pid: number;
  /** The command name from /proc/PID/comm (at most 15 characters, as `ss` shows it). */
  command: string;
  /**
   * The whole command line from /proc/PID/cmdline, arguments joined by spaces (at most
   * 4096 characters); `command` when it is empty (kernel threads) or unreadable.
   */
  commandLine: string;
}

/** Longest command line kept: argv may be megabytes; a table row needs the start. */
const MAX_COMMAND_LINE = 4096;

const SOCKET_LINK = /^socket:\[(\d+)\]$/;

/**
 * Maps socket inodes to the processes holding them (several after a fork), by pid.
 *
 * @example
 * ```ts
 * const owners = await socketOwners();
 * owners.get(entry.inode); // [{ pid: 4242, command: 'node' }]
 * ```
 */
export async function socketOwners(procRoot = '/proc'): Promise<Map<number, ProcessInfo[]>> {
  const owners = new Map<number, ProcessInfo[]>();
  const listings = (await takePrefetched(procRoot)) ?? listDescriptors(procRoot, listPids(procRoot));
  for (const [pid, fds] of listings) {
    const { command, commandLine, inodes } = socketsOf(procRoot, pid, fds);
    for (const inode of inodes) {
      const list = owners.get(inode) ?? [];
      list.push({ pid, command, commandLine });
      owners.set(inode, list);
    }
  }
  for (const list of owners.values()) list.sort((a, b) => a.pid - b.pid);
  return owners;
}

/** Every process's descriptor names, by pid: [] where they cannot be listed (gone, or another user's). */
type Listings = [pid: number, fds: string[]][];

/** The processes whose descriptors are listed: all but the kernel's threads (see kernelThreads). */
function listPids(procRoot: string): number[] {
  const kernel = kernelThreads(procRoot);
  const pids: number[] = [];
  for (const name of readdirOrEmpty(procRoot)) {
    if (!/^\d+$/.test(name)) continue;
    const pid = Number(name);
    if (!kernel.has(pid)) pids.push(pid);
  }
  return pids;
}

/** The `flags` bit of /proc/PID/stat that marks a kernel thread (include/linux/sched.h). */
const PF_KTHREAD = 0x00200000;

/**
 * The kernel's threads: kthreadd (pid 2, when its flags say it is a kernel thread) and those
 * of its children that have no program (no /proc/PID/exe). They hold no descriptors, yet are
 * most of a machine's processes (65 of 89 here), each a listing of an empty /proc/PID/fd:
 * ~30 K instructions of the main thread for its callback, and four system calls in the pool,
 * where checking the link is one call and ~9 K. kthreadd's children that do have a program
 * are listed: the programs the kernel starts (a core_pattern pipe handler, modprobe,
 * request-key) are ordinary processes and may hold sockets. The check follows the link to
 * the program's file (Node has no readlink that does not throw, and a throw costs ~70 K), so
 * it is made only on the host: in a PID namespace pid 2 is an ordinary process and nothing is
 * skipped, and a container's program on a stalled file system (FUSE) is never touched; the
 * kernel's own programs are those root configured. A link that cannot be read (another
 * user's process) means descriptors that cannot be read either. Only whole pids are taken
 * from the list of children (a long one is cut at MAX_COMMAND_LINE bytes), and one missed is
 * only listed.
 */
function kernelThreads(procRoot: string): Set<number> {
  const kernel = new Set<number>();
  const stat = readHead(`${procRoot}/2/stat`);
  if (stat === undefined) return kernel;
  // pid (comm) state ppid pgrp session tty_nr tpgid flags ...: comm may hold spaces and ')'.
  const flags = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[6]);
  if (!Number.isSafeInteger(flags) || (flags & PF_KTHREAD) === 0) return kernel;
  kernel.add(2);
  const children = readHead(`${procRoot}/2/task/2/children`) ?? '';
  const whole = children.endsWith(' ') ? children : children.slice(0, children.lastIndexOf(' ') + 1);
  for (const name of whole.split(' ')) {
    // The kernel writes each pid as "%d "; anything else names no process folder.
    const pid = Number(name);
    if (pid > 0 && String(pid) === name && !existsSync(`${procRoot}/${pid}/exe`)) kernel.add(pid);
  }
  return kernel;
}

function listDescriptors(procRoot: string, pids: number[]): Listings {
  return pids.map((pid) => [pid, readdirOrEmpty(`${procRoot}/${pid}/fd`)]);
}

/** Shared through globalThis, as in tables.ts: main.cjs starts the listing, the command's bundle takes it. */
const PREFETCHED = Symbol.for('sockit.ports.prefetched-descriptors');

interface Prefetched {
  procRoot: string;
  listings: Promise<Listings>;
}

/**
 * Starts listing every process's /proc/PID/fd in the thread pool, for socketOwners(procRoot)
 * to take up once: a listing is five system calls, and the main thread's share of one made
 * this way is a submission and a callback (~0.6 ms for ~90 processes instead of ~1.8 ms).
 * Processes started after this call are not seen, as with any snapshot of /proc.
 *
 * @example
 * ```ts
 * prefetchSocketOwners(); // then load the code that calls listPorts()
 * ```
 */
export function prefetchSocketOwners(procRoot = '/proc'): void {
  const pids = listPids(procRoot);
  const listings = new Promise<Listings>((resolve) => {
    const out: Listings = pids.map((pid) => [pid, []]);
    let left = pids.length;
    if (left === 0) resolve(out);
    pids.forEach((pid, i) => {
      readdir(`${procRoot}/${pid}/fd`, (err, names) => {
        if (!err) out[i] = [pid, names];
        if (--left === 0) resolve(out);
      });
    });
  });
  (globalThis as { [PREFETCHED]?: Prefetched })[PREFETCHED] = { procRoot, listings };
}

function takePrefetched(procRoot: string): Promise<Listings> | undefined {
  const holder = globalThis as { [PREFETCHED]?: Prefetched };
  const prefetched = holder[PREFETCHED];
  if (prefetched?.procRoot !== procRoot) return undefined;
  delete holder[PREFETCHED];
  return prefetched.listings;
}

function socketsOf(
  procRoot: string,
  pid: number,
  fds: string[],
): { command: string; commandLine: string; inodes: Set<number> } {
  const fdDir = `${procRoot}/${pid}/fd`;
  const inodes = new Set<number>();
  for (const fd of fds) {
    let link: string;
    try {
      link = readlinkSync(`${fdDir}/${fd}`);
    } catch (err) {
      // A process whose descriptors can be listed but not read (another user's, or one this
      // process may not trace) refuses them all: one refusal is enough to know, and each
      // costs an exception. A descriptor closed meanwhile (ENOENT) is only that one.
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') continue;
      break;
    }
    const m = SOCKET_LINK.exec(link);
    if (m) inodes.add(Number(m[1]));
  }
  if (inodes.size === 0) return { command: '', commandLine: '', inodes };
  const command = (readHead(`${procRoot}/${pid}/comm`) ?? '?').trim();
  const commandLine = readCommandLine(procRoot, pid);
  return { command, commandLine: commandLine || command, inodes };
}

/** argv as one line: NUL-separated in /proc/PID/cmdline, with a trailing NUL. */
function readCommandLine(procRoot: string, pid: number): string {
  return (readHead(`${procRoot}/${pid}/cmdline`) ?? '')
    .split('\0')
    .filter((arg) => arg !== '')
    .join(' ');
}

/** One buffer for every read: comm and cmdline are short, or cut to MAX_COMMAND_LINE. */
const HEAD = Buffer.alloc(MAX_COMMAND_LINE);

/**
 * The first MAX_COMMAND_LINE bytes of a file as UTF-8 (an incomplete last character becomes
 * U+FFFD), or undefined when it cannot be read. Not readFileSync: a /proc file reports size
 * 0, so readFileSync reads it through a fresh 64 KiB buffer, and the megabytes of those
 * buffers for a few dozen processes cost the command a garbage collection of ~5 ms.
 */
function readHead(file: string): string | undefined {
  let fd: number;
  try {
    fd = openSync(file, 'r');
  } catch {
    return undefined;
  }
  try {
    // A read that gives less than asked has reached the end: comm is one seq_file record,
    // and cmdline is copied a page at a time until the request or the arguments run out;
    // so the usual read is one, not two (the second only to find the end).
    let length = 0;
    while (length < HEAD.length) {
      const wanted = HEAD.length - length;
      const n = readSync(fd, HEAD, length, wanted, null);
      length += n;
      if (n < wanted) break;
    }
    return HEAD.toString('utf8', 0, length);
  } catch {
    return undefined;
  } finally {
    closeSync(fd);
  }
}

/** Processes come and go and their fd lists may be private: both read as "nothing". */
function readdirOrEmpty(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}
