/**
 * Ctrl-C (SIGINT) and SIGTERM in the client commands: the command ends with one line,
 * `sockit: interrupted by Ctrl-C (SIGINT) [ERR_ABORTED]`, and status 130, never with a stack or in
 * silence. (Servers stop gracefully instead: see `runtime/launch.ts`.)
 */
import { ErrorCode, SockitError } from '../errors.js';
import { ExitStatus } from './exit-status.js';
import { failureLine } from './failure.js';

export interface InterruptOptions {
  /**
   * The work holds nothing to clean up (a socket, a pipe): the first signal ends the process
   * at once. Otherwise the work gets the signal's abort and may finish (remove a part file)
   * before the command ends; a second signal does not wait for it.
   */
  atOnce?: boolean;
}

/** The error of a command interrupted by `signal` (a Ctrl-C typed in raw mode counts as SIGINT). */
export function interrupted(signal: NodeJS.Signals): SockitError {
  return new SockitError(
    ErrorCode.ABORTED,
    `interrupted by ${signal === 'SIGINT' ? 'Ctrl-C (SIGINT)' : signal}`,
  );
}

/**
 * Runs a client command's `work`, which is handed an AbortSignal fired by the first SIGINT or
 * SIGTERM. Once interrupted, whatever the work fails with (an aborted transfer, a socket
 * destroyed under it) is reported as the interruption: `ERR_ABORTED`, status 130.
 *
 * @example
 * ```ts
 * await interruptible((signal) => tftpGet({ ...options, signal }, remote, output));
 * await interruptible(() => ncConnect(options), { atOnce: true });
 * ```
 */
export async function interruptible<T>(
  work: (signal: AbortSignal) => Promise<T>,
  options: InterruptOptions = {},
): Promise<T> {
  const controller = new AbortController();
  const onSignal = (signal: NodeJS.Signals): void => {
    if (options.atOnce || controller.signal.aborted) exitInterrupted(interrupted(signal));
    controller.abort(interrupted(signal));
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    return await work(controller.signal);
  } catch (err) {
    if (controller.signal.aborted) throw controller.signal.reason;
    throw err;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

/** Reports the interruption and ends the process now (stderr is synchronous on pipes and terminals). */
function exitInterrupted(err: SockitError): never {
  process.stderr.write(failureLine(err));
  process.exit(ExitStatus.INTERRUPTED);
}
