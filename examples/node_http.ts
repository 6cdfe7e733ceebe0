/**
 * The echo server on a `node:http` server that answers plain HTTP itself
 * (Node, Deno or Bun): `node examples/node_http.ts`. `PORT` as in echo.ts.
 *
 * @module
 */
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import process from "node:process";
import { attachToNodeServer, upgrade } from "../mod.ts";

const server = createServer((_request, response) => {
  response.end("wstream echo: connect with a WebSocket\n");
});

// The WebSocket upgrades go to the handler; the plain requests stay above.
attachToNodeServer(server, async (request) => {
  const { response, socket } = await upgrade(request);
  if (socket === null) return response; // A bad upgrade: 4xx.
  socket.opened.then(async ({ readable, writable }) => {
    const writer = writable.getWriter();
    for await (const message of readable) await writer.write(message);
  }).catch(() => {}); // The connection failed: nothing left to echo to.
  return response;
});

server.listen(Number(process.env.PORT ?? "8080"), () => {
  console.log(`listening on ${(server.address() as AddressInfo).port}`);
});
