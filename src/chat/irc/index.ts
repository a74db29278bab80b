/**
 * The chat's IRC transport: `serveIrc` serves the RFC 2812 client subset and the IRCv3
 * extensions IRC clients use (capability negotiation, SASL PLAIN over TLS, server-time,
 * message-tags, echo-message, away-notify, batch, draft/chathistory) over one `ChatServer`.
 * See docs/chat-irc.md.
 *
 * @example
 * ```ts
 * import { ChatHub, ChatServer } from 'sockit/chat';
 * const server = new ChatServer({ hub: new ChatHub() });
 * const irc = await serveIrc({ server, port: 6667 });
 * ```
 */
export { CAPABILITIES, type Capability } from './caps.js';
export { formatLine, type IrcMessage, MAX_BODY_BYTES, MAX_TAGS_BYTES, parseLine } from './message.js';
export { ERR, RPL, refusalReply } from './numerics.js';
export { DEFAULT_IRC_PORT, type IrcServiceOptions, serveIrc } from './serve.js';
