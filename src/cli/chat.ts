/** `sockit chat`: the chat server and its clients. */
import { Command } from 'commander';
import { sendCommand, tailCommand } from './chat-client.js';
import { joinCommand } from './chat-join.js';
import { chatServeCommand } from './chat-serve.js';

export function chatCommand(): Command {
  return new Command('chat')
    .description('chat rooms and direct messages: a server, a terminal client, send and tail for scripts')
    .addCommand(chatServeCommand())
    .addCommand(joinCommand())
    .addCommand(sendCommand())
    .addCommand(tailCommand())
    .addHelpText(
      'after',
      `
Examples:
  sockit chat serve                        the server on port 7788 (TCP and UDP)
  sockit chat join localhost --nick ann    talk in a terminal
  nc localhost 7788                        talk with nc: type a nick first
  sockit chat send localhost lobby hi      one message, for scripts
  sockit chat tail localhost lobby --json  follow a room`,
    );
}
