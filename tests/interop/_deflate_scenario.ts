/**
 * The echo scenario of the permessage-deflate interop tests, written once
 * for every peer: small text, binary and empty messages, then large
 * compressible ones (and a fragmented one where a side can fragment) whose
 * cost on the wire is counted by a `_byte_counting_proxy.ts` between the
 * peer and wstream.
 *
 * Private to the tests; never re-exported.
 *
 * @module
 */

import assert from "node:assert/strict";
import process from "node:process";
import type { ByteCountingProxy } from "./_byte_counting_proxy.ts";
import { headerValue } from "./_byte_counting_proxy.ts";
import type {
  WebSocketMessage,
  WebSocketStreamLike,
} from "../../lib/connection/websocket_stream_like.ts";
import { timeout } from "../_test_utils.ts";

/** A message as sent or received: text or bytes. */
export type Message = string | Uint8Array;

/** Size of the large compressible text message: 256 KiB. */
export const LARGE_TEXT_SIZE = 256 * 1024;
/** Size of the compressible binary message: 64 KiB. */
export const LARGE_BINARY_SIZE = 64 * 1024;
/**
 * Text messages starting with this are sent in 4 fragments by a sender
 * that can fragment, and echoed in 4 fragments by the peer servers.
 */
export const FRAGMENT_PREFIX = "FRAG ";

/**
 * Exactly `size` bytes of ASCII JSON-ish text (records of a fake API
 * answer with seeded pseudo-random values): compressible as real traffic
 * is, not a run of one character.
 *
 * @param size The length in bytes (and characters).
 * @param seed The pseudo-random seed.
 * @returns The text.
 */
export function jsonishText(size: number, seed = 1): string {
  let x = seed >>> 0 || 1;
  const next = (): number => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return x >>> 0;
  };
  const words = ["alpha", "beta", "gamma", "delta", "omega", "sigma"];
  const parts: string[] = ['{"items":['];
  let length = parts[0]!.length;
  for (let id = 0; length < size; id++) {
    const record = JSON.stringify({
      id,
      user: `user-${next() % 5000}`,
      tags: [words[next() % 6], words[next() % 6]],
      score: (next() % 100000) / 1000,
      active: next() % 2 === 0,
    }) + ",";
    parts.push(record);
    length += record.length;
  }
  return parts.join("").slice(0, size);
}

/** One side that sends messages and receives their echoes. */
export interface EchoDriver {
  /**
   * Whether a `FRAGMENT_PREFIX` message gets fragmented on the way (this
   * side sends it in fragments, or the peer server echoes it in fragments).
   */
  readonly fragments: boolean;
  /**
   * Sends `message` (text starting with {@linkcode FRAGMENT_PREFIX} in 4
   * fragments when this side can fragment) and resolves with its echo,
   * received whole.
   */
  roundTrip(message: Message): Promise<Message>;
}

/** What each direction of the wire must show for the large messages. */
export interface WireExpectation {
  /** The client's large messages cross compressed (else: at full size). */
  toServer: boolean;
  /** The server's large messages cross compressed (else: at full size). */
  toClient: boolean;
}

/** The bytes one large message cost on the wire, each way. */
export interface WireCost {
  /** What was sent. */
  message: string;
  /** Its payload size. */
  size: number;
  /** Bytes client → server for it (frame headers included). */
  toServer: number;
  /** Bytes server → client for its echo. */
  toClient: number;
}

const encoder = new TextEncoder();

function describeMessage(message: Message): string {
  return typeof message === "string"
    ? `text of ${encoder.encode(message).length} bytes`
    : `binary of ${message.length} bytes`;
}

function assertWire(
  cost: WireCost,
  direction: "toServer" | "toClient",
  compressed: boolean,
): void {
  const bytes = cost[direction];
  if (compressed) {
    assert.ok(
      bytes < cost.size / 2,
      `${cost.message} ${direction}: ${bytes} bytes on the wire for a ${cost.size}-byte payload, expected compressed (< half); ${
        JSON.stringify(cost)
      }`,
    );
  } else {
    assert.ok(
      bytes >= cost.size,
      `${cost.message} ${direction}: ${bytes} bytes on the wire for a ${cost.size}-byte payload, expected uncompressed (>= payload); ${
        JSON.stringify(cost)
      }`,
    );
  }
}

/**
 * Runs the echo scenario through `driver`, whose connection goes through
 * `proxy`: echoes "hello ✓", 4 binary bytes, empty text and empty binary,
 * 20 similar 200-333 byte records (text and binary in turn), then a 256 KiB JSON-ish text, a 64 KiB compressible binary and, when the
 * driver fragments, a fragmented 256 KiB text, checking each echo byte for
 * byte and the wire cost of the large ones against `expect`.
 *
 * @param driver The side under test.
 * @param proxy The counting proxy on the connection.
 * @param expect Which directions must be compressed.
 * @returns Every message sent, in order, and the wire cost of the large ones.
 */
export async function runEchoScenario(
  driver: EchoDriver,
  proxy: ByteCountingProxy,
  expect: WireExpectation,
): Promise<{ sent: Message[]; costs: WireCost[] }> {
  const sent: Message[] = [];
  const small: Message[] = [
    "hello ✓",
    new Uint8Array([0, 1, 2, 255]),
    "",
    new Uint8Array(0),
  ];
  // Then 20 similar records over the compression threshold (64 bytes), in
  // turn text and binary: compressed with context carried between
  // messages wherever it was not declined.
  for (let i = 0; i < 20; i++) {
    const record = jsonishText(200 + i * 7, 100 + i);
    small.push(i % 2 === 0 ? record : encoder.encode(record));
  }
  for (const message of small) {
    sent.push(message);
    assert.deepEqual(
      await driver.roundTrip(message),
      message,
      describeMessage(message),
    );
  }
  const large: Message[] = [
    jsonishText(LARGE_TEXT_SIZE, 1),
    encoder.encode(jsonishText(LARGE_BINARY_SIZE, 2)),
  ];
  if (driver.fragments) {
    // "✓" is 3 bytes of UTF-8: a byte split may cut it across fragments.
    large.push(
      `${FRAGMENT_PREFIX}✓ ${jsonishText(LARGE_TEXT_SIZE - 10, 3)}`,
    );
  }
  const costs: WireCost[] = [];
  for (const message of large) {
    sent.push(message);
    const { result, toServer, toClient } = await proxy.measure(() =>
      driver.roundTrip(message)
    );
    const name = typeof message === "string" &&
        message.startsWith(FRAGMENT_PREFIX)
      ? `fragmented ${describeMessage(message)}`
      : describeMessage(message);
    // Compared whole first: deepEqual on 256 KiB would print it all.
    assert.ok(
      typeof result === typeof message &&
        (typeof message === "string"
          ? result === message
          : equalBytes(result as Uint8Array, message)),
      `the echo of the ${name} differs (got ${describeMessage(result)})`,
    );
    const cost = {
      message: name,
      size: typeof message === "string"
        ? encoder.encode(message).length
        : message.length,
      toServer,
      toClient,
    };
    costs.push(cost);
    assertWire(cost, "toServer", expect.toServer);
    assertWire(cost, "toClient", expect.toClient);
  }
  return { sent, costs };
}

function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/**
 * Checks a log of received messages against what was sent, with types,
 * without printing megabytes on failure.
 *
 * @param received What one side received.
 * @param sent What was sent.
 * @param who Whose log, for the message.
 */
export function assertSameMessages(
  received: readonly Message[],
  sent: readonly Message[],
  who: string,
): void {
  assert.equal(received.length, sent.length, `${who}: message count`);
  sent.forEach((message, i) => {
    const got = received[i]!;
    assert.ok(
      typeof got === typeof message &&
        (typeof message === "string"
          ? got === message
          : equalBytes(got as Uint8Array, message)),
      `${who}: message ${i} (${describeMessage(message)}) arrived as ${
        describeMessage(got)
      }`,
    );
  });
}

/**
 * An {@linkcode EchoDriver} over an open wstream client socket (it cannot
 * fragment: `fragments` says whether the peer server echoes
 * {@linkcode FRAGMENT_PREFIX} messages in fragments).
 *
 * @param socket The wstream client.
 * @param serverFragments Whether the server fragments its echoes of them.
 * @returns The driver, and a function that closes the socket (1000).
 */
export async function wstreamDriver(
  socket: WebSocketStreamLike,
  serverFragments: boolean,
): Promise<EchoDriver & { close(): Promise<void> }> {
  const { readable, writable } = await timeout(socket.opened, 10_000, "opened");
  const reader = readable.getReader();
  const writer = writable.getWriter();
  return {
    fragments: serverFragments,
    async roundTrip(message: Message): Promise<Message> {
      await writer.write(message);
      const { done, value } = await timeout(reader.read(), 10_000, "an echo");
      assert.equal(done, false, "readable ended early");
      return value as WebSocketMessage;
    },
    async close(): Promise<void> {
      socket.close({ closeCode: 1000, reason: "done" });
      await timeout(socket.closed, 5000, "client closed").catch(() => {});
    },
  };
}

/**
 * The `Sec-WebSocket-Extensions` offer and answer of the `index`-th
 * connection through `proxy`, as they crossed the wire.
 *
 * @param proxy The counting proxy.
 * @param index The connection's number.
 * @returns The offer and the answer, each `null` when absent.
 */
export function wireExtensions(
  proxy: ByteCountingProxy,
  index = 0,
): { offer: string | null; answer: string | null } {
  const connection = proxy.connections[index];
  assert.ok(connection !== undefined, `no connection #${index} was relayed`);
  assert.match(connection.responseHead, /^HTTP\/1\.1 101 /);
  return {
    offer: headerValue(connection.requestHead, "sec-websocket-extensions"),
    answer: headerValue(connection.responseHead, "sec-websocket-extensions"),
  };
}

/**
 * Reports the wire costs of a test on stderr when `DEFLATE_INTEROP_LOG` is
 * set (quiet otherwise).
 *
 * @param test The test's name.
 * @param extensions The negotiated offer and answer.
 * @param costs The wire costs.
 */
export function logCosts(
  test: string,
  extensions: { offer: string | null; answer: string | null },
  costs: readonly WireCost[],
): void {
  if (process.env.DEFLATE_INTEROP_LOG === undefined) return;
  console.error(
    `[deflate] ${test}\n  offer:  ${extensions.offer}\n  answer: ${extensions.answer}\n` +
      costs.map((c) => `  ${c.message}: → ${c.toServer} B, ← ${c.toClient} B`)
        .join("\n"),
  );
}
