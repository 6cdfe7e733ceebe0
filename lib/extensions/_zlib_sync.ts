/**
 * A persistent, synchronous raw-deflate stream over `node:zlib`.
 *
 * `node:zlib` offers two shapes: streams (`createDeflateRaw`), which keep
 * their state between messages (context takeover, RFC 7692 §7.2.1) but
 * answer asynchronously, and one-shot `*Sync` functions, which answer at once
 * but start from an empty window each call. The `*Sync` functions are built
 * on the stream objects' native handle: `handle.writeSync(flush, input,
 * inOff, inLen, output, outOff, outLen)` runs zlib once and leaves
 * `[availOut, availIn]` in the stream's `_writeState`. Node's own
 * `_processChunk(chunk, flush)` wraps that loop but closes the handle after
 * one call, so this module runs the loop itself and keeps the handle open.
 *
 * Checked on Node 26, Deno 2.9 and Bun 1.4 (all three expose
 * `_handle.writeSync`, `_handle.reset`, `_handle.close`, `_handle.onerror`
 * and `_writeState`), by `tests/extensions/_zlib_sync_test.ts`; the
 * measurements are in `bench/results/2026-12-02-deflate-zlib.md`. If a runtime
 * ever drops these internals, {@linkcode SyncZlib} throws a `TypeError` at
 * construction, naming what is missing, instead of misbehaving.
 *
 * @module
 */

import * as zlib from "node:zlib";

/** `Z_SYNC_FLUSH`: end the output on a byte boundary with `00 00 ff ff`. */
export const Z_SYNC_FLUSH = 2;

/** The parts of a `node:zlib` native handle this module uses. */
interface NativeHandle {
  writeSync(
    flush: number,
    input: Uint8Array,
    inOff: number,
    inLen: number,
    output: Uint8Array,
    outOff: number,
    outLen: number,
  ): void;
  reset(): void;
  close(): void;
  onerror: (message: string, errno: number, code?: string) => void;
}

/** What a `node:zlib` stream object holds that this module reads. */
interface ZlibInternals {
  _handle: NativeHandle | null;
  _writeState: Uint32Array;
}

/** Options of {@linkcode SyncZlib}. */
export interface SyncZlibOptions {
  /** Raw deflate window bits, 9-15 (callers map a negotiated 8 to 9). */
  windowBits: number;
  /** Compression level, 0-9 (deflate only). */
  level?: number;
  /** Memory level, 1-9 (deflate only). */
  memLevel?: number;
}

/** The error zlib reported, as thrown by {@linkcode SyncZlib.write}. */
export class ZlibDataError extends Error {
  /** zlib's code, such as `"Z_DATA_ERROR"`, when the runtime gives one. */
  readonly zlibCode: string | undefined;

  /**
   * @param message zlib's message, such as `"invalid block type"`.
   * @param zlibCode zlib's code.
   */
  constructor(message: string, zlibCode: string | undefined) {
    super(message);
    this.name = "ZlibDataError";
    this.zlibCode = zlibCode;
  }
}

/** Output larger than the limit given to {@linkcode SyncZlib.write}. */
export class OutputLimitError extends RangeError {
  constructor(limit: number) {
    super(`Output exceeds the limit of ${limit} bytes`);
    this.name = "OutputLimitError";
  }
}

/**
 * The shared output buffer: every call is synchronous and copies its result
 * out before returning, so one buffer serves every stream of the process.
 */
let scratch = new Uint8Array(64 * 1024);
/** The largest the shared output buffer grows to (larger outputs get their own). */
const MAX_SCRATCH = 1024 * 1024;

/**
 * One raw deflate or inflate stream, driven synchronously. Nothing is
 * allocated in zlib until the first {@linkcode SyncZlib.write} (the runtimes
 * initialise zlib at construction, so construct on first use).
 */
export class SyncZlib {
  #handle: NativeHandle | null;
  readonly #state: Uint32Array;
  #error: ZlibDataError | null = null;
  /** Bytes produced by the last {@linkcode SyncZlib.write} (for tests). */
  lastOutputLength = 0;
  /** Size of the largest output buffer the last write allocated (for tests). */
  lastAllocation = 0;

  /**
   * @param mode `"deflate"` or `"inflate"` (both raw, RFC 1951).
   * @param options Window bits, level and memory level.
   * @throws {TypeError} If the runtime's `node:zlib` lacks the handle API.
   */
  constructor(mode: "deflate" | "inflate", options: SyncZlibOptions) {
    // chunkSize 64 (zlib's minimum): the stream's own output buffer is
    // never used here, so do not let it take 16 KiB per stream.
    const stream = (mode === "deflate"
      ? zlib.createDeflateRaw({
        windowBits: options.windowBits,
        level: options.level ?? zlib.constants.Z_DEFAULT_COMPRESSION,
        memLevel: options.memLevel ?? 8,
        chunkSize: 64,
      })
      : zlib.createInflateRaw({
        windowBits: options.windowBits,
        chunkSize: 64,
      })) as unknown as Partial<ZlibInternals>;
    const handle = stream._handle;
    const state = stream._writeState;
    if (
      handle == null || typeof handle.writeSync !== "function" ||
      typeof handle.reset !== "function" || !(state instanceof Uint32Array)
    ) {
      throw new TypeError(
        "Cannot drive node:zlib synchronously on this runtime: its zlib streams lack _handle.writeSync or _writeState",
      );
    }
    this.#handle = handle;
    this.#state = state;
    // zlib reports errors through this callback, synchronously inside
    // writeSync; replacing it also keeps the stream object from destroying
    // itself (and emitting "error" later).
    handle.onerror = (message: string, _errno: number, code?: string) => {
      this.#error = new ZlibDataError(message, code);
    };
  }

  /** Whether {@linkcode SyncZlib.close} was called or zlib failed. */
  get closed(): boolean {
    return this.#handle === null;
  }

  /**
   * Feeds `input` (then `tail`, if given) and flushes with `Z_SYNC_FLUSH`.
   *
   * @param input The bytes to compress or decompress.
   * @param tail More bytes fed after `input` (the `00 00 ff ff` trailer).
   * @param limit Throw once the output passes this many bytes; zlib stops
   * as soon as the output buffer (at most `limit + 1` bytes) is full.
   * @returns A new buffer of exactly the produced bytes.
   * @throws {ZlibDataError} For data zlib rejects (the stream is closed).
   * @throws {OutputLimitError} When the output passes `limit`.
   */
  write(
    input: Uint8Array,
    tail: Uint8Array | null = null,
    limit: number = Infinity,
  ): Uint8Array<ArrayBuffer> {
    const handle = this.#handle;
    if (handle === null) {
      throw new TypeError("Cannot write to a closed zlib stream");
    }
    const cap = limit + 1;
    let out = scratch.length <= cap ? scratch : new Uint8Array(cap);
    let produced = 0;
    this.lastAllocation = 0;
    let pieceIndex = 0;
    let piece: Uint8Array | null = input;
    let inOff = 0;
    let inLen = input.length;
    while (piece !== null) {
      handle.writeSync(
        Z_SYNC_FLUSH,
        piece,
        inOff,
        inLen,
        out,
        produced,
        out.length - produced,
      );
      if (this.#error !== null) {
        const error = this.#error;
        this.close();
        throw error;
      }
      const availOut = this.#state[0]!;
      const availIn = this.#state[1]!;
      inOff += inLen - availIn;
      inLen = availIn;
      produced = out.length - availOut;
      if (availOut === 0) {
        // Output full: zlib may have more. Grow, up to the limit.
        if (out.length >= cap) {
          this.lastOutputLength = produced;
          throw new OutputLimitError(limit);
        }
        const grown = new Uint8Array(Math.min(cap, out.length * 2));
        grown.set(out.subarray(0, produced));
        this.lastAllocation = grown.length;
        if (out === scratch && grown.length <= MAX_SCRATCH) {
          scratch = grown; // Keep a larger scratch for the next message.
        }
        out = grown;
        continue;
      }
      // All of this piece consumed and flushed: the next one, if any.
      pieceIndex++;
      piece = pieceIndex === 1 ? tail : null;
      inOff = 0;
      inLen = piece?.length ?? 0;
    }
    this.lastOutputLength = produced;
    return out.slice(0, produced);
  }

  /** Forgets the history (no context takeover), keeping the memory. */
  reset(): void {
    this.#handle?.reset();
  }

  /** Frees zlib's memory. Idempotent. */
  close(): void {
    const handle = this.#handle;
    this.#handle = null;
    if (handle !== null) {
      try {
        handle.close();
      } catch {
        // Already closed by the runtime after an error.
      }
    }
  }
}
