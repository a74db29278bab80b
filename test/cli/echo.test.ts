/**
 * The echo server, run as the real `sockit` command in each concurrency model, answered
 * byte for byte to the system's own `nc` (OpenBSD netcat) and `socat`.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeCertificate, requireTools, run, type Server, sockit, startServer } from '../helpers.js';

beforeAll(() => requireTools('nc', 'socat'));

const models = [
  ['event-loop', []],
  ['iterative', []],
  ['cluster', ['--workers', '2']],
] as const;

describe.each(models)('sockit echo serve --model %s', (model, extra) => {
  let server: Server;
  let port: number;

  beforeAll(async () => {
    server = await startServer(
      ['echo', 'serve', '--host', '127.0.0.1', '--port', '0', '--model', model, ...extra],
      2,
    );
    port = server.listening[0]?.port ?? 0;
    expect(server.listening.map((l) => l.protocol).sort()).toEqual(['tcp', 'udp']);
    expect(server.listening[1]?.port).toBe(port);
  });

  afterAll(async () => {
    expect(await server.stop()).toBe(0);
  });

  it('echoes binary TCP bytes to nc exactly', async () => {
    const data = randomBytes(256 * 1024);
    const result = await run('nc', ['-N', '127.0.0.1', String(port)], { input: data });
    expect(result.code).toBe(0);
    expect(result.stdout.equals(data)).toBe(true);
  });

  it('echoes binary TCP bytes to socat exactly', async () => {
    const data = randomBytes(256 * 1024);
    const result = await run('socat', ['-t', '5', '-', `TCP:127.0.0.1:${port}`], { input: data });
    expect(result.code).toBe(0);
    expect(result.stdout.equals(data)).toBe(true);
  });

  it('echoes a UDP datagram to nc exactly', async () => {
    const data = randomBytes(1000);
    const result = await run('nc', ['-u', '-w', '1', '127.0.0.1', String(port)], { input: data });
    expect(result.stdout.equals(data)).toBe(true);
  });

  it('echoes a UDP datagram to socat exactly', async () => {
    const data = randomBytes(1000);
    const result = await run('socat', ['-t', '1', '-', `UDP:127.0.0.1:${port}`], { input: data });
    expect(result.code).toBe(0);
    expect(result.stdout.equals(data)).toBe(true);
  });

  it('serves several nc clients in turn or at once', async () => {
    const inputs = Array.from({ length: 6 }, () => randomBytes(20_000));
    const results = await Promise.all(
      inputs.map((input) => run('nc', ['-N', '127.0.0.1', String(port)], { input })),
    );
    results.forEach((r, i) => {
      expect(r.stdout.equals(inputs[i] as Buffer)).toBe(true);
    });
  });

  it('echoes to sockit nc as well', async () => {
    const data = randomBytes(100_000);
    const result = await sockit(['nc', '127.0.0.1', String(port)], { input: data });
    expect(result.code).toBe(0);
    expect(result.stdout.equals(data)).toBe(true);
  });
});

describe('sockit echo serve, framed', () => {
  it('says where it listens and stops on SIGINT with exit code 0', async () => {
    const server = await startServer(
      ['echo', 'serve', '--tcp', '--framed', '--host', '127.0.0.1', '--port', '0'],
      1,
    );
    expect(server.listening).toEqual([expect.objectContaining({ service: 'echo', protocol: 'tcp' })]);
    expect(await server.stop('SIGINT')).toBe(0);
    expect(server.log()).toContain('shutting down');
  });
});

describe('sockit echo serve, stopped at once', () => {
  it('stops gracefully on a SIGINT sent the moment it says it listens, every time', async () => {
    // Regression: the handlers were swapped after start-up; a signal landing in between was
    // dropped (the server hung) or met the default action (killed, exit code null).
    for (let i = 0; i < 15; i++) {
      const server = await startServer(['echo', 'serve', '--tcp', '--host', '127.0.0.1', '--port', '0'], 1);
      expect(await server.stop('SIGINT'), `start ${i + 1}`).toBe(0);
    }
  });
});

describe('sockit echo serve over TLS', () => {
  it('echoes to socat over TLS; socat without the certificate refuses the server', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'sockit-echo-tls-'));
    const { cert, key } = makeCertificate(dir, 'DNS:localhost,IP:127.0.0.1');
    const server = await startServer(
      ['echo', 'serve', '--host', '127.0.0.1', '--port', '0', '--tls-cert', cert, '--tls-key', key],
      1,
    );
    try {
      expect(server.listening.map((l) => l.protocol)).toEqual(['tcp']);
      const port = server.listening[0]?.port ?? 0;
      const payload = randomBytes(100_000);
      const trusted = await run('socat', ['-t', '2', '-', `OPENSSL:127.0.0.1:${port},cafile=${cert}`], {
        input: payload,
      });
      expect(trusted.code, trusted.stderr).toBe(0);
      expect(trusted.stdout.equals(payload)).toBe(true);
      const untrusted = await run('socat', ['-t', '2', '-', `OPENSSL:127.0.0.1:${port}`], { input: 'hello' });
      expect(untrusted.code).not.toBe(0);
      expect(untrusted.stdout.length).toBe(0);
    } finally {
      expect(await server.stop()).toBe(0);
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
