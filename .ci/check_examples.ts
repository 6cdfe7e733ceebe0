/**
 * Fails when an exported symbol of an entry point has no `@example` in its
 * JSDoc (STYLE: every exported symbol has at least one). Part of
 * `deno task check`; `--list` names the symbols.
 *
 *   deno run -A .ci/check_examples.ts [--list]
 *
 * @module
 */

/** The entry points: the `exports` of deno.json. */
const config = JSON.parse(Deno.readTextFileSync("deno.json")) as {
  exports: Record<string, string>;
};
const entries = Object.values(config.exports);

interface DocTag {
  kind: string;
}
interface DocDeclaration {
  jsDoc?: { tags?: DocTag[] };
  location?: { filename: string; line: number };
}
interface DocSymbol {
  name: string;
  declarations?: DocDeclaration[];
}
interface DocJson {
  nodes: Record<string, { symbols?: DocSymbol[] }>;
}

const list = Deno.args.includes("--list");
let total = 0;
for (const entry of entries) {
  const output = new Deno.Command(Deno.execPath(), {
    args: ["doc", "--json", entry],
    stdout: "piped",
  }).outputSync();
  if (!output.success) throw new Error(`deno doc --json ${entry} failed`);
  const json = JSON.parse(new TextDecoder().decode(output.stdout)) as DocJson;
  const missing: string[] = [];
  for (const module of Object.values(json.nodes)) {
    for (const symbol of module.symbols ?? []) {
      const documented = (symbol.declarations ?? []).some((declaration) =>
        (declaration.jsDoc?.tags ?? []).some((tag) => tag.kind === "example")
      );
      if (!documented) {
        const at = symbol.declarations?.[0]?.location;
        missing.push(`${symbol.name} (${at?.filename}:${at?.line})`);
      }
    }
  }
  total += missing.length;
  if (missing.length > 0 || list) {
    console.log(
      `${entry}: ${missing.length} exported symbols without @example`,
    );
    for (const name of missing) console.log(`  - ${name}`);
  }
}
console.log(`@example check: ${entries.length} entries, ${total} missing`);
if (total > 0) Deno.exit(1);
