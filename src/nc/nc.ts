/**
 * netcat: an input stream to a socket, the socket to an output stream, byte for byte.
 *
 * TCP: when the input ends, the write side is shut down (half-close) and the reply keeps
 * flowing until the peer closes; when the peer ends first, the input keeps flowing to it. UDP: each input chunk goes out as datagrams of at most
 * `datagramSize` bytes; each datagram received is written out as it comes.
 */
import dgram from 'node:dgram';
import net from 'node:net';
import type { Readable, Writable } from 'node:stream';
import { bindError, ErrorCode, formatHostPort, SockitError } from '../errors.js';
import { type Logger, silentLogger } from '../runtime/log.js';
import { checkInteger } from '../runtime/service.js';
import { bindUdp, MAX_UDP_PAYLOAD } from '../runtime/udp.js';

export interface NcOptions {
  input: Readable;
  output: Writable;
  udp?: boolean;
  /** UDP: after the input ends, exit once no datagram has come for this long, in ms. Default 1000. */
  quitAfterMs?: number;
  /** UDP: largest datagram sent, in bytes. Default 8192. */
  datagramSize?: number;
  log?: Logger;
}

export interface NcConnectOptions extends NcOptions {
  host: string;
  port: number;
  /**
   * TCP, as OpenBSD nc's `-w`: give up on a connection not made within this many ms, and
   * close one on which nothing moved for as long. Default: no limit.
   */
  timeoutMs?: number;
}

export interface NcListenOptions extends NcOptions {
  host?: string;
  /** 0 picks a free port; `onListening` tells which. */
  port: number;
  /** TCP, as nc's `-k`: after a peer leaves, serve the next one, until the process ends. */
  keepListening?: boolean;
  onListening?: (address: net.AddressInfo) => void;
}

export interface NcResult {
  /** Bytes read from the input and sent. */
  sent: number;
  /** Bytes received and written to the output. */
  received: number;
}

/**
 * Connects to `host:port` and pipes both ways until the connection ends.
 *
 * @example
 * ```ts
 * await ncConnect({ host: '127.0.0.1', port: 7, input: process.stdin, output: process.stdout });
 * ```
 */
export async function ncConnect(options: NcConnectOptions): Promise<NcResult> {
  const port = checkInteger('port', options.port, 1, 65535);
  if (options.udp) {
    const limits = datagramLimits(options);
    const socket = dgram.createSocket(net.isIPv6(options.host) ? 'udp6' : 'udp4');
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject);
      socket.connect(port, options.host, () => {
        socket.off('error', reject);
        resolve();
      });
    }).catch((err: Error) => {
      socket.close();
      throw new SockitError(
        ErrorCode.CONNECT_FAILED,
        `cannot reach ${formatHostPort(options.host, port)}: ${err.message}`,
        { cause: err },
      );
    });
    return pipeDatagrams(socket, options, limits);
  }
  const timeoutMs = checkInteger('timeoutMs', options.timeoutMs ?? 0, 0, 2 ** 31 - 1);
  const socket = await connectTcp(options.host, port, timeoutMs);
  const log = options.log ?? silentLogger;
  log.info(`connected to ${formatHostPort(options.host, port)}`);
  if (timeoutMs > 0) {
    socket.setTimeout(timeoutMs, () => {
      log.info(`nothing moved for ${timeoutMs / 1000} s; closing`);
      socket.destroy();
    });
  }
  return pipeStream(socket, options);
}

/**
 * Waits for one peer on `port` (TCP: the first connection; UDP: the first datagram's
 * sender) and pipes both ways with it, as `nc -l` does.
 */
export async function ncListen(options: NcListenOptions): Promise<NcResult> {
  const port = checkInteger('port', options.port, 0, 65535);
  const log = options.log ?? silentLogger;
  if (options.udp) {
    const limits = datagramLimits(options);
    const socket = await bindUdp({ host: options.host, port, what: 'nc' });
    const address = socket.address();
    log.info(`listening on ${formatHostPort(address.address, address.port)}/udp`);
    options.onListening?.(address as net.AddressInfo);
    return pipeDatagrams(socket, options, limits);
  }
  const server = net.createServer({ allowHalfOpen: true });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err) => reject(bindError(err, 'nc', options.host ?? '::', port)));
    server.listen({ host: options.host, port, backlog: 1 }, resolve);
  });
  const address = server.address() as net.AddressInfo;
  log.info(`listening on ${formatHostPort(address.address, address.port)}`);
  options.onListening?.(address);
  const from = (socket: net.Socket): string =>
    formatHostPort(socket.remoteAddress ?? '?', socket.remotePort ?? 0);
  if (!options.keepListening) {
    const socket = await new Promise<net.Socket>((resolve) => server.once('connection', resolve));
    server.close();
    log.info(`connection from ${from(socket)}`);
    return pipeStream(socket, options);
  }
  // One peer at a time, as nc -k: the others wait in a short queue (beyond it, refused).
  const queue: net.Socket[] = [];
  let waiting: ((socket: net.Socket) => void) | undefined;
  server.on('connection', (socket) => {
    if (waiting) {
      waiting(socket);
      waiting = undefined;
    } else if (queue.length < MAX_WAITING_PEERS) queue.push(socket);
    else socket.destroy();
  });
  for (;;) {
    const socket =
      queue.shift() ??
      (await new Promise<net.Socket>((resolve) => {
        waiting = resolve;
      }));
    log.info(`connection from ${from(socket)}`);
    await pipeStream(socket, options).then(
      () => log.info(`${from(socket)} left; waiting for the next peer`),
      (err: Error) => log.warn(`${from(socket)}: ${err.message}`),
    );
  }
}

/** Peers queued behind the current one under `keepListening`. */
const MAX_WAITING_PEERS = 16;

async function connectTcp(host: string, port: number, timeoutMs: number): Promise<net.Socket> {
  const socket = net.connect({ host, port, allowHalfOpen: true });
  const where = formatHostPort(host, port);
  return new Promise<net.Socket>((resolve, reject) => {
    const timer =
      timeoutMs > 0
        ? setTimeout(() => {
            socket.destroy();
            reject(
              new SockitError(
                ErrorCode.CONNECT_FAILED,
                `cannot connect to ${where}: no answer within ${timeoutMs / 1000} s`,
              ),
            );
          }, timeoutMs)
        : undefined;
    socket.once('connect', () => {
      clearTimeout(timer);
      resolve(socket);
    });
    socket.once('error', (err) => {
      clearTimeout(timer);
      reject(
        new SockitError(ErrorCode.CONNECT_FAILED, `cannot connect to ${where}: ${err.message}`, {
          cause: err,
        }),
      );
    });
  });
}

/**
 * Checks that something accepts TCP connections on `host:port`, sending no data (nc `-z`).
 * Resolves when it does; rejects with `ERR_CONNECT_FAILED` when refused, unreachable or
 * silent for `timeoutMs` (default 10 s).
 *
 * @example
 * ```ts
 * await ncCheck({ host: '127.0.0.1', port: 22 }); // throws when nothing listens
 * ```
 */
export async function ncCheck(options: { host: string; port: number; timeoutMs?: number }): Promise<void> {
  const port = checkInteger('port', options.port, 1, 65535);
  const timeoutMs = checkInteger('timeoutMs', options.timeoutMs ?? 10_000, 1, 2 ** 31 - 1);
  const socket = await connectTcp(options.host, port, timeoutMs);
  socket.destroy();
}

function pipeStream(socket: net.Socket, options: NcOptions): Promise<NcResult> {
  const { input, output } = options;
  const result: NcResult = { sent: 0, received: 0 };
  return new Promise<NcResult>((resolve, reject) => {
    let failure: Error | undefined;
    socket.on('error', (err) => {
      failure ??= new SockitError(ErrorCode.CONNECT_FAILED, `connection failed: ${err.message}`, {
        cause: err,
      });
    });
    input.on('data', (chunk: Buffer) => {
      result.sent += chunk.length;
      if (!socket.write(chunk)) input.pause();
    });
    socket.on('drain', () => input.resume());
    // Input done: shut down our write side (FIN) and keep reading the reply. A later
    // peer of a listener that keeps listening finds the input ended already.
    const onEnd = (): void => {
      socket.end();
    };
    if (input.readableEnded) socket.end();
    else {
      input.once('end', onEnd);
      input.resume();
    }
    input.once('error', (err) => {
      failure ??= err;
      socket.destroy();
    });
    socket.on('data', (chunk: Buffer) => {
      result.received += chunk.length;
      if (!output.write(chunk)) {
        socket.pause();
        output.once('drain', () => socket.resume());
      }
    });
    // As OpenBSD nc does, run until both directions are done: our input has ended (and its
    // FIN is sent) and the peer has ended. A peer that only half-closes still gets our input.
    socket.once('close', () => {
      input.pause();
      input.removeAllListeners('data');
      input.off('end', onEnd);
      (options.log ?? silentLogger).debug({ sent: result.sent, received: result.received }, 'closed');
      if (failure) reject(failure);
      else resolve(result);
    });
  });
}

/** The UDP options, checked before a socket is opened: a refused one must not leave it open. */
function datagramLimits(options: NcOptions): { quitAfterMs: number; datagramSize: number } {
  return {
    quitAfterMs: checkInteger('quitAfterMs', options.quitAfterMs ?? 1000, 0, 2 ** 31 - 1),
    datagramSize: checkInteger('datagramSize', options.datagramSize ?? 8192, 1, MAX_UDP_PAYLOAD),
  };
}

function pipeDatagrams(
  socket: dgram.Socket,
  options: NcOptions,
  { quitAfterMs, datagramSize }: ReturnType<typeof datagramLimits>,
): Promise<NcResult> {
  const { input, output } = options;
  const result: NcResult = { sent: 0, received: 0 };
  // A listener learns its peer from the first datagram; a client is connected already.
  let connected = (() => {
    try {
      socket.remoteAddress();
      return true;
    } catch {
      return false;
    }
  })();
  if (!connected) input.pause();

  const log = options.log ?? silentLogger;
  return new Promise<NcResult>((resolve, reject) => {
    let inputDone = false;
    let quitTimer: NodeJS.Timeout | undefined;
    let inFlight = 0;
    const finish = (err?: Error): void => {
      clearTimeout(quitTimer);
      input.pause();
      input.removeAllListeners('data');
      log.debug({ sent: result.sent, received: result.received }, 'closed');
      socket.close(() => (err ? reject(err) : resolve(result)));
    };
    const armQuit = (): void => {
      if (!inputDone || inFlight > 0) return;
      clearTimeout(quitTimer);
      quitTimer = setTimeout(() => finish(), quitAfterMs);
    };
    socket.on('message', (msg, peer) => {
      if (!connected) {
        log.debug(`datagrams from ${formatHostPort(peer.address, peer.port)}`);
        socket.connect(peer.port, peer.address, () => {
          connected = true;
          input.resume();
        });
      }
      result.received += msg.length;
      output.write(msg);
      armQuit();
    });
    socket.on('error', () => {
      // ICMP port unreachable arrives as ECONNREFUSED; UDP carries on as nc does.
    });
    input.on('data', (chunk: Buffer) => {
      for (let at = 0; at < chunk.length; at += datagramSize) {
        const part = chunk.subarray(at, at + datagramSize);
        result.sent += part.length;
        inFlight++;
        socket.send(part, () => {
          inFlight--;
          armQuit();
        });
      }
    });
    input.once('end', () => {
      inputDone = true;
      armQuit();
    });
    input.once('error', (err) => finish(err));
  });
}
