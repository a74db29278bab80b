/**
 * Getting a password for a command: from `SOCKIT_PASSWORD` for scripts, otherwise typed on the
 * terminal with echo off. Never from a command-line flag, which `ps` and shell history would show.
 */

import { StringDecoder } from 'node:string_decoder';
import { ErrorCode, SockitError } from '../errors.js';
import { interrupted } from './interrupt.js';

/** The environment variable read before asking. */
export const PASSWORD_ENV = 'SOCKIT_PASSWORD';

/** Options of `readPassword`. */
export interface ReadPasswordOptions {
  /** Written before reading, e.g. `"Password: "`. */
  prompt: string;
  /** Ask twice and insist on the same answer, for a new password. */
  confirm?: boolean;
  /** Default `process.env`. */
  env?: NodeJS.ProcessEnv;
  /** Default `process.stdin`; must be a terminal to be asked. */
  input?: NodeJS.ReadStream;
  /** Where prompts go; default `process.stderr`, so stdout stays clean for output. */
  output?: NodeJS.WriteStream;
}

const ENTER = '\r';
const LINE_FEED = '\n';
const CTRL_C = '\u0003';
const CTRL_D = '\u0004';
const CTRL_U = '\u0015';
const BACKSPACE = '\u007f';
const CTRL_H = '\b';

const noPassword = (why: string) => new SockitError(ErrorCode.NO_PASSWORD, why);

/**
 * Reads `prompts.length` lines from a terminal in raw mode, so nothing typed is echoed. Backspace
 * deletes a character, Ctrl-U the line; Ctrl-D cancels, Ctrl-C interrupts. The terminal mode is restored.
 */
function readHiddenLines(input: NodeJS.ReadStream, output: NodeJS.WriteStream, prompts: string[]) {
  return new Promise<string[]>((resolve, reject) => {
    const decoder = new StringDecoder('utf8');
    const wasRaw = input.isRaw;
    const lines: string[] = [];
    let line = '';
    let previous = '';
    const finish = (error?: SockitError) => {
      input.off('data', onData);
      input.off('end', onEnd);
      input.setRawMode(wasRaw);
      input.pause();
      if (error) {
        output.write(LINE_FEED);
        reject(error);
      } else {
        resolve(lines);
      }
    };
    const onEnd = () => finish(noPassword('cancelled'));
    const onData = (chunk: Buffer | string) => {
      for (const ch of typeof chunk === 'string' ? chunk : decoder.write(chunk)) {
        const after = previous;
        previous = ch;
        if (ch === ENTER || (ch === LINE_FEED && after !== ENTER)) {
          lines.push(line);
          line = '';
          output.write(LINE_FEED);
          const next = prompts[lines.length];
          if (next === undefined) return finish();
          output.write(next);
        } else if (ch === CTRL_C) {
          // Raw mode turns Ctrl-C into a byte: it still interrupts the command (status 130).
          return finish(interrupted('SIGINT'));
        } else if (ch === CTRL_D) {
          return finish(noPassword('cancelled'));
        } else if (ch === BACKSPACE || ch === CTRL_H) {
          line = Array.from(line).slice(0, -1).join('');
        } else if (ch === CTRL_U) {
          line = '';
        } else if (ch >= ' ') {
          line += ch;
        }
      }
    };
    input.setRawMode(true);
    input.on('data', onData);
    input.on('end', onEnd);
    input.resume();
    output.write(prompts[0] ?? '');
  });
}

/**
 * The password for this command: `SOCKIT_PASSWORD` when set, else typed on the terminal (twice with
 * `confirm`). Throws `SockitError(NO_PASSWORD)` when there is neither, on Ctrl-D, on an empty
 * password and when the two entries differ.
 *
 * @example
 * ```ts
 * const password = await readPassword({ prompt: 'New password: ', confirm: true });
 * const credentials = await deriveCredentials(password);
 * ```
 */
export async function readPassword(options: ReadPasswordOptions): Promise<string> {
  const fromEnv = (options.env ?? process.env)[PASSWORD_ENV];
  if (fromEnv) return fromEnv;
  const input = options.input ?? process.stdin;
  if (input.isTTY !== true || typeof input.setRawMode !== 'function') {
    throw noPassword(`no password: set ${PASSWORD_ENV} or run on a terminal`);
  }
  const prompts = options.confirm ? [options.prompt, 'Repeat to confirm: '] : [options.prompt];
  const [password = '', again = password] = await readHiddenLines(
    input,
    options.output ?? process.stderr,
    prompts,
  );
  if (password === '') throw noPassword('empty password');
  if (again !== password) throw noPassword('the two passwords differ');
  return password;
}
