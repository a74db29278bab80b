/**
 * The hub under random traffic: whatever clients do, a room message reaches exactly the
 * sessions in the room, once each; a direct message exactly its two users' sessions; nothing
 * goes to a closed session; and message ids only increase.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { T0 } from '../../test/chat.js';
import { ChatHub } from './hub.js';
import type { ChatCommand, Outcome } from './protocol.js';

const NICKS = ['u0', 'u1', 'u2', 'u3'];
const ROOMS = ['lobby', 'r1', 'r2'];

type Action =
  | { kind: 'command'; who: number; command: ChatCommand }
  | { kind: 'reconnect'; who: number }
  | { kind: 'wait'; ms: number };

const who = fc.integer({ min: 0, max: NICKS.length - 1 });
const room = fc.constantFrom(...ROOMS);
const nick = fc.constantFrom(...NICKS, 'nobody');
const text = fc.string({ minLength: 1, maxLength: 40 });

const action: fc.Arbitrary<Action> = fc.oneof(
  fc.record({
    kind: fc.constant('command' as const),
    who,
    command: fc.record({ type: fc.constant('join' as const), room }),
  }),
  fc.record({
    kind: fc.constant('command' as const),
    who,
    command: fc.record({ type: fc.constant('part' as const), room }),
  }),
  fc.record({
    kind: fc.constant('command' as const),
    who,
    command: fc.record({ type: fc.constant('say' as const), room, text, action: fc.boolean() }),
  }),
  fc.record({
    kind: fc.constant('command' as const),
    who,
    command: fc.record({ type: fc.constant('dm' as const), to: nick, text }),
  }),
  fc.record({
    kind: fc.constant('command' as const),
    who,
    command: fc.record({ type: fc.constant('kick' as const), room, nick }),
  }),
  fc.record({
    kind: fc.constant('command' as const),
    who,
    command: fc.record({ type: fc.constant('typing' as const), room, active: fc.boolean() }),
  }),
  fc.record({ kind: fc.constant('reconnect' as const), who }),
  fc.record({ kind: fc.constant('wait' as const), ms: fc.integer({ min: -2000, max: 10_000 }) }),
);

describe('the hub under random traffic', () => {
  it('delivers room and direct messages to exactly the right sessions, with increasing ids', () => {
    fc.assert(
      fc.property(fc.array(action, { minLength: 20, maxLength: 150 }), (actions) => {
        let now = T0;
        const hub = new ChatHub({ now: () => now, limits: { burst: 1000, strikes: 1000 } });
        const open = new Set<string>();
        const sessionOf: string[] = [];
        const connect = (i: number) => {
          const session = hub.open().session as string;
          open.add(session);
          check(hub.handle(session, { type: 'nick', nick: NICKS[i] as string }));
          sessionOf[i] = session;
        };
        let lastId = '';
        const check = (outcome: Outcome, command?: ChatCommand, sender?: string) => {
          const received = new Map<string, number>();
          for (const d of outcome.deliveries) {
            for (const s of d.to) {
              expect(open.has(s), `delivery to closed session ${s}`).toBe(true);
              if (d.event.type === 'message') received.set(s, (received.get(s) ?? 0) + 1);
            }
          }
          const stored = outcome.effects.flatMap((e) => (e.type === 'store' ? [e.message] : []));
          for (const message of stored) {
            expect(message.id > lastId).toBe(true);
            lastId = message.id;
          }
          if (command?.type === 'say' && outcome.refusal === undefined) {
            const inRoom = [...open].filter((s) => hub.roomsOf(s).includes(command.room));
            expect([...received.keys()].sort()).toEqual(inRoom.sort());
          }
          if (command?.type === 'dm' && outcome.refusal === undefined) {
            const ends = [hub.nickOf(sender as string), command.to];
            const expected = [...open].filter((s) => ends.includes(hub.nickOf(s) as string));
            expect([...received.keys()].sort()).toEqual(expected.sort());
          }
          if (command?.type === 'dm' && !NICKS.includes(command.to)) expect(outcome.refusal).toBeDefined();
          for (const count of received.values()) expect(count).toBe(1);
        };
        for (let i = 0; i < NICKS.length; i++) connect(i);
        for (const a of actions) {
          if (a.kind === 'wait') {
            now += a.ms;
            check(hub.tick());
          } else if (a.kind === 'reconnect') {
            const old = sessionOf[a.who] as string;
            const closing = hub.close(old);
            open.delete(old);
            check(closing);
            connect(a.who);
          } else {
            const sender = sessionOf[a.who] as string;
            check(hub.handle(sender, a.command), a.command, sender);
          }
        }
      }),
      { numRuns: 300 },
    );
  });
});
