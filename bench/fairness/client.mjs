/**
 * Fairness of a TCP echo server under many busy connections: N connections
 * each send 4 messages of SIZE bytes, wait for the 4 echoes, and repeat
 * ROUNDS times; it prints the total time and the worst round trip (the
 * first round separately: it includes waiting to be accepted). A fair server
 * keeps the worst round trip near the total time divided by the rounds.
 *
 * ```sh
 * ulimit -n 20000
 * node bench/fairness/client.mjs PORT [N=3000] [ROUNDS=100] [SIZE=5400]
 * ```
 *
 * Measured on this 2-core machine (3,000 × 100 × 4 × 5,400 B), worst round
 * trip after the first round: `Deno.listen` 25.0 s (36 s in all), Deno's
 * `node:net` 2.6 s, Node 2.2 s, Bun 0.9 s.
 */
import net from "node:net";

const port = Number(process.argv[2]);
const count = Number(process.argv[3] ?? 3000);
const rounds = Number(process.argv[4] ?? 100);
const size = Number(process.argv[5] ?? 5400);
const payload = Buffer.alloc(size, 7);
const started = Date.now();
let worst = 0;
let worstFirst = 0;

await Promise.all(Array.from({ length: count }, () =>
  new Promise((resolve) => {
    const socket = net.connect(port, "127.0.0.1");
    let received = 0;
    let sent = 0;
    let sentAt = 0;
    const send = () => {
      sentAt = Date.now();
      for (let i = 0; i < 4; i++) socket.write(payload);
      sent++;
    };
    socket.on("connect", send);
    socket.on("data", (data) => {
      received += data.length;
      if (received < 4 * size) return;
      received -= 4 * size;
      const roundTrip = Date.now() - sentAt;
      if (sent === 1) worstFirst = Math.max(worstFirst, roundTrip);
      else worst = Math.max(worst, roundTrip);
      if (sent < rounds) send();
      else socket.end();
    });
    socket.on("close", resolve);
    socket.on("error", () => {});
  })));
console.log(JSON.stringify({
  connections: count,
  seconds: (Date.now() - started) / 1000,
  worstRoundTripMs: worst,
  worstFirstRoundTripMs: worstFirst,
}));
