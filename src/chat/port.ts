/** The chat port: the lesson's UDP chat room listened on 7788; TCP takes the same number. */
export const CHAT_PORT = 7788;
/** IRC's registered port (RFC 7194 names 6697 for TLS; clients default to 6667). */
export const DEFAULT_IRC_PORT = 6667;
