/**
 * Any hub event as the lines this connection writes: listings and history pages as the
 * answers they were asked as (see `IrcContext`), everything else as `eventLines` shows it.
 */
import type { ChatEvent } from '../protocol.js';
import type { IrcContext } from './context.js';
import { eventLines } from './events.js';
import { historyLines } from './history.js';
import { banReplies, listReplies, membersReplies, whoisReplies } from './listings.js';

/** The lines for `event` (the welcome is the registration's). */
export function renderEvent(ctx: IrcContext, event: ChatEvent): string[] {
  switch (event.type) {
    case 'members':
      return membersReplies(ctx, ctx.awaitMembers.shift() ?? 'names', event.room, event.members);
    case 'whois':
      return whoisReplies(ctx, ctx.awaitWhois.shift() ?? 'whois', event.user);
    case 'rooms':
      return listReplies(ctx, event.rooms, ctx.awaitRooms.shift());
    case 'bans':
      return banReplies(ctx, event.room, event.bans);
    case 'history': {
      const asks = event.room === undefined ? undefined : ctx.awaitHistory.get(event.room);
      const ask = asks?.shift();
      if (asks?.length === 0) ctx.awaitHistory.delete(event.room as string);
      return historyLines(ctx, event, ask);
    }
    default:
      return eventLines(ctx, event);
  }
}
