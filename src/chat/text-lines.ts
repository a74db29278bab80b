/**
 * Chat events as lines for a person: what line mode writes to `nc`, and what the terminal
 * client and `sockit chat tail` print. Room messages read as the lesson's chat room printed
 * them, `[HH:MM] nick: text`; other rooms than the current one are named.
 */
import type { ChatEvent, ChatMessage } from './protocol.js';

/** `[HH:MM]` in the local time zone. */
export function clock(at: number): string {
  const d = new Date(at);
  return `[${String(d.getHours()).padStart(2, '0')}:${String(d.getMinutes()).padStart(2, '0')}]`;
}

/**
 * One message: `[HH:MM] nick: text`, `* nick text` for an action, `#room` when not `room`;
 * a direct message is `(private)`, or `(to NICK)` for your own coming back (`echo`).
 */
export function messageLine(m: ChatMessage, room?: string, echo = false): string {
  const where =
    m.room !== undefined
      ? m.room === room
        ? ''
        : `#${m.room} `
      : m.to === undefined
        ? ''
        : echo
          ? `(to ${m.to}) `
          : '(private) ';
  return m.action
    ? `${clock(m.at)} ${where}* ${m.from} ${m.text}`
    : `${clock(m.at)} ${where}${m.from}: ${m.text}`;
}

/**
 * The line (or lines, joined by `\n`) for an event; undefined for one a person need not see.
 * `echo`: the event is your own message coming back (see `messageLine`).
 */
export function eventLine(event: ChatEvent, room?: string, echo = false): string | undefined {
  const now = clock(Date.now());
  switch (event.type) {
    case 'welcome':
      return `-- welcome, ${event.nick}${event.admin ? ' (admin)' : ''}; /help lists the commands`;
    case 'message':
      return messageLine(event.message, room, echo) + (event.queued ? ' (kept until they log in)' : '');
    case 'joined': {
      const names = event.members.map((m) => (m.op ? `@${m.nick}` : m.nick)).join(' ');
      const topic = event.room.topic ? `\n-- topic: ${event.room.topic}` : '';
      return `-- you are in #${event.room.name}: ${names}${event.truncated ? ' ...' : ''}${topic}`;
    }
    case 'join':
      return `${now} -- ${event.member.nick} joined #${event.room}`;
    case 'part':
      return `${now} -- ${event.nick} left #${event.room}${event.reason ? ` (${event.reason})` : ''}`;
    case 'kick':
      return `${now} -- ${event.by} put ${event.nick} out of #${event.room}${event.reason ? ` (${event.reason})` : ''}`;
    case 'ban':
      return `${now} -- ${event.by} ${event.active ? 'banned' : 'lifted the ban on'} ${banName(event.target)} in #${event.room}`;
    case 'op':
      return `${now} -- ${event.by} ${event.op ? 'made' : 'unmade'} ${event.nick} an operator of #${event.room}`;
    case 'topic':
      return `${now} -- ${event.by} set the topic of #${event.room}: ${event.topic || '(none)'}`;
    case 'nick':
      return `${now} -- ${event.old} is now ${event.nick}`;
    case 'presence':
      return `${now} -- ${event.nick} ${event.away === undefined ? 'is back' : `is away: ${event.away}`}`;
    case 'quit':
      return `${now} -- ${event.nick} quit${event.reason ? ` (${event.reason})` : ''}`;
    case 'typing':
      return undefined;
    case 'rooms':
      return event.rooms.length === 0
        ? '-- no rooms'
        : event.rooms.map((r) => `-- #${r.name} (${r.members})${r.topic ? `: ${r.topic}` : ''}`).join('\n');
    case 'members':
      return `-- #${event.room.name}: ${event.members.map((m) => `${m.op ? '@' : ''}${m.nick}${m.away ? ' (away)' : ''}`).join(' ')}`;
    case 'bans':
      return `-- bans in #${event.room}: ${event.bans.map(banName).join(' ') || '(none)'}`;
    case 'whois': {
      const u = event.user;
      const state = u.online
        ? `online${u.away ? `, away: ${u.away}` : ''}${u.rooms?.length ? `, in ${u.rooms.map((r) => `#${r}`).join(' ')}` : ''}`
        : `offline${u.lastSeen ? `, last seen ${new Date(u.lastSeen).toISOString()}` : ''}`;
      return `-- ${u.nick}${u.account ? ` (account ${u.account})` : ' (guest)'}: ${state}`;
    }
    case 'history': {
      if (event.messages.length === 0) return undefined;
      const head = event.offline ? '-- messages that waited for you:' : undefined;
      const body = event.messages.map((m) => messageLine(m, room)).join('\n');
      return head ? `${head}\n${body}` : body;
    }
    default:
      return undefined;
  }
}

function banName(target: { nick: string } | { account: string }): string {
  return 'nick' in target ? target.nick : `account ${target.account}`;
}
