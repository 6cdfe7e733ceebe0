/**
 * Collects byte pieces into one buffer, growing by doubling so that many
 * small pieces cost linear time. The first piece is kept as a view (no copy)
 * until a second arrives.
 */
export class ByteAccumulator {
  #first: Uint8Array | null = null;
  #buffer: Uint8Array | null = null;
  #length = 0;

  /** Total bytes collected. */
  get length(): number {
    return this.#length;
  }

  /** Appends a piece; `piece` must not change afterwards. */
  push(piece: Uint8Array): void {
    if (piece.length === 0) return;
    if (this.#length === 0) {
      this.#first = piece;
      this.#length = piece.length;
      return;
    }
    const needed = this.#length + piece.length;
    let buffer = this.#buffer;
    if (buffer === null || buffer.length < needed) {
      const grown = new Uint8Array(Math.max(needed, (buffer?.length ?? 0) * 2));
      grown.set(
        buffer === null ? this.#first! : buffer.subarray(0, this.#length),
      );
      buffer = grown;
      this.#buffer = buffer;
      this.#first = null;
    }
    buffer.set(piece, this.#length);
    this.#length = needed;
  }

  /** Returns everything collected as one exact-size buffer and empties the accumulator. */
  take(): Uint8Array {
    let result: Uint8Array;
    if (this.#buffer !== null) {
      result = this.#buffer.length === this.#length
        ? this.#buffer
        : this.#buffer.slice(0, this.#length);
    } else {
      result = this.#first ?? new Uint8Array(0);
    }
    this.#first = null;
    this.#buffer = null;
    this.#length = 0;
    return result;
  }
}
