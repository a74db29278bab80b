/**
 * `--log-level debug` on the echo service and its client: the lines a person debugging a
 * connection wants (opened and closed, with the peer; TLS protocol and cipher), as JSON with
 * `--log-format json`, and none of them without it.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import tls from 'node:tls';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { requireTools, type Server, sockit, startServer } from '../helpers.js';
import { jsonLines } from '../log.js';
import { selfSignedCertificate } from '../tls.js';

const serve = ['echo', 'serve', '--tcp', '--host', '127.0.0.1', '--port', '0'];

describe('--log-level debug: echo bench against echo serve', () => {
  let server: Server;
  let target: string;
  beforeAll(async () => {
    requireTools();
    server = await startServer(['--log-level', 'debug', ...serve], 1);
    target = `127.0.0.1:${server.listening[0]?.port}`;
  });
  afterAll(async () => {
    expect(await server.stop()).toBe(0);
  });

  it('logs each connection at both ends, the server naming the client by its port', async () => {
    const args = ['echo', 'bench', target, '-c', '2', '-d', '0.3', '--json'];
    const r = await sockit(['--log-level', 'debug', '--log-format', 'json', ...args]);
    expect(r.code, r.stderr).toBe(0);
    JSON.parse(r.stdout.toString()); // stdout is the report alone
    const client = jsonLines(r.stderr);
    const connected = client.filter((e) => e.msg === 'connected');
    expect(connected).toHaveLength(2);
    for (const c of connected) expect(c).toMatchObject({ level: 20, remote: target });
    expect(client.filter((e) => e.msg === 'closed')).toHaveLength(2);
    await vi.waitFor(() => {
      const served = jsonLines(server.log());
      for (const c of connected) {
        const remote = `127.0.0.1:${c.local}`;
        const mine = served.filter((e) => e.remote === remote);
        expect(mine.find((e) => e.msg === 'connection opened')).toMatchObject({ level: 20, service: 'echo' });
        expect(mine.find((e) => e.msg === 'closed')).toMatchObject({ level: 20 });
      }
    });
  });

  it('without it, neither the client nor a server at the default level writes a debug line', async () => {
    const quiet = await startServer(serve, 1);
    try {
      const quietTarget = `127.0.0.1:${quiet.listening[0]?.port}`;
      const r = await sockit(['--log-format', 'json', 'echo', 'bench', quietTarget, '-c', '2', '-d', '0.3']);
      expect(r.code, r.stderr).toBe(0);
      expect(r.stderr).toBe('');
      expect(jsonLines(quiet.log()).filter((e) => (e.level as number) < 30)).toEqual([]);
    } finally {
      expect(await quiet.stop()).toBe(0);
    }
  });
});

describe('--log-level debug: echo serve over TLS', () => {
  it('logs the TLS protocol and cipher of each connection', async () => {
    requireTools('openssl');
    const dir = mkdtempSync(path.join(os.tmpdir(), 'sockit-debug-tls-'));
    const { cert, key } = selfSignedCertificate(dir);
    const server = await startServer(
      ['--log-level', 'debug', ...serve, '--tls-cert', cert, '--tls-key', key],
      1,
    );
    try {
      const port = server.listening[0]?.port ?? 0;
      const socket = tls.connect({ host: '127.0.0.1', port, ca: readFileSync(cert) });
      await new Promise<void>((resolve, reject) => {
        socket.once('secureConnect', resolve);
        socket.once('error', reject);
      });
      const { protocol, cipher } = { protocol: socket.getProtocol(), cipher: socket.getCipher().name };
      const remote = `127.0.0.1:${socket.localPort}`;
      socket.end('hello');
      socket.resume();
      await new Promise((resolve) => socket.once('close', resolve));
      await vi.waitFor(() => {
        const mine = jsonLines(server.log()).filter((e) => e.remote === remote);
        expect(mine.find((e) => e.msg === 'TLS negotiated')).toMatchObject({ level: 20, protocol, cipher });
        expect(mine.find((e) => e.msg === 'closed')).toBeDefined();
      });
    } finally {
      expect(await server.stop()).toBe(0);
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
