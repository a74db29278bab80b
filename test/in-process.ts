/** Runs a commander command in this process with stdout captured: no build, same parse and output. */
import type { Command } from 'commander';
import { vi } from 'vitest';

export async function runInProcess(command: Command, args: string[]): Promise<string> {
  const chunks: string[] = [];
  const write = vi.spyOn(process.stdout, 'write').mockImplementation(((chunk: unknown) => {
    chunks.push(String(chunk));
    return true;
  }) as typeof process.stdout.write);
  try {
    await command
      .exitOverride()
      .configureOutput({ writeOut: (s) => chunks.push(s), writeErr: (s) => chunks.push(s) })
      .parseAsync(['node', command.name(), ...args]);
  } finally {
    write.mockRestore();
  }
  return chunks.join('');
}
