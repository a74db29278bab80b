/** Regression: registration had no rate limit; one address could make accounts without end. */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openUserStore, type UserStore } from '../../src/auth/store.js';
import { ErrorCode, isSockitError } from '../../src/errors.js';
import { FilesClient } from '../../src/files/client.js';
import { serveFiles } from '../../src/files/server.js';
import type { TcpService } from '../../src/runtime/tcp.js';

describe('registration rate limit', () => {
  let dir: string;
  let store: UserStore;
  let service: TcpService;

  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'sockit-register-'));
    store = await openUserStore(path.join(dir, 'users.db'));
    // The defaults: 5 registrations per address per hour.
    service = await serveFiles({
      root: path.join(dir, 'root'),
      store,
      host: '127.0.0.1',
      port: 0,
      fakeKey: randomBytes(32),
      minIterations: 4096,
      allowRegister: true,
    });
  });

  afterAll(async () => {
    await service?.close();
    await store?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('takes five registrations from one address in an hour, then answers ERR_THROTTLED', async () => {
    const client = await FilesClient.connect({ host: '127.0.0.1', port: service.address.port });
    try {
      const codes: string[] = [];
      for (let i = 0; i < 7; i++) {
        codes.push(
          await client.register(`user${i}`, 'a password', 4096).then(
            () => 'ok',
            (err: unknown) => (isSockitError(err) ? err.code : String(err)),
          ),
        );
      }
      expect(codes).toEqual(['ok', 'ok', 'ok', 'ok', 'ok', ErrorCode.THROTTLED, ErrorCode.THROTTLED]);
      expect((await store.list()).length).toBe(5);
    } finally {
      client.close();
    }
  });
});
