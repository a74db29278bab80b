/**
 * Unix sockets for control connections on this machine (a kept `sockit exec` connection, a
 * running `sockit lan`): connecting when something listens, and listening where a process
 * that was killed left its socket file.
 */
import { once } from 'node:events';
import { unlinkSync } from 'node:fs';
import net from 'node:net';
import { ErrorCode, SockitError } from '../errors.js';

/** Connects to the Unix socket `path`; undefined when nothing listens there (no file, refused). */
export async function connectLocal(path: string): Promise<net.Socket | undefined> {
  const socket = net.connect(path);
  const connected = await new Promise<boolean>((resolve) => {
    socket.once('connect', () => resolve(true));
    socket.once('error', () => resolve(false));
  });
  if (connected) return socket;
  socket.destroy();
  return undefined;
}

/**
 * Listens on the Unix socket `path`, replacing a socket file that nobody answers on any more;
 * one that answers is refused (ERR_ADDRESS_IN_USE).
 */
export async function listenLocal(server: net.Server, path: string): Promise<void> {
  for (let attempt = 0; ; attempt++) {
    try {
      server.listen(path);
      await once(server, 'listening');
      return;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EADDRINUSE' || attempt > 0) throw err;
      const other = await connectLocal(path);
      if (other) {
        other.destroy();
        throw new SockitError(ErrorCode.ADDRESS_IN_USE, `${path}: another process listens there`);
      }
      removeLocal(path);
    }
  }
}

/** Removes a socket file, if it is there. */
export function removeLocal(path: string): void {
  try {
    unlinkSync(path);
  } catch {
    // gone already
  }
}
