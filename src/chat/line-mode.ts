/**
 * Line mode: the chat for a person with `nc` or telnet. The first line is the nick; then each
 * line is a message to the current room (`lobby` at first, then the last one joined), and a
 * line starting with `/` is a command (`/help` lists them). Room messages are shown as the
 * lesson's UDP chat room showed them: `[HH:MM] nick: text`.
 */
import { ErrorCode, isSockitError, SockitError } from '../errors.js';
import type { CheckedLineConnection } from '../runtime/lines.js';
import { DEFAULT_ROOM } from './names.js';
import type { ChatEvent, Refusal } from './protocol.js';
import type { ChatPeer, ChatServer } from './server.js';
import { attachPeer, type SessionConnection } from './session.js';
import { parseLine, SLASH_HELP } from './slash.js';
import { eventLine } from './text-lines.js';

/** Longest line taken, in bytes: a message of 2 KiB and a command around it. */
export const MAX_LINE_BYTES = 4096;

/** Serves one line-mode client: its first line is its nick. */
export async function runLineSession(
  lines: CheckedLineConnection,
  conn: SessionConnection,
  server: ChatServer,
): Promise<void> {
  let room = DEFAULT_ROOM;
  let nick = '';
  let closed = false;
  const say = (text: string): void => {
    for (const line of text.split('\n')) lines.send(line);
  };
  const peer: ChatPeer = {
    deliver(event: ChatEvent, echo: boolean) {
      // The client's own room message needs no echo: it is what the person just typed.
      if (echo && event.type === 'message' && event.message.room !== undefined) return;
      if (event.type === 'welcome') nick = event.nick;
      if (event.type === 'nick' && event.old === nick) nick = event.nick;
      if (event.type === 'joined') room = event.room.name;
      if ((event.type === 'part' || event.type === 'kick') && event.room === room && event.nick === nick)
        room = DEFAULT_ROOM;
      const line = eventLine(event, room);
      if (line !== undefined) say(line);
    },
    close(code, reason) {
      if (closed) return;
      closed = true;
      say(`! ${reason} [${code}]`);
      void lines.close();
    },
    queuedBytes: () => lines.queuedBytes,
    drop(code, reason) {
      if (closed) return;
      closed = true;
      lines.destroy(new SockitError(code, reason));
    },
  };
  const attached = attachPeer(server, peer, conn.closing);
  if (!attached) return;
  const { session, unwatch } = attached;
  const refuse = (r: Refusal): void => say(`! ${r.message} [${r.code}]`);
  let registered = false;
  try {
    for await (const raw of lines) {
      if (closed) break;
      if (typeof raw !== 'string') {
        refuse(
          raw.problem === 'encoding'
            ? { code: ErrorCode.BAD_REQUEST, message: 'that line is not valid UTF-8' }
            : {
                code: ErrorCode.FRAME_TOO_LARGE,
                message: `that line is longer than ${MAX_LINE_BYTES} bytes`,
              },
        );
        continue;
      }
      const line = raw.trim();
      if (line === '') continue;
      if (!registered) {
        const r = server.command(session, { type: 'nick', nick: line });
        if (r) {
          refuse(r);
          say('your nick?');
          continue;
        }
        registered = true;
        conn.authenticate();
        server.command(session, { type: 'join', room: DEFAULT_ROOM });
        continue;
      }
      const parsed = parseLine(line, room);
      if ('quit' in parsed) break;
      if ('help' in parsed) say(SLASH_HELP);
      else if ('error' in parsed) refuse({ code: ErrorCode.USAGE, message: parsed.error });
      else {
        const r = server.command(session, parsed.command);
        if (r) refuse(r);
      }
    }
  } catch (err) {
    // A socket error or the like: say so if the connection still takes it, then close.
    if (isSockitError(err)) say(`! ${err.message} [${err.code}]`);
  } finally {
    unwatch();
    server.detach(session, 'left');
    if (!closed) {
      closed = true;
      await lines.close();
    }
  }
}
