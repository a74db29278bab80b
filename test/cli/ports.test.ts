/**
 * `sockit ports` run in-process through its commander definition, stdout captured, on
 * sockets this test opens on 127.0.0.1 port 0; checked against `ss -tuanp`.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { portsCommand } from '../../src/cli/ports.js';
import { ErrorCode } from '../../src/errors.js';
import type { PortEntry } from '../../src/ports/index.js';
import { runInProcess } from '../in-process.js';
import { openSocketSet, type SocketSet } from '../sockets.js';

function sockitPorts(args: string[]): Promise<string> {
  return runInProcess(portsCommand(), args);
}

async function json(args: string[]): Promise<PortEntry[]> {
  return JSON.parse(await sockitPorts([...args, '--json'])) as PortEntry[];
}

/** ss's view of one socket: `ss -tuanpH` columns, and the users:(("cmd",pid=N,fd=M)) list. */
function ssRow(local: string, peer: string): { netid: string; state: string; users: string } | undefined {
  const lines = execFileSync('ss', ['-tuanpH'], { encoding: 'utf8', maxBuffer: 256 * 1024 * 1024 }).split(
    '\n',
  );
  for (const line of lines) {
    const [netid = '', state = '', , , l, p, ...rest] = line.trim().split(/\s+/);
    if (l === local && p === peer) return { netid, state, users: rest.join(' ') };
  }
  return undefined;
}

describe('sockit ports', () => {
  let sockets: SocketSet;
  let tcpPort = 0;
  let udpPort = 0;
  let clientPort = 0;

  beforeAll(async () => {
    sockets = await openSocketSet({ allowHalfOpen: false });
    ({ tcpPort, udpPort, clientPort } = sockets);
  });

  afterAll(() => sockets.close());

  it('--listening --json lists the TCP listener and the UDP socket, not the connection', async () => {
    const entries = await json(['--listening']);
    const tcp = entries.find((e) => e.protocol === 'tcp' && e.local.port === tcpPort);
    const datagram = entries.find((e) => e.protocol === 'udp' && e.local.port === udpPort);
    expect(tcp).toMatchObject({ state: 'LISTEN', local: { address: '127.0.0.1' }, remote: { port: 0 } });
    expect(datagram).toMatchObject({ state: 'UNCONN', local: { address: '127.0.0.1' } });
    expect(tcp?.processes.map((p) => p.pid)).toContain(process.pid);
    expect(datagram?.processes.map((p) => p.pid)).toContain(process.pid);
    expect(entries.some((e) => e.local.port === clientPort)).toBe(false);
    expect(entries.every((e) => e.state === 'LISTEN' || e.state === 'UNCONN')).toBe(true);
  });

  /**
   * Our sockets never reach TIME_WAIT during these tests; a TIME_WAIT row with the same port
   * number is another test's closed connection that happened to use it (ports are reused
   * on loopback), and it may be gone by the time ss looks.
   */
  const live = (entries: PortEntry[]): PortEntry[] => entries.filter((e) => e.state !== 'TIME_WAIT');

  it('--port shows both ends of the connected pair ESTABLISHED', async () => {
    const entries = live(await json(['--tcp', '--port', String(tcpPort)]));
    const states = entries.map((e) => [e.local.port, e.remote.port, e.state]);
    expect(states).toContainEqual([tcpPort, 0, 'LISTEN']);
    expect(states).toContainEqual([clientPort, tcpPort, 'ESTABLISHED']);
    expect(states).toContainEqual([tcpPort, clientPort, 'ESTABLISHED']);
    expect(entries).toHaveLength(3);
    expect(await json(['--tcp', '--port', String(tcpPort), '--state', 'estab'])).toHaveLength(2);
  });

  it('agrees with ss -tuanp for the same sockets', async () => {
    const entries = live([
      ...(await json(['--port', String(tcpPort)])),
      ...(await json(['--udp', '--port', String(udpPort)])),
    ]);
    const ssState: Record<string, string> = { LISTEN: 'LISTEN', UNCONN: 'UNCONN', ESTABLISHED: 'ESTAB' };
    for (const e of entries) {
      const local = `${e.local.address}:${e.local.port}`;
      const peer = `${e.remote.address}:${e.remote.port === 0 ? '*' : e.remote.port}`;
      const row = ssRow(local, peer);
      expect(row, `ss has ${local} ${peer}`).toBeDefined();
      expect(row?.netid).toBe(e.protocol);
      expect(row?.state).toBe(ssState[e.state]);
      for (const p of e.processes) expect(row?.users).toContain(`("${p.command}",pid=${p.pid},`);
    }
  });

  it('prints a text table with the port range and the owner', async () => {
    const out = await sockitPorts(['--udp', '--port', String(udpPort)]);
    const lines = out.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^Proto +State +Local Address:Port +Peer Address:Port +Port +Process$/);
    const range = udpPort >= 49152 ? 'dynamic' : 'registered';
    expect(lines).toContainEqual(
      expect.stringMatching(
        new RegExp(
          `^udp +UNCONN +127\\.0\\.0\\.1:${udpPort} +0\\.0\\.0\\.0:\\* +${range} .*\\b${process.pid} `,
        ),
      ),
    );
  });

  it('names the process by its whole command line, from /proc/PID/cmdline', async () => {
    const argv = readFileSync(`/proc/${process.pid}/cmdline`, 'utf8').split('\0').filter(Boolean);
    expect(argv.length).toBeGreaterThan(1);
    const commandLine = argv.join(' ').slice(0, 4096);
    const entries = await json(['--udp', '--port', String(udpPort)]);
    const mine = entries.flatMap((e) => e.processes).find((p) => p.pid === process.pid);
    expect(mine?.commandLine).toBe(commandLine);
    const text = await sockitPorts(['--udp', '--port', String(udpPort)]);
    expect(text).toContain(`${process.pid} ${commandLine}`);
  });

  it('accepts ss-style combined flags: -tuanp lists both protocols, -tlnp the TCP listeners', async () => {
    const all = live(await json(['-tuanp']));
    expect(all.some((e) => e.protocol === 'tcp' && e.local.port === tcpPort && e.state === 'LISTEN')).toBe(
      true,
    );
    expect(all.some((e) => e.protocol === 'udp' && e.local.port === udpPort)).toBe(true);
    expect(all.some((e) => e.local.port === clientPort && e.state === 'ESTABLISHED')).toBe(true);
    const tcpListeners = await json(['-tlnp']);
    expect(tcpListeners.some((e) => e.local.port === tcpPort)).toBe(true);
    expect(tcpListeners.every((e) => e.protocol === 'tcp' && e.state === 'LISTEN')).toBe(true);
  });

  it('--state listening means what -l means', async () => {
    const byState = await json(['--state', 'listening', '--port', String(tcpPort)]);
    expect(byState.map((e) => [e.protocol, e.local.port, e.state])).toEqual([['tcp', tcpPort, 'LISTEN']]);
  });

  it('--port takes a range and a service name', async () => {
    const low = Math.min(tcpPort, udpPort);
    const high = Math.max(tcpPort, udpPort);
    const ranged = live(await json(['--port', `${low}-${high}`]));
    expect(ranged.some((e) => e.protocol === 'tcp' && e.local.port === tcpPort)).toBe(true);
    expect(ranged.some((e) => e.protocol === 'udp' && e.local.port === udpPort)).toBe(true);
    for (const e of ranged) {
      const inside = (p: number): boolean => p >= low && p <= high;
      expect(inside(e.local.port) || inside(e.remote.port)).toBe(true);
    }
    const ssh = await json(['--port', 'ssh']);
    expect(ssh.every((e) => e.local.port === 22 || e.remote.port === 22)).toBe(true);
    await expect(sockitPorts(['--port', 'no-such-service'])).rejects.toMatchObject({
      code: 'commander.invalidArgument',
    });
    await expect(sockitPorts(['--port', '9-3'])).rejects.toMatchObject({ code: 'commander.invalidArgument' });
  });

  it('refuses an unknown --state with ERR_INVALID_ARGUMENT and a bad --port', async () => {
    await expect(sockitPorts(['--state', 'sleepy'])).rejects.toMatchObject({
      code: ErrorCode.INVALID_ARGUMENT,
    });
    await expect(sockitPorts(['--port', '70000'])).rejects.toMatchObject({
      code: 'commander.invalidArgument',
    });
  });

  it('shows examples in --help', async () => {
    await expect(sockitPorts(['--help'])).rejects.toMatchObject({ code: 'commander.helpDisplayed' });
    const help: string[] = [];
    portsCommand()
      .configureOutput({ writeOut: (s) => help.push(s) })
      .outputHelp();
    expect(help.join('')).toContain('sockit ports --listening');
  });
});
