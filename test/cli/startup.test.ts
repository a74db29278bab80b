/**
 * Start-up: a short command loads only its own code. Timings are not asserted (they belong
 * to bench/cli); what is checked is what loads, which is what the time depends on: no
 * package from node_modules for `--version`, `ip` and `ports` (commander is bundled), no
 * other subcommand's code, and none of the built-in modules that only servers and clients
 * need.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { describe, expect, it } from 'vitest';
import { subcommandsFor } from '../../src/cli/program.js';
import { CLI, requireTools, run } from '../helpers.js';

requireTools();

/**
 * Runs `sockit ARGS` with a resolve hook that prints every module it resolves, and an exit
 * hook that prints Node's list of loaded built-in modules, both to stderr as JSON lines.
 */
async function loadedBy(args: string[]): Promise<{ resolved: string[]; builtins: string[]; stdout: string }> {
  const hook = `
import { registerHooks } from 'node:module';
import { writeSync } from 'node:fs';
registerHooks({
  resolve(specifier, context, next) {
    const result = next(specifier, context);
    writeSync(2, JSON.stringify({ resolved: result.url }) + '\\n');
    return result;
  },
});
process.on('exit', () => writeSync(2, JSON.stringify({ builtins: process.moduleLoadList }) + '\\n'));
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
  for (const args of [['--version'], ['ip', '10.1.2.3/20'], ['ports']]) {
    it(`sockit ${args.join(' ')} loads no package and no other command`, async () => {
      const { resolved, builtins, stdout } = await loadedBy(args);
      expect(stdout.length).toBeGreaterThan(0);
      // The entry, then its own chunks: nothing from node_modules.
      expect(resolved.some((url) => url.endsWith('/dist/cli/main.js'))).toBe(true);
      expect(resolved.filter((url) => url.includes('/node_modules/'))).toEqual([]);
      const otherCommands = ['serve', 'echo', 'nc', 'tftp', 'files', 'users', 'secret', 'ip', 'ports'].filter(
        (name) => name !== args[0],
      );
      const chunks = resolved.map((url) => url.slice(url.lastIndexOf('/') + 1));
      for (const name of otherCommands) expect(chunks.filter((c) => c.startsWith(`${name}-`))).toEqual([]);
      // Process and network modules that only servers and clients use.
      for (const builtin of ['child_process', 'cluster', 'dgram', 'tls', 'crypto', 'worker_threads']) {
        expect(builtins).not.toContain(`NativeModule ${builtin}`);
      }
    });
  }

  it('sockit serve --help loads the serve command (and so its packages)', async () => {
    const { resolved } = await loadedBy(['serve', '--help']);
    const chunks = resolved.map((url) => url.slice(url.lastIndexOf('/') + 1));
    expect(chunks.some((c) => c.startsWith('serve-'))).toBe(true);
    expect(chunks.some((c) => c.startsWith('ip-'))).toBe(false);
  });
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
