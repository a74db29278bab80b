import { describe, expect, it } from 'vitest';
import { isSockitError } from '../errors.js';
import { parseEndpoint, parseHostPort } from './args.js';
import { parseServer } from './files.js';
import { parseTftpHost } from './tftp.js';

function codeOfCall(f: () => unknown): string {
  try {
    f();
  } catch (err) {
    if (isSockitError(err)) return err.code;
    throw err;
  }
  return 'returned';
}

describe('parseEndpoint: the one HOST:PORT parser of the command line', () => {
  it('accepts every form, with the default port where none is given', () => {
    expect(parseEndpoint('files.lan', 7021)).toEqual({ host: 'files.lan', port: 7021 });
    expect(parseEndpoint('127.0.0.1:8000', 7021)).toEqual({ host: '127.0.0.1', port: 8000 });
    expect(parseEndpoint('[::1]:8000', 7021)).toEqual({ host: '::1', port: 8000 });
    expect(parseEndpoint('[::1]', 7021)).toEqual({ host: '::1', port: 7021 });
    expect(parseEndpoint('::1', 7021)).toEqual({ host: '::1', port: 7021 });
    expect(parseEndpoint('2001:db8::5', 69)).toEqual({ host: '2001:db8::5', port: 69 });
    expect(parseEndpoint('localhost:65535')).toEqual({ host: 'localhost', port: 65535 });
  });

  it.each([
    'localhost:99999',
    '127.0.0.1:abc',
    ':0',
    ':7021',
    'localhost:',
    '[::1]:',
    '[::1]:0',
    '[files.lan]:7021',
    'a b:7021',
    '',
    '1.2.3.4:7021:9',
    'host:+80',
  ])('refuses %j with ERR_INVALID_ARGUMENT', (value) => {
    expect(codeOfCall(() => parseEndpoint(value, 7021))).toBe('ERR_INVALID_ARGUMENT');
  });

  it('requires the port where there is no default', () => {
    expect(codeOfCall(() => parseHostPort('localhost'))).toBe('ERR_INVALID_ARGUMENT');
    expect(codeOfCall(() => parseHostPort('[::1]'))).toBe('ERR_INVALID_ARGUMENT');
    expect(parseHostPort('[::1]:7007')).toEqual({ host: '::1', port: 7007 });
  });

  it('is what files and tftp use, each with its own default port', () => {
    expect(parseServer('[::1]')).toEqual({ host: '::1', port: 7021 });
    expect(parseTftpHost('[::1]')).toEqual({ host: '::1', port: 69 });
    expect(parseTftpHost('[::1]:6969')).toEqual({ host: '::1', port: 6969 });
    expect(codeOfCall(() => parseTftpHost('127.0.0.1:abc'))).toBe('ERR_INVALID_ARGUMENT');
    expect(codeOfCall(() => parseServer('localhost:99999'))).toBe('ERR_INVALID_ARGUMENT');
  });
});
