/**
 * Close codes (RFC 6455 §7.4) and the rules for which may be sent or received.
 *
 * @module
 */

/**
 * Close codes defined by RFC 6455 §7.4.1 and the IANA registry that wstream
 * sends or reports.
 *
 * @example Close normally
 * ```ts
 * import { CloseCode } from "@wstream/wstream/core";
 * import assert from "node:assert/strict";
 *
 * assert.equal(CloseCode.NormalClosure, 1000);
 * ```
 */
export const CloseCode = {
  /** 1000: normal closure. */
  NormalClosure: 1000,
  /** 1001: the endpoint is going away (server shutdown, page navigation). */
  GoingAway: 1001,
  /** 1002: the peer broke the protocol. */
  ProtocolError: 1002,
  /** 1003: a data type the endpoint cannot accept. */
  UnsupportedData: 1003,
  /** 1005: reported, never sent: the close frame carried no code. */
  NoStatusReceived: 1005,
  /** 1006: reported, never sent: the connection dropped without a close frame. */
  AbnormalClosure: 1006,
  /** 1007: a text message or close reason was not valid UTF-8. */
  InvalidPayload: 1007,
  /** 1008: a policy was violated. */
  PolicyViolation: 1008,
  /** 1009: a frame or message exceeded the configured size limit. */
  MessageTooBig: 1009,
  /** 1010: the client expected an extension the server did not negotiate. */
  MandatoryExtension: 1010,
  /** 1011: the server hit an unexpected condition. */
  InternalError: 1011,
  /** 1012: the service is restarting (IANA registry). */
  ServiceRestart: 1012,
  /** 1013: try again later (IANA registry). */
  TryAgainLater: 1013,
  /** 1014: a gateway got an invalid answer upstream (IANA registry). */
  BadGateway: 1014,
} as const;

/**
 * Tells whether a close code may appear in a close frame on the wire
 * (RFC 6455 §7.4.1, §7.4.2): 1000-1003, 1007-1014 and 3000-4999. Codes 1004,
 * 1005, 1006 and 1015 are reserved and never sent; everything else below
 * 3000 is unassigned, and 5000 and above are out of range.
 *
 * 1012-1014 are registered with IANA after RFC 6455 and sent by real servers,
 * so wstream accepts them.
 *
 * @param code The code to check.
 * @returns `true` when the code is valid in a close frame.
 *
 * @example
 * ```ts
 * import { isValidCloseCode } from "@wstream/wstream/core";
 * import assert from "node:assert/strict";
 *
 * assert.equal(isValidCloseCode(1000), true);
 * assert.equal(isValidCloseCode(1005), false);
 * assert.equal(isValidCloseCode(4999), true);
 * ```
 */
export function isValidCloseCode(code: number): boolean {
  return (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014) ||
    (code >= 3000 && code <= 4999);
}

const EMPTY = new Uint8Array(0);
const textEncoder = new TextEncoder();

/**
 * Encodes the body of a close frame we send (RFC 6455 §5.5.1): the code as
 * two bytes followed by the reason in UTF-8, or nothing when there is no
 * code. Every sending path (the {@linkcode Protocol}, `close()` on any
 * socket) checks its arguments here.
 *
 * @param code The close code, or `undefined` for a body-less close frame.
 * @param reason The reason, at most 123 bytes of UTF-8; requires a code.
 * @returns The close frame's payload.
 * @throws {RangeError} If the code cannot be sent (see
 * {@linkcode isValidCloseCode}), a reason comes without a code, or the reason
 * is longer than 123 bytes.
 *
 * @example
 * ```ts
 * import { encodeCloseBody } from "@wstream/wstream/core";
 * import assert from "node:assert/strict";
 *
 * assert.deepEqual([...encodeCloseBody(1000, "ok")], [0x03, 0xe8, 0x6f, 0x6b]);
 * assert.throws(() => encodeCloseBody(1005), RangeError);
 * ```
 */
export function encodeCloseBody(
  code?: number,
  reason = "",
): Uint8Array {
  if (code === undefined) {
    if (reason !== "") {
      throw new RangeError(
        `Cannot send close reason "${reason}" without a close code`,
      );
    }
    return EMPTY;
  }
  if (!Number.isInteger(code) || !isValidCloseCode(code)) {
    throw new RangeError(
      `Cannot send close code ${code}: use 1000-1003, 1007-1014 or 3000-4999`,
    );
  }
  const reasonBytes = textEncoder.encode(reason);
  if (reasonBytes.length > 123) {
    throw new RangeError(
      `Cannot send a close reason of ${reasonBytes.length} bytes: the limit is 123 bytes of UTF-8`,
    );
  }
  const payload = new Uint8Array(2 + reasonBytes.length);
  payload[0] = code >> 8;
  payload[1] = code & 0xff;
  payload.set(reasonBytes, 2);
  return payload;
}
