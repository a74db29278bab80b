/** The port `sockit files serve` listens on by default (unprivileged, unassigned by IANA). */
export const FILES_PORT = 7021;
