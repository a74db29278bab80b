/**
 * Every error sockit raises on purpose is a `SockitError` with a stable `code`.
 * Tests and callers match on the code, never on the message; the CLI prints the
 * message as one line and exits non-zero.
 */

/** The stable codes, one per kind of failure. */
export const ErrorCode = {
  /** A length prefix announced a frame above the decoder's limit. */
  FRAME_TOO_LARGE: 'ERR_FRAME_TOO_LARGE',
  /** An envelope's JSON header is longer than its limit. */
  HEADER_TOO_LARGE: 'ERR_HEADER_TOO_LARGE',
  /** A frame does not hold a well-formed envelope. */
  BAD_ENVELOPE: 'ERR_BAD_ENVELOPE',
  /** A stream ended in the middle of a frame. */
  TRUNCATED_FRAME: 'ERR_TRUNCATED_FRAME',
  /** A command-line or API argument is out of range or malformed. */
  INVALID_ARGUMENT: 'ERR_INVALID_ARGUMENT',
  /** The system refused to bind a privileged port. */
  BIND_DENIED: 'ERR_BIND_DENIED',
  /** Another socket already holds the address. */
  ADDRESS_IN_USE: 'ERR_ADDRESS_IN_USE',
  /** The address does not belong to this machine or does not resolve. */
  ADDRESS_UNAVAILABLE: 'ERR_ADDRESS_UNAVAILABLE',
  /** A connection could not be made. */
  CONNECT_FAILED: 'ERR_CONNECT_FAILED',
  /** The peer closed the connection in the middle of an exchange. */
  CONNECTION_CLOSED: 'ERR_CONNECTION_CLOSED',
  /** The peer answered with bytes its protocol does not allow. */
  BAD_REPLY: 'ERR_BAD_REPLY',
  /** The peer sent nothing for longer than the idle limit. */
  IDLE_TIMEOUT: 'ERR_IDLE_TIMEOUT',
  /** The server is at its connection limit. */
  TOO_MANY_CONNECTIONS: 'ERR_TOO_MANY_CONNECTIONS',
  /** A TFTP peer stopped answering within the retry limit. */
  TFTP_TIMEOUT: 'ERR_TFTP_TIMEOUT',
  /** A TFTP peer sent an ERROR packet; `tftpCode` says which. */
  TFTP_REMOTE: 'ERR_TFTP_REMOTE',
  /** A TFTP peer broke the protocol (malformed packet, bad options). */
  TFTP_PROTOCOL: 'ERR_TFTP_PROTOCOL',
  /** A feature needs an operating system facility this one lacks. */
  UNSUPPORTED_PLATFORM: 'ERR_UNSUPPORTED_PLATFORM',
  /** Log-in refused; the message never says whether the user exists. */
  AUTH_FAILED: 'ERR_AUTH_FAILED',
  /** An authentication exchange broke its protocol (bad message, wrong order, bad proof from a server). */
  AUTH_PROTOCOL: 'ERR_AUTH_PROTOCOL',
  /** A user name is not acceptable (length or characters). */
  BAD_USER_NAME: 'ERR_BAD_USER_NAME',
  /** A user of that name already exists. */
  USER_EXISTS: 'ERR_USER_EXISTS',
  /** No user of that name (administrative commands only; log-ins never say so). */
  USER_NOT_FOUND: 'ERR_USER_NOT_FOUND',
  /** No password was given and none can be asked for. */
  NO_PASSWORD: 'ERR_NO_PASSWORD',
  /** The database is unreachable or refused a statement. */
  DATABASE: 'ERR_DATABASE',
  /** A path leaves its root, or names something that may not be touched. */
  PATH_DENIED: 'ERR_PATH_DENIED',
  /** The file or folder does not exist. */
  NOT_FOUND: 'ERR_NOT_FOUND',
  /** The file or folder already exists. */
  EXISTS: 'ERR_EXISTS',
  /** A file is larger than the server accepts. */
  FILE_TOO_LARGE: 'ERR_FILE_TOO_LARGE',
  /** The user's quota would be exceeded. */
  QUOTA_EXCEEDED: 'ERR_QUOTA_EXCEEDED',
  /** Received bytes do not match their SHA-256. */
  INTEGRITY: 'ERR_INTEGRITY',
  /** The server refused a request it understood (not allowed here, e.g. registration off). */
  FORBIDDEN: 'ERR_FORBIDDEN',
  /** The kernel refused to join or leave a multicast group. */
  MULTICAST: 'ERR_MULTICAST',
  /** A peer broke its protocol: a malformed or out-of-range message, or a name that may not be used. */
  BAD_REQUEST: 'ERR_BAD_REQUEST',
  /** The caller aborted the operation (its AbortSignal fired). */
  ABORTED: 'ERR_ABORTED',
  /** A multiplexing peer broke the mux protocol (bad frame, window overrun, id reuse); the mux ends. */
  MUX_PROTOCOL: 'ERR_MUX_PROTOCOL',
  /** A multiplexed channel was refused or aborted by its peer, or its mux ended under it. */
  CHANNEL_RESET: 'ERR_CHANNEL_RESET',
  /** A local file or stream failed under a transfer (closed before its end, a read or write error). */
  IO: 'ERR_IO',
  /** A bug in sockit: a method called out of order, a state that cannot happen. Please report it. */
  INTERNAL: 'ERR_INTERNAL',
  /** Too many attempts (log-ins, registrations) for now; the refusal says how long to wait. */
  THROTTLED: 'ERR_THROTTLED',
  /** A shared-secret file is not a key made by `sockit secret new`. */
  BAD_SECRET: 'ERR_BAD_SECRET',
  /** A message that had begun did not arrive whole within its deadline. */
  READ_TIMEOUT: 'ERR_READ_TIMEOUT',
  /** The peer did not read its replies: its outgoing queue reached its bound. */
  SLOW_READER: 'ERR_SLOW_READER',
  /** A confined root was used after it was closed. */
  ROOT_CLOSED: 'ERR_ROOT_CLOSED',
  /** A peer did not acknowledge a datagram after every retry (a LAN message). */
  NO_ACK: 'ERR_NO_ACK',
  /** A path is nested deeper than the service allows (a listing, a folder, an upload). */
  TOO_DEEP: 'ERR_TOO_DEEP',
  /** The command line could not be parsed: an unknown option, a missing argument, a bad flag value. */
  USAGE: 'ERR_USAGE',
  /** The peer does not offer what was asked: an older version of its protocol. */
  UNSUPPORTED: 'ERR_UNSUPPORTED',
  /** A chat nick is not acceptable (length or characters). */
  BAD_NICK: 'ERR_BAD_NICK',
  /** A chat nick is held by another user, or belongs to an account. */
  NICK_IN_USE: 'ERR_NICK_IN_USE',
  /** A chat command came before the session chose a nick or logged in. */
  NOT_REGISTERED: 'ERR_NOT_REGISTERED',
  /** A chat room name is not acceptable (length or characters). */
  BAD_ROOM: 'ERR_BAD_ROOM',
  /** No chat room of that name. */
  NO_SUCH_ROOM: 'ERR_NO_SUCH_ROOM',
  /** No chat user of that nick is online (and, for messages, no account has it). */
  NO_SUCH_NICK: 'ERR_NO_SUCH_NICK',
  /** The session, or the user named, is not in that chat room. */
  NOT_IN_ROOM: 'ERR_NOT_IN_ROOM',
  /** The user is banned from that chat room. */
  BANNED: 'ERR_BANNED',
  /** Only a room operator may do that (kick, ban, op, a locked topic). */
  NOT_OPERATOR: 'ERR_NOT_OPERATOR',
  /** The session is in as many chat rooms as it may be, or the server holds as many rooms as it may. */
  TOO_MANY_ROOMS: 'ERR_TOO_MANY_ROOMS',
  /** A chat message, topic or reason is longer than its limit in bytes of UTF-8. */
  TEXT_TOO_LONG: 'ERR_TEXT_TOO_LONG',
  /** A TLS client's peer did not complete a TLS handshake: most often a server without TLS. */
  TLS_HANDSHAKE: 'ERR_TLS_HANDSHAKE',
  /** The server's TLS certificate is not trusted, or does not name the host connected to. */
  TLS_CERTIFICATE: 'ERR_TLS_CERTIFICATE',
  /** The server runs as much as it may at once (commands per account, or in all): try again later. */
  BUSY: 'ERR_BUSY',
} as const;

export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

/**
 * The one error class of sockit.
 *
 * @example
 * ```ts
 * try { decoder.push(chunk); } catch (err) {
 *   if (err instanceof SockitError && err.code === ErrorCode.FRAME_TOO_LARGE) socket.destroy();
 * }
 * ```
 */
export class SockitError extends Error {
  readonly code: ErrorCode;

  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'SockitError';
    this.code = code;
  }
}

/** True when `err` is a `SockitError`, optionally of the given code. */
export function isSockitError(err: unknown, code?: ErrorCode): err is SockitError {
  return err instanceof SockitError && (code === undefined || err.code === code);
}

/**
 * Turns the system's bind failures into errors that say what to do.
 * `EACCES` on a port below 1024 is the common one: echo (7) and TFTP (69) are privileged.
 */
export function bindError(err: unknown, what: string, host: string, port: number): unknown {
  // Only the code is read: this module is shared with the browser code, which has no NodeJS types.
  const sys = err as { code?: unknown } | undefined;
  const where = `${formatHostPort(host, port)}`;
  switch (sys?.code) {
    case 'EACCES':
    case 'EPERM':
      return new SockitError(
        ErrorCode.BIND_DENIED,
        `${what}: permission denied binding ${where}; ports below 1024 need root or ` +
          'CAP_NET_BIND_SERVICE (sudo setcap cap_net_bind_service=+ep "$(command -v node)"), ' +
          'or choose another port with --port',
        { cause: err },
      );
    case 'EADDRINUSE':
      return new SockitError(
        ErrorCode.ADDRESS_IN_USE,
        `${what}: ${where} is already in use; stop the other server or choose another port with --port`,
        { cause: err },
      );
    case 'EADDRNOTAVAIL':
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return new SockitError(
        ErrorCode.ADDRESS_UNAVAILABLE,
        `${what}: cannot bind ${where}: the address is not one of this machine's (use --host)`,
        { cause: err },
      );
    default:
      return err;
  }
}

/** `host:port`, with brackets around IPv6 literals. */
export function formatHostPort(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

/** What a command does with a local path: read a file, create one, or make a folder (and its parents). */
export type FileUse = 'read' | 'create' | 'folder';

const FILE_VERBS: Record<FileUse, string> = { read: 'read', create: 'create', folder: 'make the folder' };

/**
 * Turns the system's failures on a local path named by the user into errors that name it and
 * say what to do: `ENOENT` is `ERR_NOT_FOUND`, `EACCES` `ERR_PATH_DENIED`, and so on. `what`
 * says whose path it is (`--tls-cert`, `secret new`); `hint` replaces the advice for a file
 * to read that does not exist. Other errors are returned unchanged.
 *
 * @example
 * ```ts
 * await readFile(flags.tlsCert).catch((err) => { throw fileError(err, '--tls-cert', flags.tlsCert); });
 * // sockit: --tls-cert: cert.pem does not exist; check the path [ERR_NOT_FOUND]
 * ```
 */
export function fileError(
  err: unknown,
  what: string,
  file: string,
  use: FileUse = 'read',
  hint = 'check the path',
): unknown {
  const fail = (code: ErrorCode, message: string): SockitError =>
    new SockitError(code, `${what}: ${message}`, { cause: err });
  const cannot = `cannot ${FILE_VERBS[use]} ${file}`;
  switch ((err as { code?: unknown } | undefined)?.code) {
    case 'ENOENT':
      return use === 'read'
        ? fail(ErrorCode.NOT_FOUND, `${file} does not exist; ${hint}`)
        : fail(ErrorCode.NOT_FOUND, `${cannot}: the folder it goes in does not exist; make it first`);
    case 'ENOTDIR':
      return fail(ErrorCode.NOT_FOUND, `${cannot}: a part of its path is a file, not a folder`);
    case 'EEXIST':
      if (use === 'create') return fail(ErrorCode.EXISTS, `${file} already exists; choose another name`);
      return use === 'folder' ? fail(ErrorCode.INVALID_ARGUMENT, `${file} is a file; give a folder`) : err;
    case 'EISDIR':
      return fail(ErrorCode.INVALID_ARGUMENT, `${file} is a folder; give a file`);
    case 'EACCES':
    case 'EPERM':
    case 'EROFS':
      return fail(ErrorCode.PATH_DENIED, `${cannot}: permission denied; check its owner and mode`);
    default:
      return err;
  }
}
