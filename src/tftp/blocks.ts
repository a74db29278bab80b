/**
 * Block numbers: 16 bits on the wire, unbounded in a transfer. Past 65535 the number rolls
 * over to 0 (the common behaviour, and our default) or to 1 (some older clients). Inside a
 * session blocks are counted absolutely; these two functions convert at the socket edge.
 */
export type Rollover = 0 | 1;

/** The wire number of absolute block `abs` (abs >= 0). */
export function toWire(abs: number, rollover: Rollover): number {
  if (abs <= 0xffff) return abs;
  return rollover === 0 ? abs % 0x10000 : ((abs - 1) % 0xffff) + 1;
}

/** The absolute block nearest to `near` whose wire number is `wire`. */
export function fromWire(wire: number, near: number, rollover: Rollover): number {
  const period = rollover === 0 ? 0x10000 : 0xffff;
  let delta = (wire - toWire(near, rollover)) % period;
  if (delta > period / 2) delta -= period;
  else if (delta <= -period / 2) delta += period;
  return near + delta;
}
