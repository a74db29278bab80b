/**
 * The admin side of the status listener, over real HTTP with Node's fetch and a SQLite user
 * store: SCRAM log-in in two POSTs (the server proving itself), refusals for a non-admin, a
 * wrong password and a page of another site; the admin view (usage per user, the log's last
 * lines); the actions; a grant taken back and a log-out ending the session.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LoginServer } from '../../src/auth/login-server.js';
import { deriveCredentials, ScramClient } from '../../src/auth/scram.js';
import { openUserStore, type UserStore } from '../../src/auth/store.js';
import { serveStatus } from '../../src/http/status.js';
import { createLogger, LogTail } from '../../src/runtime/log.js';
import { Metrics } from '../../src/runtime/metrics.js';
import type { Service } from '../../src/runtime/service.js';

const PASSWORD = 'admin password 1';
const ITERATIONS = 4096;

interface Answer {
  status: number;
  body: Record<string, unknown>;
  cookie: string | null;
}

describe('the status listener for admins', () => {
  let dir = '';
  let store: UserStore;
  let status: Service;
  let base = '';
  const tail = new LogTail();
  const stopped: string[][] = [];
  const disconnected: string[] = [];

  beforeAll(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'sockit-admin-'));
    store = await openUserStore(path.join(dir, 'sockit.db'));
    const credentials = await deriveCredentials(PASSWORD, { iterations: ITERATIONS });
    await store.add('ann', credentials, { grants: ['admin'] });
    await store.add('bob', credentials);
    await store.setUsage('bob', 5000);
    await store.setUsage('ann', 70);
    // Only warnings reach stderr; the tail keeps the log-ins' info lines too.
    const log = createLogger({ level: 'info', pretty: false, tail });
    status = await serveStatus({
      host: '127.0.0.1',
      port: 0,
      metrics: new Metrics().start(),
      accessLog: false,
      log,
      source: {
        services: () => [],
        stopTransfer: (service, client) => {
          stopped.push([service, client]);
          return client === '127.0.0.1:7';
        },
        disconnect: (nick) => {
          disconnected.push(nick);
          return nick === 'carl' ? 2 : 0;
        },
      },
      admin: {
        login: new LoginServer({
          service: 'dashboard',
          store,
          fakeKey: randomBytes(32),
          minIterations: ITERATIONS,
        }),
        store,
        tail,
        usageTtlMs: 0,
      },
    });
    base = `http://127.0.0.1:${status.address.port}`;
  });

  afterAll(async () => {
    await status?.close();
    await store?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  async function post(url: string, body: unknown, headers: Record<string, string> = {}): Promise<Answer> {
    const res = await fetch(`${base}${url}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...headers },
      body: JSON.stringify(body),
    });
    return {
      status: res.status,
      body: (await res.json()) as Record<string, unknown>,
      cookie: res.headers.get('set-cookie'),
    };
  }

  async function get(url: string, cookie?: string): Promise<Answer> {
    const res = await fetch(`${base}${url}`, { headers: cookie ? { cookie } : {} });
    return { status: res.status, body: (await res.json()) as Record<string, unknown>, cookie: null };
  }

  /** A whole log-in: the two POSTs, the server's signature checked. */
  async function logIn(user: string, password: string): Promise<Answer> {
    const scram = new ScramClient(user, password);
    const first = await post('/api/login', { op: 'auth', mechanism: 'SCRAM-SHA-256', data: scram.first() });
    if (first.status !== 200) return first;
    expect(first.body.sid).toMatch(/^[A-Za-z0-9_-]{24}$/);
    const data = await scram.final(first.body.data as string);
    const final = await post('/api/login', { op: 'auth-final', sid: first.body.sid, data });
    // Throws unless the server proved that it holds the account's keys.
    if (final.status === 200) scram.verify(final.body.data as string);
    return final;
  }

  const cookieOf = (answer: Answer): string => (answer.cookie ?? '').split(';')[0] as string;

  it('shows nobody the admin view without a log-in', async () => {
    expect((await get('/api/admin')).status).toBe(401);
    const denied = await post('/api/admin/disconnect', { nick: 'carl' });
    expect(denied.status).toBe(401);
    expect(disconnected).toEqual([]);
  });

  it('refuses a wrong password, and an account without the admin grant, giving no cookie', async () => {
    const wrong = await logIn('ann', 'not the password');
    expect(wrong.status).toBe(401);
    expect(wrong.body).toMatchObject({ ok: false, code: 'ERR_AUTH_FAILED' });
    expect(wrong.cookie).toBeNull();
    const bob = await logIn('bob', PASSWORD);
    expect(bob.status).toBe(403);
    expect(bob.body.message).toBe('bob is not an admin: sockit users grant bob admin');
    expect(bob.cookie).toBeNull();
  });

  it('refuses posts from another site, in another form, or too large', async () => {
    const start = { op: 'auth', mechanism: 'SCRAM-SHA-256', data: new ScramClient('ann', PASSWORD).first() };
    expect((await post('/api/login', start, { origin: 'http://evil.example' })).status).toBe(403);
    expect((await post('/api/login', start, { 'sec-fetch-site': 'cross-site' })).status).toBe(403);
    expect((await post('/api/login', start, { 'content-type': 'text/plain' })).status).toBe(403);
    expect((await post('/api/login', { op: 'auth', mechanism: 'SECRET', data: '' })).status).toBe(400);
    expect((await post('/api/login', { op: 'auth-final', sid: 'made-up', data: 'x' })).status).toBe(400);
    expect((await post('/api/login', { pad: 'x'.repeat(10_000) })).status).toBe(400);
  });

  it('logs an admin in with an HttpOnly, SameSite=Strict cookie, and shows usage and the log', async () => {
    const ann = await logIn('ann', PASSWORD);
    expect(ann.status).toBe(200);
    expect(ann.body).toMatchObject({ ok: true, user: 'ann' });
    expect(ann.cookie).toMatch(/^sockit_admin=[A-Za-z0-9_-]{43}; HttpOnly; SameSite=Strict; Path=\/$/);
    const view = await get('/api/admin', cookieOf(ann));
    expect(view.status).toBe(200);
    expect(view.body).toMatchObject({
      user: 'ann',
      userCount: 2,
      users: [
        { name: 'bob', usageBytes: 5000, quotaBytes: null },
        { name: 'ann', usageBytes: 70, quotaBytes: null },
      ],
      can: { stopTransfer: true, disconnect: true },
    });
    const log = view.body.log as { msg: string; fields: Record<string, unknown> }[];
    expect(log.some((l) => l.msg === 'logged in' && l.fields.user === 'ann')).toBe(true);
    expect(log.some((l) => l.msg === 'log-in refused' && l.fields.user === 'ann')).toBe(true);
  });

  it('gives the admin view in the events of a logged-in page only', async () => {
    const ann = await logIn('ann', PASSWORD);
    const first = async (cookie?: string): Promise<Record<string, unknown>> => {
      const controller = new AbortController();
      const res = await fetch(`${base}/api/events`, {
        headers: cookie ? { cookie } : {},
        signal: controller.signal,
      });
      const reader = (res.body as ReadableStream<Uint8Array>).getReader();
      let text = '';
      while (!text.includes('\n\n')) text += new TextDecoder().decode((await reader.read()).value);
      controller.abort();
      return JSON.parse(text.slice('data: '.length, text.indexOf('\n\n'))) as Record<string, unknown>;
    };
    expect(await first()).not.toHaveProperty('admin');
    expect(await first(cookieOf(ann))).toMatchObject({ admin: { user: 'ann', userCount: 2 } });
  });

  it('stops a transfer and disconnects a chat user for an admin, saying when there was none', async () => {
    const cookie = cookieOf(await logIn('ann', PASSWORD));
    const stop = (client: string) =>
      post('/api/admin/stop-transfer', { service: 'tftp', client }, { cookie });
    expect((await stop('127.0.0.1:7')).status).toBe(200);
    expect((await stop('127.0.0.1:8')).status).toBe(404);
    expect(stopped).toEqual([
      ['tftp', '127.0.0.1:7'],
      ['tftp', '127.0.0.1:8'],
    ]);
    const kicked = await post('/api/admin/disconnect', { nick: 'carl' }, { cookie });
    expect(kicked).toMatchObject({ status: 200, body: { ok: true, closed: 2 } });
    expect((await post('/api/admin/disconnect', { nick: 'dora' }, { cookie })).status).toBe(404);
    const log = tail.entries();
    expect(log.some((l) => l.msg === 'admin: disconnect a chat user' && l.fields.admin === 'ann')).toBe(true);
  });

  it('ends the session at log-out, and when the admin grant is taken back', async () => {
    const one = cookieOf(await logIn('ann', PASSWORD));
    const two = cookieOf(await logIn('ann', PASSWORD));
    const out = await post('/api/logout', {}, { cookie: one });
    expect(out.cookie).toMatch(/^sockit_admin=; .*Max-Age=0/);
    expect((await get('/api/admin', one)).status).toBe(401);
    expect((await get('/api/admin', two)).status).toBe(200);
    await store.setGrants('ann', []);
    expect((await get('/api/admin', two)).status).toBe(401);
    await store.setGrants('ann', ['admin']);
    // Ended for good: the grant given again does not bring the old session back.
    expect((await get('/api/admin', two)).status).toBe(401);
  });
});
