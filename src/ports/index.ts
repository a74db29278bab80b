/**
 * `sockit/ports`: the Linux socket table from /proc/net, with owning processes, port
 * ranges (RFC 6335) and common service names.
 *
 * @example
 * ```ts
 * import { filterPorts, listPorts } from 'sockit/ports';
 * const listening = filterPorts(await listPorts(), { listening: true, tcp: true });
 * ```
 */

export {
  LAST_REGISTERED_PORT,
  LAST_WELL_KNOWN_PORT,
  type PortRange,
  portRange,
  serviceName,
  servicePort,
} from './labels.js';
export {
  filterPorts,
  isListening,
  type LabelledEndpoint,
  type ListPortsOptions,
  listPorts,
  type PortEntry,
  type PortFilter,
} from './list.js';
export { type ProcessInfo, socketOwners } from './owners.js';
export { inPortSpan, type PortSpan, parsePortSpec } from './port-spec.js';
export { decodeAddress, type Endianness, type Endpoint, parseProcNet, type SocketEntry } from './proc-net.js';
export {
  type Protocol,
  parseSocketState,
  type SocketState,
  socketState,
  ssStateName,
  TCP_STATES,
  type TcpState,
} from './states.js';
export { formatPortTable, hostPort } from './text.js';
