/**
 * Shared test helpers: deadlines, delays and an awaitable queue; Latin-1
 * and hex fixtures; seeded pseudo-random bytes and chunkings; frames and a
 * reference frame encoder that does not use the library's encoder or mask;
 * and small server-side fixtures (an echoing handler's upgrade, a
 * `node:net` listener on 127.0.0.1).
 *
 * Private to the tests; never re-exported.
 *
 * @module
 */
import type { AddressInfo, Server as NetServer } from "node:net";
import type { Frame } from "../lib/core/frame.ts";
import type { UpgradeResult } from "../lib/server/upgrade.ts";
import type { WebSocketStreamLike } from "../lib/connection/websocket_stream_like.ts";

/**
 * Rejects with "Timed out: `what`" if `promise` does not settle in `ms`.
 *
 * @param promise The promise to wait for.
 * @param ms The deadline, in milliseconds.
 * @param what What was awaited, for the error message.
 * @returns The promise's value.
 */
export function timeout<T>(
  promise: Promise<T>,
  ms: number,
  what: string,
): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  return Promise.race([
    promise,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`Timed out: ${what}`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

/**
 * Resolves after `ms` milliseconds.
 *
 * @param ms The delay.
 * @returns A promise of nothing.
 */
export function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** A FIFO of received items that tests await one at a time. */
export class Inbox<T> {
  #items: T[] = [];
  #waiting: ((item: T) => void)[] = [];
  #what: string;

  /**
   * Creates an empty inbox.
   *
   * @param what What arrives, for timeout messages.
   */
  constructor(what: string) {
    this.#what = what;
  }

  /** How many items wait to be taken. */
  get size(): number {
    return this.#items.length;
  }

  /**
   * Adds an item, handing it to the oldest waiter if any.
   *
   * @param item The item.
   */
  push(item: T): void {
    const waiter = this.#waiting.shift();
    if (waiter !== undefined) waiter(item);
    else this.#items.push(item);
  }

  /**
   * Takes the oldest item, waiting for one for at most `ms`.
   *
   * @param ms The deadline.
   * @returns The item.
   */
  next(ms = 10_000): Promise<T> {
    if (this.#items.length > 0) return Promise.resolve(this.#items.shift()!);
    return timeout(
      new Promise<T>((resolve) => this.#waiting.push(resolve)),
      ms,
      this.#what,
    );
  }
}

/**
 * Encodes text as Latin-1: one byte per UTF-16 code unit (its low 8 bits),
 * so tests can spell raw HTTP heads, obs-text and NUL.
 *
 * @param text The text.
 * @returns One byte per code unit.
 */
export function latin1(text: string): Uint8Array {
  return Uint8Array.from(text, (c) => c.charCodeAt(0));
}

/**
 * Decodes Latin-1 (the inverse of {@linkcode latin1}): one character per
 * byte.
 *
 * @param bytes The bytes.
 * @returns The text.
 */
export function fromLatin1(bytes: Uint8Array): string {
  let text = "";
  for (const byte of bytes) text += String.fromCharCode(byte);
  return text;
}

/**
 * Parses hex into bytes, ignoring whitespace: `hex("81 05 48 65")`.
 *
 * @param text Pairs of hex digits, optionally separated by whitespace.
 * @returns The bytes.
 * @throws {SyntaxError} If `text` has an odd digit count or a non-hex character.
 */
export function hex(text: string): Uint8Array {
  const digits = text.replace(/\s+/g, "");
  if (digits.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(digits)) {
    throw new SyntaxError(
      `Cannot parse hex "${text}": use pairs of hex digits`,
    );
  }
  const bytes = new Uint8Array(digits.length / 2);
  for (let i = 0; i < bytes.length; i++) {
    bytes[i] = parseInt(digits.slice(2 * i, 2 * i + 2), 16);
  }
  return bytes;
}

/**
 * Formats bytes as lowercase hex pairs separated by spaces (the inverse of
 * {@linkcode hex}), for readable assertion messages.
 *
 * @param bytes The bytes.
 * @returns For example `"81 05 48 65 6c 6c 6f"`.
 */
export function toHex(bytes: Uint8Array): string {
  return Array.from(bytes, (byte) => byte.toString(16).padStart(2, "0")).join(
    " ",
  );
}

/**
 * Concatenates byte arrays into one new buffer.
 *
 * @param parts The arrays, in order.
 * @returns A new buffer holding all their bytes.
 */
export function concat(parts: readonly Uint8Array[]): Uint8Array {
  let length = 0;
  for (const part of parts) length += part.length;
  const result = new Uint8Array(length);
  let offset = 0;
  for (const part of parts) {
    result.set(part, offset);
    offset += part.length;
  }
  return result;
}

/**
 * Pushes `bytes` into a head reader in chunks of `size` (`Infinity`: in
 * one push), stopping at the first push that returns a head.
 *
 * @param reader The reader, such as an `HttpHeadReader`.
 * @param bytes The bytes to push.
 * @param size The chunk size.
 * @returns The head, or `null` if every push returned `null`.
 */
export function pushInChunks<T>(
  reader: { push(bytes: Uint8Array): T | null },
  bytes: Uint8Array,
  size: number,
): T | null {
  const step = Number.isFinite(size) ? size : bytes.length;
  for (let i = 0; i < bytes.length; i += step) {
    const head = reader.push(bytes.subarray(i, i + step));
    if (head !== null) return head;
  }
  return null;
}

/**
 * Deterministic pseudo-random bytes (xorshift32), cheap enough for
 * megabytes. The Chromium interop page (`interop/chromium_page.html`) has
 * the same generator, so both sides can produce and check large payloads.
 *
 * @param length How many bytes.
 * @param seed Any 32-bit integer (0 counts as 1).
 * @returns `length` bytes in a buffer of their own.
 */
export function testBytes(
  length: number,
  seed: number,
): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(length);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}

/** A deterministic pseudo-random source; see {@linkcode createRandom}. */
export interface Random {
  /** A float in [0, 1). */
  float(): number;
  /** An integer in [0, max). */
  int(max: number): number;
  /** `n` random bytes. */
  bytes(n: number): Uint8Array<ArrayBuffer>;
  /** A random element of a non-empty array. */
  pick<T>(items: readonly T[]): T;
}

/**
 * Creates a seeded PRNG (mulberry32), so that a failing randomized test
 * replays exactly: put the seed in the test name.
 *
 * @param seed Any 32-bit integer.
 * @returns The random source.
 */
export function createRandom(seed: number): Random {
  let state = seed >>> 0;
  const float = (): number => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const int = (max: number): number => Math.floor(float() * max);
  return {
    float,
    int,
    bytes(n) {
      const bytes = new Uint8Array(n);
      for (let i = 0; i < n; i++) bytes[i] = int(256);
      return bytes;
    },
    pick(items) {
      if (items.length === 0) {
        throw new RangeError("Cannot pick from an empty array");
      }
      return items[int(items.length)]!;
    },
  };
}

/**
 * Splits `bytes` at random boundaries into copies of 1 to `maxChunk` bytes.
 *
 * @param bytes The bytes to split.
 * @param random The random source.
 * @param maxChunk The largest chunk size.
 * @returns Fresh chunks (copies) whose concatenation equals `bytes`.
 */
export function randomChunks(
  bytes: Uint8Array,
  random: Random,
  maxChunk = 16,
): Uint8Array[] {
  const chunks: Uint8Array[] = [];
  for (let offset = 0; offset < bytes.length;) {
    const size = 1 + random.int(maxChunk);
    chunks.push(bytes.slice(offset, offset + size));
    offset += size;
  }
  return chunks;
}

/**
 * Yields the ways each wire rule is fed to a parser: `"whole"`, `"1-byte"`
 * and a seeded `"random"` split. Every chunk is a fresh copy, because
 * parsers take ownership of their input and unmask it in place.
 *
 * @param bytes The bytes to feed.
 * @param seed The seed of the random split.
 * @returns Pairs of a name for the test title and the chunks.
 */
export function* chunkings(
  bytes: Uint8Array,
  seed = 1,
): Generator<[string, Uint8Array[]]> {
  yield ["whole", [bytes.slice()]];
  yield ["1-byte", Array.from(bytes, (byte) => Uint8Array.of(byte))];
  yield [`random (seed ${seed})`, randomChunks(bytes, createRandom(seed))];
}

/**
 * Builds a frame object (a string payload is encoded as UTF-8).
 *
 * @param opcode The opcode.
 * @param payload The payload.
 * @param fin The FIN bit.
 * @param rsv The RSV bits, 0 to 7.
 * @returns The frame.
 */
export function frame(
  opcode: number,
  payload: Uint8Array | string,
  fin = true,
  rsv = 0,
): Frame {
  return {
    fin,
    rsv,
    opcode,
    payload: typeof payload === "string"
      ? new TextEncoder().encode(payload)
      : payload,
  };
}

/** The masking key of the RFC 6455 §5.7 examples: `37 fa 21 3d`. */
export const RFC_MASK_KEY: Uint8Array = hex("37 fa 21 3d");

/** The frame to build with {@linkcode encodeClientFrame}. */
export interface TestFrame {
  /** FIN bit. @default {true} */
  fin?: boolean;
  /** RSV bits, 0 to 7. @default {0} */
  rsv?: number;
  /** Opcode, 0 to 15 (not checked: reserved opcodes are allowed). */
  opcode: number;
  /** Payload; a string is encoded as UTF-8. */
  payload: Uint8Array | string;
  /** Masking key, or `null` for an unmasked frame. @default {RFC_MASK_KEY} */
  mask?: Uint8Array | null;
}

/**
 * Builds a frame's wire bytes independently of the library (reference
 * header encoding, byte-wise masking). Nothing is validated, so it also
 * builds frames a parser must reject (reserved opcodes, RSV bits, long or
 * fragmented control frames).
 *
 * @param frame The frame; masked with `RFC_MASK_KEY` unless `mask` is given.
 * @returns A new buffer with the frame as a client would send it.
 */
export function encodeClientFrame(frame: TestFrame): Uint8Array {
  const { fin = true, rsv = 0, opcode, mask = RFC_MASK_KEY } = frame;
  const payload = typeof frame.payload === "string"
    ? new TextEncoder().encode(frame.payload)
    : frame.payload;
  const length = payload.length;
  const maskBit = mask === null ? 0 : 0x80;
  const first = (fin ? 0x80 : 0) | (rsv << 4) | opcode;
  const header: number[] = [];
  if (length < 126) {
    header.push(first, maskBit | length);
  } else if (length < 0x10000) {
    header.push(first, maskBit | 126, length >>> 8, length & 0xff);
  } else {
    header.push(first, maskBit | 127);
    for (let shift = 56; shift >= 0; shift -= 8) {
      header.push(Math.floor(length / 2 ** shift) & 0xff);
    }
  }
  if (mask !== null) header.push(...mask.subarray(0, 4));
  const bytes = new Uint8Array(header.length + length);
  bytes.set(header);
  for (let i = 0; i < length; i++) {
    bytes[header.length + i] = payload[i]! ^ (mask === null ? 0 : mask[i & 3]!);
  }
  return bytes;
}

/**
 * Builds an unmasked frame, as a server sends it, for a client-role parser.
 *
 * @param frame The frame; any `mask` is ignored.
 * @returns A new buffer with the frame's wire bytes.
 */
export function encodeServerFrame(frame: TestFrame): Uint8Array {
  return encodeClientFrame({ ...frame, mask: null });
}

/**
 * Finishes a test handler's upgrade: collects the socket in `sockets` and,
 * once it opens, echoes every message back in the background (a socket
 * that fails to open or ends with an error is left to the test, which
 * looks at `closed`); a refusal passes through.
 *
 * @param result What `upgrade()` returned.
 * @param sockets Collects the accepted sockets.
 * @returns The response for the handler to return.
 */
export function echoUpgraded(
  result: UpgradeResult,
  sockets: WebSocketStreamLike[],
): Response {
  const socket = result.socket;
  if (socket !== null) {
    sockets.push(socket);
    socket.opened.then(async ({ readable, writable }) => {
      const writer = writable.getWriter();
      for await (const message of readable) await writer.write(message);
    }).catch(() => {});
  }
  return result.response;
}

/**
 * Makes a `node:net` (or `node:http`, `node:https`) server listen on
 * 127.0.0.1, port 0.
 *
 * @param server The server, not listening yet.
 * @param what What listens, for the timeout message.
 * @returns Its port, once it listens.
 * @throws {Error} If it fails to listen or takes over 5 s.
 */
export async function listenLocal(
  server: NetServer,
  what = "listening",
): Promise<number> {
  await timeout(
    new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(0, "127.0.0.1", () => resolve());
    }),
    5000,
    what,
  );
  return (server.address() as AddressInfo).port;
}
