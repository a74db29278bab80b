/**
 * FileSink, the writer of received bytes: what it holds reaches the file, a small file without
 * the thread pool; a failed write fails the transfer and never stalls the process.
 */
import { createHash, randomBytes } from 'node:crypto';
import { openSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import { build } from 'esbuild';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { descriptorFile, FileSink, spareStagingBuffers } from '../../src/files/transfer.js';

const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

/** Feeds `data` in `chunk`-byte pieces, waiting whenever the sink asks to. */
async function feed(sink: FileSink, data: Buffer, chunk: number): Promise<void> {
  for (let at = 0; at < data.length; at += chunk) {
    if (!sink.write(data.subarray(at, at + chunk))) await sink.drain();
  }
}

let worker: string | undefined;

/**
 * Runs a sink over /dev/full in a worker thread: what the transfer failed with (or
 * 'abandoned'), or 'stalled' when the worker has not answered in 10 s.
 */
async function inWorker(size: number, how: 'finish' | 'abandon' = 'finish'): Promise<string> {
  worker ??= await bundleWorker();
  const thread = new Worker(worker, { workerData: { size, how } });
  try {
    return await new Promise<string>((resolve, reject) => {
      const late = setTimeout(() => resolve('stalled'), 10_000);
      thread.once('message', (answer: string) => {
        clearTimeout(late);
        resolve(answer);
      });
      thread.once('error', (err) => {
        clearTimeout(late);
        reject(err);
      });
    });
  } finally {
    await thread.terminate();
  }
}

/** The worker's code, with src/files/transfer.ts bundled in (a worker does not load TypeScript). */
async function bundleWorker(): Promise<string> {
  const out = path.join(await mkdtemp(path.join(tmpdir(), 'sockit-sink-worker-')), 'worker.mjs');
  const source = `
    import { openSync } from 'node:fs';
    import { parentPort, workerData } from 'node:worker_threads';
    import { descriptorFile, FileSink } from ${JSON.stringify(path.resolve(import.meta.dirname, '../../src/files/transfer.ts'))};
    const { size, how } = workerData;
    const sink = new FileSink(descriptorFile(openSync('/dev/full', 'w')), 0, size);
    const data = Buffer.alloc(size, 7);
    try {
      for (let at = 0; at < size; at += 65536) if (!sink.write(data.subarray(at, at + 65536))) await sink.drain();
      if (how === 'abandon') {
        await sink.abandon();
        parentPort.postMessage('abandoned');
      } else {
        await sink.finish();
        parentPort.postMessage('finished');
      }
    } catch (err) {
      await sink.abandon().catch(() => undefined);
      parentPort.postMessage(err.code ?? String(err));
    }
  `;
  await build({
    stdin: { contents: source, resolveDir: import.meta.dirname, loader: 'js' },
    bundle: true,
    platform: 'node',
    format: 'esm',
    outfile: out,
    logLevel: 'silent',
  });
  return out;
}

describe('FileSink', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'sockit-sink-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
    // The folder of the worker's bundle (see bundleWorker).
    if (worker) await rm(path.dirname(worker), { recursive: true, force: true });
  });

  it('writes files of every size around its buffer and direct-write limits intact', async () => {
    for (const size of [0, 1, 4096, 131_071, 131_072, 131_073, 1_048_576, 1_048_577, 3_000_001]) {
      const data = randomBytes(size);
      const file = path.join(dir, `f${size}`);
      const sink = new FileSink(descriptorFile(openSync(file, 'w')), 0, size);
      await feed(sink, data, 65_536);
      await sink.finish();
      expect(sha(readFileSync(file))).toBe(sha(data));
    }
  });

  it("reuses small files' staging buffers one sink after another, and lets them go when idle", async () => {
    // Files of 1 byte to 64 KiB, 32 at once and then 32 more in the buffers the first gave
    // back, fed in uneven pieces: each file intact, whatever a reused buffer held before.
    const sizes = Array.from({ length: 64 }, (_, i) => 1 + ((i * 40_503) % 65_536));
    for (const batch of [sizes.slice(0, 32), sizes.slice(32)]) {
      await Promise.all(
        batch.map(async (size, i) => {
          const data = randomBytes(size);
          const file = path.join(dir, `small-${size}-${i}`);
          const sink = new FileSink(descriptorFile(openSync(file, 'w')), 0, size);
          await feed(sink, data, 1000 + i * 7);
          await sink.finish();
          expect(sha(readFileSync(file))).toBe(sha(data));
        }),
      );
    }
    expect(spareStagingBuffers()).toBeGreaterThan(0);
    // Let go a second after the last was given back (this wait's timer comes after theirs).
    await new Promise((resolve) => setTimeout(resolve, 1100));
    expect(spareStagingBuffers()).toBe(0);
  });

  // /dev/full takes no byte: every write fails with ENOSPC, as on a full disk. A sink that
  // stalled on it once spun in promise callbacks, starving the event loop (no timer could
  // fire): the sink runs in a worker thread, which the test ends if it does not answer.
  for (const size of [10, 131_072, 200_000, 3_000_000]) {
    it(`fails a ${size}-byte file on a full disk, and lets the event loop run`, async () => {
      expect(await inWorker(size)).toBe('ENOSPC');
    });
  }

  it('abandons a failed file without waiting forever', async () => {
    expect(await inWorker(100, 'abandon')).toBe('abandoned');
  });
});
