/**
 * The chat's caps on connections apply to its IRC listener too (it used to keep its own
 * default of 32 per address, whatever --max-per-address said).
 */
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { openUserStore, type UserStore } from '../../src/auth/store.js';
import { type ChatService, serveChat } from '../../src/chat/service.js';
import { IrcClient } from '../irc.js';

describe('the chat service’s caps on every listener', () => {
  let dir: string;
  let store: UserStore;
  let chat: ChatService;

  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'sockit-chat-caps-'));
    const db = path.join(dir, 'chat.db');
    store = await openUserStore(db);
    chat = await serveChat({
      store,
      history: db,
      fakeKey: randomBytes(32),
      host: '127.0.0.1',
      port: 0,
      udp: false,
      ircPort: 0,
      maxPerAddress: 3,
    });
  });

  afterAll(async () => {
    await chat?.close();
    await store?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('frees the place of a connection that leaves before its first byte', async () => {
    const port = chat.address.port;
    // Many more than the cap, each closed (ended or destroyed) before sending anything.
    for (let i = 0; i < 8; i++) {
      const socket = net.connect({ host: '127.0.0.1', port });
      await once(socket, 'connect');
      if (i % 2) socket.end();
      else socket.destroy();
      await once(socket, 'close');
    }
    // Its places were given back: one that speaks is served (greeted), not refused.
    await vi.waitFor(async () => {
      const probe = net.connect({ host: '127.0.0.1', port });
      probe.on('error', () => {});
      probe.write('PING\r\n');
      const [data] = await Promise.race([once(probe, 'data'), once(probe, 'close').then(() => [undefined])]);
      probe.destroy();
      expect(data).toBeDefined();
    });
  });

  it('--max-per-address holds on the IRC listener', async () => {
    const service = chat.others.find((s) => s.name === 'irc');
    expect(service).toBeDefined();
    const port = service?.address.port as number;
    const held = await Promise.all([0, 1, 2].map(() => IrcClient.connect(port)));
    const fourth = net.connect({ host: '127.0.0.1', port });
    fourth.on('error', () => {});
    fourth.resume();
    await once(fourth, 'close');
    // The three within the cap are served.
    await (held[0] as IrcClient).register('ann');
    for (const client of held) client.close();
  });
});
