/**
 * The oldest Node sockit runs on. Older ones do not fail cleanly: the SQLite driver's native
 * module crashes the process (a segmentation fault, exit 139) before any error can be caught,
 * so the command checks first and says what to do.
 */
export const MIN_NODE_MAJOR = 22;

/**
 * The one line to print when `version` (as in `process.versions.node`) is too old, or
 * undefined when it will do.
 *
 * @example
 * ```ts
 * tooOldNode('20.20.2'); // 'sockit: Node 20.20.2 is too old: ... [ERR_UNSUPPORTED_PLATFORM]'
 * tooOldNode('24.1.0'); // undefined
 * ```
 */
export function tooOldNode(version: string): string | undefined {
  const major = Number.parseInt(version, 10);
  if (major >= MIN_NODE_MAJOR) return undefined;
  return (
    `sockit: Node ${version} is too old: sockit needs Node ${MIN_NODE_MAJOR} or newer ` +
    `(scripts/setup.sh puts one in .tools/node_modules/.bin) [ERR_UNSUPPORTED_PLATFORM]`
  );
}
