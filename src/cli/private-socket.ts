/**
 * Unix sockets that only this user may use: the control sockets of `sockit exec --keep` and
 * of a running `sockit lan`. They live in `$XDG_RUNTIME_DIR/sockit`, else in the cache folder
 * (`sockets/`), else, when that path is too long for a Unix socket, in `/tmp/sockit-UID`. The
 * folder is made mode 0700, and one that is not this user's own or that others may enter is
 * refused: a socket there could be someone else's, and see what goes through it.
 */
import os from 'node:os';
import path from 'node:path';
import { ErrorCode, SockitError } from '../errors.js';
import { cacheDir, privateFolder } from './user-dirs.js';

/** The longest Unix socket path this code uses (the kernel's limit is 107 bytes). */
const MAX_SOCKET_PATH = 100;

/**
 * The path of the private socket `name` (a file name). With `create`, its folder is made (or
 * checked); without, undefined when the folder is not there: nothing listens, and nothing is
 * connected to (a folder checked as missing could be another user's by the time of the
 * connection; one checked as this user's own cannot become someone else's: its parent is
 * this user's, or /tmp's sticky bit keeps others from replacing it). A folder that is not
 * this user's own, or that others may enter, is refused.
 */
export function privateSocketPath(
  name: string,
  { create = false, env = process.env }: { create?: boolean; env?: NodeJS.ProcessEnv } = {},
): string | undefined {
  const runtime = env.XDG_RUNTIME_DIR;
  const candidates = [
    ...(runtime && path.isAbsolute(runtime) ? [path.join(runtime, 'sockit')] : []),
    path.resolve(cacheDir(env), 'sockets'),
    path.join(os.tmpdir(), `sockit-${process.getuid?.() ?? 'user'}`),
  ];
  // The kernel counts bytes, not characters.
  const dir = candidates.find((d) => Buffer.byteLength(path.join(d, name)) <= MAX_SOCKET_PATH);
  if (dir === undefined) {
    throw new SockitError(ErrorCode.INVALID_ARGUMENT, 'no folder with a short enough path for a Unix socket');
  }
  const state = privateFolder(dir, create);
  if (state === 'not-private') {
    throw new SockitError(
      ErrorCode.FORBIDDEN,
      `${dir} is not a folder of yours that only you may enter (chmod 700 it, or remove it)`,
    );
  }
  return state === 'mine' ? path.join(dir, name) : undefined;
}
