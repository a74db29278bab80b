/**
 * fsync(2) of a small file just written: on the event loop while that costs it less than the
 * thread pool would, through the pool otherwise.
 *
 * A sync through Node's thread pool costs the event loop the same on any file system: a
 * wake-up of a pool thread (a futex call; on a virtual machine an interrupt to the other
 * core) and a callback back, 20-40 µs of the loop's CPU per file here, more while the other
 * core is busy. Where fsync itself returns at once (tmpfs, where /tmp often lives: ~2 µs)
 * that round trip is nearly all a small file's sync costs: a folder of 2,000 small files
 * downloaded ~10% faster, and uploaded as much, with their syncs made inline. On a disk a
 * sync waits for the device (ext4 on this machine's virtio disk: 220-2,500 µs), which must
 * not stall the loop: every inline sync is timed (an InlinePlace), and once SLOW_RUN of them
 * in a row took longer than SLOW_SYNC_US, or the time they take, as a moving average over
 * ~64, passes MEAN_LIMIT_US, every later sync goes through the pool, for the rest of the
 * process (a file system that is slow to sync stays so). A sync
 * to tmpfs is slow only when the process is preempted during it, now and then on a busy
 * machine (during uploads here: 16 of 8,000 over 50 µs, p50 3.4 µs, p99 9 µs, the longest
 * 5.4 ms), not several times in a row; a disk's syncs of fresh data are slow every time, and
 * a disk that is slow only now and then (one sync in five taking 20 ms) passes the average
 * at its first slow one. Only fresh files of at most INLINE_SYNC_MAX_BYTES are tried inline,
 * which bounds what the few syncs made on a disk before the switch can stall.
 *
 * Every file is synced either way: only where the call is made changes.
 */
import { fsyncSync } from 'node:fs';
import { InlinePlace } from './inline-place.js';

/** Largest file (bytes written since it was made) whose sync may be made on the event loop. */
export const INLINE_SYNC_MAX_BYTES = 256 * 1024;
/** An inline sync longer than this is slow. */
export const SLOW_SYNC_US = 50;
/** Slow inline syncs in a row after which syncs go through the thread pool. */
export const SLOW_RUN = 3;
/** Mean time of an inline sync (a moving average, weight 1/64) above which the same happens. */
export const MEAN_LIMIT_US = 150;

/** Where syncs are made, and what the inline ones cost so far. */
export class SyncPlace {
  readonly #place: InlinePlace;

  /** `syncNow`: the inline sync; `now`: a clock in nanoseconds (both replaceable for tests). */
  constructor(
    private readonly syncNow: (fd: number) => void = fsyncSync,
    now: () => bigint = () => process.hrtime.bigint(),
  ) {
    this.#place = new InlinePlace(
      { slowUs: SLOW_SYNC_US, slowRun: SLOW_RUN, meanLimitUs: MEAN_LIMIT_US },
      now,
    );
  }

  /** True once syncs go through the thread pool for good. */
  get pooled(): boolean {
    return this.#place.pooled;
  }

  /**
   * Syncs `fd`, a file that was made empty and then given `bytes` bytes: inline, or with
   * `viaPool` (the same sync through the thread pool). Rejects as fsync fails.
   *
   * @example
   * ```ts
   * await FILE_SYNCS.sync(fd, 30_000, () => fsyncAsync(fd));
   * ```
   */
  sync(fd: number, bytes: number, viaPool: () => Promise<void>): Promise<void> {
    if (bytes > INLINE_SYNC_MAX_BYTES || !this.#place.inline) return viaPool();
    try {
      this.#place.run(() => this.syncNow(fd));
    } catch (err) {
      return Promise.reject(err);
    }
    return Promise.resolve();
  }
}

/** The process's syncs of small received files (one file system or several: see SyncPlace). */
export const FILE_SYNCS = new SyncPlace();
