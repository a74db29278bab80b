import { describe, expect, it } from 'vitest';
import { counted } from './plural.js';

describe('counted', () => {
  it('says "1 block", never "1 blocks", and the plural otherwise', () => {
    expect(counted(1, 'block')).toBe('1 block');
    expect(counted(0, 'block')).toBe('0 blocks');
    expect(counted(2n, 'retransmit')).toBe('2 retransmits');
    expect(counted('1', 'subnet')).toBe('1 subnet');
    expect(counted(5, 'entry', 'entries')).toBe('5 entries');
  });

  it('takes the number apart from its formatted text', () => {
    expect(counted('1,024', 'message', undefined, 1024)).toBe('1,024 messages');
    expect(counted('1', 'message', undefined, 1)).toBe('1 message');
  });
});
