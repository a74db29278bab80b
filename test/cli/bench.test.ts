/** `sockit echo bench`: a bounded load run that measures, and refuses a server that does not echo. */
import dgram from 'node:dgram';
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ExitStatus } from '../../src/cli/exit-status.js';
import type { EchoBenchResult } from '../../src/echo/bench.js';
import { requireTools, type Server, sockit, startServer } from '../helpers.js';

describe('sockit echo bench', () => {
  let server: Server;
  let port: number;
  beforeAll(async () => {
    requireTools();
    server = await startServer(['echo', 'serve', '--host', '127.0.0.1', '--port', '0'], 2);
    port = server.listening[0]?.port ?? 0;
  });
  afterAll(async () => {
    await server.stop();
  });

  it.each(['tcp', 'udp'])('measures %s round trips and prints JSON', async (protocol) => {
    const args = ['echo', 'bench', `127.0.0.1:${port}`, '-c', '8', '-d', '1', '-s', '100', '--json'];
    const result = await sockit(protocol === 'udp' ? [...args, '--udp'] : args);
    expect(result.code, result.stderr).toBe(0);
    const r = JSON.parse(result.stdout.toString()) as EchoBenchResult;
    expect(r.protocol).toBe(protocol);
    expect(r.connections).toBe(8);
    expect(r.size).toBe(100);
    expect(r.messages).toBeGreaterThan(100);
    expect(r.seconds).toBeGreaterThanOrEqual(1);
    // seconds is rounded to the millisecond in the report
    expect(Math.abs(r.messagesPerSecond - r.messages / r.seconds) / r.messagesPerSecond).toBeLessThan(0.001);
    expect(r.latencyMs.p50).toBeGreaterThan(0);
    expect(r.latencyMs.p50).toBeLessThanOrEqual(r.latencyMs.p99);
    expect(r.latencyMs.p99).toBeLessThanOrEqual(r.latencyMs.max);
  });

  it('prints a readable summary without --json', async () => {
    const result = await sockit(['echo', 'bench', `127.0.0.1:${port}`, '-c', '2', '-d', '0.3']);
    expect(result.code).toBe(0);
    expect(result.stdout.toString()).toMatch(/^echo tcp 127\.0\.0\.1:\d+: 2 connections, 64-byte messages/);
    expect(result.stdout.toString()).toMatch(/msg\/s/);
  });

  it('-v writes each step and each connection on stderr; the report stays on stdout', async () => {
    const result = await sockit(['echo', 'bench', `127.0.0.1:${port}`, '-c', '2', '-d', '0.3', '-v']);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout.toString()).toMatch(/^echo tcp 127\.0\.0\.1:\d+: 2 connections/);
    const lines = result.stderr.trimEnd().split('\n');
    const target = `127.0.0.1:${port}`;
    expect(lines[0]).toBe(
      `echo bench: connecting target=${target} protocol=tcp connections=2 size=64 durationMs=300`,
    );
    const connected = lines.filter((l) => l.startsWith('echo bench: connected '));
    expect(connected).toHaveLength(2);
    for (const line of connected)
      expect(line).toMatch(new RegExp(`^echo bench: connected remote=${target} local=\\d+$`));
    expect(lines).toContain('echo bench: all connected: measuring connections=2');
    const closed = lines.filter((l) => l.startsWith('echo bench: closed '));
    expect(closed).toHaveLength(2);
    for (const line of closed) expect(line).toMatch(/ replies=[1-9]\d*$/);
    expect(lines.at(-1)).toMatch(/^echo bench: done messages=\d+ lost=0 portUnreachable=0$/);
  });

  it('--json -v: stdout holds only the JSON object, the steps go to stderr', async () => {
    const args = ['echo', 'bench', `127.0.0.1:${port}`, '--udp', '-c', '1', '-d', '0.3', '--json', '-v'];
    const result = await sockit(args);
    expect(result.code, result.stderr).toBe(0);
    const out = result.stdout.toString();
    expect(out.trimEnd().split('\n')).toHaveLength(1);
    expect((JSON.parse(out) as EchoBenchResult).protocol).toBe('udp');
    expect(result.stderr).toMatch(/^echo bench: socket connected remote=127\.0\.0\.1:\d+ local=\d+$/m);
  });

  it('fails with ERR_BAD_REPLY against a server that does not echo', async () => {
    const liar = net.createServer((socket) =>
      socket.on('data', (d: Buffer) => socket.write(Buffer.alloc(d.length))),
    );
    await new Promise<void>((resolve) => liar.listen(0, '127.0.0.1', resolve));
    const { port: liarPort } = liar.address() as net.AddressInfo;
    const result = await sockit(['echo', 'bench', `127.0.0.1:${liarPort}`, '-c', '1', '-d', '0.3']);
    liar.close();
    expect(result.code).toBe(ExitStatus.PROTOCOL);
    expect(result.stderr).toContain('[ERR_BAD_REPLY]');
  });

  it('fails with ERR_CONNECT_FAILED over UDP against a closed port, not "0 messages"', async () => {
    // A port that was just free: bind, learn it, close.
    const probe = dgram.createSocket('udp4');
    await new Promise<void>((resolve) => probe.bind(0, '127.0.0.1', resolve));
    const closedPort = probe.address().port;
    await new Promise<void>((resolve) => probe.close(() => resolve()));
    const result = await sockit([
      'echo',
      'bench',
      `127.0.0.1:${closedPort}`,
      '--udp',
      '-c',
      '2',
      '-d',
      '0.3',
    ]);
    expect(result.code).toBe(ExitStatus.NETWORK);
    expect(result.stdout.toString()).toBe('');
    expect(result.stderr).toMatch(/^sockit: [^\n]*\[ERR_CONNECT_FAILED\]\n$/);
  });
});
