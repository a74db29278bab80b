/** TFTP failures as `SockitError`s that also carry the TFTP error code (RFC 1350). */
import { ErrorCode, SockitError } from '../errors.js';
import { ERROR_TEXT, TftpErrorCode } from './packet.js';

/**
 * A failed transfer. `tftpCode` is the code sent or received in the ERROR packet
 * (0-8), or undefined for a timeout, which sends none.
 */
export class TftpError extends SockitError {
  readonly tftpCode: number | undefined;

  constructor(code: ErrorCode, message: string, tftpCode: number | undefined) {
    super(code, message);
    this.name = 'TftpError';
    this.tftpCode = tftpCode;
  }
}

/** The peer sent ERROR `code` with `text`. */
export function remoteError(code: number, text: string): TftpError {
  const standard = ERROR_TEXT[code] ?? `error ${code}`;
  const detail = text && text.toLowerCase() !== standard ? `: ${text}` : '';
  return new TftpError(ErrorCode.TFTP_REMOTE, `TFTP error ${code} (${standard})${detail}`, code);
}

/** We end the transfer with ERROR `code`; the same goes to the peer. */
export function localError(code: TftpErrorCode, text: string): TftpError {
  return new TftpError(ErrorCode.TFTP_PROTOCOL, `TFTP error ${code} (${ERROR_TEXT[code]}): ${text}`, code);
}

export function timeoutError(retries: number, waitedMs: number, onlyFinalAckMissing = false): TftpError {
  const what = onlyFinalAckMissing
    ? 'no ACK for the final block (the peer may have the whole file)'
    : 'no answer';
  return new TftpError(
    ErrorCode.TFTP_TIMEOUT,
    `${what} after ${retries} retransmissions (${(waitedMs / 1000).toFixed(1)} s)`,
    undefined,
  );
}

/**
 * The sockit code of a transfer that ended with TFTP ERROR `tftpCode` (sent or refused),
 * for events and metrics: what a file service would answer for the same refusal.
 */
export function codeOfTftpError(tftpCode: number): ErrorCode {
  switch (tftpCode) {
    case TftpErrorCode.FILE_NOT_FOUND:
      return ErrorCode.NOT_FOUND;
    case TftpErrorCode.ACCESS_VIOLATION:
      return ErrorCode.PATH_DENIED;
    case TftpErrorCode.DISK_FULL:
      return ErrorCode.FILE_TOO_LARGE;
    case TftpErrorCode.FILE_EXISTS:
      return ErrorCode.EXISTS;
    case TftpErrorCode.ILLEGAL_OPERATION:
    case TftpErrorCode.UNKNOWN_TID:
    case TftpErrorCode.OPTION_NEGOTIATION:
      return ErrorCode.BAD_REQUEST;
    default:
      return ErrorCode.TFTP_PROTOCOL;
  }
}
