/** IRC lines: parsing what clients send, formatting what the server sends, cutting long texts. */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  cutUtf8,
  formatLine,
  type IrcMessage,
  isProblem,
  MAX_BODY_BYTES,
  MAX_TAGS_BYTES,
  parseLine,
  splitUtf8,
} from './message.js';

const parse = (line: string | Buffer) => parseLine(typeof line === 'string' ? Buffer.from(line) : line);

describe('parseLine', () => {
  it('reads tags, source, command and parameters, the trailing one with its spaces', () => {
    const m = parse(
      '@time=2023-01-01T00:00:00Z;+typing=active;a\\:b=x\\sy\\\\z :ann!a@h privmsg #lobby  :hi  there ',
    ) as IrcMessage;
    expect(m.command).toBe('PRIVMSG');
    expect(m.source).toBe('ann!a@h');
    expect(m.params).toEqual(['#lobby', 'hi  there ']);
    expect(m.tags.get('+typing')).toBe('active');
    expect(m.tags.get('a\\:b')).toBe('x y\\z');
  });

  it('takes an empty trailing parameter, and ignores an empty line', () => {
    expect((parse('TOPIC #a :') as IrcMessage).params).toEqual(['#a', '']);
    expect(parse('')).toBeUndefined();
    expect(parse('   ')).toBeUndefined();
  });

  it('keeps at most 15 parameters, the last one holding the rest', () => {
    const m = parse(`X ${Array.from({ length: 20 }, (_, i) => `p${i}`).join(' ')}`) as IrcMessage;
    expect(m.params).toHaveLength(15);
    expect(m.params[14]).toBe('p14 p15 p16 p17 p18 p19');
  });

  it('refuses invalid UTF-8 whole, naming the command', () => {
    const line = Buffer.concat([Buffer.from('PRIVMSG #a :caf'), Buffer.from([0xe9])]);
    expect(parse(line)).toEqual({ problem: 'utf8', command: 'PRIVMSG' });
    expect(parse(Buffer.from([0xff, 0x20, 0x41]))).toMatchObject({ problem: 'utf8' });
  });

  it('refuses NUL, a bad command and a line of tags alone', () => {
    expect(parse('PRIVMSG #a :a\0b')).toMatchObject({ problem: 'malformed', command: 'PRIVMSG' });
    expect(parse('PRIV-MSG x')).toMatchObject({ problem: 'malformed' });
    expect(parse('@a=b ')).toMatchObject({ problem: 'malformed' });
  });

  it('bounds the body at 510 bytes and the tags at 8191, apart', () => {
    const body = `PRIVMSG #a :${'x'.repeat(MAX_BODY_BYTES - 12)}`;
    expect(Buffer.byteLength(body)).toBe(MAX_BODY_BYTES);
    expect(isProblem(parse(body) as IrcMessage)).toBe(false);
    expect(parse(`${body}x`)).toEqual({ problem: 'too-long', command: 'PRIVMSG' });
    const tags = `@a=${'t'.repeat(MAX_TAGS_BYTES - 4)} `;
    expect(Buffer.byteLength(tags)).toBe(MAX_TAGS_BYTES);
    expect(isProblem(parse(tags + body) as IrcMessage)).toBe(false);
    expect(parse(`@a=${'t'.repeat(MAX_TAGS_BYTES - 3)} ${body}`)).toMatchObject({ problem: 'too-long' });
  });
});

describe('formatLine', () => {
  it('makes the last parameter trailing when it must, or when asked', () => {
    expect(formatLine({ source: 's', command: 'JOIN', params: ['#a'] })).toBe(':s JOIN #a');
    expect(formatLine({ command: 'PRIVMSG', params: ['#a', 'hi there'] })).toBe('PRIVMSG #a :hi there');
    expect(formatLine({ command: 'PRIVMSG', params: ['#a', ':)'] })).toBe('PRIVMSG #a ::)');
    expect(formatLine({ command: 'AWAY', params: [''] })).toBe('AWAY :');
    expect(formatLine({ command: 'PRIVMSG', params: ['#a', 'x'], trailing: true })).toBe('PRIVMSG #a :x');
  });

  it('escapes tag values and never lets a parameter end the line', () => {
    const line = formatLine({
      tags: { a: 'x;y z\\\r\n', b: '' },
      command: 'NOTICE',
      params: ['n', 'a\r\nQUIT\0'],
    });
    expect(line).toBe('@a=x\\:y\\sz\\\\\\r\\n;b NOTICE n :a  QUIT ');
    const back = parse(line) as IrcMessage;
    expect(back.tags.get('a')).toBe('x;y z\\\r\n');
  });

  it('cuts a body over 510 bytes at a character boundary', () => {
    const line = formatLine({ source: 'server', command: 'NOTICE', params: ['n', 'é'.repeat(400)] });
    expect(Buffer.byteLength(line)).toBeLessThanOrEqual(MAX_BODY_BYTES);
    expect(line).not.toContain('\ufffd');
  });

  it('round-trips parameters through parseLine (property)', () => {
    const word = fc
      .string({ minLength: 1, maxLength: 20 })
      .filter((s) => /^[^\s:\0\r\n@][^\s\0\r\n]*$/.test(s));
    const text = fc.string({ maxLength: 100 }).map((s) => s.replace(/[\0\r\n]/g, ''));
    fc.assert(
      fc.property(fc.array(word, { maxLength: 5 }), text, (middle, last) => {
        const m = parse(formatLine({ command: 'CMD', params: [...middle, last] })) as IrcMessage;
        expect(m.params).toEqual([...middle, last]);
      }),
    );
  });
});

describe('splitUtf8 and cutUtf8', () => {
  it('splits long text into pieces that fit, joined back whole, never inside a character', () => {
    fc.assert(
      fc.property(
        fc.string({ unit: 'grapheme', maxLength: 600 }),
        fc.integer({ min: 8, max: 120 }),
        (text, max) => {
          const pieces = splitUtf8(text, max);
          expect(pieces.join('')).toBe(text);
          for (const piece of pieces) {
            expect(Buffer.byteLength(piece)).toBeLessThanOrEqual(max);
            expect(Buffer.from(piece).toString()).toBe(piece);
          }
        },
      ),
    );
  });

  it('prefers to split at a space', () => {
    expect(splitUtf8('aaaa bbbb cccc', 10)).toEqual(['aaaa bbbb ', 'cccc']);
    expect(cutUtf8('€€€', 7)).toBe('€€');
  });
});
