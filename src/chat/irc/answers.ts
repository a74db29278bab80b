/**
 * Small answers shared by the command handlers: the connection's own rate limit for what is
 * answered without the hub, and ERR_NEEDMOREPARAMS.
 */
import type { IrcConnection } from './connection.js';
import { ERR, RPL } from './numerics.js';

/**
 * Spends one of the connection's own tokens for a command answered without the hub; false
 * (after RPL_TRYAGAIN, but never for PING or PONG) when there is none left.
 */
export function local(c: IrcConnection, command: string): boolean {
  if (c.spendLocal()) return true;
  if (command !== 'PING' && command !== 'PONG')
    c.write([c.ctx.numeric(RPL.TRYAGAIN, command, 'Please wait a while and try again')]);
  return false;
}

/** Writes ERR_NEEDMOREPARAMS and returns true when `params` has fewer than `count`. */
export function needMore(c: IrcConnection, command: string, params: string[], count: number): boolean {
  if (params.length >= count && params[0] !== '') return false;
  c.write([c.ctx.numeric(ERR.NEEDMOREPARAMS, command, 'Not enough parameters')]);
  return true;
}
