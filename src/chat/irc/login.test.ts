/**
 * Accounts over IRC, with real accounts in a temporary SQLite user store: PASS log-in (as
 * `account:password` or for the nick; in clear only from this host), a wrong password, SASL PLAIN refused over plain TCP
 * and taken over TLS, and direct messages that waited for an account's log-in.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type IrcFixture, ircFixture } from '../../../test/irc.js';
import { selfSignedCertificate } from '../../../test/tls.js';

let f: IrcFixture;
afterEach(() => f?.close());

const ACCOUNTS = { ann: 'ann-password', dana: 'dana: has a colon' };
const plain = (authzid: string, authcid: string, password: string): string =>
  Buffer.from(`${authzid}\0${authcid}\0${password}`).toString('base64');

describe('IRC log-in with PASS', () => {
  it('logs in an account whose password is right: 900, and WHOIS shows the account', async () => {
    f = await ircFixture({ accounts: ACCOUNTS });
    const ann = await f.connect();
    ann.send('PASS ann-password', 'NICK ann', 'USER ann 0 * :Ann');
    await ann.expect(':irc.sockit 001 ann ');
    await ann.expect(':irc.sockit 900 ann ann!ann@irc.sockit ann :You are now logged in as ann');
    const bob = await f.guest('bob');
    bob.send('WHOIS ann');
    await bob.expect(':irc.sockit 330 bob ann ann :is logged in as');
  });

  it('makes an account with the admin grant a chat admin (313 in WHOIS), and no other', async () => {
    f = await ircFixture({ accounts: ACCOUNTS, admins: ['ann'] });
    const ann = await f.connect();
    ann.send('PASS ann-password', 'NICK ann', 'USER ann 0 * :Ann');
    await ann.expect(':irc.sockit 001 ann ');
    const dana = await f.connect();
    dana.send('PASS :dana:dana: has a colon', 'NICK dana', 'USER d 0 * :D');
    await dana.expect(':irc.sockit 001 dana ');
    const bob = await f.guest('bob');
    bob.send('WHOIS ann');
    await bob.expect(':irc.sockit 313 bob ann :is a chat admin');
    bob.send('WHOIS dana');
    await bob.expect(' 318 bob dana ');
    expect(bob.lines.filter((l) => / 313 bob /.test(l))).toEqual([
      ':irc.sockit 313 bob ann :is a chat admin',
    ]);
  });

  it('takes account:password, and the nick becomes the account name', async () => {
    f = await ircFixture({ accounts: ACCOUNTS });
    const dana = await f.connect();
    dana.send('PASS :dana:dana: has a colon', 'NICK someone', 'USER d 0 * :D');
    await dana.expect(':irc.sockit 001 dana ');
  });

  it('refuses a wrong password with 464 and closes, and keeps account names from guests', async () => {
    f = await ircFixture({ accounts: ACCOUNTS });
    const wrong = await f.connect();
    wrong.send('PASS not-it', 'NICK ann', 'USER ann 0 * :Ann');
    await wrong.expect(':irc.sockit 464 * :invalid username or password');
    await wrong.expect(/^ERROR :Closing link/);
    await wrong.closedNow();
    const guest = await f.connect();
    guest.send('NICK ann', 'USER ann 0 * :Ann');
    await guest.expect(/ 433 \* ann :ann is an account's name/);
  });

  it('delivers the direct messages that waited for an account at its log-in', async () => {
    f = await ircFixture({ accounts: ACCOUNTS, history: true });
    const bob = await f.guest('bob');
    bob.send('PRIVMSG ann :are you there?');
    await bob.expect(' NOTICE bob :ann is offline');
    const ann = await f.connect();
    ann.send(
      'CAP LS 302',
      'CAP REQ :server-time',
      'CAP END',
      'PASS ann:ann-password',
      'NICK ann',
      'USER a 0 * :a',
    );
    await ann.expect(' 001 ann ');
    expect(await ann.expect(' PRIVMSG ')).toMatch(
      /^@time=\S+ :bob!bob@irc\.sockit PRIVMSG ann :are you there\?$/,
    );
  });
});

describe('IRC log-in with SASL PLAIN, and passwords over TLS', () => {
  let dir: string;
  let certificate: { cert: Buffer; key: Buffer };

  beforeAll(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'sockit-irc-tls-'));
    const files = selfSignedCertificate(dir);
    certificate = { cert: readFileSync(files.cert), key: readFileSync(files.key) };
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('refuses PASS in clear from another host (464, closed; the password is not checked), takes it over TLS', async () => {
    // The service sees every peer as remote: what a client on another machine would meet.
    const remote = { clearPasswordFrom: () => false };
    f = await ircFixture({ accounts: ACCOUNTS, irc: remote });
    const ann = await f.connect();
    ann.send('PASS ann-password', 'NICK ann', 'USER ann 0 * :Ann');
    await ann.expect(
      ':irc.sockit 464 * :a password is not taken over a connection without TLS: connect with TLS, or as a guest',
    );
    await ann.expect(/^ERROR :Closing link/);
    await ann.closedNow();
    // A guest is still welcome there.
    await f.guest('bob');
    await f.close();
    f = await ircFixture({ accounts: ACCOUNTS, irc: { ...remote, tls: certificate } });
    const overTls = await f.connect({ tls: true });
    overTls.send('PASS ann-password', 'NICK ann', 'USER ann 0 * :Ann');
    await overTls.expect(':irc.sockit 900 ann ann!ann@irc.sockit ann :You are now logged in as ann');
  });

  it('is not offered over plain TCP, and AUTHENTICATE there is refused with 904', async () => {
    f = await ircFixture({ accounts: ACCOUNTS });
    const ann = await f.connect();
    ann.send('CAP LS 302');
    expect(await ann.expect(' CAP * LS ')).not.toContain('sasl');
    ann.send('CAP REQ :sasl');
    await ann.expect(':irc.sockit CAP * NAK :sasl');
    ann.send('AUTHENTICATE PLAIN');
    await ann.expect(':irc.sockit 904 * :SASL authentication failed: SASL is offered over TLS only');
    ann.send('NICK ann', 'USER ann 0 * :a', 'CAP END');
    await ann.expect(/ 433 \* ann /);
  });

  it('logs in over TLS (900, 903), refusing a wrong password first (904)', async () => {
    f = await ircFixture({ accounts: ACCOUNTS, irc: { tls: certificate } });
    const ann = await f.connect({ tls: true });
    ann.send('CAP LS 302', 'NICK ann', 'USER ann 0 * :Ann');
    expect(await ann.expect(' CAP * LS ')).toContain(' sasl=PLAIN ');
    ann.send('CAP REQ :sasl server-time');
    await ann.expect(' CAP ann ACK :sasl server-time');
    ann.send('AUTHENTICATE SCRAM-SHA-1');
    await ann.expect(':irc.sockit 908 * PLAIN :are available SASL mechanisms');
    await ann.expect(/ 904 \* :/);
    ann.send('AUTHENTICATE PLAIN');
    await ann.expect(/^AUTHENTICATE \+$/);
    ann.send(`AUTHENTICATE ${plain('', 'ann', 'wrong')}`);
    await ann.expect(':irc.sockit 904 * :SASL authentication failed: invalid username or password');
    ann.send('AUTHENTICATE PLAIN');
    await ann.expect(/^AUTHENTICATE \+$/);
    ann.send(`AUTHENTICATE ${plain('ann', 'ann', 'ann-password')}`);
    await ann.expect(':irc.sockit 900 * ann!ann@irc.sockit ann :You are now logged in as ann');
    await ann.expect(':irc.sockit 903 * :SASL authentication successful');
    ann.send('AUTHENTICATE PLAIN');
    await ann.expect(' 907 * :');
    ann.send('CAP END');
    await ann.expect(':irc.sockit 001 ann ');
    ann.send('JOIN #lobby', 'PRIVMSG #lobby :secure hello');
    const bob = await f.connect({ tls: true });
    await bob.register('bob');
    await bob.join('#lobby');
    ann.send('PRIVMSG #lobby :hi bob');
    await bob.expect(':ann!ann@irc.sockit PRIVMSG #lobby :hi bob');
  });

  it('aborts with AUTHENTICATE * (906), and refuses a malformed response (904)', async () => {
    f = await ircFixture({ accounts: ACCOUNTS, irc: { tls: certificate } });
    const ann = await f.connect({ tls: true });
    ann.send('CAP LS 302', 'CAP REQ :sasl', 'AUTHENTICATE PLAIN', 'AUTHENTICATE *');
    await ann.expect(' 906 * :SASL authentication aborted');
    ann.send('AUTHENTICATE PLAIN', 'AUTHENTICATE bm90IHBsYWlu');
    await ann.expect(':irc.sockit 904 * :SASL authentication failed: malformed PLAIN response');
  });
});
