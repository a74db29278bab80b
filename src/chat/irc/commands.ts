/**
 * A registered client's commands: each becomes one or more hub commands (PRIVMSG to `#room`
 * is `say`, to a nick `dm`; CTCP ACTION is `action: true`; JOIN, PART, TOPIC, AWAY, NICK...),
 * or is answered here (PING, CAP, a TOPIC or MODE query). Listings and modes are in
 * `queries.ts` and `modes.ts`.
 */
import { normalizeRoom } from '../names.js';
import { checkText } from '../text.js';
import { local, needMore } from './answers.js';
import type { IrcConnection } from './connection.js';
import { topicReplies } from './listings.js';
import type { IrcMessage } from './message.js';
import { mode } from './modes.js';
import { ERR } from './numerics.js';
import { chathistory, list, names, who, whois } from './queries.js';
import { MAX_TARGETS, welcomeLines } from './welcome.js';

type Handler = (c: IrcConnection, params: string[], m: IrcMessage) => void;

/** Runs one command of a registered client. */
export function runCommand(c: IrcConnection, m: IrcMessage): void {
  const handler = HANDLERS.get(m.command);
  if (handler !== undefined) {
    handler(c, m.params, m);
    return;
  }
  if (local(c, m.command)) c.write([c.ctx.numeric(ERR.UNKNOWNCOMMAND, m.command, 'Unknown command')]);
}

/** PRIVMSG and NOTICE: `#room` targets are room messages, others direct messages. */
function talk(c: IrcConnection, params: string[], m: IrcMessage): void {
  const command = m.command;
  const [targets, text] = params;
  const notice = command === 'NOTICE';
  if (!targets) {
    if (!notice) c.write([c.ctx.numeric(ERR.NORECIPIENT, `No recipient given (${command})`)]);
    return;
  }
  if (text === undefined || text === '') {
    if (!notice) c.write([c.ctx.numeric(ERR.NOTEXTTOSEND, 'No text to send')]);
    return;
  }
  let body = text;
  let action = false;
  if (text.startsWith('\x01')) {
    const inner = text.slice(1, text.endsWith('\x01') && text.length > 1 ? -1 : undefined);
    // CTCP: ACTION is `/me`; other queries (VERSION, PING...) are not carried to chat users.
    if (!/^ACTION(?: |$)/i.test(inner)) return;
    action = true;
    body = inner.slice(7);
  }
  for (const target of targets.split(',').slice(0, MAX_TARGETS)) {
    const extra = action ? { action: true } : {};
    if (target.startsWith('#'))
      c.run({ type: 'say', room: target, text: body, ...extra }, { command, channel: target });
    else c.run({ type: 'dm', to: target, text: body, ...extra }, { command, nick: target });
  }
}

/** TAGMSG: IRCv3 typing notices (`+typing`); other client tags have no place in the hub. */
function tagmsg(c: IrcConnection, params: string[], m: IrcMessage): void {
  const typing = m.tags.get('+typing');
  const [target] = params;
  if (typing === undefined || !target) return;
  const active = typing === 'active';
  const where = target.startsWith('#') ? { room: target } : { to: target };
  c.run({ type: 'typing', ...where, active }, { command: 'TAGMSG', channel: target, nick: target });
}

function join(c: IrcConnection, params: string[]): void {
  if (needMore(c, 'JOIN', params, 1)) return;
  const ctx = c.ctx;
  if (params[0] === '0') {
    for (const room of [...ctx.rooms.keys()])
      c.run({ type: 'part', room }, { command: 'PART', channel: `#${room}` });
    return;
  }
  for (const chan of (params[0] as string).split(',').slice(0, ctx.limits.maxRoomsPerSession)) {
    if (!chan.startsWith('#')) {
      // Answered here, not by the hub: each spends the connection's own tokens, or one line
      // of fifty such names would draw fifty answers unmetered.
      if (!local(c, 'JOIN')) return;
      c.write([ctx.numeric(ERR.NOSUCHCHANNEL, chan, 'No such channel')]);
      continue;
    }
    const room = normalizeRoom(chan);
    // A first join brings a scrollback page, which may be written before run() returns.
    const asks = room !== undefined && !ctx.rooms.has(room) && ctx.limits.scrollback > 0;
    if (asks) {
      const list = ctx.awaitHistory.get(room) ?? [];
      list.push({ kind: 'scrollback' });
      ctx.awaitHistory.set(room, list);
    }
    if (!c.run({ type: 'join', room: chan }, { command: 'JOIN', channel: chan }) && asks) {
      ctx.awaitHistory.get(room)?.pop();
    }
  }
}

function part(c: IrcConnection, params: string[]): void {
  if (needMore(c, 'PART', params, 1)) return;
  const reason = params[1] ? { reason: params[1] } : {};
  for (const chan of (params[0] as string).split(',')) {
    c.run({ type: 'part', room: chan, ...reason }, { command: 'PART', channel: chan });
  }
}

function topic(c: IrcConnection, params: string[]): void {
  if (needMore(c, 'TOPIC', params, 1)) return;
  const chan = params[0] as string;
  if (params[1] !== undefined) {
    c.run({ type: 'topic', room: chan, topic: params[1] }, { command: 'TOPIC', channel: chan });
    return;
  }
  if (!local(c, 'TOPIC')) return;
  const view = c.ctx.rooms.get(normalizeRoom(chan) ?? '');
  if (view === undefined) c.write([c.ctx.numeric(ERR.NOTONCHANNEL, chan, "You're not on that channel")]);
  else c.write(topicReplies(c.ctx, chan, view, true));
}

function kick(c: IrcConnection, params: string[]): void {
  if (needMore(c, 'KICK', params, 2)) return;
  const chan = params[0] as string;
  const reason = params[2] ? { reason: params[2] } : {};
  for (const nick of (params[1] as string).split(',').slice(0, MAX_TARGETS)) {
    c.run({ type: 'kick', room: chan, nick, ...reason }, { command: 'KICK', channel: chan, nick });
  }
}

function nick(c: IrcConnection, params: string[]): void {
  const [wanted] = params;
  if (!wanted) {
    c.write([c.ctx.numeric(ERR.NONICKNAMEGIVEN, 'No nickname given')]);
    return;
  }
  c.run({ type: 'nick', nick: wanted }, { command: 'NICK', nick: wanted.slice(0, 40) });
}

function away(c: IrcConnection, params: string[]): void {
  c.run(params[0] ? { type: 'away', message: params[0] } : { type: 'away' }, { command: 'AWAY' });
}

function quit(c: IrcConnection, params: string[]): void {
  // The reason goes to everyone who shared a room: it follows the rules of a chat text.
  const said = params[0]
    ? checkText(params[0], { what: 'reason', maxBytes: c.ctx.limits.maxReasonBytes })
    : '';
  const reason = typeof said === 'string' && said !== '' ? `Quit: ${said}` : 'Quit';
  c.end(reason, 'Closing link: quit');
}

function cap(c: IrcConnection, params: string[]): void {
  if (!local(c, 'CAP')) return;
  const { replies, invalid } = c.ctx.caps.handle(params, true);
  if (invalid !== undefined) c.write([c.ctx.numeric(ERR.INVALIDCAPCMD, invalid, 'Invalid CAP command')]);
  c.write(replies.map((r) => c.ctx.fromServer('CAP', c.ctx.nick, ...r)));
}

function ping(c: IrcConnection, params: string[]): void {
  if (local(c, 'PING')) c.write([c.ctx.fromServer('PONG', c.ctx.serverName, params[0] ?? c.ctx.serverName)]);
}

function motd(c: IrcConnection): void {
  if (local(c, 'MOTD'))
    c.write(welcomeLines(c.ctx, c.settings.motd).filter((l) => / (?:37[256]|422) /.test(l)));
}

function reregister(c: IrcConnection, _params: string[], m: IrcMessage): void {
  if (local(c, m.command)) c.write([c.ctx.numeric(ERR.ALREADYREGISTERED, 'You may not reregister')]);
}

const HANDLERS = new Map<string, Handler>(
  Object.entries({
    PRIVMSG: talk,
    NOTICE: talk,
    TAGMSG: tagmsg,
    JOIN: join,
    PART: part,
    TOPIC: topic,
    KICK: kick,
    MODE: mode,
    NICK: nick,
    AWAY: away,
    QUIT: quit,
    CAP: cap,
    PING: ping,
    PONG: () => {},
    MOTD: motd,
    NAMES: names,
    WHO: who,
    WHOIS: whois,
    LIST: list,
    CHATHISTORY: chathistory,
    USER: reregister,
    PASS: reregister,
    AUTHENTICATE: reregister,
  }),
);
