/**
 * sendRange, the sender of a file's bytes: the next chunk is read while one is hashed and
 * written, and whatever the reads return (short reads, a file that shrinks) the peer gets
 * exactly the file's bytes in order, or the connection is cut.
 */
import { createHash, randomBytes } from 'node:crypto';
import type { FileHandle } from 'node:fs/promises';
import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { ErrorCode } from '../../src/errors.js';
import { READ_CHUNK, sendRange } from '../../src/files/transfer.js';
import { Channel } from '../../src/runtime/channel.js';

const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

/** A FileHandle over `data` whose reads `shape` may shorten (by call number) or delay. */
function fakeFile(
  data: () => Buffer,
  shape: (call: number, length: number) => number = (_, n) => n,
): { handle: FileHandle; overlap: { now: number; most: number } } {
  const overlap = { now: 0, most: 0 };
  let calls = 0;
  /** What stat() says: it moves whenever the bytes do, as a file's size and times would. */
  let seen = data();
  let version = 0n;
  const handle = {
    stat: async () => {
      if (data() !== seen) {
        seen = data();
        version++;
      }
      return { size: BigInt(seen.length), mtimeNs: version, ctimeNs: version };
    },
    read: async (buffer: Buffer, offset: number, length: number, position: number) => {
      overlap.most = Math.max(overlap.most, ++overlap.now);
      await new Promise((r) => setTimeout(r, 1 + Math.random() * 3));
      overlap.now--;
      const now = data();
      const n = Math.max(0, Math.min(shape(calls++, length), now.length - position));
      if (n > 0) now.copy(buffer, offset, position, position + n);
      return { bytesRead: n, buffer };
    },
  } as unknown as FileHandle;
  return { handle, overlap };
}

const sockets: net.Socket[] = [];
const servers: net.Server[] = [];
afterEach(() => {
  for (const s of sockets.splice(0)) s.destroy();
  for (const s of servers.splice(0)) s.close();
});

/** A channel on a loopback connection, and everything the other end receives until it closes. */
async function pair(): Promise<{ channel: Channel; received: Promise<Buffer> }> {
  let resolveReceived: (b: Buffer) => void = () => {};
  const received = new Promise<Buffer>((r) => {
    resolveReceived = r;
  });
  const server = net.createServer((peer) => {
    sockets.push(peer);
    const parts: Buffer[] = [];
    peer.on('data', (d) => parts.push(d));
    peer.on('close', () => resolveReceived(Buffer.concat(parts)));
    peer.on('error', () => undefined);
  });
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as net.AddressInfo).port;
  const socket = net.connect(port, '127.0.0.1');
  sockets.push(socket);
  await new Promise((r) => socket.once('connect', r));
  return { channel: new Channel(socket), received };
}

describe('sendRange', () => {
  it('sends a file of many chunks whole and in order, from any offset', async () => {
    const data = randomBytes(5 * READ_CHUNK + 12_345);
    for (const from of [0, 777, READ_CHUNK + 1]) {
      const { channel, received } = await pair();
      const { handle, overlap } = fakeFile(() => data);
      const hash = createHash('sha256');
      await sendRange(channel, handle, from, data.length, hash);
      // The next chunk was being read while one was hashed and written.
      expect(overlap.most).toBe(2);
      channel.socket.end();
      const got = await received;
      expect(got.length).toBe(data.length - from);
      expect(sha(got)).toBe(sha(data.subarray(from)));
      expect(hash.digest('hex')).toBe(sha(data.subarray(from)));
    }
  });

  it('goes on from where a short read ended, dropping the reads ahead', async () => {
    const data = randomBytes(4 * READ_CHUNK + 99);
    const { channel, received } = await pair();
    // The second and fifth reads return less than asked (as some file systems may).
    const { handle } = fakeFile(
      () => data,
      (call, n) => (call === 1 || call === 4 ? Math.floor(n / 3) : n),
    );
    const hash = createHash('sha256');
    await sendRange(channel, handle, 0, data.length, hash);
    channel.socket.end();
    expect(sha(await received)).toBe(sha(data));
    expect(hash.digest('hex')).toBe(sha(data));
  });

  it('sends a file rewritten in place while it is sent whole, then refuses it', async () => {
    let data = randomBytes(4 * READ_CHUNK);
    const { channel, received } = await pair();
    let reads = 0;
    const { handle } = fakeFile(() => {
      if (++reads === 3) data = randomBytes(data.length); // same size, new bytes
      return data;
    });
    await expect(sendRange(channel, handle, 0, data.length, createHash('sha256'))).rejects.toMatchObject({
      code: ErrorCode.INTEGRITY,
    });
    // The run went out whole: the connection is in step for the refusal that follows.
    expect(channel.socket.destroyed).toBe(false);
    channel.socket.end();
    expect((await received).length).toBe(data.length);
  });

  it('cuts the connection when the file shrinks, and sends no byte that is not the file', async () => {
    let data = randomBytes(4 * READ_CHUNK);
    const original = data;
    const { channel, received } = await pair();
    let reads = 0;
    const { handle } = fakeFile(() => {
      if (++reads === 3) data = data.subarray(0, READ_CHUNK + 500); // cut while being sent
      return data;
    });
    await expect(sendRange(channel, handle, 0, original.length, createHash('sha256'))).rejects.toMatchObject({
      code: ErrorCode.INTEGRITY,
    });
    const got = await received;
    expect(got.length).toBeLessThan(original.length);
    expect(got.equals(original.subarray(0, got.length))).toBe(true);
  });
});
