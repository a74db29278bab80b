import { endianness } from 'node:os';
import { describe, expect, it } from 'vitest';
import { ErrorCode } from '../errors.js';
import { formatIPv4 } from '../ip/ipv4.js';
import { formatIPv6 } from '../ip/ipv6.js';
import { decodeAddress, parseProcNet } from './proc-net.js';

/** Lines as a little-endian x86-64 kernel writes them (trailing columns trimmed on some). */
const TCP = `  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 0100007F:1F90 00000000:0000 0A 00000000:00000003 00:00000000 00000000  1000        0 41234 1 0000000000000000 100 0 0 10 0
   1: 0100007F:1F90 0100007F:C350 01 0000001A:00000000 02:000000C8 00000000  1000        0 41240 2 0000000000000000 20 4 30 10 -1
   2: 0A00020F:D431 2E3AD7AC:01BB 06 00000000:00000000 03:00001734 00000000     0        0 0 3 0000000000000000
garbage line that is not a socket
`;

const TCP6 = `  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 00000000000000000000000000000000:0050 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 5001 1 0000000000000000 100 0 0 10 0
   1: 00000000000000000000000001000000:1538 00000000000000000000000001000000:D6D8 01 00000000:00000000 00:00000000 00000000   101        0 5002 1 0000000000000000 20 4 30 10 -1
   2: 0000000000000000FFFF00000100007F:1F90 0000000000000000FFFF00000100007F:C351 08 00000000:00000000 00:00000000 00000000  1000        0 5003 1 0000000000000000 20 4 30 10 -1
   3: B80D0120000000000000000001000000:01BB 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 5004 1 0000000000000000 100 0 0 10 0
`;

const UDP = `   sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops
  235: 3500007F:0035 00000000:0000 07 00000000:00000000 00:00000000 00000000   101        0 17001 2 0000000000000000 0
  300: 0100007F:A000 0100007F:0007 01 00000000:00000000 00:00000000 00000000  1000        0 17002 2 0000000000000000 0
`;

describe('parseProcNet', () => {
  it('reads IPv4 TCP rows: addresses, ports, states, queues, uid and inode', () => {
    const rows = parseProcNet(TCP, 'tcp', 4, 'LE');
    expect(rows).toHaveLength(3);
    expect(rows[0]).toEqual({
      protocol: 'tcp',
      family: 4,
      local: { address: '127.0.0.1', port: 8080 },
      remote: { address: '0.0.0.0', port: 0 },
      state: 'LISTEN',
      txQueue: 0,
      rxQueue: 3,
      uid: 1000,
      inode: 41234,
    });
    expect(rows[1]).toMatchObject({ remote: { address: '127.0.0.1', port: 50000 }, state: 'ESTABLISHED' });
    expect(rows[1]?.txQueue).toBe(26);
    expect(rows[2]).toMatchObject({
      local: { address: '15.2.0.10', port: 54321 },
      remote: { address: '172.215.58.46', port: 443 },
      state: 'TIME_WAIT',
      inode: 0,
    });
  });

  it('reads IPv6 rows word by word, with RFC 5952 text and IPv4-mapped addresses', () => {
    const rows = parseProcNet(TCP6, 'tcp', 6, 'LE');
    expect(
      rows.map((r) => [r.local.address, r.local.port, r.remote.address, r.remote.port, r.state]),
    ).toEqual([
      ['::', 80, '::', 0, 'LISTEN'],
      ['::1', 5432, '::1', 55000, 'ESTABLISHED'],
      ['::ffff:127.0.0.1', 8080, '::ffff:127.0.0.1', 50001, 'CLOSE_WAIT'],
      ['2001:db8::1', 443, '::', 0, 'LISTEN'],
    ]);
  });

  it('reads UDP rows with UDP state names', () => {
    const rows = parseProcNet(UDP, 'udp', 4, 'LE');
    expect(rows.map((r) => [r.local.address, r.local.port, r.state, r.inode])).toEqual([
      ['127.0.0.53', 53, 'UNCONN', 17001],
      ['127.0.0.1', 40960, 'ESTABLISHED', 17002],
    ]);
  });

  it('skips rows whose address width does not match the family', () => {
    expect(parseProcNet(TCP6, 'tcp', 4, 'LE')).toEqual([]);
    expect(parseProcNet('', 'udp', 6, 'LE')).toEqual([]);
  });

  it('reads each row from its own line: a cut one does not take the next line in', () => {
    const [header, first, second] = TCP.split('\n') as [string, string, string];
    // The first row cut before its inode: read across the break, the next line's `1` would
    // be its inode, and that line lost.
    const cut = first.slice(0, first.indexOf(' 41234'));
    const text = [header, cut, second, `\t${second.trim()}`, second.toLowerCase()].join('\n');
    const rows = parseProcNet(text, 'tcp', 4, 'LE');
    expect(rows.map((r) => r.inode)).toEqual([41240, 41240, 41240]);
    expect(parseProcNet(TCP, 'tcp', 4, 'LE')).toHaveLength(3);
  });

  it('takes only \\n as a line break, and any other white space as space', () => {
    const [header, , second] = TCP.split('\n') as [string, string, string];
    const spaced = (space: string): string => second.replace(' 0100007F:1F90', `${space}0100007F:1F90`);
    // A \r, \v, no-break space or U+2028 inside a row separates its columns.
    for (const space of ['\r', '\v', '\u00a0', '\u2028']) {
      expect(parseProcNet(`${header}\n${spaced(space)}\n`, 'tcp', 4, 'LE')).toHaveLength(1);
    }
    // A row after a bare \r is not at the start of a line: the line does not parse.
    const behindCr = `   2: 0100007F:BAD\r${second}`;
    expect(parseProcNet(`${header}\n${behindCr}\n${second}\n`, 'tcp', 4, 'LE')).toHaveLength(1);
    expect(parseProcNet(`${header}\n${second}\r\n${second}\r\n`, 'tcp', 4, 'LE')).toHaveLength(2);
  });
});

describe('decodeAddress', () => {
  it('reverses the bytes of each 32-bit word on little-endian machines only', () => {
    expect(decodeAddress('0100007F', 'LE')).toBe('127.0.0.1');
    expect(decodeAddress('7F000001', 'BE')).toBe('127.0.0.1');
    expect(decodeAddress('00000000000000000000000001000000', 'LE')).toBe('::1');
    expect(decodeAddress('00000000000000000000000000000001', 'BE')).toBe('::1');
    expect(decodeAddress('000080FE00000000FFAABBCC01000000', 'LE')).toBe('fe80::ccbb:aaff:0:1');
  });

  it('decodes any address as reading each word byte by byte does, both byte orders', () => {
    // The plain way: the hex digits of each word reversed in pairs, then one big number.
    const reference = (hexText: string, order: 'LE' | 'BE'): string => {
      let value = 0n;
      for (let at = 0; at < hexText.length; at += 8) {
        const word = hexText.slice(at, at + 8);
        const bytes = order === 'LE' ? (word.match(/../g) ?? []).reverse().join('') : word;
        value = (value << 32n) | BigInt(`0x${bytes}`);
      }
      return hexText.length === 8 ? formatIPv4(value) : formatIPv6(value);
    };
    const hex = (digits: number): string =>
      Array.from({ length: digits }, () => '0123456789ABCDEF'[Math.floor(Math.random() * 16)]).join('');
    const cases = ['00000000', 'FFFFFFFF', '0100007F', '80000000', '000000FF', `${'0'.repeat(24)}FFFF0000`];
    for (let i = 0; i < 2000; i++) cases.push(hex(i % 2 ? 8 : 32));
    for (const text of cases) {
      for (const order of ['LE', 'BE'] as const)
        expect(decodeAddress(text, order)).toBe(reference(text, order));
    }
  });

  it("takes this machine's byte order, as os.endianness() gives it, when none is named", () => {
    const loopback = endianness() === 'LE' ? '0100007F' : '7F000001';
    expect(decodeAddress(loopback)).toBe('127.0.0.1');
    expect(parseProcNet(TCP, 'tcp', 4)).toEqual(parseProcNet(TCP, 'tcp', 4, endianness()));
  });

  it('refuses text of the wrong width or not hex', () => {
    for (const bad of ['0100007', '0100007G', '01000000010000000100000001000000FF']) {
      expect(() => decodeAddress(bad, 'LE')).toThrow(
        expect.objectContaining({ code: ErrorCode.INVALID_ARGUMENT }),
      );
    }
  });
});
