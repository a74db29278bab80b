/**
 * The `sockit` launcher that set-up writes to .tools/bin: it must run this checkout's build
 * from any folder with nothing but the system's PATH (no Node on it).
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT, requireTools } from '../helpers.js';

let dir: string;

beforeAll(() => {
  requireTools();
  dir = mkdtempSync(path.join(os.tmpdir(), 'sockit-launcher-'));
});

afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Calls write_launcher from scripts/launcher.sh, the function scripts/setup.sh uses. */
function writeLauncher(into: string): void {
  const result = spawnSync(
    'bash',
    ['-c', 'source "$0/scripts/launcher.sh" && write_launcher "$1" "$2" "$0"', ROOT, into, process.execPath],
    { encoding: 'utf8' },
  );
  expect(result.status, result.stderr).toBe(0);
}

describe('the sockit launcher', () => {
  it('runs sockit from another folder with a PATH that has no Node', () => {
    // A quote and a space in the folder: the launcher must quote what it embeds.
    const bin = path.join(dir, "it's here", 'bin');
    writeLauncher(bin);
    const launcher = path.join(bin, 'sockit');
    expect(statSync(launcher).mode & 0o111).not.toBe(0);
    const elsewhere = path.join(dir, 'elsewhere');
    mkdirSync(elsewhere);
    const { version } = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as {
      version: string;
    };
    const ran = spawnSync('sockit', ['--version'], {
      cwd: elsewhere,
      env: { PATH: `${bin}:/usr/bin:/bin`, HOME: dir },
      encoding: 'utf8',
    });
    expect(ran.status, ran.stderr).toBe(0);
    expect(ran.stdout).toBe(`${version}\n`);
  });

  it('runs Node without concurrent Sparkplug, as the #! line of the entry point does (a hang at exit)', () => {
    const bin = path.join(dir, 'flags', 'bin');
    writeLauncher(bin);
    expect(readFileSync(path.join(bin, 'sockit'), 'utf8')).toMatch(
      /\nexec '[^']+' --no-concurrent-sparkplug '[^']+\/dist\/cli\/main\.cjs' "\$@"\n/,
    );
    const main = readFileSync(path.join(ROOT, 'dist', 'cli', 'main.cjs'), 'utf8');
    expect(main.slice(0, main.indexOf('\n'))).toBe('#!/usr/bin/env -S node --no-concurrent-sparkplug');
  });

  it('makes `man sockit` find the man page the build wrote, through PATH alone', () => {
    requireTools('man');
    const bin = path.join(dir, "it's here", 'bin');
    writeLauncher(bin);
    // man-db looks beside each PATH folder (DIR/../share/man) when MANPATH is not set.
    const env = { PATH: `${bin}:/usr/bin:/bin`, HOME: dir, MANPAGER: 'cat', MANWIDTH: '80' };
    const found = spawnSync('man', ['-w', 'sockit'], { env, encoding: 'utf8' });
    expect(found.status, found.stderr).toBe(0);
    // Through the link set-up made beside the launcher's folder, which man follows.
    expect(found.stdout).toBe(`${path.join(ROOT, 'dist/man/sockit.1')}\n`);
    const page = spawnSync('man', ['sockit'], { env, encoding: 'utf8' });
    expect(page.status, page.stderr).toBe(0);
    expect(page.stdout).toContain('sockit files upload');
  });

  it('is written by set-up into .tools/bin, which set-up tells the user to put on PATH', () => {
    const setup = readFileSync(path.join(ROOT, 'scripts/setup.sh'), 'utf8');
    expect(setup).toContain('write_launcher "$SOCKIT_ROOT/.tools/bin"');
    expect(setup).toContain('export PATH=');
    const readme = readFileSync(path.join(ROOT, 'README.md'), 'utf8');
    expect(readme).toContain('.tools/bin');
  });
});
