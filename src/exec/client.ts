/**
 * The client of `sockit exec serve`: one connection, one log-in, then as many commands as
 * wanted, each a channel of the connection's mux (see protocol.ts). From a program:
 *
 *   const exec = await ExecClient.connect({ host, user: 'ann', password });
 *   const { exit, stdout } = await exec.run(['uname', '-a']);
 *   exec.close();
 */
import { PassThrough, type Readable, type Writable } from 'node:stream';
import tls from 'node:tls';
import { tlsExporter } from '../auth/challenge.js';
import type { KeyCache } from '../auth/key-cache.js';
import { scramLogin, secretLogin } from '../auth/login-client.js';
import type { LoginTransport } from '../auth/login-messages.js';
import type { SecretKey } from '../auth/secret-key.js';
import { ErrorCode, formatHostPort, isSockitError, SockitError } from '../errors.js';
import { Channel } from '../runtime/channel.js';
import { dial } from '../runtime/dial.js';
import { type Logger, silentLogger } from '../runtime/log.js';
import { writeFinished } from '../runtime/stream-end.js';
import { Mux } from '../wire/mux.js';
import { EXEC_PORT } from './port.js';
import { EXEC_SERVICE, type ExecResult, type ExecSignal, MAX_INFO_BYTES, parseExecEnd } from './protocol.js';

export type { ExecResult, ExecSignal } from './protocol.js';

export interface ExecConnectOptions {
  host: string;
  /** Default 8081. */
  port?: number;
  /** Connect over TLS; `ca` to trust a certificate (a self-signed server's). */
  tls?: { ca?: string | Buffer; servername?: string };
  user: string;
  /** The password, or a function asked only when the key cache has no keys for the server. */
  password?: string | (() => Promise<string>);
  /** Salted SCRAM keys from earlier log-ins (see `FileKeyCache`): no PBKDF2 when they fit. */
  keyCache?: KeyCache;
  /** Log in with the server's shared secret instead. */
  secret?: SecretKey;
  /** Give up connecting after this long, in ms. Default 10000. */
  timeoutMs?: number;
  log?: Logger;
}

/** What to run: a program and its arguments (never through a shell), or a command line for /bin/sh. */
export type ExecCommand = readonly string[] | { shell: string };

export interface ExecOptions {
  /** Folder to run in, relative to the server's working folder. */
  cwd?: string;
  /** TERM, LANG, LC_*, COLUMNS, LINES or TZ for the command. */
  env?: Record<string, string>;
  /**
   * Run it on a pseudo-terminal of this size (for interactive programs): its stdout and
   * stderr are the terminal's one stream, which arrives as `stdout`.
   */
  tty?: { cols: number; rows: number };
}

/** A command running on the server. */
export interface RemoteProcess {
  /** Its stdin: end it to send EOF. */
  readonly stdin: Writable;
  readonly stdout: Readable;
  readonly stderr: Readable;
  /** Sends a signal to its process group. */
  kill(signal?: ExecSignal): void;
  /** Gives its terminal a new size (a command started with `tty` only). */
  resize(cols: number, rows: number): void;
  /** How it ended, once its output has all arrived. Rejects when it did not start (the refusal) or the connection was lost. */
  readonly done: Promise<ExecResult>;
}

export interface RunResult extends ExecResult {
  stdout: Buffer;
  stderr: Buffer;
}

/** Bytes `run()` keeps of each stream at most; more fails the run. Default 64 MiB. */
const DEFAULT_MAX_BUFFER = 64 * 1024 * 1024;

export class ExecClient {
  readonly #mux: Mux;
  readonly #socket: import('node:net').Socket;
  /** stderr streams of commands started, by their channel id, until their channel arrives. */
  readonly #stderr = new Map<number, PassThrough>();
  readonly user: string;

  private constructor(socket: import('node:net').Socket, mux: Mux, user: string) {
    this.#socket = socket;
    this.#mux = mux;
    this.user = user;
    mux.on('channel', (ch) => {
      const info = ch.info as { kind?: unknown; exec?: unknown } | undefined;
      const out = typeof info?.exec === 'number' ? this.#stderr.get(info.exec) : undefined;
      if (info?.kind !== 'stderr' || out === undefined) {
        ch.reset('unexpected channel');
        return;
      }
      this.#stderr.delete(info.exec as number);
      ch.end(); // nothing goes the other way
      // A lost connection: the command's `done` rejects; its stderr just ends.
      ch.on('error', () => out.end());
      ch.pipe(out);
    });
  }

  /** Connects, reads the greeting and logs in. */
  static async connect(options: ExecConnectOptions): Promise<ExecClient> {
    const port = options.port ?? EXEC_PORT;
    const where = formatHostPort(options.host, port);
    const log = options.log ?? silentLogger;
    const socket = (await dial({
      host: options.host,
      port,
      ...(options.tls ? { tls: options.tls } : {}),
      timeoutMs: options.timeoutMs ?? 10_000,
    })) as import('node:net').Socket;
    socket.setNoDelay(true);
    // A kept connection may sit unused for hours: keep-alive finds a server that went away.
    socket.setKeepAlive(true, 30_000);
    try {
      const channel = new Channel(socket, { maxMessageSize: 64 * 1024 });
      const silent = setTimeout(() => socket.destroy(), options.timeoutMs ?? 10_000);
      let hello: Record<string, unknown>;
      try {
        hello = (await channel.receive()).header;
      } catch (err) {
        throw new SockitError(
          ErrorCode.BAD_REPLY,
          `${where} sent no greeting: is it sockit exec serve${options.tls ? '' : ' (over TLS? use --tls)'}?`,
          { cause: err },
        );
      } finally {
        clearTimeout(silent);
      }
      if (hello.service !== EXEC_SERVICE) {
        throw new SockitError(ErrorCode.BAD_REPLY, `${where} is not sockit exec serve`);
      }
      const transport: LoginTransport = {
        send: (message) => {
          channel.send(message);
        },
        receive: async () => (await channel.receive()).header,
      };
      const user = options.secret
        ? await secretLogin(transport, options.user, options.secret, tlsExporter(socket), { log })
        : await scramLogin(transport, options.user, options.password ?? '', {
            cache: options.keyCache,
            server: `${socket instanceof tls.TLSSocket ? 'tls' : 'tcp'}:exec:${where}`,
            log,
          });
      const leftover = channel.release();
      if (leftover.length > 0) socket.unshift(leftover);
      const mux = new Mux(socket, ExecClient.#muxOptions);
      socket.resume();
      return new ExecClient(socket, mux, user);
    } catch (err) {
      socket.destroy();
      throw err;
    }
  }

  /**
   * Uses a kept connection (see control.ts) through its Unix socket: no connection to the
   * server and no log-in. Resolves undefined when none listens at `socketPath`.
   */
  static async attach(socketPath: string, user: string): Promise<ExecClient | undefined> {
    const { connectLocal } = await import('../runtime/local-socket.js');
    const socket = await connectLocal(socketPath);
    if (socket === undefined) return undefined;
    return new ExecClient(socket, new Mux(socket, ExecClient.#muxOptions), user);
  }

  static readonly #muxOptions = {
    role: 'client',
    maxInfoSize: MAX_INFO_BYTES,
    // What the server may send ahead of this side's reading: 4 MiB keeps a command's
    // output flowing while both processes take their turns (1 MiB: ~15% less throughput).
    initialWindow: 4 * 1024 * 1024,
    chunkSize: 64 * 1024,
  } as const;

  /** Starts a command; its stdin, stdout and stderr are streams, `done` says how it ended. */
  start(command: ExecCommand, options: ExecOptions = {}): RemoteProcess {
    const info = {
      kind: 'exec',
      ...('shell' in command ? { shell: command.shell } : { argv: [...command] }),
      ...(options.cwd === undefined ? {} : { cwd: options.cwd }),
      ...(options.env === undefined ? {} : { env: options.env }),
      ...(options.tty === undefined ? {} : { tty: { cols: options.tty.cols, rows: options.tty.rows } }),
    };
    const ch = this.#mux.open(info);
    const stderr = new PassThrough();
    this.#stderr.set(ch.id, stderr);
    // All of stderr written into its stream (read or not).
    const stderrIn = writeFinished(stderr);
    const done = new Promise<ExecResult>((resolve, reject) => {
      ch.once('remoteclose', () => {
        this.#stderr.delete(ch.id);
        const end = parseExecEnd(ch.remoteCloseInfo);
        if (end === undefined) {
          stderr.end();
          reject(new SockitError(ErrorCode.CONNECTION_CLOSED, 'the connection to the server was lost'));
          return;
        }
        if ('refused' in end) {
          stderr.end();
          const code = (Object.values(ErrorCode) as string[]).includes(end.refused)
            ? (end.refused as ErrorCode)
            : ErrorCode.BAD_REPLY;
          reject(new SockitError(code, end.message));
          return;
        }
        const result: ExecResult = end;
        // The stderr channel closed before this one; its last bytes may still be on their way through the pipe.
        void stderrIn.then(() => resolve(result));
      });
      ch.on('error', (err) => {
        stderr.end();
        // The mux's own words for a lost connection ("transport ended with N channels open")
        // say nothing to a user.
        reject(
          isSockitError(err, ErrorCode.CONNECTION_CLOSED)
            ? new SockitError(ErrorCode.CONNECTION_CLOSED, 'the connection to the server was lost', {
                cause: err,
              })
            : err,
        );
      });
      // The channel may close here first (both directions ended) with the server's CLOSE, and
      // its status, still on its way; only the connection's end means that it will not come.
      const lost = (): void => {
        if (ch.closeReceived) return;
        stderr.end();
        reject(new SockitError(ErrorCode.CONNECTION_CLOSED, 'the connection to the server was lost'));
      };
      ch.once('close', () => {
        if (ch.closeReceived) return;
        if (this.#mux.closed) lost();
        else {
          this.#mux.once('close', lost);
          ch.once('remoteclose', () => this.#mux.off('close', lost));
        }
      });
    });
    done.catch(() => {});
    return {
      stdin: ch,
      stdout: ch,
      stderr,
      kill: (signal: ExecSignal = 'TERM') => this.#tell({ kind: 'signal', exec: ch.id, signal }),
      resize: (cols: number, rows: number) => this.#tell({ kind: 'resize', exec: ch.id, cols, rows }),
      done,
    };
  }

  /** A one-frame request about a running command (a signal, a new size): OPEN, then CLOSE. */
  #tell(info: Record<string, unknown>): void {
    if (this.#mux.closed) return;
    const ch = this.#mux.open(info);
    ch.on('error', () => {});
    ch.resume();
    ch.end();
  }

  /**
   * Runs a command to its end: `stdin` (when given) is its input, else it gets EOF at once;
   * its output is kept (at most `maxBuffer` bytes of each).
   */
  async run(
    command: ExecCommand,
    options: ExecOptions & { stdin?: string | Buffer; maxBuffer?: number } = {},
  ): Promise<RunResult> {
    const p = this.start(command, options);
    const max = options.maxBuffer ?? DEFAULT_MAX_BUFFER;
    const collect = (stream: Readable): Promise<Buffer> =>
      new Promise((resolve, reject) => {
        const chunks: Buffer[] = [];
        let size = 0;
        stream.on('data', (chunk: Buffer) => {
          size += chunk.length;
          if (size > max) {
            p.kill('KILL');
            reject(new SockitError(ErrorCode.FILE_TOO_LARGE, `the command wrote more than ${max} bytes`));
            return;
          }
          chunks.push(chunk);
        });
        stream.once('end', () => resolve(Buffer.concat(chunks)));
        stream.once('error', reject);
      });
    p.stdin.end(options.stdin);
    const [stdout, stderr, result] = await Promise.all([collect(p.stdout), collect(p.stderr), p.done]);
    return { ...result, stdout, stderr };
  }

  /** Closes the connection (commands still running there are ended by the server). */
  close(): void {
    this.#mux.close();
    this.#socket.end();
    setTimeout(() => this.#socket.destroy(), 2000).unref();
  }

  /** Resolves when the connection has ended. */
  get closed(): Promise<void> {
    return new Promise((resolve) => {
      if (this.#mux.closed) resolve();
      else this.#mux.once('close', () => resolve());
    });
  }
}
