/**
 * Talking over IRC: room messages between two clients, direct messages, /me, echo-message,
 * server-time and msgid tags, long messages split to fit IRC lines, and history: scrollback
 * on join (a chathistory batch, or plain lines) and the CHATHISTORY command.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { HistoryGate, type IrcFixture, ircFixture } from '../../../test/irc.js';
import { isMessageId } from '../ids.js';
import { MAX_BODY_BYTES } from './message.js';

let f: IrcFixture;
afterEach(() => f?.close());

const TAGS = ['server-time', 'message-tags', 'echo-message', 'batch', 'draft/chathistory'];
const TIME = /^@(?:[^ ]*;)?time=(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z)/;

describe('IRC talk', () => {
  it('carries room messages both ways between two clients, without echo unless asked', async () => {
    f = await ircFixture();
    const [ann, bob] = await f.together('#lobby', 'ann', 'bob');
    ann.send('PRIVMSG #lobby :hello bob');
    expect(await bob.expect(' PRIVMSG ')).toBe(':ann!ann@irc.sockit PRIVMSG #lobby :hello bob');
    bob.send('PRIVMSG #LOBBY :hi ann, ünïcode ✓');
    expect(await ann.expect(' PRIVMSG ')).toBe(':bob!bob@irc.sockit PRIVMSG #lobby :hi ann, ünïcode ✓');
    // Without echo-message, ann never sees her own line back.
    expect((await ann.settled()).filter((l) => l.includes('hello bob'))).toEqual([]);
  });

  it('sends one room message to each client in the form its capabilities ask for (rendered once per form)', async () => {
    f = await ircFixture();
    const [carl, plain, timed, tagged, both, again] = await f.together(
      '#lobby',
      'carl',
      'plain',
      ['timed', ['server-time']],
      ['tagged', ['message-tags']],
      ['both', ['server-time', 'message-tags']],
      ['again', ['server-time', 'message-tags']],
    );
    carl.send('PRIVMSG #lobby :one for all');
    const line = ':carl!carl@irc.sockit PRIVMSG #lobby :one for all';
    expect(await plain.expect(' PRIVMSG ')).toBe(line);
    const t = await timed.expect(' PRIVMSG ');
    expect(t).toMatch(new RegExp(`^@time=[^ ;]+ ${line.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`));
    const g = await tagged.expect(' PRIVMSG ');
    expect(g).toMatch(/^@msgid=[0-9A-Z]{16} :carl!carl@irc\.sockit PRIVMSG #lobby :one for all$/);
    const b = await both.expect(' PRIVMSG ');
    expect(b).toMatch(/^@(?=.*time=)(?=.*msgid=)[^ ]+ :carl!carl@irc\.sockit PRIVMSG #lobby :one for all$/);
    expect(await again.expect(' PRIVMSG ')).toBe(b);
    // The one msgid and time, whichever form carries them.
    expect(/msgid=([^ ;]+)/.exec(b)?.[1]).toBe(/msgid=([^ ;]+)/.exec(g)?.[1]);
    expect(/time=([^ ;]+)/.exec(b)?.[1]).toBe(/time=([^ ;]+)/.exec(t)?.[1]);
  });

  it('echoes with echo-message, and tags lines with time and msgid when asked', async () => {
    f = await ircFixture();
    const [ann, bob] = await f.together(
      '#lobby',
      ['ann', ['server-time', 'message-tags', 'echo-message']],
      ['bob', ['server-time']],
    );
    ann.send('PRIVMSG #lobby :tagged');
    const echo = await ann.expect(' PRIVMSG #lobby :tagged');
    const msgid = /msgid=([0-9A-Z]+)/.exec(echo)?.[1];
    expect(isMessageId(msgid)).toBe(true);
    expect(echo).toMatch(TIME);
    const seen = await bob.expect(' PRIVMSG #lobby :tagged');
    expect(seen).toMatch(TIME);
    expect(seen, 'msgid needs message-tags').not.toContain('msgid=');
    expect(Math.abs(Date.parse(TIME.exec(seen)?.[1] ?? '') - Date.now())).toBeLessThan(60_000);
  });

  it('sends direct messages to a nick, and answers an unknown nick with 401', async () => {
    f = await ircFixture();
    const ann = await f.guest('ann');
    const bob = await f.guest('bob');
    ann.send('PRIVMSG Bob :psst');
    expect(await bob.expect(' PRIVMSG ')).toBe(':ann!ann@irc.sockit PRIVMSG bob :psst');
    bob.send('PRIVMSG ann :what?');
    expect(await ann.expect(' PRIVMSG ')).toBe(':bob!bob@irc.sockit PRIVMSG ann :what?');
    ann.send('PRIVMSG nobody :hello?');
    expect(await ann.expect(' 401 ')).toMatch(/^:irc\.sockit 401 ann nobody :nobody called "nobody"/);
  });

  it('carries /me as CTCP ACTION both ways, drops other CTCP, and never answers a NOTICE', async () => {
    f = await ircFixture();
    const [ann, bob] = await f.together('#lobby', 'ann', 'bob');
    ann.send(
      'PRIVMSG #lobby :\x01ACTION waves\x01',
      'PRIVMSG bob :\x01VERSION\x01',
      'PRIVMSG bob :\x01ACTION nods\x01',
    );
    expect(await bob.expect(' PRIVMSG #lobby ')).toBe(
      ':ann!ann@irc.sockit PRIVMSG #lobby :\x01ACTION waves\x01',
    );
    expect(await bob.expect(' PRIVMSG bob ')).toBe(':ann!ann@irc.sockit PRIVMSG bob :\x01ACTION nods\x01');
    ann.send('NOTICE #elsewhere :x', 'NOTICE nobody :y', 'NOTICE #lobby :a notice');
    expect(await bob.expect(' PRIVMSG #lobby ')).toBe(':ann!ann@irc.sockit PRIVMSG #lobby :a notice');
    expect(await ann.settled()).toEqual([]);
  });

  it('splits a message longer than an IRC line into lines that fit, the msgid on the first', async () => {
    f = await ircFixture();
    const [ann, bob] = await f.together('#lobby', ['ann', ['message-tags']], 'bob');
    // A native client may send up to the hub's limit (2048 bytes), more than an IRC line holds.
    const native = f.server.attach({ deliver: () => {}, close: () => {} });
    const session = 'session' in native ? native.session : '';
    expect(f.server.command(session, { type: 'nick', nick: 'nat' })).toBeUndefined();
    expect(f.server.command(session, { type: 'join', room: 'lobby' })).toBeUndefined();
    const text = 'éa '.repeat(300).trim();
    expect(f.server.command(session, { type: 'say', room: 'lobby', text })).toBeUndefined();
    const lines: string[] = [];
    let got = '';
    while (got.length < text.length) {
      const line = await bob.expect(':nat!nat@irc.sockit PRIVMSG #lobby :');
      lines.push(line);
      got += line.slice(line.indexOf(' :') + 2);
    }
    expect(got).toBe(text);
    expect(lines.length).toBeGreaterThan(1);
    for (const line of lines) expect(Buffer.byteLength(line)).toBeLessThanOrEqual(MAX_BODY_BYTES);
    const tagged = [await ann.expect(' PRIVMSG #lobby :'), await ann.expect(' PRIVMSG #lobby :')];
    expect(tagged[0]).toMatch(/^@msgid=\w{16} /);
    expect(tagged[1]).not.toContain('msgid=');
  });

  it('carries IRCv3 typing notices (TAGMSG +typing) to clients with message-tags', async () => {
    f = await ircFixture();
    const [ann, bob, carl] = await f.together('#lobby', 'ann', ['bob', ['message-tags']], 'carl');
    ann.send('@+typing=active TAGMSG #lobby');
    expect(await bob.expect(' TAGMSG ')).toMatch(/^@\+typing=active :ann!ann@irc\.sockit TAGMSG #lobby$/);
    ann.send('@+typing=done TAGMSG #lobby');
    expect(await bob.expect(' TAGMSG ')).toMatch(/^@\+typing=done :ann!ann@irc\.sockit TAGMSG #lobby$/);
    expect(await carl.settled()).toEqual([]);
  });

  it('tells the sender a direct message waits for an account that is offline', async () => {
    f = await ircFixture({ accounts: { dana: 'dana-password' } });
    const ann = await f.guest('ann');
    ann.send('PRIVMSG dana :call me');
    expect(await ann.expect(' NOTICE ')).toBe(
      ':irc.sockit NOTICE ann :dana is offline; the message waits for their next log-in',
    );
  });
});

describe('IRC history', () => {
  it('gives a joining client the scrollback as a chathistory batch with time and msgid', async () => {
    f = await ircFixture({ history: true });
    const ann = await f.guest('ann');
    await ann.join('#lobby');
    ann.send('PRIVMSG #lobby :first', 'PRIVMSG #lobby :\x01ACTION second\x01');
    await ann.settled();
    const bob = await f.guest('bob', TAGS);
    bob.send('JOIN #lobby');
    await bob.expect(' 366 ');
    const open = await bob.expect(' BATCH +');
    const id = /BATCH \+(\S+) chathistory #lobby$/.exec(open)?.[1] as string;
    expect(id).toBeDefined();
    const first = await bob.expect(' PRIVMSG ');
    expect(first).toMatch(
      new RegExp(`^@batch=${id};time=[^;]+;msgid=[0-9A-Z]{16} :ann!ann@irc\\.sockit PRIVMSG #lobby :first$`),
    );
    expect((await bob.expect(' PRIVMSG ')).endsWith('PRIVMSG #lobby :\x01ACTION second\x01')).toBe(true);
    expect(await bob.expect(' BATCH ')).toBe(`:irc.sockit BATCH -${id}`);
    // Live messages follow, outside the batch.
    ann.send('PRIVMSG #lobby :live');
    expect(await bob.expect(' PRIVMSG ')).not.toContain('batch=');
  });

  it('does not echo a message sent while the scrollback is still being read', async () => {
    const gate = new HistoryGate();
    f = await ircFixture({ history: true, gate });
    const [bob] = await f.together('#lobby', 'bob');
    bob.send('PRIVMSG #lobby :kept for later');
    await bob.settled();
    const ann = await f.guest('ann');
    gate.close();
    // The echo is held behind the scrollback; it is still ann's own, and she did not ask for it.
    ann.send('JOIN #lobby', 'PRIVMSG #lobby :at once');
    expect(await bob.expect(' PRIVMSG ')).toBe(':ann!ann@irc.sockit PRIVMSG #lobby :at once');
    gate.open();
    await ann.expect(':bob!bob@irc.sockit PRIVMSG #lobby :kept for later');
    expect((await ann.settled()).filter((l) => l.includes('at once'))).toEqual([]);
  });

  it('gives the scrollback as plain lines to a client without batch', async () => {
    f = await ircFixture({ history: true });
    const ann = await f.guest('ann');
    await ann.join('#lobby');
    ann.send('PRIVMSG #lobby :kept');
    await ann.settled();
    const bob = await f.guest('bob');
    bob.send('JOIN #lobby');
    expect(await bob.expect(' PRIVMSG ')).toBe(':ann!ann@irc.sockit PRIVMSG #lobby :kept');
    expect((await bob.settled()).join('\n')).not.toContain('BATCH');
  });

  it('answers CHATHISTORY LATEST, BEFORE and AFTER with batches, and refuses bad requests', async () => {
    f = await ircFixture({ history: true });
    const ann = await f.guest('ann', TAGS);
    await ann.join('#lobby');
    await ann.settled();
    for (const n of [1, 2, 3, 4]) ann.send(`PRIVMSG #lobby :m${n}`);
    const ids: string[] = [];
    for (const n of [1, 2, 3, 4]) ids.push(/msgid=(\w+)/.exec(await ann.expect(`:m${n}`))?.[1] as string);
    const page = async (request: string): Promise<string[]> => {
      ann.send(`CHATHISTORY ${request}`);
      await ann.expect(/ BATCH \+\S+ chathistory #lobby$/);
      const texts: string[] = [];
      for (;;) {
        const line = await ann.expect(/ (?:PRIVMSG|BATCH) /);
        if (line.includes(' BATCH -')) return texts;
        texts.push(line.slice(line.lastIndexOf(':') + 1));
      }
    };
    expect(await page('LATEST #lobby * 2')).toEqual(['m3', 'm4']);
    expect(await page(`BEFORE #lobby msgid=${ids[2]} 10`)).toEqual(['m1', 'm2']);
    expect(await page(`AFTER #lobby msgid=${ids[0]} 2`)).toEqual(['m2', 'm3']);
    expect(await page(`LATEST #lobby msgid=${ids[2]} 10`)).toEqual(['m4']);
    expect(await page('BEFORE #lobby timestamp=2000-01-01T00:00:00.000Z 10')).toEqual([]);
    ann.send('CHATHISTORY BEFORE #lobby msgid=nonsense 10');
    await ann.expect(':irc.sockit FAIL CHATHISTORY INVALID_PARAMS BEFORE #lobby :');
    ann.send('CHATHISTORY LATEST #elsewhere * 10');
    await ann.expect(':irc.sockit FAIL CHATHISTORY INVALID_TARGET #elsewhere :');
  });
});
