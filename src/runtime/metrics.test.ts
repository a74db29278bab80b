import dgram from 'node:dgram';
import diagnostics from 'node:diagnostics_channel';
import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { serveEcho } from '../echo/server.js';
import { events } from './events.js';
import { Metrics } from './metrics.js';
import type { Service } from './service.js';

/** Prometheus text -> `name{a="1",b="2"}` (labels sorted) -> value. */
function parse(body: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of body.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m) throw new Error(`not an exposition line: ${line}`);
    const labels = (m[2] ?? '')
      .split(/,(?=\w+=")/)
      .filter((l) => l !== '')
      .sort()
      .join(',');
    out.set(labels ? `${m[1]}{${labels}}` : (m[1] as string), Number(m[3]));
  }
  return out;
}

async function values(metrics: Metrics): Promise<Map<string, number>> {
  return parse((await metrics.text()).body);
}

const started: Metrics[] = [];
function metrics(): Metrics {
  const m = new Metrics().start();
  started.push(m);
  return m;
}
const running: Service[] = [];
afterEach(async () => {
  for (const m of started.splice(0)) m.stop();
  await Promise.all(running.splice(0).map((s) => s.close()));
});

describe('metrics from events', () => {
  it('counts connections, log-ins, transfers and errors exactly', async () => {
    const m = metrics();
    for (let i = 0; i < 3; i++) events.connectionOpen.publish({ service: 'files', protocol: 'tls' });
    events.connectionClose.publish({
      service: 'files',
      protocol: 'tls',
      durationMs: 5,
      bytesIn: 100,
      bytesOut: 2000,
    });
    events.login.publish({ service: 'files', mechanism: 'SCRAM-SHA-256', ok: true });
    events.login.publish({
      service: 'files',
      mechanism: 'SCRAM-SHA-256',
      ok: false,
      code: 'ERR_AUTH_FAILED',
    });
    events.login.publish({ service: 'files', mechanism: 'SCRAM-SHA-256', ok: false });
    events.transferStart.publish({ service: 'tftp', direction: 'out' });
    events.transferStart.publish({ service: 'tftp', direction: 'out' });
    events.transferEnd.publish({ service: 'tftp', direction: 'out', bytes: 512, ok: true, durationMs: 30 });
    events.error.publish({ service: 'tftp', code: 'ERR_TFTP_TIMEOUT' });
    events.error.publish({ service: 'tftp', code: 'ERR_TFTP_TIMEOUT' });
    const v = await values(m);
    expect(v.get('sockit_connections_total{protocol="tls",service="files"}')).toBe(3);
    expect(v.get('sockit_connections_open{protocol="tls",service="files"}')).toBe(2);
    expect(v.get('sockit_connection_bytes_total{direction="in",service="files"}')).toBe(100);
    expect(v.get('sockit_connection_bytes_total{direction="out",service="files"}')).toBe(2000);
    expect(v.get('sockit_logins_total{mechanism="SCRAM-SHA-256",outcome="ok",service="files"}')).toBe(1);
    expect(v.get('sockit_logins_total{mechanism="SCRAM-SHA-256",outcome="fail",service="files"}')).toBe(2);
    expect(v.get('sockit_transfers_active{direction="out",service="tftp"}')).toBe(1);
    expect(v.get('sockit_transfers_total{direction="out",outcome="ok",service="tftp"}')).toBe(1);
    expect(v.get('sockit_transfer_bytes_total{direction="out",service="tftp"}')).toBe(512);
    expect(v.get('sockit_errors_total{code="ERR_TFTP_TIMEOUT",service="tftp"}')).toBe(2);
  });

  it('puts transfer durations in the right histogram buckets', async () => {
    const m = metrics();
    for (const durationMs of [5, 40, 40, 2000, 900_000]) {
      events.transferEnd.publish({ service: 'files', direction: 'in', bytes: 1, ok: true, durationMs });
    }
    const v = await values(m);
    const bucket = (le: string): number | undefined =>
      v.get(`sockit_transfer_duration_seconds_bucket{direction="in",le="${le}",service="files"}`);
    expect(bucket('0.01')).toBe(1);
    expect(bucket('0.05')).toBe(3);
    expect(bucket('1')).toBe(3);
    expect(bucket('5')).toBe(4);
    expect(bucket('600')).toBe(4);
    expect(bucket('+Inf')).toBe(5);
    expect(v.get('sockit_transfer_duration_seconds_count{direction="in",service="files"}')).toBe(5);
    expect(v.get('sockit_transfer_duration_seconds_sum{direction="in",service="files"}')).toBeCloseTo(
      902.085,
      6,
    );
  });

  it('serves Prometheus text 0.0.4 with its content type', async () => {
    const { contentType, body } = await metrics().text();
    expect(contentType).toBe('text/plain; version=0.0.4; charset=utf-8');
    expect(body).toContain('# TYPE sockit_connections_open gauge');
    expect(body).toContain('# TYPE sockit_transfer_duration_seconds histogram');
  });

  it('stop() unsubscribes: later events change nothing and the channels have no listener left', async () => {
    const m = metrics();
    events.error.publish({ service: 'echo', code: 'ERR_BAD_ENVELOPE' });
    m.stop();
    expect(m.running).toBe(false);
    expect(diagnostics.hasSubscribers('sockit:error')).toBe(false);
    expect(diagnostics.hasSubscribers('sockit:connection:open')).toBe(false);
    expect(events.datagram.hasSubscribers).toBe(false);
    events.error.publish({ service: 'echo', code: 'ERR_BAD_ENVELOPE' });
    expect((await values(m)).get('sockit_errors_total{code="ERR_BAD_ENVELOPE",service="echo"}')).toBe(1);
  });

  it('two registries count independently and do not touch the global one', async () => {
    const a = metrics();
    const b = new Metrics();
    events.login.publish({ service: 'chat', mechanism: 'key', ok: true });
    b.start();
    started.push(b);
    events.login.publish({ service: 'chat', mechanism: 'key', ok: true });
    const key = 'sockit_logins_total{mechanism="key",outcome="ok",service="chat"}';
    expect((await values(a)).get(key)).toBe(2);
    expect((await values(b)).get(key)).toBe(1);
  });
});

describe('metrics of a real echo server', () => {
  it('counts the TCP connections and UDP datagrams the traffic made', async () => {
    const m = metrics();
    const services = await serveEcho({ host: '127.0.0.1', port: 0 });
    running.push(...services);
    const port = services[0]?.address.port ?? 0;
    let closes = 0;
    const allClosed = new Promise<void>((resolve) => {
      const off = events.connectionClose.subscribe(() => {
        if (++closes === 3) {
          off();
          resolve();
        }
      });
    });
    const payloads = [Buffer.alloc(1000, 1), Buffer.alloc(3000, 2), Buffer.alloc(5, 3)];
    await Promise.all(
      payloads.map(
        (p) =>
          new Promise<void>((resolve, reject) => {
            const s = net.connect({ host: '127.0.0.1', port }, () => s.end(p));
            s.resume();
            s.on('error', reject);
            s.on('close', () => resolve());
          }),
      ),
    );
    const client = dgram.createSocket('udp4');
    const sizes = [10, 200, 1400, 1];
    await new Promise<void>((resolve) => {
      let n = 0;
      client.on('message', () => {
        if (++n === sizes.length) resolve();
      });
      for (const size of sizes) client.send(Buffer.alloc(size), port, '127.0.0.1');
    });
    client.close();
    await allClosed; // the server's side of a connection may close a turn after the client's
    const v = await values(m);
    expect(v.get('sockit_connections_total{protocol="tcp",service="echo"}')).toBe(3);
    expect(v.get('sockit_connections_open{protocol="tcp",service="echo"}')).toBe(0);
    expect(v.get('sockit_connection_bytes_total{direction="in",service="echo"}')).toBe(4005);
    expect(v.get('sockit_connection_bytes_total{direction="out",service="echo"}')).toBe(4005);
    expect(v.get('sockit_datagrams_total{direction="in",service="echo"}')).toBe(4);
    expect(v.get('sockit_datagrams_total{direction="out",service="echo"}')).toBe(4);
    expect(v.get('sockit_datagram_bytes_total{direction="in",service="echo"}')).toBe(1611);
    expect(v.get('sockit_datagram_bytes_total{direction="out",service="echo"}')).toBe(1611);
  });
});
