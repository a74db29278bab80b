/**
 * Between messages and rows of `chat_messages`: what may be stored (checked before it
 * reaches a statement), and the same `ChatMessage` back from every engine.
 */
import type { Insertable, Selectable } from 'kysely';
import { ErrorCode, SockitError } from '../errors.js';
import type { ChatMessagesTable } from './history-schema.js';
import { MAX_STORED_MENTIONS, MAX_STORED_TEXT_BYTES } from './history-schema.js';
import { isMessageId } from './ids.js';
import { foldNick, MAX_NICK_LENGTH, normalizeRoom } from './names.js';
import type { ChatMessage } from './protocol.js';
import { checkText, isRefusal } from './text.js';

/** A row as read: BIGINT may come back as a string (pg) or a bigint. */
export type Row = Selectable<ChatMessagesTable>;

/** A nick or account name as stored: printable ASCII without spaces, bounded. */
const NAME = new RegExp(`^[\\x21-\\x7e]{1,${MAX_NICK_LENGTH}}$`);

export function toRow(message: ChatMessage, delivered: boolean): Insertable<ChatMessagesTable> {
  const bad = (what: string): never => {
    throw new SockitError(ErrorCode.INVALID_ARGUMENT, `chat history: ${what}`);
  };
  if (!isMessageId(message.id)) bad('the id is not a message id');
  if (!Number.isSafeInteger(message.at) || message.at < 0) bad('the time must be ms since the epoch');
  if (!NAME.test(message.from)) bad('the sender is not a nick');
  if (message.account !== undefined && !NAME.test(message.account)) bad('the account is not an account name');
  const room = message.room === undefined ? null : (normalizeRoom(message.room) ?? bad('not a room name'));
  if ((room === null) === (message.to === undefined))
    bad('a message goes to a room or to a nick, one of them');
  if (message.to !== undefined && !NAME.test(message.to)) bad('the recipient is not a nick');
  if (message.toAccount !== undefined && (message.to === undefined || !NAME.test(message.toAccount)))
    bad("the recipient's account goes with a direct message, and is a name");
  const text = checkText(message.text, { what: 'message', maxBytes: MAX_STORED_TEXT_BYTES });
  if (isRefusal(text)) bad(text.message);
  const mentions = message.mentions ?? [];
  if (mentions.length > MAX_STORED_MENTIONS || !mentions.every((m) => NAME.test(m))) {
    bad(`mentions are at most ${MAX_STORED_MENTIONS} nicks`);
  }
  return {
    id: message.id,
    room,
    from_nick: message.from,
    from_key: foldNick(message.from),
    from_account: message.account ?? null,
    to_nick: message.to ?? null,
    to_key: message.to === undefined ? null : foldNick(message.to),
    to_account: message.toAccount ?? null,
    text: message.text,
    action: message.action ? 1 : 0,
    mentions: mentions.length > 0 ? mentions.join(' ') : null,
    at_ms: message.at,
    delivered: delivered ? 1 : 0,
  };
}

export function toMessage(row: Row): ChatMessage {
  const message: ChatMessage = { id: row.id, at: Number(row.at_ms), from: row.from_nick, text: row.text };
  if (row.from_account !== null) message.account = row.from_account;
  if (row.room !== null) message.room = row.room;
  if (row.to_nick !== null) message.to = row.to_nick;
  if (row.to_account !== null) message.toAccount = row.to_account;
  if (Number(row.action) === 1) message.action = true;
  if (row.mentions !== null && row.mentions !== '') message.mentions = row.mentions.split(' ');
  return message;
}

/** The page's bounds, checked: ids of the message form, a limit from 1 to `max` (default 50). */
export function checkPage(
  page: { before?: string | undefined; after?: string | undefined; limit?: number | undefined },
  max: number,
): { before?: string; after?: string; limit: number } {
  const limit = page.limit ?? 50;
  if (!Number.isSafeInteger(limit) || limit < 1 || limit > max) {
    throw new SockitError(ErrorCode.INVALID_ARGUMENT, `chat history: a page holds 1 to ${max} messages`);
  }
  for (const id of [page.before, page.after]) {
    if (id !== undefined && !isMessageId(id)) {
      throw new SockitError(ErrorCode.INVALID_ARGUMENT, 'chat history: before and after must be message ids');
    }
  }
  return {
    limit,
    ...(page.before === undefined ? {} : { before: page.before }),
    ...(page.after === undefined ? {} : { after: page.after }),
  };
}

export function checkIds(ids: readonly string[], max: number): void {
  if (!Array.isArray(ids) || ids.length > max || !ids.every((id) => isMessageId(id))) {
    throw new SockitError(ErrorCode.INVALID_ARGUMENT, `chat history: at most ${max} message ids at a time`);
  }
}
