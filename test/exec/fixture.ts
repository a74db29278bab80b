/**
 * An exec server for tests: a temporary folder as its working folder, a SQLite user store
 * with `ann` (the exec grant) and `bob` (no grant), both with PASSWORD, and a log-in server
 * that takes the quick test iteration count.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { LoginServer } from '../../src/auth/login-server.js';
import { deriveCredentials } from '../../src/auth/scram.js';
import { openUserStore, type UserStore } from '../../src/auth/store.js';
import { ExecClient } from '../../src/exec/client.js';
import { type ExecServerOptions, type ExecService, serveExec } from '../../src/exec/server.js';
import { TEST_ITERATIONS } from '../files/serve.js';

export const PASSWORD = 'exec password 1';

/** Programs the tests' servers run. */
export const PROGRAMS = ['sh', 'cat', 'echo', 'true', 'false', 'head', 'sleep', 'env', 'pwd', 'wc', 'printf'];

export interface ExecFixture {
  dir: string;
  store: UserStore;
  /** Starts a server on a free loopback port, stopped by `close()`. */
  serve(options?: Partial<ExecServerOptions>): Promise<ExecService>;
  /** A client logged in to `service` as `user` (default ann). */
  connect(service: ExecService, user?: string, password?: string): Promise<ExecClient>;
  close(): Promise<void>;
}

export async function execFixture(): Promise<ExecFixture> {
  const dir = await mkdtemp(path.join(tmpdir(), 'sockit-exec-'));
  const store = await openUserStore(path.join(dir, 'users.db'));
  const credentials = await deriveCredentials(PASSWORD, { iterations: TEST_ITERATIONS });
  await store.add('ann', credentials, { grants: ['exec'] });
  await store.add('bob', credentials);
  const services: ExecService[] = [];
  const clients: ExecClient[] = [];
  return {
    dir,
    store,
    async serve(options = {}) {
      const login = new LoginServer({
        service: 'exec',
        store,
        fakeKey: randomBytes(32),
        minIterations: TEST_ITERATIONS,
      });
      const service = await serveExec({
        login,
        allow: PROGRAMS,
        cwd: dir,
        host: '127.0.0.1',
        port: 0,
        ...options,
      });
      services.push(service);
      return service;
    },
    async connect(service, user = 'ann', password = PASSWORD) {
      const client = await ExecClient.connect({
        host: '127.0.0.1',
        port: service.address.port,
        user,
        password,
      });
      clients.push(client);
      return client;
    },
    async close() {
      for (const c of clients) c.close();
      await Promise.all(services.map((s) => s.close()));
      await store.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** Whether a process lives. */
export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/**
 * Starts `sleep 60` in the background of a shell on `client` and resolves with the sleep's
 * pid (the first thing the shell writes): a grandchild to watch being ended.
 */
export async function startSleeper(client: ExecClient): Promise<{ pid: number; done: Promise<unknown> }> {
  const p = client.start(['sh', '-c', 'sleep 60 & echo $!; wait']);
  p.stdin.end();
  const pid = await new Promise<number>((resolve) =>
    p.stdout.once('data', (c: Buffer) => resolve(Number(c.toString().trim()))),
  );
  return { pid, done: p.done.catch(() => {}) };
}
