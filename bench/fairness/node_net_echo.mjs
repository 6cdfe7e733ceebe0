/**
 * A bare `node:net` TCP echo, no wstream, for Node, Bun and Deno (`deno run
 * -A`, Deno's `node:net`): the other baselines of `client.mjs`. Prints its
 * port.
 */
import net from "node:net";

const server = net.createServer((socket) => {
  socket.on("data", (data) => socket.write(data));
  socket.on("error", () => {});
});
server.listen(0, "127.0.0.1", () => console.log(server.address().port));
