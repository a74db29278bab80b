/**
 * The numeric replies the IRC transport sends (RFC 1459 §6, RFC 2812 §5, and IRCv3's for
 * SASL), and how a hub refusal becomes one: the code says what went wrong, the command that
 * was refused says which numeric a client expects for it (a refused JOIN of a banned room is
 * 474, a refused PRIVMSG to it 404).
 */
import { ErrorCode } from '../../errors.js';
import type { Refusal } from '../protocol.js';

export const RPL = {
  WELCOME: '001',
  YOURHOST: '002',
  CREATED: '003',
  MYINFO: '004',
  ISUPPORT: '005',
  UMODEIS: '221',
  TRYAGAIN: '263',
  AWAY: '301',
  UNAWAY: '305',
  NOWAWAY: '306',
  WHOISUSER: '311',
  WHOISSERVER: '312',
  WHOISOPERATOR: '313',
  ENDOFWHO: '315',
  ENDOFWHOIS: '318',
  WHOISCHANNELS: '319',
  LISTSTART: '321',
  LIST: '322',
  LISTEND: '323',
  CHANNELMODEIS: '324',
  WHOISACCOUNT: '330',
  NOTOPIC: '331',
  TOPIC: '332',
  TOPICWHOTIME: '333',
  WHOREPLY: '352',
  NAMREPLY: '353',
  ENDOFNAMES: '366',
  BANLIST: '367',
  ENDOFBANLIST: '368',
  MOTD: '372',
  MOTDSTART: '375',
  ENDOFMOTD: '376',
  LOGGEDIN: '900',
  SASLSUCCESS: '903',
  SASLMECHS: '908',
} as const;

export const ERR = {
  NOSUCHNICK: '401',
  NOSUCHCHANNEL: '403',
  CANNOTSENDTOCHAN: '404',
  TOOMANYCHANNELS: '405',
  INVALIDCAPCMD: '410',
  NORECIPIENT: '411',
  NOTEXTTOSEND: '412',
  INPUTTOOLONG: '417',
  UNKNOWNCOMMAND: '421',
  NOMOTD: '422',
  NONICKNAMEGIVEN: '431',
  ERRONEUSNICKNAME: '432',
  NICKNAMEINUSE: '433',
  USERNOTINCHANNEL: '441',
  NOTONCHANNEL: '442',
  NOTREGISTERED: '451',
  NEEDMOREPARAMS: '461',
  ALREADYREGISTERED: '462',
  PASSWDMISMATCH: '464',
  UNKNOWNMODE: '472',
  BANNEDFROMCHAN: '474',
  CHANOPRIVSNEEDED: '482',
  RESTRICTED: '484',
  UMODEUNKNOWNFLAG: '501',
  USERSDONTMATCH: '502',
  SASLFAIL: '904',
  SASLTOOLONG: '905',
  SASLABORTED: '906',
  SASLALREADY: '907',
} as const;

/** What was refused: the IRC command, and the channel or nick it was about. */
export interface RefusedCommand {
  command: string;
  /** The channel (`#room`) the command was about, if any. */
  channel?: string;
  /** The nick the command was about (NICK's new nick, a DM's target, a KICK's victim). */
  nick?: string;
}

/** A reply for a refusal: a numeric and its parameters before the text, or a server NOTICE. */
export type RefusalReply =
  | { numeric: string; params: string[]; text: string }
  | { notice: string }
  /** An IRCv3 standard reply: `FAIL <command> <code> [<context>...] :<text>`. */
  | { fail: string[]; text: string }
  /** Nothing: RFC 2812 §3.3.2, a NOTICE is never answered. */
  | { silent: true };

/**
 * The reply to send for `refusal` of `refused`. The hub's sentence stays the text: it says
 * more than RFC 2812's stock phrases ("the nick ann is taken; choose another").
 *
 * @example
 * ```ts
 * refusalReply({ command: 'JOIN', channel: '#ops' }, { code: 'ERR_BANNED', message: 'you are banned from ops' });
 * // { numeric: '474', params: ['#ops'], text: 'you are banned from ops' }
 * ```
 */
export function refusalReply(refused: RefusedCommand, refusal: Refusal): RefusalReply {
  const { command } = refused;
  if (command === 'NOTICE') return { silent: true };
  const text = refusal.message;
  const channel = refused.channel ?? '*';
  const nick = refused.nick ?? '*';
  const talk = command === 'PRIVMSG' || command === 'TAGMSG';
  const reply = (numeric: string, ...params: string[]): RefusalReply => ({ numeric, params, text });
  const missing = refusal.code === ErrorCode.NO_SUCH_ROOM || refusal.code === ErrorCode.BAD_ROOM;
  // Listings of what is not there end empty (RFC 2812 §3.2.5, §3.6.1), and a history request
  // is answered with IRCv3's standard replies.
  if (command === 'NAMES' && missing)
    return { numeric: RPL.ENDOFNAMES, params: [channel], text: 'End of /NAMES list' };
  if (command === 'WHO' && (missing || refusal.code === ErrorCode.NO_SUCH_NICK))
    return { numeric: RPL.ENDOFWHO, params: [refused.channel ?? nick], text: 'End of WHO list' };
  if (command === 'CHATHISTORY' && refusal.code !== ErrorCode.THROTTLED) {
    const code = missing || refusal.code === ErrorCode.NOT_IN_ROOM ? 'INVALID_TARGET' : 'MESSAGE_ERROR';
    return { fail: ['CHATHISTORY', code, channel], text };
  }
  switch (refusal.code) {
    case ErrorCode.NOT_REGISTERED:
      return reply(ERR.NOTREGISTERED);
    case ErrorCode.BAD_NICK:
      return reply(ERR.ERRONEUSNICKNAME, nick);
    case ErrorCode.NICK_IN_USE:
      return reply(ERR.NICKNAMEINUSE, nick);
    case ErrorCode.BAD_ROOM:
    case ErrorCode.NO_SUCH_ROOM:
      return reply(ERR.NOSUCHCHANNEL, channel);
    case ErrorCode.NO_SUCH_NICK:
      return reply(ERR.NOSUCHNICK, nick);
    case ErrorCode.NOT_IN_ROOM:
      if (talk) return reply(ERR.CANNOTSENDTOCHAN, channel);
      if (refused.nick !== undefined) return reply(ERR.USERNOTINCHANNEL, nick, channel);
      return reply(ERR.NOTONCHANNEL, channel);
    case ErrorCode.BANNED:
      return talk ? reply(ERR.CANNOTSENDTOCHAN, channel) : reply(ERR.BANNEDFROMCHAN, channel);
    case ErrorCode.NOT_OPERATOR:
      return reply(ERR.CHANOPRIVSNEEDED, channel);
    case ErrorCode.TOO_MANY_ROOMS:
      return reply(ERR.TOOMANYCHANNELS, channel);
    case ErrorCode.THROTTLED:
      return reply(RPL.TRYAGAIN, command);
    case ErrorCode.FORBIDDEN:
      return command === 'NICK' ? reply(ERR.RESTRICTED) : { notice: text };
    default:
      return { notice: text };
  }
}
