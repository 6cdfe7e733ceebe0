/**
 * A quick echo load probe (not the full benchmark suite): opens N WebSocket
 * connections to an echo server, keeps K messages of 32 bytes in flight on
 * each, and prints the messages per second echoed over D seconds. Uses the
 * runtime's native `WebSocket` client; run it with Bun (the fastest client
 * here) pinned to another core than the server:
 *
 * ```sh
 * PORT=9311 taskset -c 0 deno run -A examples/echo.ts &
 * taskset -c 1 bun bench/echo_load.ts 9311 64 16 4
 * ```
 *
 * With a single client core the client can be the bottleneck: compare
 * servers in interleaved rounds of the same run, not across runs.
 *
 * @module
 */
import process from "node:process";

const port = Number(process.argv[2] ?? 8080);
const connections = Number(process.argv[3] ?? 64);
const inFlight = Number(process.argv[4] ?? 16);
const seconds = Number(process.argv[5] ?? 4);
const payload = "x".repeat(32);

let echoed = 0;
const sockets: WebSocket[] = [];
await Promise.all(
  Array.from(
    { length: connections },
    () =>
      new Promise<void>((resolve, reject) => {
        const socket = new WebSocket(`ws://127.0.0.1:${port}/`);
        socket.onopen = () => resolve();
        socket.onerror = () =>
          reject(new Error(`cannot connect to port ${port}`));
        socket.onmessage = () => {
          echoed++;
          socket.send(payload);
        };
        sockets.push(socket);
      }),
  ),
);
const start = performance.now();
for (const socket of sockets) {
  for (let i = 0; i < inFlight; i++) socket.send(payload);
}
await new Promise((resolve) => setTimeout(resolve, seconds * 1000));
const elapsed = (performance.now() - start) / 1000;
console.log(JSON.stringify({
  connections,
  inFlight,
  messagesPerSecond: Math.round(echoed / elapsed),
}));
for (const socket of sockets) socket.close();
process.exit(0);
