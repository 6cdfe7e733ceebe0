/**
 * The subscriber side of `bench/fanout_bench.ts`: opens `conns` raw TCP
 * WebSocket connections (no compression offered), then only reads, counting
 * bytes. Each 32-byte text message arrives as a 34-byte unmasked frame.
 *
 * Usage: node bench/load/fanout_subscribers.mjs PORT CONNS MESSAGES
 * Prints `READY` once every handshake got its 101, then `DONE <ms>` once
 * every connection received MESSAGES frames (ms since the first byte
 * after READY), and `CPU <µs>`, its own CPU time while counting.
 */
import net from "node:net";
import process from "node:process";

const [port, conns, messages] = process.argv.slice(2).map(Number);
const FRAME = 34;
const expected = messages * FRAME;
const head = "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n" +
  "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n" +
  "Sec-WebSocket-Version: 13\r\n\r\n";

let ready = 0;
let done = 0;
let first = 0;
let cpuAtFirst = null;

function open() {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, "127.0.0.1");
    let headDone = false;
    let text = "";
    let received = 0;
    socket.setNoDelay(true);
    socket.on("connect", () => socket.write(head));
    socket.on("error", reject);
    socket.on("data", (chunk) => {
      if (!headDone) {
        text += chunk.toString("latin1");
        const end = text.indexOf("\r\n\r\n");
        if (end < 0) return;
        if (!text.startsWith("HTTP/1.1 101")) reject(new Error(text));
        headDone = true;
        received = text.length - end - 4;
        resolve(socket);
        return;
      }
      if (first === 0) {
        first = performance.now();
        cpuAtFirst = process.cpuUsage();
      }
      const before = received;
      received += chunk.length;
      if (before < expected && received >= expected) {
        if (++done === conns) {
          const ms = performance.now() - first;
          const cpu = process.cpuUsage(cpuAtFirst);
          console.log(`DONE ${ms.toFixed(1)}`);
          console.log(`CPU ${cpu.user + cpu.system}`);
        }
      }
    });
  });
}

const sockets = [];
for (let i = 0; i < conns; i += 50) {
  const batch = [];
  for (let j = i; j < Math.min(conns, i + 50); j++) batch.push(open());
  sockets.push(...await Promise.all(batch));
  ready = sockets.length;
}
console.log(`READY ${ready}`);
process.stdin.on("data", (data) => {
  if (String(data).includes("EXIT")) {
    for (const socket of sockets) socket.destroy();
    process.exit(0);
  }
});
