/**
 * The chat hub: every rule of the chat, and no I/O. Transports (native, WebSocket, IRC, line
 * mode, UDP) call it with what their clients did and write out what it returns; its owner
 * stores messages and reads history (effects, see `effects.ts`). It keeps no timers: time
 * comes from the clock it is given, and what expires (typing notices) expires when `tick`
 * is called, so the same calls give the same outcome every time.
 *
 * Every command costs a token of its session's bucket (`burst` at once, then one per
 * `refillMs`); with none left it is refused with `ERR_THROTTLED` and the wait. Every refusal
 * is a strike; a session that collects more than `strikes` of them faster than one per
 * `strikeRefillMs` is let go, with a `close` effect for its transport.
 */
import { TokenBucket } from '../auth/rate-limit.js';
import { ErrorCode, SockitError } from '../errors.js';
import type { AccountDirectory } from './accounts.js';
import { MessageIds } from './ids.js';
import { foldNick, quote, serviceNick } from './names.js';
import * as operators from './operators.js';
import { changeNick, logIn, quit, registerGuest, setAway, whois } from './presence.js';
import {
  type ChatCommand,
  type ChatLimits,
  DEFAULT_LIMITS,
  type Outcome,
  type Refusal,
  type SessionId,
} from './protocol.js';
import type { RoomState } from './rooms.js';
import * as rooms from './rooms.js';
import { HubState, Out, refusal, type Session, type Stamp, type User } from './state.js';
import { direct, expireTyping, history, say, typing } from './talk.js';

/** Nicks kept for the sources of UDP datagrams (`udp-10-0-0-5`): no one else may speak as one. */
const DATAGRAM_NICK = /^udp-/i;

/**
 * What a session of another node did, for this hub to do too (`ChatHub.replay`): its log-in,
 * a command that went through there (with the stamp its message got), its end.
 */
export type Replayed =
  | { type: 'auth'; session: SessionId; account: string; admin: boolean; datagram?: boolean }
  | { type: 'command'; session: SessionId; command: ChatCommand; stamp?: Stamp; datagram?: boolean }
  | { type: 'close'; session: SessionId; reason: string }
  /** A room's topic, operators and bans (see `applyRoomState`), after the joins that made it. */
  | { type: 'room'; room: RoomState };

export interface ChatHubOptions {
  /** This hub's number among the nodes sharing rooms (0 to 1023); it tags message and session ids. */
  node?: number;
  /** The clock: ms since the epoch. Default `Date.now`. */
  now?: () => number;
  /** Which nicks are accounts' names (guests may not take them). */
  accounts?: AccountDirectory;
  /** Bounds; the rest are `DEFAULT_LIMITS`. */
  limits?: Partial<ChatLimits>;
  /** The newest message id already stored: ids continue after it (e.g. across a restart). */
  lastId?: string;
  /** Accounts last seen before this hub started (e.g. `ChatHistory.lastSeen`), for `whois`. */
  seen?: Iterable<{ account: string; at: number }>;
}

/**
 * @example
 * ```ts
 * const hub = new ChatHub({ accounts: await AccountNames.fromStore(store) });
 * const { session } = hub.open();               // a client connected
 * write(hub.handle(session, { type: 'nick', nick: 'ann' }));
 * write(hub.handle(session, { type: 'join', room: 'lobby' }));
 * write(hub.handle(session, { type: 'say', room: 'lobby', text: 'hello' }));
 * setInterval(() => write(hub.tick()), 1000);   // typing notices expire
 * write(hub.close(session, 'connection closed'));
 * ```
 */
export class ChatHub {
  readonly limits: Readonly<ChatLimits>;
  readonly node: number;
  readonly #st: HubState;
  readonly #rate: TokenBucket;
  readonly #strikes: TokenBucket;
  #opened = 0;

  constructor(options: ChatHubOptions = {}) {
    const limits = { ...DEFAULT_LIMITS, ...options.limits };
    for (const [key, value] of Object.entries(limits)) {
      if (!Number.isSafeInteger(value) || value < 0) {
        throw new SockitError(
          ErrorCode.INVALID_ARGUMENT,
          `chat limit ${key} must be a whole number, 0 or more`,
        );
      }
    }
    this.limits = Object.freeze(limits);
    const now = options.now ?? Date.now;
    const ids = new MessageIds({
      ...(options.node === undefined ? {} : { node: options.node }),
      ...(options.lastId === undefined ? {} : { after: options.lastId }),
    });
    this.node = ids.node;
    this.#st = new HubState(limits, now, ids, options.accounts);
    // Oldest first, as `remember` keeps them: the newest stay within the bound.
    const seen = [...(options.seen ?? [])].sort((a, b) => a.at - b.at);
    for (const { account, at } of seen) {
      if (typeof account !== 'string' || account === '' || !Number.isFinite(at)) continue;
      this.#st.remember({ key: foldNick(account), nick: account, account }, at);
    }
    const maxKeys = limits.maxSessions + 1;
    this.#rate = new TokenBucket({ capacity: limits.burst, refillMs: limits.refillMs, maxKeys, now });
    this.#strikes = new TokenBucket({
      capacity: limits.strikes,
      refillMs: limits.strikeRefillMs,
      maxKeys,
      now,
    });
  }

  /**
   * A new session, for a client that connected; it must choose a nick (`nick` command) or be
   * logged in (`authenticate`) before anything else. Refused with `ERR_TOO_MANY_CONNECTIONS`
   * at `maxSessions`. `datagram`: the session of a UDP source, the only kind that may take a
   * `udp-` nick.
   */
  open(
    options: { datagram?: boolean } = {},
  ): { session: SessionId; refusal?: undefined } | { session?: undefined; refusal: Refusal } {
    if (this.#st.sessions.size - this.#st.mirrors >= this.limits.maxSessions) {
      return { refusal: refusal(ErrorCode.TOO_MANY_CONNECTIONS, 'the chat is full; try again later') };
    }
    const id = `${this.node}-${++this.#opened}`;
    this.#st.sessions.set(id, { id, rooms: new Set(), ...(options.datagram ? { datagram: true } : {}) });
    return { session: id };
  }

  /**
   * The session logged in as `account` (the log-in itself is `auth`'s `LoginServer`): its nick
   * is the account's name. Must come before a guest nick. `admin`: an operator of every room.
   * The outcome holds an `offline` effect: the direct messages that waited for the account.
   */
  authenticate(session: SessionId, account: string, options: { admin?: boolean } = {}): Outcome {
    const s = this.#st.sessions.get(session);
    if (s === undefined) return closed();
    return logIn(this.#st, s, account, options.admin === true, new Out());
  }

  /** Runs one command of a session. */
  handle(session: SessionId, command: ChatCommand): Outcome {
    const s = this.#st.sessions.get(session);
    if (s === undefined) return closed();
    const out = new Out();
    const wait = this.#rate.take(session);
    if (wait > 0) {
      out.refuse({
        code: ErrorCode.THROTTLED,
        message: `too many messages: wait ${(wait / 1000).toFixed(1)} s`,
        retryAfterMs: wait,
      });
    } else if (command.type === 'nick' && !s.datagram && DATAGRAM_NICK.test(String(command.nick))) {
      out.refuse(refusal(ErrorCode.BAD_NICK, 'nicks starting with udp- name the sources of datagrams'));
    } else if (command.type === 'nick' && serviceNick(String(command.nick))) {
      out.refuse(
        refusal(
          ErrorCode.BAD_NICK,
          `${quote(command.nick)} is an IRC services nick (clients send it passwords); this chat has no services`,
        ),
      );
    } else if (s.user === undefined) {
      if (command.type === 'nick') registerGuest(this.#st, s, command.nick, out);
      else out.refuse(refusal(ErrorCode.NOT_REGISTERED, 'choose a nick or log in first'));
    } else {
      this.#dispatch(s, s.user, command, out);
    }
    if (out.refusal !== undefined && this.#strikes.take(session) > 0) this.#expel(s, out.refusal, out);
    return out;
  }

  #dispatch(s: Session, user: User, c: ChatCommand, out: Out): void {
    const st = this.#st;
    switch (c.type) {
      case 'nick':
        return void changeNick(st, user, c.nick, out);
      case 'join':
        return void rooms.join(st, s, user, c.room, c.after, out);
      case 'part':
        return void rooms.part(st, s, user, c.room, c.reason, out);
      case 'say':
        return void say(st, s, user, c, out);
      case 'dm':
        return void direct(st, user, c, out);
      case 'topic':
        return void rooms.setTopic(st, s, user, c.room, c.topic, out);
      case 'lock':
        return void operators.lockTopic(st, user, c.room, c.locked, out);
      case 'kick':
        return void operators.kick(st, user, c.room, c.nick, c.reason, out);
      case 'ban':
        return void operators.ban(st, user, c.room, c.target, c.reason, out);
      case 'unban':
        return void operators.unban(st, user, c.room, c.target, out);
      case 'bans':
        return void rooms.listBans(st, s, c.room, out);
      case 'op':
        return void operators.setOp(st, user, c.room, c.nick, c.op, out);
      case 'away':
        return void setAway(st, user, c.message, out);
      case 'typing':
        return void typing(st, s, user, c, out);
      case 'rooms':
        return void rooms.listRooms(st, s.id, out);
      case 'members':
        return void rooms.listMembers(st, s.id, c.room, out);
      case 'whois':
        return void whois(st, s, c.nick, out);
      case 'history':
        return void history(st, s, user, c, out);
      default:
        out.refuse(refusal(ErrorCode.BAD_REQUEST, 'not a chat command; see docs/chat.md for the commands'));
    }
  }

  /** Lets a session go whose strikes ran out, and tells its transport to close it. */
  #expel(s: Session, last: Refusal, out: Out): void {
    const reason = 'disconnected: too many refused commands';
    quit(this.#st, s, reason, out);
    this.#forget(s.id);
    out.effects.push({
      type: 'close',
      session: s.id,
      code: last.code,
      reason: `${reason} (last: ${last.message})`,
    });
  }

  /** The client is gone: its session leaves its rooms, and its user quits if it was the last. */
  close(session: SessionId, reason = 'connection closed'): Outcome {
    const out = new Out();
    const s = this.#st.sessions.get(session);
    if (s === undefined) return out;
    quit(this.#st, s, reason, out);
    this.#forget(session);
    return out;
  }

  #forget(session: SessionId): void {
    this.#rate.delete(session);
    this.#strikes.delete(session);
  }

  /**
   * Does here what a session of another node did there (see `cluster.ts`): that session is
   * mirrored here, without a transport, so that this node's clients see it in rooms, get its
   * messages and direct messages, and cannot take its nick. The outcome holds only
   * deliveries to this node's sessions and, when a guest nick was taken on two nodes at the
   * same moment, the `close` of the guest that loses (the one on the higher-numbered node:
   * each node decides alike). No rate limit applies (the other node applied it), nothing is
   * stored (the other node stored it), and the message keeps the id and time it got there.
   */
  replay(r: Replayed): Outcome {
    const st = this.#st;
    const out = new Out();
    if (r.type === 'room') return mirrored(rooms.applyRoomState(st, r.room, out));
    let s = st.sessions.get(r.session);
    if (s !== undefined && !s.mirror) return out; // ids are per node: never one of ours
    if (r.type === 'close') {
      if (s !== undefined) this.#dropMirror(s, r.reason, out);
      return out;
    }
    if (s === undefined) {
      if (r.type !== 'auth' && r.command.type !== 'nick') return out; // its registration was lost
      s = {
        id: r.session,
        rooms: new Set(),
        mirror: true,
        ...(r.datagram ? { datagram: true as const } : {}),
      };
      st.sessions.set(s.id, s);
      st.mirrors++;
    }
    st.imposed = r.type === 'command' ? r.stamp : undefined;
    try {
      if (r.type === 'auth') logIn(st, s, r.account, r.admin, out);
      else this.#replayCommand(s, r.command, out);
    } finally {
      // The stamp was the other node's: nothing of it is this node's to pass on.
      st.imposed = undefined;
      st.lastStamp = undefined;
    }
    if (s.user === undefined) {
      st.sessions.delete(s.id);
      st.mirrors--;
    }
    return mirrored(out);
  }

  #replayCommand(s: Session, command: ChatCommand, out: Out): void {
    const st = this.#st;
    const attempt = (): void => {
      if (s.user === undefined) {
        if (command.type === 'nick') registerGuest(st, s, command.nick, out);
      } else this.#dispatch(s, s.user, command, out);
    };
    attempt();
    if (command.type !== 'nick' || out.refusal?.code !== ErrorCode.NICK_IN_USE) return;
    // The same guest nick taken on two nodes at once: the guest of the lower node keeps it,
    // on every node alike. The loser here is ours (closed, with the reason) or a mirror (its
    // own node closes it when this same registration reaches it).
    const holder = st.users.get(foldNick(String(command.nick)));
    const [h] = holder?.account === undefined ? (holder?.sessions ?? []) : [];
    if (h === undefined || (h.mirror ? originNode(h.id) : this.node) <= originNode(s.id)) return;
    const reason = `the nick ${h.user?.nick} was taken on another server at the same moment; choose another`;
    if (h.mirror) this.#dropMirror(h, reason, out);
    else {
      quit(st, h, reason, out);
      this.#forget(h.id);
      out.effects.push({ type: 'close', session: h.id, code: ErrorCode.NICK_IN_USE, reason });
    }
    delete out.refusal;
    attempt();
  }

  #dropMirror(s: Session, reason: string, out: Out): void {
    quit(this.#st, s, reason, out);
    this.#st.mirrors--;
  }

  /**
   * Another node is gone (it stopped, or has not been heard from): its mirrored sessions quit
   * here, and this node's clients see them leave.
   */
  forgetNode(node: number, reason = 'a chat server node was lost'): Outcome {
    const out = new Out();
    for (const s of [...this.#st.sessions.values()]) {
      if (s.mirror && originNode(s.id) === node) this.#dropMirror(s, reason, out);
    }
    return out;
  }

  /**
   * This node's sessions, as the replays that would build them on another node: log-in or
   * nick, rooms, away; then every room's topic, operators and bans. What a node that starts (or lost track) is sent by each other node.
   */
  snapshot(): Replayed[] {
    const items: Replayed[] = [];
    for (const s of this.#st.sessions.values()) {
      const user = s.user;
      if (s.mirror || user === undefined) continue;
      const datagram = s.datagram ? { datagram: true } : {};
      items.push(
        user.account !== undefined
          ? { type: 'auth', session: s.id, account: user.account, admin: user.admin, ...datagram }
          : { type: 'command', session: s.id, command: { type: 'nick', nick: user.nick }, ...datagram },
      );
      for (const room of s.rooms)
        items.push({ type: 'command', session: s.id, command: { type: 'join', room } });
      if (user.away !== undefined) {
        items.push({ type: 'command', session: s.id, command: { type: 'away', message: user.away } });
      }
    }
    // What the rooms are beyond their members, once the joins above have made them there.
    for (const room of this.#st.rooms.values()) items.push({ type: 'room', room: rooms.roomState(room) });
    return items;
  }

  /** The stamp of the message the last `handle` took, if it took one (for other nodes). */
  takeStamp(): Stamp | undefined {
    const stamp = this.#st.lastStamp;
    this.#st.lastStamp = undefined;
    return stamp;
  }

  /** Whether the session is a UDP source's. */
  isDatagram(session: SessionId): boolean {
    return this.#st.sessions.get(session)?.datagram === true;
  }

  /** Ends what has expired by now (typing notices). Call it about once a second. */
  tick(): Outcome {
    const out = new Out();
    expireTyping(this.#st, this.#st.now(), out);
    return out;
  }

  /**
   * The rooms, by name, each with its topic and members' nicks (at most `maxListed` rooms and
   * members each): what a status page shows.
   */
  rooms(): { name: string; topic: string; members: string[] }[] {
    const st = this.#st;
    const names = [...st.rooms.keys()].sort().slice(0, st.limits.maxListed);
    return names.map((name) => {
      const room = st.rooms.get(name) as NonNullable<ReturnType<typeof st.rooms.get>>;
      const members = [...room.members.keys()]
        .slice(0, st.limits.maxListed)
        .map((key) => st.users.get(key)?.nick ?? key)
        .sort();
      return { name, topic: room.topic, members };
    });
  }

  /** The sessions of the user named `nick` (any case), this node's and mirrored ones. */
  sessionsOf(nick: string): SessionId[] {
    const user = this.#st.users.get(foldNick(nick));
    return user === undefined ? [] : [...user.sessions].map((s) => s.id);
  }

  /** The session's nick, once it has one. */
  nickOf(session: SessionId): string | undefined {
    return this.#st.sessions.get(session)?.user?.nick;
  }

  /** The rooms a session is in. */
  roomsOf(session: SessionId): string[] {
    return [...(this.#st.sessions.get(session)?.rooms ?? [])];
  }

  get sessionCount(): number {
    return this.#st.sessions.size;
  }

  get roomCount(): number {
    return this.#st.rooms.size;
  }

  get userCount(): number {
    return this.#st.users.size;
  }
}

/** The node a session id was made by (`node-n`). */
function originNode(session: SessionId): number {
  return Number.parseInt(session, 10);
}

/** A replay's outcome: what reaches this node's sessions, and closes of its own; no refusal. */
function mirrored(out: Out): Outcome {
  const kept = new Out();
  kept.deliveries.push(...out.deliveries);
  kept.effects.push(...out.effects.filter((e) => e.type === 'close'));
  return kept;
}

function closed(): Outcome {
  return new Out().refuse(refusal(ErrorCode.CONNECTION_CLOSED, 'this chat session is closed; connect again'));
}
