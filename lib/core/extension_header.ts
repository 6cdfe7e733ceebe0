/**
 * The `Sec-WebSocket-Extensions` header (RFC 6455 §9.1): one linear-time
 * parser and one formatter, shared by the server (offers in the request) and
 * the client (the answer in the 101 response).
 *
 * @module
 */

/**
 * One parameter of an extension element: `name` or `name=value`.
 *
 * @example Read the parameters of an offer
 * ```ts
 * import { type ExtensionParam, parseExtensionHeader } from "@wstream/wstream/core";
 * import assert from "node:assert/strict";
 *
 * const [offer] = parseExtensionHeader("permessage-deflate; client_max_window_bits; server_max_window_bits=10");
 * const params: readonly ExtensionParam[] = offer!.params;
 * assert.deepEqual(params, [
 *   { name: "client_max_window_bits", value: null },
 *   { name: "server_max_window_bits", value: "10" },
 * ]);
 * ```
 */
export interface ExtensionParam {
  /** The parameter name, lowercased (names are case-insensitive). */
  readonly name: string;
  /**
   * The value, unquoted and as written (case kept), or `null` for a
   * parameter without `=value`.
   */
  readonly value: string | null;
}

/**
 * One element of the header list: an extension name and its parameters.
 *
 * @example Write an answer element
 * ```ts
 * import { type ExtensionElement, formatExtensionHeader } from "@wstream/wstream/core";
 * import assert from "node:assert/strict";
 *
 * const element: ExtensionElement = {
 *   name: "permessage-deflate",
 *   params: [{ name: "server_no_context_takeover", value: null }],
 * };
 * assert.equal(formatExtensionHeader([element]), "permessage-deflate; server_no_context_takeover");
 * ```
 */
export interface ExtensionElement {
  /** The extension token, lowercased, such as `"permessage-deflate"`. */
  readonly name: string;
  /**
   * The parameters in order. Repeats are kept (not a syntax error): an
   * extension's negotiation decides what a repeated parameter means
   * (permessage-deflate declines the offer, RFC 7692 §7).
   */
  readonly params: readonly ExtensionParam[];
}

/** Longest header excerpt quoted in an error message. */
const MAX_QUOTED = 64;

/** RFC 7230 §3.2.6 `tchar`, indexed by char code (ASCII only). */
const TCHAR = new Uint8Array(128);
for (const c of "!#$%&'*+-.^_`|~") TCHAR[c.charCodeAt(0)] = 1;
for (let c = 0x30; c <= 0x39; c++) TCHAR[c] = 1;
for (let c = 0x41; c <= 0x5a; c++) TCHAR[c] = 1;
for (let c = 0x61; c <= 0x7a; c++) TCHAR[c] = 1;

const SP = 0x20;
const HTAB = 0x09;
const COMMA = 0x2c;
const SEMICOLON = 0x3b;
const EQUALS = 0x3d;
const DQUOTE = 0x22;
const BACKSLASH = 0x5c;

function isTchar(code: number): boolean {
  return code < 128 && TCHAR[code] === 1;
}

/**
 * Whether `value` is a non-empty RFC 7230 §3.2.6 token.
 *
 * @param value The string to check.
 * @returns `true` for a token such as `"permessage-deflate"`.
 *
 * @example Check tokens
 * ```ts
 * import { isToken } from "@wstream/wstream/core";
 * import assert from "node:assert/strict";
 *
 * assert.equal(isToken("client_max_window_bits"), true);
 * assert.equal(isToken("a b"), false);
 * ```
 */
export function isToken(value: string): boolean {
  if (value.length === 0) return false;
  for (let i = 0; i < value.length; i++) {
    if (!isTchar(value.charCodeAt(i))) return false;
  }
  return true;
}

/** Quotes a header excerpt for an error message, truncated. */
function quote(value: string): string {
  return JSON.stringify(
    value.length > MAX_QUOTED ? `${value.slice(0, MAX_QUOTED)}…` : value,
  );
}

/** A printable description of the character at `i`, or "the end". */
function describeAt(header: string, i: number): string {
  return i >= header.length
    ? "the end"
    : `${JSON.stringify(header[i])} at offset ${i}`;
}

/**
 * Parses a `Sec-WebSocket-Extensions` header (RFC 6455 §9.1) into its
 * elements, in order. Several header lines (an array, or lines already
 * joined with `","` as `Headers.get` does) parse as one list; empty list
 * elements and optional whitespace are allowed (RFC 7230 §7, §3.2.3).
 * Names are case-insensitive and returned lowercased; a quoted value must
 * be a token once unquoted (RFC 6455 §9.1).
 *
 * Runs in time linear in the header length, with no regular expression.
 *
 * What to do with a `SyntaxError`: wstream's recommendation, as in
 * python-websockets, is for a server to refuse the upgrade with 400 and
 * the error message (a client that sends an unparsable header is broken,
 * and silently dropping compression hides it); a client that cannot parse
 * the server's answer must fail the connection (RFC 6455 §4.1).
 *
 * @param header The header value, several values, or `null` when absent.
 * @returns The elements; empty when `header` is `null` or blank.
 * @throws {SyntaxError} When the header does not follow the grammar; the
 * message names the offending character and its offset.
 *
 * @example Parse a browser's offer
 * ```ts
 * import { parseExtensionHeader } from "@wstream/wstream/core";
 * import assert from "node:assert/strict";
 *
 * assert.deepEqual(
 *   parseExtensionHeader("permessage-deflate; client_max_window_bits"),
 *   [{
 *     name: "permessage-deflate",
 *     params: [{ name: "client_max_window_bits", value: null }],
 *   }],
 * );
 * ```
 */
export function parseExtensionHeader(
  header: string | readonly string[] | null,
): ExtensionElement[] {
  if (header === null) return [];
  const text = typeof header === "string" ? header : header.join(",");
  const elements: ExtensionElement[] = [];
  const length = text.length;
  const fail = (what: string): never => {
    throw new SyntaxError(
      `Invalid Sec-WebSocket-Extensions header ${quote(text)}: ${what}`,
    );
  };
  let i = 0;
  const skipSpace = (): void => {
    while (i < length) {
      const code = text.charCodeAt(i);
      if (code !== SP && code !== HTAB) break;
      i++;
    }
  };
  const readToken = (): string => {
    const start = i;
    while (i < length && isTchar(text.charCodeAt(i))) i++;
    return text.slice(start, i);
  };
  const readQuoted = (param: string): string => {
    i++; // opening quote
    let value = "";
    let start = i;
    for (;;) {
      if (i >= length) fail(`unterminated quoted value of ${quote(param)}`);
      const code = text.charCodeAt(i);
      if (code === DQUOTE) break;
      if (code === BACKSLASH) {
        value += text.slice(start, i);
        i++;
        start = i;
        if (i >= length) fail(`unterminated quoted value of ${quote(param)}`);
      }
      if (!isTchar(text.charCodeAt(i))) {
        fail(
          `the quoted value of ${
            quote(param)
          } must be a token once unquoted (RFC 6455 §9.1), found ${
            describeAt(text, i)
          }`,
        );
      }
      i++;
    }
    value += text.slice(start, i);
    i++; // closing quote
    if (value === "") fail(`the quoted value of ${quote(param)} is empty`);
    return value;
  };

  while (i < length) {
    skipSpace();
    if (i >= length) break;
    if (text.charCodeAt(i) === COMMA) {
      i++; // empty list element
      continue;
    }
    const name = readToken().toLowerCase();
    if (name === "") {
      fail(`expected an extension name, found ${describeAt(text, i)}`);
    }
    const params: ExtensionParam[] = [];
    skipSpace();
    while (i < length && text.charCodeAt(i) === SEMICOLON) {
      i++;
      skipSpace();
      const param = readToken().toLowerCase();
      if (param === "") {
        fail(
          `expected a parameter name of ${quote(name)}, found ${
            describeAt(text, i)
          }`,
        );
      }
      skipSpace();
      let value: string | null = null;
      if (i < length && text.charCodeAt(i) === EQUALS) {
        i++;
        skipSpace();
        if (i < length && text.charCodeAt(i) === DQUOTE) {
          value = readQuoted(param);
        } else {
          value = readToken();
          if (value === "") {
            fail(
              `expected a value for ${quote(param)}, found ${
                describeAt(text, i)
              }`,
            );
          }
        }
        skipSpace();
      }
      params.push({ name: param, value });
    }
    elements.push({ name, params });
    if (i < length && text.charCodeAt(i) !== COMMA) {
      fail(
        `expected ";" or "," after ${quote(name)}, found ${
          describeAt(text, i)
        }`,
      );
    }
  }
  return elements;
}

/**
 * Formats extension elements as a `Sec-WebSocket-Extensions` value:
 * `name; param; param=value, name2`. Values are written as tokens (RFC 6455
 * §9.1 allows only token values, so quoting is never needed).
 *
 * @param elements The elements, in order.
 * @returns The header value; `""` for no elements.
 * @throws {SyntaxError} If a name or value is not an RFC 7230 token.
 *
 * @example Format a permessage-deflate answer
 * ```ts
 * import { formatExtensionHeader } from "@wstream/wstream/core";
 * import assert from "node:assert/strict";
 *
 * assert.equal(
 *   formatExtensionHeader([{
 *     name: "permessage-deflate",
 *     params: [
 *       { name: "server_no_context_takeover", value: null },
 *       { name: "client_max_window_bits", value: "10" },
 *     ],
 *   }]),
 *   "permessage-deflate; server_no_context_takeover; client_max_window_bits=10",
 * );
 * ```
 */
export function formatExtensionHeader(
  elements: readonly ExtensionElement[],
): string {
  const check = (token: string, what: string): string => {
    if (typeof token !== "string" || !isToken(token)) {
      throw new SyntaxError(
        `Cannot format ${what} ${
          quote(String(token))
        }: use a non-empty RFC 7230 token (letters, digits and !#$%&'*+-.^_\`|~)`,
      );
    }
    return token;
  };
  return elements.map((element) => {
    let out = check(element.name, "extension name");
    for (const param of element.params) {
      out += `; ${check(param.name, "parameter name")}`;
      if (param.value !== null) {
        out += `=${check(param.value, `value of ${param.name}`)}`;
      }
    }
    return out;
  }).join(", ");
}
