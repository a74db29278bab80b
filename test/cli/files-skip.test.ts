/** `--skip-existing`: a folder upload or download run again finishes the rest. */
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { requireTools, type Server, sockit, startServer } from '../helpers.js';

describe('sockit files upload and download --skip-existing', () => {
  let dir: string;
  let home: string;
  let server: Server;
  let where: string;
  let env: NodeJS.ProcessEnv;

  beforeAll(async () => {
    requireTools();
    dir = await mkdtemp(path.join(tmpdir(), 'sockit-files-skip-'));
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

  it('upload: stops at an existing file without it, uploads the rest and keeps that file with it', async () => {
    const local = path.join(dir, 'up');
    await mkdir(local);
    await writeFile(path.join(local, 'a.txt'), 'new a');
    await writeFile(path.join(local, 'b.txt'), 'new b');
    await mkdir(path.join(home, 'up'), { recursive: true });
    await writeFile(path.join(home, 'up', 'a.txt'), 'old a');

    const refused = await sockit(['files', 'upload', where, local, '-u', 'ann'], { env });
    expect(refused.stderr).toMatch(/\[ERR_EXISTS\]\n$/);
    await expect(readFile(path.join(home, 'up', 'b.txt'))).rejects.toMatchObject({ code: 'ENOENT' });

    const r = await sockit(['files', 'upload', where, local, '-u', 'ann', '--skip-existing'], { env });
    expect(r.code, r.stderr).toBe(0);
    expect(await readFile(path.join(home, 'up', 'a.txt'), 'utf8')).toBe('old a');
    expect(await readFile(path.join(home, 'up', 'b.txt'), 'utf8')).toBe('new b');
  });

  it('download: stops at an existing file without it, downloads the rest and keeps that file with it', async () => {
    await mkdir(path.join(home, 'down'), { recursive: true });
    await writeFile(path.join(home, 'down', 'a.txt'), 'remote a');
    await writeFile(path.join(home, 'down', 'b.txt'), 'remote b');
    const local = path.join(dir, 'down');
    await mkdir(local);
    await writeFile(path.join(local, 'a.txt'), 'local a');

    const refused = await sockit(['files', 'download', where, 'down', dir, '-u', 'ann'], { env });
    expect(refused.stderr).toMatch(/\[ERR_EXISTS\]\n$/);

    const r = await sockit(['files', 'download', where, 'down', dir, '-u', 'ann', '--skip-existing'], {
      env,
    });
    expect(r.code, r.stderr).toBe(0);
    expect(await readFile(path.join(local, 'a.txt'), 'utf8')).toBe('local a');
    expect(await readFile(path.join(local, 'b.txt'), 'utf8')).toBe('remote b');
  });

  it('refuses --overwrite with --skip-existing', async () => {
    const r = await sockit(
      ['files', 'download', where, 'down', dir, '-u', 'ann', '--skip-existing', '--overwrite'],
      {
        env,
      },
    );
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^sockit: [^\n]*\[ERR_INVALID_ARGUMENT\]\n$/);
  });
});
