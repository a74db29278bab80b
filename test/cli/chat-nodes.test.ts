/**
 * Two `sockit chat serve` processes, one chat: they share rooms through the Redis running on
 * this machine and history through one PostgreSQL database. Clients on each see the other's;
 * when one node is killed (SIGKILL: no goodbye), `sockit chat tail` connected to it moves to
 * the other and prints every message once: none missed, none twice.
 *
 * Needs Redis (127.0.0.1:6379, or SOCKIT_TEST_REDIS) and PostgreSQL (see test/databases.ts):
 * when either is down the suite fails and says so.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ChatClient, type ClientEvent } from '../../src/chat/client.js';
import { createTestDatabase, type TestDatabase } from '../databases.js';
import { CLI, SERVE_ON_FREE_PORTS, type Server, sockit, startServer } from '../helpers.js';

const REDIS = process.env.SOCKIT_TEST_REDIS ?? 'redis://127.0.0.1:6379';
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function requireRedis(): Promise<void> {
  const redis = new Redis(REDIS, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
  redis.on('error', () => {});
  try {
    await redis.connect();
    await redis.ping();
  } catch (err) {
    throw new Error(
      `Redis at ${REDIS} is not answering (${(err as Error).message}): start it with ` +
        'start-stop-daemon --start --oknodo --background --exec /usr/bin/redis-server',
    );
  } finally {
    redis.disconnect();
  }
}

/** A native client that records every event it gets. */
async function member(port: number, nick: string): Promise<{ client: ChatClient; events: ClientEvent[] }> {
  const client = await ChatClient.connect({ host: '127.0.0.1', port, nick });
  const events: ClientEvent[] = [];
  void (async () => {
    try {
      for await (const event of client) events.push(event);
    } catch {
      // the node went away: what was recorded stays
    }
  })();
  client.send({ type: 'join', room: 'lobby' });
  for (let i = 0; i < 250 && !events.some((e) => e.type === 'joined'); i++) await sleep(20);
  expect(
    events.some((e) => e.type === 'joined'),
    `${nick} joined`,
  ).toBe(true);
  return { client, events };
}

const texts = (events: ClientEvent[], echo: boolean): string[] =>
  events.flatMap((e) => (e.type === 'message' && (e.echo === true) === echo ? [e.message.text] : []));

describe('two chat nodes on one Redis', () => {
  let dir = '';
  let db: TestDatabase | undefined;
  const nodes: Server[] = [];
  let tail: ChildProcess | undefined;

  /** `sockit chat serve` as a node on the test's Redis (under `prefix`) and database. */
  const chatNode = (prefix: string, extra: string[] = []): Promise<Server> =>
    startServer(
      [
        'chat',
        'serve',
        '--data-dir',
        dir,
        '--db',
        db?.url as string,
        '--host',
        '127.0.0.1',
        '--port',
        '0',
      ].concat(['--no-irc', '--no-udp', '--redis', REDIS, '--redis-prefix', prefix, ...extra]),
      1,
    );

  beforeAll(async () => {
    await requireRedis();
    db = await createTestDatabase('postgres');
    dir = await mkdtemp(path.join(tmpdir(), 'sockit-chat-nodes-'));
  });

  afterAll(async () => {
    tail?.kill('SIGKILL');
    for (const node of nodes) if (node.child.exitCode === null) await node.stop('SIGKILL');
    await db?.drop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('shares one room across nodes; after a kill -9, a client moves to the other node and misses nothing', {
    timeout: 90_000,
  }, async () => {
    const prefix = `sockit-test-${process.pid}-${randomBytes(4).toString('hex')}`;
    const serve = () => chatNode(prefix);
    const a = await serve();
    nodes.push(a);
    const b = await serve();
    nodes.push(b);
    const portA = a.listening[0]?.port as number;
    const portB = b.listening[0]?.port as number;
    // Junk on the channel (not JSON, an unknown kind, a command the schema refuses) changes nothing.
    const junk = new Redis(REDIS);
    const envelope = { node: 999, epoch: 'x' };
    for (const text of [
      'not json',
      JSON.stringify({ ...envelope, kind: 'surprise' }),
      JSON.stringify({
        ...envelope,
        kind: 'do',
        item: { type: 'command', session: '999-1', command: { type: 'say' } },
      }),
      JSON.stringify({
        ...envelope,
        kind: 'do',
        item: { type: 'command', session: '../x', command: { type: 'nick', nick: 'zed' } },
      }),
    ]) {
      await junk.publish(`${prefix}:events`, text);
    }
    junk.disconnect();

    // A guest on each node: each sees the other join and talk, live.
    const ann = await member(portA, 'ann');
    const bob = await member(portB, 'bob');
    for (let i = 0; i < 250 && !ann.events.some((e) => e.type === 'join' && e.member.nick === 'bob'); i++)
      await sleep(20);
    expect(ann.events.some((e) => e.type === 'join' && e.member.nick === 'bob')).toBe(true);

    // The tail follows the room through node A first (the list is tried in order).
    let out = '';
    tail = spawn(
      process.execPath,
      [CLI, 'chat', 'tail', `127.0.0.1:${portA},127.0.0.1:${portB}`, 'lobby', '--json', '--nick', 'follower'],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let tailErr = '';
    tail.stdout?.on('data', (d: Buffer) => {
      out += d.toString();
    });
    tail.stderr?.on('data', (d: Buffer) => {
      tailErr += d.toString();
    });
    const printed = (): { id: string; text: string }[] =>
      out
        .split('\n')
        .filter((l) => l.trim() !== '')
        .map((l) => JSON.parse(l) as { id: string; text: string });
    const waitPrinted = async (count: number, ms: number): Promise<void> => {
      for (let waited = 0; waited < ms && printed().length < count; waited += 20) await sleep(20);
    };
    const first = await sockit([
      'chat',
      'send',
      `127.0.0.1:${portA}`,
      'lobby',
      'before the tail',
      '--nick',
      'w',
    ]);
    expect(first.code, first.stderr).toBe(0);
    await waitPrinted(1, 10_000);
    expect(printed().map((m) => m.text)).toEqual(['before the tail']);

    // Both talk, on their own nodes; bob keeps talking through the kill and after it.
    const annSaid: string[] = [];
    // (Within the default rate limit: 20 commands at once, then 2 a second.)
    for (let i = 0; i < 15; i++) {
      const text = `a${i}`;
      ann.client.send({ type: 'say', room: 'lobby', text });
      annSaid.push(text);
      await sleep(10);
    }
    const bobSaid: string[] = [];
    let talking = true;
    const bobTalks = (async () => {
      for (let i = 0; talking; i++) {
        const text = `b${i}`;
        bob.client.send({ type: 'say', room: 'lobby', text });
        bobSaid.push(text);
        await sleep(400);
      }
    })();
    // Everything ann said has reached bob, through Redis, and the tail, through node A.
    const fromAnn = (): string[] => texts(bob.events, false).filter((t) => /^a\d+$/.test(t));
    for (let i = 0; i < 500 && fromAnn().length < annSaid.length; i++) await sleep(20);
    expect(fromAnn()).toEqual(annSaid);
    await waitPrinted(1 + annSaid.length + 2, 10_000);
    expect(printed().length).toBeGreaterThan(1 + annSaid.length);

    a.child.kill('SIGKILL');
    await new Promise((resolve) => a.child.once('exit', resolve));
    // The tail reconnects to B (its nick freed there once A is taken for dead) while bob talks on.
    await sleep(8000);
    talking = false;
    await bobTalks;
    const bobEchoed = (): string[] => texts(bob.events, true);
    for (let i = 0; i < 250 && bobEchoed().length < bobSaid.length; i++) await sleep(20);
    expect(bobEchoed()).toEqual(bobSaid);
    expect(bobSaid.length).toBeGreaterThan(15);
    expect([...ann.events, ...bob.events].filter((e) => e.type === 'refused')).toEqual([]);
    const expected = ['before the tail', ...annSaid, ...bobSaid];
    await waitPrinted(expected.length, 20_000);

    const got = printed();
    expect(new Set(got.map((m) => m.id)).size, 'no message printed twice').toBe(got.length);
    expect(got.map((m) => m.text).sort(), tailErr).toEqual([...expected].sort());
    // In the order of each speaker.
    expect(got.map((m) => m.text).filter((t) => /^b\d+$/.test(t))).toEqual(bobSaid);
    // Node B let node A's users go: bob saw ann quit.
    expect(bob.events.some((e) => e.type === 'quit' && e.nick === 'ann')).toBe(true);
    await bob.client.close();
  });

  it('tells a node that starts late the topic and lock of a room made before it', {
    timeout: 60_000,
  }, async () => {
    const prefix = `sockit-test-${process.pid}-${randomBytes(4).toString('hex')}`;
    const a = await chatNode(prefix);
    nodes.push(a);
    const ann = await member(a.listening[0]?.port as number, 'ann');
    ann.client.send({ type: 'join', room: 'dev' });
    ann.client.send({ type: 'topic', room: 'dev', topic: 'release on friday' });
    ann.client.send({ type: 'lock', room: 'dev', locked: true });
    for (let i = 0; i < 250 && !ann.events.some((e) => e.type === 'topic' && e.locked); i++) await sleep(20);
    expect(ann.events.some((e) => e.type === 'topic' && e.locked)).toBe(true);

    const b = await chatNode(prefix);
    nodes.push(b);
    const carl = await member(b.listening[0]?.port as number, 'carl');
    // Node B learns the rooms from A's answer to its hello: try until it has.
    let joined: Extract<ClientEvent, { type: 'joined' }> | undefined;
    for (let i = 0; i < 100 && joined?.room.topic !== 'release on friday'; i++) {
      if (i > 0) {
        carl.client.send({ type: 'part', room: 'dev' });
        await sleep(50);
      }
      const before = carl.events.length;
      carl.client.send({ type: 'join', room: 'dev' });
      for (let j = 0; j < 100 && joined === undefined; j++) {
        await sleep(10);
        joined = carl.events
          .slice(before)
          .find(
            (e): e is Extract<ClientEvent, { type: 'joined' }> =>
              e.type === 'joined' && e.room.name === 'dev',
          );
      }
      if (joined?.room.topic !== 'release on friday') joined = undefined;
    }
    expect(joined?.room).toMatchObject({
      name: 'dev',
      topic: 'release on friday',
      topicBy: 'ann',
      locked: true,
    });
    expect(joined?.members.find((m) => m.nick === 'ann')?.op).toBe(true);
    await ann.client.close();
    await carl.client.close();
    expect(await b.stop()).toBe(0);
    expect(await a.stop()).toBe(0);
  });

  it('joins `sockit serve` to the chat nodes on the same Redis with --redis', {
    timeout: 60_000,
  }, async () => {
    const prefix = `sockit-test-${process.pid}-${randomBytes(4).toString('hex')}`;
    const node = await chatNode(prefix);
    nodes.push(node);
    const all = await startServer(
      [
        'serve',
        '--data-dir',
        dir,
        '--db',
        db?.url as string,
        ...SERVE_ON_FREE_PORTS,
        '--redis',
        REDIS,
        '--redis-prefix',
        prefix,
        '--http-port',
        '0',
      ],
      8,
    );
    nodes.push(all);
    const chatPort = all.listening.find((l) => l.service === 'chat' && l.protocol === 'tcp')?.port as number;
    const ann = await member(node.listening[0]?.port as number, 'ann');
    const bob = await member(chatPort, 'bob');
    const sees = (events: ClientEvent[], nick: string) =>
      events.some(
        (e) =>
          (e.type === 'join' && e.member.nick === nick) ||
          (e.type === 'joined' && e.members.some((m) => m.nick === nick)),
      );
    for (let i = 0; i < 250 && !(sees(ann.events, 'bob') && sees(bob.events, 'ann')); i++) await sleep(20);
    bob.client.send({ type: 'say', room: 'lobby', text: 'from sockit serve' });
    for (let i = 0; i < 250 && texts(ann.events, false).length === 0; i++) await sleep(20);
    expect(texts(ann.events, false)).toEqual(['from sockit serve']);
    // Its status says that its chat is one node of two, linked.
    const statusPort = all.listening.find((l) => l.service === 'status')?.port;
    const status = (await (await fetch(`http://127.0.0.1:${statusPort}/api/status`)).json()) as {
      services: { name: string; protocol: string; state: string }[];
    };
    const states = Object.fromEntries(status.services.map((s) => [`${s.name}/${s.protocol}`, s.state]));
    expect(states['chat/tcp']).toMatch(/^node \d+ of 2, redis ready$/);
    expect(states['echo/tcp']).toBe('listening');
    await ann.client.close();
    await bob.client.close();
    expect(await all.stop()).toBe(0);
    expect(await node.stop()).toBe(0);
  });

  it('runs as a cluster of workers joined by Redis: clients on any worker talk to each other', {
    timeout: 60_000,
  }, async () => {
    const prefix = `sockit-test-${process.pid}-${randomBytes(4).toString('hex')}`;
    const cluster = await chatNode(prefix, ['--model', 'cluster', '-w', '2']);
    nodes.push(cluster);
    const port = cluster.listening[0]?.port as number;
    // Connections go to the workers in turn: three clients span both.
    const people = [await member(port, 'ann'), await member(port, 'bob'), await member(port, 'carl')];
    // Until every worker has heard the others' hello, a join may not show everyone yet: wait
    // for each to see the other two in the room, then talk.
    const nicksIn = (events: ClientEvent[]): Set<string> => {
      const seen = new Set<string>();
      for (const e of events) {
        if (e.type === 'joined') for (const m of e.members) seen.add(m.nick);
        if (e.type === 'join') seen.add(e.member.nick);
      }
      return seen;
    };
    for (let i = 0; i < 500 && people.some((p) => nicksIn(p.events).size < 3); i++) await sleep(20);
    for (const [i, p] of people.entries()) p.client.send({ type: 'say', room: 'lobby', text: `hello ${i}` });
    const heard = (p: (typeof people)[number]): string[] => texts(p.events, false).sort();
    for (let i = 0; i < 500 && people.some((p) => heard(p).length < 2); i++) await sleep(20);
    expect(people.map(heard)).toEqual([
      ['hello 1', 'hello 2'],
      ['hello 0', 'hello 2'],
      ['hello 0', 'hello 1'],
    ]);
    for (const p of people) await p.client.close();
    expect(await cluster.stop()).toBe(0);
  });

  it('refuses --model cluster without --redis, saying why', async () => {
    const result = await sockit(['chat', 'serve', '--model', 'cluster', '--data-dir', dir, '--port', '0']);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/^sockit: --model cluster needs --redis URL: .* \[ERR_USAGE\]\n$/);
  });
});
