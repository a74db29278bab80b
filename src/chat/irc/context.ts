/**
 * What one IRC connection knows while it turns hub events into lines: its nick and
 * capabilities, the rooms it is in (their topic and lock, which IRC clients ask about
 * without the hub), and the answers it waits for. The hub's listings and history pages do
 * not say which request they answer, so requests are remembered in order here: the hub
 * answers each accepted request with exactly one event, in the order asked.
 */
import { foldNick } from '../names.js';
import type { ChatLimits } from '../protocol.js';
import type { Capabilities } from './caps.js';
import { formatLine, serverTime, type Tags } from './message.js';

/** Commands whose last parameter is text, sent as a trailing parameter always. */
const TEXT = new Set(['PRIVMSG', 'NOTICE', 'TOPIC', 'QUIT', 'AWAY', 'ERROR', 'FAIL', 'CAP']);

/** A room as this connection last saw it. */
export interface RoomView {
  topic: string;
  topicBy?: string;
  topicAt?: number;
  locked: boolean;
  /** This user is one of its operators. */
  op: boolean;
}

/** A history page awaited for a room: a join's scrollback, or a CHATHISTORY request. */
export interface HistoryAsk {
  kind: 'scrollback' | 'chathistory';
  /** Show only messages after this id (CHATHISTORY LATEST with a reference). */
  after?: string;
}

export class IrcContext {
  readonly serverName: string;
  readonly caps: Capabilities;
  readonly limits: Readonly<ChatLimits>;
  /** The nick as registered; `*` until then. */
  nick = '*';
  /** The account logged in (PASS or SASL), once it is. */
  account: string | undefined;
  readonly rooms = new Map<string, RoomView>();
  /** User modes the client set (`+i`, `+w`): kept and shown back, they change nothing here. */
  readonly userModes = new Set<string>();
  /** Listing answers awaited, oldest first: what a `members` or `whois` event is shown as. */
  readonly awaitMembers: ('names' | 'who')[] = [];
  readonly awaitWhois: ('whois' | 'who')[] = [];
  /** LIST filters awaited (undefined: every room). */
  readonly awaitRooms: (Set<string> | undefined)[] = [];
  readonly awaitHistory = new Map<string, HistoryAsk[]>();
  #batches = 0;

  constructor(options: { serverName: string; caps: Capabilities; limits: Readonly<ChatLimits> }) {
    this.serverName = options.serverName;
    this.caps = options.caps;
    this.limits = options.limits;
  }

  /** The `nick!user@host` IRC shows for a chat user: the hub knows nicks only. */
  mask(nick: string): string {
    return `${nick}!${nick}@${this.serverName}`;
  }

  /** True when `nick` is this connection's own (compared as IRC compares nicks). */
  isMe(nick: string): boolean {
    return foldNick(nick) === foldNick(this.nick);
  }

  /** A numeric reply to this client: `:server CODE nick params... :text`. */
  numeric(code: string, ...params: string[]): string {
    // The parameters before the text may echo what a client sent (a nick, a channel): one that
    // is empty, holds a space or starts with `:` would shift every parameter after it, so it
    // is written as `*`, as other servers do.
    const middle = params
      .slice(0, -1)
      .map((p) => (p === '' || p.startsWith(':') || p.includes(' ') ? '*' : p));
    return formatLine({
      source: this.serverName,
      command: code,
      params: [this.nick, ...middle, ...params.slice(-1)],
      trailing: true,
    });
  }

  /** A numeric whose last parameter is a value, not text (a mode, a mask, a time). */
  numericValues(code: string, ...params: string[]): string {
    return formatLine({ source: this.serverName, command: code, params: [this.nick, ...params] });
  }

  /** A line from the server itself (`NOTICE`, `CAP`, `PONG`...). */
  fromServer(command: string, ...params: string[]): string {
    return formatLine({ source: this.serverName, command, params, trailing: TEXT.has(command) });
  }

  /** A line from a chat user, tagged with the time (server-time) when the client asked for it. */
  fromUser(nick: string, command: string, params: string[], at?: number): string {
    const trailing = TEXT.has(command) || ((command === 'PART' || command === 'KICK') && params.length > 1);
    return formatLine({ tags: this.tags(at), source: this.mask(nick), command, params, trailing });
  }

  /** The tags a line carries for this client: `time` (server-time), `msgid` (message-tags). */
  tags(at?: number, id?: string, batch?: string): Tags {
    const tags: Tags = {};
    if (batch !== undefined) tags.batch = batch;
    if (this.caps.has('server-time')) tags.time = serverTime(at ?? Date.now());
    if (id !== undefined && this.caps.has('message-tags')) tags.msgid = id;
    return tags;
  }

  /** A fresh batch reference (IRCv3 batch). */
  nextBatch(): string {
    this.#batches = (this.#batches + 1) % 1_000_000;
    return `h${this.#batches}`;
  }
}
