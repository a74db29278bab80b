/**
 * The server's slots under clients that never answer, or answer once and go quiet, and the
 * cap per client address (group): real loopback sockets, several source addresses of 127/8,
 * and the slots class alone for what loopback cannot show (an IPv6 /64, a moving transfer).
 */
import { createHash, randomBytes } from 'node:crypto';
import dgram from 'node:dgram';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { tftpGet } from './client.js';
import { decodePacket, encodeAck, encodeRequest, Opcode, type Packet } from './packet.js';
import { serveTftp, type TftpServerOptions } from './server.js';
import { type Slot, TransferSlots } from './slots.js';

const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

async function get(port: number, name: string): Promise<Buffer> {
  const chunks: Buffer[] = [];
  const out = new Writable({
    write(chunk: Buffer, _enc, done) {
      chunks.push(chunk);
      done();
    },
  });
  await tftpGet({ host: '127.0.0.1', port, retries: 3 }, name, out);
  return Buffer.concat(chunks);
}

/** A socket on `host` that keeps what it receives and never answers unless told to. */
async function silent(host: string): Promise<{ socket: dgram.Socket; got: Packet[]; tid: () => number }> {
  const socket = dgram.createSocket('udp4');
  const got: Packet[] = [];
  let tid = 0;
  socket.on('message', (msg, from) => {
    tid = from.port;
    const d = decodePacket(msg);
    if (d.ok) got.push(d.packet);
  });
  await new Promise<void>((resolve) => socket.bind(0, host, resolve));
  return { socket, got, tid: () => tid };
}

const greedy = encodeRequest(Opcode.RRQ, 'file.bin', 'octet', new Map([['timeout', '255']]));
const plain = encodeRequest(Opcode.RRQ, 'file.bin', 'octet', new Map());

describe('TFTP server slots', () => {
  let root: string;
  const data = randomBytes(200_000);
  const opened: dgram.Socket[] = [];
  const serve = (o: Partial<TftpServerOptions>) => serveTftp({ root, host: '127.0.0.1', port: 0, ...o });

  beforeAll(() => {
    root = mkdtempSync(path.join(os.tmpdir(), 'sockit-tftp-slots-'));
    writeFileSync(path.join(root, 'file.bin'), data);
  });

  afterAll(() => {
    for (const s of opened) s.close();
    rmSync(root, { recursive: true, force: true });
  });

  it('a flood of silent requests asking timeout 255 does not lock out a real client (slot exhaustion)', async () => {
    const server = await serve({ maxTransfers: 20, firstAnswerMs: 60_000 });
    const fds = () => readdirSync('/proc/self/fd').length;
    try {
      const before = fds();
      let most = 0;
      const watch = setInterval(() => {
        most = Math.max(most, server.transfers);
      }, 5);
      // 300 requests from 300 sockets on four addresses that are not the real client's.
      for (let i = 0; i < 300; i++) {
        const s = await silent(`127.0.0.${2 + (i % 4)}`);
        opened.push(s.socket);
        s.socket.send(greedy, server.address.port, '127.0.0.1');
      }
      await vi.waitFor(() => expect(server.transfers).toBe(20));
      // Every slot is held by a client that never answered: the real one takes the oldest's.
      expect(sha(await get(server.address.port, 'file.bin'))).toBe(sha(data));
      clearInterval(watch);
      expect(most).toBeLessThanOrEqual(20);
      expect(server.dropped).toBeGreaterThan(0);
      // What the server holds stays within its slots (a socket and a file each), beside
      // the flood's own 300 sockets.
      await vi.waitFor(() => expect(fds() - before).toBeLessThanOrEqual(300 + 2 * 20 + 5));
    } finally {
      await server.close();
      for (const s of opened.splice(0)) s.close();
    }
  }, 60_000);

  it('drops a transfer whose client never answers, whatever timeout it negotiated', async () => {
    const server = await serve({ firstAnswerMs: 300 });
    try {
      const s = await silent('127.0.0.1');
      opened.push(s.socket);
      s.socket.send(greedy, server.address.port, '127.0.0.1');
      await vi.waitFor(() => expect(s.got[0]?.opcode).toBe(Opcode.OACK));
      expect(server.transfers).toBe(1);
      // Dropped quietly: no ERROR goes to an address that may be forged.
      await vi.waitFor(() => expect(server.transfers).toBe(0), { timeout: 5000 });
      expect(s.got.map((p) => p.opcode)).toEqual([Opcode.OACK]);
    } finally {
      await server.close();
    }
  });

  it('drops a transfer whose client answered and then went quiet, past maxSilenceMs', async () => {
    const server = await serve({ maxSilenceMs: 300 });
    try {
      const s = await silent('127.0.0.1');
      opened.push(s.socket);
      s.socket.send(greedy, server.address.port, '127.0.0.1');
      await vi.waitFor(() => expect(s.got[0]?.opcode).toBe(Opcode.OACK));
      s.socket.send(encodeAck(0), s.tid(), '127.0.0.1');
      await vi.waitFor(() => expect(s.got[1]).toMatchObject({ opcode: Opcode.DATA, block: 1 }));
      expect(server.transfers).toBe(1);
      await vi.waitFor(() => expect(server.transfers).toBe(0), { timeout: 5000 });
    } finally {
      await server.close();
    }
  });

  it('stops one transfer when asked, by its client, telling that client why; the others go on', async () => {
    const server = await serve({});
    try {
      const a = await silent('127.0.0.1');
      const b = await silent('127.0.0.1');
      opened.push(a.socket, b.socket);
      a.socket.send(greedy, server.address.port, '127.0.0.1');
      b.socket.send(greedy, server.address.port, '127.0.0.1');
      await vi.waitFor(() => expect(server.active()).toHaveLength(2));
      const client = `127.0.0.1:${a.socket.address().port}`;
      expect(server.active().map((t) => t.client)).toContain(client);
      expect(server.stop('127.0.0.1:1', 'no such client')).toBe(false);
      expect(server.stop(client, 'stopped by the admin')).toBe(true);
      await vi.waitFor(() =>
        expect(a.got.at(-1)).toMatchObject({ opcode: Opcode.ERROR, message: 'stopped by the admin' }),
      );
      expect(server.active().map((t) => t.client)).toEqual([`127.0.0.1:${b.socket.address().port}`]);
      expect(server.stop(client)).toBe(false);
    } finally {
      await server.close();
    }
  });

  it('caps transfers per client address, and serves other addresses meanwhile', async () => {
    const server = await serve({ maxPerAddress: 3, firstAnswerMs: 60_000 });
    try {
      const held = [];
      for (let i = 0; i < 3; i++) {
        const s = await silent('127.0.0.2');
        opened.push(s.socket);
        s.socket.send(greedy, server.address.port, '127.0.0.1');
        held.push(s);
      }
      await vi.waitFor(() => expect(server.transfers).toBe(3));
      const fourth = await silent('127.0.0.2');
      opened.push(fourth.socket);
      fourth.socket.send(greedy, server.address.port, '127.0.0.1');
      await vi.waitFor(() => expect(fourth.got[0]).toMatchObject({ opcode: Opcode.ERROR, code: 0 }));
      expect(server.transfers).toBe(3);
      // Another address is served in full.
      expect(sha(await get(server.address.port, 'file.bin'))).toBe(sha(data));
    } finally {
      await server.close();
    }
  });

  it('a real client gets a slot held by a client that answered once and then went silent', async () => {
    const server = await serve({ maxTransfers: 20, firstAnswerMs: 60_000 });
    try {
      // 20 clients on five addresses: each ACKs DATA 1 once, then never answers again.
      const clients: Awaited<ReturnType<typeof silent>>[] = [];
      for (let i = 0; i < 20; i++) {
        const s = await silent(`127.0.0.${2 + (i % 5)}`);
        opened.push(s.socket);
        s.socket.send(plain, server.address.port, '127.0.0.1');
        await vi.waitFor(() => expect(s.got[0]).toMatchObject({ opcode: Opcode.DATA, block: 1 }));
        s.socket.send(encodeAck(1), s.tid(), '127.0.0.1');
        clients.push(s);
      }
      // Each was heard: the server went on to DATA 2, which is never acknowledged.
      for (const s of clients)
        await vi.waitFor(() =>
          expect(s.got.some((p) => p.opcode === Opcode.DATA && p.block === 2)).toBe(true),
        );
      await vi.waitFor(() => expect(server.transfers).toBe(20));
      // Once they have been silent for more than twice their retransmission timeout (at least
      // 1 s), a new request takes the slot of the one silent longest.
      let got: Buffer | undefined;
      await vi.waitFor(
        async () => {
          got = await get(server.address.port, 'file.bin');
        },
        { timeout: 15_000, interval: 300 },
      );
      expect(sha(got as Buffer)).toBe(sha(data));
      expect(server.dropped).toBeGreaterThan(0);
      expect(server.transfers).toBeLessThanOrEqual(20);
    } finally {
      await server.close();
      for (const s of opened.splice(0)) s.close();
    }
  }, 30_000);

  it('counts ::1 against maxPerAddress like any one address', async () => {
    const server = await serveTftp({ root, host: '::1', port: 0, maxPerAddress: 1, firstAnswerMs: 60_000 });
    try {
      const sockets = [dgram.createSocket('udp6'), dgram.createSocket('udp6')];
      const got: Packet[][] = [[], []];
      for (const [i, socket] of sockets.entries()) {
        opened.push(socket);
        socket.on('message', (msg) => {
          const d = decodePacket(msg);
          if (d.ok) got[i]?.push(d.packet);
        });
        await new Promise<void>((resolve) => socket.bind(0, '::1', resolve));
      }
      sockets[0]?.send(greedy, server.address.port, '::1');
      await vi.waitFor(() => expect(got[0]?.[0]?.opcode).toBe(Opcode.OACK));
      sockets[1]?.send(greedy, server.address.port, '::1');
      await vi.waitFor(() => expect(got[1]?.[0]).toMatchObject({ opcode: Opcode.ERROR, code: 0 }));
      expect(server.transfers).toBe(1);
    } finally {
      await server.close();
    }
  });
});

describe('TransferSlots', () => {
  const limits = { maxTransfers: 3, maxPerAddress: 2, firstAnswerMs: 60_000, maxSilenceMs: 60_000 };

  it('counts every address of one IPv6 /64 against one cap, another /64 apart', () => {
    const slots = new TransferSlots(limits);
    expect(slots.take('2001:db8:1:2::1', 1000).ok).toBe(true);
    expect(slots.take('2001:db8:1:2:ffff:1:2:3', 1000).ok).toBe(true);
    expect(slots.take('2001:db8:1:2::99', 1000)).toEqual({ ok: false, why: 'address' });
    expect(slots.take('2001:db8:1:3::1', 1000).ok).toBe(true);
    slots.stopAll('done');
  });

  it('lets a host at its cap take the slot of its own transfer that stopped, never of one never answered', () => {
    let now = 100_000;
    const slots = new TransferSlots({ ...limits, maxTransfers: 10, now: () => now });
    const stopped: number[] = [];
    for (const port of [1, 2]) {
      const taken = slots.take('192.0.2.9', port);
      if (!taken.ok) throw new Error('no slot');
      taken.slot.rtoMs = () => 200;
      taken.slot.stop = () => stopped.push(port);
      // Port 1 was answered and then went silent; port 2 never answered.
      if (port === 1) taken.slot.heard = () => 99_000;
    }
    // Silent for 1 s, no more than the minimum: still moving, as far as anyone can tell.
    expect(slots.take('192.0.2.9', 3)).toEqual({ ok: false, why: 'address' });
    now = 100_500; // 1.5 s of silence: it stopped
    const third = slots.take('192.0.2.9', 3);
    expect(third.ok).toBe(true);
    expect(stopped).toEqual([1]);
    // The never-answered one still counts: the host is at its cap again.
    expect(slots.take('192.0.2.9', 4)).toEqual({ ok: false, why: 'address' });
    slots.stopAll('done');
  });

  it('gives a full server slot to a new request only from a transfer silent past the minimum, the longest first', () => {
    let now = 100_000;
    const slots = new TransferSlots({ ...limits, now: () => now });
    const held: Slot[] = [];
    const stopped: string[] = [];
    for (const [address, heard] of [
      ['192.0.2.1', 99_900],
      ['192.0.2.2', 98_000],
      ['192.0.2.3', 99_950],
    ] as const) {
      const taken = slots.take(address, 69);
      if (!taken.ok) throw new Error('no slot');
      taken.slot.heard = () => heard;
      taken.slot.rtoMs = () => 400;
      taken.slot.stop = () => stopped.push(address);
      held.push(taken.slot);
    }
    // Silences 100, 2000 and 50 ms, but the least is 1 s: the one silent 2 s gives way.
    const newer = slots.take('192.0.2.9', 69);
    if (!newer.ok) throw new Error('no slot');
    expect(stopped).toEqual(['192.0.2.2']);
    newer.slot.heard = () => 100_000; // it answered at once
    newer.slot.rtoMs = () => 400;
    // Every other one answered within the last second: moving, never dropped.
    expect(slots.take('192.0.2.10', 69)).toEqual({ ok: false, why: 'busy' });
    // A slow link's timeout (800 ms, so 1.6 s) protects a transfer silent 1.5 s.
    now += 1400;
    (held[0] as Slot).rtoMs = () => 800;
    expect(slots.take('192.0.2.10', 69).ok).toBe(true);
    expect(stopped).toEqual(['192.0.2.2', '192.0.2.3']);
    slots.stopAll('done');
  });
});
