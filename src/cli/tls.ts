/** The TLS flags every TCP server command shares: `--tls-cert` and `--tls-key`. */
import { readFile } from 'node:fs/promises';
import { createSecureContext, type SecureContextOptions } from 'node:tls';
import type { Command } from 'commander';
import { ErrorCode, fileError, SockitError } from '../errors.js';
import type { ConnectOptions } from '../files/client.js';

export interface TlsFlags {
  tlsCert?: string;
  tlsKey?: string;
}

export function tlsServerOptions(command: Command): Command {
  return command
    .option('--tls-cert <file>', 'serve TCP over TLS with this certificate chain (PEM; with --tls-key)')
    .option('--tls-key <file>', 'private key for --tls-cert (PEM)');
}

/** The certificate and key to serve, or undefined without the flags; checked before any socket is opened. */
export async function loadTls(flags: TlsFlags): Promise<SecureContextOptions | undefined> {
  if (!flags.tlsCert && !flags.tlsKey) return undefined;
  if (!flags.tlsCert || !flags.tlsKey) {
    throw new SockitError(ErrorCode.INVALID_ARGUMENT, '--tls-cert and --tls-key go together');
  }
  const options = {
    cert: await readFlagFile('--tls-cert', flags.tlsCert),
    key: await readFlagFile('--tls-key', flags.tlsKey),
  };
  try {
    createSecureContext(options);
  } catch (err) {
    const why = (err as { reason?: string }).reason ?? (err as Error).message;
    throw new SockitError(
      ErrorCode.INVALID_ARGUMENT,
      `--tls-cert ${flags.tlsCert} and --tls-key ${flags.tlsKey} are not a certificate and its private key ` +
        `(${why}); give PEM files that belong together`,
      { cause: err },
    );
  }
  return options;
}

/** The client's side: `--tls`, or `--tls-ca FILE` (which implies it). */
export async function clientTls(flags: { tls?: boolean; tlsCa?: string }): Promise<ConnectOptions['tls']> {
  if (!flags.tls && !flags.tlsCa) return undefined;
  return { ca: flags.tlsCa ? await readFlagFile('--tls-ca', flags.tlsCa) : undefined };
}

async function readFlagFile(flag: string, file: string): Promise<Buffer> {
  return readFile(file).catch((err: unknown) => {
    throw fileError(err, flag, file);
  });
}
