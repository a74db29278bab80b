/**
 * How the command fails: commander's usage errors in sockit's one-line form, and one line
 * (never a stack trace) for every failure a user can cause. Kept free of heavy imports: the
 * entry point loads it before any command's code.
 */
import { type Command, CommanderError } from 'commander';
import { ErrorCode, isSockitError, type SockitError } from '../errors.js';
import { visible } from '../runtime/text.js';
import { codeOf, exitStatus } from './exit-status.js';
import { writeStdout } from './stdout.js';

/**
 * Makes commander's own errors (an unknown option, a missing argument, a bad flag value)
 * follow sockit's form, `sockit: what happened; what to do [ERR_USAGE]`, one line, on
 * this command and every subcommand, and hands them to `reportFailure` for the exit status
 * instead of exiting inside commander.
 *
 * @example
 * ```ts
 * await withUsageErrors(new Command('sockit').addCommand(echoCommand())).parseAsync();
 * // sockit echo serve --prot 7  ->  sockit: unknown option '--prot' (Did you mean --port?); run 'sockit echo serve --help' for usage [ERR_USAGE]
 * ```
 */
export function withUsageErrors(root: Command): Command {
  const apply = (command: Command): void => {
    command
      .configureOutput({
        outputError: (text, write) => write(usageLine(command, text)),
        writeOut: writeStdout,
      })
      .showHelpAfterError(false)
      .exitOverride();
    for (const sub of command.commands) apply(sub);
  };
  apply(root);
  return root;
}

/** One line from commander's message, which may carry an `error: ` prefix and a second line. */
export function usageLine(command: Command, text: string): string {
  const what = text
    .trim()
    .replace(/^error:\s*/, '')
    .replace(/\s*\n\s*/g, ' ')
    .replace(/\.$/, '');
  return `sockit: ${what}; run '${commandPath(command)} --help' for usage [${ErrorCode.USAGE}]\n`;
}

function commandPath(command: Command): string {
  const names: string[] = [];
  for (let c: Command | null = command; c; c = c.parent) names.unshift(c.name());
  return names.join(' ');
}

/** Hands a failure to someone else (a cluster worker's primary); true when it was taken. */
type FailureForwarder = (err: SockitError) => boolean;
let forwarder: FailureForwarder | undefined;

/**
 * Sends `SockitError`s through `forward` first: a cluster worker reports its failure to the
 * primary, which prints it once. Installed by the code that starts workers, so that this
 * module does not load the process-model code for commands that never fork.
 */
export function forwardFailures(forward: FailureForwarder): void {
  forwarder = forward;
}

/**
 * Prints a failure as one line and sets the exit status of its kind (see `exit-status.ts`).
 * A `SockitError` (or a system error, such as a refused connection) is the user's to fix and
 * gets no stack trace; anything else is a bug and keeps its stack.
 */
export function reportFailure(err: unknown): void {
  process.exitCode = exitStatus(err);
  // Already printed by commander (help, the version, or a usage line from withUsageErrors).
  if (err instanceof CommanderError) return;
  if (isSockitError(err) && forwarder?.(err)) return;
  process.stderr.write(failureLine(err));
}

/**
 * The line that reports `err`: `sockit: what happened; what to do [ERR_CODE]`, the code of a
 * system error being the one its errno means. A bug gets `sockit: internal error:` and its stack.
 *
 * @example
 * ```ts
 * failureLine(new SockitError(ErrorCode.NOT_FOUND, '"a.txt" does not exist'));
 * // 'sockit: "a.txt" does not exist [ERR_NOT_FOUND]\n'
 * ```
 */
export function failureLine(err: unknown): string {
  const code = codeOf(err);
  if (code === undefined) return `sockit: internal error: ${(err as Error)?.stack ?? String(err)}\n`;
  // Some system messages (OpenSSL's) end in a line break: the report stays one line. A
  // message may carry a peer's words (a server's refusal): its control characters are
  // written out, never sent to the terminal, and it is cut at 1,000 characters.
  const message = visible((err as Error).message.replace(/\s*\n\s*/g, ' ').trim(), 1000);
  return `sockit: ${message} [${code}]\n`;
}
