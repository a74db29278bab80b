/**
 * A file service for CLI tests: a temporary folder, accounts added with `sockit users add`
 * (4096 iterations, so tests do not wait for PBKDF2), and `sockit files serve` on
 * 127.0.0.1, port 0.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { expect } from 'vitest';
import { requireTools, type Server, sockit, startServer } from '../helpers.js';

export interface FilesFixture {
  dir: string;
  dataDir: string;
  server: Server;
  /** `127.0.0.1:PORT` of the service. */
  where: string;
  /** The environment the accounts were made with (SOCKIT_DATA_DIR set, no key cache). */
  env: NodeJS.ProcessEnv;
  home(user: string): string;
  stop(): Promise<void>;
}

/** `accounts` maps each user name to its password; `serveArgs` go to `sockit files serve`. */
export async function startFilesFixture(
  prefix: string,
  accounts: Record<string, string>,
  base: NodeJS.ProcessEnv = process.env,
  serveArgs: string[] = [],
): Promise<FilesFixture> {
  requireTools();
  const dir = await mkdtemp(path.join(tmpdir(), prefix));
  const dataDir = path.join(dir, 'data');
  const env: NodeJS.ProcessEnv = { ...base, SOCKIT_DATA_DIR: dataDir, SOCKIT_KEY_CACHE: 'off' };
  for (const [user, password] of Object.entries(accounts)) {
    const added = await sockit(['users', 'add', user, '--data-dir', dataDir, '--iterations', '4096'], {
      env: { ...env, SOCKIT_PASSWORD: password },
    });
    expect(added.code, added.stderr).toBe(0);
  }
  const server = await startServer(
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
      ...serveArgs,
    ],
    1,
  );
  return {
    dir,
    dataDir,
    server,
    where: `127.0.0.1:${server.listening[0]?.port}`,
    env,
    home: (user) => path.join(dataDir, 'files', user),
    stop: async () => {
      await server.stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}
