/**
 * A bare `Deno.listen` TCP echo, no wstream: the baseline for Deno's own
 * fairness under many busy connections (see `client.mjs`). Prints its port.
 *
 * ```sh
 * deno run -A bench/fairness/deno_listen_echo.ts
 * ```
 *
 * @module
 */
const listener = Deno.listen({ port: 0, hostname: "127.0.0.1" });
console.log((listener.addr as Deno.NetAddr).port);

async function echo(conn: Deno.Conn): Promise<void> {
  const buffer = new Uint8Array(65536);
  try {
    while (true) {
      const n = await conn.read(buffer);
      if (n === null) break;
      const data = buffer.slice(0, n);
      for (let offset = 0; offset < data.length;) {
        offset += await conn.write(data.subarray(offset));
      }
    }
  } catch {
    // Reset by the client.
  }
  try {
    conn.close();
  } catch {
    // Already closed.
  }
}

for await (const conn of listener) echo(conn);
