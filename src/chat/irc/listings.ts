/**
 * The hub's listings as IRC replies: a `members` event is NAMES (353/366) or WHO (352/315),
 * a `whois` event is WHOIS (311, 319, 312, 301, 330, 313, 318) or WHO of one nick, `rooms` is
 * LIST (321/322/323), `bans` is the ban list (367/368). Which of them an event answers is
 * what the connection asked in that order (see `IrcContext`).
 */
import type { BanTarget, Member, RoomInfo, UserInfo } from '../protocol.js';
import type { IrcContext, RoomView } from './context.js';
import { MAX_BODY_BYTES, serverTime } from './message.js';
import { ERR, RPL } from './numerics.js';

/** `#room` on IRC for the hub's `room`. */
export const channel = (room: string): string => `#${room}`;

/** `nick!*@*` for a nick, `$a:name` for an account (ISUPPORT `EXTBAN=$,a`). */
export function banMask(target: BanTarget): string {
  return 'nick' in target ? `${target.nick}!*@*` : `$a:${target.account}`;
}

/** Lines for a `members` event: as NAMES or as WHO. */
export function membersReplies(
  ctx: IrcContext,
  as: 'names' | 'who',
  room: RoomInfo,
  members: Member[],
): string[] {
  const chan = channel(room.name);
  if (as === 'names') return namesReplies(ctx, chan, members);
  const lines = members.map((m) => whoReply(ctx, chan, m.nick, m.away, m.op));
  lines.push(ctx.numeric(RPL.ENDOFWHO, chan, 'End of WHO list'));
  return lines;
}

/** RPL_WHOREPLY: `<channel> <user> <host> <server> <nick> <H|G>[@] :<hopcount> <realname>`. */
function whoReply(ctx: IrcContext, chan: string, nick: string, away: boolean, op: boolean): string {
  const flags = (away ? 'G' : 'H') + (op ? '@' : '');
  return ctx.numeric(RPL.WHOREPLY, chan, nick, ctx.serverName, ctx.serverName, nick, flags, `0 ${nick}`);
}

/** Lines for a `whois` event: as WHOIS, or as WHO of one nick. */
export function whoisReplies(ctx: IrcContext, as: 'whois' | 'who', user: UserInfo): string[] {
  const { nick } = user;
  if (as === 'who') {
    const lines = user.online ? [whoReply(ctx, '*', nick, user.away !== undefined, false)] : [];
    lines.push(ctx.numeric(RPL.ENDOFWHO, nick, 'End of WHO list'));
    return lines;
  }
  if (!user.online) {
    const seen = user.lastSeen === undefined ? 'is offline' : `was last seen ${serverTime(user.lastSeen)}`;
    return [
      ctx.numeric(ERR.NOSUCHNICK, nick, `${nick} ${seen}`),
      ctx.numeric(RPL.ENDOFWHOIS, nick, 'End of /WHOIS list'),
    ];
  }
  const lines = [ctx.numeric(RPL.WHOISUSER, nick, nick, ctx.serverName, '*', user.account ?? nick)];
  lines.push(...wrapped(ctx, RPL.WHOISCHANNELS, [nick], (user.rooms ?? []).map(channel)));
  lines.push(ctx.numeric(RPL.WHOISSERVER, nick, ctx.serverName, 'sockit chat'));
  if (user.away !== undefined) lines.push(ctx.numeric(RPL.AWAY, nick, user.away));
  if (user.account !== undefined)
    lines.push(ctx.numeric(RPL.WHOISACCOUNT, nick, user.account, 'is logged in as'));
  if (user.admin) lines.push(ctx.numeric(RPL.WHOISOPERATOR, nick, 'is a chat admin'));
  lines.push(ctx.numeric(RPL.ENDOFWHOIS, nick, 'End of /WHOIS list'));
  return lines;
}

/** Lines for a `rooms` event (LIST), only the rooms in `only` when given. */
export function listReplies(ctx: IrcContext, rooms: RoomInfo[], only: Set<string> | undefined): string[] {
  const lines = [ctx.numeric(RPL.LISTSTART, 'Channel', 'Users  Name')];
  for (const room of rooms) {
    if (only !== undefined && !only.has(room.name)) continue;
    lines.push(ctx.numeric(RPL.LIST, channel(room.name), String(room.members), room.topic));
  }
  lines.push(ctx.numeric(RPL.LISTEND, 'End of /LIST'));
  return lines;
}

/** Lines for a `bans` event (MODE #room +b). */
export function banReplies(ctx: IrcContext, room: string, bans: BanTarget[]): string[] {
  const chan = channel(room);
  const lines = bans.map((ban) => ctx.numericValues(RPL.BANLIST, chan, banMask(ban)));
  lines.push(ctx.numeric(RPL.ENDOFBANLIST, chan, 'End of channel ban list'));
  return lines;
}

/** `head` params then as many `words` per line as fit, in as many numerics as they need. */
function wrapped(ctx: IrcContext, code: string, head: string[], words: string[]): string[] {
  const lines: string[] = [];
  const base = Buffer.byteLength(ctx.numeric(code, ...head, 'x y')) - 3;
  let line: string[] = [];
  let bytes = base;
  for (const word of words) {
    if (line.length > 0 && bytes + word.length + 1 > MAX_BODY_BYTES) {
      lines.push(ctx.numeric(code, ...head, line.join(' ')));
      line = [];
      bytes = base;
    }
    line.push(word);
    bytes += word.length + 1;
  }
  if (line.length > 0) lines.push(ctx.numeric(code, ...head, line.join(' ')));
  return lines;
}

/** A ban from a MODE +b mask: `nick`, `nick!*@*`, or `$a:account`; undefined for any other mask. */
export function banTarget(mask: string): BanTarget | undefined {
  if (mask.startsWith('$a:') && mask.length > 3) return { account: mask.slice(3) };
  const nick = mask.endsWith('!*@*') ? mask.slice(0, -4) : mask;
  return /^[^!@*?$#,]+$/.test(nick) ? { nick } : undefined;
}

/** RPL_TOPIC and RPL_TOPICWHOTIME, or RPL_NOTOPIC. */
export function topicReplies(ctx: IrcContext, chan: string, view: RoomView, always = false): string[] {
  if (view.topic === '') return always ? [ctx.numeric(RPL.NOTOPIC, chan, 'No topic is set')] : [];
  const lines = [ctx.numeric(RPL.TOPIC, chan, view.topic)];
  if (view.topicBy !== undefined && view.topicAt !== undefined)
    lines.push(
      ctx.numericValues(RPL.TOPICWHOTIME, chan, view.topicBy, String(Math.floor(view.topicAt / 1000))),
    );
  return lines;
}

/** RPL_NAMREPLY lines (as many as the names need) and RPL_ENDOFNAMES. */
export function namesReplies(
  ctx: IrcContext,
  chan: string,
  members: { nick: string; op: boolean }[],
): string[] {
  const names = members.map((m) => (m.op ? '@' : '') + m.nick);
  return [
    ...wrapped(ctx, RPL.NAMREPLY, ['=', chan], names),
    ctx.numeric(RPL.ENDOFNAMES, chan, 'End of /NAMES list'),
  ];
}

/** ERR_NOTONCHANNEL for a room this connection is not in. */
export function notOnChannel(ctx: IrcContext, chan: string): string {
  return ctx.numeric(ERR.NOTONCHANNEL, chan, "You're not on that channel");
}
