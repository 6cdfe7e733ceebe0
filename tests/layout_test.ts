/**
 * The layering of `lib/`, checked from the sources: every import flows
 * downward (core at the bottom), no file imports itself back through a
 * cycle, the sans-I/O core uses no timers, sockets or runtime APIs, and the
 * entry points only re-export.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { dirname, join, normalize, relative } from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = fileURLToPath(new URL("../", import.meta.url));

/**
 * Each folder of `lib/` and the folders it may import from (besides
 * itself). Lower layers never import upper ones.
 */
const ALLOWED: Record<string, readonly string[]> = {
  core: [],
  codec: ["core"],
  http: [],
  transports: [],
  extensions: ["core"],
  connection: ["core", "transports", "extensions"],
  native: ["core", "http", "connection", "extensions"],
  pubsub: ["core", "connection", "native", "extensions"],
  server: ["core", "http", "transports", "connection", "native", "extensions"],
  client: ["core", "http", "transports", "connection", "extensions"],
};

/** The entry points (`deno.json` `exports`). */
const ENTRIES = [
  "mod.ts",
  "core.ts",
  "codec.ts",
  "transports.ts",
  "http.ts",
  "extensions.ts",
  "redis.ts",
];

/** Every `.ts` file below `dir`, relative to the repository root. */
function sourcesBelow(dir: string): string[] {
  const files: string[] = [];
  for (const entry of readdirSync(join(ROOT, dir), { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) files.push(...sourcesBelow(path));
    else if (entry.name.endsWith(".ts")) files.push(path);
  }
  return files.sort();
}

/** The specifiers a source imports or re-exports (static and dynamic). */
export function importSpecifiers(source: string): string[] {
  const code = source.replace(/\/\*[\s\S]*?\*\//g, "").replace(
    /^\s*\/\/.*$/gm,
    "",
  );
  const specifiers: string[] = [];
  const pattern =
    /(?:^|[\s;])(?:import|export)\s[^;]*?\sfrom\s*["']([^"']+)["']|import\s*\(\s*["']([^"']+)["']\s*\)|^\s*import\s*["']([^"']+)["']/gm;
  for (const match of code.matchAll(pattern)) {
    specifiers.push(match[1] ?? match[2] ?? match[3]!);
  }
  return specifiers;
}

/** The repository files a source imports (relative specifiers only). */
function localImports(file: string): string[] {
  const source = readFileSync(join(ROOT, file), "utf8");
  return importSpecifiers(source)
    .filter((specifier) => specifier.startsWith("."))
    .map((specifier) => normalize(join(dirname(file), specifier)));
}

/** The layer (`lib/` folder) of a file under `lib/`. */
function layerOf(file: string): string {
  return relative("lib", file).split(/[\\/]/)[0]!;
}

/** A cycle in `graph` as a list of files, or `null` if there is none. */
export function findCycle(
  graph: ReadonlyMap<string, readonly string[]>,
): string[] | null {
  const state = new Map<string, "visiting" | "done">();
  const stack: string[] = [];
  const visit = (node: string): string[] | null => {
    if (state.get(node) === "done") return null;
    if (state.get(node) === "visiting") {
      return [...stack.slice(stack.indexOf(node)), node];
    }
    state.set(node, "visiting");
    stack.push(node);
    for (const next of graph.get(node) ?? []) {
      const cycle = visit(next);
      if (cycle !== null) return cycle;
    }
    stack.pop();
    state.set(node, "done");
    return null;
  };
  for (const node of graph.keys()) {
    const cycle = visit(node);
    if (cycle !== null) return cycle;
  }
  return null;
}

const LIB = sourcesBelow("lib");
const GRAPH = new Map(LIB.map((file) => [file, localImports(file)]));

describe("layout of lib/", () => {
  it("has a known layer for every folder", () => {
    for (const file of LIB) {
      assert.ok(
        layerOf(file) in ALLOWED,
        `${file} is in no known layer: add its folder to ALLOWED`,
      );
    }
  });

  it("imports only downward: each layer from the layers below it", () => {
    const violations: string[] = [];
    for (const [file, imports] of GRAPH) {
      const layer = layerOf(file);
      for (const target of imports) {
        const targetLayer = target.startsWith("lib") ? layerOf(target) : target;
        if (targetLayer !== layer && !ALLOWED[layer]!.includes(targetLayer)) {
          violations.push(`${file} -> ${target}`);
        }
      }
    }
    assert.deepEqual(violations, []);
  });

  it("has no import cycle", () => {
    assert.equal(findCycle(GRAPH)?.join(" -> ") ?? null, null);
  });

  it("keeps the core free of timers, sockets and runtime APIs", () => {
    const forbidden =
      /\b(setTimeout|setInterval|setImmediate|queueMicrotask|Deno\.|Bun\.)|from\s*["']node:/;
    for (const file of LIB.filter((file) => layerOf(file) === "core")) {
      const code = readFileSync(join(ROOT, file), "utf8")
        .replace(/\/\*[\s\S]*?\*\//g, "")
        .replace(/\/\/.*$/gm, "");
      assert.doesNotMatch(code, forbidden, `${file} does I/O or keeps time`);
    }
  });

  it("has entry points that only re-export from lib/", () => {
    for (const entry of ENTRIES) {
      const code = readFileSync(join(ROOT, entry), "utf8")
        .replace(/\/\*[\s\S]*?\*\//g, "")
        .trim();
      const statements = code.split(";").map((statement) => statement.trim())
        .filter((statement) => statement !== "");
      assert.ok(statements.length > 0, `${entry} exports nothing`);
      for (const statement of statements) {
        assert.match(
          statement,
          /^export (\*|type \{[^}]*\}) from "\.\/lib\/[a-z0-9_/]+\.ts"$/,
          `${entry}: ${statement}`,
        );
      }
    }
  });
});

describe("the layout checks", () => {
  it("findCycle reports a cycle and accepts a tree", () => {
    const cyclic = new Map([["a", ["b"]], ["b", ["c"]], ["c", ["a"]]]);
    assert.deepEqual(findCycle(cyclic), ["a", "b", "c", "a"]);
    const tree = new Map([["a", ["b", "c"]], ["b", ["c"]], ["c", []]]);
    assert.equal(findCycle(tree), null);
  });

  it("importSpecifiers finds imports, re-exports and dynamic imports", () => {
    const source = [
      'import { a } from "./a.ts";',
      "import type {",
      "  B,",
      '} from "../b.ts";',
      'export * from "./c.ts";',
      'const d = await import("./d.ts");',
      '// import { e } from "./e.ts";',
      ' * import { f } from "@wstream/wstream";',
    ].join("\n");
    assert.deepEqual(importSpecifiers(source), [
      "./a.ts",
      "../b.ts",
      "./c.ts",
      "./d.ts",
      "@wstream/wstream",
    ]);
  });
});
