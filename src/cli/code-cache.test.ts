/**
 * loadBundle on small bundles: the build writes a bundle inside the CommonJS wrapper; one
 * without it is wrapped at load. (How the cache is written, used and refused: test/cli/code-cache.test.ts.)
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { BUNDLE_WRAPPER_START } from './bundle-file.js';
import { loadBundle } from './code-cache.js';

describe('loadBundle', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'sockit-bundle-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  const body = `"use strict";
module.exports = { file: __filename, dir: __dirname, strict: (function () { return this; })() === undefined, req: typeof require('node:path').join };
`;

  it.each([
    [
      'written inside the wrapper, as the build writes it',
      `(function (exports, require, module, __filename, __dirname) {\n${body}})\n`,
    ],
    ['without it', body],
  ])('runs a bundle %s as a CommonJS module', (_, source) => {
    const file = path.join(dir, `b-${source.length}.cjs`);
    writeFileSync(file, source);
    expect(loadBundle(file, () => undefined)).toEqual({ file, dir, strict: true, req: 'function' });
  });

  it("enters the module in the caller's registry, and gives a require that loads on its first call", () => {
    const file = path.join(dir, 'registered.cjs');
    writeFileSync(
      file,
      `module.exports = { lazy: () => require('node:path').basename(__filename), own: Object.keys(require) };\n`,
    );
    const registry: NodeJS.Dict<NodeModule> = {};
    const loaded = loadBundle(file, () => undefined, registry) as { lazy: () => string; own: string[] };
    expect(registry[file]?.exports).toBe(loaded);
    expect(registry[file]?.loaded).toBe(true);
    // A plain function: no resolve, cache or main until it is real (scripts/build-cli.mjs
    // refuses a bundle that uses them).
    expect(loaded.own).toEqual([]);
    expect(loaded.lazy()).toBe('registered.cjs');
  });

  it('finds the build writing start.cjs and every command bundle inside the wrapper it expects', () => {
    // Otherwise each run would wrap it again: a second copy of the source (scripts/build-cli.mjs).
    for (const name of ['one/version', 'one/ip', 'one/ports', 'start']) {
      const bundle = path.join(import.meta.dirname, '../../dist/cli', `${name}.cjs`);
      expect(readFileSync(bundle, 'latin1').startsWith(BUNDLE_WRAPPER_START)).toBe(true);
    }
  });
});
