/** `sockit serve`: every sockit service at once, on unprivileged default ports. */
import { Command } from 'commander';
import { ECHO_SERVE_PORT, serveEcho } from '../echo/server.js';
import { launch } from '../runtime/launch.js';
import { parsePort } from './args.js';
import { loggerFor } from './context.js';

interface ServeAllFlags {
  host?: string;
  echoPort: number;
}

export function serveCommand(): Command {
  return new Command('serve')
    .description('run every sockit service with embedded defaults, one start-up line per service')
    .option('-H, --host <address>', 'bind address for every service (default: all)')
    .option('--echo-port <port>', 'echo service, TCP and UDP', parsePort, ECHO_SERVE_PORT)
    .addHelpText(
      'after',
      `
Services and their default ports:
  echo   ${ECHO_SERVE_PORT}/tcp and ${ECHO_SERVE_PORT}/udp (RFC 862)

Stops gracefully on SIGINT/SIGTERM.`,
    )
    .action(async (flags: ServeAllFlags, command: Command) => {
      const log = loggerFor(command);
      const launched = await launch({ model: 'event-loop', log }, async (model) => [
        ...(await serveEcho({ host: flags.host, port: flags.echoPort, model, log })),
      ]);
      await launched.stopped;
    });
}
