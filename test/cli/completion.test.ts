/**
 * `sockit completion bash|zsh|fish`: each script, printed by the real command, is loaded into
 * the real shell and asked what a TAB offers: bash through its completion function with
 * COMP_WORDS (test/cli/complete.bash), zsh by typing into an interactive zsh (complete.zsh), fish with
 * `complete -C`. What is expected is read from the commander tree, so commands and options
 * added later are covered too.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Command, Option } from 'commander';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eachCommand } from '../../src/cli/command-tree.js';
import { completionScript, type Shell } from '../../src/cli/completion.js';
import { program } from '../../src/cli/program.js';
import { LOG_LEVELS } from '../../src/runtime/log.js';
import { requireTools, sockit } from '../helpers.js';

const SHELLS: Shell[] = ['bash', 'zsh', 'fish'];
const BASH_DRIVER = path.join(import.meta.dirname, 'complete.bash');
const ZSH_DRIVER = path.join(import.meta.dirname, 'complete.zsh');
let dir: string;
/** The working folder of the shells, and what is in it: one file and one folder. */
let work: string;
const HERE = ['notes.txt', 'photos'];
const scripts = new Map<Shell, string>();

beforeAll(async () => {
  requireTools('bash', 'zsh', 'fish');
  dir = mkdtempSync(path.join(os.tmpdir(), 'sockit-completion-'));
  work = path.join(dir, 'work');
  mkdirSync(path.join(work, 'photos'), { recursive: true });
  writeFileSync(path.join(work, 'notes.txt'), 'notes\n');
  for (const shell of SHELLS) {
    const printed = await sockit(['completion', shell]);
    expect(printed.stderr).toBe('');
    expect(printed.code).toBe(0);
    const file = path.join(dir, `sockit.${shell}`);
    writeFileSync(file, printed.stdout);
    scripts.set(shell, file);
  }
});

afterAll(() => rmSync(dir, { recursive: true, force: true }));

let runs = 0;

/** The words a TAB at the end of `line` offers in `shell` (sorted, folders without their /). */
function offered(shell: Shell, line: string, script = scripts.get(shell) ?? ''): string[] {
  let words: string[];
  if (shell === 'bash') {
    // COMP_WORDS as bash makes them: split at blanks and at runs of = : @ (COMP_WORDBREAKS).
    const split = [...(line.match(/[=:@]+|[^\s=:@]+/g) ?? []), ...(/\s$/.test(line) ? [''] : [])];
    words = shellOutput('bash', ['--norc', '--noprofile', BASH_DRIVER, script, line, ...split]);
  } else if (shell === 'zsh') {
    const out = path.join(dir, `zsh-${++runs}.out`);
    shellOutput('zsh', ['-f', ZSH_DRIVER, script, out, line]);
    const lines = readFileSync(out, 'utf8').split('\n');
    expect(lines, `zsh did not finish completing ${line}`).toContain('--done--');
    words = lines.filter((l) => l !== '--done--');
  } else {
    // `complete -C` prints each with its description after a tab, an option's value after its --option=.
    const current = line.split(/\s/).pop() ?? '';
    const prefix = current.includes('=') ? current.slice(0, current.indexOf('=') + 1) : '';
    words = shellOutput('fish', [
      '--no-config',
      '-c',
      'source $argv[1]; complete -C $argv[2]',
      script,
      line,
    ]).map((l) => (l.split('\t')[0] ?? '').slice(prefix.length));
  }
  return [...new Set(words.filter(Boolean).map((w) => w.replace(/\/$/, '')))].sort();
}

function shellOutput(shell: string, args: string[]): string[] {
  const result = spawnSync(shell, args, { cwd: work, encoding: 'utf8', timeout: 25_000 });
  expect(result.stderr, `${shell} said`).toBe('');
  expect(result.status).toBe(0);
  return result.stdout.split('\n');
}

const root = await program();
const groups = [{ path: [] as string[], command: root }, ...eachCommand(root)].filter(
  (c) => c.command.commands.length > 0,
);
const upload = eachCommand(root).find((c) => c.path.join(' ') === 'files upload')?.command;

describe.each(SHELLS)('sockit completion %s', (shell) => {
  it.each(groups.map((g) => [['sockit', ...g.path].join(' '), g.command] as const))(
    '%s <TAB> offers its subcommands',
    (line, command) => {
      expect(offered(shell, `${line} `)).toEqual([...command.commands.map((c) => c.name()), 'help'].sort());
    },
  );

  it('completes a started name', () => {
    expect(offered(shell, 'sockit fi')).toEqual(['files']);
  });

  it("offers the command's own options, long and short, and the global ones", () => {
    const long = offered(shell, 'sockit files upload --');
    expect(long).toEqual(
      expect.arrayContaining(['--overwrite', '--to', '--skip-existing', '--log-level', '--help']),
    );
    for (const option of upload?.options ?? []) expect(long).toContain(option.long);
    expect(long).not.toContain('--port');
    expect(offered(shell, 'sockit nc -')).toEqual(
      expect.arrayContaining(['-l', '-k', '-z', '--listen', '--udp']),
    );
  });

  it('offers the choices of an option, wherever it is given', () => {
    expect(offered(shell, 'sockit --log-level ')).toEqual([...LOG_LEVELS].sort());
    expect(offered(shell, 'sockit --log-format ')).toEqual(['auto', 'json', 'pretty']);
    expect(offered(shell, 'sockit echo serve --model ')).toEqual(['cluster', 'event-loop', 'iterative']);
    expect(offered(shell, 'sockit files ls --log-level=')).toEqual([...LOG_LEVELS].sort());
    expect(offered(shell, 'sockit completion ')).toEqual(['bash', 'fish', 'zsh']);
  });

  it("takes an option's value for a value, not for a command or an argument", () => {
    expect(offered(shell, 'sockit --log-format json fi')).toEqual(['files']);
    expect(offered(shell, 'sockit files download -u ann 127.0.0.1 report.pdf ')).toEqual(HERE);
    expect(offered(shell, 'sockit files download --user=ann 127.0.0.1 report.pdf ')).toEqual(HERE);
  });

  it('offers local files and folders where a local path goes, nothing for a remote one', () => {
    expect(offered(shell, 'sockit files download ann@127.0.0.1:7021 report.pdf ')).toEqual(HERE);
    expect(offered(shell, 'sockit files download ann@127.0.0.1:7021 ')).toEqual([]);
    expect(offered(shell, 'sockit files upload ann@127.0.0.1 --to ')).toEqual([]);
    expect(offered(shell, 'sockit tftp serve --root ')).toEqual(['photos']);
  });

  it("offers a command group's subcommands after help", () => {
    expect(offered(shell, 'sockit files help ')).toEqual(
      upload?.parent?.commands.map((c) => c.name()).sort(),
    );
  });

  it('completes commands and options added to the tree later, with no list to edit', async () => {
    const grown = (await program()).addCommand(
      new Command('grown')
        .option('--room <name>', 'the room to join')
        .addOption(new Option('--mood <mood>', 'how to sound').choices(['calm', 'loud'])),
    );
    const script = path.join(dir, `grown.${shell}`);
    writeFileSync(script, completionScript(shell, grown));
    expect(offered(shell, 'sockit gr', script)).toEqual(['grown']);
    expect(offered(shell, 'sockit grown --', script)).toEqual(
      expect.arrayContaining(['--room', '--mood', '--log-level']),
    );
    expect(offered(shell, 'sockit grown --mood ', script)).toEqual(['calm', 'loud']);
  });
});

describe('sockit completion', () => {
  it('says in --help how to install each script', async () => {
    const help = (await sockit(['completion', '--help'])).stdout.toString();
    expect(help).toContain('sockit completion bash > ~/.local/share/bash-completion/completions/sockit');
    expect(help).toContain('source <(sockit completion bash)');
    expect(help).toContain('sockit completion fish > ~/.config/fish/completions/sockit.fish');
    expect(help).toContain('~/.zfunc/_sockit');
  });

  it('refuses a shell it has no script for, as a usage error', async () => {
    const result = await sockit(['completion', 'tcsh']);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/^sockit: .*tcsh.*\[ERR_USAGE\]\n$/);
  });
});
