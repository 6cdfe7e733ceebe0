/**
 * The real Redis clients the backplane tests run against, each behind its
 * wstream adapter: npm `redis` and npm `ioredis` (pinned in
 * `tests/interop/package.json`, loaded by file path like the interop peers)
 * wherever they load, and Bun's built-in `Bun.RedisClient` under Bun.
 *
 * Private to the tests; never re-exported.
 *
 * @module
 */
import { createRequire } from "node:module";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import {
  type BunRedisClient,
  fromBunRedis,
  fromIoredis,
  fromNodeRedis,
  type IoredisClient,
  type NodeRedisClient,
  type RedisPubSub,
} from "../../lib/pubsub/redis_backplane.ts";
import { IS_CI } from "../interop/_peers.ts";

const require = createRequire(import.meta.url);
const INTEROP = new URL("../interop/", import.meta.url);
const PINNED: Record<string, string> = JSON.parse(
  readFileSync(new URL("package.json", INTEROP), "utf8"),
).dependencies;

/** A connected client and its adapter. */
export interface ClientPair {
  /** The adapter for `createRedisBackplane`. */
  readonly redis: RedisPubSub;
  /** Closes the application's client (the adapter closes its duplicate). */
  close(): Promise<void>;
}

/** One kind of Redis client: how to make one, or why it is missing. */
export interface ClientKind {
  /** `"redis"`, `"ioredis"` or `"bun"`. */
  readonly name: string;
  /** A test's `skip`: the reason it is missing (outside CI), or `false`. */
  readonly skip: string | false;
  /** Connects a new client to `url`. */
  connect(url: string): Promise<ClientPair>;
}

function loadPackage(name: string): unknown {
  const dir = fileURLToPath(new URL(`node_modules/${name}/`, INTEROP));
  const manifestPath = join(dir, "package.json");
  if (!existsSync(manifestPath)) {
    throw new Error(`${dir} is missing: run \`npm ci --prefix tests/interop\``);
  }
  const manifest = JSON.parse(readFileSync(manifestPath, "utf8"));
  if (manifest.version !== PINNED[name]) {
    throw new Error(
      `${name}@${manifest.version} is installed but ${
        PINNED[name]
      } is pinned: run \`npm ci --prefix tests/interop\``,
    );
  }
  return require(join(dir, manifest.main ?? "index.js"));
}

function kind(
  name: string,
  load: () => (url: string) => Promise<ClientPair>,
  requiredInCi: boolean,
): ClientKind {
  let connect: ((url: string) => Promise<ClientPair>) | null = null;
  let missing = "";
  try {
    connect = load();
  } catch (error) {
    missing = `${name} is not available (${
      error instanceof Error ? error.message.split("\n")[0] : String(error)
    })`;
  }
  const skip = missing !== "" && !(IS_CI && requiredInCi) ? missing : false;
  return {
    name,
    skip,
    connect(url): Promise<ClientPair> {
      if (connect === null) throw new Error(`${missing}; CI requires it`);
      return connect(url);
    },
  };
}

/** Reconnect quickly in tests (every 50-200 ms). */
const retry = (attempt: number): number => Math.min(50 * attempt, 200);

interface NodeRedisModule {
  createClient(options: unknown): NodeRedisClient;
}
interface IoredisModule {
  Redis: new (url: string, options: unknown) => IoredisClient;
}

/** npm `redis`, through {@linkcode fromNodeRedis}. */
export const NODE_REDIS: ClientKind = kind("npm redis", () => {
  const module = loadPackage("redis") as NodeRedisModule;
  return async (url) => {
    const client = module.createClient({
      url,
      socket: { reconnectStrategy: retry },
    });
    client.on("error", () => {}); // The test observes the backplane's.
    await client.connect();
    return {
      redis: fromNodeRedis(client),
      close: async () => {
        await client.close?.().catch(() => client.destroy?.());
      },
    };
  };
}, true);

/** npm `ioredis`, through {@linkcode fromIoredis}. */
export const IOREDIS: ClientKind = kind("npm ioredis", () => {
  const module = loadPackage("ioredis") as IoredisModule;
  return (url) => {
    const client = new module.Redis(url, { retryStrategy: retry });
    client.on("error", () => {});
    return Promise.resolve({
      redis: fromIoredis(client),
      close: async () => {
        await client.quit().catch(() => client.disconnect());
      },
    });
  };
}, true);

interface BunGlobal {
  RedisClient: new (url: string) => BunRedisClient & {
    connect(): Promise<void>;
  };
}

/** Bun's built-in client, through {@linkcode fromBunRedis} (Bun only). */
export const BUN_REDIS: ClientKind = kind("Bun.RedisClient", () => {
  const bun = (globalThis as { Bun?: BunGlobal }).Bun;
  if (bun === undefined) throw new Error("not running on Bun");
  return async (url) => {
    const client = new bun.RedisClient(url);
    await client.connect();
    return {
      redis: fromBunRedis(client),
      close: () => Promise.resolve(client.close()),
    };
  };
}, false);

/** Every client kind, the missing ones with their skip reason. */
export const CLIENT_KINDS: readonly ClientKind[] = [
  NODE_REDIS,
  IOREDIS,
  BUN_REDIS,
];
