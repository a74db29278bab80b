/**
 * The `sockit` launcher that set-up writes to .tools/bin: it must run this checkout's build
 * from any folder with nothing but the system's PATH (no Node on it).
 */
import { spawnSync } from 'node:child_process';
import {
  cpSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  realpathSync,
  rmSync,
  statSync,
  symlinkSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
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

/** Calls write_launcher DIR NODE ROOT MAIN from scripts/launcher.sh, the function scripts/setup.sh uses. */
function callWriteLauncher(
  into: string,
  options: { node?: string; root?: string; main?: string; env?: NodeJS.ProcessEnv; cwd?: string } = {},
): ReturnType<typeof spawnSync> {
  return spawnSync(
    'bash',
    [
      '-c',
      'source "$0/scripts/launcher.sh" && write_launcher "$1" "$2" "$3" "$4"',
      ROOT,
      into,
      options.node ?? process.execPath,
      options.root ?? ROOT,
      options.main ?? path.join(options.root ?? ROOT, 'dist', 'cli', 'main.cjs'),
    ],
    { encoding: 'utf8', env: options.env ?? process.env, cwd: options.cwd },
  );
}

/** Runs LAUNCHER --version with a PATH that has no Node on it. */
function expectVersion(launcher: string): void {
  const ran = spawnSync(launcher, ['--version'], {
    env: { PATH: '/usr/bin:/bin', HOME: dir },
    encoding: 'utf8',
  });
  expect(ran.status, ran.stderr).toBe(0);
  expect(ran.stdout).toMatch(/^\d+\.\d+\.\d+\n$/);
}

/** write_launcher, which must succeed. */
function writeLauncher(into: string, options: Parameters<typeof callWriteLauncher>[1] = {}): void {
  const result = callWriteLauncher(into, options);
  expect(result.status, String(result.stderr)).toBe(0);
}

/**
 * Runs the launcher in BIN with ARGS under --profile-deserialization: the run, and the sizes
 * of the code caches V8 took.
 */
function profiled(
  bin: string,
  args: string[],
  env: NodeJS.ProcessEnv = {},
): { ran: ReturnType<typeof spawnSync>; sizes: number[] } {
  const ran = spawnSync(
    process.execPath,
    [
      '--no-concurrent-sparkplug',
      '--profile-deserialization',
      realpathSync(path.join(bin, 'sockit')),
      ...args,
    ],
    { cwd: dir, env: { PATH: '/usr/bin:/bin', HOME: dir, ...env }, encoding: 'utf8', timeout: 20_000 },
  );
  const sizes = [...`${ran.stdout}${ran.stderr}`.matchAll(/Deserializing from (\d+) bytes/g)].map((m) =>
    Number(m[1]),
  );
  return { ran, sizes };
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
    // A link to a Node script whose #! line starts Node itself (no shell in between).
    const script = realpathSync(path.join(bin, 'sockit'));
    expect(script.endsWith('.cjs')).toBe(true);
    const lines = readFileSync(script, 'utf8').split('\n');
    expect(lines[0]).toBe(`#!${process.execPath} --no-concurrent-sparkplug`);
    expect(lines).toContain(`const file = ${JSON.stringify(path.join(ROOT, 'dist/cli/main.cjs'))};`);
    const main = readFileSync(path.join(ROOT, 'dist', 'cli', 'main.cjs'), 'utf8');
    expect(main.slice(0, main.indexOf('\n'))).toBe('#!/usr/bin/env -S node --no-concurrent-sparkplug');
  });

  it('runs the entry point without loading it as a second module, lending it import() for the whole tree', () => {
    const bin = path.join(dir, 'lent', 'bin');
    writeLauncher(bin);
    const env = { PATH: '/usr/bin:/bin', HOME: dir };
    // Help and completion load program.js with import(), which the launcher lends main.cjs.
    const help = spawnSync(path.join(bin, 'sockit'), ['--help'], { cwd: dir, env, encoding: 'utf8' });
    expect(help.status, help.stderr).toBe(0);
    expect(help.stdout).toMatch(/^Usage: sockit /);
    const completion = spawnSync(path.join(bin, 'sockit'), ['completion', 'bash'], {
      cwd: dir,
      env,
      encoding: 'utf8',
    });
    expect(completion.status, completion.stderr).toBe(0);
    expect(completion.stdout).toContain('complete -');
    // main.cjs is run, not loaded as a module of Node's: it is not in require.cache (the
    // command's bundle is, entered by main.cjs).
    const script = realpathSync(path.join(bin, 'sockit'));
    const probe = path.join(dir, 'lent', 'probe.cjs');
    writeFileSync(
      probe,
      `${readFileSync(script, 'utf8')
        .split('\n')
        .slice(1)
        .join('\n')}\nprocess.on('exit', () => console.log(JSON.stringify(Object.keys(require.cache))));\n`,
    );
    const keys = spawnSync(process.execPath, [probe, '--version'], { cwd: dir, env, encoding: 'utf8' });
    expect(keys.status, keys.stderr).toBe(0);
    const cached = JSON.parse(keys.stdout.split('\n').filter(Boolean).at(-1) as string) as string[];
    expect(cached).not.toContain(path.join(ROOT, 'dist', 'cli', 'main.cjs'));
    expect(cached).toContain(path.join(ROOT, 'dist', 'cli', 'one', 'version.cjs'));
  });

  it("gives V8 the build's code cache of main.cjs, named after its build id, unless turned off", () => {
    const bin = path.join(dir, 'main-cache', 'bin');
    writeLauncher(bin);
    const main = path.join(ROOT, 'dist', 'cli', 'main.cjs');
    const id = /^#![^\n]*\n\/\*build ([0-9a-f]{16})\*\//.exec(readFileSync(main, 'latin1'))?.[1];
    expect(id).toBeDefined();
    const cache = `${main}.${process.version}-${process.arch}.${id}.v8`;
    const size = statSync(cache).size;
    const sizes = (env: NodeJS.ProcessEnv): number[] => {
      const { ran, sizes } = profiled(bin, ['--version'], env);
      expect(ran.status, String(ran.stderr)).toBe(0);
      return sizes;
    };
    expect(sizes({})).toContain(size);
    expect(sizes({ NODE_DISABLE_COMPILE_CACHE: '1' })).not.toContain(size);
    // Another build of main.cjs (another id) does not meet it: run from a copy of dist/cli
    // whose main.cjs says so, it is compiled from its source and runs.
    const copy = path.join(dir, 'main-cache', 'cli');
    cpSync(path.dirname(main), copy, { recursive: true, preserveTimestamps: true });
    const other = readFileSync(path.join(copy, 'main.cjs'), 'latin1').replace(
      `/*build ${id}*/`,
      `/*build ${'e'.repeat(16)}*/`,
    );
    writeFileSync(path.join(copy, 'main.cjs'), other, 'latin1');
    const otherBin = path.join(dir, 'main-cache-other', 'bin');
    writeLauncher(otherBin, { main: path.join(copy, 'main.cjs') });
    const { ran, sizes: otherSizes } = profiled(otherBin, ['--version']);
    expect(ran.status, String(ran.stderr)).toBe(0);
    expect(ran.stdout).toMatch(/^\d+\.\d+\.\d+$/m);
    expect(otherSizes).not.toContain(size);
  });

  it("reads main.cjs's cache only as a plain file not older than main.cjs, and runs an older main.cjs as a module", () => {
    // A copy of dist/cli (the packages it loads for help beside it), and a launcher for it.
    const copy = path.join(dir, 'main-cache-odd', 'cli');
    cpSync(path.join(ROOT, 'dist', 'cli'), copy, { recursive: true, preserveTimestamps: true });
    symlinkSync(path.join(ROOT, 'node_modules'), path.join(dir, 'main-cache-odd', 'node_modules'));
    const main = path.join(copy, 'main.cjs');
    const text = readFileSync(main, 'latin1');
    const id = /^#![^\n]*\n\/\*build ([0-9a-f]{16})\*\//.exec(text)?.[1] as string;
    const cache = `${main}.${process.version}-${process.arch}.${id}.v8`;
    const good = readFileSync(cache);
    const bin = path.join(dir, 'main-cache-odd', 'bin');
    writeLauncher(bin, { main });
    const run = (args: string[]): ReturnType<typeof spawnSync> => profiled(bin, args).ran;
    const deserialized = (args: string[]): number[] => profiled(bin, args).sizes;
    expect(deserialized(['--version'])).toContain(good.length);
    // A FIFO in its place (nothing ever writes it): not waited for.
    rmSync(cache);
    expect(spawnSync('mkfifo', [cache]).status).toBe(0);
    const fifo = run(['--version']);
    expect(fifo.error).toBeUndefined();
    expect(fifo.status, String(fifo.stderr)).toBe(0);
    // A link to it: not followed.
    rmSync(cache);
    writeFileSync(`${cache}.real`, good);
    symlinkSync(`${cache}.real`, cache);
    expect(deserialized(['--version'])).not.toContain(good.length);
    // Older than main.cjs (main.cjs edited in place, to the same length): not used, so the
    // edit is what runs.
    rmSync(cache);
    writeFileSync(cache, good);
    const edited = text.replace('start.cjs', 'start.cjX');
    expect(edited).not.toBe(text);
    writeFileSync(main, edited, 'latin1');
    const past = new Date(Date.now() - 60_000);
    utimesSync(cache, past, past);
    const changed = run(['--version']);
    expect(changed.status).toBe(70);
    expect(changed.stderr).toContain('start.cjX');
    // Without a build id (a main.cjs built before the launcher lent import()): required as a
    // module, whose own import() loads the whole tree for help.
    writeFileSync(main, text.replace(`/*build ${id}*/`, ' '.repeat(`/*build ${id}*/`.length)), 'latin1');
    const help = run(['--help']);
    expect(help.status, String(help.stderr)).toBe(0);
    expect(help.stdout).toMatch(/^Usage: sockit /m);
  });

  it('is a sh script where the checkout path holds a line break, also when the entry point is named apart', () => {
    const root = path.join(dir, 'root\nprocess.exit(42)//');
    const bin = path.join(dir, 'root-newline', 'bin');
    writeLauncher(bin, { root, main: path.join(ROOT, 'dist', 'cli', 'main.cjs') });
    expect(readFileSync(path.join(bin, 'sockit'), 'utf8')).toMatch(/^#!\/bin\/sh\n/);
    expectVersion(path.join(bin, 'sockit'));
  });

  it('says in one line, exit 70, when there is no build to run', () => {
    const root = path.join(dir, 'unbuilt');
    mkdirSync(root, { recursive: true });
    const bin = path.join(dir, 'unbuilt-bin', 'bin');
    writeLauncher(bin, { root });
    const ran = spawnSync(path.join(bin, 'sockit'), ['--version'], {
      env: { PATH: '/usr/bin:/bin', HOME: dir },
      encoding: 'utf8',
    });
    expect(ran.status).toBe(70);
    expect(ran.stdout).toBe('');
    expect(ran.stderr).toBe(
      `sockit: internal error: cannot read ${path.join(root, 'dist', 'cli', 'main.cjs')}: ENOENT; run npm run build\n`,
    );
  });

  it('runs as CommonJS inside a "type": "module" package, also when Node runs it by name (a kept exec)', () => {
    // As in .tools/bin of a checkout, under sockit's own package.json.
    const pkg = path.join(dir, 'module-pkg');
    mkdirSync(pkg, { recursive: true });
    writeFileSync(path.join(pkg, 'package.json'), '{"type": "module"}\n');
    const bin = path.join(pkg, '.tools', 'bin');
    writeLauncher(bin);
    const launcher = path.join(bin, 'sockit');
    for (const argv of [[launcher], [process.execPath, launcher]]) {
      const ran = spawnSync(argv[0] as string, [...argv.slice(1), 'ip', '10.1.2.3/20'], {
        cwd: dir,
        env: { PATH: '/usr/bin:/bin', HOME: dir },
        encoding: 'utf8',
      });
      expect(ran.status, ran.stderr).toBe(0);
      expect(ran.stdout).toContain('255.255.240.0 = /20');
    }
  });

  it("is a sh script where Node's path cannot stand in a #! line (a space in it)", () => {
    const spaced = path.join(dir, 'node with space');
    mkdirSync(spaced, { recursive: true });
    const node = path.join(spaced, 'node');
    symlinkSync(process.execPath, node);
    const bin = path.join(dir, 'spaced', 'bin');
    writeLauncher(bin, { node });
    const launcher = path.join(bin, 'sockit');
    expect(lstatSync(launcher).isSymbolicLink()).toBe(false);
    expect(readFileSync(launcher, 'utf8')).toMatch(
      /^#!\/bin\/sh\n.*\nexec '[^']+node with space\/node' --no-concurrent-sparkplug '[^']+\/dist\/cli\/main\.cjs' "\$@"\n$/,
    );
    expectVersion(launcher);
  });

  it('is a sh script where a path holds anything but printable ASCII (U+2028 would end a comment line)', () => {
    // A checkout folder whose name would run as JavaScript after a line separator.
    const root = path.join(dir, 'root\u2028process.exit(42)//');
    mkdirSync(root, { recursive: true });
    symlinkSync(path.join(ROOT, 'dist'), path.join(root, 'dist'));
    const bin = path.join(dir, 'unicode', 'bin');
    for (const locale of ['C', 'C.UTF-8']) {
      writeLauncher(bin, { root, env: { ...process.env, LC_ALL: locale } });
      const launcher = path.join(bin, 'sockit');
      expect(lstatSync(launcher).isSymbolicLink(), locale).toBe(false);
      expectVersion(launcher);
    }
  });

  it('is a sh script where its own folder is not ASCII, or no lib/ can be made beside it', () => {
    const blocked = path.join(dir, 'blocked');
    mkdirSync(blocked, { recursive: true });
    writeFileSync(path.join(blocked, 'lib'), 'a file where lib/ would go');
    // In bash: Node's arguments are UTF-8, and a folder named by the byte 0xE9 is not.
    const script = `source "$0/scripts/launcher.sh" || exit 9
for bin in "$1/"$'\\xe9'"/bin" "$2/bin"; do
  write_launcher "$bin" "$3" "$0" || exit 1
  [ -L "$bin/sockit" ] && exit 2
  "$bin/sockit" --version || exit 3
done`;
    const result = spawnSync('bash', ['-c', script, ROOT, dir, blocked, process.execPath], {
      encoding: 'utf8',
    });
    expect(result.status, result.stderr).toBe(0);
    expect(result.stdout).toMatch(/^\d+\.\d+\.\d+\n\d+\.\d+\.\d+\n$/);
  });

  it('is a sh script where the #! line would be longer than old kernels read (127 bytes)', () => {
    const deep = path.join(dir, 'n'.repeat(100));
    mkdirSync(deep, { recursive: true });
    const node = path.join(deep, 'node');
    symlinkSync(process.execPath, node);
    const bin = path.join(dir, 'long', 'bin');
    writeLauncher(bin, { node });
    expect(lstatSync(path.join(bin, 'sockit')).isSymbolicLink()).toBe(false);
    expectVersion(path.join(bin, 'sockit'));
  });

  it('works through a folder that is a link, and refuses paths that are not absolute', () => {
    const real = path.join(dir, 'linked', 'real', 'bin');
    mkdirSync(real, { recursive: true });
    const home = path.join(dir, 'linked', 'home');
    mkdirSync(home, { recursive: true });
    symlinkSync(real, path.join(home, 'bin'));
    // CDPATH set, as some shells export it: cd would print where it went.
    writeLauncher(path.join(home, 'bin'), { env: { ...process.env, CDPATH: `/nowhere:${dir}` } });
    expectVersion(path.join(home, 'bin', 'sockit'));
    const refused = callWriteLauncher('relative/bin', { cwd: dir });
    expect(refused.status).toBe(1);
    expect(refused.stderr).toContain('must be absolute');
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
