/**
 * The status listener of `sockit serve` (`--http-port`): where each service listens and how
 * busy it is, for people (`/`, the live dashboard of web/dashboard, fed by `/api/events`
 * (server-sent events, every second); `/status.html`, a plain page that reloads itself),
 * for programs (`/api/status`, JSON), for Prometheus (`/metrics`, from the `runtime/metrics` registry fed
 * by sockit's events) and for health checks (`/healthz`). Served by `listenHttp`, under the
 * same guard and limits as the file server.
 *
 * Read-only for everyone; an account with the `admin` grant may log in (`/api/login`, see
 * admin.ts) and then also sees each user's file usage and the last log lines (in its
 * `/api/events` and at `/api/admin`), and may stop a TFTP transfer or disconnect a chat user
 * (`POST /api/admin/stop-transfer`, `/api/admin/disconnect`).
 */
import type http from 'node:http';
import type { LoginServer } from '../auth/login-server.js';
import type { UserStore } from '../auth/store.js';
import { ErrorCode, SockitError } from '../errors.js';
import { ConfinedRoot } from '../runtime/confine.js';
import type { LogTail } from '../runtime/log.js';
import type { Metrics } from '../runtime/metrics.js';
import { addressGroup, isLoopback } from '../runtime/netgroup.js';
import type { Service } from '../runtime/service.js';
import { formatBytes } from '../runtime/units.js';
import type { ActiveTransfer, AdminView, ServiceStatus, Status } from './status-types.js';

export type { ActiveTransfer, AdminView, ServiceStatus, Status } from './status-types.js';

import { ADMIN_COOKIE, AdminLogin, AdminSessions, adminToken, type JsonAnswer } from './admin.js';
import { escapeHtml } from './listing.js';
import { type HttpListenOptions, listenHttp } from './serve.js';
import { type Served, StaticFiles } from './static.js';

/** What the status pages read, each time they are asked. */
export interface StatusSource {
  /** The services running, each with its address. */
  services(): readonly Service[];
  /** What a service says of its state, when more than that it listens (default `listening`). */
  stateOf?(service: Service): string | undefined;
  /** The chat's rooms and who is in them, when a chat runs. */
  rooms?(): { name: string; topic: string; members: string[] }[];
  /** Transfers under way that can say what they are (TFTP's), with their service. */
  transfers?(): ActiveTransfer[];
  /** Ends the transfer of `service` with `client` (as `transfers()` names them); false: none. */
  stopTransfer?(service: string, client: string): boolean;
  /** Disconnects the chat user `nick`; the sessions closed. */
  disconnect?(nick: string): number;
}

/** What an admin may log in with, and see. */
export interface StatusAdminOptions {
  login: LoginServer;
  /** The user store: each user's file usage and quota. */
  store: UserStore;
  /** The server's last log lines. */
  tail?: LogTail;
  sessions?: AdminSessions;
  /**
   * How long a read of the users (usage, grants) is used before the store is read again; a
   * grant taken back ends its sessions within this time. Default 5000 ms.
   */
  usageTtlMs?: number;
}

export interface StatusServeOptions extends HttpListenOptions {
  source: StatusSource;
  /** Started (`new Metrics().start()`) before the services, so that it sees their events. */
  metrics: Metrics;
  /** The built dashboard (dist/web/dashboard), served at `/`; without it `/` is the plain page. */
  webRoot?: string;
  /** Admin log-in; without it nobody is an admin here. */
  admin?: StatusAdminOptions;
}

/** Users listed to an admin, and log lines. */
const ADMIN_USERS = 100;
const ADMIN_LOG_LINES = 100;
/** The largest JSON body a POST may have. */
const MAX_BODY = 8192;

/** Browsers following `/api/events` at once; more are answered 503 (admins have as many again). */
const MAX_FOLLOWERS = 64;
/** Of these, from one address group (an IPv4 address, an IPv6 /64). */
const MAX_FOLLOWERS_PER_ADDRESS = 8;

/**
 * @example
 * ```ts
 * const metrics = new Metrics().start();
 * const status = await serveStatus({ port: 8080, metrics, source: { services: () => running } });
 * ```
 */
export async function serveStatus(options: StatusServeOptions): Promise<Service> {
  const { source, metrics } = options;
  const read = async (): Promise<Status> => {
    const open = await gaugeValues(metrics, 'sockit_connections_open');
    const active = await gaugeValues(metrics, 'sockit_transfers_active');
    const transfers: Record<string, number> = {};
    for (const { labels, value } of active) {
      if (value <= 0) continue;
      const service = labels.service ?? 'unknown';
      transfers[service] = (transfers[service] ?? 0) + value;
    }
    return {
      time: new Date().toISOString(),
      services: source.services().map((s) => {
        const status: ServiceStatus = {
          name: s.name,
          protocol: s.protocol,
          address: s.address.address,
          port: s.address.port,
          state: source.stateOf?.(s) ?? 'listening',
        };
        if (s.protocol === 'tcp') {
          status.connections = open
            .filter((v) => v.labels.service === s.name && v.labels.protocol !== 'udp')
            .reduce((sum, v) => sum + v.value, 0);
        }
        return status;
      }),
      transfers,
      active: source.transfers?.() ?? [],
      rooms: source.rooms?.() ?? [],
      totals: {
        connections: sum(await gaugeValues(metrics, 'sockit_connections_total')),
        transferBytes: sum(await gaugeValues(metrics, 'sockit_transfer_bytes_total')),
      },
    };
  };
  const admin = options.admin;
  const sessions = admin?.sessions ?? new AdminSessions();
  const adminLogin =
    admin === undefined
      ? undefined
      : new AdminLogin({ login: admin.login, sessions, secure: options.tls !== undefined });
  type Users = Awaited<ReturnType<UserStore['list']>>;
  let usage: { at: number; users: Promise<Users | undefined> } | undefined;
  const ttl = admin?.usageTtlMs ?? 5000;
  /**
   * The users as the store had them at most `usageTtlMs` ago; undefined when the store could
   * not be read. Each read ends the sessions whose accounts changed (see `AdminSessions.sweep`).
   */
  const listUsers = (store: UserStore): Promise<Users | undefined> => {
    const now = Date.now();
    if (usage === undefined || now - usage.at > ttl) {
      usage = {
        at: now,
        users: store.list().then(
          (users) => {
            sessions.sweep(users);
            return users;
          },
          () => undefined,
        ),
      };
    }
    return usage.users;
  };
  // Sessions end within `usageTtlMs` of their account's change even when nobody asks:
  // a grant taken back and given again meanwhile does not bring them back.
  const sweeper =
    admin === undefined
      ? undefined
      : setInterval(
          () => {
            if (sessions.size > 0) void listUsers(admin.store);
          },
          Math.max(ttl, 1000),
        ).unref();
  /**
   * The admin logged in by `req`'s cookie, if its account is still what it was at log-in, with
   * the grant (a store that cannot be read shows nobody as an admin).
   */
  const adminOf = async (req: http.IncomingMessage): Promise<string | undefined> => {
    if (admin === undefined) return undefined;
    const session = sessions.session(adminToken(req));
    if (session === undefined) return undefined;
    const users = await listUsers(admin.store);
    const record = users?.find((u) => u.name === session.user);
    if (record === undefined || users === undefined) return undefined;
    // The read swept sessions whose account changed; this one may have gone with them.
    return sessions.user(adminToken(req)) === session.user ? session.user : undefined;
  };
  const adminView = async (user: string): Promise<AdminView> => {
    const all = ((await listUsers((admin as StatusAdminOptions).store)) ?? []).slice();
    all.sort((a, b) => (b.usageBytes ?? -1) - (a.usageBytes ?? -1) || (a.name < b.name ? -1 : 1));
    return {
      user,
      users: all
        .slice(0, ADMIN_USERS)
        .map((u) => ({ name: u.name, usageBytes: u.usageBytes, quotaBytes: u.quotaBytes })),
      userCount: all.length,
      log: admin?.tail?.entries(ADMIN_LOG_LINES) ?? [],
      can: { stopTransfer: source.stopTransfer !== undefined, disconnect: source.disconnect !== undefined },
    };
  };

  let followers = 0;
  /** Followers per address group: one address cannot take every place. */
  const followersOf = new Map<string, number>();
  /** The status once now and then every second, as server-sent events, until the client goes. */
  const follow = async (req: http.IncomingMessage, res: http.ServerResponse): Promise<Served> => {
    const group = addressGroup(req.socket.remoteAddress);
    const mine = followersOf.get(group) ?? 0;
    // Beyond MAX_FOLLOWERS, only admins (as many again): strangers cannot blind them.
    const full =
      followers >= MAX_FOLLOWERS && (followers >= 2 * MAX_FOLLOWERS || (await adminOf(req)) === undefined);
    if (mine >= MAX_FOLLOWERS_PER_ADDRESS || full) {
      return send(req, res, 503, 'text/plain; charset=utf-8', 'too many dashboards open\n');
    }
    followers++;
    followersOf.set(group, mine + 1);
    res.writeHead(200, {
      'Content-Type': 'text/event-stream; charset=utf-8',
      'Cache-Control': 'no-store',
      'X-Content-Type-Options': 'nosniff',
    });
    let bytes = 0;
    const push = (): void => {
      void (async () => {
        const status = await read();
        const user = await adminOf(req);
        if (user !== undefined) status.admin = await adminView(user);
        return status;
      })().then((status) => {
        if (res.destroyed || res.writableEnded) return;
        const event = `data: ${JSON.stringify(status)}\n\n`;
        bytes += Buffer.byteLength(event);
        // A browser that does not read does not get more queued than one event.
        if (res.writableLength === 0) res.write(event);
      });
    };
    push();
    const timer = setInterval(push, 1000);
    return new Promise((resolve) => {
      res.once('close', () => {
        clearInterval(timer);
        followers--;
        const left = (followersOf.get(group) ?? 1) - 1;
        if (left > 0) followersOf.set(group, left);
        else followersOf.delete(group);
        resolve({ status: 200, bytes });
      });
    });
  };
  const root = options.webRoot === undefined ? undefined : await ConfinedRoot.open(options.webRoot);
  const files =
    root === undefined
      ? undefined
      : new StaticFiles(root, {
          listing: false,
          cacheControl: 'no-cache',
          immutable: /-[0-9a-f]{10}\.(js|css)$/,
        });

  /** The admin's POSTs: log-in, log-out and the two actions, each a JSON body. */
  const post = async (req: http.IncomingMessage, res: http.ServerResponse, path: string): Promise<Served> => {
    const answer = (a: JsonAnswer): Served => sendJson(req, res, a.status, a.body, a.headers);
    const refuse = (status: number, code: string, message: string): Served =>
      answer({ status, body: { ok: false, code, message } });
    if (admin === undefined || adminLogin === undefined) {
      return refuse(404, ErrorCode.NOT_FOUND, 'this server has no admin log-in');
    }
    // A page elsewhere cannot post here: it would need a preflight for JSON, which is never
    // granted, and browsers say where a request comes from.
    const type = (req.headers['content-type'] ?? '').split(';')[0]?.trim().toLowerCase();
    if (type !== 'application/json' || !sameOrigin(req)) {
      return refuse(403, ErrorCode.FORBIDDEN, 'only this page may post here, as application/json');
    }
    let body: unknown;
    try {
      body = JSON.parse(await readBody(req, MAX_BODY));
    } catch {
      return refuse(400, ErrorCode.BAD_REQUEST, `a JSON body of at most ${MAX_BODY} bytes`);
    }
    const fields = (typeof body === 'object' && body !== null ? body : {}) as Record<string, unknown>;
    if (path === '/api/login') {
      return answer(
        await adminLogin.step(body, {
          address: req.socket.remoteAddress ?? '?',
          ...(options.log
            ? { log: options.log.child({ service: 'status', remote: req.socket.remoteAddress ?? '?' }) }
            : {}),
        }),
      );
    }
    if (path === '/api/logout') {
      sessions.end(adminToken(req));
      return answer({
        status: 200,
        body: { ok: true },
        headers: { 'Set-Cookie': `${ADMIN_COOKIE}=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0` },
      });
    }
    const user = await adminOf(req);
    if (user === undefined) return refuse(401, ErrorCode.AUTH_FAILED, 'log in as an admin first');
    const text = (name: string): string => (typeof fields[name] === 'string' ? (fields[name] as string) : '');
    switch (path) {
      case '/api/admin/stop-transfer': {
        const stopped = source.stopTransfer?.(text('service'), text('client')) ?? false;
        options.log?.info(
          { admin: user, service: text('service'), client: text('client'), stopped },
          'admin: stop a transfer',
        );
        return stopped
          ? answer({ status: 200, body: { ok: true } })
          : refuse(404, ErrorCode.NOT_FOUND, 'no such transfer (it may have ended)');
      }
      case '/api/admin/disconnect': {
        const closed = source.disconnect?.(text('nick')) ?? 0;
        options.log?.info({ admin: user, nick: text('nick'), closed }, 'admin: disconnect a chat user');
        return closed > 0
          ? answer({ status: 200, body: { ok: true, closed } })
          : refuse(404, ErrorCode.NOT_FOUND, `${text('nick') || 'nobody'} is not connected here`);
      }
      default:
        return refuse(404, ErrorCode.NOT_FOUND, 'not found');
    }
  };

  const onLoopback = options.host !== undefined && isLoopback(options.host);
  const handler = async (req: http.IncomingMessage, res: http.ServerResponse): Promise<Served> => {
    const method = req.method ?? 'GET';
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    // Listening on this machine only, the page answers to this machine's names only: a page
    // elsewhere whose name was made to resolve here (DNS rebinding) gets nothing.
    if (onLoopback && !loopbackHost(req.headers.host)) {
      return send(
        req,
        res,
        421,
        'text/plain; charset=utf-8',
        'ask for this page as localhost or by its address\n',
      );
    }
    if (
      method === 'POST' &&
      (path === '/api/login' || path === '/api/logout' || path.startsWith('/api/admin/'))
    ) {
      return post(req, res, path);
    }
    if (method !== 'GET' && method !== 'HEAD') {
      return send(
        req,
        res,
        405,
        'text/plain; charset=utf-8',
        'GET and HEAD here (POST: /api/login, /api/logout, /api/admin/...)\n',
        {
          Allow: 'GET, HEAD',
        },
      );
    }
    switch (path) {
      case '/healthz': {
        const services = source.services();
        const up = services.length > 0;
        const body = `${JSON.stringify({ status: up ? 'ok' : 'down', services: services.map((s) => s.name) })}\n`;
        return send(req, res, up ? 200 : 503, 'application/json', body);
      }
      case '/metrics': {
        const { contentType, body } = await metrics.text();
        return send(req, res, 200, contentType, body);
      }
      case '/api/status':
        return send(req, res, 200, 'application/json', `${JSON.stringify(await read())}\n`);
      case '/api/admin': {
        const user = await adminOf(req);
        if (user === undefined) {
          return sendJson(req, res, 401, {
            ok: false,
            code: ErrorCode.AUTH_FAILED,
            message: 'log in as an admin first',
          });
        }
        return sendJson(req, res, 200, { ok: true, ...(await adminView(user)) });
      }
      case '/api/events':
        return follow(req, res);
      case '/status.html':
        return send(req, res, 200, 'text/html; charset=utf-8', page(await read()));
      case '/':
        if (files === undefined) return send(req, res, 200, 'text/html; charset=utf-8', page(await read()));
        return files.handle(req, res);
      default:
        if (files !== undefined && /^\/[a-z]+-[0-9a-f]{10}\.(js|css)$/.test(path))
          return files.handle(req, res);
        return send(
          req,
          res,
          404,
          'text/plain; charset=utf-8',
          'not found: try /, /status.html, /api/status, /api/events, /metrics or /healthz\n',
        );
    }
  };
  try {
    const listener = await listenHttp('status', handler, options);
    return {
      ...listener,
      address: listener.address,
      async close() {
        if (sweeper !== undefined) clearInterval(sweeper);
        await listener.close();
        await root?.close();
      },
    };
  } catch (err) {
    if (sweeper !== undefined) clearInterval(sweeper);
    await root?.close();
    throw err;
  }
}

/** Whether a Host header names this machine: localhost, or a loopback address, with any port. */
function loopbackHost(host: string | undefined): boolean {
  if (host === undefined) return false;
  const name = host
    .replace(/:\d+$/, '')
    .replace(/^\[(.*)\]$/, '$1')
    .toLowerCase();
  return name === 'localhost' || name.endsWith('.localhost') || isLoopback(name);
}

/**
 * Whether a POST comes from this server's own pages: its Origin (when sent) names this host,
 * and the browser's Sec-Fetch-Site (when sent) says same-origin.
 */
function sameOrigin(req: http.IncomingMessage): boolean {
  const site = req.headers['sec-fetch-site'];
  if (site !== undefined && site !== 'same-origin' && site !== 'none') return false;
  const origin = req.headers.origin;
  if (origin === undefined) return true;
  const scheme = 'encrypted' in req.socket && req.socket.encrypted ? 'https:' : 'http:';
  try {
    const url = new URL(origin);
    return url.protocol === scheme && url.host === req.headers.host;
  } catch {
    return false;
  }
}

/** A request's body as text, refused (rejects) past `limit` bytes. */
function readBody(req: http.IncomingMessage, limit: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        req.removeAllListeners('data');
        req.resume();
        reject(new SockitError(ErrorCode.BAD_REQUEST, 'body too large'));
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

function sendJson(
  req: http.IncomingMessage,
  res: http.ServerResponse,
  status: number,
  body: unknown,
  extra: Record<string, string> = {},
): Served {
  return send(req, res, status, 'application/json', `${JSON.stringify(body)}\n`, extra);
}

function sum(values: { value: number }[]): number {
  return values.reduce((total, v) => total + v.value, 0);
}

async function gaugeValues(
  metrics: Metrics,
  name: string,
): Promise<{ labels: Record<string, string>; value: number }[]> {
  const metric = metrics.registry.getSingleMetric(name);
  if (metric === undefined) return [];
  const { values } = await metric.get();
  return values.map((v) => ({ labels: v.labels as Record<string, string>, value: v.value }));
}

function send(
  req: http.IncomingMessage,
  res: http.ServerResponse,
  status: number,
  type: string,
  text: string,
  extra: Record<string, string> = {},
): Served {
  const body = Buffer.from(text, 'utf8');
  res.writeHead(status, {
    'Content-Type': type,
    'Content-Length': String(body.length),
    'Cache-Control': 'no-store',
    'X-Content-Type-Options': 'nosniff',
    ...extra,
  });
  if (req.method === 'HEAD') res.end();
  else res.end(body);
  return { status, bytes: req.method === 'HEAD' ? 0 : body.length };
}

/** The status as an HTML page that reloads itself every 5 s; every value escaped. */
function page(status: Status): string {
  const e = escapeHtml;
  const services = status.services
    .map(
      (s) =>
        `<tr><td>${e(s.name)}</td><td>${s.protocol}</td><td>${e(s.address)}:${s.port}</td><td>${e(s.state)}</td>` +
        `<td class="n">${s.connections ?? ''}</td></tr>`,
    )
    .join('\n');
  const transfers = Object.entries(status.transfers)
    .map(([service, n]) => `<li>${e(service)}: ${n}</li>`)
    .join('');
  const active = status.active
    .map((t) => {
      const done = t.size
        ? ` of ${formatBytes(t.size)} (${Math.floor((100 * t.bytes) / Math.max(t.size, 1))}%)`
        : '';
      const rate = t.seconds > 0 ? `${formatBytes(t.bytes / t.seconds)}/s` : '';
      return (
        `<tr><td>${e(t.service)}</td><td>${e(t.file)}</td><td>${e(t.client)}</td>` +
        `<td>${t.direction === 'out' ? 'download' : 'upload'}</td><td>${formatBytes(t.bytes)}${done}</td><td>${rate}</td></tr>`
      );
    })
    .join('\n');
  const rooms = status.rooms
    .map(
      (r) =>
        `<tr><td>#${e(r.name)}</td><td>${e(r.topic)}</td><td class="members">${r.members.map(e).join(', ')}</td></tr>`,
    )
    .join('\n');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="refresh" content="5"><title>sockit status</title>
<style>body{font:14px/1.5 system-ui,sans-serif;margin:1.5rem;max-width:60rem}table{border-collapse:collapse;width:100%;margin-bottom:1.5rem}
th,td{text-align:left;padding:.2rem .8rem .2rem 0}.n{text-align:right}td.members{word-break:break-word}</style></head>
<body><h1>sockit status</h1><p>${e(status.time)}</p>
<h2>Services</h2><table><tr><th>service</th><th>protocol</th><th>address</th><th>state</th><th class="n">connections</th></tr>
${services}</table>
<h2>Transfers in progress</h2><ul>${transfers || '<li>none</li>'}</ul>
<table id="transfers"><tr><th>service</th><th>file</th><th>client</th><th>kind</th><th>moved</th><th>rate</th></tr>
${active}</table>
<h2>Chat rooms</h2><table id="rooms"><tr><th>room</th><th>topic</th><th>members</th></tr>
${rooms}</table>
<p>Also: <a href="/api/status">/api/status</a> (JSON), <a href="/metrics">/metrics</a> (Prometheus), <a href="/healthz">/healthz</a>.</p>
</body></html>
`;
}
