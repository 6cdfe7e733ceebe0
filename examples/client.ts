/**
 * A client for examples/echo.ts (Deno, Bun or Node):
 * `deno run -A examples/client.ts [url]`; the URL from the argument, else
 * `WS_URL`, else `ws://127.0.0.1:8080/`.
 *
 * @module
 */
import process from "node:process";
import { connect } from "../mod.ts";

const url = process.argv[2] ?? process.env.WS_URL ?? "ws://127.0.0.1:8080/";

const socket = await connect(url);
const { readable, writable } = await socket.opened;
const writer = writable.getWriter();
const reader = readable.getReader();

await writer.write("hello wstream");
const { value } = await reader.read();
console.log(`echo: ${value}`);

const rtt = await socket.ping(); // Resolves when the pong arrives.
console.log(`ping: ${rtt.toFixed(2)} ms`);

socket.close({ closeCode: 1000, reason: "done" });
const { closeCode, reason } = await socket.closed;
console.log(`closed: ${closeCode} ${reason}`);
