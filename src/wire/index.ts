/**
 * `sockit/wire`: pure codecs for bytes on a stream. No module here imports a socket.
 *
 * @example
 * ```ts
 * import { EnvelopeDecoder, encodeEnvelope } from 'sockit/wire';
 * socket.write(encodeEnvelope({ type: 'hello' }));
 * ```
 */

export {
  DEFAULT_MAX_HEADER_SIZE,
  decodeEnvelope,
  type Envelope,
  EnvelopeDecoder,
  type EnvelopeHeader,
  type EnvelopeLimits,
  encodeEnvelope,
} from './envelope.js';
export {
  DEFAULT_MAX_FRAME_SIZE,
  encodeFrame,
  FRAME_HEADER_SIZE,
  FrameDecoder,
  type FrameLimits,
  frameHeader,
} from './frame.js';
export {
  DEFAULT_CHUNK_SIZE,
  DEFAULT_INITIAL_WINDOW,
  DEFAULT_MAX_CHANNELS,
  Mux,
  type MuxEvents,
  type MuxOptions,
} from './mux.js';
export { MuxChannel } from './mux-channel.js';
export {
  DEFAULT_MAX_FRAME_PAYLOAD,
  DEFAULT_MAX_INFO_SIZE,
  encodeMuxFrame,
  MAX_CHANNEL_ID,
  MAX_WINDOW,
  type MuxFrame,
  MuxFrameDecoder,
  type MuxFrameLimits,
  MuxFrameType,
  type MuxInfo,
  muxDataHeader,
} from './mux-frame.js';
