/**
 * `sockit/runtime`: the I/O every sockit service shares: the server guard, the TCP service
 * host, message connections, paths confined to a root, UDP helpers, concurrency models with
 * graceful shutdown, and logging.
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
export { Channel, type ChannelLimits, type PreLoginLimits } from './channel.js';
export {
  type ConfinedEntry,
  ConfinedRoot,
  type ConfineOptions,
  isSafeName,
  type Relative,
} from './confine.js';
export {
  EnvelopeConnection,
  type EnvelopeConnectionOptions,
  type MessageConnection,
  type QueueLimits,
  StreamConnection,
  type StreamConnectionOptions,
  type StreamFraming,
} from './conn.js';
export {
  type ConnectionCloseEvent,
  type ConnectionOpenEvent,
  type DatagramDropEvent,
  type DatagramEvent,
  type Direction,
  type DropReason,
  type ErrorEvent,
  EventChannel,
  events,
  type LoginEvent,
  type TransferEndEvent,
  type TransferStartEvent,
  trackConnection,
} from './events.js';
export {
  foldAddress,
  type GuardedConnection,
  type GuardOptions,
  guardServer,
  type MaxStartups,
  type ServerGuard,
} from './guard.js';
export { broadcastAddress, broadcastTargets, type InterfaceAddress, listInterfaces } from './interfaces.js';
export { type Launched, type LaunchOptions, launch, SERVER_MODELS, type ServerModel } from './launch.js';
export {
  DEFAULT_MAX_LINE_LENGTH,
  LineConnection,
  type LineConnectionOptions,
  LineDecoder,
} from './lines.js';
export {
  createLogger,
  LOG_LEVELS,
  type Logger,
  type LoggerOptions,
  type LogLevel,
  silentLogger,
} from './log.js';
export { DEFAULT_DURATION_BUCKETS, Metrics, type MetricsOptions, type MetricsText } from './metrics.js';
export {
  isMulticastAddress,
  joinMulticast,
  leaveMulticast,
  type MulticastOptions,
  multicastInterface,
} from './multicast.js';
export { type AddressGroupOptions, addressGroup } from './netgroup.js';
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
export { REFLECTING_PORTS, UdpGuard, type UdpGuardOptions } from './udp-guard.js';
