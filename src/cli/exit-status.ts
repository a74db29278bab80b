/**
 * The exit status of `sockit` for each kind of failure: one table from `ErrorCode` (and from
 * the system's errno codes, through the `ErrorCode` each means) to a status, documented in
 * docs/cli.md. Scripts branch on the status; the code in the line says more.
 */
import { CommanderError } from 'commander';
import { ErrorCode, isSockitError } from '../errors.js';
import { codeOfTftpError, TftpError } from '../tftp/errors.js';

/** The statuses, each one kind of failure. 3 to 7 mean nothing to shells (126 and up do). */
export const ExitStatus = {
  /** Success; also `--help` and `--version`. */
  OK: 0,
  /** A failure of no kind below; also the "no" of a question (`ip` compare, `nc -z`). */
  FAILURE: 1,
  /** The command line could not be parsed, or one of its values was refused. */
  USAGE: 2,
  /** A local or remote file, folder or user does not exist. */
  NOT_FOUND: 3,
  /** A log-in was refused, or a permission (a file's mode, a grant) is missing. */
  AUTH: 4,
  /** The peer could not be reached, stopped answering, or the connection was lost. */
  NETWORK: 5,
  /** The server or peer understood and said no: quota, already exists, too many connections. */
  REFUSED: 6,
  /** The peer does not speak the protocol expected: a wrong port, TLS on one side only. */
  PROTOCOL: 7,
  /** A bug in sockit (as BSD sysexits' EX_SOFTWARE). */
  INTERNAL: 70,
  /** Stopped by Ctrl-C (SIGINT) or SIGTERM: 128 + SIGINT, as shells report it. */
  INTERRUPTED: 130,
  /** The reader of stdout went away (`sockit ports | head -1`): 128 + SIGPIPE, as a C tool's. */
  BROKEN_PIPE: 141,
} as const;

export type ExitStatus = (typeof ExitStatus)[keyof typeof ExitStatus];

const { FAILURE, USAGE, NOT_FOUND, AUTH, NETWORK, REFUSED, PROTOCOL, INTERNAL, INTERRUPTED } = ExitStatus;

/** Every code's status; the type makes a new code without one a compile error. */
export const STATUS_OF_CODE: Readonly<Record<ErrorCode, ExitStatus>> = {
  [ErrorCode.FRAME_TOO_LARGE]: PROTOCOL,
  [ErrorCode.HEADER_TOO_LARGE]: PROTOCOL,
  [ErrorCode.BAD_ENVELOPE]: PROTOCOL,
  [ErrorCode.TRUNCATED_FRAME]: PROTOCOL,
  [ErrorCode.INVALID_ARGUMENT]: USAGE,
  [ErrorCode.BIND_DENIED]: AUTH,
  [ErrorCode.ADDRESS_IN_USE]: FAILURE,
  [ErrorCode.ADDRESS_UNAVAILABLE]: FAILURE,
  [ErrorCode.CONNECT_FAILED]: NETWORK,
  [ErrorCode.CONNECTION_CLOSED]: NETWORK,
  [ErrorCode.BAD_REPLY]: PROTOCOL,
  [ErrorCode.IDLE_TIMEOUT]: NETWORK,
  [ErrorCode.NO_ACK]: NETWORK,
  [ErrorCode.TOO_MANY_CONNECTIONS]: REFUSED,
  [ErrorCode.TFTP_TIMEOUT]: NETWORK,
  // Refined by the TFTP error code when there is one: see exitStatus.
  [ErrorCode.TFTP_REMOTE]: REFUSED,
  [ErrorCode.TFTP_PROTOCOL]: PROTOCOL,
  [ErrorCode.UNSUPPORTED_PLATFORM]: FAILURE,
  [ErrorCode.AUTH_FAILED]: AUTH,
  [ErrorCode.AUTH_PROTOCOL]: AUTH,
  [ErrorCode.BAD_USER_NAME]: USAGE,
  [ErrorCode.USER_EXISTS]: REFUSED,
  [ErrorCode.USER_NOT_FOUND]: NOT_FOUND,
  [ErrorCode.NO_PASSWORD]: AUTH,
  [ErrorCode.DATABASE]: FAILURE,
  [ErrorCode.PATH_DENIED]: AUTH,
  [ErrorCode.NOT_FOUND]: NOT_FOUND,
  [ErrorCode.EXISTS]: REFUSED,
  [ErrorCode.FILE_TOO_LARGE]: REFUSED,
  [ErrorCode.QUOTA_EXCEEDED]: REFUSED,
  [ErrorCode.INTEGRITY]: PROTOCOL,
  [ErrorCode.FORBIDDEN]: AUTH,
  [ErrorCode.MULTICAST]: FAILURE,
  [ErrorCode.BAD_REQUEST]: REFUSED,
  [ErrorCode.ABORTED]: INTERRUPTED,
  [ErrorCode.MUX_PROTOCOL]: PROTOCOL,
  [ErrorCode.CHANNEL_RESET]: REFUSED,
  [ErrorCode.IO]: FAILURE,
  [ErrorCode.INTERNAL]: INTERNAL,
  [ErrorCode.THROTTLED]: REFUSED,
  [ErrorCode.BUSY]: REFUSED,
  [ErrorCode.BAD_SECRET]: AUTH,
  [ErrorCode.READ_TIMEOUT]: NETWORK,
  [ErrorCode.SLOW_READER]: NETWORK,
  [ErrorCode.ROOT_CLOSED]: FAILURE,
  [ErrorCode.TOO_DEEP]: REFUSED,
  [ErrorCode.USAGE]: USAGE,
  [ErrorCode.TLS_HANDSHAKE]: PROTOCOL,
  [ErrorCode.TLS_CERTIFICATE]: AUTH,
  [ErrorCode.UNSUPPORTED]: PROTOCOL,
  // The chat's refusals.
  [ErrorCode.BAD_NICK]: USAGE,
  [ErrorCode.BAD_ROOM]: USAGE,
  [ErrorCode.TEXT_TOO_LONG]: USAGE,
  [ErrorCode.NO_SUCH_ROOM]: NOT_FOUND,
  [ErrorCode.NO_SUCH_NICK]: NOT_FOUND,
  [ErrorCode.BANNED]: AUTH,
  [ErrorCode.NOT_OPERATOR]: AUTH,
  [ErrorCode.NICK_IN_USE]: REFUSED,
  [ErrorCode.NOT_IN_ROOM]: REFUSED,
  [ErrorCode.TOO_MANY_ROOMS]: REFUSED,
  [ErrorCode.NOT_REGISTERED]: PROTOCOL,
};

/** What the system's errno codes mean, as sockit codes; any other errno is `ERR_IO`. */
const CODE_OF_ERRNO: Readonly<Record<string, ErrorCode>> = {
  ENOENT: ErrorCode.NOT_FOUND,
  ENOTDIR: ErrorCode.NOT_FOUND,
  EACCES: ErrorCode.PATH_DENIED,
  EPERM: ErrorCode.PATH_DENIED,
  EROFS: ErrorCode.PATH_DENIED,
  EEXIST: ErrorCode.EXISTS,
  ENOTEMPTY: ErrorCode.EXISTS,
  EISDIR: ErrorCode.INVALID_ARGUMENT,
  ECONNREFUSED: ErrorCode.CONNECT_FAILED,
  EHOSTUNREACH: ErrorCode.CONNECT_FAILED,
  EHOSTDOWN: ErrorCode.CONNECT_FAILED,
  ENETUNREACH: ErrorCode.CONNECT_FAILED,
  ENETDOWN: ErrorCode.CONNECT_FAILED,
  ETIMEDOUT: ErrorCode.CONNECT_FAILED,
  ENOTFOUND: ErrorCode.CONNECT_FAILED,
  EAI_AGAIN: ErrorCode.CONNECT_FAILED,
  ECONNRESET: ErrorCode.CONNECTION_CLOSED,
  ECONNABORTED: ErrorCode.CONNECTION_CLOSED,
  EPIPE: ErrorCode.CONNECTION_CLOSED,
  EADDRINUSE: ErrorCode.ADDRESS_IN_USE,
  EADDRNOTAVAIL: ErrorCode.ADDRESS_UNAVAILABLE,
};

/** True for an error the system raised (it has an errno code and a system call). */
export function isSystemError(err: unknown): err is NodeJS.ErrnoException & { code: string } {
  const sys = err as NodeJS.ErrnoException | undefined;
  return typeof sys?.code === 'string' && typeof sys.syscall === 'string';
}

/**
 * The sockit code of a failure: its own, or the one its errno means; undefined for anything
 * else, which is a bug.
 *
 * @example
 * ```ts
 * codeOf(Object.assign(new Error('x'), { code: 'ENOENT', syscall: 'open' })); // 'ERR_NOT_FOUND'
 * ```
 */
export function codeOf(err: unknown): ErrorCode | undefined {
  if (isSockitError(err)) return err.code;
  if (isSystemError(err)) return CODE_OF_ERRNO[err.code] ?? ErrorCode.IO;
  return undefined;
}

/**
 * The exit status for `err`: commander's own (0 for help and the version, else usage), the
 * table's for a sockit or system error, `INTERNAL` for anything else. A TFTP ERROR packet
 * counts as the refusal its TFTP code means (1 file not found, 2 access violation, ...).
 *
 * @example
 * ```ts
 * exitStatus(new SockitError(ErrorCode.QUOTA_EXCEEDED, 'quota')); // 6
 * ```
 */
export function exitStatus(err: unknown): ExitStatus {
  if (err instanceof CommanderError) return err.exitCode === 0 ? ExitStatus.OK : USAGE;
  if (err instanceof TftpError && err.code === ErrorCode.TFTP_REMOTE && err.tftpCode !== undefined) {
    const meant = codeOfTftpError(err.tftpCode);
    return STATUS_OF_CODE[meant === ErrorCode.TFTP_PROTOCOL ? err.code : meant];
  }
  const code = codeOf(err);
  return code === undefined ? INTERNAL : STATUS_OF_CODE[code];
}
