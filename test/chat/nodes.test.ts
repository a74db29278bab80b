/**
 * Chat servers as nodes of one chat, without Redis: what each node relays is handed to the
 * others' `replay` by a queue that the test flushes, so the order in which nodes hear of
 * each other is the test's to choose (two guests taking one nick "at once" is a flush away).
 */
import { describe, expect, it } from 'vitest';
import type { Replayed } from '../../src/chat/hub.js';
import { ChatHub } from '../../src/chat/hub.js';
import type { ChatEvent, ChatMessage } from '../../src/chat/protocol.js';
import type { RoomState } from '../../src/chat/rooms.js';
import { ChatServer } from '../../src/chat/server.js';
import { ErrorCode } from '../../src/errors.js';

class Peer {
  readonly events: { event: ChatEvent; echo: boolean }[] = [];
  closed: { code: ErrorCode; reason: string } | undefined;
  deliver(event: ChatEvent, echo: boolean): void {
    this.events.push({ event, echo });
  }
  close(code: ErrorCode, reason: string): void {
    this.closed = { code, reason };
  }
  messages(): ChatMessage[] {
    return this.events.flatMap((e) => (e.event.type === 'message' ? [e.event.message] : []));
  }
  of<T extends ChatEvent['type']>(type: T): Extract<ChatEvent, { type: T }>[] {
    return this.events
      .filter((e) => e.event.type === type)
      .map((e) => e.event as Extract<ChatEvent, { type: T }>);
  }
}

class Mesh {
  readonly servers = new Map<number, ChatServer>();
  readonly queue: { from: number; item: Replayed }[] = [];

  node(n: number, limits?: { maxSessions: number }): ChatServer {
    const server = new ChatServer({
      hub: new ChatHub({ node: n, ...(limits ? { limits } : {}) }),
      relay: { publish: (item) => this.queue.push({ from: n, item }) },
    });
    this.servers.set(n, server);
    return server;
  }

  /** Hands every relayed item to every other node, in order, until none is left. */
  flush(): void {
    while (this.queue.length > 0) {
      const { from, item } = this.queue.shift() as { from: number; item: Replayed };
      for (const [n, server] of this.servers) if (n !== from) server.replay(item);
    }
  }

  async close(): Promise<void> {
    for (const server of this.servers.values()) await server.close();
  }
}

function guest(server: ChatServer, nick: string, room?: string): { peer: Peer; session: string } {
  const peer = new Peer();
  const attached = server.attach(peer);
  if (!('session' in attached)) throw new Error('refused');
  expect(server.command(attached.session, { type: 'nick', nick })).toBeUndefined();
  if (room) expect(server.command(attached.session, { type: 'join', room })).toBeUndefined();
  return { peer, session: attached.session };
}

describe('chat servers as nodes of one chat', () => {
  it('share rooms: members, messages with the id and time of the node that took them, parts and quits', async () => {
    const mesh = new Mesh();
    const a = mesh.node(1);
    const b = mesh.node(2);
    const ann = guest(a, 'ann', 'lobby');
    mesh.flush();
    const bob = guest(b, 'bob', 'lobby');
    mesh.flush();
    // Each sees the other arrive, and in the member list.
    expect(ann.peer.of('join').map((j) => j.member.nick)).toEqual(['bob']);
    expect(
      bob.peer
        .of('joined')[0]
        ?.members.map((m) => m.nick)
        .sort(),
    ).toEqual(['ann', 'bob']);

    expect(a.command(ann.session, { type: 'say', room: 'lobby', text: 'hello from a' })).toBeUndefined();
    mesh.flush();
    expect(b.command(bob.session, { type: 'say', room: 'lobby', text: 'hello from b' })).toBeUndefined();
    mesh.flush();
    const seenByAnn = ann.peer.messages();
    const seenByBob = bob.peer.messages();
    expect(seenByAnn.map((m) => m.text)).toEqual(['hello from a', 'hello from b']);
    // One message, one id and one time, on every node.
    expect(seenByBob).toEqual(seenByAnn);
    expect(seenByAnn[0]?.id.endsWith('01')).toBe(true); // made by node 1
    expect(seenByAnn[1]?.id.endsWith('02')).toBe(true);

    // What node 2 passes on after replaying a message of node 1 carries no stamp of it.
    a.command(ann.session, { type: 'say', room: 'lobby', text: 'one more' });
    mesh.flush();
    expect(b.command(bob.session, { type: 'join', room: 'elsewhere' })).toBeUndefined();
    expect(mesh.queue.at(-1)).toEqual({
      from: 2,
      item: { type: 'command', session: bob.session, command: { type: 'join', room: 'elsewhere' } },
    });
    mesh.flush();
    b.detach(bob.session, 'gone home');
    mesh.flush();
    expect(ann.peer.of('quit')).toEqual([{ type: 'quit', nick: 'bob', reason: 'gone home' }]);
    await mesh.close();
  });

  it('delivers a direct message to a user on another node, and keeps nicks unique across nodes', async () => {
    const mesh = new Mesh();
    const a = mesh.node(1);
    const b = mesh.node(2);
    const ann = guest(a, 'ann');
    const bob = guest(b, 'bob');
    mesh.flush();
    expect(a.command(ann.session, { type: 'dm', to: 'bob', text: 'psst' })).toBeUndefined();
    mesh.flush();
    expect(bob.peer.messages().map((m) => [m.from, m.text, m.to])).toEqual([['ann', 'psst', 'bob']]);
    // bob is taken on node 1 too.
    const other = new Peer();
    const attached = a.attach(other);
    if (!('session' in attached)) throw new Error('refused');
    expect(a.command(attached.session, { type: 'nick', nick: 'BOB' })?.code).toBe(ErrorCode.NICK_IN_USE);
    await mesh.close();
  });

  it('settles one guest nick taken on two nodes at once alike on both: the lower node keeps it', async () => {
    const mesh = new Mesh();
    const a = mesh.node(1);
    const b = mesh.node(2);
    const c = mesh.node(3);
    const onA = guest(a, 'ann', 'lobby');
    const onB = guest(b, 'Ann', 'lobby');
    const watcher = guest(c, 'carl', 'lobby');
    // Node 3 hears of node 2's ann first, then node 1's.
    mesh.queue.sort((x, y) => y.from - x.from);
    mesh.flush();
    expect(onB.peer.closed?.code).toBe(ErrorCode.NICK_IN_USE);
    expect(onA.peer.closed).toBeUndefined();
    a.command(onA.session, { type: 'say', room: 'lobby', text: 'still me' });
    mesh.flush();
    expect(watcher.peer.messages().map((m) => `${m.from}: ${m.text}`)).toEqual(['ann: still me']);
    // Everyone's member list: one ann, node 1's.
    for (const [server, session] of [
      [a, onA.session],
      [c, watcher.session],
    ] as const) {
      const peer = server === a ? onA.peer : watcher.peer;
      server.command(session, { type: 'members', room: 'lobby' });
      expect(
        peer
          .of('members')
          .at(-1)
          ?.members.map((m) => m.nick),
      ).toEqual(['ann', 'carl']);
    }
    await mesh.close();
  });

  it('lets the sessions of a lost node go, and builds a new node from the others’ snapshots', async () => {
    const mesh = new Mesh();
    const a = mesh.node(1);
    const b = mesh.node(2);
    const ann = guest(a, 'ann', 'lobby');
    const bob = guest(b, 'bob', 'lobby');
    mesh.flush();
    b.forgetNode(1, 'a chat server node stopped answering');
    expect(bob.peer.of('quit')).toEqual([
      { type: 'quit', nick: 'ann', reason: 'a chat server node stopped answering' },
    ]);
    // ann may come back on node 2 at once.
    const back = guest(b, 'ann', 'lobby');
    expect(back.peer.closed).toBeUndefined();
    mesh.flush(); // node 1 hears of a second ann, on a higher node: its own keeps the nick there
    expect(ann.peer.closed).toBeUndefined();

    // A third node starts: it replays what the others say they hold.
    const c = mesh.node(3);
    for (const server of [a, b]) for (const item of server.hub.snapshot()) c.replay(item);
    const carl = guest(c, 'carl', 'lobby');
    expect(
      carl.peer
        .of('joined')[0]
        ?.members.map((m) => m.nick)
        .sort(),
    ).toEqual(['ann', 'bob', 'carl']);
    await mesh.close();
  });

  it('renames a guest whose nick an account logs in with to the same nick on every node', async () => {
    const mesh = new Mesh();
    const a = mesh.node(1);
    const b = mesh.node(2);
    // Different numbers of users on each node before: a count-based name would differ.
    guest(b, 'zed');
    const ann = guest(a, 'ann', 'lobby');
    const watcher = guest(b, 'watcher', 'lobby');
    mesh.flush();
    guest(b, 'extra'); // not yet relayed to node 1
    const peer = new Peer();
    const attached = b.attach(peer);
    if (!('session' in attached)) throw new Error('refused');
    expect(b.login(attached.session, { name: 'ann', grants: [] })).toBeUndefined();
    mesh.flush();
    const onA = ann.peer.of('nick').at(-1);
    const onB = watcher.peer.of('nick').at(-1);
    expect(onA?.old).toBe('ann');
    expect(onA?.nick).toMatch(/^Guest1-\d+$/);
    expect(onB).toEqual(onA);
    await mesh.close();
  });

  it('tells a node that starts late what the rooms are: topic, lock, operators and bans', async () => {
    const mesh = new Mesh();
    const a = mesh.node(1);
    const bob = guest(a, 'bob');
    const ann = guest(a, 'ann', 'dev'); // made the room: its operator
    expect(a.command(bob.session, { type: 'join', room: 'dev' })).toBeUndefined();
    expect(
      a.command(ann.session, { type: 'topic', room: 'dev', topic: 'release on friday' }),
    ).toBeUndefined();
    expect(a.command(ann.session, { type: 'lock', room: 'dev', locked: true })).toBeUndefined();
    expect(a.command(ann.session, { type: 'ban', room: 'dev', target: { nick: 'mallory' } })).toBeUndefined();
    mesh.flush();

    // bob's join comes first in the snapshot, so it makes the room on node 2 and would make
    // him its operator there; the room's own state says who is.
    const b = mesh.node(2);
    for (const item of a.hub.snapshot()) b.replay(item);
    const carl = guest(b, 'carl', 'dev');
    const joined = carl.peer.of('joined')[0];
    expect(joined?.room).toMatchObject({
      name: 'dev',
      topic: 'release on friday',
      topicBy: 'ann',
      locked: true,
    });
    expect(Object.fromEntries(joined?.members.map((m) => [m.nick, m.op]) ?? [])).toEqual({
      ann: true,
      bob: false,
      carl: false,
    });
    expect(b.command(carl.session, { type: 'topic', room: 'dev', topic: 'mine' })?.code).toBe(
      ErrorCode.NOT_OPERATOR,
    );
    const mallory = guest(b, 'mallory');
    expect(b.command(mallory.session, { type: 'join', room: 'dev' })?.code).toBe(ErrorCode.BANNED);
    await mesh.close();
  });

  it('checks a room state from another node as it checks a client: bad names, long topics, too many bans', async () => {
    const mesh = new Mesh();
    const a = mesh.node(1);
    const ann = guest(a, 'ann', 'dev');
    const room = (state: Record<string, unknown>) =>
      a.replay({ type: 'room', room: state as unknown as RoomState });
    room({
      name: 'dev',
      topic: 'x'.repeat(100_000),
      topicAt: Date.now() + 1000,
      locked: false,
      ops: [],
      bans: [],
    });
    room({ name: 'nope', topic: 'ghost', topicAt: Date.now() + 1000, locked: true, ops: ['ann'], bans: [] });
    room({
      name: 'dev',
      topic: 'ok',
      topicAt: 'soon',
      locked: false,
      ops: ['ANN', 'has space', 'z'.repeat(1000), 7],
      bans: Array.from({ length: 10_000 }, (_, i) => ({ nick: `n${i}` })),
    });
    expect(a.command(ann.session, { type: 'members', room: 'dev' })).toBeUndefined();
    const info = ann.peer.of('members').at(-1);
    expect(info?.room.topic).toBe('');
    expect(
      a.hub
        .snapshot()
        .filter((i) => i.type === 'room')
        .map((i) => i.type === 'room' && i.room.name),
    ).toEqual(['lobby', 'dev']);
    const dev = a.hub.snapshot().find((i) => i.type === 'room' && i.room.name === 'dev');
    // ann keeps her own operator status (her room has a member of this node); nothing else was a key.
    expect(dev?.type === 'room' && dev.room.ops).toEqual(['ann']);
    expect(dev?.type === 'room' && dev.room.bans.length).toBe(100);
    await mesh.close();
  });

  it('counts only its own sessions against maxSessions, and never replays onto one of them', async () => {
    const mesh = new Mesh();
    const a = mesh.node(1, { maxSessions: 2 });
    const b = mesh.node(2);
    for (const nick of ['b1', 'b2', 'b3']) guest(b, nick);
    mesh.flush();
    expect(a.hub.sessionCount).toBe(3);
    const first = guest(a, 'a1');
    guest(a, 'a2');
    expect('refusal' in a.attach(new Peer())).toBe(true);
    // An item naming a session of node 1 (forged, or echoed back) changes nothing there.
    a.replay({ type: 'command', session: first.session, command: { type: 'nick', nick: 'evil' } });
    a.replay({ type: 'close', session: first.session, reason: 'forged' });
    expect(a.hub.nickOf(first.session)).toBe('a1');
    await mesh.close();
  });
});
