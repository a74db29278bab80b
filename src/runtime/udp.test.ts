import type dgram from 'node:dgram';
import { afterEach, describe, expect, it } from 'vitest';
import { ErrorCode, SockitError } from '../errors.js';
import { bindUdp, broadcastUdp, sendUdp, serveUdp } from './udp.js';

const sockets: dgram.Socket[] = [];
afterEach(() => {
  for (const s of sockets.splice(0)) s.close();
});

async function bound(options: Parameters<typeof bindUdp>[0]): Promise<dgram.Socket> {
  const socket = await bindUdp(options);
  sockets.push(socket);
  return socket;
}

function nextMessage(socket: dgram.Socket): Promise<{ msg: Buffer; from: dgram.RemoteInfo }> {
  return new Promise((resolve) => socket.once('message', (msg, from) => resolve({ msg, from })));
}

describe('udp helpers', () => {
  it('sends a datagram from one bound socket to another', async () => {
    const a = await bound({ host: '127.0.0.1' });
    const b = await bound({ host: '127.0.0.1' });
    const got = nextMessage(b);
    await sendUdp(a, Buffer.from('ping'), b.address().port, '127.0.0.1');
    const { msg, from } = await got;
    expect(msg.toString()).toBe('ping');
    expect(from.port).toBe(a.address().port);
  });

  it('binds all addresses by default, reachable over IPv4 and IPv6 loopback', async () => {
    const server = await bound({});
    const client = await bound({ host: '127.0.0.1' });
    const got = nextMessage(server);
    await sendUdp(client, Buffer.from('v4'), server.address().port, '127.0.0.1');
    expect((await got).msg.toString()).toBe('v4');
    const client6 = await bound({ host: '::1' });
    const got6 = nextMessage(server);
    await sendUdp(client6, Buffer.from('v6'), server.address().port, '::1');
    expect((await got6).msg.toString()).toBe('v6');
  });

  it('broadcasts to every socket on the port (loopback broadcast address)', async () => {
    const listener = await bound({ host: '0.0.0.0' });
    const sender = await bound({ host: '127.0.0.1' });
    const got = nextMessage(listener);
    await broadcastUdp(sender, Buffer.from('anyone?'), listener.address().port, '127.255.255.255');
    expect((await got).msg.toString()).toBe('anyone?');
  });

  it('reports a taken port as ERR_ADDRESS_IN_USE and a foreign address as ERR_ADDRESS_UNAVAILABLE', async () => {
    const first = await bound({ host: '127.0.0.1' });
    const inUse = await bindUdp({ host: '127.0.0.1', port: first.address().port }).catch((e: unknown) => e);
    expect((inUse as SockitError).code).toBe(ErrorCode.ADDRESS_IN_USE);
    // 192.0.2.1 (TEST-NET-1, RFC 5737) is never an address of this machine; nothing is sent.
    const foreign = await bindUdp({ host: '192.0.2.1' }).catch((e: unknown) => e);
    expect(foreign).toBeInstanceOf(SockitError);
    expect((foreign as SockitError).code).toBe(ErrorCode.ADDRESS_UNAVAILABLE);
  });

  it('serveUdp hands each datagram to onMessage and stops on close', async () => {
    const service = await serveUdp({
      name: 'upper',
      host: '127.0.0.1',
      onMessage: (msg, peer, socket) => socket.send(msg.toString().toUpperCase(), peer.port, peer.address),
    });
    const client = await bound({ host: '127.0.0.1' });
    const got = nextMessage(client);
    await sendUdp(client, Buffer.from('shout'), service.address.port, '127.0.0.1');
    expect((await got).msg.toString()).toBe('SHOUT');
    await service.close();
    const again = await bindUdp({ host: '127.0.0.1', port: service.address.port });
    sockets.push(again);
    expect(again.address().port).toBe(service.address.port);
  });
});
