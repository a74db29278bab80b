/**
 * A one-line progress bar on stderr, drawn only on a terminal: fitted to the terminal's width
 * (a longer line would wrap, and each redraw would stack another copy), with the rate, the time
 * left when the size is known, and "stalled" once no byte has moved for a while.
 */
import { formatBytes } from '../runtime/units.js';

export { formatBytes };

/** `1:05`, `1:02:03`: a duration in whole seconds as a clock shows it. */
export function formatDuration(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const ss = String(s % 60).padStart(2, '0');
  return h > 0 ? `${h}:${String(m).padStart(2, '0')}:${ss}` : `${m}:${ss}`;
}

/** Where the bar is drawn: a terminal's stderr, or a stand-in in tests. */
export interface ProgressOutput {
  write(text: string): unknown;
  isTTY?: boolean;
  columns?: number;
}

/** After this long without a new byte, the bar says "stalled" instead of a rate. */
export const STALLED_AFTER_MS = 5000;
const REDRAW_MS = 100;
const TICK_MS = 1000;

/**
 * @example
 * const bar = new Progress('get image.bin');
 * bar.update(1024, 4096); // on each chunk
 * bar.done(); // before the summary line
 */
export class Progress {
  readonly #label: string;
  readonly #out: ProgressOutput;
  readonly #enabled: boolean;
  readonly #began = Date.now();
  #lastDraw = 0;
  #lastMove = Date.now();
  #bytes = 0;
  #total: number | undefined;
  #drawn = false;
  #ticker: NodeJS.Timeout | undefined;

  constructor(label: string, enabled?: boolean, out: ProgressOutput = process.stderr) {
    this.#label = label;
    this.#out = out;
    this.#enabled = enabled ?? out.isTTY === true;
  }

  update(bytes: number, total: number | undefined): void {
    if (!this.#enabled) return;
    const now = Date.now();
    if (bytes !== this.#bytes) this.#lastMove = now;
    this.#bytes = bytes;
    this.#total = total;
    // A frozen peer calls nothing: a timer redraws, so that the bar can say it stalled.
    this.#ticker ??= setInterval(() => this.#draw(Date.now()), TICK_MS).unref();
    if (now - this.#lastDraw < REDRAW_MS) return;
    this.#draw(now);
  }

  /** Clears the bar so that the summary line starts clean. */
  done(): void {
    clearInterval(this.#ticker);
    this.#ticker = undefined;
    if (this.#drawn) this.#out.write('\r\x1b[K');
  }

  #draw(now: number): void {
    this.#lastDraw = now;
    this.#out.write(`\r${this.line(now)}\x1b[K`);
    this.#drawn = true;
  }

  /** The bar as drawn at `now`, at most the terminal's width less one column. */
  line(now = Date.now()): string {
    // A terminal with no size set says 0 columns: taken as 80.
    const width = Math.max(20, (this.#out.columns || 80) - 1);
    const bytes = this.#bytes;
    const total = this.#total;
    const seconds = Math.max((now - this.#began) / 1000, 0.001);
    const rateBps = bytes / seconds;
    const still = now - this.#lastMove;
    const pace =
      still >= STALLED_AFTER_MS ? `stalled ${formatDuration(still / 1000)}` : `${formatBytes(rateBps)}/s`;
    let tail: string;
    let share: number | undefined;
    if (total && total > 0) {
      share = Math.min(1, bytes / total);
      const left =
        rateBps > 0 && still < STALLED_AFTER_MS ? ` ETA ${formatDuration((total - bytes) / rateBps)}` : '';
      tail = ` ${(share * 100).toFixed(0).padStart(3)}% ${formatBytes(bytes)}/${formatBytes(total)} ${pace}${left}`;
    } else {
      tail = ` ${formatBytes(bytes)} ${pace}`;
    }
    // The label gives way first (to 12 columns), then the bar; the numbers last.
    let label = this.#label;
    const room = width - tail.length;
    const barRoom = share === undefined ? 0 : room - Math.min(label.length, 12) - 3;
    const bar = barRoom >= 10 ? Math.min(30, barRoom) : 0;
    const labelRoom = room - (bar > 0 ? bar + 3 : 0);
    if (label.length > labelRoom) label = labelRoom > 1 ? `${label.slice(0, labelRoom - 1)}…` : '';
    const drawn =
      bar > 0 && share !== undefined
        ? ` [${'#'.repeat(Math.round(share * bar))}${'.'.repeat(bar - Math.round(share * bar))}]`
        : '';
    return `${label}${drawn}${tail}`.slice(0, width);
  }
}
