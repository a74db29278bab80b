import { describe, expect, it } from 'vitest';
import { createLogger, LogTail, loadPretty } from './log.js';

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

describe('LogTail', () => {
  it('keeps the last lines a logger writes at its level, as entries, within its bounds', () => {
    const tail = new LogTail(3, 200);
    // The lines also go to stderr, as every logger's do.
    const log = createLogger({ pretty: false, level: 'warn', tail });
    log.info('not kept: below the level');
    for (let i = 1; i <= 4; i++) log.warn({ port: 6900 + i }, `line ${i}`);
    log.error({ detail: 'x'.repeat(500) }, 'long');
    expect(tail.written).toBe(5);
    const entries = tail.entries();
    expect(entries.map((e) => e.msg.slice(0, 11))).toEqual(['line 3', 'line 4', '{"level":50']);
    expect(entries[0]).toMatchObject({ level: 'warn', fields: { port: 6903 } });
    expect(entries[0]?.time).toBeGreaterThan(0);
    expect(entries[0]?.fields).not.toHaveProperty('pid');
    // Cut at 200 characters, it is no longer JSON: shown as text, never lost or thrown.
    expect(entries[2]?.msg).toHaveLength(201);
    expect(entries[2]?.msg.endsWith('\u2026')).toBe(true);
    expect(entries[2]?.fields).toEqual({});
    expect(tail.entries(1)).toHaveLength(1);
  });

  it('reads a cut line as its text, marked as cut', () => {
    const tail = new LogTail(2, 10);
    tail.write('{"level":30,"msg":"hello world"}\n');
    expect(tail.entries()[0]?.msg).toBe('{"level":3\u2026');
  });
});
