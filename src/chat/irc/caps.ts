/**
 * IRCv3 capability negotiation (`CAP LS [302]`, `REQ`, `LIST`, `END`). A client that starts
 * it holds its registration until `CAP END`. SASL is offered only over TLS: PLAIN sends the
 * password itself, which plain TCP would show to anyone on the path.
 */

/** What this server can do, in the order `CAP LS` lists it. */
export const CAPABILITIES = [
  'away-notify',
  'batch',
  'cap-notify',
  'draft/chathistory',
  'echo-message',
  'message-tags',
  'multi-prefix',
  'sasl',
  'server-time',
] as const;

export type Capability = (typeof CAPABILITIES)[number];

/** Capabilities one `REQ` may name; a longer list is refused whole. */
const MAX_REQUESTED = 32;

/** What a CAP command produced: replies (each `CAP` parameters after the nick), and whether negotiation ended. */
export interface CapOutcome {
  replies: string[][];
  /** A subcommand the server does not know: answer 410 ERR_INVALIDCAPCMD. */
  invalid?: string;
}

/** One connection's capabilities. */
export class Capabilities {
  readonly #enabled = new Set<Capability>();
  readonly #offered: readonly Capability[];
  /** A `CAP LS` or `REQ` came before registration, and `CAP END` has not come yet. */
  negotiating = false;
  /** The CAP version the client announced (`CAP LS 302`), 0 before. */
  version = 0;

  constructor(options: { tls: boolean }) {
    this.#offered = CAPABILITIES.filter((cap) => cap !== 'sasl' || options.tls);
  }

  #form = 0;

  /** Which form of a message this connection takes: 1 with server-time, + 2 with message-tags. */
  get form(): number {
    return this.#form;
  }

  has(cap: Capability): boolean {
    return this.#enabled.has(cap);
  }

  /** Whether SASL is on offer (over TLS) at all. */
  get offersSasl(): boolean {
    return this.#offered.includes('sasl');
  }

  /** Handles `CAP <params>`; `registered` says whether the client has registered. */
  handle(params: string[], registered: boolean): CapOutcome {
    const sub = (params[0] ?? '').toUpperCase();
    switch (sub) {
      case 'LS': {
        if (!registered) this.negotiating = true;
        const version = Number(params[1] ?? 0);
        if (Number.isInteger(version) && version > this.version) this.version = Math.min(version, 302);
        const list = this.#offered.map((cap) => (cap === 'sasl' && this.version >= 302 ? 'sasl=PLAIN' : cap));
        return { replies: [['LS', list.join(' ')]] };
      }
      case 'LIST':
        return { replies: [['LIST', [...this.#enabled].join(' ')]] };
      case 'REQ': {
        if (!registered) this.negotiating = true;
        const asked = (params[1] ?? '').split(' ').filter(Boolean);
        const changes = asked.map((word) => ({
          off: word.startsWith('-'),
          cap: (word.startsWith('-') ? word.slice(1) : word) as Capability,
        }));
        const known = changes.every(({ cap }) => this.#offered.includes(cap));
        if (asked.length === 0 || asked.length > MAX_REQUESTED || !known) {
          return { replies: [['NAK', asked.slice(0, MAX_REQUESTED).join(' ')]] };
        }
        for (const { off, cap } of changes) {
          if (off) this.#enabled.delete(cap);
          else this.#enabled.add(cap);
          this.#form =
            (this.#enabled.has('server-time') ? 1 : 0) | (this.#enabled.has('message-tags') ? 2 : 0);
        }
        return { replies: [['ACK', asked.join(' ')]] };
      }
      case 'END':
        this.negotiating = false;
        return { replies: [] };
      default:
        return { replies: [], invalid: sub.slice(0, 20) || '*' };
    }
  }
}
