import { describe, expect, it } from 'vitest';
import { ErrorCode, fileError, SockitError } from './errors.js';

const errno = (code: string) => Object.assign(new Error(`${code}: failed`), { code, syscall: 'open' });

function coded(err: unknown): { code: string; message: string } {
  expect(err).toBeInstanceOf(SockitError);
  const { code, message } = err as SockitError;
  return { code, message };
}

describe('fileError', () => {
  it('names the file, whose it is and what to do', () => {
    expect(coded(fileError(errno('ENOENT'), '--tls-cert', 'cert.pem'))).toEqual({
      code: ErrorCode.NOT_FOUND,
      message: '--tls-cert: cert.pem does not exist; check the path',
    });
    expect(coded(fileError(errno('ENOENT'), 'key', 'k', 'read', 'make one')).message).toBe(
      'key: k does not exist; make one',
    );
    expect(coded(fileError(errno('ENOENT'), 'secret new', 'a/k', 'create'))).toEqual({
      code: ErrorCode.NOT_FOUND,
      message: 'secret new: cannot create a/k: the folder it goes in does not exist; make it first',
    });
  });

  it('tells a permission, a file in the way and a folder given for a file apart', () => {
    expect(coded(fileError(errno('EACCES'), '--tls-key', 'key.pem'))).toEqual({
      code: ErrorCode.PATH_DENIED,
      message: '--tls-key: cannot read key.pem: permission denied; check its owner and mode',
    });
    expect(coded(fileError(errno('EPERM'), 'x', 'f', 'create')).code).toBe(ErrorCode.PATH_DENIED);
    expect(coded(fileError(errno('ENOTDIR'), 'x', 'f/g', 'folder'))).toEqual({
      code: ErrorCode.NOT_FOUND,
      message: 'x: cannot make the folder f/g: a part of its path is a file, not a folder',
    });
    expect(coded(fileError(errno('EEXIST'), 'root', 'f', 'folder'))).toEqual({
      code: ErrorCode.INVALID_ARGUMENT,
      message: 'root: f is a file; give a folder',
    });
    expect(coded(fileError(errno('EEXIST'), 'x', 'f', 'create')).code).toBe(ErrorCode.EXISTS);
    expect(coded(fileError(errno('EISDIR'), '--tls-ca', 'dir')).message).toBe(
      '--tls-ca: dir is a folder; give a file',
    );
  });

  it('returns other errors unchanged', () => {
    const other = errno('EIO');
    expect(fileError(other, 'x', 'f')).toBe(other);
    const bug = new TypeError('no');
    expect(fileError(bug, 'x', 'f')).toBe(bug);
  });
});
