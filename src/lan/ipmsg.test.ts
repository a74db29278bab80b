/**
 * The IP Messenger codec: packets as real clients write them (IP Messenger, FeiQ, iptux),
 * GBK and CP932 text, entry extras with the UTF-8 block, attachment lists and folder streams;
 * and garbage of every kind parsed without a throw.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  buildAttachmentList,
  buildDirHeader,
  type DirEvent,
  DirStreamParser,
  parseAttachmentList,
  safeFileName,
} from './attachments.js';
import { buildEntry, parseEntry } from './entry.js';
import { buildPacket, decode, FileType, MAX_PACKET, Mode, Opt, parsePacket } from './ipmsg.js';

const bytes = (text: string, encoding: BufferEncoding = 'latin1') => Buffer.from(text, encoding);

describe('IP Messenger packets', () => {
  it('reads the packets of IP Messenger, FeiQ and iptux', () => {
    expect(parsePacket(bytes('1:100:shirouzu:jupiter:32:Hello\0'), 'cp932')).toMatchObject({
      version: '1',
      packetNo: '100',
      user: 'shirouzu',
      host: 'jupiter',
      command: Mode.SENDMSG,
    });
    const feiq = parsePacket(
      bytes('1_lbt6_0#128#5C60BA7361C6#1944#0#0#4001#9:1765442982:ann:PC-1:6291457:ann\0dev\0'),
      'gbk',
    );
    expect(feiq).toMatchObject({ version: '1_lbt6_0#128#5C60BA7361C6#1944#0#0#4001#9', command: 0x600001 });
    const iptux = parsePacket(bytes('1_iptux 0.10.0:3:bob:box:257:bob\0\0icon-tux.png\0utf-8\0'), 'utf-8');
    expect(iptux?.version).toBe('1_iptux 0.10.0');
    // The extra keeps its colons and NULs.
    expect(parsePacket(bytes('1:1:a:b:32:x:y:z\0w'), 'utf-8')?.extra.toString()).toBe('x:y:z\0w');
  });

  it('refuses what is not a packet: too few colons, other versions, numbers that are not numbers, too large', () => {
    for (const text of [
      '',
      '1:2:3:4',
      'IP2:1:a:b:32:x',
      '2:1:a:b:32:x',
      'iptux 0.7.4:1:a:b:32:x',
      '1:x:a:b:32:x',
      '1:1:a:b:-32:x',
      '1:1:a:b:0x20:x',
      '1:1:a:b:99999999999:x',
      '1:1:a:b::x',
    ]) {
      expect(parsePacket(bytes(text), 'utf-8'), text).toBeUndefined();
    }
    const big = Buffer.concat([bytes('1:1:a:b:32:'), Buffer.alloc(MAX_PACKET)]);
    expect(parsePacket(big, 'utf-8')).toBeUndefined();
  });

  it('never throws, whatever arrives', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ maxLength: 300 }),
        fc.constantFrom('utf-8', 'gbk', 'cp932' as const),
        (data, cs) => {
          const p = parsePacket(Buffer.from(data), cs);
          if (p !== undefined) expect(Number.isInteger(p.command)).toBe(true);
        },
      ),
      { numRuns: 3000 },
    );
    // Near-packets: five colons and random fields.
    const field = fc.uint8Array({ maxLength: 12 }).map((a) => Buffer.from(a).toString('latin1'));
    fc.assert(
      fc.property(fc.array(field, { minLength: 6, maxLength: 8 }), (parts) => {
        parsePacket(Buffer.from(parts.join(':'), 'latin1'), 'gbk');
      }),
      { numRuns: 3000 },
    );
  });

  it('writes a packet that reads back the same, names made safe for the header', () => {
    fc.assert(
      fc.property(
        fc.string({ maxLength: 30 }),
        fc.string({ maxLength: 30 }),
        fc.string(),
        (user, host, text) => {
          const command = Mode.SENDMSG | Opt.SENDCHECK | Opt.UTF8;
          const p = parsePacket(buildPacket({ packetNo: 7, user, host, command, extra: text }, 'gbk'), 'gbk');
          expect(p?.command).toBe(command);
          // biome-ignore lint/suspicious/noControlCharactersInRegex: what the header may not hold
          expect(p?.user).toBe(user.replace(/[:\u0000-\u001f\u007f]/g, '_').slice(0, 255));
          expect(p?.extra.toString('utf8')).toBe(text);
        },
      ),
    );
  });

  it('round-trips Chinese in GBK and Japanese in CP932, and UTF-8 when the command says so', () => {
    const chinese = '你好，飞秋！局域网聊天';
    const gbk = buildPacket(
      { packetNo: 1, user: '张三', host: 'pc', command: Mode.SENDMSG, extra: chinese },
      'gbk',
    );
    expect(gbk.includes(Buffer.from(chinese, 'utf8'))).toBe(false); // really GBK on the wire
    const g = parsePacket(gbk, 'gbk');
    expect([g?.user, g?.extra && parsePacketText(g.extra, 'gbk')]).toEqual(['张三', chinese]);
    const japanese = 'こんにちは、IPメッセンジャー';
    const sjis = buildPacket(
      { packetNo: 1, user: 'taro', host: 'pc', command: Mode.SENDMSG, extra: japanese },
      'cp932',
    );
    expect(sjis.includes(Buffer.from([0x82, 0xb1]))).toBe(true); // こ in Shift_JIS
    expect(parsePacketText(parsePacket(sjis, 'cp932')?.extra ?? Buffer.alloc(0), 'cp932')).toBe(japanese);
    const utf8 = buildPacket(
      { packetNo: 1, user: 'u', host: 'h', command: Mode.SENDMSG | Opt.UTF8, extra: chinese },
      'cp932',
    );
    expect(parsePacket(utf8, 'cp932')?.extra.toString('utf8')).toBe(chinese);
  });
});

function parsePacketText(extra: Buffer, cs: 'gbk' | 'cp932'): string {
  return decode(extra, cs);
}

describe('entry extras', () => {
  it('reads nick and group, and the UTF-8 block over the legacy fields', () => {
    const extra = buildEntry({ nick: '李雷', group: '开发', user: 'li', host: 'pc' }, 'gbk', true);
    expect(parseEntry(extra, 'gbk', true)).toEqual({ nick: '李雷', group: '开发' });
    // A CP932 peer's fields with a UTF-8 block that holds characters CP932 lacks.
    const mixed = Buffer.concat([
      bytes('nick?\0grp\0'),
      Buffer.from('\nUN:u\nHN:h\nNN:Zoë 😀\nGN:Ωmega', 'utf8'),
    ]);
    expect(parseEntry(mixed, 'cp932', true)).toEqual({ nick: 'Zoë 😀', group: 'Ωmega' });
    expect(parseEntry(mixed, 'cp932', false)).toEqual({ nick: 'nick?', group: 'grp' });
    // iptux: nick\0group\0icon\0encoding\0
    expect(parseEntry(bytes('bob\0\0icon-tux.png\0utf-8\0'), 'utf-8', false)).toEqual({
      nick: 'bob',
      group: '',
    });
  });

  it('takes control characters out of names and bounds them', () => {
    const hostile = bytes(`\u001b[2Jevil\u0007\r\n${'x'.repeat(500)}\0g\0`);
    const info = parseEntry(hostile, 'utf-8', false);
    expect(info.nick).toMatch(/^\[2Jevilx+$/);
    expect(info.nick.length).toBe(64);
  });
});

describe('attachment lists', () => {
  it('round-trips files and folders, colons in names included', () => {
    const files = [
      {
        id: 1073741824,
        name: 'report: final.pdf',
        size: 123456789,
        mtime: 1700000000,
        attr: FileType.REGULAR,
      },
      { id: 7, name: '照片', size: 0, mtime: 1700000001, attr: FileType.DIR },
    ];
    for (const cs of ['utf-8', 'gbk'] as const) {
      expect(parseAttachmentList(buildAttachmentList(files, cs), cs)).toEqual(files);
    }
  });

  it('reads the lists of IP Messenger (":\\a") and iptux (":\\a:"), and skips bad entries', () => {
    const win = bytes('1000:a.txt:10:5f5e1000:1:\u00071001:b:0:5f5e1000:2:\u0007');
    expect(parseAttachmentList(win, 'utf-8').map((f) => [f.id, f.name, f.size, f.attr])).toEqual([
      [1000, 'a.txt', 16, 1],
      [1001, 'b', 0, 2],
    ]);
    const iptux = bytes('0:x.bin:400:0:1:\u0007:1:y.bin:800:0:1:\u0007:');
    expect(parseAttachmentList(iptux, 'utf-8').map((f) => f.name)).toEqual(['x.bin', 'y.bin']);
    const hostile = bytes(
      [
        '1:../../etc/passwd:10:0:1:',
        '2:..:10:0:1:',
        '3:/abs:10:0:1:',
        '4:a\\b:10:0:1:',
        '5:link:10:0:4:',
        '6:ok.txt:10:0:1:',
        'x:bad-id:10:0:1:',
        '7:bad-size:zz:0:1:',
      ].join('\u0007'),
    );
    expect(parseAttachmentList(hostile, 'utf-8').map((f) => f.name)).toEqual(['ok.txt']);
  });

  it('refuses names that could mean another place', () => {
    for (const bad of ['', '.', '..', 'a/b', 'a\\b', 'nul\0', 'bell\u0007', 'x'.repeat(256)]) {
      expect(safeFileName(bad), JSON.stringify(bad)).toBeUndefined();
    }
    expect(safeFileName('résumé (1).pdf')).toBe('résumé (1).pdf');
  });
});

describe('folder streams', () => {
  const stream = (parts: Buffer[]) => Buffer.concat(parts);
  const dir = (name: string) => buildDirHeader({ name, size: 0, attr: FileType.DIR, mtime: 1 }, 'utf-8');
  const up = () => buildDirHeader({ name: '.', size: 0, attr: FileType.RETPARENT, mtime: 1 }, 'utf-8');
  const file = (name: string, body: string) =>
    Buffer.concat([
      buildDirHeader({ name, size: Buffer.byteLength(body), attr: FileType.REGULAR, mtime: 1 }, 'utf-8'),
      Buffer.from(body),
    ]);

  const events = (data: Buffer, step = data.length): DirEvent[] => {
    const parser = new DirStreamParser('utf-8', { maxDepth: 4, maxEntries: 100 });
    const out: DirEvent[] = [];
    for (let i = 0; i < data.length; i += step) out.push(...parser.push(data.subarray(i, i + step)));
    return out.map((e) => (e.kind === 'data' ? { kind: 'data', bytes: Buffer.from(e.bytes) } : e));
  };

  it('reads a folder depth first, in any chunking', () => {
    const data = stream([dir('top'), file('a.txt', 'alpha'), dir('sub'), file('b: c', 'beta'), up(), up()]);
    const whole = events(data);
    expect(whole.map((e) => e.kind)).toEqual([
      'dir',
      'file',
      'data',
      'file-end',
      'dir',
      'file',
      'data',
      'file-end',
      'up',
      'up',
      'end',
    ]);
    expect(whole.filter((e) => e.kind === 'file').map((e) => (e as { name: string }).name)).toEqual([
      'a.txt',
      'b: c',
    ]);
    const joined = (list: DirEvent[]) =>
      Buffer.concat(list.flatMap((e) => (e.kind === 'data' ? [e.bytes] : []))).toString();
    for (const step of [1, 3, 7, 64]) {
      const small = events(data, step);
      expect(joined(small)).toBe('alphabeta');
      expect(small.filter((e) => e.kind !== 'data')).toEqual(whole.filter((e) => e.kind !== 'data'));
    }
  });

  it('throws on a stream that breaks the rules', () => {
    const bad: [string, Buffer][] = [
      ['above the top', stream([dir('top'), up(), up()])],
      ['a .. name', stream([dir('top'), dir('..')])],
      ['a slash', stream([dir('top'), file('a/b', 'x')])],
      ['a file outside the folder', file('loose', 'x')],
      ['too deep', stream([dir('1'), dir('2'), dir('3'), dir('4'), dir('5')])],
      ['bad header size', bytes('zzzz:name:0:2:')],
      ['header size too small', bytes('0004:')],
      ['no size', bytes('aaaaaaaaaaaaaaaaaaaa')],
      ['data after the end', stream([dir('top'), up(), bytes('x')])],
    ];
    for (const [why, data] of bad) expect(() => events(data), why).toThrow();
  });
});
