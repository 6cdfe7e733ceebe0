/**
 * permessage-deflate negotiation (RFC 7692 §5, §7.1) as pure functions: the
 * server picks an offer and writes its answer, the client writes its offer
 * and checks the answer. The per-message transform that runs what was
 * agreed is `PerMessageDeflate`, in `@wstream/wstream/extensions` (it needs
 * `node:zlib`, which the sans-I/O core does not import).
 *
 * @module
 */

import { HandshakeError } from "./errors.ts";
import {
  type ExtensionElement,
  type ExtensionParam,
  formatExtensionHeader,
  parseExtensionHeader,
} from "./extension_header.ts";

/**
 * The extension token of RFC 7692.
 *
 * @example Find the permessage-deflate offers
 * ```ts
 * import { PERMESSAGE_DEFLATE } from "@wstream/wstream/core";
 * import { parseExtensionHeader } from "@wstream/wstream/core";
 * import assert from "node:assert/strict";
 *
 * const offers = parseExtensionHeader("x-foo, permessage-deflate")
 *   .filter((offer) => offer.name === PERMESSAGE_DEFLATE);
 * assert.equal(offers.length, 1);
 * ```
 */
export const PERMESSAGE_DEFLATE = "permessage-deflate";

/**
 * What both sides agreed on: each direction's LZ77 window and whether its
 * compressor resets between messages. "server" and "client" name the side
 * that *compresses* (RFC 7692 §7.1).
 *
 * @example Read what a server agreed to
 * ```ts
 * import { type DeflateParameters, negotiateDeflate, parseExtensionHeader } from "@wstream/wstream/core";
 * import assert from "node:assert/strict";
 *
 * const agreement = negotiateDeflate(parseExtensionHeader("permessage-deflate; server_no_context_takeover"));
 * const params: DeflateParameters | undefined = agreement?.params;
 * assert.deepEqual(params, {
 *   serverNoContextTakeover: true,
 *   clientNoContextTakeover: false,
 *   serverMaxWindowBits: 15,
 *   clientMaxWindowBits: 15,
 * });
 * ```
 */
export interface DeflateParameters {
  /** The server resets its compressor after every message. */
  serverNoContextTakeover: boolean;
  /** The client resets its compressor after every message. */
  clientNoContextTakeover: boolean;
  /** The server compresses with at most `2 ** serverMaxWindowBits` bytes of history (8-15). */
  serverMaxWindowBits: number;
  /** The client compresses with at most `2 ** clientMaxWindowBits` bytes of history (8-15). */
  clientMaxWindowBits: number;
}

/**
 * Server-side negotiation options (see {@linkcode negotiateDeflate}).
 *
 * @example Compress with a smaller window and no memory between messages
 * ```ts
 * import { type DeflateServerOptions, negotiateDeflate, parseExtensionHeader } from "@wstream/wstream/core";
 * import assert from "node:assert/strict";
 *
 * const options: DeflateServerOptions = { serverMaxWindowBits: 12, serverNoContextTakeover: true };
 * const agreement = negotiateDeflate(parseExtensionHeader("permessage-deflate"), options);
 * assert.equal(agreement?.header, "permessage-deflate; server_no_context_takeover; server_max_window_bits=12");
 * ```
 */
export interface DeflateServerOptions {
  /**
   * Accept permessage-deflate at all.
   * @default {true}
   */
  enabled?: boolean;
  /**
   * Always answer `server_no_context_takeover`: the server resets its
   * compressor after every message (no compression memory kept between
   * messages, worse ratio). Answered anyway when the client asks for it.
   * @default {false}
   */
  serverNoContextTakeover?: boolean;
  /**
   * Always answer `client_no_context_takeover`: the client resets its
   * compressor after every message. Answered anyway when the client offers
   * it.
   * @default {false}
   */
  clientNoContextTakeover?: boolean;
  /**
   * The largest window the server compresses with, 8-15; the answer is the
   * smaller of this and the client's `server_max_window_bits`.
   * @default {15}
   */
  serverMaxWindowBits?: number;
  /**
   * The largest window the client may compress with, 8-15. Only answered
   * when the client offered `client_max_window_bits` (RFC 7692 §7.1.2.2); a
   * client that did not is still accepted and inflated with a 15-bit window.
   * @default {15}
   */
  clientMaxWindowBits?: number;
}

/**
 * The outcome of {@linkcode negotiateDeflate}.
 *
 * @example Put the answer in the 101 response
 * ```ts
 * import { type DeflateAgreement, negotiateDeflate, parseExtensionHeader } from "@wstream/wstream/core";
 * import assert from "node:assert/strict";
 *
 * const agreement: DeflateAgreement | null = negotiateDeflate(parseExtensionHeader("permessage-deflate"));
 * const headers = new Headers();
 * if (agreement !== null) headers.set("Sec-WebSocket-Extensions", agreement.header);
 * assert.equal(headers.get("Sec-WebSocket-Extensions"), "permessage-deflate");
 * assert.equal(agreement?.response.name, "permessage-deflate");
 * ```
 */
export interface DeflateAgreement {
  /** What was agreed, to build `PerMessageDeflate` from. */
  params: DeflateParameters;
  /** The answer element, as a `Sec-WebSocket-Extensions` value. */
  header: string;
  /** The answer element, structured. */
  response: ExtensionElement;
}

/**
 * Client-side offer options (see {@linkcode deflateOffer}).
 *
 * @example Ask the server for a small window to save inflate memory
 * ```ts
 * import { type DeflateClientOptions, deflateOffer } from "@wstream/wstream/core";
 * import assert from "node:assert/strict";
 *
 * const options: DeflateClientOptions = { serverMaxWindowBits: 10, clientMaxWindowBits: false };
 * assert.equal(deflateOffer(options), "permessage-deflate; server_max_window_bits=10");
 * ```
 */
export interface DeflateClientOptions {
  /**
   * Ask the server to reset its compressor after every message.
   * @default {false}
   */
  serverNoContextTakeover?: boolean;
  /**
   * Announce that the client resets its compressor after every message.
   * @default {false}
   */
  clientNoContextTakeover?: boolean;
  /**
   * Ask the server to compress with at most this window, 8-15 (saves the
   * client's inflate memory). `undefined`: not asked.
   * @default {undefined}
   */
  serverMaxWindowBits?: number;
  /**
   * `true`: offer `client_max_window_bits` without a value (the server may
   * choose, as browsers offer); a number 8-15: offer it with that limit;
   * `false`: do not offer it (the server may not limit our window).
   * @default {true}
   */
  clientMaxWindowBits?: boolean | number;
}

/** Whether `value` is a window-bits value "8".."15" (no leading zero, RFC 7692 §7.1.2). */
function parseWindowBits(value: string | null): number | null {
  if (value === null || !/^(?:[89]|1[0-5])$/.test(value)) return null;
  return Number(value);
}

/** Throws a RangeError unless `bits` is undefined or an integer 8-15. */
function checkWindowBitsOption(name: string, bits: unknown): void {
  if (
    bits !== undefined &&
    !(typeof bits === "number" && Number.isInteger(bits) && bits >= 8 &&
      bits <= 15)
  ) {
    throw new RangeError(
      `Invalid ${name} ${String(bits)}: use an integer from 8 to 15`,
    );
  }
}

/** The permessage-deflate parameters of one offer, or why it is declined. */
interface ParsedOffer {
  serverNoContextTakeover: boolean;
  clientNoContextTakeover: boolean;
  serverMaxWindowBits: number | null;
  /** `null`: not offered; `true`: offered without a value. */
  clientMaxWindowBits: number | true | null;
}

/** Reads one offer's parameters; a string says why it is declined. */
function readOffer(params: readonly ExtensionParam[]): ParsedOffer | string {
  const offer: ParsedOffer = {
    serverNoContextTakeover: false,
    clientNoContextTakeover: false,
    serverMaxWindowBits: null,
    clientMaxWindowBits: null,
  };
  const seen = new Set<string>();
  for (const { name, value } of params) {
    if (seen.has(name)) return `repeated parameter ${name}`;
    seen.add(name);
    switch (name) {
      case "server_no_context_takeover":
      case "client_no_context_takeover":
        if (value !== null) return `${name} takes no value`;
        if (name === "server_no_context_takeover") {
          offer.serverNoContextTakeover = true;
        } else offer.clientNoContextTakeover = true;
        break;
      case "server_max_window_bits": {
        const bits = parseWindowBits(value);
        if (bits === null) return `${name} needs a value from 8 to 15`;
        offer.serverMaxWindowBits = bits;
        break;
      }
      case "client_max_window_bits": {
        if (value === null) {
          offer.clientMaxWindowBits = true;
          break;
        }
        const bits = parseWindowBits(value);
        if (bits === null) return `${name} needs no value or one from 8 to 15`;
        offer.clientMaxWindowBits = bits;
        break;
      }
      default:
        return `unknown parameter ${name}`;
    }
  }
  return offer;
}

/**
 * Server side of RFC 7692 §7.1: accepts the first acceptable
 * permessage-deflate offer and builds the answer. An offer with an unknown
 * or repeated parameter, or a malformed or out-of-range value, is declined
 * and the next one tried; other extensions' offers are skipped.
 *
 * Put `header` in the 101 response's `Sec-WebSocket-Extensions` and build
 * the connection's `PerMessageDeflate` from `params` with role
 * `"server"`. `null` means no compression: send no header.
 *
 * @param offers The parsed request header, from {@linkcode parseExtensionHeader}.
 * @param options What this server accepts.
 * @returns The agreement, or `null` when no offer is acceptable.
 * @throws {RangeError} If an option is out of range.
 *
 * @example Answer a browser's offer
 * ```ts
 * import { negotiateDeflate } from "@wstream/wstream/core";
 * import { parseExtensionHeader } from "@wstream/wstream/core";
 * import assert from "node:assert/strict";
 *
 * const offers = parseExtensionHeader(
 *   "permessage-deflate; client_max_window_bits",
 * );
 * const agreement = negotiateDeflate(offers, { clientMaxWindowBits: 12 });
 * assert.equal(agreement?.header, "permessage-deflate; client_max_window_bits=12");
 * assert.equal(agreement?.params.clientMaxWindowBits, 12);
 * ```
 */
export function negotiateDeflate(
  offers: readonly ExtensionElement[],
  options: DeflateServerOptions = {},
): DeflateAgreement | null {
  checkWindowBitsOption("serverMaxWindowBits", options.serverMaxWindowBits);
  checkWindowBitsOption("clientMaxWindowBits", options.clientMaxWindowBits);
  if (options.enabled === false) return null;
  const serverLimit = options.serverMaxWindowBits ?? 15;
  const clientLimit = options.clientMaxWindowBits ?? 15;
  for (const element of offers) {
    if (element.name !== PERMESSAGE_DEFLATE) continue;
    const offer = readOffer(element.params);
    if (typeof offer === "string") continue;

    const params: DeflateParameters = {
      serverNoContextTakeover: offer.serverNoContextTakeover ||
        options.serverNoContextTakeover === true,
      clientNoContextTakeover: offer.clientNoContextTakeover ||
        options.clientNoContextTakeover === true,
      serverMaxWindowBits: Math.min(
        offer.serverMaxWindowBits ?? 15,
        serverLimit,
      ),
      clientMaxWindowBits: 15,
    };
    const answer: ExtensionParam[] = [];
    if (params.serverNoContextTakeover) {
      answer.push({ name: "server_no_context_takeover", value: null });
    }
    if (params.clientNoContextTakeover) {
      answer.push({ name: "client_no_context_takeover", value: null });
    }
    // RFC 7692 §7.1.2.1: answered when offered (at most the offer), and
    // allowed unasked.
    if (offer.serverMaxWindowBits !== null || params.serverMaxWindowBits < 15) {
      answer.push({
        name: "server_max_window_bits",
        value: String(params.serverMaxWindowBits),
      });
    }
    // RFC 7692 §7.1.2.2: never answered unless offered.
    if (offer.clientMaxWindowBits !== null) {
      const bits = Math.min(
        offer.clientMaxWindowBits === true ? 15 : offer.clientMaxWindowBits,
        clientLimit,
      );
      params.clientMaxWindowBits = bits;
      if (offer.clientMaxWindowBits !== true || bits < 15) {
        answer.push({ name: "client_max_window_bits", value: String(bits) });
      }
    }
    const response: ExtensionElement = {
      name: PERMESSAGE_DEFLATE,
      params: answer,
    };
    return { params, header: formatExtensionHeader([response]), response };
  }
  return null;
}

/**
 * Client side: the `Sec-WebSocket-Extensions` value to send. With no
 * options it is what browsers send,
 * `permessage-deflate; client_max_window_bits`.
 *
 * @param options What to ask the server for.
 * @returns The header value.
 * @throws {RangeError} If a window size is out of range.
 *
 * @example A browser-like offer and one asking for small windows
 * ```ts
 * import { deflateOffer } from "@wstream/wstream/core";
 * import assert from "node:assert/strict";
 *
 * assert.equal(deflateOffer(), "permessage-deflate; client_max_window_bits");
 * assert.equal(
 *   deflateOffer({ serverMaxWindowBits: 10, clientMaxWindowBits: 10 }),
 *   "permessage-deflate; server_max_window_bits=10; client_max_window_bits=10",
 * );
 * ```
 */
export function deflateOffer(options: DeflateClientOptions = {}): string {
  checkWindowBitsOption("serverMaxWindowBits", options.serverMaxWindowBits);
  const client = options.clientMaxWindowBits ?? true;
  if (typeof client === "number") {
    checkWindowBitsOption("clientMaxWindowBits", client);
  }
  const params: ExtensionParam[] = [];
  if (options.serverNoContextTakeover === true) {
    params.push({ name: "server_no_context_takeover", value: null });
  }
  if (options.clientNoContextTakeover === true) {
    params.push({ name: "client_no_context_takeover", value: null });
  }
  if (options.serverMaxWindowBits !== undefined) {
    params.push({
      name: "server_max_window_bits",
      value: String(options.serverMaxWindowBits),
    });
  }
  if (client !== false) {
    params.push({
      name: "client_max_window_bits",
      value: client === true ? null : String(client),
    });
  }
  return formatExtensionHeader([{ name: PERMESSAGE_DEFLATE, params }]);
}

/**
 * Client side: checks the server's `Sec-WebSocket-Extensions` answer against
 * our offer (RFC 7692 §5, §7.1) and returns what was agreed.
 *
 * @param answer The response header (`null` when absent).
 * @param options The options the offer was built with ({@linkcode deflateOffer}).
 * @returns The agreed parameters, or `null` when the server declined
 * (no header, or an empty one).
 * @throws {HandshakeError} With code `WS_ERR_HANDSHAKE_EXTENSION` when the
 * answer is unparsable, names an extension other than permessage-deflate,
 * names it twice, has an unknown, repeated or out-of-range parameter, sets
 * `client_max_window_bits` we did not offer or above our limit, or does not
 * confirm `server_no_context_takeover` / `server_max_window_bits` we asked
 * for. The message says which; fail the connection.
 *
 * @example Accept a server's answer
 * ```ts
 * import { acceptDeflateAnswer, deflateOffer } from "@wstream/wstream/core";
 * import assert from "node:assert/strict";
 *
 * const offer = deflateOffer(); // sent as Sec-WebSocket-Extensions
 * const params = acceptDeflateAnswer(
 *   "permessage-deflate; client_max_window_bits=10",
 * );
 * assert.equal(offer, "permessage-deflate; client_max_window_bits");
 * assert.deepEqual(params, {
 *   serverNoContextTakeover: false,
 *   clientNoContextTakeover: false,
 *   serverMaxWindowBits: 15,
 *   clientMaxWindowBits: 10,
 * });
 * ```
 */
export function acceptDeflateAnswer(
  answer: string | readonly string[] | null,
  options: DeflateClientOptions = {},
): DeflateParameters | null {
  const fail = (what: string, cause?: unknown): never => {
    throw new HandshakeError(
      "WS_ERR_HANDSHAKE_EXTENSION",
      `Invalid Sec-WebSocket-Extensions answer: ${what}`,
      cause === undefined ? {} : { cause },
    );
  };
  let elements: ExtensionElement[] = [];
  try {
    elements = parseExtensionHeader(answer);
  } catch (error) {
    fail((error as Error).message, error);
  }
  if (elements.length === 0) return null;
  for (const element of elements) {
    if (element.name !== PERMESSAGE_DEFLATE) {
      fail(`extension ${JSON.stringify(element.name)} was not offered`);
    }
  }
  if (elements.length > 1) {
    fail(`${PERMESSAGE_DEFLATE} is answered ${elements.length} times`);
  }
  const offer = readOffer(elements[0]!.params);
  if (typeof offer === "string") fail(offer);
  const accepted = offer as ParsedOffer;
  const askedServerBits = options.serverMaxWindowBits;
  if (
    options.serverNoContextTakeover === true &&
    !accepted.serverNoContextTakeover
  ) {
    fail("server_no_context_takeover was asked for but not confirmed");
  }
  if (askedServerBits !== undefined) {
    if (accepted.serverMaxWindowBits === null) {
      fail(
        `server_max_window_bits=${askedServerBits} was asked for but not confirmed`,
      );
    }
    if (accepted.serverMaxWindowBits! > askedServerBits) {
      fail(
        `server_max_window_bits=${accepted.serverMaxWindowBits} is above the ${askedServerBits} offered`,
      );
    }
  }
  const clientOffer = options.clientMaxWindowBits ?? true;
  let clientBits = typeof clientOffer === "number" ? clientOffer : 15;
  if (accepted.clientMaxWindowBits !== null) {
    if (clientOffer === false) {
      fail("client_max_window_bits was not offered");
    }
    if (accepted.clientMaxWindowBits === true) {
      fail("client_max_window_bits needs a value from 8 to 15 in an answer");
    }
    if (accepted.clientMaxWindowBits as number > clientBits) {
      fail(
        `client_max_window_bits=${accepted.clientMaxWindowBits} is above the ${clientBits} offered`,
      );
    }
    clientBits = accepted.clientMaxWindowBits as number;
  }
  return {
    serverNoContextTakeover: accepted.serverNoContextTakeover,
    clientNoContextTakeover: accepted.clientNoContextTakeover ||
      options.clientNoContextTakeover === true,
    serverMaxWindowBits: accepted.serverMaxWindowBits ?? 15,
    clientMaxWindowBits: clientBits,
  };
}
