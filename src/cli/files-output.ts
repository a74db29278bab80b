/**
 * What the `sockit files` clients print, by the rule of docs/cli.md ("Output"): results as
 * JSON lines on stdout with `--json` (nothing else there), lines for a person on stderr
 * otherwise; `-q` leaves only errors, `-v` adds a line for each file or path, those left
 * alone included.
 */
import { visible } from '../runtime/text.js';
import { type OutputFlags, printResult } from './output.js';
import { Progress } from './progress.js';

export type { OutputFlags } from './output.js';

export class Output {
  readonly #flags: OutputFlags;

  constructor(flags: OutputFlags) {
    this.#flags = flags;
  }

  /** A progress bar on a terminal's stderr, none with `-q`. */
  progress(label: string): Progress {
    return new Progress(shown(label), this.#flags.quiet ? false : undefined);
  }

  /**
   * A result: its object as a JSON line on stdout with `--json`, else `line` on stderr (none
   * with `-q`). Lines for a person carry names from the server: control characters in them
   * are written out (`\u{1b}`), never sent to the terminal.
   */
  result(value: object, line?: string): void {
    printResult(this.#flags, value, () => (line === undefined ? '' : `${shown(line)}\n`), process.stderr);
  }

  /** A result only `-v` tells a person about (with `--json`, its object as always). */
  detail(value: object, line: string): void {
    this.result(value, this.#flags.verbose ? line : undefined);
  }

  /** A line for a person that is no result (a summary): not with `-q` or `--json`. */
  say(line: string): void {
    if (!this.#flags.quiet && !this.#flags.json) process.stderr.write(`${shown(line)}\n`);
  }

  /** A line for a person only `-v` prints (not with `--json`). */
  note(line: string): void {
    if (this.#flags.verbose) this.say(line);
  }
}

/** `line` with control and invisible characters written out, whole (not cut). */
export function shown(line: string): string {
  return visible(line, Number.POSITIVE_INFINITY);
}
