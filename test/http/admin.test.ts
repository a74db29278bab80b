/**
 * The admin side of the status listener, over real HTTP with Node's fetch and a SQLite user
 * store: SCRAM log-in in two POSTs (the server proving itself), refusals for a non-admin, a
 * wrong password and a page of another site; the admin view (usage per user, the log's last
 * lines); the actions; a grant taken back and a log-out ending the session.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import http from 'node:http';
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
  /** A POST of JSON from `localAddress` (a loopback address of the test's choosing). */
  function postFrom(
    localAddress: string,
    url: string,
    body: unknown,
    headers: Record<string, string> = {},
  ): Promise<Answer> {
    return new Promise((resolve, reject) => {
      const data = JSON.stringify(body);
      const req = http.request(
        `${base}${url}`,
        {
          method: 'POST',
          localAddress,
          headers: { 'content-type': 'application/json', ...headers },
          agent: false,
        },
        (res) => {
          let text = '';
          res.setEncoding('utf8');
          res.on('data', (c: string) => {
            text += c;
          });
          res.on('end', () =>
            resolve({
              status: res.statusCode ?? 0,
              body: JSON.parse(text) as Record<string, unknown>,
              cookie: null,
            }),
          );
        },
      );
      req.on('error', reject);
      req.end(data);
    });
  }

  it('holds at most 8 log-ins under way from one network; others still log in', async () => {
    // Nine addresses of 127.0.7.0/24 each start a log-in and never finish it.
    const started: Answer[] = [];
    for (let i = 1; i <= 9; i++) {
      const first = new ScramClient(`ghost${i}`, 'x').first();
      started.push(
        await postFrom(`127.0.7.${i}`, '/api/login', { op: 'auth', mechanism: 'SCRAM-SHA-256', data: first }),
      );
    }
    expect(started.map((a) => a.status)).toEqual([200, 200, 200, 200, 200, 200, 200, 200, 429]);
    expect(started[8]?.body.message).toMatch(/too many log-ins under way/);
    expect((await logIn('ann', PASSWORD)).status).toBe(200);
  });

  it('ends a session when the password changes, the account is made again, or the grant goes and comes back', async () => {
    const cookie = cookieOf(await logIn('ann', PASSWORD));
    expect((await get('/api/admin', cookie)).status).toBe(200);
    await store.setCredentials('ann', await deriveCredentials(PASSWORD, { iterations: ITERATIONS }));
    expect((await get('/api/admin', cookie)).status).toBe(401);

    const again = cookieOf(await logIn('ann', PASSWORD));
    expect((await get('/api/admin', again)).status).toBe(200);
    const record = await store.get('ann');
    await store.remove('ann');
    await store.add('ann', record?.credentials as never, { grants: ['admin'] });
    expect((await get('/api/admin', again)).status).toBe(401);

    // Taken back and given again while the cookie was not used: the sweep ended it meanwhile.
    const third = cookieOf(await logIn('ann', PASSWORD));
    await store.setGrants('ann', []);
    await new Promise((resolve) => setTimeout(resolve, 1500));
    await store.setGrants('ann', ['admin']);
    expect((await get('/api/admin', third)).status).toBe(401);
  });

  it('keeps one address from taking every live dashboard, and answers only to its own names', async () => {
    const opened: http.ClientRequest[] = [];
    const follow = (localAddress: string, headers: Record<string, string> = {}): Promise<number> =>
      new Promise((resolve, reject) => {
        const req = http.get(`${base}/api/events`, { localAddress, agent: false, headers }, (res) => {
          resolve(res.statusCode ?? 0);
          if (res.statusCode !== 200) res.resume();
        });
        req.on('error', reject);
        opened.push(req);
      });
    try {
      const codes: number[] = [];
      for (let i = 0; i < 9; i++) codes.push(await follow('127.0.8.1'));
      expect(codes).toEqual([200, 200, 200, 200, 200, 200, 200, 200, 503]);
      expect(await follow('127.0.8.2')).toBe(200);
      expect(await follow('127.0.0.1', { host: `evil.example:${status.address.port}` })).toBe(421);
      expect(await follow('127.0.0.1', { host: `localhost:${status.address.port}` })).toBe(200);
    } finally {
      for (const req of opened) req.destroy();
    }
    const start = { op: 'auth', mechanism: 'SCRAM-SHA-256', data: new ScramClient('ann', PASSWORD).first() };
    // An https page cannot post to this http one, even of the same host and port.
    expect((await post('/api/login', start, { origin: base.replace('http:', 'https:') })).status).toBe(403);
  });
});
