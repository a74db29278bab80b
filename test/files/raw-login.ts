/** A SCRAM log-in over a bare Channel, for tests that then send what the client library would not. */
import { createHash } from 'node:crypto';
import { expect } from 'vitest';
import { ScramClient } from '../../src/auth/scram.js';
import type { Channel } from '../../src/runtime/channel.js';

/** Reads the greeting and logs in as `user`; fails the test if the server refuses. */
export async function scramLogin(channel: Channel, user = 'ann', password = 'correct horse'): Promise<void> {
  await channel.receive(); // hello
  const scram = new ScramClient(user, password);
  channel.send({ op: 'auth', mechanism: 'SCRAM-SHA-256', data: scram.first() });
  const first = await channel.receive();
  channel.send({ op: 'auth-final', data: await scram.final(String(first.header.data)) });
  expect((await channel.receive()).header.ok).toBe(true);
}

/**
 * Sends a whole eager put (put, put-from, the bytes, put-end) without waiting for an answer;
 * `sha256` replaces the hash sent in its put-end.
 */
export function sendEagerPut(
  channel: Channel,
  at: string,
  data: Buffer,
  fields: Record<string, unknown> = {},
  sha256 = createHash('sha256').update(data).digest('hex'),
): void {
  channel.send({ op: 'put', path: at, size: data.length, eager: true, ...fields });
  channel.send({ op: 'put-from', offset: 0 });
  channel.socket.write(data);
  channel.send({ op: 'put-end', sha256 });
}
