/**
 * Collects byte pieces (the fragments of one message) and joins them once,
 * at the end, into one exact-size buffer: every byte is copied once, with no
 * doubling reallocations. Large pieces are kept as they are; small ones are
 * copied into a shared tail buffer as they come, so that a peer sending many
 * tiny fragments costs neither an object per fragment nor keeps the chunks
 * they arrived in alive. A message of one piece is returned without a copy.
 */
export class ByteAccumulator {
  /** Pieces in order (large ones, and sealed parts of the tail). */
  #pieces: Uint8Array[] = [];
  /** Small pieces, copied back to back. */
  #tail: Uint8Array | null = null;
  #tailLength = 0;
  #length = 0;

  /** Total bytes collected. */
  get length(): number {
    return this.#length;
  }

  /** Appends a piece; `piece` must not change afterwards. */
  push(piece: Uint8Array): void {
    const length = piece.length;
    if (length === 0) return;
    if (this.#length === 0 || length >= KEEP_AS_IS) {
      this.#sealTail();
      this.#pieces.push(piece);
    } else {
      let tail = this.#tail;
      if (tail === null || tail.length - this.#tailLength < length) {
        this.#sealTail();
        tail = this.#tail = new Uint8Array(
          Math.max(length, Math.min(this.#length, MAX_TAIL)),
        );
      }
      tail.set(piece, this.#tailLength);
      this.#tailLength += length;
    }
    this.#length += length;
  }

  /** Returns everything collected as one exact-size buffer and empties the accumulator. */
  take(): Uint8Array {
    this.#sealTail();
    const pieces = this.#pieces;
    let result: Uint8Array;
    if (pieces.length === 1) {
      result = pieces[0]!;
    } else {
      result = new Uint8Array(this.#length);
      let offset = 0;
      for (const piece of pieces) {
        result.set(piece, offset);
        offset += piece.length;
      }
    }
    this.#pieces = [];
    this.#length = 0;
    return result;
  }

  #sealTail(): void {
    if (this.#tailLength > 0) {
      this.#pieces.push(this.#tail!.subarray(0, this.#tailLength));
    }
    this.#tail = null;
    this.#tailLength = 0;
  }
}

/** Pieces this large are kept as they are (at most 4x their size pinned). */
const KEEP_AS_IS = 16 * 1024;
/** The largest tail buffer allocated ahead of need. */
const MAX_TAIL = 64 * 1024;
