#!/usr/bin/env node
/**
 * The `sockit` entry point. It is kept tiny: it checks the Node version, turns on Node's
 * compile cache (so later runs skip compiling the code they load), and loads only the code
 * of the subcommand that was asked for (see program.ts and scripts/build-cli.mjs).
 */
import module from 'node:module';
import { subcommandsFor } from './command-names.js';
import { tooOldNode } from './node-version.js';

const tooOld = tooOldNode(process.versions.node);
if (tooOld) {
  process.stderr.write(`${tooOld}\n`);
  process.exit(1);
}
// Node 22.1 and newer; the cache lives in the system's temporary folder.
module.enableCompileCache?.();

// A reader that stops early (`sockit ports | head -1`): stop without a word, with the status
// of a C tool killed by SIGPIPE (ExitStatus.BROKEN_PIPE). Any other stdout error is one line.
process.stdout.on('error', (err: NodeJS.ErrnoException) => {
  if (err.code !== 'EPIPE') process.stderr.write(`sockit: cannot write to stdout: ${err.message} [ERR_IO]\n`);
  process.exit(err.code === 'EPIPE' ? 141 : 1);
});

// A named command (or --version) runs from its own one-file bundle, one/NAME.js: the command
// tree, commander and that command's code, nothing else to resolve and link. Help and
// anything that needs the whole tree come from program.js and its chunks.
const only = subcommandsFor(process.argv.slice(2));
const bundle =
  only === undefined || only.includes('completion') ? './program.js' : `./one/${only[0] ?? 'version'}.js`;
const { program, reportFailure } = (await import(bundle)) as typeof import('./program.js');

let settled = false;
program({ only })
  .then((root) => root.parseAsync())
  .catch((err: unknown) => reportFailure(err))
  .finally(() => {
    settled = true;
  });
// Nothing left to wait for, yet the command has not finished: a stalled stream, not success.
process.on('beforeExit', () => {
  if (settled || process.exitCode) return;
  process.stderr.write('sockit: internal error: the command stopped with its work unfinished\n');
  process.exitCode = 70;
});
