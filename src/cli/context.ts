/** What the commands that log share: the logger chosen by the global flags. */
import type { Command } from 'commander';
import { reportWorkerFailure } from '../runtime/launch.js';
import { createLogger, type Logger, type LogLevel, type LogTail } from '../runtime/log.js';
import { forwardFailures } from './failure.js';

// Every command that can start cluster workers logs, so it loads this module: a worker's
// failure then goes to its primary, which prints it once.
forwardFailures(reportWorkerFailure);

export interface GlobalOptions {
  logLevel: LogLevel;
  logFormat: 'auto' | 'pretty' | 'json';
}

/** The logger the global flags ask for; `tail` also keeps its last lines (a dashboard's). */
export function loggerFor(command: Command, fallbackLevel: LogLevel = 'info', tail?: LogTail): Logger {
  const opts = command.optsWithGlobals<Partial<GlobalOptions>>();
  const format = opts.logFormat ?? 'auto';
  return createLogger({
    level: opts.logLevel ?? fallbackLevel,
    pretty: format === 'auto' ? undefined : format === 'pretty',
    ...(tail === undefined ? {} : { tail }),
  });
}
