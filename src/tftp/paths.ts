/**
 * From a requested TFTP file name to a path inside the server's root, or a refusal.
 * Paths are relative to the root ('/'-separated), for its ConfinedRoot to act on.
 *
 * Names are normalised the way PXE firmware and Windows clients send them: backslashes
 * become slashes and leading slashes are dropped (`/pxelinux.0` and `\boot\x` are relative
 * to the root, as with tftpd-hpa -s). Rewrite rules then apply, as tftpd-hpa's -m does.
 * Whatever comes out must stay inside the root: `..` segments are refused, and symbolic
 * links are followed only while their target stays inside the root.
 */
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { ErrorCode, isSockitError, SockitError } from '../errors.js';
import type { ConfinedRoot } from '../runtime/confine.js';
import { TftpErrorCode } from './packet.js';

/** A rewrite rule: `pattern` on the normalised name, `replace` as in String.replace; `\i` is the client's IP. */
export interface RewriteRule {
  pattern: RegExp;
  replace: string;
}

export type Resolved =
  | { ok: true; name: string; path: string }
  | { ok: false; code: TftpErrorCode; reason: string };

/** Parses `REGEX=>REPLACEMENT` (the CLI's --rewrite form). */
export function parseRewrite(rule: string): RewriteRule {
  const at = rule.indexOf('=>');
  if (at <= 0) {
    throw new SockitError(ErrorCode.INVALID_ARGUMENT, `rewrite rule "${rule}" is not REGEX=>REPLACEMENT`);
  }
  let pattern: RegExp;
  try {
    pattern = new RegExp(rule.slice(0, at));
  } catch (err) {
    // A bad pattern is the caller's argument: say so with a code, not a bare SyntaxError.
    throw new SockitError(ErrorCode.INVALID_ARGUMENT, `rewrite rule "${rule}": ${(err as Error).message}`, {
      cause: err,
    });
  }
  return { pattern, replace: rule.slice(at + 2) };
}

/** Normalises a requested name and applies the rewrite rules. */
export function normaliseName(requested: string, rules: readonly RewriteRule[], clientIp: string): string {
  let name = requested.replaceAll('\\', '/').replace(/^\/+/, '');
  for (const rule of rules) {
    name = name.replace(rule.pattern, rule.replace.replaceAll('\\i', clientIp));
  }
  return name.replace(/^\/+/, '');
}

/**
 * Where `requested` lives under `root`: checked lexically, then walked from the root's handle
 * with symbolic links followed only while they stay inside it. The path returned is relative
 * to the root with those links resolved, so that what acts on it later follows none (a link
 * that appears meanwhile is refused, not followed).
 */
export async function resolveInRoot(
  root: ConfinedRoot,
  requested: string,
  rules: readonly RewriteRule[],
  clientIp: string,
): Promise<Resolved> {
  const name = normaliseName(requested, rules, clientIp);
  if (name === '' || name.includes('\0')) {
    return { ok: false, code: TftpErrorCode.ACCESS_VIOLATION, reason: 'empty or invalid file name' };
  }
  const segments = name.split('/');
  if (segments.includes('..')) {
    return { ok: false, code: TftpErrorCode.ACCESS_VIOLATION, reason: `"${requested}" leaves the root` };
  }
  const lexical = segments.filter((s) => s !== '' && s !== '.').join('/');
  try {
    return { ok: true, name, path: await root.resolve(lexical, { follow: true }) };
  } catch (err) {
    if (isSockitError(err, ErrorCode.PATH_DENIED)) {
      return {
        ok: false,
        code: TftpErrorCode.ACCESS_VIOLATION,
        reason: `"${requested}" links outside the root`,
      };
    }
    // Missing on the way: the request fails when it acts on the path (and says how).
    return { ok: true, name, path: lexical };
  }
}

/**
 * A hidden temporary name beside `target`, in the same folder (so a rename or link into
 * place stays on one file system): what a transfer writes until it is complete.
 */
export function temporaryBeside(target: string): string {
  return path.join(path.dirname(target), `.${path.basename(target)}.${randomBytes(4).toString('hex')}.part`);
}
