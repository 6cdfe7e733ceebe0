/**
 * `TransformStream`s over the frame codec, for composing pipelines.
 *
 * @module
 */

import type { Frame, Role } from "../core/frame.ts";
import { FrameEncoder } from "../core/frame_encoder.ts";
import { FrameParser } from "../core/frame_parser.ts";

/**
 * Options of {@linkcode FrameDecoderStream}.
 *
 * @example Decode client frames (masked) with a 1 MiB frame limit
 * ```ts
 * import { FrameDecoderStream, type FrameDecoderStreamOptions } from "@wstream/wstream/codec";
 * import assert from "node:assert/strict";
 *
 * const options: FrameDecoderStreamOptions = { role: "server", maxPayload: 1024 * 1024 };
 * const bytes = new Uint8Array([0x82, 0x81, 0x01, 0x02, 0x03, 0x04, 0x2b]); // binary [0x2a], masked
 * const frames = await Array.fromAsync(ReadableStream.from([bytes]).pipeThrough(new FrameDecoderStream(options)));
 * assert.deepEqual(frames[0]?.payload, new Uint8Array([0x2a]));
 * ```
 */
export interface FrameDecoderStreamOptions {
  /** Our side: a `"server"` requires masked frames, a `"client"` unmasked ones. */
  role: Role;
  /**
   * The largest payload one frame may announce; larger errors the stream
   * with a 1009 `WebSocketProtocolError` before buffering it.
   * @default {67108864} (64 MiB)
   */
  maxPayload?: number;
  /**
   * RSV bits that negotiated extensions may set (RSV1 = 4, RSV2 = 2, RSV3 = 1).
   * @default {0}
   */
  allowedRsv?: number;
}

/**
 * Decodes bytes into frames (unmasked), checking every RFC 6455 §5 header
 * rule. All frames of a chunk are parsed in one synchronous pass. A
 * violation errors the stream with a `WebSocketProtocolError` whose
 * `closeCode` is 1002 or 1009. Frames are frames, not messages: fragments
 * and control frames come out as they arrived.
 *
 * The stream takes ownership of the chunks written to it (payloads are
 * unmasked in place).
 *
 * @example Decode the RFC 6455 §5.7 fragmented "Hel" + "lo"
 * ```ts
 * import { FrameDecoderStream } from "@wstream/wstream/codec";
 * import assert from "node:assert/strict";
 *
 * const bytes = new Uint8Array([0x01, 0x03, 0x48, 0x65, 0x6c, 0x80, 0x02, 0x6c, 0x6f]);
 * const frames = await Array.fromAsync(
 *   ReadableStream.from([bytes]).pipeThrough(new FrameDecoderStream({ role: "client" })),
 * );
 * assert.deepEqual(frames.map((frame) => [frame.fin, frame.opcode]), [[false, 1], [true, 0]]);
 * ```
 */
export class FrameDecoderStream extends TransformStream<Uint8Array, Frame> {
  /**
   * Creates a decoder stream.
   *
   * @param options The role and limits.
   * @throws {RangeError} If `maxPayload` is invalid.
   */
  constructor(options: FrameDecoderStreamOptions) {
    const parser = new FrameParser(options);
    super({
      transform(chunk, controller) {
        parser.push(chunk);
        for (let frame; (frame = parser.next()) !== null;) {
          controller.enqueue(frame);
        }
      },
      flush() {
        if (!parser.atFrameBoundary) {
          throw new SyntaxError(
            "Cannot end a frame stream in the middle of a frame",
          );
        }
      },
    });
  }
}

/**
 * Options of {@linkcode FrameEncoderStream}.
 *
 * @example Encode as a client: every frame masked
 * ```ts
 * import { FrameEncoderStream, type FrameEncoderStreamOptions } from "@wstream/wstream/codec";
 * import assert from "node:assert/strict";
 *
 * const options: FrameEncoderStreamOptions = { role: "client" };
 * const ping = { fin: true, rsv: 0, opcode: 0x9, payload: new Uint8Array(0) };
 * const [bytes] = await Array.fromAsync(ReadableStream.from([ping]).pipeThrough(new FrameEncoderStream(options)));
 * assert.equal(bytes!.length, 6); // 2 header bytes and a 4-byte masking key
 * ```
 */
export interface FrameEncoderStreamOptions {
  /** Our side: a `"client"` masks every frame, a `"server"` never does. */
  role: Role;
}

/**
 * Encodes frames to wire bytes, one chunk per frame (masked with a fresh
 * random key when the role is `"client"`).
 *
 * @example Encode a ping
 * ```ts
 * import { FrameEncoderStream } from "@wstream/wstream/codec";
 * import assert from "node:assert/strict";
 *
 * const ping = { fin: true, rsv: 0, opcode: 0x9, payload: new Uint8Array(0) };
 * const [bytes] = await Array.fromAsync(
 *   ReadableStream.from([ping]).pipeThrough(new FrameEncoderStream({ role: "server" })),
 * );
 * assert.deepEqual([...bytes!], [0x89, 0x00]);
 * ```
 */
export class FrameEncoderStream extends TransformStream<Frame, Uint8Array> {
  /**
   * Creates an encoder stream.
   *
   * @param options The role, which decides masking.
   */
  constructor(options: FrameEncoderStreamOptions) {
    const encoder = new FrameEncoder(options);
    super({
      transform(frame, controller) {
        controller.enqueue(encoder.encode(frame));
      },
    });
  }
}
