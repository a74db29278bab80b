/**
 * What a person types, read as chat commands: a plain line is a message to the current room,
 * a line starting with `/` a command. One reading for every place people type: line mode
 * (`nc`), `sockit chat join` and the web client (this module imports no runtime code, so the
 * browser bundle shares it).
 */
import type { BanTarget, ChatCommand } from './protocol.js';

/** The commands, as `/help` shows them. */
export const SLASH_HELP = [
  'commands: /join ROOM, /part [ROOM], /msg NICK TEXT, /me TEXT, /who [ROOM], /rooms,',
  '          /nick NICK, /topic TEXT, /away [TEXT], /whois NICK, /quit',
  'operators: /kick NICK [REASON], /ban NICK|account:NAME [REASON], /unban NICK|account:NAME,',
  '          /bans, /op NICK, /deop NICK, /lock, /unlock (the topic: operators only)',
  'other lines go to the current room',
].join('\n');

/** What a line asks for: a command for the server, a local action, or a line of help. */
export type Parsed = { command: ChatCommand } | { quit: true } | { help: true } | { error: string };

/** `account:NAME` names an account (every nick it uses), anything else a nick. */
function banTarget(word: string): BanTarget {
  return word.toLowerCase().startsWith('account:') ? { account: word.slice(8) } : { nick: word };
}

/**
 * A typed line as a command; `room` is the current room (where `/topic`, `/kick` and the
 * like apply).
 *
 * @example
 * ```ts
 * parseLine('hello', 'lobby'); // { command: { type: 'say', room: 'lobby', text: 'hello' } }
 * parseLine('/kick bob spam', 'lobby'); // { command: { type: 'kick', room: 'lobby', nick: 'bob', reason: 'spam' } }
 * ```
 */
export function parseLine(line: string, room: string): Parsed {
  if (!line.startsWith('/')) return { command: { type: 'say', room, text: line } };
  const [name = '', ...rest] = line.slice(1).split(' ');
  const args = rest.filter((a) => a !== '');
  const tail = line.slice(1 + name.length).trim();
  /** What follows the first argument: a reason, a message. */
  const after = (first: string | undefined): string => tail.slice((first ?? '').length).trim();
  switch (name.toLowerCase()) {
    case 'join':
      return args[0] ? { command: { type: 'join', room: args[0] } } : { error: 'usage: /join ROOM' };
    case 'part':
    case 'leave':
      return { command: { type: 'part', room: args[0] ?? room } };
    case 'msg':
    case 'query': {
      const [to, ...words] = args;
      return to && words.length > 0
        ? { command: { type: 'dm', to, text: after(to) } }
        : { error: 'usage: /msg NICK TEXT' };
    }
    case 'me':
      return tail
        ? { command: { type: 'say', room, text: tail, action: true } }
        : { error: 'usage: /me TEXT' };
    case 'who':
    case 'names':
      return { command: { type: 'members', room: args[0] ?? room } };
    case 'rooms':
    case 'list':
      return { command: { type: 'rooms' } };
    case 'nick':
      return args[0] ? { command: { type: 'nick', nick: args[0] } } : { error: 'usage: /nick NICK' };
    case 'topic':
      return { command: { type: 'topic', room, topic: tail } };
    case 'away':
      return { command: tail ? { type: 'away', message: tail } : { type: 'away' } };
    case 'whois':
      return args[0] ? { command: { type: 'whois', nick: args[0] } } : { error: 'usage: /whois NICK' };
    case 'kick': {
      const reason = after(args[0]);
      return args[0]
        ? { command: { type: 'kick', room, nick: args[0], ...(reason ? { reason } : {}) } }
        : { error: 'usage: /kick NICK [REASON]' };
    }
    case 'ban': {
      const reason = after(args[0]);
      return args[0]
        ? { command: { type: 'ban', room, target: banTarget(args[0]), ...(reason ? { reason } : {}) } }
        : { error: 'usage: /ban NICK|account:NAME [REASON]' };
    }
    case 'unban':
      return args[0]
        ? { command: { type: 'unban', room, target: banTarget(args[0]) } }
        : { error: 'usage: /unban NICK|account:NAME' };
    case 'bans':
      return { command: { type: 'bans', room } };
    case 'op':
    case 'deop':
      return args[0]
        ? { command: { type: 'op', room, nick: args[0], op: name.toLowerCase() === 'op' } }
        : { error: `usage: /${name.toLowerCase()} NICK` };
    case 'lock':
    case 'unlock':
      return { command: { type: 'lock', room, locked: name.toLowerCase() === 'lock' } };
    case 'quit':
    case 'exit':
      return { quit: true };
    case 'help':
      return { help: true };
    default:
      return { error: `no command /${name}; /help lists them` };
  }
}
