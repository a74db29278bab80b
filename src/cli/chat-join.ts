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
import { backOff, type ChatClientFlags, chatClientOptions, connectOptions } from './chat-client.js';
import { interruptible } from './interrupt.js';

interface JoinFlags extends ChatClientFlags {
  room: string;
}

export function joinCommand(): Command {
  return chatClientOptions(new Command('join'))
    .description('chat in a terminal: read and type at once, slash commands, Tab completes nicks')
    .argument('<server>', 'HOST[:PORT] (default port 7788)')
    .option('-r, --room <room>', 'room to join first', 'lobby')
    .addHelpText(
      'after',
      '\nType a line to talk; /help lists the commands; /quit or Ctrl-D leaves.\n\nExamples:\n  sockit chat join chat.lan --nick ann\n  sockit chat join --user ann --tls chat.lan --room ops',
    )
    .action(async (server: string, flags: JoinFlags, command: Command) => {
      const [{ ChatClient }, { eventLine }, { parseLine }] = await Promise.all([
        import('../chat/client.js'),
        import('../chat/text-lines.js'),
        import('../chat/line-mode.js'),
      ]);
      const nicks = new Set<string>();
      const last = new Map<string, string>();
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
        rl.setPrompt(`#${room}> `);
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
          for (const m of event.members) nicks.add(m.nick);
        } else if (event.type === 'join') nicks.add(event.member.nick);
        else if (event.type === 'nick') {
          nicks.delete(event.old);
          nicks.add(event.nick);
        } else if (event.type === 'message' && event.message.room !== undefined) {
          last.set(event.message.room, event.message.id);
        } else if (event.type === 'history' && event.room !== undefined && event.messages.length > 0) {
          last.set(event.room, event.messages.at(-1)?.id as string);
        }
      };
      /** One typed line: a message or a command; false once it says to leave. */
      const handle = (input: string): boolean => {
        const line = input.trim();
        if (line === '' || !client) return true;
        const parsed = parseLine(line, room);
        if ('quit' in parsed) return false;
        if ('help' in parsed) show(HELP);
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
      rl.once('close', () => {
        inputClosed = true;
        leaving = true;
        nudge();
      });
      await interruptible(
        async (signal) => {
          for (let attempt = 0; !signal.aborted; attempt++) {
            try {
              client = await ChatClient.connect(await connectOptions(server, flags, command, signal));
            } catch (err) {
              if (attempt === 0 || signal.aborted || leaving) throw err;
              show(`-- cannot reconnect (${(err as Error).message}); trying again`);
              await backOff(attempt, signal);
              continue;
            }
            attempt = 0;
            const me = client.welcome.nick;
            show(`-- connected to ${client.server} as ${me}`);
            const rooms = last.size > 0 ? [...last] : [[room, undefined] as const];
            for (const [name, after] of rooms) {
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
                  const text =
                    echo && event.message.to === undefined ? undefined : eventLine(event, room, echo);
                  remember(event);
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
            show('-- disconnected; reconnecting');
          }
        },
        { atOnce: true },
      ).finally(() => rl.close());
    });
}

const HELP =
  '/join ROOM  /part [ROOM]  /msg NICK TEXT  /me TEXT  /who [ROOM]  /rooms  /nick NICK  /topic TEXT  /away [TEXT]  /whois NICK  /quit';
