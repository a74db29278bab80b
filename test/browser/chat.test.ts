/**
 * The chat's web client in chromium: two pages and a terminal client in one room see each
 * other live, typing shows on the other page, and a page reloaded mid-conversation comes back
 * to its room with every message once. Screenshots (desktop and 360 px wide) go to
 * test-results/browser/.
 */
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { type Browser, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT, requireTools, type Server, sockit, startServer } from '../helpers.js';

const CHROMIUM = process.env.SOCKIT_CHROMIUM ?? '/usr/bin/chromium';
const SHOTS = path.join(ROOT, 'test-results', 'browser');
const PASSWORD = 'dora’s long passphrase';

describe('the chat in a browser', () => {
  let browser: Browser;
  let dir = '';
  let server: Server;
  let base = '';

  beforeAll(async () => {
    requireTools(CHROMIUM);
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
    dir = mkdtempSync(path.join(os.tmpdir(), 'sockit-browser-chat-'));
    mkdirSync(SHOTS, { recursive: true });
    const added = await sockit(['users', 'add', 'dora', '--data-dir', dir, '--iterations', '4096'], {
      env: { ...process.env, SOCKIT_PASSWORD: PASSWORD },
    });
    expect(added.code, added.stderr).toBe(0);
    server = await startServer(
      ['chat', 'serve', '--host', '127.0.0.1', '--port', '0', '--no-irc', '--no-udp', '--data-dir', dir],
      1,
    );
    base = `127.0.0.1:${server.listening[0]?.port}`;
  });

  afterAll(async () => {
    await browser?.close();
    await server?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  /** A page in a context of its own (its own sessionStorage), joined as `nick`. */
  async function enter(nick: string, viewport = { width: 1000, height: 700 }): Promise<Page> {
    const context = await browser.newContext({ viewport });
    const page = await context.newPage();
    await page.goto(`http://${base}/chat`);
    expect(page.url()).toBe(`http://${base}/chat/`);
    await page.fill('#nick', nick);
    await page.press('#nick', 'Enter');
    await page.locator('#state', { hasText: `as ${nick}` }).waitFor();
    await page.locator('#room-title', { hasText: '#lobby' }).waitFor();
    expect(await page.locator('#enter').isVisible()).toBe(false);
    return page;
  }

  const texts = (page: Page): Promise<string[]> => page.locator('#messages li .text').allTextContents();

  it('two pages and a terminal client talk in one room, live, each message once', async () => {
    const ann = await enter('ann');
    const bob = await enter('bob');
    await ann.locator('#members li', { hasText: 'bob' }).waitFor();

    // Typing shows on the other page.
    await ann.focus('#say');
    await ann.keyboard.type('hello fr');
    await bob.locator('#typing', { hasText: 'ann is typing' }).waitFor();
    await ann.keyboard.type('om ann');
    await ann.keyboard.press('Enter');
    await bob.locator('#messages li', { hasText: 'hello from ann' }).waitFor();
    await ann.locator('#messages li', { hasText: 'hello from ann' }).waitFor();

    // The terminal client, into the same room.
    const sent = await sockit(['chat', 'send', base, 'lobby', 'from', 'the', 'terminal', '--nick', 'term']);
    expect(sent.code, sent.stderr).toBe(0);
    for (const page of [ann, bob])
      await page.locator('#messages li', { hasText: 'from the terminal' }).waitFor();
    expect(await texts(bob)).toEqual(['hello from ann', 'from the terminal']);
    expect(await texts(ann)).toEqual(['hello from ann', 'from the terminal']);

    // Reloaded: the same nick, the same room, each message once; and live again.
    await bob.reload();
    await bob.locator('#state', { hasText: 'as bob' }).waitFor();
    await bob.locator('#messages li', { hasText: 'from the terminal' }).waitFor();
    await ann.focus('#say');
    await ann.keyboard.type('after the reload');
    await ann.keyboard.press('Enter');
    await bob.locator('#messages li', { hasText: 'after the reload' }).waitFor();
    expect(await texts(bob)).toEqual(['hello from ann', 'from the terminal', 'after the reload']);
    await bob.screenshot({ path: path.join(SHOTS, 'chat.png') });

    // Another room: its unread count shows in the sidebar of a page that is elsewhere.
    await bob.fill('#join-room', 'dev');
    await bob.press('#join-room', 'Enter');
    await bob.locator('#room-title', { hasText: '#dev' }).waitFor();
    await ann.fill('#join-room', 'dev');
    await ann.press('#join-room', 'Enter');
    await ann.locator('#rooms button', { hasText: '#lobby' }).click();
    await bob.focus('#say');
    await bob.keyboard.type('in dev');
    await bob.keyboard.press('Enter');
    await ann.locator('#rooms button', { hasText: '#dev' }).locator('.unread', { hasText: '1' }).waitFor();
    await ann.context().close();
    await bob.context().close();
  });

  it('fits a 360 px wide screen, and says why a nick is refused', async () => {
    const narrow = await browser.newContext({ viewport: { width: 360, height: 640 } });
    const page = await narrow.newPage();
    await page.goto(`http://${base}/chat/`);
    await page.fill('#nick', 'carl');
    await page.press('#nick', 'Enter');
    await page.locator('#state', { hasText: 'as carl' }).waitFor();
    const width = await page.evaluate('document.documentElement.scrollWidth');
    expect(width).toBeLessThanOrEqual(360);
    await page.screenshot({ path: path.join(SHOTS, 'chat-360.png') });
    const other = await browser.newContext();
    const second = await other.newPage();
    await second.goto(`http://${base}/chat/`);
    await second.fill('#nick', 'carl');
    await second.press('#nick', 'Enter');
    await second.locator('#enter-error', { hasText: /carl/ }).waitFor();
    await narrow.close();
    await other.close();
  });

  it('logs an account in with SCRAM: the password is never stored nor in a URL; a wrong one is refused', async () => {
    const context = await browser.newContext();
    const page = await context.newPage();
    await page.goto(`http://${base}/chat/`);
    await page.fill('#nick', 'dora');
    await page.fill('#password', 'not the password');
    await page.press('#password', 'Enter');
    await page.locator('#enter-error', { hasText: /invalid|password|refused/i }).waitFor();
    await page.fill('#password', PASSWORD);
    await page.press('#password', 'Enter');
    await page.locator('#state', { hasText: 'as dora (account)' }).waitFor();
    expect(await page.inputValue('#password')).toBe('');
    const stored = String(
      await page.evaluate('JSON.stringify(sessionStorage) + JSON.stringify(localStorage)'),
    );
    expect(stored).not.toContain('passphrase');
    expect(page.url()).not.toContain('passphrase');
    await page.focus('#say');
    await page.keyboard.type('signed in');
    await page.keyboard.press('Enter');
    const tail = await sockit(['chat', 'tail', base, 'lobby', '--no-follow', '--json', '--nick', 'reader']);
    const said = tail.stdout
      .toString()
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { from: string; account?: string; text: string })
      .find((m) => m.text === 'signed in');
    expect(said).toMatchObject({ from: 'dora', account: 'dora' });
    await context.close();
  });

  it('direct messages: a conversation opens with /msg, shows unread on the other side, and answers go back', async () => {
    const eve = await enter('eve');
    const fay = await enter('fay');
    await eve.focus('#say');
    await eve.keyboard.type('/msg fay hello fay');
    await eve.keyboard.press('Enter');
    await eve.locator('#room-title', { hasText: '@fay' }).waitFor();
    await eve.locator('#messages li', { hasText: 'hello fay' }).waitFor();
    const badge = fay.locator('#rooms button', { hasText: '@eve' }).locator('.unread', { hasText: '1' });
    await badge.waitFor();
    await fay.locator('#rooms button', { hasText: '@eve' }).click();
    expect(await texts(fay)).toEqual(['hello fay']);
    await fay.focus('#say');
    await fay.keyboard.type('hi eve');
    await fay.keyboard.press('Enter');
    await eve.locator('#messages li', { hasText: 'hi eve' }).waitFor();
    expect(await texts(eve)).toEqual(['hello fay', 'hi eve']);
    // Not in the room: the lobby never saw them.
    await eve.locator('#rooms button', { hasText: '#lobby' }).click();
    expect(await texts(eve)).not.toContain('hello fay');
    await eve.context().close();
    await fay.context().close();
  });
  it("operators' commands: /kick puts a page out of the room with a line saying why; /whois, /help and mistakes answer in place", async () => {
    const gil = await enter('gil');
    const hal = await enter('hal');
    const typed = async (page: Page, line: string): Promise<void> => {
      await page.focus('#say');
      await page.keyboard.type(line);
      await page.keyboard.press('Enter');
    };
    // The first in a new room is its operator.
    await typed(gil, '/join ops');
    await gil.locator('#room-title', { hasText: '#ops' }).waitFor();
    await typed(hal, '/join ops');
    await gil.locator('#members li', { hasText: 'hal' }).waitFor();
    expect(await gil.locator('#members li', { hasText: 'gil' }).textContent()).toBe('@gil');
    await typed(hal, '/kick gil');
    await hal.locator('#messages li.note', { hasText: /operator/ }).waitFor();
    await typed(gil, '/kick hal bye now');
    await gil.locator('#messages li.note', { hasText: 'gil put hal out of #ops (bye now)' }).waitFor();
    await hal.locator('#messages li.note', { hasText: 'gil put hal out of #ops (bye now)' }).waitFor();
    expect(await hal.locator('#rooms button').allTextContents()).toEqual(['#lobby']);
    await gil.locator('#members li', { hasText: 'hal' }).waitFor({ state: 'detached' });
    await typed(gil, '/whois hal');
    await gil.locator('#messages li.note', { hasText: /^-- hal \(guest\): online, in #lobby$/ }).waitFor();
    await typed(gil, '/help');
    await gil.locator('#messages li.note', { hasText: /^operators: \/kick NICK/ }).waitFor();
    await typed(gil, '/frobnicate');
    await gil.locator('#messages li.note', { hasText: 'no command /frobnicate; /help lists them' }).waitFor();
    // The notes stay where they were said as messages arrive.
    await typed(gil, 'still here');
    await gil.locator('#messages li', { hasText: 'still here' }).waitFor();
    expect(await gil.locator('#messages li.note').count()).toBeGreaterThanOrEqual(5);
    await typed(gil, '/part');
    await gil.locator('#room-title', { hasText: '#lobby' }).waitFor();
    expect(await gil.locator('#rooms button').allTextContents()).toEqual(['#lobby']);
    await gil.screenshot({ path: path.join(SHOTS, 'chat-operator.png') });
    await gil.context().close();
    await hal.context().close();
  });

  it("an account's page comes back after the server restarts: logged in again without its password, each message once", async () => {
    const context = await browser.newContext();
    const page = await context.newPage();
    await page.goto(`http://${base}/chat/`);
    await page.fill('#nick', 'dora');
    await page.fill('#password', PASSWORD);
    await page.press('#password', 'Enter');
    await page.locator('#state', { hasText: 'as dora (account)' }).waitFor();
    await page.focus('#say');
    await page.keyboard.type('before the restart');
    await page.keyboard.press('Enter');
    await page.locator('#messages li', { hasText: 'before the restart' }).waitFor();
    const before = await texts(page);
    const port = server.listening[0]?.port as number;
    await server.stop();
    await page.locator('#state', { hasText: 'disconnected' }).waitFor();
    server = await startServer(
      [
        'chat',
        'serve',
        '--host',
        '127.0.0.1',
        '--port',
        String(port),
        '--no-irc',
        '--no-udp',
        '--data-dir',
        dir,
      ],
      1,
    );
    // Logged in again from the keys kept in memory: the form never came back.
    await page.locator('#state', { hasText: 'as dora (account)' }).waitFor({ timeout: 20_000 });
    expect(await page.locator('#enter').isVisible()).toBe(false);
    const sent = await sockit(['chat', 'send', base, 'lobby', 'after', 'the', 'restart', '--nick', 'term2']);
    expect(sent.code, sent.stderr).toBe(0);
    await page.locator('#messages li', { hasText: 'after the restart' }).waitFor();
    expect(await texts(page)).toEqual([...before, 'after the restart']);
    await page.focus('#say');
    await page.keyboard.type('and still dora');
    await page.keyboard.press('Enter');
    const tail = await sockit(['chat', 'tail', base, 'lobby', '--no-follow', '--json', '--nick', 'reader2']);
    const said = tail.stdout
      .toString()
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { from: string; account?: string; text: string })
      .filter((m) => m.text === 'and still dora');
    expect(said).toEqual([expect.objectContaining({ from: 'dora', account: 'dora' })]);
    await context.close();
  });
});
