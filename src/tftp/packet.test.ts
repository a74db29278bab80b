import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  decodePacket,
  encodeAck,
  encodeData,
  encodeError,
  encodeOack,
  encodeRequest,
  MAX_REQUEST_SIZE,
  Opcode,
  TftpErrorCode,
} from './packet.js';

const bytes = (...parts: (string | number[])[]): Buffer =>
  Buffer.concat(parts.map((p) => (typeof p === 'string' ? Buffer.from(p, 'latin1') : Buffer.from(p))));

describe('TFTP packet codec', () => {
  it('decodes an RRQ byte for byte as RFC 1350 lays it out, options lower-cased', () => {
    const d = decodePacket(bytes([0, 1], 'boot/pxelinux.0', [0], 'OCTET', [0], 'BlkSize', [0], '1428', [0]));
    expect(d).toEqual({
      ok: true,
      packet: {
        opcode: Opcode.RRQ,
        filename: 'boot/pxelinux.0',
        mode: 'octet',
        options: new Map([['blksize', '1428']]),
      },
    });
  });

  it('round-trips every packet type', () => {
    const options = new Map([
      ['blksize', '8192'],
      ['tsize', '0'],
    ]);
    expect(decodePacket(encodeRequest(Opcode.WRQ, 'a.bin', 'netascii', options))).toEqual({
      ok: true,
      packet: { opcode: Opcode.WRQ, filename: 'a.bin', mode: 'netascii', options },
    });
    expect(decodePacket(encodeData(65535, Buffer.from('xyz')))).toEqual({
      ok: true,
      packet: { opcode: Opcode.DATA, block: 65535, data: Buffer.from('xyz') },
    });
    expect(decodePacket(encodeAck(7))).toEqual({ ok: true, packet: { opcode: Opcode.ACK, block: 7 } });
    expect(decodePacket(encodeError(1, 'no such file'))).toEqual({
      ok: true,
      packet: { opcode: Opcode.ERROR, code: 1, message: 'no such file' },
    });
    expect(decodePacket(encodeOack(options))).toEqual({ ok: true, packet: { opcode: Opcode.OACK, options } });
  });

  it.each([
    ['too short', [0, 4, 0]],
    ['unknown opcode', [0, 9, 0, 0]],
    ['unterminated file name', [0, 1, 97, 98]],
    ['missing mode', [0, 1, 97, 0]],
    ['empty file name', [0, 1, 0, 111, 99, 116, 101, 116, 0]],
  ])('refuses a malformed packet (%s) with ERROR 4', (_name, raw) => {
    expect(decodePacket(Buffer.from(raw))).toMatchObject({
      ok: false,
      code: TftpErrorCode.ILLEGAL_OPERATION,
    });
  });

  it('refuses mail and unknown modes, and requests over 512 bytes', () => {
    expect(decodePacket(encodeRequest(Opcode.RRQ, 'x', 'mail' as 'octet'))).toMatchObject({
      ok: false,
      code: 4,
    });
    expect(decodePacket(encodeRequest(Opcode.RRQ, 'x', 'binary' as 'octet'))).toMatchObject({
      ok: false,
      code: 4,
    });
    const long = encodeRequest(Opcode.RRQ, 'x'.repeat(MAX_REQUEST_SIZE), 'octet');
    expect(decodePacket(long)).toMatchObject({ ok: false, code: TftpErrorCode.ILLEGAL_OPERATION });
  });

  it('refuses an option without a value with ERROR 8', () => {
    expect(decodePacket(bytes([0, 1], 'f', [0], 'octet', [0], 'blksize', [0]))).toMatchObject({
      ok: false,
      code: TftpErrorCode.OPTION_NEGOTIATION,
    });
  });

  it('reads a request padded with NULs after its mode or its options, as tftpd-hpa does', () => {
    for (const pad of [[0], [0, 0], [0, 0, 0]]) {
      expect(decodePacket(bytes([0, 1], 'f', [0], 'octet', [0], pad))).toMatchObject({
        ok: true,
        packet: { filename: 'f', mode: 'octet', options: new Map() },
      });
      expect(
        decodePacket(bytes([0, 2], 'f', [0], 'octet', [0], 'blksize', [0], '1428', [0], pad)),
      ).toMatchObject({
        ok: true,
        packet: { options: new Map([['blksize', '1428']]) },
      });
    }
  });

  it('never throws, whatever the datagram', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 700 }), fc.integer({ min: 0, max: 8 }), (raw, opcode) => {
        const buf = Buffer.from(raw);
        if (buf.length >= 2) buf.writeUInt16BE(opcode, 0);
        const d = decodePacket(buf);
        expect(typeof d.ok).toBe('boolean');
      }),
      { numRuns: 3000 },
    );
  });
});
