/** The TLS flags every TCP server command shares: `--tls-cert` and `--tls-key`. */
import { readFile } from 'node:fs/promises';
import type { SecureContextOptions } from 'node:tls';
import type { Command } from 'commander';
import { ErrorCode, SockitError } from '../errors.js';
import type { ConnectOptions } from '../files/client.js';
import { onLocalFile } from './local-files.js';

export interface TlsFlags {
  tlsCert?: string;
  tlsKey?: string;
}

export function tlsServerOptions(command: Command): Command {
  return command
    .option('--tls-cert <file>', 'serve TCP over TLS with this certificate chain (PEM; with --tls-key)')
    .option('--tls-key <file>', 'private key for --tls-cert (PEM)');
}

/** The certificate and key to serve, or undefined without the flags. */
export async function loadTls(flags: TlsFlags): Promise<SecureContextOptions | undefined> {
  if (!flags.tlsCert && !flags.tlsKey) return undefined;
  if (!flags.tlsCert || !flags.tlsKey) {
    throw new SockitError(ErrorCode.INVALID_ARGUMENT, '--tls-cert and --tls-key go together');
  }
  return {
    cert: await readFlagFile('--tls-cert', flags.tlsCert),
    key: await readFlagFile('--tls-key', flags.tlsKey),
  };
}

/** The client's side: `--tls`, or `--tls-ca FILE` (which implies it). */
export async function clientTls(flags: { tls?: boolean; tlsCa?: string }): Promise<ConnectOptions['tls']> {
  if (!flags.tls && !flags.tlsCa) return undefined;
  return { ca: flags.tlsCa ? await readFlagFile('--tls-ca', flags.tlsCa) : undefined };
}

/** The file a flag names; a missing or unreadable one is one coded line naming the flag. */
function readFlagFile(flag: string, file: string): Promise<Buffer> {
  return onLocalFile(() => readFile(file), `${flag} ${file}`);
}
