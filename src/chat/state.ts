/**
 * The hub's memory: sessions, users and rooms, and the outcome a call is building. A user is
 * a nick that is online: a guest (one session) or an account (one or more sessions). Rooms
 * hold sessions, grouped by user: a user is in a room while one of its sessions is.
 */
import type { ErrorCode } from '../errors.js';
import type { AccountDirectory } from './accounts.js';
import type { MessageIds } from './ids.js';
import { DEFAULT_ROOM, foldNick } from './names.js';
import type {
  BanTarget,
  ChatEvent,
  ChatLimits,
  Delivery,
  Effect,
  Member,
  Outcome,
  Refusal,
  RoomInfo,
  SessionId,
} from './protocol.js';

export interface Session {
  readonly id: SessionId;
  user?: User;
  /** Rooms this session is in, by name. */
  readonly rooms: Set<string>;
  /** A UDP source's session (see `ChatHub.open`). */
  readonly datagram?: true;
  /** A session of another node, mirrored here (see `ChatHub.replay`): no transport of ours. */
  readonly mirror?: true;
}

/** A message's id and server time, as the node that took the message gave them. */
export interface Stamp {
  id: string;
  at: number;
}

export interface Typing {
  /** When the last notice went out. */
  sentAt: number;
  /** When it stops standing. */
  until: number;
  room?: string;
  /** A direct target: its user key. */
  to?: string;
}

export interface User {
  /** The folded nick: the key of `users`. */
  key: string;
  nick: string;
  account?: string;
  admin: boolean;
  readonly sessions: Set<Session>;
  away?: string;
  /** Typing notices standing, by target ('#room' or '@userkey'). */
  readonly typing: Map<string, Typing>;
}

export interface Room {
  readonly name: string;
  topic: string;
  topicBy?: string;
  topicAt?: number;
  locked: boolean;
  /** User keys of operators (admins are operators everywhere without being listed). */
  readonly ops: Set<string>;
  /** Ban keys: 'n:' + folded nick, 'a:' + folded account. */
  readonly bans: Map<string, BanTarget>;
  /** The sessions in the room, by user key. */
  readonly members: Map<string, Set<Session>>;
}

export function banKey(target: BanTarget): string {
  return 'nick' in target ? `n:${foldNick(target.nick)}` : `a:${foldNick(target.account)}`;
}

/** Builds one outcome: deliveries in the order they must be written, effects, a refusal. */
export class Out implements Outcome {
  readonly deliveries: Delivery[] = [];
  readonly effects: Effect[] = [];
  refusal?: Refusal;

  send(to: Iterable<SessionId>, event: ChatEvent, echo = false): void {
    const ids = [...to];
    if (ids.length === 0) return;
    this.deliveries.push(echo ? { to: ids, event, echo } : { to: ids, event });
  }

  refuse(refusal: Refusal): this {
    this.refusal = refusal;
    return this;
  }
}

/** A refusal with a code and a line. */
export function refusal(code: ErrorCode, message: string): Refusal {
  return { code, message };
}

export class HubState {
  readonly sessions = new Map<SessionId, Session>();
  readonly users = new Map<string, User>();
  readonly rooms = new Map<string, Room>();
  /** Users with typing notices standing, for `tick`. */
  readonly typists = new Set<User>();
  /** Offline users: key -> nick, account and when last seen; oldest first. */
  readonly seen = new Map<string, { nick: string; account?: string; at: number }>();
  /** Sessions of other nodes among `sessions`. */
  mirrors = 0;
  /** While another node's message is replayed: the stamp it was given there. */
  imposed: Stamp | undefined;
  /** The stamp of the last message taken (for the node to pass on with it). */
  lastStamp: Stamp | undefined;

  constructor(
    readonly limits: ChatLimits,
    readonly now: () => number,
    readonly ids: MessageIds,
    readonly accounts: AccountDirectory | undefined,
  ) {
    this.rooms.set(DEFAULT_ROOM, newRoom(DEFAULT_ROOM));
  }

  /** The account whose name `nick` is, as the account spells it, if any. */
  accountNamed(nick: string): string | undefined {
    const key = foldNick(nick);
    const known = this.accounts?.lookup(nick);
    if (known !== undefined) return known;
    const seen = this.seen.get(key)?.account;
    if (seen !== undefined) return seen;
    return this.users.get(key)?.account;
  }

  /** The id and time of a new message: its own, or the one imposed by a replay. */
  stamp(): Stamp {
    const at = this.imposed?.at ?? this.now();
    this.lastStamp = { id: this.imposed?.id ?? this.ids.next(at), at };
    return this.lastStamp;
  }

  isOp(user: User, room: Room): boolean {
    return user.admin || room.ops.has(user.key);
  }

  isBanned(user: User, room: Room): boolean {
    if (user.admin || room.bans.size === 0) return false;
    if (room.bans.has(`n:${user.key}`)) return true;
    return user.account !== undefined && room.bans.has(`a:${foldNick(user.account)}`);
  }

  /** Every session in the room. */
  roomSessions(room: Room): SessionId[] {
    const ids: SessionId[] = [];
    for (const sessions of room.members.values()) for (const s of sessions) ids.push(s.id);
    return ids;
  }

  /** Every session in the room but those of the user keyed `except`. */
  othersIn(room: Room, except: string): SessionId[] {
    const ids: SessionId[] = [];
    for (const [key, sessions] of room.members) {
      if (key !== except) for (const s of sessions) ids.push(s.id);
    }
    return ids;
  }

  /** The sessions of everyone who shares a room with `user`, not `user`'s own. */
  audience(user: User): Set<SessionId> {
    const ids = new Set<SessionId>();
    const rooms = new Set<string>();
    for (const session of user.sessions) for (const name of session.rooms) rooms.add(name);
    for (const name of rooms) {
      const room = this.rooms.get(name);
      if (room === undefined) continue;
      for (const [key, sessions] of room.members) {
        if (key === user.key) continue;
        for (const s of sessions) ids.add(s.id);
      }
    }
    return ids;
  }

  member(user: User, room: Room): Member {
    const m: Member = { nick: user.nick, op: this.isOp(user, room), away: user.away !== undefined };
    if (user.account !== undefined) m.account = user.account;
    return m;
  }

  /** The room's members, sorted by folded nick, at most the listing limit. */
  members(room: Room): { members: Member[]; truncated: boolean } {
    const keys = [...room.members.keys()].sort();
    const shown = keys.slice(0, this.limits.maxListed);
    const members = shown.flatMap((key) => {
      const user = this.users.get(key);
      return user ? [this.member(user, room)] : [];
    });
    return { members, truncated: keys.length > shown.length };
  }

  roomInfo(room: Room): RoomInfo {
    const info: RoomInfo = {
      name: room.name,
      topic: room.topic,
      locked: room.locked,
      members: room.members.size,
    };
    if (room.topicBy !== undefined) info.topicBy = room.topicBy;
    if (room.topicAt !== undefined) info.topicAt = room.topicAt;
    return info;
  }

  /** Remembers when an offline user was last seen, within the bound. */
  remember(user: Pick<User, 'key' | 'nick' | 'account'>, at: number): void {
    this.seen.delete(user.key);
    const entry: { nick: string; account?: string; at: number } = { nick: user.nick, at };
    if (user.account !== undefined) entry.account = user.account;
    this.seen.set(user.key, entry);
    for (const oldest of this.seen.keys()) {
      if (this.seen.size <= this.limits.maxSeen) break;
      this.seen.delete(oldest);
    }
  }
}

export function newRoom(name: string): Room {
  return { name, topic: '', locked: false, ops: new Set(), bans: new Map(), members: new Map() };
}
