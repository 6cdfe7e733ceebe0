/**
 * permessage-deflate in the opening handshake: what `answerUpgrade`
 * answers to each offer (or refuses), and how `verifyServerHandshake`
 * judges each answer, as tables.
 */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import {
  acceptKey,
  answerUpgrade,
  createClientHandshake,
  verifyServerHandshake,
} from "../../lib/core/handshake.ts";
import type {
  DeflateClientOptions,
  DeflateParameters,
  DeflateServerOptions,
} from "../../lib/core/deflate_negotiation.ts";
import { HandshakeError } from "../../lib/core/errors.ts";

const RFC_KEY = "dGhlIHNhbXBsZSBub25jZQ==";

function upgradeRequest(extensions: string | null): Request {
  const headers = new Headers({
    Upgrade: "websocket",
    Connection: "Upgrade",
    "Sec-WebSocket-Key": RFC_KEY,
    "Sec-WebSocket-Version": "13",
  });
  if (extensions !== null) headers.set("Sec-WebSocket-Extensions", extensions);
  return new Request("http://localhost/ws", { headers });
}

const PYTHON_LIKE: DeflateServerOptions = {
  serverMaxWindowBits: 12,
  clientMaxWindowBits: 12,
};

function params(
  overrides: Partial<DeflateParameters> = {},
): DeflateParameters {
  return {
    serverNoContextTakeover: false,
    clientNoContextTakeover: false,
    serverMaxWindowBits: 15,
    clientMaxWindowBits: 15,
    ...overrides,
  };
}

describe("answerUpgrade with compression", () => {
  /** offer → the 101's Sec-WebSocket-Extensions (null: declined). */
  const accepted: [
    string,
    string | null,
    boolean | DeflateServerOptions,
    string | null,
    DeflateParameters | null,
  ][] = [
    [
      "a browser offer, defaults",
      "permessage-deflate; client_max_window_bits",
      true,
      "permessage-deflate",
      params(),
    ],
    [
      "a browser offer, python-websockets' windows",
      "permessage-deflate; client_max_window_bits",
      PYTHON_LIKE,
      "permessage-deflate; server_max_window_bits=12; client_max_window_bits=12",
      params({ serverMaxWindowBits: 12, clientMaxWindowBits: 12 }),
    ],
    [
      "an offer without client_max_window_bits (client keeps 15)",
      "permessage-deflate",
      PYTHON_LIKE,
      "permessage-deflate; server_max_window_bits=12",
      params({ serverMaxWindowBits: 12 }),
    ],
    [
      "a smaller server window asked by the client",
      "permessage-deflate; server_max_window_bits=10",
      PYTHON_LIKE,
      "permessage-deflate; server_max_window_bits=10",
      params({ serverMaxWindowBits: 10 }),
    ],
    [
      "no context takeover asked",
      "permessage-deflate; server_no_context_takeover; client_no_context_takeover",
      true,
      "permessage-deflate; server_no_context_takeover; client_no_context_takeover",
      params({ serverNoContextTakeover: true, clientNoContextTakeover: true }),
    ],
    [
      "the RFC 7692 §5.2 fallback: first offer unacceptable",
      "permessage-deflate; foo=1, permessage-deflate",
      true,
      "permessage-deflate",
      params(),
    ],
    [
      "another extension before it",
      "x-webkit-deflate-frame, permessage-deflate",
      true,
      "permessage-deflate",
      params(),
    ],
    ["no offer", null, true, null, null],
    ["only unknown extensions", "x-foo; a=1", true, null, null],
    [
      "a repeated parameter (declined, RFC 7692 §7)",
      "permessage-deflate; server_no_context_takeover; server_no_context_takeover",
      true,
      null,
      null,
    ],
    [
      "an out-of-range window",
      "permessage-deflate; server_max_window_bits=16",
      true,
      null,
      null,
    ],
    [
      "compression off",
      "permessage-deflate; client_max_window_bits",
      false,
      null,
      null,
    ],
  ];
  for (const [what, offer, compression, header, agreed] of accepted) {
    test(`answerUpgrade answers ${what}`, async () => {
      const answer = await answerUpgrade(upgradeRequest(offer), {
        compression,
      });
      assert.ok(answer.accepted);
      assert.equal(answer.response.status, 101);
      assert.equal(
        answer.response.headers.get("Sec-WebSocket-Extensions"),
        header,
      );
      assert.equal(answer.extensions, header ?? "");
      assert.deepEqual(answer.deflate, agreed);
    });
  }

  const malformed: [string, string, string][] = [
    ["a missing name", "; client_max_window_bits", "extension name"],
    ["a space inside a name", "permessage deflate", "expected"],
    ["an unterminated quote", 'permessage-deflate; a="10', "unterminated"],
    ["a quoted non-token", 'permessage-deflate; a="x y"', "token"],
  ];
  for (const [what, offer, reason] of malformed) {
    test(`answerUpgrade refuses ${what} with 400 and the parser's reason`, async () => {
      const answer = await answerUpgrade(upgradeRequest(offer), {
        compression: true,
      });
      assert.equal(answer.accepted, false);
      assert.equal(answer.response.status, 400);
      const body = await answer.response.text();
      assert.match(body, /Invalid Sec-WebSocket-Extensions header/);
      assert.ok(body.includes(reason), body);
    });
    test(`answerUpgrade ignores ${what} without compression`, async () => {
      const answer = await answerUpgrade(upgradeRequest(offer));
      assert.ok(answer.accepted);
      assert.equal(answer.extensions, "");
    });
  }

  test("answerUpgrade throws RangeError for an out-of-range window option", async () => {
    await assert.rejects(
      answerUpgrade(upgradeRequest("permessage-deflate"), {
        compression: { serverMaxWindowBits: 7 },
      }),
      RangeError,
    );
  });
});

describe("createClientHandshake with compression", () => {
  test("createClientHandshake offers what browsers offer", () => {
    const { headers } = createClientHandshake({ compression: true });
    assert.equal(
      headers.get("Sec-WebSocket-Extensions"),
      "permessage-deflate; client_max_window_bits",
    );
  });

  test("createClientHandshake offers nothing by default", () => {
    const { headers } = createClientHandshake();
    assert.equal(headers.get("Sec-WebSocket-Extensions"), null);
  });

  test("createClientHandshake writes the options into the offer", () => {
    const { headers } = createClientHandshake({
      compression: { serverMaxWindowBits: 10, clientMaxWindowBits: 10 },
    });
    assert.equal(
      headers.get("Sec-WebSocket-Extensions"),
      "permessage-deflate; server_max_window_bits=10; client_max_window_bits=10",
    );
  });
});

describe("verifyServerHandshake with compression", () => {
  async function answerHeaders(extensions: string | null): Promise<Headers> {
    const headers = new Headers({
      Upgrade: "websocket",
      Connection: "Upgrade",
      "Sec-WebSocket-Accept": await acceptKey(RFC_KEY),
    });
    if (extensions !== null) {
      headers.set("Sec-WebSocket-Extensions", extensions);
    }
    return headers;
  }

  const good: [
    string,
    string | null,
    boolean | DeflateClientOptions,
    DeflateParameters | null,
  ][] = [
    ["a declined offer", null, true, null],
    ["a bare acceptance", "permessage-deflate", true, params()],
    [
      "a window chosen for us",
      "permessage-deflate; client_max_window_bits=12; server_max_window_bits=12",
      true,
      params({ serverMaxWindowBits: 12, clientMaxWindowBits: 12 }),
    ],
    [
      "Bun's shared-compressor answer",
      "permessage-deflate; client_no_context_takeover; server_no_context_takeover",
      true,
      params({ serverNoContextTakeover: true, clientNoContextTakeover: true }),
    ],
  ];
  for (const [what, header, compression, agreed] of good) {
    test(`verifyServerHandshake accepts ${what}`, async () => {
      const result = await verifyServerHandshake(
        { status: 101, headers: await answerHeaders(header) },
        { key: RFC_KEY, compression },
      );
      assert.deepEqual(result.deflate, agreed);
      assert.equal(result.extensions, header ?? "");
    });
  }

  const bad: [string, string, boolean | DeflateClientOptions, string][] = [
    ["an extension not offered", "x-foo", true, `"x-foo" was not offered`],
    [
      "permessage-deflate answered twice",
      "permessage-deflate, permessage-deflate",
      true,
      "answered 2 times",
    ],
    [
      "an unknown parameter",
      "permessage-deflate; foo",
      true,
      "unknown parameter foo",
    ],
    [
      "client_max_window_bits not offered",
      "permessage-deflate; client_max_window_bits=10",
      { clientMaxWindowBits: false },
      "client_max_window_bits was not offered",
    ],
    [
      "client_max_window_bits without a value",
      "permessage-deflate; client_max_window_bits",
      true,
      "needs a value",
    ],
    [
      "a client window above our offer",
      "permessage-deflate; client_max_window_bits=12",
      { clientMaxWindowBits: 10 },
      "above the 10 offered",
    ],
    [
      "a server window not confirmed",
      "permessage-deflate",
      { serverMaxWindowBits: 10 },
      "server_max_window_bits=10 was asked for but not confirmed",
    ],
    [
      "an unparsable answer",
      "permessage-deflate; a=",
      true,
      "Invalid Sec-WebSocket-Extensions",
    ],
    [
      "any extension when none was offered",
      "permessage-deflate",
      false,
      "no extension was offered",
    ],
  ];
  for (const [what, header, compression, message] of bad) {
    test(`verifyServerHandshake rejects ${what} with WS_ERR_HANDSHAKE_EXTENSION`, async () => {
      await assert.rejects(
        verifyServerHandshake(
          { status: 101, headers: await answerHeaders(header) },
          { key: RFC_KEY, compression },
        ),
        (error: unknown) => {
          assert.ok(error instanceof HandshakeError);
          assert.equal(error.code, "WS_ERR_HANDSHAKE_EXTENSION");
          assert.ok(error.message.includes(message), error.message);
          return true;
        },
      );
    });
  }

  test("a client offer and a server answer agree end to end", async () => {
    const client = createClientHandshake({ compression: true });
    const answer = await answerUpgrade(
      new Request("http://localhost/", { headers: client.headers }),
      { compression: PYTHON_LIKE },
    );
    assert.ok(answer.accepted);
    const result = await verifyServerHandshake(
      { status: 101, headers: answer.response.headers },
      { key: client.key, compression: true },
    );
    assert.deepEqual(result.deflate, answer.deflate);
    assert.equal(result.extensions, answer.extensions);
  });
});
