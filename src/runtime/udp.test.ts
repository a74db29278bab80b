import type dgram from 'node:dgram';
import type os from 'node:os';
import { afterEach, describe, expect, it } from 'vitest';
import { ErrorCode, SockitError } from '../errors.js';
import { broadcastAddress, broadcastTargets, listInterfaces } from './interfaces.js';
import { isMulticastAddress, joinMulticast, leaveMulticast, multicastInterface } from './multicast.js';
import { bindUdp, broadcastUdp, literalLookup, sendUdp, serveUdp } from './udp.js';

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

describe('literalLookup', () => {
  const lookup = (host: string) =>
    new Promise<[string, number]>((resolve, reject) =>
      (
        literalLookup as unknown as (
          h: string,
          o: unknown,
          cb: (e: Error | null, a: string, f: number) => void,
        ) => void
      )(host, {}, (err, address, family) => (err ? reject(err) : resolve([address, family]))),
    );

  it('answers literals with their family, the same one again and others in turn, and names through DNS', async () => {
    for (const [host, family] of [
      ['127.0.0.1', 4],
      ['127.0.0.1', 4],
      ['::1', 6],
      ['::1', 6],
      ['10.0.0.1', 4],
      ['::ffff:10.0.0.1', 6],
    ] as const) {
      expect(await lookup(host)).toEqual([host, family]);
    }
    expect((await lookup('localhost'))[1]).toBeOneOf([4, 6]);
    expect(await lookup('127.0.0.1')).toEqual(['127.0.0.1', 4]);
  });
});

describe('reuseAddr and broadcast', () => {
  it('lets two sockets with reuseAddr bind one port, and refuses a third without it', async () => {
    const a = await bound({ host: '127.0.0.1', reuseAddr: true });
    const b = await bound({ host: '127.0.0.1', port: a.address().port, reuseAddr: true });
    expect(b.address().port).toBe(a.address().port);
    const c = await bindUdp({ host: '127.0.0.1', port: a.address().port }).catch((e: unknown) => e);
    expect((c as SockitError).code).toBe(ErrorCode.ADDRESS_IN_USE);
  });

  it('binds IPv4 when broadcasting without a host, and refuses broadcast on an IPv6 host', async () => {
    const socket = await bound({ broadcast: true });
    expect(socket.address().family).toBe('IPv4');
    expect(socket.address().address).toBe('0.0.0.0');
    const v6 = await bindUdp({ host: '::1', broadcast: true }).catch((e: unknown) => e);
    expect((v6 as SockitError).code).toBe(ErrorCode.INVALID_ARGUMENT);
  });
});

describe('interfaces and broadcast addresses', () => {
  const sample = {
    lo: [
      {
        address: '127.0.0.1',
        netmask: '255.0.0.0',
        family: 'IPv4',
        mac: '00:00:00:00:00:00',
        internal: true,
        cidr: '127.0.0.1/8',
      },
      {
        address: '::1',
        netmask: 'ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff',
        family: 'IPv6',
        mac: '00:00:00:00:00:00',
        internal: true,
        cidr: '::1/128',
        scopeid: 0,
      },
    ],
    eth0: [
      {
        address: '192.168.1.77',
        netmask: '255.255.255.0',
        family: 'IPv4',
        mac: '02:42:ac:11:00:02',
        internal: false,
        cidr: '192.168.1.77/24',
      },
      {
        address: 'fe80::42:acff:fe11:2',
        netmask: 'ffff:ffff:ffff:ffff::',
        family: 'IPv6',
        mac: '02:42:ac:11:00:02',
        internal: false,
        cidr: 'fe80::42:acff:fe11:2/64',
        scopeid: 2,
      },
    ],
    wlan0: [
      {
        address: '10.20.30.40',
        netmask: '255.255.240.0',
        family: 'IPv4',
        mac: '02:00:00:00:00:01',
        internal: false,
        cidr: '10.20.30.40/20',
      },
    ],
    ptp0: [
      {
        address: '10.0.0.0',
        netmask: '255.255.255.254',
        family: 'IPv4',
        mac: '02:00:00:00:00:02',
        internal: false,
        cidr: '10.0.0.0/31',
      },
    ],
  } as const satisfies NodeJS.Dict<os.NetworkInterfaceInfo[]>;
  const source = sample as unknown as NodeJS.Dict<os.NetworkInterfaceInfo[]>;

  it('computes directed broadcast addresses from prefixes and netmasks', () => {
    expect(broadcastAddress('192.168.1.77', 24)).toBe('192.168.1.255');
    expect(broadcastAddress('10.20.30.40', '255.255.240.0')).toBe('10.20.31.255');
    expect(broadcastAddress('172.16.5.4', 12)).toBe('172.31.255.255');
    expect(broadcastAddress('10.0.0.0', 31)).toBeUndefined();
    expect(broadcastAddress('10.0.0.1', 32)).toBeUndefined();
    expect(broadcastAddress('2001:db8::1', 64)).toBeUndefined();
    expect(() => broadcastAddress('10.0.0.1', '255.0.255.0')).toThrowError(
      expect.objectContaining({ code: ErrorCode.INVALID_ARGUMENT }),
    );
  });

  it('lists every address with its prefix and broadcast address', () => {
    expect(listInterfaces(source)).toEqual([
      {
        name: 'lo',
        address: '127.0.0.1',
        family: 4,
        prefix: 8,
        internal: true,
        mac: '00:00:00:00:00:00',
        broadcast: '127.255.255.255',
      },
      {
        name: 'lo',
        address: '::1',
        family: 6,
        prefix: 128,
        internal: true,
        mac: '00:00:00:00:00:00',
        scopeid: 0,
      },
      {
        name: 'eth0',
        address: '192.168.1.77',
        family: 4,
        prefix: 24,
        internal: false,
        mac: '02:42:ac:11:00:02',
        broadcast: '192.168.1.255',
      },
      {
        name: 'eth0',
        address: 'fe80::42:acff:fe11:2',
        family: 6,
        prefix: 64,
        internal: false,
        mac: '02:42:ac:11:00:02',
        scopeid: 2,
      },
      {
        name: 'wlan0',
        address: '10.20.30.40',
        family: 4,
        prefix: 20,
        internal: false,
        mac: '02:00:00:00:00:01',
        broadcast: '10.20.31.255',
      },
      { name: 'ptp0', address: '10.0.0.0', family: 4, prefix: 31, internal: false, mac: '02:00:00:00:00:02' },
    ]);
  });

  it('broadcasts to each external subnet, or to 255.255.255.255 when there is none', () => {
    expect(broadcastTargets(source)).toEqual(['192.168.1.255', '10.20.31.255']);
    expect(broadcastTargets({ lo: sample.lo as unknown as os.NetworkInterfaceInfo[] })).toEqual([
      '255.255.255.255',
    ]);
  });

  it('reads this machine: loopback 127.0.0.1/8 broadcasts to 127.255.255.255', () => {
    const lo = listInterfaces().find((i) => i.address === '127.0.0.1');
    expect(lo).toMatchObject({ family: 4, prefix: 8, internal: true, broadcast: '127.255.255.255' });
  });
});

describe('multicast', () => {
  it('tells multicast addresses and resolves interfaces per family', () => {
    expect(['224.0.0.1', '239.255.0.1', 'ff02::1', 'FF05::2'].map(isMulticastAddress)).toEqual([
      true,
      true,
      true,
      true,
    ]);
    expect(['223.255.255.255', '240.0.0.1', 'fe80::1', 'not'].map(isMulticastAddress)).toEqual([
      false,
      false,
      false,
      false,
    ]);
    expect(multicastInterface('239.1.2.3', 'lo')).toBe('127.0.0.1');
    expect(multicastInterface('239.1.2.3', '127.0.0.1')).toBe('127.0.0.1');
    expect(multicastInterface('ff02::1', 'lo')).toBe('::%lo');
    expect(multicastInterface('239.1.2.3', undefined)).toBeUndefined();
    expect(() => multicastInterface('239.1.2.3', 'no-such-if0')).toThrowError(
      expect.objectContaining({ code: ErrorCode.INVALID_ARGUMENT }),
    );
  });

  it('IPv4: two reuseAddr members on loopback both receive a group datagram, and none after leaving', async () => {
    const group = '239.255.77.1';
    const a = await bound({ host: '0.0.0.0', reuseAddr: true });
    const port = a.address().port;
    const b = await bound({ host: '0.0.0.0', port, reuseAddr: true });
    joinMulticast(a, group, { interface: 'lo' });
    joinMulticast(b, group, { interface: '127.0.0.1' });
    const sender = await bound({ host: '127.0.0.1' });
    sender.setMulticastInterface('127.0.0.1');
    const got = Promise.all([nextMessage(a), nextMessage(b)]);
    await sendUdp(sender, Buffer.from('to the group'), port, group);
    expect((await got).map((g) => g.msg.toString())).toEqual(['to the group', 'to the group']);
    // Joining twice is refused by the kernel; leaving works once, then says not a member.
    expect(() => joinMulticast(a, group, { interface: 'lo' })).toThrowError(
      expect.objectContaining({ code: ErrorCode.MULTICAST }),
    );
    leaveMulticast(a, group, { interface: 'lo' });
    expect(() => leaveMulticast(a, group, { interface: 'lo' })).toThrowError(
      expect.objectContaining({ code: ErrorCode.MULTICAST }),
    );
    // Once no socket is a member the group datagram is not delivered (Linux delivers a group
    // to every socket on the port while any socket on the host is a member: IP_MULTICAST_ALL).
    leaveMulticast(b, group, { interface: '127.0.0.1' });
    b.close();
    sockets.splice(sockets.indexOf(b), 1);
    const aNext = nextMessage(a);
    await sendUdp(sender, Buffer.from('nobody listens'), port, group);
    await sendUdp(sender, Buffer.from('control'), port, '127.0.0.1');
    expect((await aNext).msg.toString()).toBe('control');
  });

  it('IPv6: join and leave on lo go through the kernel (delivery is not tested: lo has no MULTICAST flag here)', async () => {
    // `ip link show lo` lists LOOPBACK,UP,LOWER_UP without MULTICAST, so the kernel has no
    // ff00::/8 route on lo and sends fail with ENETUNREACH; membership itself still works.
    const group = 'ff12::5eed';
    const s = await bound({ host: '::', reuseAddr: true });
    joinMulticast(s, group, { interface: 'lo' });
    expect(() => joinMulticast(s, group, { interface: 'lo' })).toThrowError(
      expect.objectContaining({ code: ErrorCode.MULTICAST }),
    );
    leaveMulticast(s, group, { interface: 'lo' });
    expect(() => leaveMulticast(s, group, { interface: 'lo' })).toThrowError(
      expect.objectContaining({ code: ErrorCode.MULTICAST }),
    );
    expect(() => joinMulticast(s, '2001:db8::1')).toThrowError(
      expect.objectContaining({ code: ErrorCode.INVALID_ARGUMENT }),
    );
  });
});
