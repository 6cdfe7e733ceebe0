/**
 * wstream: WebSocket (RFC 6455) for Deno, Bun and Node, built on Web
 * Streams and Web Crypto, with zero dependencies.
 *
 * - The protocol core is sans-I/O and synchronous: {@linkcode FrameParser},
 *   {@linkcode FrameEncoder}, {@linkcode Protocol}, and the handshake
 *   functions {@linkcode acceptKey}, {@linkcode answerUpgrade},
 *   {@linkcode createClientHandshake}, {@linkcode verifyServerHandshake}.
 * - Every socket has the WHATWG `WebSocketStream` shape
 *   ({@linkcode WebSocketStreamLike}); {@linkcode WebSocketConnection} runs
 *   one over any pair of byte streams.
 * - {@linkcode upgrade} turns a `Request` into a socket in wstream's own
 *   {@linkcode serve} (Deno, Bun, Node; TCP or TLS), in `Deno.serve`, in
 *   `Bun.serve` (with {@linkcode bunServeOptions}) and in `node:http` (with
 *   {@linkcode attachToNodeServer}): one handler for all four.
 * - {@linkcode connect} and {@linkcode WebSocketStream} are the client, over
 *   `ws://` and `wss://`.
 * - {@linkcode FrameDecoderStream} and {@linkcode FrameEncoderStream} are
 *   `TransformStream`s for composing your own pipelines.
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
export * from "./lib/client.ts";
export * from "./lib/close_code.ts";
export * from "./lib/errors.ts";
export * from "./lib/extension.ts";
export * from "./lib/frame.ts";
export * from "./lib/frame_encoder.ts";
export * from "./lib/frame_parser.ts";
export * from "./lib/frame_streams.ts";
export * from "./lib/handshake.ts";
export * from "./lib/http_head.ts";
export * from "./lib/keepalive.ts";
export * from "./lib/http_response_head.ts";
export * from "./lib/mask.ts";
export * from "./lib/native_bun.ts";
export * from "./lib/node_http.ts";
export * from "./lib/protocol.ts";
export * from "./lib/serve.ts";
export * from "./lib/transports/bun.ts";
export * from "./lib/transports/deno.ts";
export * from "./lib/transports/node.ts";
export * from "./lib/transports/tcp.ts";
export * from "./lib/upgrade.ts";
export * from "./lib/utf8.ts";
export * from "./lib/websocket_connection.ts";
export * from "./lib/websocket_stream.ts";
