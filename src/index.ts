/**
 * `sockit`: the core of the toolkit. Services live in subpaths: `sockit/wire`,
 * `sockit/runtime`, `sockit/echo`, `sockit/nc`, `sockit/ip`, `sockit/ports`, `sockit/tftp`,
 * `sockit/auth`, `sockit/files` and `sockit/chat` (the chat hub and its history).
 *
 * @example
 * ```ts
 * import { SockitError, ErrorCode } from 'sockit';
 * if (err instanceof SockitError && err.code === ErrorCode.FRAME_TOO_LARGE) { ... }
 * ```
 */
export { ErrorCode, isSockitError, SockitError } from './errors.js';
export { launch, type ServerModel, serveTcp, serveUdp } from './runtime/index.js';
export { EnvelopeDecoder, encodeEnvelope, encodeFrame, FrameDecoder } from './wire/index.js';
