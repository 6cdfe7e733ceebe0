/**
 * The RFC 6455 opening handshake, sans I/O: the server side answers a
 * `Request` with a ready-to-send `Response`, the client side builds request
 * headers and checks the server's answer. Nothing here touches a socket.
 *
 * @module
 */

import { HandshakeError } from "./errors.ts";
import { decodeBase64, encodeBase64 } from "./_base64.ts";
import { sha1 } from "./_sha1.ts";
import {
  acceptDeflateAnswer,
  type DeflateClientOptions,
  deflateOffer,
  type DeflateParameters,
  type DeflateServerOptions,
  negotiateDeflate,
} from "./deflate_negotiation.ts";
import { parseExtensionHeader } from "./extension_header.ts";

/**
 * The GUID appended to `Sec-WebSocket-Key` before hashing (RFC 6455 §1.3).
 *
 * @example Read the GUID
 * ```ts
 * import { WEBSOCKET_GUID } from "@wstream/wstream/core";
 * import assert from "node:assert/strict";
 *
 * assert.equal(WEBSOCKET_GUID, "258EAFA5-E914-47DA-95CA-C5AB0DC85B11");
 * ```
 */
export const WEBSOCKET_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

/** Longest header value quoted verbatim in a reason or error message. */
const MAX_QUOTED = 64;

/** RFC 7230 §3.2.6 `token`. */
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

/** Header names the handshake owns on a 101 answer. */
const HANDSHAKE_RESPONSE_HEADERS = [
  "upgrade",
  "connection",
  "sec-websocket-accept",
  "sec-websocket-protocol",
  "sec-websocket-extensions",
] as const;

/**
 * Computes the `Sec-WebSocket-Accept` value for a `Sec-WebSocket-Key`:
 * base64 of the SHA-1 of the key followed by {@linkcode WEBSOCKET_GUID}
 * (RFC 6455 §1.3, §4.2.2).
 *
 * @param key The `Sec-WebSocket-Key` the client sent, as sent.
 * @returns The matching `Sec-WebSocket-Accept` value.
 *
 * @example Compute the RFC 6455 §1.3 example
 * ```ts
 * import { acceptKey } from "@wstream/wstream/core";
 * import assert from "node:assert/strict";
 *
 * assert.equal(
 *   await acceptKey("dGhlIHNhbXBsZSBub25jZQ=="),
 *   "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=",
 * );
 * ```
 */
export function acceptKey(key: string): Promise<string> {
  return Promise.resolve(acceptKeyNow(key));
}

/** {@linkcode acceptKey}, computed in this turn (no await). */
function acceptKeyNow(key: string): string {
  return encodeBase64(sha1(new TextEncoder().encode(key + WEBSOCKET_GUID)));
}

// ---------------------------------------------------------------------------
// Server side
// ---------------------------------------------------------------------------

/**
 * Options of {@linkcode answerUpgrade}.
 *
 * @example Refuse a browser from another origin with 403
 * ```ts
 * import { answerUpgrade, type UpgradeOptions } from "@wstream/wstream/core";
 * import assert from "node:assert/strict";
 *
 * const options: UpgradeOptions = { protocols: ["chat"], origin: ["https://example.com"] };
 * const request = new Request("http://localhost/chat", {
 *   headers: { Upgrade: "websocket", Connection: "Upgrade", "Sec-WebSocket-Version": "13",
 *     "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==", Origin: "https://evil.example" },
 * });
 * assert.equal((await answerUpgrade(request, options)).response.status, 403);
 * ```
 */
export interface UpgradeOptions {
  /**
   * The subprotocols the server speaks, or a function choosing one.
   *
   * - A list: the first entry of *this* list that the client offered wins
   *   (server preference). Matching is exact (case-sensitive).
   * - A function: called with the offered subprotocols (in the client's
   *   order, possibly empty) and the request; it returns the chosen one or
   *   `null`. An answer the client did not offer is treated as `null`, so
   *   the server never answers a subprotocol the client would reject.
   *
   * When nothing is chosen the 101 response carries no
   * `Sec-WebSocket-Protocol` and the answer's `protocol` is `""`.
   *
   * @default {undefined} no subprotocol is ever chosen
   */
  protocols?:
    | readonly string[]
    | ((offered: string[], request: Request) => string | null);
  /**
   * Which `Origin` header values may connect, as a list or a predicate.
   * Refused requests get a 403.
   *
   * - A list: exact match, ASCII case-insensitive (scheme and host are
   *   case-insensitive and an origin has no path). A request without an
   *   `Origin` header (most non-browser clients) is allowed only when the
   *   list contains `null`.
   * - A function: called with the `Origin` header value (or `null` when
   *   absent) and the request; return `true` to allow.
   *
   * Browsers always send `Origin`, so checking it is the defence against
   * cross-site WebSocket hijacking; other clients can send anything.
   *
   * @default {undefined} every origin is allowed, including none
   */
  origin?:
    | readonly (string | null)[]
    | ((origin: string | null, request: Request) => boolean);
  /**
   * Extra headers for the 101 response (cookies, for example). The
   * handshake's own headers (`Upgrade`, `Connection`, `Sec-WebSocket-Accept`,
   * `Sec-WebSocket-Protocol`, `Sec-WebSocket-Extensions`) are set by
   * {@linkcode answerUpgrade} and replace any given here.
   *
   * @default {undefined} no extra headers
   */
  headers?: HeadersInit;
  /**
   * Negotiate permessage-deflate (RFC 7692): `true` with the
   * {@linkcode negotiateDeflate} defaults, an object to set its limits,
   * `false` not to. When enabled, the request's `Sec-WebSocket-Extensions`
   * is parsed (an unparsable one is refused with 400 and the parser's
   * reason), the first acceptable permessage-deflate offer is answered,
   * and the answer's `deflate` says what was agreed. Whoever then speaks
   * the connection must run that agreement (`PerMessageDeflate` of
   * `@wstream/wstream/extensions` in its `Protocol`), which is why this
   * pure function does not negotiate unless asked; {@linkcode upgrade}
   * (in `@wstream/wstream`) does by default.
   *
   * @default {false}
   */
  compression?: boolean | DeflateServerOptions;
}

/**
 * The outcome of {@linkcode answerUpgrade}: either an accepted upgrade with
 * its 101 response and the negotiated subprotocol and extensions, or a
 * refusal whose `response` (4xx, `text/plain` reason) should be sent as is.
 *
 * @example Send the refusal as is, or go on with the accepted upgrade
 * ```ts
 * import { answerUpgrade, type UpgradeAnswer } from "@wstream/wstream/core";
 * import assert from "node:assert/strict";
 *
 * const answer: UpgradeAnswer = await answerUpgrade(new Request("http://localhost/"));
 * if (answer.accepted) {
 *   console.log("speak WebSocket, subprotocol:", answer.protocol);
 * } else {
 *   assert.equal(answer.response.status, 400); // not an upgrade request
 * }
 * ```
 */
export type UpgradeAnswer =
  | {
    /** The request is a valid WebSocket upgrade and was accepted. */
    accepted: true;
    /** The 101 Switching Protocols response to write to the wire. */
    response: Response;
    /** The chosen subprotocol, or `""` when none. */
    protocol: string;
    /** The negotiated `Sec-WebSocket-Extensions` value, `""` when none. */
    extensions: string;
    /**
     * The agreed permessage-deflate parameters, `null` when compression
     * was not negotiated (not enabled, not offered, or no acceptable offer).
     */
    deflate: DeflateParameters | null;
  }
  | {
    /** The request was refused. */
    accepted: false;
    /** The 4xx response to send; its body is a one-line reason. */
    response: Response;
  };

/**
 * A `Response` that reports status 101.
 *
 * The Fetch standard only allows statuses 200-599 in the `Response`
 * constructor. Node 26 enforces that (`new Response(null, { status: 101 })`
 * throws a `RangeError`); Deno 2.9 and Bun 1.4 happen to accept 101 today,
 * but relying on that would make the answer differ by runtime. So the
 * response is constructed with status 200 and this subclass overrides the
 * `status`, `ok` and `statusText` getters (and `clone()`, which would
 * otherwise produce a plain 200). Verified on Deno 2.9, Bun 1.4 and Node 26:
 * `status === 101`, `ok === false`, `instanceof Response`, headers intact.
 *
 * It is meant for wstream's server transports, which serialize `status` and
 * `headers` to the wire themselves; do not hand it to `Deno.serve`,
 * `Bun.serve` or any other fetch-style server, which read the internal 200.
 */
class SwitchingProtocolsResponse extends Response {
  constructor(headers: Headers) {
    super(null, { status: 200, headers });
  }

  override get status(): number {
    return 101;
  }

  override get ok(): boolean {
    return false;
  }

  override get statusText(): string {
    return "Switching Protocols";
  }

  override clone(): SwitchingProtocolsResponse {
    return new SwitchingProtocolsResponse(new Headers(this.headers));
  }
}

/**
 * Answers a WebSocket upgrade request (RFC 6455 §4.2): validates it, checks
 * the origin, chooses a subprotocol and builds the 101 response. Never
 * throws for a bad request; every refusal is a ready-to-send `Response`
 * with a one-line `text/plain; charset=utf-8` reason naming the header.
 *
 * Checks, in order (RFC 6455 §4.2.1):
 * 1. method is `GET`, else 405 with `Allow: GET`;
 * 2. `Upgrade` is a token list containing `websocket`, else 400;
 * 3. `Connection` is a token list containing `upgrade`, else 400;
 * 4. `Sec-WebSocket-Version` is `13`, else 426 with
 *    `Sec-WebSocket-Version: 13` (RFC 6455 §4.4);
 * 5. `Sec-WebSocket-Key` is a single base64 value of exactly 16 bytes,
 *    else 400;
 * 6. the origin is allowed by `options.origin`, else 403;
 * 7. with `options.compression`, `Sec-WebSocket-Extensions` parses
 *    ({@linkcode parseExtensionHeader}), else 400 with the parser's reason.
 *
 * On acceptance the caller writes `response` (status 101, read
 * `response.status` and `response.headers`) to the socket and then speaks
 * WebSocket frames. With `options.compression`, `extensions` is the
 * permessage-deflate answer ({@linkcode negotiateDeflate}) and `deflate`
 * what it agreed, which the connection must then run; otherwise
 * `extensions` is `""`, `deflate` is `null`, and the header is ignored
 * (RFC 6455 §9.1 allows it).
 *
 * The answer is computed in the turn of the call (no I/O, no timer: the
 * SHA-1 of `Sec-WebSocket-Accept` is synchronous), so the returned promise
 * is already settled: a server that must upgrade before its next turn
 * (`Bun.serve`) can await it.
 *
 * @param request The HTTP request that asks for the upgrade.
 * @param options Subprotocols, allowed origins and extra response headers.
 * @returns The accepted answer with its 101 response, or the refusal.
 * @throws {RangeError} If a window size in `options.compression` is out of
 * range.
 * @throws Whatever the `protocols` or `origin` callback throws.
 *
 * @example Accept an upgrade and choose a subprotocol
 * ```ts
 * import { answerUpgrade } from "@wstream/wstream/core";
 * import assert from "node:assert/strict";
 *
 * const request = new Request("http://localhost/chat", {
 *   headers: {
 *     Upgrade: "websocket",
 *     Connection: "Upgrade",
 *     "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==",
 *     "Sec-WebSocket-Version": "13",
 *     "Sec-WebSocket-Protocol": "chat, superchat",
 *   },
 * });
 * const answer = await answerUpgrade(request, { protocols: ["superchat"] });
 * assert.ok(answer.accepted);
 * assert.equal(answer.response.status, 101);
 * assert.equal(answer.protocol, "superchat");
 * assert.equal(
 *   answer.response.headers.get("Sec-WebSocket-Accept"),
 *   "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=",
 * );
 * ```
 *
 * @example Negotiate permessage-deflate with a browser's offer
 * ```ts
 * import { answerUpgrade } from "@wstream/wstream/core";
 * import assert from "node:assert/strict";
 *
 * const request = new Request("http://localhost/chat", {
 *   headers: {
 *     Upgrade: "websocket",
 *     Connection: "Upgrade",
 *     "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==",
 *     "Sec-WebSocket-Version": "13",
 *     "Sec-WebSocket-Extensions": "permessage-deflate; client_max_window_bits",
 *   },
 * });
 * const answer = await answerUpgrade(request, {
 *   compression: { serverMaxWindowBits: 12, clientMaxWindowBits: 12 },
 * });
 * assert.ok(answer.accepted);
 * assert.equal(
 *   answer.extensions,
 *   "permessage-deflate; server_max_window_bits=12; client_max_window_bits=12",
 * );
 * assert.equal(answer.deflate?.serverMaxWindowBits, 12);
 * ```
 *
 * @example Refuse a request that is not an upgrade
 * ```ts
 * import { answerUpgrade } from "@wstream/wstream/core";
 * import assert from "node:assert/strict";
 *
 * const answer = await answerUpgrade(new Request("http://localhost/"));
 * assert.equal(answer.accepted, false);
 * assert.equal(answer.response.status, 400);
 * assert.match(await answer.response.text(), /Upgrade/);
 * ```
 */
export function answerUpgrade(
  request: Request,
  options: UpgradeOptions = {},
): Promise<UpgradeAnswer> {
  try {
    return Promise.resolve(answerUpgradeNow(request, options));
  } catch (error) {
    return Promise.reject(error);
  }
}

/** {@linkcode answerUpgrade}, answered in this turn (no await). */
function answerUpgradeNow(
  request: Request,
  options: UpgradeOptions,
): UpgradeAnswer {
  const refusal = validateUpgrade(request, options);
  if (refusal) return { accepted: false, response: refusal };

  // Extensions (RFC 6455 §9.1), parsed only when this server negotiates
  // one (as python-websockets does): otherwise the header is ignored.
  let extensions = "";
  let deflate: DeflateParameters | null = null;
  const compression = options.compression ?? false;
  if (compression !== false) {
    let offers;
    try {
      offers = parseExtensionHeader(
        request.headers.get("sec-websocket-extensions"),
      );
    } catch (error) {
      return {
        accepted: false,
        response: refuse(400, (error as SyntaxError).message),
      };
    }
    const agreement = negotiateDeflate(
      offers,
      compression === true ? {} : compression,
    );
    if (agreement !== null) {
      extensions = agreement.header;
      deflate = agreement.params;
    }
  }

  // validateUpgrade checked the key is present.
  const key = request.headers.get("sec-websocket-key")!.trim();
  const offered = splitTokenList(request.headers.get("sec-websocket-protocol"));
  const protocol = chooseProtocol(offered, request, options.protocols);

  const headers = new Headers(options.headers);
  for (const name of HANDSHAKE_RESPONSE_HEADERS) headers.delete(name);
  headers.set("Upgrade", "websocket");
  headers.set("Connection", "Upgrade");
  headers.set("Sec-WebSocket-Accept", acceptKeyNow(key));
  if (protocol !== "") headers.set("Sec-WebSocket-Protocol", protocol);
  if (extensions !== "") headers.set("Sec-WebSocket-Extensions", extensions);

  return {
    accepted: true,
    response: new SwitchingProtocolsResponse(headers),
    protocol,
    extensions,
    deflate,
  };
}

/** Returns the refusal for an invalid upgrade request, or `null`. */
function validateUpgrade(
  request: Request,
  options: UpgradeOptions,
): Response | null {
  const headers = request.headers;

  if (request.method !== "GET") {
    return refuse(
      405,
      `Method ${quote(request.method)} is not allowed: ` +
        `a WebSocket upgrade must use GET`,
      { Allow: "GET" },
    );
  }

  const upgrade = headers.get("upgrade");
  if (!hasToken(upgrade, "websocket")) {
    return refuse(
      400,
      upgrade === null
        ? `Missing Upgrade header: expected "websocket"`
        : `Invalid Upgrade header ${quote(upgrade)}: expected "websocket"`,
    );
  }

  const connection = headers.get("connection");
  if (!hasToken(connection, "upgrade")) {
    return refuse(
      400,
      connection === null
        ? `Missing Connection header: expected "Upgrade"`
        : `Invalid Connection header ${
          quote(connection)
        }: expected a list containing "Upgrade"`,
    );
  }

  const version = headers.get("sec-websocket-version");
  if (version?.trim() !== "13") {
    return refuse(
      426,
      version === null
        ? `Missing Sec-WebSocket-Version header: expected "13"`
        : `Unsupported Sec-WebSocket-Version ${
          quote(version)
        }: only "13" is supported`,
      {
        "Sec-WebSocket-Version": "13",
        Upgrade: "websocket",
        Connection: "Upgrade",
      },
    );
  }

  const key = headers.get("sec-websocket-key");
  if (key === null) {
    return refuse(400, `Missing Sec-WebSocket-Key header`);
  }
  if (key.includes(",")) {
    return refuse(
      400,
      `Invalid Sec-WebSocket-Key header ${
        quote(key)
      }: send exactly one key, not several`,
    );
  }
  if (decodeBase64(key.trim())?.length !== 16) {
    return refuse(
      400,
      `Invalid Sec-WebSocket-Key header ${
        quote(key)
      }: expected the base64 encoding of 16 bytes`,
    );
  }

  const origin = headers.get("origin");
  if (!isOriginAllowed(origin, request, options.origin)) {
    return refuse(
      403,
      origin === null
        ? `Missing Origin header: this server requires an allowed origin`
        : `Origin ${quote(origin)} is not allowed`,
    );
  }

  return null;
}

function isOriginAllowed(
  origin: string | null,
  request: Request,
  policy: UpgradeOptions["origin"],
): boolean {
  if (policy === undefined) return true;
  if (typeof policy === "function") return policy(origin, request) === true;
  if (origin === null) return policy.includes(null);
  const wanted = origin.trim().toLowerCase();
  return policy.some((allowed) =>
    allowed !== null && allowed.toLowerCase() === wanted
  );
}

function chooseProtocol(
  offered: string[],
  request: Request,
  policy: UpgradeOptions["protocols"],
): string {
  if (policy === undefined) return "";
  if (typeof policy === "function") {
    // Pass a copy so the callback cannot change what we check against.
    const chosen = policy([...offered], request);
    return typeof chosen === "string" && offered.includes(chosen) ? chosen : "";
  }
  return policy.find((protocol) => offered.includes(protocol)) ?? "";
}

function refuse(
  status: number,
  reason: string,
  extraHeaders: Record<string, string> = {},
): Response {
  return new Response(reason, {
    status,
    headers: { ...extraHeaders, "Content-Type": "text/plain; charset=utf-8" },
  });
}

// ---------------------------------------------------------------------------
// Client side
// ---------------------------------------------------------------------------

/**
 * Options of {@linkcode createClientHandshake}.
 *
 * @example Offer a subprotocol and compression, with an Origin
 * ```ts
 * import { createClientHandshake, type ClientHandshakeOptions } from "@wstream/wstream/core";
 * import assert from "node:assert/strict";
 *
 * const options: ClientHandshakeOptions = {
 *   protocols: ["chat"],
 *   headers: { Origin: "https://example.com" },
 *   compression: true,
 * };
 * const { headers } = createClientHandshake(options);
 * assert.equal(headers.get("Sec-WebSocket-Extensions"), "permessage-deflate; client_max_window_bits");
 * ```
 */
export interface ClientHandshakeOptions {
  /**
   * The subprotocols to offer, in order of preference. Each must be an
   * RFC 7230 token and appear once.
   *
   * @default {[]} no `Sec-WebSocket-Protocol` header is sent
   */
  protocols?: readonly string[];
  /**
   * Extra request headers (`Origin`, `Authorization`, cookies, ...). The
   * handshake's own headers (`Upgrade`, `Connection`, `Sec-WebSocket-Key`,
   * `Sec-WebSocket-Version`, `Sec-WebSocket-Protocol`) replace any given
   * here.
   *
   * @default {undefined} no extra headers
   */
  headers?: HeadersInit;
  /**
   * Offer permessage-deflate (RFC 7692) in `Sec-WebSocket-Extensions`:
   * `true` offers what browsers offer,
   * `permessage-deflate; client_max_window_bits`; an object sets the offer
   * ({@linkcode deflateOffer}); `false` offers nothing (a
   * `Sec-WebSocket-Extensions` in `headers` is then sent as given). Pass
   * the same value to {@linkcode verifyServerHandshake}.
   *
   * @default {false}
   */
  compression?: boolean | DeflateClientOptions;
}

/**
 * The request side of a client handshake, from {@linkcode createClientHandshake}.
 *
 * @example Build the upgrade request and keep the key
 * ```ts
 * import { createClientHandshake, type ClientHandshake } from "@wstream/wstream/core";
 * import assert from "node:assert/strict";
 *
 * const handshake: ClientHandshake = createClientHandshake();
 * const request = new Request("http://localhost/chat", { headers: handshake.headers });
 * assert.equal(request.headers.get("Sec-WebSocket-Key"), handshake.key);
 * assert.equal(request.headers.get("Upgrade"), "websocket");
 * ```
 */
export interface ClientHandshake {
  /** The fresh `Sec-WebSocket-Key`; keep it for {@linkcode verifyServerHandshake}. */
  key: string;
  /** The headers to send with the `GET` upgrade request. */
  headers: Headers;
}

/**
 * Builds the headers of a client upgrade request (RFC 6455 §4.1) with a
 * fresh random 16-byte `Sec-WebSocket-Key`.
 *
 * After sending the request, pass the server's answer and the returned
 * `key` to {@linkcode verifyServerHandshake}.
 *
 * @param options The subprotocols to offer and extra headers.
 * @returns The key and the request headers.
 * @throws {SyntaxError} When a subprotocol is not an RFC 7230 token or is
 * offered twice.
 * @throws {RangeError} When a window size in `options.compression` is out
 * of range.
 *
 * @example Build upgrade request headers
 * ```ts
 * import { createClientHandshake } from "@wstream/wstream/core";
 * import assert from "node:assert/strict";
 *
 * const { key, headers } = createClientHandshake({ protocols: ["chat", "superchat"] });
 * assert.equal(headers.get("Sec-WebSocket-Key"), key);
 * assert.equal(headers.get("Sec-WebSocket-Version"), "13");
 * assert.equal(headers.get("Sec-WebSocket-Protocol"), "chat, superchat");
 * ```
 */
export function createClientHandshake(
  options: ClientHandshakeOptions = {},
): ClientHandshake {
  const protocols = options.protocols ?? [];
  const seen = new Set<string>();
  for (const protocol of protocols) {
    if (typeof protocol !== "string" || !TOKEN.test(protocol)) {
      throw new SyntaxError(
        `Invalid subprotocol ${
          quote(String(protocol))
        }: use a non-empty RFC 7230 token (letters, digits and !#$%&'*+-.^_\`|~)`,
      );
    }
    if (seen.has(protocol)) {
      throw new SyntaxError(
        `Duplicate subprotocol ${quote(protocol)}: offer each subprotocol once`,
      );
    }
    seen.add(protocol);
  }

  const key = encodeBase64(crypto.getRandomValues(new Uint8Array(16)));
  const headers = new Headers(options.headers);
  headers.delete("sec-websocket-protocol");
  headers.set("Upgrade", "websocket");
  headers.set("Connection", "Upgrade");
  headers.set("Sec-WebSocket-Key", key);
  headers.set("Sec-WebSocket-Version", "13");
  if (protocols.length > 0) {
    headers.set("Sec-WebSocket-Protocol", protocols.join(", "));
  }
  const compression = options.compression ?? false;
  if (compression !== false) {
    headers.set(
      "Sec-WebSocket-Extensions",
      deflateOffer(compression === true ? {} : compression),
    );
  }
  return { key, headers };
}

/**
 * What the client sent, for {@linkcode verifyServerHandshake}.
 *
 * @example Check an answer against what was offered
 * ```ts
 * import { acceptKey, createClientHandshake, type ExpectedHandshake, verifyServerHandshake } from "@wstream/wstream/core";
 * import assert from "node:assert/strict";
 *
 * const { key } = createClientHandshake({ protocols: ["chat"] });
 * const expected: ExpectedHandshake = { key, protocols: ["chat"] };
 * const headers = new Headers({ Upgrade: "websocket", Connection: "Upgrade", "Sec-WebSocket-Accept": await acceptKey(key) });
 * const result = await verifyServerHandshake({ status: 101, headers }, expected);
 * assert.equal(result.protocol, ""); // the server chose no subprotocol
 * ```
 */
export interface ExpectedHandshake {
  /** The `Sec-WebSocket-Key` sent, from {@linkcode createClientHandshake}. */
  key: string;
  /**
   * The subprotocols offered.
   *
   * @default {[]} none offered, so the server must not answer one
   */
  protocols?: readonly string[];
  /**
   * The permessage-deflate offer sent (the `compression` option of
   * {@linkcode createClientHandshake}); the answer is checked against it
   * with {@linkcode acceptDeflateAnswer}.
   *
   * @default {false} none offered, so the server must not answer any
   * extension
   */
  compression?: boolean | DeflateClientOptions;
}

/**
 * The negotiated parameters of an accepted client handshake.
 *
 * @example Read the agreed compression
 * ```ts
 * import { acceptKey, createClientHandshake, type HandshakeResult, verifyServerHandshake } from "@wstream/wstream/core";
 * import assert from "node:assert/strict";
 *
 * const { key } = createClientHandshake({ compression: true });
 * const headers = new Headers({ Upgrade: "websocket", Connection: "Upgrade",
 *   "Sec-WebSocket-Accept": await acceptKey(key), "Sec-WebSocket-Extensions": "permessage-deflate" });
 * const result: HandshakeResult = await verifyServerHandshake({ status: 101, headers }, { key, compression: true });
 * assert.equal(result.extensions, "permessage-deflate");
 * assert.equal(result.deflate?.clientMaxWindowBits, 15);
 * ```
 */
export interface HandshakeResult {
  /** The subprotocol the server chose, or `""` when none. */
  protocol: string;
  /** The server's `Sec-WebSocket-Extensions` answer, or `""` when none. */
  extensions: string;
  /**
   * The agreed permessage-deflate parameters, `null` when none: run them
   * with `PerMessageDeflate` (role `"client"`) of
   * `@wstream/wstream/extensions`.
   */
  deflate: DeflateParameters | null;
}

/**
 * Checks the server's answer to a client upgrade request (RFC 6455 §4.1,
 * in the RFC's order) and returns the negotiated subprotocol and extension.
 *
 * @param response The server's status and headers.
 * @param expected The key sent, the subprotocols and the compression
 * offered.
 * @returns The chosen subprotocol (`""` when none), the extensions answer
 * (`""` when none) and the agreed permessage-deflate parameters.
 * @throws {HandshakeError} With code `WS_ERR_HANDSHAKE_STATUS` when the
 * status is not 101, `WS_ERR_HANDSHAKE_UPGRADE` when `Upgrade` is not
 * `websocket`, `WS_ERR_HANDSHAKE_CONNECTION` when `Connection` lacks
 * `Upgrade`, `WS_ERR_HANDSHAKE_ACCEPT` when `Sec-WebSocket-Accept` is
 * missing or wrong, `WS_ERR_HANDSHAKE_EXTENSION` when the server answered
 * an extension that was not offered or a permessage-deflate answer that
 * breaks RFC 7692 (the message names the rule, see
 * {@linkcode acceptDeflateAnswer}), and `WS_ERR_HANDSHAKE_PROTOCOL` when
 * it answered a subprotocol that was not offered.
 *
 * @example Verify an answer
 * ```ts
 * import { acceptKey, createClientHandshake, verifyServerHandshake } from "@wstream/wstream/core";
 * import assert from "node:assert/strict";
 *
 * const { key } = createClientHandshake({ protocols: ["chat"] });
 * const headers = new Headers({
 *   Upgrade: "websocket",
 *   Connection: "Upgrade",
 *   "Sec-WebSocket-Accept": await acceptKey(key),
 *   "Sec-WebSocket-Protocol": "chat",
 * });
 * const result = await verifyServerHandshake(
 *   { status: 101, headers },
 *   { key, protocols: ["chat"] },
 * );
 * assert.equal(result.protocol, "chat");
 * ```
 *
 * @example Recognise a refused upgrade
 * ```ts
 * import { HandshakeError, verifyServerHandshake } from "@wstream/wstream/core";
 * import assert from "node:assert/strict";
 *
 * await assert.rejects(
 *   verifyServerHandshake({ status: 403, headers: new Headers() }, { key: "dGhlIHNhbXBsZSBub25jZQ==" }),
 *   (error: unknown) => error instanceof HandshakeError && error.code === "WS_ERR_HANDSHAKE_STATUS",
 * );
 * ```
 */
export async function verifyServerHandshake(
  response: { status: number; headers: Headers },
  expected: ExpectedHandshake,
): Promise<HandshakeResult> {
  const { status, headers } = response;
  if (status !== 101) {
    throw new HandshakeError(
      "WS_ERR_HANDSHAKE_STATUS",
      `Expected status 101 Switching Protocols, got ${status}: ` +
        `the server refused the WebSocket upgrade`,
      { status },
    );
  }

  // RFC 6455 §4.1: the Upgrade value itself must be "websocket".
  const upgrade = headers.get("upgrade");
  if (upgrade?.trim().toLowerCase() !== "websocket") {
    throw new HandshakeError(
      "WS_ERR_HANDSHAKE_UPGRADE",
      upgrade === null
        ? `Missing Upgrade header in the server's answer: expected "websocket"`
        : `Invalid Upgrade header ${
          quote(upgrade)
        } in the server's answer: expected "websocket"`,
    );
  }

  const connection = headers.get("connection");
  if (!hasToken(connection, "upgrade")) {
    throw new HandshakeError(
      "WS_ERR_HANDSHAKE_CONNECTION",
      connection === null
        ? `Missing Connection header in the server's answer: expected "Upgrade"`
        : `Invalid Connection header ${
          quote(connection)
        } in the server's answer: expected a list containing "Upgrade"`,
    );
  }

  const accept = headers.get("sec-websocket-accept");
  const wanted = await acceptKey(expected.key);
  if (accept !== wanted) {
    throw new HandshakeError(
      "WS_ERR_HANDSHAKE_ACCEPT",
      accept === null
        ? `Missing Sec-WebSocket-Accept header in the server's answer`
        : `Invalid Sec-WebSocket-Accept header ${quote(accept)}: expected ${
          quote(wanted)
        } for the key sent`,
    );
  }

  const answered = headers.get("sec-websocket-extensions")?.trim() ?? "";
  const compression = expected.compression ?? false;
  let deflate: DeflateParameters | null = null;
  if (compression !== false) {
    deflate = acceptDeflateAnswer(
      answered,
      compression === true ? {} : compression,
    );
  } else if (answered !== "") {
    throw new HandshakeError(
      "WS_ERR_HANDSHAKE_EXTENSION",
      `Unexpected Sec-WebSocket-Extensions header ${
        quote(answered)
      }: no extension was offered`,
    );
  }

  const protocol = headers.get("sec-websocket-protocol")?.trim() ?? "";
  const offered = expected.protocols ?? [];
  if (protocol !== "" && !offered.includes(protocol)) {
    throw new HandshakeError(
      "WS_ERR_HANDSHAKE_PROTOCOL",
      offered.length === 0
        ? `Unexpected Sec-WebSocket-Protocol header ${
          quote(protocol)
        }: no subprotocol was offered`
        : `Invalid Sec-WebSocket-Protocol header ${
          quote(protocol)
        }: expected one of ${offered.map(quote).join(", ")}`,
    );
  }

  return { protocol, extensions: deflate === null ? "" : answered, deflate };
}

// ---------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------

/** Splits a comma-separated header list into trimmed, non-empty elements. */
function splitTokenList(value: string | null): string[] {
  if (value === null) return [];
  return value.split(",").map((part) => part.trim()).filter((part) =>
    part !== ""
  );
}

/** Whether a header token list contains `token`, ASCII case-insensitively. */
function hasToken(value: string | null, token: string): boolean {
  return splitTokenList(value).some((part) => part.toLowerCase() === token);
}

/** Quotes a header value for a message, truncated to {@linkcode MAX_QUOTED}. */
function quote(value: string): string {
  return JSON.stringify(
    value.length > MAX_QUOTED ? `${value.slice(0, MAX_QUOTED)}…` : value,
  );
}
