/**
 * `sockit/files`: an authenticated file service (per-user homes, SCRAM-SHA-256 log-in,
 * SHA-256-verified, resumable and atomic transfers) and its client.
 *
 * @example
 * ```ts
 * import { FilesClient } from 'sockit/files';
 * const client = await FilesClient.login({ host: '127.0.0.1', port: 7021, user: 'ann', password });
 * await client.upload('report.pdf', 'docs/report.pdf');
 * client.close();
 * ```
 */
export {
  type ConnectOptions,
  type DownloadOptions,
  FilesClient,
  type LoginOptions,
  type OperationOptions,
  PART_SUFFIX,
  type RemoteSum,
  type SumOptions,
  type TransferResult,
  type UploadOptions,
} from './client.js';
export { type Entry, type EntryType, FILES_PORT } from './protocol.js';
export { type FilesServerOptions, loadFakeKey, serveFiles } from './server.js';
