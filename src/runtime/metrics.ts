/**
 * Counters, gauges and histograms fed from the `sockit:*` diagnostics channels of
 * `runtime/events.ts`, exported as Prometheus text. The services never call this module:
 * they publish events, and whoever wants numbers (a `/metrics` route, the dashboard, a test)
 * starts a `Metrics` and reads `text()`.
 *
 * Each `Metrics` has its own prom-client `Registry`, never the global one, so that two in
 * one process (or a library user's own prom-client) do not collide. Label values come from
 * sockit's own code (service names, mechanisms, error codes), never from a peer, so the
 * number of series stays bounded.
 */
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import { events } from './events.js';

/** Upper bounds, in seconds, of the transfer-duration buckets: 10 ms to 10 min. */
export const DEFAULT_DURATION_BUCKETS = [0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 300, 600];

export interface MetricsOptions {
  /** Prefix of every metric name. Default `sockit_`. */
  prefix?: string;
  /** Transfer-duration histogram buckets, in seconds. */
  durationBuckets?: number[];
}

/** Prometheus text exposition and the content type to serve it with. */
export interface MetricsText {
  contentType: string;
  body: string;
}

/**
 * A metrics registry subscribed to sockit's events between `start()` and `stop()`.
 *
 * @example
 * ```ts
 * const metrics = new Metrics().start();
 * // ... serve ...
 * const { contentType, body } = await metrics.text();
 * response.writeHead(200, { 'content-type': contentType }).end(body);
 * metrics.stop();
 * ```
 */
export class Metrics {
  readonly registry = new Registry();
  readonly #unsubscribe: Array<() => void> = [];
  readonly #connectionsOpen: Gauge<'service' | 'protocol'>;
  readonly #connections: Counter<'service' | 'protocol'>;
  readonly #connectionBytes: Counter<'service' | 'direction'>;
  readonly #connectionDrops: Counter<'service' | 'reason'>;
  readonly #logins: Counter<'service' | 'mechanism' | 'outcome'>;
  readonly #transfersActive: Gauge<'service' | 'direction'>;
  readonly #transfers: Counter<'service' | 'direction' | 'outcome'>;
  readonly #transferBytes: Counter<'service' | 'direction'>;
  readonly #transferSeconds: Histogram<'service' | 'direction'>;
  readonly #errors: Counter<'service' | 'code'>;
  readonly #datagrams: Counter<'service' | 'direction'>;
  readonly #datagramBytes: Counter<'service' | 'direction'>;
  readonly #datagramDrops: Counter<'service' | 'reason'>;

  constructor(options: MetricsOptions = {}) {
    const p = options.prefix ?? 'sockit_';
    const registers = [this.registry];
    const counter = <L extends string>(name: string, help: string, labelNames: L[]): Counter<L> =>
      new Counter({ name: p + name, help, labelNames, registers });
    const gauge = <L extends string>(name: string, help: string, labelNames: L[]): Gauge<L> =>
      new Gauge({ name: p + name, help, labelNames, registers });
    this.#connectionsOpen = gauge('connections_open', 'Connections open now', ['service', 'protocol']);
    this.#connections = counter('connections_total', 'Connections accepted', ['service', 'protocol']);
    this.#connectionBytes = counter('connection_bytes_total', 'Bytes carried by closed connections', [
      'service',
      'direction',
    ]);
    this.#connectionDrops = counter(
      'connections_dropped_total',
      'Connections refused at accept or closed by a limit, by reason',
      ['service', 'reason'],
    );
    this.#logins = counter('logins_total', 'Log-in attempts by outcome (ok, fail)', [
      'service',
      'mechanism',
      'outcome',
    ]);
    this.#transfersActive = gauge('transfers_active', 'Transfers in progress', ['service', 'direction']);
    this.#transfers = counter('transfers_total', 'Transfers ended, by outcome (ok, fail)', [
      'service',
      'direction',
      'outcome',
    ]);
    this.#transferBytes = counter('transfer_bytes_total', 'Bytes moved by ended transfers', [
      'service',
      'direction',
    ]);
    this.#transferSeconds = new Histogram({
      name: `${p}transfer_duration_seconds`,
      help: 'Duration of ended transfers',
      labelNames: ['service', 'direction'],
      buckets: options.durationBuckets ?? DEFAULT_DURATION_BUCKETS,
      registers,
    });
    this.#errors = counter('errors_total', 'Errors by code', ['service', 'code']);
    this.#datagrams = counter('datagrams_total', 'Datagrams received (in) and sent (out)', [
      'service',
      'direction',
    ]);
    this.#datagramBytes = counter('datagram_bytes_total', 'Datagram payload bytes', ['service', 'direction']);
    this.#datagramDrops = counter('datagrams_dropped_total', 'Datagrams refused, by reason', [
      'service',
      'reason',
    ]);
  }

  /** True between `start()` and `stop()`. */
  get running(): boolean {
    return this.#unsubscribe.length > 0;
  }

  /** Subscribes to every sockit channel; calling it again does nothing. */
  start(): this {
    if (this.running) return this;
    this.#unsubscribe.push(
      events.connectionOpen.subscribe((e) => {
        this.#connectionsOpen.inc({ service: e.service, protocol: e.protocol });
        this.#connections.inc({ service: e.service, protocol: e.protocol });
      }),
      events.connectionClose.subscribe((e) => {
        this.#connectionsOpen.dec({ service: e.service, protocol: e.protocol });
        this.#connectionBytes.inc({ service: e.service, direction: 'in' }, e.bytesIn);
        this.#connectionBytes.inc({ service: e.service, direction: 'out' }, e.bytesOut);
      }),
      events.connectionDrop.subscribe((e) => {
        this.#connectionDrops.inc({ service: e.service, reason: e.reason });
      }),
      events.login.subscribe((e) => {
        this.#logins.inc({ service: e.service, mechanism: e.mechanism, outcome: e.ok ? 'ok' : 'fail' });
      }),
      events.transferStart.subscribe((e) => {
        this.#transfersActive.inc({ service: e.service, direction: e.direction });
      }),
      events.transferEnd.subscribe((e) => {
        const labels = { service: e.service, direction: e.direction };
        this.#transfersActive.dec(labels);
        this.#transfers.inc({ ...labels, outcome: e.ok ? 'ok' : 'fail' });
        this.#transferBytes.inc(labels, e.bytes);
        this.#transferSeconds.observe(labels, e.durationMs / 1000);
      }),
      events.error.subscribe((e) => {
        this.#errors.inc({ service: e.service, code: e.code });
      }),
      events.datagram.subscribe((e) => {
        this.#datagrams.inc({ service: e.service, direction: e.direction });
        this.#datagramBytes.inc({ service: e.service, direction: e.direction }, e.bytes);
      }),
      events.datagramDrop.subscribe((e) => {
        this.#datagramDrops.inc({ service: e.service, reason: e.reason });
      }),
    );
    return this;
  }

  /** Unsubscribes from every channel; the numbers so far stay readable. */
  stop(): void {
    for (const off of this.#unsubscribe.splice(0)) off();
  }

  /** Zeroes every metric (the subscriptions stay as they are). */
  reset(): void {
    this.registry.resetMetrics();
  }

  /** The Prometheus text exposition (format 0.0.4) with its content type. */
  async text(): Promise<MetricsText> {
    return { contentType: this.registry.contentType, body: await this.registry.metrics() };
  }
}
