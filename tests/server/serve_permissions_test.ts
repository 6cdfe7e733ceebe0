/**
 * serve() on Deno needs only the permissions a server needs (net, and read
 * for TLS files): no `--allow-env` (the `WSTREAM_NODE_NET` knob is read only
 * when the environment may be read) and no prompt.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";
import { runtime } from "../_runtimes.ts";

const MOD = new URL("../../mod.ts", import.meta.url).href;

describe("serve() permissions on Deno", () => {
  it("serves a request with --allow-net alone (no --allow-env)", {
    skip: runtime !== "Deno" && "Deno permissions only",
  }, () => {
    const dir = mkdtempSync(join(tmpdir(), "wstream-perm-"));
    try {
      const script = join(dir, "server.ts");
      writeFileSync(
        script,
        `import { serve } from ${JSON.stringify(MOD)};
const server = serve({ port: 0, hostname: "127.0.0.1" }, () => new Response("ok"));
const { port } = await server.listening;
const response = await fetch("http://127.0.0.1:" + port + "/");
console.log(response.status, await response.text());
await server.shutdown();
`,
      );
      const result = spawnSync(
        process.execPath,
        ["run", "--no-prompt", "--allow-net", `--allow-read=${dir}`, script],
        {
          encoding: "utf8",
          timeout: 30_000,
          stdio: ["ignore", "pipe", "pipe"],
        },
      );
      assert.equal(result.stderr.includes("NotCapable"), false, result.stderr);
      assert.equal(result.stdout.trim(), "200 ok", result.stderr);
      assert.equal(result.status, 0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
