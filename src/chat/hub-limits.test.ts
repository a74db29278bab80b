/** The hub's rate limit: a clear refusal first, a disconnect when the abuse goes on. */
import { describe, expect, it } from 'vitest';
import { Harness } from '../../test/chat.js';
import { ErrorCode, SockitError } from '../errors.js';
import { ChatHub } from './hub.js';
import { parseCommand } from './protocol.js';

describe('rate limit', () => {
  it('allows a burst, then refuses with the wait, then allows again after the refill', () => {
    const h = new Harness({ limits: { burst: 3, refillMs: 1000, strikes: 100 } });
    const [ann, bob] = ['ann', 'bob'].map((n) => h.guest(n));
    ann?.ok({ type: 'join', room: 'lobby' });
    bob?.ok({ type: 'join', room: 'lobby' });
    ann?.ok({ type: 'say', room: 'lobby', text: '1' });
    const refused = ann?.refused({ type: 'say', room: 'lobby', text: '2' }, ErrorCode.THROTTLED);
    expect(refused?.refusal?.retryAfterMs).toBe(1000);
    expect(refused?.refusal?.message).toMatch(/wait 1\.0 s/);
    h.advance(750);
    expect(ann?.send({ type: 'say', room: 'lobby', text: '3' }).refusal?.retryAfterMs).toBe(250);
    h.advance(250);
    ann?.ok({ type: 'say', room: 'lobby', text: '4' });
    expect(bob?.texts()).toEqual(['1', '4']);
    // Others are not slowed by one session's flood.
    bob?.ok({ type: 'say', room: 'lobby', text: 'me too' });
  });

  it('never refuses a client that keeps to the refill rate', () => {
    const h = new Harness({ limits: { burst: 2, refillMs: 500 } });
    const ann = h.guest('ann');
    ann.ok({ type: 'join', room: 'lobby' });
    for (let i = 0; i < 200; i++) {
      h.advance(500);
      ann.ok({ type: 'say', room: 'lobby', text: String(i) });
    }
  });

  it('disconnects a session that goes on after refusals, and tells its rooms it quit', () => {
    const h = new Harness({ limits: { burst: 5, refillMs: 1000, strikes: 3, strikeRefillMs: 10_000 } });
    const flooder = h.guest('flood');
    const bob = h.guest('bob');
    flooder.ok({ type: 'join', room: 'lobby' });
    bob.ok({ type: 'join', room: 'lobby' });
    for (let i = 0; i < 3; i++) flooder.ok({ type: 'say', room: 'lobby', text: 'x' });
    for (let i = 0; i < 3; i++) {
      const o = flooder.refused({ type: 'say', room: 'lobby', text: 'x' }, ErrorCode.THROTTLED);
      expect(o.effects).toEqual([]);
    }
    const last = flooder.send({ type: 'say', room: 'lobby', text: 'x' });
    expect(last.refusal?.code).toBe(ErrorCode.THROTTLED);
    expect(last.effects).toEqual([
      {
        type: 'close',
        session: flooder.id,
        code: ErrorCode.THROTTLED,
        reason: expect.stringMatching(/too many refused/),
      },
    ]);
    expect(bob.events('quit')).toEqual([{ type: 'quit', nick: 'flood', reason: expect.any(String) }]);
    expect(flooder.send({ type: 'rooms' }).refusal?.code).toBe(ErrorCode.CONNECTION_CLOSED);
    expect(h.hub.sessionCount).toBe(1);
    h.guest('flood');
  });

  it('counts other refusals as strikes too: 10,000 bad joins end in a disconnect, not 10,000 answers', () => {
    const h = new Harness({ limits: { burst: 10_000, strikes: 10 } });
    const c = h.guest('ann');
    let refusals = 0;
    let closed = false;
    for (let i = 0; i < 10_000 && !closed; i++) {
      const o = h.route(h.hub.handle(c.id, { type: 'join', room: `bad room ${i}` }));
      if (o.refusal?.code === ErrorCode.BAD_ROOM) refusals++;
      closed = o.effects.some((e) => e.type === 'close');
    }
    expect(closed).toBe(true);
    expect(refusals).toBe(11);
  });

  it('forgives strikes with time', () => {
    const h = new Harness({ limits: { strikes: 2, strikeRefillMs: 1000 } });
    const c = h.guest('ann');
    for (let i = 0; i < 20; i++) {
      c.refused({ type: 'join', room: 'bad room' }, ErrorCode.BAD_ROOM);
      h.advance(1000);
    }
    expect(h.hub.sessionCount).toBe(1);
  });

  it('checks its limits when made', () => {
    expect(() => new ChatHub({ limits: { maxRooms: -1 } })).toThrow(SockitError);
    expect(() => new ChatHub({ limits: { burst: 1.5 } })).toThrow(SockitError);
    expect(() => new ChatHub({ node: 1024 })).toThrow(SockitError);
  });
});

describe('parseCommand', () => {
  it('turns JSON into commands and refuses malformed ones with ERR_BAD_REQUEST', () => {
    expect(parseCommand({ type: 'say', room: 'lobby', text: 'hi' })).toEqual({
      type: 'say',
      room: 'lobby',
      text: 'hi',
    });
    expect(parseCommand({ type: 'ban', room: 'r', target: { account: 'mal' } })).toMatchObject({
      type: 'ban',
    });
    for (const bad of [
      null,
      42,
      'say',
      { type: 'shout', room: 'lobby' },
      { type: 'say', room: 'lobby' },
      { type: 'say', room: 'lobby', text: 5 },
      { type: 'say', room: 'x'.repeat(300), text: 'x' },
      { type: 'ban', room: 'r', target: { nick: 'a', account: 'b' } },
      { type: 'history', room: 'r', limit: 1.5 },
    ]) {
      const parsed = parseCommand(bad);
      expect('code' in parsed && parsed.code, JSON.stringify(bad)).toBe(ErrorCode.BAD_REQUEST);
    }
  });
});
