import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { checkUserName } from '../auth/names.js';
import { foldNick, MAX_NICK_LENGTH, mentions, nickProblem, normalizeRoom, roomProblem } from './names.js';

describe('foldNick', () => {
  it('folds ASCII letters and rfc1459 brackets, and nothing else', () => {
    expect(foldNick('ANN[X]\\~')).toBe('ann{x}|^');
    expect(foldNick('Jöns')).toBe('jöns');
    expect(foldNick('a-b_c`')).toBe('a-b_c`');
  });

  it('is idempotent and makes the case of letters irrelevant', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 40 }), (s) => {
        expect(foldNick(foldNick(s))).toBe(foldNick(s));
        expect(foldNick(s.toUpperCase().replace(/[\u0080-\uffff]/g, ''))).toBe(
          foldNick(s.toLowerCase().replace(/[\u0080-\uffff]/g, '')),
        );
      }),
    );
  });
});

describe('nickProblem', () => {
  it('says why a nick is refused, in one short line', () => {
    expect(nickProblem('')?.message).toMatch(/empty/);
    expect(nickProblem('9lives')?.message).toMatch(/may not start with a digit/);
    expect(nickProblem('x'.repeat(MAX_NICK_LENGTH + 1))?.message).toMatch(/longer than 32/);
    expect(nickProblem(42)?.message).toMatch(/empty/);
    const long = nickProblem(`a\n${'b'.repeat(500)}`)?.message ?? '';
    expect(long).not.toContain('\n');
    expect(long.length).toBeLessThan(200);
  });

  it('agrees with the IRC nick grammar on arbitrary strings', () => {
    const irc = /^[A-Za-z[\]\\`_^{|}][A-Za-z0-9[\]\\`_^{|}-]{0,31}$/;
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 40 }), (s) => {
        expect(nickProblem(s) === undefined).toBe(irc.test(s));
      }),
    );
  });

  it('every valid nick is a safe IRC token: no space, comma, colon, !, @, # or control', () => {
    fc.assert(
      fc.property(fc.stringMatching(/^[A-Za-z[\]\\`_^{|}][A-Za-z0-9[\]\\`_^{|}-]{0,31}$/), (s) => {
        expect(nickProblem(s)).toBeUndefined();
        expect(s).not.toMatch(/[\s,:!@#]/);
        expect([...s].every((ch) => ch.charCodeAt(0) > 0x20)).toBe(true);
      }),
    );
  });

  it('accounts may have names guests may not, but never ones with unsafe characters', () => {
    expect(checkUserName('0day')).toBe('0day');
    expect(nickProblem('0day')).toBeDefined();
    expect(nickProblem('ann.lee')).toBeDefined();
    expect(() => checkUserName('a!b')).toThrow();
  });
});

describe('normalizeRoom', () => {
  it('drops one leading # and lower-cases', () => {
    expect(normalizeRoom('#Lobby')).toBe('lobby');
    expect(normalizeRoom('TEAM.a_1-x')).toBe('team.a_1-x');
    expect(normalizeRoom('##x')).toBeUndefined();
    expect(normalizeRoom('x'.repeat(49))).toBe('x'.repeat(49));
    expect(normalizeRoom(`#${'x'.repeat(49)}`)).toBe('x'.repeat(49));
    expect(normalizeRoom('x'.repeat(50))).toBeUndefined();
    expect(normalizeRoom(undefined)).toBeUndefined();
    expect(roomProblem('a b').message).toMatch(/^bad room name "a b": use letters/);
    expect(roomProblem('#').message).toMatch(/empty/);
  });

  it('is idempotent and its names are lower-case IRC channel names once # is added', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 60 }), (s) => {
        const room = normalizeRoom(s);
        if (room === undefined) return;
        expect(normalizeRoom(room)).toBe(room);
        expect(normalizeRoom(`#${room}`)).toBe(room);
        expect(room).toMatch(/^[a-z0-9][a-z0-9_.-]{0,48}$/);
      }),
    );
  });
});

describe('mentions', () => {
  const members = new Map([
    ['ann', 'Ann'],
    ['bob', 'bob'],
    ['ann.lee', 'ann.lee'],
    ['{x}', '[X]'],
  ]);
  const of = (text: string, limit?: number) => mentions(text, (k) => members.get(k), limit);

  it('finds whole-word nicks in any case, each once, in order', () => {
    expect(of('hi @ANN, bob: see ann.')).toEqual(['Ann', 'bob']);
    expect(of('annie, joanna, bobby, xann')).toEqual([]);
    expect(of('ping ann.lee.')).toEqual(['ann.lee']);
    expect(of('cc {x}')).toEqual(['[X]']);
    expect(of('bob ann bob', 1)).toEqual(['bob']);
    expect(of('')).toEqual([]);
  });

  it('only ever names members, whatever the text', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 200 }), (text) => {
        for (const nick of of(text)) expect([...members.values()]).toContain(nick);
      }),
    );
  });

  it('is not thrown by exotic input', () => {
    expect(() => of('\u0000\ud800'.repeat(1000))).not.toThrow();
  });
});
