/**
 * The IRC transport's bounds: a client that does not read is let go without holding up the
 * others, lines over the length limit and lines that are not UTF-8 are refused and skipped,
 * the hub's rate limit answers with 263, silent clients are pinged and timed out, and a
 * stopping service says so.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { type IrcFixture, ircFixture } from '../../../test/irc.js';

let f: IrcFixture;
afterEach(() => f?.close());

const tick = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

describe('IRC limits', () => {
  it('lets a client that does not read go, with an ERROR line last, while the others talk on', async () => {
    // A generous hub rate, so that one sender can fill a queue quickly.
    f = await ircFixture({ limits: { burst: 1_000_000, refillMs: 1 }, irc: { maxQueuedBytes: 64 * 1024 } });
    const [slow, bob, carl] = await f.together('#lobby', 'slow', 'bob', 'carl');
    await slow.join('#flood');
    slow.socket.pause();
    const native = f.server.attach({ deliver: () => {}, close: () => {} });
    const session = 'session' in native ? native.session : '';
    f.server.command(session, { type: 'nick', nick: 'flooder' });
    f.server.command(session, { type: 'join', room: 'flood' });
    const text = 'x'.repeat(2000);
    let sent = 0;
    const quit = (): boolean => bob.lines.some((l) => l.startsWith(':slow!slow@irc.sockit QUIT '));
    while (!quit() && sent < 100_000) {
      f.server.command(session, { type: 'say', room: 'flood', text });
      sent++;
      await tick();
      if (sent === 500) {
        bob.send('PRIVMSG #lobby :still flowing');
        await carl.expect(':bob!bob@irc.sockit PRIVMSG #lobby :still flowing');
      }
    }
    expect(await bob.expect(' QUIT ')).toBe(':slow!slow@irc.sockit QUIT :send queue exceeded');
    bob.send('PRIVMSG #lobby :after it');
    await carl.expect(':bob!bob@irc.sockit PRIVMSG #lobby :after it');
    slow.socket.resume();
    await slow.closedNow();
    expect(slow.lines.at(-1)).toBe('ERROR :Closing link: send queue exceeded (the client does not read)');
  });

  it('answers a line over 512 bytes with 417, and reads the next line', async () => {
    f = await ircFixture();
    const [ann, bob] = await f.together('#lobby', 'ann', 'bob');
    ann.send(`PRIVMSG #lobby :${'y'.repeat(600)}`);
    await ann.expect(':irc.sockit 417 ann :Input line was too long');
    ann.send(`@tag=${'t'.repeat(9000)} PRIVMSG #lobby :tags too long`);
    await ann.expect(' 417 ann ');
    // Longer than the reader holds: dropped as it comes, without its end for a while.
    ann.socket.write('PRIVMSG #lobby :'.padEnd(100_000, 'z'));
    ann.send('', 'PRIVMSG #lobby :short again');
    await ann.expect(' 417 ann ');
    expect(await bob.expect(' PRIVMSG ')).toBe(':ann!ann@irc.sockit PRIVMSG #lobby :short again');
  });

  it('refuses a line that is not UTF-8 with FAIL INVALID_UTF8 rather than mangling it', async () => {
    f = await ircFixture();
    const [ann, bob] = await f.together('#lobby', 'ann', 'bob');
    ann.socket.write(Buffer.concat([Buffer.from('PRIVMSG #lobby :caf'), Buffer.from([0xe9, 0x0d, 0x0a])]));
    await ann.expect(/^:irc\.sockit FAIL PRIVMSG INVALID_UTF8 :/);
    ann.send('PRIVMSG #lobby :café');
    expect(await bob.expect(' PRIVMSG ')).toBe(':ann!ann@irc.sockit PRIVMSG #lobby :café');
  });

  it('meters the answers to JOINs of names that are not channels, and echoes no bad parameter', async () => {
    // One line of fifty such names drew fifty 403s, as fast as a client could send them.
    f = await ircFixture({ limits: { burst: 3, refillMs: 60_000 } });
    const ann = await f.guest('ann');
    ann.send(`JOIN ${Array.from({ length: 50 }, (_, i) => `x${i}`).join(',')}`);
    await ann.expect(/^:irc\.sockit 263 ann JOIN :Please wait a while and try again$/);
    const refusals = ann.lines.filter((l) => / 403 ann /.test(l));
    // The connection's own burst (twice the hub's: 6), less what registration spent.
    expect(refusals.length).toBeGreaterThan(0);
    expect(refusals.length).toBeLessThanOrEqual(6);
    // A nick with a space or a channel starting with `:` is echoed as `*`, not as extra parameters.
    const bob = await f.guest('bob');
    bob.send('NICK :a b');
    expect(await bob.expect(' 432 ')).toMatch(/^:irc\.sockit 432 bob \* :/);
  });

  it('lets a client go that keeps sending bad lines', async () => {
    f = await ircFixture();
    const ann = await f.guest('ann');
    for (let i = 0; i < 100; i++) ann.socket.write(Buffer.from([0xff, 0x0a]));
    await ann.expect('ERROR :Closing link: too many malformed lines');
    await ann.closedNow();
  });

  it("applies the hub's rate limit (263), and disconnects a client the hub lets go", async () => {
    f = await ircFixture({ limits: { burst: 3, refillMs: 60_000, strikes: 2 } });
    const ann = await f.guest('ann');
    ann.send('JOIN #lobby', 'PRIVMSG #lobby :one', 'PRIVMSG #lobby :two', 'PRIVMSG #lobby :three');
    await ann.expect(/^:irc\.sockit 263 ann PRIVMSG :too many messages: wait/);
    ann.send('JOIN #a', 'JOIN #b');
    await ann.expect(/^ERROR :Closing link: disconnected: too many refused commands/);
    await ann.closedNow();
  });

  it('pings a silent client, keeps one that answers, and times out one that does not', async () => {
    f = await ircFixture({ irc: { pingIntervalMs: 200, pingTimeoutMs: 1000 } });
    const [ann, bob] = await f.together('#lobby', 'ann', 'bob');
    for (let i = 0; i < 2; i++) {
      await ann.expect(/^PING :?irc\.sockit$/);
      ann.send('PONG irc.sockit');
    }
    // bob never answered its pings.
    await bob.expect(/^ERROR :Closing link: ping timeout/);
    expect(await ann.expect(' QUIT ')).toMatch(/^:bob!bob@irc\.sockit QUIT :Ping timeout: \d+ seconds$/);
    expect(ann.closed).toBe(false);
  });

  it('tells every client when the service stops', async () => {
    f = await ircFixture();
    const ann = await f.guest('ann');
    await f.service.close();
    await ann.expect('ERROR :Closing link: the server is stopping');
    await ann.closedNow();
  });
});
