/** A one-line progress bar on stderr, drawn only on a terminal, at most ten times a second. */

function human(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${value.toFixed(unit === 0 ? 0 : 1)} ${units[unit]}`;
}

export function formatBytes(bytes: number): string {
  return human(bytes);
}

export class Progress {
  readonly #label: string;
  readonly #enabled: boolean;
  readonly #began = Date.now();
  #last = 0;
  #drawn = false;

  constructor(label: string, enabled = process.stderr.isTTY === true) {
    this.#label = label;
    this.#enabled = enabled;
  }

  update(bytes: number, total: number | undefined): void {
    if (!this.#enabled) return;
    const now = Date.now();
    if (now - this.#last < 100) return;
    this.#last = now;
    const seconds = Math.max((now - this.#began) / 1000, 0.001);
    const rate = `${human(bytes / seconds)}/s`;
    let line: string;
    if (total && total > 0) {
      const share = Math.min(1, bytes / total);
      const width = 24;
      const filled = Math.round(share * width);
      line = `${this.#label} [${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${(share * 100).toFixed(0).padStart(3)}% ${human(bytes)}/${human(total)} ${rate}`;
    } else {
      line = `${this.#label} ${human(bytes)} ${rate}`;
    }
    process.stderr.write(`\r${line}\x1b[K`);
    this.#drawn = true;
  }

  /** Clears the bar so that the summary line starts clean. */
  done(): void {
    if (this.#drawn) process.stderr.write('\r\x1b[K');
  }
}
