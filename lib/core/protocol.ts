/**
 * The sans-I/O WebSocket protocol state machine (RFC 6455 §5-§7).
 *
 * @module
 */

import { ByteAccumulator } from "./_byte_accumulator.ts";
import { CloseCode, encodeCloseBody, isValidCloseCode } from "./close_code.ts";
import { WebSocketProtocolError } from "./errors.ts";
import type { MessageExtension } from "./extension.ts";
import { Opcode, type Role } from "./frame.ts";
import { FrameEncoder } from "./frame_encoder.ts";
import {
  type AsciiDecoder,
  DEFAULT_MAX_PAYLOAD,
  FrameParser,
  type FrameParserOptions,
} from "./frame_parser.ts";
import { Utf8Validator } from "./utf8.ts";

/**
 * The connection state (RFC 6455 §4-§7): `OPEN` after the opening handshake,
 * `CLOSING` once a close frame was sent and the answer is awaited, `CLOSED`
 * once the close handshake completed, the connection failed, or the
 * transport ended.
 *
 * @example Follow the state through a close handshake
 * ```ts
 * import { Protocol, type ProtocolState } from "@wstream/wstream/core";
 * import assert from "node:assert/strict";
 *
 * const protocol = new Protocol({ role: "server" });
 * const before: ProtocolState = protocol.state;
 * protocol.sendClose(1000, "Bye");
 * assert.equal(before, "OPEN");
 * assert.equal(protocol.state, "CLOSING"); // waiting for the peer's close frame
 * ```
 */
export type ProtocolState = "OPEN" | "CLOSING" | "CLOSED";

/**
 * What {@linkcode Protocol.eventsReceived} reports.
 *
 * @example Handle each kind of event
 * ```ts
 * import { Protocol, type ProtocolEvent } from "@wstream/wstream/core";
 * import assert from "node:assert/strict";
 *
 * function describe(event: ProtocolEvent): string {
 *   return event.type === "text" ? `text ${event.data}` : event.type;
 * }
 * const protocol = new Protocol({ role: "client" });
 * protocol.receiveData(new Uint8Array([0x81, 0x02, 0x68, 0x69, 0x89, 0x00])); // "hi", then a ping
 * assert.deepEqual(protocol.eventsReceived().map(describe), ["text hi", "ping"]);
 * ```
 */
export type ProtocolEvent =
  | { type: "text"; data: string }
  | { type: "binary"; data: Uint8Array<ArrayBuffer> }
  | { type: "ping"; data: Uint8Array }
  | { type: "pong"; data: Uint8Array }
  | { type: "close"; code: number; reason: string };

/**
 * Options of {@linkcode Protocol}.
 *
 * @example A server that accepts messages up to 1 MiB
 * ```ts
 * import { Protocol, type ProtocolOptions } from "@wstream/wstream/core";
 * import assert from "node:assert/strict";
 *
 * const options: ProtocolOptions = { role: "server", maxMessageSize: 1024 * 1024, autoPong: true };
 * const protocol = new Protocol(options);
 * assert.equal(protocol.role, "server");
 * assert.equal(protocol.state, "OPEN");
 * ```
 */
export interface ProtocolOptions {
  /** Our side of the connection: it decides the masking rules. */
  role: Role;
  /**
   * The largest message, in bytes after reassembly (and after an extension
   * decoded it); larger fails with 1009.
   * @default {67108864} (64 MiB)
   */
  maxMessageSize?: number;
  /**
   * The largest payload one frame may announce; larger fails with 1009
   * before anything is buffered.
   * @default {maxMessageSize}
   */
  maxPayload?: number;
  /**
   * The most frames one message may arrive in; more fail with 1009
   * (`WS_ERR_TOO_MANY_FRAGMENTS`). 0: no limit, since the memory of a
   * fragmented message follows its bytes (bounded by `maxMessageSize`), not
   * its frame count: small fragments are copied together.
   * @default {0}
   */
  maxFragments?: number;
  /**
   * Answer every ping with a pong carrying the same payload.
   * @default {true}
   */
  autoPong?: boolean;
  /**
   * Negotiated per-message extensions, in the order of the
   * `Sec-WebSocket-Extensions` answer. Their RSV bits become legal.
   * @default {[]}
   */
  extensions?: readonly MessageExtension[];
  /**
   * A fast way to decode ASCII byte ranges (see
   * {@linkcode FrameParserOptions.decodeAscii}): short ASCII text messages
   * are then decoded with no view of their payload.
   */
  decodeAscii?: AsciiDecoder;
}

const textDecoder = new TextDecoder("utf-8", { ignoreBOM: true });
const fatalTextDecoder = new TextDecoder("utf-8", {
  fatal: true,
  ignoreBOM: true,
});
const textEncoder = new TextEncoder();
const EMPTY = new Uint8Array(0);
/** Shared by every protocol without extensions: one array less each. */
const NO_EXTENSIONS: readonly MessageExtension[] = Object.freeze([]);
/**
 * Whether to decode short ASCII text with the non-fatal decoder (ASCII is
 * always valid UTF-8). Measured for 32-byte messages: Deno's fatal decoder
 * takes ~470 ns, its non-fatal one ~150 ns; on Bun the fatal one is the
 * faster (~120 ns), so Bun keeps it.
 */
const ASCII_FAST_PATH = !("Bun" in globalThis);
/** The longest text decoded by the ASCII fast path. */
const ASCII_FAST_PATH_MAX = 256;
/** The smallest output buffer; then the size of the previous batch. */
const MIN_OUTPUT_BUFFER = 256;
/** The largest output buffer allocated ahead of need. */
const MAX_OUTPUT_HINT = 64 * 1024;
/**
 * Output buffers that a transport wrote out synchronously
 * ({@linkcode Protocol.outputWritten}), for the next batch of any
 * connection: no allocation per reply where the runtime writes in place
 * (Bun). Shared by every connection of the thread and bounded, so an idle
 * connection holds no output buffer.
 */
const outputPool: Uint8Array[] = [];
/** The most buffers the pool keeps (each at most {@linkcode MAX_OUTPUT_HINT}). */
const OUTPUT_POOL_SIZE = 16;

/**
 * The WebSocket protocol as a synchronous state machine: bytes and commands
 * in, events and bytes out. It does no I/O, keeps no timers and never awaits,
 * so a driver for any transport stays small:
 *
 * 1. feed received bytes with {@linkcode Protocol.receiveData} (and the end
 *    of the stream with {@linkcode Protocol.receiveEof});
 * 2. issue commands: {@linkcode Protocol.sendText},
 *    {@linkcode Protocol.sendBinary}, {@linkcode Protocol.sendPing},
 *    {@linkcode Protocol.sendClose};
 * 3. after each of those, drain {@linkcode Protocol.eventsReceived} and
 *    write {@linkcode Protocol.dataToSend} to the transport;
 * 4. once {@linkcode Protocol.state} is `CLOSED`, close the transport: at
 *    once when {@linkcode Protocol.closeExpected} is true, otherwise (a
 *    client after a clean close, RFC 6455 §7.1.1) after the server closes it
 *    or a timeout passes.
 *
 * Peer errors never throw: the connection is failed with the close code the
 * error maps to (1002, 1007 or 1009), the close frame is queued in
 * `dataToSend()`, and {@linkcode Protocol.error} holds the reason.
 *
 * @example Answer a masked "Hello" as a server
 * ```ts
 * import { Protocol } from "@wstream/wstream/core";
 * import assert from "node:assert/strict";
 *
 * const protocol = new Protocol({ role: "server" });
 * protocol.receiveData(new Uint8Array([
 *   0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58,
 * ]));
 * const [event] = protocol.eventsReceived();
 * assert.deepEqual(event, { type: "text", data: "Hello" });
 * protocol.sendText("Hello");
 * assert.deepEqual([...protocol.dataToSend()!], [0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f]);
 * ```
 */
export class Protocol {
  readonly #role: Role;
  readonly #parser: FrameParser;
  readonly #encoder: FrameEncoder;
  readonly #maxMessageSize: number;
  readonly #autoPong: boolean;
  readonly #extensions: readonly MessageExtension[];

  #state: ProtocolState = "OPEN";
  #events: ProtocolEvent[] = [];
  /** Frames to send, back to back; handed out (and replaced) by dataToSend. */
  #out: Uint8Array | null = null;
  #outLength = 0;
  #outHint = MIN_OUTPUT_BUFFER;
  #error: WebSocketProtocolError | null = null;
  #failed = false;
  #closeSent: { code: number; reason: string } | null = null;
  #closeReceived: { code: number; reason: string } | null = null;
  #eofReceived = false;
  // A close frame or protocol error that arrived after messages of the same
  // chunk: applied at the next dataToSend() so that replies go out first.
  #deferred: (() => void) | null = null;
  #messagesThisChunk = 0;

  // The data message being reassembled (opcode 0 when none).
  #messageOpcode = 0;
  #messageRsv = 0;
  /** Frames of the message being reassembled so far. */
  #fragments = 0;
  readonly #maxFragments: number;
  // Allocated with the first fragmented message: idle connections hold none.
  #messageBuffer: ByteAccumulator | null = null;
  #validating = false;
  #utf8: Utf8Validator | null = null;
  #frameBytesValidated = 0;

  /**
   * Creates the protocol state machine for an open connection.
   *
   * @param options The role, limits and negotiated extensions.
   * @throws {RangeError} If a limit is negative or not an integer.
   */
  constructor(options: ProtocolOptions) {
    this.#role = options.role;
    this.#maxMessageSize = options.maxMessageSize ?? DEFAULT_MAX_PAYLOAD;
    this.#maxFragments = options.maxFragments ?? 0;
    if (!Number.isSafeInteger(this.#maxFragments) || this.#maxFragments < 0) {
      throw new RangeError(
        `Invalid maxFragments ${this.#maxFragments}: pass an integer >= 0 (0: no limit)`,
      );
    }
    if (
      !Number.isSafeInteger(this.#maxMessageSize) || this.#maxMessageSize < 0
    ) {
      throw new RangeError(
        `Cannot create a Protocol with maxMessageSize ${options.maxMessageSize}: use a non-negative integer`,
      );
    }
    this.#autoPong = options.autoPong ?? true;
    this.#extensions = options.extensions ?? NO_EXTENSIONS;
    let allowedRsv = 0;
    for (const extension of this.#extensions) allowedRsv |= extension.rsv;
    const parserOptions: FrameParserOptions = {
      role: options.role,
      maxPayload: options.maxPayload ?? this.#maxMessageSize,
      allowedRsv,
    };
    if (options.decodeAscii !== undefined) {
      parserOptions.decodeAscii = options.decodeAscii;
    }
    this.#parser = new FrameParser(parserOptions);
    this.#encoder = new FrameEncoder({ role: options.role });
  }

  get #message(): ByteAccumulator {
    return this.#messageBuffer ??= new ByteAccumulator();
  }

  get #validator(): Utf8Validator {
    return this.#utf8 ??= new Utf8Validator();
  }

  /** The connection state. */
  get state(): ProtocolState {
    return this.#state;
  }

  /** Our side of the connection. */
  get role(): Role {
    return this.#role;
  }

  /** Why we failed the connection, or `null` if we did not. */
  get error(): WebSocketProtocolError | null {
    return this.#error;
  }

  /** The close frame we sent, or `null`. */
  get closeSent(): { code: number; reason: string } | null {
    return this.#closeSent;
  }

  /** The close frame we received (code 1005 when it carried none), or `null`. */
  get closeReceived(): { code: number; reason: string } | null {
    return this.#closeReceived;
  }

  /**
   * The close code and reason to report to the application: the peer's close
   * frame when one arrived; else the code we failed the connection with;
   * else 1006 (the transport ended without a close frame). Meaningful once
   * {@linkcode Protocol.state} is `CLOSED`.
   */
  get closeInfo(): { closeCode: number; reason: string } {
    if (this.#closeReceived !== null) {
      return {
        closeCode: this.#closeReceived.code,
        reason: this.#closeReceived.reason,
      };
    }
    if (this.#failed && this.#closeSent !== null) {
      return {
        closeCode: this.#closeSent.code,
        reason: this.#closeSent.reason,
      };
    }
    return { closeCode: CloseCode.AbnormalClosure, reason: "" };
  }

  /**
   * Processes bytes received from the peer. Afterwards drain
   * {@linkcode Protocol.eventsReceived} and {@linkcode Protocol.dataToSend}
   * (an auto-pong or the answer to a close may be waiting).
   *
   * The protocol takes ownership of `chunk` and may modify it (unmasking in
   * place). Bytes after a close frame, or after the connection failed, are
   * ignored (RFC 6455 §5.5.1).
   *
   * @param chunk The bytes, of any length.
   */
  receiveData(chunk: Uint8Array): void {
    this.#applyDeferred();
    if (
      this.#closeReceived !== null || this.#error !== null ||
      this.#eofReceived || this.#failed
    ) {
      return;
    }
    const parser = this.#parser;
    parser.push(chunk);
    this.#messagesThisChunk = 0;
    try {
      for (let frame; (frame = parser.next()) !== null;) {
        if (frame.opcode === Opcode.Close && this.#messagesThisChunk > 0) {
          const payload = frame.payload;
          this.#deferred = () => this.#closeFrame(payload);
          return;
        }
        if (frame.text !== undefined) this.#shortText(frame.text);
        else {
          this.#handleFrame(frame.fin, frame.rsv, frame.opcode, frame.payload);
        }
        if (this.#closeReceived !== null || this.#error !== null) return;
      }
      this.#validatePartialFrame();
    } catch (error) {
      if (!(error instanceof WebSocketProtocolError)) throw error;
      if (this.#messagesThisChunk > 0) {
        this.#deferred = () => this.#failWith(error);
      } else {
        this.#failWith(error);
      }
    }
  }

  /**
   * `true` when a close frame or a protocol error arrived after messages in
   * the same chunk. It takes effect (the close frame is queued and the state
   * becomes `CLOSED`) at the next {@linkcode Protocol.dataToSend},
   * {@linkcode Protocol.receiveData} or {@linkcode Protocol.receiveEof}
   * call, so that the application's replies to those messages go out
   * before the close frame. A driver that hands messages to an application
   * asynchronously should let it read them before draining `dataToSend()`.
   */
  get closePending(): boolean {
    return this.#deferred !== null;
  }

  #applyDeferred(): void {
    const deferred = this.#deferred;
    if (deferred === null) return;
    this.#deferred = null;
    try {
      deferred();
    } catch (error) {
      if (!(error instanceof WebSocketProtocolError)) throw error;
      this.#failWith(error);
    }
  }

  /**
   * Records that the peer closed the transport (TCP FIN). Without a prior
   * close handshake this is an abnormal closure: the state becomes `CLOSED`
   * and {@linkcode Protocol.closeInfo} reports 1006.
   */
  receiveEof(): void {
    this.#applyDeferred();
    this.#eofReceived = true;
    this.#state = "CLOSED";
  }

  /**
   * Queues a text message.
   *
   * @param text The message.
   * @throws {TypeError} If the connection is no longer open for sending.
   */
  sendText(text: string): void {
    const length = text.length;
    if (length <= 125 && this.#extensions.length === 0) {
      // Short ASCII text is written straight into the output buffer.
      this.#assertCanSend();
      const encoder = this.#encoder;
      const headerLength = encoder.headerLength(length);
      const at = this.#reserve(headerLength + length);
      const out = this.#out!;
      const start = at + headerLength;
      let i = 0;
      for (; i < length; i++) {
        const code = text.charCodeAt(i);
        if (code >= 0x80) break;
        out[start + i] = code;
      }
      if (i === length) {
        encoder.encodeHeaderInto(true, 0, Opcode.Text, length, out, at);
        return;
      }
      this.#outLength = at; // Not ASCII: the general path.
    }
    this.#sendMessage(Opcode.Text, textEncoder.encode(text));
  }

  /**
   * Queues a binary message. The bytes are copied into the outgoing frame.
   *
   * @param data The message.
   * @throws {TypeError} If the connection is no longer open for sending.
   */
  sendBinary(data: Uint8Array): void {
    this.#sendMessage(Opcode.Binary, data);
  }

  /**
   * Starts a whole message whose payload the caller writes itself: returns
   * the header of its frame, to write right after what
   * {@linkcode Protocol.peekOutput} holds (write that first) and right
   * before the payload, unchanged. How a server sends a large message
   * with no copy into the output buffer, where the transport writes
   * synchronously. Returns `null`, and sends nothing, where the protocol
   * must encode the payload itself: as a client (it masks) or with a
   * negotiated extension; send with {@linkcode Protocol.sendBinary} then.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { Protocol } from "./protocol.ts";
   *
   * const server = new Protocol({ role: "server" });
   * assert.deepEqual([...server.beginDirectMessage(0x2, 300)!], [0x82, 126, 1, 44]);
   * assert.equal(new Protocol({ role: "client" }).beginDirectMessage(0x2, 300), null);
   * ```
   *
   * @param opcode 0x1 (text: the payload must be UTF-8) or 0x2 (binary).
   * @param length The payload's length in bytes.
   * @returns The frame's header, or `null` (see above).
   * @throws {TypeError} If the connection is no longer open for sending.
   */
  beginDirectMessage(opcode: 0x1 | 0x2, length: number): Uint8Array | null {
    if (this.#role !== "server" || this.#extensions.length !== 0) return null;
    this.#assertCanSend();
    return this.#encoder.encodeHeader(true, 0, opcode, length);
  }

  /**
   * Queues a ping.
   *
   * @param data The ping payload, at most 125 bytes.
   * @throws {RangeError} If the payload is longer than 125 bytes.
   * @throws {TypeError} If the connection is no longer open for sending.
   */
  sendPing(data: Uint8Array = EMPTY): void {
    this.#sendControl(Opcode.Ping, data);
  }

  /**
   * Queues an unsolicited pong (a unidirectional heartbeat, RFC 6455 §5.5.3).
   *
   * @param data The pong payload, at most 125 bytes.
   * @throws {RangeError} If the payload is longer than 125 bytes.
   * @throws {TypeError} If the connection is no longer open for sending.
   */
  sendPong(data: Uint8Array = EMPTY): void {
    this.#sendControl(Opcode.Pong, data);
  }

  /**
   * Starts the closing handshake (RFC 6455 §7.1.2), or answers the peer's.
   * Nothing can be sent afterwards. Does nothing if a close was already sent.
   *
   * @param code The close code, or `undefined` for a close frame without a
   * body.
   * @param reason The reason, at most 123 bytes of UTF-8; requires a code.
   * @throws {RangeError} If the code cannot be sent (see
   * {@linkcode isValidCloseCode}) or the reason is longer than 123 bytes.
   */
  sendClose(code?: number, reason = ""): void {
    const payload = encodeCloseBody(code, reason);
    this.#applyDeferred();
    if (this.#closeSent !== null || this.#state === "CLOSED") return;
    this.#closeSent = { code: code ?? CloseCode.NoStatusReceived, reason };
    this.#enqueue(Opcode.Close, payload);
    this.#state = this.#closeReceived !== null ? "CLOSED" : "CLOSING";
  }

  /**
   * Fails the connection (RFC 6455 §7.1.7): queues a close frame with `code`
   * unless one was sent already, and stops processing input. Close the
   * transport after writing `dataToSend()`.
   *
   * @param code The close code to send.
   * @param reason The reason, at most 123 bytes of UTF-8.
   */
  fail(code: number, reason = ""): void {
    this.#applyDeferred();
    if (this.#state === "CLOSED") return;
    if (this.#closeSent === null) {
      this.#closeSent = { code, reason };
      this.#enqueue(Opcode.Close, encodeCloseBody(code, reason));
    }
    this.#state = "CLOSED";
    this.#failed = true;
  }

  /**
   * Returns and clears the events received since the last call.
   *
   * @returns Messages, pings, pongs and the peer's close, in arrival order.
   */
  eventsReceived(): ProtocolEvent[] {
    const events = this.#events;
    if (events.length === 0) return events;
    this.#events = [];
    return events;
  }

  /**
   * Where a transport that reads into a buffer of its choice may put the
   * next received bytes with no copy (see `FrameParser.payloadTarget`):
   * a view into the payload of a large frame in progress, or `null`. Pass
   * the filled prefix of it to {@linkcode Protocol.receiveData} next.
   *
   * @param minimum The smallest read worth it, in bytes.
   * @returns The view to read into, or `null`.
   */
  receiveTarget(minimum: number): Uint8Array | null {
    if (this.#state === "CLOSED" || this.#deferred !== null) return null;
    return this.#parser.payloadTarget(minimum);
  }

  /**
   * Returns and clears the bytes to write to the transport, as one buffer.
   *
   * @returns The bytes, or `null` when there is nothing to write.
   */
  dataToSend(): Uint8Array | null {
    this.#applyDeferred();
    const out = this.#out;
    const length = this.#outLength;
    if (out === null || length === 0) return null;
    this.#out = null;
    this.#outLength = 0;
    this.#outHint = Math.min(
      Math.max(length, MIN_OUTPUT_BUFFER),
      MAX_OUTPUT_HINT,
    );
    return length === out.length ? out : out.subarray(0, length);
  }

  /**
   * The bytes to write to the transport without taking them: the output
   * buffer itself, whose first {@linkcode Protocol.bufferedAmount} bytes are
   * the frames (the buffer may be longer). For a transport that writes
   * synchronously from a range of a buffer (Bun's `socket.write(buffer,
   * offset, length)`): no view and no new buffer per batch. Tell the
   * protocol how much was written with {@linkcode Protocol.outputWritten}
   * before calling it again, and keep no reference to the buffer.
   *
   * @example Writing in place, then handing the rest to an async write
   * ```ts
   * import assert from "node:assert/strict";
   * import { Protocol } from "./protocol.ts";
   *
   * const protocol = new Protocol({ role: "server" });
   * protocol.sendText("Hi");
   * const buffer = protocol.peekOutput()!;
   * const length = protocol.bufferedAmount;
   * assert.deepEqual([...buffer.subarray(0, length)], [0x81, 0x02, 0x48, 0x69]);
   * protocol.outputWritten(1); // The kernel took one byte.
   * assert.deepEqual([...protocol.dataToSend()!], [0x02, 0x48, 0x69]);
   * ```
   *
   * @returns The output buffer, or `null` when there is nothing to write.
   */
  peekOutput(): Uint8Array | null {
    this.#applyDeferred();
    return this.#outLength === 0 ? null : this.#out;
  }

  /**
   * Drops the first `count` bytes of {@linkcode Protocol.peekOutput}: the
   * transport wrote them. When that is all of them, the buffer goes back to
   * a small pool shared by every connection for the next batch.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { Protocol } from "./protocol.ts";
   *
   * const protocol = new Protocol({ role: "server" });
   * protocol.sendText("Hi");
   * protocol.outputWritten(protocol.bufferedAmount);
   * assert.equal(protocol.bufferedAmount, 0);
   * assert.equal(protocol.dataToSend(), null);
   * ```
   *
   * @param count How many bytes, from the start, were written.
   * @throws {RangeError} If `count` is more than {@linkcode Protocol.bufferedAmount}.
   */
  outputWritten(count: number): void {
    const length = this.#outLength;
    if (count > length || count < 0) {
      throw new RangeError(
        `Cannot mark ${count} bytes written: ${length} are waiting`,
      );
    }
    if (count === 0) return;
    const out = this.#out!;
    if (count < length) {
      out.copyWithin(0, count, length);
      this.#outLength = length - count;
      return;
    }
    this.#out = null;
    this.#outLength = 0;
    this.#outHint = Math.min(
      Math.max(length, MIN_OUTPUT_BUFFER),
      MAX_OUTPUT_HINT,
    );
    if (out.length <= MAX_OUTPUT_HINT && outputPool.length < OUTPUT_POOL_SIZE) {
      outputPool.push(out);
    }
  }

  /** The number of bytes waiting in {@linkcode Protocol.dataToSend}. */
  get bufferedAmount(): number {
    return this.#outLength;
  }

  /**
   * Tells whether our side should close the transport now that the state is
   * `CLOSED`: always for a server (RFC 6455 §7.1.1) or after a failure; a
   * client after a clean close handshake waits for the server to close the
   * TCP connection first (and closes it itself after a timeout).
   *
   * @returns `true` when the driver should close the transport right after
   * writing `dataToSend()`.
   */
  closeExpected(): boolean {
    if (this.#state !== "CLOSED") return false;
    return this.#role === "server" || this.#failed || this.#eofReceived;
  }

  #failWith(error: WebSocketProtocolError): void {
    if (this.#state === "CLOSED") return;
    this.#error = error;
    this.#failed = true;
    if (this.#closeSent === null) {
      this.#closeSent = { code: error.closeCode, reason: closeReasonOf(error) };
      this.#enqueue(
        Opcode.Close,
        encodeCloseBody(error.closeCode, this.#closeSent.reason),
      );
    }
    this.#state = "CLOSED";
  }

  #handleFrame(
    fin: boolean,
    rsv: number,
    opcode: number,
    payload: Uint8Array,
  ): void {
    switch (opcode) {
      case Opcode.Text:
      case Opcode.Binary:
        if (this.#messageOpcode !== 0) {
          throw new WebSocketProtocolError(
            "WS_ERR_EXPECTED_CONTINUATION",
            `Received a new data frame (opcode ${opcode}) while a fragmented message was incomplete`,
          );
        }
        this.#messageOpcode = opcode;
        this.#messageRsv = rsv;
        this.#dataFrame(fin, payload);
        return;
      case Opcode.Continuation:
        if (this.#messageOpcode === 0) {
          throw new WebSocketProtocolError(
            "WS_ERR_UNEXPECTED_CONTINUATION",
            "Received a continuation frame without a message to continue",
          );
        }
        if (rsv !== 0) {
          throw new WebSocketProtocolError(
            "WS_ERR_UNEXPECTED_RSV",
            `Received a continuation frame with RSV bits ${rsv}: only a message's first frame carries them`,
          );
        }
        this.#dataFrame(fin, payload);
        return;
      case Opcode.Ping:
        this.#events.push({ type: "ping", data: new Uint8Array(payload) });
        if (this.#autoPong && this.#state === "OPEN") {
          this.#enqueue(Opcode.Pong, payload);
        }
        return;
      case Opcode.Pong:
        this.#events.push({ type: "pong", data: new Uint8Array(payload) });
        return;
      case Opcode.Close:
        this.#closeFrame(payload);
        return;
    }
  }

  /**
   * A whole unfragmented ASCII text frame the parser decoded: the checks and
   * the event of {@linkcode Protocol.#dataFrame}'s fast path.
   */
  #shortText(text: string): void {
    if (this.#messageOpcode !== 0 || this.#frameBytesValidated !== 0) {
      // Inside a fragmented message: the general path reports it.
      this.#handleFrame(true, 0, Opcode.Text, textEncoder.encode(text));
      return;
    }
    if (text.length > this.#maxMessageSize) {
      throw new WebSocketProtocolError(
        "WS_ERR_MESSAGE_TOO_BIG",
        `Received a message of more than ${this.#maxMessageSize} bytes, over the limit`,
      );
    }
    this.#fragments = 0;
    this.#events.push({ type: "text", data: text });
    this.#messagesThisChunk++;
  }

  #dataFrame(fin: boolean, payload: Uint8Array): void {
    const buffered = this.#messageBuffer?.length ?? 0;
    const size = buffered + payload.length;
    if (size > this.#maxMessageSize) {
      throw new WebSocketProtocolError(
        "WS_ERR_MESSAGE_TOO_BIG",
        `Received a message of more than ${this.#maxMessageSize} bytes, over the limit`,
      );
    }
    if (fin) {
      this.#fragments = 0;
    } else if (
      ++this.#fragments >= this.#maxFragments && this.#maxFragments !== 0
    ) {
      throw new WebSocketProtocolError(
        "WS_ERR_TOO_MANY_FRAGMENTS",
        `Received a message in more than ${this.#maxFragments} frames, over the limit`,
      );
    }
    const text = this.#messageOpcode === Opcode.Text && this.#messageRsv === 0;
    if (fin && buffered === 0 && this.#frameBytesValidated === 0) {
      // Fast path: a whole message in one frame.
      const opcode = this.#messageOpcode;
      this.#messageOpcode = 0;
      if (text) {
        let data: string;
        if (
          ASCII_FAST_PATH && payload.length <= ASCII_FAST_PATH_MAX &&
          isAscii(payload)
        ) {
          data = textDecoder.decode(payload);
        } else {
          try {
            data = fatalTextDecoder.decode(payload);
          } catch {
            throw invalidUtf8();
          }
        }
        this.#events.push({ type: "text", data });
        this.#messagesThisChunk++;
      } else {
        this.#deliver(opcode, payload);
      }
      return;
    }
    if (text) {
      this.#validating = true;
      if (!this.#validator.push(payload.subarray(this.#frameBytesValidated))) {
        throw invalidUtf8();
      }
    }
    this.#frameBytesValidated = 0;
    this.#message.push(payload);
    if (!fin) return;
    if (this.#validating) {
      const complete = this.#validator.complete;
      this.#validator.reset();
      this.#validating = false;
      if (!complete) throw invalidUtf8();
    }
    const opcode = this.#messageOpcode;
    this.#messageOpcode = 0;
    const data = this.#message.take();
    if (text) {
      this.#events.push({ type: "text", data: textDecoder.decode(data) });
      this.#messagesThisChunk++;
    } else {
      this.#deliver(opcode, data);
    }
  }

  /** Delivers a binary or extension-encoded message. */
  #deliver(opcode: number, data: Uint8Array): void {
    const rsv = this.#messageRsv;
    if (rsv !== 0) {
      for (const extension of this.#extensions) {
        if ((extension.rsv & rsv) !== 0) {
          data = extension.decodeMessage(data, rsv, this.#maxMessageSize);
        }
      }
      if (data.length > this.#maxMessageSize) {
        throw new WebSocketProtocolError(
          "WS_ERR_MESSAGE_TOO_BIG",
          `Received a message that decodes to ${data.length} bytes, over the limit of ${this.#maxMessageSize}`,
        );
      }
      if (opcode === Opcode.Text) {
        let text: string;
        try {
          text = fatalTextDecoder.decode(data);
        } catch {
          throw invalidUtf8();
        }
        this.#events.push({ type: "text", data: text });
        this.#messagesThisChunk++;
        return;
      }
    }
    // Hand the application a buffer of its own, not a view into a chunk.
    // `new Uint8Array(data)` copies even a Node Buffer, whose slice() is a view.
    const own = data.constructor === Uint8Array && data.byteOffset === 0 &&
        data.byteLength === data.buffer.byteLength &&
        data.buffer instanceof ArrayBuffer
      ? data as Uint8Array<ArrayBuffer>
      : new Uint8Array(data);
    this.#events.push({ type: "binary", data: own });
    this.#messagesThisChunk++;
  }

  /** Validates the received part of an incomplete text frame (fail fast). */
  #validatePartialFrame(): void {
    const partial = this.#parser.partialFrame();
    if (partial === null || partial.received.length === 0) return;
    // Only a frame that will join a text message: a new data frame inside a
    // fragmented message, or a continuation with RSV bits, fails with 1002
    // when it completes, however its bytes arrive.
    const text = partial.rsv === 0 &&
      (partial.opcode === Opcode.Text
        ? this.#messageOpcode === 0
        : partial.opcode === Opcode.Continuation &&
          this.#messageOpcode === Opcode.Text && this.#messageRsv === 0);
    if (!text) return;
    this.#validating = true;
    const fresh = partial.received.subarray(this.#frameBytesValidated);
    this.#frameBytesValidated = partial.received.length;
    if (!this.#validator.push(fresh)) throw invalidUtf8();
  }

  #closeFrame(payload: Uint8Array): void {
    let code: number = CloseCode.NoStatusReceived;
    let reason = "";
    if (payload.length === 1) {
      throw new WebSocketProtocolError(
        "WS_ERR_INVALID_CLOSE_PAYLOAD",
        "Received a close frame with a 1-byte payload: a close code takes 2 bytes",
      );
    }
    if (payload.length >= 2) {
      code = (payload[0]! << 8) | payload[1]!;
      if (!isValidCloseCode(code)) {
        throw new WebSocketProtocolError(
          "WS_ERR_INVALID_CLOSE_CODE",
          `Received a close frame with invalid close code ${code}`,
        );
      }
      try {
        reason = fatalTextDecoder.decode(payload.subarray(2));
      } catch {
        throw new WebSocketProtocolError(
          "WS_ERR_INVALID_CLOSE_REASON",
          "Received a close frame whose reason is not valid UTF-8",
        );
      }
    }
    this.#closeReceived = { code, reason };
    this.#events.push({ type: "close", code, reason });
    if (this.#closeSent === null) {
      // Echo the peer's code and reason (RFC 6455 §5.5.1), or an empty body
      // if it sent none.
      this.#closeSent = { code, reason };
      this.#enqueue(Opcode.Close, payload);
    }
    this.#state = "CLOSED";
  }

  #sendMessage(opcode: number, data: Uint8Array): void {
    this.#assertCanSend();
    let rsv = 0;
    for (const extension of this.#extensions) {
      const encoded = extension.encodeMessage(data, opcode);
      data = encoded.data;
      rsv |= encoded.rsv;
    }
    this.#writeFrame(opcode, rsv, data);
  }

  #sendControl(opcode: number, data: Uint8Array): void {
    if (data.length > 125) {
      throw new RangeError(
        `Cannot send a ${
          opcode === Opcode.Ping ? "ping" : "pong"
        } of ${data.length} bytes: control frames carry at most 125 bytes`,
      );
    }
    this.#assertCanSend();
    this.#enqueue(opcode, data);
  }

  #assertCanSend(): void {
    if (this.#state !== "OPEN") {
      throw new TypeError(
        `Cannot send on a connection in state ${this.#state}: sending ends with the close handshake`,
      );
    }
  }

  #enqueue(opcode: number, payload: Uint8Array): void {
    this.#writeFrame(opcode, 0, payload);
  }

  /** Appends one whole frame to the output buffer. */
  #writeFrame(opcode: number, rsv: number, payload: Uint8Array): void {
    const encoder = this.#encoder;
    const at = this.#reserve(encoder.encodedLength(payload.length));
    try {
      encoder.encodeInto({ fin: true, rsv, opcode, payload }, this.#out!, at);
    } catch (error) {
      this.#outLength = at;
      throw error;
    }
  }

  /**
   * Makes room for `length` more bytes in the output buffer.
   *
   * @returns Where they start.
   */
  #reserve(length: number): number {
    const out = this.#out;
    const at = this.#outLength;
    if (out === null && outputPool.length > 0) {
      const pooled = outputPool.pop()!;
      if (pooled.length >= length) {
        this.#out = pooled;
        this.#outLength = length;
        return 0;
      }
    }
    if (out === null || at + length > out.length) {
      const grown = new Uint8Array(
        Math.max(at + length, out === null ? this.#outHint : out.length * 2),
      );
      if (out !== null && at > 0) grown.set(out.subarray(0, at));
      this.#out = grown;
    }
    this.#outLength = at + length;
    return at;
  }
}

/** A close reason for a protocol error: its message, cut to fit 123 bytes. */
function closeReasonOf(error: WebSocketProtocolError): string {
  let reason = error.message;
  while (textEncoder.encode(reason).length > 123) {
    reason = reason.slice(0, -4) + "...";
  }
  return reason;
}

/** Whether every byte is below 0x80. */
function isAscii(bytes: Uint8Array): boolean {
  let bits = 0;
  for (let i = 0; i < bytes.length; i++) bits |= bytes[i]!;
  return bits < 0x80;
}

function invalidUtf8(): WebSocketProtocolError {
  return new WebSocketProtocolError(
    "WS_ERR_INVALID_UTF8",
    "Received a text message that is not valid UTF-8",
  );
}
