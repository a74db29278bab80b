/**
 * Which echoes are this client's own. The hub marks a message going back to its sender's
 * sessions as an echo; an IRC client sees its own only with echo-message, but the other
 * sessions of the same account must see it as any message. An echo delivered while this
 * client's command runs is its own; so is one that comes later, held behind a history page
 * being read, for a message this client sent: those are remembered, oldest first.
 */
import type { ChatCommand } from '../protocol.js';

/** Messages remembered while their echo is held (a client cannot have more in flight and read). */
const MAX_HELD = 256;

export class Echoes {
  #sending = false;
  #echoed = false;
  readonly #held: string[] = [];

  /** Runs `command` through `send`; echoes delivered meanwhile are its own. */
  send<T>(command: ChatCommand, send: () => T | undefined): T | undefined {
    this.#sending = true;
    this.#echoed = false;
    let refusal: T | undefined;
    try {
      refusal = send();
    } finally {
      this.#sending = false;
    }
    if (refusal === undefined && (command.type === 'say' || command.type === 'dm') && !this.#echoed) {
      if (this.#held.length >= MAX_HELD) this.#held.shift();
      this.#held.push(typeof command.text === 'string' ? command.text : '');
    }
    return refusal;
  }

  /** Whether an echo of `text` is this client's own message (else another session's). */
  own(text: string): boolean {
    if (this.#sending) {
      this.#echoed = true;
      return true;
    }
    if (this.#held[0] !== text) return false;
    this.#held.shift();
    return true;
  }
}
