/** Aborting tftpGet and tftpPut with an AbortSignal, against the real server on loopback. */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Readable, Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { recordLog } from '../../test/log.js';
import { ErrorCode } from '../errors.js';
import { tftpGet, tftpPut } from './client.js';
import { serveTftp, type TftpService } from './server.js';

const openFds = (): number => readdirSync('/proc/self/fd').length;

describe('AbortSignal on the TFTP client', () => {
  let root: string;
  let server: TftpService;
  const logged = recordLog('warn');

  beforeAll(async () => {
    root = mkdtempSync(path.join(os.tmpdir(), 'sockit-tftp-abort-'));
    writeFileSync(path.join(root, 'big.bin'), randomBytes(4 * 1024 * 1024));
    server = await serveTftp({ root, host: '127.0.0.1', port: 0, writable: true, log: logged.log });
  });

  afterAll(async () => {
    await server.close();
    rmSync(root, { recursive: true, force: true });
  });

  it('aborts a download mid-transfer: ERROR to the server, ERR_ABORTED, socket closed', async () => {
    const fdsBefore = openFds();
    const controller = new AbortController();
    let received = 0;
    const output = new Writable({
      write(chunk: Buffer, _enc, done) {
        received += chunk.length;
        if (received >= 64 * 1024) controller.abort();
        done();
      },
    });
    const err = await tftpGet(
      { host: '127.0.0.1', port: server.address.port, signal: controller.signal },
      'big.bin',
      output,
    ).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: ErrorCode.ABORTED });
    expect(received).toBeLessThan(4 * 1024 * 1024);
    // The server was told: its transfer ended on the client's ERROR, not on a timeout.
    await vi.waitFor(() => {
      expect(server.transfers).toBe(0);
      expect(
        logged.entries.some(
          (w) => w.level === 40 && w.file === 'big.bin' && /client sent ERROR 0/.test(String(w.error)),
        ),
      ).toBe(true);
    });
    await vi.waitFor(() => expect(openFds()).toBeLessThanOrEqual(fdsBefore));
  });

  it('aborts an upload mid-transfer: the server drops the part and no file appears', async () => {
    const controller = new AbortController();
    const input = new Readable({ read() {} });
    input.push(randomBytes(100_000)); // then the input stalls, and the caller gives up
    const put = tftpPut(
      { host: '127.0.0.1', port: server.address.port, signal: controller.signal },
      'aborted.bin',
      input,
    ).catch((e: unknown) => e);
    await vi.waitFor(() =>
      expect(readdirSync(root).some((f) => f.includes('aborted.bin') && f.endsWith('.part'))).toBe(true),
    );
    controller.abort();
    expect(await put).toMatchObject({ code: ErrorCode.ABORTED });
    input.destroy();
    await vi.waitFor(() => {
      expect(readdirSync(root).filter((f) => f.includes('aborted.bin'))).toEqual([]);
      expect(server.transfers).toBe(0);
    });
  });

  it('rejects at once, sending nothing, when the signal is already aborted', async () => {
    const transfersBefore = server.transfers;
    const err = await tftpGet(
      { host: '127.0.0.1', port: server.address.port, signal: AbortSignal.abort() },
      'big.bin',
      new Writable({ write: (_c, _e, done) => done() }),
    ).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: ErrorCode.ABORTED });
    expect(server.transfers).toBe(transfersBefore);
  });
});
