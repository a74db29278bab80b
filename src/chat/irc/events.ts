/**
 * Hub events as IRC lines, for everything that happens in rooms and to users: messages
 * (CTCP ACTION for `/me`), joins, parts, kicks, bans and operators (as MODE), topics and
 * their lock (MODE +t), nick changes, away (numerics for oneself, away-notify for others),
 * quits and typing notices (IRCv3 `+typing` on TAGMSG). Listings and history are in
 * `listings.ts` and `history.ts`.
 */
import type { ChatEvent, ChatMessage } from '../protocol.js';
import type { IrcContext, RoomView } from './context.js';
import { banMask, channel, namesReplies, topicReplies } from './listings.js';
import { formatLine, MAX_BODY_BYTES, splitUtf8 } from './message.js';
import { RPL } from './numerics.js';

const ACTION_OVERHEAD = '\x01ACTION \x01'.length;

/**
 * A message as PRIVMSG lines: one, or several when the text is longer than an IRC line holds
 * (the hub takes up to 2048 bytes; a line holds about 400). The id goes on the first line.
 */
export function messageLines(ctx: IrcContext, message: ChatMessage, batch?: string): string[] {
  const target = message.room !== undefined ? channel(message.room) : (message.to ?? ctx.nick);
  const source = ctx.mask(message.from);
  const head = Buffer.byteLength(`:${source} PRIVMSG ${target} :`);
  const room = MAX_BODY_BYTES - head - (message.action ? ACTION_OVERHEAD : 0);
  return splitUtf8(message.text, room).map((piece, i) =>
    formatLine({
      tags: ctx.tags(message.at, i === 0 ? message.id : undefined, batch),
      source,
      command: 'PRIVMSG',
      params: [target, message.action ? `\x01ACTION ${piece}\x01` : piece],
      trailing: true,
    }),
  );
}

/** The lines for a room or user event; listings, history and welcome are shown elsewhere. */
export function eventLines(ctx: IrcContext, event: ChatEvent): string[] {
  switch (event.type) {
    case 'message':
      return messageLines(ctx, event.message);
    case 'joined': {
      const { room, members } = event;
      const chan = channel(room.name);
      const view: RoomView = { topic: room.topic, locked: room.locked, op: event.op };
      if (room.topicBy !== undefined) view.topicBy = room.topicBy;
      if (room.topicAt !== undefined) view.topicAt = room.topicAt;
      const again = ctx.rooms.has(room.name);
      ctx.rooms.set(room.name, view);
      // A second JOIN of a room already joined gets its listing again, not a second JOIN line.
      const lines = again ? [] : [ctx.fromUser(ctx.nick, 'JOIN', [chan])];
      return [...lines, ...topicReplies(ctx, chan, view), ...namesReplies(ctx, chan, members)];
    }
    case 'join': {
      const chan = channel(event.room);
      const lines = [ctx.fromUser(event.member.nick, 'JOIN', [chan])];
      if (event.member.op)
        lines.push(
          formatLine({
            tags: ctx.tags(),
            source: ctx.serverName,
            command: 'MODE',
            params: [chan, '+o', event.member.nick],
          }),
        );
      if (event.member.away && ctx.caps.has('away-notify'))
        lines.push(ctx.fromUser(event.member.nick, 'AWAY', ['away']));
      return lines;
    }
    case 'part':
      if (ctx.isMe(event.nick)) ctx.rooms.delete(event.room);
      return [
        ctx.fromUser(event.nick, 'PART', [channel(event.room), ...(event.reason ? [event.reason] : [])]),
      ];
    case 'kick':
      if (ctx.isMe(event.nick)) ctx.rooms.delete(event.room);
      return [ctx.fromUser(event.by, 'KICK', [channel(event.room), event.nick, event.reason ?? event.by])];
    case 'ban':
      return [
        ctx.fromUser(event.by, 'MODE', [
          channel(event.room),
          event.active ? '+b' : '-b',
          banMask(event.target),
        ]),
      ];
    case 'op': {
      const view = ctx.rooms.get(event.room);
      if (view && ctx.isMe(event.nick)) view.op = event.op;
      return [ctx.fromUser(event.by, 'MODE', [channel(event.room), event.op ? '+o' : '-o', event.nick])];
    }
    case 'topic': {
      const view = ctx.rooms.get(event.room);
      const lockChanged = view !== undefined && view.locked !== event.locked;
      if (view)
        Object.assign(view, {
          topic: event.topic,
          topicBy: event.by,
          topicAt: event.at,
          locked: event.locked,
        });
      // The hub sends one event for both; a change of lock is IRC's channel mode t.
      if (lockChanged)
        return [ctx.fromUser(event.by, 'MODE', [channel(event.room), event.locked ? '+t' : '-t'], event.at)];
      return [ctx.fromUser(event.by, 'TOPIC', [channel(event.room), event.topic], event.at)];
    }
    case 'nick': {
      const line = ctx.fromUser(event.old, 'NICK', [event.nick]);
      if (ctx.isMe(event.old)) ctx.nick = event.nick;
      return [line];
    }
    case 'presence':
      if (ctx.isMe(event.nick)) {
        return event.away === undefined
          ? [ctx.numeric(RPL.UNAWAY, 'You are no longer marked as being away')]
          : [ctx.numeric(RPL.NOWAWAY, 'You have been marked as being away')];
      }
      if (!ctx.caps.has('away-notify')) return [];
      return [ctx.fromUser(event.nick, 'AWAY', event.away === undefined ? [] : [event.away])];
    case 'quit':
      return [ctx.fromUser(event.nick, 'QUIT', [event.reason ?? 'Quit'])];
    case 'typing': {
      if (!ctx.caps.has('message-tags')) return [];
      const target = event.room !== undefined ? channel(event.room) : ctx.nick;
      const tags = { ...ctx.tags(), '+typing': event.active ? 'active' : 'done' };
      return [formatLine({ tags, source: ctx.mask(event.nick), command: 'TAGMSG', params: [target] })];
    }
    default:
      return [];
  }
}
