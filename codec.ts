/**
 * WebSocket frames as Web Streams: {@linkcode FrameDecoderStream} turns
 * bytes into {@linkcode Frame}s and {@linkcode FrameEncoderStream} frames
 * into bytes, each a `TransformStream` over the sans-I/O parser and encoder
 * of `@wstream/wstream/core`. For composing your own pipelines; an
 * application's sockets (`@wstream/wstream`) do not chain them.
 *
 * @example Decode an unmasked text frame from a byte stream
 * ```ts
 * import { FrameDecoderStream } from "@wstream/wstream/codec";
 * import assert from "node:assert/strict";
 *
 * const bytes = ReadableStream.from([
 *   new Uint8Array([0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f]),
 * ]);
 * const frames = await Array.fromAsync(
 *   bytes.pipeThrough(new FrameDecoderStream({ role: "client" })),
 * );
 * assert.equal(frames.length, 1);
 * assert.equal(new TextDecoder().decode(frames[0]!.payload), "Hello");
 * ```
 *
 * @module
 */
export * from "./lib/codec/frame_streams.ts";
export type { Frame, Role } from "./lib/core/frame.ts";
