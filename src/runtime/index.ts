/**
 * `sockit/runtime`: the I/O every sockit service shares: the TCP service host, UDP helpers,
 * paths confined to a root,
 * concurrency models with graceful shutdown, and logging.
 *
 * @example
 * ```ts
 * import { launch, serveTcp, createLogger } from 'sockit/runtime';
 * const log = createLogger();
 * await launch({ model: 'event-loop', log }, async (model) => [
 *   await serveTcp({ name: 'hello', port: 9000, model, log, handler: ({ socket }) => socket.end('hi\n') }),
 * ]);
 * ```
 */
export { AnswerPoll, DEFAULT_POLL_US, pollFor } from './busy-poll.js';
export { Channel, type ChannelLimits } from './channel.js';
export {
  type ConfinedEntry,
  ConfinedRoot,
  type ConfineOptions,
  isSafeName,
  type Relative,
} from './confine.js';
export { type Launched, type LaunchOptions, launch, SERVER_MODELS, type ServerModel } from './launch.js';
export {
  createLogger,
  LOG_LEVELS,
  type Logger,
  type LoggerOptions,
  type LogLevel,
  silentLogger,
} from './log.js';
export type { Service, ServiceAddress } from './service.js';
export {
  type Connection,
  type ConnectionHandler,
  type ProcessModel,
  serveTcp,
  type TcpService,
  type TcpServiceOptions,
} from './tcp.js';
export {
  bindUdp,
  broadcastUdp,
  sendUdp,
  serveUdp,
  type UdpBindOptions,
  type UdpService,
  type UdpServiceOptions,
} from './udp.js';
