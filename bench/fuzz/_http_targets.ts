/**
 * Fuzz targets of the HTTP side: the request head reader (server), the
 * response head reader (client) and the `Sec-WebSocket-Extensions` parser.
 *
 * Inputs start with one configuration byte (the head size limit, or how the
 * extensions header is turned into strings), so that a saved input replays
 * with nothing else but its chunking.
 *
 * @module
 */

import { HttpHeadError, HttpHeadReader } from "../../lib/http/request_head.ts";
import { HttpResponseHeadReader } from "../../lib/http/response_head.ts";
import {
  type ExtensionElement,
  formatExtensionHeader,
  isToken,
  parseExtensionHeader,
} from "../../lib/core/extension_header.ts";
import {
  chunkSizes,
  concat,
  latin1,
  mutate,
  type MutationOptions,
} from "./_mutate.ts";
import type { Random } from "./_random.ts";
import { check, FuzzFailure, type FuzzTarget } from "./_target.ts";

/** Head size limits by configuration byte (undefined: the default, 16384). */
const HEAD_LIMITS = [
  undefined,
  undefined,
  undefined,
  undefined,
  1,
  64,
  1024,
  4096,
];
const DEFAULT_HEAD_LIMIT = 16384;

/** The `maxHeadSize` a configuration byte selects. */
export function headLimit(config: number): number | undefined {
  return HEAD_LIMITS[config & 7];
}

const HEAD_DICTIONARY = [
  "\r\n",
  "\r\n",
  "\n",
  "\r",
  "\r\n\r\n",
  "\n\n",
  " ",
  "\t",
  ":",
  ": ",
  ",",
  ";",
  "Host: ",
  "Host: example.com\r\n",
  "Content-Length: ",
  "Transfer-Encoding: chunked\r\n",
  "Upgrade: websocket\r\n",
  "Connection: Upgrade\r\n",
  "HTTP/1.1",
  "HTTP/1.0",
  "HTTP/2.0",
  "GET ",
  "/",
  "http://",
  "[::1]",
  "%",
  "?",
  "#",
  "*",
  "0",
  "9",
  "18446744073709551616",
  "\x00",
  "\x7f",
  "\x80",
  "\xff",
  " \t ",
  "Sec-WebSocket-Extensions: ",
  "101 ",
  "999",
].map(latin1);

const HEAD_MUTATIONS: MutationOptions = {
  dictionary: HEAD_DICTIONARY,
  runBytes: [0x20, 0x09, 0x61, 0x2c, 0x0d, 0x0a, 0x3a, 0x00, 0x80],
  maxRun: 20_000,
  maxLength: 24_000,
};

const METHODS = [
  "GET",
  "GET",
  "GET",
  "HEAD",
  "POST",
  "PUT",
  "DELETE",
  "OPTIONS",
  "PATCH",
  "get",
  "CONNECT",
  "TRACE",
  "BREW",
  "G@T",
  "",
];
const TARGETS = [
  "/",
  "/chat",
  "/chat?room=1&x=%20",
  "http://example.com/chat",
  "http://EXAMPLE.com:8080",
  "http://[::1]:8080/x",
  "http://a:99999/",
  "https://example.com/",
  "*",
  "example.com:443",
  "/%zz",
  "//x",
  "/\u00e9",
  "http:///x",
  "/" + "a".repeat(300),
];
const VERSIONS = [
  "HTTP/1.1",
  "HTTP/1.1",
  "HTTP/1.1",
  "HTTP/1.0",
  "HTTP/2.0",
  "HTTP/1.10",
  "http/1.1",
  "HTTP/0.9",
  "HTTP/1.2",
];
const HOSTS = [
  "example.com",
  "example.com:80",
  "[::1]:8080",
  "127.0.0.1",
  "",
  "a b",
  "x:y:z",
  "ex%41mple",
  "[zz]",
  "example.com:",
];
const REQUEST_FIELDS = [
  "Upgrade: websocket",
  "Connection: keep-alive, Upgrade",
  "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==",
  "Sec-WebSocket-Version: 13",
  "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits",
  "Sec-WebSocket-Protocol: chat, superchat",
  "Origin: http://example.com",
  "Content-Length: 0",
  "Content-Length: 5",
  "Content-Length: 5, 5",
  "Content-Length: 5,6",
  "Content-Length: -1",
  "Content-Length: 99999999999999999999",
  "Transfer-Encoding: chunked",
  "Cookie: a=" + "b".repeat(200),
  "X-Empty:",
  "X-Spaces:    value   ",
  "X-Tab:\tv\t",
  "X-Obs: caf\xe9",
  "X Bad: v",
  "X-Bad : v",
  ": no-name",
  "X-Ctl: a\x01b",
  " folded",
  "\tfolded",
];

const RESPONSE_STATUS = [
  "HTTP/1.1 101 Switching Protocols",
  "HTTP/1.1 101 Switching Protocols",
  "HTTP/1.1 101",
  "HTTP/1.1 101 ",
  "HTTP/1.0 200 OK",
  "HTTP/1.1 404 Not Found",
  "HTTP/1.1 099 Low",
  "HTTP/1.1 1000 Big",
  "HTTP/2 101",
  "HTTP/2.0 101 x",
  "HTTP/1.1 10 x",
  "ICY 200 OK",
  "HTTP/1.1 101 caf\xe9",
  "HTTP/1.1 101 \x01",
  "HTTP/1.1  101 x",
  "http/1.1 101 x",
];
const RESPONSE_FIELDS = [
  "Upgrade: websocket",
  "Connection: Upgrade",
  "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=",
  "Sec-WebSocket-Extensions: permessage-deflate; server_no_context_takeover",
  "Sec-WebSocket-Protocol: chat",
  "Set-Cookie: a=1",
  "Set-Cookie: b=2",
  "Content-Length: 3",
  "X-Folded: first",
  " second",
  "\tthird   ",
  "X-Spaces:    value   ",
  "X Bad: v",
  "X-Bad : v",
  ": no-name",
  "X-Ctl: a\x01b",
  "Server: " + "s".repeat(100),
];

function lineEnding(random: Random): string {
  return random.chance(0.9) ? "\r\n" : random.chance(0.8) ? "\n" : "\r";
}

function fields(
  random: Random,
  pool: readonly string[],
  first: string[],
): string[] {
  const lines = [...first];
  const count = random.small(10);
  for (let i = 0; i < count; i++) lines.push(random.pick(pool));
  for (let i = lines.length - 1; i > 0; i--) {
    if (random.chance(0.3)) {
      const j = random.int(i + 1);
      [lines[i], lines[j]] = [lines[j]!, lines[i]!];
    }
  }
  return lines;
}

function head(random: Random, startLine: string, lines: string[]): Uint8Array {
  let text = "";
  if (random.chance(0.05)) text += random.pick(["\r\n", "\n", "\r\n\r\n"]);
  text += startLine + lineEnding(random);
  for (const line of lines) text += line + lineEnding(random);
  text += lineEnding(random);
  const parts = [latin1(text)];
  if (random.chance(0.3)) {
    parts.push(
      random.chance(0.5)
        ? Uint8Array.of(0x81, 0x02, 0x68, 0x69)
        : latin1("GET / HTTP/1.1\r\n\r\n"),
    );
  }
  return concat(parts);
}

function requestHead(random: Random): Uint8Array {
  const method = random.pick(METHODS);
  const target = random.pick(TARGETS);
  const version = random.pick(VERSIONS);
  const separator = random.chance(0.97) ? " " : random.pick(["  ", "\t", ""]);
  const hosts: string[] = [];
  const hostCount = random.chance(0.85) ? 1 : random.int(3);
  for (let i = 0; i < hostCount; i++) hosts.push(`Host: ${random.pick(HOSTS)}`);
  return head(
    random,
    `${method}${separator}${target}${separator}${version}`,
    fields(random, REQUEST_FIELDS, hosts),
  );
}

function responseHead(random: Random): Uint8Array {
  return head(
    random,
    random.pick(RESPONSE_STATUS),
    fields(random, RESPONSE_FIELDS, []),
  );
}

function withConfig(random: Random, body: Uint8Array): Uint8Array {
  return concat([Uint8Array.of(random.int(256)), body]);
}

/** Feeds `bytes` in the chunks given; returns the result and what was pushed. */
function feed<T>(
  bytes: Uint8Array,
  sizes: readonly number[],
  push: (chunk: Uint8Array) => T | null,
): {
  value: T | null;
  error: unknown;
  pushed: number;
  lastChunk: Uint8Array | null;
} {
  let pushed = 0;
  let lastChunk: Uint8Array | null = null;
  try {
    for (const size of sizes) {
      lastChunk = bytes.slice(pushed, pushed + size);
      pushed += size;
      const value = push(lastChunk);
      if (value !== null) return { value, error: undefined, pushed, lastChunk };
    }
  } catch (error) {
    return { value: null, error, pushed, lastChunk };
  }
  return { value: null, error: undefined, pushed, lastChunk };
}

/** Checks `rest`: the bytes of the last chunk after the head, copied. */
function checkRest(
  rest: Uint8Array,
  lastChunk: Uint8Array,
  pushed: number,
  limit: number,
): void {
  check(rest.length <= lastChunk.length, "rest is longer than the last chunk");
  const tail = lastChunk.subarray(lastChunk.length - rest.length);
  check(
    rest.every((byte, i) => byte === tail[i]),
    "rest is not the end of the last chunk",
  );
  check(rest.buffer !== lastChunk.buffer, "rest is not a copy");
  const headLength = pushed - rest.length;
  check(
    headLength >= 1 && headLength <= limit,
    `head of ${headLength} bytes returned with limit ${limit}`,
  );
}

/** The request head reader, fed in random chunks, checked against one whole push. */
export const requestHeadTarget: FuzzTarget = {
  name: "request-head",
  generate(random) {
    const body = requestHead(random);
    return withConfig(
      random,
      mutate(random, body, {
        ...HEAD_MUTATIONS,
        other: () => requestHead(random),
      }),
    );
  },
  run(input, random, log) {
    const limit = headLimit(input[0] ?? 0);
    const bytes = input.subarray(1);
    const sizes = chunkSizes(random, bytes.length);
    log.chunks = sizes;
    const outcome = (sizes: readonly number[]) => {
      const reader = new HttpHeadReader(
        limit === undefined ? {} : { maxHeadSize: limit },
      );
      const result = feed(bytes, sizes, (chunk) => reader.push(chunk));
      if (result.error !== undefined) {
        const error = result.error;
        if (!(error instanceof HttpHeadError)) throw error;
        check(
          [400, 414, 431, 501, 505].includes(error.status),
          `undocumented status ${error.status}`,
        );
        check(error.message.length > 0, "empty error message");
        return {
          label: String(error.status),
          summary: `status ${error.status}`,
        };
      }
      if (result.value === null) {
        return { label: "incomplete", summary: "incomplete" };
      }
      const head = result.value;
      checkRest(
        head.rest,
        result.lastChunk!,
        result.pushed,
        limit ?? DEFAULT_HEAD_LIMIT,
      );
      check(
        head.version === "HTTP/1.1" || head.version === "HTTP/1.0",
        "bad version",
      );
      const url = new URL(head.request.url);
      check(url.protocol === "http:", `URL ${head.request.url} is not http:`);
      check(head.request.body === null, "request has a body");
      try {
        reader.push(Uint8Array.of(0x41));
        check(false, "push after the head did not throw");
      } catch (error) {
        if (error instanceof FuzzFailure) throw error;
        check(
          error instanceof TypeError,
          "push after the head threw something else than a TypeError",
        );
      }
      const headers = [...head.request.headers].map(([k, v]) => `${k}:${v}`)
        .join("\n");
      return {
        label: "ok",
        summary:
          `${head.version} ${head.request.method} ${head.request.url}\n${headers}`,
      };
    };
    const chunked = outcome(sizes);
    if (sizes.length > 1) {
      const whole = outcome([bytes.length]);
      check(
        whole.summary === chunked.summary,
        () =>
          `chunked outcome ${JSON.stringify(chunked.summary)} != whole ${
            JSON.stringify(whole.summary)
          }`,
      );
    }
    return chunked.label;
  },
};

/** Whether an error is what `HttpResponseHeadReader.push` documents. */
function responseLabel(error: unknown, pushed: number, limit: number): string {
  if (error instanceof SyntaxError) return "SyntaxError";
  if (error instanceof RangeError && /too large/.test(error.message)) {
    check(pushed > limit, "RangeError (too large) before the limit was passed");
    return "RangeError";
  }
  throw error;
}

/** The response head reader, fed in random chunks, checked against one whole push. */
export const responseHeadTarget: FuzzTarget = {
  name: "response-head",
  generate(random) {
    const body = responseHead(random);
    return withConfig(
      random,
      mutate(random, body, {
        ...HEAD_MUTATIONS,
        other: () => responseHead(random),
      }),
    );
  },
  run(input, random, log) {
    const limit = headLimit(input[0] ?? 0);
    const bytes = input.subarray(1);
    const sizes = chunkSizes(random, bytes.length);
    log.chunks = sizes;
    const outcome = (sizes: readonly number[]) => {
      const reader = new HttpResponseHeadReader(
        limit === undefined ? {} : { maxHeadSize: limit },
      );
      const result = feed(bytes, sizes, (chunk) => reader.push(chunk));
      if (result.error !== undefined) {
        const label = responseLabel(
          result.error,
          result.pushed,
          limit ?? DEFAULT_HEAD_LIMIT,
        );
        return { label, summary: "error" };
      }
      if (result.value === null) {
        check(
          reader.bytesReceived === result.pushed,
          "bytesReceived is not what was pushed",
        );
        return { label: "incomplete", summary: "incomplete" };
      }
      const head = result.value;
      checkRest(
        head.rest,
        result.lastChunk!,
        result.pushed,
        limit ?? DEFAULT_HEAD_LIMIT,
      );
      check(head.version.startsWith("HTTP/1."), `version ${head.version}`);
      check(
        Number.isInteger(head.status) && head.status >= 100 &&
          head.status <= 999,
        `status ${head.status}`,
      );
      try {
        reader.push(Uint8Array.of(0x41));
        check(false, "push after the head did not throw");
      } catch (error) {
        if (error instanceof FuzzFailure) throw error;
        check(
          error instanceof TypeError,
          "push after the head threw something else than a TypeError",
        );
      }
      const headers = [...head.headers].map(([k, v]) => `${k}:${v}`).join("\n");
      return {
        label: "ok",
        summary:
          `${head.version} ${head.status} ${head.statusText}\n${headers}`,
      };
    };
    const chunked = outcome(sizes);
    if (sizes.length > 1) {
      const whole = outcome([bytes.length]);
      // A chunked feed may fail fast (a bad "HTTP/" prefix) where one push
      // first passes the size limit: both are documented, so compare only
      // whether the head was read, and what it is.
      check(
        (whole.label === "ok") === (chunked.label === "ok") &&
          (whole.label !== "ok" || whole.summary === chunked.summary),
        () =>
          `chunked outcome ${chunked.label} ${
            JSON.stringify(chunked.summary)
          } != whole ${whole.label} ${JSON.stringify(whole.summary)}`,
      );
    }
    return chunked.label;
  },
};

const EXTENSION_CORPUS = [
  "permessage-deflate",
  "permessage-deflate; client_max_window_bits",
  "permessage-deflate; client_max_window_bits=10; server_no_context_takeover, permessage-deflate",
  'permessage-deflate; server_max_window_bits="12"; client_no_context_takeover',
  'x-foo; a="b\\c"; d=e',
  "x-webkit-deflate-frame, permessage-deflate ;  client_max_window_bits = 15 ,",
  ", ,\t,permessage-deflate",
  'a;b;c;d;e;f=1;g="2"',
].map(latin1);

const EXTENSION_MUTATIONS: MutationOptions = {
  dictionary: [
    ",",
    ";",
    "=",
    '"',
    "\\",
    " ",
    "\t",
    "a",
    "permessage-deflate",
    "client_max_window_bits",
    "15",
    '""',
    '"\\"',
    "\xe9",
    "\x00",
    "\r\n",
  ].map(latin1),
  runBytes: [0x20, 0x09, 0x2c, 0x3b, 0x61, 0x22, 0x5c],
  maxRun: 20_000,
  maxLength: 24_000,
};

function checkElements(elements: readonly ExtensionElement[]): void {
  for (const element of elements) {
    check(
      isToken(element.name) && element.name === element.name.toLowerCase(),
      `bad name ${JSON.stringify(element.name)}`,
    );
    for (const param of element.params) {
      check(
        isToken(param.name) && param.name === param.name.toLowerCase(),
        `bad parameter name ${JSON.stringify(param.name)}`,
      );
      check(
        param.value === null || isToken(param.value),
        `bad value ${JSON.stringify(param.value)}`,
      );
    }
  }
}

function parseOrError(
  header: string | readonly string[],
): ExtensionElement[] | SyntaxError {
  try {
    return parseExtensionHeader(header);
  } catch (error) {
    if (error instanceof SyntaxError) return error;
    throw error;
  }
}

/**
 * The `Sec-WebSocket-Extensions` parser: results are tokens, format then
 * parse gives the same elements back, and several header lines parse like
 * their `","`-join.
 */
export const extensionHeaderTarget: FuzzTarget = {
  name: "extension-header",
  generate(random) {
    const base = random.pick(EXTENSION_CORPUS);
    return withConfig(
      random,
      mutate(random, base, {
        ...EXTENSION_MUTATIONS,
        other: () => random.pick(EXTENSION_CORPUS),
      }),
    );
  },
  run(input, random, log) {
    const mode = (input[0] ?? 0) & 3;
    const bytes = input.subarray(1);
    log.chunks = [bytes.length];
    let text = "";
    if (mode === 1) {
      text = new TextDecoder().decode(bytes); // U+FFFD and non-Latin-1 characters
    } else {
      for (const byte of bytes) text += String.fromCharCode(byte);
    }
    let header: string | string[] = text;
    if (mode === 2) {
      const sizes = chunkSizes(random, text.length);
      log.chunks = sizes;
      header = [];
      let at = 0;
      for (const size of sizes) {
        header.push(text.slice(at, at + size));
        at += size;
      }
    }
    const result = parseOrError(header);
    if (Array.isArray(header)) {
      const joined = parseOrError(header.join(","));
      check(
        (result instanceof SyntaxError) === (joined instanceof SyntaxError) &&
          (result instanceof SyntaxError ||
            JSON.stringify(result) === JSON.stringify(joined)),
        "several lines do not parse like their join",
      );
    }
    if (result instanceof SyntaxError) {
      check(result.message.length > 0, "empty error message");
      return "SyntaxError";
    }
    checkElements(result);
    const formatted = formatExtensionHeader(result);
    const again = parseExtensionHeader(formatted);
    check(
      JSON.stringify(again) === JSON.stringify(result),
      () => `format/parse round trip changed ${formatted}`,
    );
    return result.length === 0 ? "ok (empty)" : "ok";
  },
};
