/**
 * A multi-room chat: one HTML page at `/` and its WebSocket endpoint at
 * `/ws` on the same port, served by wstream's `serve()` on Deno, Bun or
 * Node; rooms are `Hub` topics (`room:<name>`), messages are JSON
 * (`protocol.ts`), compression is on (the default).
 *
 * ```sh
 * deno task demo                          # = deno run -A examples/chat/server.ts
 * bun examples/chat/server.ts             # or: node examples/chat/server.ts
 * # PORT (8080; 0 = a free port), HOST (127.0.0.1)
 * ```
 *
 * It prints `chat: open http://127.0.0.1:8080/`. Open it in two windows,
 * pick names, chat; the room is in the URL hash (`#lobby`), so a reload
 * rejoins it (the name is kept per tab).
 *
 * **Several processes sharing rooms through Redis**: set `REDIS_URL` and
 * each process joins the others' rooms (`@wstream/wstream/redis`: Bun's
 * built-in client under Bun, npm `redis` from the current directory under
 * Node and Deno), or let this file start them:
 *
 * ```sh
 * deno task demo:cluster                  # = bun examples/chat/server.ts --cluster 2
 * REDIS_URL=redis://127.0.0.1:6379 PORT=8081 node examples/chat/server.ts
 * ```
 *
 * `--cluster N` starts N processes of this runtime on ports PORT, PORT+1, …
 * (each a free port with PORT=0) sharing `REDIS_URL`; without `REDIS_URL`
 * it starts its own `redis-server` (from `PATH`, or `REDIS_SERVER`) on a
 * free port and stops it, by its PID, on exit.
 *
 * Presence across processes: each process keeps every room's roster from
 * the join/leave/rename events and `roster` heartbeats published to the
 * room (`presence.ts`); the users of a process that crashed disappear from
 * the others within 15-20 s (`EXPIRY_MS` plus one heartbeat). Redis keeps
 * nothing: a process that lost its Redis connection misses what was said
 * meanwhile.
 *
 * @module
 */
import process from "node:process";
import { type ChildProcess, spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { createConnection, createServer } from "node:net";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { Hub, serve, upgrade, type WebSocketStreamLike } from "../../mod.ts";
import {
  type Backplane,
  type BunRedisClient,
  createRedisBackplane,
  fromBunRedis,
  fromNodeRedis,
  type NodeRedisClient,
  type RedisPubSub,
} from "../../redis.ts";
import {
  type ClientMessage,
  MAX_FRAME_BYTES,
  parseClientMessage,
  RateLimit,
  type ServerMessage,
} from "./protocol.ts";
import { HEARTBEAT_MS, Presence } from "./presence.ts";

interface RuntimeGlobals {
  Deno?: { execPath(): string; version: { deno: string } };
  Bun?: {
    version: string;
    RedisClient: new (url: string) => BunRedisClient & {
      connect(): Promise<void>;
    };
  };
}
const { Deno: deno, Bun: bun } = globalThis as RuntimeGlobals;
const RUNTIME = deno !== undefined
  ? `Deno ${deno.version.deno}`
  : bun !== undefined
  ? `Bun ${bun.version}`
  : `Node ${process.versions.node}`;

const PAGE = readFileSync(new URL("./index.html", import.meta.url), "utf8");

// ------------------------------------------------------------ one process

/** A connected client. */
interface Client {
  readonly socket: WebSocketStreamLike;
  readonly id: string;
  name: string | null;
  room: string | null;
  /** Sends to this client alone; a `droppable` message is skipped under backpressure. */
  send(message: ServerMessage, droppable?: boolean): void;
}

const topicOf = (room: string): string => `room:${room}`;

async function runServer(): Promise<void> {
  const port = Number(process.env.PORT ?? "8080");
  const hostname = process.env.HOST ?? "127.0.0.1";
  const redisUrl = process.env.REDIS_URL;
  const presence = new Presence(crypto.randomUUID().slice(0, 8));
  /** This process's clients of each room. */
  const rooms = new Map<string, Set<Client>>();
  let listeningPort = port;

  const hub = new Hub({
    // A client that stops reading is closed (1008) rather than kept with a
    // growing queue: a chat page reads everything.
    maxQueuedBytes: 256 * 1024,
    slowSubscriber: "close",
    ...(redisUrl === undefined ? {} : {
      backplane: tap(
        createRedisBackplane({
          redis: await redisClient(redisUrl),
          keyPrefix: "wstream-chat:",
          binaryAsBase64: true, // Bun's client may run some of the processes.
        }),
        (topic, data) => {
          if (topic.startsWith("room:") && typeof data === "string") {
            fromOtherProcess(JSON.parse(data) as ServerMessage);
          }
        },
      ),
    }),
    onError: (error) => console.error("chat: hub:", error.message),
  });
  await hub.ready;

  function publish(
    room: string,
    message: ServerMessage,
    except?: WebSocketStreamLike,
  ): void {
    hub.publish(
      topicOf(room),
      JSON.stringify(message),
      except === undefined ? {} : { except },
    );
  }

  // Members lists are sent per socket, at most once per turn per room.
  const stale = new Set<string>();
  function membersChanged(room: string): void {
    if (stale.size === 0) setTimeout(sendMembers, 0);
    stale.add(room);
  }
  function sendMembers(): void {
    for (const room of stale) {
      const members = presence.members(room);
      for (const client of rooms.get(room) ?? []) {
        client.send({ type: "members", room, members }, true);
      }
    }
    stale.clear();
  }

  /** This process's members of a room, for the other processes. */
  function announce(room: string): void {
    const members = presence.local(room);
    if (members.length > 0) {
      publish(room, { type: "roster", room, origin: presence.origin, members });
    }
  }
  const announcing = new Set<string>();

  /** A room message published by another process (through Redis). */
  function fromOtherProcess(message: ServerMessage): void {
    if (message.type === "presence") {
      const { room, member, origin } = message;
      const changed = message.event === "leave"
        ? presence.delete(room, member.id)
        : presence.set(room, member, origin);
      if (changed) membersChanged(room);
      if (message.event === "join" && !announcing.has(room)) {
        // A newcomer's process knows none of our members yet: tell it.
        announcing.add(room);
        setTimeout(() => {
          announcing.delete(room);
          announce(room);
        }, 50);
      }
    } else if (message.type === "roster") {
      const { room, origin, members } = message;
      if (presence.replace(room, origin, members)) membersChanged(room);
    }
  }

  const heartbeat = redisUrl === undefined ? undefined : setInterval(() => {
    for (const room of presence.localRooms()) announce(room);
    for (const room of presence.expire()) membersChanged(room);
  }, HEARTBEAT_MS);

  function join(client: Client, room: string, name: string): void {
    leave(client);
    client.room = room;
    client.name = name;
    const member = { id: client.id, name };
    hub.subscribe(client.socket, topicOf(room));
    let local = rooms.get(room);
    if (local === undefined) rooms.set(room, local = new Set());
    local.add(client);
    presence.set(room, member);
    client.send({
      type: "welcome",
      room,
      you: member,
      members: presence.members(room),
      server: {
        runtime: RUNTIME,
        pid: process.pid,
        port: listeningPort,
        redis: redisUrl !== undefined,
      },
    });
    // The newcomer has the list in its welcome: the others hear of it.
    publish(room, {
      type: "presence",
      room,
      event: "join",
      member,
      origin: presence.origin,
      time: Date.now(),
    }, client.socket);
    membersChanged(room);
  }

  function leave(client: Client): void {
    const { room, name } = client;
    if (room === null || name === null) return;
    client.room = null;
    try {
      hub.unsubscribe(client.socket, topicOf(room));
    } catch {
      // The hub is closed (shutting down).
    }
    const local = rooms.get(room);
    local?.delete(client);
    if (local?.size === 0) rooms.delete(room);
    presence.delete(room, client.id);
    publish(room, {
      type: "presence",
      room,
      event: "leave",
      member: { id: client.id, name },
      origin: presence.origin,
      time: Date.now(),
    });
    membersChanged(room);
  }

  function handle(client: Client, message: ClientMessage): void {
    if (message.type === "join") {
      join(client, message.room, message.name);
      return;
    }
    const { room, name } = client;
    if (room === null || name === null) {
      client.send({ type: "error", message: "Join a room first" });
      return;
    }
    const from = { id: client.id, name };
    if (message.type === "say") {
      // To everyone, the sender included: every page shows the room's
      // order, and the sender sees that the server took the message.
      publish(room, {
        type: "chat",
        room,
        from,
        text: message.text,
        time: Date.now(),
      });
    } else if (message.name !== name) {
      client.name = message.name;
      presence.set(room, { id: client.id, name: message.name });
      publish(room, {
        type: "presence",
        room,
        event: "rename",
        member: { id: client.id, name: message.name },
        previous: name,
        origin: presence.origin,
        time: Date.now(),
      });
      membersChanged(room);
    }
  }

  function connected(socket: WebSocketStreamLike): void {
    const limit = new RateLimit();
    const client: Client = {
      socket,
      id: crypto.randomUUID().slice(0, 8),
      name: null,
      room: null,
      send: () => {},
    };
    socket.opened.then(async ({ readable, writable }) => {
      const writer = writable.getWriter();
      client.send = (message, droppable = false) => {
        if (droppable && (writer.desiredSize ?? 0) <= 0) return;
        writer.write(JSON.stringify(message)).catch(() => {
          // Closed meanwhile: its leave is on the way.
        });
      };
      try {
        for await (const data of readable) {
          const verdict = limit.take();
          if (verdict === "close") {
            socket.close({ closeCode: 1008, reason: "Too many messages" });
            break;
          }
          if (verdict === "drop") {
            client.send({
              type: "error",
              message: "Too many messages: slow down",
            }, true);
            continue;
          }
          const message = parseClientMessage(data);
          if ("closeCode" in message) {
            socket.close(message); // In this turn: before the loop's cancel.
            break;
          }
          if ("error" in message) {
            client.send({ type: "error", message: message.error });
          } else {
            handle(client, message);
          }
        }
      } finally {
        leave(client);
      }
    }).catch(() => {
      // Closed abnormally (the page went away): left in `finally`.
    });
  }

  const server = serve({
    port,
    hostname,
    onListen: (addr) => {
      listeningPort = addr.port;
      console.log(
        `chat: open http://${
          hostname.includes(":") ? `[${hostname}]` : hostname
        }:${addr.port}/ (${RUNTIME}, pid ${process.pid}${
          redisUrl === undefined ? "" : `, rooms shared through ${redisUrl}`
        })`,
      );
    },
  }, async (request) => {
    const url = new URL(request.url);
    if (request.headers.get("upgrade") === null) {
      if (url.pathname !== "/") {
        return new Response("Not found", { status: 404 });
      }
      return new Response(PAGE, {
        headers: {
          "content-type": "text/html; charset=utf-8",
          "cache-control": "no-store",
        },
      });
    }
    if (url.pathname !== "/ws") {
      return new Response("Not found", { status: 404 });
    }
    const { response, socket } = await upgrade(request, {
      maxMessageSize: MAX_FRAME_BYTES,
      // Only pages served from this host may connect (no cross-site use of
      // a visitor's browser); clients without an Origin (tools) may.
      origin: (origin, request) =>
        origin === null ||
        new URL(origin).host === request.headers.get("host"),
    });
    if (socket !== null) connected(socket);
    return response;
  });
  await server.listening;

  const stop = async (): Promise<void> => {
    clearInterval(heartbeat);
    await server.shutdown(); // 1001 to every page: each leave is published.
    await hub.close();
    process.exit(0);
  };
  process.on("SIGTERM", stop);
  process.on("SIGINT", stop);
}

/** `backplane`, also handing what other processes publish to `onMessage`. */
function tap(
  backplane: Backplane,
  onMessage: (topic: string, data: string | Uint8Array) => void,
): Backplane {
  return {
    start: (receiver) =>
      backplane.start({
        message(topic, data) {
          receiver.message(topic, data);
          try {
            onMessage(topic, data);
          } catch (error) {
            receiver.error(error as Error);
          }
        },
        error: (error) => receiver.error(error),
      }),
    publish: (topic, data) => backplane.publish(topic, data),
    subscribe: (topic) => backplane.subscribe(topic),
    unsubscribe: (topic) => backplane.unsubscribe(topic),
    close: () => backplane.close(),
  };
}

/** Bun's built-in Redis client, else npm `redis` from the current directory. */
async function redisClient(url: string): Promise<RedisPubSub> {
  if (bun !== undefined) {
    const client = new bun.RedisClient(url);
    await client.connect();
    return fromBunRedis(client);
  }
  const require = createRequire(join(process.cwd(), "package.json"));
  let createClient: (options: { url: string }) => NodeRedisClient;
  try {
    ({ createClient } = require("redis"));
  } catch {
    throw new Error(
      `Cannot load npm redis from ${process.cwd()}: run \`npm install redis\` there, or use Bun`,
    );
  }
  const client = createClient({ url });
  client.on("error", (error: Error) => console.error("redis:", error.message));
  await client.connect();
  return fromNodeRedis(client);
}

// ------------------------------------------------------------ --cluster N

/** A free TCP port on 127.0.0.1. */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer().on("error", reject);
    probe.listen(0, "127.0.0.1", () => {
      const { port } = probe.address() as { port: number };
      probe.close(() => resolve(port));
    });
  });
}

/** Whether Redis answers PING on `port`. */
function ping(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ host: "127.0.0.1", port });
    const done = (ok: boolean): void => {
      clearTimeout(timer);
      socket.destroy();
      resolve(ok);
    };
    const timer = setTimeout(() => done(false), 500);
    socket.on("error", () => done(false));
    socket.on("connect", () => socket.write("PING\r\n"));
    socket.on("data", (data) => done(String(data).startsWith("+PONG")));
  });
}

/** Starts a throwaway `redis-server` (no persistence) on a free port. */
async function startRedis(): Promise<{ url: string; child: ChildProcess }> {
  const port = await freePort();
  const command = process.env.REDIS_SERVER ?? "redis-server";
  const child = spawn(command, [
    "--port",
    String(port),
    "--bind",
    "127.0.0.1",
    "--save",
    "",
    "--appendonly",
    "no",
  ], { stdio: ["ignore", "ignore", "inherit"] });
  const failed = new Promise<never>((_, reject) => {
    child.on("error", (error) =>
      reject(
        new Error(
          `Cannot start ${command} (${error.message}): install Redis or set REDIS_URL`,
        ),
      ));
    child.on(
      "exit",
      (code) => reject(new Error(`${command} exited with ${code}`)),
    );
  });
  failed.catch(() => {});
  const deadline = Date.now() + 10_000;
  while (!await Promise.race([ping(port), failed])) {
    if (Date.now() > deadline) {
      if (child.pid !== undefined) process.kill(child.pid, "SIGKILL");
      throw new Error(`${command} did not answer on port ${port}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  console.log(
    `chat: started redis-server (pid ${child.pid}) on port ${port}; it stops with this process`,
  );
  return { url: `redis://127.0.0.1:${port}`, child };
}

async function runCluster(count: number): Promise<void> {
  let redis: ChildProcess | undefined;
  let redisUrl = process.env.REDIS_URL;
  if (redisUrl === undefined) {
    ({ url: redisUrl, child: redis } = await startRedis());
  }
  const base = Number(process.env.PORT ?? "8080");
  const self = fileURLToPath(import.meta.url);
  const [command, args] = deno !== undefined
    ? [deno.execPath(), ["run", "-A", self]]
    : [process.execPath, [self]];
  let stopping = false;
  const children: ChildProcess[] = [];
  const stop = (code: number): void => {
    if (stopping) return;
    stopping = true;
    const all = redis === undefined ? children : [...children, redis];
    const exits = all.map((child) => {
      if (child.exitCode !== null || child.signalCode !== null) return null;
      const exited = new Promise((resolve) => child.on("exit", resolve));
      // Redis after the servers: they publish their leaves on the way out.
      if (child !== redis && child.pid !== undefined) {
        process.kill(child.pid, "SIGTERM");
      }
      return exited;
    });
    Promise.all(exits.slice(0, children.length)).then(async () => {
      if (redis?.pid !== undefined && redis.exitCode === null) {
        process.kill(redis.pid, "SIGTERM");
        await exits[children.length];
      }
      process.exit(code);
    });
  };
  for (let i = 0; i < count; i++) {
    const child = spawn(command, args, {
      env: {
        ...process.env,
        REDIS_URL: redisUrl,
        PORT: String(base === 0 ? 0 : base + i),
      },
      stdio: ["ignore", "inherit", "inherit"],
    });
    child.on("exit", (code) => {
      if (!stopping) {
        console.error(`chat: a server exited (${code}): stopping`);
        stop(1);
      }
    });
    children.push(child);
  }
  process.on("SIGTERM", () => stop(0));
  process.on("SIGINT", () => stop(0));
}

const flag = process.argv.indexOf("--cluster");
if (flag !== -1) {
  const count = Number(process.argv[flag + 1] ?? "2");
  if (!(Number.isInteger(count) && count >= 1)) {
    throw new RangeError(
      `Cannot run --cluster ${
        process.argv[flag + 1]
      }: use a number of processes`,
    );
  }
  await runCluster(count);
} else {
  await runServer();
}
