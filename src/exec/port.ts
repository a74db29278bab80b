/** The default port of `sockit exec serve`. */
export const EXEC_PORT = 8081;
