/**
 * LanNode without sockets: nodes joined by an in-memory network that can drop datagrams.
 * Discovery by broadcast, messages acknowledged and delivered exactly once under loss and
 * duplication, sealed messages' read notices, the charsets each kind of peer gets; and the
 * defences: no answer larger than its question, a flood from one address bounded, garbage
 * ignored, the peer list bounded.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { seededRandom } from '../../test/prng.js';
import { buildPacket, Mode, mode, Opt, parsePacket } from './ipmsg.js';
import { type LanAddress, type LanMessage, LanNode, type LanNodeOptions, MAX_PEERS } from './node.js';

const BROADCAST = '10.0.0.255';
const PORT = 2425;

/** Datagrams between nodes by address; the broadcast address reaches every node but the sender. */
class Network {
  readonly nodes = new Map<string, LanNode>();
  /** Every datagram sent: [from, to, bytes]. */
  readonly log: [string, string, Buffer][] = [];
  drop: (data: Buffer) => boolean = () => false;

  add(address: string, options: Partial<LanNodeOptions> = {}): LanNode {
    const node = new LanNode(
      { send: (data, to) => this.deliver(address, data, to) },
      {
        nick: `nick-${address}`,
        user: `user${address.split('.').pop()}`,
        host: `host${address.split('.').pop()}`,
        broadcast: [{ address: BROADCAST, port: PORT }],
        retryMs: 20,
        answerDelayMs: 5,
        ...options,
      },
    );
    this.nodes.set(address, node);
    return node;
  }

  deliver(from: string, data: Buffer, to: LanAddress): void {
    this.log.push([from, to.address, data]);
    const targets =
      to.address === BROADCAST ? [...this.nodes.keys()].filter((a) => a !== from) : [to.address];
    for (const address of targets) {
      if (this.drop(data)) continue;
      const node = this.nodes.get(address);
      // A datagram is handled later, as a socket would deliver it.
      if (node) setImmediate(() => node.receive(data, { address: from, port: PORT }));
    }
  }
}

function must<T>(value: T | undefined): T {
  if (value === undefined) throw new Error('missing');
  return value;
}

const settle = (ms = 50) => new Promise((resolve) => setTimeout(resolve, ms));

/** Two nodes that found each other. */
async function pair(net = new Network(), options: Partial<LanNodeOptions> = {}) {
  const a = net.add('10.0.0.1', { nick: 'Ann', group: 'dev', ...options });
  const b = net.add('10.0.0.2', { nick: 'Bob', group: 'ops', ...options });
  a.announce();
  b.announce();
  await vi.waitFor(() => {
    expect(a.peers().map((p) => p.nick)).toEqual(['Bob']);
    expect(b.peers().map((p) => p.nick)).toEqual(['Ann']);
  });
  return { net, a, b };
}

const nodes: LanNode[] = [];
afterEach(() => {
  for (const n of nodes.splice(0)) n.close();
});

describe('LanNode', () => {
  it('finds peers by broadcast, with nick and group, and forgets them when they leave', async () => {
    const { a, b } = await pair();
    expect(a.findPeer('bob')).toMatchObject({ nick: 'Bob', group: 'ops', address: '10.0.0.2', utf8: true });
    expect(b.findPeer('10.0.0.1')).toMatchObject({ nick: 'Ann', group: 'dev' });
    const gone = new Promise((resolve) => a.once('gone', resolve));
    b.close();
    expect(await gone).toMatchObject({ nick: 'Bob' });
    expect(a.peers()).toEqual([]);
  });

  it('sends messages both ways, acknowledged, each delivered once', async () => {
    const { a, b } = await pair();
    const atB: LanMessage[] = [];
    const atA: LanMessage[] = [];
    b.on('message', (m) => atB.push(m));
    a.on('message', (m) => atA.push(m));
    await a.send(must(a.findPeer('Bob')), 'hello Bob\nsecond line');
    await b.send(must(b.findPeer('Ann')), '你好 Ann 😀');
    expect(atB.map((m) => [m.text, m.from.nick])).toEqual([['hello Bob\nsecond line', 'Ann']]);
    expect(atA.map((m) => m.text)).toEqual(['你好 Ann 😀']);
    a.close();
    b.close();
  });

  it('delivers exactly once through 10% loss each way, retrying until acknowledged', async () => {
    const random = seededRandom(2425);
    const net = new Network();
    net.drop = () => random() < 0.1;
    const { a, b } = await pair(net);
    nodes.push(a, b);
    const got = { a: [] as string[], b: [] as string[] };
    a.on('message', (m) => got.a.push(m.text));
    b.on('message', (m) => got.b.push(m.text));
    const bob = must(a.findPeer('Bob'));
    const ann = must(b.findPeer('Ann'));
    const sends: Promise<number>[] = [];
    for (let i = 0; i < 40; i++) {
      sends.push(a.send(bob, `a${i}`), b.send(ann, `b${i}`));
    }
    await Promise.all(sends);
    await settle(100);
    expect(got.b.sort()).toEqual(Array.from({ length: 40 }, (_, i) => `a${i}`).sort());
    expect(got.a.sort()).toEqual(Array.from({ length: 40 }, (_, i) => `b${i}`).sort());
    // Loss made it resend: more SENDMSGs went out than messages.
    const sent = net.log.filter(([, , d]) => (parsePacket(d, 'utf-8')?.command ?? 0) & Mode.SENDMSG).length;
    expect(sent).toBeGreaterThan(80);
  });

  it('acknowledges every copy of a message but delivers it once', async () => {
    const { net, a, b } = await pair();
    nodes.push(a, b);
    const got: string[] = [];
    b.on('message', (m) => got.push(m.text));
    const copy = buildPacket(
      { packetNo: 99, user: 'user1', host: 'host1', command: Mode.SENDMSG | Opt.SENDCHECK, extra: 'once\0' },
      'utf-8',
    );
    for (let i = 0; i < 3; i++) b.receive(copy, { address: '10.0.0.1', port: PORT });
    await settle();
    expect(got).toEqual(['once']);
    const receipts = net.log.filter(
      ([from, to, d]) =>
        from === '10.0.0.2' &&
        to === '10.0.0.1' &&
        mode(parsePacket(d, 'utf-8')?.command ?? 0) === Mode.RECVMSG,
    );
    expect(receipts.map(([, , d]) => parsePacket(d, 'utf-8')?.extra.toString())).toEqual(['99', '99', '99']);
  });

  it('tells the sender when a sealed message is read, and fails a send nobody acknowledges', async () => {
    const { a, b } = await pair();
    nodes.push(a, b);
    const read = new Promise<{ packetNo: string }>((resolve) => a.once('read', resolve));
    const message = new Promise<LanMessage>((resolve) => b.once('message', resolve));
    const number = await a.send(must(a.findPeer('Bob')), 'for your eyes', { sealed: true });
    const m = await message;
    expect(m.sealed).toBe(true);
    b.markRead(m);
    expect((await read).packetNo).toBe(String(number));
    const lonely = new Network().add('10.0.0.9', { attempts: 3 });
    nodes.push(lonely);
    await expect(
      lonely.send({ ...must(a.findPeer('Bob')), address: '10.0.0.77' }, 'anyone?'),
    ).rejects.toThrow(/did not acknowledge/);
  });

  it('writes GBK to a FeiQ peer, UTF-8 to iptux and to peers that ask for it', async () => {
    const net = new Network();
    const me = net.add('10.0.0.1', { charset: 'gbk' });
    nodes.push(me);
    const sent: Buffer[] = [];
    const feiq = buildPacket(
      { packetNo: 1, user: 'zhang', host: 'PC', command: Mode.ANSENTRY | 0x600000, extra: '张三\0\0' },
      'gbk',
    );
    // FeiQ's entry is GBK: the nick must come out as written.
    me.receive(Buffer.concat([Buffer.from('1_lbt6_0#128#5C60BA7361C6#0#0#0'), feiq.subarray(1)]), {
      address: '10.0.0.5',
      port: PORT,
    });
    me.receive(Buffer.from('1_iptux 0.10.0:2:tux:box:259:tux\0\0icon-tux.png\0utf-8\0'), {
      address: '10.0.0.6',
      port: PORT,
    });
    net.deliver = (_from, data) => {
      sent.push(data);
    };
    expect(me.findPeer('10.0.0.5')?.nick).toBe('张三');
    void me.send(must(me.findPeer('10.0.0.5')), '你好').catch(() => {});
    void me.send(must(me.findPeer('10.0.0.6')), '你好').catch(() => {});
    expect(sent[0]?.includes(Buffer.from('你好', 'utf8'))).toBe(false);
    expect(parsePacket(must(sent[0]), 'gbk')?.extra.subarray(0, 4)).toEqual(
      Buffer.from([0xc4, 0xe3, 0xba, 0xc3]),
    );
    expect(sent[1]?.includes(Buffer.from('你好', 'utf8'))).toBe(true);
    expect((parsePacket(must(sent[1]), 'gbk')?.command ?? 0) & Opt.UTF8).toBe(0); // iptux: no flag
  });
});

describe('LanNode under attack', () => {
  it('never answers a source with more bytes than it sent', async () => {
    const net = new Network();
    const me = net.add('10.0.0.1', {
      nick: 'a rather long nickname here',
      group: 'and a long group name too',
    });
    nodes.push(me);
    const probes = [
      '1:1:a:b:1:', // a tiny BR_ENTRY: the full ANSENTRY would be larger
      '1:2:a:b:64:', // GETINFO
      '1:3:a:b:80:', // GETABSENCEINFO
      '1:4:a:b:288:', // SENDMSG|SENDCHECKOPT, empty
      '1:123456789:a:b:1049136:1', // READMSG|READCHECKOPT
      `1:5:a:b:1:${'n'.repeat(300)}\0g\0`, // a large BR_ENTRY: answered, no larger
    ];
    for (const [i, probe] of probes.entries()) {
      me.receive(Buffer.from(probe), { address: `192.0.2.${i + 1}`, port: 9999 });
    }
    await settle(50);
    for (const [, to, data] of net.log) {
      const i = Number(to.split('.').pop()) - 1;
      expect(data.length, `answer to ${probes[i]}`).toBeLessThanOrEqual(Buffer.byteLength(probes[i] ?? ''));
    }
    // The large entry did get its answer.
    expect(net.log.some(([, to]) => to === '192.0.2.6')).toBe(true);
  });

  it('bounds what a flood from one address costs, and ignores garbage', async () => {
    const net = new Network();
    const me = net.add('10.0.0.1', { packetsPerSecond: 100 });
    nodes.push(me);
    let messages = 0;
    me.on('message', () => messages++);
    const random = seededRandom(7);
    const started = Date.now();
    for (let i = 0; i < 20_000; i++) {
      const garbage = Buffer.from(
        Array.from({ length: 1 + Math.floor(random() * 60) }, () => Math.floor(random() * 256)),
      );
      me.receive(garbage, { address: '198.51.100.7', port: 1 });
      me.receive(
        buildPacket(
          {
            packetNo: 1000 + i,
            user: 'flooder',
            host: 'flood-host',
            command: Mode.SENDMSG | Opt.SENDCHECK,
            extra: `m${i}\0`,
          },
          'utf-8',
        ),
        { address: '198.51.100.8', port: 1 },
      );
    }
    // A burst's worth (twice the rate) got through, and the rate for the time the flood took;
    // the rest was dropped unread.
    expect(messages).toBeLessThanOrEqual(200 + Math.ceil(((Date.now() - started) / 1000) * 100));
    expect(messages).toBeLessThan(2000);
    expect(messages).toBeGreaterThan(0);
    // Its answers too: one receipt per message handled, none for the dropped ones.
    await settle(20);
    expect(net.log.filter(([, to]) => to === '198.51.100.8').length).toBe(messages);
  });

  it('never takes a nick for an address, nor a forged source for a peer that announced itself', async () => {
    const net = new Network();
    const me = net.add('10.0.0.1');
    nodes.push(me);
    me.receive(
      buildPacket(
        { packetNo: 1, user: 'm', host: 'h', command: Mode.ANSENTRY, extra: '10.0.0.9\0\0' },
        'utf-8',
      ),
      {
        address: '10.0.0.66',
        port: PORT,
      },
    );
    expect(me.findPeer('10.0.0.66')?.nick).toBe('~10.0.0.9');
    expect(me.findPeer('10.0.0.9')).toBeUndefined();
    expect(me.findPeer('10.0.0.66')?.announced).toBe(true);
    // A message from a source that never announced itself: its sender is not "announced".
    const got = new Promise<LanMessage>((resolve) => me.once('message', resolve));
    me.receive(
      buildPacket(
        { packetNo: 5, user: 'x', host: 'y', command: Mode.SENDMSG | Opt.FILEATTACH, extra: 'files\0' },
        'utf-8',
      ),
      { address: '10.0.0.77', port: 8080 },
    );
    expect((await got).from.announced).toBe(false);
  });

  it("answers a sealed message's read notice no larger than the message", async () => {
    const net = new Network();
    const me = net.add('10.0.0.1', { user: 'a-long-user-name', host: 'a-long-host-name' });
    nodes.push(me);
    const got = new Promise<LanMessage>((resolve) => me.once('message', resolve));
    const sealed = Buffer.from(`1:5:a:b:${Mode.SENDMSG | Opt.SECRET}:`);
    me.receive(sealed, { address: '192.0.2.9', port: 1 });
    me.markRead(await got);
    await settle(20);
    expect(net.log.filter(([, to]) => to === '192.0.2.9').every(([, , d]) => d.length <= sealed.length)).toBe(
      true,
    );
  });

  it('keeps at most MAX_PEERS peers, whoever claims to exist', () => {
    const net = new Network();
    const me = net.add('10.0.0.1');
    nodes.push(me);
    for (let i = 0; i < MAX_PEERS + 500; i++) {
      const address = `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`;
      me.receive(
        buildPacket(
          { packetNo: i + 1, user: `u${i}`, host: 'h', command: Mode.ANSENTRY, extra: `n${i}\0\0` },
          'utf-8',
        ),
        {
          address,
          port: PORT,
        },
      );
    }
    expect(me.peers().length).toBe(MAX_PEERS);
  });
});
