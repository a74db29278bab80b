/** `sockit files ls`, `rm` and `mkdir`: what is in a home, and changing it. */
import { Command } from 'commander';
import type { FilesClient } from '../files/client.js';
import type { Entry } from '../files/protocol.js';
import { type ClientFlags, clientOptions, EMPTY_REMOTE, withClient } from './files-client.js';
import { Output, type OutputFlags, shown } from './files-output.js';
import { outputOptions } from './output.js';
import { counted } from './plural.js';

export function lsCommand(): Command {
  const command = new Command('ls')
    .description('list a folder (default: your home)')
    .argument('<server>', '[USER@]HOST[:PORT]')
    .argument('[path]', 'folder or file', '')
    .option('-R, --recursive', 'the whole tree');
  outputOptions(command, {
    json: 'one JSON array of {path, type, size, mtime}',
    quiet: 'the listing only (as without it)',
    verbose: 'the count of entries on stderr too',
  });
  return clientOptions(
    command.addHelpText(
      'after',
      `
The listing goes to stdout; -v adds the count of entries on stderr.

Examples:
  sockit files ls ann@127.0.0.1
  sockit files ls ann@127.0.0.1:7021 photos -R --json`,
    ),
  ).action(
    async (target: string, remote: string, flags: ClientFlags & OutputFlags & { recursive?: boolean }) => {
      const output = new Output(flags);
      const entries = await withClient(target, flags, (c, signal) =>
        c.list(remote, flags.recursive ?? false, { signal }),
      );
      // The listing is the result itself: one array, printed whatever -q says.
      if (flags.json) process.stdout.write(`${JSON.stringify(entries)}\n`);
      else for (const e of entries) process.stdout.write(formatEntry(e));
      output.note(counted(entries.length, 'entry', 'entries'));
    },
  );
}

interface PathFlags extends ClientFlags, OutputFlags {
  recursive?: boolean;
  parents?: boolean;
}

/** A command that does one thing to each path it is given: `rm`, `mkdir`. */
function eachPath(
  command: Command,
  status: string,
  act: (client: FilesClient, path: string, flags: PathFlags, signal: AbortSignal) => Promise<void>,
): Command {
  outputOptions(command, {
    json: `one JSON object per path on stdout: {path, status: "${status}"}`,
    quiet: 'nothing on success (as without it); errors only',
    verbose: `a line for each path: "${status} PATH"`,
  });
  return clientOptions(command).action(
    async (target: string, paths: string[], flags: PathFlags, self: Command) => {
      if (paths.includes('')) self.error(EMPTY_REMOTE);
      const output = new Output(flags);
      await withClient(target, flags, async (client, signal) => {
        for (const p of paths) {
          await act(client, p, flags, signal);
          output.detail({ path: p, status }, `${status} ${p}`);
        }
      });
    },
  );
}

export function rmCommand(): Command {
  return eachPath(
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
  sockit files rm ann@127.0.0.1 backup -r -v`,
      ),
    'removed',
    (client, p, flags, signal) => client.remove(p, flags.recursive ?? false, { signal }),
  );
}

export function mkdirCommand(): Command {
  return eachPath(
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
  sockit files mkdir ann@127.0.0.1 backup/2026/december -p --json`,
      ),
    'made',
    (client, p, flags, signal) => client.mkdir(p, flags.parents ?? false, { signal }),
  );
}

function formatEntry(e: Entry): string {
  const when = new Date(e.mtime).toISOString().slice(0, 16).replace('T', ' ');
  const size = e.type === 'dir' ? '-' : String(e.size);
  return `${e.type === 'dir' ? 'd' : '-'} ${size.padStart(12)}  ${when}  ${shown(e.path)}${e.type === 'dir' ? '/' : ''}\n`;
}
