/**
 * Which processes hold which sockets, the way `ss -p` and `netstat -p` find out: every
 * open file descriptor under /proc/PID/fd that is a socket reads as a link to
 * `socket:[INODE]`, and the inode matches the last column of /proc/net/{tcp,udp}.
 *
 * Other users' /proc/PID/fd is unreadable without privilege; those processes are
 * skipped, so an entry without an owner means "not visible to us", not "no owner".
 */
import { readdir, readFile, readlink } from 'node:fs/promises';
import path from 'node:path';

export interface ProcessInfo {
  pid: number;
  /** The command name from /proc/PID/comm (at most 15 characters, as `ss` shows it). */
  command: string;
}

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
  const pids = (await readdirOrEmpty(procRoot)).filter((name) => /^\d+$/.test(name)).map(Number);
  const found = await Promise.all(pids.map((pid) => socketsOf(procRoot, pid)));
  for (const { pid, command, inodes } of found) {
    for (const inode of inodes) {
      const list = owners.get(inode) ?? [];
      list.push({ pid, command });
      owners.set(inode, list);
    }
  }
  for (const list of owners.values()) list.sort((a, b) => a.pid - b.pid);
  return owners;
}

async function socketsOf(
  procRoot: string,
  pid: number,
): Promise<{ pid: number; command: string; inodes: Set<number> }> {
  const fdDir = path.join(procRoot, String(pid), 'fd');
  const links = await Promise.all(
    (await readdirOrEmpty(fdDir)).map((fd) => readlink(path.join(fdDir, fd)).catch(() => '')),
  );
  const inodes = new Set<number>();
  for (const link of links) {
    const m = SOCKET_LINK.exec(link);
    if (m) inodes.add(Number(m[1]));
  }
  const command =
    inodes.size === 0
      ? ''
      : (await readFile(path.join(procRoot, String(pid), 'comm'), 'utf8').catch(() => '?')).trim();
  return { pid, command, inodes };
}

/** Processes come and go and their fd lists may be private: both read as "nothing". */
async function readdirOrEmpty(dir: string): Promise<string[]> {
  try {
    return await readdir(dir);
  } catch {
    return [];
  }
}
