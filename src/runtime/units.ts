/** Sizes as people read them. */

/** `512 B`, `1.5 KiB`, `3.2 GiB`: binary units, one decimal past bytes. */
export function formatBytes(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${value.toFixed(unit === 0 ? 0 : 1)} ${units[unit]}`;
}

/**
 * `1,024`, `600,000`, `-12,345.5`: a number with its thousands grouped by commas, as
 * `toLocaleString('en-US')` writes integers, without it: the first locale-aware call loads
 * ICU's locale data, about 20 ms, which a short command would pay at start-up.
 */
export function groupDigits(n: number): string {
  const [whole = '', fraction] = String(Math.abs(n)).split('.');
  if (!/^\d+$/.test(whole)) return String(n);
  const grouped = whole.replace(/\B(?=(\d{3})+$)/g, ',');
  return `${n < 0 ? '-' : ''}${grouped}${fraction === undefined ? '' : `.${fraction}`}`;
}
