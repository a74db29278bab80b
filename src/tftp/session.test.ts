/**
 * Sender and receiver state machines joined by a simulated network with a fake clock:
 * loss, duplication and reordering are reproducible from a seed, and no socket is used.
 */
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { seededRandom } from '../../test/prng.js';
import { ErrorCode } from '../errors.js';
import type { Rollover } from './blocks.js';
import type { TftpError } from './errors.js';
import { decodePacket, encodeOack, encodeRequest, Opcode } from './packet.js';
import { TftpReceiver } from './receiver.js';
import { Rto } from './rto.js';
import { TftpSender } from './sender.js';

interface Link {
  /** Probability that a datagram is dropped, per direction. */
  loss?: number;
  duplicate?: number;
  /** Latency in ms: base plus uniform jitter (jitter reorders). */
  latency?: number;
  jitter?: number;
  /** Drop exactly these packets (by index of send, per direction), for targeted cases. */
  dropData?: Set<number>;
  dropAck?: Set<number>;
  /** Deliver these DATA packets (by index of send) this many ms late. */
  delayData?: Map<number, number>;
  /** Drop every DATA packet sent between these two times (ms): the sender's path goes dark. */
  dropDataDuring?: [number, number];
  /** Deliver this share of DATA packets up to `ms` late, at random (reordering them). */
  late?: { share: number; ms: number };
  /** Deliver every ACK twice. */
  doubleAcks?: boolean;
  /** The receiver never answers. */
  silentReceiver?: boolean;
  /** The receiver's own timer never fires: only answers to what arrives can recover. */
  noReceiverTimer?: boolean;
  /**
   * Storage slower than the network: written bytes wait in a backlog drained at `bytesPerMs`
   * (0: never); past `limit` the receiver is told to hold off, and resumed at half of it.
   */
  storage?: { limit: number; bytesPerMs: number };
}

interface Run {
  received: Buffer;
  sender: TftpSender;
  receiver: TftpReceiver;
  senderResult: 'complete' | TftpError | 'pending';
  receiverResult: 'complete' | TftpError | 'pending';
  closed: boolean;
  dataPackets: number;
  blocksSentCount: Map<number, number>;
  elapsedMs: number;
  /** The largest storage backlog seen, in bytes. */
  maxBacklog: number;
  /** The receiver's retransmission timer, as the transfer left it. */
  receiverRto: Rto;
}

function transfer(
  file: Buffer,
  opts: {
    blksize?: number;
    windowsize?: number;
    rollover?: Rollover;
    seed?: number;
    oack?: boolean;
    wrq?: boolean;
    /** Both ends; the defaults are the server's and the client's (5 and 1000 ms). */
    retries?: number;
    initialMs?: number;
  } & Link = {},
): Run {
  const blksize = opts.blksize ?? 512;
  const windowsize = opts.windowsize ?? 1;
  const rollover = opts.rollover ?? 0;
  const retries = opts.retries ?? 5;
  const initialMs = opts.initialMs ?? 1000;
  const random = seededRandom(opts.seed ?? 1);
  let now = 0;
  const events: { at: number; seq: number; run: () => void }[] = [];
  let seq = 0;
  const schedule = (delay: number, run: () => void): { cancelled: boolean } => {
    const handle = { cancelled: false };
    events.push({ at: now + delay, seq: seq++, run: () => !handle.cancelled && run() });
    return handle;
  };
  const chunks: Buffer[] = [];
  const result: Run = {
    received: Buffer.alloc(0),
    sender: undefined as unknown as TftpSender,
    receiver: undefined as unknown as TftpReceiver,
    senderResult: 'pending',
    receiverResult: 'pending',
    closed: false,
    dataPackets: 0,
    blocksSentCount: new Map(),
    elapsedMs: 0,
    maxBacklog: 0,
    receiverRto: new Rto({ initialMs }),
  };
  let dataIndex = 0;
  let ackIndex = 0;
  const deliver = (packet: Buffer, to: (p: Buffer) => void, drop: boolean, times = 1, late = 0): void => {
    if (drop || random() < (opts.loss ?? 0)) return;
    const copies = random() < (opts.duplicate ?? 0) ? 2 : times;
    for (let i = 0; i < copies; i++) {
      schedule(late + (opts.latency ?? 1) + random() * (opts.jitter ?? 0), () => to(packet));
    }
  };

  let receiverStarted = false;
  let senderTimer = { cancelled: true };
  let receiverTimer = { cancelled: true };
  const toReceiver = (packet: Buffer): void => {
    const d = decodePacket(packet);
    if (!d.ok || opts.silentReceiver) return;
    if (d.packet.opcode === Opcode.DATA) result.receiver.data(d.packet.block, d.packet.data);
    else if (d.packet.opcode === Opcode.WRQ && !receiverStarted) {
      receiverStarted = true;
      result.receiver.start();
    } else if (d.packet.opcode === Opcode.OACK) result.receiver.acknowledgeOptions();
  };
  const toSender = (packet: Buffer): void => {
    const d = decodePacket(packet);
    if (d.ok && d.packet.opcode === Opcode.ACK) result.sender.ack(d.packet.block);
  };

  result.sender = new TftpSender(
    {
      blksize,
      windowsize,
      rollover,
      rto: new Rto({ initialMs }),
      retries,
      initial: opts.oack
        ? encodeOack(new Map([['blksize', String(blksize)]]))
        : opts.wrq
          ? encodeRequest(Opcode.WRQ, 'upload.bin', 'octet')
          : undefined,
      now: () => now,
    },
    {
      send: (packet) => {
        const bytes = Buffer.isBuffer(packet) ? packet : Buffer.concat(packet as Buffer[]);
        if (bytes.readUInt16BE(0) === Opcode.DATA) {
          result.dataPackets++;
          const block = bytes.readUInt16BE(2);
          result.blocksSentCount.set(block, (result.blocksSentCount.get(block) ?? 0) + 1);
        }
        const index = dataIndex++;
        const late = opts.late && random() < opts.late.share ? random() * opts.late.ms : 0;
        const dark = opts.dropDataDuring && now >= opts.dropDataDuring[0] && now < opts.dropDataDuring[1];
        const drop = dark || (opts.dropData?.has(index) ?? false);
        deliver(bytes, toReceiver, drop, 1, opts.delayData?.get(index) ?? late);
      },
      arm: (ms) => {
        senderTimer.cancelled = true;
        senderTimer = schedule(ms, () => result.sender.timeout());
      },
      disarm: () => {
        senderTimer.cancelled = true;
      },
      complete: () => {
        result.senderResult = 'complete';
      },
      fail: (err) => {
        result.senderResult = err;
      },
    },
  );
  result.receiver = new TftpReceiver(
    { blksize, windowsize, rollover, rto: result.receiverRto, retries, now: () => now },
    {
      send: (packet) =>
        deliver(packet, toSender, opts.dropAck?.has(ackIndex++) ?? false, opts.doubleAcks ? 2 : 1),
      arm: (ms) => {
        receiverTimer.cancelled = true;
        if (!opts.noReceiverTimer) receiverTimer = schedule(ms, () => result.receiver.timeout());
      },
      disarm: () => {
        receiverTimer.cancelled = true;
      },
      write: (data) => {
        chunks.push(Buffer.from(data));
        return store(data.length);
      },
      complete: () => {
        result.receiverResult = 'complete';
      },
      close: () => {
        result.closed = true;
      },
      fail: (err) => {
        result.receiverResult = err;
      },
    },
  );

  // The storage: a backlog drained a millisecond at a time while it holds anything.
  let backlog = 0;
  let waiting = false;
  let draining = false;
  const drain = (): void => {
    const storage = opts.storage as { limit: number; bytesPerMs: number };
    backlog = Math.max(0, backlog - storage.bytesPerMs);
    if (waiting && backlog <= storage.limit / 2) {
      waiting = false;
      result.receiver.resume();
    }
    draining = backlog > 0 && storage.bytesPerMs > 0;
    if (draining) schedule(1, drain);
  };
  const store = (bytes: number): boolean => {
    if (!opts.storage) return true;
    backlog += bytes;
    result.maxBacklog = Math.max(result.maxBacklog, backlog);
    if (!draining && opts.storage.bytesPerMs > 0) {
      draining = true;
      schedule(1, drain);
    }
    if (backlog < opts.storage.limit) return true;
    waiting = true;
    return false;
  };

  // The file source: supply blocks whenever the sender has room.
  let offset = 0;
  let ended = false;
  const feed = (): void => {
    while (!ended && result.sender.room > 0) {
      const block = file.subarray(offset, offset + blksize);
      offset += block.length;
      result.sender.supply(block);
      if (block.length < blksize) ended = true;
      else if (offset === file.length) {
        result.sender.end();
        ended = true;
      }
    }
  };

  // A plain RRQ: the receiver's request is implied; the sender starts with block 1.
  result.sender.start();
  feed();
  for (let steps = 0; events.length > 0 && steps < 5_000_000; steps++) {
    events.sort((a, b) => a.at - b.at || a.seq - b.seq);
    const next = events.shift() as (typeof events)[number];
    now = next.at;
    next.run();
    feed();
  }
  result.received = Buffer.concat(chunks);
  result.elapsedMs = now;
  return result;
}

describe('TFTP sender and receiver', () => {
  it.each([0, 1, 511, 512, 513, 1024, 5000])('move a %i-byte file in lockstep, exactly', (size) => {
    const file = randomBytes(size);
    const run = transfer(file);
    expect(run.senderResult).toBe('complete');
    expect(run.receiverResult).toBe('complete');
    expect(run.received.equals(file)).toBe(true);
    expect(run.receiver.stats.blocks).toBe(Math.floor(size / 512) + 1);
    expect(run.sender.stats.retransmits).toBe(0);
    expect(run.closed).toBe(true);
  });

  it.each([2, 4, 16])('move a file with windowsize %i and no loss, with no retransmission', (windowsize) => {
    const file = randomBytes(100_000);
    const run = transfer(file, { windowsize, blksize: 1428 });
    expect(run.received.equals(file)).toBe(true);
    expect(run.sender.stats.retransmits).toBe(0);
    expect(run.dataPackets).toBe(Math.floor(100_000 / 1428) + 1);
  });

  it('starts with an OACK (block 0) and waits for ACK 0 before data', () => {
    const file = randomBytes(3000);
    const run = transfer(file, { oack: true, dropAck: new Set([0]) });
    expect(run.received.equals(file)).toBe(true);
    expect(run.senderResult).toBe('complete');
  });

  it('uploads after a WRQ answered by ACK 0, with the WRQ and the ACK 0 lost once each', () => {
    const file = randomBytes(7000);
    const run = transfer(file, { wrq: true, dropData: new Set(), dropAck: new Set([0]), seed: 3 });
    expect(run.received.equals(file)).toBe(true);
    expect(run.senderResult).toBe('complete');
  });

  it.each([1, 4, 16])(
    'survives one loss in ten both ways, duplication and reordering (window %i), 50 seeds, default retries',
    (windowsize) => {
      const file = randomBytes(60_000);
      for (let seed = 1; seed <= 50; seed++) {
        const run = transfer(file, {
          windowsize,
          blksize: 1024,
          loss: 0.1,
          duplicate: 0.05,
          jitter: 3,
          seed,
        });
        expect(run.senderResult, `seed ${seed}`).toBe('complete');
        expect(run.received.equals(file), `seed ${seed}`).toBe(true);
      }
    },
  );

  it('rolls block numbers over past 65535 (to 0 by default, to 1 when configured)', () => {
    const file = randomBytes(8 * 70_000 + 3);
    for (const rollover of [0, 1] as const) {
      const run = transfer(file, { blksize: 8, windowsize: 8, rollover });
      expect(run.received.equals(file), `rollover ${rollover}`).toBe(true);
      expect(run.receiver.stats.blocks).toBe(70_001);
    }
  });

  it('never answers a duplicate ACK with data (Sorcerer\u2019s Apprentice)', () => {
    const file = randomBytes(50 * 512);
    const run = transfer(file, { doubleAcks: true });
    expect(run.received.equals(file)).toBe(true);
    expect(run.dataPackets).toBe(51);
    expect([...run.blocksSentCount.values()].every((n) => n === 1)).toBe(true);
  });

  it('recovers from a lost first block of a window by one go-back, not by the timer alone', () => {
    const file = randomBytes(16 * 512 * 4);
    const run = transfer(file, { windowsize: 16, dropData: new Set([16]) });
    expect(run.received.equals(file)).toBe(true);
    // 16 blocks of the second window are sent again once; nothing more.
    expect(run.sender.stats.retransmits).toBe(16);
  });

  it('keeps its ACKs on the sender\u2019s window edges after losing a block in the middle of a window', () => {
    const file = randomBytes(16 * 512 * 4);
    // Block 21, the fifth of the second window: ACK 20 sends the sender back to 21, and the
    // receiver counts its next window from there.
    const run = transfer(file, { windowsize: 16, dropData: new Set([20]) });
    expect(run.received.equals(file)).toBe(true);
    // 21..32 once more; after that every window arrives whole.
    expect(run.sender.stats.retransmits).toBe(12);
  });

  it('keeps to the sender\u2019s windows after one block arrives late', () => {
    const file = randomBytes(400 * 512);
    // Block 12 (in the second window of 8) arrives after block 13.
    const run = transfer(file, { windowsize: 8, delayData: new Map([[11, 0.5]]) });
    expect(run.received.equals(file)).toBe(true);
    // Block 12 is awaited; the ACK of 11 sends the sender back for 12..19 (13 is held
    // already and dropped as the repeat comes in); after that every window arrives whole.
    expect(run.dataPackets).toBeLessThanOrEqual(401 + 8);
  });

  it.each([4, 8, 16])(
    'with 1% of blocks late (window %i), sends little more than the file, 20 seeds',
    (windowsize) => {
      const file = randomBytes(400 * 512);
      for (let seed = 1; seed <= 20; seed++) {
        const run = transfer(file, { windowsize, late: { share: 0.01, ms: 0.2 }, seed });
        expect(run.received.equals(file), `seed ${seed}`).toBe(true);
        // About four late blocks, each costing at most a window again; never a cascade.
        expect(run.dataPackets, `seed ${seed}`).toBeLessThan(1.5 * 401);
      }
    },
  );

  it.each([4, 8, 16])(
    'with 5% of packets duplicated (window %i), does not send later windows twice, 20 seeds',
    (windowsize) => {
      const file = randomBytes(400 * 512);
      for (let seed = 1; seed <= 20; seed++) {
        const run = transfer(file, { windowsize, duplicate: 0.05, seed });
        expect(run.received.equals(file), `seed ${seed}`).toBe(true);
        // A duplicated ACK may send one window again; its answer must not start a chain.
        expect(run.dataPackets, `seed ${seed}`).toBeLessThan(1.3 * 401);
      }
    },
  );

  it('in lockstep, answers every repeat of a block whose ACK was lost', () => {
    const file = randomBytes(10 * 512);
    // The ACK of block 4 and the answers to its first two repeats are lost; the receiver's
    // own timer is kept out of it, so only answers to the repeats can move the sender on.
    const run = transfer(file, { dropAck: new Set([3, 4, 5]), noReceiverTimer: true });
    expect(run.received.equals(file)).toBe(true);
    expect(run.sender.stats.retransmits).toBe(3);
    expect(run.receiver.stats.retransmits).toBe(3);
  });

  it('waits out a receiver that holds its ACKs for seconds, though its timer adapted to 2 ms round trips', () => {
    // Storage at 1 byte per ms: each hold lasts about 2 s, far past 20+40+...+640 ms.
    const file = randomBytes(24 * 512);
    const run = transfer(file, { storage: { limit: 8 * 512, bytesPerMs: 1 } });
    expect(run.senderResult).toBe('complete');
    expect(run.received.equals(file)).toBe(true);
    expect(run.elapsedMs).toBeGreaterThan(2000);
  });

  it.each([1, 8])('times its own ACKs, so that its timer fits the path (window %i)', (windowsize) => {
    // A receiver's timer of a whole second would repeat a lost ACK only then, and a sender
    // would take that second for its round trip. 2 ms round trips: the floor, 20 ms.
    const run = transfer(randomBytes(100 * 512), { windowsize });
    expect(run.receiverRto.ms).toBe(20);
  });

  it('waits out 15 s of silence with timers adapted to 2 ms, as a peer backing off from 1 s needs', () => {
    // tftpd-hpa repeats a lost block after 1, 2, 4 and 8 s: four losses in a row are 15 s
    // without a word. Neither side may give up before that (their patience is 22 s).
    const file = randomBytes(400 * 512);
    const run = transfer(file, { dropDataDuring: [100, 15_100] });
    expect(run.senderResult).toBe('complete');
    expect(run.receiverResult).toBe('complete');
    expect(run.received.equals(file)).toBe(true);
  });

  it('completes when the final ACK is lost: the receiver repeats it while dallying', () => {
    const file = randomBytes(2000);
    const run = transfer(file, { dropAck: new Set([4]) });
    expect(run.senderResult).toBe('complete');
    expect(run.receiverResult).toBe('complete');
    expect(run.received.equals(file)).toBe(true);
  });

  it.each([1, 8])(
    'holds the sender off while storage lags, with the backlog bounded (window %i)',
    (windowsize) => {
      const file = randomBytes(400 * 512);
      // The network moves a block per ms; storage takes 40 bytes per ms, so it falls behind
      // at once (repeats the sender makes while an ACK is held are ignored).
      const limit = 8 * 512;
      const run = transfer(file, { windowsize, storage: { limit, bytesPerMs: 40 } });
      expect(run.senderResult).toBe('complete');
      expect(run.receiverResult).toBe('complete');
      expect(run.received.equals(file)).toBe(true);
      // Past the limit, at most one window more arrives before the ACK is held.
      expect(run.maxBacklog).toBeLessThanOrEqual(limit + windowsize * 512);
      expect(run.maxBacklog).toBeGreaterThanOrEqual(limit);
      // Slow storage, not the network, set the pace.
      expect(run.elapsedMs).toBeGreaterThanOrEqual((file.length - limit) / 40);
    },
  );

  it('fails with ERROR 3 when storage stops taking data, and the sender gives up too', () => {
    const run = transfer(randomBytes(100 * 512), { storage: { limit: 4 * 512, bytesPerMs: 0 } });
    expect(run.receiverResult).toMatchObject({ tftpCode: 3 });
    expect((run.receiverResult as TftpError).message).toMatch(/storage did not keep up/);
    expect(run.senderResult).not.toBe('complete');
    expect(run.received.length).toBeLessThan(100 * 512);
  });

  it('gives up with ERR_TFTP_TIMEOUT after the retry limit when the peer goes silent', () => {
    const run = transfer(randomBytes(5000), { silentReceiver: true });
    expect(run.senderResult).toMatchObject({ code: ErrorCode.TFTP_TIMEOUT });
    expect((run.senderResult as TftpError).message).toBe('no answer after 5 retransmissions (22.0 s)');
    // The fake clock: 5 retries with back-off from 1 s, capped at 5 s.
    expect(run.elapsedMs).toBe(1000 + 2000 + 4000 + 5000 + 5000 + 5000);
  });
});
