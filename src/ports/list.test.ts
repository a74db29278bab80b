/**
 * listPorts on real loopback sockets (port 0, never fixed ports), checked against the
 * kernel's other reporter, `ss` from iproute2.
 */
import { execFileSync } from 'node:child_process';
import type net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openSocketSet, type SocketSet } from '../../test/sockets.js';
import { ErrorCode } from '../errors.js';
import { filterPorts, listPorts, type PortEntry } from './list.js';
import { ssStateName } from './states.js';
import { hostPort } from './text.js';

interface SsRow {
  netid: string;
  state: string;
  local: string;
  peer: string;
  pids: number[];
}

/** `ss -tuanpH`: one row per socket; with -p, `users:(("node",pid=1,fd=2),...)`. */
function ss(): SsRow[] {
  return execFileSync('ss', ['-tuanpH'], { encoding: 'utf8', maxBuffer: 256 * 1024 * 1024 })
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => {
      const [netid = '', state = '', , , local = '', peer = '', ...rest] = line.trim().split(/\s+/);
      const pids = [...rest.join(' ').matchAll(/pid=(\d+)/g)].map((m) => Number(m[1]));
      return { netid, state, local, peer, pids };
    });
}

async function waitFor<T>(what: string, probe: () => Promise<T | undefined>): Promise<T> {
  for (let i = 0; i < 250; i++) {
    const found = await probe();
    if (found !== undefined) return found;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  throw new Error(`timed out waiting for ${what}`);
}

const find = (entries: PortEntry[], proto: string, local: number, remote: number): PortEntry | undefined =>
  entries.find((e) => e.protocol === proto && e.local.port === local && e.remote.port === remote);

describe('listPorts on real sockets', () => {
  let sockets: SocketSet;
  let client: net.Socket;
  let accepted: net.Socket;
  let tcpPort = 0;
  let udpPort = 0;
  let clientPort = 0;

  beforeAll(async () => {
    sockets = await openSocketSet({ allowHalfOpen: true });
    ({ client, accepted, tcpPort, udpPort, clientPort } = sockets);
  });

  afterAll(() => sockets.close());

  it('finds the TCP listener and the UDP socket, owned by this process', async () => {
    const entries = await listPorts();
    const listener = find(entries, 'tcp', tcpPort, 0);
    expect(listener).toMatchObject({ state: 'LISTEN', family: 4, local: { address: '127.0.0.1' } });
    expect(listener?.remote).toEqual({ address: '0.0.0.0', port: 0, range: null, service: null });
    expect(listener?.processes.map((p) => p.pid)).toContain(process.pid);
    const datagram = find(entries, 'udp', udpPort, 0);
    expect(datagram).toMatchObject({ state: 'UNCONN', local: { address: '127.0.0.1' } });
    expect(datagram?.processes.map((p) => p.pid)).toContain(process.pid);
    expect(datagram?.local.range).toBe(
      udpPort >= 49152 ? 'dynamic' : udpPort >= 1024 ? 'registered' : 'well-known',
    );
  });

  it('finds both ends of the connected pair ESTABLISHED', async () => {
    const entries = await listPorts();
    expect(find(entries, 'tcp', clientPort, tcpPort)?.state).toBe('ESTABLISHED');
    expect(find(entries, 'tcp', tcpPort, clientPort)?.state).toBe('ESTABLISHED');
  });

  it('agrees with ss -tuanp on protocol, state, addresses and owner', async () => {
    // Only this process's sockets: another process may hold the same port number on another
    // address (tests bind 127.0.0.2 and up), and that row is not one of the four.
    const mine = (e: PortEntry): boolean => e.processes.some((p) => p.pid === process.pid);
    const ours = filterPorts(await listPorts(), { tcp: true, port: tcpPort })
      .concat(filterPorts(await listPorts(), { port: udpPort, udp: true }))
      .filter(mine);
    const theirs = ss();
    expect(ours).toHaveLength(4);
    for (const e of ours) {
      const row = theirs.find((r) => r.local === hostPort(e.local) && r.peer === hostPort(e.remote));
      expect(row, `ss row for ${hostPort(e.local)} ${hostPort(e.remote)}`).toBeDefined();
      expect(row?.netid).toBe(e.protocol);
      expect(row?.state).toBe(ssStateName(e.state));
      expect(e.processes.map((p) => p.pid).sort()).toEqual([...(row?.pids ?? [])].sort());
    }
  });

  it('filters by listening, protocol, state and port', async () => {
    const entries = await listPorts();
    const listening = filterPorts(entries, { listening: true });
    expect(find(listening, 'tcp', tcpPort, 0)).toBeDefined();
    expect(find(listening, 'udp', udpPort, 0)).toBeDefined();
    expect(find(listening, 'tcp', clientPort, tcpPort)).toBeUndefined();
    expect(filterPorts(entries, { udp: true, port: tcpPort })).toEqual([]);
    expect(filterPorts(entries, { tcp: true, port: udpPort }).filter((e) => e.protocol === 'udp')).toEqual(
      [],
    );
    const established = filterPorts(entries, { state: 'ESTABLISHED', port: tcpPort });
    expect(established.map((e) => e.local.port).sort()).toEqual([clientPort, tcpPort].sort());
  });

  it('follows a close: FIN_WAIT2 and CLOSE_WAIT after one end, then TIME_WAIT with no owner', async () => {
    client.end();
    const halfClosed = await waitFor('FIN_WAIT2/CLOSE_WAIT', async () => {
      const entries = await listPorts();
      const a = find(entries, 'tcp', clientPort, tcpPort);
      const b = find(entries, 'tcp', tcpPort, clientPort);
      return a?.state === 'FIN_WAIT2' && b?.state === 'CLOSE_WAIT' ? [a, b] : undefined;
    });
    const theirs = ss();
    for (const e of halfClosed) {
      const row = theirs.find((r) => r.local === hostPort(e.local) && r.peer === hostPort(e.remote));
      expect(row?.state).toBe(ssStateName(e.state));
    }
    accepted.end();
    const timeWait = await waitFor('TIME_WAIT', async () => {
      const e = find(await listPorts(), 'tcp', clientPort, tcpPort);
      return e?.state === 'TIME_WAIT' ? e : undefined;
    });
    expect(timeWait.inode).toBe(0);
    expect(timeWait.processes).toEqual([]);
    expect(ss().find((r) => r.local === hostPort(timeWait.local))?.state).toBe('TIME-WAIT');
  });
});

describe('listPorts where /proc/net is unavailable', () => {
  it.each(['darwin', 'win32', 'freebsd'] as const)(
    'refuses %s with ERR_UNSUPPORTED_PLATFORM',
    async (platform) => {
      await expect(listPorts({ platform })).rejects.toMatchObject({
        name: 'SockitError',
        code: ErrorCode.UNSUPPORTED_PLATFORM,
      });
    },
  );

  it('refuses a Linux without /proc mounted', async () => {
    await expect(listPorts({ procRoot: '/nonexistent/proc' })).rejects.toMatchObject({
      code: ErrorCode.UNSUPPORTED_PLATFORM,
    });
  });
});
