/**
 * The error hierarchy of wstream.
 *
 * - {@linkcode WebSocketProtocolError}: the peer broke RFC 6455 (or a limit
 *   was exceeded). It carries a stable {@linkcode ProtocolErrorCode} string
 *   and the close code the connection is failed with.
 * - {@linkcode WebSocketError}: a connection ended uncleanly or a close was
 *   requested with bad arguments; carries `closeCode` and `reason` like the
 *   WHATWG `WebSocketError`.
 * - {@linkcode HandshakeError}: a client-side opening handshake failed.
 *
 * @module
 */

import { CloseCode } from "./close_code.ts";

/**
 * Stable identifiers for every way a peer can break the protocol, each mapped
 * to the close code the connection is failed with (see {@linkcode PROTOCOL_ERROR_CLOSE_CODES}).
 *
 * @example Map an error code to its close code
 * ```ts
 * import { PROTOCOL_ERROR_CLOSE_CODES, type ProtocolErrorCode } from "@wstream/wstream/core";
 * import assert from "node:assert/strict";
 *
 * const code: ProtocolErrorCode = "WS_ERR_MESSAGE_TOO_BIG";
 * assert.equal(PROTOCOL_ERROR_CLOSE_CODES[code], 1009);
 * ```
 */
export type ProtocolErrorCode =
  | "WS_ERR_RESERVED_OPCODE"
  | "WS_ERR_UNEXPECTED_RSV"
  | "WS_ERR_CONTROL_FRAME_TOO_LONG"
  | "WS_ERR_FRAGMENTED_CONTROL_FRAME"
  | "WS_ERR_EXPECTED_MASK"
  | "WS_ERR_UNEXPECTED_MASK"
  | "WS_ERR_INVALID_LENGTH"
  | "WS_ERR_FRAME_TOO_BIG"
  | "WS_ERR_MESSAGE_TOO_BIG"
  | "WS_ERR_TOO_MANY_FRAGMENTS"
  | "WS_ERR_UNEXPECTED_CONTINUATION"
  | "WS_ERR_EXPECTED_CONTINUATION"
  | "WS_ERR_INVALID_UTF8"
  | "WS_ERR_INVALID_CLOSE_PAYLOAD"
  | "WS_ERR_INVALID_CLOSE_CODE"
  | "WS_ERR_INVALID_CLOSE_REASON"
  | "WS_ERR_INVALID_COMPRESSED_DATA";

/**
 * The close code each {@linkcode ProtocolErrorCode} fails the connection with.
 *
 * @example Look up the close code of an error code
 * ```ts
 * import { PROTOCOL_ERROR_CLOSE_CODES } from "@wstream/wstream/core";
 * import assert from "node:assert/strict";
 *
 * assert.equal(PROTOCOL_ERROR_CLOSE_CODES.WS_ERR_INVALID_UTF8, 1007);
 * ```
 */
export const PROTOCOL_ERROR_CLOSE_CODES: Readonly<
  Record<ProtocolErrorCode, number>
> = {
  WS_ERR_RESERVED_OPCODE: CloseCode.ProtocolError,
  WS_ERR_UNEXPECTED_RSV: CloseCode.ProtocolError,
  WS_ERR_CONTROL_FRAME_TOO_LONG: CloseCode.ProtocolError,
  WS_ERR_FRAGMENTED_CONTROL_FRAME: CloseCode.ProtocolError,
  WS_ERR_EXPECTED_MASK: CloseCode.ProtocolError,
  WS_ERR_UNEXPECTED_MASK: CloseCode.ProtocolError,
  WS_ERR_INVALID_LENGTH: CloseCode.ProtocolError,
  WS_ERR_FRAME_TOO_BIG: CloseCode.MessageTooBig,
  WS_ERR_MESSAGE_TOO_BIG: CloseCode.MessageTooBig,
  WS_ERR_TOO_MANY_FRAGMENTS: CloseCode.MessageTooBig,
  WS_ERR_UNEXPECTED_CONTINUATION: CloseCode.ProtocolError,
  WS_ERR_EXPECTED_CONTINUATION: CloseCode.ProtocolError,
  WS_ERR_INVALID_UTF8: CloseCode.InvalidPayload,
  WS_ERR_INVALID_CLOSE_PAYLOAD: CloseCode.ProtocolError,
  WS_ERR_INVALID_CLOSE_CODE: CloseCode.ProtocolError,
  WS_ERR_INVALID_CLOSE_REASON: CloseCode.InvalidPayload,
  WS_ERR_INVALID_COMPRESSED_DATA: CloseCode.InvalidPayload,
};

/**
 * The peer broke RFC 6455 or exceeded a configured limit. The connection must
 * be failed with {@linkcode WebSocketProtocolError.closeCode}.
 *
 * @example Catch a parser error and read its close code
 * ```ts
 * import { FrameParser, WebSocketProtocolError } from "@wstream/wstream/core";
 * import assert from "node:assert/strict";
 *
 * const parser = new FrameParser({ role: "client" });
 * parser.push(new Uint8Array([0x83, 0x00])); // reserved opcode 3
 * assert.throws(() => parser.next(), (error: unknown) =>
 *   error instanceof WebSocketProtocolError && error.closeCode === 1002);
 * ```
 */
export class WebSocketProtocolError extends Error {
  /** A stable identifier of the failure, such as `"WS_ERR_RESERVED_OPCODE"`. */
  readonly code: ProtocolErrorCode;
  /** The close code to fail the connection with (1002, 1007 or 1009). */
  readonly closeCode: number;

  /**
   * Creates an error for a protocol violation.
   *
   * @param code The stable identifier of the failure.
   * @param message A sentence describing the offending input.
   */
  constructor(code: ProtocolErrorCode, message: string) {
    super(message);
    this.name = "WebSocketProtocolError";
    this.code = code;
    this.closeCode = PROTOCOL_ERROR_CLOSE_CODES[code];
  }
}

/**
 * Options of {@linkcode WebSocketError}.
 *
 * @example Carry a close code and reason
 * ```ts
 * import { WebSocketError, type WebSocketErrorInit } from "@wstream/wstream/core";
 * import assert from "node:assert/strict";
 *
 * const init: WebSocketErrorInit = { closeCode: 1011, reason: "Internal error" };
 * const error = new WebSocketError("The server failed", init);
 * assert.equal(error.closeCode, 1011);
 * assert.equal(error.reason, "Internal error");
 * ```
 */
export interface WebSocketErrorInit {
  /**
   * The close code.
   * @default {undefined} no close code
   */
  closeCode?: number;
  /**
   * The close reason.
   * @default {""}
   */
  reason?: string;
}

/**
 * A WebSocket connection ended without a clean close handshake, or a close
 * was requested with an invalid code or reason. Mirrors the WHATWG
 * `WebSocketError`.
 *
 * @example Inspect a close error
 * ```ts
 * import { WebSocketError } from "@wstream/wstream/core";
 * import assert from "node:assert/strict";
 *
 * const error = new WebSocketError("Connection lost", { closeCode: 1006 });
 * assert.equal(error.closeCode, 1006);
 * assert.equal(error.reason, "");
 * ```
 */
export class WebSocketError extends Error {
  /** The close code, if one applies. */
  readonly closeCode: number | undefined;
  /** The close reason, empty when none. */
  readonly reason: string;

  /**
   * Creates a WebSocket error.
   *
   * @param message A sentence describing what happened.
   * @param init The close code and reason.
   */
  constructor(message: string, init: WebSocketErrorInit = {}) {
    super(message);
    this.name = "WebSocketError";
    this.closeCode = init.closeCode;
    this.reason = init.reason ?? "";
  }
}

/**
 * Stable identifiers of client-side opening handshake failures.
 *
 * @example Decide whether a failed handshake is worth retrying
 * ```ts
 * import { HandshakeError, type HandshakeErrorCode } from "@wstream/wstream/core";
 * import assert from "node:assert/strict";
 *
 * const retryable: HandshakeErrorCode[] = ["WS_ERR_HANDSHAKE_TIMEOUT", "WS_ERR_HANDSHAKE_STATUS"];
 * const error = new HandshakeError("WS_ERR_HANDSHAKE_TIMEOUT", "No answer within 10000 ms");
 * assert.ok(retryable.includes(error.code));
 * ```
 */
export type HandshakeErrorCode =
  | "WS_ERR_HANDSHAKE_STATUS"
  | "WS_ERR_HANDSHAKE_UPGRADE"
  | "WS_ERR_HANDSHAKE_CONNECTION"
  | "WS_ERR_HANDSHAKE_ACCEPT"
  | "WS_ERR_HANDSHAKE_PROTOCOL"
  | "WS_ERR_HANDSHAKE_EXTENSION"
  | "WS_ERR_HANDSHAKE_TIMEOUT"
  | "WS_ERR_HANDSHAKE_MALFORMED";

/**
 * A client-side opening handshake failed: the server's answer was not a
 * valid RFC 6455 §4.1 acceptance of our request.
 *
 * @example Recognise a rejected handshake
 * ```ts
 * import { HandshakeError } from "@wstream/wstream/core";
 * import assert from "node:assert/strict";
 *
 * const error = new HandshakeError(
 *   "WS_ERR_HANDSHAKE_STATUS",
 *   "Expected status 101, got 404",
 *   { status: 404 },
 * );
 * assert.equal(error.code, "WS_ERR_HANDSHAKE_STATUS");
 * assert.equal(error.status, 404);
 * ```
 */
export class HandshakeError extends Error {
  /** A stable identifier of the failure. */
  readonly code: HandshakeErrorCode;
  /** The HTTP status the server answered with, when it answered one. */
  readonly status: number | undefined;

  /**
   * Creates a handshake error.
   *
   * @param code The stable identifier of the failure.
   * @param message A sentence describing the offending answer.
   * @param options The HTTP status, if the server answered one, and the
   * underlying cause.
   */
  constructor(
    code: HandshakeErrorCode,
    message: string,
    options: { status?: number; cause?: unknown } = {},
  ) {
    super(message, options.cause === undefined ? {} : { cause: options.cause });
    this.name = "HandshakeError";
    this.code = code;
    this.status = options.status;
  }
}
