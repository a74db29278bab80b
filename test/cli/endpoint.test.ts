/** A bad HOST:PORT on the command line: one line with its code, never a stack trace. */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ExitStatus } from '../../src/cli/exit-status.js';
import { requireTools, sockit } from '../helpers.js';

const data = mkdtempSync(path.join(os.tmpdir(), 'sockit-cli-endpoint-'));
const env = { ...process.env, SOCKIT_DATA_DIR: data, SOCKIT_KEY_CACHE: 'off', SOCKIT_PASSWORD: 'x' };

describe('a bad HOST:PORT', () => {
  beforeAll(() => requireTools());
  afterAll(() => rmSync(data, { recursive: true, force: true }));

  it.each([
    ['files', 'ls', 'localhost:99999', '--user', 'ann'],
    ['files', 'ls', '127.0.0.1:abc', '--user', 'ann'],
    ['files', 'ls', ':0', '--user', 'ann'],
    ['files', 'ls', 'localhost:', '--user', 'ann'],
    ['files', 'register', 'localhost:99999', '--user', 'ann'],
    ['tftp', 'get', 'localhost:99999', 'f', '-'],
    ['tftp', 'get', '127.0.0.1:abc', 'f', '-'],
    ['tftp', 'put', ':0', '-', 'f'],
    ['tftp', 'get', '[::1]:', 'f', '-'],
  ])('%j is refused with ERR_INVALID_ARGUMENT and no stack trace', async (...args) => {
    const r = await sockit(args, { env });
    expect(r.code).toBe(ExitStatus.USAGE);
    expect(r.stderr).toMatch(/^sockit: [^\n]*\[ERR_INVALID_ARGUMENT\]\n$/);
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });
});
