"""python-websockets as an interop peer of wstream, driven by the tests.

Run with Debian's /usr/bin/python3 (python3-websockets 10.4):

    _python_peer.py server COMPRESSION
        Serves an echo on 127.0.0.1, port 0, and prints {"port": N}. Every
        message is echoed with its type; a text message starting with
        "FRAG " comes back in 4 fragments (a fragmented, compressed reply).
        Prints {"open": ...} per connection (what it negotiated).

    _python_peer.py client COMPRESSION URL
        Connects, prints {"open": ...}, then reads one JSON command a line
        from stdin and prints one JSON answer a line:
          {"send": "text"|"binary", "data": str (binary: base64),
           "fragments": n}  -> sends it (in n fragments when n > 1), waits
                               for the echo and answers {"echo": same?}
          {"close": code}    -> closes, answers {"closed": code}

COMPRESSION is "deflate" (python-websockets' default) or "none".

Bounded: exits after LIFETIME seconds whatever happens; the tests also kill
it by PID. Private to the tests.
"""

import asyncio
import base64
import json
import sys

import websockets

LIFETIME = 40  # seconds
MAX_SIZE = 16 * 1024 * 1024
EXTENSION_FIELDS = (
    "remote_no_context_takeover",
    "local_no_context_takeover",
    "remote_max_window_bits",
    "local_max_window_bits",
)


def emit(value):
    print(json.dumps(value), flush=True)


def describe(ws, offer):
    return {
        "open": {
            "offer": offer,
            "answer": ws.response_headers.get("Sec-WebSocket-Extensions"),
            "extensions": [
                {"name": extension.name}
                | {
                    key: getattr(extension, key)
                    for key in EXTENSION_FIELDS
                    if hasattr(extension, key)
                }
                for extension in ws.extensions
            ],
        }
    }


def fragments(message, count):
    size = -(-len(message) // count) or 1
    return [message[i : i + size] for i in range(0, len(message), size)] or [message]


async def run_server(compression):
    async def echo(ws):
        emit(describe(ws, ws.request_headers.get("Sec-WebSocket-Extensions")))
        async for message in ws:
            if isinstance(message, str) and message.startswith("FRAG "):
                await ws.send(fragments(message, 4))
            else:
                await ws.send(message)

    async with websockets.serve(
        echo, "127.0.0.1", 0, compression=compression, max_size=MAX_SIZE
    ) as server:
        emit({"port": server.sockets[0].getsockname()[1]})
        await asyncio.sleep(LIFETIME)


async def run_client(compression, url):
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader(limit=64 * 1024 * 1024)
    await loop.connect_read_pipe(
        lambda: asyncio.StreamReaderProtocol(reader), sys.stdin
    )
    async with websockets.connect(
        url, compression=compression, max_size=MAX_SIZE
    ) as ws:
        emit(describe(ws, ws.request_headers.get("Sec-WebSocket-Extensions")))
        while True:
            line = await reader.readline()
            if not line:
                return
            command = json.loads(line)
            if "close" in command:
                await ws.close(command["close"])
                emit({"closed": ws.close_code})
                return
            data = command["data"]
            if command["send"] == "binary":
                data = base64.b64decode(data)
            count = command.get("fragments", 1)
            await ws.send(fragments(data, count) if count > 1 else data)
            echoed = await ws.recv()
            emit({"echo": echoed == data, "length": len(echoed)})


async def main():
    mode, compression = sys.argv[1], sys.argv[2]
    compression = None if compression == "none" else compression
    if mode == "server":
        task = run_server(compression)
    else:
        task = run_client(compression, sys.argv[3])
    try:
        await asyncio.wait_for(task, LIFETIME)
    except asyncio.TimeoutError:
        pass


if __name__ == "__main__":
    asyncio.run(main())
