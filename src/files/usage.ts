/**
 * Quotas and the usage they are checked against. A user's usage (bytes of the home's
 * files and of unfinished upload parts) is kept in the user store and moved by each change
 * the service makes: an upload that lands or leaves a part, a removal, an expired part. It
 * is counted by a walk of the home only when the store does not know it yet (accounts from
 * before it was kept, or after files were removed that were never counted), so an upload's
 * check is one read of the store, not a walk of the whole home.
 */
import type { Quota, UserStore } from '../auth/store.js';
import { ErrorCode, SockitError } from '../errors.js';
import type { Logger } from '../runtime/log.js';
import type { UserFiles } from './storage.js';

/** What the quota check needs of the server. */
export interface QuotaShared {
  store: UserStore;
  /** Bytes of uploads under way, per user (this process): counted until they land. */
  reserved: Map<string, number>;
  /** The quota of users without one of their own. */
  defaultQuota: Quota;
  /** Walks counting a user's usage, under way (one per user at a time). */
  counting: Map<string, Promise<number>>;
}

/** What an upload about to start would change, for the check. */
export interface UploadPlan {
  /** Bytes to come. */
  size: number;
  /** Bytes of the file this upload replaces (0 when none). */
  replaced: number;
  /** Bytes of the upload's own part already on disk (kept or truncated by it). */
  partBytes: number;
}

/**
 * Refuses with ERR_QUOTA_EXCEEDED an upload that would take the user over their quota,
 * counting every upload of theirs under way in this process (this one included, already in
 * `reserved`). The quota is read at each upload, so a change applies without a new log-in.
 *
 * Resolves with whether the upload must move the stored usage when it lands: false when the
 * usage is unknown and the quota unlimited (no count is made then; an update would match no
 * row, and its statement and locks made a folder of 2,000 small files upload 1.19x slower,
 * server CPU 0.78 -> 0.99 s). Nothing in this process stores a count while this upload is
 * reserved (see countUsage), so the usage is still unknown when it lands; a server in
 * another process that counts meanwhile, after the quota was set, counts what the part held
 * then (see docs/files.md, Quotas).
 *
 * @example
 * ```ts
 * const tracked = await checkQuota(shared, files, { size: 5, replaced: 0, partBytes: 0 });
 * ```
 */
export async function checkQuota(shared: QuotaShared, files: UserFiles, plan: UploadPlan): Promise<boolean> {
  const record = await shared.store.get(files.user);
  if (!record) throw new SockitError(ErrorCode.FORBIDDEN, `the account ${files.user} no longer exists`);
  const quota = record.quotaBytes ?? shared.defaultQuota;
  if (quota === 'unlimited') return record.usageBytes !== null;
  const usage = record.usageBytes ?? (await countUsage(shared, files, plan.size));
  // On disk now, minus what this upload replaces or rewrites, plus every upload under way.
  const used = Math.max(0, usage - plan.replaced - plan.partBytes);
  const underWay = shared.reserved.get(files.user) ?? plan.size;
  if (used + underWay > quota) {
    const what = quota === 0 ? 'nothing may be stored' : `${used} of ${quota} bytes used`;
    throw new SockitError(
      ErrorCode.QUOTA_EXCEEDED,
      `${plan.size} more bytes would exceed the quota (${what})`,
    );
  }
  return true;
}

/**
 * Walks the home once and keeps the count in the store, unless an upload of this user is
 * under way here: its part is half written, and the bytes it adds when it ends would then
 * be counted twice.
 */
async function countUsage(shared: QuotaShared, files: UserFiles, size: number): Promise<number> {
  const running = shared.counting.get(files.user);
  if (running) return running;
  const count = (async () => {
    const usage = await files.usage();
    // `reserved` holds this upload already: more than its size means another one is running.
    if ((shared.reserved.get(files.user) ?? 0) <= size) {
      await shared.store.setUsage(files.user, usage, { ifUnknown: true });
    }
    return usage;
  })();
  shared.counting.set(files.user, count);
  try {
    return await count;
  } finally {
    shared.counting.delete(files.user);
  }
}

/**
 * Resolves once no walk is counting `user`'s usage. An upload lands only then (and from
 * there to its link nothing else runs), so that a walk never misses a file that moved from
 * the parts folder into the home behind it, an undercount that let parallel uploads pass
 * the quota.
 */
export async function countsSettled(shared: QuotaShared, user: string): Promise<void> {
  for (let running = shared.counting.get(user); running; running = shared.counting.get(user)) {
    await running.catch(() => undefined);
  }
}

/**
 * Moves the stored usage of `user` by `deltaBytes`. A failure is logged, not thrown: the
 * change on disk happened, and the count is made unknown so the next check walks again.
 *
 * @example
 * ```ts
 * await recordUsage(store, 'ann', -removedBytes, log);
 * ```
 */
export async function recordUsage(
  store: UserStore,
  user: string,
  deltaBytes: number,
  log: Logger,
): Promise<void> {
  try {
    await store.addUsage(user, deltaBytes);
  } catch (err) {
    log.warn({ user, err: (err as Error).message }, 'cannot count usage; it will be counted again');
    await forgetUsage(store, user, log);
  }
}

/** Makes the stored usage of `user` unknown: after a change whose size is not known. */
export async function forgetUsage(store: UserStore, user: string, log: Logger): Promise<void> {
  await store.setUsage(user, null).catch((err: unknown) => {
    log.warn({ user, err: (err as Error).message }, 'cannot reset the usage count');
  });
}
