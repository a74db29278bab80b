/**
 * What a chat text (a message, a topic, an away message, a reason) may hold. Texts are one
 * line of valid Unicode: no line breaks (IRC and line mode could not carry them), no NUL,
 * no ESC or C1 controls (they would drive the terminals that show them). IRC's formatting
 * codes (bold, colour, italic, underline, reverse, monospace, reset) and TAB pass: IRC
 * clients send them, and they cannot move a cursor. The limit is in bytes of UTF-8, as the
 * wire counts them.
 */
import { ErrorCode } from '../errors.js';
import type { Refusal } from './protocol.js';

/**
 * The C0 controls a text may hold: TAB, and IRC's bold (02), colour (03), reset (0F),
 * monospace (11), reverse (16), italic (1D), strike-through (1E) and underline (1F).
 */
const ALLOWED_C0 = new Set([0x02, 0x03, 0x09, 0x0f, 0x11, 0x16, 0x1d, 0x1e, 0x1f]);
/** A surrogate half without its other half: not a character, and not encodable as UTF-8. */
const LONE_SURROGATE = /\p{Cs}/u;

const strictUtf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

export interface TextRule {
  /** What the text is, for refusals: 'message', 'topic'. */
  what: string;
  /** Most bytes of UTF-8. */
  maxBytes: number;
  /** Whether '' is acceptable (a topic may be cleared; a message may not be empty). */
  allowEmpty?: boolean;
}

/**
 * The text as a string when it follows the rule, else the refusal: `ERR_BAD_REQUEST` for
 * invalid UTF-8, a control character or an empty text, `ERR_TEXT_TOO_LONG` over the limit.
 * Bytes (what a transport read) are decoded strictly; strings are checked for lone surrogates.
 *
 * @example
 * ```ts
 * checkText(Buffer.from([0xc3, 0x28]), { what: 'message', maxBytes: 2048 }); // ERR_BAD_REQUEST refusal
 * ```
 */
export function checkText(input: unknown, rule: TextRule): string | Refusal {
  let text: string;
  let bytes: number;
  if (typeof input === 'string') {
    // Cheap bound first: a UTF-16 unit is at least one byte of UTF-8.
    if (input.length > rule.maxBytes) return tooLong(rule);
    if (LONE_SURROGATE.test(input)) return bad(`the ${rule.what} is not valid Unicode`);
    text = input;
    bytes = Buffer.byteLength(input, 'utf8');
  } else if (input instanceof Uint8Array) {
    if (input.byteLength > rule.maxBytes) return tooLong(rule);
    try {
      text = strictUtf8.decode(input);
    } catch {
      return bad(`the ${rule.what} is not valid UTF-8`);
    }
    bytes = input.byteLength;
  } else {
    return bad(`the ${rule.what} must be text`);
  }
  if (bytes > rule.maxBytes) return tooLong(rule);
  if (text === '' && !rule.allowEmpty) return bad(`the ${rule.what} is empty`);
  if (hasForbiddenControl(text)) {
    return bad(`the ${rule.what} holds a line break or control character; send one line of text`);
  }
  return text;
}

/** True for a refusal (as returned by the checks), false for a value. */
export function isRefusal(value: unknown): value is Refusal {
  return typeof value === 'object' && value !== null && 'code' in value && 'message' in value;
}

/** A C0 control but those allowed, DEL, or a C1 control (0x80-0x9F; 0x9B is a CSI). */
function hasForbiddenControl(text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code < 0x20 ? !ALLOWED_C0.has(code) : code >= 0x7f && code <= 0x9f) return true;
  }
  return false;
}

function tooLong(rule: TextRule): Refusal {
  return {
    code: ErrorCode.TEXT_TOO_LONG,
    message: `the ${rule.what} is longer than ${rule.maxBytes} bytes of UTF-8; send it in parts`,
  };
}

function bad(message: string): Refusal {
  return { code: ErrorCode.BAD_REQUEST, message };
}
