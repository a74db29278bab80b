/**
 * A kept connection: one logged-in `ExecClient` that serves later commands of the same user
 * on this machine through a Unix socket, as ssh's ControlMaster does, so that they pay no
 * connection and no log-in.
 *
 * The control socket speaks the exec protocol's mux (protocol.ts) without a greeting or a
 * log-in: whoever may open the socket (the folder holding it is its owner's alone) uses the
 * connection. Each exec channel opened here is relayed to a command on the server: stdin up,
 * stdout and stderr down, signals across, and the server's CLOSE (the status, or a refusal)
 * back as it came. A `{kind: 'stop'}` channel ends the kept connection.
 */
import net from 'node:net';
import { ErrorCode, isSockitError, SockitError } from '../errors.js';
import { connectLocal, listenLocal, removeLocal } from '../runtime/local-socket.js';
import { type Logger, silentLogger } from '../runtime/log.js';
import { readEnded, writeFinished } from '../runtime/stream-end.js';
import { Mux } from '../wire/mux.js';
import type { MuxChannel } from '../wire/mux-channel.js';
import type { ExecClient, ExecCommand, ExecOptions, RemoteProcess } from './client.js';
import { EXEC_SIGNALS, type ExecSignal, MAX_INFO_BYTES } from './protocol.js';

export interface ControlOptions {
  /** The Unix socket to listen on; its folder should be this user's alone. */
  path: string;
  /** End the kept connection after this long without a local connection, in ms; 0: never. */
  idleMs: number;
  log?: Logger;
}

export interface ControlServer {
  /** Resolves with why the kept connection ended: `idle`, `stopped`, `server closed`. */
  readonly ended: Promise<string>;
  stop(why?: string): void;
}

/** Local connections at once, and commands per local connection. */
const MAX_LOCAL = 64;

/**
 * Refused commands in the last minute past which the kept connection refuses more itself,
 * without asking the server: the server closes a connection that has more than 32 refused in
 * a minute, and with it every command running there, of every local client.
 */
const MAX_REFUSED = 24;
const REFUSED_WINDOW_MS = 60_000;

/** The refusals of the last minute, over all local clients of one kept connection. */
class RefusalWindow {
  #times: number[] = [];
  #trim(): void {
    const now = Date.now();
    this.#times = this.#times.filter((t) => now - t < REFUSED_WINDOW_MS);
  }
  add(): void {
    this.#times.push(Date.now());
  }
  get full(): boolean {
    this.#trim();
    return this.#times.length >= MAX_REFUSED;
  }
}

/**
 * Serves `client`'s connection on the Unix socket `options.path` until it has been idle for
 * `idleMs`, a local client asks it to stop, or the server closes the connection. A socket
 * file left by a kept connection that is gone is replaced; one that answers is not
 * (ERR_ADDRESS_IN_USE).
 */
export async function serveControl(client: ExecClient, options: ControlOptions): Promise<ControlServer> {
  const log = options.log ?? silentLogger;
  const locals = new Set<net.Socket>();
  let idle: NodeJS.Timeout | undefined;
  let finish!: (why: string) => void;
  const ended = new Promise<string>((resolve) => {
    finish = resolve;
  });
  let stopped = false;
  const refusals = new RefusalWindow();
  const server = net.createServer((socket) => {
    if (locals.size >= MAX_LOCAL) {
      socket.destroy();
      return;
    }
    locals.add(socket);
    clearTimeout(idle);
    socket.once('close', () => {
      locals.delete(socket);
      if (locals.size === 0) armIdle();
    });
    serveLocal(socket, client, () => stop('stopped'), refusals, log);
  });
  const stop = (why = 'stopped'): void => {
    if (stopped) return;
    stopped = true;
    clearTimeout(idle);
    server.close();
    removeLocal(options.path);
    // A stop asked through a local connection: its answer goes out before the socket ends.
    setImmediate(() => {
      for (const socket of locals) socket.destroy();
      client.close();
      log.debug({ why }, 'exec: kept connection ended');
      finish(why);
    });
  };
  const armIdle = (): void => {
    clearTimeout(idle);
    if (!stopped && options.idleMs > 0) idle = setTimeout(() => stop('idle'), options.idleMs);
  };
  await listenLocal(server, options.path).catch((err: unknown) => {
    throw isSockitError(err, ErrorCode.ADDRESS_IN_USE)
      ? new SockitError(ErrorCode.ADDRESS_IN_USE, `${options.path}: a kept connection already listens there`)
      : err;
  });
  void client.closed.then(() => stop('server closed'));
  armIdle();
  return { ended, stop };
}

/** One local connection: its exec channels relayed to the server, its signals passed on. */
function serveLocal(
  socket: net.Socket,
  client: ExecClient,
  stop: () => void,
  refusals: RefusalWindow,
  log: Logger,
): void {
  const mux = new Mux(socket, {
    role: 'server',
    maxInfoSize: MAX_INFO_BYTES,
    initialWindow: 1024 * 1024,
    chunkSize: 64 * 1024,
    maxChannels: MAX_LOCAL,
  });
  const running = new Map<number, RemoteProcess>();
  mux.on('channel', (ch) => {
    ch.on('error', () => {});
    const info = (ch.info ?? {}) as Record<string, unknown>;
    if (info.kind === 'exec') {
      relay(ch, info, client, mux, running, refusals, log);
    } else if (info.kind === 'signal') {
      const remote = typeof info.exec === 'number' ? running.get(info.exec) : undefined;
      const signal = EXEC_SIGNALS.includes(info.signal as ExecSignal)
        ? (info.signal as ExecSignal)
        : undefined;
      ch.resume();
      if (remote === undefined || signal === undefined) {
        ch.close({ refused: ErrorCode.NOT_FOUND, message: 'no such command running on this connection' });
      } else {
        remote.kill(signal);
        ch.close({});
      }
    } else if (info.kind === 'resize') {
      const remote = typeof info.exec === 'number' ? running.get(info.exec) : undefined;
      const { cols, rows } = info;
      ch.resume();
      if (remote === undefined || !isSize(cols) || !isSize(rows)) {
        ch.close({ refused: ErrorCode.NOT_FOUND, message: 'no such command running on this connection' });
      } else {
        remote.resize(cols, rows);
        ch.close({});
      }
    } else if (info.kind === 'stop') {
      ch.resume();
      ch.close({});
      stop();
    } else {
      ch.resume();
      ch.close({ refused: ErrorCode.BAD_REQUEST, message: 'unknown channel kind' });
    }
  });
  mux.once('close', () => {
    // The local client is gone: so are its commands (the server ends what it started).
    for (const remote of running.values()) remote.stdout.destroy();
    socket.destroy();
  });
}

/** The command an exec OPEN asks for, as `ExecClient.start` takes it; undefined when malformed. */
function commandOf(
  info: Record<string, unknown>,
): { command: ExecCommand; options: ExecOptions } | undefined {
  const { argv, shell, cwd, env, tty } = info;
  let command: ExecCommand;
  if (Array.isArray(argv) && argv.length > 0 && argv.every((a) => typeof a === 'string')) command = argv;
  else if (typeof shell === 'string' && argv === undefined) command = { shell };
  else return undefined;
  const options: ExecOptions = {};
  if (typeof cwd === 'string') options.cwd = cwd;
  else if (cwd !== undefined) return undefined;
  if (tty !== undefined) {
    const { cols, rows } = (tty ?? {}) as Record<string, unknown>;
    if (!isSize(cols) || !isSize(rows)) return undefined;
    options.tty = { cols, rows };
  }
  if (env !== undefined) {
    if (typeof env !== 'object' || env === null || Array.isArray(env)) return undefined;
    if (!Object.values(env).every((v) => typeof v === 'string')) return undefined;
    options.env = env as Record<string, string>;
  }
  return { command, options };
}

/** One command: the local channel `ch` and the server's, joined until the status comes back. */
function relay(
  ch: MuxChannel,
  info: Record<string, unknown>,
  client: ExecClient,
  mux: Mux,
  running: Map<number, RemoteProcess>,
  refusals: RefusalWindow,
  log: Logger,
): void {
  const asked = commandOf(info);
  if (asked === undefined) {
    ch.resume();
    ch.close({ refused: ErrorCode.BAD_REQUEST, message: 'malformed command' });
    return;
  }
  if (refusals.full) {
    ch.resume();
    ch.close({
      refused: ErrorCode.BUSY,
      message: `${MAX_REFUSED} commands were refused through this kept connection in the last minute; wait a minute`,
    });
    return;
  }
  let stderr: MuxChannel;
  try {
    stderr = mux.open({ kind: 'stderr', exec: ch.id });
  } catch {
    ch.reset('the local connection is closing');
    return;
  }
  stderr.on('error', () => {});
  const remote = client.start(asked.command, asked.options);
  running.set(ch.id, remote);
  let finished = false;
  ch.pipe(remote.stdin);
  remote.stdout.pipe(ch, { end: false });
  remote.stderr.pipe(stderr);
  // The local client reset its channel (or went away): the server's command is ended too.
  ch.once('close', () => {
    if (!finished) remote.stdout.destroy();
  });
  const outputDone = Promise.all([readEnded(remote.stdout), writeFinished(stderr)]);
  remote.done.then(
    async (result) => {
      await outputDone;
      finished = true;
      running.delete(ch.id);
      ch.close(result as unknown as Record<string, unknown>);
    },
    (err: unknown) => {
      finished = true;
      running.delete(ch.id);
      const e = isSockitError(err) ? err : new SockitError(ErrorCode.INTERNAL, String(err));
      if (e.code !== ErrorCode.CONNECTION_CLOSED) refusals.add();
      log.debug({ err: e.message }, 'exec: kept connection: command not run');
      stderr.end();
      ch.close({ refused: e.code, message: e.message });
    },
  );
}

const isSize = (n: unknown): n is number =>
  Number.isInteger(n) && (n as number) >= 1 && (n as number) <= 1000;

/**
 * Asks the kept connection listening on `path` to end. Resolves true when one did, false
 * when none listens there.
 */
export async function stopControl(path: string): Promise<boolean> {
  const socket = await connectLocal(path);
  if (socket === undefined) return false;
  const mux = new Mux(socket, { role: 'client', maxInfoSize: MAX_INFO_BYTES });
  const ch = mux.open({ kind: 'stop' });
  ch.on('error', () => {});
  ch.resume();
  ch.end();
  await new Promise<void>((resolve) => {
    ch.once('remoteclose', () => resolve());
    ch.once('close', () => resolve());
    socket.once('close', () => resolve());
  });
  socket.destroy();
  return true;
}
