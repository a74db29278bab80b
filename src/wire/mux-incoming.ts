/**
 * Incoming channels of a `Mux` as an async iterator (what `for await (const ch of mux)` runs).
 */
import type { EventEmitter } from 'node:events';
import type { SockitError } from '../errors.js';
import type { MuxChannel } from './mux-channel.js';

/** The parts of a `Mux` the iterator needs. */
export interface IncomingSource extends EventEmitter {
  readonly closed: boolean;
  readonly error: SockitError | undefined;
}

/**
 * Yields each channel the peer opens, until the mux closes (then returns, or throws the
 * mux's error). At most `maxWaiting` channels wait unclaimed; more are reset at once, so a
 * slow consumer cannot make a peer's OPENs pile up.
 *
 * @example
 * ```ts
 * for await (const channel of incomingChannels(mux, 100)) serve(channel);
 * ```
 */
export async function* incomingChannels(
  source: IncomingSource,
  maxWaiting: number,
): AsyncGenerator<MuxChannel> {
  const waiting: MuxChannel[] = [];
  let wake: (() => void) | undefined;
  const onChannel = (channel: MuxChannel): void => {
    if (waiting.length >= maxWaiting) channel.reset('too many channels waiting');
    else waiting.push(channel);
    wake?.();
  };
  const onClose = (): void => wake?.();
  source.on('channel', onChannel);
  source.on('close', onClose);
  try {
    for (;;) {
      const next = waiting.shift();
      if (next) {
        yield next;
        continue;
      }
      if (source.closed) {
        if (source.error) throw source.error;
        return;
      }
      await new Promise<void>((resolve) => {
        wake = resolve;
      });
      wake = undefined;
    }
  } finally {
    source.off('channel', onChannel);
    source.off('close', onClose);
  }
}
