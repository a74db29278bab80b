/**
 * `sockit exec serve`: remote commands for accounts with the `exec` grant, the lessons'
 * "simulated ssh" with its holes closed. Programs run from an allowlist, by argv, never
 * through a shell unless `allowShell`; in a clean environment, in a confined working folder,
 * each in a process group of its own that a timeout, the output cap or a lost client ends.
 * See protocol.ts for the wire, docs/exec.md for the threat model.
 */
import { accessSync, constants as fsConstants, statSync } from 'node:fs';
import { stat } from 'node:fs/promises';
import path from 'node:path';
import type { SecureContextOptions } from 'node:tls';
import { accountMark } from '../auth/account-mark.js';
import { tlsExporter } from '../auth/challenge.js';
import type { LoginServer } from '../auth/login-server.js';
import { AuthRequest, isOutOfStep, refusal } from '../auth/login-transport.js';
import type { UserRecord } from '../auth/store.js';
import { ErrorCode, isSockitError, SockitError } from '../errors.js';
import { Channel } from '../runtime/channel.js';
import { ConfinedRoot } from '../runtime/confine.js';
import { type Logger, silentLogger } from '../runtime/log.js';
import { firstIssue } from '../runtime/schema.js';
import { type Connection, serveTcp, type TcpService } from '../runtime/tcp.js';
import { visible } from '../runtime/text.js';
import { Mux } from '../wire/mux.js';
import type { MuxChannel } from '../wire/mux-channel.js';
import { EXEC_PORT } from './port.js';
import { type Started, signalSession, startProcess } from './process.js';
import { EXEC_PROTOCOL_VERSION, EXEC_SERVICE, type ExecResult, MAX_INFO_BYTES } from './protocol.js';
import {
  ExecRequest,
  type ExecRequest as ExecRequestType,
  ResizeRequest,
  SignalRequest,
} from './requests.js';

export interface ExecServerOptions {
  /** The accounts' log-in (its store must hold the accounts; only those with `exec` run anything). */
  login: LoginServer;
  /** Programs that may run: names (looked up in PATH once, at start) or absolute paths. */
  allow?: readonly string[];
  /** Also run command lines through /bin/sh -c. Default false. */
  allowShell?: boolean;
  /** The working folder; a client may ask for a folder inside it. Default: the current folder. */
  cwd?: string;
  /** Kill a command's process group after this many ms (TERM, then KILL after `graceMs`); 0: never. Default 0. */
  timeoutMs?: number;
  /** Between TERM and KILL, in ms. Default 2000. */
  graceMs?: number;
  /** Bytes of stdout plus stderr a command may write; past it, the rest is dropped and it is killed. 0: no cap. Default 0. */
  maxOutputBytes?: number;
  /** Commands running at once per account. Default 8. */
  maxPerUser?: number;
  /** Commands running at once in all. Default 64. */
  maxCommands?: number;
  /** The server's own environment variables passed on to commands (besides PATH, HOME, LANG). */
  passEnv?: readonly string[];
  /** Run commands as this user and group (the server must run as root). */
  runAs?: { uid: number; gid: number };
  host?: string;
  /** Default 8081; 0 picks a free port. */
  port?: number;
  tls?: SecureContextOptions;
  maxConnections?: number;
  log?: Logger;
}

export interface ExecService extends TcpService {
  /** Commands running now. */
  readonly running: number;
}

/** PATH for commands: the system's usual folders, never the server's own PATH. */
const SAFE_PATH = '/usr/local/bin:/usr/bin:/bin';

/**
 * The allowlist, resolved once: each name found in PATH (the server's, at start) becomes an
 * absolute path; a request names a program by that name or by that path.
 */
export function resolveAllowlist(
  allow: readonly string[],
  searchPath = process.env.PATH ?? SAFE_PATH,
): Map<string, string> {
  const programs = new Map<string, string>();
  for (const entry of allow) {
    const found = entry.includes('/') ? path.resolve(entry) : findInPath(entry, searchPath);
    if (found === undefined) {
      throw new SockitError(
        ErrorCode.NOT_FOUND,
        `--allow ${entry}: no such program in PATH; give its full path`,
      );
    }
    if (!isProgram(found)) {
      throw new SockitError(
        ErrorCode.NOT_FOUND,
        `--allow ${entry}: ${found} is not a program this server can run`,
      );
    }
    programs.set(entry, found);
    programs.set(found, found);
  }
  return programs;
}

function findInPath(name: string, searchPath: string): string | undefined {
  for (const dir of searchPath.split(':')) {
    if (dir === '' || !path.isAbsolute(dir)) continue;
    const candidate = path.join(dir, name);
    if (isProgram(candidate)) return candidate;
  }
  return undefined;
}

/** A file this process may execute. */
function isProgram(file: string): boolean {
  try {
    accessSync(file, fsConstants.X_OK);
    return statSync(file).isFile();
  } catch {
    return false;
  }
}

/** Counts of commands running, per account and in all. */
class Slots {
  readonly #perUser = new Map<string, number>();
  total = 0;

  constructor(
    readonly maxPerUser: number,
    readonly maxTotal: number,
  ) {}

  take(user: string): SockitError | (() => void) {
    const mine = this.#perUser.get(user) ?? 0;
    if (mine >= this.maxPerUser) {
      return new SockitError(
        ErrorCode.BUSY,
        `${user} has ${mine} commands running, the most allowed; wait for one to end`,
      );
    }
    if (this.total >= this.maxTotal) {
      return new SockitError(
        ErrorCode.BUSY,
        `the server runs ${this.total} commands, the most allowed; try again soon`,
      );
    }
    this.#perUser.set(user, mine + 1);
    this.total++;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.total--;
      const left = (this.#perUser.get(user) ?? 1) - 1;
      if (left > 0) this.#perUser.set(user, left);
      else this.#perUser.delete(user);
    };
  }
}

/**
 * @example
 * ```ts
 * const exec = await serveExec({ login, allow: ['uname', 'ls'], port: 8081 });
 * ```
 */
export async function serveExec(options: ExecServerOptions): Promise<ExecService> {
  const log = (options.log ?? silentLogger).child({ service: 'exec' });
  const programs = resolveAllowlist(options.allow ?? []);
  if (programs.size === 0 && !options.allowShell) {
    throw new SockitError(
      ErrorCode.INVALID_ARGUMENT,
      'nothing could run: allow programs (--allow NAME, repeated) or command lines (--allow-shell)',
    );
  }
  const cwd = path.resolve(options.cwd ?? process.cwd());
  const st = await stat(cwd).catch(() => undefined);
  if (!st?.isDirectory()) throw new SockitError(ErrorCode.NOT_FOUND, `--cwd ${cwd}: no such folder`);
  const root = await ConfinedRoot.open(cwd);
  const slots = new Slots(options.maxPerUser ?? 8, options.maxCommands ?? 64);
  const settings: Settings = {
    login: options.login,
    programs,
    allowShell: options.allowShell ?? false,
    cwd,
    root,
    timeoutMs: options.timeoutMs ?? 0,
    graceMs: options.graceMs ?? 2000,
    maxOutput: options.maxOutputBytes ?? 0,
    env: baseEnv(cwd, options.passEnv ?? []),
    runAs: options.runAs,
    slots,
  };
  const service = await serveTcp({
    name: 'exec',
    host: options.host,
    port: options.port ?? EXEC_PORT,
    login: true,
    // A command may run for hours without a byte: TCP keep-alive finds a lost peer instead.
    idleTimeoutMs: 0,
    ...(options.maxConnections === undefined ? {} : { maxConnections: options.maxConnections }),
    ...(options.tls ? { tls: options.tls } : {}),
    log,
    handler: (conn) => serveConnection(conn, settings),
  });
  return {
    ...service,
    get connections() {
      return service.connections;
    },
    get running() {
      return slots.total;
    },
    async close() {
      await service.close();
      await root.close();
    },
  };
}

interface Settings {
  login: LoginServer;
  programs: Map<string, string>;
  allowShell: boolean;
  cwd: string;
  root: ConfinedRoot;
  timeoutMs: number;
  graceMs: number;
  maxOutput: number;
  env: Record<string, string>;
  runAs: { uid: number; gid: number } | undefined;
  slots: Slots;
}

function baseEnv(cwd: string, pass: readonly string[]): Record<string, string> {
  const env: Record<string, string> = { PATH: SAFE_PATH, HOME: cwd, LANG: process.env.LANG ?? 'C.UTF-8' };
  for (const name of pass) {
    const value = process.env[name];
    if (value !== undefined) env[name] = value;
  }
  return env;
}

/** One connection: the greeting, the log-in, then commands over a mux until it ends. */
async function serveConnection(conn: Connection, s: Settings): Promise<void> {
  conn.socket.setKeepAlive(true, 30_000);
  conn.socket.setNoDelay(true);
  const channel = new Channel(conn.socket, { maxMessageSize: 64 * 1024, preLogin: {} });
  channel.send({
    op: 'hello',
    service: EXEC_SERVICE,
    version: EXEC_PROTOCOL_VERSION,
    mechanisms: s.login.mechanisms,
    register: false,
  });
  const user = await logIn(conn, channel, s.login);
  if (user === undefined) {
    conn.socket.end();
    setTimeout(() => conn.socket.destroy(), 2000).unref();
    return;
  }
  const leftover = channel.release();
  if (leftover.length > 0) conn.socket.unshift(leftover);
  const mux = new Mux(conn.socket, {
    role: 'server',
    maxInfoSize: MAX_INFO_BYTES,
    // What a client may send ahead of a command's reading (its stdin), per channel: bounded,
    // since 64 channels of a few hundred connections could each fill theirs.
    initialWindow: 1024 * 1024,
    chunkSize: 64 * 1024,
    maxChannels: 64,
  });
  conn.socket.resume();
  const commands = new Map<number, Command>();
  const session: Session = {
    conn,
    mux,
    s,
    user,
    mark: accountMark(user),
    checked: Date.now(),
    commands,
    refusals: [],
  };
  mux.on('channel', (ch) => {
    // A lost connection fails every channel: the commands are ended below, nothing to report.
    ch.on('error', () => {});
    const kind = (ch.info as { kind?: unknown } | undefined)?.kind;
    if (kind === 'exec') {
      runCommand(ch, session).catch((err: unknown) => {
        // A bug, not the client's doing: this command ends, the server goes on.
        conn.log.error({ err: (err as Error).message, user: user.name }, 'exec: command failed');
        if (!ch.destroyed)
          refuse(ch, new SockitError(ErrorCode.INTERNAL, 'the server failed to run it'), session);
      });
    } else if (kind === 'signal') signalCommand(ch, commands, conn.log);
    else if (kind === 'resize') resizeTerminal(ch, commands);
    else refuse(ch, new SockitError(ErrorCode.BAD_REQUEST, 'unknown channel kind'), session);
  });
  await new Promise<void>((resolve) => {
    mux.once('close', () => resolve());
    conn.closing.addEventListener('abort', () => mux.close(), { once: true });
  });
  // The client is gone: so are its commands.
  for (const command of commands.values()) command.kill('the client disconnected');
}

/** Runs the log-in; the account when it has the `exec` grant, else undefined (refused). */
async function logIn(
  conn: Connection,
  channel: Channel,
  login: LoginServer,
): Promise<UserRecord | undefined> {
  const transport = {
    send: (message: Record<string, unknown>) => {
      channel.send(message);
    },
    receive: async () => (await channel.receive()).header,
  };
  const peer = {
    address: conn.address,
    channelBinding: tlsExporter(conn.socket),
    loginStarted: () => conn.loginStarted(),
    log: conn.log,
  };
  const tally = { attempts: 0, throttled: 0 };
  for (;;) {
    let header: Record<string, unknown>;
    try {
      header = (await channel.receive()).header;
    } catch {
      return undefined;
    }
    const parsed = AuthRequest.safeParse(header);
    if (!parsed.success) {
      channel.send(refusal(new SockitError(ErrorCode.AUTH_PROTOCOL, 'expected a log-in (op auth)')));
      return undefined;
    }
    try {
      const { user } = await login.authenticate(transport, parsed.data, peer, tally, async (record) => {
        if (!record.grants.includes('exec')) {
          throw new SockitError(
            ErrorCode.FORBIDDEN,
            `${record.name} may not run commands here (an admin can allow it: sockit users grant ${record.name} exec)`,
          );
        }
        conn.authenticate(record.name);
      });
      channel.authenticate();
      return user;
    } catch (err) {
      if (!isSockitError(err)) throw err;
      channel.send(refusal(err));
      if (err.code === ErrorCode.FORBIDDEN) conn.log.warn({ why: err.message }, 'exec: log-in refused');
      if (isOutOfStep(err) || err.code === ErrorCode.FORBIDDEN) return undefined;
    }
  }
}

interface Command {
  kill(reason: string): void;
  signal(name: string): boolean;
  /** A new terminal size; undefined for a command without a terminal. */
  resize: ((cols: number, rows: number) => void) | undefined;
}

/** One logged-in connection, as its commands see it. */
interface Session {
  conn: Connection;
  mux: Mux;
  s: Settings;
  user: UserRecord;
  commands: Map<number, Command>;
  /** The account at log-in (accountMark): a new password, or the account made again, changes it. */
  mark: string;
  /** When the account was last found unchanged. */
  checked: number;
  /** When this connection's latest refusals were: past MAX_REFUSALS within a minute it is closed. */
  refusals: number[];
}

/** How long an account found unchanged is not looked up again, in ms. */
const ACCOUNT_RECHECK_MS = 1000;

/**
 * The account still as it logged in, with the exec grant: a connection lives on (a kept one
 * for hours), and a password changed, the grant taken back or the account removed must end
 * what it may do. Looked up at most once a second per connection.
 */
async function stillAllowed(session: Session): Promise<boolean> {
  const now = Date.now();
  if (now - session.checked < ACCOUNT_RECHECK_MS) return true;
  const account = await session.s.login.account(session.user.name).catch(() => undefined);
  if (account?.grants.includes('exec') && accountMark(account) === session.mark) {
    session.checked = now;
    return true;
  }
  return false;
}

/** Refused commands a connection may send in a minute before it is closed (each is a log line). */
const MAX_REFUSALS = 32;
const REFUSAL_WINDOW_MS = 60_000;

function signalCommand(ch: MuxChannel, commands: Map<number, Command>, log: Logger): void {
  const parsed = SignalRequest.safeParse(ch.info);
  const command = parsed.success ? commands.get(parsed.data.exec) : undefined;
  if (!parsed.success || command === undefined) {
    ch.close({ refused: ErrorCode.NOT_FOUND, message: 'no such command running on this connection' });
    return;
  }
  const sent = command.signal(parsed.data.signal);
  log.debug({ exec: parsed.data.exec, signal: parsed.data.signal, sent }, 'exec: signal');
  ch.resume();
  ch.close({});
}

function resizeTerminal(ch: MuxChannel, commands: Map<number, Command>): void {
  const parsed = ResizeRequest.safeParse(ch.info);
  const command = parsed.success ? commands.get(parsed.data.exec) : undefined;
  ch.resume();
  if (!parsed.success || command?.resize === undefined) {
    ch.close({ refused: ErrorCode.NOT_FOUND, message: 'no such command on a terminal on this connection' });
    return;
  }
  command.resize(parsed.data.cols, parsed.data.rows);
  ch.close({});
}

/**
 * Refuses a command that did not start: one CLOSE saying why, and one log line. A connection
 * that keeps sending refused commands is closed: the log is not a place to fill.
 */
function refuse(ch: MuxChannel, err: SockitError, session: Session, argv?: readonly string[]): void {
  ch.resume();
  ch.close({ refused: err.code, message: err.message });
  session.conn.log.info(
    {
      user: session.user.name,
      ...(argv ? { argv: argv.slice(0, 16).map((a) => visible(a, 256)) } : {}),
      refused: err.code,
    },
    'exec refused',
  );
  // Counted over the last minute: a kept connection serves many commands over hours, and its
  // typos add up without being a flood.
  const now = Date.now();
  session.refusals = session.refusals.filter((t) => now - t < REFUSAL_WINDOW_MS);
  session.refusals.push(now);
  if (session.refusals.length > MAX_REFUSALS) {
    session.conn.log.warn(
      { user: session.user.name, refusals: session.refusals.length },
      'exec: too many refused commands',
    );
    session.mux.close();
    session.conn.socket.destroy();
  }
}

async function runCommand(ch: MuxChannel, session: Session): Promise<void> {
  const { mux, conn, s, user, commands } = session;
  const parsed = ExecRequest.safeParse(ch.info);
  if (!parsed.success) {
    const why = `malformed command: ${firstIssue(parsed.error)}`;
    refuse(ch, new SockitError(ErrorCode.BAD_REQUEST, why), session);
    return;
  }
  const request = parsed.data;
  const shown = request.argv ?? ['sh', '-c', request.shell as string];
  if (!(await stillAllowed(session))) {
    conn.log.warn({ user: user.name }, 'exec: the account changed since log-in; connection closed');
    ch.resume();
    ch.close({
      refused: ErrorCode.AUTH_FAILED,
      message: `${user.name}'s account changed since this connection logged in (password, grant, or removed): log in again`,
    });
    mux.close();
    setTimeout(() => conn.socket.destroy(), 1000).unref();
    return;
  }
  let program: { file: string; args: string[]; argv0: string };
  let cwd: string;
  try {
    program = choose(request, s);
    cwd = request.cwd === undefined || request.cwd === '' ? s.cwd : await confinedCwd(s, request.cwd);
  } catch (err) {
    // A folder that is not there (or stops being there) is the client's problem, never the server's.
    const refusal = isSockitError(err)
      ? err
      : new SockitError(ErrorCode.NOT_FOUND, `${visible(request.cwd ?? '', 256)}: no such folder here`);
    refuse(ch, refusal, session, shown);
    return;
  }
  // The folder check waited: the client may have gone meanwhile. Nothing starts for nobody.
  if (ch.destroyed || ch.closeReceived || mux.closed) return;
  const release = s.slots.take(user.name);
  if (release instanceof SockitError) {
    refuse(ch, release, session, shown);
    return;
  }
  // Its stderr channel before the program: a client that takes no channels from the server
  // (it announced none) would leave it, and what the command writes there, held here.
  let stderr: MuxChannel;
  try {
    stderr = mux.open({ kind: 'stderr', exec: ch.id });
  } catch {
    release();
    return;
  }
  stderr.on('error', () => {});
  if (stderr.held) {
    stderr.destroy();
    release();
    refuse(
      ch,
      new SockitError(
        ErrorCode.BUSY,
        'this client takes no channels from the server: its stderr has nowhere to go',
      ),
      session,
      shown,
    );
    return;
  }
  const started = Date.now();
  const env = { ...s.env, SOCKIT_USER: user.name, ...(request.env ?? {}) };
  let child: Started;
  try {
    child = await startProcess(program, { cwd, env, runAs: s.runAs, tty: request.tty });
  } catch (err) {
    release();
    stderr.destroy();
    refuse(
      ch,
      new SockitError(ErrorCode.IO, `cannot start ${program.argv0}: ${(err as Error).message}`),
      session,
      shown,
    );
    return;
  }
  const pid = child.pid;
  let outBytes = 0;
  let errBytes = 0;
  let inBytes = 0;
  let truncated = false;
  let timedOut = false;
  let killTimer: NodeJS.Timeout | undefined;
  /** Its output all sent and its status known. */
  let finished = false;
  const group = (signal: NodeJS.Signals): boolean => {
    if (pid === undefined) return false;
    // On a terminal, the whole session: a shell's jobs each have a group of their own there.
    if (child.session) return signalSession(pid, signal);
    try {
      process.kill(-pid, signal);
      return true;
    } catch {
      return false;
    }
  };
  /** TERM to the whole group, KILL after the grace period (grandchildren included). */
  const end = (why: string): void => {
    if (killTimer !== undefined) return;
    conn.log.debug({ pid, why }, 'exec: ending the process group');
    group('SIGTERM');
    killTimer = setTimeout(() => group('SIGKILL'), s.graceMs);
    killTimer.unref();
  };
  const command: Command = {
    kill: end,
    signal: (name) => group(`SIG${name}` as NodeJS.Signals),
    resize: child.resize,
  };
  commands.set(ch.id, command);
  const timeout =
    s.timeoutMs > 0
      ? setTimeout(() => {
          timedOut = true;
          end('timeout');
        }, s.timeoutMs)
      : undefined;

  /** Of `n` bytes of output, how many the cap lets through (all without a cap); at the cap, the command ends. */
  const room = (n: number): number => {
    if (s.maxOutput <= 0) return n;
    const left = Math.max(0, s.maxOutput - outBytes - errBytes);
    if (n <= left) return n;
    truncated = true;
    end('output cap');
    return left;
  };
  // stdin: the client's DATA, its EOF the pipe's end.
  ch.on('data', (chunk: Buffer) => {
    inBytes += chunk.length;
  });
  ch.pipe(child.stdin);
  // The client reset the command's channel (or lost it): nobody reads its output any more.
  ch.once('close', () => {
    if (!finished) end('its channel was closed');
  });
  if (ch.destroyed) end('its channel was closed'); // while the terminal was being made
  // The exec channel's own end goes with its CLOSE (the exit status): ended before, with
  // stdin's EOF in, it would close by itself without it.
  const stdoutDone = forward(child.stdout, ch, false, room, (n) => {
    outBytes += n;
  });
  const stderrDone = forward(child.stderr, stderr, true, room, (n) => {
    errBytes += n;
  });
  const exit = child.exited.then((ended) => {
    if (ended.failed !== undefined) {
      stderr.write(`sockit exec: cannot start ${visible(program.argv0, 256)}: ${ended.failed}\n`);
      return { exit: 127 } as ExecResult;
    }
    return ended as ExecResult;
  });
  const result = await exit;
  await Promise.all([stdoutDone, stderrDone]);
  finished = true;
  // What the command left behind in its process group (a `cmd &` of a shell) ends with it:
  // nothing runs on for a client that has its status. (A process that made a session of its
  // own with setsid has left the group; see docs/exec.md.)
  if (group('SIGTERM')) setTimeout(() => group('SIGKILL'), s.graceMs).unref();
  if (timeout !== undefined) clearTimeout(timeout);
  if (killTimer !== undefined) clearTimeout(killTimer);
  commands.delete(ch.id);
  release();
  if (truncated) result.truncated = true;
  if (timedOut) result.timedOut = true;
  stderr.close({});
  ch.close(result as unknown as Record<string, unknown>);
  conn.log.info(
    {
      user: user.name,
      argv: shown.map((a) => visible(a, 256)),
      ...result,
      ms: Date.now() - started,
      in: inBytes,
      out: outBytes,
      err: errBytes,
    },
    'exec',
  );
}

/**
 * Copies a child's output to a channel with the channel's backpressure, counting bytes, until
 * the output ends or the cap is reached (after which the rest is read and dropped, so the
 * command is not blocked while it is killed).
 */
function forward(
  from: NodeJS.ReadableStream | null,
  to: MuxChannel,
  endAtEof: boolean,
  room: (n: number) => number,
  count: (n: number) => void,
): Promise<void> {
  return new Promise((resolve) => {
    if (from === null) {
      if (endAtEof) to.end();
      resolve();
      return;
    }
    let open = true;
    const gone = (): boolean => to.destroyed || to.writableEnded;
    from.on('data', (chunk: Buffer) => {
      // The channel is gone (the client reset it, or the connection): the rest is dropped,
      // and read, so that the command is never left blocked on a full pipe.
      if (!open || gone()) return;
      const fits = room(chunk.length);
      const part = fits < chunk.length ? chunk.subarray(0, fits) : chunk;
      if (part.length > 0) {
        count(part.length);
        if (!to.write(part) && !gone()) {
          from.pause();
          const resume = (): void => {
            to.off('drain', resume);
            to.off('close', resume);
            from.resume();
          };
          to.on('drain', resume);
          to.on('close', resume);
        }
      }
      if (fits < chunk.length) {
        // Past the cap: what fitted went out, the rest is dropped.
        open = false;
        if (endAtEof && !gone()) to.end();
      }
    });
    const done = (): void => {
      if (open && endAtEof && !gone()) to.end();
      open = false;
      resolve();
    };
    from.once('end', done);
    from.once('error', done);
  });
}

/** The program to start for a request, from the allowlist (or the shell, when allowed). */
function choose(request: ExecRequestType, s: Settings): { file: string; args: string[]; argv0: string } {
  if (request.shell !== undefined) {
    if (!s.allowShell) {
      throw new SockitError(
        ErrorCode.FORBIDDEN,
        'this server runs no command lines through a shell (--allow-shell)',
      );
    }
    return { file: '/bin/sh', args: ['-c', request.shell], argv0: 'sh' };
  }
  const [name = '', ...args] = request.argv ?? [];
  const file = s.programs.get(name);
  if (file === undefined) {
    throw new SockitError(
      ErrorCode.FORBIDDEN,
      `${visible(name, 256)} is not a program this server runs (its --allow list)`,
    );
  }
  return { file, args, argv0: name };
}

/** The folder a client asked to run in, inside the working folder (links resolved, no way out). */
async function confinedCwd(s: Settings, asked: string): Promise<string> {
  const rel = await s.root.resolve(asked.replace(/^\/+/, ''), { follow: true });
  const full = path.join(s.cwd, rel);
  const st = await stat(full).catch(() => undefined);
  if (!st?.isDirectory())
    throw new SockitError(ErrorCode.NOT_FOUND, `${visible(asked, 256)}: no such folder here`);
  return full;
}
