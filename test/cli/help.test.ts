/**
 * Every command's `--help`, found by walking the commander tree that `sockit` itself runs
 * (program.ts's `program()`, every subcommand loaded), so a command added later is checked without editing this list:
 * each ends with examples, and no option shows its default twice.
 */
import type { Command } from 'commander';
import { describe, expect, it } from 'vitest';
import { eachCommand } from '../../src/cli/command-tree.js';
import { program } from '../../src/cli/program.js';

/** What `sockit PATH --help` prints, `addHelpText` parts included, without exiting. */
function helpOf(command: Command): string {
  let out = '';
  command.configureOutput({
    writeOut: (s) => {
      out += s;
    },
    writeErr: (s) => {
      out += s;
    },
  });
  command.outputHelp();
  return out;
}

const root = await program();
const commands = [
  { path: '(sockit)', command: root },
  ...eachCommand(root).map(({ path, command }) => ({ path: path.join(' '), command })),
];

describe('sockit --help for every command', () => {
  it('finds the whole tree, not a hand-written list', () => {
    const paths = commands.map((c) => c.path);
    for (const expected of [
      'serve',
      'echo bench',
      'tftp put',
      'files download',
      'users quota',
      'secret new',
      'ip',
      'ports',
    ]) {
      expect(paths).toContain(expected);
    }
    expect(paths.length).toBeGreaterThanOrEqual(27);
  });

  it.each(commands.map((c) => [c.path, c.command] as const))(
    '%s has an Examples section',
    (_path, command) => {
      expect(helpOf(command)).toMatch(/\nExamples?:\n {2}\S/);
    },
  );

  it.each(commands.map((c) => [c.path, c.command] as const))(
    '%s shows no default twice',
    (_path, command) => {
      const help = command.createHelp();
      // Per option, before wrapping: a hand-written "(default: ...)" plus commander's own is two.
      const twice = command.options
        .map((option) => help.optionDescription(option))
        .filter((text) => (text.match(/\(default:|default: /g) ?? []).length > 1);
      expect(twice).toEqual([]);
    },
  );

  it('files upload --to says its default once, in words', () => {
    const upload = commands.find((c) => c.path === 'files upload')?.command;
    const to = upload?.options.find((o) => o.long === '--to');
    expect(to && upload?.createHelp().optionDescription(to)).toBe(
      'remote folder to upload into (default: your home)',
    );
  });
});
