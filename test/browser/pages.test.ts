/**
 * sockit's pages in a real browser (Debian's chromium driven by playwright-core): the status
 * page of `sockit serve` showing a chat user arriving and a TFTP download in progress, and a folder listing of `sockit http
 * serve` whose links work and whose odd file names show as text. Screenshots go to
 * test-results/browser/ (not committed).
 */
import type { Socket } from 'node:dgram';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { type Browser, chromium } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ChatClient } from '../../src/chat/client.js';
import { ROOT, requireTools, SERVE_ON_FREE_PORTS, type Server, sockit, startServer } from '../helpers.js';
import { stalledTftpRead } from '../tftp-stall.js';

const CHROMIUM = process.env.SOCKIT_CHROMIUM ?? '/usr/bin/chromium';
const SHOTS = path.join(ROOT, 'test-results', 'browser');

describe('pages in chromium', () => {
  let browser: Browser;
  let dir = '';

  beforeAll(async () => {
    requireTools(CHROMIUM);
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
    dir = mkdtempSync(path.join(os.tmpdir(), 'sockit-browser-'));
    mkdirSync(SHOTS, { recursive: true });
  });

  afterAll(async () => {
    await browser?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('the status page of sockit serve lists the services and shows a chat user arriving', async () => {
    const server: Server = await startServer(
      [
        'serve',
        '--host',
        '127.0.0.1',
        '--data-dir',
        path.join(dir, 'data'),
        ...SERVE_ON_FREE_PORTS,
        '--http-port',
        '0',
      ],
      8,
    );
    const page = await browser.newPage({ viewport: { width: 1000, height: 800 } });
    let chat: ChatClient | undefined;
    let tftp: Socket | undefined;
    try {
      const base = `http://127.0.0.1:${server.listening.find((l) => l.service === 'status')?.port}`;
      await page.goto(`${base}/`);
      expect(await page.title()).toBe('sockit status');
      // The live dashboard: its first status arrives over /api/events.
      await page.locator('#state', { hasText: 'live' }).waitFor();
      const services = await page.locator('table').first().locator('td:first-child').allTextContents();
      expect(new Set(services)).toEqual(new Set(['echo', 'tftp', 'files', 'chat', 'irc']));
      expect(await page.locator('#rooms td.members').allTextContents()).toEqual(['']);
      const chatPort = server.listening.find((l) => l.service === 'chat' && l.protocol === 'tcp')?.port;
      chat = await ChatClient.connect({ host: '127.0.0.1', port: chatPort, nick: 'ann' });
      chat.send({ type: 'join', room: 'lobby' });
      // The page follows the status live.
      await page.locator('#rooms td.members', { hasText: 'ann' }).waitFor({ timeout: 12_000 });
      // A TFTP download that stays in progress shows with its file and client.
      writeFileSync(path.join(dir, 'data', 'tftp', 'image.bin'), Buffer.alloc(1024 * 1024, 7));
      const tftpPort = server.listening.find((l) => l.service === 'tftp')?.port as number;
      tftp = await stalledTftpRead(tftpPort, 'image.bin', 3);
      await page.locator('#transfers td', { hasText: 'image.bin' }).waitFor({ timeout: 12_000 });
      const row = await page.locator('#transfers tr', { hasText: 'image.bin' }).textContent();
      expect(row).toMatch(/tftpimage\.bin127\.0\.0\.1:\d+download[\d.]+ KiB of 1\.0 MiB \(\d+%\)/);
      // Its charts have been drawing, a point a second.
      const points = await page.locator('#chart-connections polyline').getAttribute('points');
      expect((points ?? '').split(' ').length).toBeGreaterThanOrEqual(2);
      await page.screenshot({ path: path.join(SHOTS, 'status.png'), fullPage: true });
    } finally {
      tftp?.close();
      await chat?.close();
      await page.close();
      await server.stop();
    }
  });

  it('an admin logs in on the dashboard, sees usage and the log, stops a transfer and disconnects a chat user', async () => {
    const data = path.join(dir, 'admin-data');
    const env = { ...process.env, SOCKIT_PASSWORD: 'admin password 1' };
    for (const args of [
      ['users', 'add', 'ann', '--admin'],
      ['users', 'add', 'bob'],
    ]) {
      const added = await sockit([...args, '--iterations', '4096', '--data-dir', data, '-q'], { env });
      expect(added.code, added.stderr).toBe(0);
    }
    const server: Server = await startServer(
      ['serve', '--host', '127.0.0.1', '--data-dir', data, ...SERVE_ON_FREE_PORTS, '--http-port', '0'],
      8,
    );
    const page = await browser.newPage({ viewport: { width: 1000, height: 900 } });
    let carl: ChatClient | undefined;
    let tftp: Socket | undefined;
    try {
      const base = `http://127.0.0.1:${server.listening.find((l) => l.service === 'status')?.port}`;
      await page.goto(`${base}/`);
      await page.locator('#state', { hasText: 'live' }).waitFor();
      expect(await page.locator('#admin').isHidden()).toBe(true);
      const logIn = async (user: string): Promise<void> => {
        await page.locator('#login-open').click();
        await page.locator('#login-user').fill(user);
        await page.locator('#login-password').fill('admin password 1');
        await page.locator('#login button[type=submit]').click();
      };
      // An account without the grant is told so, and sees nothing more.
      await logIn('bob');
      await page.locator('#login-error', { hasText: 'bob is not an admin' }).waitFor();
      expect(await page.locator('#admin').isHidden()).toBe(true);
      await page.locator('#login-cancel').click();
      // The password never reaches the server: only SCRAM's messages are posted.
      const posted: string[] = [];
      page.on('request', (r) => {
        if (r.method() === 'POST') posted.push(r.postData() ?? '');
      });
      await logIn('ann');
      await page.locator('#who', { hasText: 'ann (admin)' }).waitFor({ timeout: 12_000 });
      expect(posted.join('\n')).not.toContain('admin password 1');
      expect(await page.locator('#users td:first-child').allTextContents()).toEqual(['ann', 'bob']);
      await page.locator('#log', { hasText: 'logged in' }).waitFor();

      const chatPort = server.listening.find((l) => l.service === 'chat' && l.protocol === 'tcp')?.port;
      carl = await ChatClient.connect({ host: '127.0.0.1', port: chatPort, nick: 'carl' });
      carl.send({ type: 'join', room: 'lobby' });
      writeFileSync(path.join(data, 'tftp', 'image.bin'), Buffer.alloc(1024 * 1024, 7));
      const tftpPort = server.listening.find((l) => l.service === 'tftp')?.port as number;
      tftp = await stalledTftpRead(tftpPort, 'image.bin', 3);
      const told = new Promise<string>((resolve) =>
        tftp?.on('message', (msg) => {
          if (msg.readUInt16BE(0) === 5) resolve(msg.subarray(4, msg.length - 1).toString());
        }),
      );
      await page
        .locator('#transfers tr', { hasText: 'image.bin' })
        .locator('button')
        .waitFor({ timeout: 12_000 });
      await page.screenshot({ path: path.join(SHOTS, 'status-admin.png'), fullPage: true });
      await page
        .locator('#transfers tr', { hasText: 'image.bin' })
        .locator('button', { hasText: 'Stop' })
        .click();
      expect(await told).toBe("stopped by the server's admin");
      await page
        .locator('#transfers td', { hasText: 'image.bin' })
        .waitFor({ state: 'detached', timeout: 12_000 });

      page.once('dialog', (dialog) => void dialog.accept());
      const gone = (async () => {
        for await (const event of carl as ChatClient) if (event.type === 'bye') return event;
        return undefined;
      })();
      await page.locator('#rooms td.members button[title="disconnect carl from the chat"]').click();
      await page.locator('#admin-note', { hasText: 'disconnected carl' }).waitFor();
      expect(await gone).toMatchObject({ reason: 'disconnected by an admin' });
      await page
        .locator('#rooms td.members', { hasText: 'carl' })
        .waitFor({ state: 'detached', timeout: 12_000 });
      await page.locator('#log', { hasText: 'admin: disconnect a chat user' }).waitFor({ timeout: 12_000 });

      await page.locator('#logout').click();
      await page.locator('#admin').waitFor({ state: 'hidden' });
      await page.locator('#login-open').waitFor();
    } finally {
      tftp?.close();
      await carl?.close();
      await page.close();
      await server.stop();
    }
  });

  it('a listing of sockit http serve: links open files, odd names show as text', async () => {
    const site = path.join(dir, 'site');
    mkdirSync(path.join(site, 'docs'), { recursive: true });
    writeFileSync(path.join(site, 'hello.txt'), 'hello from sockit\n');
    writeFileSync(path.join(site, '<b>bold.txt'), 'not bold\n');
    const server = await startServer(['http', 'serve', site, '--host', '127.0.0.1', '--port', '0'], 1);
    const page = await browser.newPage({ viewport: { width: 800, height: 600 } });
    try {
      await page.goto(`http://127.0.0.1:${server.listening[0]?.port}/`);
      expect(await page.locator('h1').textContent()).toBe('Index of /');
      const links = await page.locator('a').allTextContents();
      expect(links).toEqual(['docs/', '<b>bold.txt', 'hello.txt']);
      expect(await page.locator('b').count()).toBe(0);
      await page.screenshot({ path: path.join(SHOTS, 'listing.png') });
      await page.locator('a', { hasText: '<b>bold.txt' }).click();
      await page.waitForURL(/%3Cb%3Ebold\.txt$/);
      expect(await page.locator('body').textContent()).toBe('not bold\n');
    } finally {
      await page.close();
      await server.stop();
    }
  });
});
