/**
 * Interleaved measurement, shared by the benchmarks: each round runs every contender once,
 * in an order rotated from round to round, so that the machine's drift (other load, CPU
 * frequency, page cache) falls on all contenders alike instead of on whichever ran in its
 * phase. Ratios are taken within a round, then summarised over the rounds.
 */

/**
 * Runs `warmup` untimed rounds, then `rounds` timed ones. `contenders` maps a name to an
 * async or sync function that returns one measurement (a number, e.g. milliseconds).
 * Returns, per contender, the list of measurements in round order.
 *
 * @example
 * const results = await interleave({ a: () => timeA(), b: () => timeB() }, { rounds: 20 });
 */
export async function interleave(contenders, { rounds, warmup = 1, onRound } = {}) {
  const names = Object.keys(contenders);
  const results = Object.fromEntries(names.map((n) => [n, []]));
  for (let r = -warmup; r < rounds; r++) {
    const shift = ((r % names.length) + names.length) % names.length;
    const order = [...names.slice(shift), ...names.slice(0, shift)];
    for (const name of order) {
      const value = await contenders[name]();
      if (r >= 0) results[name].push(value);
    }
    if (r >= 0) onRound?.(r, results);
  }
  return results;
}

/** The q-quantile (0..1) of the values, interpolated. */
export function quantile(values, q) {
  const sorted = [...values].sort((a, b) => a - b);
  const pos = (sorted.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo);
}

/** Median and interquartile range, and the extremes. */
export function spread(values) {
  return {
    median: quantile(values, 0.5),
    p25: quantile(values, 0.25),
    p75: quantile(values, 0.75),
    min: Math.min(...values),
    max: Math.max(...values),
  };
}

/** Per-round ratios of `values` to `base` (same round, same index). */
export function ratios(values, base) {
  return values.map((v, i) => v / base[i]);
}
