import { describe, expect, it } from 'vitest';
import { createLogger, loadPretty } from './log.js';

describe('pino-pretty, an optional peer', () => {
  it('is loaded on demand when installed', () => {
    expect(typeof loadPretty()).toBe('function');
  });

  it('is undefined, not an error, when missing', () => {
    expect(loadPretty('pino-pretty-not-installed')).toBeUndefined();
  });

  it('is not loaded by a JSON logger: log.ts imports no pino-pretty at module level', async () => {
    const { readFile } = await import('node:fs/promises');
    const source = await readFile(new URL('./log.ts', import.meta.url), 'utf8');
    expect(source).not.toMatch(/^import[^\n]*from 'pino-pretty'/m);
    expect(createLogger({ pretty: false, level: 'silent' }).level).toBe('silent');
  });
});
