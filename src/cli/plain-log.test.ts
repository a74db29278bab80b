import { describe, expect, it } from 'vitest';
import { plainLine } from './plain-log.js';

describe('plainLine', () => {
  it('writes the message, then each field as key=value, quoting what has spaces', () => {
    const entry = { level: 20, msg: 'options negotiated', blksize: 1428, ok: true, who: 'ann b', none: null };
    expect(plainLine('tftp', entry)).toBe(
      'tftp: options negotiated blksize=1428 ok=true who="ann b" none=null\n',
    );
  });

  it('writes objects as compact JSON', () => {
    const entry = { level: 20, msg: 'request sent', asked: { blksize: '1428', tsize: '0' } };
    expect(plainLine('tftp', entry)).toBe('tftp: request sent asked={"blksize":"1428","tsize":"0"}\n');
  });

  it("takes an error's message as the line when there is no message, else as a field", () => {
    expect(plainLine('nc', { level: 50, err: { type: 'Error', message: 'reset', stack: '...' } })).toBe(
      'nc: reset\n',
    );
    expect(plainLine('nc', { level: 40, msg: 'peer left', err: { message: 'reset' } })).toBe(
      'nc: peer left err=reset\n',
    );
  });
});
