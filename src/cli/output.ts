/**
 * What a command prints, by the rule of docs/cli.md ("Output"): results as JSON lines on
 * stdout with `--json`, lines for a person on stderr otherwise; `-q` leaves only errors,
 * `-v` adds a line for each thing done or left alone.
 */
import type { Command } from 'commander';
import { ErrorCode, SockitError } from '../errors.js';
import { Progress } from './progress.js';

export interface OutputFlags {
  json?: boolean;
  quiet?: boolean;
  verbose?: boolean;
}

/** Adds `--json` (described by `json`: what each object holds), `-q` and `-v`. */
export function outputOptions(command: Command, json: string): Command {
  return command
    .option('--json', json)
    .option('-q, --quiet', 'no progress and no summary; errors are still printed')
    .option('-v, --verbose', 'a line for each file or path, also those left alone');
}

interface Stream {
  write(text: string): unknown;
}

export class Output {
  readonly json: boolean;
  readonly quiet: boolean;
  readonly verbose: boolean;
  readonly #out: Stream;
  readonly #err: Stream;

  /** Refuses `-q` with `-v` (`ERR_INVALID_ARGUMENT`). */
  constructor(flags: OutputFlags, out: Stream = process.stdout, err: Stream = process.stderr) {
    if (flags.quiet && flags.verbose) {
      throw new SockitError(ErrorCode.INVALID_ARGUMENT, '-q and -v contradict each other; give one');
    }
    this.json = flags.json ?? false;
    this.quiet = flags.quiet ?? false;
    this.verbose = flags.verbose ?? false;
    this.#out = out;
    this.#err = err;
  }

  /** A progress bar on a terminal's stderr, none with `-q`. */
  progress(label: string): Progress {
    return new Progress(label, this.quiet ? false : undefined);
  }

  /** One result: a line of JSON on stdout with `--json`, nothing otherwise. */
  result(value: Record<string, unknown>): void {
    if (this.json) this.#out.write(`${JSON.stringify(value)}\n`);
  }

  /** A line for a person on stderr: a result or a summary (not with `-q` or `--json`). */
  say(line: string): void {
    if (!this.quiet && !this.json) this.#err.write(`${line}\n`);
  }

  /** A line only `-v` prints (not with `--json`). */
  detail(line: string): void {
    if (this.verbose && !this.json) this.#err.write(`${line}\n`);
  }
}
