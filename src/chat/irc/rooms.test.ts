/**
 * Rooms over IRC: topics, operators, kicks and bans as MODE, listings (NAMES, WHO, WHOIS,
 * LIST), away with away-notify, and the numerics hub refusals become.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { type IrcClient, type IrcFixture, ircFixture } from '../../../test/irc.js';

let f: IrcFixture;
afterEach(() => f?.close());

/** ann (first in #ops: its operator) and bob, both in #ops, with every join seen. */
async function pair(caps?: string[]): Promise<{ ann: IrcClient; bob: IrcClient }> {
  f = await ircFixture();
  const [ann, bob] = await f.together('#ops', ['ann', caps ?? []], ['bob', caps ?? []]);
  return { ann, bob };
}

describe('IRC rooms', () => {
  it('shows the joiner as operator in NAMES, and answers a bad or unknown channel', async () => {
    const { ann, bob } = await pair();
    bob.send('NAMES #ops');
    expect(await bob.expect(' 353 ')).toBe(':irc.sockit 353 bob = #ops :@ann bob');
    await bob.expect(':irc.sockit 366 bob #ops :End of /NAMES list');
    bob.send('JOIN #bad!name', 'JOIN nohash', 'PART #nowhere', 'NAMES #nowhere');
    await bob.expect(/ 403 bob #bad!name :bad room name/);
    await bob.expect(' 403 bob nohash :No such channel');
    await bob.expect(/ 442 bob #nowhere :you are not in nowhere/);
    await bob.expect(' 366 bob #nowhere :End of /NAMES list');
    ann.send('PRIVMSG #elsewhere :hi');
    await ann.expect(/ 404 ann #elsewhere :/);
  });

  it('sets and shows topics (332/333), and +t keeps them to operators (482)', async () => {
    const { ann, bob } = await pair();
    bob.send('TOPIC #ops');
    await bob.expect(':irc.sockit 331 bob #ops :No topic is set');
    bob.send('TOPIC #ops :plans for today');
    expect(await ann.expect(' TOPIC ')).toMatch(/^:bob!bob@irc\.sockit TOPIC #ops :plans for today$/);
    ann.send('TOPIC #ops');
    await ann.expect(':irc.sockit 332 ann #ops :plans for today');
    expect(await ann.expect(' 333 ')).toMatch(/^:irc\.sockit 333 ann #ops bob :?\d{10}$/);
    ann.send('MODE #ops +t');
    expect(await bob.expect(' MODE ')).toBe(':ann!ann@irc.sockit MODE #ops +t');
    bob.send('MODE #ops');
    await bob.expect(':irc.sockit 324 bob #ops +nt');
    bob.send('TOPIC #ops :mine now');
    await bob.expect(/:irc\.sockit 482 bob #ops :the topic of ops is locked/);
    bob.send('MODE #ops -t');
    await bob.expect(/ 482 bob #ops :you are not an operator of ops/);
  });

  it('kicks (operators only), and the kicked client leaves the channel', async () => {
    const { ann, bob } = await pair();
    bob.send('KICK #ops ann :no');
    await bob.expect(/ 482 bob #ops :/);
    ann.send('KICK #ops carl :who?');
    await ann.expect(/ 441 ann carl #ops :"carl" is not in ops/);
    ann.send('KICK #ops bob :enough');
    expect(await bob.expect(' KICK ')).toBe(':ann!ann@irc.sockit KICK #ops bob :enough');
    expect(await ann.expect(' KICK ')).toBe(':ann!ann@irc.sockit KICK #ops bob :enough');
    bob.send('PRIVMSG #ops :still here?');
    await bob.expect(/ 404 bob #ops :/);
  });

  it('makes operators with MODE +o, and bans with +b (474 on join), listed with MODE b', async () => {
    const { ann, bob } = await pair();
    ann.send('MODE #ops +o bob');
    expect(await bob.expect(' MODE ')).toBe(':ann!ann@irc.sockit MODE #ops +o bob');
    bob.send('MODE #ops -o ann');
    expect(await ann.expect(' MODE #ops -o')).toBe(':bob!bob@irc.sockit MODE #ops -o ann');
    ann.send('MODE #ops +o ann');
    await ann.expect(/ 482 ann #ops :/);
    const carl = await f.guest('carl');
    await carl.join('#ops');
    bob.send('MODE #ops +b carl!*@*');
    await carl.expect(':bob!bob@irc.sockit MODE #ops +b carl!*@*');
    expect(await carl.expect(' KICK ')).toBe(':bob!bob@irc.sockit KICK #ops carl :banned');
    carl.send('JOIN #ops');
    await carl.expect(/:irc\.sockit 474 carl #ops :you are banned from ops/);
    bob.send('MODE #ops b');
    await bob.expect(':irc.sockit 367 bob #ops carl!*@*');
    await bob.expect(' 368 bob #ops :');
    bob.send('MODE #ops +b *!*@10.0.0.*', 'MODE #ops +x');
    await bob.expect(/ NOTICE bob :\*!\*@10\.0\.0\.\*: bans are kept by nick/);
    await bob.expect(' 472 bob x :is unknown mode char to me');
  });

  it('answers WHO and WHOIS, and LIST with member counts and topics', async () => {
    const { ann, bob } = await pair();
    ann.send('TOPIC #ops :the topic');
    await bob.expect(' TOPIC ');
    bob.send('WHO #ops');
    expect(await bob.expect(' 352 ')).toBe(
      ':irc.sockit 352 bob #ops ann irc.sockit irc.sockit ann H@ :0 ann',
    );
    expect(await bob.expect(' 352 ')).toBe(':irc.sockit 352 bob #ops bob irc.sockit irc.sockit bob H :0 bob');
    await bob.expect(':irc.sockit 315 bob #ops :End of WHO list');
    bob.send('WHOIS ann');
    await bob.expect(':irc.sockit 311 bob ann ann irc.sockit * :ann');
    await bob.expect(':irc.sockit 319 bob ann :#ops');
    await bob.expect(':irc.sockit 318 bob ann :End of /WHOIS list');
    bob.send('WHO ann', 'WHO nobody');
    expect(await bob.expect(' 352 ')).toBe(':irc.sockit 352 bob * ann irc.sockit irc.sockit ann H :0 ann');
    await bob.expect(':irc.sockit 315 bob ann :End of WHO list');
    await bob.expect(':irc.sockit 315 bob nobody :End of WHO list');
    bob.send('WHOIS nobody');
    await bob.expect(/ 401 bob nobody :/);
    await bob.expect(' 318 bob nobody :');
    bob.send('LIST');
    await bob.expect(' 321 bob Channel :');
    await bob.expect(':irc.sockit 322 bob #lobby 0 :');
    await bob.expect(':irc.sockit 322 bob #ops 2 :the topic');
    await bob.expect(':irc.sockit 323 bob :End of /LIST');
    bob.send('LIST #ops');
    await bob.expect(' 321 ');
    const only = await bob.settled();
    expect(only.filter((l) => l.includes(' 322 '))).toEqual([':irc.sockit 322 bob #ops 2 :the topic']);
  });

  it('marks away (306/305), tells away-notify clients, and shows it in WHOIS', async () => {
    const { ann, bob } = await pair(['away-notify']);
    const carl = await f.guest('carl');
    await carl.join('#ops');
    ann.send('AWAY :lunch');
    await ann.expect(':irc.sockit 306 ann :You have been marked as being away');
    expect(await bob.expect(' AWAY ')).toBe(':ann!ann@irc.sockit AWAY :lunch');
    bob.send('WHOIS ann');
    await bob.expect(':irc.sockit 301 bob ann :lunch');
    ann.send('AWAY');
    await ann.expect(' 305 ann :');
    expect(await bob.expect(' AWAY')).toBe(':ann!ann@irc.sockit AWAY');
    expect((await carl.settled()).filter((l) => l.includes('AWAY'))).toEqual([]);
  });

  it('parts with a reason, and JOIN 0 leaves every channel', async () => {
    const { ann, bob } = await pair();
    await bob.join('#other');
    bob.send('PART #ops :bye all');
    expect(await ann.expect(' PART ')).toBe(':bob!bob@irc.sockit PART #ops :bye all');
    bob.send('JOIN 0');
    expect(await bob.expect(' PART #other')).toBe(':bob!bob@irc.sockit PART #other');
    bob.send('TOPIC #other');
    await bob.expect(" 442 bob #other :You're not on that channel");
  });
});
