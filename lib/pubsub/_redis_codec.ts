/**
 * The wire format of the Redis backplane: one Redis pub/sub message per
 * room message, an ASCII header then the payload.
 *
 * ```
 * kind (1 char)  sender (16 hex)  sequence (8 hex)  payload
 * "t"            per backplane    per sender        UTF-8 text
 * "b"            random id        0..2^32-1, wraps  raw bytes
 * "B"                                               base64 of the bytes
 * ```
 *
 * The header is ASCII so that a client which only carries text (Bun's
 * built-in one) can read it; such a client sends binary as `"B"`. Private
 * to the backplane; never re-exported.
 *
 * @module
 */

import type { BackplaneMessage } from "./backplane.ts";

/** Header length: kind, 16 hex digits of sender, 8 of sequence. */
export const HEADER_LENGTH = 25;

const KIND_TEXT = 0x74; // "t"
const KIND_BINARY = 0x62; // "b"
const KIND_BASE64 = 0x42; // "B"

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** A decoded backplane message. */
export interface DecodedMessage {
  /** The publishing backplane's id (16 hex digits). */
  sender: string;
  /** Its sequence number, per sender. */
  sequence: number;
  /** The room message. */
  data: BackplaneMessage;
}

/** 16 random hex digits: a backplane's id. */
export function randomSenderId(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(8));
  let id = "";
  for (const byte of bytes) id += byte.toString(16).padStart(2, "0");
  return id;
}

function header(kind: string, sender: string, sequence: number): string {
  return kind + sender + (sequence >>> 0).toString(16).padStart(8, "0");
}

/**
 * Encodes a message as bytes (for clients that carry bytes), or as a string
 * when `textOnly` (binary then goes as base64).
 */
export function encodeMessage(
  sender: string,
  sequence: number,
  data: BackplaneMessage,
  textOnly: boolean,
): Uint8Array | string {
  if (typeof data === "string") {
    const head = header("t", sender, sequence);
    return textOnly ? head + data : encoder.encode(head + data);
  }
  if (textOnly) return header("B", sender, sequence) + toBase64(data);
  const out = new Uint8Array(HEADER_LENGTH + data.length);
  encoder.encodeInto(header("b", sender, sequence), out);
  out.set(data, HEADER_LENGTH);
  return out;
}

/**
 * Decodes a message received as bytes or as a string.
 *
 * @throws {SyntaxError} If it is not a backplane message, or is binary
 * received as text (a text-only client cannot carry it intact).
 */
export function decodeMessage(raw: Uint8Array | string): DecodedMessage {
  if (raw.length < HEADER_LENGTH) throw malformed();
  const kind = typeof raw === "string" ? raw.charCodeAt(0) : raw[0]!;
  const head = typeof raw === "string"
    ? raw.slice(1, HEADER_LENGTH)
    : ascii(raw.subarray(1, HEADER_LENGTH));
  if (!/^[0-9a-f]{24}$/.test(head)) throw malformed();
  const sender = head.slice(0, 16);
  const sequence = parseInt(head.slice(16), 16);
  let data: BackplaneMessage;
  if (kind === KIND_TEXT) {
    data = typeof raw === "string"
      ? raw.slice(HEADER_LENGTH)
      : decoder.decode(raw.subarray(HEADER_LENGTH));
  } else if (kind === KIND_BINARY) {
    if (typeof raw === "string") {
      throw new SyntaxError(
        "Received a binary room message through a Redis client that only carries text: set `binaryAsBase64: true` on every process's backplane",
      );
    }
    data = new Uint8Array(raw.subarray(HEADER_LENGTH)); // A copy, not a Buffer.
  } else if (kind === KIND_BASE64) {
    data = fromBase64(
      typeof raw === "string"
        ? raw.slice(HEADER_LENGTH)
        : ascii(raw.subarray(HEADER_LENGTH)),
    );
  } else {
    throw malformed();
  }
  return { sender, sequence, data };
}

function malformed(): SyntaxError {
  return new SyntaxError(
    "Received a message that is not a wstream backplane message on a backplane channel: is another application using the same keyPrefix?",
  );
}

function ascii(bytes: Uint8Array): string {
  let text = "";
  for (let i = 0; i < bytes.length; i += 8192) {
    text += String.fromCharCode(...bytes.subarray(i, i + 8192));
  }
  return text;
}

function toBase64(bytes: Uint8Array): string {
  return btoa(ascii(bytes));
}

function fromBase64(text: string): Uint8Array {
  let binary: string;
  try {
    binary = atob(text);
  } catch {
    throw malformed();
  }
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return bytes;
}
