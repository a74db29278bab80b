import { Command } from 'commander';
import { describe, expect, it } from 'vitest';
import { levelOf, outputOptions, plainLine } from './output.js';

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

describe('levelOf', () => {
  it("is debug with -v, error with -q, else the command's own", () => {
    expect(levelOf({ verbose: true })).toBe('debug');
    expect(levelOf({ quiet: true })).toBe('error');
    expect(levelOf({})).toBe('warn');
    expect(levelOf({}, 'info')).toBe('info');
  });
});

describe('outputOptions', () => {
  const parse = (help: Parameters<typeof outputOptions>[1], args: string[]) => {
    const command = outputOptions(new Command('x').exitOverride(), help).configureOutput({
      writeErr: () => {},
    });
    command.parse(['node', 'x', ...args]);
    return command.opts();
  };

  it('adds only the flags it is given help for', () => {
    expect(parse({ json: 'j', quiet: 'q', verbose: 'v' }, ['--json', '-q'])).toEqual({
      json: true,
      quiet: true,
    });
    expect(() => parse({ quiet: 'q' }, ['-v'])).toThrow(/unknown option '-v'/);
  });

  it('refuses -q with -v', () => {
    expect(() => parse({ quiet: 'q', verbose: 'v' }, ['-q', '-v'])).toThrow(/cannot be used with/);
  });
});
