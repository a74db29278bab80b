/**
 * What every running server looks like from outside, whatever its protocol.
 */
import { ErrorCode, formatHostPort, SockitError } from '../errors.js';
import { cluster } from './cluster.js';
import type { Logger } from './log.js';

export interface ServiceAddress {
  address: string;
  port: number;
  family: string;
}

/** A listening server: where it is, and how to stop it. */
export interface Service {
  readonly name: string;
  readonly protocol: 'tcp' | 'udp';
  readonly address: ServiceAddress;
  /** Stops accepting, lets work in progress finish (bounded by the drain timeout), then resolves. */
  close(): Promise<void>;
}

/** The message a cluster worker sends its primary once a service listens. */
export interface ListeningMessage {
  type: 'sockit:listening';
  service: string;
  protocol: 'tcp' | 'udp';
  address: string;
  port: number;
}

/**
 * Says where a service listens (`log` is the service's own child logger): one info line in a single process; in a cluster worker a
 * message to the primary instead, which prints one line for all its workers.
 */
export function announceListening(log: Logger, service: Service): void {
  const { address, port } = service.address;
  if (cluster().isWorker && process.send) {
    const message: ListeningMessage = {
      type: 'sockit:listening',
      service: service.name,
      protocol: service.protocol,
      address,
      port,
    };
    process.send(message);
    log.debug({ address, port }, `${service.name}/${service.protocol} listening`);
    return;
  }
  log.info(
    { protocol: service.protocol, address, port },
    `${service.name}/${service.protocol} listening on ${formatHostPort(address, port)}`,
  );
}

/** Checks a numeric option, so that a bad flag is one clear error and not a late surprise. */
export function checkInteger(name: string, value: number, min: number, max: number): number {
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new SockitError(
      ErrorCode.INVALID_ARGUMENT,
      `${name} must be an integer from ${min} to ${max}, got ${value}`,
    );
  }
  return value;
}
