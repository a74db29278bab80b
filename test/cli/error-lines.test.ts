/**
 * Every failure a user can cause, across the commands, ends in one line on stderr,
 * `sockit: ... [ERR_X]`, without a stack trace, and exits with the status of its kind
 * (docs/cli.md, "Exit codes"); Ctrl-C ends a client command with one line and 130.
 */
import dgram from 'node:dgram';
import { once } from 'node:events';
import { chmodSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ExitStatus } from '../../src/cli/exit-status.js';
import { errorLine, freePort, type Server, sockit, startServer } from '../helpers.js';
import { selfSignedCertificate } from '../tls.js';
import { type FilesFixture, startFilesFixture } from './files-fixture.js';

const { NOT_FOUND, AUTH, NETWORK, REFUSED, PROTOCOL, USAGE, FAILURE, INTERRUPTED } = ExitStatus;

interface Case {
  args: string[];
  status: ExitStatus;
  code: string;
  /** Words the line must hold. */
  says?: string;
  /** Added to the environment of the fixture (SOCKIT_PASSWORD is unset unless given). */
  env?: Record<string, string>;
}

let dir: string;
let files: FilesFixture;
let tftp: Server;
let tlsEcho: Server;
let closed: number;
let silent: dgram.Socket;
let taken: net.Server;
/** A TCP server that answers whatever comes with other bytes: not an echo. */
let noEcho: net.Server;
let at: {
  files: string;
  noEcho: string;
  tftp: string;
  tls: string;
  closed: string;
  silent: string;
  taken: number;
};
/** Local paths: a file, a folder, what does not exist, keys and certificates. */
let p: Record<'file' | 'missing' | 'passphrase' | 'cert' | 'key', string>;

beforeAll(async () => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'sockit-error-lines-'));
  files = await startFilesFixture('sockit-error-lines-files-', { ann: 'right password' });
  mkdirSync(path.join(files.home('ann'), 'taken'), { recursive: true });
  const tftpRoot = path.join(dir, 'tftp');
  mkdirSync(tftpRoot);
  tftp = await startServer(['tftp', 'serve', '--root', tftpRoot, '--host', '127.0.0.1', '--port', '0'], 1);
  // A certificate for "localhost" only: connecting by 127.0.0.1 does not match it.
  const { cert, key } = selfSignedCertificate(dir, 'DNS:localhost');
  tlsEcho = await startServer(
    ['echo', 'serve', '--host', '127.0.0.1', '--port', '0', '--tls-cert', cert, '--tls-key', key],
    1,
  );
  closed = await freePort();
  silent = dgram.createSocket('udp4');
  await new Promise<void>((resolve) => silent.bind(0, '127.0.0.1', resolve));
  taken = net.createServer();
  await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
  // Not the file server: the cases run at once, and a bench's garbage from 127.0.0.1 would
  // count against that address there while another case logs in from it.
  noEcho = net.createServer((socket) => {
    socket.on('error', () => {});
    socket.on('data', (d: Buffer) => socket.write(Buffer.alloc(d.length, 0x78)));
  });
  await new Promise<void>((resolve) => noEcho.listen(0, '127.0.0.1', resolve));
  at = {
    files: files.where,
    noEcho: `127.0.0.1:${(noEcho.address() as net.AddressInfo).port}`,
    tftp: `127.0.0.1:${tftp.listening[0]?.port}`,
    tls: `127.0.0.1:${tlsEcho.listening[0]?.port}`,
    closed: `127.0.0.1:${closed}`,
    silent: `127.0.0.1:${silent.address().port}`,
    taken: (taken.address() as net.AddressInfo).port,
  };
  const file = path.join(dir, 'plain.txt');
  writeFileSync(file, 'not a key, not a certificate\n');
  const passphrase = path.join(dir, 'passphrase');
  writeFileSync(passphrase, 'correct horse battery staple\n');
  chmodSync(passphrase, 0o600);
  p = { file, missing: path.join(dir, 'missing'), passphrase, cert, key };
}, 60_000);

afterAll(async () => {
  silent?.close();
  taken?.close();
  noEcho?.close();
  await Promise.all([files?.stop(), tftp?.stop(), tlsEcho?.stop()]);
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** Each case is made once the fixtures exist (their ports and paths are in the arguments). */
const cases: Array<[string, () => Case]> = [
  // 2: the command line.
  ['an unknown option', () => ({ args: ['echo', 'serve', '--prot', '7'], status: USAGE, code: 'ERR_USAGE' })],
  [
    'a port out of range',
    () => ({ args: ['nc', '127.0.0.1', '99999'], status: USAGE, code: 'ERR_INVALID_ARGUMENT' }),
  ],
  ['nc without HOST PORT', () => ({ args: ['nc'], status: USAGE, code: 'ERR_INVALID_ARGUMENT' })],
  [
    'an address that is none',
    () => ({ args: ['ip', 'nonsense'], status: USAGE, code: 'ERR_INVALID_ARGUMENT' }),
  ],
  ['a prefix too long', () => ({ args: ['ip', '10.0.0.0/33'], status: USAGE, code: 'ERR_INVALID_ARGUMENT' })],
  [
    'a bad TFTP host',
    () => ({ args: ['tftp', 'get', 'bad::host', 'x'], status: USAGE, code: 'ERR_INVALID_ARGUMENT' }),
  ],
  [
    'bench without a port',
    () => ({ args: ['echo', 'bench', '127.0.0.1'], status: USAGE, code: 'ERR_INVALID_ARGUMENT' }),
  ],
  [
    'a bench longer than an hour',
    () => ({
      args: ['echo', 'bench', at.closed, '-d', '99999'],
      status: USAGE,
      code: 'ERR_USAGE',
      says: '3600 seconds',
    }),
  ],
  [
    'a bench message larger than a datagram',
    () => ({
      args: ['echo', 'bench', at.closed, '--udp', '-s', '70000'],
      status: USAGE,
      code: 'ERR_INVALID_ARGUMENT',
      says: 'at most 65507 with --udp',
    }),
  ],
  [
    'a datagram size of 0 (the socket was left open: nc hung)',
    () => ({
      args: ['nc', '-u', '--datagram-size', '0', '127.0.0.1', String(closed)],
      status: USAGE,
      code: 'ERR_USAGE',
    }),
  ],
  ...(['rm', 'mkdir', 'download'] as const).map((command): [string, () => Case] => [
    `files ${command} of an empty path (the server ended the connection on it)`,
    () => ({
      args: ['files', command, '-u', 'ann', at.closed, ...(command === 'rm' ? ['a', ''] : [''])],
      status: USAGE,
      code: 'ERR_USAGE',
      says: 'an empty PATH names nothing',
    }),
  ]),
  [
    'an unknown socket state',
    () => ({ args: ['ports', '--state', 'bogus'], status: USAGE, code: 'ERR_INVALID_ARGUMENT' }),
  ],
  [
    'a user name with a space',
    () => ({
      args: ['users', 'add', 'bad name', '--iterations', '4096'],
      env: { SOCKIT_PASSWORD: 'pw' },
      status: USAGE,
      code: 'ERR_BAD_USER_NAME',
    }),
  ],
  [
    '--tls-cert without --tls-key',
    () => ({
      args: ['echo', 'serve', '--port', '0', '--tls-cert', p.cert],
      status: USAGE,
      code: 'ERR_INVALID_ARGUMENT',
    }),
  ],
  [
    'a certificate that is no PEM',
    () => ({
      args: ['echo', 'serve', '--port', '0', '--tls-cert', p.file, '--tls-key', p.file],
      status: USAGE,
      code: 'ERR_INVALID_ARGUMENT',
      says: 'give PEM files that belong together',
    }),
  ],
  [
    'a folder to upload by TFTP',
    () => ({
      args: ['tftp', 'put', at.tftp, dir],
      status: USAGE,
      code: 'ERR_INVALID_ARGUMENT',
      says: 'is not a file',
    }),
  ],
  [
    'a file as the files root',
    () => ({
      args: ['files', 'serve', '--port', '0', '--root', p.file],
      status: USAGE,
      code: 'ERR_INVALID_ARGUMENT',
      says: `${p.file} is a file; give a folder`,
    }),
  ],
  // 3: what does not exist, here or there.
  [
    'a missing certificate file',
    () => ({
      args: ['echo', 'serve', '--port', '0', '--tls-cert', p.missing, '--tls-key', p.key],
      status: NOT_FOUND,
      code: 'ERR_NOT_FOUND',
      says: `--tls-cert: ${p.missing} does not exist`,
    }),
  ],
  [
    'a missing file to upload by TFTP',
    () => ({
      args: ['tftp', 'put', at.tftp, p.missing],
      status: NOT_FOUND,
      code: 'ERR_NOT_FOUND',
      says: p.missing,
    }),
  ],
  [
    'a download into a missing folder',
    () => ({
      args: ['tftp', 'get', at.silent, 'x', path.join(p.missing, 'x')],
      status: NOT_FOUND,
      code: 'ERR_NOT_FOUND',
      says: 'the folder it goes in does not exist',
    }),
  ],
  [
    'a file the TFTP server lacks',
    () => ({
      args: ['tftp', 'get', at.tftp, 'nothing.bin', path.join(dir, 'nothing.bin')],
      status: NOT_FOUND,
      code: 'ERR_TFTP_REMOTE',
      says: 'TFTP error 1 (file not found)',
    }),
  ],
  [
    'a missing TFTP root',
    () => ({
      args: ['tftp', 'serve', '--root', p.missing, '--port', '0'],
      status: NOT_FOUND,
      code: 'ERR_NOT_FOUND',
      says: `${p.missing} does not exist`,
    }),
  ],
  [
    'a key into a missing folder',
    () => ({ args: ['secret', 'new', path.join(p.missing, 'k')], status: NOT_FOUND, code: 'ERR_NOT_FOUND' }),
  ],
  [
    'a data folder under a file',
    () => ({
      args: [
        'serve',
        '--data-dir',
        path.join(p.file, 'd'),
        '--echo-port',
        '0',
        '--tftp-port',
        '0',
        '--files-port',
        '0',
      ],
      status: NOT_FOUND,
      code: 'ERR_NOT_FOUND',
      says: '--data-dir',
    }),
  ],
  [
    'removing a user that does not exist',
    () => ({ args: ['users', 'remove', 'nobody'], status: NOT_FOUND, code: 'ERR_USER_NOT_FOUND' }),
  ],
  [
    'a missing --secret-file',
    () => ({
      args: ['files', 'ls', `ann@${at.files}`, '--secret-file', p.missing],
      status: NOT_FOUND,
      code: 'ERR_NOT_FOUND',
      says: 'sockit secret new',
    }),
  ],
  [
    'a missing --tls-ca',
    () => ({
      args: ['files', 'ls', `ann@${at.tls}`, '--tls-ca', p.missing],
      status: NOT_FOUND,
      code: 'ERR_NOT_FOUND',
      says: '--tls-ca',
    }),
  ],
  [
    'a remote file that does not exist',
    () => ({
      args: ['files', 'download', `ann@${at.files}`, 'nothing', path.join(dir, 'nothing')],
      env: { SOCKIT_PASSWORD: 'right password' },
      status: NOT_FOUND,
      code: 'ERR_NOT_FOUND',
    }),
  ],
  // 4: log-ins and permissions.
  [
    'a wrong password',
    () => ({
      args: ['files', 'ls', `ann@${at.files}`],
      env: { SOCKIT_PASSWORD: 'wrong' },
      status: AUTH,
      code: 'ERR_AUTH_FAILED',
    }),
  ],
  [
    'no password and no terminal',
    () => ({
      args: ['users', 'add', 'newcomer', '--iterations', '4096'],
      status: AUTH,
      code: 'ERR_NO_PASSWORD',
    }),
  ],
  [
    'a passphrase as --secret-file',
    () => ({
      args: ['files', 'ls', `ann@${at.files}`, '--secret-file', p.passphrase],
      status: AUTH,
      code: 'ERR_BAD_SECRET',
    }),
  ],
  [
    'an untrusted certificate',
    () => ({
      args: ['files', 'ls', `ann@${at.tls}`, '--tls'],
      status: AUTH,
      code: 'ERR_TLS_CERTIFICATE',
      says: `the certificate of ${at.tls} is not trusted (self-signed certificate); give the server's certificate`,
    }),
  ],
  [
    'a certificate for another name',
    () => ({
      args: ['files', 'ls', `ann@${at.tls}`, '--tls-ca', p.cert],
      status: AUTH,
      code: 'ERR_TLS_CERTIFICATE',
      says: 'does not name the host connected to; connect by a name it holds (DNS:localhost)',
    }),
  ],
  [
    'an upload to a read-only TFTP server',
    () => ({
      args: ['tftp', 'put', at.tftp, p.file],
      status: AUTH,
      code: 'ERR_TFTP_REMOTE',
      says: 'TFTP error 2',
    }),
  ],
  // 5: the network.
  [
    'nc to a closed port',
    () => ({
      args: ['nc', '127.0.0.1', String(closed)],
      status: NETWORK,
      code: 'ERR_CONNECT_FAILED',
      says: 'ECONNREFUSED',
    }),
  ],
  [
    'bench of a closed port',
    () => ({ args: ['echo', 'bench', at.closed, '-d', '1'], status: NETWORK, code: 'ERR_CONNECT_FAILED' }),
  ],
  [
    'files to a closed port',
    () => ({
      args: ['files', 'ls', `ann@${at.closed}`],
      env: { SOCKIT_PASSWORD: 'right password' },
      status: NETWORK,
      code: 'ERR_CONNECT_FAILED',
      says: `is the server running on ${at.closed}?`,
    }),
  ],
  [
    'a TFTP server that never answers',
    () => ({
      args: ['tftp', 'get', at.silent, 'x', path.join(dir, 'x'), '--timeout', '1', '--retries', '0'],
      status: NETWORK,
      code: 'ERR_TFTP_TIMEOUT',
    }),
  ],
  // 6: refusals.
  [
    'a user that exists',
    () => ({
      args: ['users', 'add', 'ann'],
      env: { SOCKIT_PASSWORD: 'pw' },
      status: REFUSED,
      code: 'ERR_USER_EXISTS',
    }),
  ],
  [
    'a key over a file',
    () => ({
      args: ['secret', 'new', p.file],
      status: REFUSED,
      code: 'ERR_EXISTS',
      says: 'never overwritten',
    }),
  ],
  [
    'a remote folder that exists',
    () => ({
      args: ['files', 'mkdir', `ann@${at.files}`, 'taken'],
      env: { SOCKIT_PASSWORD: 'right password' },
      status: REFUSED,
      code: 'ERR_EXISTS',
    }),
  ],
  // 7: the wrong protocol on the port.
  [
    '--tls against a server without TLS',
    () => ({
      args: ['files', 'ls', `ann@${at.files}`, '--tls'],
      status: PROTOCOL,
      code: 'ERR_TLS_HANDSHAKE',
      says: `the server at ${at.files} did not answer TLS (wrong version number); is it started with --tls-cert and --tls-key?`,
    }),
  ],
  [
    'bench of a server that does not echo',
    () => ({ args: ['echo', 'bench', at.noEcho, '-d', '1'], status: PROTOCOL, code: 'ERR_BAD_REPLY' }),
  ],
  // 1: the rest, and the "no" of nc -z.
  [
    'a port in use',
    () => ({
      args: ['echo', 'serve', '--tcp', '--host', '127.0.0.1', '--port', String(at.taken)],
      status: FAILURE,
      code: 'ERR_ADDRESS_IN_USE',
    }),
  ],
  [
    'an address not of this machine',
    () => ({
      args: ['nc', '-l', '-H', '192.0.2.1', '-p', '0'],
      status: FAILURE,
      code: 'ERR_ADDRESS_UNAVAILABLE',
    }),
  ],
  [
    'a database URL of no known kind',
    () => ({ args: ['users', 'list', '--db', 'bogus://x'], status: FAILURE, code: 'ERR_DATABASE' }),
  ],
  [
    'nc -z on a closed port',
    () => ({ args: ['nc', '-z', '127.0.0.1', String(closed)], status: FAILURE, code: 'ERR_CONNECT_FAILED' }),
  ],
];

describe.concurrent('sockit failures: one coded line, the status of its kind', () => {
  it.each(cases)('%s', async (_name, make) => {
    const c = make();
    const { SOCKIT_PASSWORD: _, ...env } = files.env;
    const r = await sockit(c.args, { env: { ...env, ...c.env } });
    const line = errorLine(r.stderr);
    expect(line).toMatch(/^sockit: \S.* \[ERR_[A-Z_]+\]$/);
    expect(line.endsWith(` [${c.code}]`), line).toBe(true);
    if (c.says) expect(line).toContain(c.says);
    expect(r.code, line).toBe(c.status);
  });
});

describe('Ctrl-C in a client command', () => {
  const interruptedLine = (signal: string) =>
    `sockit: interrupted by ${signal === 'SIGINT' ? 'Ctrl-C (SIGINT)' : signal} [ERR_ABORTED]`;

  it.each([
    ['nc', 'SIGINT'],
    ['echo bench', 'SIGINT'],
    ['nc', 'SIGTERM'],
  ] as const)('stops %s on %s: one line, status 130', async (command, signal) => {
    // A peer that accepts and says nothing: the command is under way once it is connected.
    const peer = net.createServer((socket) => socket.resume());
    await new Promise<void>((resolve) => peer.listen(0, '127.0.0.1', resolve));
    const { port } = peer.address() as net.AddressInfo;
    const args =
      command === 'nc'
        ? ['nc', '127.0.0.1', String(port)]
        : ['echo', 'bench', `127.0.0.1:${port}`, '-d', '30'];
    const r = await sockit(args, { interrupt: { when: once(peer, 'connection'), signal } });
    peer.close();
    expect(errorLine(r.stderr)).toBe(interruptedLine(signal));
    expect(r.code).toBe(INTERRUPTED);
  });

  it.each([
    ['get', 'SIGINT'],
    ['put', 'SIGTERM'],
  ] as const)('aborts a TFTP %s on %s, leaving no part file: one line, status 130', async (verb, signal) => {
    // A server that reads the request and never answers: the transfer waits for it.
    const server = dgram.createSocket('udp4');
    await new Promise<void>((resolve) => server.bind(0, '127.0.0.1', resolve));
    const where = `127.0.0.1:${server.address().port}`;
    const into = mkdtempSync(path.join(dir, 'tftp-interrupted-'));
    const args =
      verb === 'get'
        ? ['tftp', 'get', where, 'x', path.join(into, 'x')]
        : ['tftp', 'put', where, p.file, 'x'];
    const r = await sockit(args, { interrupt: { when: once(server, 'message'), signal } });
    server.close();
    expect(errorLine(r.stderr)).toBe(interruptedLine(signal));
    expect(r.code).toBe(INTERRUPTED);
    expect(readdirSync(into)).toEqual([]);
  });
});
