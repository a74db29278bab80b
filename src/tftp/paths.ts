/**
 * From a requested TFTP file name to a path inside the server's root, or a refusal.
 *
 * Names are normalised the way PXE firmware and Windows clients send them: backslashes
 * become slashes and leading slashes are dropped (`/pxelinux.0` and `\boot\x` are relative
 * to the root, as with tftpd-hpa -s). Rewrite rules then apply, as tftpd-hpa's -m does.
 * Whatever comes out must stay inside the root: `..` segments are refused, and symbolic
 * links are followed only while their target stays inside the root.
 */
import { randomBytes } from 'node:crypto';
import { type FileHandle, readlink, realpath } from 'node:fs/promises';
import path from 'node:path';
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
  if (at <= 0) throw new Error(`rewrite rule "${rule}" is not REGEX=>REPLACEMENT`);
  return { pattern: new RegExp(rule.slice(0, at)), replace: rule.slice(at + 2) };
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
 * Where `requested` lives under `root` (already a real path), checked lexically and, for the
 * parts that exist, through symbolic links.
 */
export async function resolveInRoot(
  root: string,
  requested: string,
  rules: readonly RewriteRule[],
  clientIp: string,
): Promise<Resolved> {
  const name = normaliseName(requested, rules, clientIp);
  if (name === '' || name.includes('\0')) {
    return { ok: false, code: TftpErrorCode.ACCESS_VIOLATION, reason: 'empty or invalid file name' };
  }
  if (name.split('/').includes('..')) {
    return { ok: false, code: TftpErrorCode.ACCESS_VIOLATION, reason: `"${requested}" leaves the root` };
  }
  const full = path.resolve(root, name);
  if (!inside(root, full))
    return { ok: false, code: TftpErrorCode.ACCESS_VIOLATION, reason: 'outside the root' };
  // Follow links in whatever part of the path exists: it must still be inside the root.
  let existing = full;
  for (;;) {
    try {
      const real = await realpath(existing);
      if (!inside(root, real)) {
        return {
          ok: false,
          code: TftpErrorCode.ACCESS_VIOLATION,
          reason: `"${requested}" links outside the root`,
        };
      }
      break;
    } catch {
      const parent = path.dirname(existing);
      if (parent === existing || !inside(root, parent)) break;
      existing = parent;
    }
  }
  return { ok: true, name, path: full };
}

/**
 * Whether an open file is inside `root` (a real path), judged by the file the descriptor
 * refers to (Linux's /proc/self/fd), not by the name it was opened with: a folder on the
 * way swapped for a link between `resolveInRoot` and the open() cannot lead outside.
 * Where /proc is not mounted, the checks of `resolveInRoot` are all there is.
 */
export async function openedInside(root: string, handle: FileHandle): Promise<boolean> {
  let target: string;
  try {
    target = await readlink(`/proc/self/fd/${handle.fd}`);
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'ENOENT';
  }
  return path.isAbsolute(target) && inside(root, target);
}

function inside(root: string, candidate: string): boolean {
  const rel = path.relative(root, candidate);
  // `..name` is a name like any other; only `..` itself, as a whole component, leads up.
  return rel === '' || (rel !== '..' && !rel.startsWith(`..${path.sep}`) && !path.isAbsolute(rel));
}

/**
 * A hidden temporary name beside `target`, in the same folder (so a rename or link into
 * place stays on one file system): what a transfer writes until it is complete.
 */
export function temporaryBeside(target: string): string {
  return path.join(path.dirname(target), `.${path.basename(target)}.${randomBytes(4).toString('hex')}.part`);
}
