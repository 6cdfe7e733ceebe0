/**
 * Frame-level material for the fuzz targets: a raw frame writer that can
 * write what the library's encoder refuses (reserved opcodes, wrong masks,
 * non-minimal and lying lengths), generators of frame sequences and of
 * whole messages (fragmented, interleaved with control frames, optionally
 * compressed by a peer's permessage-deflate), and an independent reference
 * parser the `FrameParser` target is checked against.
 *
 * @module
 */

import type { ProtocolErrorCode } from "../../lib/core/errors.ts";
import type { Role } from "../../lib/core/frame.ts";
import { PerMessageDeflate } from "../../lib/extensions/permessage_deflate.ts";
import type { DeflateParameters } from "../../lib/core/deflate_negotiation.ts";
import { concat, latin1 } from "./_mutate.ts";
import type { Random } from "./_random.ts";

/** One frame to write, as is. */
export interface RawFrame {
  fin: boolean;
  rsv: number;
  opcode: number;
  /** Written with a masking key (the payload is masked with it). */
  masked: boolean;
  key: Uint8Array;
  payload: Uint8Array;
  /** "min": the shortest length encoding; "16" / "64": forced wider. */
  lengthForm: "min" | "16" | "64";
  /** A length to announce instead of the payload's (a lie), if set. */
  announced?: number;
}

/** Writes a frame byte for byte as described, masking a copy of the payload. */
export function writeFrame(frame: RawFrame): Uint8Array<ArrayBuffer> {
  const length = frame.announced ?? frame.payload.length;
  let form = frame.lengthForm;
  if (form === "min") {
    form = length < 126 ? "min" : length < 65536 ? "16" : "64";
  }
  if (form === "16" && length > 0xffff) form = "64";
  const extended = form === "min" ? 0 : form === "16" ? 2 : 8;
  const header = 2 + extended + (frame.masked ? 4 : 0);
  const out = new Uint8Array(header + frame.payload.length);
  out[0] = (frame.fin ? 0x80 : 0) | ((frame.rsv & 7) << 4) |
    (frame.opcode & 0x0f);
  const maskBit = frame.masked ? 0x80 : 0;
  if (form === "min") {
    out[1] = maskBit | length;
  } else if (form === "16") {
    out[1] = maskBit | 126;
    out[2] = length >>> 8;
    out[3] = length & 0xff;
  } else {
    out[1] = maskBit | 127;
    const high = Math.floor(length / 0x1_0000_0000);
    const low = length >>> 0;
    out[2] = high >>> 24;
    out[3] = high >>> 16;
    out[4] = high >>> 8;
    out[5] = high;
    out[6] = low >>> 24;
    out[7] = low >>> 16;
    out[8] = low >>> 8;
    out[9] = low;
  }
  let at = 2 + extended;
  if (frame.masked) {
    out.set(frame.key.subarray(0, 4), at);
    at += 4;
  }
  for (let i = 0; i < frame.payload.length; i++) {
    out[at + i] = frame.payload[i]! ^
      (frame.masked ? frame.key[i & 3]! : 0);
  }
  return out;
}

const VALID_CLOSE_CODES = [
  1000,
  1001,
  1002,
  1003,
  1007,
  1008,
  1009,
  1010,
  1011,
  1012,
  1013,
  1014,
  3000,
  4000,
  4999,
];
const INVALID_CLOSE_CODES = [
  0,
  1,
  999,
  1004,
  1005,
  1006,
  1015,
  1016,
  2000,
  2999,
  5000,
  65535,
];
const INVALID_UTF8 = [
  [0x80],
  [0xc0, 0x80],
  [0xc1, 0xbf],
  [0xe0, 0x80, 0x80],
  [0xed, 0xa0, 0x80],
  [0xf4, 0x90, 0x80, 0x80],
  [0xf5],
  [0xff],
  [0xe2, 0x82],
  [0xf0, 0x9f, 0x98],
];
const ASCII = latin1(
  'Hello, world! The quick brown fox jumps over the lazy dog 0123456789 {}[]"\\',
);

/** Random text bytes: valid UTF-8, sometimes with an invalid sequence. */
export function textBytes(
  random: Random,
  size: number,
  invalid: number,
): Uint8Array {
  const out: number[] = [];
  while (out.length < size) {
    switch (random.int(10)) {
      case 0:
        out.push(0xc2 + random.int(30), 0x80 + random.int(64));
        break;
      case 1:
        out.push(
          0xe1 + random.int(12),
          0x80 + random.int(64),
          0x80 + random.int(64),
        );
        break;
      case 2:
        out.push(
          0xf0,
          0x90 + random.int(48),
          0x80 + random.int(64),
          0x80 + random.int(64),
        );
        break;
      case 3:
        out.push(0xef, 0xbb, 0xbf); // BOM
        break;
      default:
        out.push(ASCII[random.int(ASCII.length)]!);
    }
  }
  if (random.chance(invalid)) {
    const bad = random.pick(INVALID_UTF8);
    out.splice(random.int(out.length + 1), 0, ...bad);
  }
  return Uint8Array.from(out);
}

/** A payload size: mostly small, sometimes at the length encoding boundaries. */
export function payloadSize(random: Random): number {
  switch (random.int(12)) {
    case 0:
      return random.pick([0, 1, 2, 124, 125, 126, 127, 128, 1023, 1024, 1025]);
    case 1:
      return random.chance(0.05)
        ? random.pick([65535, 65536, 65537])
        : 200 + random.small(4000);
    default:
      return random.small(200);
  }
}

/** A close frame payload: valid or broken code, valid or broken reason. */
export function closePayload(random: Random): Uint8Array {
  switch (random.int(8)) {
    case 0:
      return new Uint8Array(0);
    case 1:
      return Uint8Array.of(random.int(256));
    case 2: {
      const code = random.pick(INVALID_CLOSE_CODES);
      return Uint8Array.of(code >> 8, code & 0xff);
    }
    default: {
      const code = random.pick(VALID_CLOSE_CODES);
      const reason = textBytes(
        random,
        random.small(random.chance(0.1) ? 140 : 30),
        0.15,
      );
      return concat([Uint8Array.of(code >> 8, code & 0xff), reason]);
    }
  }
}

/** Interesting lies for an announced length. */
const LENGTH_LIES = [
  126,
  127,
  65535,
  65536,
  0x7fffffff,
  0x80000000,
  0xffffffff,
  0x1_0000_0000,
  2 ** 53 - 1,
  2 ** 53,
  2 ** 62,
  2 ** 63,
  2 ** 64 - 2 ** 11,
];

/** Picks the header details (mask, length form, occasional lies) of a frame. */
function frameOf(
  random: Random,
  peerMasks: boolean,
  fin: boolean,
  rsv: number,
  opcode: number,
  payload: Uint8Array,
): RawFrame {
  const frame: RawFrame = {
    fin,
    rsv,
    opcode,
    masked: random.chance(0.97) ? peerMasks : !peerMasks,
    key: random.chance(0.05) ? new Uint8Array(4) : random.bytes(4),
    payload,
    lengthForm: random.chance(0.9) ? "min" : random.pick(["16", "64"] as const),
  };
  if (random.chance(0.03)) {
    frame.announced = random.chance(0.5)
      ? random.pick(LENGTH_LIES)
      : Math.max(0, payload.length + random.int(9) - 4);
  }
  return frame;
}

/** Random frames, each header field drawn independently. */
export function randomFrames(random: Random, peerMasks: boolean): Uint8Array {
  const count = 1 + random.small(10);
  const parts: Uint8Array[] = [];
  for (let i = 0; i < count; i++) {
    const opcode = random.chance(0.9)
      ? random.pick([0, 0, 1, 1, 2, 2, 8, 9, 9, 10])
      : random.int(16);
    const control = opcode >= 8;
    const payload = opcode === 8
      ? closePayload(random)
      : opcode === 1 || (opcode === 0 && random.chance(0.5))
      ? textBytes(
        random,
        control ? random.small(126) : payloadSize(random),
        0.1,
      )
      : random.bytes(
        control
          ? (random.chance(0.95) ? random.small(126) : 126 + random.small(200))
          : payloadSize(random),
      );
    parts.push(writeFrame(frameOf(
      random,
      peerMasks,
      random.chance(control ? 0.95 : 0.7),
      random.chance(0.9) ? 0 : random.int(8),
      opcode,
      payload,
    )));
  }
  return concat(parts);
}

/** A control frame (ping, pong, sometimes close) to put between fragments. */
function controlFrame(random: Random, peerMasks: boolean): Uint8Array {
  const opcode = random.pick([9, 9, 10, 8]);
  const payload = opcode === 8
    ? closePayload(random)
    : random.bytes(random.chance(0.9) ? random.small(126) : 125);
  return writeFrame(frameOf(random, peerMasks, true, 0, opcode, payload));
}

/** What {@linkcode randomMessages} may compress with. */
export interface PeerDeflate {
  /** The agreed parameters (the peer compresses with its side of them). */
  params: DeflateParameters;
  /** The peer's role. */
  role: Role;
}

/**
 * Whole messages as a peer would send them: text (valid or not) and binary,
 * fragmented into 1-6 frames, with pings, pongs and a closing frame between
 * or after them; with `deflate`, most messages compressed by a peer
 * `PerMessageDeflate` that keeps its context between them (RSV1 on the first
 * frame), and some with payloads from `bombs`.
 */
export function randomMessages(
  random: Random,
  peerMasks: boolean,
  deflate: PeerDeflate | null,
  bombs: readonly Uint8Array[],
): Uint8Array {
  const parts: Uint8Array[] = [];
  const count = 1 + random.small(8);
  const peer = deflate === null ? null : new PerMessageDeflate({
    role: deflate.role,
    params: deflate.params,
    threshold: 0,
    level: random.pick([-1, 0, 1, 9]),
  });
  try {
    for (let m = 0; m < count; m++) {
      if (random.chance(0.2)) parts.push(controlFrame(random, peerMasks));
      const text = random.chance(0.5);
      let data: Uint8Array = text
        ? textBytes(random, payloadSize(random), 0.05)
        : random.chance(0.2)
        ? new Uint8Array(payloadSize(random))
        : random.bytes(payloadSize(random));
      let rsv = 0;
      if (peer !== null && random.chance(0.8)) {
        if (bombs.length > 0 && random.chance(0.04)) {
          data = random.pick(bombs);
          rsv = 4;
        } else {
          const encoded = peer.encodeMessage(data, text ? 1 : 2);
          data = encoded.data;
          rsv = encoded.rsv;
        }
      }
      const fragments = random.chance(0.6) ? 1 : 1 + random.small(6);
      let start = 0;
      for (let f = 0; f < fragments; f++) {
        const end = f === fragments - 1
          ? data.length
          : start + random.int(data.length - start + 1);
        parts.push(writeFrame(frameOf(
          random,
          peerMasks,
          f === fragments - 1,
          f === 0 ? rsv : 0,
          f === 0 ? (text ? 1 : 2) : 0,
          data.subarray(start, end),
        )));
        start = end;
        if (random.chance(0.1)) parts.push(controlFrame(random, peerMasks));
      }
    }
    if (random.chance(0.3)) {
      parts.push(
        writeFrame(
          frameOf(random, peerMasks, true, 0, 8, closePayload(random)),
        ),
      );
      if (random.chance(0.3)) parts.push(controlFrame(random, peerMasks));
    }
  } finally {
    peer?.close();
  }
  return concat(parts);
}

/** A frame as the reference parser reports it. */
export interface ReferenceFrame {
  fin: boolean;
  rsv: number;
  opcode: number;
  payload: Uint8Array;
}

/** What the reference parser makes of a whole input. */
export interface ReferenceResult {
  frames: ReferenceFrame[];
  /** The first rule broken, or `null`. */
  error: ProtocolErrorCode | null;
  /** Whether the input ends exactly after a frame (no error). */
  boundary: boolean;
}

/**
 * Parses a whole input the slow, obvious way, in the order of RFC 6455 §5.2
 * checks that `FrameParser` documents: opcode, RSV, control-frame FIN and
 * length, mask (all decided by the first two bytes), then the 64-bit
 * length's top bit and the size limit (once the header is whole).
 */
export function referenceParse(
  wire: Uint8Array,
  role: Role,
  maxPayload: number,
  allowedRsv: number,
): ReferenceResult {
  const frames: ReferenceFrame[] = [];
  let at = 0;
  const result = (error: ProtocolErrorCode | null): ReferenceResult => ({
    frames,
    error,
    boundary: error === null && at === wire.length,
  });
  while (at < wire.length) {
    if (wire.length - at < 2) return result(null);
    const b0 = wire[at]!;
    const b1 = wire[at + 1]!;
    const fin = (b0 & 0x80) !== 0;
    const rsv = (b0 >> 4) & 7;
    const opcode = b0 & 0x0f;
    const control = opcode >= 8;
    if (![0, 1, 2, 8, 9, 10].includes(opcode)) {
      return result("WS_ERR_RESERVED_OPCODE");
    }
    if (rsv !== 0 && (control || (rsv & ~allowedRsv) !== 0)) {
      return result("WS_ERR_UNEXPECTED_RSV");
    }
    if (control && !fin) return result("WS_ERR_FRAGMENTED_CONTROL_FRAME");
    if (control && (b1 & 0x7f) > 125) {
      return result("WS_ERR_CONTROL_FRAME_TOO_LONG");
    }
    const masked = (b1 & 0x80) !== 0;
    if (masked !== (role === "server")) {
      return result(
        role === "server" ? "WS_ERR_EXPECTED_MASK" : "WS_ERR_UNEXPECTED_MASK",
      );
    }
    const code = b1 & 0x7f;
    const extended = code === 126 ? 2 : code === 127 ? 8 : 0;
    const headerLength = 2 + extended + (masked ? 4 : 0);
    if (wire.length - at < headerLength) return result(null);
    let length = code;
    if (code === 126) length = wire[at + 2]! * 256 + wire[at + 3]!;
    if (code === 127) {
      if (wire[at + 2]! >= 0x80) return result("WS_ERR_INVALID_LENGTH");
      length = 0;
      for (let i = 2; i < 10; i++) length = length * 256 + wire[at + i]!;
    }
    if (length > maxPayload) return result("WS_ERR_FRAME_TOO_BIG");
    if (wire.length - at - headerLength < length) {
      at = wire.length;
      return { frames, error: null, boundary: false };
    }
    const start = at + headerLength;
    const payload = wire.slice(start, start + length);
    if (masked) {
      const key = wire.subarray(at + 2 + extended, at + 6 + extended);
      for (let i = 0; i < payload.length; i++) {
        payload[i] = payload[i]! ^ key[i & 3]!;
      }
    }
    frames.push({ fin, rsv, opcode, payload });
    at = start + length;
  }
  return result(null);
}
