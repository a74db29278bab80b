/**
 * One participant of an IP Messenger LAN, without sockets: packets come in through
 * `receive()`, go out through the transport it is given. It keeps the peer list (BR_ENTRY,
 * ANSENTRY, BR_ABSENCE, BR_EXIT), delivers messages once (SENDMSG, acknowledged with RECVMSG,
 * duplicates acknowledged again and dropped), sends its own with retries until acknowledged,
 * and answers GETINFO, GETABSENCEINFO and READMSG.
 *
 * Every packet comes from a source anyone can forge, so:
 * - an answer is never larger than the packet that asked for it (no amplification), and each
 *   source address gets a bounded rate of answers;
 * - each source address gets a bounded rate of packets handled at all (a flood is dropped);
 * - answers (ANSENTRY, RECVMSG, SENDINFO, ...) are never answered (no loops);
 * - the peer list and the duplicate memory are bounded.
 */
import { createHash } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { isIPv4 } from 'node:net';
import { ErrorCode, SockitError } from '../errors.js';
import { type Attachment, buildAttachmentList, parseAttachmentList } from './attachments.js';
import { buildEntry, cleanName, type EntryInfo, parseEntry } from './entry.js';
import {
  buildPacket,
  type Charset,
  charsetOf,
  decode,
  encode,
  has,
  Mode,
  mode,
  Opt,
  type Packet,
  parsePacket,
  splitNul,
} from './ipmsg.js';

export interface LanAddress {
  address: string;
  port: number;
}

/** Where packets go: a UDP socket bound to the node's port, in real use. */
export interface LanTransport {
  send(data: Buffer, to: LanAddress): void;
}

export interface LanNodeOptions {
  nick: string;
  group?: string;
  /** The login name and host name in every packet (ASCII is safest). */
  user: string;
  host: string;
  /** The charset of peers that do not say they speak UTF-8 (FeiQ: gbk; IP Messenger in Japan: cp932). */
  charset?: Charset;
  /** Where entry and exit broadcasts go. */
  broadcast?: readonly LanAddress[];
  /**
   * Sends of a message before it is given up: default 8, one a second (IP Messenger sends 5,
   * iptux 4; more carry a message through a lossy link, and duplicates are dropped anyway).
   */
  attempts?: number;
  /** Between sends of an unacknowledged message, in ms. Default 1000. */
  retryMs?: number;
  /** An ANSENTRY waits a random time up to this, in ms, so that a LAN does not answer at once. Default 500. */
  answerDelayMs?: number;
  /** Packets handled per second from one address (twice that in a burst). Default 100. */
  packetsPerSecond?: number;
  /** The version text answered to GETINFO. */
  version?: string;
  /** True for this node's own address and port: its broadcasts come back to it. */
  isSelf?: (from: LanAddress) => boolean;
  now?: () => number;
}

export interface Peer {
  /** `address:port`: where it sends from and answers. */
  key: string;
  address: string;
  port: number;
  user: string;
  host: string;
  nick: string;
  group: string;
  /** Its Ver field: `1`, or a client's own (`1_iptux 0.10.0`, `1_lbt6_...` for FeiQ). */
  version: string;
  absent: boolean;
  /** It said it reads UTF-8 (CAPUTF8OPT). */
  utf8: boolean;
  /**
   * It announced itself (BR_ENTRY, ANSENTRY, BR_ABSENCE) from this address and port: not just
   * a source address some datagram claimed (anyone can write one with a forged source).
   */
  announced: boolean;
  lastSeen: number;
}

export interface LanMessage {
  from: Peer;
  text: string;
  packetNo: string;
  /** Sealed: the sender wants to know when it is read (`markRead`). */
  sealed: boolean;
  /** Sent to everyone (BROADCASTOPT), not acknowledged. */
  broadcast: boolean;
  /** Files and folders offered with it. */
  attachments: Attachment[];
  /** The charset its text was in. */
  charset: Charset;
  at: number;
  /** The bytes of its datagram: what its read notice may be at most (no amplification). */
  size: number;
}

export interface LanEvents {
  peer: [Peer];
  gone: [Peer];
  message: [LanMessage];
  /** A peer opened a sealed message of ours (READMSG). */
  read: [{ peer: Peer; packetNo: string }];
  /** A peer will not download the files of a message of ours (RELEASEFILES). */
  release: [{ peer: Peer; packetNo: string }];
}

/** Peers remembered at most; past it, the one heard from longest ago is forgotten. */
export const MAX_PEERS = 1024;
/** Messages remembered for duplicate detection. */
const MAX_SEEN = 4096;
/** Addresses whose packet rate is tracked at once. */
const MAX_SOURCES = 4096;
/** The largest datagram sent (iptux reads no more than 8192 bytes). */
export const MAX_SEND = 8192;

/** A token bucket per source address. */
class Rate {
  readonly #buckets = new Map<string, { tokens: number; at: number }>();
  constructor(
    readonly perSecond: number,
    readonly burst: number,
  ) {}

  take(key: string, now: number): boolean {
    let b = this.#buckets.get(key);
    if (b === undefined) {
      if (this.#buckets.size >= MAX_SOURCES) {
        // Forget the oldest half: a spoofed-address flood cannot grow this without bound.
        let n = 0;
        for (const k of this.#buckets.keys()) {
          this.#buckets.delete(k);
          if (++n >= MAX_SOURCES / 2) break;
        }
      }
      b = { tokens: this.burst, at: now };
      this.#buckets.set(key, b);
    }
    b.tokens = Math.min(this.burst, b.tokens + ((now - b.at) / 1000) * this.perSecond);
    b.at = now;
    if (b.tokens < 1) return false;
    b.tokens -= 1;
    return true;
  }
}

interface Pending {
  peer: Peer;
  data: Buffer;
  sent: number;
  timer: NodeJS.Timeout | undefined;
  resolve: () => void;
  reject: (err: SockitError) => void;
}

export class LanNode extends EventEmitter<LanEvents> {
  readonly #transport: LanTransport;
  readonly #o: Required<Omit<LanNodeOptions, 'group' | 'broadcast' | 'isSelf'>> & { group: string };
  readonly #isSelf: ((from: LanAddress) => boolean) | undefined;
  /** Packet numbers this node sent lately: one that comes back with our names is our own. */
  readonly #sent = new Set<string>();
  readonly #broadcast: readonly LanAddress[];
  readonly #peers = new Map<string, Peer>();
  readonly #seen = new Map<string, true>();
  /** Entries answered lately, with when the memory of each ends. */
  readonly #entries = new Map<string, number>();
  readonly #pending = new Map<string, Pending>();
  readonly #answerTimers = new Set<NodeJS.Timeout>();
  readonly #inbound: Rate;
  /**
   * The last packet number: the first is the time in seconds plus a random offset (up to about
   * an hour), so that two messengers started in the same second (two commands on one machine)
   * do not number alike; each next one is one more, or the time when that is larger.
   */
  #lastPacketNo = -1;
  /** Numbers for answers: small, so that an answer fits in the size of what asked for it. */
  #answerNo = 0;
  #absent = false;
  #closed = false;

  constructor(transport: LanTransport, options: LanNodeOptions) {
    super();
    this.#transport = transport;
    this.#o = {
      nick: cleanName(options.nick) || options.user,
      group: cleanName(options.group ?? ''),
      user: options.user,
      host: options.host,
      charset: options.charset ?? 'utf-8',
      attempts: options.attempts ?? 8,
      retryMs: options.retryMs ?? 1000,
      answerDelayMs: options.answerDelayMs ?? 500,
      packetsPerSecond: options.packetsPerSecond ?? 100,
      version: options.version ?? 'sockit',
      now: options.now ?? Date.now,
    };
    this.#broadcast = options.broadcast ?? [];
    this.#isSelf = options.isSelf;
    this.#inbound = new Rate(this.#o.packetsPerSecond, this.#o.packetsPerSecond * 2);
  }

  get nick(): string {
    return this.#o.nick;
  }

  /** The peers heard from, oldest first. */
  peers(): Peer[] {
    return [...this.#peers.values()];
  }

  /**
   * A peer by `address:port`, by IPv4 address (only the peer at that address: never a peer
   * whose nick reads like one), or by nick (exact, then ignoring case).
   */
  findPeer(name: string): Peer | undefined {
    const all = this.peers();
    if (this.#peers.has(name)) return this.#peers.get(name);
    if (isIPv4(name)) return all.find((p) => p.address === name);
    return all.find((p) => p.nick === name) ?? all.find((p) => p.nick.toLowerCase() === name.toLowerCase());
  }

  /** A packet number for a message to send (`send({ packetNo })`), e.g. to offer its files first. */
  nextPacketNo(): number {
    return this.#packetNo();
  }

  /** A packet number: about Unix seconds, always growing (iptux drops numbers that do not), below 2^31. */
  #packetNo(): number {
    const now = Math.floor(this.#o.now() / 1000) % 0x7fffffff;
    if (this.#lastPacketNo < 0) this.#lastPacketNo = now + Math.floor(Math.random() * 4096);
    this.#lastPacketNo = Math.max(now, this.#lastPacketNo + 1) % 0x7fffffff;
    if (this.#sent.size >= 256) {
      const first = this.#sent.values().next().value;
      if (first !== undefined) this.#sent.delete(first);
    }
    this.#sent.add(String(this.#lastPacketNo));
    return this.#lastPacketNo;
  }

  #status(): number {
    return Opt.FILEATTACH | Opt.CAPUTF8 | (this.#absent ? Opt.ABSENCE : 0);
  }

  #entryPacket(m: number, utf8: boolean): Buffer {
    const info = { nick: this.#o.nick, group: this.#o.group, user: this.#o.user, host: this.#o.host };
    const command = m | this.#status() | (utf8 ? Opt.UTF8 : 0);
    const charset = charsetOf(command, this.#o.charset);
    return buildPacket(
      {
        packetNo: this.#packetNo(),
        user: this.#o.user,
        host: this.#o.host,
        command,
        extra: buildEntry(info, charset, !utf8),
      },
      this.#o.charset,
    );
  }

  /** Tells the LAN that this node is here (BR_ENTRY to every broadcast address). */
  announce(): void {
    this.#toAll(this.#entryPacket(Mode.BR_ENTRY, false));
  }

  /** Also asks `to` directly (a peer beyond the broadcast domain: a unicast BR_ENTRY, as dial-up). */
  announceTo(to: LanAddress): void {
    this.#send(this.#entryPacket(Mode.BR_ENTRY | Opt.DIALUP, false), to);
  }

  /** Away (or back): BR_ABSENCE to everyone. */
  setAbsent(absent: boolean): void {
    this.#absent = absent;
    this.#toAll(this.#entryPacket(Mode.BR_ABSENCE, false));
  }

  #toAll(data: Buffer): void {
    for (const to of this.#broadcast) this.#send(data, to);
  }

  #send(data: Buffer, to: LanAddress): void {
    if (this.#closed) return;
    this.#transport.send(data, to);
  }

  /**
   * An answer to a packet of `request` bytes from `to`: sent only when it is no larger, so
   * that a forged source address gains nothing by asking (the answers of one address are
   * bounded by the packets it may send, `packetsPerSecond`).
   */
  #answer(data: Buffer, request: number, to: LanAddress): boolean {
    if (data.length > request) return false;
    this.#send(data, to);
    return true;
  }

  /**
   * The number of an answer (RECVMSG, ANSENTRY, SENDINFO, ...): a counter from 1, short where
   * message numbers are ten digits. Nobody orders answers by number (iptux checks the numbers
   * of messages only, IP Messenger matches receipts by the number they carry).
   */
  #answerNumber(): number {
    this.#answerNo = (this.#answerNo % 0x7fffffff) + 1;
    return this.#answerNo;
  }

  /** One received datagram. */
  receive(data: Buffer, from: LanAddress): void {
    if (this.#closed) return;
    if (!this.#inbound.take(from.address, this.#o.now())) return;
    // Our own broadcast, back through the loop: known by address and port when the transport
    // can tell (names and numbers can be another's: two containers share a host name).
    if (this.#isSelf?.(from)) return;
    const packet = parsePacket(data, this.#o.charset);
    if (packet === undefined) return;
    const ours =
      packet.user === this.#o.user && packet.host === this.#o.host && this.#sent.has(packet.packetNo);
    if (this.#isSelf === undefined && ours) return;
    switch (mode(packet.command)) {
      case Mode.BR_ENTRY:
        this.#onEntry(packet, from, data.length);
        break;
      case Mode.ANSENTRY:
      case Mode.BR_ABSENCE:
        this.#upsert(packet, from);
        break;
      case Mode.BR_EXIT:
        this.#onExit(from);
        break;
      case Mode.SENDMSG:
        this.#onMessage(packet, from, data.length);
        break;
      case Mode.RECVMSG:
        this.#onReceipt(packet, from);
        break;
      case Mode.READMSG:
        this.#onRead(packet, from, data.length);
        break;
      case Mode.GETINFO:
        this.#answer(this.#reply(Mode.SENDINFO, from, `${this.#o.version}`), data.length, from);
        break;
      case Mode.GETABSENCEINFO:
        this.#answer(
          this.#reply(Mode.SENDABSENCEINFO, from, this.#absent ? 'Away' : 'Not absence mode'),
          data.length,
          from,
        );
        break;
      case Mode.RELEASEFILES: {
        const peer = this.#peers.get(key(from));
        if (peer) this.emit('release', { peer, packetNo: numberIn(packet.extra) });
        break;
      }
      default:
        // NOOPERATION, answers we never ask for, host lists, keys, client-specific modes: nothing.
        break;
    }
  }

  /**
   * A packet to `to` in its charset (UTF-8 with UTF8OPT for a peer that reads it); an answer
   * (`answer` true) takes a short number, see #answerNumber.
   */
  #reply(m: number, to: LanAddress, extra: string | Buffer, options = 0, answer = true): Buffer {
    const peer = this.#peers.get(key(to));
    const utf8 = peer?.utf8 === true;
    const command = m | options | (utf8 ? Opt.UTF8 : 0);
    const packetNo = answer ? this.#answerNumber() : this.#packetNo();
    return buildPacket(
      { packetNo, user: this.#o.user, host: this.#o.host, command, extra },
      this.#peerCharset(peer),
    );
  }

  /** What a peer reads without UTF8OPT: iptux takes UTF-8, FeiQ and old IP Messengers the legacy charset. */
  #peerCharset(peer: Peer | undefined): Charset {
    return peer?.version.includes('iptux') ? 'utf-8' : this.#o.charset;
  }

  #upsert(packet: Packet, from: LanAddress, announced = true): Peer {
    const k = key(from);
    const charset = charsetOf(packet.command, this.#o.charset);
    const info: EntryInfo = parseEntry(packet.extra, charset, has(packet.command, Opt.CAPUTF8));
    const old = this.#peers.get(k);
    const peer: Peer = {
      key: k,
      address: from.address,
      port: from.port,
      user: cleanName(packet.user),
      host: cleanName(packet.host),
      nick: info.nick || cleanName(packet.user),
      group: info.group,
      version: packet.version.slice(0, 64),
      // iptux sets ABSENCEOPT in every entry: it means nothing from iptux.
      absent: has(packet.command, Opt.ABSENCE) && !packet.version.includes('iptux'),
      utf8: has(packet.command, Opt.CAPUTF8),
      announced: announced || old?.announced === true,
      lastSeen: this.#o.now(),
    };
    if (old === undefined && this.#peers.size >= MAX_PEERS) {
      const oldest = this.peers().sort((a, b) => a.lastSeen - b.lastSeen)[0];
      if (oldest) this.#peers.delete(oldest.key);
    }
    this.#peers.delete(k); // re-inserted: the map's order is the order last heard from
    this.#peers.set(k, peer);
    if (
      old === undefined ||
      old.nick !== peer.nick ||
      old.group !== peer.group ||
      old.absent !== peer.absent
    ) {
      this.emit('peer', peer);
    }
    return peer;
  }

  #onEntry(packet: Packet, from: LanAddress, size: number): void {
    const peer = this.#upsert(packet, from);
    // One answer to a broadcast that arrives by several paths (255.255.255.255 and the
    // subnet's) within moments; the same number later is another start of that peer (a
    // messenger restarted within seconds reuses numbers), answered again.
    const digest = createHash('sha1').update(packet.extra).digest('base64').slice(0, 12);
    if (this.#recentEntry(`${from.address}|${packet.packetNo}|${digest}`)) return;
    // ANSENTRY, after a random delay (a whole LAN answering at once would burst), in UTF-8
    // when the peer reads it; with only the nick when the whole would be larger than the ask.
    const delay = Math.floor(Math.random() * this.#o.answerDelayMs);
    const timer = setTimeout(() => {
      this.#answerTimers.delete(timer);
      const info = { nick: this.#o.nick, group: this.#o.group, user: this.#o.user, host: this.#o.host };
      const command = Mode.ANSENTRY | this.#status() | (peer.utf8 ? Opt.UTF8 : 0);
      const charset = peer.utf8 ? 'utf-8' : this.#peerCharset(peer);
      const make = (group: string) =>
        buildPacket(
          {
            packetNo: this.#answerNumber(),
            user: this.#o.user,
            host: this.#o.host,
            command,
            extra: buildEntry({ ...info, group }, charset, false),
          },
          charset,
        );
      const full = make(this.#o.group);
      this.#answer(full.length <= size ? full : make(''), size, from);
    }, delay);
    timer.unref?.();
    this.#answerTimers.add(timer);
  }

  #onExit(from: LanAddress): void {
    const peer = this.#peers.get(key(from));
    if (peer === undefined) return;
    this.#peers.delete(peer.key);
    this.emit('gone', peer);
  }

  /** True when the entry `id` was answered in the last 5 seconds; else remembers it. */
  #recentEntry(id: string): boolean {
    const now = this.#o.now();
    const until = this.#entries.get(id);
    if (until !== undefined && until > now) return true;
    if (this.#entries.size >= MAX_SEEN) {
      for (const [k, t] of this.#entries) if (t <= now) this.#entries.delete(k);
      if (this.#entries.size >= MAX_SEEN) this.#entries.clear();
    }
    this.#entries.set(id, now + 5000);
    return false;
  }

  /** Remembers `id`; true when it was already there. */
  #remember(id: string): boolean {
    if (this.#seen.has(id)) return true;
    if (this.#seen.size >= MAX_SEEN) {
      const first = this.#seen.keys().next().value;
      if (first !== undefined) this.#seen.delete(first);
    }
    this.#seen.set(id, true);
    return false;
  }

  #onMessage(packet: Packet, from: LanAddress, size: number): void {
    const known = this.#peers.get(key(from));
    const peer =
      known ?? this.#upsert({ ...packet, command: Mode.ANSENTRY, extra: Buffer.alloc(0) }, from, false);
    const broadcast = has(packet.command, Opt.BROADCAST);
    // The receipt, for every copy (a lost receipt makes the sender send again), never for a
    // broadcast or an automatic answer.
    if (has(packet.command, Opt.SENDCHECK) && !broadcast && !has(packet.command, Opt.AUTORET)) {
      this.#answer(this.#reply(Mode.RECVMSG, from, packet.packetNo), size, from);
    }
    // A copy has the same number and text (IP Messenger pads its late retries with NULs); a
    // messenger restarted within seconds may reuse a number, for another text.
    const sent = packet.extra.subarray(0, trimNuls(packet.extra));
    const digest = createHash('sha1').update(sent).digest('base64').slice(0, 12);
    if (this.#remember(`msg|${from.address}|${packet.user}|${packet.host}|${packet.packetNo}|${digest}`))
      return;
    const charset = charsetOf(packet.command, this.#peerCharset(peer));
    const [body, list] = splitNul(packet.extra);
    const text = stripFeiqFont(decode(body ?? Buffer.alloc(0), charset)).replace(/\r\n/g, '\n');
    const attachments =
      has(packet.command, Opt.FILEATTACH) && list !== undefined ? parseAttachmentList(list, charset) : [];
    peer.lastSeen = this.#o.now();
    this.emit('message', {
      from: peer,
      text,
      packetNo: packet.packetNo,
      sealed: has(packet.command, Opt.SECRET),
      broadcast,
      attachments,
      charset,
      at: this.#o.now(),
      size,
    });
  }

  #onReceipt(packet: Packet, from: LanAddress): void {
    const number = numberIn(packet.extra);
    const pending = this.#pending.get(`${from.address}|${number}`);
    if (pending === undefined) return;
    this.#settle(`${from.address}|${number}`, pending);
    pending.resolve();
  }

  #onRead(packet: Packet, from: LanAddress, size: number): void {
    const peer = this.#peers.get(key(from));
    if (peer === undefined) return;
    if (has(packet.command, Opt.READCHECK)) {
      this.#answer(this.#reply(Mode.ANSREADMSG, from, packet.packetNo), size, from);
    }
    if (this.#remember(`read|${from.address}|${packet.packetNo}`)) return;
    const number = numberIn(packet.extra);
    this.emit('read', { peer, packetNo: number });
  }

  /** Tells the sender of a sealed message that it was read (READMSG). */
  markRead(message: LanMessage): void {
    if (!message.sealed) return;
    // An answer in effect (the sender may be forged): no larger than the message was.
    this.#answer(
      this.#reply(Mode.READMSG, message.from, message.packetNo, Opt.READCHECK),
      message.size,
      message.from,
    );
  }

  /** Tells the sender of files that they will not be downloaded (RELEASEFILES). */
  release(message: LanMessage): void {
    this.#send(this.#reply(Mode.RELEASEFILES, message.from, message.packetNo, 0, false), message.from);
  }

  /**
   * Sends `text` (and an attachment list) to `peer` and resolves once it acknowledged it
   * (RECVMSG); sends it again every `retryMs` meanwhile, and rejects after `attempts` sends.
   * Resolves with the packet number, which names the files offered with it.
   */
  send(
    peer: Peer,
    text: string,
    options: { sealed?: boolean; attachments?: readonly Attachment[]; packetNo?: number } = {},
  ): Promise<number> {
    const packetNo = options.packetNo ?? this.#packetNo();
    const utf8 = peer.utf8;
    const files = options.attachments ?? [];
    let command = Mode.SENDMSG | Opt.SENDCHECK;
    if (utf8) command |= Opt.UTF8 | Opt.CAPUTF8;
    if (options.sealed) command |= Opt.SECRET | Opt.READCHECK;
    if (files.length > 0) command |= Opt.FILEATTACH;
    const charset = utf8 ? 'utf-8' : this.#peerCharset(peer);
    const body = encode(text.replace(/\r\n/g, '\n'), charset);
    const extra = Buffer.concat([
      body,
      Buffer.from([0]),
      ...(files.length > 0 ? [buildAttachmentList(files, charset)] : []),
    ]);
    const data = buildPacket({ packetNo, user: this.#o.user, host: this.#o.host, command, extra }, charset);
    if (data.length > MAX_SEND) {
      return Promise.reject(
        new SockitError(
          ErrorCode.INVALID_ARGUMENT,
          `the message is too long for one packet (${data.length} bytes, at most ${MAX_SEND})`,
        ),
      );
    }
    return new Promise<number>((resolve, reject) => {
      const id = `${peer.address}|${packetNo}`;
      const pending: Pending = {
        peer,
        data,
        sent: 0,
        timer: undefined,
        resolve: () => resolve(packetNo),
        reject,
      };
      this.#pending.set(id, pending);
      const attempt = (): void => {
        if (pending.sent >= this.#o.attempts) {
          this.#settle(id, pending);
          reject(
            new SockitError(
              ErrorCode.NO_ACK,
              `${peer.nick} (${peer.address}) did not acknowledge the message after ${pending.sent} sends`,
            ),
          );
          return;
        }
        pending.sent++;
        this.#send(data, peer);
        pending.timer = setTimeout(attempt, this.#o.retryMs);
      };
      attempt();
    });
  }

  #settle(id: string, pending: Pending): void {
    clearTimeout(pending.timer);
    this.#pending.delete(id);
  }

  /** Tells everyone this node leaves (BR_EXIT), without stopping (see `close`). */
  goodbye(): void {
    this.#toAll(this.#entryPacket(Mode.BR_EXIT, false));
  }

  /** Says goodbye (BR_EXIT to everyone) and stops: pending sends fail, nothing more is sent. */
  close(): void {
    if (this.#closed) return;
    this.#toAll(this.#entryPacket(Mode.BR_EXIT, false));
    this.#closed = true;
    for (const timer of this.#answerTimers) clearTimeout(timer);
    for (const [id, pending] of this.#pending) {
      this.#settle(id, pending);
      pending.reject(new SockitError(ErrorCode.ABORTED, 'the messenger was closed'));
    }
  }
}

const key = (a: LanAddress): string => `${a.address}:${a.port}`;

/** The packet number an answer carries (RECVMSG, READMSG, RELEASEFILES): the extra up to a NUL. */
function numberIn(extra: Buffer): string {
  return decode(extra, 'utf-8').replace(/\0.*$/s, '').trim();
}

/** The length of `data` without its trailing NULs. */
function trimNuls(data: Buffer): number {
  let end = data.length;
  while (end > 0 && data[end - 1] === 0) end--;
  return end;
}

/** FeiQ ends messages with `{/font;...}` formatting: not text. */
function stripFeiqFont(text: string): string {
  return text.replace(/\{\/font;[^{}]*\}$/, '');
}
