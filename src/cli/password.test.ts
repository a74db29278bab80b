import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { ErrorCode } from '../errors.js';
import { readPassword } from './password.js';

/** A fake terminal: a stream with isTTY and setRawMode, and a screen that records what is written. */
function terminal() {
  const rawModes: boolean[] = [];
  const input = Object.assign(new PassThrough(), {
    isTTY: true,
    isRaw: false,
    setRawMode(mode: boolean) {
      rawModes.push(mode);
      input.isRaw = mode;
      return input;
    },
  });
  let screen = '';
  const output = new PassThrough();
  output.on('data', (chunk: Buffer) => {
    screen += chunk.toString();
  });
  return {
    rawModes,
    screen: () => screen,
    options: {
      input: input as unknown as NodeJS.ReadStream,
      output: output as unknown as NodeJS.WriteStream,
      env: {},
    },
    type: (data: string | Buffer) => input.write(data),
  };
}

const withCode = (code: string, message?: string) =>
  expect.objectContaining(message === undefined ? { code } : { code, message });

describe('readPassword', () => {
  it('takes SOCKIT_PASSWORD without asking', async () => {
    const tty = terminal();
    const password = await readPassword({
      ...tty.options,
      prompt: 'Password: ',
      env: { SOCKIT_PASSWORD: 'hunter2' },
    });
    expect(password).toBe('hunter2');
    expect(tty.screen()).toBe('');
    expect(tty.rawModes).toEqual([]);
  });

  it('refuses with NO_PASSWORD when the variable is empty and input is not a terminal', async () => {
    const input = new PassThrough() as unknown as NodeJS.ReadStream;
    await expect(readPassword({ prompt: 'Password: ', env: { SOCKIT_PASSWORD: '' }, input })).rejects.toThrow(
      withCode(ErrorCode.NO_PASSWORD, 'no password: set SOCKIT_PASSWORD or run on a terminal'),
    );
  });

  it('reads a line from a terminal in raw mode, echoing nothing, and restores the mode', async () => {
    const tty = terminal();
    tty.type('secret\r');
    expect(await readPassword({ ...tty.options, prompt: 'Password: ' })).toBe('secret');
    expect(tty.screen()).toBe('Password: \n');
    expect(tty.rawModes).toEqual([true, false]);
  });

  it('handles backspace, Ctrl-U, multi-byte characters split across chunks and typing in pieces', async () => {
    const tty = terminal();
    const reading = readPassword({ ...tty.options, prompt: 'Password: ' });
    tty.type('junk\u0015sec');
    tty.type('rex\u007f\u007fet\u00e9\b');
    const euro = Buffer.from('\u20ac');
    tty.type(euro.subarray(0, 1));
    tty.type(euro.subarray(1));
    tty.type('\r');
    expect(await reading).toBe('secret\u20ac');
  });

  it('asks twice when confirming, and refuses two different entries', async () => {
    const tty = terminal();
    tty.type('secret\rsecret\r');
    expect(await readPassword({ ...tty.options, prompt: 'New password: ', confirm: true })).toBe('secret');
    expect(tty.screen()).toBe('New password: \nRepeat to confirm: \n');

    const typo = terminal();
    typo.type('secret\rsecert\r');
    await expect(readPassword({ ...typo.options, prompt: 'New password: ', confirm: true })).rejects.toThrow(
      withCode(ErrorCode.NO_PASSWORD),
    );
  });

  it('treats CR LF as one Enter', async () => {
    const tty = terminal();
    tty.type('secret\r\nsecret\r\n');
    expect(await readPassword({ ...tty.options, prompt: 'New password: ', confirm: true })).toBe('secret');
  });

  it('is interrupted by Ctrl-C (ERR_ABORTED, as a SIGINT would), restoring the terminal', async () => {
    const tty = terminal();
    tty.type('sec\u0003ret\r');
    await expect(readPassword({ ...tty.options, prompt: 'Password: ' })).rejects.toThrow(
      withCode(ErrorCode.ABORTED, 'interrupted by Ctrl-C (SIGINT)'),
    );
    expect(tty.rawModes).toEqual([true, false]);
  });

  it('cancels on Ctrl-D, restoring the terminal', async () => {
    const tty = terminal();
    tty.type('sec\u0004ret\r');
    await expect(readPassword({ ...tty.options, prompt: 'Password: ' })).rejects.toThrow(
      withCode(ErrorCode.NO_PASSWORD, 'cancelled'),
    );
    expect(tty.rawModes).toEqual([true, false]);
  });

  it('cancels when input ends, and refuses an empty password', async () => {
    const ended = terminal();
    ended.options.input.end('sec');
    await expect(readPassword({ ...ended.options, prompt: 'Password: ' })).rejects.toThrow(
      withCode(ErrorCode.NO_PASSWORD, 'cancelled'),
    );
    const empty = terminal();
    empty.type('\r');
    await expect(readPassword({ ...empty.options, prompt: 'Password: ' })).rejects.toThrow(
      withCode(ErrorCode.NO_PASSWORD, 'empty password'),
    );
  });
});
