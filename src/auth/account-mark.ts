/**
 * What an account is, for what lives on after its log-in (an admin session, a kept exec
 * connection): its keys and when it was made. A new password, or the account removed and
 * made again under its name, gives another mark.
 */
import { createHash } from 'node:crypto';
import type { UserRecord } from './store.js';

export function accountMark(user: Pick<UserRecord, 'credentials' | 'createdAt'>): string {
  return createHash('sha256')
    .update(user.credentials.storedKey)
    .update(String(user.createdAt.getTime()))
    .digest('base64url');
}
