/**
 * Rooms: join, part, topic, listings (what operators may do is in `operators.ts`).
 * A room is made by its first joiner, who becomes its operator, and goes when its last
 * member leaves (its topic, operators and bans with it), except the default room, which
 * always exists and has no operator but the admins. A guest's operator status ends when the
 * guest leaves the room: the nick may be someone else's next time; an account's lasts as
 * long as the room.
 */
import { ErrorCode } from '../errors.js';
import { isMessageId } from './ids.js';
import { DEFAULT_ROOM, normalizeRoom, quote, roomProblem } from './names.js';
import type { SessionId } from './protocol.js';
import { type HubState, newRoom, type Out, type Room, refusal, type Session, type User } from './state.js';
import { checkText, isRefusal } from './text.js';

/** The room named, or a refusal on `out` (bad name, no such room). */
export function findRoom(st: HubState, name: unknown, out: Out): Room | undefined {
  const normal = normalizeRoom(name);
  if (normal === undefined) return void out.refuse(roomProblem(name));
  const room = st.rooms.get(normal);
  if (room === undefined) out.refuse(refusal(ErrorCode.NO_SUCH_ROOM, `no room named ${normal}`));
  return room;
}

/** The room named, when `session` is in it; else a refusal on `out`. */
export function roomOf(st: HubState, session: Session, name: unknown, out: Out): Room | undefined {
  const normal = normalizeRoom(name);
  if (normal === undefined) return void out.refuse(roomProblem(name));
  const room = st.rooms.get(normal);
  if (room !== undefined && session.rooms.has(normal)) return room;
  return void out.refuse(refusal(ErrorCode.NOT_IN_ROOM, `you are not in ${normal}; join it first`));
}

export function join(st: HubState, session: Session, user: User, name: unknown, after: unknown, out: Out) {
  const normal = normalizeRoom(name);
  if (normal === undefined) return out.refuse(roomProblem(name));
  if (after !== undefined && !isMessageId(after)) {
    return out.refuse(refusal(ErrorCode.BAD_REQUEST, `${quote(after)} is not a message id`));
  }
  let room = st.rooms.get(normal);
  const again = session.rooms.has(normal);
  if (!again) {
    if (session.rooms.size >= st.limits.maxRoomsPerSession) {
      return out.refuse(
        refusal(
          ErrorCode.TOO_MANY_ROOMS,
          `you are in ${session.rooms.size} rooms, the most allowed; part one first`,
        ),
      );
    }
    if (room === undefined && st.rooms.size >= st.limits.maxRooms) {
      return out.refuse(
        refusal(ErrorCode.TOO_MANY_ROOMS, 'the server holds as many rooms as it may; join an existing one'),
      );
    }
    if (room !== undefined && st.isBanned(user, room)) {
      return out.refuse(refusal(ErrorCode.BANNED, `you are banned from ${normal}`));
    }
    if (room === undefined) {
      room = newRoom(normal);
      room.ops.add(user.key);
      st.rooms.set(normal, room);
    }
    let mine = room.members.get(user.key);
    if (mine === undefined) {
      out.send(st.roomSessions(room), { type: 'join', room: normal, member: st.member(user, room) });
      mine = new Set();
      room.members.set(user.key, mine);
    }
    mine.add(session);
    session.rooms.add(normal);
  }
  const target = room as Room;
  out.send([session.id], {
    type: 'joined',
    room: st.roomInfo(target),
    ...st.members(target),
    op: st.isOp(user, target),
  });
  const limit = after === undefined ? st.limits.scrollback : st.limits.maxHistoryPage;
  // A second join of the same room gets no second scrollback, unless it asks to resume.
  if (limit > 0 && !(again && after === undefined)) {
    out.effects.push({
      type: 'history',
      session: session.id,
      room: normal,
      // Drawn after the join: every message from here on reaches the session live.
      before: st.ids.next(st.now()),
      limit,
      ...(after === undefined ? {} : { after: after as string }),
    });
  }
  return out;
}

export function part(st: HubState, session: Session, user: User, name: unknown, reason: unknown, out: Out) {
  const room = roomOf(st, session, name, out);
  if (room === undefined) return out;
  const why = optionalReason(st, reason, out);
  if (why === null) return out;
  const event = { type: 'part' as const, room: room.name, nick: user.nick, ...(why ? { reason: why } : {}) };
  const everyone = st.roomSessions(room);
  if (leave(st, session, user, room)) out.send(everyone, event);
  else out.send([session.id], event);
  return out;
}

/**
 * Takes `session` out of `room`; true when that took its user out (no other session of the
 * user is left in it). The room goes when nobody is left, the default room excepted.
 */
export function leave(st: HubState, session: Session, user: User, room: Room): boolean {
  session.rooms.delete(room.name);
  const mine = room.members.get(user.key);
  mine?.delete(session);
  if (mine !== undefined && mine.size > 0) return false;
  room.members.delete(user.key);
  if (user.account === undefined) room.ops.delete(user.key);
  user.typing.delete(`#${room.name}`);
  if (room.members.size === 0 && room.name !== DEFAULT_ROOM) st.rooms.delete(room.name);
  return true;
}

export function setTopic(
  st: HubState,
  session: Session,
  user: User,
  name: unknown,
  topic: unknown,
  out: Out,
) {
  const room = roomOf(st, session, name, out);
  if (room === undefined) return out;
  if (room.locked && !st.isOp(user, room)) {
    return out.refuse(
      refusal(
        ErrorCode.NOT_OPERATOR,
        `the topic of ${room.name} is locked; only its operators may change it`,
      ),
    );
  }
  const text = checkText(topic, { what: 'topic', maxBytes: st.limits.maxTopicBytes, allowEmpty: true });
  if (isRefusal(text)) return out.refuse(text);
  room.topic = text;
  room.topicBy = user.nick;
  room.topicAt = st.now();
  return announceTopic(st, room, user, out);
}

export function announceTopic(st: HubState, room: Room, user: User, out: Out) {
  out.send(st.roomSessions(room), {
    type: 'topic',
    room: room.name,
    topic: room.topic,
    by: user.nick,
    at: room.topicAt ?? st.now(),
    locked: room.locked,
  });
  return out;
}

export function listBans(st: HubState, session: Session, name: unknown, out: Out) {
  const room = roomOf(st, session, name, out);
  if (room !== undefined)
    out.send([session.id], { type: 'bans', room: room.name, bans: [...room.bans.values()] });
  return out;
}

export function listRooms(st: HubState, session: SessionId, out: Out) {
  const names = [...st.rooms.keys()].sort();
  const shown = names.slice(0, st.limits.maxListed);
  const rooms = shown.map((n) => st.roomInfo(st.rooms.get(n) as Room));
  out.send([session], { type: 'rooms', rooms, truncated: names.length > shown.length });
  return out;
}

export function listMembers(st: HubState, session: SessionId, name: unknown, out: Out) {
  const room = findRoom(st, name, out);
  if (room !== undefined)
    out.send([session], { type: 'members', room: st.roomInfo(room), ...st.members(room) });
  return out;
}

/** The reason, '' or undefined when none; null when refused (on `out`). */
export function optionalReason(st: HubState, reason: unknown, out: Out): string | undefined | null {
  if (reason === undefined || reason === '') return undefined;
  const text = checkText(reason, { what: 'reason', maxBytes: st.limits.maxReasonBytes });
  if (!isRefusal(text)) return text;
  out.refuse(text);
  return null;
}
