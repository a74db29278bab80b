/** The chat port: the lesson's UDP chat room listened on 7788; TCP takes the same number. */
export const CHAT_PORT = 7788;
/** IRC's registered port (RFC 7194 names 6697 for TLS; clients default to 6667). */
export const DEFAULT_IRC_PORT = 6667;

/**
 * The least time between two writes to one chat client, in ms (see `flushGapMs`): in a busy
 * room a client is sent its messages a few at a time instead of one system call each; the
 * first after a quiet spell goes at once. Latency in a busy room grows by at most this.
 */
export const CHAT_FLUSH_GAP_MS = 16;
