/**
 * Questions a client asks of the hub: NAMES and WHO of a channel (`members`), WHOIS and WHO
 * of a nick (`whois`), LIST (`rooms`), CHATHISTORY (`history`). The answer comes as an event,
 * at once or after a scrollback still being read, so what each answer is shown as is
 * remembered first, and forgotten again when the hub refuses the question.
 */
import { normalizeRoom } from '../names.js';
import { local, needMore } from './answers.js';
import type { IrcConnection } from './connection.js';
import { parseChatHistory } from './history.js';
import { ERR, RPL } from './numerics.js';

export function names(c: IrcConnection, params: string[]): void {
  const [chans] = params;
  if (!chans) {
    if (local(c, 'NAMES')) c.write([c.ctx.numeric(RPL.ENDOFNAMES, '*', 'End of /NAMES list')]);
    return;
  }
  const chan = chans.split(',')[0] as string;
  c.ctx.awaitMembers.push('names');
  if (!c.run({ type: 'members', room: chan }, { command: 'NAMES', channel: chan })) c.ctx.awaitMembers.pop();
}

export function who(c: IrcConnection, params: string[]): void {
  const [mask] = params;
  const ctx = c.ctx;
  if (!mask || mask === '*' || mask === '0') {
    if (local(c, 'WHO')) c.write([ctx.numeric(RPL.ENDOFWHO, mask || '*', 'End of WHO list')]);
    return;
  }
  if (mask.startsWith('#')) {
    ctx.awaitMembers.push('who');
    if (!c.run({ type: 'members', room: mask }, { command: 'WHO', channel: mask })) ctx.awaitMembers.pop();
    return;
  }
  ctx.awaitWhois.push('who');
  if (!c.run({ type: 'whois', nick: mask }, { command: 'WHO', nick: mask })) ctx.awaitWhois.pop();
}

export function whois(c: IrcConnection, params: string[]): void {
  // `WHOIS server nick` asks a given server; there is one here.
  const nicks = params.length > 1 ? params[1] : params[0];
  if (!nicks) {
    c.write([c.ctx.numeric(ERR.NONICKNAMEGIVEN, 'No nickname given')]);
    return;
  }
  const nick = nicks.split(',')[0] as string;
  c.ctx.awaitWhois.push('whois');
  if (!c.run({ type: 'whois', nick }, { command: 'WHOIS', nick })) {
    c.ctx.awaitWhois.pop();
    c.write([c.ctx.numeric(RPL.ENDOFWHOIS, nick, 'End of /WHOIS list')]);
  }
}

export function list(c: IrcConnection, params: string[]): void {
  const [chans] = params;
  // ELIST conditions (`>3`, `C<10`...) are not kept: any other first parameter lists all.
  const only = chans?.startsWith('#')
    ? new Set(chans.split(',').flatMap((chan) => normalizeRoom(chan) ?? []))
    : undefined;
  c.ctx.awaitRooms.push(only);
  if (!c.run({ type: 'rooms' }, { command: 'LIST' })) c.ctx.awaitRooms.pop();
}

export function chathistory(c: IrcConnection, params: string[]): void {
  const ctx = c.ctx;
  const request = parseChatHistory(params, ctx.limits.maxHistoryPage);
  if ('fail' in request) {
    if (!local(c, 'CHATHISTORY')) return;
    if (request.targets) {
      // No direct-message history is kept per conversation: the list of targets is empty.
      if (!ctx.caps.has('batch')) return;
      const id = ctx.nextBatch();
      c.write([
        ctx.fromServer('BATCH', `+${id}`, 'draft/chathistory-targets'),
        ctx.fromServer('BATCH', `-${id}`),
      ]);
      return;
    }
    if (request.fail === 'NEED_MORE_PARAMS' && needMore(c, 'CHATHISTORY', params, 4)) return;
    c.write([ctx.fromServer('FAIL', 'CHATHISTORY', request.fail, ...params.slice(0, 2), request.text)]);
    return;
  }
  const asks = ctx.awaitHistory.get(request.room) ?? [];
  asks.push(request.ask);
  ctx.awaitHistory.set(request.room, asks);
  if (!c.run(request.command, { command: 'CHATHISTORY', channel: params[1] as string })) {
    asks.pop();
    if (asks.length === 0) ctx.awaitHistory.delete(request.room);
  }
}
