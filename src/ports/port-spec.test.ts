import { describe, expect, it } from 'vitest';
import { codeOf } from '../../test/codes.js';
import { ErrorCode } from '../errors.js';
import { inPortSpan, parsePortSpec } from './port-spec.js';

describe('parsePortSpec', () => {
  it('reads a port, a range and a service name', () => {
    expect(parsePortSpec('5432')).toEqual({ from: 5432, to: 5432 });
    expect(parsePortSpec('8000-8100')).toEqual({ from: 8000, to: 8100 });
    expect(parsePortSpec(' 1 - 2 ')).toEqual({ from: 1, to: 2 });
    expect(parsePortSpec('ssh')).toEqual({ from: 22, to: 22 });
    expect(parsePortSpec('HTTPS')).toEqual({ from: 443, to: 443 });
  });

  it.each(['70000', '100-70000', '9-3', 'nope', '', '1-', '-5', '1.5'])('refuses %j', async (text) => {
    expect(await codeOf(Promise.resolve().then(() => parsePortSpec(text)))).toBe(ErrorCode.INVALID_ARGUMENT);
  });

  it('includes both ends of a span', () => {
    const span = { from: 10, to: 20 };
    expect([9, 10, 20, 21].map((p) => inPortSpan(p, span))).toEqual([false, true, true, false]);
  });
});
