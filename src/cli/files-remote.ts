/** `sockit files ls`, `rm` and `mkdir`: what is in a home, and changing it. */
import { Command } from 'commander';
import type { Entry } from '../files/protocol.js';
import { type ClientFlags, clientOptions, withClient } from './files-client.js';

export function lsCommand(): Command {
  return clientOptions(
    new Command('ls')
      .description('list a folder (default: your home)')
      .argument('<server>', '[USER@]HOST[:PORT]')
      .argument('[path]', 'folder or file', '')
      .option('-R, --recursive', 'the whole tree')
      .option('--json', 'one JSON array of {path, type, size, mtime}')
      .addHelpText(
        'after',
        `
Examples:
  sockit files ls ann@127.0.0.1
  sockit files ls ann@127.0.0.1:7021 photos -R --json`,
      ),
  ).action(
    async (target: string, remote: string, flags: ClientFlags & { recursive?: boolean; json?: boolean }) => {
      const entries = await withClient(target, flags, (c, signal) =>
        c.list(remote, flags.recursive ?? false, { signal }),
      );
      if (flags.json) {
        process.stdout.write(`${JSON.stringify(entries)}\n`);
        return;
      }
      for (const e of entries) process.stdout.write(formatEntry(e));
    },
  );
}

export function rmCommand(): Command {
  return clientOptions(
    new Command('rm')
      .description('remove files or folders')
      .argument('<server>', '[USER@]HOST[:PORT]')
      .argument('<path...>', 'files or folders in your home')
      .option('-r, --recursive', 'remove folders with what is in them')
      .addHelpText(
        'after',
        `
Examples:
  sockit files rm ann@127.0.0.1 old.log
  sockit files rm ann@127.0.0.1 backup -r`,
      ),
  ).action(async (target: string, paths: string[], flags: ClientFlags & { recursive?: boolean }) => {
    await withClient(target, flags, async (client, signal) => {
      for (const p of paths) await client.remove(p, flags.recursive ?? false, { signal });
    });
  });
}

export function mkdirCommand(): Command {
  return clientOptions(
    new Command('mkdir')
      .description('make folders')
      .argument('<server>', '[USER@]HOST[:PORT]')
      .argument('<path...>', 'folders to make in your home')
      .option('-p, --parents', 'make missing parents too, and accept folders that exist')
      .addHelpText(
        'after',
        `
Examples:
  sockit files mkdir ann@127.0.0.1 photos
  sockit files mkdir ann@127.0.0.1 backup/2026/december -p`,
      ),
  ).action(async (target: string, paths: string[], flags: ClientFlags & { parents?: boolean }) => {
    await withClient(target, flags, async (client, signal) => {
      for (const p of paths) await client.mkdir(p, flags.parents ?? false, { signal });
    });
  });
}

function formatEntry(e: Entry): string {
  const when = new Date(e.mtime).toISOString().slice(0, 16).replace('T', ' ');
  const size = e.type === 'dir' ? '-' : String(e.size);
  return `${e.type === 'dir' ? 'd' : '-'} ${size.padStart(12)}  ${when}  ${e.path}${e.type === 'dir' ? '/' : ''}\n`;
}
