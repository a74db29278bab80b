/**
 * `sockit/chat`: one chat hub that every transport meets in. The hub is pure logic (commands
 * in, deliveries and effects out, no sockets, no timers); the history keeps every room and
 * direct message in the user store's database; `serveIrc` lets IRC clients in. See
 * docs/chat.md and docs/chat-irc.md.
 *
 * @example
 * ```ts
 * import { ChatHub, openChatHistory, runHistoryEffect } from 'sockit/chat';
 * const history = await openChatHistory('sockit-data/sockit.db');
 * const hub = new ChatHub({ lastId: await history.latestId() });
 * const { session } = hub.open();
 * const outcome = hub.handle(session as string, { type: 'nick', nick: 'ann' });
 * ```
 */
export { type AccountDirectory, AccountNames } from './accounts.js';
export { ChatClient, type ChatClientOptions, type ClientEvent } from './client.js';
export { ChatCluster, type ChatClusterOptions } from './cluster.js';
export { runHistoryEffect } from './effects.js';
export {
  type ChatHistory,
  type HistoryPage,
  MAX_PAGE,
  openChatHistory,
  type PageQuery,
} from './history.js';
export { MAX_STORED_TEXT_BYTES } from './history-schema.js';
export { ChatHub, type ChatHubOptions, type Replayed } from './hub.js';
export { firstIdAt, idTime, isMessageId, MAX_NODE, MESSAGE_ID_LENGTH, MessageIds } from './ids.js';
export { DEFAULT_IRC_PORT, type IrcServiceOptions, serveIrc } from './irc/index.js';
export {
  DEFAULT_ROOM,
  foldNick,
  MAX_NICK_LENGTH,
  MAX_ROOM_LENGTH,
  mentions,
  nickProblem,
  normalizeRoom,
} from './names.js';
export { CHAT_PORT } from './port.js';
export {
  type BanTarget,
  type ChatCommand,
  ChatCommandSchema,
  type ChatEvent,
  type ChatLimits,
  type ChatMessage,
  DEFAULT_LIMITS,
  type Delivery,
  type Effect,
  type Member,
  type Outcome,
  type PublicLimits,
  parseCommand,
  type Refusal,
  type RoomInfo,
  type SessionId,
  type UserInfo,
} from './protocol.js';
export { RESUME_MARGIN_MS, Resume } from './resume.js';
export { type ChatListeners, type ChatListenOptions, listenChat } from './serve.js';
export { type ChatPeer, ChatServer, type ChatServerOptions } from './server.js';
export { type ChatService, type ChatServiceOptions, serveChat } from './service.js';
export {
  CHAT_PROTOCOL_VERSION,
  type MessageLink,
  runChatSession,
  type SessionConnection,
} from './session.js';
export { checkText, type TextRule } from './text.js';
export { UdpRoom, type UdpRoomOptions } from './udp.js';
