/**
 * The permessage-deflate transform (RFC 7692 §7.2) as a synchronous
 * {@linkcode MessageExtension} over `node:zlib`, for the {@linkcode Protocol}
 * of a connection whose handshake agreed on it (see `deflate_negotiation.ts`).
 *
 * @module
 */

import { WebSocketProtocolError } from "../core/errors.ts";
import type { MessageExtension } from "../core/extension.ts";
import type { Role } from "../core/frame.ts";
import {
  type DeflateParameters,
  PERMESSAGE_DEFLATE,
} from "../core/deflate_negotiation.ts";
import { OutputLimitError, SyncZlib, ZlibDataError } from "./_zlib_sync.ts";

/** The RSV1 bit: set on the first frame of a compressed message (RFC 7692 §6). */
const RSV1 = 0b100;

/** What a sync flush appends and RFC 7692 §7.2.1 strips / §7.2.2 restores. */
const TRAILER = new Uint8Array([0x00, 0x00, 0xff, 0xff]);

/**
 * Local (not negotiated) settings of {@linkcode PerMessageDeflate}.
 *
 * @example Fast compression, small messages sent as is
 * ```ts
 * import { PerMessageDeflate, type PerMessageDeflateOptions } from "@wstream/wstream/extensions";
 * import assert from "node:assert/strict";
 *
 * const options: PerMessageDeflateOptions = { level: 1, memLevel: 5, threshold: 256 };
 * const params = { serverNoContextTakeover: false, clientNoContextTakeover: false, serverMaxWindowBits: 15, clientMaxWindowBits: 15 };
 * const deflate = new PerMessageDeflate({ role: "server", params, ...options });
 * assert.deepEqual(deflate.settings, options);
 * deflate.close();
 * ```
 */
export interface PerMessageDeflateOptions {
  /**
   * zlib compression level, 0 (store) to 9 (smallest), or -1 for zlib's
   * default (6).
   * @default {-1}
   */
  level?: number;
  /**
   * zlib memory level, 1-9: the compressor's hash table takes
   * `2 ** (memLevel + 9)` bytes.
   * @default {8}
   */
  memLevel?: number;
  /**
   * Messages shorter than this many bytes are sent uncompressed (RSV1
   * clear): compressing them costs more time than it saves bytes.
   * @default {64}
   */
  threshold?: number;
}

/**
 * Init of {@linkcode PerMessageDeflate}.
 *
 * @example Run what the handshake agreed on
 * ```ts
 * import { negotiateDeflate, parseExtensionHeader } from "@wstream/wstream/core";
 * import { PerMessageDeflate, type PerMessageDeflateInit } from "@wstream/wstream/extensions";
 * import assert from "node:assert/strict";
 *
 * const agreement = negotiateDeflate(parseExtensionHeader("permessage-deflate; client_max_window_bits"));
 * const init: PerMessageDeflateInit = { role: "server", params: agreement!.params, threshold: 128 };
 * const deflate = new PerMessageDeflate(init);
 * assert.equal(deflate.encodeMessage(new TextEncoder().encode("short"), 1).rsv, 0); // under the threshold: sent as is
 * deflate.close();
 * ```
 */
export interface PerMessageDeflateInit extends PerMessageDeflateOptions {
  /** Our side: decides which negotiated window and reset rule apply to which direction. */
  role: Role;
  /** What the handshake agreed on. */
  params: DeflateParameters;
}

function checkRange(name: string, value: unknown, min: number, max: number) {
  if (
    value !== undefined &&
    !(typeof value === "number" && Number.isInteger(value) && value >= min &&
      value <= max)
  ) {
    throw new RangeError(
      `Invalid ${name} ${String(value)}: use an integer from ${min} to ${max}`,
    );
  }
}

/**
 * permessage-deflate (RFC 7692) for one connection: compresses sent
 * messages and inflates received ones whose first frame has RSV1 set.
 * Synchronous: zlib runs on the calling thread, through a persistent
 * `node:zlib` handle (context takeover kept between messages), which on
 * Deno, Bun and Node costs a few µs per small message (see
 * `bench/results/2026-12-02-deflate-zlib.md`).
 *
 * - zlib memory is allocated on the first compressed message in each
 *   direction, not before; call {@linkcode PerMessageDeflate.close} when
 *   the connection closes to free it.
 * - A negotiated window of 8 bits compresses with zlib's 9 (zlib refuses 8
 *   for raw deflate); its matches reach at most `2 ** 9 - 262 = 250` bytes
 *   back, within the peer's 256-byte window.
 * - Inflating stops as soon as the output passes `maxSize` and fails with
 *   1009: a small message that inflates to 1 GiB costs at most `maxSize`.
 * - Corrupt data fails with `WS_ERR_INVALID_COMPRESSED_DATA` (1007).
 *
 * @example Compress and inflate a message between a server and a client
 * ```ts
 * import { PerMessageDeflate } from "@wstream/wstream/extensions";
 * import assert from "node:assert/strict";
 *
 * const params = {
 *   serverNoContextTakeover: false,
 *   clientNoContextTakeover: false,
 *   serverMaxWindowBits: 15,
 *   clientMaxWindowBits: 15,
 * };
 * const server = new PerMessageDeflate({ role: "server", params, threshold: 0 });
 * const client = new PerMessageDeflate({ role: "client", params });
 * const { data, rsv } = server.encodeMessage(new TextEncoder().encode("Hello"), 1);
 * assert.deepEqual([...data], [0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00]);
 * assert.equal(rsv, 0b100);
 * const text = new TextDecoder().decode(client.decodeMessage(data, rsv, 1024));
 * assert.equal(text, "Hello");
 * server.close();
 * client.close();
 * ```
 */
export class PerMessageDeflate implements MessageExtension {
  /** `"permessage-deflate"`. */
  readonly name: string = PERMESSAGE_DEFLATE;
  /** RSV1. */
  readonly rsv: number = RSV1;
  /** The agreed parameters. */
  readonly params: Readonly<DeflateParameters>;

  readonly #level: number;
  readonly #memLevel: number;
  readonly #threshold: number;
  /** Window bits and reset rule of what we send and what we receive. */
  readonly #sendBits: number;
  readonly #sendReset: boolean;
  readonly #receiveBits: number;
  readonly #receiveReset: boolean;
  #deflate: SyncZlib | null = null;
  #inflate: SyncZlib | null = null;
  #closed = false;

  /**
   * Creates the extension for one connection; no zlib memory is taken
   * until the first compressed message.
   *
   * @param init The role, the agreed parameters and local settings.
   * @throws {RangeError} If a window size, level, memory level or threshold
   * is out of range.
   */
  constructor(init: PerMessageDeflateInit) {
    const { role, params } = init;
    checkRange("serverMaxWindowBits", params.serverMaxWindowBits, 8, 15);
    checkRange("clientMaxWindowBits", params.clientMaxWindowBits, 8, 15);
    checkRange("level", init.level, -1, 9);
    checkRange("memLevel", init.memLevel, 1, 9);
    checkRange("threshold", init.threshold, 0, Number.MAX_SAFE_INTEGER);
    this.params = { ...params };
    this.#level = init.level ?? -1;
    this.#memLevel = init.memLevel ?? 8;
    this.#threshold = init.threshold ?? 64;
    const server = role === "server";
    this.#sendBits = server
      ? params.serverMaxWindowBits
      : params.clientMaxWindowBits;
    this.#sendReset = server
      ? params.serverNoContextTakeover
      : params.clientNoContextTakeover;
    this.#receiveBits = server
      ? params.clientMaxWindowBits
      : params.serverMaxWindowBits;
    this.#receiveReset = server
      ? params.clientNoContextTakeover
      : params.serverNoContextTakeover;
  }

  /**
   * The local settings in effect (defaults filled in): with the agreed
   * `params` they decide the bytes a message compresses to, so that
   * connections whose sent messages reset the context
   * (`server_no_context_takeover` on a server) and agree on both can share
   * one compressed payload.
   *
   * @example Read the defaults
   * ```ts
   * import { PerMessageDeflate } from "@wstream/wstream/extensions";
   * import assert from "node:assert/strict";
   *
   * const deflate = new PerMessageDeflate({
   *   role: "server",
   *   params: {
   *     serverNoContextTakeover: true,
   *     clientNoContextTakeover: false,
   *     serverMaxWindowBits: 15,
   *     clientMaxWindowBits: 15,
   *   },
   * });
   * assert.deepEqual(deflate.settings, { level: -1, memLevel: 8, threshold: 64 });
   * ```
   */
  get settings(): Readonly<Required<PerMessageDeflateOptions>> {
    return {
      level: this.#level,
      memLevel: this.#memLevel,
      threshold: this.#threshold,
    };
  }

  /** Whether zlib memory is held for sending and receiving (for tests and stats). */
  get allocated(): { deflate: boolean; inflate: boolean } {
    return { deflate: this.#deflate !== null, inflate: this.#inflate !== null };
  }

  /**
   * Compresses a message to send (RFC 7692 §7.2.1): deflate with a sync
   * flush, minus the trailing `00 00 ff ff`. Below `threshold` the message
   * is returned as is, with RSV1 clear.
   *
   * @param data The message payload.
   * @param _opcode 1 (text) or 2 (binary); both are compressed.
   * @returns The payload to send and its RSV bits.
   * @throws {TypeError} After {@linkcode PerMessageDeflate.close}.
   */
  encodeMessage(
    data: Uint8Array,
    _opcode: number,
  ): { data: Uint8Array; rsv: number } {
    if (data.length < this.#threshold) return { data, rsv: 0 };
    // zlib emits nothing for an empty sync-flushed input once a flush has
    // happened; RFC 7692 §7.2.3.6: send an empty stored block's first byte.
    if (data.length === 0) return { data: new Uint8Array(1), rsv: RSV1 };
    const deflate = this.#deflate ??= this.#open("deflate");
    const out = deflate.write(data);
    if (this.#sendReset) deflate.reset();
    // A sync flush always ends with the empty stored block 00 00 ff ff.
    return { data: out.subarray(0, out.length - TRAILER.length), rsv: RSV1 };
  }

  /**
   * Inflates a received message whose first frame had RSV1 set (RFC 7692
   * §7.2.2): appends `00 00 ff ff` and inflates, stopping as soon as the
   * output passes `maxSize`. UTF-8 validation of text is left to the
   * {@linkcode Protocol}.
   *
   * @param data The reassembled compressed payload.
   * @param _rsv The RSV bits of the first frame.
   * @param maxSize The largest inflated size allowed.
   * @returns The inflated payload, in a buffer of its own.
   * @throws {WebSocketProtocolError} `WS_ERR_MESSAGE_TOO_BIG` (1009) past
   * `maxSize`; `WS_ERR_INVALID_COMPRESSED_DATA` (1007) for data zlib
   * rejects. Either way fail the connection; this instance cannot inflate
   * again.
   */
  decodeMessage(data: Uint8Array, _rsv: number, maxSize: number): Uint8Array {
    const inflate = this.#inflate ??= this.#open("inflate");
    let out: Uint8Array;
    try {
      out = inflate.write(data, TRAILER, maxSize);
    } catch (error) {
      inflate.close();
      if (error instanceof OutputLimitError) {
        throw new WebSocketProtocolError(
          "WS_ERR_MESSAGE_TOO_BIG",
          `Received a compressed message that inflates to more than ${maxSize} bytes, over the limit`,
        );
      }
      if (error instanceof ZlibDataError) {
        throw new WebSocketProtocolError(
          "WS_ERR_INVALID_COMPRESSED_DATA",
          `Received a compressed message that does not inflate: ${error.message}`,
        );
      }
      throw error;
    }
    if (this.#receiveReset) inflate.reset();
    return out;
  }

  /**
   * Frees the zlib memory of both directions. Call it when the connection
   * closes; afterwards the instance cannot be used. Idempotent.
   */
  close(): void {
    this.#closed = true;
    this.#deflate?.close();
    this.#inflate?.close();
    this.#deflate = null;
    this.#inflate = null;
  }

  #open(mode: "deflate" | "inflate"): SyncZlib {
    if (this.#closed) {
      throw new TypeError(
        "Cannot use a closed PerMessageDeflate: create one per connection",
      );
    }
    if (mode === "inflate") {
      return new SyncZlib("inflate", { windowBits: this.#receiveBits });
    }
    return new SyncZlib("deflate", {
      // zlib refuses 8 for raw deflate; 9 never matches further back than
      // 250 bytes, which a 256-byte window holds.
      windowBits: Math.max(9, this.#sendBits),
      level: this.#level,
      memLevel: this.#memLevel,
    });
  }
}
