import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { inflateRawSync } from "node:zlib";
import {
  OutputLimitError,
  SyncZlib,
  ZlibDataError,
} from "../../lib/extensions/_zlib_sync.ts";

/** A random 400-byte block repeated: matches sit 400 bytes back. */
function farMatches(): Uint8Array {
  let state = 42;
  const block = new Uint8Array(400).map(() =>
    (state = (state * 1103515245 + 12345) >>> 0) >>> 24
  );
  const data = new Uint8Array(4000);
  for (let i = 0; i < 10; i++) data.set(block, i * 400);
  return data;
}

/**
 * Inflates with a 256-byte window and 64-byte output steps, so that every
 * match further back than 256 + 64 bytes must come from the window: zlib
 * then fails with "invalid distance too far back".
 */
function inflateWithWindow8(data: Uint8Array): Uint8Array {
  return inflateRawSync(data, { windowBits: 8, chunkSize: 64, finishFlush: 2 });
}

describe("SyncZlib", () => {
  it("keeps the deflate history between writes (context takeover)", () => {
    const deflate = new SyncZlib("deflate", { windowBits: 15 });
    const hello = new TextEncoder().encode("Hello");
    assert.deepEqual([...deflate.write(hello)], [
      0xf2,
      0x48,
      0xcd,
      0xc9,
      0xc9,
      0x07,
      0x00,
      0x00,
      0x00,
      0xff,
      0xff,
    ]);
    assert.deepEqual([...deflate.write(hello)], [
      0xf2,
      0x00,
      0x11,
      0x00,
      0x00,
      0x00,
      0x00,
      0xff,
      0xff,
    ]);
    deflate.reset();
    assert.equal(deflate.write(hello).length, 11);
    deflate.close();
    assert.equal(deflate.closed, true);
    assert.throws(() => deflate.write(hello), TypeError);
  });

  it("handles outputs larger than its shared buffer", () => {
    const data = new Uint8Array(3 << 20).map((_, i) => (i * 2654435761) >>> 24);
    const deflate = new SyncZlib("deflate", { windowBits: 15, level: 1 });
    const inflate = new SyncZlib("inflate", { windowBits: 15 });
    const compressed = deflate.write(data);
    assert.deepEqual(inflate.write(compressed), data);
  });

  it("reports corrupt input as a ZlibDataError and closes", () => {
    const inflate = new SyncZlib("inflate", { windowBits: 15 });
    assert.throws(
      () => inflate.write(new Uint8Array([0xff, 0xff, 0xff])),
      ZlibDataError,
    );
    assert.equal(inflate.closed, true);
  });

  it("stops at limit + 1 bytes of output", () => {
    const deflate = new SyncZlib("deflate", { windowBits: 15 });
    const compressed = deflate.write(new Uint8Array(64 << 20));
    const inflate = new SyncZlib("inflate", { windowBits: 15 });
    assert.throws(
      () => inflate.write(compressed, null, 1000),
      OutputLimitError,
    );
    assert.equal(inflate.lastOutputLength, 1001);
    assert.ok(inflate.lastAllocation <= 1001);
  });

  it("compresses for a negotiated 8-bit window with zlib's 9: no match reaches past 256 bytes", () => {
    const data = farMatches();
    // Control: a 10-bit window uses the 400-byte-back matches, which a
    // strict 256-byte window rejects. This proves the check can fail.
    const wide = new SyncZlib("deflate", { windowBits: 10 }).write(data);
    assert.throws(() => inflateWithWindow8(wide), /distance too far back/);
    // What PerMessageDeflate uses for 8: windowBits 9, max distance 250.
    const narrow = new SyncZlib("deflate", { windowBits: 9 }).write(data);
    assert.deepEqual(new Uint8Array(inflateWithWindow8(narrow)), data);
  });
});
