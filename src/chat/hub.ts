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
import * as rooms from './rooms.js';
import { HubState, Out, refusal, type Session, type User } from './state.js';
import { direct, expireTyping, history, say, typing } from './talk.js';

/** Nicks kept for the sources of UDP datagrams (`udp-10-0-0-5`): no one else may speak as one. */
const DATAGRAM_NICK = /^udp-/i;

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
    if (this.#st.sessions.size >= this.limits.maxSessions) {
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

  /** Ends what has expired by now (typing notices). Call it about once a second. */
  tick(): Outcome {
    const out = new Out();
    expireTyping(this.#st, this.#st.now(), out);
    return out;
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

function closed(): Outcome {
  return new Out().refuse(refusal(ErrorCode.CONNECTION_CLOSED, 'this chat session is closed; connect again'));
}
