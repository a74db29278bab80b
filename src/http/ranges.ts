/**
 * The `Range` header of RFC 9110 section 14, for byte ranges: parsed and resolved against a
 * representation's size.
 *
 * - a malformed header, another unit, or a range whose last position is before its first
 *   (`bytes=5-2`) is ignored: the whole representation, 200 (14.1.1 and 14.2);
 * - a last position past the end is the end; a suffix longer than the representation is the
 *   whole of it (14.1.2);
 * - ranges that start past the end, and zero-length suffixes, cannot be satisfied; when none
 *   can, the answer is 416 (15.5.17);
 * - overlapping or adjacent ranges are combined and put in order, and more than `maxRanges`
 *   ranges are ignored (the whole representation): many small ranges are a way to make a
 *   server work hard (14.2).
 */

export interface ByteRange {
  start: number;
  /** Inclusive. */
  end: number;
}

const SPEC = /^(\d*)-(\d*)$/;

/**
 * The ranges of `header` for a representation of `size` bytes: `undefined` to send it whole,
 * `'unsatisfiable'` for 416, else the ranges, combined and in order.
 *
 * @example
 * ```ts
 * byteRanges('bytes=0-99', 1000);      // [{ start: 0, end: 99 }]
 * byteRanges('bytes=-5000', 1000);     // [{ start: 0, end: 999 }]
 * byteRanges('bytes=5-2', 1000);       // undefined
 * byteRanges('bytes=2000-', 1000);     // 'unsatisfiable'
 * ```
 */
export function byteRanges(
  header: string,
  size: number,
  maxRanges = 64,
): ByteRange[] | 'unsatisfiable' | undefined {
  const eq = header.indexOf('=');
  if (eq < 0 || header.slice(0, eq).trim().toLowerCase() !== 'bytes') return undefined;
  const specs = header.slice(eq + 1).split(',');
  if (specs.length > maxRanges) return undefined;
  const ranges: ByteRange[] = [];
  for (const raw of specs) {
    const spec = raw.trim();
    if (spec === '') continue; // empty list elements are allowed (RFC 9110 5.6.1)
    const m = SPEC.exec(spec);
    if (m === null) return undefined;
    const [, first = '', last = ''] = m;
    if (first === '' && last === '') return undefined;
    if (first === '') {
      const length = Number(last);
      if (length === 0 || size === 0) continue;
      ranges.push({ start: Math.max(0, size - length), end: size - 1 });
      continue;
    }
    const start = Number(first);
    const end = last === '' ? Number.POSITIVE_INFINITY : Number(last);
    if (!Number.isSafeInteger(start) || end < start) return undefined;
    if (start >= size) continue;
    ranges.push({ start, end: Math.min(end, size - 1) });
  }
  if (ranges.length === 0) return 'unsatisfiable';
  ranges.sort((a, b) => a.start - b.start);
  const combined: ByteRange[] = [ranges[0] as ByteRange];
  for (const r of ranges.slice(1)) {
    const prev = combined[combined.length - 1] as ByteRange;
    if (r.start <= prev.end + 1) prev.end = Math.max(prev.end, r.end);
    else combined.push({ ...r });
  }
  return combined;
}
