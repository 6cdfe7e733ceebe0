/**
 * Fuzz targets of the sans-I/O core: `FrameParser` (checked frame by frame
 * against an independent reference parser, and for the memory it holds)
 * and `Protocol` in both roles, with and without permessage-deflate
 * (checked for its documented outcomes, for what it writes back, and
 * against itself fed the same bytes in one chunk).
 *
 * Inputs start with configuration bytes (limits, allowed RSV bits,
 * auto-pong, the agreed deflate parameters), so that a saved input replays
 * with nothing else but its chunking.
 *
 * @module
 */

import {
  PROTOCOL_ERROR_CLOSE_CODES,
  WebSocketProtocolError,
} from "../../lib/core/errors.ts";
import { isValidCloseCode } from "../../lib/core/close_code.ts";
import type { MessageExtension } from "../../lib/core/extension.ts";
import type { Frame, Role } from "../../lib/core/frame.ts";
import {
  type AsciiDecoder,
  DEFAULT_MAX_PAYLOAD,
  FrameParser,
} from "../../lib/core/frame_parser.ts";
import { fastAsciiDecoder } from "../../lib/core/_latin1.ts";
import { Protocol, type ProtocolEvent } from "../../lib/core/protocol.ts";
import type { DeflateParameters } from "../../lib/core/deflate_negotiation.ts";
import { PerMessageDeflate } from "../../lib/extensions/permessage_deflate.ts";
import { randomFrames, randomMessages, referenceParse } from "./_frames.ts";
import { chunkSizes, concat, mutate, type MutationOptions } from "./_mutate.ts";
import type { Random } from "./_random.ts";
import { check, type FuzzTarget } from "./_target.ts";

/** `FrameParser` payload limits by configuration byte. */
export const PARSER_LIMITS = [
  0,
  1,
  125,
  126,
  1000,
  65535,
  65536,
  DEFAULT_MAX_PAYLOAD,
];
/** `Protocol` message limits by configuration byte (undefined: the default). */
export const PROTOCOL_LIMITS = [
  0,
  1,
  125,
  1024,
  65535,
  65536,
  1 << 20,
  undefined,
];
/** `Protocol` message limits with permessage-deflate. */
export const DEFLATE_LIMITS = [
  0,
  1,
  125,
  1024,
  65536,
  1 << 20,
  4 << 20,
  64 << 10,
];
/** The first payload buffer a parser allocates (`FIRST_GROWTH`). */
const FIRST_GROWTH = 4096;
/** How much more than what arrived a payload buffer may hold (`GROWTH_FACTOR`). */
const GROWTH_FACTOR = 8;

const FRAME_MUTATIONS: MutationOptions = {
  dictionary: [
    [0x81, 0x00],
    [0x80, 0x00],
    [0x82, 0x7e, 0xff, 0xff],
    [0x88, 0x02, 0x03, 0xe8],
    [0x89, 0x00],
    [0x8a, 0x00],
    [0x01, 0x00],
    [0x00, 0x00],
    [0xc1, 0x00],
    [0x7e],
    [0x7f],
    [0x7e, 0x00, 0x7d],
    [0x80],
    [0x7f, 0x80, 0, 0, 0, 0, 0, 0, 0],
    [0x7f, 0, 0, 0, 1, 0, 0, 0, 0],
    [0x7f, 0, 0, 0, 0, 0, 1, 0, 0],
    [0x37, 0xfa, 0x21, 0x3d],
    [0xff, 0xff, 0xff, 0xff],
    [0xed, 0xa0, 0x80],
    [0xc0, 0xaf],
    [0xf4, 0x90, 0x80, 0x80],
    [0x00, 0x00, 0xff, 0xff],
    [0x03],
  ].map((bytes) => Uint8Array.from(bytes)),
  runBytes: [0x00, 0xff, 0x80, 0x7f, 0x41],
  maxRun: 4096,
  maxLength: 70_000,
};

/** Applies mutations to a body, keeping its configuration prefix most of the time. */
function mutateBody(
  random: Random,
  config: Uint8Array,
  body: Uint8Array,
  other: () => Uint8Array,
): Uint8Array {
  if (random.chance(0.4)) return concat([config, body]);
  if (random.chance(0.05)) {
    return mutate(random, concat([config, body]), {
      ...FRAME_MUTATIONS,
      other,
    });
  }
  return concat([config, mutate(random, body, { ...FRAME_MUTATIONS, other })]);
}

// ---------------------------------------------------------------------------
// FrameParser

/** Whether two byte arrays hold the same bytes. */
function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** Whether two frames are the same frame. */
function sameFrame(a: Frame, b: Frame): boolean {
  return a.fin === b.fin && a.rsv === b.rsv && a.opcode === b.opcode &&
    sameBytes(a.payload, b.payload);
}

/** A frame's header fields and length, for messages. */
function describeFrame(frame: Frame): string {
  return `fin ${frame.fin} rsv ${frame.rsv} opcode ${frame.opcode} length ${frame.payload.length}`;
}

function frameParserTarget(role: Role): FuzzTarget {
  const peerMasks = role === "server";
  const body = (random: Random): Uint8Array =>
    random.chance(0.5)
      ? randomFrames(random, peerMasks)
      : randomMessages(random, peerMasks, null, []);
  return {
    name: `frame-parser-${role}`,
    generate(random) {
      const config = Uint8Array.of(random.int(256));
      return mutateBody(random, config, body(random), () => body(random));
    },
    run(input, random, log) {
      const config = input[0] ?? 0;
      const maxPayload = PARSER_LIMITS[config & 7]!;
      const allowedRsv = (config >> 3) & 7;
      const wire = input.subarray(1);
      const expected = referenceParse(wire, role, maxPayload, allowedRsv);
      const parser = new FrameParser({ role, maxPayload, allowedRsv });
      const sizes = chunkSizes(random, wire.length);
      const useTarget = random.chance(0.3);
      const frames: Frame[] = [];
      let error: unknown = null;
      let minimum = 0;
      let at = 0;
      let next = 0;
      const drain = (): void => {
        for (let frame; (frame = parser.next()) !== null;) {
          check(
            frames.length < expected.frames.length,
            "more frames than the reference",
          );
          const i = frames.length;
          check(
            sameFrame(frame, expected.frames[i]!),
            () =>
              `frame ${i}: ${describeFrame(frame)}, the reference parses ${
                describeFrame(expected.frames[i]!)
              }`,
          );
          frames.push(frame);
        }
        const partial = parser.partialFrame();
        if (partial !== null && partial.received.length > 0) {
          const held = partial.received.buffer.byteLength;
          const bound = Math.max(
            FIRST_GROWTH,
            GROWTH_FACTOR * partial.received.length + minimum,
          );
          check(
            held <= bound,
            `holds a ${held}-byte payload buffer for ${partial.received.length} bytes received`,
          );
        }
      };
      try {
        while (at < wire.length) {
          if (useTarget && random.chance(0.5)) {
            const want = 1 + random.small(2048);
            const target = parser.payloadTarget(want);
            if (target !== null) {
              minimum = Math.max(minimum, want);
              check(target.length >= want, "payloadTarget shorter than asked");
              const n = Math.min(
                target.length,
                wire.length - at,
                1 + random.int(2 * want),
              );
              target.set(wire.subarray(at, at + n));
              log.chunks.push(-n);
              parser.push(target.subarray(0, n));
              at += n;
              drain();
              continue;
            }
          }
          const size = Math.min(sizes[next++] ?? wire.length, wire.length - at);
          log.chunks.push(size);
          parser.push(wire.slice(at, at + size));
          at += size;
          drain();
        }
      } catch (caught) {
        if (!(caught instanceof WebSocketProtocolError)) throw caught;
        error = caught;
      }
      check(
        frames.length === expected.frames.length,
        () =>
          `${frames.length} frames, the reference parses ${expected.frames.length}`,
      );
      if (error instanceof WebSocketProtocolError) {
        check(
          error.code === expected.error,
          `error ${error.code}, the reference says ${expected.error}`,
        );
        check(
          error.closeCode === PROTOCOL_ERROR_CLOSE_CODES[error.code],
          "close code does not match the code",
        );
        return error.code;
      }
      check(
        expected.error === null,
        `no error, the reference says ${expected.error}`,
      );
      check(
        parser.atFrameBoundary === expected.boundary,
        `atFrameBoundary ${parser.atFrameBoundary}`,
      );
      return expected.boundary ? "ok" : "incomplete";
    },
  };
}

/** `FrameParser` as a server (masked frames expected). */
export const frameParserServerTarget: FuzzTarget = frameParserTarget("server");
/** `FrameParser` as a client (unmasked frames expected). */
export const frameParserClientTarget: FuzzTarget = frameParserTarget("client");

// ---------------------------------------------------------------------------
// Protocol

/** The options configuration bytes select. */
interface ProtocolConfig {
  maxMessageSize: number | undefined;
  maxPayload: number | undefined;
  autoPong: boolean;
  deflate: DeflateParameters | null;
}

function protocolConfig(input: Uint8Array, deflate: boolean): ProtocolConfig {
  const b0 = input[0] ?? 0;
  const maxMessageSize = (deflate ? DEFLATE_LIMITS : PROTOCOL_LIMITS)[b0 & 7];
  const payloadMode = (b0 >> 4) & 3;
  const maxPayload = payloadMode === 1
    ? 125
    : payloadMode === 2 && maxMessageSize !== undefined
    ? Math.floor(maxMessageSize / 2)
    : undefined;
  const b1 = input[1] ?? 0;
  return {
    maxMessageSize,
    maxPayload,
    autoPong: (b0 & 8) === 0,
    deflate: deflate
      ? {
        serverNoContextTakeover: (b1 & 1) !== 0,
        clientNoContextTakeover: (b1 & 2) !== 0,
        serverMaxWindowBits: 8 + ((b1 >> 2) & 7),
        clientMaxWindowBits: 8 + ((b1 >> 5) & 7),
      }
      : null,
  };
}

/** Compressed payloads that inflate to far more than any limit in use. */
let bombs: Uint8Array[] | null = null;
function getBombs(): Uint8Array[] {
  if (bombs !== null) return bombs;
  const deflate = new PerMessageDeflate({
    role: "client",
    params: {
      serverNoContextTakeover: true,
      clientNoContextTakeover: true,
      serverMaxWindowBits: 15,
      clientMaxWindowBits: 15,
    },
    threshold: 0,
    level: 9,
  });
  bombs = [];
  for (const size of [65_537, 1 << 20, 16 << 20, 64 << 20]) {
    const zeros = deflate.encodeMessage(new Uint8Array(size), 2).data.slice();
    bombs.push(zeros);
    // The same, then garbage zlib rejects once it gets there.
    bombs.push(
      concat([
        zeros.subarray(0, zeros.length - 1),
        Uint8Array.of(0xff, 0xff, 0xff),
      ]),
    );
  }
  bombs.push(
    deflate.encodeMessage(new Uint8Array(2 << 20).fill(0x41), 1).data.slice(),
  );
  deflate.close();
  return bombs;
}

/**
 * A permessage-deflate that checks the limits the `Protocol` promises the
 * extension and that the extension promises back.
 */
class CheckedDeflate implements MessageExtension {
  readonly name: string;
  readonly rsv: number;
  readonly #inner: PerMessageDeflate;
  readonly #maxMessageSize: number;

  constructor(inner: PerMessageDeflate, maxMessageSize: number) {
    this.#inner = inner;
    this.name = inner.name;
    this.rsv = inner.rsv;
    this.#maxMessageSize = maxMessageSize;
  }

  decodeMessage(data: Uint8Array, rsv: number, maxSize: number): Uint8Array {
    check(
      maxSize === this.#maxMessageSize,
      `decodeMessage given maxSize ${maxSize}`,
    );
    check(
      data.length <= maxSize,
      `a ${data.length}-byte compressed message reassembled over the limit ${maxSize}`,
    );
    const out = this.#inner.decodeMessage(data, rsv, maxSize);
    check(
      out.length <= maxSize,
      `inflated to ${out.length} bytes over the limit ${maxSize}`,
    );
    return out;
  }

  encodeMessage(
    data: Uint8Array,
    opcode: number,
  ): { data: Uint8Array; rsv: number } {
    return this.#inner.encodeMessage(data, opcode);
  }

  close(): void {
    this.#inner.close();
  }
}

/** What one execution of a `Protocol` produced. */
interface Execution {
  events: ProtocolEvent[];
  /** Every frame written back, as parsed by a peer. */
  frames: Frame[];
  error: WebSocketProtocolError | null;
  state: string;
  closeReceived: string;
}

const textEncoder = new TextEncoder();
const rangeDecoder = new TextDecoder();
/** The connection's decoder, or a reference one where the runtime has none. */
const asciiDecoder: AsciiDecoder = fastAsciiDecoder ??
  ((bytes, start, end) => rangeDecoder.decode(bytes.subarray(start, end)));

function execute(
  wire: Uint8Array,
  sizes: readonly number[],
  role: Role,
  config: ProtocolConfig,
  random: Random | null,
  eof: boolean,
  decodeAscii: boolean,
): Execution {
  const maxMessageSize = config.maxMessageSize ?? DEFAULT_MAX_PAYLOAD;
  const deflate = config.deflate === null ? null : new CheckedDeflate(
    new PerMessageDeflate({ role, params: config.deflate, threshold: 16 }),
    maxMessageSize,
  );
  const protocol = new Protocol({
    role,
    autoPong: config.autoPong,
    ...(config.maxMessageSize === undefined
      ? {}
      : { maxMessageSize: config.maxMessageSize }),
    ...(config.maxPayload === undefined
      ? {}
      : { maxPayload: config.maxPayload }),
    ...(deflate === null ? {} : { extensions: [deflate] }),
    ...(decodeAscii ? { decodeAscii: asciiDecoder } : {}),
  });
  const events: ProtocolEvent[] = [];
  const out: Uint8Array[] = [];
  const drain = (): void => {
    for (const event of protocol.eventsReceived()) events.push(event);
    const data = protocol.dataToSend();
    if (data !== null) out.push(data.slice());
    // dataToSend() applies a deferred close frame, which adds its event.
    for (const event of protocol.eventsReceived()) events.push(event);
  };
  try {
    let at = 0;
    for (const size of sizes) {
      protocol.receiveData(wire.slice(at, at + size));
      at += size;
      if (random !== null) {
        if (random.chance(0.5)) drain();
        if (protocol.state === "OPEN" && random.chance(0.3)) {
          switch (random.int(5)) {
            case 0:
              protocol.sendText("héllo wörld ".repeat(random.small(20)));
              break;
            case 1:
              protocol.sendBinary(new Uint8Array(random.small(300)));
              break;
            case 2:
              protocol.sendPing(new Uint8Array(random.small(126)));
              break;
            case 3:
              protocol.sendPong(new Uint8Array(random.small(126)));
              break;
            default:
              protocol.sendClose(1000, "bye");
          }
        }
      }
    }
    if (eof) protocol.receiveEof();
    drain();
    check(
      protocol.dataToSend() === null,
      "dataToSend() not empty after draining",
    );
    check(
      protocol.eventsReceived().length === 0,
      "eventsReceived() not empty after draining",
    );
  } finally {
    deflate?.close();
  }
  // What we wrote must be valid frames for the peer.
  const peer = new FrameParser({
    role: role === "server" ? "client" : "server",
    allowedRsv: deflate === null ? 0 : 4,
    maxPayload: 2 ** 40,
  });
  const frames: Frame[] = [];
  for (const chunk of out) {
    peer.push(chunk);
    for (let frame; (frame = peer.next()) !== null;) {
      frames.push({ ...frame, payload: frame.payload.slice() });
    }
  }
  check(peer.atFrameBoundary, "output ends inside a frame");
  const closeReceived = protocol.closeReceived;
  return {
    events,
    frames,
    error: protocol.error,
    state: protocol.state,
    closeReceived: closeReceived === null
      ? ""
      : `${closeReceived.code} ${closeReceived.reason}`,
  };
}

function utf8Length(text: string, limit: number): number {
  return text.length * 3 <= limit
    ? text.length
    : textEncoder.encode(text).length;
}

function checkExecution(
  run: Execution,
  config: ProtocolConfig,
  eof: boolean,
  sent: boolean,
): void {
  const max = config.maxMessageSize ?? DEFAULT_MAX_PAYLOAD;
  let closes = 0;
  const pings: Uint8Array[] = [];
  for (const [i, event] of run.events.entries()) {
    check(closes === 0, "an event after the close event");
    switch (event.type) {
      case "text":
        check(typeof event.data === "string", "text event without a string");
        check(
          utf8Length(event.data, max) <= max,
          `text event over the limit ${max}`,
        );
        break;
      case "binary":
        check(
          event.data instanceof Uint8Array && event.data.length <= max,
          `binary event over the limit ${max}`,
        );
        check(
          event.data.byteOffset === 0 &&
            event.data.byteLength === event.data.buffer.byteLength,
          "binary event is a view into a larger buffer",
        );
        break;
      case "ping":
      case "pong":
        check(event.data.length <= 125, `${event.type} over 125 bytes`);
        if (event.type === "ping") pings.push(event.data);
        break;
      case "close":
        closes++;
        check(
          event.code === 1005
            ? event.reason === ""
            : isValidCloseCode(event.code),
          `close event with code ${event.code}`,
        );
        check(i === run.events.length - 1, "close event is not the last");
        break;
      default:
        check(false, `unknown event ${JSON.stringify(event)}`);
    }
  }
  const error = run.error;
  if (error !== null) {
    check(
      error instanceof WebSocketProtocolError,
      "error is not a WebSocketProtocolError",
    );
    check(
      error.closeCode === PROTOCOL_ERROR_CLOSE_CODES[error.code],
      "close code does not match the code",
    );
    check(run.state === "CLOSED", `state ${run.state} after an error`);
  }
  if (run.closeReceived !== "" || eof) {
    check(run.state === "CLOSED", `state ${run.state} after a close or EOF`);
  }
  const closeFrames = run.frames.filter((frame) => frame.opcode === 8);
  check(closeFrames.length <= 1, `${closeFrames.length} close frames written`);
  if (closeFrames.length === 1) {
    check(
      run.frames.at(-1)!.opcode === 8,
      "a frame written after the close frame",
    );
  }
  if (sent) return;
  // Without commands, we write only pongs and a close frame.
  const pongs = run.frames.filter((frame) => frame.opcode === 10);
  check(
    pongs.length + closeFrames.length === run.frames.length,
    "wrote a frame that is neither a pong nor a close",
  );
  if (config.autoPong) {
    check(
      pongs.length === pings.length,
      `${pings.length} pings, ${pongs.length} pongs`,
    );
    for (let i = 0; i < pings.length; i++) {
      check(
        pongs[i]!.payload.every((byte, j) => byte === pings[i]![j]),
        "pong payload differs from its ping",
      );
    }
  } else {
    check(pongs.length === 0, "pong written with autoPong off");
  }
  const close = closeFrames[0];
  if (error !== null) {
    check(close !== undefined, "no close frame after an error");
    const code = close.payload.length >= 2
      ? (close.payload[0]! << 8) | close.payload[1]!
      : 1005;
    check(
      code === error.closeCode,
      `failed with ${error.code} but sent close code ${code}`,
    );
  } else if (run.closeReceived !== "") {
    check(close !== undefined, "the peer's close frame was not answered");
  }
}

function sameEvent(a: ProtocolEvent, b: ProtocolEvent): boolean {
  if (a.type !== b.type) return false;
  switch (a.type) {
    case "text":
      return a.data === (b as typeof a).data;
    case "close":
      return a.code === (b as typeof a).code &&
        a.reason === (b as typeof a).reason;
    default:
      return sameBytes(a.data, (b as typeof a).data);
  }
}

function describeEvent(event: ProtocolEvent | undefined): string {
  if (event === undefined) return "nothing";
  switch (event.type) {
    case "text":
      return `text of ${event.data.length} characters`;
    case "close":
      return `close ${event.code} ${JSON.stringify(event.reason)}`;
    default:
      return `${event.type} of ${event.data.length} bytes`;
  }
}

/** Chunk boundaries may only decide which of these two comes first. */
const EITHER = new Set(["WS_ERR_INVALID_UTF8", "WS_ERR_MESSAGE_TOO_BIG"]);

function protocolTarget(role: Role, deflate: boolean): FuzzTarget {
  const peerRole: Role = role === "server" ? "client" : "server";
  const peerMasks = role === "server";
  return {
    name: `protocol-${deflate ? "deflate-" : ""}${role}`,
    generate(random) {
      const config = deflate
        ? Uint8Array.of(random.int(256), random.int(256))
        : Uint8Array.of(random.int(256));
      const params = protocolConfig(config, deflate).deflate;
      const peer = params === null ? null : { params, role: peerRole };
      const body = (): Uint8Array =>
        random.chance(0.8)
          ? randomMessages(random, peerMasks, peer, deflate ? getBombs() : [])
          : randomFrames(random, peerMasks);
      return mutateBody(random, config, body(), body);
    },
    run(input, random, log) {
      const config = protocolConfig(input, deflate);
      const wire = input.subarray(deflate ? 2 : 1);
      const sizes = chunkSizes(random, wire.length);
      log.chunks = sizes;
      const sends = random.chance(0.2);
      const eof = random.chance(0.3);
      // One of the two runs decodes short ASCII text in the parser
      // (`decodeAscii`), the other does not: they must agree.
      const fastText = random.chance(0.5);
      const chunked = execute(
        wire,
        sizes,
        role,
        config,
        sends ? random : null,
        eof,
        fastText,
      );
      checkExecution(chunked, config, eof, sends);
      if (!sends) {
        const whole = execute(
          wire,
          [wire.length],
          role,
          config,
          null,
          eof,
          !fastText,
        );
        checkExecution(whole, config, eof, false);
        const a = chunked.error?.code ?? null;
        const b = whole.error?.code ?? null;
        const either = a !== null && b !== null && EITHER.has(a) &&
          EITHER.has(b);
        check(a === b || either, `chunked: ${a}, whole: ${b}`);
        const length = Math.max(chunked.events.length, whole.events.length);
        for (let i = 0; i < length; i++) {
          const a = chunked.events[i];
          const b = whole.events[i];
          check(
            a !== undefined && b !== undefined && sameEvent(a, b),
            () =>
              `event ${i}: ${describeEvent(a)} chunked, ${
                describeEvent(b)
              } whole`,
          );
        }
        check(
          chunked.state === whole.state,
          `chunked state ${chunked.state}, whole ${whole.state}`,
        );
        check(
          chunked.closeReceived === whole.closeReceived,
          "close received differs",
        );
        if (!either) {
          check(
            chunked.frames.length === whole.frames.length &&
              chunked.frames.every((frame, i) =>
                sameFrame(frame, whole.frames[i]!)
              ),
            "written frames differ",
          );
        }
      }
      if (chunked.error !== null) return chunked.error.code;
      if (chunked.closeReceived !== "") return "closed";
      return eof ? "eof" : "open";
    },
  };
}

/** `Protocol` as a server. */
export const protocolServerTarget: FuzzTarget = protocolTarget("server", false);
/** `Protocol` as a client. */
export const protocolClientTarget: FuzzTarget = protocolTarget("client", false);
/** `Protocol` as a server with permessage-deflate. */
export const protocolDeflateServerTarget: FuzzTarget = protocolTarget(
  "server",
  true,
);
/** `Protocol` as a client with permessage-deflate. */
export const protocolDeflateClientTarget: FuzzTarget = protocolTarget(
  "client",
  true,
);
