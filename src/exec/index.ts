/**
 * `sockit/exec`: remote commands for accounts with the `exec` grant (see docs/exec.md).
 *
 * @example
 * ```ts
 * import { ExecClient } from 'sockit/exec';
 * const exec = await ExecClient.connect({ host: 'build.lan', user: 'ann', password });
 * const { exit, stdout } = await exec.run(['uname', '-a']);
 * exec.close();
 * ```
 */
export {
  ExecClient,
  type ExecCommand,
  type ExecConnectOptions,
  type ExecOptions,
  type RemoteProcess,
  type RunResult,
} from './client.js';
export { EXEC_PORT } from './port.js';
export { EXEC_SIGNALS, type ExecResult, type ExecSignal } from './protocol.js';
export { type ExecServerOptions, type ExecService, resolveAllowlist, serveExec } from './server.js';
