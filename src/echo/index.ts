/**
 * `sockit/echo`: the RFC 862 echo service and a load generator for any echo server.
 *
 * @example
 * ```ts
 * import { serveEcho, benchEcho } from 'sockit/echo';
 * const [tcp] = await serveEcho({ tcp: true, host: '127.0.0.1', port: 0 });
 * const result = await benchEcho({ host: '127.0.0.1', port: tcp.address.port, durationMs: 2000 });
 * ```
 */
export { benchEcho, type EchoBenchOptions, type EchoBenchResult } from './bench.js';
export {
  type DatagramEchoOptions,
  datagramEchoHandler,
  ECHO_PORT,
  ECHO_SERVE_PORT,
  type EchoServerOptions,
  echoHandler,
  framedEchoHandler,
  serveEcho,
} from './server.js';
