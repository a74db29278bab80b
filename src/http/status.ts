/**
 * The status listener of `sockit serve` (`--http-port`): where each service listens and how
 * busy it is, for people (`/`, the live dashboard of web/dashboard, fed by `/api/events`
 * (server-sent events, every second); `/status.html`, a plain page that reloads itself),
 * for programs (`/api/status`, JSON), for Prometheus (`/metrics`, from the `runtime/metrics` registry fed
 * by sockit's events) and for health checks (`/healthz`). Read-only: nothing here changes
 * anything. Served by `listenHttp`, under the same guard and limits as the file server.
 */
import type http from 'node:http';
import { ConfinedRoot } from '../runtime/confine.js';
import type { Metrics } from '../runtime/metrics.js';
import type { Service } from '../runtime/service.js';
import { formatBytes } from '../runtime/units.js';
import type { TransferInfo } from '../tftp/slots.js';
import { escapeHtml } from './listing.js';
import { type HttpListenOptions, listenHttp } from './serve.js';
import { type Served, StaticFiles } from './static.js';

/** What the status pages read, each time they are asked. */
export interface StatusSource {
  /** The services running, each with its address. */
  services(): readonly Service[];
  /** The chat's rooms and who is in them, when a chat runs. */
  rooms?(): { name: string; topic: string; members: string[] }[];
  /** Transfers under way that can say what they are (TFTP's), with their service. */
  transfers?(): ActiveTransfer[];
}

/** A transfer in progress: which service, which file, with whom, how far. */
export type ActiveTransfer = TransferInfo & { service: string };

export interface StatusServeOptions extends HttpListenOptions {
  source: StatusSource;
  /** Started (`new Metrics().start()`) before the services, so that it sees their events. */
  metrics: Metrics;
  /** The built dashboard (dist/web/dashboard), served at `/`; without it `/` is the plain page. */
  webRoot?: string;
}

export interface ServiceStatus {
  name: string;
  protocol: 'tcp' | 'udp';
  address: string;
  port: number;
  /** Connections open now (TCP services). */
  connections?: number;
}

export interface Status {
  time: string;
  services: ServiceStatus[];
  /** Transfers in progress, by service (tftp, files). */
  transfers: Record<string, number>;
  /** Those that can say what they are. */
  active: ActiveTransfer[];
  rooms: { name: string; topic: string; members: string[] }[];
  /** Counters since the start, for rates: connections accepted, bytes of ended transfers. */
  totals: { connections: number; transferBytes: number };
}

/** Browsers following `/api/events` at once; more are answered 503. */
const MAX_FOLLOWERS = 64;

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
  let followers = 0;
  /** The status once now and then every second, as server-sent events, until the client goes. */
  const follow = (req: http.IncomingMessage, res: http.ServerResponse): Promise<Served> => {
    if (followers >= MAX_FOLLOWERS) {
      return Promise.resolve(send(req, res, 503, 'text/plain; charset=utf-8', 'too many dashboards open\n'));
    }
    followers++;
    res.writeHead(200, {
      'Content-Type': 'text/event-stream; charset=utf-8',
      'Cache-Control': 'no-store',
      'X-Content-Type-Options': 'nosniff',
    });
    let bytes = 0;
    const push = (): void => {
      void read().then((status) => {
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

  const handler = async (req: http.IncomingMessage, res: http.ServerResponse): Promise<Served> => {
    const method = req.method ?? 'GET';
    const path = (req.url ?? '/').split('?')[0];
    if (method !== 'GET' && method !== 'HEAD') {
      return send(req, res, 405, 'text/plain; charset=utf-8', 'GET and HEAD only\n', { Allow: 'GET, HEAD' });
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
      case '/api/events':
        return follow(req, res);
      case '/status.html':
        return send(req, res, 200, 'text/html; charset=utf-8', page(await read()));
      case '/':
        if (files === undefined) return send(req, res, 200, 'text/html; charset=utf-8', page(await read()));
        return files.handle(req, res);
      default:
        if (files !== undefined && /^\/[a-z]+-[0-9a-f]{10}\.(js|css)$/.test(path ?? ''))
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
        await listener.close();
        await root?.close();
      },
    };
  } catch (err) {
    await root?.close();
    throw err;
  }
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
        `<tr><td>${e(s.name)}</td><td>${s.protocol}</td><td>${e(s.address)}:${s.port}</td>` +
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
<h2>Services</h2><table><tr><th>service</th><th>protocol</th><th>address</th><th class="n">connections</th></tr>
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
