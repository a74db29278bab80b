/** `-` for `sockit files`: stdin for upload (with --as), stdout for download. */
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { requireTools, type Server, sockit, startServer } from '../helpers.js';

describe('sockit files with - as the local file', () => {
  let dir: string;
  let home: string;
  let server: Server;
  let where: string;
  let env: NodeJS.ProcessEnv;
  const data = randomBytes(300_000);

  beforeAll(async () => {
    requireTools();
    dir = await mkdtemp(path.join(tmpdir(), 'sockit-files-stdio-'));
    const dataDir = path.join(dir, 'data');
    env = {
      ...process.env,
      SOCKIT_DATA_DIR: dataDir,
      SOCKIT_KEY_CACHE: 'off',
      SOCKIT_PASSWORD: 'pass of ann',
    };
    const added = await sockit(['users', 'add', 'ann', '--data-dir', dataDir, '--iterations', '4096'], {
      env,
    });
    expect(added.code, added.stderr).toBe(0);
    server = await startServer(
      [
        'files',
        'serve',
        '--data-dir',
        dataDir,
        '--host',
        '127.0.0.1',
        '--port',
        '0',
        '--min-iterations',
        '4096',
      ],
      1,
    );
    where = `127.0.0.1:${server.listening[0]?.port}`;
    home = path.join(dataDir, 'files', 'ann');
  });
  afterAll(async () => {
    await server?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it('uploads stdin under the name --as gives, into --to', async () => {
    const r = await sockit(['files', 'upload', where, '-', '--as', 'piped.bin', '--to', 'in', '-u', 'ann'], {
      env,
      input: data,
    });
    expect(r.code, r.stderr).toBe(0);
    expect((await readFile(path.join(home, 'in', 'piped.bin'))).equals(data)).toBe(true);
    expect(existsSync(path.join(home, '-'))).toBe(false);
  });

  it('refuses an upload from stdin without --as, before connecting', async () => {
    const r = await sockit(['files', 'upload', '127.0.0.1:1', '-', '-u', 'ann'], { env, input: data });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^sockit: [^\n]*\[ERR_INVALID_ARGUMENT\]\n$/);
  });

  it('downloads a file to stdout, and writes no file named -', async () => {
    await mkdir(path.join(home, 'out'), { recursive: true });
    await writeFile(path.join(home, 'out', 'f.bin'), data);
    const cwd = process.cwd();
    const r = await sockit(['files', 'download', where, 'out/f.bin', '-', '-u', 'ann'], { env });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout.equals(data)).toBe(true);
    expect(existsSync(path.join(cwd, '-'))).toBe(false);
  });

  it('refuses a folder to stdout', async () => {
    const r = await sockit(['files', 'download', where, 'out', '-', '-u', 'ann'], { env });
    expect(r.code).toBe(1);
    expect(r.stdout.length).toBe(0);
    expect(r.stderr).toMatch(/^sockit: [^\n]*\[ERR_INVALID_ARGUMENT\]\n$/);
  });
});
