/**
 * A hostile file server for client tests: it speaks the protocol with the envelope codec
 * directly (not the real server), logs anyone in with SCRAM for one known password, and
 * answers requests as the test's handler says, lies included.
 */
import { randomBytes } from 'node:crypto';
import net from 'node:net';
import { deriveCredentials, ScramServer } from '../../src/auth/scram.js';
import { FilesClient, type LoginOptions } from '../../src/files/client.js';
import { decodeEnvelope, type EnvelopeHeader, encodeEnvelope } from '../../src/wire/envelope.js';
import { FrameDecoder } from '../../src/wire/frame.js';

export const FAKE_PASSWORD = 'a long pass phrase';

export interface Peer {
  send(header: EnvelopeHeader, body?: Uint8Array): void;
  /** Raw bytes, as a download's run. */
  raw(bytes: Uint8Array): boolean;
  /** Ends the connection with a TCP RST (the client reads ECONNRESET). */
  reset(): void;
  socket: net.Socket;
}

export type Handler = (request: EnvelopeHeader, peer: Peer) => void;

export interface FakeServer {
  port: number;
  close(): Promise<void>;
}

export interface FakeServerOptions {
  /** Never close its side: a client that ends its side must still let go by itself. */
  neverClose?: boolean;
  /** The protocol version its greeting announces. Default 1. */
  version?: number;
}

/** Logs in to a fake server as ann, with its password; `options` adds to or overrides that. */
export function loginToFake(server: FakeServer, options: Partial<LoginOptions> = {}): Promise<FilesClient> {
  return FilesClient.login({
    host: '127.0.0.1',
    port: server.port,
    user: 'ann',
    password: FAKE_PASSWORD,
    ...options,
  });
}

export async function fakeServer(handler: Handler, options: FakeServerOptions = {}): Promise<FakeServer> {
  const credentials = await deriveCredentials(FAKE_PASSWORD, { iterations: 4096 });
  const sockets = new Set<net.Socket>();
  const server = net.createServer({ allowHalfOpen: options.neverClose ?? false }, (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => {});
    const peer: Peer = {
      send: (header, body) => socket.write(encodeEnvelope(header, body, { maxFrameSize: 1 << 30 })),
      raw: (bytes) => socket.write(bytes),
      reset: () => socket.resetAndDestroy(),
      socket,
    };
    const decoder = new FrameDecoder({ maxFrameSize: 1 << 20 });
    let scram: ScramServer | undefined;
    let queue = Promise.resolve();
    peer.send({
      op: 'hello',
      service: 'sockit-files',
      version: options.version ?? 1,
      mechanisms: ['SCRAM-SHA-256'],
      register: false,
    });
    socket.on('data', (chunk: Buffer) => {
      for (const payload of decoder.push(chunk)) {
        const { header } = decodeEnvelope(payload);
        queue = queue.then(async () => {
          if (header.op === 'auth') {
            scram = new ScramServer({
              fakeKey: randomBytes(32),
              iterations: 4096,
              lookup: async () => credentials,
            });
            const data = await scram.first(String(header.data));
            peer.send({ ok: true, data });
          } else if (header.op === 'auth-final' && scram) {
            const result = scram.final(String(header.data));
            peer.send({ ok: true, data: result.serverFinal, user: scram.user });
          } else handler(header, peer);
        });
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as net.AddressInfo).port,
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}
