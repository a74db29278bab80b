/**
 * What room operators may do: lock the topic, kick, ban and unban (by nick or by account),
 * and make or unmake other operators. Admins are operators of every room, and nobody but an
 * admin may kick one; bans do not hold them.
 */
import { ErrorCode } from '../errors.js';
import { foldNick, quote } from './names.js';
import type { BanTarget } from './protocol.js';
import { announceTopic, findRoom, leave, optionalReason } from './rooms.js';
import { banKey, type HubState, type Out, type Room, refusal, type User } from './state.js';

export function lockTopic(st: HubState, user: User, name: unknown, locked: boolean, out: Out) {
  const room = opRoom(st, user, name, out);
  if (room === undefined) return out;
  room.locked = locked === true;
  return announceTopic(st, room, user, out);
}

export function kick(st: HubState, user: User, name: unknown, nick: unknown, reason: unknown, out: Out) {
  const room = opRoom(st, user, name, out);
  if (room === undefined) return out;
  const target = st.users.get(foldNick(String(nick)));
  if (target === undefined || !room.members.has(target.key)) {
    return out.refuse(refusal(ErrorCode.NOT_IN_ROOM, `${quote(nick)} is not in ${room.name}`));
  }
  if (target.admin && !user.admin)
    return out.refuse(refusal(ErrorCode.NOT_OPERATOR, 'an admin cannot be kicked'));
  const why = optionalReason(st, reason, out);
  if (why === null) return out;
  removeUser(st, room, target, user, why, out);
  return out;
}

/** Everyone in the room sees the kick, the kicked user's sessions included; then they are out. */
function removeUser(st: HubState, room: Room, target: User, by: User, reason: string | undefined, out: Out) {
  const event = { type: 'kick' as const, room: room.name, nick: target.nick, by: by.nick };
  out.send(st.roomSessions(room), reason ? { ...event, reason } : event);
  for (const session of [...(room.members.get(target.key) ?? [])]) leave(st, session, target, room);
}

export function ban(st: HubState, user: User, name: unknown, target: unknown, reason: unknown, out: Out) {
  const room = opRoom(st, user, name, out);
  if (room === undefined) return out;
  const banned = checkBanTarget(target, out);
  if (banned === undefined) return out;
  const why = optionalReason(st, reason, out);
  if (why === null) return out;
  const key = banKey(banned);
  if (room.bans.has(key)) return out;
  if (room.bans.size >= st.limits.maxBansPerRoom) {
    return out.refuse(
      refusal(
        ErrorCode.BAD_REQUEST,
        `${room.name} has ${room.bans.size} bans, the most it may; unban one first`,
      ),
    );
  }
  room.bans.set(key, banned);
  out.send(st.roomSessions(room), {
    type: 'ban',
    room: room.name,
    target: banned,
    by: user.nick,
    active: true,
  });
  for (const member of room.members.keys()) {
    const other = st.users.get(member);
    if (other !== undefined && st.isBanned(other, room))
      removeUser(st, room, other, user, why ?? 'banned', out);
  }
  return out;
}

export function unban(st: HubState, user: User, name: unknown, target: unknown, out: Out) {
  const room = opRoom(st, user, name, out);
  if (room === undefined) return out;
  const banned = checkBanTarget(target, out);
  if (banned === undefined) return out;
  if (room.bans.delete(banKey(banned))) {
    out.send(st.roomSessions(room), {
      type: 'ban',
      room: room.name,
      target: banned,
      by: user.nick,
      active: false,
    });
  }
  return out;
}

export function setOp(st: HubState, user: User, name: unknown, nick: unknown, op: boolean, out: Out) {
  const room = opRoom(st, user, name, out);
  if (room === undefined) return out;
  const target = st.users.get(foldNick(String(nick)));
  if (target === undefined || !room.members.has(target.key)) {
    return out.refuse(refusal(ErrorCode.NOT_IN_ROOM, `${quote(nick)} is not in ${room.name}`));
  }
  if (op === true) room.ops.add(target.key);
  else room.ops.delete(target.key);
  out.send(st.roomSessions(room), {
    type: 'op',
    room: room.name,
    nick: target.nick,
    by: user.nick,
    op: op === true,
  });
  return out;
}

/** The room named, when `user` is one of its operators (or an admin); else a refusal. */
function opRoom(st: HubState, user: User, name: unknown, out: Out): Room | undefined {
  const room = findRoom(st, name, out);
  if (room === undefined || st.isOp(user, room)) return room;
  return void out.refuse(refusal(ErrorCode.NOT_OPERATOR, `you are not an operator of ${room.name}`));
}

function checkBanTarget(target: unknown, out: Out): BanTarget | undefined {
  const t = target as { nick?: unknown; account?: unknown } | null;
  const value = typeof t?.nick === 'string' ? t.nick : typeof t?.account === 'string' ? t.account : undefined;
  if (value !== undefined && value.length > 0 && value.length <= 64 && /^[\x21-\x7e]+$/.test(value)) {
    return typeof t?.nick === 'string' ? { nick: value } : { account: value };
  }
  return void out.refuse(
    refusal(ErrorCode.BAD_REQUEST, 'a ban names a nick or an account: {nick} or {account}'),
  );
}
