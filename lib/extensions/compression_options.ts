/**
 * The `compression` option of wstream's servers and client: what
 * permessage-deflate (RFC 7692) to negotiate and how to run it, with
 * python-websockets' memory-conscious defaults.
 *
 * @module
 */

import type {
  DeflateClientOptions,
  DeflateServerOptions,
} from "../core/deflate_negotiation.ts";
import type { PerMessageDeflateOptions } from "./permessage_deflate.ts";

/**
 * Server-side permessage-deflate settings (the `compression` option of
 * `upgrade()`, `serve()`, `attachToNodeServer()` and `bunServeOptions()`).
 * Each field left out takes the default below; `compression: true` is all
 * defaults, `false` turns compression off.
 *
 * Memory per connection that compresses in both directions (deflate +
 * inflate state, measured RSS, `bench/results/2026-12-02-deflate-zlib.md`):
 * windows 12 / memLevel 5 (the default) 114-184 KiB; 15 / 8 (zlib's and
 * ws's default) 230-245 KiB; 10 / 8 104-174 KiB. The state is allocated on
 * the first compressed message in each direction, not at the handshake,
 * and freed when the connection closes.
 *
 * @example Smaller windows and a higher threshold for every upgrade of a server
 * ```ts
 * import { type CompressionOptions, serve, upgrade } from "@wstream/wstream";
 *
 * const compression: CompressionOptions = { serverMaxWindowBits: 10, clientMaxWindowBits: 10, threshold: 256 };
 * const server = serve({ port: 0, compression }, async (request) => (await upgrade(request)).response);
 * await server.shutdown();
 * ```
 */
export interface CompressionOptions {
  /**
   * Reset our compressor after every message (answer
   * `server_no_context_takeover`): no history kept between messages, a
   * worse ratio for small similar messages. Answered anyway when the
   * client asks for it.
   *
   * @default {false}
   */
  serverNoContextTakeover?: boolean;
  /**
   * Ask the client to reset its compressor after every message (answer
   * `client_no_context_takeover`). Answered anyway when the client offers
   * it.
   *
   * @default {false}
   */
  clientNoContextTakeover?: boolean;
  /**
   * The largest LZ77 window we compress with, 8-15 bits (answered as
   * `server_max_window_bits`; smaller when the client asks).
   *
   * @default {12} (4 KiB window, python-websockets' choice)
   */
  serverMaxWindowBits?: number;
  /**
   * The largest window the client may compress with, 8-15 bits, which is
   * also what our inflater allocates; only answered when the client offered
   * `client_max_window_bits` (browsers do), else the client uses 15.
   *
   * @default {12}
   */
  clientMaxWindowBits?: number;
  /**
   * zlib compression level, 0-9, or -1 for zlib's default (6).
   *
   * @default {-1}
   */
  level?: number;
  /**
   * zlib memory level, 1-9: the compressor's hash table takes
   * `2 ** (memLevel + 9)` bytes.
   *
   * @default {5} (16 KiB, python-websockets' choice; zlib's is 8)
   */
  memLevel?: number;
  /**
   * Messages shorter than this many bytes are sent uncompressed.
   *
   * @default {64}
   */
  threshold?: number;
}

/**
 * Client-side permessage-deflate settings (the `compression` option of
 * `connect()` and `WebSocketStream`). `compression: true` (the default)
 * offers what browsers offer, `permessage-deflate; client_max_window_bits`;
 * `false` offers nothing.
 *
 * @example Ask the server for a 1 KiB window
 * ```ts
 * import { type ClientCompressionOptions, connect, serve, upgrade } from "@wstream/wstream";
 * import assert from "node:assert/strict";
 *
 * const server = serve({ port: 0 }, async (request) => (await upgrade(request)).response);
 * const compression: ClientCompressionOptions = { serverMaxWindowBits: 10, threshold: 128 };
 * const socket = await connect(`ws://127.0.0.1:${(await server.listening).port}/`, { compression });
 * assert.match((await socket.opened).extensions, /server_max_window_bits=10/);
 * socket.close();
 * await server.shutdown();
 * ```
 */
export interface ClientCompressionOptions {
  /**
   * Ask the server to reset its compressor after every message.
   *
   * @default {false}
   */
  serverNoContextTakeover?: boolean;
  /**
   * Announce that we reset our compressor after every message.
   *
   * @default {false}
   */
  clientNoContextTakeover?: boolean;
  /**
   * Ask the server to compress with at most this window, 8-15 bits (our
   * inflater then allocates that much). `undefined`: not asked.
   *
   * @default {undefined}
   */
  serverMaxWindowBits?: number;
  /**
   * `true`: offer `client_max_window_bits` without a value (the server
   * chooses our window, as browsers offer); a number 8-15: offer at most
   * that window; `false`: do not offer it (we compress with 15 bits).
   *
   * @default {true}
   */
  clientMaxWindowBits?: boolean | number;
  /**
   * zlib compression level, 0-9, or -1 for zlib's default (6).
   *
   * @default {-1}
   */
  level?: number;
  /**
   * zlib memory level, 1-9.
   *
   * @default {5}
   */
  memLevel?: number;
  /**
   * Messages shorter than this many bytes are sent uncompressed.
   *
   * @default {64}
   */
  threshold?: number;
}

/** The server defaults (python-websockets': windows 12, memLevel 5). */
const SERVER_DEFAULTS = {
  serverMaxWindowBits: 12,
  clientMaxWindowBits: 12,
  level: -1,
  memLevel: 5,
  threshold: 64,
} as const;

/** The client defaults: a browser's offer, memLevel 5. */
const CLIENT_DEFAULTS = { level: -1, memLevel: 5, threshold: 64 } as const;

/** A `compression` option split into what to negotiate and how to run it. */
export interface ResolvedCompression<Negotiation> {
  /** For the negotiation functions of the core. */
  negotiation: Negotiation;
  /** For `PerMessageDeflate`. */
  local: Required<PerMessageDeflateOptions>;
}

function checkInteger(
  name: string,
  value: unknown,
  min: number,
  max: number,
): void {
  if (
    value !== undefined &&
    !(typeof value === "number" && Number.isInteger(value) && value >= min &&
      value <= max)
  ) {
    throw new RangeError(
      `Invalid compression ${name} ${
        String(value)
      }: use an integer from ${min} to ${max}`,
    );
  }
}

function checkLocal(options: PerMessageDeflateOptions): void {
  checkInteger("level", options.level, -1, 9);
  checkInteger("memLevel", options.memLevel, 1, 9);
  checkInteger("threshold", options.threshold, 0, Number.MAX_SAFE_INTEGER);
}

/**
 * Resolves a server's `compression` option over the defaults.
 *
 * @param option The option as given (`undefined`: the defaults).
 * @returns The negotiation options and local settings, or `null` for off.
 * @throws {RangeError} If a field is out of range.
 */
export function resolveServerCompression(
  option: boolean | CompressionOptions | undefined,
): ResolvedCompression<DeflateServerOptions> | null {
  if (option === false) return null;
  const merged = option === true || option === undefined
    ? { ...SERVER_DEFAULTS }
    : { ...SERVER_DEFAULTS, ...withoutUndefined(option) };
  checkInteger("serverMaxWindowBits", merged.serverMaxWindowBits, 8, 15);
  checkInteger("clientMaxWindowBits", merged.clientMaxWindowBits, 8, 15);
  checkLocal(merged);
  const negotiation: DeflateServerOptions = {
    serverMaxWindowBits: merged.serverMaxWindowBits,
    clientMaxWindowBits: merged.clientMaxWindowBits,
  };
  if ("serverNoContextTakeover" in merged) {
    negotiation.serverNoContextTakeover = merged.serverNoContextTakeover ===
      true;
  }
  if ("clientNoContextTakeover" in merged) {
    negotiation.clientNoContextTakeover = merged.clientNoContextTakeover ===
      true;
  }
  return {
    negotiation,
    local: {
      level: merged.level,
      memLevel: merged.memLevel,
      threshold: merged.threshold,
    },
  };
}

/**
 * Resolves a client's `compression` option over the defaults.
 *
 * @param option The option as given (`undefined`: the defaults).
 * @returns The offer options and local settings, or `null` for off.
 * @throws {RangeError} If a field is out of range.
 */
export function resolveClientCompression(
  option: boolean | ClientCompressionOptions | undefined,
): ResolvedCompression<DeflateClientOptions> | null {
  if (option === false) return null;
  const given = option === true || option === undefined
    ? {}
    : withoutUndefined(option);
  const merged = { ...CLIENT_DEFAULTS, ...given };
  checkLocal(merged);
  const negotiation: DeflateClientOptions = {};
  if (merged.serverNoContextTakeover !== undefined) {
    negotiation.serverNoContextTakeover = merged.serverNoContextTakeover;
  }
  if (merged.clientNoContextTakeover !== undefined) {
    negotiation.clientNoContextTakeover = merged.clientNoContextTakeover;
  }
  if (merged.serverMaxWindowBits !== undefined) {
    checkInteger("serverMaxWindowBits", merged.serverMaxWindowBits, 8, 15);
    negotiation.serverMaxWindowBits = merged.serverMaxWindowBits;
  }
  if (merged.clientMaxWindowBits !== undefined) {
    if (typeof merged.clientMaxWindowBits === "number") {
      checkInteger("clientMaxWindowBits", merged.clientMaxWindowBits, 8, 15);
    }
    negotiation.clientMaxWindowBits = merged.clientMaxWindowBits;
  }
  return {
    negotiation,
    local: {
      level: merged.level,
      memLevel: merged.memLevel,
      threshold: merged.threshold,
    },
  };
}

/** A copy of `object` without its `undefined` fields. */
function withoutUndefined<T extends object>(object: T): T {
  const copy = {} as T;
  for (const [name, value] of Object.entries(object)) {
    if (value !== undefined) (copy as Record<string, unknown>)[name] = value;
  }
  return copy;
}
