/**
 * The echo service of RFC 862: whatever arrives goes back, on TCP (a byte stream) and on
 * UDP (one reply datagram per datagram). `framed` mode echoes whole envelopes instead,
 * the "sticky packets" lesson: replies come back as the messages that were sent, however
 * the stream glued or split them, and a peer that breaks the framing gets a coded error.
 */

import type dgram from 'node:dgram';
import type { Socket } from 'node:net';
import type { SecureContextOptions } from 'node:tls';
import { isSockitError } from '../errors.js';
import { ReusedReads } from '../runtime/channel.js';
import { events } from '../runtime/events.js';
import { type Logger, silentLogger } from '../runtime/log.js';
import type { Service } from '../runtime/service.js';
import { type ConnectionHandler, type ProcessModel, serveTcp } from '../runtime/tcp.js';
import { serveUdp } from '../runtime/udp.js';
import { UdpGuard, type UdpGuardOptions } from '../runtime/udp-guard.js';
import { decodeEnvelope, type EnvelopeLimits, encodeEnvelope } from '../wire/envelope.js';
import { FrameDecoder, frameHeader } from '../wire/frame.js';

/** The echo port of RFC 862. */
export const ECHO_PORT = 7;
/** The unprivileged port `sockit serve` uses for echo. */
export const ECHO_SERVE_PORT = 7007;

const SERVICE = 'echo';

/**
 * What both TCP echo handlers share: reading resumes once replies drain, our side ends when
 * the peer ends (half-close) or when the service begins to stop.
 */
function endWithPeer(socket: Socket, closing: AbortSignal): void {
  socket.on('drain', () => socket.resume());
  socket.on('end', () => socket.end());
  const stop = (): void => {
    socket.pause();
    socket.end();
  };
  closing.addEventListener('abort', stop, { once: true });
  socket.once('close', () => closing.removeEventListener('abort', stop));
}

/**
 * Echoes a TCP byte stream, with backpressure: reading pauses while the peer is slow to
 * read its replies. Ends its side when the peer ends (half-close) or the service stops.
 */
export const echoHandler: ConnectionHandler = ({ socket, closing }) => {
  socket.on('data', (chunk: Buffer) => {
    if (!socket.write(chunk)) socket.pause();
  });
  endWithPeer(socket, closing);
};

/**
 * Echoes envelopes: each frame is checked to hold a valid envelope and sent back as it came.
 * A frame above `maxFrameSize`, a header above `maxHeaderSize` or a malformed envelope gets
 * one error envelope `{ ok: false, type: 'error', code, message }` (the refusal every sockit
 * service sends, see docs/runtime.md) and the connection is closed;
 * nothing of the offending frame is buffered.
 */
export function framedEchoHandler(limits: EnvelopeLimits = {}): ConnectionHandler {
  return ({ socket, closing, log }) => {
    const frames = new FrameDecoder(limits);
    socket.on('data', (chunk: Buffer) => {
      try {
        for (const payload of frames.push(chunk)) {
          decodeEnvelope(payload, limits);
          socket.write(frameHeader(payload.length));
          if (!socket.write(payload)) socket.pause();
        }
      } catch (err) {
        if (!isSockitError(err)) {
          log.error({ err }, 'framed echo failed');
          socket.destroy();
          return;
        }
        log.warn({ code: err.code }, err.message);
        events.error.publish({ service: SERVICE, code: err.code });
        lingeringClose(
          socket,
          encodeEnvelope({ ok: false, type: 'error', code: err.code, message: err.message }),
        );
      }
    });
    endWithPeer(socket, closing);
  };
}

/** How long a connection closed for a protocol error may keep sending before it is cut. */
const LINGER_MS = 2000;

/**
 * Sends `last` and a FIN, then reads and discards whatever the peer still sends, until its
 * FIN or `LINGER_MS`. Closing with unread input would make the kernel answer with a reset,
 * which can destroy `last` before the peer reads it. The discarded bytes are read into one
 * buffer that every such socket shares (`ReusedReads.discard`), not a fresh one per read.
 */
function lingeringClose(socket: Socket, last: Buffer): void {
  socket.removeAllListeners('data');
  socket.removeAllListeners('end');
  socket.end(last);
  socket.on('end', () => socket.destroy());
  ReusedReads.discard(socket);
  socket.resume();
  setTimeout(() => socket.destroy(), LINGER_MS).unref();
}

/** Limits of the UDP echo: everything `UdpGuard` takes except the port, which is the socket's. */
export type DatagramEchoOptions = Omit<UdpGuardOptions, 'ownPort'>;

/**
 * Echoes each datagram to its sender unless `UdpGuard` refuses it: one from the service's
 * own port or another reflecting service's port (either would start a loop that never
 * ends), from a source no client has, or beyond the per-source rate.
 *
 * @example
 * ```ts
 * await serveUdp({ name: 'echo', port: 7, onMessage: datagramEchoHandler({ ratePerSecond: 100 }) });
 * ```
 */
export function datagramEchoHandler(
  options: DatagramEchoOptions = {},
): (msg: Buffer, peer: dgram.RemoteInfo, socket: dgram.Socket) => void {
  let guard: UdpGuard | undefined;
  return (msg, peer, socket) => {
    guard ??= new UdpGuard({ ...options, ownPort: socket.address().port });
    const refused = guard.check(peer.address, peer.port);
    if (refused !== undefined) {
      events.datagramDrop.publish({ service: SERVICE, reason: refused, bytes: msg.length });
      return;
    }
    socket.send(msg, peer.port, peer.address);
    if (events.datagram.hasSubscribers) {
      events.datagram.publish({ service: SERVICE, direction: 'out', bytes: msg.length });
    }
  };
}

export interface EchoServerOptions extends EnvelopeLimits {
  /** Serve TCP. When neither `tcp` nor `udp` is set, both are served. */
  tcp?: boolean;
  /** Serve UDP. */
  udp?: boolean;
  host?: string;
  /** Default 7 (RFC 862); 0 picks a free port. */
  port?: number;
  model?: ProcessModel;
  /** Echo envelopes (length-prefixed frames) instead of raw bytes, on TCP. */
  framed?: boolean;
  maxConnections?: number;
  idleTimeoutMs?: number;
  backlog?: number;
  drainTimeoutMs?: number;
  /** Certificate and key: serve TCP over TLS. */
  tls?: SecureContextOptions;
  /** UDP: loop and reflection refusal, per-source rate limit (see `UdpGuard`). */
  udpLimits?: DatagramEchoOptions;
  log?: Logger;
}

/**
 * Starts the echo service; resolves with its TCP and/or UDP services once they listen.
 *
 * @example
 * ```ts
 * const [tcp, udp] = await serveEcho({ port: 0, host: '127.0.0.1' });
 * ```
 */
export async function serveEcho(options: EchoServerOptions = {}): Promise<Service[]> {
  const both = !options.tcp && !options.udp;
  const log = options.log ?? silentLogger;
  const port = options.port ?? ECHO_PORT;
  const services: Service[] = [];
  try {
    if (options.tcp || both) {
      services.push(
        await serveTcp({
          name: SERVICE,
          host: options.host,
          port,
          model: options.model,
          handler: options.framed ? framedEchoHandler(options) : echoHandler,
          maxConnections: options.maxConnections,
          idleTimeoutMs: options.idleTimeoutMs,
          backlog: options.backlog,
          drainTimeoutMs: options.drainTimeoutMs,
          tls: options.tls,
          log,
        }),
      );
    }
    if (options.udp || both) {
      // With port 0 and both protocols, UDP takes the port TCP got, so one number serves both.
      const udpPort = port === 0 && services[0] ? services[0].address.port : port;
      services.push(
        await serveUdp({
          name: SERVICE,
          host: options.host,
          port: udpPort,
          onMessage: datagramEchoHandler(options.udpLimits),
          log,
        }),
      );
    }
  } catch (err) {
    await Promise.all(services.map((s) => s.close()));
    throw err;
  }
  return services;
}
