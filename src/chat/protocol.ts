/**
 * The hub's model: commands in, outcomes out. A transport turns what a client sent into a
 * `ChatCommand` for `ChatHub.handle`, and writes each `Delivery` of the `Outcome` to the
 * sessions it names, in order; a refusal goes back to the session that sent the command.
 * Effects are work the hub leaves to its owner because it does no I/O: storing messages,
 * reading history, closing a connection.
 */

import { ErrorCode } from '../errors.js';
import * as z from '../runtime/schema.js';

/** A session: one client connection, named by the hub (`open`). */
export type SessionId = string;

/** One message, as delivered, stored and read back from history. */
export interface ChatMessage {
  /** Unique, increasing, sortable as a string (see `ids.ts`). */
  id: string;
  /** Server time, ms since the epoch. */
  at: number;
  /** The sender's nick. */
  from: string;
  /** The sender's account; absent for a guest. */
  account?: string;
  /** A room message: the room. */
  room?: string;
  /** A direct message: the recipient's nick. */
  to?: string;
  /** A direct message to an account: the account (absent for a guest recipient). */
  toAccount?: string;
  text: string;
  /** `/me`: an action, shown as `* nick text`. */
  action?: boolean;
  /** Room members the text names (flagged for them: highlight, notify). */
  mentions?: string[];
}

/** A user in a room listing. */
export interface Member {
  nick: string;
  account?: string;
  op: boolean;
  away: boolean;
}

export interface RoomInfo {
  name: string;
  topic: string;
  topicBy?: string;
  topicAt?: number;
  /** Only operators may change the topic. */
  locked: boolean;
  /** How many users are in the room. */
  members: number;
}

export type BanTarget = { nick: string } | { account: string };

export interface UserInfo {
  nick: string;
  account?: string;
  online: boolean;
  away?: string;
  /** When the user was last online (ms since the epoch), for a user that is not. */
  lastSeen?: number;
  /** Rooms the user is in (at most the listing limit). */
  rooms?: string[];
  admin?: boolean;
}

/** Everything a session can be sent. */
export type ChatEvent =
  | { type: 'welcome'; nick: string; account?: string; admin: boolean; limits: PublicLimits }
  /** `queued`: a direct message kept for an account that is offline (sent to its sender). */
  | { type: 'message'; message: ChatMessage; queued?: boolean }
  /** To the session that joined: the room, its members, whether it is an operator. */
  | { type: 'joined'; room: RoomInfo; members: Member[]; truncated: boolean; op: boolean }
  /** To the others in the room. */
  | { type: 'join'; room: string; member: Member }
  | { type: 'part'; room: string; nick: string; reason?: string }
  | { type: 'kick'; room: string; nick: string; by: string; reason?: string }
  | { type: 'ban'; room: string; target: BanTarget; by: string; active: boolean }
  | { type: 'op'; room: string; nick: string; by: string; op: boolean }
  | { type: 'topic'; room: string; topic: string; by: string; at: number; locked: boolean }
  | { type: 'nick'; old: string; nick: string }
  /** A user went away (`away` set) or came back. */
  | { type: 'presence'; nick: string; away?: string }
  /** A user's last session ended. */
  | { type: 'quit'; nick: string; reason?: string }
  | { type: 'typing'; nick: string; room?: string; to?: string; active: boolean }
  | { type: 'rooms'; rooms: RoomInfo[]; truncated: boolean }
  | { type: 'members'; room: RoomInfo; members: Member[]; truncated: boolean }
  | { type: 'bans'; room: string; bans: BanTarget[] }
  | { type: 'whois'; user: UserInfo }
  /**
   * Made by the hub's owner from a `history` or `offline` effect (see `effects.ts`): messages
   * oldest first; `offline`: direct messages that waited for this account's log-in.
   */
  | {
      type: 'history';
      room?: string;
      direct?: boolean;
      offline?: boolean;
      messages: ChatMessage[];
      more: boolean;
    };

/**
 * One event for some sessions. `echo`: the recipients are the sender's own sessions (the one
 * that sent it, and the same account's others): a native client takes it as the
 * acknowledgement with the message's id; an IRC client without `echo-message` skips it.
 */
export interface Delivery {
  to: SessionId[];
  event: ChatEvent;
  echo?: boolean;
}

/** Why a command was refused: a stable code (src/errors.ts) and one line for a person. */
export interface Refusal {
  code: ErrorCode;
  message: string;
  /** For `ERR_THROTTLED`: when the session may send again. */
  retryAfterMs?: number;
}

/** Work for the hub's owner (see `effects.ts` for the history part). */
export type Effect =
  /** Persist a message. `delivered: false`: a direct message waiting for its account. */
  | { type: 'store'; message: ChatMessage; delivered: boolean }
  /**
   * Send `session` history, as a `history` event: a room's, or its account's direct messages
   * (`direct`: the account). `before`/`after` are exclusive message ids. A join's scrollback
   * has `before` set to an id the hub drew at the join: everything older is history,
   * everything newer reaches the session live, so nothing is shown twice or missed.
   */
  | {
      type: 'history';
      session: SessionId;
      room?: string;
      direct?: string;
      before?: string;
      after?: string;
      limit: number;
    }
  /** An account logged in: send it the direct messages that waited for it, then mark them delivered. */
  | { type: 'offline'; session: SessionId; account: string }
  /** An account went offline (its last session quit) at `at`: remember it across restarts. */
  | { type: 'seen'; account: string; at: number }
  /** Close the connection (abuse); the hub has already let the session go. */
  | { type: 'close'; session: SessionId; code: ErrorCode; reason: string };

/** What one call into the hub produced. */
export interface Outcome {
  deliveries: Delivery[];
  effects: Effect[];
  /** Set when the command was refused; then nothing else happened but, maybe, a `close`. */
  refusal?: Refusal;
}

/** The hub's bounds. */
export interface ChatLimits {
  /** Longest message, in bytes of UTF-8. */
  maxMessageBytes: number;
  maxTopicBytes: number;
  /** Longest away message, and kick, ban and part reasons. */
  maxReasonBytes: number;
  maxSessions: number;
  maxSessionsPerAccount: number;
  maxRooms: number;
  maxRoomsPerSession: number;
  maxBansPerRoom: number;
  /** Most entries in one listing (members, rooms, a whois's rooms). */
  maxListed: number;
  /** Messages of scrollback sent on join. */
  scrollback: number;
  /** Most messages one history request returns. */
  maxHistoryPage: number;
  /** Token bucket per session: commands at once after a quiet spell... */
  burst: number;
  /** ...then one more every `refillMs`. */
  refillMs: number;
  /** Refusals a session may collect at once before it is disconnected... */
  strikes: number;
  /** ...one forgiven every `strikeRefillMs`. */
  strikeRefillMs: number;
  /** A typing notice per user and target at most this often. */
  typingIntervalMs: number;
  /** A typing notice stands for this long unless renewed. */
  typingTimeoutMs: number;
  /** Offline users whose "last seen" is remembered (least recently seen forgotten first). */
  maxSeen: number;
}

export const DEFAULT_LIMITS: Readonly<ChatLimits> = Object.freeze({
  maxMessageBytes: 2048,
  maxTopicBytes: 390,
  maxReasonBytes: 300,
  maxSessions: 10_000,
  maxSessionsPerAccount: 10,
  maxRooms: 10_000,
  maxRoomsPerSession: 50,
  maxBansPerRoom: 100,
  maxListed: 1000,
  scrollback: 50,
  maxHistoryPage: 200,
  burst: 20,
  refillMs: 500,
  strikes: 10,
  strikeRefillMs: 3000,
  typingIntervalMs: 3000,
  typingTimeoutMs: 6000,
  maxSeen: 10_000,
});

/** The limits a client is told in its welcome. */
export type PublicLimits = Pick<
  ChatLimits,
  'maxMessageBytes' | 'maxTopicBytes' | 'maxReasonBytes' | 'maxRoomsPerSession' | 'typingIntervalMs'
>;

// Commands. Strings are bounded loosely here (a hostile frame cannot make the hub scan
// megabytes); the hub applies the real rules and limits, with their own refusals.
const name = z.string().check(z.maxLength(256));
const optionalName = z.optional(name);
const words = z.string().check(z.maxLength(4096));
const reason = z.optional(words);
const text = z.union([z.string().check(z.maxLength(65_536)), z.instanceof(Uint8Array)]);
const banTarget = z.union([z.strictObject({ nick: name }), z.strictObject({ account: name })]);
const id = z.optional(z.string().check(z.maxLength(64)));
const flag = z.optional(z.boolean());

export const ChatCommandSchema = z.discriminatedUnion('type', [
  z.object({ type: z.literal('nick'), nick: name }),
  z.object({ type: z.literal('join'), room: name, after: id }),
  z.object({ type: z.literal('part'), room: name, reason }),
  z.object({ type: z.literal('say'), room: name, text, action: flag }),
  z.object({ type: z.literal('dm'), to: name, text, action: flag }),
  z.object({ type: z.literal('topic'), room: name, topic: words }),
  z.object({ type: z.literal('lock'), room: name, locked: z.boolean() }),
  z.object({ type: z.literal('kick'), room: name, nick: name, reason }),
  z.object({ type: z.literal('ban'), room: name, target: banTarget, reason }),
  z.object({ type: z.literal('unban'), room: name, target: banTarget }),
  z.object({ type: z.literal('bans'), room: name }),
  z.object({ type: z.literal('op'), room: name, nick: name, op: z.boolean() }),
  z.object({ type: z.literal('away'), message: reason }),
  z.object({ type: z.literal('typing'), room: optionalName, to: optionalName, active: z.boolean() }),
  z.object({ type: z.literal('rooms') }),
  z.object({ type: z.literal('members'), room: name }),
  z.object({ type: z.literal('whois'), nick: name }),
  z.object({
    type: z.literal('history'),
    room: optionalName,
    before: id,
    after: id,
    limit: z.optional(z.int().check(z.minimum(1), z.maximum(100_000))),
  }),
]);

export type ChatCommand = z.infer<typeof ChatCommandSchema>;

/**
 * A command from parsed JSON (a native or WebSocket frame), or the refusal for a malformed one
 * (`ERR_BAD_REQUEST`).
 *
 * @example
 * ```ts
 * const command = parseCommand(JSON.parse(frame));
 * const outcome = 'code' in command ? { deliveries: [], effects: [], refusal: command } : hub.handle(session, command);
 * ```
 */
export function parseCommand(value: unknown): ChatCommand | Refusal {
  const parsed = ChatCommandSchema.safeParse(value);
  if (parsed.success) return parsed.data;
  const type = (value as { type?: unknown } | null)?.type;
  const what = typeof type === 'string' ? `a malformed "${type.slice(0, 20)}" command` : 'not a chat command';
  return { code: ErrorCode.BAD_REQUEST, message: `${what}; see docs/chat.md for the commands` };
}
