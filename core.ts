/**
 * The sans-I/O WebSocket core of wstream: no sockets, no timers, no awaits
 * (the handshake's SHA-1 included). Bytes in, frames, events and bytes out.
 *
 * - {@linkcode FrameParser} and {@linkcode FrameEncoder}: RFC 6455 frames,
 *   every frame of a received chunk in one synchronous call.
 * - {@linkcode Protocol}: the connection state machine (fragments, UTF-8,
 *   control frames, the closing handshake), in the style of
 *   python-websockets: `receiveData()`, then drain `eventsReceived()` and
 *   `dataToSend()`.
 * - The opening handshake: {@linkcode acceptKey}, {@linkcode answerUpgrade},
 *   {@linkcode createClientHandshake}, {@linkcode verifyServerHandshake}.
 * - Extensions: the `Sec-WebSocket-Extensions` grammar
 *   ({@linkcode parseExtensionHeader}, {@linkcode formatExtensionHeader})
 *   and the permessage-deflate negotiation ({@linkcode negotiateDeflate},
 *   {@linkcode deflateOffer}, {@linkcode acceptDeflateAnswer}); the
 *   transform itself is in `@wstream/wstream/extensions`.
 * - {@linkcode applyMask}, {@linkcode Utf8Validator}, close codes and the
 *   error classes with the close code each maps to.
 *
 * @example Parse the RFC 6455 §5.7 "Hello" frame and answer it
 * ```ts
 * import { Protocol } from "@wstream/wstream/core";
 * import assert from "node:assert/strict";
 *
 * const protocol = new Protocol({ role: "server" });
 * protocol.receiveData(
 *   new Uint8Array([0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58]),
 * );
 * const [event] = protocol.eventsReceived();
 * assert.deepEqual(event, { type: "text", data: "Hello" });
 * protocol.sendText("Hello");
 * assert.deepEqual(
 *   protocol.dataToSend(),
 *   new Uint8Array([0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f]),
 * );
 * ```
 *
 * @module
 */
export * from "./lib/core/frame.ts";
export * from "./lib/core/frame_parser.ts";
export * from "./lib/core/frame_encoder.ts";
export * from "./lib/core/protocol.ts";
export * from "./lib/core/handshake.ts";
export * from "./lib/core/extension_header.ts";
export * from "./lib/core/deflate_negotiation.ts";
export * from "./lib/core/extension.ts";
export * from "./lib/core/keepalive.ts";
export * from "./lib/core/mask.ts";
export * from "./lib/core/utf8.ts";
export * from "./lib/core/close_code.ts";
export * from "./lib/core/errors.ts";
