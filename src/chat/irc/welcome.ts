/**
 * What a client is told once registered (RFC 2812 §5.1, and ISUPPORT as modern servers send
 * it): 001 to 004, 005 with the hub's limits in IRC's terms, and the message of the day
 * (375/372/376, or 422 when there is none).
 */
import { MAX_NICK_LENGTH, MAX_ROOM_LENGTH } from '../names.js';
import type { IrcContext } from './context.js';
import { ERR, RPL } from './numerics.js';

/** Targets one PRIVMSG or NOTICE may name. */
export const MAX_TARGETS = 4;
/** Mode changes one MODE line may carry. */
export const MAX_MODES = 4;
/** ISUPPORT tokens per 005 line (13 is what servers keep to, so lines stay short). */
const TOKENS_PER_LINE = 13;
const STARTED = new Date().toUTCString();

/** The ISUPPORT tokens: how this server's names and limits look to an IRC client. */
export function isupport(ctx: IrcContext): string[] {
  const l = ctx.limits;
  return [
    `AWAYLEN=${l.maxReasonBytes}`,
    'CASEMAPPING=rfc1459',
    `CHANLIMIT=#:${l.maxRoomsPerSession}`,
    'CHANMODES=b,,,nt',
    `CHANNELLEN=${MAX_ROOM_LENGTH + 1}`,
    'CHANTYPES=#',
    `CHATHISTORY=${l.maxHistoryPage}`,
    'EXTBAN=$,a',
    `KICKLEN=${l.maxReasonBytes}`,
    `MAXLIST=b:${l.maxBansPerRoom}`,
    `MODES=${MAX_MODES}`,
    'MSGREFTYPES=msgid,timestamp',
    `NETWORK=${ctx.serverName}`,
    `NICKLEN=${MAX_NICK_LENGTH}`,
    'PREFIX=(o)@',
    `TARGMAX=JOIN:,KICK:1,LIST:,NAMES:1,NOTICE:${MAX_TARGETS},PART:,PRIVMSG:${MAX_TARGETS},WHOIS:1`,
    `TOPICLEN=${l.maxTopicBytes}`,
    'UTF8ONLY',
  ];
}

/** 001-005 and the message of the day, for the nick in `ctx`. */
export function welcomeLines(ctx: IrcContext, motd: string[] | undefined): string[] {
  const { nick, serverName } = ctx;
  const lines = [
    ctx.numeric(RPL.WELCOME, `Welcome to the sockit chat, ${nick}`),
    ctx.numeric(RPL.YOURHOST, `Your host is ${serverName}, running sockit`),
    ctx.numeric(RPL.CREATED, `This server was created ${STARTED}`),
    ctx.numericValues(RPL.MYINFO, serverName, 'sockit', 'iw', 'bnot', 'bo'),
  ];
  const tokens = isupport(ctx);
  for (let i = 0; i < tokens.length; i += TOKENS_PER_LINE) {
    lines.push(
      ctx.numeric(RPL.ISUPPORT, ...tokens.slice(i, i + TOKENS_PER_LINE), 'are supported by this server'),
    );
  }
  if (motd === undefined || motd.length === 0) {
    lines.push(ctx.numeric(ERR.NOMOTD, 'MOTD File is missing'));
  } else {
    lines.push(ctx.numeric(RPL.MOTDSTART, `- ${serverName} Message of the day -`));
    for (const line of motd) lines.push(ctx.numeric(RPL.MOTD, `- ${line}`));
    lines.push(ctx.numeric(RPL.ENDOFMOTD, 'End of /MOTD command'));
  }
  return lines;
}
