/**
 * What a transfer under way says about itself: no imports, so that the dashboard's browser
 * code can share the type.
 */

/** A transfer in progress, as a status page shows it. */
export interface TransferInfo {
  /** The file as the client named it. */
  file: string;
  /** The client, `address:port`. */
  client: string;
  /** `out`: the server sends (a read request); `in`: it receives (a write request). */
  direction: 'in' | 'out';
  /** Bytes moved so far (DATA sent, or received). */
  bytes: number;
  /** The size announced (tsize), when known. */
  size?: number;
  /** Seconds since the request. */
  seconds: number;
}
