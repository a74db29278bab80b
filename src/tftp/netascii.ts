/**
 * netascii (RFC 1350 §5, after RFC 764): lines end in CR LF and a bare CR is sent as CR NUL.
 * Both directions are streaming and stateful, since a CR may end one chunk and its partner
 * start the next.
 */

const CR = 0x0d;
const LF = 0x0a;
const NUL = 0x00;

/** Local text (LF line ends) to netascii. */
export class NetasciiEncoder {
  push(chunk: Buffer): Buffer {
    let extra = 0;
    for (const byte of chunk) if (byte === LF || byte === CR) extra++;
    if (extra === 0) return chunk;
    const out = Buffer.allocUnsafe(chunk.length + extra);
    let at = 0;
    for (const byte of chunk) {
      if (byte === LF) {
        out[at++] = CR;
        out[at++] = LF;
      } else if (byte === CR) {
        out[at++] = CR;
        out[at++] = NUL;
      } else {
        out[at++] = byte;
      }
    }
    return out;
  }
}

/** netascii to local text: CR LF becomes LF, CR NUL becomes CR. */
export class NetasciiDecoder {
  #pendingCr = false;

  push(chunk: Buffer): Buffer {
    const out = Buffer.allocUnsafe(chunk.length + 1);
    let at = 0;
    for (const byte of chunk) {
      if (this.#pendingCr) {
        this.#pendingCr = false;
        if (byte === LF) {
          out[at++] = LF;
          continue;
        }
        // CR NUL is a bare CR; CR followed by anything else is kept as it came.
        out[at++] = CR;
        if (byte === NUL) continue;
      }
      if (byte === CR) this.#pendingCr = true;
      else out[at++] = byte;
    }
    return out.subarray(0, at);
  }

  /** The end of the transfer: a CR left hanging is kept. */
  end(): Buffer {
    if (!this.#pendingCr) return Buffer.alloc(0);
    this.#pendingCr = false;
    return Buffer.from([CR]);
  }
}
