/**
 * The history side of the hub's effects, for whoever owns both: store messages, answer
 * history requests and scrollback, hand an account the direct messages that waited for it.
 * `close` effects are the transport's and are left alone here.
 */
import type { ChatHistory } from './history.js';
import type { Delivery, Effect } from './protocol.js';

/** Pages of waiting direct messages handed over at one log-in; the rest wait for the next. */
const MAX_OFFLINE_PAGES = 10;
const OFFLINE_PAGE = 100;

/**
 * Carries out `effect` against `history`; what a session must be sent goes to `send`.
 * Direct messages that waited are marked delivered once `send` has taken them (at least once:
 * a crash in between shows them again at the next log-in). Resolves `false` for an effect
 * that is not about history (`close`).
 *
 * @example
 * ```ts
 * const outcome = hub.handle(session, command);
 * for (const d of outcome.deliveries) transport.write(d);
 * for (const e of outcome.effects) await runHistoryEffect(history, e, (d) => transport.write(d));
 * ```
 */
export async function runHistoryEffect(
  history: ChatHistory,
  effect: Effect,
  send: (delivery: Delivery) => void,
): Promise<boolean> {
  switch (effect.type) {
    case 'store':
      await history.append(effect.message, { delivered: effect.delivered });
      return true;
    case 'history': {
      const page = {
        limit: effect.limit,
        ...(effect.before === undefined ? {} : { before: effect.before }),
        ...(effect.after === undefined ? {} : { after: effect.after }),
      };
      if (effect.room !== undefined) {
        const { messages, more } = await history.room(effect.room, page);
        send({ to: [effect.session], event: { type: 'history', room: effect.room, messages, more } });
      } else if (effect.direct !== undefined) {
        const { messages, more } = await history.direct(effect.direct, page);
        send({ to: [effect.session], event: { type: 'history', direct: true, messages, more } });
      }
      return true;
    }
    case 'offline': {
      for (let i = 0; i < MAX_OFFLINE_PAGES; i++) {
        const found = await history.undelivered(effect.account, OFFLINE_PAGE + 1);
        if (found.length === 0) break;
        const messages = found.slice(0, OFFLINE_PAGE);
        const more = found.length > OFFLINE_PAGE;
        send({
          to: [effect.session],
          event: { type: 'history', direct: true, offline: true, messages, more },
        });
        await history.markDelivered(messages.map((m) => m.id));
        if (!more) break;
      }
      return true;
    }
    case 'seen':
      await history.recordSeen(effect.account, effect.at);
      return true;
    default:
      return false;
  }
}
