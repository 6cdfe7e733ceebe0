/**
 * Low level: the incremental HTTP/1.1 head readers wstream's server and
 * client use for the opening handshake, bounded in size and strict in
 * syntax: {@linkcode HttpHeadReader} (requests, throwing
 * {@linkcode HttpHeadError} with the status to answer) and
 * {@linkcode HttpResponseHeadReader} (responses).
 *
 * @example Read a request head that arrives in two pieces
 * ```ts
 * import { HttpHeadReader } from "@wstream/wstream/http";
 * import assert from "node:assert/strict";
 *
 * const reader = new HttpHeadReader();
 * const encoder = new TextEncoder();
 * assert.equal(reader.push(encoder.encode("GET /chat HTTP/1.1\r\nHo")), null);
 * const head = reader.push(encoder.encode("st: example.com\r\n\r\n"));
 * assert.equal(head?.request.url, "http://example.com/chat");
 * ```
 *
 * @module
 */
export * from "./lib/http/request_head.ts";
export * from "./lib/http/response_head.ts";
