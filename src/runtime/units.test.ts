import { describe, expect, it } from 'vitest';
import { formatBytes, groupDigits } from './units.js';

describe('groupDigits', () => {
  it('groups whole numbers as en-US does', () => {
    const samples = [0, 1, 12, 999, 1000, 1024, 65535, 600000, 1234567, 10_000_000, -1, -1000, -9876543];
    for (let i = 0; i < 200; i++) samples.push(Math.floor(Math.random() * 10 ** (1 + (i % 15))));
    for (const n of samples) expect(groupDigits(n)).toBe(n.toLocaleString('en-US'));
  });

  it('keeps a fraction as it is written', () => {
    expect(groupDigits(1234.5)).toBe('1,234.5');
    expect(groupDigits(-0.25)).toBe('-0.25');
  });

  it('leaves what is not a plain number alone', () => {
    expect(groupDigits(Number.NaN)).toBe('NaN');
    expect(groupDigits(Number.POSITIVE_INFINITY)).toBe('Infinity');
    expect(groupDigits(1e21)).toBe('1e+21');
  });
});

describe('formatBytes', () => {
  it('uses binary units with one decimal past bytes', () => {
    expect(formatBytes(512)).toBe('512 B');
    expect(formatBytes(1536)).toBe('1.5 KiB');
    expect(formatBytes(3.2 * 1024 ** 3)).toBe('3.2 GiB');
  });
});
