/**
 * `sockit/tftp`: a TFTP server and client (RFC 1350, options RFC 2347-2349, windows
 * RFC 7440), and the pure codec and state machines they run on.
 *
 * @example
 * ```ts
 * import { serveTftp, tftpGet } from 'sockit/tftp';
 * const server = await serveTftp({ root: '/srv/tftp', port: 6969, host: '127.0.0.1' });
 * await tftpGet({ host: '127.0.0.1', port: 6969, blksize: 1468 }, 'boot.img', createWriteStream('boot.img'));
 * ```
 */
export type { Rollover } from './blocks.js';
export { type TftpClientOptions, type TftpResult, tftpGet, tftpPut } from './client.js';
export { TftpError } from './errors.js';
export { DEFAULT_OPTIONS, negotiate, type TransferOptions } from './options.js';
export {
  decodePacket,
  ERROR_TEXT,
  encodeAck,
  encodeData,
  encodeError,
  encodeOack,
  encodeRequest,
  Opcode,
  type Packet,
  TftpErrorCode,
  type TransferMode,
} from './packet.js';
export { parseRewrite, type RewriteRule } from './paths.js';
export { type ReceiverSink, TftpReceiver } from './receiver.js';
export { type SenderSink, TftpSender, type TransferStats } from './sender.js';
export {
  type Content,
  serveTftp,
  TFTP_PORT,
  TFTP_SERVE_PORT,
  type TftpServerOptions,
  type TftpService,
} from './server.js';
export type { TransferInfo } from './slots.js';
