/**
 * Text from the other side, made safe to show: in a log line, on a terminal, in a page.
 * Imports nothing, so that browser code shares it.
 */

/**
 * Control characters (C0, DEL, C1), and the invisible marks that reorder or hide what follows
 * (bidirectional overrides and isolates, zero-width characters): never shown as they are.
 */
const HIDDEN =
  // biome-ignore lint/suspicious/noControlCharactersInRegex: matching them is the point
  /[\u0000-\u001f\u007f-\u009f\u200b-\u200f\u2028\u2029\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff]/g;

/**
 * `text` with every character that could forge or reorder what is shown after it written as
 * `\u{XXXX}`, cut to `max` characters (marked with …).
 *
 * @example
 * ```ts
 * visible('mallory\n12:00 INFO logged in'); // 'mallory\\u{a}12:00 INFO logged in'
 * ```
 */
export function visible(text: string, max = 256): string {
  const cut = text.length > max ? `${text.slice(0, max)}\u2026` : text;
  return cut.replace(HIDDEN, (c) => `\\u{${(c.codePointAt(0) ?? 0).toString(16)}}`);
}

/**
 * `text` without the characters `visible()` would write out: for a name from the other side
 * that is shown as it is (a peer's nick on a terminal).
 */
export function withoutHidden(text: string): string {
  return text.replace(HIDDEN, '');
}

/** Whether `text` holds a character that `visible()` would write out (control, reordering, invisible). */
export function hasHidden(text: string): boolean {
  HIDDEN.lastIndex = 0;
  const found = HIDDEN.test(text);
  HIDDEN.lastIndex = 0;
  return found;
}
