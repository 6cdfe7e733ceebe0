/**
 * Per-message extensions for a {@linkcode Protocol} you drive yourself:
 * {@linkcode PerMessageDeflate}, permessage-deflate (RFC 7692) over
 * `node:zlib`, synchronous and with context takeover, on Deno, Bun and
 * Node. wstream's own servers and client negotiate and run it for you
 * (their `compression` option); this entry is for composing the sans-I/O
 * core of `@wstream/wstream/core` with a transport of your own.
 *
 * Negotiate with `negotiateDeflate()` (server) or `deflateOffer()` +
 * `acceptDeflateAnswer()` (client) from `@wstream/wstream/core`, then build
 * one `PerMessageDeflate` per connection from the agreed parameters, pass
 * it in the `Protocol`'s `extensions`, and call its `close()` when the
 * connection closes to free the zlib memory.
 *
 * @example A server and a client Protocol that compress
 * ```ts
 * import { PerMessageDeflate } from "@wstream/wstream/extensions";
 * import {
 *   acceptDeflateAnswer,
 *   deflateOffer,
 *   negotiateDeflate,
 *   parseExtensionHeader,
 *   Protocol,
 * } from "@wstream/wstream/core";
 * import assert from "node:assert/strict";
 *
 * const offer = deflateOffer(); // the client's Sec-WebSocket-Extensions
 * const agreement = negotiateDeflate(parseExtensionHeader(offer), {
 *   serverMaxWindowBits: 12,
 *   clientMaxWindowBits: 12,
 * })!;
 * const clientParams = acceptDeflateAnswer(agreement.header)!;
 *
 * const serverDeflate = new PerMessageDeflate({ role: "server", params: agreement.params });
 * const clientDeflate = new PerMessageDeflate({ role: "client", params: clientParams });
 * const server = new Protocol({ role: "server", extensions: [serverDeflate] });
 * const client = new Protocol({ role: "client", extensions: [clientDeflate] });
 *
 * const json = JSON.stringify({ items: Array(50).fill({ id: 1, name: "item" }) });
 * server.sendText(json);
 * const wire = server.dataToSend()!;
 * assert.ok(wire.length < json.length / 5); // compressed on the wire
 * client.receiveData(wire);
 * assert.deepEqual(client.eventsReceived(), [{ type: "text", data: json }]);
 *
 * serverDeflate.close();
 * clientDeflate.close();
 * ```
 *
 * @module
 */
export * from "./lib/extensions/permessage_deflate.ts";
export type {
  ClientCompressionOptions,
  CompressionOptions,
} from "./lib/extensions/compression_options.ts";
