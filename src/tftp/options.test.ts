import { describe, expect, it } from 'vitest';
import { acceptOack, bufferWindowCap, negotiate, type ServerLimits, windowCap } from './options.js';

const limits: ServerLimits = { maxBlksize: 65464, maxWindowsize: 64, refuse: new Set(), maxFileSize: 1000 };
const ask = (entries: [string, string][]): Map<string, string> => new Map(entries);

describe('option negotiation', () => {
  it('answers only the options asked for (no unasked tsize for EFI PXE)', () => {
    const r = negotiate(ask([['blksize', '1468']]), limits, 'read', 5000);
    expect(r).toMatchObject({ ok: true, oack: new Map([['blksize', '1468']]) });
  });

  it('gives tsize on a read as the file size, and no OACK when nothing is granted', () => {
    expect(negotiate(ask([['tsize', '0']]), limits, 'read', 5000)).toMatchObject({
      ok: true,
      oack: new Map([['tsize', '5000']]),
    });
    expect(negotiate(ask([['foo', 'bar']]), limits, 'read', 5000)).toMatchObject({
      ok: true,
      oack: undefined,
    });
  });

  it('lowers blksize and windowsize to the limits, and caps the window bytes', () => {
    const r = negotiate(
      ask([
        ['blksize', '99999'],
        ['windowsize', '65535'],
      ]),
      limits,
      'read',
      0,
    );
    expect(r.ok && r.options.blksize).toBe(65464);
    expect(r.ok && r.options.windowsize).toBe(Math.min(64, windowCap(65464)));
  });

  it('refuses blksize below 8 and windowsize 0 with ERROR 8', () => {
    expect(negotiate(ask([['blksize', '7']]), limits, 'read', 0)).toMatchObject({ ok: false, code: 8 });
    expect(negotiate(ask([['windowsize', '0']]), limits, 'read', 0)).toMatchObject({ ok: false, code: 8 });
    expect(negotiate(ask([['blksize', 'big']]), limits, 'read', 0)).toMatchObject({ ok: false, code: 8 });
  });

  it('refuses an upload whose tsize is over the limit with ERROR 3', () => {
    expect(negotiate(ask([['tsize', '1001']]), limits, 'write', undefined)).toMatchObject({
      ok: false,
      code: 3,
    });
  });

  it('leaves out refused options and out-of-range timeouts', () => {
    const r = negotiate(
      ask([
        ['tsize', '0'],
        ['timeout', '0'],
        ['blksize', '1024'],
      ]),
      { ...limits, refuse: new Set(['tsize']) },
      'read',
      10,
    );
    expect(r).toMatchObject({ ok: true, oack: new Map([['blksize', '1024']]) });
  });

  it('grants no window larger than a receive buffer holds at once', () => {
    expect(bufferWindowCap(512, 212_992)).toBeLessThanOrEqual(166);
    expect(bufferWindowCap(1468, 212_992)).toBeLessThanOrEqual(92);
    expect(bufferWindowCap(8192, 212_992)).toBeLessThanOrEqual(12);
    expect(bufferWindowCap(65464, 212_992)).toBe(1);
    const r = negotiate(
      ask([
        ['blksize', '8192'],
        ['windowsize', '16'],
      ]),
      { ...limits, receiveBuffer: 212_992 },
      'read',
      0,
    );
    expect(r.ok && r.options.windowsize).toBe(bufferWindowCap(8192, 212_992));
  });

  it('as a client, refuses an OACK that raises a value or adds an option', () => {
    const asked = ask([
      ['blksize', '1024'],
      ['tsize', '0'],
    ]);
    expect(acceptOack(asked, ask([['blksize', '512']]))).toMatchObject({
      ok: true,
      options: { blksize: 512 },
    });
    expect(acceptOack(asked, ask([['blksize', '2048']]))).toMatchObject({ ok: false });
    expect(acceptOack(asked, ask([['windowsize', '4']]))).toMatchObject({ ok: false });
    expect(acceptOack(asked, ask([['tsize', '123']]))).toMatchObject({ ok: true, options: { tsize: 123 } });
  });
});
