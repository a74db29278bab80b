/**
 * What the files client commands print (docs/cli.md, "Output"): `--json` puts one object per
 * result on stdout and nothing else there, `-q` leaves only errors, `-v` adds a line for each
 * file or path, those left alone included.
 */
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, truncate, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sockit } from '../helpers.js';
import { type FilesFixture, startFilesFixture } from './files-fixture.js';

const sha = (b: Buffer | string): string => createHash('sha256').update(b).digest('hex');
/** A control character other than tab and line feed: what must never reach a terminal from a peer. */
// biome-ignore lint/suspicious/noControlCharactersInRegex: finding them is the point
const CONTROL = /[\u0000-\u0008\u000b-\u001f\u007f]/;

/** Every line of stdout parsed as JSON: fails on any line that is not. */
function jsonLines(stdout: Buffer): Record<string, unknown>[] {
  return stdout
    .toString()
    .trimEnd()
    .split('\n')
    .map((line) => JSON.parse(line) as Record<string, unknown>);
}

/** -v's lines: the client's steps (`files: ...`), and the rest. */
function splitSteps(stderr: string): [string[], string[]] {
  const all = stderr.split('\n');
  return [all.filter((l) => l.startsWith('files: ')), all.filter((l) => !l.startsWith('files: '))];
}

describe('sockit files --json, -q and -v', () => {
  let dir: string;
  let home: string;
  let files: FilesFixture;
  let where: string;
  let env: NodeJS.ProcessEnv;
  let tree: string;

  beforeAll(async () => {
    files = await startFilesFixture('sockit-files-output-', { ann: 'pass of ann' }, process.env, [
      '--allow-register',
    ]);
    ({ dir, where } = files);
    env = { ...files.env, SOCKIT_PASSWORD: 'pass of ann' };
    home = files.home('ann');
    tree = path.join(dir, 'tree');
    await mkdir(path.join(tree, 'sub'), { recursive: true });
    await writeFile(path.join(tree, 'a.txt'), 'alpha');
    await writeFile(path.join(tree, 'sub', 'b.txt'), 'beta!');
  });
  afterAll(() => files?.stop());

  const run = (...args: string[]) => sockit(['files', ...args, '-u', 'ann'], { env });

  it('upload --json: one object per file on stdout, nothing on stderr', async () => {
    const r = await run('upload', where, tree, '--to', 'j', '--json');
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toBe('');
    const objects = jsonLines(r.stdout).sort((x, y) => String(x.path).localeCompare(String(y.path)));
    expect(objects).toEqual([
      {
        status: 'uploaded',
        reason: null,
        path: 'j/tree/a.txt',
        local: path.join(tree, 'a.txt'),
        bytes: 5,
        sha256: sha('alpha'),
        resumedFrom: 0,
      },
      {
        status: 'uploaded',
        reason: null,
        path: 'j/tree/sub/b.txt',
        local: path.join(tree, 'sub', 'b.txt'),
        bytes: 5,
        sha256: sha('beta!'),
        resumedFrom: 0,
      },
    ]);
    expect(await readFile(path.join(home, 'j', 'tree', 'sub', 'b.txt'), 'utf8')).toBe('beta!');
  });

  it('upload: a line per file and a total by default; -v adds the skipped; -q prints nothing', async () => {
    const first = await run('upload', where, tree, '--to', 'h');
    expect(first.code, first.stderr).toBe(0);
    expect(first.stdout.length).toBe(0);
    expect(first.stderr).toMatch(/^uploaded h\/tree\/a\.txt: 5 B in /m);
    expect(first.stderr).toMatch(/^uploaded 2 files \(10 B\)$/m);

    const plain = await run('upload', where, tree, '--to', 'h', '--skip-existing');
    expect(plain.code, plain.stderr).toBe(0);
    expect(plain.stderr).toBe('uploaded 0 files (0 B), skipped 2 (2 existing)\n');
    const verbose = await run('upload', where, tree, '--to', 'h', '--skip-existing', '-v');
    // -v also gives the client's steps, as every client's -v does.
    const [steps, lines] = splitSteps(verbose.stderr);
    expect(steps).toContain('files: log-in mechanism=SCRAM-SHA-256 user=ann');
    expect(lines.sort()).toEqual(
      [
        '',
        'skipped h/tree/a.txt: exists',
        'skipped h/tree/sub/b.txt: exists',
        'uploaded 0 files (0 B), skipped 2 (2 existing)',
      ].sort(),
    );
    const quiet = await run('upload', where, tree, '--to', 'q', '-q');
    expect(quiet.code, quiet.stderr).toBe(0);
    expect(quiet.stderr).toBe('');
    expect(quiet.stdout.length).toBe(0);
    expect(await readFile(path.join(home, 'q', 'tree', 'a.txt'), 'utf8')).toBe('alpha');
  });

  it('-q still prints an error, and -q with -v is a usage error', async () => {
    const failed = await run('upload', where, tree, '--to', 'h', '-q');
    expect(failed.code).toBeGreaterThan(0);
    expect(failed.stderr).toMatch(/^sockit: [^\n]*\[ERR_EXISTS\]\n$/);
    for (const command of ['upload', 'download', 'ls', 'rm', 'mkdir']) {
      const both = await sockit(['files', command, '127.0.0.1:1', 'x', '-q', '-v'], { env });
      expect(both.code, command).toBeGreaterThan(0);
      expect(both.stderr, command).toMatch(/^sockit: [^\n]*cannot be used with[^\n]*\[ERR_USAGE\]\n$/);
    }
  });

  it('download --json and -q; --json with - (stdout) is refused', async () => {
    const into = path.join(dir, 'down');
    await mkdir(into);
    const r = await run('download', where, 'j/tree', into, '--json');
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toBe('');
    const objects = jsonLines(r.stdout);
    expect(objects.map((o) => `${o.status} ${o.path} ${o.local} ${o.sha256}`).sort()).toEqual([
      `downloaded j/tree/a.txt ${path.join(into, 'tree', 'a.txt')} ${sha('alpha')}`,
      `downloaded j/tree/sub/b.txt ${path.join(into, 'tree', 'sub', 'b.txt')} ${sha('beta!')}`,
    ]);
    const skipped = await run('download', where, 'j/tree', into, '--json', '--skip-existing');
    // Every key in every object; null where the value is not known.
    expect(jsonLines(skipped.stdout).map((o) => Object.keys(o).sort().join())).toEqual([
      'bytes,local,path,reason,resumedFrom,sha256,status',
      'bytes,local,path,reason,resumedFrom,sha256,status',
    ]);
    expect(jsonLines(skipped.stdout).map((o) => `${o.status} ${o.reason} ${o.bytes} ${o.sha256}`)).toEqual([
      'skipped exists 5 null',
      'skipped exists 5 null',
    ]);
    const quiet = await run('download', where, 'j/tree/a.txt', path.join(dir, 'quiet.txt'), '-q');
    expect(quiet.code, quiet.stderr).toBe(0);
    expect(quiet.stderr).toBe('');
    expect(await readFile(path.join(dir, 'quiet.txt'), 'utf8')).toBe('alpha');
    const toStdout = await run('download', where, 'j/tree/a.txt', '-', '--json');
    expect(toStdout.code).toBeGreaterThan(0);
    expect(toStdout.stdout.length).toBe(0);
    expect(toStdout.stderr).toMatch(/^sockit: [^\n]*\[ERR_USAGE\]\n$/);
  });

  it('ls: --json is one array; -v adds the count on stderr; -q changes nothing on stdout', async () => {
    const json = await run('ls', where, 'j/tree', '-R', '--json');
    expect(json.stderr).toBe('');
    expect((JSON.parse(json.stdout.toString()) as { path: string }[]).map((e) => e.path)).toEqual([
      'a.txt',
      'sub',
      'sub/b.txt',
    ]);
    const verbose = await run('ls', where, 'j/tree', '-R', '-v');
    expect(verbose.stdout.toString().trimEnd().split('\n')).toHaveLength(3);
    const [steps, lines] = splitSteps(verbose.stderr);
    expect(steps.some((l) => l.startsWith('files: connected server=127.0.0.1:'))).toBe(true);
    expect(lines).toEqual(['3 entries', '']);
    const quiet = await run('ls', where, 'j/tree', '-R', '-q');
    expect(quiet.stdout.toString()).toBe(verbose.stdout.toString());
    expect(quiet.stderr).toBe('');
  });

  it("writes out control characters of the server's names and messages, never to the terminal", async () => {
    // A name a hostile server could list (here stored on the real one, which takes it).
    const evil = 'x\u001b]0;TITLE\u0007\u001b[2J\rFAKE.txt';
    await mkdir(path.join(home, 'esc'), { recursive: true });
    await writeFile(path.join(home, 'esc', evil), 'boo');
    const listed = await run('ls', where, 'esc');
    expect(listed.code, listed.stderr).toBe(0);
    expect(listed.stdout.toString()).not.toMatch(CONTROL);
    expect(listed.stdout.toString()).toContain('x\\u{1b}]0;TITLE\\u{7}\\u{1b}[2J\\u{d}FAKE.txt');
    const into = path.join(dir, 'esc-down');
    const got = await run('download', where, 'esc', into, '-v');
    expect(got.code, got.stderr).toBe(0);
    expect(got.stderr).not.toMatch(CONTROL);
    expect(got.stderr).toContain('\\u{1b}[2J');
    expect(await readFile(path.join(into, evil), 'utf8')).toBe('boo');
    // A refusal that quotes the name: one line, written out.
    const refused = await run('download', where, `esc/${evil}-gone`, path.join(dir, 'nothing'));
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toMatch(/^sockit: [^\n]*\\u\{1b\}\[2J[^\n]*\[ERR_NOT_FOUND\]\n$/);
    expect(refused.stderr).not.toMatch(CONTROL);
  });

  it.each(['SIGINT', 'SIGTERM'] as const)(
    'a download stopped by %s ends with one line and status 130, leaving no part',
    async (signal) => {
      // Large enough to be under way for a while: a sparse file, read as zeros.
      await truncate(path.join(home, 'big.bin'), 2 ** 30).catch(async () => {
        await writeFile(path.join(home, 'big.bin'), '');
        await truncate(path.join(home, 'big.bin'), 2 ** 30);
      });
      const into = await mkdtemp(path.join(dir, 'stopped-'));
      const local = path.join(into, 'big.bin');
      // Under way once its part is on disk.
      const started = (async () => {
        while (!existsSync(`${local}.sockit-part`)) await new Promise((resolve) => setTimeout(resolve, 5));
      })();
      const r = await sockit(['files', 'download', where, 'big.bin', local, '-u', 'ann'], {
        env,
        interrupt: { when: started, signal },
      });
      expect(r.stderr.trimEnd().split('\n').at(-1)).toBe(
        `sockit: interrupted by ${signal === 'SIGINT' ? 'Ctrl-C (SIGINT)' : signal} [ERR_ABORTED]`,
      );
      expect(r.code).toBe(130);
      expect(await readdir(into)).toEqual([]);
    },
  );

  it('mkdir and rm: silent by default, a line per path with -v, an object per path with --json', async () => {
    const made = await run('mkdir', where, 'm1', 'm2', '--json');
    expect(made.code, made.stderr).toBe(0);
    expect(jsonLines(made.stdout)).toEqual([
      { path: 'm1', status: 'made' },
      { path: 'm2', status: 'made' },
    ]);
    const quietly = await run('mkdir', where, 'm3');
    expect(quietly.stderr).toBe('');
    expect(quietly.stdout.length).toBe(0);
    const removed = await run('rm', where, 'm1', 'm2', '-v');
    expect(removed.code, removed.stderr).toBe(0);
    expect(splitSteps(removed.stderr)[1]).toEqual(['removed m1', 'removed m2', '']);
    expect(removed.stdout.length).toBe(0);
    const json = await run('rm', where, 'm3', '--json');
    expect(jsonLines(json.stdout)).toEqual([{ path: 'm3', status: 'removed' }]);
  });

  it('register: a line by default, an object with --json, nothing with -q', async () => {
    const register = (user: string, ...more: string[]) =>
      sockit(['files', 'register', where, '-u', user, '--iterations', '4096', ...more], { env });
    const plain = await register('dan');
    expect(plain.code, plain.stderr).toBe(0);
    expect(plain.stderr).toBe('registered dan\n');
    const json = await register('eve', '--json');
    expect(json.code, json.stderr).toBe(0);
    expect(json.stderr).toBe('');
    expect(jsonLines(json.stdout)).toEqual([{ user: 'eve', status: 'registered' }]);
    const quiet = await register('fay', '-q');
    expect(quiet.code, quiet.stderr).toBe(0);
    expect(quiet.stderr).toBe('');
    expect(quiet.stdout.length).toBe(0);
  });
});
