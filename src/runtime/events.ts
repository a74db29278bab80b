/**
 * What happens in sockit, published on `node:diagnostics_channel` as undici publishes
 * `undici:request:create`: anyone may subscribe by name (an APM agent, a test, the metrics
 * registry of `runtime/metrics.ts`) without the services knowing who listens.
 *
 * Publishing costs one property read when nobody subscribes (`channel.hasSubscribers`); on
 * a hot path, test `events.x.hasSubscribers` before building the payload.
 */
import dc from 'node:diagnostics_channel';

/** A TCP connection (or any stream a service accepts) was accepted. */
export interface ConnectionOpenEvent {
  service: string;
  protocol: 'tcp' | 'tls' | 'ws' | 'unix';
  remoteAddress?: string;
  remotePort?: number;
}

/** A connection closed; bytes as counted by the socket. */
export interface ConnectionCloseEvent {
  service: string;
  protocol: ConnectionOpenEvent['protocol'];
  durationMs: number;
  bytesIn: number;
  bytesOut: number;
}

/**
 * Why a server guard refused a connection at accept or closed it for breaking a limit
 * (see `runtime/guard.ts`): `address` the per-address cap, `full` the connection limit,
 * `early` MaxStartups' random early refusal, `evicted` the oldest unauthenticated one made
 * room for a newcomer, `login` the log-in deadline passed, `idle` the idle timeout,
 * `backlog` the iterative model's waiting line was full.
 */
export type ConnectionDropReason = 'address' | 'full' | 'early' | 'evicted' | 'login' | 'idle' | 'backlog';

/** A connection refused at accept or closed by a limit. */
export interface ConnectionDropEvent {
  service: string;
  reason: ConnectionDropReason;
}

/** One log-in attempt ended. `code` says why it failed (e.g. `ERR_AUTH_FAILED`). */
export interface LoginEvent {
  service: string;
  mechanism: string;
  ok: boolean;
  code?: string;
}

/** `in`: bytes arriving at this process (an upload to a server); `out`: bytes it sends. */
export type Direction = 'in' | 'out';

/** A file (or other bounded body) began to move. */
export interface TransferStartEvent {
  service: string;
  direction: Direction;
  /** Announced size, when known. */
  size?: number;
}

/** A transfer ended, completed (`ok`) or not. */
export interface TransferEndEvent {
  service: string;
  direction: Direction;
  bytes: number;
  ok: boolean;
  durationMs: number;
  /** The error code when it failed. */
  code?: string;
}

/** A service met an error worth counting (a refusal sent to a peer, a failed write...). */
export interface ErrorEvent {
  service: string;
  code: string;
}

/** One datagram received or sent by a UDP service. */
export interface DatagramEvent {
  service: string;
  direction: Direction;
  bytes: number;
}

/** Why a UDP service refused to answer a datagram (see `runtime/udp-guard.ts`). */
export type DropReason = 'self' | 'reflector' | 'source' | 'rate';

/** A datagram a UDP service received and deliberately did not answer. */
export interface DatagramDropEvent {
  service: string;
  reason: DropReason;
  bytes: number;
}

/** One named diagnostics channel with a typed payload. */
export class EventChannel<T extends object> {
  readonly name: string;
  readonly #channel: dc.Channel;

  constructor(name: string) {
    this.name = name;
    this.#channel = dc.channel(name);
  }

  /** True when someone listens: test it before building a payload on a hot path. */
  get hasSubscribers(): boolean {
    return this.#channel.hasSubscribers;
  }

  /** Publishes `message` to the subscribers; does nothing when there are none. */
  publish(message: T): void {
    if (this.#channel.hasSubscribers) this.#channel.publish(message);
  }

  /**
   * Calls `listener` with each message; returns the function that unsubscribes it.
   *
   * @example
   * ```ts
   * const off = events.login.subscribe((e) => console.log(e.ok ? 'in' : 'refused', e.service));
   * off();
   * ```
   */
  subscribe(listener: (message: T) => void): () => void {
    const onMessage = listener as (message: unknown, name: string | symbol) => void;
    dc.subscribe(this.name, onMessage);
    return () => {
      dc.unsubscribe(this.name, onMessage);
    };
  }
}

/**
 * Every channel sockit publishes, by purpose. Names are stable API (see docs/metrics.md).
 *
 * @example
 * ```ts
 * import { events } from 'sockit/runtime';
 * events.login.publish({ service: 'files', mechanism: 'SCRAM-SHA-256', ok: true });
 * // elsewhere, with no import of sockit at all:
 * diagnostics_channel.subscribe('sockit:login', (e) => audit(e));
 * ```
 */
export const events = {
  connectionOpen: new EventChannel<ConnectionOpenEvent>('sockit:connection:open'),
  connectionClose: new EventChannel<ConnectionCloseEvent>('sockit:connection:close'),
  connectionDrop: new EventChannel<ConnectionDropEvent>('sockit:connection:drop'),
  login: new EventChannel<LoginEvent>('sockit:login'),
  transferStart: new EventChannel<TransferStartEvent>('sockit:transfer:start'),
  transferEnd: new EventChannel<TransferEndEvent>('sockit:transfer:end'),
  error: new EventChannel<ErrorEvent>('sockit:error'),
  datagram: new EventChannel<DatagramEvent>('sockit:datagram'),
  datagramDrop: new EventChannel<DatagramDropEvent>('sockit:datagram:drop'),
} as const;

/**
 * Publishes a connection's open now and its close when the socket closes, with its bytes
 * and duration: the one call a stream service makes per accepted socket.
 *
 * @example
 * ```ts
 * server.on('connection', (socket) => trackConnection('echo', 'tcp', socket));
 * ```
 */
export function trackConnection(
  service: string,
  protocol: ConnectionOpenEvent['protocol'],
  socket: {
    remoteAddress?: string;
    remotePort?: number;
    bytesRead: number;
    bytesWritten: number;
    once(event: 'close', listener: () => void): unknown;
  },
): void {
  if (!events.connectionOpen.hasSubscribers && !events.connectionClose.hasSubscribers) return;
  const opened = performance.now();
  events.connectionOpen.publish({
    service,
    protocol,
    remoteAddress: socket.remoteAddress,
    remotePort: socket.remotePort,
  });
  socket.once('close', () =>
    events.connectionClose.publish({
      service,
      protocol,
      durationMs: performance.now() - opened,
      bytesIn: socket.bytesRead,
      bytesOut: socket.bytesWritten,
    }),
  );
}
