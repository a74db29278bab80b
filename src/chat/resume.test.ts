import { describe, expect, it } from 'vitest';
import { firstIdAt, idTime, MessageIds } from './ids.js';
import { Resume } from './resume.js';

describe('Resume', () => {
  it('asks again from the margin before the newest id, and shows nothing twice', () => {
    const a = new MessageIds({ node: 1 });
    const b = new MessageIds({ node: 2 });
    const t = 1_800_000_000_000;
    const resume = new Resume(5000);
    expect(resume.after()).toBeUndefined();
    const fromB = b.next(t); // on its way from node 2 when the connection broke
    const seen = [a.next(t + 1), a.next(t + 2)];
    for (const id of seen) expect(resume.take(id)).toBe(true);
    expect(resume.newest).toBe(seen[1]);
    const after = resume.after() as string;
    expect(idTime(after)).toBe(t + 2 - 5000);
    expect(after < fromB).toBe(true);
    // What the server sends from `after` on: the two seen again, and the one missed.
    expect([...seen, fromB].sort().map((id) => resume.take(id))).toEqual([true, false, false]);
    // Older than the margin: history from before, not shown again.
    expect(resume.take(new MessageIds({ node: 3 }).next(t - 10_000))).toBe(false);
  });

  it('keeps what it remembers bounded, and still refuses repeats within the margin', () => {
    const ids = new MessageIds({ node: 0 });
    const resume = new Resume(1000);
    const all: string[] = [];
    for (let i = 0; i < 100_000; i++) {
      const id = ids.next(1_800_000_000_000 + i);
      all.push(id);
      expect(resume.take(id)).toBe(true);
    }
    // One id a millisecond, a margin of 1000 ms: about 1000 remembered, 2048 before a prune at most.
    expect(resume.remembered).toBeLessThanOrEqual(2049);
    for (const id of all.slice(-900)) expect(resume.take(id)).toBe(false);
    expect(firstIdAt(idTime(all.at(-1) as string))).toBe(`${(all.at(-1) as string).slice(0, 10)}000000`);
  });
});
