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
import {
  DEFAULT_ROOM,
  foldNick,
  MAX_NICK_LENGTH,
  nickProblem,
  normalizeRoom,
  quote,
  roomProblem,
} from './names.js';
import type { BanTarget, SessionId } from './protocol.js';
import {
  banKey,
  type HubState,
  newRoom,
  type Out,
  type Room,
  refusal,
  type Session,
  type User,
} from './state.js';
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

/** What a room is beyond its members: what a node that starts late is told by the others. */
export interface RoomState {
  name: string;
  topic: string;
  topicBy?: string;
  topicAt?: number;
  locked: boolean;
  /** User keys of its operators. */
  ops: string[];
  bans: BanTarget[];
}

/** The room's state, for `applyRoomState` on another node. */
export function roomState(room: Room): RoomState {
  const state: RoomState = {
    name: room.name,
    topic: room.topic,
    locked: room.locked,
    ops: [...room.ops],
    bans: [...room.bans.values()],
  };
  if (room.topicBy !== undefined) state.topicBy = room.topicBy;
  if (room.topicAt !== undefined) state.topicAt = room.topicAt;
  return state;
}

/** A user key (a folded nick or account name) as another node may send one. */
function isKey(key: unknown): key is string {
  return typeof key === 'string' && key.length <= MAX_NICK_LENGTH && KEY.test(key) && foldNick(key) === key;
}
const KEY = /^[\x21-\x7e]+$/;

function banTarget(raw: unknown): BanTarget | undefined {
  const t = raw as Partial<Record<string, unknown>> | null;
  if (t === null || typeof t !== 'object') return undefined;
  if (typeof t.nick === 'string' && isKey(foldNick(t.nick))) return { nick: t.nick };
  if (typeof t.account === 'string' && isKey(foldNick(t.account))) return { account: t.account };
  return undefined;
}

/**
 * Another node's state of a room this node has members of (mirrors, after their joins were
 * replayed): its topic when newer than the one here, its operators, bans and topic lock.
 * A room whose members here are all mirrors takes the other node's operators and bans as
 * they are (the replayed joins made the first of them operator here); one where this node's
 * own clients are takes the union. Checked as a client's input is: names, lengths, counts.
 * This node's members see a topic that changed.
 */
export function applyRoomState(st: HubState, raw: unknown, out: Out): Out {
  const state = raw as Partial<Record<string, unknown>> | null;
  if (state === null || typeof state !== 'object') return out;
  const name = normalizeRoom(state.name);
  const room = name === undefined ? undefined : st.rooms.get(name);
  if (room === undefined) return out;
  const own = [...room.members.values()].some((sessions) => [...sessions].some((s) => s.mirror !== true));
  const ops = Array.isArray(state.ops) ? state.ops.slice(0, st.limits.maxListed).filter(isKey) : [];
  const bans = Array.isArray(state.bans)
    ? state.bans
        .slice(0, st.limits.maxBansPerRoom)
        .map(banTarget)
        .filter((t) => t !== undefined)
    : [];
  if (!own) {
    room.ops.clear();
    room.bans.clear();
  }
  for (const key of ops) room.ops.add(key);
  for (const target of bans) {
    if (room.bans.size < st.limits.maxBansPerRoom) room.bans.set(banKey(target), target);
  }
  room.locked = own ? room.locked || state.locked === true : state.locked === true;
  const at = state.topicAt;
  const topic = checkText(state.topic, {
    what: 'topic',
    maxBytes: st.limits.maxTopicBytes,
    allowEmpty: true,
  });
  if (!Number.isSafeInteger(at) || (at as number) <= (room.topicAt ?? -1) || isRefusal(topic)) return out;
  room.topic = topic;
  room.topicAt = at as number;
  const by =
    typeof state.topicBy === 'string' && nickProblem(state.topicBy) === undefined ? state.topicBy : undefined;
  if (by === undefined) delete room.topicBy;
  else room.topicBy = by;
  if (own && by !== undefined) {
    const event = {
      type: 'topic',
      room: room.name,
      topic,
      by,
      at: room.topicAt,
      locked: room.locked,
    } as const;
    out.send(st.roomSessions(room), event);
  }
  return out;
}
