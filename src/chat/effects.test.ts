/**
 * The hub and the history together, as a server will run them: scrollback on join, resume,
 * and direct messages that wait for an offline account, on every engine.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Client, Harness } from '../../test/chat.js';
import { createTestDatabase, DB_KINDS, type DbKind, type TestDatabase } from '../../test/databases.js';
import { ErrorCode } from '../errors.js';
import { AccountNames } from './accounts.js';
import { runHistoryEffect } from './effects.js';
import { type ChatHistory, openChatHistory } from './history.js';
import type { ChatEvent, Outcome } from './protocol.js';

describe.each(DB_KINDS)('hub with history on %s', (kind: DbKind) => {
  let database: TestDatabase;
  let history: ChatHistory;

  beforeAll(async () => {
    database = await createTestDatabase(kind);
    history = await openChatHistory(database.url);
  });

  afterAll(async () => {
    await history?.close();
    await database?.drop();
  });

  /** A hub whose effects go to the history as a server's would: stores at once, reads later. */
  async function serve(h: Harness, outcomes: Outcome[]): Promise<void> {
    const route = (d: { to: string[]; event: ChatEvent }) => h.route({ deliveries: [d], effects: [] });
    await Promise.all(outcomes.flatMap((o) => o.effects.map((e) => runHistoryEffect(history, e, route))));
  }

  const histories = (c: Client) => c.events('history');

  /** A hub that, like a restarted server, numbers its messages after the newest stored. */
  async function hub(options: ConstructorParameters<typeof Harness>[0] = {}): Promise<Harness> {
    const lastId = await history.latestId();
    return new Harness({ ...options, ...(lastId === undefined ? {} : { lastId }) });
  }

  it('sends a joiner the scrollback before its join, and nothing it will see live', async () => {
    const h = await hub({ limits: { scrollback: 3 } });
    const ann = h.guest('ann');
    const outcomes = [ann.ok({ type: 'join', room: 'den' })];
    for (const text of ['one', 'two', 'three', 'four'])
      outcomes.push(ann.ok({ type: 'say', room: 'den', text }));
    const bob = h.guest('bob');
    outcomes.push(bob.ok({ type: 'join', room: 'den' }));
    outcomes.push(ann.ok({ type: 'say', room: 'den', text: 'live' }));
    // The join's history is read after the later message was queued for writing.
    await serve(h, outcomes);
    const [scrollback] = histories(bob).filter((e) => e.room === 'den');
    expect(scrollback?.messages.map((m) => m.text)).toEqual(['two', 'three', 'four']);
    expect(scrollback?.more).toBe(true);
    expect(bob.texts()).toEqual(['live']);
    // Resuming after the last message seen gives what came since, once.
    const seen = scrollback?.messages.at(-1)?.id as string;
    const cy = h.guest('cy');
    await serve(h, [cy.ok({ type: 'join', room: 'den', after: seen })]);
    expect(histories(cy)[0]?.messages.map((m) => m.text)).toEqual(['live']);
    // And paging back from the oldest shown.
    const older = scrollback?.messages[0]?.id;
    await serve(h, [bob.ok({ type: 'history', room: 'den', before: older, limit: 10 })]);
    expect(histories(bob)[1]?.messages.map((m) => m.text)).toEqual(['one']);
  });

  it('hands an account the direct messages that waited for it, once', async () => {
    const h = await hub({ accounts: new AccountNames(['Zed']) });
    const ann = h.guest('ann');
    const sent = [ann.ok({ type: 'dm', to: 'zed', text: 'are you there?' })];
    sent.push(ann.ok({ type: 'dm', to: 'ZED', text: 'call me', action: true }));
    await serve(h, sent);
    const zed = h.account('Zed');
    await serve(h, [{ deliveries: [], effects: h.effects.filter((e) => e.type === 'offline') }]);
    const [waiting] = histories(zed);
    expect(waiting).toMatchObject({ direct: true, offline: true, more: false });
    expect(waiting?.messages.map((m) => [m.from, m.to, m.text, m.action ?? false])).toEqual([
      ['ann', 'Zed', 'are you there?', false],
      ['ann', 'Zed', 'call me', true],
    ]);
    expect(await history.undelivered('zed')).toEqual([]);
    // Its own direct history still has them.
    await serve(h, [zed.ok({ type: 'history' })]);
    expect(histories(zed)[1]?.messages.map((m) => m.text)).toEqual(['are you there?', 'call me']);
    // A direct message while online is delivered live, not kept waiting.
    await serve(h, [ann.ok({ type: 'dm', to: 'zed', text: 'hi' })]);
    expect(zed.texts()).toEqual(['hi']);
    expect(await history.undelivered('zed')).toEqual([]);
  });

  it('hands over waiting messages in pages, and leaves close effects to the transport', async () => {
    const h = await hub({ accounts: new AccountNames(['many']), limits: { burst: 1000 } });
    const ann = h.guest('ann');
    const sent: Outcome[] = [];
    for (let i = 0; i < 150; i++) sent.push(ann.ok({ type: 'dm', to: 'many', text: `m${i}` }));
    await serve(h, sent);
    const many = h.account('many');
    await serve(h, [{ deliveries: [], effects: h.effects.filter((e) => e.type === 'offline') }]);
    const pages = histories(many);
    expect(pages.map((p) => [p.messages.length, p.more])).toEqual([
      [100, true],
      [50, false],
    ]);
    expect(pages.flatMap((p) => p.messages.map((m) => m.text))).toEqual(sent.map((_, i) => `m${i}`));
    const close = { type: 'close' as const, session: many.id, code: ErrorCode.THROTTLED, reason: 'x' };
    expect(await runHistoryEffect(history, close, () => expect.unreachable())).toBe(false);
  });
});
