/**
 * One IRC client: lines in, hub commands out; hub events in, lines out. The connection is
 * the chat server's `ChatPeer` once the client has registered.
 *
 * Output goes through the shared `StreamConnection`: a bounded queue written once per
 * event-loop turn. A client that does not read lets its queue fill; at the bound it is let go
 * at once (its user quits for everyone else) and sent an ERROR line after what it has not
 * read, with a short grace to read it before the socket is destroyed. Nobody waits for it.
 *
 * Input: lines of at most 512 bytes (8191 more of tags), UTF-8 only; a longer line is
 * answered with 417 and skipped, invalid UTF-8 with `FAIL ... INVALID_UTF8`. Commands that
 * reach the hub spend its rate limit; the rest (PING, CAP, queries answered here, bad lines)
 * spend one of this connection's own, and a client that keeps sending bad lines is let go.
 */
import type { Logger } from 'pino';
import type { LoginServer } from '../../auth/login-server.js';
import { TokenBucket } from '../../auth/rate-limit.js';
import { ErrorCode, SockitError } from '../../errors.js';
import { StreamConnection } from '../../runtime/conn.js';
import { LineDecoder } from '../../runtime/lines.js';
import { logLimited } from '../../runtime/log-limit.js';
import type { Connection } from '../../runtime/tcp.js';
import { CHAT_FLUSH_GAP_MS } from '../port.js';
import type { ChatCommand, ChatEvent, ChatMessage, Refusal, SessionId } from '../protocol.js';
import type { ChatPeer, ChatServer } from '../server.js';
import { Capabilities } from './caps.js';
import { runCommand } from './commands.js';
import { IrcContext } from './context.js';
import { Echoes } from './echoes.js';
import { messageLines } from './events.js';
import { formatLine, isProblem, MAX_LINE_BYTES, parseLine } from './message.js';
import { ERR, type RefusedCommand, refusalReply } from './numerics.js';
import { Registration } from './registration.js';
import { renderEvent } from './render.js';

/** What every connection of one service shares. */
export interface IrcSettings {
  server: ChatServer;
  serverName: string;
  /** Set when accounts may log in (PASS, SASL PLAIN). */
  login: LoginServer | undefined;
  motd: string[] | undefined;
  /** Whether a client at this address may send a password in clear (PASS without TLS). */
  clearPasswordFrom: (address: string) => boolean;
  /**
   * Room messages as sent, per set of the capabilities that change them (server-time,
   * message-tags): a message to a room of a thousand is rendered a few times, not a thousand.
   */
  rendered: RenderedMessage;
  maxQueuedBytes: number;
  pingIntervalMs: number;
  pingTimeoutMs: number;
  /** How long a client let go for not reading has to read its ERROR line. */
  lingerMs: number;
  /** Lines answered here (not by the hub): at once, then one per `localRefillMs`. */
  localBurst: number;
  localRefillMs: number;
}

/**
 * The forms of the message being delivered now. A room message goes to every member in one
 * pass, so the last message is the one asked for again and again; an earlier one (a delivery
 * held behind a history read) is rendered anew.
 */
export class RenderedMessage {
  #message: ChatMessage | undefined;
  #variants: (Buffer | undefined)[] = [];

  /** The forms of `message` rendered so far, indexed by `Capabilities.form`. */
  variants(message: ChatMessage): (Buffer | undefined)[] {
    if (message !== this.#message) {
      this.#message = message;
      this.#variants = [];
    }
    return this.#variants;
  }
}

/** A line as read: its bytes, or `undefined` for one over the length limit. */
type Input = Buffer | undefined;

export class IrcConnection implements ChatPeer {
  readonly ctx: IrcContext;
  readonly conn: Connection;
  readonly settings: IrcSettings;
  readonly log: Logger;
  readonly #stream: StreamConnection<Input, string[]>;
  readonly #local: TokenBucket;
  readonly #registration: Registration;
  #session: SessionId | undefined;
  #closing = false;
  readonly #echoes = new Echoes();
  #lastInput = Date.now();
  #pingSent: number | undefined;

  constructor(
    conn: Connection,
    settings: IrcSettings,
    /** Whether the connection is over TLS. */
    readonly tls: boolean,
  ) {
    this.conn = conn;
    this.settings = settings;
    this.log = conn.log;
    this.ctx = new IrcContext({
      serverName: settings.serverName,
      caps: new Capabilities({ tls }),
      limits: settings.server.hub.limits,
    });
    const decoder = new LineDecoder({ maxLineLength: MAX_LINE_BYTES });
    this.#stream = new StreamConnection<Input, string[]>(
      conn.socket,
      {
        onBadInput: 'destroy',
        push: (chunk, emit) => decoder.pushBytes(chunk, emit),
        end: () => undefined,
        encode: (lines) => Buffer.from(`${lines.join('\r\n')}\r\n`, 'utf8'),
      },
      {
        // Room over our own bound for the ERROR line that follows a full queue.
        maxQueuedBytes: settings.maxQueuedBytes + 4096,
        maxQueuedMessages: 1_000_000,
        maxUnread: 32,
        flushGapMs: CHAT_FLUSH_GAP_MS,
        service: 'irc',
        log: this.log,
      },
    );
    this.#local = new TokenBucket({ capacity: settings.localBurst, refillMs: settings.localRefillMs });
    this.#registration = new Registration(this);
  }

  /** Reads and serves the client until it leaves or is let go. */
  async serve(): Promise<void> {
    const stop = (): void => this.end('the server is stopping', 'Closing link: the server is stopping');
    this.conn.closing.addEventListener('abort', stop, { once: true });
    try {
      for await (const input of this.#stream) {
        if (this.#closing) break;
        this.#lastInput = Date.now();
        this.#pingSent = undefined;
        try {
          await this.#take(input);
        } catch (err) {
          // A bug here must not pass unseen, nor leave the client waiting for an answer.
          this.log.error({ err }, 'IRC command failed');
          this.end('internal error', 'Closing link: internal server error');
        }
      }
    } catch {
      // A reset or a socket error: the client is gone either way.
    } finally {
      this.conn.closing.removeEventListener('abort', stop);
      this.#detach('connection closed');
      if (!this.#closing) this.#stream.destroy();
    }
  }

  async #take(input: Input): Promise<void> {
    if (input === undefined) return this.#badLine(ERR.INPUTTOOLONG, 'Input line was too long');
    const message = parseLine(input);
    if (message === undefined) return;
    if (isProblem(message)) {
      const command = message.command ?? '*';
      if (message.problem === 'too-long') return this.#badLine(ERR.INPUTTOOLONG, 'Input line was too long');
      const text =
        message.problem === 'utf8'
          ? 'Message rejected: your IRC software must send UTF-8 on this server'
          : 'Message rejected: malformed line';
      const code = message.problem === 'utf8' ? 'INVALID_UTF8' : 'INVALID_LINE';
      return this.#badLine(undefined, text, ['FAIL', command, code]);
    }
    if (!this.#registration.done) await this.#registration.handle(message);
    else runCommand(this, message);
  }

  /** Answers a line that could not be taken; a client that sends many is let go. */
  #badLine(numeric: string | undefined, text: string, fail?: string[]): void {
    if (this.#local.take('lines') > 0) {
      this.end('too many bad lines', 'Closing link: too many malformed lines');
      return;
    }
    if (numeric !== undefined) this.write([this.ctx.numeric(numeric, text)]);
    else if (fail !== undefined) {
      const [command, ...params] = fail as [string, ...string[]];
      this.write([
        formatLine({ source: this.ctx.serverName, command, params: [...params, text], trailing: true }),
      ]);
    }
  }

  /** Spends a token for a line answered here; false (the line is dropped) when none is left. */
  spendLocal(): boolean {
    return this.#local.take('lines') === 0;
  }

  /** The hub session, once the client has registered. */
  get session(): SessionId | undefined {
    return this.#session;
  }

  /** The client registered: it is a peer of the chat server from now on. */
  attached(session: SessionId): void {
    this.#session = session;
  }

  get closing(): boolean {
    return this.#closing;
  }

  /** Queues lines for the client; a client whose queue is full is let go. */
  write(lines: string[]): void {
    if (lines.length === 0 || this.#closing) return;
    let bytes = 0;
    for (const line of lines) bytes += Buffer.byteLength(line) + 2;
    if (this.#fits(bytes)) this.#stream.send(lines);
  }

  /** Lines already encoded (CRLF-terminated), as `write` sends them. */
  #writeEncoded(frame: Buffer): void {
    if (!this.#closing && this.#fits(frame.length)) this.#stream.sendEncoded(frame);
  }

  /** Whether `bytes` more fit in the queue; when not, the client is let go. */
  #fits(bytes: number): boolean {
    if (this.#stream.queuedBytes + bytes <= this.settings.maxQueuedBytes) return true;
    logLimited(
      'warn',
      this.log,
      'irc:slow reader',
      { maxQueuedBytes: this.settings.maxQueuedBytes },
      'IRC client does not read: let go',
      (this.#stream.socket as { remoteAddress?: string }).remoteAddress ?? '?',
    );
    this.end('send queue exceeded', 'Closing link: send queue exceeded (the client does not read)');
    return false;
  }

  /** A room message's lines for this client's capabilities, rendered once per set of them. */
  #roomMessage(message: ChatMessage): Buffer {
    const variants = this.settings.rendered.variants(message);
    const variant = this.ctx.caps.form;
    let frame = variants[variant];
    if (frame === undefined) {
      frame = Buffer.from(`${messageLines(this.ctx, message).join('\r\n')}\r\n`, 'utf8');
      variants[variant] = frame;
    }
    return frame;
  }

  /**
   * Runs a hub command for this client; a refusal is answered as IRC answers `refused`.
   * True when the hub accepted it.
   */
  run(command: ChatCommand, refused: RefusedCommand): boolean {
    const session = this.#session;
    if (session === undefined) return false;
    const refusal = this.#echoes.send(command, () => this.settings.server.command(session, command));
    if (refusal === undefined) return true;
    this.answer(refused, refusal);
    return false;
  }

  /** Writes the IRC form of a hub refusal. */
  answer(refused: RefusedCommand, refusal: Refusal): void {
    const reply = refusalReply(refused, refusal);
    if ('silent' in reply) return;
    if ('notice' in reply) this.write([this.ctx.fromServer('NOTICE', this.ctx.nick, reply.notice)]);
    else if ('fail' in reply) this.write([this.ctx.fromServer('FAIL', ...reply.fail, reply.text)]);
    else this.write([this.ctx.numeric(reply.numeric, ...reply.params, reply.text)]);
  }

  deliver(event: ChatEvent, echo: boolean): void {
    if (this.#closing) return;
    if (event.type === 'welcome') {
      this.#registration.welcomed(event);
      return;
    }
    if (echo && event.type === 'message' && this.#echoes.own(event.message.text)) {
      // The client's own message coming back: shown only with echo-message, but an offline
      // recipient is worth a word either way.
      const { message } = event;
      if (event.queued && message.to !== undefined) {
        const note = `${message.to} is offline; the message waits for their next log-in`;
        this.write([this.ctx.fromServer('NOTICE', this.ctx.nick, note)]);
      }
      if (!this.ctx.caps.has('echo-message')) return;
    }
    if (!echo && event.type === 'message' && event.message.room !== undefined) {
      // The same for everyone in the room with the same capabilities: see `rendered`.
      this.#writeEncoded(this.#roomMessage(event.message));
      return;
    }
    this.write(renderEvent(this.ctx, event));
  }

  /** Bytes written to the client and not yet sent. */
  queuedBytes(): number {
    return this.#stream.queuedBytes;
  }

  /** The chat server let the session go, at once: the client is not reading. */
  drop(code: ErrorCode, reason: string): void {
    this.#session = undefined;
    this.#closing = true;
    this.#stream.destroy(new SockitError(code, reason));
  }

  /** The chat server let the session go (abuse, shutdown): say why, and close. */
  close(_code: ErrorCode, reason: string): void {
    this.#session = undefined;
    this.end(reason, `Closing link: ${reason}`);
  }

  /**
   * Ends the connection: the hub session goes (its user quits with `quitReason`), the client
   * gets `ERROR :error` after what is queued, and the socket is destroyed if the client has
   * not closed it within the grace.
   */
  end(quitReason: string, error: string): void {
    if (this.#closing) return;
    this.#detach(quitReason);
    this.#stream.send([formatLine({ command: 'ERROR', params: [error], trailing: true })]);
    this.#closing = true;
    const timer = setTimeout(
      () => this.#stream.destroy(new SockitError(ErrorCode.CONNECTION_CLOSED, error)),
      this.settings.lingerMs,
    );
    timer.unref();
    void this.#stream.close().finally(() => clearTimeout(timer));
  }

  #detach(reason: string): void {
    const session = this.#session;
    this.#session = undefined;
    if (session !== undefined) this.settings.server.detach(session, reason);
  }

  /** Called about once a second: PING a silent client, let one go that does not answer. */
  keepalive(now: number): void {
    // Before registration the guard's log-in deadline is what ends a silent client.
    if (this.#closing || !this.#registration.done) return;
    if (this.#pingSent !== undefined) {
      if (now - this.#pingSent >= this.settings.pingTimeoutMs) {
        const seconds = Math.round((now - this.#lastInput) / 1000);
        this.end(`Ping timeout: ${seconds} seconds`, `Closing link: ping timeout (${seconds} s)`);
      }
    } else if (now - this.#lastInput >= this.settings.pingIntervalMs) {
      this.#pingSent = now;
      this.write([formatLine({ command: 'PING', params: [this.ctx.serverName] })]);
    }
  }
}
