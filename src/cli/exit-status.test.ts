import { readFileSync } from 'node:fs';
import { CommanderError } from 'commander';
import { describe, expect, it } from 'vitest';
import { ErrorCode, SockitError } from '../errors.js';
import { remoteError, timeoutError } from '../tftp/errors.js';
import { ExitStatus, exitStatus, STATUS_OF_CODE } from './exit-status.js';
import { failureLine } from './failure.js';

const ALL_CODES = Object.values(ErrorCode);
const STATUSES: number[] = Object.values(ExitStatus);

function systemError(code: string, message = `${code}: it failed`): NodeJS.ErrnoException {
  return Object.assign(new Error(message), { code, syscall: 'open' });
}

/** The docs/cli.md "Exit codes" table: each status with the codes its row lists. */
function documentedTable(): Map<number, string[]> {
  const text = readFileSync(new URL('../../docs/cli.md', import.meta.url), 'utf8');
  const section = text.slice(text.indexOf('## Exit codes'), text.indexOf('## The data folder'));
  const rows = new Map<number, string[]>();
  for (const line of section.split('\n')) {
    const row = /^\| (\d+) \|[^|]*\|(.*)\|$/.exec(line);
    if (row)
      rows.set(
        Number(row[1]),
        [...(row[2] as string).matchAll(/`(ERR_[A-Z_]+)`/g)].map((m) => m[1] as string),
      );
  }
  return rows;
}

describe('exit statuses', () => {
  it('gives every ErrorCode a status of the table, so that no new code is forgotten', () => {
    const unmapped = ALL_CODES.filter((code) => !STATUSES.includes(STATUS_OF_CODE[code]));
    expect(unmapped).toEqual([]);
    for (const code of ALL_CODES)
      expect(exitStatus(new SockitError(code, 'x')), code).toBe(STATUS_OF_CODE[code]);
  });

  it('uses no status that shells give a meaning of their own, but the signals they stand for', () => {
    // 130: SIGINT (Ctrl-C); 141: SIGPIPE (the reader of stdout went away).
    for (const status of STATUSES)
      expect(status <= 125 || [130, 141].includes(status), String(status)).toBe(true);
    expect(new Set(STATUSES).size).toBe(STATUSES.length);
  });

  it('documents each code under its status in docs/cli.md, and every status', () => {
    const table = documentedTable();
    expect([...table.keys()].sort((a, b) => a - b)).toEqual([...STATUSES].sort((a, b) => a - b));
    const documented = [...table.entries()].flatMap(([status, codes]) => codes.map((code) => [code, status]));
    expect(Object.fromEntries(documented)).toEqual(
      Object.fromEntries(ALL_CODES.map((code) => [code, STATUS_OF_CODE[code]])),
    );
  });

  it('splits the failures by kind', () => {
    const status = (code: ErrorCode) => exitStatus(new SockitError(code, 'x'));
    expect(status(ErrorCode.NOT_FOUND)).toBe(3);
    expect(status(ErrorCode.USER_NOT_FOUND)).toBe(3);
    expect(status(ErrorCode.AUTH_FAILED)).toBe(4);
    expect(status(ErrorCode.FORBIDDEN)).toBe(4);
    expect(status(ErrorCode.CONNECT_FAILED)).toBe(5);
    expect(status(ErrorCode.TFTP_TIMEOUT)).toBe(5);
    expect(status(ErrorCode.QUOTA_EXCEEDED)).toBe(6);
    expect(status(ErrorCode.EXISTS)).toBe(6);
    expect(status(ErrorCode.TOO_MANY_CONNECTIONS)).toBe(6);
    expect(status(ErrorCode.TLS_HANDSHAKE)).toBe(7);
    expect(status(ErrorCode.DATABASE)).toBe(1);
    expect(status(ErrorCode.USAGE)).toBe(2);
    expect(status(ErrorCode.INTERNAL)).toBe(70);
    expect(status(ErrorCode.ABORTED)).toBe(130);
  });

  it('maps system errors through the code their errno means; any other errno is ERR_IO', () => {
    expect(exitStatus(systemError('ENOENT'))).toBe(ExitStatus.NOT_FOUND);
    expect(exitStatus(systemError('EACCES'))).toBe(ExitStatus.AUTH);
    expect(exitStatus(systemError('ECONNREFUSED'))).toBe(ExitStatus.NETWORK);
    expect(exitStatus(systemError('ECONNRESET'))).toBe(ExitStatus.NETWORK);
    expect(exitStatus(systemError('EEXIST'))).toBe(ExitStatus.REFUSED);
    expect(exitStatus(systemError('ENOSPC'))).toBe(ExitStatus.FAILURE);
    expect(failureLine(systemError('ENOENT', "ENOENT: no such file or directory, open 'a'"))).toBe(
      "sockit: ENOENT: no such file or directory, open 'a' [ERR_NOT_FOUND]\n",
    );
    expect(failureLine(systemError('ENOSPC'))).toBe('sockit: ENOSPC: it failed [ERR_IO]\n');
  });

  it('counts a TFTP ERROR packet as the refusal its TFTP code means', () => {
    expect(exitStatus(remoteError(1, 'File not found'))).toBe(ExitStatus.NOT_FOUND);
    expect(exitStatus(remoteError(2, 'Access violation'))).toBe(ExitStatus.AUTH);
    expect(exitStatus(remoteError(6, 'File already exists'))).toBe(ExitStatus.REFUSED);
    expect(exitStatus(remoteError(0, 'no writes here'))).toBe(ExitStatus.REFUSED);
    expect(exitStatus(timeoutError(5, 22_000))).toBe(ExitStatus.NETWORK);
  });

  it("keeps commander's statuses, and calls anything without a code a bug", () => {
    expect(exitStatus(new CommanderError(0, 'commander.helpDisplayed', ''))).toBe(0);
    expect(exitStatus(new CommanderError(1, 'commander.unknownOption', ''))).toBe(ExitStatus.USAGE);
    expect(exitStatus(new TypeError('x is undefined'))).toBe(ExitStatus.INTERNAL);
    expect(failureLine(new TypeError('x is undefined'))).toMatch(
      /^sockit: internal error: TypeError: x is undefined\n\s+at /,
    );
  });

  it('prints a message that ends in a line break (as OpenSSL words them) on one line', () => {
    const err = new SockitError(ErrorCode.CONNECT_FAILED, 'a:\nwrong version number:x.c:77:\n');
    expect(failureLine(err)).toBe('sockit: a: wrong version number:x.c:77: [ERR_CONNECT_FAILED]\n');
  });
});
