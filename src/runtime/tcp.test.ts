import net from 'node:net';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { ErrorCode, SockitError } from '../errors.js';
import { type ConnectionHandler, serveTcp, type TcpService } from './tcp.js';

const open: TcpService[] = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((s) => s.close()));
});

async function start(options: Partial<Parameters<typeof serveTcp>[0]> & { handler: ConnectionHandler }) {
  const service = await serveTcp({ name: 'test', host: '127.0.0.1', port: 0, ...options });
  open.push(service);
  return service;
}

function connect(port: number): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: '127.0.0.1', port }, () => resolve(socket));
    socket.once('error', reject);
  });
}

/** Resolves with everything received until the peer closes. */
function readAll(socket: net.Socket): Promise<Buffer> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    socket.on('data', (d: Buffer) => chunks.push(d));
    socket.once('close', () => resolve(Buffer.concat(chunks)));
  });
}

function nextData(socket: net.Socket, timeoutMs = 2000): Promise<Buffer | 'timeout'> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve('timeout'), timeoutMs);
    socket.once('data', (d: Buffer) => {
      clearTimeout(timer);
      resolve(d);
    });
  });
}

const echo: ConnectionHandler = ({ socket }) => {
  socket.on('data', (d) => socket.write(d));
  socket.on('end', () => socket.end());
};

describe('serveTcp', () => {
  it('calls the handler once per connection with its own socket', async () => {
    const ids: number[] = [];
    const service = await start({
      handler: ({ socket, id }) => {
        ids.push(id);
        socket.end(`you are ${id}\n`);
      },
    });
    const replies = await Promise.all(
      [1, 2, 3].map(async () => readAll(await connect(service.address.port))),
    );
    expect(replies.map((r) => r.toString()).sort()).toEqual(['you are 1\n', 'you are 2\n', 'you are 3\n']);
    expect(ids.sort()).toEqual([1, 2, 3]);
  });

  it('closes connections above maxConnections and keeps serving the others', async () => {
    const service = await start({ handler: echo, maxConnections: 2 });
    const a = await connect(service.address.port);
    const b = await connect(service.address.port);
    const c = await connect(service.address.port);
    const cClosed = readAll(c);
    expect((await cClosed).length).toBe(0);
    a.write('still here');
    expect((await nextData(a)).toString()).toBe('still here');
    b.destroy();
    a.destroy();
  });

  it('closes a connection that stays silent past the idle timeout', async () => {
    const service = await start({ handler: echo, idleTimeoutMs: 200 });
    const socket = await connect(service.address.port);
    const closedAt = readAll(socket);
    await expect(closedAt).resolves.toEqual(Buffer.alloc(0));
    await vi.waitFor(() => expect(service.connections).toBe(0));
  });

  it('iterative model serves the next connection only after the current one closes', async () => {
    const service = await start({ handler: echo, model: 'iterative' });
    const first = await connect(service.address.port);
    const second = await connect(service.address.port);
    first.write('one');
    expect((await nextData(first)).toString()).toBe('one');
    second.write('two');
    expect(await nextData(second, 300)).toBe('timeout');
    const secondReply = nextData(second);
    first.end();
    expect((await secondReply).toString()).toBe('two');
    second.destroy();
  });

  it('on close stops accepting, lets handlers finish, then resolves', async () => {
    const service = await start({
      handler: ({ socket, closing }) => {
        closing.addEventListener('abort', () => socket.end('bye\n'));
      },
    });
    const client = await connect(service.address.port);
    const reply = readAll(client);
    await service.close();
    expect((await reply).toString()).toBe('bye\n');
    await expect(connect(service.address.port)).rejects.toMatchObject({ code: 'ECONNREFUSED' });
  });

  it('cuts connections that outlive the drain timeout', async () => {
    const service = await start({ handler: () => {}, drainTimeoutMs: 100 });
    const client = await connect(service.address.port);
    const closed = readAll(client);
    await service.close();
    await closed;
    expect(client.destroyed).toBe(true);
  });

  it('restarts on the same port at once after a stop that closed live connections', async () => {
    const first = await start({
      handler: ({ socket }) => {
        socket.write('hi');
      },
    });
    const port = first.address.port;
    const client = await connect(port);
    await nextData(client);
    await first.close();
    const again = await start({
      handler: ({ socket }) => {
        socket.end('again');
      },
      port,
    });
    expect((await readAll(await connect(port))).toString()).toBe('again');
    expect(again.address.port).toBe(port);
    client.destroy();
  });

  it('reports a taken port as ERR_ADDRESS_IN_USE', async () => {
    const first = await start({ handler: echo });
    const err = await serveTcp({
      name: 'twin',
      host: '127.0.0.1',
      port: first.address.port,
      handler: echo,
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SockitError);
    expect((err as SockitError).code).toBe(ErrorCode.ADDRESS_IN_USE);
  });

  it('survives a handler that throws, and keeps serving', async () => {
    let calls = 0;
    const service = await start({
      handler: ({ socket }) => {
        calls++;
        if (calls === 1) throw new Error('boom');
        socket.end('ok');
      },
    });
    expect((await readAll(await connect(service.address.port))).length).toBe(0);
    expect((await readAll(await connect(service.address.port))).toString()).toBe('ok');
  });
});
