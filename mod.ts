/**
 * wstream: WebSocket (RFC 6455) for Deno, Bun and Node, built on Web
 * Streams and Web Crypto, with zero dependencies.
 *
 * This entry holds what an application uses:
 *
 * - {@linkcode upgrade} turns a `Request` into a socket in wstream's own
 *   {@linkcode serve} (Deno, Bun, Node; TCP or TLS), in `Deno.serve`, in
 *   `Bun.serve` (with {@linkcode bunServeOptions}) and in `node:http` (with
 *   {@linkcode attachToNodeServer}): one handler for all four.
 * - {@linkcode connect} and {@linkcode WebSocketStream} are the client, over
 *   `ws://` and `wss://`.
 * - Every socket has the WHATWG `WebSocketStream` shape
 *   ({@linkcode WebSocketStreamLike}); {@linkcode WebSocketConnection} runs
 *   one over any pair of byte streams.
 * - permessage-deflate (RFC 7692) is negotiated by default on both sides,
 *   with python-websockets' memory-conscious settings
 *   ({@linkcode CompressionOptions}, {@linkcode ClientCompressionOptions});
 *   `compression: false` turns it off.
 * - Errors ({@linkcode WebSocketError}, {@linkcode HandshakeError}) and
 *   close codes ({@linkcode CloseCode}).
 *
 * The other entries, by role:
 *
 * - `@wstream/wstream/core`: the sans-I/O protocol core (frame parser and
 *   encoder, the `Protocol` state machine, the handshake functions, masking,
 *   UTF-8 validation), no I/O and no timers.
 * - `@wstream/wstream/codec`: `FrameDecoderStream` and `FrameEncoderStream`,
 *   `TransformStream`s for composing your own pipelines.
 * - `@wstream/wstream/transports`: the TCP/TLS byte transports behind
 *   `serve()` and `connect()` (Deno, Bun, Node).
 * - `@wstream/wstream/http`: the HTTP/1.1 head readers behind them.
 * - `@wstream/wstream/extensions`: `PerMessageDeflate`, the
 *   permessage-deflate transform, for a `Protocol` of your own.
 *
 * @example An echo server
 * ```ts ignore
 * import { serve, upgrade } from "@wstream/wstream";
 *
 * serve({ port: 8080 }, async (request) => {
 *   const { response, socket } = await upgrade(request);
 *   if (socket === null) return response; // not a valid upgrade: 400/426/...
 *   socket.opened.then(async ({ readable, writable }) => {
 *     const writer = writable.getWriter();
 *     for await (const message of readable) await writer.write(message);
 *   }).catch(() => {});
 *   return response;
 * });
 * ```
 *
 * @module
 */
export * from "./lib/server/upgrade.ts";
export * from "./lib/server/serve.ts";
export * from "./lib/server/node_http.ts";
export * from "./lib/native/bun_serve.ts";
export * from "./lib/client/connect.ts";
export * from "./lib/client/websocket_stream.ts";
export * from "./lib/connection/websocket_connection.ts";
export * from "./lib/connection/websocket_stream_like.ts";
export * from "./lib/connection/websocket_hooks.ts";
export * from "./lib/core/errors.ts";
export * from "./lib/core/close_code.ts";
export type { UpgradeOptions } from "./lib/core/handshake.ts";
export type {
  DeflateClientOptions,
  DeflateParameters,
  DeflateServerOptions,
} from "./lib/core/deflate_negotiation.ts";
export type {
  ClientCompressionOptions,
  CompressionOptions,
} from "./lib/extensions/compression_options.ts";
export type { Role } from "./lib/core/frame.ts";
export type { MessageExtension } from "./lib/core/extension.ts";
export type {
  NetAddr,
  TlsConnectOptions,
} from "./lib/transports/tcp_connection.ts";
export * from "./lib/pubsub/hub.ts";
export type {
  Backplane,
  BackplaneMessage,
  BackplaneReceiver,
} from "./lib/pubsub/backplane.ts";
