/**
 * Owners and the whole table read from a fake /proc tree: the procfs layout is rebuilt in a
 * temporary directory (fd symlinks to `socket:[INODE]`), so the join is tested exactly.
 */
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ErrorCode } from '../errors.js';
import { filterPorts, listPorts } from './list.js';
import { prefetchSocketOwners, socketOwners } from './owners.js';
import { formatPortTable } from './text.js';

const HEADER =
  '  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n';
const TCP = `${HEADER}   0: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000  1000        0 1001 1 0 100 0 0 10 0
   1: 0100007F:C350 0100007F:1F90 01 00000000:00000000 00:00000000 00000000  1000        0 1002 1 0 20 4 30 10 -1
   2: 0100007F:C351 0100007F:1F90 06 00000000:00000000 03:00001734 00000000     0        0 0 3 0
`;
const UDP = `${HEADER} 100: 00000000:0035 00000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 2001 2 0 0
`;

let root = '';

async function fakeProcess(
  pid: number,
  command: string,
  links: Record<string, string>,
  argv?: string[],
): Promise<void> {
  const fd = path.join(root, String(pid), 'fd');
  await mkdir(fd, { recursive: true });
  await writeFile(path.join(root, String(pid), 'comm'), `${command}\n`);
  if (argv) await writeFile(path.join(root, String(pid), 'cmdline'), `${argv.join('\0')}\0`);
  for (const [name, target] of Object.entries(links)) await symlink(target, path.join(fd, name));
}

beforeAll(async () => {
  root = await mkdtemp(path.join(tmpdir(), 'sockit-proc-'));
  await mkdir(path.join(root, 'net'));
  await writeFile(path.join(root, 'net', 'tcp'), TCP);
  await writeFile(path.join(root, 'net', 'udp'), UDP);
  // No tcp6 or udp6: a kernel without IPv6.
  await fakeProcess(4242, 'webserver', { '0': '/dev/null', '3': 'socket:[1001]', '4': 'socket:[1002]' }, [
    '/usr/bin/webserver',
    '--port',
    '8080',
  ]);
  await fakeProcess(4243, 'webserver', { '3': 'socket:[1001]' });
  await fakeProcess(77, 'dnsd', { '5': 'socket:[2001]', '6': 'pipe:[99]' }, ['dnsd']);
  await fakeProcess(90, 'idle', { '1': 'anon_inode:[eventfd]' });
  await mkdir(path.join(root, 'self'));
  await mkdir(path.join(root, '555'));
});

afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

describe('socketOwners', () => {
  it('maps each socket inode to every process holding it, by pid', async () => {
    const owners = await socketOwners(root);
    // 4243 has no cmdline (as a kernel thread): its command name stands in.
    expect(owners.get(1001)).toEqual([
      { pid: 4242, command: 'webserver', commandLine: '/usr/bin/webserver --port 8080' },
      { pid: 4243, command: 'webserver', commandLine: 'webserver' },
    ]);
    expect(owners.get(1002)).toEqual([
      { pid: 4242, command: 'webserver', commandLine: '/usr/bin/webserver --port 8080' },
    ]);
    expect(owners.get(2001)).toEqual([{ pid: 77, command: 'dnsd', commandLine: 'dnsd' }]);
    expect([...owners.keys()].sort()).toEqual([1001, 1002, 2001]);
  });

  it('keeps the first 4096 bytes of a long command line', async () => {
    const other = await mkdtemp(path.join(tmpdir(), 'sockit-proc-'));
    try {
      const fd = path.join(other, '9', 'fd');
      await mkdir(fd, { recursive: true });
      await writeFile(path.join(other, '9', 'comm'), 'long\n');
      await writeFile(path.join(other, '9', 'cmdline'), `long\0${'x'.repeat(10_000)}\0`);
      await symlink('socket:[3001]', path.join(fd, '3'));
      const [owner] = (await socketOwners(other)).get(3001) ?? [];
      expect(owner?.command).toBe('long');
      expect(owner?.commandLine).toBe(`long ${'x'.repeat(4096 - 5)}`);
    } finally {
      await rm(other, { recursive: true, force: true });
    }
  });

  it("skips kthreadd and those of its children without a program, the kernel's threads", async () => {
    const other = await mkdtemp(path.join(tmpdir(), 'sockit-proc-'));
    const at = (pid: number, ...parts: string[]): string => path.join(other, String(pid), ...parts);
    try {
      // Socket links where a kernel thread has none, to see whether they were read.
      const socketAt = async (pid: number, inode: number, exe?: string): Promise<void> => {
        await mkdir(at(pid, 'fd'), { recursive: true });
        await writeFile(at(pid, 'comm'), `p${pid}\n`);
        await symlink(`socket:[${inode}]`, at(pid, 'fd', '3'));
        if (exe) await symlink(exe, at(pid, 'exe'));
      };
      // 3, 5 and 7 are kernel threads; 6 is a program the kernel started (a core_pattern
      // handler), 1234 an ordinary process without a readable program link, not a child.
      for (const pid of [2, 3, 5, 7, 1234]) await socketAt(pid, 7000 + (pid % 1000));
      await socketAt(6, 7006, process.execPath);
      await mkdir(at(2, 'task', '2'), { recursive: true });
      // A comm with ") " in it, as any process may name itself; flags 0x208040 (PF_KTHREAD).
      const kthread = '2 (k) thread) S 0 0 0 0 -1 2129984 0 0 0 0 0 0\n';
      await writeFile(at(2, 'stat'), kthread);
      // Pids as the kernel writes them ("%d "), and 7 as "07" and "+7", which name no
      // process folder: 7 is not checked, and is listed. A list cut at 4096 bytes in the
      // middle of a pid (12349, 1234 before the cut): only whole pids are taken, so 1234 is
      // not checked either.
      const list = `3 5 6 07 +7 ${'99 '.repeat(1360)}12349 `;
      expect(list.slice(0, 4096).endsWith(' 1234')).toBe(true);
      await writeFile(at(2, 'task', '2', 'children'), list);
      const seen = async (): Promise<number[]> =>
        [...(await socketOwners(other)).values()]
          .flatMap((owners) => owners.map((p) => p.pid))
          .sort((a, b) => a - b);
      expect(await seen()).toEqual([6, 7, 1234]);
      prefetchSocketOwners(other);
      expect(await seen()).toEqual([6, 7, 1234]);
      // In a PID namespace pid 2 is an ordinary process (no PF_KTHREAD): nothing is
      // skipped, and no program link is looked at (a container's may be on a stalled FUSE).
      await writeFile(at(2, 'stat'), kthread.replace('2129984', '4194560'));
      expect(await seen()).toEqual([2, 3, 5, 6, 7, 1234]);
      // Without the list of children (a kernel without CONFIG_PROC_CHILDREN), only pid 2.
      await writeFile(at(2, 'stat'), kthread);
      await rm(at(2, 'task'), { recursive: true });
      expect(await seen()).toEqual([3, 5, 6, 7, 1234]);
    } finally {
      await rm(other, { recursive: true, force: true });
    }
  });

  it('reads nothing, without failing, from a missing tree', async () => {
    expect((await socketOwners(path.join(root, 'missing'))).size).toBe(0);
  });

  it('takes up a prefetched listing once, for its own tree only', async () => {
    const direct = await socketOwners(root);
    prefetchSocketOwners(root);
    // Another tree does not take it.
    expect((await socketOwners(path.join(root, 'missing'))).size).toBe(0);
    // A descriptor added after the prefetch is not in its listing, but is seen afresh after.
    await symlink('socket:[1003]', path.join(root, '90', 'fd', '7'));
    try {
      expect(await socketOwners(root)).toEqual(direct);
      expect((await socketOwners(root)).get(1003)).toEqual([
        { pid: 90, command: 'idle', commandLine: 'idle' },
      ]);
    } finally {
      await rm(path.join(root, '90', 'fd', '7'));
    }
  });

  it('prefetches nothing, without failing, from a missing tree', async () => {
    prefetchSocketOwners(path.join(root, 'missing'));
    expect((await socketOwners(path.join(root, 'missing'))).size).toBe(0);
  });
});

describe('listPorts on a fake /proc', () => {
  it('joins the tables with the owners and labels the ports', async () => {
    const entries = await listPorts({ procRoot: root, byteOrder: 'LE' });
    expect(entries.map((e) => [e.protocol, e.local.port, e.remote.port, e.state])).toEqual([
      ['tcp', 8080, 0, 'LISTEN'],
      ['tcp', 50000, 8080, 'ESTABLISHED'],
      ['tcp', 50001, 8080, 'TIME_WAIT'],
      ['udp', 53, 0, 'UNCONN'],
    ]);
    const [listener, client, timeWait, dns] = entries;
    expect(listener?.processes.map((p) => p.pid)).toEqual([4242, 4243]);
    expect(listener?.local).toEqual({
      address: '127.0.0.1',
      port: 8080,
      range: 'registered',
      service: 'http-alt',
    });
    expect(client?.local).toMatchObject({ range: 'dynamic', service: null });
    expect(client?.remote).toMatchObject({ port: 8080, service: 'http-alt' });
    expect(timeWait?.processes).toEqual([]);
    expect(dns?.local).toEqual({ address: '0.0.0.0', port: 53, range: 'well-known', service: 'domain' });
    expect(dns?.processes).toEqual([{ pid: 77, command: 'dnsd', commandLine: 'dnsd' }]);
  });

  it('reads only the tables of the protocols asked for', async () => {
    const udp = await listPorts({ procRoot: root, byteOrder: 'LE', protocols: ['udp'] });
    expect(udp.map((e) => [e.protocol, e.local.port])).toEqual([['udp', 53]]);
    const tcp = await listPorts({ procRoot: root, byteOrder: 'LE', protocols: ['tcp'] });
    expect(tcp.map((e) => e.protocol)).toEqual(['tcp', 'tcp', 'tcp']);
  });

  it('skips the owner walk when asked', async () => {
    const entries = await listPorts({ procRoot: root, byteOrder: 'LE', processes: false });
    expect(entries.every((e) => e.processes.length === 0)).toBe(true);
  });

  it('prints the table as netstat lays it out', async () => {
    const entries = filterPorts(await listPorts({ procRoot: root, byteOrder: 'LE' }), { listening: true });
    expect(formatPortTable(entries).split('\n')).toEqual([
      'Proto  State   Local Address:Port  Peer Address:Port  Port                 Process',
      'tcp    LISTEN  127.0.0.1:8080      0.0.0.0:*          registered http-alt  4242 /usr/bin/webserver --port 8080, 4243 webserver',
      'udp    UNCONN  0.0.0.0:53          0.0.0.0:*          well-known domain    77 dnsd',
      '',
    ]);
    expect(formatPortTable([])).toContain('(no sockets match)');
  });

  it('writes out the line breaks and escape sequences of a command line in the table', async () => {
    const [entry] = filterPorts(await listPorts({ procRoot: root, byteOrder: 'LE' }), { port: 53 });
    const forged = 'python3 -c print(1)\n\u001b[2Jtcp    LISTEN  0.0.0.0:22 \u202e';
    const shown = formatPortTable([
      { ...entry, processes: [{ pid: 9, command: 'x', commandLine: forged }] } as never,
    ]);
    expect(shown.split('\n')).toHaveLength(3);
    expect(shown).toContain('9 python3 -c print(1)\\u{a}\\u{1b}[2Jtcp    LISTEN  0.0.0.0:22 \\u{202e}');
    expect(shown.includes('\u001b') || shown.includes('\u202e')).toBe(false);
  });

  it('refuses a tree with no tables as ERR_UNSUPPORTED_PLATFORM', async () => {
    await expect(listPorts({ procRoot: path.join(root, '555') })).rejects.toMatchObject({
      code: ErrorCode.UNSUPPORTED_PLATFORM,
    });
  });
});
