/**
 * Attacks on the chat's rules that got through. Each test shows one hole: it fails while the
 * hole is open and passes once it is closed, whichever way it is closed.
 *
 * - Account names are kept case for case by the user store (`ann` and `ANN` are two
 *   accounts, and either may be made by self-registration), but the chat folds them into one
 *   nick. The second account then takes over the first's nick: its operator status in rooms,
 *   the direct messages that wait for it, its direct-message history, and the real owner
 *   cannot log in while it is online.
 * - Direct-message history is read by folded nick alone, so an account made after a guest
 *   used its name reads every direct message that guest sent or received.
 * - A guest may take a UDP source's nick (`udp-10-0-0-5`): it speaks as that address, and
 *   the real source's datagrams are dropped.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { deriveCredentials } from '../../src/auth/scram.js';
import { openUserStore, type UserStore } from '../../src/auth/store.js';
import { AccountNames } from '../../src/chat/accounts.js';
import { runHistoryEffect } from '../../src/chat/effects.js';
import { type ChatHistory, openChatHistory } from '../../src/chat/history.js';
import type { ChatEvent, ChatMessage, Delivery } from '../../src/chat/protocol.js';
import { type ChatPeer, ChatServer } from '../../src/chat/server.js';
import { UdpRoom } from '../../src/chat/udp.js';
import { ErrorCode, isSockitError } from '../../src/errors.js';
import { type Client, Harness } from '../chat.js';

let dir: string;
let store: UserStore;
let history: ChatHistory;

beforeEach(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'sockit-chat-attack-'));
  const db = path.join(dir, 'sockit.db');
  store = await openUserStore(db);
  history = await openChatHistory(db);
});

afterEach(async () => {
  await history.close();
  await store.close();
  await rm(dir, { recursive: true, force: true });
});

/** Adds an account; false when the store refuses the name (the hole closed at the source). */
async function addAccount(name: string): Promise<boolean> {
  const credentials = await deriveCredentials(`pw-${name}`, { iterations: 4096 });
  try {
    await store.add(name, credentials);
    return true;
  } catch (err) {
    if (isSockitError(err, ErrorCode.USER_EXISTS) || isSockitError(err, ErrorCode.BAD_USER_NAME))
      return false;
    throw err;
  }
}

/** Runs every effect the hub asked for so far against the real history, in order. */
async function runEffects(h: Harness): Promise<void> {
  const effects = h.effects.splice(0);
  for (const effect of effects) {
    await runHistoryEffect(history, effect, (d: Delivery) => {
      for (const id of d.to) h.clients.get(id)?.inbox.push({ event: d.event, echo: d.echo === true });
    });
  }
}

/** The messages a client was handed in history pages (offline or asked for). */
function historyMessages(c: Client): ChatMessage[] {
  return c.events('history').flatMap((e) => e.messages);
}

describe('accounts whose names differ only in case', () => {
  it('a second account cannot take the first one’s operator status', async () => {
    expect(await addAccount('ann')).toBe(true);
    if (!(await addAccount('ANN'))) return; // the store refuses the look-alike: closed
    const h = new Harness({ accounts: await AccountNames.fromStore(store) });
    const ann = h.account('ann');
    ann.ok({ type: 'join', room: 'ops' });
    const bob = h.guest('bob');
    bob.ok({ type: 'join', room: 'ops' });
    ann.close('gone for lunch');

    const imp = h.connect();
    const login = h.route(h.hub.authenticate(imp.id, 'ANN'));
    if (login.refusal !== undefined) return; // refused outright: closed
    imp.ok({ type: 'join', room: 'ops' });
    expect(imp.events('joined').at(-1)?.op, 'ANN is an operator of a room ann made').toBe(false);
    imp.refused({ type: 'kick', room: 'ops', nick: 'bob' }, ErrorCode.NOT_OPERATOR);
  });

  it('a second account cannot take the direct messages that wait for the first', async () => {
    for (const name of ['ann', 'bob']) expect(await addAccount(name)).toBe(true);
    if (!(await addAccount('ANN'))) return;
    const h = new Harness({ accounts: await AccountNames.fromStore(store) });
    const bob = h.account('bob');
    bob.ok({ type: 'dm', to: 'ann', text: 'for ann only: the code is 1234' });
    await runEffects(h);

    const imp = h.connect();
    const login = h.route(h.hub.authenticate(imp.id, 'ANN'));
    if (login.refusal !== undefined) return;
    await runEffects(h);
    expect(historyMessages(imp).map((m) => m.text)).not.toContain('for ann only: the code is 1234');
    imp.close();

    // ... and the real ann still gets it at her log-in.
    const ann = h.account('ann');
    await runEffects(h);
    expect(historyMessages(ann).map((m) => m.text)).toContain('for ann only: the code is 1234');
  });

  it('a second account cannot read the first one’s direct-message history', async () => {
    for (const name of ['ann', 'bob']) expect(await addAccount(name)).toBe(true);
    if (!(await addAccount('ANN'))) return;
    const h = new Harness({ accounts: await AccountNames.fromStore(store) });
    const ann = h.account('ann');
    const bob = h.account('bob');
    bob.ok({ type: 'dm', to: 'ann', text: 'private to ann' });
    ann.close();
    await runEffects(h);

    const imp = h.connect();
    const login = h.route(h.hub.authenticate(imp.id, 'ANN'));
    if (login.refusal !== undefined) return;
    imp.ok({ type: 'history' });
    await runEffects(h);
    expect(historyMessages(imp).map((m) => m.text)).not.toContain('private to ann');
  });

  it('the real owner can log in while the look-alike account is online', async () => {
    expect(await addAccount('ann')).toBe(true);
    if (!(await addAccount('ANN'))) return;
    const h = new Harness({ accounts: await AccountNames.fromStore(store) });
    const imp = h.connect();
    const login = h.route(h.hub.authenticate(imp.id, 'ANN'));
    if (login.refusal !== undefined) return;
    const ann = h.connect();
    const outcome = h.route(h.hub.authenticate(ann.id, 'ann'));
    expect(outcome.refusal?.code, 'ann locked out by ANN').toBeUndefined();
  });
});

describe('direct-message history of a nick that changed hands', () => {
  it('an account made after a guest used its name does not read that guest’s messages', async () => {
    expect(await addAccount('bob')).toBe(true);
    const accounts = await AccountNames.fromStore(store);
    const h = new Harness({ accounts });
    const guest = h.guest('carol');
    const bob = h.account('bob');
    bob.ok({ type: 'dm', to: 'carol', text: 'carol, your one-time code is 998877' });
    guest.ok({ type: 'dm', to: 'bob', text: 'thanks bob, my address is 1 Elm St' });
    guest.close();
    bob.close();
    await runEffects(h);

    // Later someone registers (or is given) the account "carol".
    expect(await addAccount('carol')).toBe(true);
    accounts.replace((await store.list()).map((u) => u.name));
    const carol = h.account('carol');
    carol.ok({ type: 'history' });
    await runEffects(h);
    const texts = historyMessages(carol).map((m) => m.text);
    expect(texts).not.toContain('carol, your one-time code is 998877');
    expect(texts).not.toContain('thanks bob, my address is 1 Elm St');
  });
});

describe('UDP source nicks', () => {
  class Recorder implements ChatPeer {
    readonly events: ChatEvent[] = [];
    deliver(event: ChatEvent): void {
      this.events.push(event);
    }
    close(): void {}
  }

  it('a guest cannot take the nick of a UDP source and speak as its address', () => {
    const server = new ChatServer({ hub: new Harness().hub });
    const room = new UdpRoom({ server, room: 'lobby', ownPort: 7788 });
    try {
      const watcher = new Recorder();
      const w = server.attach(watcher);
      if (!('session' in w)) throw new Error('refused');
      server.command(w.session, { type: 'nick', nick: 'watcher' });
      server.command(w.session, { type: 'join', room: 'lobby' });

      const faker = server.attach(new Recorder());
      if (!('session' in faker)) throw new Error('refused');
      const refused = server.command(faker.session, { type: 'nick', nick: 'udp-10-0-0-5' });
      if (refused === undefined) {
        server.command(faker.session, { type: 'join', room: 'lobby' });
        server.command(faker.session, { type: 'say', room: 'lobby', text: 'forged' });
      }
      // The real source speaks.
      room.datagram(Buffer.from('real\n'), { address: '10.0.0.5', port: 40000, family: 'IPv4', size: 5 });
      const said = watcher.events.flatMap((e) =>
        e.type === 'message' && e.message.from === 'udp-10-0-0-5' ? [e.message.text] : [],
      );
      expect(said).toEqual(['real']);
    } finally {
      room.close();
      void server.close();
    }
  });
});
