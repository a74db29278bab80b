/** A server that stops sending in the middle of a download: the stall timeout ends it with a code. */
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ErrorCode } from '../../src/errors.js';
import type { FilesClient } from '../../src/files/client.js';
import { codeOf } from '../codes.js';
import { type FakeServer, fakeServer, type Handler, loginToFake } from './fake-server.js';

describe('FilesClient stallTimeoutMs', () => {
  let dir: string;
  let server: FakeServer | undefined;
  let client: FilesClient | undefined;
  const bytes = randomBytes(100_000);

  /** Announces the whole file, sends its first 10,000 bytes, then nothing, and never closes. */
  const freezes: Handler = (request, peer) => {
    if (request.op !== 'get') return;
    peer.send({ ok: true, size: bytes.length, from: 0, mtime: 0 });
    peer.raw(bytes.subarray(0, 10_000));
  };

  beforeEach(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'sockit-stall-'));
  });
  afterEach(async () => {
    client?.close();
    client = undefined;
    await server?.close();
    server = undefined;
    await rm(dir, { recursive: true, force: true });
  });

  async function login(stallTimeoutMs?: number): Promise<FilesClient> {
    server = await fakeServer(freezes, { neverClose: true });
    client = await loginToFake(server, { stallTimeoutMs });
    return client;
  }

  it('fails a frozen download with ERR_IDLE_TIMEOUT and keeps its part to resume', async () => {
    const c = await login(300);
    const local = path.join(dir, 'f.bin');
    expect(await codeOf(c.download('f.bin', local))).toBe(ErrorCode.IDLE_TIMEOUT);
    expect(existsSync(local)).toBe(false);
    expect((await stat(`${local}.sockit-part`)).size).toBe(10_000);
  });

  it('without the option, the same download is still waiting when aborted', async () => {
    const c = await login();
    const controller = new AbortController();
    const work = c.download('f.bin', path.join(dir, 'g.bin'), { signal: controller.signal });
    // Well past the stall timeout of the test above: nothing ended it.
    await new Promise((r) => setTimeout(r, 900));
    controller.abort();
    expect(await codeOf(work)).toBe(ErrorCode.ABORTED);
  });
});
