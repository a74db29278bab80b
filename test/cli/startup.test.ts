/**
 * Start-up: a short command loads only its own code. Timings are not asserted (they belong
 * to bench/cli); what is checked is what loads, which is what the time depends on: no
 * package from node_modules for `--version`, `ip` and `ports` (commander is bundled), no
 * other subcommand's code, and none of the built-in modules that only servers and clients
 * need.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { subcommandsFor } from '../../src/cli/program.js';
import { CLI, requireTools, run } from '../helpers.js';

requireTools();

/**
 * Runs `sockit ARGS` with a resolve hook that prints every module it resolves, and an exit
 * hook that prints Node's list of loaded built-in modules and the files in require.cache
 * (a command's one-file bundle is CommonJS, loaded by main.cjs without a resolve), both to
 * stderr as JSON lines.
 */
async function loadedBy(args: string[]): Promise<{ resolved: string[]; builtins: string[]; stdout: string }> {
  const hook = `
import { createRequire, registerHooks } from 'node:module';
import { writeSync } from 'node:fs';
registerHooks({
  resolve(specifier, context, next) {
    const result = next(specifier, context);
    writeSync(2, JSON.stringify({ resolved: result.url }) + '\\n');
    return result;
  },
});
process.on('exit', () => {
  writeSync(2, JSON.stringify({ builtins: process.moduleLoadList }) + '\\n');
  for (const file of Object.keys(createRequire(process.argv[1]).cache)) {
    writeSync(2, JSON.stringify({ resolved: 'file://' + file }) + '\\n');
  }
});
`;
  const out = await run(process.execPath, [
    '--import',
    `data:text/javascript,${encodeURIComponent(hook)}`,
    CLI,
    ...args,
  ]);
  expect(out.code, out.stderr).toBe(0);
  const lines = out.stderr
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as { resolved?: string; builtins?: string[] });
  return {
    resolved: lines.flatMap((l) => (l.resolved ? [l.resolved] : [])),
    builtins: lines.flatMap((l) => l.builtins ?? []),
    stdout: out.stdout.toString(),
  };
}

describe('what a short command loads', () => {
  for (const [args, bundle] of [
    [['--version'], 'one/version.cjs'],
    [['ip', '10.1.2.3/20'], 'one/ip.cjs'],
    [['ports'], 'one/ports.cjs'],
  ] as const) {
    it(`sockit ${args.join(' ')} loads its own one-file bundle, no package, no other command`, async () => {
      const { resolved, builtins, stdout } = await loadedBy([...args]);
      expect(stdout.length).toBeGreaterThan(0);
      const ours = resolved.filter((url) => url.includes('/dist/cli/'));
      expect(ours[0]).toMatch(/\/dist\/cli\/main\.cjs$/);
      expect(ours.some((url) => url.endsWith(`/dist/cli/${bundle}`))).toBe(true);
      // Neither the split build (program.js and its chunks of other commands) nor a package.
      expect(
        ours.filter((url) => url.endsWith('/program.js') || /\/chunks\/(?!chunk-)[a-z]+-/.test(url)),
      ).toEqual([]);
      expect(resolved.filter((url) => url.includes('/node_modules/'))).toEqual([]);
      // Process and network modules that only servers and clients use; and net, which building
      // process.stdout on a pipe (as here) loads: the result is written to descriptor 1.
      for (const builtin of ['child_process', 'cluster', 'dgram', 'tls', 'crypto', 'worker_threads', 'net']) {
        expect(builtins).not.toContain(`NativeModule ${builtin}`);
      }
    });

    it(`sockit ${args.join(' ')} loads no built-in module but vm beyond what Node has loaded before it starts`, async () => {
      // As the launcher runs it (a CommonJS script that requires main.cjs), without the hooks
      // above, which load node:module themselves: node:module (with its source-map code) and
      // node:process cost a short command ~0.7 ms to compile, for nothing.
      const dir = await mkdtemp(path.join(tmpdir(), 'sockit-startup-'));
      try {
        const launcher = path.join(dir, 'launch.cjs');
        await writeFile(
          launcher,
          `const before = new Set(process.moduleLoadList);
process.on('exit', () => {
  const added = process.moduleLoadList.filter((name) => !before.has(name));
  require('node:fs').writeSync(2, JSON.stringify({ added }) + '\\n');
});
require(${JSON.stringify(CLI)});
`,
        );
        const out = await run(process.execPath, ['--no-concurrent-sparkplug', launcher, ...args]);
        expect(out.code, out.stderr).toBe(0);
        const line = out.stderr.split('\n').find((l) => l.startsWith('{"added"'));
        expect(JSON.parse(line ?? '{}').added).toEqual(['NativeModule vm']);
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    });
  }

  it('sockit serve --help loads the serve bundle but not its heavy packages; sockit --help the whole tree', async () => {
    const serve = await loadedBy(['serve', '--help']);
    expect(serve.resolved.some((url) => url.endsWith('/dist/cli/one/serve.cjs'))).toBe(true);
    // zod, pino and kysely load at their first use, which --help never comes to.
    for (const heavy of ['pino', 'zod', 'kysely']) {
      expect(serve.resolved.some((url) => url.includes(`/node_modules/${heavy}/`))).toBe(false);
    }
    // ...and a command that uses them loads them.
    const dir = await mkdtemp(path.join(tmpdir(), 'sockit-startup-'));
    try {
      const users = await loadedBy(['users', 'list', '-q', '--data-dir', dir]);
      expect(users.resolved.some((url) => url.includes('/node_modules/kysely/'))).toBe(true);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
    const all = await loadedBy(['--help']);
    expect(all.resolved.some((url) => url.endsWith('/dist/cli/program.js'))).toBe(true);
    for (const name of ['serve', 'ip', 'files']) {
      expect(all.resolved.some((url) => new RegExp(`/chunks/${name}-[A-Z0-9]+\\.js$`).test(url))).toBe(true);
    }
  });
});

describe('what a client command loads before it works', () => {
  // Each bundle holds a client and its server: the server's packages and modules must not
  // load with it. Help runs the bundle's module code and builds the command, and no more.
  for (const command of ['files', 'chat', 'exec', 'lan', 'tftp']) {
    it(`sockit ${command} --help loads no package (zod's schemas are bundled), and neither cluster nor tls`, async () => {
      const { resolved, builtins } = await loadedBy([command, '--help']);
      expect(resolved.some((url) => url.endsWith(`/dist/cli/one/${command}.cjs`))).toBe(true);
      expect(resolved.filter((url) => url.includes('/node_modules/'))).toEqual([]);
      for (const builtin of ['cluster', 'tls', 'child_process', 'dgram']) {
        expect(builtins).not.toContain(`NativeModule ${builtin}`);
      }
    });
  }
});

describe('subcommandsFor: which subcommands an argument list needs', () => {
  it('the one named, after root options and their values', () => {
    expect(subcommandsFor(['ip', '10.0.0.1'])).toEqual(['ip']);
    expect(subcommandsFor(['--log-level', 'debug', 'tftp', 'get'])).toEqual(['tftp']);
    expect(subcommandsFor(['--log-format', 'json', '--log-level', 'warn', 'ports', '-tlnp'])).toEqual([
      'ports',
    ]);
    expect(subcommandsFor(['ip', '--help'])).toEqual(['ip']);
  });

  it('none for --version alone', () => {
    expect(subcommandsFor(['--version'])).toEqual([]);
    expect(subcommandsFor(['-V'])).toEqual([]);
  });

  it('all for help, nothing, or a name that is not a command', () => {
    expect(subcommandsFor([])).toBeUndefined();
    expect(subcommandsFor(['--help'])).toBeUndefined();
    expect(subcommandsFor(['help', 'ip'])).toBeUndefined();
    expect(subcommandsFor(['ipp', '1.2.3.4'])).toBeUndefined();
    // A value of a root option is not a command name.
    expect(subcommandsFor(['--log-level', 'ip'])).toBeUndefined();
  });
});

describe('a reader that stops early', () => {
  it('sockit ip ... | head -1: stops without a word, with the status of SIGPIPE', async () => {
    // 65,536 lines (about 3.6 MB): more than a pipe holds, so the writes outlive the reader.
    const child = spawn(process.execPath, [CLI, 'ip', '10.0.0.0/8', '--split', '/24', '--limit', '65536'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
    });
    // Read the first chunk, then go away, as head does.
    child.stdout.once('data', () => child.stdout.destroy());
    const [code] = (await once(child, 'close')) as [number | null];
    expect(stderr).toBe('');
    expect(code).toBe(141);
  });
});

describe('a stdout that someone made non-blocking', () => {
  it('still receives every line, in order, when the pipe fills (EAGAIN)', async () => {
    // perl (perl-base, in every Debian) sets O_NONBLOCK on the pipe and execs the command, as a
    // parent sharing its stdout with a program that set O_NONBLOCK does: writes to the full
    // 64 KiB pipe then return EAGAIN instead of waiting.
    const setNonBlocking =
      'fcntl(STDOUT, F_SETFL, fcntl(STDOUT, F_GETFL, 0) | O_NONBLOCK) or die "fcntl: $!"; exec @ARGV or die "exec: $!"';
    const child = spawn(
      'perl',
      [
        '-MFcntl',
        '-e',
        setNonBlocking,
        process.execPath,
        CLI,
        'ip',
        '10.0.0.0/8',
        '--split',
        '/24',
        '--limit',
        '65536',
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    const chunks: Buffer[] = [];
    let stderr = '';
    // Slow at first, so that the pipe fills while the command writes.
    child.stdout.pause();
    setTimeout(() => child.stdout.resume(), 200);
    child.stdout.on('data', (d: Buffer) => chunks.push(d));
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
    });
    const [code] = (await once(child, 'close')) as [number | null];
    expect(stderr).toBe('');
    expect(code).toBe(0);
    const blocks = Buffer.concat(chunks)
      .toString()
      .split('\n')
      .slice(1)
      .filter((l) => l !== '')
      .map((l) => l.trim().split(/\s+/)[0]);
    const expected = Array.from({ length: 65536 }, (_, i) => `10.${i >> 8}.${i & 255}.0/24`);
    expect(blocks).toEqual(expected);
  });
});
