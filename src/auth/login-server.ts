/**
 * The server side of log-in and registration, for every sockit service: SCRAM-SHA-256
 * (RFC 5802/7677) or a shared secret, over any `LoginTransport`.
 *
 * Throttle policy (OpenSSH/fail2ban style, per address group and per account; an address
 * group is an IPv4 address or an IPv6 /64, see `addressGroup`):
 * - Every checked attempt is recorded as a failure *before* its proof is looked at, and taken
 *   back once the proof is right. N parallel attempts therefore cannot all pass the back-off
 *   check before any of them counts.
 * - An attempt counts against its address from its start, but against the account only once
 *   its proof arrives: one abandoned (timeout, disconnect, eviction) costs the address alone,
 *   so nobody can fill an account's record without guessing.
 * - One attempt per address and one per account may be in flight. Another from the same
 *   address is refused at once; one for an account held by another address waits its turn
 *   (a short queue, a bounded wait), so one address cannot keep the owner out by opening
 *   attempts it never finishes. The client's last message is due within a short step timeout.
 * - An address group that logged in to the account within the last 24 hours (`KnownGroups`)
 *   goes ahead of the others in the queue, and a full queue does not refuse it: a crowd that
 *   knows the name and fills the queue does not keep the owner out.
 * - A refusal at the account's queue (full, or waited too long) is not charged to the
 *   refused attempt's address: no proof was checked, and the crowd must not brake the owner.
 * - An attempt refused while throttled is answered at once with `ERR_THROTTLED` and the wait,
 *   before the account is looked up, so unknown and real names get the same answer in the
 *   same time.
 * - Addresses and accounts have separate back-offs. The address's is the brake on a guesser;
 *   the account's lets more failures go free, so a guesser from one address is stopped before
 *   its owner is: the owner, logging in from elsewhere, meets only the account's own record,
 *   which a many-address attacker must fill (and a success clears).
 */
import type { Logger } from 'pino';
import { ErrorCode, isSockitError, SockitError } from '../errors.js';
import { events } from '../runtime/events.js';
import { addressGroup } from '../runtime/netgroup.js';
import { visible } from '../runtime/text.js';
import { SecretChallengeServer, secretContext } from './challenge.js';
import { DEFAULT_ITERATIONS } from './credentials.js';
import { IterationMix } from './iteration-mix.js';
import { KnownGroups } from './known-groups.js';
import {
  AuthFinal,
  type AuthRequest,
  LoginRequest,
  type LoginTransport,
  outOfStep,
  type RegisterRequest,
  refusal,
  ThrottledError,
} from './login-transport.js';
import { checkUserName } from './names.js';
import { type Limiter, TokenBucket } from './rate-limit.js';
import { ScramServer } from './scram.js';
import type { SecretKey } from './secret-key.js';
import type { UserRecord, UserStore } from './store.js';
import { Throttle } from './throttle.js';

/** Checked log-in attempts a connection may make before it is closed. */
export const MAX_ATTEMPTS = 3;
/** Failed log-ins to one account, from anywhere, before its back-off starts. */
export const ACCOUNT_FREE_FAILURES = 10;

/** Throttled refusals a connection may collect before it is closed. */
export const MAX_THROTTLED = 10;
/** The wait told to an attempt refused because another is in flight for its address or account. */
const IN_FLIGHT_RETRY_MS = 1000;
/** Attempts from other addresses that may wait for an account's slot. */
const ACCOUNT_QUEUE = 8;
/** Of these, or beyond them: attempts from known address groups (see `KnownGroups`). */
const KNOWN_QUEUE = 4;
const GENERIC_REFUSAL = 'invalid username or password';

/** The throttle's keys: failures count per account name and per client address. */
export const throttleKey = {
  user: (name: string): string => `u:${name}`,
  address: (address: string): string => `a:${address}`,
};

export interface LoginServerOptions {
  /** The service's name in `sockit:login` events and metrics. Default `'login'`. */
  service?: string;
  store: UserStore;
  /** Key (32+ bytes) for unknown names' stable fake salts and counts; keep it across restarts. */
  fakeKey: Buffer;
  /** Accept shared-secret log-ins with this key (mechanism SECRET). */
  secret?: SecretKey;
  allowRegister?: boolean;
  /** Least PBKDF2 count a registration may use; also the count shown before any account exists. */
  minIterations?: number;
  /** Back-off per client address. Default `new Throttle()`: 3 free failures, 250 ms doubling to 30 s. */
  throttle?: Throttle;
  /** Back-off per account. Default 10 free failures, then 250 ms doubling to 30 s. */
  accountThrottle?: Throttle;
  /**
   * Registrations per address group (an IPv4 /24, an IPv6 /64: one site); default 5, then
   * one per 12 minutes.
   */
  registerPerAddress?: Limiter;
  /** Registrations for the whole server; default 100, then one per 36 s (100 an hour, steadily). */
  registerGlobal?: Limiter;
  /**
   * How long the client may take between the two messages of an attempt. Default 3 s, plus,
   * for SCRAM, 5 ms per 1,000 PBKDF2 iterations asked of it (6 s at the default 600,000), so a
   * slow client can still derive its key while an abandoned attempt holds an account briefly.
   */
  stepTimeoutMs?: number;
  /** Address groups that logged in lately, per account; they skip the account's queue. */
  knownGroups?: KnownGroups;
  /**
   * How long an attempt may wait for its account's slot, held from another address. Default:
   * the default SCRAM step at 600,000 iterations plus 2 s (8 s), so a held slot is waited out.
   */
  queueTimeoutMs?: number;
  log?: Logger;
}

/** Who is on the other end: the address throttles; the binding ties secret proofs to the channel. */
export interface LoginPeer {
  address: string;
  /** Over TLS: the connection's exporter value (see `tlsExporter`). */
  channelBinding?: Buffer;
  /**
   * Marks the connection's log-in as under way (the guard's `loginStarted`), returning the
   * function that ends the mark. Called once the attempt holds its account's slot, not while
   * it waits in the queue: an attempt stuck in a queue is spared nothing.
   */
  loginStarted?: () => () => void;
  /** The connection's logger (its id and address in each line); default the server's `log`. */
  log?: Logger;
}

export interface LoginResult {
  user: UserRecord;
  mechanism: AuthRequest['mechanism'];
}

/**
 * One per server: the store, the throttles and the in-flight sets that all its connections share.
 *
 * @example
 * ```ts
 * const login = new LoginServer({ store, fakeKey });
 * // a service with no requests of its own before log-in:
 * const { user } = await login.accept(transport, { address: socket.remoteAddress ?? '?' });
 * ```
 */
export class LoginServer {
  readonly #o: LoginServerOptions;
  readonly #throttle: Throttle;
  readonly #accounts: Throttle;
  readonly #perAddress: Limiter;
  readonly #global: Limiter;
  readonly #mix: IterationMix;
  readonly #minIterations: number;
  /** Addresses with an attempt in flight. */
  readonly #inFlight = new Set<string>();
  /** Accounts with an attempt in flight: whose address group holds it, and who waits. */
  readonly #slots = new Map<string, AccountSlot>();
  readonly #known: KnownGroups;

  constructor(options: LoginServerOptions) {
    if (options.fakeKey.length < 32)
      throw new SockitError(ErrorCode.INVALID_ARGUMENT, 'fakeKey must be 32+ bytes');
    this.#o = options;
    this.#throttle = options.throttle ?? new Throttle();
    this.#accounts = options.accountThrottle ?? new Throttle({ freeFailures: ACCOUNT_FREE_FAILURES });
    this.#known = options.knownGroups ?? new KnownGroups();
    this.#perAddress = options.registerPerAddress ?? new TokenBucket({ capacity: 5, refillMs: 720_000 });
    this.#global = options.registerGlobal ?? new TokenBucket({ capacity: 100, refillMs: 36_000 });
    this.#minIterations = options.minIterations ?? DEFAULT_ITERATIONS;
    this.#mix = new IterationMix({
      store: options.store,
      fakeKey: options.fakeKey,
      fallback: this.#minIterations,
    });
    void this.#mix.refresh().catch(() => {});
  }

  /** The mechanisms to offer in a greeting. */
  /** The account as the store holds it now (undefined when it is gone), for what outlives a log-in. */
  account(name: string): Promise<UserRecord | undefined> {
    return this.#o.store.get(name);
  }

  get mechanisms(): string[] {
    return ['SCRAM-SHA-256', ...(this.#o.secret ? ['SECRET'] : [])];
  }

  get allowRegister(): boolean {
    return this.#o.allowRegister ?? false;
  }

  /**
   * Runs log-in (and registrations) until a user is logged in: receives the requests, answers
   * refusals, closes nothing. Throws after `MAX_ATTEMPTS` failures or a message out of step.
   */
  async accept(transport: LoginTransport, peer: LoginPeer): Promise<LoginResult> {
    const counts = { attempts: 0, throttled: 0 };
    for (;;) {
      const parsed = LoginRequest.safeParse(await transport.receive());
      try {
        if (!parsed.success || parsed.data.op === 'auth-final') {
          throw outOfStep(new SockitError(ErrorCode.AUTH_PROTOCOL, 'expected auth or register'));
        }
        if (parsed.data.op === 'register') {
          await this.register(parsed.data, peer);
          await transport.send({ ok: true });
          continue;
        }
        return await this.authenticate(transport, parsed.data, peer, counts);
      } catch (err) {
        if (!isSockitError(err)) throw err;
        await transport.send(refusal(err));
        if (err.code === ErrorCode.AUTH_PROTOCOL) throw err;
      }
    }
  }

  /**
   * One log-in attempt that began with `request` (already received): answers it, takes the
   * client's final message, and on success sends `{ok:true, data, user}` (after `prepare`) and
   * returns the user. On failure throws `ERR_AUTH_FAILED`, `ERR_THROTTLED` (a `ThrottledError`),
   * or an out-of-step error (see `isOutOfStep`); the caller sends the refusal.
   * `counts` is the connection's tally, checked against `MAX_ATTEMPTS` and `MAX_THROTTLED`.
   */
  async authenticate(
    transport: LoginTransport,
    request: AuthRequest,
    peer: LoginPeer,
    counts: { attempts: number; throttled: number },
    prepare?: (user: UserRecord) => Promise<void>,
  ): Promise<LoginResult> {
    const service = this.#o.service ?? 'login';
    const { mechanism } = request;
    const log = peer.log ?? this.#o.log;
    log?.debug({ mechanism, attempt: counts.attempts + 1 }, 'log-in attempt');
    try {
      const result = await this.#authenticate(transport, request, peer, counts, prepare);
      events.login.publish({ service, mechanism, ok: true });
      return result;
    } catch (err) {
      const code = isSockitError(err) ? err.code : ErrorCode.INTERNAL;
      events.login.publish({ service, mechanism, ok: false, code });
      const wait = err instanceof ThrottledError ? { retryAfterMs: err.retryAfterMs } : {};
      log?.debug({ mechanism, code, ...wait }, 'log-in failed');
      throw err;
    }
  }

  async #authenticate(
    transport: LoginTransport,
    request: AuthRequest,
    peer: LoginPeer,
    counts: { attempts: number; throttled: number },
    prepare?: (user: UserRecord) => Promise<void>,
  ): Promise<LoginResult> {
    if (counts.attempts >= MAX_ATTEMPTS || counts.throttled >= MAX_THROTTLED) {
      throw outOfStep(new SockitError(ErrorCode.AUTH_FAILED, GENERIC_REFUSAL));
    }
    if (request.mechanism === 'SECRET' && !this.#o.secret) {
      throw new SockitError(ErrorCode.AUTH_FAILED, 'this server takes no shared-secret log-ins');
    }
    const held: string[] = [];
    let account: string | undefined;
    /** The account whose slot this attempt holds, once it has it. */
    let holding: string | undefined;
    /** Ends the connection's "log-in under way" mark, once set. */
    let underWay: (() => void) | undefined;
    const group = addressGroup(peer.address);
    try {
      const address = throttleKey.address(group);
      // The address's record before the advance failure: a success puts it back as it was.
      const before = this.#throttle.snapshot(address);
      this.#admitAddress(address, held, counts);
      // A refusal at the account's queue takes back the address's advance failure.
      const uncharge = (): void => this.#throttle.restore(address, before);
      let record: UserRecord | undefined;
      let user: string;
      let ok: boolean;
      let final = '';
      if (request.mechanism === 'SCRAM-SHA-256') {
        const scram = new ScramServer({
          fakeKey: this.#o.fakeKey,
          iterations: (name) => this.#mix.countFor(name),
          lookup: async (name) => {
            // Before the lookup, so that a throttled unknown name is answered as a real one.
            account = throttleKey.user(name);
            await this.#admitAccount(account, group, counts, uncharge);
            holding = account;
            underWay = peer.loginStarted?.();
            record = await this.#o.store.get(name);
            return record?.credentials;
          },
        });
        const first = await scram.first(request.data);
        await transport.send({ ok: true, data: first });
        // The count the client was told (RFC 5802 §5.1 `i=`), the same for real and fake names.
        const iterations = Number(/(?:^|,)i=(\d+)/.exec(first)?.[1] ?? 0);
        const answer = await this.#final(transport, iterations);
        // The proof is here: from now on the attempt counts against the account too.
        if (account !== undefined) this.#accounts.failed(account);
        user = scram.user;
        const result = attempt(() => scram.final(answer));
        ok = result?.ok ?? false;
        final = result?.serverFinal ?? '';
      } else {
        const secret = this.#o.secret;
        if (!secret)
          throw new SockitError(ErrorCode.AUTH_FAILED, 'this server takes no shared-secret log-ins');
        user = request.user ?? '';
        account = throttleKey.user(user);
        await this.#admitAccount(account, group, counts, uncharge);
        holding = account;
        underWay = peer.loginStarted?.();
        const context = secretContext(user, peer.channelBinding);
        const challenge = new SecretChallengeServer(secret.bytes, { context });
        const hello = attempt(() => challenge.hello(Buffer.from(request.data, 'base64')));
        if (!hello) throw outOfStep(new SockitError(ErrorCode.AUTH_PROTOCOL, 'malformed challenge'));
        const data = `${hello.serverNonce.toString('base64')},${hello.serverProof.toString('base64')}`;
        await transport.send({ ok: true, data });
        const answer = await this.#final(transport, 0);
        this.#accounts.failed(account);
        record = await this.#o.store.get(user);
        ok = challenge.check(Buffer.from(answer, 'base64')) && record !== undefined;
      }
      counts.attempts++;
      if (!ok || record === undefined) {
        // The name as the client sent it: shown, never able to forge a line of its own.
        (peer.log ?? this.#o.log)?.warn(
          { user: visible(user, 64), mechanism: request.mechanism },
          'log-in refused',
        );
        throw new SockitError(ErrorCode.AUTH_FAILED, GENERIC_REFUSAL);
      }
      // The failures recorded in advance are taken back: the account's record is cleared, the
      // address's is restored as it was before this attempt, failures and time of the last
      // (a success on one's own account must not wipe the address's record of guesses at
      // others, nor restart its wait).
      this.#accounts.succeeded(throttleKey.user(user));
      this.#throttle.restore(address, before);
      this.#known.add(throttleKey.user(user), group);
      await prepare?.(record);
      (peer.log ?? this.#o.log)?.info({ user, mechanism: request.mechanism }, 'logged in');
      await transport.send({ ok: true, data: final, user: record.name });
      return { user: record, mechanism: request.mechanism };
    } finally {
      underWay?.();
      for (const key of held) this.#inFlight.delete(key);
      if (holding !== undefined) this.#releaseAccount(holding);
    }
  }

  /**
   * Refuses at once (`ThrottledError`) an address that is backing off or has an attempt in
   * flight; otherwise holds it in flight and records the failure in advance.
   */
  #admitAddress(key: string, held: string[], counts: { throttled: number }): void {
    const wait = this.#inFlight.has(key) ? IN_FLIGHT_RETRY_MS : this.#throttle.waitFor(key);
    if (wait > 0) {
      counts.throttled++;
      throw new ThrottledError(wait, 'too many log-in attempts');
    }
    this.#inFlight.add(key);
    held.push(key);
    this.#throttle.failed(key);
  }

  /**
   * Takes the account's slot: refused at once while the account backs off, or when the slot is
   * held from the same address group or too many wait; otherwise waits (up to the queue
   * timeout) for an attempt from another address to end. A group that logged in lately waits
   * ahead of the others, and is not refused for a full queue. The failure is recorded later,
   * when the proof arrives; a refusal by the queue calls `uncharge` first.
   */
  async #admitAccount(
    key: string,
    group: string,
    counts: { throttled: number },
    uncharge: () => void,
  ): Promise<void> {
    const refuse = (wait: number, queued = false): never => {
      counts.throttled++;
      if (queued) uncharge();
      throw new ThrottledError(wait, 'too many log-in attempts');
    };
    // An address group that logged in to this account lately is spared the account's
    // back-off (its own address back-off still holds): guessers elsewhere, however many,
    // cannot keep the owner out of its account from where it usually is.
    const familiar = this.#known.has(key, group);
    const backoff = familiar ? 0 : this.#accounts.waitFor(key);
    if (backoff > 0) refuse(backoff);
    const slot = this.#slots.get(key);
    if (slot === undefined) {
      this.#slots.set(key, { group, queue: [] });
    } else {
      const known = this.#known.has(key, group);
      const ahead = slot.queue.findIndex((w) => !w.known);
      const knownWaiting = ahead < 0 ? slot.queue.length : ahead;
      if (
        slot.group === group ||
        slot.queue.some((w) => w.group === group) ||
        (known ? knownWaiting >= KNOWN_QUEUE : slot.queue.length >= ACCOUNT_QUEUE)
      )
        refuse(IN_FLIGHT_RETRY_MS, true);
      const timeoutMs = this.#o.queueTimeoutMs ?? stepTimeout(DEFAULT_ITERATIONS) + 2_000;
      const admitted = await new Promise<boolean>((resolve) => {
        const waiter: Waiter = { group, known, resolve, timer: undefined };
        waiter.timer = setTimeout(() => {
          slot.queue.splice(slot.queue.indexOf(waiter), 1);
          resolve(false);
        }, timeoutMs);
        // Known groups wait behind each other, ahead of everyone else.
        if (known) slot.queue.splice(knownWaiting, 0, waiter);
        else slot.queue.push(waiter);
      });
      if (!admitted) refuse(IN_FLIGHT_RETRY_MS, true);
      // The attempt before may have failed: the account's back-off counts again.
      const after = familiar ? 0 : this.#accounts.waitFor(key);
      if (after > 0) {
        this.#releaseAccount(key);
        refuse(after);
      }
    }
  }

  /** Hands the account's slot to the next waiter, or frees it. */
  #releaseAccount(key: string): void {
    const slot = this.#slots.get(key);
    const next = slot?.queue.shift();
    if (slot === undefined) return;
    if (next === undefined) {
      this.#slots.delete(key);
      return;
    }
    clearTimeout(next.timer);
    slot.group = next.group;
    next.resolve(true);
  }

  async #final(transport: LoginTransport, iterations: number): Promise<string> {
    const timeoutMs = this.#o.stepTimeoutMs ?? stepTimeout(iterations);
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(outOfStep(new SockitError(ErrorCode.IDLE_TIMEOUT, 'log-in not finished in time'))),
        timeoutMs,
      );
    });
    try {
      const parsed = AuthFinal.safeParse(await Promise.race([transport.receive(), late]));
      if (!parsed.success) throw outOfStep(new SockitError(ErrorCode.AUTH_PROTOCOL, 'expected auth-final'));
      return parsed.data.data;
    } finally {
      clearTimeout(timer);
    }
  }

  /** Checks and stores a registration; `ERR_THROTTLED` past the per-address or global rate. */
  async register(request: RegisterRequest, peer: LoginPeer): Promise<string> {
    if (!this.allowRegister)
      throw new SockitError(ErrorCode.FORBIDDEN, 'this server does not take registrations');
    const name = checkUserName(request.user);
    if (request.iterations < this.#minIterations) {
      throw new SockitError(
        ErrorCode.BAD_REQUEST,
        `at least ${this.#minIterations} PBKDF2 iterations are required`,
      );
    }
    const key = (b64: string, what: string): Buffer => {
      const buffer = Buffer.from(b64, 'base64');
      if (buffer.length !== 32) throw new SockitError(ErrorCode.BAD_REQUEST, `${what} must be 32 bytes`);
      return buffer;
    };
    const salt = Buffer.from(request.salt, 'base64');
    if (salt.length < 16 || salt.length > 64)
      throw new SockitError(ErrorCode.BAD_REQUEST, 'salt must be 16 to 64 bytes');
    const credentials = {
      salt,
      iterations: request.iterations,
      storedKey: key(request.storedKey, 'storedKey'),
      serverKey: key(request.serverKey, 'serverKey'),
    };
    // Counted only for well-formed requests, the address group first so one site cannot use
    // up the global allowance.
    const address = throttleKey.address(addressGroup(peer.address, { v4Prefix: 24 }));
    const wait = this.#perAddress.take(address);
    if (wait > 0) throw new ThrottledError(wait, 'too many registrations from this address');
    const globalWait = this.#global.take('all');
    if (globalWait > 0) {
      this.#perAddress.undo(address);
      throw new ThrottledError(globalWait, 'too many registrations');
    }
    await this.#o.store.add(name, credentials);
    (peer.log ?? this.#o.log)?.info({ user: name }, 'registered');
    return name;
  }
}

/** An attempt waiting for an account's slot. */
interface Waiter {
  group: string;
  /** From a group that logged in to the account lately: waits ahead of the others. */
  known: boolean;
  resolve: (admitted: boolean) => void;
  timer: NodeJS.Timeout | undefined;
}

/** An account's in-flight slot: the address group whose attempt holds it, and who waits. */
interface AccountSlot {
  group: string;
  queue: Waiter[];
}

/** The result of an authentication step, or undefined when the peer's message broke the protocol. */
function attempt<T>(step: () => T): T | undefined {
  try {
    return step();
  } catch (err) {
    if (isSockitError(err, ErrorCode.AUTH_PROTOCOL)) return undefined;
    throw err;
  }
}

/** The default time for a client's second message: 3 s, plus 5 ms per 1,000 PBKDF2 iterations. */
function stepTimeout(iterations: number): number {
  return 3_000 + Math.ceil(iterations / 200);
}
