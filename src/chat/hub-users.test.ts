/** The hub's users: guest nicks, accounts, nick changes, presence and quitting. */
import { describe, expect, it } from 'vitest';
import { Harness, T0 } from '../../test/chat.js';
import { ErrorCode } from '../errors.js';
import { AccountNames } from './accounts.js';

describe('registration', () => {
  it('welcomes a guest with its nick and the limits it must keep', () => {
    const h = new Harness({ limits: { maxMessageBytes: 100 } });
    const ann = h.guest('Ann');
    expect(ann.nick).toBe('Ann');
    const [welcome] = ann.events('welcome');
    expect(welcome).toMatchObject({ nick: 'Ann', admin: false, limits: { maxMessageBytes: 100 } });
    expect(welcome?.account).toBeUndefined();
  });

  it('refuses every command but a nick before registration', () => {
    const h = new Harness();
    const c = h.connect();
    c.refused({ type: 'join', room: 'lobby' }, ErrorCode.NOT_REGISTERED);
    c.refused({ type: 'say', room: 'lobby', text: 'hi' }, ErrorCode.NOT_REGISTERED);
    c.refused({ type: 'rooms' }, ErrorCode.NOT_REGISTERED);
    expect(c.nick).toBeUndefined();
    c.ok({ type: 'nick', nick: 'late' });
    c.ok({ type: 'join', room: 'lobby' });
  });

  it.each([
    ['', 'empty'],
    ['1ann', 'a leading digit'],
    ['-ann', 'a leading dash'],
    ['ann lee', 'a space'],
    ['ann.lee', 'a dot (account names only)'],
    ['ann!x', 'the ! of nick!user@host'],
    ['ann@x', 'an @'],
    ['ann,bob', 'a comma (IRC target separator)'],
    ['#ann', 'a room prefix'],
    ['jöns', 'a non-ASCII letter'],
    ['ann\u0000', 'NUL'],
    ['a'.repeat(33), 'more than 32 characters'],
  ])('refuses the guest nick %j (%s) with ERR_BAD_NICK', (nick) => {
    const h = new Harness();
    h.connect().refused({ type: 'nick', nick }, ErrorCode.BAD_NICK);
  });

  it.each(['a', 'A', '[bot]', '`x', '^_^', '{x}|y', 'a-1', 'x'.repeat(32)])(
    'accepts the IRC nick %j',
    (nick) => {
      const h = new Harness();
      expect(h.guest(nick).nick).toBe(nick);
    },
  );

  it('keeps nicks unique without regard to case, IRC rfc1459 style', () => {
    const h = new Harness();
    h.guest('Ann[1]');
    h.connect().refused({ type: 'nick', nick: 'ann{1}' }, ErrorCode.NICK_IN_USE);
    h.connect().refused({ type: 'nick', nick: 'ANN[1]' }, ErrorCode.NICK_IN_USE);
    h.connect().ok({ type: 'nick', nick: 'ann1' });
  });

  it('frees a nick when its guest leaves', () => {
    const h = new Harness();
    h.guest('ann').close();
    expect(h.guest('ANN').nick).toBe('ANN');
  });

  it("keeps guests off accounts' names, known from the directory or from a log-in", () => {
    const accounts = new AccountNames(['Dana']);
    const h = new Harness({ accounts });
    h.connect().refused({ type: 'nick', nick: 'dana' }, ErrorCode.NICK_IN_USE);
    h.account('eve').close();
    h.connect().refused({ type: 'nick', nick: 'Eve' }, ErrorCode.NICK_IN_USE);
    accounts.add('newbie');
    h.connect().refused({ type: 'nick', nick: 'NEWBIE' }, ErrorCode.NICK_IN_USE);
    accounts.delete('newbie');
    h.connect().ok({ type: 'nick', nick: 'newbie' });
  });
});

describe('accounts', () => {
  it("uses the account's name as the nick and may log in from several sessions", () => {
    const h = new Harness();
    const a1 = h.account('ann.lee');
    const a2 = h.account('ann.lee');
    expect(a1.nick).toBe('ann.lee');
    expect(a2.events('welcome')[0]).toMatchObject({ nick: 'ann.lee', account: 'ann.lee' });
    expect(h.hub.userCount).toBe(1);
    expect(h.effects.filter((e) => e.type === 'offline')).toEqual([
      { type: 'offline', session: a1.id, account: 'ann.lee' },
      { type: 'offline', session: a2.id, account: 'ann.lee' },
    ]);
  });

  it('bounds the sessions of one account', () => {
    const h = new Harness({ limits: { maxSessionsPerAccount: 2 } });
    h.account('ann');
    h.account('ann');
    const third = h.connect();
    expect(h.hub.authenticate(third.id, 'ann').refusal?.code).toBe(ErrorCode.TOO_MANY_CONNECTIONS);
  });

  it('refuses a log-in after a guest nick, and a name that is not an account name', () => {
    const h = new Harness();
    const guest = h.guest('ann');
    expect(h.hub.authenticate(guest.id, 'ann').refusal?.code).toBe(ErrorCode.FORBIDDEN);
    expect(h.hub.authenticate(h.connect().id, "x' OR 1=1").refusal?.code).toBe(ErrorCode.BAD_USER_NAME);
  });

  it('renames a guest that holds the nick of an account logging in, telling its room', () => {
    const h = new Harness();
    const squatter = h.guest('Boss');
    const witness = h.guest('wit');
    squatter.ok({ type: 'join', room: 'lobby' });
    witness.ok({ type: 'join', room: 'lobby' });
    h.account('boss');
    const renamed = squatter.nick as string;
    expect(renamed).toMatch(/^Guest\d+-\d+$/);
    expect(witness.events('nick')).toEqual([{ type: 'nick', old: 'Boss', nick: renamed }]);
    expect(squatter.events('nick')).toEqual([{ type: 'nick', old: 'Boss', nick: renamed }]);
  });

  it('refuses an account whose name folds like an online account of another spelling', () => {
    const h = new Harness();
    h.account('Ann');
    expect(h.hub.authenticate(h.connect().id, 'ann').refusal?.code).toBe(ErrorCode.NICK_IN_USE);
  });

  it('does not let an account change its nick', () => {
    const h = new Harness();
    h.account('ann').refused({ type: 'nick', nick: 'annie' }, ErrorCode.FORBIDDEN);
  });
});

describe('nick changes', () => {
  it('tells each user sharing a room once, and the user itself', () => {
    const h = new Harness();
    const ann = h.guest('ann');
    const bob = h.guest('bob');
    const cy = h.guest('cy');
    for (const room of ['a', 'b']) {
      ann.ok({ type: 'join', room });
      bob.ok({ type: 'join', room });
    }
    h.clearAll();
    ann.ok({ type: 'nick', nick: 'anna' });
    expect(bob.events('nick')).toEqual([{ type: 'nick', old: 'ann', nick: 'anna' }]);
    expect(ann.events('nick')).toEqual([{ type: 'nick', old: 'ann', nick: 'anna' }]);
    expect(cy.inbox).toEqual([]);
    // The old nick is free, the new one taken, and the member lists say so.
    h.guest('ann');
    h.connect().refused({ type: 'nick', nick: 'ANNA' }, ErrorCode.NICK_IN_USE);
    bob.ok({ type: 'members', room: 'a' });
    expect(bob.events('members')[0]?.members.map((m) => m.nick)).toEqual(['anna', 'bob']);
  });

  it('keeps operator status across a nick change, and allows a change of case only', () => {
    const h = new Harness();
    const ann = h.guest('ann');
    const bob = h.guest('bob');
    ann.ok({ type: 'join', room: 'den' });
    bob.ok({ type: 'join', room: 'den' });
    ann.ok({ type: 'nick', nick: 'Anna' });
    ann.ok({ type: 'nick', nick: 'ANNA' });
    bob.refused({ type: 'nick', nick: 'anna' }, ErrorCode.NICK_IN_USE);
    ann.ok({ type: 'kick', room: 'den', nick: 'bob' });
  });
});

describe('presence', () => {
  it('announces away and back to those who share a room, and whois shows it', () => {
    const h = new Harness();
    const ann = h.guest('ann');
    const bob = h.guest('bob');
    const loner = h.guest('loner');
    ann.ok({ type: 'join', room: 'lobby' });
    bob.ok({ type: 'join', room: 'lobby' });
    ann.ok({ type: 'away', message: 'lunch' });
    expect(bob.events('presence')).toEqual([{ type: 'presence', nick: 'ann', away: 'lunch' }]);
    expect(ann.events('presence')).toHaveLength(1);
    expect(loner.events('presence')).toEqual([]);
    loner.ok({ type: 'whois', nick: 'ANN' });
    expect(loner.events('whois')[0]?.user).toEqual({
      nick: 'ann',
      online: true,
      away: 'lunch',
      rooms: ['lobby'],
    });
    bob.ok({ type: 'members', room: 'lobby' });
    expect(bob.events('members')[0]?.members.find((m) => m.nick === 'ann')?.away).toBe(true);
    ann.ok({ type: 'away' });
    expect(bob.events('presence')[1]).toEqual({ type: 'presence', nick: 'ann' });
    ann.refused({ type: 'away', message: 'x'.repeat(301) }, ErrorCode.TEXT_TOO_LONG);
  });

  it('tells everyone sharing a room one quit, and remembers when the user was last seen', () => {
    const h = new Harness();
    const ann = h.guest('ann');
    const bob = h.guest('bob');
    for (const room of ['a', 'b', 'c']) {
      ann.ok({ type: 'join', room });
      bob.ok({ type: 'join', room });
    }
    h.clearAll();
    h.advance(5000);
    ann.close('gone fishing');
    expect(bob.events('quit')).toEqual([{ type: 'quit', nick: 'ann', reason: 'gone fishing' }]);
    expect(bob.events('part')).toEqual([]);
    h.advance(60_000);
    bob.ok({ type: 'whois', nick: 'ann' });
    expect(bob.events('whois')[0]?.user).toEqual({ nick: 'ann', online: false, lastSeen: T0 + 5000 });
    bob.refused({ type: 'whois', nick: 'nobody' }, ErrorCode.NO_SUCH_NICK);
    // A second close of the same session does nothing.
    expect(ann.close()).toEqual({ deliveries: [], effects: [] });
  });

  it('keeps an account online while one of its sessions is, parting rooms only that one held', () => {
    const h = new Harness();
    const phone = h.account('ann');
    const laptop = h.account('ann');
    const bob = h.guest('bob');
    phone.ok({ type: 'join', room: 'a' });
    laptop.ok({ type: 'join', room: 'a' });
    phone.ok({ type: 'join', room: 'b' });
    bob.ok({ type: 'join', room: 'a' });
    bob.ok({ type: 'join', room: 'b' });
    h.clearAll();
    phone.close('battery');
    expect(bob.events('quit')).toEqual([]);
    expect(bob.events('part')).toEqual([{ type: 'part', room: 'b', nick: 'ann', reason: 'battery' }]);
    bob.ok({ type: 'whois', nick: 'ann' });
    expect(bob.events('whois')[0]?.user).toMatchObject({ online: true, account: 'ann', rooms: ['a'] });
    laptop.close();
    expect(bob.events('quit')).toHaveLength(1);
    bob.ok({ type: 'whois', nick: 'ann' });
    expect(bob.events('whois')[1]?.user).toEqual({
      nick: 'ann',
      account: 'ann',
      online: false,
      lastSeen: T0,
    });
  });

  it('answers whois for an account that was never online here, without a last-seen time', () => {
    const h = new Harness({ accounts: new AccountNames(['Zed']) });
    const ann = h.guest('ann');
    ann.ok({ type: 'whois', nick: 'zed' });
    expect(ann.events('whois')[0]?.user).toEqual({ nick: 'Zed', account: 'Zed', online: false });
  });

  it('forgets the oldest last-seen times beyond its bound', () => {
    const h = new Harness({ limits: { maxSeen: 2 } });
    for (const nick of ['u1', 'u2', 'u3']) h.guest(nick).close();
    const ann = h.guest('ann');
    ann.refused({ type: 'whois', nick: 'u1' }, ErrorCode.NO_SUCH_NICK);
    ann.ok({ type: 'whois', nick: 'u2' });
    ann.ok({ type: 'whois', nick: 'u3' });
  });
});

describe('sessions', () => {
  it('refuses a session beyond the limit and takes one again once another closes', () => {
    const h = new Harness({ limits: { maxSessions: 2 } });
    const a = h.connect();
    h.connect();
    expect(h.hub.open().refusal?.code).toBe(ErrorCode.TOO_MANY_CONNECTIONS);
    a.close();
    expect(h.hub.open().session).toBeTypeOf('string');
  });

  it('gives every session its own id and refuses commands for a closed one', () => {
    const h = new Harness();
    const a = h.guest('a');
    const b = h.connect();
    expect(a.id).not.toBe(b.id);
    a.close();
    expect(h.hub.handle(a.id, { type: 'rooms' }).refusal?.code).toBe(ErrorCode.CONNECTION_CLOSED);
    expect(h.hub.authenticate(a.id, 'x').refusal?.code).toBe(ErrorCode.CONNECTION_CLOSED);
  });
});
