/**
 * History as IRC lines, and the CHATHISTORY command (IRCv3 draft/chathistory) as hub history
 * requests. A page of a room's history (a join's scrollback, or a CHATHISTORY answer) goes
 * out as a `chathistory` batch to a client that negotiated `batch`, each message with its
 * `time` and `msgid` tags; to any other client as plain PRIVMSGs. Direct messages that waited
 * for an account's log-in go out as PRIVMSGs, stamped with their time for server-time clients.
 */
import { isMessageId, MessageIds } from '../ids.js';
import type { ChatCommand, ChatEvent } from '../protocol.js';
import type { HistoryAsk, IrcContext } from './context.js';
import { messageLines } from './events.js';
import { channel } from './listings.js';

type HistoryEvent = Extract<ChatEvent, { type: 'history' }>;

/** The lines for a `history` event, which answers `ask` (or is a scrollback nobody asked for). */
export function historyLines(ctx: IrcContext, event: HistoryEvent, ask: HistoryAsk | undefined): string[] {
  const after = ask?.after;
  const messages = after === undefined ? event.messages : event.messages.filter((m) => m.id > after);
  if (event.room === undefined) return messages.flatMap((m) => messageLines(ctx, m));
  if (!ctx.rooms.has(event.room) && ask?.kind !== 'chathistory') return [];
  // A CHATHISTORY request is always answered with a batch, empty or not.
  if (!ctx.caps.has('batch') || (messages.length === 0 && ask?.kind !== 'chathistory'))
    return messages.flatMap((m) => messageLines(ctx, m));
  const id = ctx.nextBatch();
  return [
    ctx.fromServer('BATCH', `+${id}`, 'chathistory', channel(event.room)),
    ...messages.flatMap((m) => messageLines(ctx, m, id)),
    ctx.fromServer('BATCH', `-${id}`),
  ];
}

/** A CHATHISTORY request as a hub command, or the FAIL reply's code and text. */
export type ChatHistoryRequest =
  | { command: Extract<ChatCommand, { type: 'history' }>; ask: HistoryAsk; room: string }
  | { fail: 'INVALID_PARAMS' | 'INVALID_TARGET' | 'NEED_MORE_PARAMS'; text: string; targets?: boolean };

/**
 * Parses `CHATHISTORY <LATEST|BEFORE|AFTER> <#channel> <*|msgid=ID|timestamp=T> <limit>`.
 * `TARGETS` asks which conversations have history; this server keeps room history only and
 * answers it with an empty list (`targets`).
 */
export function parseChatHistory(params: string[], maxPage: number): ChatHistoryRequest {
  const sub = (params[0] ?? '').toUpperCase();
  if (sub === 'TARGETS') return { fail: 'INVALID_PARAMS', text: 'no direct history', targets: true };
  if (params.length < 4) return { fail: 'NEED_MORE_PARAMS', text: 'Insufficient parameters' };
  if (sub !== 'LATEST' && sub !== 'BEFORE' && sub !== 'AFTER')
    return {
      fail: 'INVALID_PARAMS',
      text: `${sub.slice(0, 20)} is not supported; use LATEST, BEFORE or AFTER`,
    };
  const target = params[1] as string;
  if (!target.startsWith('#')) return { fail: 'INVALID_TARGET', text: 'history is kept for channels only' };
  const room = target.slice(1).toLowerCase();
  const limit = Number(params[3]);
  if (!Number.isInteger(limit) || limit < 1)
    return { fail: 'INVALID_PARAMS', text: 'the limit must be a number, 1 or more' };
  const ref = params[2] as string;
  const bound = ref === '*' ? undefined : reference(ref, sub === 'BEFORE' ? 'low' : 'high');
  if (bound === null || (ref === '*' && sub !== 'LATEST'))
    return { fail: 'INVALID_PARAMS', text: `${ref.slice(0, 40)} is not a msgid= or timestamp= reference` };
  const command: Extract<ChatCommand, { type: 'history' }> = {
    type: 'history',
    room,
    limit: Math.min(limit, maxPage),
  };
  const ask: HistoryAsk = { kind: 'chathistory' };
  if (sub === 'BEFORE' && bound !== undefined) command.before = bound;
  if (sub === 'AFTER' && bound !== undefined) command.after = bound;
  // LATEST with a reference: the newest messages, shown only when newer than it.
  if (sub === 'LATEST' && bound !== undefined) ask.after = bound;
  return { command, ask, room };
}

/**
 * The message id a reference stands for, as an exclusive bound: a msgid as it is; a
 * timestamp as the lowest id of its millisecond (`low`: before it) or the highest (`high`:
 * after it). Null when malformed.
 */
function reference(ref: string, side: 'low' | 'high'): string | null {
  if (ref.startsWith('msgid=')) {
    const id = ref.slice(6);
    return isMessageId(id) ? id : null;
  }
  if (ref.startsWith('timestamp=')) {
    const ms = Date.parse(ref.slice(10));
    if (!Number.isFinite(ms) || ms < 0 || ms > 2 ** 50) return null;
    // The first 10 characters of an id are its millisecond; the lowest id of one is made first.
    const time = new MessageIds().next(ms).slice(0, 10);
    return side === 'low' ? `${time}000000` : `${time}ZZZZZZ`;
  }
  return null;
}
