/** The port `sockit files serve` listens on by default (unprivileged, unassigned by IANA). */
export const FILES_PORT = 7021;

/**
 * A client's stall timeout against a server that says when it is busy, in ms (see
 * `ConnectOptions.stallTimeoutMs`). Here, beside the port, so that a command's options need
 * not load the client.
 */
export const DEFAULT_STALL_MS = 60_000;
