/**
 * `sockit/nc`: netcat as a library: pipe streams through a TCP or UDP socket.
 *
 * @example
 * ```ts
 * import { ncConnect } from 'sockit/nc';
 * await ncConnect({ host: '127.0.0.1', port: 7007, input: process.stdin, output: process.stdout });
 * ```
 */
export {
  type NcConnectOptions,
  type NcListenOptions,
  type NcOptions,
  type NcResult,
  ncCheck,
  ncConnect,
  ncListen,
} from './nc.js';
