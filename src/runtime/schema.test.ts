import { describe, expect, it } from 'vitest';
import * as z from './schema.js';

describe('schema', () => {
  const Request = z.object({
    op: z.literal('get'),
    path: z.string().check(z.minLength(1), z.maxLength(8)),
    offset: z.optional(z.int().check(z.minimum(0))),
  });

  it('says what is wrong in English, with where', () => {
    const parsed = Request.safeParse({ op: 'get', path: 42 });
    expect(parsed.success).toBe(false);
    if (parsed.success) return;
    expect(z.firstIssue(parsed.error)).toBe('path: Invalid input: expected string, received number');
  });

  it('names the limit a value broke', () => {
    const parsed = Request.safeParse({ op: 'get', path: 'a-long-name', offset: -1 });
    expect(parsed.success).toBe(false);
    if (parsed.success) return;
    expect(z.firstIssue(parsed.error)).toBe('path: Too big: expected string to have <=8 characters');
    expect(parsed.error.issues.map((i) => i.path.join('.'))).toEqual(['path', 'offset']);
  });

  it('keeps what it accepts, and only that', () => {
    expect(Request.parse({ op: 'get', path: 'a', extra: 1 })).toEqual({ op: 'get', path: 'a' });
    expect(Request.safeParse({ op: 'get', path: 'a', offset: 1.5 }).success).toBe(false);
  });
});
