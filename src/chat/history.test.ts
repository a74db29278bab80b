/**
 * The chat history on every engine: a real SQLite file, a real MariaDB and a real PostgreSQL,
 * each in a fresh database (test/databases.ts). A server that is down fails the suite.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { codeOf } from '../../test/codes.js';
import { createTestDatabase, DB_KINDS, type DbKind, type TestDatabase } from '../../test/databases.js';
import { openUserStore } from '../auth/store.js';
import { ErrorCode } from '../errors.js';
import { type ChatHistory, MAX_PAGE, openChatHistory, PRUNE_BATCH } from './history.js';
import { MAX_STORED_TEXT_BYTES } from './history-schema.js';
import { MessageIds } from './ids.js';
import type { ChatMessage } from './protocol.js';

const T0 = 1_700_000_000_000;

describe.each(DB_KINDS)('chat history on %s', (kind: DbKind) => {
  let database: TestDatabase;
  let history: ChatHistory;
  let ids: MessageIds;
  let clock: number;

  const say = (room: string, text: string, extra: Partial<ChatMessage> = {}): ChatMessage => {
    clock += 1;
    return { id: ids.next(clock), at: clock, from: 'ann', room, text, ...extra };
  };
  const dm = (from: string, to: string, text: string, extra: Partial<ChatMessage> = {}): ChatMessage => {
    clock += 1;
    return { id: ids.next(clock), at: clock, from, to, text, ...extra };
  };
  const texts = (messages: ChatMessage[]) => messages.map((m) => m.text);

  beforeAll(async () => {
    database = await createTestDatabase(kind);
    history = await openChatHistory(database.url);
  });

  afterAll(async () => {
    await history?.close();
    await database?.drop();
  });

  beforeEach(() => {
    // Each test writes after everything before it: ids and times only grow.
    ids = new MessageIds({ node: 7 });
    clock = T0 + Math.floor(performance.now()) * 1000;
  });

  it(`is a ${kind} history`, () => {
    expect(history.kind).toBe(kind);
  });

  it('gives back every field as written, text byte for byte', async () => {
    const hostile = 'x\'); DROP TABLE chat_messages; -- \u0002bold\u0002 grüße 🙂 \\ % _ "';
    const full = say('fields', hostile, {
      account: 'ann',
      action: true,
      mentions: ['Bob', '[x]', 'ann.lee'],
    });
    const plain = say('fields', 'plain');
    await history.append(full);
    await history.append(plain);
    const { messages, more } = await history.room('fields');
    expect(messages).toEqual([full, plain]);
    expect(more).toBe(false);
    expect(typeof messages[0]?.at).toBe('number');
  });

  it('pages a room: the newest first page, older pages before an id, oldest first within a page', async () => {
    const written = Array.from({ length: 25 }, (_, i) => say('paging', `m${i}`));
    for (const m of written) await history.append(m);
    await history.append(say('elsewhere', 'not here'));
    const last = await history.room('#PAGING', { limit: 10 });
    expect(texts(last.messages)).toEqual(written.slice(15).map((m) => m.text));
    expect(last.more).toBe(true);
    const older = await history.room('paging', { before: last.messages[0]?.id, limit: 10 });
    expect(texts(older.messages)).toEqual(written.slice(5, 15).map((m) => m.text));
    const oldest = await history.room('paging', { before: older.messages[0]?.id, limit: 10 });
    expect(texts(oldest.messages)).toEqual(written.slice(0, 5).map((m) => m.text));
    expect(oldest.more).toBe(false);
  });

  it('resumes after an id without duplicates, up to an optional fence', async () => {
    const written = Array.from({ length: 12 }, (_, i) => say('resume', `r${i}`));
    for (const m of written) await history.append(m);
    const seen = written[3]?.id;
    const first = await history.room('resume', { after: seen, limit: 5 });
    expect(texts(first.messages)).toEqual(['r4', 'r5', 'r6', 'r7', 'r8']);
    expect(first.more).toBe(true);
    const rest = await history.room('resume', { after: first.messages.at(-1)?.id, limit: 5 });
    expect(texts(rest.messages)).toEqual(['r9', 'r10', 'r11']);
    expect(rest.more).toBe(false);
    const fenced = await history.room('resume', { after: seen, before: written[7]?.id, limit: 2 });
    expect(texts(fenced.messages)).toEqual(['r4', 'r5']);
    expect(fenced.more).toBe(true);
    const window = await history.room('resume', { after: seen, before: written[7]?.id, limit: 10 });
    expect(texts(window.messages)).toEqual(['r4', 'r5', 'r6']);
    expect(window.more).toBe(false);
  });

  it('orders ids byte for byte, digits before letters, on every engine', async () => {
    // Times whose last id characters are '09', '0A', '0Z', '10'; early times, so that these
    // sort before every other test's messages.
    const at = (t: number) => ({
      id: new MessageIds({ node: 1 }).next(t),
      at: t,
      from: 'ann',
      room: 'ordering',
      text: `t${t}`,
    });
    for (const t of [31, 10, 32, 9]) await history.append(at(t));
    const { messages } = await history.room('ordering');
    expect(texts(messages)).toEqual(['t9', 't10', 't31', 't32']);
    expect(messages.map((m) => m.id.slice(8, 10))).toEqual(['09', '0A', '0Z', '10']);
  });

  it('keeps a direct message for an offline account until it is marked delivered', async () => {
    const waiting = [
      dm('ann', 'zed', 'one', { account: 'ann', toAccount: 'zed' }),
      dm('bob', 'zed', 'two', { toAccount: 'zed' }),
    ];
    await history.append(waiting[0] as ChatMessage, { delivered: false });
    await history.append(waiting[1] as ChatMessage, { delivered: false });
    await history.append(dm('ann', 'zed', 'seen live', { account: 'ann', toAccount: 'zed' }));
    const pending = await history.undelivered('zed');
    expect(pending).toEqual(waiting);
    // An account is its name exactly (the user store refuses names differing only in case).
    expect(await history.undelivered('ZED')).toEqual([]);
    expect(await history.undelivered('zed', 1)).toEqual([waiting[0]]);
    await history.markDelivered(pending.map((m) => m.id));
    expect(await history.undelivered('zed')).toEqual([]);
    await history.markDelivered([]);
  });

  it("pages an account's direct messages, sent and received as that account, and no one else's", async () => {
    // A guest who had the nick kim before the account existed: not the account's history.
    await history.append(dm('kim', 'lou', 'from a guest called kim', { toAccount: 'lou' }));
    await history.append(dm('lou', 'kim', 'to a guest called kim', { account: 'lou' }));
    const mine = [
      dm('kim', 'lou', 'to lou', { account: 'kim', toAccount: 'lou' }),
      dm('lou', 'kim', 'from lou', { account: 'lou', toAccount: 'kim' }),
      dm('max', 'kim', 'from max', { toAccount: 'kim' }),
    ];
    for (const m of mine) await history.append(m);
    await history.append(dm('lou', 'max', 'not kim', { account: 'lou' }));
    await history.append(say('kim', 'a room named kim'));
    const page = await history.direct('kim');
    expect(page).toEqual({ messages: mine, more: false });
    const older = await history.direct('kim', { before: mine[2]?.id, limit: 1 });
    expect(older).toEqual({ messages: [mine[1]], more: true });
  });

  it('keeps when each account was last seen: the latest time, newest first, bounded', async () => {
    await history.recordSeen('Seen-A', T0 + 5);
    await history.recordSeen('seen-b', T0 + 7);
    await history.recordSeen('Seen-A', T0 + 9); // seen again later: the same row, updated
    await history.recordSeen('seen-b', T0 + 3); // out of order (another node): the later time stays
    const seen = (await history.lastSeen(500)).filter((s) => s.account.toLowerCase().startsWith('seen-'));
    expect(seen).toEqual([
      { account: 'Seen-A', at: T0 + 9 },
      { account: 'seen-b', at: T0 + 7 },
    ]);
    expect(await history.lastSeen(1)).toHaveLength(1);
    await expect(history.recordSeen('bad name', T0)).rejects.toMatchObject({ code: 'ERR_INVALID_ARGUMENT' });
    await expect(history.lastSeen(501)).rejects.toMatchObject({ code: 'ERR_INVALID_ARGUMENT' });
  });

  it('keeps the first of two writes of one id', async () => {
    const m = say('twice', 'first');
    await history.append(m);
    await history.append({ ...m, text: 'second' });
    await Promise.all([history.append({ ...m, text: 'third' }), history.append(say('twice', 'after'))]);
    expect(texts((await history.room('twice')).messages)).toEqual(['first', 'after']);
  });

  it('lets a read see every write made before it, without waiting on the writes', async () => {
    const written = Array.from({ length: 450 }, (_, i) => say('burst', `b${i}`));
    const writes = written.map((m) => history.append(m));
    const page = await history.room('burst', { limit: MAX_PAGE });
    expect(page.messages).toHaveLength(450);
    expect(page.messages.at(-1)).toEqual(written.at(-1));
    await Promise.all(writes);
    expect(await history.latestId()).toBe(written.at(-1)?.id);
  });

  it('refuses what it cannot keep before it reaches the database', async () => {
    const good = say('bad', 'x');
    const refusals = [
      { ...good, id: "1' OR '1'='1" },
      { ...good, room: 'not a room' },
      { ...good, to: 'both' },
      { id: good.id, at: good.at, from: 'ann', text: 'neither room nor nick' },
      { ...good, from: 'has space' },
      { ...good, at: -1 },
      { ...good, text: 'nul \u0000' },
      { ...good, text: 'x'.repeat(MAX_STORED_TEXT_BYTES + 1) },
      { ...good, mentions: Array.from({ length: 21 }, (_, i) => `n${i}`) },
    ];
    for (const bad of refusals) {
      expect(await codeOf(history.append(bad as ChatMessage)), JSON.stringify(bad).slice(0, 80)).toBe(
        ErrorCode.INVALID_ARGUMENT,
      );
    }
    expect(await codeOf(history.room('bad', { limit: MAX_PAGE + 1 }))).toBe(ErrorCode.INVALID_ARGUMENT);
    expect(await codeOf(history.room('bad', { limit: 0 }))).toBe(ErrorCode.INVALID_ARGUMENT);
    expect(await codeOf(history.room('bad', { before: "x' --" }))).toBe(ErrorCode.INVALID_ARGUMENT);
    expect(await codeOf(history.room('a room'))).toBe(ErrorCode.INVALID_ARGUMENT);
    expect(await codeOf(history.direct("x' OR 1=1 --"))).toBe(ErrorCode.INVALID_ARGUMENT);
    expect(await codeOf(history.markDelivered(['nope']))).toBe(ErrorCode.INVALID_ARGUMENT);
    expect((await history.room('bad')).messages).toEqual([]);
    // Names that are valid but hostile find nothing and break nothing.
    expect(await history.direct("x'--")).toEqual({ messages: [], more: false });
    expect(await history.undelivered('%')).toEqual([]);
  });

  it('survives a restart, and shares its database with the user store', async () => {
    const kept = say('restart', 'still here');
    await history.append(kept);
    const users = await openUserStore(database.url);
    const again = await openChatHistory(database.url);
    try {
      expect((await again.room('restart')).messages).toEqual([kept]);
      expect(await users.list()).toEqual([]);
      expect(await again.latestId()).toBe(await history.latestId());
      // A restarted hub's ids carry on after the newest stored.
      const next = new MessageIds({ after: (await again.latestId()) as string }).next(0);
      expect(next > ((await again.latestId()) as string)).toBe(true);
    } finally {
      await again.close();
      await users.close();
    }
  });
  it('prunes what is older than a time, a batch at a time, waiting direct messages too', async () => {
    const old = Array.from({ length: PRUNE_BATCH + 203 }, (_, i) => say('prune', `old${i}`));
    const waiting = dm('ann', 'zed', 'never read', { toAccount: 'zed' });
    clock += 86_400_000;
    const cutoff = clock;
    const kept = [
      say('prune', 'new1'),
      dm('ann', 'zed', 'new dm', { toAccount: 'zed' }),
      say('prune', 'new2'),
    ];
    const writes = [...old, waiting, ...kept].map((m) =>
      history.append(m, { delivered: m.to === undefined }),
    );
    // Made before the cut (every message of the tests before this one too): gone.
    expect(await history.prune(cutoff)).toBeGreaterThanOrEqual(old.length + 1);
    await Promise.all(writes);
    expect(texts((await history.room('prune')).messages)).toEqual(['new1', 'new2']);
    expect(texts(await history.undelivered('zed'))).toEqual(['new dm']);
    expect(await history.prune(cutoff)).toBe(0);
    await expect(history.prune(-1)).rejects.toMatchObject({ code: ErrorCode.INVALID_ARGUMENT });
  });
});

describe('openChatHistory', () => {
  it('reports an unreachable server as ERR_DATABASE without the password', async () => {
    const err = await openChatHistory('postgres://postgres:hunter2secret@127.0.0.1:1/test').then(
      () => undefined,
      (e: Error) => e,
    );
    expect(err?.message).not.toContain('hunter2secret');
    expect(await codeOf(openChatHistory('redis://127.0.0.1:6379'))).toBe(ErrorCode.DATABASE);
  });
});
