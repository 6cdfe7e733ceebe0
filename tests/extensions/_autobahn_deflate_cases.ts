/**
 * Autobahn|Testsuite cases 12.x.x (WebSocket Compression, different payloads)
 * and 13.x.x (WebSocket Compression, different parameters), re-expressed as
 * data.
 *
 * Source: `autobahntestsuite/autobahntestsuite/case/case12_x_x.py` of the
 * public repository `crossbario/autobahn-testsuite` (its `MSG_SIZES`,
 * `WS_COMPRESSION_TESTDATA`, `DEFLATE_PARAMS` and the `accept1` … `accept7`
 * server functions), with the offer and answer strings that AutobahnPython
 * writes for them (`PerMessageDeflateOffer.get_extension_string` and
 * `PerMessageDeflateOfferAccept.get_extension_string` in
 * `crossbario/autobahn-python`, `autobahn/websocket/compress_deflate.py`).
 * Ids, order and descriptions follow the catalogue: 12.j.i is payload kind
 * j (in the catalogue's `WS_COMPRESSION_TESTDATA_KEYS` order) × message size
 * row i; 13.j.i is deflate parameter set j (on the `json_data1` payload) ×
 * message size row i. 5 × 18 + 7 × 18 = 216 cases.
 *
 * What every case does (`sendOne` / `onMessage` in the catalogue): the
 * Autobahn side sends `count` messages of `length` payload units (bytes for
 * binary payloads, characters for text payloads), taken as a sliding window
 * over the payload file that wraps around, each compressed (Autobahn
 * compresses every message) and, when `autoFragmentSize` > 0, split into
 * frames of that many compressed octets (AutobahnPython's `sendMessage`,
 * which adds an empty final continuation frame when the compressed length is
 * a multiple of the fragment size). The peer under test echoes each message;
 * Autobahn checks type, length and SHA-1 of each echo before sending the
 * next, then closes with 1000 (`requireClean: True`).
 *
 * Deviations, on purpose:
 * - The catalogue's payload files (1 MB PDF, a bitmap, …) are not vendored:
 *   each {@link PayloadKind} names a seeded synthetic stand-in with the same
 *   type (text or binary) and a similar character (see `synthetic`).
 * - `count` is the catalogue's 1000; the runner sends
 *   {@link scaledRepetitions} of them (see {@link SCALE}), never fewer sizes.
 *
 * @module
 */

import type {
  DeflateClientOptions,
  DeflateParameters,
  DeflateServerOptions,
} from "../../lib/core/deflate_negotiation.ts";

/** One row of the catalogue's `MSG_SIZES`. */
export interface MessageSize {
  /** Payload length: bytes (binary) or characters (text). */
  length: number;
  /** Messages sent (and echoed) in the case. */
  count: number;
  /** The catalogue's case timeout, in seconds (informational here). */
  timeoutSeconds: number;
  /** Compressed octets per frame; 0 sends each message as one frame. */
  autoFragmentSize: number;
}

/** `MSG_SIZES` of case12_x_x.py: (payload length, message count, case timeout, auto-fragment size). */
export const MSG_SIZES: readonly MessageSize[] = [
  [16, 1000, 60, 0],
  [64, 1000, 60, 0],
  [256, 1000, 120, 0],
  [1024, 1000, 240, 0],
  [4096, 1000, 480, 0],
  [8192, 1000, 480, 0],
  [16384, 1000, 480, 0],
  [32768, 1000, 480, 0],
  [65536, 1000, 480, 0],
  [131072, 1000, 480, 0],
  [8192, 1000, 480, 256],
  [16384, 1000, 480, 256],
  [32768, 1000, 480, 256],
  [65536, 1000, 480, 256],
  [131072, 1000, 480, 256],
  [131072, 1000, 480, 1024],
  [131072, 1000, 480, 4096],
  [131072, 1000, 480, 32768],
].map(([length, count, timeoutSeconds, autoFragmentSize]) => ({
  length: length!,
  count: count!,
  timeoutSeconds: timeoutSeconds!,
  autoFragmentSize: autoFragmentSize!,
}));

/** The payload kinds of `WS_COMPRESSION_TESTDATA`, in `WS_COMPRESSION_TESTDATA_KEYS` order. */
export type PayloadKey =
  | "json_data1"
  | "lena512"
  | "gutenberg_faust"
  | "html_data1"
  | "ooms";

/** One entry of `WS_COMPRESSION_TESTDATA`. */
export interface PayloadKind {
  key: PayloadKey;
  /** The catalogue's `desc`. */
  description: string;
  /** The catalogue's file and its size in bytes. */
  file: string;
  fileSize: number;
  /** Sent as binary messages (`'binary': True`); else as text. */
  binary: boolean;
  /** How the runner synthesizes the stand-in (seeded, deterministic). */
  synthetic: string;
  /**
   * The message length from which deflate must make a case's traffic
   * smaller on the wire, each direction; `null`: incompressible (the real
   * files gzip to: json 4 %, html 6 %, Faust 39 %, bitmap 85 %, PDF 76 %,
   * the PDF being mostly compressed streams; the stand-ins, at 128 KiB a
   * message: 5 %, 9 %, 20 %, 91 %, 100 %).
   */
  compressibleFrom: number | null;
}

/** `WS_COMPRESSION_TESTDATA` in `WS_COMPRESSION_TESTDATA_KEYS` order. */
export const PAYLOAD_KINDS: readonly PayloadKind[] = [
  {
    key: "json_data1",
    description: "Large JSON data file",
    file: "data1.json",
    fileSize: 194056,
    binary: false,
    synthetic:
      "an Autobahn-report-like JSON document (agents × case ids × result fields), ASCII",
    compressibleFrom: 64,
  },
  {
    key: "lena512",
    description: "Lena Picture, Bitmap 512x512 bw",
    file: "lena512.bmp",
    fileSize: 263222,
    binary: true,
    synthetic:
      "a 512x512 8-bit grayscale BMP (header, palette, smooth shading plus noise)",
    compressibleFrom: 256,
  },
  {
    key: "gutenberg_faust",
    description: "Human readable text, Goethe's Faust I (German)",
    file: "pg2229.txt",
    fileSize: 222218,
    binary: true,
    synthetic:
      "German verse from a word list with umlauts and ß, UTF-8, sent as binary like the catalogue does",
    compressibleFrom: 64,
  },
  {
    key: "html_data1",
    description: "Large HTML file",
    file: "data1.html",
    fileSize: 263647,
    binary: false,
    synthetic:
      "an HTML results table with CSS and some non-ASCII characters (✓, –, ü)",
    compressibleFrom: 64,
  },
  {
    key: "ooms",
    description: "A larger PDF",
    file: "10.1.1.105.5439.pdf",
    fileSize: 1042328,
    binary: true,
    synthetic:
      "PDF-like objects whose streams are random bytes (already compressed data)",
    compressibleFrom: null,
  },
];

/** One entry of `DEFLATE_PARAMS`: the client's offers and the server's accept function. */
export interface DeflateSetting {
  /** `accept1` … `accept7` of the catalogue. */
  serverAccept: string;
  /** The accept function's docstring: `[(requestNoContextTakeover, requestMaxWindowBits)]`. */
  serverAcceptDescription: string;
  /** The client offers as the catalogue prints them. */
  clientOffersDescription: string;
  /**
   * The `Sec-WebSocket-Extensions` value AutobahnPython sends for the
   * offers (`PerMessageDeflateOffer()` defaults `accept_no_context_takeover`
   * and `accept_max_window_bits` to true, so every offer carries
   * `client_no_context_takeover; client_max_window_bits`).
   */
  offer: string;
  /** wstream client options making the same offers, one per offer, in order. */
  clientOptions: DeflateClientOptions[];
  /** wstream server options that accept like the catalogue's accept function. */
  serverOptions: DeflateServerOptions;
  /** The answer AutobahnPython's server writes (`PerMessageDeflateOfferAccept`). */
  autobahnAnswer: string;
  /** What both sides end up using. */
  params: DeflateParameters;
}

const PMD = "permessage-deflate";
/** What every AutobahnPython offer carries (`accept_*` default to true). */
const AB_OFFER = `${PMD}; client_no_context_takeover; client_max_window_bits`;
const AB_CLIENT: DeflateClientOptions = {
  clientNoContextTakeover: true,
  clientMaxWindowBits: true,
};

/**
 * Parameters with the client resetting its compressor: every Autobahn
 * offer includes `client_no_context_takeover`, a promise the client keeps
 * whether or not the server answers it (RFC 7692 §7.1.1.2).
 */
function params(
  serverNoContextTakeover: boolean,
  serverMaxWindowBits: number,
  clientMaxWindowBits: number,
): DeflateParameters {
  return {
    serverNoContextTakeover,
    clientNoContextTakeover: true,
    serverMaxWindowBits,
    clientMaxWindowBits,
  };
}

/** `accept1` with `[PerMessageDeflateOffer()]`: the default offer, accepted as is (12.x and 13.1). */
const DEFAULT_SETTING: DeflateSetting = {
  serverAccept: "accept1",
  serverAcceptDescription:
    "server accept (requestNoContextTakeover, requestMaxWindowBits): [(False, 0)]",
  clientOffersDescription:
    "client offers (requestNoContextTakeover, requestMaxWindowBits): [(False, 0)]",
  offer: AB_OFFER,
  clientOptions: [AB_CLIENT],
  serverOptions: {},
  autobahnAnswer: PMD,
  params: params(false, 15, 15),
};

/** `DEFLATE_PARAMS` of case12_x_x.py, for 13.1 … 13.7. */
export const DEFLATE_SETTINGS: readonly DeflateSetting[] = [
  DEFAULT_SETTING,
  {
    serverAccept: "accept2",
    serverAcceptDescription:
      "server accept (requestNoContextTakeover, requestMaxWindowBits): [(True, 0)]",
    clientOffersDescription:
      "client offers (requestNoContextTakeover, requestMaxWindowBits): [(True, 0)]",
    offer: `${AB_OFFER}; server_no_context_takeover`,
    clientOptions: [{ ...AB_CLIENT, serverNoContextTakeover: true }],
    serverOptions: { clientNoContextTakeover: true },
    autobahnAnswer:
      `${PMD}; server_no_context_takeover; client_no_context_takeover`,
    params: params(true, 15, 15),
  },
  {
    serverAccept: "accept3",
    serverAcceptDescription:
      "server accept (requestNoContextTakeover, requestMaxWindowBits): [(False, 9)]",
    clientOffersDescription:
      "client offers (requestNoContextTakeover, requestMaxWindowBits): [(False, 9)]",
    offer: `${AB_OFFER}; server_max_window_bits=9`,
    clientOptions: [{ ...AB_CLIENT, serverMaxWindowBits: 9 }],
    serverOptions: { clientMaxWindowBits: 9 },
    autobahnAnswer:
      `${PMD}; server_max_window_bits=9; client_max_window_bits=9`,
    params: params(false, 9, 9),
  },
  {
    serverAccept: "accept4",
    serverAcceptDescription:
      "server accept (requestNoContextTakeover, requestMaxWindowBits): [(False, 15)]",
    clientOffersDescription:
      "client offers (requestNoContextTakeover, requestMaxWindowBits): [(False, 15)]",
    offer: `${AB_OFFER}; server_max_window_bits=15`,
    clientOptions: [{ ...AB_CLIENT, serverMaxWindowBits: 15 }],
    serverOptions: { clientMaxWindowBits: 15 },
    autobahnAnswer:
      `${PMD}; server_max_window_bits=15; client_max_window_bits=15`,
    params: params(false, 15, 15),
  },
  {
    serverAccept: "accept5",
    serverAcceptDescription:
      "server accept (requestNoContextTakeover, requestMaxWindowBits): [(True, 9)]",
    clientOffersDescription:
      "client offers (requestNoContextTakeover, requestMaxWindowBits): [(True, 9)]",
    offer: `${AB_OFFER}; server_no_context_takeover; server_max_window_bits=9`,
    clientOptions: [{
      ...AB_CLIENT,
      serverNoContextTakeover: true,
      serverMaxWindowBits: 9,
    }],
    serverOptions: { clientNoContextTakeover: true, clientMaxWindowBits: 9 },
    autobahnAnswer:
      `${PMD}; server_no_context_takeover; server_max_window_bits=9; client_no_context_takeover; client_max_window_bits=9`,
    params: params(true, 9, 9),
  },
  {
    serverAccept: "accept6",
    serverAcceptDescription:
      "server accept (requestNoContextTakeover, requestMaxWindowBits): [(True, 15)]",
    clientOffersDescription:
      "client offers (requestNoContextTakeover, requestMaxWindowBits): [(True, 15)]",
    offer: `${AB_OFFER}; server_no_context_takeover; server_max_window_bits=15`,
    clientOptions: [{
      ...AB_CLIENT,
      serverNoContextTakeover: true,
      serverMaxWindowBits: 15,
    }],
    serverOptions: { clientNoContextTakeover: true, clientMaxWindowBits: 15 },
    autobahnAnswer:
      `${PMD}; server_no_context_takeover; server_max_window_bits=15; client_no_context_takeover; client_max_window_bits=15`,
    params: params(true, 15, 15),
  },
  {
    // accept7 tries accept5, then accept2, then accept1; accept5 takes the
    // first offer, so the answer is accept5's. wstream's server takes the
    // first acceptable offer too.
    serverAccept: "accept7",
    serverAcceptDescription:
      "server accept (requestNoContextTakeover, requestMaxWindowBits): [(True, 9), (True, 0), (False, 0)]",
    clientOffersDescription:
      "client offers (requestNoContextTakeover, requestMaxWindowBits): [(True, 9), (True, 0), (False, 0)]",
    offer: [
      `${AB_OFFER}; server_no_context_takeover; server_max_window_bits=9`,
      `${AB_OFFER}; server_no_context_takeover`,
      AB_OFFER,
    ].join(", "),
    clientOptions: [
      { ...AB_CLIENT, serverNoContextTakeover: true, serverMaxWindowBits: 9 },
      { ...AB_CLIENT, serverNoContextTakeover: true },
      AB_CLIENT,
    ],
    serverOptions: { clientNoContextTakeover: true, clientMaxWindowBits: 9 },
    autobahnAnswer:
      `${PMD}; server_no_context_takeover; server_max_window_bits=9; client_no_context_takeover; client_max_window_bits=9`,
    params: params(true, 9, 9),
  },
];

/** One Autobahn case of group 12 or 13. */
export interface AutobahnDeflateCase {
  /** Catalogue id: "12.1.1" … "13.7.18". */
  id: string;
  /** The catalogue's sub-category line for 12.j / 13.j. */
  category: string;
  /** The catalogue's DESCRIPTION. */
  description: string;
  /** The catalogue's EXPECTATION. */
  expectation: string;
  payload: PayloadKind;
  size: MessageSize;
  setting: DeflateSetting;
}

function category(kind: PayloadKind): string {
  return `${kind.description} (${
    kind.binary ? "binary" : "utf8"
  }, ${kind.fileSize} bytes)`;
}

function expectation(size: MessageSize): string {
  return `Receive echo'ed messages (with payload as sent). Timeout case after ${size.timeoutSeconds} secs.`;
}

const JSON_DATA1 = PAYLOAD_KINDS[0]!;

/** The 216 cases, in catalogue order. */
export const AUTOBAHN_DEFLATE_CASES: readonly AutobahnDeflateCase[] = [
  ...PAYLOAD_KINDS.flatMap((kind, j) =>
    MSG_SIZES.map((size, i) => ({
      id: `12.${j + 1}.${i + 1}`,
      category: category(kind),
      description:
        `Send ${size.count} compressed messages each of payload size ${size.length}, auto-fragment to ${size.autoFragmentSize} octets. Use default permessage-deflate offer.`,
      expectation: expectation(size),
      payload: kind,
      size,
      setting: DEFAULT_SETTING,
    }))
  ),
  ...DEFLATE_SETTINGS.flatMap((setting, j) =>
    MSG_SIZES.map((size, i) => ({
      id: `13.${j + 1}.${i + 1}`,
      category: `${
        category(JSON_DATA1)
      } - ${setting.clientOffersDescription} / ${setting.serverAcceptDescription}`,
      description:
        `Send ${size.count} compressed messages each of payload size ${size.length}, auto-fragment to ${size.autoFragmentSize} octets. Use permessage-deflate ${setting.clientOffersDescription}`,
      expectation: expectation(size),
      payload: JSON_DATA1,
      size,
      setting,
    }))
  ),
];

/**
 * How the test run scales the catalogue's 1000 messages a case: each case
 * sends about `bytesPerCase` payload units in each direction, at least
 * `minRepetitions` messages (so that every case compresses at least two
 * messages with the window the first one left, where context takeover is
 * on) and at most `maxRepetitions` (small messages cost per message, not
 * per byte) and the catalogue's count. Sizes, fragmentation and
 * parameters are never scaled. Set `WSTREAM_AUTOBAHN_FULL=1` to send the
 * catalogue's counts (minutes, not seconds).
 */
export const SCALE = {
  bytesPerCase: 32 * 1024,
  minRepetitions: 3,
  maxRepetitions: 128,
} as const;

/**
 * The number of messages the test run sends for a case (see {@link SCALE}).
 *
 * @param size The case's message size row.
 * @param full Send the catalogue's count.
 * @returns The number of messages.
 */
export function scaledRepetitions(size: MessageSize, full = false): number {
  if (full) return size.count;
  return Math.min(
    size.count,
    SCALE.maxRepetitions,
    Math.max(
      SCALE.minRepetitions,
      Math.floor(SCALE.bytesPerCase / size.length),
    ),
  );
}

/**
 * Beyond the catalogue (which only uses windows of 9 and 15 bits and always
 * offers `client_no_context_takeover`): the RFC 7692 window range 8..15 in
 * each direction, with client context takeover on. Each entry is a
 * browser-like offer and the server options that make the server pick those
 * bits; run on the `json_data1` payload with the catalogue's sizes up to
 * 16 KiB (and the 8 KiB / 256-octet fragmented row).
 */
export interface WindowBitsSetting {
  /** A name, not a catalogue id. */
  name: string;
  clientOptions: DeflateClientOptions;
  serverOptions: DeflateServerOptions;
  params: DeflateParameters;
}

/** The window-bits sweep: 8..15 for each direction. */
export const WINDOW_BITS_SWEEP: readonly WindowBitsSetting[] = [
  8,
  9,
  10,
  11,
  12,
  13,
  14,
  15,
].flatMap((bits) => [
  {
    name: `server_max_window_bits=${bits} (asked by the client)`,
    clientOptions: { serverMaxWindowBits: bits, clientMaxWindowBits: false },
    serverOptions: {},
    params: {
      serverNoContextTakeover: false,
      clientNoContextTakeover: false,
      serverMaxWindowBits: bits,
      clientMaxWindowBits: 15,
    },
  },
  {
    name:
      `client_max_window_bits=${bits} (chosen by the server for a valueless offer)`,
    clientOptions: { clientMaxWindowBits: true },
    serverOptions: { clientMaxWindowBits: bits },
    params: {
      serverNoContextTakeover: false,
      clientNoContextTakeover: false,
      serverMaxWindowBits: 15,
      clientMaxWindowBits: bits,
    },
  },
]);
