import { mkdirSync, mkdtempSync, realpathSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ErrorCode, isSockitError } from '../errors.js';
import { ConfinedRoot } from '../runtime/confine.js';
import { TftpErrorCode } from './packet.js';
import { parseRewrite, resolveInRoot } from './paths.js';
import { ServedFiles } from './storage.js';

const client = { address: '127.0.0.1', port: 1, family: 'IPv4' } as const;

describe('TFTP paths', () => {
  const base = realpathSync(mkdtempSync(path.join(os.tmpdir(), 'sockit-paths-')));
  const root = path.join(base, 'root');
  const outside = path.join(base, 'outside');
  mkdirSync(path.join(root, 'boot'), { recursive: true });
  mkdirSync(outside);
  writeFileSync(path.join(root, 'boot', 'kernel'), 'kernel');
  writeFileSync(path.join(outside, 'kernel'), 'secret');
  symlinkSync(path.join(root, 'boot'), path.join(root, 'alias'));
  symlinkSync(outside, path.join(root, 'away'));
  let confined: ConfinedRoot;
  let files: ServedFiles;
  beforeAll(async () => {
    confined = await ConfinedRoot.open(root);
    files = new ServedFiles({ root: confined, writable: false, overwrite: false });
  });
  afterAll(async () => {
    await confined.close();
    rmSync(base, { recursive: true, force: true });
  });

  /** What a read of `name` gets: the file's bytes, or the ERROR code. */
  async function read(name: string): Promise<string | number> {
    const resolved = await resolveInRoot(confined, name, [], '127.0.0.1');
    if (!resolved.ok) return resolved.code;
    const source = await files.openForRead(resolved.path, resolved.name, client);
    if ('code' in source) return source.code;
    try {
      return (await source.handle?.readFile('utf8')) ?? 'stream';
    } finally {
      source.close();
    }
  }

  it('reads a file by where it is, whatever name (or link inside the root) leads to it', async () => {
    expect(await read('boot/kernel')).toBe('kernel');
    expect(await read('alias/kernel')).toBe('kernel');
    expect(await resolveInRoot(confined, 'alias/kernel', [], '127.0.0.1')).toMatchObject({
      path: 'boot/kernel',
    });
    expect(await read('away/kernel')).toBe(TftpErrorCode.ACCESS_VIOLATION);
    expect(await read(path.join(outside, 'kernel'))).not.toBe('secret');
    expect(await read('boot/../../outside/kernel')).toBe(TftpErrorCode.ACCESS_VIOLATION);
  });

  it('refuses a folder swapped for a link after the name was resolved', async () => {
    const swapped = path.join(root, 'swapped');
    mkdirSync(swapped);
    writeFileSync(path.join(swapped, 'kernel'), 'ours');
    const resolved = await resolveInRoot(confined, 'swapped/kernel', [], '127.0.0.1');
    expect(resolved.ok).toBe(true);
    // Between the check and the open, someone with write access to the root swaps the folder.
    rmSync(swapped, { recursive: true });
    symlinkSync(outside, swapped);
    const source = await files.openForRead((resolved as { path: string }).path, 'swapped/kernel', client);
    expect(source).toMatchObject({ code: TftpErrorCode.ACCESS_VIOLATION });
  });

  it('takes names that begin with two dots for names, and still refuses ..', async () => {
    writeFileSync(path.join(root, '..hidden'), 'dots');
    mkdirSync(path.join(root, '..dir'));
    writeFileSync(path.join(root, '..dir', 'f'), 'dots');
    writeFileSync(path.join(root, 'boot', '..kernel'), 'dots');
    for (const name of ['..hidden', '/..hidden', '..dir/f', 'boot/..kernel']) {
      const resolved = await resolveInRoot(confined, name, [], '127.0.0.1');
      expect(resolved, name).toMatchObject({ ok: true, path: name.replace(/^\//, '') });
      expect(await read(name), name).toBe('dots');
    }
    for (const name of ['..', '../outside/kernel', 'boot/../../outside/kernel', '..\\outside']) {
      expect((await resolveInRoot(confined, name, [], '127.0.0.1')).ok, name).toBe(false);
    }
  });
});

describe('parseRewrite', () => {
  it('parses REGEX=>REPLACEMENT', () => {
    const rule = parseRewrite('^old/=>new/');
    expect('old/x'.replace(rule.pattern, rule.replace)).toBe('new/x');
  });

  it('refuses a rule without => or with a bad pattern as ERR_INVALID_ARGUMENT', () => {
    for (const bad of ['no-arrow', '=>x', '(unclosed=>x']) {
      let thrown: unknown;
      try {
        parseRewrite(bad);
      } catch (err) {
        thrown = err;
      }
      expect(isSockitError(thrown, ErrorCode.INVALID_ARGUMENT), bad).toBe(true);
    }
  });
});
