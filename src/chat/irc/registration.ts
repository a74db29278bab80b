/**
 * An IRC client's registration (RFC 2812 §3.1, IRCv3 capability negotiation and SASL 3.1):
 * NICK and USER in any order, CAP negotiation holding it until CAP END, and a log-in to an
 * account by PASS (`account:password`, or the password of the account named as the nick) or
 * by SASL PLAIN, which is offered over TLS only. Once all is in, the client becomes a hub
 * session: an account logs in (its nick is its name), a guest takes its nick; a nick in use is
 * answered with 433 and the client may send another.
 */

import { isOutOfStep, ThrottledError } from '../../auth/login-transport.js';
import { checkUserName } from '../../auth/names.js';
import type { UserRecord } from '../../auth/store.js';
import { isSockitError } from '../../errors.js';
import { nickProblem } from '../names.js';
import type { ChatEvent } from '../protocol.js';
import type { IrcConnection } from './connection.js';
import type { IrcMessage } from './message.js';
import { ERR, RPL } from './numerics.js';
import { checkPassword } from './password.js';
import { welcomeLines } from './welcome.js';

/** SASL 3.1: the client sends its response in pieces of 400 bytes; a shorter one ends it. */
const SASL_CHUNK = 400;
/** Longest SASL PLAIN response accepted, in base64 characters. */
const MAX_SASL = 1600;

export class Registration {
  readonly #c: IrcConnection;
  #pass: string | undefined;
  #nick: string | undefined;
  #user = false;
  /** The account SASL logged in to. */
  #account: UserRecord | undefined;
  /** A SASL PLAIN exchange under way: the response so far. */
  #sasl: string | undefined;
  readonly #counts = { attempts: 0, throttled: 0 };
  #done = false;

  constructor(connection: IrcConnection) {
    this.#c = connection;
  }

  /** The client has registered: its lines are commands from now on. */
  get done(): boolean {
    return this.#done;
  }

  async handle(m: IrcMessage): Promise<void> {
    const c = this.#c;
    const ctx = c.ctx;
    if (!c.spendLocal()) {
      c.end('too many lines before registering', 'Closing link: too many lines before registering');
      return;
    }
    const [first] = m.params;
    switch (m.command) {
      case 'CAP': {
        const { replies, invalid } = ctx.caps.handle(m.params, false);
        if (invalid !== undefined) c.write([ctx.numeric(ERR.INVALIDCAPCMD, invalid, 'Invalid CAP command')]);
        c.write(replies.map((r) => ctx.fromServer('CAP', this.#nick ?? '*', ...r)));
        return this.#complete();
      }
      case 'PASS':
        if (first === undefined) return this.#needMore(m.command);
        this.#pass = first;
        return;
      case 'NICK': {
        if (first === undefined || first === '')
          return c.write([ctx.numeric(ERR.NONICKNAMEGIVEN, 'No nickname given')]);
        const problem = nickProblem(first);
        if (problem !== undefined) {
          return c.write([ctx.numeric(ERR.ERRONEUSNICKNAME, first.slice(0, 40), problem.message)]);
        }
        this.#nick = first;
        return this.#complete();
      }
      case 'USER':
        if (m.params.length < 4) return this.#needMore(m.command);
        this.#user = true;
        return this.#complete();
      case 'AUTHENTICATE':
        if (first === undefined) return this.#needMore(m.command);
        await this.#authenticate(first);
        return;
      case 'PING':
        c.write([ctx.fromServer('PONG', ctx.serverName, first ?? ctx.serverName)]);
        return;
      case 'PONG':
        return;
      case 'QUIT':
        c.end('Quit', 'Closing link: quit');
        return;
      default:
        c.write([ctx.numeric(ERR.NOTREGISTERED, 'You have not registered')]);
    }
  }

  #needMore(command: string): void {
    this.#c.write([this.#c.ctx.numeric(ERR.NEEDMOREPARAMS, command, 'Not enough parameters')]);
  }

  /** SASL PLAIN (RFC 4616): `AUTHENTICATE PLAIN`, `+`, then `authzid NUL authcid NUL password` in base64. */
  async #authenticate(arg: string): Promise<void> {
    const c = this.#c;
    const ctx = c.ctx;
    const fail = (why: string): void =>
      c.write([ctx.numeric(ERR.SASLFAIL, `SASL authentication failed: ${why}`)]);
    if (!ctx.caps.offersSasl) return fail('SASL is offered over TLS only');
    if (c.settings.login === undefined) return fail('this server has no accounts');
    if (this.#account !== undefined)
      return c.write([ctx.numeric(ERR.SASLALREADY, 'You have already authenticated using SASL')]);
    if (arg === '*') {
      this.#sasl = undefined;
      return c.write([ctx.numeric(ERR.SASLABORTED, 'SASL authentication aborted')]);
    }
    if (this.#sasl === undefined) {
      if (arg.toUpperCase() !== 'PLAIN') {
        c.write([ctx.numeric(RPL.SASLMECHS, 'PLAIN', 'are available SASL mechanisms')]);
        return fail(`${arg.slice(0, 20)} is not offered`);
      }
      this.#sasl = '';
      return c.write(['AUTHENTICATE +']);
    }
    if (arg !== '+') this.#sasl += arg;
    if (this.#sasl.length > MAX_SASL) {
      this.#sasl = undefined;
      return c.write([ctx.numeric(ERR.SASLTOOLONG, 'SASL message too long')]);
    }
    if (arg.length === SASL_CHUNK) return;
    const response = Buffer.from(this.#sasl, 'base64');
    const valid = response.toString('base64') === this.#sasl;
    this.#sasl = undefined;
    const [authzid, authcid, password, ...extra] = response.toString('utf8').split('\0');
    if (!valid || password === undefined || extra.length > 0 || !authcid)
      return fail('malformed PLAIN response');
    if (authzid !== '' && authzid !== authcid) return fail('authorization identities are not supported');
    const account = await this.#check(authcid, password, 'sasl');
    if (account === undefined) return;
    this.#account = account;
    const nick = this.#nick ?? '*';
    c.write([
      ctx.numeric(RPL.LOGGEDIN, ctx.mask(nick), account.name, `You are now logged in as ${account.name}`),
      ctx.numeric(RPL.SASLSUCCESS, 'SASL authentication successful'),
    ]);
  }

  /** The account when the password is right; else the refusal is written (and, past the attempts allowed, the connection ends). */
  async #check(user: string, password: string, via: 'pass' | 'sasl'): Promise<UserRecord | undefined> {
    const c = this.#c;
    const login = c.settings.login;
    if (login === undefined) return undefined;
    const peer = { address: c.conn.address, loginStarted: () => c.conn.loginStarted(), log: c.log };
    try {
      return await checkPassword(login, user, password, peer, this.#counts);
    } catch (err) {
      if (!isSockitError(err)) throw err;
      const why = err instanceof ThrottledError ? err.message : 'invalid username or password';
      // A wrong PASS ends the connection (the client meant to log in, not to be a guest);
      // a SASL client may try again, up to the attempts the log-in server allows.
      if (via === 'pass') c.write([c.ctx.numeric(ERR.PASSWDMISMATCH, why)]);
      else c.write([c.ctx.numeric(ERR.SASLFAIL, `SASL authentication failed: ${why}`)]);
      if (isOutOfStep(err) || via === 'pass') c.end('log-in failed', `Closing link: ${why}`);
      return undefined;
    }
  }

  /** Registers the client once NICK, USER, CAP END and any log-in are in. */
  async #complete(): Promise<void> {
    const c = this.#c;
    if (this.#done || this.#nick === undefined || !this.#user) return;
    if (c.ctx.caps.negotiating || this.#sasl !== undefined) return;
    let account = this.#account;
    if (account === undefined && this.#pass !== undefined && c.settings.login !== undefined) {
      if (!c.tls && !c.settings.clearPasswordFrom(c.conn.address)) {
        // The password crossed the network in clear: refused, so that nobody makes a habit
        // of it (as SASL PLAIN, offered over TLS only). On this host it never left it.
        const why = 'a password is not taken over a connection without TLS: connect with TLS, or as a guest';
        c.write([c.ctx.numeric(ERR.PASSWDMISMATCH, why)]);
        c.end('log-in refused', `Closing link: ${why}`);
        return;
      }
      const [user, password] = splitPass(this.#pass, this.#nick);
      account = await this.#check(user, password, 'pass');
      if (account === undefined) return;
    }
    const server = c.settings.server;
    let session = c.session;
    if (session === undefined) {
      const attached = server.attach(c);
      if ('refusal' in attached)
        return c.end('the chat is full', `Closing link: ${attached.refusal.message}`);
      session = attached.session;
      c.attached(session);
    }
    try {
      if (account !== undefined) {
        c.conn.authenticate(account.name);
        const refusal = server.login(session, account);
        if (refusal !== undefined) c.end('log-in refused', `Closing link: ${refusal.message}`);
        return;
      }
      const refusal = server.command(session, { type: 'nick', nick: this.#nick });
      if (refusal !== undefined) return c.answer({ command: 'NICK', nick: this.#nick }, refusal);
      c.conn.authenticate();
    } catch (err) {
      // The guard's cap on logged-in connections (per user, or all but the log-in reserve).
      if (!isSockitError(err)) throw err;
      c.end('too many connections', `Closing link: ${err.message}`);
    }
  }

  /** The hub's welcome: the client is registered, under the nick the hub gave. */
  welcomed(event: Extract<ChatEvent, { type: 'welcome' }>): void {
    const c = this.#c;
    this.#done = true;
    c.ctx.nick = event.nick;
    c.ctx.account = event.account;
    c.write(welcomeLines(c.ctx, c.settings.motd));
    if (event.account !== undefined && this.#account === undefined) {
      const { ctx } = c;
      c.write([
        ctx.numeric(
          RPL.LOGGEDIN,
          ctx.mask(ctx.nick),
          event.account,
          `You are now logged in as ${event.account}`,
        ),
      ]);
    }
  }
}

/** PASS's value: `account:password`, or a password for the account named as the nick. */
function splitPass(pass: string, nick: string): [string, string] {
  const colon = pass.indexOf(':');
  if (colon > 0) {
    const name = pass.slice(0, colon);
    try {
      return [checkUserName(name), pass.slice(colon + 1)];
    } catch {
      // Not a user name before the colon: the colon is the password's own.
    }
  }
  return [nick, pass];
}
