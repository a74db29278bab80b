/**
 * A bounded load generator for echo servers (ours or anyone's).
 *
 * Each connection runs a closed loop: send `size` random bytes, wait until the same bytes
 * are back, record the round trip, repeat, until the duration is over. The first reply on
 * each connection is compared byte for byte, so a server that does not echo fails the run.
 */
import { randomBytes } from 'node:crypto';
import dgram from 'node:dgram';
import net from 'node:net';
import { createHistogram, performance } from 'node:perf_hooks';
import { ErrorCode, formatHostPort, SockitError } from '../errors.js';
import { type Logger, silentLogger } from '../runtime/log.js';
import { checkInteger } from '../runtime/service.js';
import { MAX_UDP_PAYLOAD } from '../runtime/udp.js';

export interface EchoBenchOptions {
  host: string;
  port: number;
  udp?: boolean;
  /** Concurrent connections (UDP: sockets). Default 10, at most 10000. */
  connections?: number;
  /** How long to load the server, in ms. Default 10000, at most one hour. */
  durationMs?: number;
  /** Message size in bytes. Default 64. */
  size?: number;
  /** UDP: a datagram unanswered for this long counts as lost, in ms. Default 1000. */
  timeoutMs?: number;
  /** At debug: each connection (UDP: socket) opened and closed, and the run's steps. */
  log?: Logger;
}

export interface EchoBenchResult {
  protocol: 'tcp' | 'udp';
  target: string;
  connections: number;
  size: number;
  /** Measured time, in seconds. */
  seconds: number;
  /** Completed round trips. */
  messages: number;
  messagesPerSecond: number;
  /** Echoed payload per second, one direction, in MB (10^6 bytes). */
  megabytesPerSecond: number;
  latencyMs: { p50: number; p99: number; max: number; mean: number };
  /** UDP datagrams that got no reply within the timeout. */
  lost: number;
}

/**
 * Runs one bounded load test and reports throughput and latency.
 *
 * @example
 * ```ts
 * const r = await benchEcho({ host: '127.0.0.1', port: 7007, connections: 100, durationMs: 5000 });
 * console.log(r.messagesPerSecond, r.latencyMs.p99);
 * ```
 */
export async function benchEcho(options: EchoBenchOptions): Promise<EchoBenchResult> {
  const udp = options.udp ?? false;
  const connections = checkInteger('connections', options.connections ?? 10, 1, 10_000);
  const durationMs = checkInteger('durationMs', options.durationMs ?? 10_000, 1, 3_600_000);
  const size = checkInteger('size', options.size ?? 64, 1, udp ? MAX_UDP_PAYLOAD : 16 * 1024 * 1024);
  const timeoutMs = checkInteger('timeoutMs', options.timeoutMs ?? 1000, 1, 60_000);
  const port = checkInteger('port', options.port, 1, 65535);
  const histogram = createHistogram();
  const target = formatHostPort(options.host, port);
  const payload = randomBytes(size);
  const log = options.log ?? silentLogger;
  const protocol = udp ? 'udp' : 'tcp';
  log.debug({ target, protocol, connections, size, durationMs }, 'connecting');

  const state = { running: true, messages: 0, lost: 0, refused: 0 };
  const record = (sentAt: number): void => {
    if (!state.running) return;
    state.messages++;
    histogram.record(Math.max(1, Math.round((performance.now() - sentAt) * 1e6)));
  };

  const loops = Array.from({ length: connections }, () =>
    udp
      ? udpLoop(options.host, port, payload, timeoutMs, state, record, log)
      : tcpLoop(options.host, port, payload, state, record, log),
  );
  const clients = await Promise.all(loops.map((l) => l.ready));
  log.debug({ connections }, 'all connected: measuring');
  const began = performance.now();
  for (const start of clients) start();
  await new Promise((resolve) => setTimeout(resolve, durationMs));
  state.running = false;
  const seconds = (performance.now() - began) / 1000;
  await Promise.all(loops.map((l) => l.stop()));
  log.debug({ messages: state.messages, lost: state.lost, portUnreachable: state.refused }, 'done');
  // UDP has no handshake: a closed port or a dead host shows only as silence (or ICMP
  // "port unreachable"). A run in which not one datagram came back measured nothing.
  if (udp && state.messages === 0) {
    throw new SockitError(
      ErrorCode.CONNECT_FAILED,
      `no echo from ${target}/udp in ${Math.round(durationMs / 100) / 10} s` +
        `${state.refused ? ' (port unreachable)' : ''}; is an echo server running there?`,
    );
  }

  const ms = (ns: number): number => Math.round(ns / 1e3) / 1e3;
  return {
    protocol,
    target,
    connections,
    size,
    seconds: Math.round(seconds * 1000) / 1000,
    messages: state.messages,
    messagesPerSecond: Math.round(state.messages / seconds),
    megabytesPerSecond: Math.round(((state.messages * size) / seconds / 1e6) * 100) / 100,
    latencyMs: {
      p50: state.messages ? ms(histogram.percentile(50)) : 0,
      p99: state.messages ? ms(histogram.percentile(99)) : 0,
      max: state.messages ? ms(histogram.max) : 0,
      mean: state.messages ? ms(histogram.mean) : 0,
    },
    lost: state.lost,
  };
}

interface Loop {
  /** Resolves, once connected, with the function that sends the first message. */
  ready: Promise<() => void>;
  stop(): Promise<void>;
}

interface LoopState {
  running: boolean;
  lost: number;
  /** ICMP port-unreachable reports seen (UDP). */
  refused: number;
}

function mismatch(target: string): SockitError {
  return new SockitError(ErrorCode.BAD_REPLY, `${target} did not echo the bytes it was sent`);
}

function tcpLoop(
  host: string,
  port: number,
  payload: Buffer,
  state: LoopState,
  record: (sentAt: number) => void,
  log: Logger,
): Loop {
  const socket = net.connect({ host, port, noDelay: true });
  const target = formatHostPort(host, port);
  let replies = 0;
  let sentAt = 0;
  let pending = 0;
  let checked: Buffer | undefined = Buffer.alloc(0);
  let failed: Error | undefined;
  const send = (): void => {
    sentAt = performance.now();
    pending = payload.length;
    socket.write(payload);
  };
  socket.on('data', (chunk: Buffer) => {
    if (checked) {
      checked = Buffer.concat([checked, chunk]);
      if (checked.length >= payload.length) {
        if (!checked.subarray(0, payload.length).equals(payload)) {
          failed = mismatch(target);
          socket.destroy();
          return;
        }
        checked = undefined;
      }
    }
    pending -= chunk.length;
    if (pending > 0) return;
    replies++;
    record(sentAt);
    if (state.running) send();
  });
  let connected = false;
  let local = 0;
  const closed = new Promise<void>((resolve) =>
    socket.once('close', () => {
      if (connected) log.debug({ remote: target, local, replies }, 'closed');
      resolve();
    }),
  );
  const ready = new Promise<() => void>((resolve, reject) => {
    socket.once('connect', () => {
      connected = true;
      local = socket.localPort ?? 0;
      log.debug({ remote: target, local }, 'connected');
      resolve(send);
    });
    socket.on('error', (err) => {
      const what = connected ? 'connection to' : 'cannot connect to';
      failed ??= new SockitError(ErrorCode.CONNECT_FAILED, `${what} ${target}: ${err.message}`, {
        cause: err,
      });
      if (!connected) reject(failed);
    });
  });
  return {
    ready,
    async stop() {
      // Give the last reply in flight a moment, then close.
      const last = setTimeout(() => socket.destroy(), 1000);
      if (pending <= 0 || socket.destroyed) socket.destroy();
      else socket.once('data', () => pending <= 0 && socket.destroy());
      await closed;
      clearTimeout(last);
      if (failed) throw failed;
    },
  };
}

function udpLoop(
  host: string,
  port: number,
  payload: Buffer,
  timeoutMs: number,
  state: LoopState,
  record: (sentAt: number) => void,
  log: Logger,
): Loop {
  const socket = dgram.createSocket(net.isIPv6(host) ? 'udp6' : 'udp4');
  const target = formatHostPort(host, port);
  let replies = 0;
  let local = 0;
  let sentAt = 0;
  let timer: NodeJS.Timeout | undefined;
  let verified = false;
  let failed: Error | undefined;
  const send = (): void => {
    sentAt = performance.now();
    socket.send(payload);
    timer = setTimeout(() => {
      state.lost++;
      if (state.running) send();
    }, timeoutMs);
  };
  socket.on('message', (msg) => {
    if (!verified) {
      if (!msg.equals(payload)) {
        failed = mismatch(target);
        clearTimeout(timer);
        return;
      }
      verified = true;
    }
    clearTimeout(timer);
    replies++;
    record(sentAt);
    if (state.running) send();
  });
  socket.on('error', (err: NodeJS.ErrnoException) => {
    // ICMP port unreachable shows up as ECONNREFUSED on a connected socket: the datagram
    // counts as lost (its timer runs on), and the run remembers that the port is closed.
    if (err.code === 'ECONNREFUSED') state.refused++;
  });
  const ready = new Promise<() => void>((resolve, reject) => {
    socket.connect(port, host, () => {
      local = socket.address().port;
      log.debug({ remote: target, local }, 'socket connected');
      resolve(send);
    });
    socket.once('error', (err) =>
      reject(
        new SockitError(ErrorCode.CONNECT_FAILED, `cannot reach ${target}: ${err.message}`, { cause: err }),
      ),
    );
  });
  return {
    ready,
    async stop() {
      clearTimeout(timer);
      await new Promise<void>((resolve) => socket.close(() => resolve()));
      log.debug({ remote: target, local, replies }, 'closed');
      if (failed) throw failed;
    },
  };
}
