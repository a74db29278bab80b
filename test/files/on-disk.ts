/** What the disk holds for a user of the file service, to compare with the stored usage. */
import { readdir, stat } from 'node:fs/promises';
import path from 'node:path';

/** Bytes of a user's files and upload parts under `root`, as the disk has them. */
export async function onDisk(root: string, user: string): Promise<number> {
  let total = 0;
  const walk = async (dir: string, only?: RegExp): Promise<void> => {
    for (const e of await readdir(dir, { withFileTypes: true }).catch(() => [])) {
      const p = path.join(dir, e.name);
      if (e.isDirectory()) await walk(p, only);
      else if (e.isFile() && (!only || only.test(e.name))) total += (await stat(p)).size;
    }
  };
  await walk(path.join(root, user));
  await walk(path.join(root, '.parts', user), /\.part$/);
  return total;
}
