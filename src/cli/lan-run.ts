/**
 * What `sockit lan` and its subcommands do (lan.ts defines their options): the running
 * messenger with its terminal interface or its event lines, its control socket and history,
 * and the one-shot subcommands.
 */
import { appendFile, mkdir, readFile, rename, stat } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import readline from 'node:readline';
import { ErrorCode, isSockitError, SockitError } from '../errors.js';
import type { Attachment } from '../lan/attachments.js';
import { FileType } from '../lan/ipmsg.js';
import type { LanMessage, Peer } from '../lan/node.js';
import { type Lan, openLan } from '../lan/open.js';
import { connectLocal, listenLocal } from '../runtime/local-socket.js';
import { visible } from '../runtime/text.js';
import { formatBytes } from '../runtime/units.js';
import { failureLine } from './failure.js';
import type { LanFlags } from './lan.js';
import { privateSocketPath } from './private-socket.js';
import { Progress } from './progress.js';

const HISTORY = 'lan-history.jsonl';
/** The history file is moved aside (to .1, .2, .3) past this size. */
const HISTORY_MAX = 8 * 1024 * 1024;
const HISTORY_KEEP = 3;
/** The longest control request line. */
const MAX_CONTROL_LINE = 256 * 1024;

const controlPath = (port: number, create = false) => privateSocketPath(`lan-${port}.sock`, { create });

async function open(flags: LanFlags, onTransfer?: Parameters<typeof openLan>[0]['onTransfer']): Promise<Lan> {
  return openLan({
    ...(flags.nick === undefined ? {} : { nick: flags.nick }),
    group: flags.group,
    port: flags.port,
    charset: flags.encoding,
    broadcast: flags.broadcast,
    ...(flags.bind ? { bind: flags.bind } : {}),
    ...(flags.maxSize === undefined ? {} : { maxBytes: flags.maxSize }),
    version: 'sockit',
    ...(onTransfer ? { onTransfer } : {}),
  });
}

const time = (at: number) => new Date(at).toTimeString().slice(0, 8);
/** A peer's text made safe for a terminal, line by line. */
const shown = (text: string) =>
  text
    .split('\n')
    .map((line) => visible(line, 4096))
    .join('\n    ');
const who = (p: Peer) => `${visible(p.nick, 64)} (${p.address}${p.port === 2425 ? '' : `:${p.port}`})`;
const describeFile = (a: Attachment, i: number) =>
  `${i + 1}) ${visible(a.name, 255)}${(a.attr & 0xff) === FileType.DIR ? '/ (folder)' : ` ${formatBytes(a.size)}`}`;

function peerJson(p: Peer) {
  return {
    nick: p.nick,
    group: p.group,
    address: p.address,
    port: p.port,
    user: p.user,
    host: p.host,
    absent: p.absent,
    client: p.version.includes('iptux') ? 'iptux' : p.version.startsWith('1_lbt') ? 'feiq' : 'ipmsg',
  };
}

/** Appends received messages to the history (one JSON line each), moving a large file aside. */
class History {
  readonly file: string;
  /** Lines are written one after another (two at once would overshoot the size check). */
  #queue: Promise<void> = Promise.resolve();
  #warned = false;
  /** The file's size, read once (with its folder made), then counted as lines are added. */
  #size: number | undefined;
  constructor(
    dir: string,
    readonly onError: (err: unknown) => void,
  ) {
    this.file = path.join(dir, HISTORY);
  }

  /** Appends a line; a failure (a full disk, a folder that cannot be written) is reported once, never fatal. */
  add(entry: Record<string, unknown>): void {
    this.#queue = this.#queue
      .then(() => this.#write(entry))
      .catch((err: unknown) => {
        if (this.#warned) return;
        this.#warned = true;
        this.onError(err);
      });
  }

  async #write(entry: Record<string, unknown>): Promise<void> {
    if (this.#size === undefined) {
      await mkdir(path.dirname(this.file), { recursive: true, mode: 0o700 });
      this.#size = await stat(this.file).then(
        (s) => s.size,
        () => 0,
      );
    }
    if (this.#size > HISTORY_MAX) {
      // Four files of HISTORY_MAX: .3 is dropped, .2 becomes .3, and so on.
      for (let i = HISTORY_KEEP - 1; i >= 1; i--) {
        await rename(`${this.file}.${i}`, `${this.file}.${i + 1}`).catch(() => {});
      }
      await rename(this.file, `${this.file}.1`).catch(() => {});
      this.#size = 0;
    }
    const line = `${JSON.stringify(entry)}\n`;
    await appendFile(this.file, line, { mode: 0o600 });
    this.#size += Buffer.byteLength(line);
  }
}

/** Finds a peer by nick or address; an ambiguous nick is an error naming the candidates. */
function pick(lan: Lan, name: string): Peer | undefined {
  // An address names the peer at that address, never one whose nick reads like it.
  if (net.isIPv4(name)) return lan.node.findPeer(name);
  const matches = lan.node
    .peers()
    .filter((p) => p.nick === name || p.nick.toLowerCase() === name.toLowerCase());
  if (matches.length > 1) {
    throw new SockitError(
      ErrorCode.INVALID_ARGUMENT,
      `${name} names ${matches.length} peers (${matches.map((p) => p.address).join(', ')}): give the address`,
    );
  }
  return lan.node.findPeer(name);
}

/** The control socket of a running `sockit lan`: JSON lines, one request and its answer each. */
async function serveControl(lan: Lan, port: number, print: (line: string) => void): Promise<() => void> {
  const where = controlPath(port, true);
  if (where === undefined) throw new SockitError(ErrorCode.INTERNAL, 'no socket folder after making it');
  const server = net.createServer((socket) => {
    socket.on('error', () => {});
    let buffered = '';
    socket.setEncoding('utf8');
    socket.on('data', (text: string) => {
      buffered += text;
      if (buffered.length > MAX_CONTROL_LINE) socket.destroy();
      const nl = buffered.indexOf('\n');
      if (nl < 0) return;
      const line = buffered.slice(0, nl);
      buffered = '';
      void answerControl(lan, line, print).then(
        (answer) => socket.end(`${JSON.stringify(answer)}\n`),
        (err: unknown) =>
          socket.end(
            `${JSON.stringify({ error: { code: isSockitError(err) ? err.code : ErrorCode.INTERNAL, message: (err as Error).message } })}\n`,
          ),
      );
    });
  });
  await listenLocal(server, where);
  return () => {
    server.close();
  };
}

async function answerControl(lan: Lan, line: string, print: (line: string) => void): Promise<unknown> {
  let request: { op?: unknown; to?: unknown; text?: unknown; paths?: unknown };
  try {
    request = JSON.parse(line) as typeof request;
  } catch {
    throw new SockitError(ErrorCode.BAD_REQUEST, 'a request is one JSON object on a line');
  }
  if (typeof request !== 'object' || request === null) {
    throw new SockitError(ErrorCode.BAD_REQUEST, 'a request is one JSON object on a line');
  }
  if (request.op === 'peers') return { peers: lan.node.peers().map(peerJson) };
  if (typeof request.to !== 'string') throw new SockitError(ErrorCode.BAD_REQUEST, 'no peer named (to)');
  const to = pick(lan, request.to);
  if (to === undefined) {
    throw new SockitError(
      ErrorCode.NOT_FOUND,
      `no peer ${String(request.to)} on the network (sockit lan peers)`,
    );
  }
  const text = typeof request.text === 'string' ? request.text : '';
  if (request.op === 'send') {
    await lan.node.send(to, text);
    print(`[${time(Date.now())}] to ${who(to)}: ${shown(text)}`);
    return { ok: true, to: peerJson(to) };
  }
  if (request.op === 'send-file' && Array.isArray(request.paths)) {
    const files = await lan.sendFiles(to, text, request.paths.map(String));
    print(`* offered ${files.map((f, i) => describeFile(f, i)).join(', ')} to ${who(to)}`);
    return { ok: true, to: peerJson(to), files: files.map((f) => f.name) };
  }
  throw new SockitError(ErrorCode.BAD_REQUEST, 'unknown request');
}

/** Asks a running `sockit lan` on `port`; undefined when none runs. */
async function askRunning(
  port: number,
  request: Record<string, unknown>,
): Promise<Record<string, unknown> | undefined> {
  let where: string | undefined;
  try {
    where = controlPath(port);
  } catch {
    return undefined; // no private folder to look in: nothing runs that could be asked
  }
  const socket = where === undefined ? undefined : await connectLocal(where);
  if (socket === undefined) return undefined;
  socket.setEncoding('utf8');
  socket.write(`${JSON.stringify(request)}\n`);
  let text = '';
  for await (const chunk of socket) text += chunk as string;
  const answer = JSON.parse(text) as Record<string, unknown> & {
    error?: { code: ErrorCode; message: string };
  };
  if (answer.error) throw new SockitError(answer.error.code, answer.error.message);
  return answer;
}

/** `sockit lan`: runs until /quit, Ctrl-D, SIGINT or SIGTERM. */
export async function runLan(flags: LanFlags): Promise<void> {
  const tty = process.stdin.isTTY === true && process.stdout.isTTY === true && !flags.json;
  let rl: readline.Interface | undefined;
  const print = (line: string): void => {
    if (rl) {
      readline.clearLine(process.stdout, 0);
      readline.cursorTo(process.stdout, 0);
      process.stdout.write(`${line}\n`);
      rl.prompt(true);
    } else if (!flags.json) process.stdout.write(`${line}\n`);
  };
  const emit = (event: Record<string, unknown>): void => {
    if (flags.json) process.stdout.write(`${JSON.stringify(event)}\n`);
  };
  const lan = await open(flags, ({ file, to, done, bytes, error }) => {
    if (!done) return;
    if (error) print(`* sending ${visible(file.name, 255)} to ${to} failed: ${error}`);
    else print(`* ${to} fetched ${visible(file.name, 255)} (${formatBytes(bytes)})`);
    emit({ type: 'sent-file', name: file.name, to, bytes, ...(error ? { error } : {}) });
  });
  const history = new History(flags.dataDir, (err) => {
    const why = visible(
      failureLine(err)
        .replace(/^sockit: /, '')
        .trim(),
      512,
    );
    print(`* the history cannot be kept: ${why}`);
    emit({ type: 'error', what: 'history', message: why });
  });
  const stopControl = await serveControl(lan, lan.port, print);
  let current: Peer | undefined;
  let lastOffer: LanMessage | undefined;
  const fetchAll = async (message: LanMessage, dest: string, which?: number): Promise<void> => {
    const list = which === undefined ? message.attachments : message.attachments.slice(which - 1, which);
    for (const a of list) {
      // A progress bar on a terminal's stderr (not with --json): the size is known for a file,
      // a folder's only as it arrives.
      const folder = (a.attr & 0xff) === FileType.DIR;
      const bar = new Progress(
        `get ${visible(a.name, 64)}${folder ? '/' : ''}`,
        !flags.json && process.stderr.isTTY === true,
      );
      try {
        const saved = await lan.fetch(message, a, dest, (bytes) =>
          bar.update(bytes, folder ? undefined : a.size),
        );
        bar.done();
        print(`* saved ${visible(saved.name, 255)} (${formatBytes(saved.bytes)}) in ${dest}`);
        emit({
          type: 'saved',
          from: peerJson(message.from),
          name: saved.name,
          dir: dest,
          bytes: saved.bytes,
        });
        history.add({
          type: 'file',
          at: Date.now(),
          from: peerJson(message.from),
          name: saved.name,
          dir: dest,
          bytes: saved.bytes,
        });
      } catch (err) {
        bar.done();
        print(
          `* could not fetch ${visible(a.name, 255)}: ${visible(
            failureLine(err)
              .replace(/^sockit: /, '')
              .trim(),
            512,
          )}`,
        );
        emit({ type: 'error', name: a.name, message: (err as Error).message });
      }
    }
  };
  lan.node.on('peer', (p) => {
    print(`* ${who(p)}${p.group ? ` [${visible(p.group, 64)}]` : ''} is here${p.absent ? ' (away)' : ''}`);
    emit({ type: 'peer', peer: peerJson(p) });
  });
  lan.node.on('gone', (p) => {
    print(`* ${who(p)} left`);
    emit({ type: 'gone', peer: peerJson(p) });
  });
  lan.node.on('read', ({ peer }) => print(`* ${who(peer)} opened your sealed message`));
  lan.node.on('message', (m) => {
    print(`[${time(m.at)}] ${who(m.from)}${m.broadcast ? ' (to all)' : ''}: ${shown(m.text)}`);
    emit({
      type: 'message',
      at: m.at,
      from: peerJson(m.from),
      text: m.text,
      ...(m.attachments.length
        ? {
            files: m.attachments.map((a) => ({
              name: a.name,
              size: a.size,
              folder: (a.attr & 0xff) === FileType.DIR,
            })),
          }
        : {}),
    });
    history.add({
      type: 'message',
      at: m.at,
      from: peerJson(m.from),
      text: m.text,
      files: m.attachments.map((a) => a.name),
    });
    lan.node.markRead(m);
    if (m.attachments.length > 0) {
      lastOffer = m;
      print(
        `* ${who(m.from)} offers ${m.attachments.map(describeFile).join(', ')}${tty ? ' (/get to fetch)' : ''}`,
      );
      if (!tty && flags.acceptFiles) {
        if (m.from.announced) void fetchAll(m, flags.downloadDir);
        else print(`* not fetched: ${who(m.from)} never announced itself (its address may be forged)`);
      }
    }
    if (current === undefined) current = m.from;
  });
  const stopAnnouncing = announce(lan);
  const done = new Promise<void>((resolve) => {
    for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.once(signal, () => resolve());
    if (tty) {
      rl = readline.createInterface({ input: process.stdin, output: process.stdout, terminal: true });
      const setPrompt = () => rl?.setPrompt(current ? `[${visible(current.nick, 32)}] > ` : '> ');
      setPrompt();
      print(`sockit lan on port ${lan.port} as ${visible(lan.node.nick, 64)}: /help for commands`);
      rl.on('line', (line) => {
        void command(line.trim()).finally(() => {
          if (rl === undefined) return; // closed meanwhile (/quit, Ctrl-D)
          setPrompt();
          rl.prompt();
        });
      });
      rl.on('close', () => {
        rl = undefined; // lines from now on go to stdout as they are
        resolve();
      });
      rl.prompt();
    } else {
      print(`sockit lan on port ${lan.port} as ${visible(lan.node.nick, 64)}`);
      emit({ type: 'ready', port: lan.port, nick: lan.node.nick });
    }
    const command = async (line: string): Promise<void> => {
      if (line === '') return;
      const [word = '', ...rest] = line.split(/\s+/);
      const arg = rest.join(' ');
      try {
        switch (word) {
          case '/quit':
            resolve();
            return;
          case '/help':
            print('/peers  /to NICK|IP  /send-file PATH...  /get [N] [DIR]  /away [TEXT]  /back  /quit');
            return;
          case '/peers': {
            const all = lan.node.peers();
            print(
              all.length
                ? all
                    .map(
                      (p) =>
                        `  ${who(p)}${p.group ? ` [${visible(p.group, 64)}]` : ''}${p.absent ? ' away' : ''}`,
                    )
                    .join('\n')
                : '  nobody yet',
            );
            return;
          }
          case '/to': {
            const p = pick(lan, arg);
            if (p === undefined) print(`* no peer ${visible(arg, 64)} (/peers)`);
            else current = p;
            return;
          }
          case '/away':
            lan.node.setAbsent(true);
            return;
          case '/back':
            lan.node.setAbsent(false);
            return;
          case '/send-file': {
            if (current === undefined)
              throw new SockitError(ErrorCode.INVALID_ARGUMENT, 'choose a peer first: /to NICK');
            const files = await lan.sendFiles(current, '', rest);
            print(`* offered ${files.map(describeFile).join(', ')} to ${who(current)}`);
            return;
          }
          case '/get': {
            if (lastOffer === undefined) throw new SockitError(ErrorCode.NOT_FOUND, 'no files were offered');
            const n = /^\d+$/.test(rest[0] ?? '') ? Number(rest.shift()) : undefined;
            await fetchAll(lastOffer, rest.join(' ') || flags.downloadDir, n);
            return;
          }
          default:
            if (word.startsWith('/'))
              throw new SockitError(ErrorCode.INVALID_ARGUMENT, `${word}: no such command (/help)`);
            if (current === undefined)
              throw new SockitError(
                ErrorCode.INVALID_ARGUMENT,
                'choose a peer first: /to NICK (/peers lists them)',
              );
            await lan.node.send(current, line);
        }
      } catch (err) {
        print(
          `* ${failureLine(err)
            .replace(/^sockit: /, '')
            .trim()}`,
        );
      }
    };
  });
  await done;
  stopAnnouncing();
  rl?.close();
  // A terminal's stdin would keep the process waiting for a key.
  if (tty) process.stdin.destroy();
  stopControl();
  await lan.close();
}

/**
 * Announces this messenger now, and again after 1 and 4 seconds: a peer that started at the
 * same moment (not yet listening) or a broadcast lost on the way would otherwise miss it until
 * one of them speaks. Each announcement is answered once per peer; the peers see one arrival.
 */
function announce(lan: Lan): () => void {
  lan.node.announce();
  const timers = [1000, 4000].map((ms) => setTimeout(() => lan.node.announce(), ms));
  for (const t of timers) t.unref();
  return () => {
    for (const t of timers) clearTimeout(t);
  };
}

/** Runs `work` on a messenger of its own: announced, given `wait` seconds to hear the others. */
async function standalone<T>(flags: LanFlags, work: (lan: Lan) => Promise<T>): Promise<T> {
  const lan = await open(flags);
  try {
    announce(lan);
    return await work(lan);
  } finally {
    await lan.close();
  }
}

/** Waits up to `seconds` for a peer called `name` (a nick or an address; an address is asked directly). */
async function findPeer(lan: Lan, name: string, seconds: number, port: number): Promise<Peer> {
  if (net.isIPv4(name)) lan.node.announceTo({ address: name, port });
  const until = Date.now() + seconds * 1000;
  for (;;) {
    const p = pick(lan, name);
    if (p) return p;
    if (Date.now() >= until) {
      throw new SockitError(
        ErrorCode.NOT_FOUND,
        `no peer ${name} answered in ${seconds} s (sockit lan peers lists who is here)`,
      );
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

export async function peersCommand(flags: LanFlags): Promise<void> {
  const running = await askRunning(flags.port, { op: 'peers' });
  const peers =
    (running?.peers as ReturnType<typeof peerJson>[] | undefined) ??
    (await standalone(flags, async (lan) => {
      await new Promise((resolve) => setTimeout(resolve, flags.wait * 1000));
      return lan.node.peers().map(peerJson);
    }));
  if (flags.json) {
    process.stdout.write(`${JSON.stringify(peers)}\n`);
    return;
  }
  if (peers.length === 0) process.stderr.write('sockit: no peers answered\n');
  for (const p of peers) {
    process.stdout.write(
      `${visible(p.nick, 64).padEnd(16)} ${`${p.address}:${p.port}`.padEnd(21)} ${visible(p.group, 64).padEnd(12)} ${p.client}${p.absent ? ' away' : ''}\n`,
    );
  }
}

export async function sendCommand(to: string, text: string, flags: LanFlags): Promise<void> {
  const running = await askRunning(flags.port, { op: 'send', to, text });
  if (running) {
    process.stderr.write(`sockit: sent to ${(running.to as { nick: string }).nick}\n`);
    return;
  }
  await standalone(flags, async (lan) => {
    const peer = await findPeer(lan, to, flags.wait, flags.port);
    await lan.node.send(peer, text);
    process.stderr.write(`sockit: sent to ${who(peer)}\n`);
  });
}

export async function sendFileCommand(
  to: string,
  paths: string[],
  flags: LanFlags & { message: string; waitFetch: number },
): Promise<void> {
  const absolute = paths.map((p) => path.resolve(p));
  for (const p of absolute) {
    await stat(p).catch(() => {
      throw new SockitError(ErrorCode.NOT_FOUND, `${p}: no such file or folder`);
    });
  }
  const running = await askRunning(flags.port, { op: 'send-file', to, text: flags.message, paths: absolute });
  if (running) {
    process.stderr.write(
      `sockit: offered to ${(running.to as { nick: string }).nick}; the running sockit lan serves them\n`,
    );
    return;
  }
  // Nobody else will serve them: this command waits until they are fetched.
  let total = Number.POSITIVE_INFINITY;
  const fetchedIds = new Set<number>();
  let finished!: () => void;
  const fetched = new Promise<void>((resolve) => {
    finished = resolve;
  });
  const lan = await open(flags, ({ file, done, bytes, error }) => {
    if (!done) return;
    process.stderr.write(
      error
        ? `sockit: ${visible(file.name, 255)}: ${error}\n`
        : `sockit: ${visible(file.name, 255)} fetched (${formatBytes(bytes)})\n`,
    );
    if (!error) fetchedIds.add(file.id);
    if (fetchedIds.size >= total) finished();
  });
  // Ctrl-C: the peers are told this messenger leaves, and the offer ends with it.
  const interrupted = (): void => {
    process.stderr.write('sockit: interrupted; the files are no longer offered\n');
    void lan.close().finally(() => process.exit(130));
  };
  process.once('SIGINT', interrupted);
  process.once('SIGTERM', interrupted);
  try {
    announce(lan);
    const peer = await findPeer(lan, to, flags.wait, flags.port);
    lan.node.on('release', ({ peer: p }) => {
      if (p.key === peer.key) {
        process.stderr.write(`sockit: ${who(peer)} declined the files\n`);
        finished();
      }
    });
    const files = await lan.sendFiles(peer, flags.message, absolute);
    total = files.length;
    if (fetchedIds.size >= total) finished();
    process.stderr.write(
      `sockit: offered ${files.map(describeFile).join(', ')} to ${who(peer)}; waiting for it to fetch them\n`,
    );
    const timer = setTimeout(finished, flags.waitFetch * 1000);
    await fetched;
    clearTimeout(timer);
    const left = total - fetchedIds.size;
    if (left > 0) {
      throw new SockitError(
        ErrorCode.NO_ACK,
        `${who(peer)} did not fetch ${left} of ${total} in ${flags.waitFetch} s`,
      );
    }
  } finally {
    await lan.close();
  }
}

export async function historyCommand(flags: {
  dataDir: string;
  json?: boolean;
  lines: number;
}): Promise<void> {
  const file = path.join(flags.dataDir, HISTORY);
  const text = await readFile(file, 'utf8').catch(() => '');
  const lines = text.split('\n').filter(Boolean).slice(-flags.lines);
  for (const line of lines) {
    if (flags.json) {
      process.stdout.write(`${line}\n`);
      continue;
    }
    try {
      const e = JSON.parse(line) as {
        type: string;
        at: number;
        from: { nick: string; address: string };
        text?: string;
        name?: string;
        dir?: string;
      };
      const from = `${visible(e.from.nick, 64)} (${e.from.address})`;
      const day = new Date(e.at).toISOString().slice(0, 19).replace('T', ' ');
      process.stdout.write(
        e.type === 'file'
          ? `${day} ${from} file ${visible(e.name ?? '', 255)} in ${e.dir}\n`
          : `${day} ${from}: ${shown(e.text ?? '')}\n`,
      );
    } catch {
      // a line cut by a crash: skipped
    }
  }
}
