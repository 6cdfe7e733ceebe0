/**
 * Deno's native WebSocket echo server, a reference of `bench/echo_suite.ts`:
 * `PORT=9311 deno run -A bench/servers/deno_native.ts`.
 *
 * @module
 */
Deno.serve({
  hostname: "127.0.0.1",
  port: Number(Deno.env.get("PORT") ?? "8080"),
  onListen: ({ port }) => console.log(`listening on ${port}`),
}, (request) => {
  const { socket, response } = Deno.upgradeWebSocket(request);
  socket.onmessage = (event) => socket.send(event.data);
  return response;
});
