import { Command } from 'commander';
import { describe, expect, it } from 'vitest';
import { levelOf, outputOptions } from './output.js';

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
