/**
 * The status listener of `sockit serve` (--http-port): the page, /api/status, /metrics and
 * /healthz, read while an echo client and a chat user are connected.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ChatClient, type ClientEvent } from '../../src/chat/client.js';
import { SERVE_ON_FREE_PORTS, type Server, startServer } from '../helpers.js';
import { stalledTftpRead } from '../tftp-stall.js';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('sockit serve --http-port', () => {
  let dir = '';
  let server: Server;
  let base = '';
  let echo: net.Socket | undefined;
  let chat: ChatClient | undefined;
  const events: ClientEvent[] = [];

  beforeAll(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'sockit-serve-status-'));
    server = await startServer(
      [
        'serve',
        '--host',
        '127.0.0.1',
        '--data-dir',
        path.join(dir, 'data'),
        ...SERVE_ON_FREE_PORTS,
        '--http-port',
        '0',
      ],
      8,
    );
    base = `http://127.0.0.1:${server.listening.find((l) => l.service === 'status')?.port}`;
    const echoPort = server.listening.find((l) => l.service === 'echo' && l.protocol === 'tcp')
      ?.port as number;
    echo = await new Promise<net.Socket>((resolve) => {
      const s = net.connect(echoPort, '127.0.0.1', () => resolve(s));
    });
    const chatPort = server.listening.find((l) => l.service === 'chat' && l.protocol === 'tcp')?.port;
    chat = await ChatClient.connect({ host: '127.0.0.1', port: chatPort, nick: 'ann' });
    void (async () => {
      for await (const event of chat as ChatClient) events.push(event);
    })().catch(() => {});
    chat.send({ type: 'join', room: 'lobby' });
    chat.send({ type: 'topic', room: 'lobby', topic: '<script>alert(1)</script> & more' });
    for (let i = 0; i < 250 && !events.some((e) => e.type === 'topic'); i++) await sleep(20);
  });

  afterAll(async () => {
    echo?.destroy();
    await chat?.close();
    await server?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('says where every service listens, how many are connected, and who is in which room', async () => {
    const res = await fetch(`${base}/api/status`);
    expect(res.status).toBe(200);
    const status = (await res.json()) as {
      services: { name: string; protocol: string; port: number; state: string; connections?: number }[];
      rooms: { name: string; topic: string; members: string[] }[];
    };
    expect(status.services.map((s) => `${s.name}/${s.protocol}`).sort()).toEqual([
      'chat/tcp',
      'chat/udp',
      'echo/tcp',
      'echo/udp',
      'files/tcp',
      'irc/tcp',
      'tftp/udp',
    ]);
    for (const s of status.services) {
      expect(s.port).toBe(
        server.listening.find((l) => l.service === s.name && l.protocol === s.protocol)?.port,
      );
    }
    // Without --redis, each service's state is that it listens.
    expect(new Set(status.services.map((s) => s.state))).toEqual(new Set(['listening']));
    expect(status.services.find((s) => s.name === 'echo' && s.protocol === 'tcp')?.connections).toBe(1);
    expect(status.services.find((s) => s.name === 'files')?.connections).toBe(0);
    expect(status.rooms.find((r) => r.name === 'lobby')).toEqual({
      name: 'lobby',
      topic: '<script>alert(1)</script> & more',
      members: ['ann'],
    });
  });

  it('shows the same on a page for people, with every value escaped', async () => {
    const res = await fetch(`${base}/status.html`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/html; charset=utf-8');
    const html = await res.text();
    expect(html).toMatch(/<td>echo<\/td><td>tcp<\/td><td>127\.0\.0\.1:\d+<\/td><td>listening<\/td>/);
    expect(html).toContain('<td class="members">ann</td>');
    expect(html).toContain('&lt;script&gt;alert(1)&lt;/script&gt; &amp; more');
    expect(html).not.toContain('<script>alert');
  });

  it('serves Prometheus metrics and a health check', async () => {
    const metrics = await fetch(`${base}/metrics`);
    expect(metrics.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
    const text = await metrics.text();
    expect(text).toMatch(/^sockit_connections_open\{service="echo",protocol="tcp"\} 1$/m);
    expect(text).toMatch(/^sockit_connections_total\{service="chat",protocol="tcp"\} [1-9]/m);
    const health = await fetch(`${base}/healthz`);
    expect(health.status).toBe(200);
    expect(await health.json()).toMatchObject({ status: 'ok' });
  });

  it('shows a TFTP download in progress: file, client, bytes and size', async () => {
    const tftpPort = server.listening.find((l) => l.service === 'tftp')?.port as number;
    writeFileSync(path.join(dir, 'data', 'tftp', 'image.bin'), Buffer.alloc(1024 * 1024, 7));
    const client = await stalledTftpRead(tftpPort, 'image.bin', 3);
    try {
      const status = (await (await fetch(`${base}/api/status`)).json()) as {
        transfers: Record<string, number>;
        active: {
          service: string;
          file: string;
          client: string;
          direction: string;
          bytes: number;
          size?: number;
        }[];
      };
      expect(status.transfers).toEqual({ tftp: 1 });
      expect(status.active).toEqual([
        expect.objectContaining({
          service: 'tftp',
          file: 'image.bin',
          client: `127.0.0.1:${client.address().port}`,
          direction: 'out',
          size: 1024 * 1024,
        }),
      ]);
      expect(status.active[0]?.bytes).toBeGreaterThanOrEqual(3 * 512);
      const html = await (await fetch(`${base}/status.html`)).text();
      expect(html).toMatch(/<td>tftp<\/td><td>image\.bin<\/td><td>127\.0\.0\.1:\d+<\/td><td>download<\/td>/);
    } finally {
      client.close();
    }
  });

  it('serves the live dashboard at / and the status every second as server-sent events', async () => {
    const page = await fetch(`${base}/`);
    expect(page.headers.get('cache-control')).toBe('no-cache');
    const html = await page.text();
    const script = /<script type="module" src="(app-[0-9a-f]{10}\.js)"><\/script>/.exec(html)?.[1];
    expect(script).toBeDefined();
    const asset = await fetch(`${base}/${script}`);
    expect(asset.status).toBe(200);
    expect(asset.headers.get('cache-control')).toBe('public, max-age=31536000, immutable');
    const events = await fetch(`${base}/api/events`);
    expect(events.headers.get('content-type')).toBe('text/event-stream; charset=utf-8');
    const reader = (events.body as ReadableStream<Uint8Array>).getReader();
    let text = '';
    while ((text.match(/\n\n/g) ?? []).length < 2) {
      const { value, done } = await reader.read();
      if (done) break;
      text += Buffer.from(value).toString();
    }
    await reader.cancel();
    const [first, second] = text.split('\n\n').map((e) => JSON.parse(e.replace(/^data: /, '') || '{}'));
    expect(first.services.length).toBe(7);
    expect(Date.parse(second.time)).toBeGreaterThan(Date.parse(first.time));
    expect(first.totals.connections).toBeGreaterThanOrEqual(2);
  });

  it('changes nothing: other methods are 405, other paths 404', async () => {
    const post = await fetch(`${base}/`, { method: 'POST', body: 'x' });
    expect(post.status).toBe(405);
    expect(post.headers.get('allow')).toBe('GET, HEAD');
    expect((await fetch(`${base}/etc/passwd`)).status).toBe(404);
  });
});
