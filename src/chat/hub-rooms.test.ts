/** The hub's rooms: joining, parting, topics, listings, operators, kicks and bans. */
import { describe, expect, it } from 'vitest';
import { Harness, T0 } from '../../test/chat.js';
import { ErrorCode } from '../errors.js';
import { isMessageId } from './ids.js';

function room(h: Harness, ...nicks: string[]) {
  return nicks.map((nick) => {
    const c = h.guest(nick);
    c.ok({ type: 'join', room: 'den' });
    return c;
  });
}

describe('joining and parting', () => {
  it('makes the first joiner of a new room its operator, and tells the room of each joiner', () => {
    const h = new Harness();
    const [ann, bob] = room(h, 'ann', 'bob');
    const joined = (c: typeof ann) => c?.events('joined')[0];
    expect(joined(ann)).toMatchObject({
      op: true,
      room: { name: 'den', members: 1, topic: '', locked: false },
    });
    expect(joined(bob)).toMatchObject({ op: false, room: { members: 2 }, truncated: false });
    expect(joined(bob)?.members).toEqual([
      { nick: 'ann', op: true, away: false },
      { nick: 'bob', op: false, away: false },
    ]);
    expect(ann?.events('join')).toEqual([
      { type: 'join', room: 'den', member: { nick: 'bob', op: false, away: false } },
    ]);
    expect(bob?.events('join')).toEqual([]);
  });

  it('names rooms in one form: no #, lower case', () => {
    const h = new Harness();
    const ann = h.guest('ann');
    ann.ok({ type: 'join', room: '#Team-A' });
    ann.ok({ type: 'join', room: 'TEAM-a' });
    expect(h.hub.roomsOf(ann.id)).toEqual(['team-a']);
    ann.ok({ type: 'say', room: '#team-A', text: 'x' });
    for (const bad of ['', '#', 'a b', '-x', '.x', '##x', 'x,y', 'é', 'x'.repeat(50), 'a\nb']) {
      ann.refused({ type: 'join', room: bad }, ErrorCode.BAD_ROOM);
    }
  });

  it('always has the lobby, with no operator but admins', () => {
    const h = new Harness();
    const ann = h.guest('ann');
    ann.ok({ type: 'rooms' });
    expect(ann.events('rooms')[0]?.rooms.map((r) => r.name)).toEqual(['lobby']);
    ann.ok({ type: 'join', room: 'lobby' });
    expect(ann.events('joined')[0]?.op).toBe(false);
    ann.refused({ type: 'lock', room: 'lobby', locked: true }, ErrorCode.NOT_OPERATOR);
    ann.ok({ type: 'part', room: 'lobby' });
    expect(h.hub.roomCount).toBe(1);
    const root = h.account('root', { admin: true });
    root.ok({ type: 'join', room: 'lobby' });
    expect(root.events('joined')[0]?.op).toBe(true);
  });

  it('asks for scrollback up to an id drawn at the join, so history and live never overlap', () => {
    const h = new Harness({ limits: { scrollback: 25 } });
    const [ann] = room(h, 'ann');
    const said = ann?.ok({ type: 'say', room: 'den', text: 'before' });
    h.effects.length = 0;
    const bob = h.guest('bob');
    bob.ok({ type: 'join', room: 'den' });
    const after = ann?.ok({ type: 'say', room: 'den', text: 'after' });
    const scrollback = h.effects.find((e) => e.type === 'history');
    expect(scrollback).toMatchObject({ type: 'history', session: bob.id, room: 'den', limit: 25 });
    const fence = (scrollback as { before: string }).before;
    expect(isMessageId(fence)).toBe(true);
    const idOf = (o: typeof said) =>
      (o?.effects[0] as { message: { id: string } } | undefined)?.message.id as string;
    expect(idOf(said) < fence && fence < idOf(after)).toBe(true);
    // Resuming after an id asks for everything since, up to the page limit.
    bob.ok({ type: 'part', room: 'den' });
    bob.ok({ type: 'join', room: 'den', after: idOf(said) });
    expect(h.effects.at(-1)).toMatchObject({ type: 'history', room: 'den', after: idOf(said), limit: 200 });
    bob.refused({ type: 'join', room: 'x', after: 'not-an-id' }, ErrorCode.BAD_REQUEST);
  });

  it('treats a second join as a no-op for the room, and parts a session not in it with a refusal', () => {
    const h = new Harness();
    const [ann, bob] = room(h, 'ann', 'bob');
    h.clearAll();
    const again = bob?.ok({ type: 'join', room: 'den' });
    expect(ann?.inbox).toEqual([]);
    expect(bob?.events('joined')).toHaveLength(1);
    expect(again?.effects).toEqual([]);
    bob?.refused({ type: 'part', room: 'elsewhere' }, ErrorCode.NOT_IN_ROOM);
  });

  it('tells the room and the session of a part, and removes a room when its last member leaves', () => {
    const h = new Harness();
    const [ann, bob] = room(h, 'ann', 'bob');
    bob?.ok({ type: 'part', room: 'den', reason: 'bye' });
    const part = { type: 'part', room: 'den', nick: 'bob', reason: 'bye' };
    expect(ann?.events('part')).toEqual([part]);
    expect(bob?.events('part')).toEqual([part]);
    ann?.ok({ type: 'topic', room: 'den', topic: 'old' });
    ann?.ok({ type: 'part', room: 'den' });
    expect(h.hub.roomCount).toBe(1);
    // A new room of the same name: a new first joiner, no old topic.
    bob?.ok({ type: 'join', room: 'den' });
    expect(bob?.events('joined').at(-1)).toMatchObject({ op: true, room: { topic: '' } });
  });

  it('bounds the rooms of a session and of the server', () => {
    const h = new Harness({ limits: { maxRoomsPerSession: 3, maxRooms: 5 } });
    const ann = h.guest('ann');
    for (const r of ['r1', 'r2', 'r3']) ann.ok({ type: 'join', room: r });
    ann.refused({ type: 'join', room: 'r4' }, ErrorCode.TOO_MANY_ROOMS);
    ann.ok({ type: 'join', room: 'r1' });
    const bob = h.guest('bob');
    bob.ok({ type: 'join', room: 'b1' });
    expect(h.hub.roomCount).toBe(5);
    bob.refused({ type: 'join', room: 'b2' }, ErrorCode.TOO_MANY_ROOMS);
    bob.ok({ type: 'join', room: 'r2' });
  });
});

describe('listings', () => {
  it('lists rooms and members sorted, up to the listing limit, saying when it was cut', () => {
    const h = new Harness({ limits: { maxListed: 3 } });
    const nicks = ['e', 'd', 'c', 'b', 'a'];
    const clients = nicks.map((n) => h.guest(n));
    for (const c of clients) c.ok({ type: 'join', room: 'den' });
    clients[0]?.ok({ type: 'join', room: 'attic' });
    const a = clients[4];
    a?.ok({ type: 'members', room: '#DEN' });
    const members = a?.events('members')[0];
    expect(members?.members.map((m) => m.nick)).toEqual(['a', 'b', 'c']);
    expect(members).toMatchObject({ truncated: true, room: { name: 'den', members: 5 } });
    expect(a?.events('joined')[0]?.truncated).toBe(true);
    a?.ok({ type: 'rooms' });
    expect(a?.events('rooms')[0]).toMatchObject({ truncated: false });
    expect(a?.events('rooms')[0]?.rooms.map((r) => [r.name, r.members])).toEqual([
      ['attic', 1],
      ['den', 5],
      ['lobby', 0],
    ]);
    a?.refused({ type: 'members', room: 'nowhere' }, ErrorCode.NO_SUCH_ROOM);
  });
});

describe('topics', () => {
  it('lets a member set the topic, tells the room who and when, and bounds its length', () => {
    const h = new Harness({ limits: { maxTopicBytes: 10 } });
    const [ann, bob] = room(h, 'ann', 'bob');
    h.advance(42);
    bob?.ok({ type: 'topic', room: 'den', topic: 'plans' });
    const topic = { type: 'topic', room: 'den', topic: 'plans', by: 'bob', at: T0 + 42, locked: false };
    expect(ann?.events('topic')).toEqual([topic]);
    expect(bob?.events('topic')).toEqual([topic]);
    bob?.refused({ type: 'topic', room: 'den', topic: 'ééééé!' }, ErrorCode.TEXT_TOO_LONG);
    bob?.ok({ type: 'topic', room: 'den', topic: 'ééééé' });
    bob?.ok({ type: 'topic', room: 'den', topic: '' });
    h.guest('cy').refused({ type: 'topic', room: 'den', topic: 'x' }, ErrorCode.NOT_IN_ROOM);
  });

  it('keeps a locked topic to operators', () => {
    const h = new Harness();
    const [ann, bob] = room(h, 'ann', 'bob');
    bob?.refused({ type: 'lock', room: 'den', locked: true }, ErrorCode.NOT_OPERATOR);
    ann?.ok({ type: 'lock', room: 'den', locked: true });
    expect(bob?.events('topic').at(-1)).toMatchObject({ locked: true, by: 'ann' });
    bob?.refused({ type: 'topic', room: 'den', topic: 'mine' }, ErrorCode.NOT_OPERATOR);
    ann?.ok({ type: 'topic', room: 'den', topic: 'theirs' });
    ann?.ok({ type: 'lock', room: 'den', locked: false });
    bob?.ok({ type: 'topic', room: 'den', topic: 'mine' });
  });
});

describe('operators', () => {
  it('lets an operator kick: everyone sees it, the kicked sessions are out and may come back', () => {
    const h = new Harness();
    const [ann, bob, cy] = room(h, 'ann', 'bob', 'cy');
    bob?.refused({ type: 'kick', room: 'den', nick: 'cy' }, ErrorCode.NOT_OPERATOR);
    ann?.ok({ type: 'kick', room: 'den', nick: 'CY', reason: 'spam' });
    const kick = { type: 'kick', room: 'den', nick: 'cy', by: 'ann', reason: 'spam' };
    for (const c of [ann, bob, cy]) expect(c?.events('kick')).toEqual([kick]);
    expect(h.hub.roomsOf(cy?.id as string)).toEqual([]);
    cy?.refused({ type: 'say', room: 'den', text: 'x' }, ErrorCode.NOT_IN_ROOM);
    ann?.refused({ type: 'kick', room: 'den', nick: 'cy' }, ErrorCode.NOT_IN_ROOM);
    cy?.ok({ type: 'join', room: 'den' });
  });

  it('gives and takes operator status', () => {
    const h = new Harness();
    const [ann, bob] = room(h, 'ann', 'bob');
    ann?.ok({ type: 'op', room: 'den', nick: 'bob', op: true });
    expect(ann?.events('op')).toEqual([{ type: 'op', room: 'den', nick: 'bob', by: 'ann', op: true }]);
    bob?.ok({ type: 'op', room: 'den', nick: 'ann', op: false });
    ann?.refused({ type: 'kick', room: 'den', nick: 'bob' }, ErrorCode.NOT_OPERATOR);
    bob?.refused({ type: 'op', room: 'den', nick: 'nobody', op: true }, ErrorCode.NOT_IN_ROOM);
  });

  it("ends a guest's operator status when it leaves; an account's lasts while the room does", () => {
    const h = new Harness();
    const [guest, keeper] = room(h, 'guest', 'keeper');
    guest?.ok({ type: 'part', room: 'den' });
    guest?.ok({ type: 'join', room: 'den' });
    expect(guest?.events('joined').at(-1)?.op).toBe(false);
    const acct = h.account('acct');
    acct.ok({ type: 'join', room: 'attic' });
    keeper?.ok({ type: 'join', room: 'attic' });
    acct.ok({ type: 'part', room: 'attic' });
    acct.ok({ type: 'join', room: 'attic' });
    expect(acct.events('joined').at(-1)?.op).toBe(true);
  });

  it('makes admins operators everywhere, and keeps them from being kicked or banned', () => {
    const h = new Harness();
    const [ann] = room(h, 'ann');
    const root = h.account('root', { admin: true });
    root.ok({ type: 'join', room: 'den' });
    ann?.refused({ type: 'kick', room: 'den', nick: 'root' }, ErrorCode.NOT_OPERATOR);
    ann?.ok({ type: 'ban', room: 'den', target: { account: 'root' } });
    expect(h.hub.roomsOf(root.id)).toEqual(['den']);
    root.ok({ type: 'kick', room: 'den', nick: 'ann' });
    root.ok({ type: 'lock', room: 'lobby', locked: true });
  });
});

describe('bans', () => {
  it('bans a nick, whatever its case: the user is put out and cannot come back until unbanned', () => {
    const h = new Harness();
    const [ann, bob] = room(h, 'ann', 'bob');
    ann?.ok({ type: 'ban', room: 'den', target: { nick: 'BOB' }, reason: 'rude' });
    expect(bob?.events('ban')).toEqual([
      { type: 'ban', room: 'den', target: { nick: 'BOB' }, by: 'ann', active: true },
    ]);
    expect(bob?.events('kick')).toEqual([
      { type: 'kick', room: 'den', nick: 'bob', by: 'ann', reason: 'rude' },
    ]);
    bob?.refused({ type: 'join', room: 'den' }, ErrorCode.BANNED);
    ann?.ok({ type: 'bans', room: 'den' });
    expect(ann?.events('bans')[0]?.bans).toEqual([{ nick: 'BOB' }]);
    ann?.ok({ type: 'unban', room: 'den', target: { nick: 'bob' } });
    expect(ann?.events('ban').at(-1)).toMatchObject({ active: false });
    bob?.ok({ type: 'join', room: 'den' });
  });

  it('bans an account in all its sessions, whatever nick a guest would take', () => {
    const h = new Harness();
    const [ann] = room(h, 'ann');
    const phone = h.account('mal');
    const laptop = h.account('mal');
    phone.ok({ type: 'join', room: 'den' });
    laptop.ok({ type: 'join', room: 'den' });
    ann?.ok({ type: 'ban', room: 'den', target: { account: 'MAL' } });
    expect(h.hub.roomsOf(phone.id)).toEqual([]);
    expect(h.hub.roomsOf(laptop.id)).toEqual([]);
    expect(ann?.events('kick')).toHaveLength(1);
    phone.refused({ type: 'join', room: 'den' }, ErrorCode.BANNED);
  });

  it('bounds the ban list and refuses a malformed target', () => {
    const h = new Harness({ limits: { maxBansPerRoom: 2 } });
    const [ann] = room(h, 'ann');
    ann?.ok({ type: 'ban', room: 'den', target: { nick: 'x1' } });
    ann?.ok({ type: 'ban', room: 'den', target: { nick: 'x2' } });
    ann?.ok({ type: 'ban', room: 'den', target: { nick: 'X2' } });
    ann?.refused({ type: 'ban', room: 'den', target: { nick: 'x3' } }, ErrorCode.BAD_REQUEST);
    ann?.refused({ type: 'ban', room: 'den', target: { nick: 'a b' } }, ErrorCode.BAD_REQUEST);
    ann?.refused({ type: 'ban', room: 'den', target: {} as never }, ErrorCode.BAD_REQUEST);
    h.guest('z').refused({ type: 'ban', room: 'den', target: { nick: 'ann' } }, ErrorCode.NOT_OPERATOR);
  });
});
