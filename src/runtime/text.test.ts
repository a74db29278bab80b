import { describe, expect, it } from 'vitest';
import { visible } from './text.js';

describe('visible', () => {
  it('writes out what could forge or reorder a line, and keeps the rest as it is', () => {
    expect(visible('mallory\n8:12:09 AM INFO  logged in user=ann')).toBe(
      'mallory\\u{a}8:12:09 AM INFO  logged in user=ann',
    );
    expect(visible('evil\u202eNIMDA')).toBe('evil\\u{202e}NIMDA');
    expect(visible('\u009b31m\u0000\u007f\u200b\u2066')).toBe('\\u{9b}31m\\u{0}\\u{7f}\\u{200b}\\u{2066}');
    expect(visible('Zoë 李 🙂 tab-free')).toBe('Zoë 李 🙂 tab-free');
  });

  it('cuts at the length asked, marking the cut', () => {
    expect(visible('x'.repeat(70), 64)).toBe(`${'x'.repeat(64)}\u2026`);
    expect(visible('short', 64)).toBe('short');
  });
});
