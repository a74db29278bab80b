/**
 * The file service publishes its transfers: a metrics registry started before the server
 * counts each upload and download with the exact bytes that crossed the wire.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deriveCredentials } from '../../src/auth/scram.js';
import { openUserStore, type UserStore } from '../../src/auth/store.js';
import { FilesClient } from '../../src/files/client.js';
import { events, type TransferEndEvent } from '../../src/runtime/events.js';
import { Metrics } from '../../src/runtime/metrics.js';
import { serveFilesForTest } from './serve.js';

/** The value of `name` for the series whose labels include `labels`, or undefined. */
async function seriesValue(
  metrics: Metrics,
  name: string,
  labels: Record<string, string>,
): Promise<number | undefined> {
  const metric = metrics.registry.getSingleMetric(name);
  const { values } = await (metric as NonNullable<typeof metric>).get();
  // Counters and gauges only: one series per label set.
  const series = values.find((v) =>
    Object.entries(labels).every(([k, want]) => String(v.labels[k]) === want),
  );
  return series?.value;
}

describe('file service transfer events', () => {
  let base: string;
  let store: UserStore;

  beforeAll(async () => {
    base = await mkdtemp(path.join(tmpdir(), 'sockit-files-events-'));
    store = await openUserStore(path.join(base, 'users.db'));
    await store.add('ann', await deriveCredentials('correct horse', { iterations: 4096 }));
  });
  afterAll(async () => {
    await store?.close();
    await rm(base, { recursive: true, force: true });
  });

  it('counts one upload and one download with their exact byte counts', async () => {
    const metrics = new Metrics().start();
    const ended: TransferEndEvent[] = [];
    const off = events.transferEnd.subscribe((e) => ended.push(e));
    const service = await serveFilesForTest(path.join(base, 'root'), store);
    try {
      const client = await FilesClient.login({
        host: '127.0.0.1',
        port: service.address.port,
        user: 'ann',
        password: 'correct horse',
      });
      const up = randomBytes(123_457);
      await writeFile(path.join(base, 'up.bin'), up);
      await client.upload(path.join(base, 'up.bin'), 'up.bin');
      await client.download('up.bin', path.join(base, 'down.bin'));
      client.close();
      expect((await readFile(path.join(base, 'down.bin'))).equals(up)).toBe(true);

      const files = { service: 'files' };
      expect(await seriesValue(metrics, 'sockit_transfer_bytes_total', { ...files, direction: 'in' })).toBe(
        123_457,
      );
      expect(await seriesValue(metrics, 'sockit_transfer_bytes_total', { ...files, direction: 'out' })).toBe(
        123_457,
      );
      for (const direction of ['in', 'out']) {
        expect(
          await seriesValue(metrics, 'sockit_transfers_total', { ...files, direction, outcome: 'ok' }),
        ).toBe(1);
        expect(await seriesValue(metrics, 'sockit_transfers_active', { ...files, direction })).toBe(0);
      }
      expect(ended.map((e) => [e.direction, e.bytes, e.ok])).toEqual([
        ['in', 123_457, true],
        ['out', 123_457, true],
      ]);
    } finally {
      off();
      metrics.stop();
      await service.close();
    }
  });
});
