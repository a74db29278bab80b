/**
 * Waiting for a stream's end, whether it already came or comes later, and whether it ends
 * well or is torn down: one promise that resolves either way.
 */

/** Resolves once `stream` has ended (all of it read) or closed. */
export function readEnded(stream: NodeJS.ReadableStream): Promise<void> {
  return new Promise((resolve) => {
    if ((stream as { readableEnded?: boolean }).readableEnded) {
      resolve();
      return;
    }
    stream.once('end', resolve);
    stream.once('close', resolve);
  });
}

/** Resolves once all that was written to `stream` is through (finish), or it closed. */
export function writeFinished(stream: NodeJS.WritableStream): Promise<void> {
  return new Promise((resolve) => {
    const s = stream as { writableFinished?: boolean; destroyed?: boolean };
    if (s.writableFinished || s.destroyed) {
      resolve();
      return;
    }
    stream.once('finish', resolve);
    stream.once('close', resolve);
  });
}
