/**
 * The server's slots under clients that never answer, or answer once and go quiet, and the
 * cap per client address: real loopback sockets, several source addresses of 127/8.
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
});
