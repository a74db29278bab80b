import { closeSync, mkdtempSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { FILE_SYNCS, INLINE_SYNC_MAX_BYTES, SLOW_RUN, SLOW_SYNC_US, SyncPlace } from './file-sync.js';

/** A SyncPlace whose inline syncs take `us()` microseconds of a fake clock, and what it did. */
function place(us: () => number) {
  let clock = 0n;
  const inline: number[] = [];
  const pooled: number[] = [];
  const syncs = new SyncPlace(
    (fd) => {
      inline.push(fd);
      clock += BigInt(Math.round(us() * 1000));
    },
    () => clock,
  );
  const sync = (fd: number, bytes = 1000) =>
    syncs.sync(fd, bytes, async () => {
      pooled.push(fd);
    });
  return { syncs, sync, inline, pooled };
}

describe('SyncPlace', () => {
  it('syncs small fresh files inline while the syncs are fast', async () => {
    const p = place(() => 2);
    for (let fd = 0; fd < 500; fd++) await p.sync(fd);
    expect(p.inline).toHaveLength(500);
    expect(p.pooled).toEqual([]);
    expect(p.syncs.pooled).toBe(false);
  });

  it('goes to the thread pool for good after SLOW_RUN slow inline syncs in a row', async () => {
    let slow = true;
    const p = place(() => (slow ? SLOW_SYNC_US + 200 : 2)); // a disk
    for (let fd = 0; fd < 10; fd++) await p.sync(fd);
    expect(p.inline).toEqual([...Array(SLOW_RUN).keys()]);
    expect(p.pooled).toEqual([...Array(10).keys()].slice(SLOW_RUN));
    expect(p.syncs.pooled).toBe(true);
    slow = false; // fast again: stays with the pool
    await p.sync(10);
    expect(p.pooled.at(-1)).toBe(10);
  });

  it('keeps syncing inline through rare slow syncs, even a few together', async () => {
    let n = 0;
    // One sync in every 100 preempted (5 ms, as long as seen here), and once two of 300 µs in a row.
    const rare = place(() => {
      n++;
      if (n % 100 === 0) return 5000;
      return n === 1051 || n === 1052 ? 300 : 2;
    });
    for (let fd = 0; fd < 2000; fd++) await rare.sync(fd);
    expect(rare.pooled).toEqual([]);
    expect(rare.inline).toHaveLength(2000);
  });

  it('goes to the pool at the first sync of a disk that is slow now and then, by far', async () => {
    let m = 0;
    // One sync in five takes 20 ms: never SLOW_RUN in a row, but the loop would stall.
    const bursty = place(() => (m++ % 5 === 4 ? 20_000 : 2));
    for (let fd = 0; fd < 100; fd++) await bursty.sync(fd);
    expect(bursty.syncs.pooled).toBe(true);
    expect(bursty.inline).toHaveLength(5);
  });

  it('goes to the pool when slow syncs are common, though never SLOW_RUN in a row', async () => {
    let m = 0;
    // Every other sync takes 500 µs: 250 µs a sync on average, above MEAN_LIMIT_US.
    const often = place(() => (m++ % 2 === 1 ? 500 : 2));
    for (let fd = 0; fd < 200; fd++) await often.sync(fd);
    expect(often.syncs.pooled).toBe(true);
    // The average passes the limit within a few dozen syncs (about 10 ms of stalls in all).
    expect(often.inline.length).toBeLessThan(60);
  });

  it('sends larger files to the pool without trying them inline', async () => {
    const p = place(() => 2);
    await p.sync(7, INLINE_SYNC_MAX_BYTES + 1);
    await p.sync(8, INLINE_SYNC_MAX_BYTES);
    expect(p.pooled).toEqual([7]);
    expect(p.inline).toEqual([8]);
  });

  it('rejects as the inline sync fails, and counts its time', async () => {
    let clock = 0n;
    const syncs = new SyncPlace(
      () => {
        clock += 1_000_000n;
        throw Object.assign(new Error('EIO: i/o error, fsync'), { code: 'EIO' });
      },
      () => clock,
    );
    for (let i = 0; i < SLOW_RUN; i++) {
      await expect(syncs.sync(3, 10, async () => {})).rejects.toMatchObject({ code: 'EIO' });
    }
    expect(syncs.pooled).toBe(true);
  });
});

describe('FILE_SYNCS', () => {
  const dirs: string[] = [];
  afterEach(() => {
    for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  });

  it('syncs a real file, and rejects a descriptor that is not open', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'sockit-sync-'));
    dirs.push(dir);
    const fd = openSync(path.join(dir, 'a'), 'w');
    writeSync(fd, 'hello');
    let viaPool = 0;
    await FILE_SYNCS.sync(fd, 5, async () => {
      viaPool++;
    });
    closeSync(fd);
    expect(readFileSync(path.join(dir, 'a'), 'utf8')).toBe('hello');
    // Inline or through the pool depends on this machine's file system: one of them ran.
    expect(viaPool === 1 || !FILE_SYNCS.pooled).toBe(true);
    const fresh = new SyncPlace();
    await expect(fresh.sync(fd, 5, async () => {})).rejects.toMatchObject({ code: 'EBADF' });
  });
});
