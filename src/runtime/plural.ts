/** Counted nouns in sockit's lines, output and logs: "1 block", "2 blocks", never "1 blocks". */

/**
 * `count` and the form of `singular` that goes with it; `pluralForm` for irregular nouns.
 * `count` may be pre-formatted text (`1,024`): only a count of exactly one takes the singular.
 *
 * @example
 * ```ts
 * counted(1, 'block'); // '1 block'
 * counted(3, 'block'); // '3 blocks'
 * counted(groupDigits(1024), 'message', undefined, 1024); // '1,024 messages'
 * ```
 */
export function counted(
  count: number | bigint | string,
  singular: string,
  pluralForm = `${singular}s`,
  value: number | bigint | string = count,
): string {
  return `${count} ${String(value) === '1' ? singular : pluralForm}`;
}
