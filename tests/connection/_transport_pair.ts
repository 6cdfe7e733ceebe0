/**
 * In-memory byte transports for connection tests: two ends joined like a
 * TCP connection, with backpressure (a write resolves only once the other
 * end has read it) and byte counters.
 */
import type { ByteStreamPair } from "../../lib/connection/websocket_connection.ts";
import { concat } from "../_test_utils.ts";

/** One end of a {@linkcode transportPair}, with counters. */
export interface TestTransport extends ByteStreamPair {
  /** Bytes this end has read from its readable. */
  readonly bytesRead: () => number;
  /** Bytes this end has written that the other end read. */
  readonly bytesDelivered: () => number;
}

/** One direction: a TransformStream with no queue on either side. */
function pipe(): {
  readable: ReadableStream<Uint8Array>;
  writable: WritableStream<Uint8Array>;
  delivered: () => number;
  reset: () => void;
} {
  let delivered = 0;
  let control: TransformStreamDefaultController<Uint8Array> | undefined;
  const stream = new TransformStream<Uint8Array, Uint8Array>(
    {
      start(controller) {
        control = controller;
      },
      transform(chunk, controller) {
        delivered += chunk.length;
        // A real socket hands the reader fresh memory.
        controller.enqueue(chunk.slice());
      },
    },
    { highWaterMark: 0 },
    { highWaterMark: 0 },
  );
  return {
    readable: stream.readable,
    writable: stream.writable,
    delivered: () => delivered,
    reset: () => control?.error(new Error("connection reset")),
  };
}

/** An end's readable: cancelling it resets the whole connection, like a socket. */
function socketReadable(
  incoming: ReadableStream<Uint8Array>,
  reset: () => void,
): ReadableStream<Uint8Array> {
  const reader = incoming.getReader();
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      try {
        const result = await reader.read();
        if (result.done) controller.close();
        else controller.enqueue(result.value);
      } catch (error) {
        controller.error(error);
      }
    },
    cancel() {
      reset();
    },
  }, { highWaterMark: 0 });
}

/** Returns two connected transport ends: what one writes, the other reads. */
export function transportPair(): [TestTransport, TestTransport] {
  const ab = pipe();
  const ba = pipe();
  const reset = () => {
    ab.reset();
    ba.reset();
  };
  return [
    {
      readable: socketReadable(ba.readable, reset),
      writable: ab.writable,
      bytesRead: ba.delivered,
      bytesDelivered: ab.delivered,
    },
    {
      readable: socketReadable(ab.readable, reset),
      writable: ba.writable,
      bytesRead: ab.delivered,
      bytesDelivered: ba.delivered,
    },
  ];
}

/** Reads everything from a raw transport end until it ends or `ms` pass. */
export async function readAll(
  readable: ReadableStream<Uint8Array>,
  ms = 2000,
): Promise<Uint8Array> {
  const reader = readable.getReader();
  const chunks: Uint8Array[] = [];
  const deadline = Date.now() + ms;
  try {
    while (Date.now() < deadline) {
      const result = await Promise.race([
        reader.read(),
        new Promise<null>((resolve) =>
          setTimeout(() => resolve(null), Math.max(1, deadline - Date.now()))
        ),
      ]);
      if (result === null || result.done) break;
      chunks.push(result.value);
    }
  } catch {
    // A reset ends the read like EOF.
  } finally {
    reader.releaseLock();
  }
  return concat(chunks);
}
