/**
 * `sockit chat join`: the full-duplex terminal client of the QQ lesson. Messages arrive while
 * you type and never break the line you are typing (it is redrawn under them); lines are sent
 * to the current room, `/join /part /msg /me /who /away /topic /quit` (and more, `/help`) are
 * commands; Tab completes nicks. A lost connection is made again with back-off, and each room
 * resumes after the last message seen: nothing missed, nothing shown twice.
 */
import readline from 'node:readline';
import { Command } from 'commander';
import type { ChatClient } from '../chat/client.js';
import type { ChatEvent } from '../chat/protocol.js';
import type { Resume } from '../chat/resume.js';
import { backOff, type ChatClientFlags, chatClientOptions, connectFirst, serverList } from './chat-client.js';
import { ReadMarks } from './chat-marks.js';
import { interruptible } from './interrupt.js';
import { cacheDir } from './user-dirs.js';

interface JoinFlags extends ChatClientFlags {
  room: string;
}

export function joinCommand(): Command {
  return chatClientOptions(new Command('join'))
    .description('chat in a terminal: read and type at once, slash commands, Tab completes nicks')
    .argument(
      '<server>',
      'HOST[:PORT] (default port 7788), or several nodes of one chat: HOST[:PORT],HOST[:PORT]',
    )
    .option('-r, --room <room>', 'room to join first', 'lobby')
    .addHelpText(
      'after',
      '\nType a line to talk; /help lists the commands; /quit or Ctrl-D leaves.\n\nExamples:\n  sockit chat join chat.lan --nick ann\n  sockit chat join --user ann --tls chat.lan --room ops',
    )
    .action(async (server: string, flags: JoinFlags, command: Command) => {
      const [{ ChatClient }, { eventLine }, { parseLine, SLASH_HELP }, resumes] = await Promise.all([
        import('../chat/client.js'),
        import('../chat/text-lines.js'),
        import('../chat/slash.js'),
        import('../chat/resume.js'),
      ]);
      const servers = serverList(server);
      const marks = await new ReadMarks(cacheDir()).load();
      const markOf = (name: string): string => ReadMarks.key(server, flags.user ?? me, name);
      /** Rooms joined again after a lost connection, on the current one: their history is what was missed. */
      const resumed = new Set<string>();
      /** Who is typing in the current room, until when. */
      const typists = new Map<string, number>();
      let typedAt = 0;
      const nicks = new Set<string>();
      /** The rooms joined, each with where it resumes after a lost connection. */
      const joined = new Map<string, Resume>();
      let me = '';
      let room = flags.room.replace(/^#/, '');
      let client: ChatClient | undefined;
      /** /quit, Ctrl-D, or the end of piped input: leave once what was typed is sent. */
      let leaving = false;
      let inputClosed = false;
      /** Lines typed while not connected, sent once connected. */
      const pending: string[] = [];
      const terminal = process.stdout.isTTY === true;
      const rl = readline.createInterface({
        input: process.stdin,
        output: process.stdout,
        terminal: process.stdin.isTTY === true && terminal,
        completer: (line: string) => {
          const word = /\S*$/.exec(line)?.[0] ?? '';
          const hits = [...nicks].filter((n) => n.toLowerCase().startsWith(word.toLowerCase()));
          return [hits.length > 0 ? hits : [...nicks], word];
        },
      });
      const prompt = (keep = false): void => {
        if (inputClosed || !terminal) return;
        const now = Date.now();
        const typing = [...typists].filter(([, until]) => until > now).map(([nick]) => nick);
        const note =
          typing.length === 0
            ? ''
            : ` (${typing.slice(0, 3).join(', ')}${typing.length > 3 ? ', ...' : ''} typing)`;
        rl.setPrompt(`#${room}${note}> `);
        rl.prompt(keep);
      };
      const show = (text: string): void => {
        // Above the line being typed, which is then drawn again as it was.
        if (terminal && !inputClosed) {
          readline.clearLine(process.stdout, 0);
          readline.cursorTo(process.stdout, 0);
        }
        process.stdout.write(`${text}\n`);
        prompt(true);
      };
      const remember = (event: ChatEvent): void => {
        if (event.type === 'joined') {
          room = event.room.name;
          if (!joined.has(room)) joined.set(room, new resumes.Resume());
          for (const m of event.members) nicks.add(m.nick);
        } else if (event.type === 'join') nicks.add(event.member.nick);
        else if (event.type === 'nick') {
          nicks.delete(event.old);
          nicks.add(event.nick);
          if (event.old === me) me = event.nick;
        } else if ((event.type === 'part' || event.type === 'kick') && event.nick === me) {
          const resume = joined.get(event.room);
          if (resume?.newest) marks.set(markOf(event.room), resume.newest);
          joined.delete(event.room);
        }
        // Typing notices show in the prompt: who, in the current room, until they stop or speak.
        let changed = false;
        if (event.type === 'typing' && event.room === room && event.nick !== me) {
          if (event.active) typists.set(event.nick, Date.now() + TYPING_SHOWN_MS);
          else typists.delete(event.nick);
          changed = true;
        } else if (event.type === 'message' && event.message.room === room) {
          changed = typists.delete(event.message.from);
        } else if (event.type === 'joined') {
          changed = typists.size > 0;
          typists.clear();
        }
        if (changed) prompt(true);
      };
      /**
       * A room's history as lines, with a mark where the new begins: all of it after a lost
       * connection (what was missed), or, at the first join, what came after the last message
       * seen in that room the last time (kept in the cache folder).
       */
      const historyText = (
        event: Extract<ChatEvent, { type: 'history' }>,
        name: string,
      ): string | undefined => {
        const firstNew = resumed.has(name)
          ? 0
          : event.messages.findIndex((m) => {
              const seen = marks.get(markOf(name));
              return seen !== undefined && m.id > seen;
            });
        if (firstNew < 0 || event.messages.length === 0) return eventLine(event, room);
        const older = event.messages.slice(0, firstNew);
        const newer = event.messages.slice(firstNew);
        const label = resumed.has(name)
          ? `-- ${newer.length}${event.more ? '+' : ''} new while you were away`
          : `-- unread: ${newer.length}${event.more ? '+' : ''}`;
        return [
          eventLine({ ...event, messages: older }, room),
          label,
          eventLine({ ...event, messages: newer }, room),
        ]
          .filter((part) => part !== undefined)
          .join('\n');
      };
      /**
       * The event as it is to be shown: a room's messages seen already (before a lost
       * connection) left out; undefined when nothing is left of it.
       */
      const unseen = (event: ChatEvent): ChatEvent | undefined => {
        if (event.type === 'message' && event.message.room !== undefined) {
          const resume = joined.get(event.message.room);
          return resume === undefined || resume.take(event.message.id) ? event : undefined;
        }
        if (event.type === 'history' && event.room !== undefined) {
          const resume = joined.get(event.room);
          if (resume === undefined) return event;
          return { ...event, messages: event.messages.filter((m) => resume.take(m.id)) };
        }
        return event;
      };
      /** One typed line: a message or a command; false once it says to leave. */
      const handle = (input: string): boolean => {
        const line = input.trim();
        if (line === '' || !client) return true;
        const parsed = parseLine(line, room);
        if ('quit' in parsed) return false;
        if ('help' in parsed) show(SLASH_HELP);
        else if ('error' in parsed) show(`! ${parsed.error}`);
        else client.send(parsed.command);
        return true;
      };
      let wake: (() => void) | undefined;
      const nudge = (): void => {
        wake?.();
        wake = undefined;
      };
      rl.on('line', (input) => {
        if (leaving) return;
        if (!client) pending.push(input);
        else if (!handle(input)) leaving = true;
        if (leaving) nudge();
        else prompt();
      });
      // A typing notice for the others now and then while a message (not a command) is typed.
      if (terminal && process.stdin.isTTY === true) {
        process.stdin.on('keypress', (text: string | undefined) => {
          const now = Date.now();
          if (!client || leaving || text === undefined || text < ' ' || now - typedAt < TYPING_EVERY_MS)
            return;
          if (`${rl.line}${text}`.trimStart().startsWith('/')) return;
          typedAt = now;
          client.send({ type: 'typing', room, active: true });
        });
      }
      const expiry = setInterval(() => {
        const now = Date.now();
        let changed = false;
        for (const [nick, until] of typists) if (until <= now && typists.delete(nick)) changed = true;
        if (changed) prompt(true);
      }, 1000);
      expiry.unref();
      rl.once('close', () => {
        inputClosed = true;
        leaving = true;
        nudge();
      });
      await interruptible(
        async (signal) => {
          for (let attempt = 0, at = 0; !signal.aborted; attempt++) {
            try {
              ({ client, at } = await connectFirst(ChatClient, servers, at, flags, command, signal));
            } catch (err) {
              if (attempt === 0 || signal.aborted || leaving) throw err;
              show(`-- cannot reconnect (${(err as Error).message}); trying again`);
              await backOff(attempt, signal);
              continue;
            }
            attempt = 0;
            me = client.welcome.nick;
            show(`-- connected to ${client.server} as ${me}`);
            const rooms = joined.size > 0 ? [...joined] : [[room, undefined] as const];
            resumed.clear();
            for (const [name, resume] of rooms) {
              const after = resume?.after();
              if (after) resumed.add(name);
              client.send(after ? { type: 'join', room: name, after } : { type: 'join', room: name });
            }
            // What was typed before the connection, up to a /quit.
            while (pending.length > 0) {
              if (handle(pending.shift() as string)) continue;
              pending.length = 0;
              leaving = true;
            }
            // Leaving: ask the server who we are and wait for the answer, which comes after
            // everything sent before it has been handled and its answers (a scrollback) shown.
            let draining = false;
            const drain = (): void => {
              if (draining || !client) return;
              draining = true;
              client.send({ type: 'whois', nick: me });
            };
            if (leaving) drain();
            else wake = drain;
            let lost = false;
            try {
              for await (const event of client) {
                if (event.type === 'refused') show(`! ${event.message} [${event.code}]`);
                else if (event.type === 'bye') show(`-- ${event.reason} [${event.code}]`);
                else if (draining && event.type === 'whois' && event.user.nick === me) break;
                else {
                  // Your own room message needs no echo: it is the line you typed. A direct
                  // message's echo says it arrived (or waits for an account that is away).
                  const echo = event.type === 'message' && event.echo === true;
                  remember(event);
                  const shown = unseen(event);
                  const text =
                    shown === undefined || (echo && event.message.to === undefined)
                      ? undefined
                      : shown.type === 'history' && shown.room !== undefined
                        ? historyText(shown, shown.room)
                        : eventLine(shown, room, echo);
                  if (shown?.type === 'history' && shown.room !== undefined) resumed.delete(shown.room);
                  if (text !== undefined) show(text);
                }
              }
              lost = !draining;
            } catch (err) {
              lost = true;
              show(`-- connection lost (${(err as Error).message})`);
            }
            await client.close().catch(() => undefined);
            client = undefined;
            if (!lost || leaving) return;
            at++; // that server may be gone: the next in the list first
            show('-- disconnected; reconnecting');
          }
        },
        { atOnce: true },
      ).finally(async () => {
        clearInterval(expiry);
        rl.close();
        for (const [name, resume] of joined) if (resume.newest) marks.set(markOf(name), resume.newest);
        await marks.save().catch(() => undefined); // the marks are a convenience: never an error
      });
    });
}

/** How often a typing notice goes out while typing (the hub takes one per 3 s). */
const TYPING_EVERY_MS = 3000;
/** How long a typing notice shows without another (the hub's notices stand 6 s). */
const TYPING_SHOWN_MS = 6000;
