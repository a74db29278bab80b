import { randomBytes } from 'node:crypto';
import type { UserStore } from '../../src/auth/store.js';
import { type FilesServerOptions, serveFiles } from '../../src/files/server.js';
import type { TcpService } from '../../src/runtime/tcp.js';

/** The PBKDF2 count test accounts are made with: cheap, and the least a server accepts. */
export const TEST_ITERATIONS = 4096;

/**
 * The file service as the tests run it: on 127.0.0.1, a free port, a fresh fake key, and
 * accounts of TEST_ITERATIONS accepted; `options` add to or override that.
 */
export function serveFilesForTest(
  root: string,
  store: UserStore,
  options: Partial<FilesServerOptions> = {},
): Promise<TcpService> {
  return serveFiles({
    root,
    store,
    host: '127.0.0.1',
    port: 0,
    fakeKey: randomBytes(32),
    minIterations: TEST_ITERATIONS,
    ...options,
  });
}
