/**
 * Registration over a real socket: NICK and USER, the welcome numerics and ISUPPORT, CAP
 * negotiation holding registration, refused nicks (433, 432) and commands before
 * registration (451).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { type IrcFixture, ircFixture } from '../../../test/irc.js';

let f: IrcFixture;
afterEach(() => f?.close());

describe('IRC registration', () => {
  it('welcomes a client with 001-005 (the hub limits as ISUPPORT) and 422', async () => {
    f = await ircFixture({ limits: { maxTopicBytes: 200, maxRoomsPerSession: 7 } });
    const ann = await f.connect();
    ann.send('NICK ann', 'USER ann 0 * :Ann Example');
    expect(await ann.expect(' 001 ')).toBe(':irc.sockit 001 ann :Welcome to the sockit chat, ann');
    await ann.expect(' 004 ann irc.sockit ');
    const isupport = [await ann.expect(' 005 '), await ann.expect(' 005 ')].join(' ');
    for (const token of ['CASEMAPPING=rfc1459', 'CHANTYPES=#', 'NICKLEN=32', 'CHANNELLEN=50', 'TOPICLEN=200'])
      expect(isupport).toContain(` ${token} `);
    expect(isupport).toContain(' CHANLIMIT=#:7 ');
    expect(isupport).toContain(' PREFIX=(o)@ ');
    await ann.expect(':irc.sockit 422 ann :MOTD File is missing');
    expect(f.server.sessions).toBe(1);
  });

  it('sends the message of the day when there is one', async () => {
    f = await ircFixture({ irc: { motd: ['be kind', 'no spam'] } });
    const ann = await f.connect();
    ann.send('USER ann 0 * :Ann', 'NICK ann');
    await ann.expect(' 375 ann ');
    expect(await ann.expect(' 372 ')).toBe(':irc.sockit 372 ann :- be kind');
    await ann.expect(' 372 ann :- no spam');
    await ann.expect(' 376 ann ');
  });

  it('refuses commands before registration with 451, and does not register without USER', async () => {
    f = await ircFixture();
    const ann = await f.connect();
    ann.send('JOIN #lobby', 'NICK ann');
    await ann.expect(':irc.sockit 451 * :You have not registered');
    const lines = await ann.settled();
    expect(lines.join('\n')).not.toContain(' 001 ');
    expect(f.server.sessions).toBe(0);
  });

  it('answers a nick in use with 433 and registers the next nick sent', async () => {
    f = await ircFixture();
    await f.guest('ann');
    const other = await f.connect();
    other.send('NICK ANN', 'USER x 0 * :x');
    expect(await other.expect(' 433 ')).toMatch(/^:irc\.sockit 433 \* ANN :the nick ANN is taken/);
    other.send('NICK ann{1}');
    await other.expect(':irc.sockit 001 ann{1} ');
    // ann[1] is ann{1} under rfc1459 case mapping.
    const third = await f.connect();
    third.send('NICK ann[1]', 'USER y 0 * :y');
    await third.expect(' 433 * ann[1] ');
  });

  it('answers a malformed nick with 432, before and after registration', async () => {
    f = await ircFixture();
    const ann = await f.connect();
    ann.send('NICK 1ann', 'NICK');
    expect(await ann.expect(' 432 ')).toMatch(/^:irc\.sockit 432 \* 1ann :bad nick "1ann"/);
    await ann.expect(' 431 * :No nickname given');
    ann.send('NICK ann', 'USER ann 0 * :a');
    await ann.expect(' 001 ann ');
    ann.send('NICK bad*nick');
    await ann.expect(' 432 ann bad*nick :');
    ann.send('NICK anna');
    expect(await ann.expect(' NICK ')).toMatch(/^:ann!ann@irc\.sockit NICK :?anna$/);
    ann.send('PING x');
    await ann.expect(':irc.sockit PONG irc.sockit x');
  });

  it('holds registration during CAP negotiation, acks known caps and naks unknown ones', async () => {
    f = await ircFixture();
    const ann = await f.connect();
    ann.send('CAP LS 302', 'NICK ann', 'USER ann 0 * :a');
    const ls = await ann.expect(' CAP * LS ');
    expect(ls).toContain('server-time');
    expect(ls).toContain('echo-message');
    expect(ls).toContain('draft/chathistory');
    expect(ls, 'SASL is not offered over plain TCP').not.toContain('sasl');
    ann.send('CAP REQ :server-time bogus');
    await ann.expect(':irc.sockit CAP ann NAK :server-time bogus');
    ann.send('CAP REQ :server-time away-notify');
    await ann.expect(':irc.sockit CAP ann ACK :server-time away-notify');
    expect((await ann.settled()).join('\n')).not.toContain(' 001 ');
    ann.send('CAP END');
    await ann.expect(' 001 ann ');
    ann.send('CAP LIST');
    await ann.expect(/ CAP ann LIST :(?:away-notify server-time|server-time away-notify)$/);
    ann.send('CAP BOGUS');
    await ann.expect(' 410 ann BOGUS :');
  });

  it('refuses USER and PASS again after registration (462), and unknown commands (421)', async () => {
    f = await ircFixture();
    const ann = await f.guest('ann');
    ann.send('USER a 0 * :b', 'PASS x', 'FROB x');
    await ann.expect(' 462 ann :You may not reregister');
    await ann.expect(' 462 ann :');
    await ann.expect(' 421 ann FROB :Unknown command');
  });

  it('ends with ERROR on QUIT, and the others see the quit', async () => {
    f = await ircFixture();
    const [ann, bob] = await f.together('#lobby', 'ann', 'bob');
    ann.send('QUIT :see you');
    await ann.expect(/^ERROR :Closing link/);
    await ann.closedNow();
    expect(await bob.expect(' QUIT ')).toBe(':ann!ann@irc.sockit QUIT :Quit: see you');
  });
});
