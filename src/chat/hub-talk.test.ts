/** The hub's talk: room and direct messages, mentions, /me, sizes, typing notices, history requests. */
import { describe, expect, it } from 'vitest';
import { Harness, T0 } from '../../test/chat.js';
import { ErrorCode } from '../errors.js';
import { AccountNames } from './accounts.js';
import type { ChatMessage } from './protocol.js';

function den(h: Harness, ...nicks: string[]) {
  return nicks.map((nick) => {
    const c = h.guest(nick);
    c.ok({ type: 'join', room: 'den' });
    return c;
  });
}

describe('room messages', () => {
  it('reach every other member, come back to the sender as an echo, and are stored', () => {
    const h = new Harness();
    const [ann, bob] = den(h, 'ann', 'bob');
    const outsider = h.guest('out');
    h.advance(7);
    const outcome = ann?.ok({ type: 'say', room: 'den', text: 'hello' });
    const message = bob?.events('message')[0]?.message as ChatMessage;
    expect(message).toEqual({ id: message.id, at: T0 + 7, from: 'ann', room: 'den', text: 'hello' });
    expect(bob?.inbox.at(-1)?.echo).toBe(false);
    expect(ann?.inbox.at(-1)).toEqual({ event: { type: 'message', message }, echo: true });
    expect(outsider.inbox.filter((r) => r.event.type === 'message')).toEqual([]);
    expect(outcome?.effects).toEqual([{ type: 'store', message, delivered: true }]);
  });

  it('echo to all sessions of the sending account, and carry the account', () => {
    const h = new Harness();
    const phone = h.account('ann');
    const laptop = h.account('ann');
    const bob = h.guest('bob');
    for (const c of [phone, laptop, bob]) c.ok({ type: 'join', room: 'den' });
    phone.ok({ type: 'say', room: 'den', text: 'hi' });
    expect(laptop.inbox.at(-1)).toMatchObject({
      echo: true,
      event: { message: { account: 'ann', from: 'ann' } },
    });
    expect(bob.inbox.at(-1)?.echo).toBe(false);
  });

  it('are refused outside the room, and from a user banned while a member', () => {
    const h = new Harness();
    const [ann] = den(h, 'ann');
    h.guest('bob').refused({ type: 'say', room: 'den', text: 'x' }, ErrorCode.NOT_IN_ROOM);
    ann?.refused({ type: 'say', room: 'nowhere', text: 'x' }, ErrorCode.NOT_IN_ROOM);
    ann?.refused({ type: 'say', room: 'bad room', text: 'x' }, ErrorCode.BAD_ROOM);
  });

  it('flag the members they name, as words, in order, each once', () => {
    const h = new Harness();
    const [ann] = den(h, 'ann', 'Bob', 'cy', 'dee');
    h.guest('eve');
    ann?.ok({ type: 'say', room: 'den', text: 'bob: ask @CY and cy, not eve or cyril or ann; dee.' });
    const mentions = h.effects.map((e) => (e.type === 'store' ? e.message.mentions : undefined));
    expect(mentions).toContainEqual(['Bob', 'cy', 'dee']);
    ann?.ok({ type: 'say', room: 'den', text: 'nobody here' });
    expect((h.effects.at(-1) as { message: ChatMessage }).message.mentions).toBeUndefined();
  });

  it('carry /me as an action', () => {
    const h = new Harness();
    const [ann, bob] = den(h, 'ann', 'bob');
    ann?.ok({ type: 'say', room: 'den', text: 'waves', action: true });
    expect(bob?.events('message')[0]?.message).toMatchObject({ text: 'waves', action: true });
  });

  it('get strictly increasing ids, even when the clock stands still or steps back', () => {
    const h = new Harness();
    const [ann, bob] = den(h, 'ann', 'bob');
    for (const step of [0, 0, -5000, 1, 0]) {
      h.advance(step);
      ann?.ok({ type: 'say', room: 'den', text: 'x' });
    }
    const ids = bob?.events('message').map((e) => e.message.id) ?? [];
    expect(ids).toHaveLength(5);
    expect([...ids].sort()).toEqual(ids);
    expect(new Set(ids).size).toBe(5);
  });
});

describe('sizes and content', () => {
  it('takes a message of exactly the limit in bytes of UTF-8 and refuses one byte more', () => {
    const h = new Harness({ limits: { maxMessageBytes: 10 } });
    const [ann] = den(h, 'ann');
    ann?.ok({ type: 'say', room: 'den', text: '0123456789' });
    ann?.ok({ type: 'say', room: 'den', text: 'ééééé' });
    ann?.ok({ type: 'say', room: 'den', text: '🙂🙂' + 'xy' });
    ann?.refused({ type: 'say', room: 'den', text: 'ééééé!' }, ErrorCode.TEXT_TOO_LONG);
    ann?.refused({ type: 'say', room: 'den', text: 'x'.repeat(100_000) }, ErrorCode.TEXT_TOO_LONG);
    ann?.refused({ type: 'dm', to: 'ann', text: '🙂🙂🙂' }, ErrorCode.TEXT_TOO_LONG);
  });

  it('takes bytes that are UTF-8 and refuses bytes that are not', () => {
    const h = new Harness();
    const [ann, bob] = den(h, 'ann', 'bob');
    ann?.ok({ type: 'say', room: 'den', text: Buffer.from('grüße', 'utf8') });
    expect(bob?.texts()).toEqual(['grüße']);
    for (const bytes of [[0xc3, 0x28], [0xff], [0xed, 0xa0, 0x80], [0xe2, 0x82], [0xc0, 0xaf]]) {
      ann?.refused({ type: 'say', room: 'den', text: Uint8Array.from(bytes) }, ErrorCode.BAD_REQUEST);
    }
    ann?.refused({ type: 'say', room: 'den', text: 'half \ud83d' }, ErrorCode.BAD_REQUEST);
  });

  it('refuses empty text, line breaks and terminal controls, and passes IRC formatting', () => {
    const h = new Harness();
    const [ann] = den(h, 'ann');
    for (const text of ['', 'a\nb', 'a\rb', '\u001b[2J', 'a\u0000', '\u009b31m', '\u007f']) {
      ann?.refused({ type: 'say', room: 'den', text }, ErrorCode.BAD_REQUEST);
    }
    ann?.ok({ type: 'say', room: 'den', text: '\u0002bold\u0002 \u000304red\u000f\ttab \u001ditalic\u001d' });
  });
});

describe('direct messages', () => {
  it('reach every session of the recipient and echo to the sender', () => {
    const h = new Harness();
    const ann = h.guest('ann');
    const b1 = h.account('bob');
    const b2 = h.account('bob');
    const out = ann.ok({ type: 'dm', to: 'BOB', text: 'psst' });
    const message = b1.events('message')[0]?.message as ChatMessage;
    expect(message).toMatchObject({ from: 'ann', to: 'bob', text: 'psst' });
    expect(message.room).toBeUndefined();
    expect(b2.events('message')[0]?.message).toBe(message);
    expect(ann.inbox.at(-1)).toEqual({ event: { type: 'message', message }, echo: true });
    expect(out.effects).toEqual([{ type: 'store', message, delivered: true }]);
  });

  it('never deliver to an IRC services nick, even an account of that name, nor let a guest take one', () => {
    // IRC clients send `IDENTIFY name password` to NickServ on connecting: no one may read it.
    const h = new Harness({ accounts: new AccountNames(['ChanServ']) });
    const holder = h.account('NickServ');
    const ann = h.guest('ann');
    for (const to of ['NickServ', 'nickserv', 'ChanServ', 'MemoServ', 'Global']) {
      const out = ann.refused({ type: 'dm', to, text: 'IDENTIFY ann hunter2' }, ErrorCode.NO_SUCH_NICK);
      expect(out.effects).toEqual([]);
    }
    expect(holder.events('message')).toEqual([]);
    // Neither as a first nick nor as a change.
    for (const nick of ['NickServ', 'OPERSERV', 'global']) {
      h.connect().refused({ type: 'nick', nick }, ErrorCode.BAD_NICK);
      ann.refused({ type: 'nick', nick }, ErrorCode.BAD_NICK);
    }
    // A nick that merely contains the letters is anyone's.
    ann.ok({ type: 'nick', nick: 'servo' });
  });

  it('keeps a message to an offline account, telling the sender it is queued', () => {
    const h = new Harness({ accounts: new AccountNames(['Zed']) });
    const ann = h.guest('ann');
    const out = ann.ok({ type: 'dm', to: 'zed', text: 'when you are back' });
    expect(out.deliveries).toHaveLength(1);
    expect(ann.inbox.at(-1)).toMatchObject({ echo: true, event: { queued: true, message: { to: 'Zed' } } });
    expect(out.effects).toEqual([
      { type: 'store', message: expect.objectContaining({ to: 'Zed' }), delivered: false },
    ]);
  });

  it('refuses a message to a nick that is neither online nor an account', () => {
    const h = new Harness();
    const ann = h.guest('ann');
    h.guest('gone').close();
    ann.refused({ type: 'dm', to: 'gone', text: 'x' }, ErrorCode.NO_SUCH_NICK);
    ann.refused({ type: 'dm', to: 'x'.repeat(200), text: 'x' }, ErrorCode.NO_SUCH_NICK);
  });

  it('delivers a note to oneself once', () => {
    const h = new Harness();
    const ann = h.guest('ann');
    ann.ok({ type: 'dm', to: 'ann', text: 'note' });
    expect(ann.events('message')).toHaveLength(1);
  });
});

describe('typing notices', () => {
  it('go to the others in the room, at most one per 3 s, and end after 6 s', () => {
    const h = new Harness();
    const [ann, bob] = den(h, 'ann', 'bob');
    h.clearAll();
    ann?.ok({ type: 'typing', room: 'den', active: true });
    expect(bob?.events('typing')).toEqual([{ type: 'typing', nick: 'ann', room: 'den', active: true }]);
    expect(ann?.events('typing')).toEqual([]);
    h.advance(2999);
    ann?.ok({ type: 'typing', room: 'den', active: true });
    expect(bob?.events('typing')).toHaveLength(1);
    h.tick();
    expect(bob?.events('typing')).toHaveLength(1);
    h.advance(3000);
    h.tick();
    expect(bob?.events('typing')).toHaveLength(1);
    h.advance(1);
    h.tick();
    expect(bob?.events('typing')).toEqual([
      { type: 'typing', nick: 'ann', room: 'den', active: true },
      { type: 'typing', nick: 'ann', room: 'den', active: false },
    ]);
    h.advance(60_000);
    h.tick();
    expect(bob?.events('typing')).toHaveLength(2);
  });

  it('are renewed by a notice after 3 s, so a steady typist stays typing', () => {
    const h = new Harness();
    const [ann, bob] = den(h, 'ann', 'bob');
    for (let i = 0; i < 5; i++) {
      ann?.ok({ type: 'typing', room: 'den', active: true });
      h.advance(3000);
      h.tick();
    }
    expect(bob?.events('typing').map((e) => e.active)).toEqual([true, true, true, true, true]);
    h.advance(3000);
    h.tick();
    expect(bob?.events('typing').at(-1)?.active).toBe(false);
  });

  it('end at once when the user says so, and silently when the user sends the message', () => {
    const h = new Harness();
    const [ann, bob] = den(h, 'ann', 'bob');
    ann?.ok({ type: 'typing', room: 'den', active: true });
    ann?.ok({ type: 'typing', room: 'den', active: false });
    expect(bob?.events('typing').map((e) => e.active)).toEqual([true, false]);
    ann?.ok({ type: 'typing', room: 'den', active: false });
    expect(bob?.events('typing')).toHaveLength(2);
    h.advance(3000);
    ann?.ok({ type: 'typing', room: 'den', active: true });
    ann?.ok({ type: 'say', room: 'den', text: 'done' });
    h.advance(10_000);
    h.tick();
    expect(bob?.events('typing').map((e) => e.active)).toEqual([true, false, true]);
  });

  it('go to the recipient of a direct message, and are refused for nobody or an unjoined room', () => {
    const h = new Harness();
    const ann = h.guest('ann');
    const bob = h.guest('bob');
    ann.ok({ type: 'typing', to: 'Bob', active: true });
    expect(bob.events('typing')).toEqual([{ type: 'typing', nick: 'ann', to: 'bob', active: true }]);
    h.advance(6000);
    h.tick();
    expect(bob.events('typing').at(-1)).toEqual({ type: 'typing', nick: 'ann', to: 'bob', active: false });
    ann.refused({ type: 'typing', to: 'nobody', active: true }, ErrorCode.NO_SUCH_NICK);
    ann.refused({ type: 'typing', room: 'den', active: true }, ErrorCode.NOT_IN_ROOM);
    ann.refused({ type: 'typing', active: true }, ErrorCode.BAD_REQUEST);
  });

  it('are forgotten when the typist leaves the room or quits', () => {
    const h = new Harness();
    const [ann, bob] = den(h, 'ann', 'bob');
    const cy = h.guest('cy');
    ann?.ok({ type: 'typing', room: 'den', active: true });
    cy.ok({ type: 'typing', to: 'bob', active: true });
    ann?.ok({ type: 'part', room: 'den' });
    cy.close();
    h.advance(6000);
    expect(h.tick().deliveries).toEqual([]);
    expect(bob?.events('typing')).toHaveLength(2);
  });
});

describe('history requests', () => {
  it("ask the owner for a room's page, ending where live delivery begins", () => {
    const h = new Harness();
    const [ann] = den(h, 'ann');
    h.effects.length = 0;
    ann?.ok({ type: 'history', room: '#Den', limit: 10_000 });
    expect(h.effects).toEqual([
      { type: 'history', session: ann?.id, room: 'den', before: expect.any(String), limit: 200 },
    ]);
    const id = (h.effects[0] as { before: string }).before;
    ann?.ok({ type: 'history', room: 'den', before: id, after: id, limit: 5 });
    expect(h.effects[1]).toEqual({
      type: 'history',
      session: ann?.id,
      room: 'den',
      before: id,
      after: id,
      limit: 5,
    });
    ann?.refused({ type: 'history', room: 'den', before: "1' OR '1'='1" }, ErrorCode.BAD_REQUEST);
    ann?.refused({ type: 'history', room: 'attic' }, ErrorCode.NOT_IN_ROOM);
  });

  it("give an account its direct messages, and refuse a guest (its nick may have been another's)", () => {
    const h = new Harness();
    const acct = h.account('Ann');
    acct.ok({ type: 'history' });
    expect(h.effects.at(-1)).toMatchObject({ type: 'history', session: acct.id, direct: 'Ann', limit: 50 });
    h.guest('bob').refused({ type: 'history' }, ErrorCode.FORBIDDEN);
  });
});
