import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { HandshakeError } from "../../lib/core/errors.ts";
import {
  acceptDeflateAnswer,
  type DeflateClientOptions,
  deflateOffer,
  type DeflateServerOptions,
  negotiateDeflate,
} from "../../lib/core/deflate_negotiation.ts";
import { parseExtensionHeader } from "../../lib/core/extension_header.ts";

const PMD = "permessage-deflate";

/** Server table: request header, options → answer header or null (declined). */
const SERVER: [string, DeflateServerOptions, string | null][] = [
  // RFC 7692 §7.1 / §5.1 examples.
  [PMD, {}, PMD],
  [`${PMD}; client_max_window_bits`, {}, PMD],
  [
    `${PMD}; client_max_window_bits`,
    { clientMaxWindowBits: 10 },
    `${PMD}; client_max_window_bits=10`,
  ],
  [
    `${PMD}; client_max_window_bits=10`,
    {},
    `${PMD}; client_max_window_bits=10`,
  ],
  [
    `${PMD}; client_max_window_bits=10`,
    { clientMaxWindowBits: 12 },
    `${PMD}; client_max_window_bits=10`,
  ],
  [
    `${PMD}; client_max_window_bits=12`,
    { clientMaxWindowBits: 9 },
    `${PMD}; client_max_window_bits=9`,
  ],
  // client_max_window_bits is never answered when not offered.
  [PMD, { clientMaxWindowBits: 10 }, PMD],
  [
    `${PMD}; server_max_window_bits=10`,
    {},
    `${PMD}; server_max_window_bits=10`,
  ],
  [
    `${PMD}; server_max_window_bits=10`,
    { serverMaxWindowBits: 12 },
    `${PMD}; server_max_window_bits=10`,
  ],
  [
    `${PMD}; server_max_window_bits=12`,
    { serverMaxWindowBits: 9 },
    `${PMD}; server_max_window_bits=9`,
  ],
  [PMD, { serverMaxWindowBits: 11 }, `${PMD}; server_max_window_bits=11`],
  [
    `${PMD}; server_no_context_takeover`,
    {},
    `${PMD}; server_no_context_takeover`,
  ],
  [
    PMD,
    { serverNoContextTakeover: true },
    `${PMD}; server_no_context_takeover`,
  ],
  [
    `${PMD}; client_no_context_takeover`,
    {},
    `${PMD}; client_no_context_takeover`,
  ],
  [
    PMD,
    { clientNoContextTakeover: true },
    `${PMD}; client_no_context_takeover`,
  ],
  // §5.1: the first acceptable offer wins; unacceptable ones are skipped.
  [
    `${PMD}; server_max_window_bits=10; client_max_window_bits=10, ${PMD}`,
    {},
    `${PMD}; server_max_window_bits=10; client_max_window_bits=10`,
  ],
  [`${PMD}; server_max_window_bits=16, ${PMD}`, {}, PMD],
  [`${PMD}; unknown_param, ${PMD}; client_max_window_bits`, {}, PMD],
  [`x-webkit-deflate-frame, ${PMD}`, {}, PMD],
  [`PerMessage-Deflate; Client_Max_Window_Bits`, {}, PMD],
  [
    `${PMD}; server_max_window_bits="10"`,
    {},
    `${PMD}; server_max_window_bits=10`,
  ],
  // Declined: unknown, repeated, malformed or out-of-range parameters.
  [`${PMD}; unknown_param`, {}, null],
  [`${PMD}; client_max_window_bits; client_max_window_bits`, {}, null],
  [`${PMD}; server_no_context_takeover; server_no_context_takeover`, {}, null],
  [`${PMD}; server_no_context_takeover=1`, {}, null],
  [`${PMD}; client_no_context_takeover=true`, {}, null],
  [`${PMD}; server_max_window_bits`, {}, null],
  [`${PMD}; server_max_window_bits=7`, {}, null],
  [`${PMD}; server_max_window_bits=16`, {}, null],
  [`${PMD}; server_max_window_bits=08`, {}, null],
  [`${PMD}; server_max_window_bits=1e1`, {}, null],
  [`${PMD}; client_max_window_bits=7`, {}, null],
  [`${PMD}; client_max_window_bits=abc`, {}, null],
  [`${PMD}; client_max_window_bits=15.0`, {}, null],
  ["x-webkit-deflate-frame", {}, null],
  ["", {}, null],
  [PMD, { enabled: false }, null],
];

describe("negotiateDeflate (server)", () => {
  for (const [header, options, expected] of SERVER) {
    it(`answers ${JSON.stringify(header)} with ${JSON.stringify(options)} → ${JSON.stringify(expected)}`, () => {
      const agreement = negotiateDeflate(parseExtensionHeader(header), options);
      assert.equal(agreement?.header ?? null, expected);
      if (agreement !== null) {
        assert.deepEqual(parseExtensionHeader(agreement.header), [
          agreement.response,
        ]);
      }
    });
  }

  it("returns the agreed parameters, per direction", () => {
    const agreement = negotiateDeflate(
      parseExtensionHeader(
        `${PMD}; server_no_context_takeover; server_max_window_bits=12; client_max_window_bits`,
      ),
      { clientMaxWindowBits: 9 },
    );
    assert.deepEqual(agreement?.params, {
      serverNoContextTakeover: true,
      clientNoContextTakeover: false,
      serverMaxWindowBits: 12,
      clientMaxWindowBits: 9,
    });
    // A client that did not offer client_max_window_bits compresses with 15.
    assert.equal(
      negotiateDeflate(parseExtensionHeader(PMD), { clientMaxWindowBits: 9 })
        ?.params.clientMaxWindowBits,
      15,
    );
  });

  it("throws a RangeError for out-of-range options", () => {
    for (
      const options of [
        { serverMaxWindowBits: 7 },
        { clientMaxWindowBits: 16 },
        { serverMaxWindowBits: 9.5 },
      ]
    ) {
      assert.throws(() => negotiateDeflate([], options), RangeError);
    }
  });

  it("declines hostile offers without throwing, in linear time", () => {
    const many = `${PMD}; x`.repeat(1).concat(`, ${PMD}; x`.repeat(20_000));
    assert.equal(negotiateDeflate(parseExtensionHeader(many)), null);
    const params = `${PMD}` + "; client_max_window_bits".repeat(30_000);
    assert.equal(negotiateDeflate(parseExtensionHeader(params)), null);
  });
});

describe("deflateOffer (client)", () => {
  const cases: [DeflateClientOptions, string][] = [
    [{}, `${PMD}; client_max_window_bits`],
    [{ clientMaxWindowBits: 10 }, `${PMD}; client_max_window_bits=10`],
    [{ clientMaxWindowBits: false }, PMD],
    [
      {
        serverNoContextTakeover: true,
        clientNoContextTakeover: true,
        serverMaxWindowBits: 9,
      },
      `${PMD}; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=9; client_max_window_bits`,
    ],
  ];
  for (const [options, expected] of cases) {
    it(`offers ${expected} for ${JSON.stringify(options)}`, () => {
      assert.equal(deflateOffer(options), expected);
      // The offer is one a wstream server accepts.
      assert.notEqual(negotiateDeflate(parseExtensionHeader(expected)), null);
    });
  }
  it("throws a RangeError for out-of-range window bits", () => {
    assert.throws(() => deflateOffer({ serverMaxWindowBits: 16 }), RangeError);
    assert.throws(() => deflateOffer({ clientMaxWindowBits: 7 }), RangeError);
  });
});

describe("acceptDeflateAnswer (client)", () => {
  const ok: [string | null, DeflateClientOptions, object | null][] = [
    [null, {}, null],
    ["", {}, null],
    [PMD, {}, {
      serverNoContextTakeover: false,
      clientNoContextTakeover: false,
      serverMaxWindowBits: 15,
      clientMaxWindowBits: 15,
    }],
    [`${PMD}; client_max_window_bits=9`, {}, {
      serverNoContextTakeover: false,
      clientNoContextTakeover: false,
      serverMaxWindowBits: 15,
      clientMaxWindowBits: 9,
    }],
    [`${PMD}; client_max_window_bits=9`, { clientMaxWindowBits: 10 }, {
      serverNoContextTakeover: false,
      clientNoContextTakeover: false,
      serverMaxWindowBits: 15,
      clientMaxWindowBits: 9,
    }],
    [PMD, { clientMaxWindowBits: 10 }, {
      serverNoContextTakeover: false,
      clientNoContextTakeover: false,
      serverMaxWindowBits: 15,
      clientMaxWindowBits: 10,
    }],
    [
      `${PMD}; server_max_window_bits=8; server_no_context_takeover; client_no_context_takeover`,
      {},
      {
        serverNoContextTakeover: true,
        clientNoContextTakeover: true,
        serverMaxWindowBits: 8,
        clientMaxWindowBits: 15,
      },
    ],
    [`${PMD}; server_max_window_bits=9; server_no_context_takeover`, {
      serverMaxWindowBits: 10,
      serverNoContextTakeover: true,
    }, {
      serverNoContextTakeover: true,
      clientNoContextTakeover: false,
      serverMaxWindowBits: 9,
      clientMaxWindowBits: 15,
    }],
    [`Permessage-Deflate; Client_Max_Window_Bits="12"`, {}, {
      serverNoContextTakeover: false,
      clientNoContextTakeover: false,
      serverMaxWindowBits: 15,
      clientMaxWindowBits: 12,
    }],
  ];
  for (const [answer, options, expected] of ok) {
    it(`accepts ${JSON.stringify(answer)} for ${JSON.stringify(options)}`, () => {
      assert.deepEqual(acceptDeflateAnswer(answer, options), expected);
    });
  }

  const bad: [string, DeflateClientOptions, RegExp][] = [
    ["x-foo", {}, /extension "x-foo" was not offered/],
    [`${PMD}, x-foo`, {}, /extension "x-foo" was not offered/],
    [`${PMD}, ${PMD}`, {}, /answered 2 times/],
    [`${PMD}; foo`, {}, /unknown parameter foo/],
    [
      `${PMD}; server_no_context_takeover; server_no_context_takeover`,
      {},
      /repeated parameter server_no_context_takeover/,
    ],
    [
      `${PMD}; server_max_window_bits=16`,
      {},
      /server_max_window_bits needs a value from 8 to 15/,
    ],
    [
      `${PMD}; server_max_window_bits`,
      {},
      /server_max_window_bits needs a value/,
    ],
    [
      `${PMD}; client_max_window_bits=7`,
      {},
      /client_max_window_bits needs no value or one from 8 to 15/,
    ],
    [
      `${PMD}; client_max_window_bits`,
      {},
      /client_max_window_bits needs a value from 8 to 15 in an answer/,
    ],
    [
      `${PMD}; client_max_window_bits=10`,
      { clientMaxWindowBits: false },
      /client_max_window_bits was not offered/,
    ],
    [
      `${PMD}; client_max_window_bits=11`,
      { clientMaxWindowBits: 10 },
      /client_max_window_bits=11 is above the 10 offered/,
    ],
    [
      `${PMD}; server_max_window_bits=12`,
      { serverMaxWindowBits: 10 },
      /server_max_window_bits=12 is above the 10 offered/,
    ],
    [
      PMD,
      { serverMaxWindowBits: 10 },
      /server_max_window_bits=10 was asked for but not confirmed/,
    ],
    [
      PMD,
      { serverNoContextTakeover: true },
      /server_no_context_takeover was asked for but not confirmed/,
    ],
    [
      `${PMD}; server_no_context_takeover=x`,
      {},
      /server_no_context_takeover takes no value/,
    ],
    [`${PMD};`, {}, /expected a parameter name/],
  ];
  for (const [answer, options, message] of bad) {
    it(`rejects ${JSON.stringify(answer)} for ${JSON.stringify(options)} with WS_ERR_HANDSHAKE_EXTENSION`, () => {
      assert.throws(
        () => acceptDeflateAnswer(answer, options),
        (error: unknown) =>
          error instanceof HandshakeError &&
          error.code === "WS_ERR_HANDSHAKE_EXTENSION" &&
          message.test(error.message),
      );
    });
  }

  it("agrees with the server on every combination of options", () => {
    for (const serverNoContextTakeover of [false, true]) {
      for (const clientMaxWindowBits of [true, false, 8, 12] as const) {
        for (const serverMaxWindowBits of [undefined, 8, 15]) {
          const client: DeflateClientOptions = {
            serverNoContextTakeover,
            clientMaxWindowBits,
          };
          if (serverMaxWindowBits !== undefined) {
            client.serverMaxWindowBits = serverMaxWindowBits;
          }
          for (
            const server of [{}, {
              clientMaxWindowBits: 9,
              serverMaxWindowBits: 10,
            }]
          ) {
            const agreement = negotiateDeflate(
              parseExtensionHeader(deflateOffer(client)),
              server,
            )!;
            assert.deepEqual(
              acceptDeflateAnswer(agreement.header, client),
              agreement.params,
            );
          }
        }
      }
    }
  });
});
