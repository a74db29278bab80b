import { describe, expect, it } from 'vitest';
import { parseCommand } from './protocol.js';
import { parseLine } from './slash.js';

describe('parseLine', () => {
  it('reads plain lines as messages to the current room, and the everyday commands', () => {
    expect(parseLine('hello /there', 'ops')).toEqual({
      command: { type: 'say', room: 'ops', text: 'hello /there' },
    });
    expect(parseLine('/me waves', 'ops')).toEqual({
      command: { type: 'say', room: 'ops', text: 'waves', action: true },
    });
    expect(parseLine('/msg bob  see  you', 'ops')).toEqual({
      command: { type: 'dm', to: 'bob', text: 'see  you' },
    });
    expect(parseLine('/part', 'ops')).toEqual({ command: { type: 'part', room: 'ops' } });
    expect(parseLine('/topic release on Friday', 'ops')).toEqual({
      command: { type: 'topic', room: 'ops', topic: 'release on Friday' },
    });
    expect(parseLine('/QUIT', 'ops')).toEqual({ quit: true });
  });

  it('reads the operator commands for the current room', () => {
    expect(parseLine('/kick bob stop spamming', 'ops')).toEqual({
      command: { type: 'kick', room: 'ops', nick: 'bob', reason: 'stop spamming' },
    });
    expect(parseLine('/kick bob', 'ops')).toEqual({ command: { type: 'kick', room: 'ops', nick: 'bob' } });
    expect(parseLine('/ban bob', 'ops')).toEqual({
      command: { type: 'ban', room: 'ops', target: { nick: 'bob' } },
    });
    expect(parseLine('/ban account:carol flooding', 'ops')).toEqual({
      command: { type: 'ban', room: 'ops', target: { account: 'carol' }, reason: 'flooding' },
    });
    expect(parseLine('/unban Account:carol', 'ops')).toEqual({
      command: { type: 'unban', room: 'ops', target: { account: 'carol' } },
    });
    expect(parseLine('/bans', 'ops')).toEqual({ command: { type: 'bans', room: 'ops' } });
    expect(parseLine('/op bob', 'ops')).toEqual({
      command: { type: 'op', room: 'ops', nick: 'bob', op: true },
    });
    expect(parseLine('/deop bob', 'ops')).toEqual({
      command: { type: 'op', room: 'ops', nick: 'bob', op: false },
    });
    expect(parseLine('/lock', 'ops')).toEqual({ command: { type: 'lock', room: 'ops', locked: true } });
    expect(parseLine('/unlock', 'ops')).toEqual({ command: { type: 'lock', room: 'ops', locked: false } });
  });

  it('says how to use a command given too little, and names an unknown one', () => {
    for (const line of [
      '/kick',
      '/ban',
      '/unban',
      '/op',
      '/deop',
      '/msg bob',
      '/join',
      '/nick',
      '/whois',
      '/me',
    ]) {
      expect(parseLine(line, 'ops')).toMatchObject({ error: expect.stringMatching(/^usage: \//) });
    }
    expect(parseLine('/frobnicate', 'ops')).toEqual({ error: 'no command /frobnicate; /help lists them' });
  });

  it('makes only commands that the server takes as they are', () => {
    const lines = [
      '/kick bob why',
      '/ban account:carol',
      '/unban bob',
      '/bans',
      '/op bob',
      '/lock',
      '/away',
      '/rooms',
    ];
    for (const line of lines) {
      const parsed = parseLine(line, 'ops');
      if (!('command' in parsed)) throw new Error(line);
      expect(parseCommand(parsed.command as unknown as Record<string, unknown>)).toEqual(parsed.command);
    }
  });
});
