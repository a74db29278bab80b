import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ErrorCode, SockitError } from '../errors.js';
import { idTime, isMessageId, MAX_NODE, MESSAGE_ID_LENGTH, MessageIds } from './ids.js';

describe('MessageIds', () => {
  it('makes ids that strictly increase as strings, whatever the clock does', () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 0, max: 2 ** 45 }), { minLength: 1, maxLength: 200 }),
        (clock) => {
          const ids = new MessageIds({ node: 5 });
          let last = '';
          for (const now of clock) {
            const id = ids.next(now);
            expect(isMessageId(id)).toBe(true);
            expect(id > last).toBe(true);
            last = id;
          }
        },
      ),
    );
  });

  it('orders by time first, and stamps the node last', () => {
    const a = new MessageIds({ node: 0 });
    const b = new MessageIds({ node: MAX_NODE });
    const early = b.next(1_000);
    const late = a.next(1_001);
    expect(early < late).toBe(true);
    expect(idTime(early)).toBe(1_000);
    expect(early.length).toBe(MESSAGE_ID_LENGTH);
    expect(early.endsWith('ZZ')).toBe(true);
    expect(a.next(1_001).endsWith('00')).toBe(true);
    // Two nodes in the same millisecond never make the same id.
    expect(new MessageIds({ node: 1 }).next(5)).not.toBe(new MessageIds({ node: 2 }).next(5));
  });

  it('borrows the next millisecond when a millisecond runs out of sequence numbers', () => {
    const ids = new MessageIds();
    let last = ids.next(10);
    for (let i = 0; i < 32 ** 4; i++) last = ids.next(10);
    expect(idTime(last)).toBe(11);
    const next = ids.next(11);
    expect(next > last).toBe(true);
  });

  it('continues after a stored id, even when the clock is behind it', () => {
    const before = new MessageIds().next(2_000_000);
    const ids = new MessageIds({ after: before });
    expect(ids.next(1_000) > before).toBe(true);
    expect(() => new MessageIds({ after: 'nope' })).toThrow(SockitError);
  });

  it('refuses a node outside 0 to 1023', () => {
    for (const node of [-1, 1024, 1.5]) {
      try {
        new MessageIds({ node });
        expect.unreachable();
      } catch (err) {
        expect((err as SockitError).code).toBe(ErrorCode.INVALID_ARGUMENT);
      }
    }
  });

  it('recognises only its own form', () => {
    expect(isMessageId('0000000000000000')).toBe(true);
    for (const id of [
      '',
      '000000000000000',
      '00000000000000000',
      '000000000000000I',
      '000000000000000a',
      5,
    ]) {
      expect(isMessageId(id)).toBe(false);
    }
  });
});
