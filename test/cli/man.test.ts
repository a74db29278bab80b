/**
 * The man page `npm run build` writes to dist/man/sockit.1 from the command tree: it renders
 * without a warning, and holds every command with its options and examples, the exit
 * statuses of docs/cli.md and every environment variable the sources read.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import type { Command } from 'commander';
import { beforeAll, describe, expect, it } from 'vitest';
import { eachCommand } from '../../src/cli/command-tree.js';
import { ExitStatus } from '../../src/cli/exit-status.js';
import { exitStatuses } from '../../src/cli/man.js';
import { program } from '../../src/cli/program.js';
import { ROOT, requireTools } from '../helpers.js';

const PAGE = path.join(ROOT, 'dist/man/sockit.1');
const root = await program();
const commands = eachCommand(root);
/** The page as `man` shows it, without bold and underlining. */
let text: string;

beforeAll(() => {
  requireTools('groff');
  if (!existsSync(PAGE)) throw new Error(`${PAGE} is missing: run "npm run build" first (npm test does)`);
  const rendered = spawnSync('groff', ['-man', '-Tutf8', '-ww', '-P', '-cbou', PAGE], { encoding: 'utf8' });
  expect(rendered.stderr).toBe('');
  expect(rendered.status).toBe(0);
  text = rendered.stdout;
});

/** The part of the page under a heading (a line at the margin) up to the next one. */
function section(heading: string): string {
  return text.split(new RegExp(`^${heading}$`, 'm'))[1]?.split(/^\S/m)[0] ?? '';
}

/** What `addHelpText('after', ...)` adds to the command's --help, as --help prints it. */
function afterHelp(command: Command): string {
  let out = '';
  command.configureOutput({ writeOut: (s) => (out += s) }).outputHelp();
  return out.slice(out.indexOf(command.helpInformation()) + command.helpInformation().length);
}

describe('man page sockit(1)', () => {
  it('renders with groff without a warning and has the sections of a man page', () => {
    for (const heading of [
      'NAME',
      'SYNOPSIS',
      'DESCRIPTION',
      'COMMANDS',
      'EXIT STATUS',
      'ENVIRONMENT',
      'FILES',
    ]) {
      expect(text).toMatch(new RegExp(`^${heading}$`, 'm'));
    }
    expect(section('NAME').replace(/\s+/g, ' ')).toContain(`sockit - ${root.description()}`);
  });

  it('has every command, found in the tree, with its options (not the hidden ones)', () => {
    expect(commands.length).toBeGreaterThanOrEqual(28);
    for (const { path: names, command } of commands) {
      const title = ['sockit', ...names].join(' ');
      expect(text).toMatch(new RegExp(`^ {3}${title}$`, 'm'));
      const own = text.split(new RegExp(`^ {3}${title}$`, 'm'))[1]?.split(/^ {3}\S/m)[0] ?? '';
      for (const option of command.options.filter((o) => !o.hidden)) {
        expect(own, `${title} ${option.flags}`).toContain(option.long);
      }
    }
  });

  it("has every command's examples, as --help prints them", () => {
    for (const { path: names, command } of commands) {
      const examples =
        afterHelp(command)
          .split(/\nExamples?:\n/)[1]
          ?.split('\n\n')[0] ?? '';
      const lines = examples.split('\n').filter((l) => l.startsWith('  '));
      expect(lines.length, ['sockit', ...names].join(' ')).toBeGreaterThan(0);
      for (const line of lines) expect(text).toContain(`           ${line.trim()}`);
    }
  });

  it("has docs/cli.md's exit statuses, the usage one among them", () => {
    const statuses = exitStatuses(readFileSync(path.join(ROOT, 'docs/cli.md'), 'utf8'));
    expect(statuses.map((s) => s.status)).toEqual(
      expect.arrayContaining(['0', '1', String(ExitStatus.USAGE)]),
    );
    const listed = section('EXIT STATUS');
    for (const { status } of statuses) expect(listed).toMatch(new RegExp(`^ {7}${status} `, 'm'));
  });

  it('has every environment variable the sources read', () => {
    const read = new Set<string>();
    const sources = (dir: string): string[] =>
      readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
        const file = path.join(dir, entry.name);
        if (entry.isDirectory()) return sources(file);
        return entry.name.endsWith('.ts') && !entry.name.endsWith('.test.ts') ? [file] : [];
      });
    for (const file of sources(path.join(ROOT, 'src'))) {
      const code = readFileSync(file, 'utf8');
      // env.NAME, .env('NAME') (commander), and constants such as PASSWORD_ENV = 'NAME'.
      for (const match of code.matchAll(
        /\benv\.([A-Z][A-Z0-9_]+)|\.env\('([A-Z0-9_]+)'\)|_ENV = '([A-Z0-9_]+)'/g,
      )) {
        read.add(match[1] ?? match[2] ?? match[3] ?? '');
      }
    }
    expect([...read]).toEqual(
      expect.arrayContaining(['SOCKIT_DATA_DIR', 'SOCKIT_PASSWORD', 'SOCKIT_USER', 'NO_COLOR']),
    );
    const listed = section('ENVIRONMENT');
    for (const variable of read) expect(listed).toMatch(new RegExp(`^ {7}${variable}$`, 'm'));
  });
});
