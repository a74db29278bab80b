/** The HTTP listeners' default port (a module of its own: the CLI reads it without loading the server). */
export const HTTP_PORT = 8080;
