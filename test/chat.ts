/**
 * A chat hub with a hand-set clock and clients that collect what is delivered to them: the
 * hub's rules exercised without sockets. Every outcome goes through `Harness.route`, which
 * fails the test if a delivery names a session that does not exist.
 */
import { expect } from 'vitest';
import { ChatHub, type ChatHubOptions } from '../src/chat/hub.js';
import type { ChatCommand, ChatEvent, Delivery, Effect, Outcome } from '../src/chat/protocol.js';
import type { ErrorCode } from '../src/errors.js';

/** 2023-11-14T22:13:20Z: a fixed start for the hand-set clock. */
export const T0 = 1_700_000_000_000;

export interface Received {
  event: ChatEvent;
  echo: boolean;
}

export class Harness {
  now = T0;
  readonly hub: ChatHub;
  readonly clients = new Map<string, Client>();
  /** Every effect, in order. */
  readonly effects: Effect[] = [];

  constructor(options: Omit<ChatHubOptions, 'now'> = {}) {
    this.hub = new ChatHub({ ...options, now: () => this.now });
  }

  advance(ms: number): void {
    this.now += ms;
  }

  /** A connected session that has not registered yet. */
  connect(): Client {
    const opened = this.hub.open();
    expect(opened.refusal, 'open').toBeUndefined();
    const client = new Client(this, opened.session as string);
    this.clients.set(client.id, client);
    return client;
  }

  guest(nick: string): Client {
    const client = this.connect();
    client.ok({ type: 'nick', nick });
    return client;
  }

  account(name: string, options: { admin?: boolean } = {}): Client {
    const client = this.connect();
    const outcome = this.route(this.hub.authenticate(client.id, name, options));
    expect(outcome.refusal, `log-in of ${name}`).toBeUndefined();
    return client;
  }

  /** Hands every delivery to its clients and keeps the effects. */
  route(outcome: Outcome): Outcome {
    for (const delivery of outcome.deliveries) this.#deliver(delivery);
    this.effects.push(...outcome.effects);
    return outcome;
  }

  #deliver(delivery: Delivery): void {
    expect(new Set(delivery.to).size, 'a session is named once per delivery').toBe(delivery.to.length);
    for (const id of delivery.to) {
      const client = this.clients.get(id);
      expect(client, `delivery to unknown session ${id}`).toBeDefined();
      client?.inbox.push({ event: delivery.event, echo: delivery.echo === true });
    }
  }

  tick(): Outcome {
    return this.route(this.hub.tick());
  }

  /** Forgets every event received so far, by every client. */
  clearAll(): void {
    for (const client of this.clients.values()) client.inbox.length = 0;
  }
}

export class Client {
  readonly inbox: Received[] = [];

  constructor(
    readonly harness: Harness,
    readonly id: string,
  ) {}

  send(command: ChatCommand): Outcome {
    return this.harness.route(this.harness.hub.handle(this.id, command));
  }

  /** Sends a command that must be accepted. */
  ok(command: ChatCommand): Outcome {
    const outcome = this.send(command);
    expect(outcome.refusal, JSON.stringify(command).slice(0, 200)).toBeUndefined();
    return outcome;
  }

  /** Sends a command that must be refused with `code`; nothing may be delivered. */
  refused(command: ChatCommand, code: ErrorCode): Outcome {
    const outcome = this.send(command);
    expect(outcome.refusal?.code, JSON.stringify(command).slice(0, 200)).toBe(code);
    expect(outcome.refusal?.message).not.toMatch(/\n/);
    expect(outcome.deliveries.filter((d) => d.event.type !== 'quit' && d.event.type !== 'part')).toEqual([]);
    return outcome;
  }

  close(reason?: string): Outcome {
    return this.harness.route(this.harness.hub.close(this.id, reason));
  }

  get nick(): string | undefined {
    return this.harness.hub.nickOf(this.id);
  }

  /** The events of one type received so far. */
  events<T extends ChatEvent['type']>(type: T): Extract<ChatEvent, { type: T }>[] {
    return this.inbox
      .filter((r) => r.event.type === type)
      .map((r) => r.event as Extract<ChatEvent, { type: T }>);
  }

  /** Texts of the messages received (echoes included), in order. */
  texts(): string[] {
    return this.events('message').map((e) => e.message.text);
  }

  clear(): void {
    this.inbox.length = 0;
  }
}
