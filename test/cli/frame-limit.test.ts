/**
 * Acceptance: a peer announcing a 4 GiB frame is cut off with ERR_FRAME_TOO_LARGE, the
 * server keeps serving others, and its memory does not grow with the attack.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EnvelopeDecoder, encodeEnvelope, frameHeader } from '../../src/wire/index.js';
import { requireTools, type Server, startServer } from '../helpers.js';

function rssBytes(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  if (!m) throw new Error(`no VmRSS for ${pid}`);
  return Number(m[1]) * 1024;
}

const JUNK = randomBytes(1024 * 1024);

/** One hostile peer: announces 4 GiB, pushes up to 1 MiB more, returns the reply and bytes sent. */
function attack(port: number): Promise<{ reply: Buffer; pushed: number }> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    const socket = net.connect({ host: '127.0.0.1', port }, () => {
      socket.write(frameHeader(0xffff_ffff));
      socket.write(JUNK, () => {});
    });
    socket.on('data', (d: Buffer) => chunks.push(d));
    socket.on('error', () => {}); // the server may reset us while we still write: expected
    socket.on('close', () => resolve({ reply: Buffer.concat(chunks), pushed: socket.bytesWritten }));
    setTimeout(() => reject(new Error('the server never closed the hostile connection')), 15_000).unref();
  });
}

describe('frame limit under attack', () => {
  let server: Server;
  let port: number;

  beforeAll(async () => {
    requireTools();
    server = await startServer(
      ['echo', 'serve', '--tcp', '--framed', '--host', '127.0.0.1', '--port', '0'],
      1,
    );
    port = server.listening[0]?.port ?? 0;
  });
  afterAll(async () => {
    await server.stop();
  });

  it('cuts off 1500 peers announcing 4 GiB with ERR_FRAME_TOO_LARGE, serves a friend meanwhile, memory flat', async () => {
    const pid = server.child.pid as number;
    // A friend keeps echoing envelopes for the whole attack.
    const friend = net.connect({ host: '127.0.0.1', port });
    const replies = new EnvelopeDecoder();
    let echoed = 0;
    let friendRunning = true;
    friend.on('data', (d: Buffer) => {
      for (const msg of replies.push(d)) {
        expect(msg.header).toEqual({ seq: echoed });
        echoed++;
        if (friendRunning) friend.write(encodeEnvelope({ seq: echoed }, randomBytes(1024)));
      }
    });
    friend.write(encodeEnvelope({ seq: 0 }, randomBytes(1024)));

    // Reading and dropping junk churns buffers until the heap settles at its working size:
    // warm up first, then attack with over 1 GiB and watch the resident size stay flat.
    const batch = async (): Promise<number> => {
      const results = await Promise.all(Array.from({ length: 50 }, () => attack(port)));
      for (const { reply } of results) {
        const [error] = new EnvelopeDecoder().push(reply);
        expect(error?.header).toMatchObject({ type: 'error', code: 'ERR_FRAME_TOO_LARGE' });
      }
      return results.reduce((sum, r) => sum + r.pushed, 0);
    };
    for (let i = 0; i < 5; i++) await batch();
    const before = rssBytes(pid);
    const echoedBefore = echoed;
    let peak = before;
    let pushed = 0;
    for (let i = 0; i < 25; i++) {
      pushed += await batch();
      peak = Math.max(peak, rssBytes(pid));
    }
    const echoedDuringAttack = echoed - echoedBefore;
    friendRunning = false;
    friend.destroy();

    // Buffering the announced frames would grow by what was pushed; the bound is 1/16 of that.
    expect(pushed).toBeGreaterThan(1024 * 1024 * 1024);
    expect(peak - before, `RSS went from ${before} to a peak of ${peak}`).toBeLessThan(64 * 1024 * 1024);
    expect(echoedDuringAttack).toBeGreaterThan(0);
    expect(server.log()).toContain('ERR_FRAME_TOO_LARGE');
  });
});
