/**
 * Expiry of upload parts: a part kept for a resume that never comes would hold its bytes
 * (and the user's quota) for ever, so parts untouched for longer than a limit are removed,
 * at start and then periodically. A part being written to (its upload is in the busy set)
 * is left alone, however old.
 */
import type { ConfinedRoot } from '../runtime/confine.js';
import { PARTS_FOLDER, partId } from './storage.js';

/** Default age after which an untouched part is removed: a day. */
export const DEFAULT_PART_TTL_MS = 24 * 60 * 60 * 1000;

/**
 * Removes parts (and their descriptions) not modified for `ttlMs`, except those of uploads
 * in `busy` ("user/path" keys). Resolves to how many files were removed.
 *
 * @example
 * ```ts
 * const removed = await sweepParts(root, DEFAULT_PART_TTL_MS, new Set());
 * ```
 */
export async function sweepParts(
  root: ConfinedRoot,
  ttlMs: number,
  busy: ReadonlySet<string>,
  now = Date.now(),
  /** Told the bytes of each removed part, with its user (usage counts parts). */
  onRemoved?: (user: string, bytes: number) => Promise<void>,
): Promise<number> {
  let removed = 0;
  const users = await root.readdir([PARTS_FOLDER]).catch(() => []);
  for (const user of users) {
    if (!user.stats.isDirectory()) continue;
    const files = await root.readdir([PARTS_FOLDER, user.name]).catch(() => []);
    for (const { name, stats } of files) {
      if (!stats.isFile() || now - stats.mtimeMs < ttlMs) continue;
      const id = name.replace(/\.(part|json)$/, '');
      // Checked just before the unlink starts: an upload marks itself busy before it touches its part.
      if (inUse(busy, user.name, id)) continue;
      const gone = await root.unlink([PARTS_FOLDER, user.name, name]).then(
        () => true,
        () => false,
      );
      if (!gone) continue;
      removed++;
      if (name.endsWith('.part')) await onRemoved?.(user.name, stats.size);
    }
  }
  return removed;
}

function inUse(busy: ReadonlySet<string>, user: string, id: string): boolean {
  for (const key of busy) {
    const slash = key.indexOf('/');
    if (key.slice(0, slash) === user && partId(key.slice(slash + 1)) === id) return true;
  }
  return false;
}
