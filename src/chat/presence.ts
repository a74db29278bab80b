/**
 * Who is who: a session becomes a user by choosing a guest nick or by logging in (the hub is
 * told the account; the log-in itself is `auth`'s), changes nick, goes away and comes back,
 * is looked up (`whois`, with "last seen" for users who are offline), and quits.
 *
 * Nicks are unique, compared folded. A guest may not take a nick that is an account's name;
 * if a guest holds one anyway (the account is newer than the guest's nick), the account's
 * log-in renames the guest to a free `GuestN`. An account's nick is its name, and an account
 * may be logged in from several sessions at once: they share the nick, its presence and its
 * direct messages; each joins rooms of its own.
 */
import { ErrorCode } from '../errors.js';
import { foldNick, nickProblem, quote } from './names.js';
import type { ChatEvent, PublicLimits, UserInfo } from './protocol.js';
import { leave } from './rooms.js';
import { type HubState, type Out, refusal, type Session, type User } from './state.js';
import { idsOf, noSuchNick } from './talk.js';
import { checkText, isRefusal } from './text.js';

const ACCOUNT_NAME = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,31}$/;

export function registerGuest(st: HubState, session: Session, nick: unknown, out: Out) {
  const problem = nickProblem(nick) ?? taken(st, nick as string, undefined);
  if (problem !== undefined) return out.refuse(problem);
  const user = newUser(nick as string, undefined, false);
  return enter(st, session, user, out);
}

export function logIn(st: HubState, session: Session, account: string, admin: boolean, out: Out) {
  if (session.user !== undefined) {
    return out.refuse(
      refusal(ErrorCode.FORBIDDEN, `already registered as ${session.user.nick}; log in first`),
    );
  }
  if (typeof account !== 'string' || !ACCOUNT_NAME.test(account)) {
    return out.refuse(refusal(ErrorCode.BAD_USER_NAME, `bad account name ${quote(account)}`));
  }
  const key = foldNick(account);
  let user = st.users.get(key);
  if (user !== undefined && user.account === undefined) {
    rename(st, user, freeGuestNick(st, user), out);
    user = undefined;
  }
  if (user !== undefined && user.account !== account) {
    return out.refuse(
      refusal(
        ErrorCode.NICK_IN_USE,
        `the account ${user.account} is online and has the same nick as ${account}`,
      ),
    );
  }
  if (user !== undefined && user.sessions.size >= st.limits.maxSessionsPerAccount) {
    return out.refuse(
      refusal(
        ErrorCode.TOO_MANY_CONNECTIONS,
        `${account} has ${user.sessions.size} sessions, the most allowed; close one`,
      ),
    );
  }
  user ??= newUser(account, account, admin);
  user.admin = admin;
  enter(st, session, user, out);
  out.effects.push({ type: 'offline', session: session.id, account });
  return out;
}

function newUser(nick: string, account: string | undefined, admin: boolean): User {
  const user: User = { key: foldNick(nick), nick, admin, sessions: new Set(), typing: new Map() };
  if (account !== undefined) user.account = account;
  return user;
}

function enter(st: HubState, session: Session, user: User, out: Out) {
  user.sessions.add(session);
  session.user = user;
  st.users.set(user.key, user);
  st.seen.delete(user.key);
  const limits: PublicLimits = {
    maxMessageBytes: st.limits.maxMessageBytes,
    maxTopicBytes: st.limits.maxTopicBytes,
    maxReasonBytes: st.limits.maxReasonBytes,
    maxRoomsPerSession: st.limits.maxRoomsPerSession,
    typingIntervalMs: st.limits.typingIntervalMs,
  };
  const welcome: ChatEvent = { type: 'welcome', nick: user.nick, admin: user.admin, limits };
  if (user.account !== undefined) welcome.account = user.account;
  out.send([session.id], welcome);
  return out;
}

/** A refusal when `nick` is someone else's or an account's name; `self` may keep its own. */
function taken(st: HubState, nick: string, self: User | undefined) {
  const holder = st.users.get(foldNick(nick));
  if (holder !== undefined && holder !== self) {
    return refusal(ErrorCode.NICK_IN_USE, `the nick ${nick} is taken; choose another`);
  }
  if (holder === undefined && st.accountNamed(nick) !== undefined) {
    return refusal(
      ErrorCode.NICK_IN_USE,
      `${nick} is an account's name; log in as ${nick} or choose another nick`,
    );
  }
  return undefined;
}

export function changeNick(st: HubState, user: User, nick: unknown, out: Out) {
  if (user.account !== undefined) {
    return out.refuse(
      refusal(ErrorCode.FORBIDDEN, "an account's nick is its name; log in as a guest for another"),
    );
  }
  const problem = nickProblem(nick) ?? taken(st, nick as string, user);
  if (problem !== undefined) return out.refuse(problem);
  if (nick !== user.nick) rename(st, user, nick as string, out);
  return out;
}

/** Gives `user` a new nick everywhere, and tells it and everyone who shares a room with it. */
function rename(st: HubState, user: User, nick: string, out: Out): void {
  const old = user.nick;
  const oldKey = user.key;
  const audience = st.audience(user);
  for (const id of idsOf(user.sessions)) audience.add(id);
  const key = foldNick(nick);
  if (key !== oldKey) st.remember(user, st.now());
  st.users.delete(oldKey);
  user.key = key;
  user.nick = nick;
  st.users.set(key, user);
  for (const name of roomsOf(user)) {
    const room = st.rooms.get(name);
    const sessions = room?.members.get(oldKey);
    if (room === undefined || sessions === undefined) continue;
    room.members.delete(oldKey);
    room.members.set(key, sessions);
    if (room.ops.delete(oldKey)) room.ops.add(key);
  }
  user.typing.clear();
  st.typists.delete(user);
  out.send(audience, { type: 'nick', old, nick });
}

/**
 * A nick for the guest `user`, who must give its nick up: `Guest` and its first session's id
 * (`Guest0-17`), which every node of a chat knows alike, so that each renames it the same.
 */
function freeGuestNick(st: HubState, user: User): string {
  const first = [...user.sessions].map((s) => s.id).sort()[0] ?? String(st.users.size + 1);
  const base = `Guest${first}`;
  for (let n = 1; ; n++) {
    const nick = n === 1 ? base : `${base}_${n}`;
    if (!st.users.has(foldNick(nick)) && st.accountNamed(nick) === undefined) return nick;
  }
}

export function setAway(st: HubState, user: User, message: unknown, out: Out) {
  if (message === undefined || message === '') {
    delete user.away;
  } else {
    const text = checkText(message, { what: 'away message', maxBytes: st.limits.maxReasonBytes });
    if (isRefusal(text)) return out.refuse(text);
    user.away = text;
  }
  const audience = st.audience(user);
  for (const id of idsOf(user.sessions)) audience.add(id);
  const event: ChatEvent = { type: 'presence', nick: user.nick };
  if (user.away !== undefined) event.away = user.away;
  out.send(audience, event);
  return out;
}

export function whois(st: HubState, session: Session, nick: unknown, out: Out) {
  const key = foldNick(String(nick).slice(0, 64));
  const user = st.users.get(key);
  let info: UserInfo | undefined;
  if (user !== undefined) {
    info = { nick: user.nick, online: true, rooms: [...roomsOf(user)].sort().slice(0, st.limits.maxListed) };
    if (user.account !== undefined) info.account = user.account;
    if (user.away !== undefined) info.away = user.away;
    if (user.admin) info.admin = true;
  } else {
    const seen = st.seen.get(key);
    const account = seen?.account ?? st.accountNamed(String(nick));
    if (seen !== undefined) info = { nick: seen.nick, online: false, lastSeen: seen.at };
    else if (account !== undefined) info = { nick: account, online: false };
    if (info !== undefined && account !== undefined) info.account = account;
  }
  if (info === undefined) return out.refuse(noSuchNick(nick));
  out.send([session.id], { type: 'whois', user: info });
  return out;
}

/**
 * Ends a session: it leaves its rooms. When it was its user's last, the user quits (one
 * `quit` to everyone who shared a room with it) and is remembered as last seen now;
 * otherwise the rooms only it held for its user see a `part`.
 */
export function quit(st: HubState, session: Session, reason: string, out: Out): void {
  st.sessions.delete(session.id);
  const user = session.user;
  if (user === undefined) return;
  const last = user.sessions.size === 1;
  const audience = last ? st.audience(user) : undefined;
  for (const name of [...session.rooms]) {
    const room = st.rooms.get(name);
    if (room === undefined) continue;
    const others = st.roomSessions(room).filter((id) => id !== session.id);
    if (leave(st, session, user, room) && !last)
      out.send(others, { type: 'part', room: name, nick: user.nick, reason });
  }
  user.sessions.delete(session);
  if (!last) return;
  st.users.delete(user.key);
  st.typists.delete(user);
  const at = st.now();
  st.remember(user, at);
  out.send(audience ?? [], { type: 'quit', nick: user.nick, reason });
  // An account's last-seen outlives the server (a guest's nick is anyone's: not kept).
  if (user.account !== undefined && !session.mirror)
    out.effects.push({ type: 'seen', account: user.account, at });
}

/** The rooms any of `user`'s sessions is in. */
function roomsOf(user: User): Set<string> {
  const names = new Set<string>();
  for (const session of user.sessions) for (const name of session.rooms) names.add(name);
  return names;
}
