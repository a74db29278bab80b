/** The chat port: the lesson's UDP chat room listened on 7788; TCP takes the same number. */
export const CHAT_PORT = 7788;
