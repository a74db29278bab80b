/**
 * Reading the socket tables without the read that finds the end: against files, and against
 * the kernel's own tables with more sockets than one read returns.
 */
import { mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { listPorts } from './list.js';
import { lastTableRead, prefetchSocketTables, readSocketTable, readSocketTableAsync } from './tables.js';

describe('lastTableRead', () => {
  it('takes a read well short of a page for the last one, and a fuller one for more to come', () => {
    expect(lastTableRead(0)).toBe(true);
    expect(lastTableRead(150)).toBe(true);
    expect(lastTableRead(4096 - 512)).toBe(true);
    expect(lastTableRead(4096 - 511)).toBe(false);
    expect(lastTableRead(4050)).toBe(false);
    expect(lastTableRead(65536)).toBe(false);
  });
});

describe('readSocketTable and the prefetch, on files', () => {
  let root: string;
  beforeAll(() => {
    root = mkdtempSync(path.join(os.tmpdir(), 'sockit-tables-'));
    mkdirSync(path.join(root, 'net'));
  });
  afterAll(() => rmSync(root, { recursive: true, force: true }));
  afterEach(() => {
    // No prefetched read may be left for another test.
    for (const name of ['tcp', 'tcp6', 'udp', 'udp6']) rmSync(path.join(root, 'net', name), { force: true });
  });

  const line = (i: number) => `${String(i).padStart(4)}: ${'x'.repeat(143)}\n`;

  it('reads a file of any size whole: short, a page and more, many pages', () => {
    for (const lines of [1, 24, 27, 1000]) {
      const text = Array.from({ length: lines }, (_, i) => line(i)).join('');
      writeFileSync(path.join(root, 'net', 'tcp'), text);
      expect(readSocketTable(path.join(root, 'net', 'tcp'))).toBe(text);
    }
  });

  it('gives undefined for a missing table and throws other failures', () => {
    expect(readSocketTable(path.join(root, 'net', 'tcp6'))).toBeUndefined();
    expect(() => readSocketTable(path.join(root, 'net'))).toThrow(/EISDIR/);
  });

  it('hands a prefetched read over once, then reads afresh', async () => {
    const big = Array.from({ length: 500 }, (_, i) => line(i)).join('');
    writeFileSync(path.join(root, 'net', 'tcp'), big);
    writeFileSync(path.join(root, 'net', 'udp'), 'udp before\n');
    prefetchSocketTables(root);
    // Replaced after the prefetch (as the kernel's table is made anew for each open): the
    // prefetched read is of the file it opened then, the next read of the new one.
    writeFileSync(path.join(root, 'net', 'udp.new'), 'udp after\n');
    renameSync(path.join(root, 'net', 'udp.new'), path.join(root, 'net', 'udp'));
    expect(await readSocketTableAsync(path.join(root, 'net', 'tcp'))).toBe(big);
    expect(await readSocketTableAsync(path.join(root, 'net', 'udp'))).toBe('udp before\n');
    expect(await readSocketTableAsync(path.join(root, 'net', 'tcp6'))).toBeUndefined();
    expect(await readSocketTableAsync(path.join(root, 'net', 'udp'))).toBe('udp after\n');
  });

  it('reads a prefetched table whole at any length: one read, two, or two and the rest', async () => {
    const tables = { tcp: 1000, tcp6: 27, udp: 24, udp6: 500 };
    const texts = Object.fromEntries(
      Object.entries(tables).map(([name, lines]) => [
        name,
        Array.from({ length: lines }, (_, i) => line(i)).join(''),
      ]),
    );
    for (const [name, text] of Object.entries(texts)) writeFileSync(path.join(root, 'net', name), text);
    prefetchSocketTables(root);
    for (const [name, text] of Object.entries(texts))
      expect(await readSocketTableAsync(path.join(root, 'net', name))).toBe(text);
  });

  it("hands over a prefetched failure as the reader's error", async () => {
    mkdirSync(path.join(root, 'net', 'udp6'));
    try {
      prefetchSocketTables(root);
      await expect(readSocketTableAsync(path.join(root, 'net', 'udp6'))).rejects.toThrow(/EISDIR/);
      for (const name of ['tcp', 'tcp6', 'udp']) await readSocketTableAsync(path.join(root, 'net', name));
    } finally {
      rmSync(path.join(root, 'net', 'udp6'), { recursive: true });
    }
  });
});

describe('the kernel tables, with more sockets than one read returns', () => {
  const servers: net.Server[] = [];
  beforeAll(async () => {
    for (let i = 0; i < 120; i++) {
      const server = net.createServer();
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      servers.push(server);
    }
  });
  afterAll(async () => {
    await Promise.all(servers.map((s) => new Promise((resolve) => s.close(resolve))));
  });

  it('reads /proc/net/tcp whole, as a plain read to the end does', () => {
    const ports = servers.map((s) => (s.address() as net.AddressInfo).port);
    const text = readSocketTable('/proc/net/tcp') ?? '';
    // Over 120 lines of ~150 bytes: several reads of a page each.
    expect(text.length).toBeGreaterThan(120 * 140);
    const listening = new Set(
      [...text.matchAll(/^\s*\d+: 0100007F:([0-9A-F]{4}) 00000000:0000 0A /gm)].map((m) =>
        Number.parseInt(m[1] ?? '', 16),
      ),
    );
    for (const port of ports) expect(listening.has(port)).toBe(true);
    const lines = (t: string) => t.split('\n').filter((l) => /^\s*\d+:/.test(l)).length;
    // Sockets of other programs come and go between the two reads; ours stay.
    expect(Math.abs(lines(readFileSync('/proc/net/tcp', 'latin1')) - lines(text))).toBeLessThan(20);
  });

  it('lists every one of them, prefetched or not', async () => {
    const ports = servers.map((s) => (s.address() as net.AddressInfo).port);
    for (const prefetch of [false, true]) {
      if (prefetch) prefetchSocketTables();
      const listed = new Set(
        (await listPorts({ protocols: ['tcp'] }))
          .filter((e) => e.state === 'LISTEN' && e.local.address === '127.0.0.1')
          .map((e) => e.local.port),
      );
      for (const port of ports) expect(listed.has(port)).toBe(true);
    }
    // The UDP tables were prefetched too and not asked for: taken, so none is left over.
    await readSocketTableAsync('/proc/net/udp');
    await readSocketTableAsync('/proc/net/udp6');
  });
});
