/**
 * Talking: room messages, direct messages, typing notices and history requests.
 *
 * A message goes to every session in its room (or of its recipient) and, marked `echo`, to
 * its sender's own sessions; it is stored (an effect). A direct message to an account that
 * is offline is stored undelivered and reaches it at its next log-in. Typing notices are
 * dropped, silently, when a user sends more than one per target per `typingIntervalMs`;
 * one stands for `typingTimeoutMs`, after which `tick` announces its end. A message from the
 * user to that target ends it too (clients clear it on the message; nothing is sent).
 */
import { ErrorCode } from '../errors.js';
import { isMessageId } from './ids.js';
import { foldNick, MAX_NICK_LENGTH, mentions, quote, serviceNick } from './names.js';
import type { ChatMessage, SessionId } from './protocol.js';
import { roomOf } from './rooms.js';
import { type HubState, type Out, refusal, type Session, type User } from './state.js';
import { checkText, isRefusal } from './text.js';

/** Targets a user may have typing notices standing for at once; more are dropped. */
const MAX_TYPING_TARGETS = 20;

export function say(
  st: HubState,
  session: Session,
  user: User,
  command: { room: string; text: unknown; action?: boolean | undefined },
  out: Out,
) {
  const room = roomOf(st, session, command.room, out);
  if (room === undefined) return out;
  if (st.isBanned(user, room))
    return out.refuse(refusal(ErrorCode.BANNED, `you are banned from ${room.name}`));
  const text = checkText(command.text, { what: 'message', maxBytes: st.limits.maxMessageBytes });
  if (isRefusal(text)) return out.refuse(text);
  const message = stamp(st, user, text, command.action);
  message.room = room.name;
  const named = mentions(text, (key) =>
    key !== user.key && room.members.has(key) ? st.users.get(key)?.nick : undefined,
  );
  if (named.length > 0) message.mentions = named;
  out.send(st.othersIn(room, user.key), { type: 'message', message });
  out.send(idsOf(room.members.get(user.key) ?? []), { type: 'message', message }, true);
  out.effects.push({ type: 'store', message, delivered: true });
  user.typing.delete(`#${room.name}`);
  return out;
}

export function direct(
  st: HubState,
  user: User,
  command: { to: string; text: unknown; action?: boolean | undefined },
  out: Out,
) {
  const to = command.to;
  if (typeof to !== 'string' || to.length === 0 || to.length > MAX_NICK_LENGTH)
    return out.refuse(noSuchNick(to));
  // An IRC client's IDENTIFY to NickServ carries a password: never delivered to anyone.
  if (serviceNick(to)) {
    return out.refuse(
      refusal(
        ErrorCode.NO_SUCH_NICK,
        `this chat has no ${quote(to)} (no IRC services): nothing was sent; log in with your account instead`,
      ),
    );
  }
  const text = checkText(command.text, { what: 'message', maxBytes: st.limits.maxMessageBytes });
  if (isRefusal(text)) return out.refuse(text);
  const key = foldNick(to);
  const target = st.users.get(key);
  const account = target === undefined ? st.accountNamed(to) : undefined;
  if (target === undefined && account === undefined) return out.refuse(noSuchNick(to));
  const message = stamp(st, user, text, command.action);
  message.to = target?.nick ?? account;
  // Whose history it joins: an account's, never a guest's (its nick may be someone else's later).
  const toAccount = target !== undefined ? target.account : account;
  if (toAccount !== undefined) message.toAccount = toAccount;
  if (target !== undefined && target !== user) out.send(idsOf(target.sessions), { type: 'message', message });
  const queued = target === undefined;
  out.send(
    idsOf(user.sessions),
    queued ? { type: 'message', message, queued } : { type: 'message', message },
    true,
  );
  out.effects.push({ type: 'store', message, delivered: !queued });
  user.typing.delete(`@${key}`);
  return out;
}

function stamp(st: HubState, user: User, text: string, action: boolean | undefined): ChatMessage {
  const { id, at } = st.stamp();
  const message: ChatMessage = { id, at, from: user.nick, text };
  if (user.account !== undefined) message.account = user.account;
  if (action === true) message.action = true;
  return message;
}

export function typing(
  st: HubState,
  session: Session,
  user: User,
  command: { room?: string | undefined; to?: string | undefined; active: boolean },
  out: Out,
) {
  let target: string;
  let audience: SessionId[];
  let where: { room: string } | { to: string };
  if (command.room !== undefined) {
    const room = roomOf(st, session, command.room, out);
    if (room === undefined) return out;
    target = `#${room.name}`;
    audience = st.othersIn(room, user.key);
    where = { room: room.name };
  } else if (typeof command.to === 'string') {
    const other = st.users.get(foldNick(command.to));
    if (other === undefined) return out.refuse(noSuchNick(command.to));
    if (other === user) return out;
    target = `@${other.key}`;
    audience = idsOf(other.sessions);
    where = { to: other.nick };
  } else {
    return out.refuse(refusal(ErrorCode.BAD_REQUEST, 'a typing notice names a room or a nick'));
  }
  const now = st.now();
  const standing = user.typing.get(target);
  if (command.active === true) {
    if (standing !== undefined && now - standing.sentAt < st.limits.typingIntervalMs) return out;
    if (standing === undefined && user.typing.size >= MAX_TYPING_TARGETS) return out;
    user.typing.set(target, { sentAt: now, until: now + st.limits.typingTimeoutMs, ...where });
    st.typists.add(user);
    out.send(audience, { type: 'typing', nick: user.nick, ...where, active: true });
  } else if (standing !== undefined) {
    user.typing.delete(target);
    if (user.typing.size === 0) st.typists.delete(user);
    out.send(audience, { type: 'typing', nick: user.nick, ...where, active: false });
  }
  return out;
}

/** Ends the typing notices that stood past their time, telling those who saw them. */
export function expireTyping(st: HubState, now: number, out: Out): void {
  for (const user of st.typists) {
    for (const [target, notice] of user.typing) {
      if (notice.until > now) continue;
      user.typing.delete(target);
      let audience: SessionId[] = [];
      if (notice.room !== undefined) {
        const room = st.rooms.get(notice.room);
        if (room !== undefined) audience = st.othersIn(room, user.key);
        out.send(audience, { type: 'typing', nick: user.nick, room: notice.room, active: false });
      } else if (notice.to !== undefined) {
        const other = st.users.get(foldNick(notice.to));
        if (other !== undefined) audience = idsOf(other.sessions);
        out.send(audience, { type: 'typing', nick: user.nick, to: notice.to, active: false });
      }
    }
    if (user.typing.size === 0) st.typists.delete(user);
  }
}

export function history(
  st: HubState,
  session: Session,
  user: User,
  command: {
    room?: string | undefined;
    before?: string | undefined;
    after?: string | undefined;
    limit?: number | undefined;
  },
  out: Out,
) {
  for (const id of [command.before, command.after]) {
    if (id !== undefined && !isMessageId(id)) {
      return out.refuse(refusal(ErrorCode.BAD_REQUEST, `${quote(id)} is not a message id`));
    }
  }
  const wanted = Number.isInteger(command.limit) ? (command.limit as number) : st.limits.scrollback;
  const limit = Math.max(1, Math.min(wanted, st.limits.maxHistoryPage));
  // Without `before`, the page ends where live delivery begins: nothing shows twice.
  const before = command.before ?? st.ids.next(st.now());
  const page = { before, limit, ...(command.after === undefined ? {} : { after: command.after }) };
  if (command.room !== undefined) {
    const room = roomOf(st, session, command.room, out);
    if (room !== undefined)
      out.effects.push({ type: 'history', session: session.id, room: room.name, ...page });
    return out;
  }
  if (user.account === undefined) {
    return out.refuse(
      refusal(ErrorCode.FORBIDDEN, 'direct message history is kept for accounts only; log in to read yours'),
    );
  }
  out.effects.push({ type: 'history', session: session.id, direct: user.account, ...page });
  return out;
}

export function idsOf(sessions: Iterable<Session>): SessionId[] {
  const ids: SessionId[] = [];
  for (const s of sessions) ids.push(s.id);
  return ids;
}

export function noSuchNick(nick: unknown) {
  return refusal(
    ErrorCode.NO_SUCH_NICK,
    `nobody called ${quote(nick)} is online, and no account has that name`,
  );
}
