/**
 * For a process that runs other users' commands (`sockit exec serve`): the descriptors it
 * inherited open across exec from whoever started it would reach every command in turn.
 */
import { closeSync, readdirSync, readFileSync } from 'node:fs';
import type { Logger } from '../runtime/log.js';

/**
 * Closes the descriptors this process inherited open across exec (whoever started the server
 * left them without close-on-exec): every command would inherit them in turn. Node's own are
 * all close-on-exec; its IPC channel with a parent (NODE_CHANNEL_FD) is kept. Linux only
 * (/proc/self/fdinfo); elsewhere nothing is done.
 */
export function closeInheritedDescriptors(log: Logger): void {
  let fds: string[];
  try {
    fds = readdirSync('/proc/self/fdinfo');
  } catch {
    return;
  }
  const channel = Number(process.env.NODE_CHANNEL_FD ?? -1);
  for (const name of fds) {
    const fd = Number(name);
    if (!(fd > 2) || fd === channel) continue;
    let info: string;
    try {
      info = readFileSync(`/proc/self/fdinfo/${fd}`, 'latin1');
    } catch {
      continue; // the descriptor of the listing itself, gone
    }
    const flags = Number.parseInt(/flags:\s+([0-7]+)/.exec(info)?.[1] ?? '2000000', 8);
    if ((flags & 0o2000000) !== 0) continue; // close-on-exec: never reaches a command
    try {
      closeSync(fd);
      log.debug({ fd }, 'exec: closed a descriptor inherited from whoever started the server');
    } catch {
      // gone meanwhile
    }
  }
}
