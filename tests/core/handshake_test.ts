import { describe, test } from "node:test";
import assert from "node:assert/strict";
import {
  acceptKey,
  answerUpgrade,
  createClientHandshake,
  type UpgradeAnswer,
  type UpgradeOptions,
  verifyServerHandshake,
  WEBSOCKET_GUID,
} from "../../lib/core/handshake.ts";
import {
  HandshakeError,
  type HandshakeErrorCode,
} from "../../lib/core/errors.ts";
import { decodeBase64, encodeBase64 } from "../../lib/core/_base64.ts";

const RFC_KEY = "dGhlIHNhbXBsZSBub25jZQ==";
const RFC_ACCEPT = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=";

const VALID_HEADERS: Readonly<Record<string, string>> = {
  Upgrade: "websocket",
  Connection: "Upgrade",
  "Sec-WebSocket-Key": RFC_KEY,
  "Sec-WebSocket-Version": "13",
};

/**
 * A valid upgrade request, with headers overridden (`null` removes one) and
 * extra header lines appended.
 */
function upgradeRequest(
  overrides: Record<string, string | null> = {},
  init: { method?: string; append?: [string, string][] } = {},
): Request {
  const headers = new Headers(VALID_HEADERS);
  for (const [name, value] of Object.entries(overrides)) {
    if (value === null) headers.delete(name);
    else headers.set(name, value);
  }
  for (const [name, value] of init.append ?? []) headers.append(name, value);
  return new Request("http://localhost/ws", {
    method: init.method ?? "GET",
    headers,
  });
}

async function answer(
  request: Request,
  options?: UpgradeOptions,
): Promise<UpgradeAnswer> {
  return options === undefined
    ? await answerUpgrade(request)
    : await answerUpgrade(request, options);
}

async function accepted(
  request: Request,
  options?: UpgradeOptions,
): Promise<Extract<UpgradeAnswer, { accepted: true }>> {
  const result = await answer(request, options);
  if (!result.accepted) {
    assert.fail(
      `expected acceptance, got ${result.response.status}: ${await result
        .response.text()}`,
    );
  }
  return result;
}

describe("acceptKey", () => {
  test("acceptKey computes the RFC 6455 §1.3 example", async () => {
    assert.equal(await acceptKey(RFC_KEY), RFC_ACCEPT);
  });

  test("acceptKey uses the RFC 6455 GUID", () => {
    assert.equal(WEBSOCKET_GUID, "258EAFA5-E914-47DA-95CA-C5AB0DC85B11");
  });

  test("acceptKey returns base64 of a 20-byte SHA-1 digest", async () => {
    const accept = await acceptKey("x3JJHMbDL1EzLkh9GBhXDw==");
    assert.equal(accept, "HSmrc0sMlYUkAGmm5OPpG2HaGWk="); // RFC 6455 §4.1 style
    assert.equal(decodeBase64(accept)?.length, 20);
  });
});

describe("answerUpgrade validation", () => {
  const long = "x".repeat(200);
  const rules: {
    name: string;
    overrides?: Record<string, string | null>;
    method?: string;
    append?: [string, string][];
    status: number;
    reason: string;
    headers?: Record<string, string>;
  }[] = [
    {
      name: "refuses a POST with 405 and Allow: GET",
      method: "POST",
      status: 405,
      reason: `Method "POST"`,
      headers: { Allow: "GET" },
    },
    {
      name: "refuses a HEAD with 405",
      method: "HEAD",
      status: 405,
      reason: "GET",
    },
    {
      name: "refuses a missing Upgrade header with 400",
      overrides: { Upgrade: null },
      status: 400,
      reason: "Missing Upgrade header",
    },
    {
      name: "refuses an Upgrade header without websocket with 400",
      overrides: { Upgrade: "h2c" },
      status: 400,
      reason: `Invalid Upgrade header "h2c"`,
    },
    {
      name: "refuses an Upgrade token that only contains websocket with 400",
      overrides: { Upgrade: "websocket2, xwebsocket" },
      status: 400,
      reason: "Upgrade",
    },
    {
      name: "refuses a missing Connection header with 400",
      overrides: { Connection: null },
      status: 400,
      reason: "Missing Connection header",
    },
    {
      name: "refuses a Connection header without upgrade with 400",
      overrides: { Connection: "keep-alive" },
      status: 400,
      reason: `Invalid Connection header "keep-alive"`,
    },
    {
      name: "refuses a Connection token that only contains upgrade with 400",
      overrides: { Connection: "upgraded" },
      status: 400,
      reason: `"upgraded"`,
    },
    {
      name: "refuses a missing Sec-WebSocket-Version with 426",
      overrides: { "Sec-WebSocket-Version": null },
      status: 426,
      reason: "Missing Sec-WebSocket-Version",
      headers: { "Sec-WebSocket-Version": "13", Upgrade: "websocket" },
    },
    {
      name: "refuses Sec-WebSocket-Version 8 with 426",
      overrides: { "Sec-WebSocket-Version": "8" },
      status: 426,
      reason: `Unsupported Sec-WebSocket-Version "8"`,
      headers: { "Sec-WebSocket-Version": "13" },
    },
    {
      name: "refuses several Sec-WebSocket-Version values with 426",
      overrides: { "Sec-WebSocket-Version": "13, 8" },
      status: 426,
      reason: `"13, 8"`,
    },
    {
      name: "refuses a missing Sec-WebSocket-Key with 400",
      overrides: { "Sec-WebSocket-Key": null },
      status: 400,
      reason: "Missing Sec-WebSocket-Key",
    },
    {
      name: "refuses two Sec-WebSocket-Key lines with 400",
      append: [["Sec-WebSocket-Key", "AQIDBAUGBwgJCgsMDQ4PEA=="]],
      status: 400,
      reason: "exactly one key",
    },
    {
      name: "refuses a key that decodes to 15 bytes with 400",
      overrides: { "Sec-WebSocket-Key": encodeBase64(new Uint8Array(15)) },
      status: 400,
      reason: `Invalid Sec-WebSocket-Key header "AAAAAAAAAAAAAAAAAAAA"`,
    },
    {
      name: "refuses a key that decodes to 17 bytes with 400",
      overrides: { "Sec-WebSocket-Key": encodeBase64(new Uint8Array(17)) },
      status: 400,
      reason: "16 bytes",
    },
    {
      name: "refuses a key without padding with 400",
      overrides: { "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ" },
      status: 400,
      reason: "Sec-WebSocket-Key",
    },
    {
      name: "refuses a URL-safe base64 key with 400",
      overrides: { "Sec-WebSocket-Key": "-_-_-_-_-_-_-_-_-_-_-A==" },
      status: 400,
      reason: "Sec-WebSocket-Key",
    },
    {
      name: "refuses a key with an inner space with 400",
      overrides: { "Sec-WebSocket-Key": "dGhlIHNhbXBs ZSBub25jZQ==" },
      status: 400,
      reason: "Sec-WebSocket-Key",
    },
    {
      name: "refuses a key with non-zero trailing bits with 400",
      overrides: { "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZR==" },
      status: 400,
      reason: "Sec-WebSocket-Key",
    },
    {
      name: "truncates a long offending value in the reason",
      overrides: { "Sec-WebSocket-Key": long },
      status: 400,
      reason: `"${"x".repeat(64)}…"`,
    },
  ];

  for (const rule of rules) {
    test(`answerUpgrade ${rule.name}`, async () => {
      const result = await answer(
        upgradeRequest(rule.overrides, {
          ...(rule.method === undefined ? {} : { method: rule.method }),
          ...(rule.append === undefined ? {} : { append: rule.append }),
        }),
      );
      assert.equal(result.accepted, false);
      assert.equal(result.response.status, rule.status);
      assert.equal(
        result.response.headers.get("Content-Type"),
        "text/plain; charset=utf-8",
      );
      const reason = await result.response.text();
      assert.ok(
        reason.includes(rule.reason),
        `reason ${JSON.stringify(reason)} lacks ${JSON.stringify(rule.reason)}`,
      );
      assert.ok(!reason.includes("\n"), "reason is one line");
      assert.ok(reason.length < 200, "reason is short");
      for (const [name, value] of Object.entries(rule.headers ?? {})) {
        assert.equal(result.response.headers.get(name), value, name);
      }
    });
  }

  test("answerUpgrade checks the method before the headers", async () => {
    const result = await answer(
      upgradeRequest({ Upgrade: null, "Sec-WebSocket-Key": null }, {
        method: "POST",
      }),
    );
    assert.equal(result.response.status, 405);
  });

  test("answerUpgrade checks the version before the key", async () => {
    const result = await answer(
      upgradeRequest({ "Sec-WebSocket-Version": "7", "Sec-WebSocket-Key": "" }),
    );
    assert.equal(result.response.status, 426);
  });

  test("answerUpgrade checks the key before the origin", async () => {
    const result = await answer(
      upgradeRequest({ "Sec-WebSocket-Key": "nope", Origin: "https://evil" }),
      { origin: ["https://good"] },
    );
    assert.equal(result.response.status, 400);
  });
});

describe("answerUpgrade token lists", () => {
  const valid: [string, Record<string, string>][] = [
    ["Connection: keep-alive, Upgrade", { Connection: "keep-alive, Upgrade" }],
    ["Connection: upgrade", { Connection: "upgrade" }],
    ["Connection: UPGRADE", { Connection: "UPGRADE" }],
    ["Connection with extra spaces", {
      Connection: "  keep-alive ,  Upgrade  ",
    }],
    ["Connection with empty elements", { Connection: ",, Upgrade ,," }],
    ["Upgrade: WebSocket", { Upgrade: "WebSocket" }],
    ["Upgrade: h2c, websocket", { Upgrade: "h2c, websocket" }],
    ["Upgrade with tabs", { Upgrade: "h2c,\twebsocket" }],
    ["Sec-WebSocket-Version with spaces", { "Sec-WebSocket-Version": " 13 " }],
  ];
  for (const [name, overrides] of valid) {
    test(`answerUpgrade accepts ${name}`, async () => {
      const result = await accepted(upgradeRequest(overrides));
      assert.equal(result.response.status, 101);
    });
  }

  test("answerUpgrade accepts Connection split over two header lines", async () => {
    const result = await accepted(
      upgradeRequest({ Connection: "keep-alive" }, {
        append: [["Connection", "Upgrade"]],
      }),
    );
    assert.equal(result.response.status, 101);
  });
});

describe("answerUpgrade 101 response", () => {
  test("answerUpgrade answers the RFC 6455 §1.3 example with 101", async () => {
    const result = await accepted(upgradeRequest());
    const { response } = result;
    assert.ok(response instanceof Response);
    assert.equal(response.status, 101);
    assert.equal(response.ok, false);
    assert.equal(response.statusText, "Switching Protocols");
    assert.equal(response.body, null);
    assert.equal(response.headers.get("Upgrade"), "websocket");
    assert.equal(response.headers.get("Connection"), "Upgrade");
    assert.equal(response.headers.get("Sec-WebSocket-Accept"), RFC_ACCEPT);
    assert.equal(response.headers.get("Sec-WebSocket-Protocol"), null);
    assert.equal(response.headers.get("Sec-WebSocket-Extensions"), null);
    assert.equal(result.protocol, "");
    assert.equal(result.extensions, "");
  });

  test("answerUpgrade settles in the turn of the call (Bun.serve must upgrade before its next turn)", async () => {
    let settled = false;
    const pending = answerUpgrade(upgradeRequest()).then((answer) => {
      settled = true;
      return answer;
    });
    let rejected = false;
    answerUpgrade(upgradeRequest(), {
      origin: () => {
        throw new Error("origin check failed");
      },
    }).catch(() => rejected = true);
    // A few microtask hops, no macrotask: crypto.subtle would need one.
    for (let hop = 0; hop < 4; hop++) await Promise.resolve();
    assert.ok(settled, "the accepted answer settled");
    assert.ok(rejected, "the throwing callback rejected");
    const answer = await pending;
    assert.ok(answer.accepted);
    assert.equal(
      answer.response.headers.get("Sec-WebSocket-Accept"),
      RFC_ACCEPT,
    );
  });

  test("answerUpgrade 101 response keeps status 101 when cloned", async () => {
    const { response } = await accepted(upgradeRequest());
    const copy = response.clone();
    assert.equal(copy.status, 101);
    assert.equal(copy.headers.get("Sec-WebSocket-Accept"), RFC_ACCEPT);
  });

  test("answerUpgrade adds extra headers to the 101 response", async () => {
    const headers = new Headers({ "X-Server": "wstream" });
    headers.append("Set-Cookie", "a=1");
    headers.append("Set-Cookie", "b=2");
    const { response } = await accepted(upgradeRequest(), { headers });
    assert.equal(response.headers.get("X-Server"), "wstream");
    assert.deepEqual(response.headers.getSetCookie(), ["a=1", "b=2"]);
  });

  test("answerUpgrade lets handshake headers win over extra headers", async () => {
    const { response } = await accepted(upgradeRequest(), {
      headers: {
        Upgrade: "h2c",
        "Sec-WebSocket-Accept": "forged",
        "Sec-WebSocket-Protocol": "forged",
        "Sec-WebSocket-Extensions": "forged",
      },
    });
    assert.equal(response.headers.get("Upgrade"), "websocket");
    assert.equal(response.headers.get("Sec-WebSocket-Accept"), RFC_ACCEPT);
    assert.equal(response.headers.get("Sec-WebSocket-Protocol"), null);
    assert.equal(response.headers.get("Sec-WebSocket-Extensions"), null);
  });

  test("answerUpgrade ignores an extension offer and answers none without compression", async () => {
    const result = await accepted(
      upgradeRequest({
        "Sec-WebSocket-Extensions":
          "permessage-deflate; client_max_window_bits",
      }),
    );
    assert.equal(result.extensions, "");
    assert.equal(result.response.headers.get("Sec-WebSocket-Extensions"), null);
  });

  test("answerUpgrade accepts a key of 16 random bytes", async () => {
    const { key, headers } = createClientHandshake();
    const result = await accepted(
      new Request("http://localhost/", { headers }),
    );
    assert.equal(
      result.response.headers.get("Sec-WebSocket-Accept"),
      await acceptKey(key),
    );
  });
});

describe("answerUpgrade subprotocols", () => {
  const offer = (value: string): Request =>
    upgradeRequest({ "Sec-WebSocket-Protocol": value });

  test("answerUpgrade picks the first protocol of the server's list that was offered", async () => {
    const result = await accepted(offer("chat, superchat, v2"), {
      protocols: ["v2", "superchat"],
    });
    assert.equal(result.protocol, "v2");
    assert.equal(result.response.headers.get("Sec-WebSocket-Protocol"), "v2");
  });

  test("answerUpgrade reads offers split over several header lines", async () => {
    const result = await accepted(
      upgradeRequest({ "Sec-WebSocket-Protocol": "chat" }, {
        append: [["Sec-WebSocket-Protocol", "superchat"]],
      }),
      { protocols: ["superchat"] },
    );
    assert.equal(result.protocol, "superchat");
  });

  test("answerUpgrade chooses no protocol when the list matches no offer", async () => {
    const result = await accepted(offer("chat"), { protocols: ["v2"] });
    assert.equal(result.protocol, "");
    assert.equal(result.response.headers.get("Sec-WebSocket-Protocol"), null);
  });

  test("answerUpgrade matches protocols case-sensitively", async () => {
    const result = await accepted(offer("Chat"), { protocols: ["chat"] });
    assert.equal(result.protocol, "");
  });

  test("answerUpgrade chooses no protocol without a protocols option", async () => {
    const result = await accepted(offer("chat"));
    assert.equal(result.protocol, "");
    assert.equal(result.response.headers.get("Sec-WebSocket-Protocol"), null);
  });

  test("answerUpgrade chooses no protocol when none is offered", async () => {
    const result = await accepted(upgradeRequest(), { protocols: ["chat"] });
    assert.equal(result.protocol, "");
  });

  test("answerUpgrade passes the offers and the request to a protocols callback", async () => {
    const request = offer(" chat ,superchat,, v2");
    let seen: { offered: string[]; request: Request } | undefined;
    const result = await accepted(request, {
      protocols: (offered, req) => {
        seen = { offered, request: req };
        return offered.at(-1) ?? null;
      },
    });
    assert.deepEqual(seen?.offered, ["chat", "superchat", "v2"]);
    assert.equal(seen?.request, request);
    assert.equal(result.protocol, "v2");
    assert.equal(result.response.headers.get("Sec-WebSocket-Protocol"), "v2");
  });

  test("answerUpgrade ignores a protocols callback answer that was not offered", async () => {
    const result = await accepted(offer("chat"), { protocols: () => "evil" });
    assert.equal(result.protocol, "");
    assert.equal(result.response.headers.get("Sec-WebSocket-Protocol"), null);
  });

  test("answerUpgrade chooses no protocol when the callback returns null", async () => {
    const result = await accepted(offer("chat"), { protocols: () => null });
    assert.equal(result.protocol, "");
  });

  test("answerUpgrade calls the protocols callback with [] when none is offered", async () => {
    let seen: string[] | undefined;
    const result = await accepted(upgradeRequest(), {
      protocols: (offered) => {
        seen = offered;
        return "chat";
      },
    });
    assert.deepEqual(seen, []);
    assert.equal(result.protocol, "");
  });

  test("answerUpgrade keeps the offers safe from a mutating callback", async () => {
    const result = await accepted(offer("chat"), {
      protocols: (offered) => {
        offered.push("evil");
        return "evil";
      },
    });
    assert.equal(result.protocol, "");
  });
});

describe("answerUpgrade origin", () => {
  const withOrigin = (origin: string | null): Request =>
    upgradeRequest({ Origin: origin });

  test("answerUpgrade allows any origin without an origin option", async () => {
    await accepted(withOrigin("https://anywhere.example"));
    await accepted(withOrigin(null));
  });

  test("answerUpgrade allows a listed origin", async () => {
    await accepted(withOrigin("https://app.example"), {
      origin: ["https://other.example", "https://app.example"],
    });
  });

  test("answerUpgrade matches listed origins case-insensitively", async () => {
    await accepted(withOrigin("HTTPS://App.Example:8443"), {
      origin: ["https://app.example:8443"],
    });
  });

  test("answerUpgrade refuses an unlisted origin with 403", async () => {
    const result = await answer(withOrigin("https://evil.example"), {
      origin: ["https://app.example"],
    });
    assert.equal(result.accepted, false);
    assert.equal(result.response.status, 403);
    assert.match(
      await result.response.text(),
      /Origin "https:\/\/evil\.example" is not allowed/,
    );
  });

  test("answerUpgrade refuses a listed origin with another port with 403", async () => {
    const result = await answer(withOrigin("https://app.example:444"), {
      origin: ["https://app.example"],
    });
    assert.equal(result.response.status, 403);
  });

  test("answerUpgrade refuses a missing origin with 403 when the list lacks null", async () => {
    const result = await answer(withOrigin(null), {
      origin: ["https://app.example"],
    });
    assert.equal(result.response.status, 403);
    assert.match(await result.response.text(), /Missing Origin header/);
  });

  test("answerUpgrade allows a missing origin when the list contains null", async () => {
    await accepted(withOrigin(null), { origin: ["https://app.example", null] });
  });

  test("answerUpgrade does not treat Origin: null as a missing origin", async () => {
    const result = await answer(withOrigin("null"), {
      origin: ["https://app.example", null],
    });
    assert.equal(result.response.status, 403);
  });

  test("answerUpgrade asks an origin predicate with the origin and request", async () => {
    const request = withOrigin("https://app.example");
    let seen: [string | null, Request] | undefined;
    await accepted(request, {
      origin: (origin, req) => {
        seen = [origin, req];
        return origin?.endsWith(".example") ?? false;
      },
    });
    assert.equal(seen?.[0], "https://app.example");
    assert.equal(seen?.[1], request);
  });

  test("answerUpgrade refuses with 403 when the origin predicate says false", async () => {
    const result = await answer(withOrigin("https://evil.test"), {
      origin: (origin) => origin?.endsWith(".example") ?? false,
    });
    assert.equal(result.response.status, 403);
  });

  test("answerUpgrade passes null to the origin predicate when Origin is absent", async () => {
    let seen: string | null | undefined;
    await accepted(withOrigin(null), {
      origin: (origin) => {
        seen = origin;
        return true;
      },
    });
    assert.equal(seen, null);
  });
});

describe("createClientHandshake", () => {
  test("createClientHandshake builds the RFC 6455 §4.1 headers", () => {
    const { key, headers } = createClientHandshake();
    assert.equal(headers.get("Upgrade"), "websocket");
    assert.equal(headers.get("Connection"), "Upgrade");
    assert.equal(headers.get("Sec-WebSocket-Key"), key);
    assert.equal(headers.get("Sec-WebSocket-Version"), "13");
    assert.equal(headers.get("Sec-WebSocket-Protocol"), null);
  });

  test("createClientHandshake makes a key that decodes to 16 bytes", () => {
    const { key } = createClientHandshake();
    assert.equal(key.length, 24);
    assert.equal(decodeBase64(key)?.length, 16);
  });

  test("createClientHandshake makes a different key each time", () => {
    const keys = new Set(
      Array.from({ length: 20 }, () => createClientHandshake().key),
    );
    assert.equal(keys.size, 20);
  });

  test("createClientHandshake offers protocols joined with a comma", () => {
    const { headers } = createClientHandshake({
      protocols: ["chat", "superchat", "v1.json+x"],
    });
    assert.equal(
      headers.get("Sec-WebSocket-Protocol"),
      "chat, superchat, v1.json+x",
    );
  });

  test("createClientHandshake sends no protocol header for an empty list", () => {
    const { headers } = createClientHandshake({ protocols: [] });
    assert.equal(headers.get("Sec-WebSocket-Protocol"), null);
  });

  test("createClientHandshake merges extra headers under its own", () => {
    const { key, headers } = createClientHandshake({
      headers: {
        Origin: "https://app.example",
        Authorization: "Bearer t",
        "Sec-WebSocket-Key": "forged",
        "Sec-WebSocket-Protocol": "forged",
        Upgrade: "h2c",
      },
    });
    assert.equal(headers.get("Origin"), "https://app.example");
    assert.equal(headers.get("Authorization"), "Bearer t");
    assert.equal(headers.get("Sec-WebSocket-Key"), key);
    assert.equal(headers.get("Sec-WebSocket-Protocol"), null);
    assert.equal(headers.get("Upgrade"), "websocket");
  });

  const invalid: [string, string[], string][] = [
    ["an empty protocol", [""], `Invalid subprotocol ""`],
    ["a protocol with a space", ["a b"], `Invalid subprotocol "a b"`],
    ["a protocol with a comma", ["a,b"], `Invalid subprotocol "a,b"`],
    ["a protocol with a separator", ["chat/1"], `"chat/1"`],
    ["a non-ASCII protocol", ["chät"], `"chät"`],
    [
      "a duplicate protocol",
      ["chat", "v2", "chat"],
      `Duplicate subprotocol "chat"`,
    ],
  ];
  for (const [what, protocols, message] of invalid) {
    test(`createClientHandshake throws SyntaxError on ${what}`, () => {
      assert.throws(
        () => createClientHandshake({ protocols }),
        (error: unknown) =>
          error instanceof SyntaxError && error.message.includes(message),
      );
    });
  }
});

describe("verifyServerHandshake", () => {
  /** A real round trip: client headers → answerUpgrade → 101 response. */
  async function roundTrip(
    protocols: string[] = [],
    serverProtocols?: string[],
  ): Promise<{ key: string; headers: Headers; status: number }> {
    const client = createClientHandshake({ protocols });
    const result = await accepted(
      new Request("http://localhost/", { headers: client.headers }),
      serverProtocols === undefined ? {} : { protocols: serverProtocols },
    );
    return {
      key: client.key,
      status: result.response.status,
      headers: new Headers(result.response.headers),
    };
  }

  test("verifyServerHandshake accepts an answer built by answerUpgrade", async () => {
    const { key, status, headers } = await roundTrip();
    assert.deepEqual(
      await verifyServerHandshake({ status, headers }, { key }),
      {
        protocol: "",
        extensions: "",
        deflate: null,
      },
    );
  });

  test("verifyServerHandshake returns the subprotocol chosen by answerUpgrade", async () => {
    const protocols = ["chat", "superchat"];
    const { key, status, headers } = await roundTrip(protocols, ["superchat"]);
    const result = await verifyServerHandshake({ status, headers }, {
      key,
      protocols,
    });
    assert.equal(result.protocol, "superchat");
  });

  test("verifyServerHandshake accepts no subprotocol when some were offered", async () => {
    const protocols = ["chat"];
    const { key, status, headers } = await roundTrip(protocols);
    const result = await verifyServerHandshake({ status, headers }, {
      key,
      protocols,
    });
    assert.equal(result.protocol, "");
  });

  test("verifyServerHandshake accepts the RFC 6455 §1.3 answer with mixed case", async () => {
    const headers = new Headers({
      Upgrade: "WebSocket",
      Connection: "keep-alive, upgrade",
      "Sec-WebSocket-Accept": RFC_ACCEPT,
    });
    await verifyServerHandshake({ status: 101, headers }, { key: RFC_KEY });
  });

  const bad: {
    name: string;
    status?: number;
    set?: Record<string, string | null>;
    protocols?: string[];
    code: HandshakeErrorCode;
    message: string;
  }[] = [
    {
      name: "rejects status 200 with WS_ERR_HANDSHAKE_STATUS",
      status: 200,
      code: "WS_ERR_HANDSHAKE_STATUS",
      message: "got 200",
    },
    {
      name: "rejects status 403 with WS_ERR_HANDSHAKE_STATUS",
      status: 403,
      code: "WS_ERR_HANDSHAKE_STATUS",
      message: "got 403",
    },
    {
      name: "rejects a missing Upgrade with WS_ERR_HANDSHAKE_UPGRADE",
      set: { Upgrade: null },
      code: "WS_ERR_HANDSHAKE_UPGRADE",
      message: "Missing Upgrade",
    },
    {
      name: "rejects Upgrade: h2c with WS_ERR_HANDSHAKE_UPGRADE",
      set: { Upgrade: "h2c" },
      code: "WS_ERR_HANDSHAKE_UPGRADE",
      message: `"h2c"`,
    },
    {
      name: "rejects a missing Connection with WS_ERR_HANDSHAKE_CONNECTION",
      set: { Connection: null },
      code: "WS_ERR_HANDSHAKE_CONNECTION",
      message: "Missing Connection",
    },
    {
      name: "rejects Connection: close with WS_ERR_HANDSHAKE_CONNECTION",
      set: { Connection: "close" },
      code: "WS_ERR_HANDSHAKE_CONNECTION",
      message: `"close"`,
    },
    {
      name:
        "rejects a missing Sec-WebSocket-Accept with WS_ERR_HANDSHAKE_ACCEPT",
      set: { "Sec-WebSocket-Accept": null },
      code: "WS_ERR_HANDSHAKE_ACCEPT",
      message: "Missing Sec-WebSocket-Accept",
    },
    {
      name: "rejects the accept of another key with WS_ERR_HANDSHAKE_ACCEPT",
      set: { "Sec-WebSocket-Accept": RFC_ACCEPT },
      code: "WS_ERR_HANDSHAKE_ACCEPT",
      message: `"${RFC_ACCEPT}"`,
    },
    {
      name: "rejects an unoffered protocol with WS_ERR_HANDSHAKE_PROTOCOL",
      set: { "Sec-WebSocket-Protocol": "v2" },
      protocols: ["chat"],
      code: "WS_ERR_HANDSHAKE_PROTOCOL",
      message: `"v2"`,
    },
    {
      name:
        "rejects a protocol answered when none was offered with WS_ERR_HANDSHAKE_PROTOCOL",
      set: { "Sec-WebSocket-Protocol": "chat" },
      code: "WS_ERR_HANDSHAKE_PROTOCOL",
      message: "no subprotocol was offered",
    },
    {
      name: "rejects two protocols answered with WS_ERR_HANDSHAKE_PROTOCOL",
      set: { "Sec-WebSocket-Protocol": "chat, v2" },
      protocols: ["chat", "v2"],
      code: "WS_ERR_HANDSHAKE_PROTOCOL",
      message: `"chat, v2"`,
    },
    {
      name:
        "rejects a protocol differing in case with WS_ERR_HANDSHAKE_PROTOCOL",
      set: { "Sec-WebSocket-Protocol": "Chat" },
      protocols: ["chat"],
      code: "WS_ERR_HANDSHAKE_PROTOCOL",
      message: `"Chat"`,
    },
    {
      name: "rejects any extension with WS_ERR_HANDSHAKE_EXTENSION",
      set: { "Sec-WebSocket-Extensions": "permessage-deflate" },
      code: "WS_ERR_HANDSHAKE_EXTENSION",
      message: `"permessage-deflate"`,
    },
  ];

  for (const variant of bad) {
    test(`verifyServerHandshake ${variant.name}`, async () => {
      const protocols = variant.protocols ?? [];
      const { key, status, headers } = await roundTrip(protocols);
      for (const [name, value] of Object.entries(variant.set ?? {})) {
        if (value === null) headers.delete(name);
        else headers.set(name, value);
      }
      await assert.rejects(
        verifyServerHandshake(
          { status: variant.status ?? status, headers },
          { key, protocols },
        ),
        (error: unknown) => {
          assert.ok(error instanceof HandshakeError);
          assert.equal(error.code, variant.code);
          assert.ok(
            error.message.includes(variant.message),
            `message ${JSON.stringify(error.message)} lacks ${
              JSON.stringify(variant.message)
            }`,
          );
          return true;
        },
      );
    });
  }

  test("verifyServerHandshake rejects an Upgrade list with WS_ERR_HANDSHAKE_UPGRADE", async () => {
    const headers = new Headers({
      Upgrade: "websocket, h2c",
      Connection: "Upgrade",
      "Sec-WebSocket-Accept": RFC_ACCEPT,
    });
    await assert.rejects(
      verifyServerHandshake({ status: 101, headers }, { key: RFC_KEY }),
      (error: unknown) =>
        error instanceof HandshakeError &&
        error.code === "WS_ERR_HANDSHAKE_UPGRADE",
    );
  });
});
