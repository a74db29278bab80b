/** The debug lines of TFTP transfers, at both ends, on real loopback sockets. */
import { randomBytes } from 'node:crypto';
import dgram from 'node:dgram';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { recordLog } from '../../test/log.js';
import { tftpGet, tftpPut } from './client.js';
import { encodeRequest, Opcode } from './packet.js';
import { serveTftp, type TftpService } from './server.js';

describe('TFTP debug lines', () => {
  let root: string;
  let server: TftpService;
  const served = recordLog('debug');
  const data = randomBytes(10_000);

  beforeAll(async () => {
    root = mkdtempSync(path.join(os.tmpdir(), 'sockit-tftp-trace-'));
    writeFileSync(path.join(root, 'file.bin'), data);
    writeFileSync(path.join(root, 'small.txt'), 'one block');
    server = await serveTftp({
      root,
      host: '127.0.0.1',
      port: 0,
      writable: true,
      timeoutMs: 100,
      log: served.log,
    });
  });
  afterAll(async () => {
    await server.close();
    rmSync(root, { recursive: true, force: true });
  });

  const named = (entries: Record<string, unknown>[], msg: string) => entries.filter((e) => e.msg === msg);

  it('a download logs its request, the answering port, the options asked and granted, and its end', async () => {
    const client = recordLog('debug');
    const out = new PassThrough();
    out.resume();
    const port = server.address.port;
    const options = { host: '127.0.0.1', port, blksize: 1428, windowsize: 4, tsize: true, log: client.log };
    const result = await tftpGet(options, 'file.bin', out);
    expect(result.bytes).toBe(data.length);

    const asked = { blksize: '1428', windowsize: '4', tsize: '0' };
    const granted = { blksize: '1428', windowsize: '4', tsize: String(data.length) };
    expect(named(client.entries, 'request sent')).toEqual([
      expect.objectContaining({
        level: 20,
        op: 'RRQ',
        file: 'file.bin',
        mode: 'octet',
        server: `127.0.0.1:${port}`,
        asked,
      }),
    ]);
    const answered = named(client.entries, 'server answered');
    expect(answered).toHaveLength(1);
    // The server answers from a port of the transfer's own (its TID), not the one asked.
    expect(answered[0]?.from).toMatch(/^127\.0\.0\.1:\d+$/);
    expect(answered[0]?.from).not.toBe(`127.0.0.1:${port}`);
    expect(named(client.entries, 'options negotiated')).toEqual([
      expect.objectContaining({ asked, granted }),
    ]);
    expect(named(client.entries, 'transfer complete')).toEqual([
      expect.objectContaining({ bytes: data.length, blocks: 8, retransmits: 0 }),
    ]);
    // Never a line per block.
    expect(client.entries.length).toBeLessThan(6);

    const local = named(client.entries, 'request sent')[0]?.local;
    const client_ = `127.0.0.1:${local}`;
    expect(served.entries).toContainEqual(
      expect.objectContaining({ msg: 'request', client: client_, op: 'RRQ', file: 'file.bin', asked }),
    );
    expect(served.entries).toContainEqual(
      expect.objectContaining({
        msg: 'options negotiated',
        client: client_,
        file: 'file.bin',
        asked,
        granted,
      }),
    );
  });

  it('an upload logs its request as WRQ with the size stated', async () => {
    const client = recordLog('debug');
    const upload = randomBytes(3000);
    const options = { host: '127.0.0.1', port: server.address.port, tsize: true, log: client.log };
    await tftpPut(options, 'up.bin', Readable.from([upload]), upload.length);
    expect(named(client.entries, 'request sent')).toEqual([
      expect.objectContaining({ op: 'WRQ', file: 'up.bin', asked: { tsize: '3000' } }),
    ]);
    expect(named(client.entries, 'options negotiated')).toEqual([
      expect.objectContaining({ asked: { tsize: '3000' }, granted: { tsize: '3000' } }),
    ]);
    expect(named(client.entries, 'transfer complete')).toEqual([expect.objectContaining({ bytes: 3000 })]);
  });

  it('the server logs each timeout that sent a block again, and no negotiation when none was asked', async () => {
    // A client that asks and never acknowledges: the server's 100 ms timer fires and backs off.
    const socket = dgram.createSocket('udp4');
    let blocks = 0;
    socket.on('message', () => blocks++);
    await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
    const client = `127.0.0.1:${socket.address().port}`;
    socket.send(encodeRequest(Opcode.RRQ, 'small.txt', 'octet', new Map()), server.address.port, '127.0.0.1');
    const ofThisClient = () => served.entries.filter((e) => e.client === client);
    // The log line is written as the block is sent again; the datagram arrives a moment later.
    await vi.waitFor(
      () => {
        expect(named(ofThisClient(), 'timeout: sent again').length).toBeGreaterThanOrEqual(2);
        expect(blocks).toBeGreaterThanOrEqual(3);
      },
      { timeout: 5000 },
    );
    socket.close();
    const [first, second] = named(ofThisClient(), 'timeout: sent again');
    expect(first).toMatchObject({ level: 20, file: 'small.txt', afterMs: 100, resent: 1, retransmits: 1 });
    // The timer doubled after the first timeout.
    expect(second).toMatchObject({ afterMs: 200, resent: 1, retransmits: 2 });
    expect(blocks).toBeGreaterThanOrEqual(3);
    expect(named(ofThisClient(), 'request')).toEqual([expect.objectContaining({ op: 'RRQ', asked: {} })]);
    expect(named(ofThisClient(), 'options negotiated')).toEqual([]);
  });

  it('logs nothing of this at info', async () => {
    const client = recordLog('info');
    const out = new PassThrough();
    out.resume();
    await tftpGet(
      { host: '127.0.0.1', port: server.address.port, blksize: 1428, log: client.log },
      'file.bin',
      out,
    );
    expect(client.entries).toEqual([]);
  });
});
