/**
 * The code cache of the one-command bundles (src/cli/code-cache.ts): written after a run
 * into a private folder of the user's cache, used as it is by the next run, written anew
 * when V8 rejects it, and never read from or written to a folder another user could write.
 * The build makes the caches of `--version`, `ip` and `ports` beside their bundles; the tests
 * of the user's folder run a copy of the build without them (UNCACHED_CLI).
 */
import {
  appendFile,
  chmod,
  chown,
  cp,
  lchown,
  mkdir,
  mkdtemp,
  readdir,
  readFile,
  rename,
  rm,
  stat,
  symlink,
  utimes,
  writeFile,
} from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { buildId, CACHE_HEADER, CACHE_MAGIC, cacheHeader } from '../../src/cli/bundle-file.js';
import { CLI, type RunOptions, requireTools, run, sockit } from '../helpers.js';

requireTools();

/** The build's code caches, beside the bundles (src/cli/code-cache.ts, builtCachePath). */
const BUILT = /\.cjs\.v\d+\.\d+\.\d+-[a-z0-9]+\.v8$/;

/** dist/cli copied without the caches the build made: the user's cache folder serves every command. */
let copy: string;
let UNCACHED_CLI: string;

beforeAll(async () => {
  copy = await mkdtemp(path.join(tmpdir(), 'sockit-uncached-'));
  await cp(path.dirname(CLI), copy, { recursive: true, filter: (from) => !BUILT.test(from) });
  UNCACHED_CLI = path.join(copy, 'main.cjs');
});

afterAll(async () => {
  await rm(copy, { recursive: true, force: true });
});

/** `sockit ARGS` from the copy without the build's caches. */
function uncached(args: string[], options: RunOptions = {}): ReturnType<typeof run> {
  return run(process.execPath, [UNCACHED_CLI, ...args], options);
}

let home: string;
let cache: string;
let env: NodeJS.ProcessEnv;

beforeEach(async () => {
  home = await mkdtemp(path.join(tmpdir(), 'sockit-code-cache-'));
  cache = path.join(home, 'sockit', 'code');
  env = { ...process.env, XDG_CACHE_HOME: home };
  delete env.NODE_DISABLE_COMPILE_CACHE;
  delete env.SOCKIT_CACHE_DIR;
});

afterEach(async () => {
  await rm(home, { recursive: true, force: true });
});

const IP = ['ip', '10.1.2.3/20'];

/** `source`, a built bundle, as another build of the same length would carry it: another build id. */
function otherBuild(source: string): string {
  const id = buildId(source);
  expect(id).toMatch(/^[0-9a-f]{16}$/);
  const other = id === 'f'.repeat(16) ? '0'.repeat(16) : 'f'.repeat(16);
  const changed = source.replace(`/*build ${id}`, `/*build ${other}`);
  expect(buildId(changed)).toBe(other);
  return changed;
}

/**
 * 4096 bytes of garbage behind a header that fits the bundle `file` (its build id): what
 * only V8 can refuse.
 */
async function garbageFor(file: string): Promise<Buffer> {
  const id = buildId(await readFile(file, 'latin1'));
  expect(id).toMatch(/^[0-9a-f]{16}$/);
  return Buffer.concat([cacheHeader(4096 - CACHE_HEADER, id), Buffer.alloc(4096 - CACHE_HEADER, 0x5a)]);
}

async function ipOutput(options: { env: NodeJS.ProcessEnv }): Promise<string> {
  const out = await uncached(IP, options);
  expect(out.code, out.stderr).toBe(0);
  expect(out.stderr).toBe('');
  return out.stdout.toString();
}

/** The bundles' caches (code/node/ is Node's own compile cache). */
async function cacheFiles(): Promise<string[]> {
  return (await readdir(cache)).filter((name) => name !== 'node').sort();
}

const isRoot = process.getuid?.() === 0;

describe('the code cache of a command bundle', () => {
  it('is written after the first run, private, and used as it is by the next', async () => {
    const uncached = await ipOutput({ env: { ...env, NODE_DISABLE_COMPILE_CACHE: '1' } });
    // NODE_DISABLE_COMPILE_CACHE: no folder made, nothing written.
    await expect(stat(cache)).rejects.toMatchObject({ code: 'ENOENT' });

    expect(await ipOutput({ env })).toBe(uncached);
    const files = await cacheFiles();
    expect(files).toHaveLength(1);
    expect(files[0]).toMatch(/^ip-[0-9a-f]{8}-[0-9a-f]{8}-[0-9a-f]{8}\.v8$/);
    const file = path.join(cache, files[0] as string);
    const first = await stat(file);
    expect(first.size).toBeGreaterThan(10_000);
    expect(first.mode & 0o777).toBe(0o600);
    expect((await stat(cache)).mode & 0o777).toBe(0o700);
    expect((await readFile(file)).subarray(0, 5).toString()).toBe(CACHE_MAGIC.toString('latin1', 0, 5));

    // Accepted by V8: not written again (a rewrite is a rename of a new file: a new inode).
    expect(await ipOutput({ env })).toBe(uncached);
    const second = await stat(file);
    expect(second.ino).toBe(first.ino);
    expect(second.mtimeMs).toBe(first.mtimeMs);
    expect(await cacheFiles()).toEqual(files);
  });

  it('a cache V8 rejects is written anew, and the command runs as without one', async () => {
    const uncached = await ipOutput({ env: { ...env, NODE_DISABLE_COMPILE_CACHE: '1' } });
    await ipOutput({ env });
    const [name] = await cacheFiles();
    const file = path.join(cache, name as string);
    const garbage = Buffer.alloc(4096, 0x5a);
    await writeFile(file, garbage);
    expect(await ipOutput({ env })).toBe(uncached);
    const rewritten = await readFile(file);
    expect(rewritten.equals(garbage)).toBe(false);
    expect(rewritten.length).toBeGreaterThan(10_000);
  });

  it("another build's cache of the same bundle is removed when the new one is written", async () => {
    await ipOutput({ env });
    const [name] = await cacheFiles();
    // The same bundle's path, another build (the part named after its inode, size and times).
    const older = (name as string).replace(/^(ip-[0-9a-f]{8}-)[0-9a-f]{8}-/, '$100000000-');
    await rename(path.join(cache, name as string), path.join(cache, older));
    // Another command's cache stays.
    await uncached(['--version'], { env });
    const version = (await cacheFiles()).find((n) => n.startsWith('version-'));
    expect(version).toBeDefined();

    await ipOutput({ env });
    expect(await cacheFiles()).toEqual([name, version].sort());
  });

  it('one per set of V8 flags: runs that take turns with --jitless and without each keep theirs', async () => {
    const withFlags = async (flags: string[]): Promise<void> => {
      const out = await run(process.execPath, [...flags, UNCACHED_CLI, ...IP], { env });
      expect(out.code, out.stderr).toBe(0);
    };
    await withFlags([]);
    await withFlags(['--jitless']);
    const files = await cacheFiles();
    expect(files).toHaveLength(2);
    const before = await Promise.all(files.map((name) => stat(path.join(cache, name))));
    for (let round = 0; round < 2; round++) {
      await withFlags([]);
      await withFlags(['--jitless']);
    }
    // Neither was rejected and written again (a new inode), nor removed by the other.
    expect(await cacheFiles()).toEqual(files);
    const after = await Promise.all(files.map((name) => stat(path.join(cache, name))));
    expect(after.map((st) => st.ino)).toEqual(before.map((st) => st.ino));
  });

  it('a folder others may enter, or one inside such a folder, is neither read nor written', async () => {
    await mkdir(cache, { recursive: true, mode: 0o700 });
    const planted = path.join(cache, 'planted.v8');
    await writeFile(planted, 'x');
    const uncached = await ipOutput({ env: { ...env, NODE_DISABLE_COMPILE_CACHE: '1' } });
    for (const open of [cache, path.dirname(cache)]) {
      await chmod(open, 0o777);
      expect(await ipOutput({ env })).toBe(uncached);
      expect(await cacheFiles()).toEqual(['planted.v8']);
      await chmod(open, 0o700);
    }
    // Both private again: used.
    await ipOutput({ env });
    expect(await cacheFiles()).toHaveLength(2);
  });

  it('a folder others may only enter or read (no write) is not used either, code/ or the one above', async () => {
    await mkdir(cache, { recursive: true, mode: 0o700 });
    for (const open of [cache, path.dirname(cache)]) {
      for (const mode of [0o705, 0o750, 0o740]) {
        await chmod(open, mode);
        await ipOutput({ env });
        expect(await cacheFiles()).toEqual([]);
      }
      await chmod(open, 0o700);
    }
    await ipOutput({ env });
    expect(await cacheFiles()).toHaveLength(1);
  });

  it("reached through this user's link, the folders it leads to are the ones checked and used", async () => {
    const target = path.join(home, 'target');
    await mkdir(target, { mode: 0o700 });
    const link = path.join(home, 'link');
    await symlink(target, link);
    const through = { env: { ...env, XDG_CACHE_HOME: link } };
    const real = path.join(target, 'sockit', 'code');
    await ipOutput(through);
    const written = (await readdir(real)).filter((name) => name !== 'node');
    expect(written).toHaveLength(1);
    // Used as it is by the next run (not written again: same inode).
    const first = await stat(path.join(real, written[0] as string));
    await ipOutput(through);
    expect((await stat(path.join(real, written[0] as string))).ino).toBe(first.ino);
    // The folder above code/ open to others: not used.
    await rm(real, { recursive: true });
    await mkdir(real, { mode: 0o700 });
    await chmod(path.dirname(real), 0o755);
    await ipOutput(through);
    expect(await readdir(real)).toEqual([]);
  });

  it.runIf(process.getuid?.() === 0)(
    'run as root, a folder that belongs to another user is not used, though root could write it',
    async () => {
      await mkdir(cache, { recursive: true, mode: 0o700 });
      await chown(cache, 65534, 65534);
      await ipOutput({ env });
      expect(await cacheFiles()).toEqual([]);
    },
  );

  it('an unusable cache folder (a file in its place) leaves the command working', async () => {
    await mkdir(path.dirname(cache), { mode: 0o700 });
    await writeFile(cache, 'not a folder');
    const out = await uncached(IP, { env });
    expect(out.code, out.stderr).toBe(0);
    expect(out.stderr).toBe('');
    expect(out.stdout.toString()).toContain('255.255.240.0');
  });

  it('a cache file that is a link, open to others, linked twice or longer than its header says is not used, and is replaced', async () => {
    const uncached = await ipOutput({ env: { ...env, NODE_DISABLE_COMPILE_CACHE: '1' } });
    await ipOutput({ env });
    const [name] = await cacheFiles();
    const file = path.join(cache, name as string);
    const good = await readFile(file);
    const elsewhere = path.join(home, 'elsewhere.v8');
    const tamper: [string, () => Promise<void>][] = [
      [
        'a link',
        async () => {
          await writeFile(elsewhere, good, { mode: 0o600 });
          await rm(file);
          await symlink(elsewhere, file);
        },
      ],
      ['open to others', () => chmod(file, 0o644)],
      ['padded', () => appendFile(file, Buffer.alloc(1000))],
    ];
    for (const [what, change] of tamper) {
      await change();
      const before = await stat(file).catch(() => undefined);
      expect(await ipOutput({ env }), what).toBe(uncached);
      const after = await stat(file);
      expect(after.isFile(), what).toBe(true);
      expect(after.ino, what).not.toBe(before?.ino);
      expect(after.mode & 0o777, what).toBe(0o600);
    }
    // The link's target was read by no one and is unchanged.
    expect((await readFile(elsewhere)).equals(good)).toBe(true);
  });

  it('no cache under a folder that others may write to without the sticky bit; one with it, as /tmp, is fine', async () => {
    env.XDG_CACHE_HOME = path.join(home, 'below');
    cache = path.join(home, 'below', 'sockit', 'code');
    await mkdir(env.XDG_CACHE_HOME, { mode: 0o700 });
    await chmod(home, 0o777);
    await ipOutput({ env });
    await expect(readdir(cache)).rejects.toMatchObject({ code: 'ENOENT' });
    await chmod(home, 0o1777);
    await ipOutput({ env });
    expect(await cacheFiles()).toHaveLength(1);
    await chmod(home, 0o700);
  });

  it.runIf(isRoot)(
    "run as root: no cache under another user's folder, or through another user's link",
    async () => {
      const theirs = path.join(home, 'theirs');
      await mkdir(theirs, { mode: 0o755 });
      await chown(theirs, 65534, 65534);
      await ipOutput({ env: { ...env, XDG_CACHE_HOME: theirs } });
      expect(await readdir(theirs)).toEqual([]);

      const target = path.join(home, 'target');
      await mkdir(target, { mode: 0o700 });
      const link = path.join(home, 'link');
      await symlink(target, link);
      await lchown(link, 65534, 65534);
      await ipOutput({ env: { ...env, XDG_CACHE_HOME: link } });
      expect(await readdir(target)).toEqual([]);
      // The same link, this user's: used.
      await lchown(link, 0, 0);
      await ipOutput({ env: { ...env, XDG_CACHE_HOME: link } });
      expect(await readdir(path.join(target, 'sockit', 'code'))).toContain('node');
    },
  );

  it("Node's compile cache goes with it: into code/node/, not the shared temporary folder, or nowhere", async () => {
    const tmp = path.join(home, 'tmp');
    await mkdir(tmp, { mode: 0o700 });
    const help = await sockit(['--help'], { env: { ...env, TMPDIR: tmp } });
    expect(help.code, help.stderr).toBe(0);
    expect((await readdir(path.join(cache, 'node'))).length).toBeGreaterThan(0);
    await rm(path.dirname(cache), { recursive: true });
    await mkdir(cache, { recursive: true, mode: 0o700 });
    await chmod(cache, 0o777);
    await sockit(['--help'], { env: { ...env, TMPDIR: tmp } });
    expect(await readdir(cache)).toEqual([]);
    expect(await readdir(tmp)).toEqual([]);
  });

  it('makes no code/ in a cache folder that it will not use, nor anything through a link into one', async () => {
    const open = path.join(home, 'open');
    await mkdir(open, { mode: 0o755 });
    await ipOutput({ env: { ...env, SOCKIT_CACHE_DIR: open } });
    expect(await readdir(open)).toEqual([]);
    if (isRoot) {
      // A link of this user's that leads into another user's folder: nothing made there.
      const theirs = path.join(home, 'theirs');
      await mkdir(theirs, { mode: 0o755 });
      await chown(theirs, 65534, 65534);
      await symlink(theirs, path.join(home, 'into'));
      await ipOutput({ env: { ...env, SOCKIT_CACHE_DIR: path.join(home, 'into', 'sockit') } });
      expect(await readdir(theirs)).toEqual([]);
    }
  });

  it.runIf(isRoot)('run with another real user than the effective one (setuid), uses no cache', async () => {
    requireTools('setpriv');
    const out = await run(
      'setpriv',
      ['--ruid', '65534', '--euid', '0', '--', process.execPath, UNCACHED_CLI, ...IP],
      {
        env,
      },
    );
    expect(out.code, out.stderr).toBe(0);
    expect(out.stdout.toString()).toContain('255.255.240.0');
    await expect(readdir(cache)).rejects.toMatchObject({ code: 'ENOENT' });
  });
});

describe('the code caches the build makes', () => {
  const one = path.join(path.dirname(CLI), 'one');

  it('are beside the bundles of --version, ip and ports, named after the Node that made them, readable by all', async () => {
    const built = (await readdir(one)).filter((name) => BUILT.test(name)).sort();
    const suffix = `${process.version}-${process.arch}.v8`;
    expect(built).toEqual(['ip', 'ports', 'version'].map((name) => `${name}.cjs.${suffix}`));
    for (const name of built) {
      const file = path.join(one, name);
      expect((await stat(file)).mode & 0o444).toBe(0o444);
      expect((await readFile(file)).subarray(0, 5).toString()).toBe(CACHE_MAGIC.toString('latin1', 0, 5));
    }
  });

  it("include start.cjs's, which main.cjs runs with it: V8 takes it", async () => {
    const start = path.join(path.dirname(CLI), `start.cjs.${process.version}-${process.arch}.v8`);
    const st = await stat(start);
    expect(st.mode & 0o444).toBe(0o444);
    expect(st.mtimeMs).toBeGreaterThanOrEqual(
      (await stat(path.join(path.dirname(CLI), 'start.cjs'))).mtimeMs,
    );
    expect((await readFile(start)).subarray(0, 5).toString()).toBe(CACHE_MAGIC.toString('latin1', 0, 5));
    for (const args of [['--version'], IP, ['ports']]) {
      const out = await run(
        process.execPath,
        ['--no-concurrent-sparkplug', '--profile-deserialization', CLI, ...args],
        {
          env,
        },
      );
      expect(out.code, out.stderr).toBe(0);
      const sizes = [
        ...`${out.stdout.toString()}${out.stderr}`.matchAll(/Deserializing from (\d+) bytes/g),
      ].map((m) => Number(m[1]));
      // Its data, the file less sockit's header.
      expect(sizes).toContain(st.size - CACHE_HEADER);
    }
  });

  it('without a fit cache for start.cjs, main.cjs runs it from its source; without start.cjs, says so', async () => {
    const mine = await mkdtemp(path.join(tmpdir(), 'sockit-built-'));
    try {
      await cp(path.dirname(CLI), mine, { recursive: true, preserveTimestamps: true });
      const main = path.join(mine, 'main.cjs');
      const start = path.join(mine, 'start.cjs');
      const cached = `${start}.${process.version}-${process.arch}.v8`;
      const good = await readFile(cached);
      const expected = (await run(process.execPath, [CLI, ...IP], { env })).stdout.toString();
      expect(expected).toContain('255.255.240.0');
      const ip = async (): Promise<void> => {
        const out = await run(process.execPath, [main, ...IP], { env });
        expect(out.code, out.stderr).toBe(0);
        expect(out.stderr).toBe('');
        expect(out.stdout.toString()).toBe(expected);
      };
      // Cut; garbage behind a valid header (V8 rejects it); a folder in its place; missing.
      await writeFile(cached, good.subarray(0, good.length >> 1));
      await ip();
      await writeFile(cached, await garbageFor(start));
      await ip();
      await rm(cached);
      await mkdir(cached);
      await ip();
      await rm(cached, { recursive: true });
      await ip();
      // Older than start.cjs (start.cjs changed in place, to the same length): not used, so
      // the change is what runs (V8 would run the cache's code for any source of that length).
      await writeFile(cached, good);
      const source = await readFile(start, 'latin1');
      const marker = '?? "version"';
      expect(source.split(marker)).toHaveLength(2);
      await writeFile(start, source.replace(marker, '?? "versioX"'), 'latin1');
      const past = new Date(Date.now() - 60_000);
      await utimes(cached, past, past);
      const changed = await run(process.execPath, [main, '--version'], { env });
      expect(changed.code).toBe(70);
      expect(changed.stderr).toContain('cannot load ./one/versioX.cjs');
      // As old as start.cjs (a copy, a package): the cache's code runs. Both set to one time:
      // a Date holds whole milliseconds, and a file system's times may not be (here they end
      // in .0667 ms), so the cache set to start.cjs's time as a Date would be the older.
      const { mtime } = await stat(start);
      await utimes(start, mtime, mtime);
      await utimes(cached, mtime, mtime);
      const fromCache = await run(process.execPath, [main, '--version'], { env });
      expect(fromCache.code, fromCache.stderr).toBe(0);
      // Another build's start.cjs of the same length, older than the cache: its build id is
      // not the cache's, so its own code runs.
      await writeFile(start, otherBuild(source.replace(marker, '?? "versioX"')), 'latin1');
      await utimes(start, past, past);
      const rebuilt = await run(process.execPath, [main, '--version'], { env });
      expect(rebuilt.code).toBe(70);
      expect(rebuilt.stderr).toContain('cannot load ./one/versioX.cjs');
      // With a byte order mark before it (taken off, as Node's loader does): as before.
      await writeFile(start, Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(source, 'latin1')]));
      await ip();
      // One that loads but has no start function, or throws what cannot be shown: one line.
      for (const body of ['module.exports = 42;', 'throw { toString() { throw 1; } };']) {
        await writeFile(start, body);
        const out = await run(process.execPath, [main, '--version'], { env });
        expect(out.code).toBe(70);
        expect(out.stderr).toMatch(
          /^sockit: internal error: cannot load start\.cjs: [^\n]+; run npm run build\n$/,
        );
      }
      // No start.cjs at all: one line, no stack trace, exit 70.
      await rm(start);
      const out = await run(process.execPath, [main, '--version'], { env });
      expect(out.code).toBe(70);
      expect(out.stderr).toMatch(
        /^sockit: internal error: cannot load start\.cjs: .*ENOENT.*; run npm run build\n$/,
      );
      expect(out.stdout.toString()).toBe('');
    } finally {
      await rm(mine, { recursive: true, force: true });
    }
  });

  it('serve those commands with no cache folder looked for, made or written', async () => {
    for (const args of [IP, ['--version'], ['ports']]) {
      const out = await sockit(args, { env });
      expect(out.code, out.stderr).toBe(0);
      expect(out.stderr).toBe('');
    }
    await expect(stat(path.dirname(cache))).rejects.toMatchObject({ code: 'ENOENT' });
    // A command without one keeps its cache in the user's folder.
    const out = await sockit(['secret', '--help'], { env });
    expect(out.code, out.stderr).toBe(0);
    expect((await cacheFiles()).filter((name) => name.startsWith('secret-'))).toHaveLength(1);
  });

  it('is what runs (V8 takes a cache for any source of its length), unless newer than its bundle or turned off', async () => {
    const mine = await mkdtemp(path.join(tmpdir(), 'sockit-built-'));
    try {
      await cp(path.dirname(CLI), mine, { recursive: true, preserveTimestamps: true });
      const bundle = path.join(mine, 'one', 'ip.cjs');
      const built = path.join(mine, 'one', `ip.cjs.${process.version}-${process.arch}.v8`);
      const source = await readFile(bundle, 'latin1');
      const label = '["wildcard", r.wildcard]';
      expect(source.split(label)).toHaveLength(2);
      // The same length: the cache made from the build's source still fits.
      await writeFile(bundle, source.replace(label, label.replace('"wildcard"', '"WILDCARD"')), 'latin1');
      const main = path.join(mine, 'main.cjs');
      const ip = async (extra: NodeJS.ProcessEnv = {}): Promise<string> => {
        const out = await run(process.execPath, [main, ...IP], { env: { ...env, ...extra } });
        expect(out.code, out.stderr).toBe(0);
        return out.stdout.toString();
      };
      // Edited after the cache was made: the cache is not used.
      expect(await ip()).toMatch(/^WILDCARD /m);
      // As old as the cache (a copy, a package): the cache's code runs, not the source's.
      const { mtime } = await stat(built);
      await utimes(bundle, mtime, mtime);
      await rm(path.dirname(cache), { recursive: true, force: true });
      expect(await ip()).toMatch(/^wildcard /m);
      expect(await ip({ NODE_DISABLE_COMPILE_CACHE: '1' })).toMatch(/^WILDCARD /m);
      // Another build's bundle of the same length, as old: its build id is not the cache's.
      await writeFile(
        bundle,
        otherBuild(source.replace(label, label.replace('"wildcard"', '"WILDCARD"'))),
        'latin1',
      );
      await utimes(bundle, mtime, mtime);
      await rm(path.dirname(cache), { recursive: true, force: true });
      expect(await ip()).toMatch(/^WILDCARD /m);
    } finally {
      await rm(mine, { recursive: true, force: true });
    }
  });

  it('one V8 rejects (other V8 flags) leaves the command to the folder, whose cache the next run reads', async () => {
    const deserialized = async (): Promise<number[]> => {
      const out = await run(
        process.execPath,
        ['--no-concurrent-sparkplug', '--jitless', '--profile-deserialization', CLI, ...IP],
        { env },
      );
      expect(out.code, out.stderr).toBe(0);
      const text = `${out.stdout.toString()}${out.stderr}`;
      return [...text.matchAll(/Deserializing from (\d+) bytes/g)].map((m) => Number(m[1]));
    };
    await deserialized();
    const [name] = await cacheFiles();
    expect(name).toMatch(/^ip-/);
    const written = await stat(path.join(cache, name as string));
    // Its data (the file less sockit's header) is read by the next run, and kept.
    expect(await deserialized()).toContain(written.size - CACHE_HEADER);
    expect((await stat(path.join(cache, name as string))).ino).toBe(written.ino);
  });

  it('one V8 rejects, or one made by another Node, leaves the command to the cache in the user folder', async () => {
    const mine = await mkdtemp(path.join(tmpdir(), 'sockit-built-'));
    try {
      await cp(path.dirname(CLI), mine, { recursive: true });
      const main = path.join(mine, 'main.cjs');
      const ip = path.join(mine, 'one', `ip.cjs.${process.version}-${process.arch}.v8`);
      const expected = (
        await uncached(IP, { env: { ...env, NODE_DISABLE_COMPILE_CACHE: '1' } })
      ).stdout.toString();
      // Garbage behind a valid header: V8 rejects it.
      await writeFile(ip, await garbageFor(path.join(mine, 'one', 'ip.cjs')));
      const rejected = await run(process.execPath, [main, ...IP], { env });
      expect(rejected.code, rejected.stderr).toBe(0);
      expect(rejected.stdout.toString()).toBe(expected);
      expect((await cacheFiles()).filter((name) => name.startsWith('ip-'))).toHaveLength(1);
      // Another Node's: not this one's name, not read; the user's cache serves.
      await rm(path.join(cache), { recursive: true });
      await rename(ip, ip.replace(process.version, 'v1.0.0'));
      const other = await run(process.execPath, [main, ...IP], { env });
      expect(other.stdout.toString()).toBe(expected);
      expect((await cacheFiles()).filter((name) => name.startsWith('ip-'))).toHaveLength(1);
    } finally {
      await rm(mine, { recursive: true, force: true });
    }
  });
});
