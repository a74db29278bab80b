/** TFTP failures as `SockitError`s that also carry the TFTP error code (RFC 1350). */
import { ErrorCode, SockitError } from '../errors.js';
import { ERROR_TEXT, type TftpErrorCode } from './packet.js';

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
