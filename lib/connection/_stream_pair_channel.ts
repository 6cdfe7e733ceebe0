/**
 * Private: any `{ readable, writable }` byte stream pair as the
 * callback-driven {@linkcode ByteChannel} a `WebSocketConnection` runs over.
 * wstream's own sockets are channels already; this adapter serves pairs
 * from elsewhere (a TLS stream, a test double, a user's pipeline).
 *
 * @module
 */

import type {
  ByteChannel,
  ByteReceiver,
} from "../transports/_socket_channel.ts";

/** A byte stream pair, read by one pump loop while a receiver is set. */
export class StreamPairChannel implements ByteChannel {
  readonly #reader: ReadableStreamDefaultReader<Uint8Array>;
  readonly #writer: WritableStreamDefaultWriter<Uint8Array>;
  #receiver: ByteReceiver | null = null;
  #pumping = false;
  /** A chunk (or the end) read while no receiver was set. */
  #held: { chunk: Uint8Array } | { end: Error | undefined } | null = null;
  #ended = false;

  /**
   * Takes both streams (locks them) for good.
   *
   * @param pair The streams.
   */
  constructor(
    pair: {
      readable: ReadableStream<Uint8Array>;
      writable: WritableStream<Uint8Array>;
    },
  ) {
    this.#reader = pair.readable.getReader();
    this.#writer = pair.writable.getWriter();
  }

  receive(receiver: ByteReceiver | null): void {
    this.#receiver = receiver;
    if (receiver === null) return;
    const held = this.#held;
    if (held !== null) {
      this.#held = null;
      if ("chunk" in held) {
        receiver.data(held.chunk);
      } else {
        receiver.end(held.end);
        return;
      }
    }
    if (!this.#pumping && !this.#ended && this.#receiver === receiver) {
      this.#pump();
    }
  }

  write(bytes: Uint8Array): Promise<void> {
    return this.#writer.write(bytes);
  }

  closeWrite(): Promise<void> {
    return this.#writer.close().catch(() => {});
  }

  linger(): Promise<void> {
    this.#receiver = null;
    return this.#reader.cancel().catch(() => {});
  }

  close(): void {
    this.#writer.abort().catch(() => {});
    this.#reader.cancel().catch(() => {});
  }

  async #pump(): Promise<void> {
    this.#pumping = true;
    try {
      while (this.#receiver !== null) {
        let result: ReadableStreamReadResult<Uint8Array>;
        try {
          result = await this.#reader.read();
        } catch (error) {
          this.#deliverEnd(
            error instanceof Error ? error : new Error(String(error)),
          );
          return;
        }
        if (result.done) {
          this.#deliverEnd(undefined);
          return;
        }
        const receiver = this.#receiver;
        if (receiver === null) {
          this.#held = { chunk: result.value };
          return;
        }
        receiver.data(result.value);
      }
    } finally {
      this.#pumping = false;
    }
  }

  #deliverEnd(error: Error | undefined): void {
    this.#ended = true;
    const receiver = this.#receiver;
    if (receiver === null) this.#held = { end: error };
    else receiver.end(error);
  }
}
