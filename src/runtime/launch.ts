/**
 * Runs services under a concurrency model and stops them gracefully on SIGINT/SIGTERM.
 *
 * - `event-loop`: one process, every connection at once (the default).
 * - `iterative`: one process, one connection at a time (the classic first server).
 * - `cluster`: a primary forks N workers running the event-loop model; the primary accepts
 *   and hands connections round-robin to workers, restarts a worker that dies, and stops them
 *   all on a signal.
 *
 * In cluster mode the program is executed again in each worker, so the code that calls
 * `launch()` must reach it the same way in every process (as a CLI does).
 */
import type { Worker } from 'node:cluster';
import os from 'node:os';
import { ErrorCode, formatHostPort, SockitError } from '../errors.js';
import { cluster } from './cluster.js';
import type { Logger } from './log.js';
import { counted } from './plural.js';
import { checkInteger, type ListeningMessage, type Service } from './service.js';
import type { ProcessModel } from './tcp.js';

export const SERVER_MODELS = ['event-loop', 'iterative', 'cluster'] as const;
export type ServerModel = (typeof SERVER_MODELS)[number];

export interface LaunchOptions {
  model: ServerModel;
  /** Worker processes for `cluster`; default: one per CPU. */
  workers?: number;
  log: Logger;
  /** Install SIGINT/SIGTERM handlers. Default true. */
  handleSignals?: boolean;
  /** How long a cluster worker may take to stop before it is killed, in ms. Default 15000. */
  stopTimeoutMs?: number;
}

export interface Launched {
  /** Stops everything gracefully; resolves when stopped. */
  stop(): Promise<void>;
  /** Resolves once stopped, by `stop()` or by a signal. */
  readonly stopped: Promise<void>;
  /** The services of this process (empty in a cluster primary, whose workers hold them). */
  readonly services: readonly Service[];
}

interface ShutdownMessage {
  type: 'sockit:shutdown';
}
interface ReadyMessage {
  type: 'sockit:ready';
}
interface FailedMessage {
  type: 'sockit:failed';
  code: ErrorCode;
  message: string;
}
type WorkerMessage = ListeningMessage | ReadyMessage | FailedMessage;

/**
 * In a cluster worker, hands a start-up failure to the primary, which reports it once for
 * all workers and stops; returns false (and does nothing) outside a worker.
 */
export function reportWorkerFailure(err: SockitError): boolean {
  if (!cluster().isWorker || !process.send) return false;
  const failed: FailedMessage = { type: 'sockit:failed', code: err.code, message: err.message };
  // Once the report is out, close the channel so that this worker can exit.
  process.send(failed, () => cluster().worker?.disconnect());
  return true;
}

/**
 * Starts services with `start(model)` under the chosen model and wires graceful shutdown.
 *
 * @example
 * ```ts
 * const launched = await launch({ model: 'cluster', workers: 4, log }, async (model) => [
 *   await serveTcp({ name: 'echo', port: 7007, model, handler: echoHandler }),
 * ]);
 * await launched.stopped;
 * ```
 */
export async function launch(
  options: LaunchOptions,
  start: (model: ProcessModel) => Promise<Service[]>,
): Promise<Launched> {
  if (options.model === 'cluster' && cluster().isPrimary) return runPrimary(options);
  const model: ProcessModel = options.model === 'iterative' ? 'iterative' : 'event-loop';
  const log = options.log;
  const handleSignals = options.handleSignals ?? true;
  // One signal handler for the whole life of the services, installed before the first of
  // them announces itself. A SIGINT that follows a "listening" line at once must stop the
  // server gracefully. Swapping handlers after start-up lost such signals: removing Node's
  // last listener stops its watcher (a signal caught by it but not yet dispatched is
  // dropped) and restores the default action (which kills) until the next one is added.
  let stopRequested: NodeJS.Signals | undefined;
  let stop: (() => Promise<void>) | undefined;
  let stopping: Promise<void> | undefined;
  const onSignal = (signal: NodeJS.Signals): void => {
    if (stopping || (stopRequested && !stop)) {
      log.warn(`${signal} again: exiting now`);
      process.exit(130);
    }
    if (!cluster().isWorker) log.info({ signal }, 'shutting down');
    stopRequested = signal;
    if (stop) void stop();
  };
  const onMessage = (message: unknown): void => {
    if ((message as ShutdownMessage | undefined)?.type === 'sockit:shutdown') void stop?.();
  };
  const unlisten = (): void => {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    process.off('message', onMessage);
  };
  if (handleSignals) {
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
  }
  let services: Service[];
  try {
    services = await start(model);
  } catch (err) {
    unlisten();
    throw err;
  }
  if (cluster().isWorker && process.send) {
    const ready: ReadyMessage = { type: 'sockit:ready' };
    process.send(ready);
  }

  let resolveStopped!: () => void;
  const stopped = new Promise<void>((resolve) => {
    resolveStopped = resolve;
  });
  stop = (): Promise<void> => {
    stopping ??= Promise.all(services.map((s) => s.close())).then(() => {
      unlisten();
      // A worker's channel to its primary keeps it alive; closing the channel lets it exit.
      if (cluster().isWorker) cluster().worker?.disconnect();
      resolveStopped();
    });
    return stopping;
  };
  if (cluster().isWorker) process.on('message', onMessage);
  // A signal during start-up: stop now that there is something to stop.
  if (stopRequested) void stop();
  return { stop, stopped, services };
}

async function runPrimary(options: LaunchOptions): Promise<Launched> {
  const log = options.log;
  const count = checkInteger('workers', options.workers ?? os.availableParallelism(), 1, 1024);
  const stopTimeoutMs = options.stopTimeoutMs ?? 15_000;
  const workers = new Set<Worker>();
  const announced = new Set<string>();
  let stopping: Promise<void> | undefined;
  let restarts: number[] = [];

  let resolveStopped!: () => void;
  const stopped = new Promise<void>((resolve) => {
    resolveStopped = resolve;
  });

  let failStart!: (err: Error) => void;
  let started!: () => void;
  const ready = new Promise<void>((resolve, reject) => {
    started = resolve;
    failStart = reject;
  });
  let readyWorkers = 0;
  let everReady = false;

  /** Stops every worker: gracefully by message, or with SIGTERM when start-up failed. */
  const stop = (how: 'graceful' | 'terminate' = 'graceful'): Promise<void> => {
    stopping ??= new Promise<void>((resolve) => {
      const kill = setTimeout(() => {
        for (const worker of workers) {
          log.warn({ worker: worker.process.pid }, 'worker did not stop in time: killing it');
          worker.process.kill('SIGKILL');
        }
      }, stopTimeoutMs);
      const check = (): void => {
        if (workers.size > 0) return;
        clearTimeout(kill);
        process.off('SIGINT', onSignal);
        process.off('SIGTERM', onSignal);
        resolve();
        resolveStopped();
      };
      cluster().on('exit', check);
      const shutdown: ShutdownMessage = { type: 'sockit:shutdown' };
      for (const worker of workers) {
        if (how === 'terminate' || !worker.isConnected()) worker.process.kill('SIGTERM');
        // A worker that is exiting may have closed its channel already; its exit still counts.
        else worker.send(shutdown, undefined, () => {});
      }
      check();
    });
    return stopping;
  };

  const fork = (): void => {
    const worker = cluster().fork();
    workers.add(worker);
    // The channel to a dying worker fails with EPIPE; its 'exit' is what matters.
    worker.on('error', (err) =>
      log.debug({ worker: worker.process.pid, err: err.message }, 'worker channel error'),
    );
    worker.on('message', (message: WorkerMessage) => {
      if (message?.type === 'sockit:listening') {
        const key = `${message.service}/${message.protocol}/${message.address}/${message.port}`;
        if (!announced.has(key)) {
          announced.add(key);
          log.info(
            {
              service: message.service,
              protocol: message.protocol,
              address: message.address,
              port: message.port,
            },
            `${message.service}/${message.protocol} listening on ${formatHostPort(message.address, message.port)} ` +
              `(cluster, ${counted(count, 'worker')})`,
          );
        }
      } else if (message?.type === 'sockit:ready') {
        readyWorkers++;
        if (readyWorkers >= count) {
          everReady = true;
          started();
        }
      } else if (message?.type === 'sockit:failed') {
        failStart(new SockitError(message.code, message.message));
      }
    });
    worker.on('exit', (code, signal) => {
      workers.delete(worker);
      if (stopping) return;
      if (!everReady) {
        failStart(new SockitError(ErrorCode.INTERNAL, `a worker exited during start-up (code ${code})`));
        return;
      }
      const now = Date.now();
      restarts = restarts.filter((t) => now - t < 60_000);
      if (restarts.length >= 10) {
        log.error('workers keep dying (10 in a minute): stopping');
        void stop();
        return;
      }
      restarts.push(now);
      log.error({ worker: worker.process.pid, code, signal }, 'worker died: starting a new one');
      fork();
    });
  };

  const onSignal = (signal: NodeJS.Signals): void => {
    if (stopping) {
      log.warn(`${signal} again: exiting now`);
      for (const worker of workers) worker.process.kill('SIGKILL');
      process.exit(130);
    }
    log.info({ signal }, 'shutting down');
    void stop();
  };
  if (options.handleSignals ?? true) {
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
  }

  // Start-up is complete when every worker reports ready; the first failure rejects.
  for (let i = 0; i < count; i++) fork();
  try {
    await ready;
  } catch (err) {
    await stop('terminate');
    throw err;
  }
  return { stop, stopped, services: [] };
}
