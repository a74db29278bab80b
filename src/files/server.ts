/**
 * `sockit files serve`: the authenticated file service. Users log in with SCRAM-SHA-256
 * (their password never travels) or machines with a shared secret; each user sees only
 * their home folder under the root.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, realpath, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { SecureContextOptions } from 'node:tls';
import { DEFAULT_ITERATIONS, MAX_ITERATIONS, MIN_ITERATIONS } from '../auth/credentials.js';
import { LoginServer } from '../auth/login-server.js';
import type { Limiter } from '../auth/rate-limit.js';
import { SecretKey } from '../auth/secret-key.js';
import type { Quota, UserStore } from '../auth/store.js';
import type { Throttle } from '../auth/throttle.js';
import { ErrorCode, fileError, SockitError } from '../errors.js';
import type { PreLoginLimits } from '../runtime/channel.js';
import { ConfinedRoot } from '../runtime/confine.js';
import type { MaxStartups } from '../runtime/guard.js';
import { type Logger, silentLogger } from '../runtime/log.js';
import { checkInteger } from '../runtime/service.js';
import { type ProcessModel, serveTcp, type TcpService } from '../runtime/tcp.js';
import { DEFAULT_PART_TTL_MS, sweepParts } from './parts.js';
import { FILES_PORT } from './protocol.js';
import { FileSession, type SessionLimits } from './session.js';
import { FileSums } from './sums.js';
import { recordUsage } from './usage.js';

export interface FilesServerOptions {
  /** Folder holding one home per user (created if missing). */
  root: string;
  /** Where accounts are kept (see `openUserStore`). */
  store: UserStore;
  host?: string;
  /** Default 7021; 0 picks a free port. */
  port?: number;
  model?: ProcessModel;
  /** Allow anyone who can connect to create an account. Default false. */
  allowRegister?: boolean;
  /** Shared secret for machine log-ins (mechanism SECRET), made by `sockit secret new`; off when absent. */
  secret?: SecretKey;
  /**
   * Key for the stable fake salts that unknown users are shown. Keep it across restarts
   * (see `loadFakeKey`), or a probe could tell real accounts from the salts that changed.
   */
  fakeKey: Buffer;
  /**
   * PBKDF2 iterations that self-registered accounts need at least, and that unknown users
   * are shown (so they look like accounts made with the default). Default 600,000.
   */
  minIterations?: number;
  /** Largest file, in bytes. Default 64 GiB. */
  maxFileSize?: number;
  /**
   * SHA-256 sums (`sum` requests) computed at once across all connections, one per user at
   * a time; others wait their turn. Default 2.
   */
  maxSums?: number;
  /**
   * The quota of users without one of their own: bytes (0: nothing may be stored), or
   * `'unlimited'` (the default).
   */
  quotaBytes?: Quota;
  maxConnections?: number;
  /** Connections at once from one address. Default 32. */
  maxPerAddress?: number;
  /** Close a connection not logged in this long after it opened, in ms; 0: never. Default 10000. */
  loginTimeoutMs?: number;
  /** Early refusal of connections not logged in (OpenSSH's MaxStartups). Default 10:30:100. */
  maxStartups?: MaxStartups;
  /** Connections not yet logged in at once from one address group. Default 8. */
  maxUnauthenticatedPerAddress?: number;
  /** Connections not yet logged in at once from one network (IPv4 /24, IPv6 /48). Default `maxStartups.full / 4`, at least twice the per-address cap. */
  maxUnauthenticatedPerNetwork?: number;
  /** Log-ins under way spared when a newcomer needs room. Default `maxStartups.full / 2`. */
  maxLoginsUnderWay?: number;
  /** Logged-in connections of one user at once; one more is refused with `ERR_TOO_MANY_CONNECTIONS`. Default 16. */
  maxPerUser?: number;
  /** Connection slots that only connections not yet logged in may use. Default `maxConnections / 16`. */
  loginReserve?: number;
  /** How long a client may take to send the last message of a log-in, in ms. Default 3000. */
  loginStepTimeoutMs?: number;
  /** Message size and whole-message deadline before log-in. Default 64 KiB and 30 s. */
  preLogin?: PreLoginLimits;
  /**
   * After log-in, how long a request may take to arrive whole once its first byte is in, in
   * ms (file bytes are raw runs, not bound by it). Default 120000.
   */
  requestTimeoutMs?: number;
  /** Close a connection silent this long, in ms. Default 300000. */
  idleTimeoutMs?: number;
  /** On close, how long connections may take to finish before they are cut, in ms. Default 10000. */
  drainTimeoutMs?: number;
  /** Certificate and key: serve over TLS. */
  tls?: SecureContextOptions;
  /** Remove an unfinished upload's part untouched this long, in ms. Default a day. */
  partTtlMs?: number;
  /** Back-off for failed log-ins per address. Default: `new Throttle()`. */
  throttle?: Throttle;
  /** Back-off for failed log-ins per account. Default: 10 free failures, then as `throttle`. */
  accountThrottle?: Throttle;
  /**
   * Registrations per address group (an IPv4 /24, an IPv6 /64; default 5, then one per 12
   * minutes) and for the whole server (default 100, then one per 36 s).
   */
  registerPerAddress?: Limiter;
  registerGlobal?: Limiter;
  log?: Logger;
}

/**
 * @example
 * ```ts
 * const store = await openUserStore('sockit-data/sockit.db');
 * const service = await serveFiles({ root: 'sockit-data/files', store, fakeKey: await loadFakeKey('sockit-data') });
 * ```
 */
export async function serveFiles(options: FilesServerOptions): Promise<TcpService> {
  try {
    await mkdir(options.root, { recursive: true, mode: 0o750 });
    await mkdir(path.join(await realpath(options.root), '.parts'), { recursive: true, mode: 0o700 });
  } catch (err) {
    throw fileError(err, 'files root', options.root, 'folder');
  }
  const partTtlMs = checkInteger('partTtlMs', options.partTtlMs ?? DEFAULT_PART_TTL_MS, 1, 2 ** 31 - 1);
  const root = await ConfinedRoot.open(options.root);
  const limits: SessionLimits = {
    maxFileSize: checkInteger(
      'maxFileSize',
      options.maxFileSize ?? 64 * 1024 ** 3,
      0,
      Number.MAX_SAFE_INTEGER,
    ),
    minIterations: checkInteger(
      'minIterations',
      options.minIterations ?? DEFAULT_ITERATIONS,
      MIN_ITERATIONS,
      MAX_ITERATIONS,
    ),
  };
  if (options.secret !== undefined && !(options.secret instanceof SecretKey)) {
    throw new SockitError(ErrorCode.BAD_SECRET, 'the shared secret must be a SecretKey (sockit secret new)');
  }
  const login = new LoginServer({
    service: 'files',
    store: options.store,
    fakeKey: options.fakeKey,
    secret: options.secret,
    allowRegister: options.allowRegister,
    minIterations: limits.minIterations,
    throttle: options.throttle,
    accountThrottle: options.accountThrottle,
    registerPerAddress: options.registerPerAddress,
    registerGlobal: options.registerGlobal,
    stepTimeoutMs: options.loginStepTimeoutMs,
    log: options.log,
  });
  const shared = {
    root,
    store: options.store,
    allowRegister: options.allowRegister ?? false,
    login,
    busy: new Set<string>(),
    sums: new FileSums({ maxAtOnce: checkInteger('maxSums', options.maxSums ?? 2, 1, 1024) }),
    reserved: new Map<string, number>(),
    counting: new Map<string, Promise<number>>(),
    defaultQuota: checkDefaultQuota(options.quotaBytes ?? 'unlimited'),
    limits,
    preLogin: options.preLogin,
    requestTimeoutMs: checkInteger('requestTimeoutMs', options.requestTimeoutMs ?? 120_000, 1, 3_600_000),
  };
  // An expired part's bytes leave its user's usage with it.
  const log = options.log ?? silentLogger;
  const expired = (user: string, bytes: number): Promise<void> =>
    recordUsage(options.store, user, -bytes, log);
  const sweep = (): Promise<unknown> =>
    sweepParts(root, partTtlMs, shared.busy, Date.now(), expired).catch(() => undefined);
  await sweep();
  const sweeper = setInterval(sweep, Math.min(partTtlMs, 60 * 60 * 1000)).unref();
  const service = await serveTcp({
    name: 'files',
    host: options.host,
    port: options.port ?? FILES_PORT,
    model: options.model,
    maxConnections: options.maxConnections,
    login: true,
    maxPerAddress: options.maxPerAddress,
    loginTimeoutMs: options.loginTimeoutMs,
    maxStartups: options.maxStartups,
    maxUnauthenticatedPerAddress: options.maxUnauthenticatedPerAddress,
    maxUnauthenticatedPerNetwork: options.maxUnauthenticatedPerNetwork,
    maxLoginsUnderWay: options.maxLoginsUnderWay,
    maxPerUser: options.maxPerUser,
    loginReserve: options.loginReserve,
    idleTimeoutMs: options.idleTimeoutMs,
    drainTimeoutMs: options.drainTimeoutMs,
    tls: options.tls,
    log: options.log ?? silentLogger,
    handler: (conn) => new FileSession(conn, shared).run(),
  }).catch(async (err: unknown) => {
    clearInterval(sweeper);
    await root.close();
    throw err;
  });
  const close = service.close;
  let closed: Promise<void> | undefined;
  service.close = () => {
    clearInterval(sweeper);
    closed ??= close.call(service).finally(() => root.close());
    return closed;
  };
  return service;
}

function checkDefaultQuota(quota: Quota): Quota {
  if (quota === 'unlimited') return quota;
  return checkInteger('quotaBytes', quota, 0, Number.MAX_SAFE_INTEGER);
}

/**
 * The fake-salt key kept in `dataDir/files.key` (made on first use, readable by the owner
 * only), so that unknown users get the same salts after a restart.
 */
export async function loadFakeKey(dataDir: string): Promise<Buffer> {
  const file = path.join(dataDir, 'files.key');
  try {
    const key = Buffer.from((await readFile(file, 'utf8')).trim(), 'base64');
    if (key.length >= 32) return key;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw fileError(err, 'files data folder', file);
  }
  await mkdir(dataDir, { recursive: true }).catch((err: unknown) => {
    throw fileError(err, 'files data folder', dataDir, 'folder');
  });
  const key = randomBytes(32);
  await writeFile(file, `${key.toString('base64')}\n`, { mode: 0o600, flag: 'wx' }).catch(async (err) => {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST')
      throw fileError(err, 'files data folder', file, 'create');
  });
  return Buffer.from((await readFile(file, 'utf8')).trim(), 'base64');
}
