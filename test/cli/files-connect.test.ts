/** `sockit files` clients connect before anything is asked, and say so when nothing answers. */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ExitStatus } from '../../src/cli/exit-status.js';
import { freePort, requireTools, sockit } from '../helpers.js';

const data = mkdtempSync(path.join(os.tmpdir(), 'sockit-cli-connect-'));
// No SOCKIT_PASSWORD, and stdin is a pipe (not a terminal): a password asked for first would
// fail with ERR_NO_PASSWORD.
const { SOCKIT_PASSWORD: _unused, ...rest } = process.env;
const env = { ...rest, SOCKIT_DATA_DIR: data, SOCKIT_KEY_CACHE: 'off' };

describe('sockit files against a closed port, without a password', () => {
  beforeAll(() => requireTools());
  afterAll(() => rmSync(data, { recursive: true, force: true }));

  it.each([
    ['register', []],
    ['ls', []],
    ['upload', [path.join(data, 'nothing')]],
    ['download', ['x', path.join(data, 'x')]],
  ])('%s fails with ERR_CONNECT_FAILED, not ERR_NO_PASSWORD', async (command, more) => {
    const where = `127.0.0.1:${await freePort()}`;
    const r = await sockit(['files', command as string, where, ...(more as string[]), '--user', 'ann'], {
      env,
    });
    expect(r.code).toBe(ExitStatus.NETWORK);
    expect(r.stderr).toMatch(/^sockit: [^\n]*\[ERR_CONNECT_FAILED\]\n$/);
    expect(r.stderr).toContain(`is the server running on ${where}?`);
  });
});
