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
import { bindUdp } from '../runtime/udp.js';

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
}

export interface NcListenOptions extends NcOptions {
  host?: string;
  /** 0 picks a free port; `onListening` tells which. */
  port: number;
  onListening?: (address: net.AddressInfo) => void;
}

export interface NcResult {
  /** Bytes read from the input and sent. */
  sent: number;
  /** Bytes received and written to the output. */
  received: number;
}

const MAX_UDP_PAYLOAD = 65_507;

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
    return pipeDatagrams(socket, options);
  }
  const socket = net.connect({ host: options.host, port, allowHalfOpen: true });
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', (err) =>
      reject(
        new SockitError(
          ErrorCode.CONNECT_FAILED,
          `cannot connect to ${formatHostPort(options.host, port)}: ${err.message}`,
          { cause: err },
        ),
      ),
    );
  });
  (options.log ?? silentLogger).info(`connected to ${formatHostPort(options.host, port)}`);
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
    const socket = await bindUdp({ host: options.host, port, what: 'nc' });
    const address = socket.address();
    log.info(`listening on ${formatHostPort(address.address, address.port)}/udp`);
    options.onListening?.(address as net.AddressInfo);
    return pipeDatagrams(socket, options);
  }
  const server = net.createServer({ allowHalfOpen: true });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err) => reject(bindError(err, 'nc', options.host ?? '::', port)));
    server.listen({ host: options.host, port, backlog: 1 }, resolve);
  });
  const address = server.address() as net.AddressInfo;
  log.info(`listening on ${formatHostPort(address.address, address.port)}`);
  options.onListening?.(address);
  const socket = await new Promise<net.Socket>((resolve) => server.once('connection', resolve));
  server.close();
  log.info(`connection from ${formatHostPort(socket.remoteAddress ?? '?', socket.remotePort ?? 0)}`);
  return pipeStream(socket, options);
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
    // Input done: shut down our write side (FIN) and keep reading the reply.
    input.once('end', () => socket.end());
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
      if (failure) reject(failure);
      else resolve(result);
    });
  });
}

function pipeDatagrams(socket: dgram.Socket, options: NcOptions): Promise<NcResult> {
  const { input, output } = options;
  const quitAfterMs = checkInteger('quitAfterMs', options.quitAfterMs ?? 1000, 0, 2 ** 31 - 1);
  const datagramSize = checkInteger('datagramSize', options.datagramSize ?? 8192, 1, MAX_UDP_PAYLOAD);
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

  return new Promise<NcResult>((resolve, reject) => {
    let inputDone = false;
    let quitTimer: NodeJS.Timeout | undefined;
    let inFlight = 0;
    const finish = (err?: Error): void => {
      clearTimeout(quitTimer);
      input.pause();
      input.removeAllListeners('data');
      socket.close(() => (err ? reject(err) : resolve(result)));
    };
    const armQuit = (): void => {
      if (!inputDone || inFlight > 0) return;
      clearTimeout(quitTimer);
      quitTimer = setTimeout(() => finish(), quitAfterMs);
    };
    socket.on('message', (msg, peer) => {
      if (!connected) {
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
