/**
 * MODE, as far as the hub's rooms have modes: `o` (operator: the hub's `op`), `t` (only
 * operators set the topic: `lock`), `b` (bans by nick, `nick!*@*`, or by account, `$a:name`),
 * and `n`, which is always on (only members talk in a room). A query (`MODE #room`) is
 * answered from what the connection has seen. User modes `i` and `w` are taken and shown
 * back; they change nothing in a chat where nobody is listed by address.
 */
import { normalizeRoom } from '../names.js';
import { local, needMore } from './answers.js';
import type { IrcConnection } from './connection.js';
import { banTarget } from './listings.js';
import { ERR, RPL } from './numerics.js';
import { MAX_MODES } from './welcome.js';

const USER_MODES = new Set(['i', 'w']);

export function mode(c: IrcConnection, params: string[]): void {
  if (needMore(c, 'MODE', params, 1)) return;
  const [target, changes, ...args] = params as [string, string | undefined, ...string[]];
  if (!target.startsWith('#')) {
    userMode(c, target, changes);
    return;
  }
  const ctx = c.ctx;
  if (changes === undefined) {
    if (!local(c, 'MODE')) return;
    const view = ctx.rooms.get(normalizeRoom(target) ?? '');
    if (view === undefined) {
      c.write([ctx.numeric(ERR.NOTONCHANNEL, target, "You're not on that channel")]);
      return;
    }
    c.write([ctx.numericValues(RPL.CHANNELMODEIS, target, view.locked ? '+nt' : '+n')]);
    return;
  }
  let sign: '+' | '-' = '+';
  let done = 0;
  for (const letter of changes) {
    if (letter === '+' || letter === '-') {
      sign = letter;
      continue;
    }
    if (++done > MAX_MODES) break;
    const refused = { command: 'MODE', channel: target };
    switch (letter) {
      case 'b': {
        const mask = args.shift();
        if (mask === undefined) {
          c.run({ type: 'bans', room: target }, refused);
          break;
        }
        const banned = banTarget(mask);
        if (banned === undefined) {
          const why = `${mask.slice(0, 60)}: bans are kept by nick (nick!*@*) or by account ($a:name)`;
          c.write([ctx.fromServer('NOTICE', ctx.nick, why)]);
          break;
        }
        c.run(
          sign === '+'
            ? { type: 'ban', room: target, target: banned }
            : { type: 'unban', room: target, target: banned },
          refused,
        );
        break;
      }
      case 'o': {
        const nick = args.shift();
        if (nick === undefined) return void needMore(c, 'MODE', [], 1);
        c.run({ type: 'op', room: target, nick, op: sign === '+' }, { ...refused, nick });
        break;
      }
      case 't':
        c.run({ type: 'lock', room: target, locked: sign === '+' }, refused);
        break;
      case 'n':
        break;
      default:
        if (local(c, 'MODE')) c.write([ctx.numeric(ERR.UNKNOWNMODE, letter, 'is unknown mode char to me')]);
    }
  }
}

/** MODE on a nick: only one's own, and only `i` and `w`. */
function userMode(c: IrcConnection, target: string, changes: string | undefined): void {
  const ctx = c.ctx;
  if (!local(c, 'MODE')) return;
  if (!ctx.isMe(target)) {
    c.write([ctx.numeric(ERR.USERSDONTMATCH, "Can't change mode for other users")]);
    return;
  }
  if (changes === undefined) {
    c.write([ctx.numericValues(RPL.UMODEIS, `+${[...ctx.userModes].join('')}`)]);
    return;
  }
  let sign = '+';
  let applied = '';
  let appliedSign = '';
  for (const letter of changes) {
    if (letter === '+' || letter === '-') {
      sign = letter;
      continue;
    }
    if (!USER_MODES.has(letter)) {
      c.write([ctx.numeric(ERR.UMODEUNKNOWNFLAG, 'Unknown MODE flag')]);
      continue;
    }
    if ((sign === '+') === ctx.userModes.has(letter)) continue;
    if (sign === '+') ctx.userModes.add(letter);
    else ctx.userModes.delete(letter);
    if (sign !== appliedSign) applied += sign;
    appliedSign = sign;
    applied += letter;
  }
  if (applied !== '') c.write([ctx.fromUser(ctx.nick, 'MODE', [ctx.nick, applied])]);
}
