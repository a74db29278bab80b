/**
 * Socket states as /proc/net reports them: the kernel's TCP state numbers
 * (include/net/tcp_states.h, the states of RFC 9293 §3.3.2), named as netstat names them.
 *
 * UDP has no states; the kernel reuses two of the numbers for it, and we name those as
 * `ss` does: ESTABLISHED for a connected UDP socket, UNCONN for an unconnected one.
 */
import { ErrorCode, SockitError } from '../errors.js';

export type Protocol = 'tcp' | 'udp';

export const TCP_STATES = [
  'ESTABLISHED',
  'SYN_SENT',
  'SYN_RECV',
  'FIN_WAIT1',
  'FIN_WAIT2',
  'TIME_WAIT',
  'CLOSE',
  'CLOSE_WAIT',
  'LAST_ACK',
  'LISTEN',
  'CLOSING',
  'NEW_SYN_RECV',
] as const;

export type TcpState = (typeof TCP_STATES)[number];
export type SocketState = TcpState | 'UNCONN' | 'UNKNOWN';

/** The kernel's number for TCP_CLOSE, which for UDP means "not connected". */
const TCP_CLOSE = 7;

/** `ss` spells the states differently; these are its names, for matching its output. */
const SS_NAMES: Record<SocketState, string> = {
  ESTABLISHED: 'ESTAB',
  SYN_SENT: 'SYN-SENT',
  SYN_RECV: 'SYN-RECV',
  FIN_WAIT1: 'FIN-WAIT-1',
  FIN_WAIT2: 'FIN-WAIT-2',
  TIME_WAIT: 'TIME-WAIT',
  CLOSE: 'UNCONN',
  CLOSE_WAIT: 'CLOSE-WAIT',
  LAST_ACK: 'LAST-ACK',
  LISTEN: 'LISTEN',
  CLOSING: 'CLOSING',
  NEW_SYN_RECV: 'NEW-SYN-RECV',
  UNCONN: 'UNCONN',
  UNKNOWN: 'UNKNOWN',
};

/**
 * The state named by the `st` column of /proc/net/{tcp,udp}: a hex number from 01 to 0C.
 *
 * @example
 * ```ts
 * socketState('tcp', 0x0a); // 'LISTEN'
 * socketState('udp', 0x07); // 'UNCONN'
 * ```
 */
export function socketState(protocol: Protocol, code: number): SocketState {
  if (protocol === 'udp') {
    if (code === TCP_CLOSE) return 'UNCONN';
    if (code === 1) return 'ESTABLISHED';
    return 'UNKNOWN';
  }
  return TCP_STATES[code - 1] ?? 'UNKNOWN';
}

/**
 * The state as `ss` prints it. TCP's CLOSE (bound, neither listening nor connected) and
 * UDP's UNCONN are both UNCONN to `ss`, so comparing these names treats them as one.
 *
 * @example
 * ```ts
 * ssStateName('FIN_WAIT2'); // 'FIN-WAIT-2'
 * ```
 */
export function ssStateName(state: SocketState): string {
  return SS_NAMES[state];
}

/**
 * Reads a state name as a user types it: netstat's `TIME_WAIT`, ss's `time-wait` or
 * `ESTAB`, in any case. Throws `ERR_INVALID_ARGUMENT` for anything else.
 *
 * @example
 * ```ts
 * parseSocketState('estab'); // 'ESTABLISHED'
 * parseSocketState('fin-wait-1'); // 'FIN_WAIT1'
 * ```
 */
export function parseSocketState(text: string): SocketState {
  const wanted = squash(text);
  const all = Object.keys(SS_NAMES) as SocketState[];
  const found =
    all.find((state) => squash(state) === wanted) ?? all.find((state) => squash(SS_NAMES[state]) === wanted);
  if (found === undefined || found === 'UNKNOWN') {
    throw new SockitError(
      ErrorCode.INVALID_ARGUMENT,
      `unknown socket state "${text}"; expected one of ${all.filter((s) => s !== 'UNKNOWN').join(', ')}`,
    );
  }
  return found;
}

function squash(name: string): string {
  return name.toUpperCase().replace(/[-_\s]/g, '');
}
