/**
 * Private: the one socket abstraction under every wstream TCP transport
 * (Deno's `conn.read()` loop, Bun's `Bun.listen` / `Bun.connect` callbacks,
 * Node's `node:net` / `node:tls` events).
 *
 * A {@linkcode SocketChannel} is a callback-driven byte channel: received
 * chunks go straight to one {@linkcode ByteReceiver} (no stream stage, no
 * promise per chunk), reading stops while no receiver is set (TCP flow
 * control) and what still arrives meanwhile is held for the next receiver;
 * writes are serialized and resolve once the kernel took every byte. This is
 * what `serve()` and `WebSocketConnection` drive directly: each Web Streams
 * stage costs about 2 µs per chunk and a few KiB per idle connection.
 *
 * The same object is the public {@linkcode TcpConnection}: its `readable`
 * and `writable` streams are built over the channel on first access only.
 *
 * Closing: {@linkcode SocketChannel.closeWrite} sends FIN after the queued
 * writes, then {@linkcode SocketChannel.linger} discards what the peer still
 * sends until it closes, for at most {@linkcode LINGER_TIME} and
 * {@linkcode LINGER_BYTES} (a lingering close, RFC 9112 §9.6).
 *
 * @module
 */

import {
  LINGER_BYTES,
  LINGER_TIME,
  socketClosedError,
} from "./_stream_socket.ts";
import type { NetAddr, TcpConnection } from "./tcp_connection.ts";

/** The default of the transports' `highWaterMark` read option. */
export const DEFAULT_HIGH_WATER_MARK = 64 * 1024;

/**
 * Checks the `highWaterMark` read option of the Bun and Node transports.
 *
 * @returns The option, or its default.
 * @throws {RangeError} If it is not a positive integer.
 */
export function checkHighWaterMark(
  options: { highWaterMark?: number },
): number {
  const highWaterMark = options.highWaterMark ?? DEFAULT_HIGH_WATER_MARK;
  if (!Number.isSafeInteger(highWaterMark) || highWaterMark < 1) {
    throw new RangeError(
      `Invalid highWaterMark ${highWaterMark}: pass a positive integer`,
    );
  }
  return highWaterMark;
}

/** Turns Nagle's algorithm off, where the socket can. */
export function setNoDelay(
  socket: { setNoDelay?(noDelay?: boolean): unknown },
): void {
  try {
    socket.setNoDelay?.(true);
  } catch {
    // Not fatal: Nagle only delays small writes.
  }
}

/** Takes what a {@linkcode SocketChannel} receives. */
export interface ByteReceiver {
  /** Received bytes: a fresh chunk the receiver owns and may modify. */
  data(chunk: Uint8Array): void;
  /**
   * Optionally, a buffer to read the next bytes into (a transport that
   * reads into buffers of its choice asks before each read); the chunk then
   * handed to `data` is a prefix view of it.
   */
  readTarget?(): Uint8Array | null;
  /**
   * The end of the received bytes: the peer's FIN (`error` undefined), a
   * socket error, or the socket closed by us. Nothing follows.
   */
  end(error?: Error): void;
}

/**
 * A byte transport driven by callbacks: what a `WebSocketConnection` runs
 * over. {@linkcode SocketChannel} is wstream's own sockets; any
 * `{ readable, writable }` pair is adapted to it (`_stream_pair_channel.ts`).
 */
export interface ByteChannel {
  /**
   * Delivers received bytes to `receiver` from now on; `null` stops reading
   * (bytes that still arrive are held for the next receiver).
   */
  receive(receiver: ByteReceiver | null): void;
  /** Sends bytes after earlier writes; resolves once the kernel took them. */
  write(bytes: Uint8Array): Promise<void>;
  /**
   * Optionally, hands `bytes` to the kernel now, with no promise, when no
   * write is queued and the runtime can write synchronously (Bun).
   *
   * @returns How many bytes, from the start, the kernel took (0 when none
   * or when it cannot): write the rest with `write()`.
   */
  tryWrite?(bytes: Uint8Array, length?: number): number;
  /**
   * Optionally, whether {@linkcode ByteChannel.tryWrite} can take bytes at
   * all (the runtime writes synchronously: Bun). Where it is `true`, a
   * caller may pass a buffer it reuses right after the call.
   */
  readonly writesNow?: boolean;
  /**
   * Optionally, a count that grows whenever the kernel takes some bytes of
   * a write (partial writes included): how a write-stall check tells a slow
   * peer, still reading a large write, from one that stopped reading.
   */
  readonly progress?: number;
  /**
   * Sends FIN after the queued writes; reading goes on. Resolves once done
   * (or once that became impossible); never rejects.
   */
  closeWrite(): Promise<void>;
  /**
   * Discards what the peer still sends until it closes (bounded), after
   * `closeWrite()`; closes at once otherwise. Resolves once closed.
   */
  linger(): Promise<void>;
  /**
   * Optionally, closes the transport once the queued writes are done, with
   * no half close and no linger: for when the peer will send nothing more
   * (a server after both close frames crossed, RFC 6455 §7.1.1).
   *
   * @returns `null` when it closed at once (no write was queued), or a
   * promise that resolves once it closed; never rejects.
   */
  closeAfterWrites?(): Promise<void> | null;
  /** Closes the transport now. Idempotent. */
  close(): void;
}

/**
 * Returns the channel under a transport, when it is one of wstream's own
 * sockets whose streams nobody took yet; `null` otherwise (any other
 * `{ readable, writable }` pair).
 */
export function channelOf(transport: object): SocketChannel | null {
  return transport instanceof SocketChannel && !transport.streamsTaken
    ? transport
    : null;
}

/**
 * Returns the channel of one of wstream's own connections (what the
 * servers handle).
 *
 * @throws {TypeError} If `connection` is not one, or its streams were
 * taken.
 */
export function requireChannel(connection: TcpConnection): SocketChannel {
  const channel = channelOf(connection);
  if (channel === null) {
    throw new TypeError(
      "wstream: expected one of wstream's own connections with untouched streams",
    );
  }
  return channel;
}

/**
 * One socket as a callback-driven byte channel and as a
 * {@linkcode TcpConnection}. A subclass supplies the runtime's calls (the
 * `protected abstract` members) and forwards the runtime's callbacks or
 * events to {@linkcode SocketChannel.onData},
 * {@linkcode SocketChannel.onEnd}, {@linkcode SocketChannel.onClose} and
 * {@linkcode SocketChannel.onError}.
 */
export abstract class SocketChannel implements TcpConnection, ByteChannel {
  #receiver: ByteReceiver | null = null;
  /** Chunks that arrived while no receiver was set. */
  #held: Uint8Array[] | null = null;
  /** The end of input was seen (FIN, error or close) ... */
  #ended = false;
  /** ... with this error, if any ... */
  #endError: Error | undefined;
  /** ... and was handed to a receiver. */
  #endDelivered = false;
  #reading = false;
  #closed = false;
  #halfClosed = false;
  #eof = false;
  #discarding = false;
  #lingered = 0;
  #lingerTimer: ReturnType<typeof setTimeout> | undefined;
  #lingering: PromiseWithResolvers<void> | null = null;
  /** `closed`, built on first access: most connections never ask. */
  #closedPromise: Promise<void> | null = null;
  #resolveClosed: (() => void) | null = null;
  /** The last write, while one is in progress. */
  #writeTail: Promise<void> | null = null;
  /** The rejecters of the waits {@linkcode SocketChannel.whileOpen} runs. */
  #waits: Set<(error: Error) => void> | null = null;
  #streams: {
    readable: ReadableStream<Uint8Array>;
    writable: WritableStream<Uint8Array>;
  } | null = null;
  readonly #readHighWaterMark: number;

  /**
   * @param readHighWaterMark Bytes the `readable` stream (when used)
   * queues before the socket is paused; 0 reads only while a read waits.
   * @param flowing Whether the runtime reads the socket from the start
   * (push-based sockets): the first chunk that finds no receiver pauses it.
   */
  constructor(readHighWaterMark: number, flowing: boolean) {
    this.#readHighWaterMark = readHighWaterMark;
    this.#reading = flowing;
  }

  /** The local address of the socket. */
  abstract readonly localAddr: NetAddr;
  /** The peer's address. */
  abstract readonly remoteAddr: NetAddr;

  /** See {@linkcode SocketChannel.whenClosed}. */
  #closeListener: ((channel: SocketChannel) => void) | null = null;

  /**
   * Calls `listener` once the socket is closed (now, if it is), before
   * `closed` resolves: how a server untracks its connections without a
   * promise and a closure per connection. One listener; a later call
   * replaces it. Internal to wstream's servers.
   */
  whenClosed(listener: (channel: SocketChannel) => void): void {
    if (this.#closed) listener(this);
    else this.#closeListener = listener;
  }

  /** Resolves once the socket is closed. Never rejects. */
  get closed(): Promise<void> {
    let closed = this.#closedPromise;
    if (closed === null) {
      if (this.#closed) {
        closed = Promise.resolve();
      } else {
        const { promise, resolve } = Promise.withResolvers<void>();
        closed = promise;
        this.#resolveClosed = resolve;
      }
      this.#closedPromise = closed;
    }
    return closed;
  }

  /** Received bytes as a stream (built on first access). */
  get readable(): ReadableStream<Uint8Array> {
    return (this.#streams ??= this.#createStreams()).readable;
  }

  /** Bytes to send as a stream (built on first access). */
  get writable(): WritableStream<Uint8Array> {
    return (this.#streams ??= this.#createStreams()).writable;
  }

  /** Whether `readable` or `writable` were accessed: the channel is theirs. */
  get streamsTaken(): boolean {
    return this.#streams !== null;
  }

  /** This channel as the public connection type. */
  get connection(): TcpConnection {
    return this;
  }

  /** Stops reading from the kernel, so that the peer's TCP window closes. */
  protected abstract pauseSocket(): void;

  /** Reads from the kernel again (or starts reading). */
  protected abstract resumeSocket(): void;

  /**
   * Returns a received chunk as a plain `Uint8Array` the receiver owns and
   * may mutate: never a Node `Buffer`, nor a view into a buffer the runtime
   * reuses or shares with other sockets.
   */
  protected abstract ownChunk(chunk: Uint8Array): Uint8Array;

  /**
   * Hands every byte of `chunk` to the kernel (retrying partial writes) and
   * resolves then. Calls never overlap. Run every wait in
   * {@linkcode SocketChannel.whileOpen}, so that the socket closing ends it.
   */
  protected abstract send(chunk: Uint8Array): Promise<void>;

  #progress = 0;

  /** Grows whenever the kernel took bytes: see {@linkcode ByteChannel.progress}. */
  get progress(): number {
    return this.#progress;
  }

  /** Called by {@linkcode SocketChannel.send} each time the kernel took bytes. */
  protected madeProgress(): void {
    this.#progress++;
  }

  /**
   * Writes what the kernel takes of `chunk` now, synchronously, where the
   * runtime can (Bun's `socket.write()`); the default takes nothing.
   *
   * @returns The bytes taken, from the start of `chunk`.
   */
  protected sendNow(_chunk: Uint8Array, _length: number): number {
    return 0;
  }

  /**
   * Whether the runtime pushes chunks (Bun, Node): `receive(null)` then
   * leaves the socket reading, and the first chunk that finds no receiver
   * is held and pauses it. Pull-based sockets (Deno) pause at once.
   */
  protected get pausesWhenUnclaimed(): boolean {
    return false;
  }

  /** Whether {@linkcode SocketChannel.tryWrite} can take bytes (Bun). */
  get writesNow(): boolean {
    return false;
  }

  /**
   * Hands `bytes` to the kernel now, with no promise, when no write is
   * queued: see {@linkcode ByteChannel.tryWrite}.
   *
   * @returns The bytes the kernel took; write the rest with `write()`.
   */
  tryWrite(bytes: Uint8Array, length: number = bytes.length): number {
    if (!this.writing || this.#writeTail !== null) return 0;
    return this.sendNow(bytes, length);
  }

  /** Sends FIN once the queued bytes are out; reading goes on. May throw. */
  protected abstract endSocket(): void | Promise<void>;

  /** Closes the socket now. May throw when it is already closed. */
  protected abstract destroySocket(): void;

  /**
   * Whether closing the write side after the peer's FIN ends the socket
   * ({@linkcode SocketChannel.endSocket}: FIN after the queued bytes, then
   * the runtime closes it, or the linger timer does) rather than closing it
   * at once.
   */
  protected abstract readonly endAfterEof: boolean;

  /**
   * Called once the socket is closed, before the receiver hears of it:
   * settles the subclass's own waits that {@linkcode SocketChannel.whileOpen}
   * does not run.
   *
   * @param _error The socket's error, if it closed on one.
   */
  protected finished(_error: Error | undefined): void {}

  /**
   * Whether the socket is still open: a write in flight may go on after
   * {@linkcode SocketChannel.closeWrite}, which sends FIN after it.
   */
  protected get open(): boolean {
    return !this.#closed;
  }

  /** Whether writes may still go out: open and not half closed. */
  protected get writing(): boolean {
    return !this.#closed && !this.#halfClosed;
  }

  /** A buffer the current receiver wants the next read to go into. */
  protected readTarget(): Uint8Array | null {
    const receiver = this.#receiver;
    if (receiver === null || this.#held !== null) return null;
    return receiver.readTarget?.() ?? null;
  }

  /** Whether the socket is closed. */
  protected get isClosed(): boolean {
    return this.#closed;
  }

  /** Whether the socket should be read: a receiver (or a linger) wants bytes. */
  protected get wantsData(): boolean {
    return this.#reading && !this.#closed;
  }

  /**
   * Like `new Promise(executor)`, except that the promise also rejects once
   * the socket closes (with its error, or "The TCP socket is closed").
   */
  protected whileOpen(
    executor: (resolve: () => void, reject: (error: Error) => void) => void,
  ): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const waits = this.#waits ??= new Set();
      waits.add(reject);
      // An idle socket keeps no empty set. (No shared helper closure: this
      // runs for every write.)
      executor(() => {
        waits.delete(reject);
        if (waits.size === 0 && this.#waits === waits) this.#waits = null;
        resolve();
      }, (error) => {
        waits.delete(reject);
        if (waits.size === 0 && this.#waits === waits) this.#waits = null;
        reject(error);
      });
    });
  }

  /**
   * Delivers received bytes to `receiver` from now on (first any bytes held
   * while there was none, then the end if it came); `null` stops reading,
   * and bytes that still arrive are held for the next receiver.
   */
  receive(receiver: ByteReceiver | null): void {
    this.#receiver = receiver;
    if (receiver === null) {
      // A push-based socket pauses once a chunk finds no receiver (see
      // onData): handing a socket on (head reader, exchange, WebSocket)
      // then costs no pause and resume.
      if (this.#reading && !this.pausesWhenUnclaimed) {
        this.#reading = false;
        if (!this.#closed) this.pauseSocket();
      }
      return;
    }
    const held = this.#held;
    if (held !== null) {
      while (held.length > 0 && this.#receiver === receiver) {
        receiver.data(held.shift()!);
      }
      if (held.length > 0) return; // Paused again meanwhile.
      this.#held = null;
    }
    if (this.#ended) {
      if (!this.#endDelivered) {
        this.#endDelivered = true;
        receiver.end(this.#endError);
      }
      return;
    }
    if (!this.#reading && !this.#closed) {
      this.#reading = true;
      this.resumeSocket();
    }
  }

  /**
   * Sends `bytes` after every earlier write.
   *
   * @returns Resolves once the kernel took every byte; rejects once the
   * socket is closed or its write side is.
   */
  write(bytes: Uint8Array): Promise<void> {
    if (!this.writing) return Promise.reject(socketClosedError());
    const tail = this.#writeTail;
    const written = tail === null
      ? this.send(bytes)
      : tail.then(() => this.send(bytes));
    this.#writeTail = written;
    const done = (): void => {
      if (this.#writeTail === written) this.#writeTail = null;
    };
    written.then(done, done);
    return written;
  }

  /**
   * Sends FIN after the queued writes; reading goes on (call
   * {@linkcode SocketChannel.linger} to discard what still arrives).
   * Idempotent.
   */
  closeWrite(): Promise<void> {
    if (this.#closed || this.#halfClosed) return Promise.resolve();
    this.#halfClosed = true;
    const tail = this.#writeTail;
    if (tail === null) {
      this.#endWrite();
      return Promise.resolve();
    }
    return tail.then(() => this.#endWrite(), () => this.close());
  }

  /**
   * Ends the reading side: after {@linkcode SocketChannel.closeWrite},
   * discards what the peer still sends until it closes (bounded); before,
   * closes the socket at once.
   *
   * @returns Resolves once the socket is closed.
   */
  linger(): Promise<void> {
    this.#receiver = null;
    this.#held = null;
    this.#discarding = true;
    if (!this.#halfClosed || this.#closed || this.#eof) {
      this.close();
      return this.closed;
    }
    this.#lingering ??= Promise.withResolvers<void>();
    if (!this.#reading) {
      this.#reading = true;
      this.resumeSocket();
    }
    return this.#lingering.promise;
  }

  /**
   * Closes the socket once the queued writes are done: at once when none
   * is queued.
   *
   * @returns `null` when it closed at once, or a promise that resolves once
   * it closed; never rejects.
   */
  closeAfterWrites(): Promise<void> | null {
    const tail = this.#writeTail;
    if (tail === null || this.#closed) {
      this.close();
      return null;
    }
    // Nothing more should come: read no more meanwhile (on Deno, a read
    // still pending at close() fails with an error that costs a stack).
    this.#receiver = null;
    this.#held = null;
    this.#discarding = true; // What a push-based socket still gets.
    if (this.#reading && !this.pausesWhenUnclaimed) {
      this.#reading = false;
      this.pauseSocket();
    }
    const close = (): void => this.close();
    return tail.then(close, close);
  }

  /** Takes received bytes: the runtime's `data` callback or event. */
  onData(chunk: Uint8Array): void {
    if (this.#discarding) {
      // Lingering: discard, within bounds.
      this.#lingered += chunk.byteLength;
      if (this.#lingered > LINGER_BYTES) this.close();
      return;
    }
    const owned = this.ownChunk(chunk);
    const receiver = this.#receiver;
    if (receiver === null || this.#held !== null) {
      (this.#held ??= []).push(owned);
      if (this.#reading && receiver === null) {
        this.#reading = false;
        this.pauseSocket();
      }
      return;
    }
    receiver.data(owned);
  }

  /** Takes the peer's FIN. */
  onEnd(): void {
    this.#eof = true;
    this.#end(undefined);
    if (this.#halfClosed) this.close();
  }

  /** Takes the socket's closing, also after our own end or destroy. */
  onClose(error?: Error): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#finish(error);
  }

  /** Takes a socket error: the receiver ends with it. */
  onError(error: Error): void {
    this.#end(error);
  }

  /** Closes the socket now. Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    try {
      this.destroySocket();
    } catch {
      // Already closed.
    }
    this.#finish(undefined);
  }

  #finish(error: Error | undefined): void {
    clearTimeout(this.#lingerTimer);
    const listener = this.#closeListener;
    if (listener !== null) {
      this.#closeListener = null;
      listener(this);
    }
    const resolveClosed = this.#resolveClosed;
    if (resolveClosed !== null) {
      this.#resolveClosed = null;
      resolveClosed();
    }
    this.finished(error);
    this.#end(error);
    const waits = this.#waits;
    if (waits !== null && waits.size > 0) {
      const failure = error ?? socketClosedError(); // Stack traces cost.
      for (const reject of waits) reject(failure);
      waits.clear();
      this.#waits = null;
    }
    this.#lingering?.resolve();
  }

  #end(error: Error | undefined): void {
    if (this.#ended) return;
    this.#ended = true;
    this.#endError = error;
    const receiver = this.#receiver;
    if (receiver !== null && this.#held === null && !this.#discarding) {
      this.#endDelivered = true;
      receiver.end(error);
    }
  }

  #endWrite(): void {
    if (this.#closed) return;
    if (this.#eof) {
      // The peer is done too.
      if (!this.endAfterEof) return this.close();
    }
    this.#lingerTimer = setTimeout(() => this.close(), LINGER_TIME);
    try {
      const ended = this.endSocket();
      if (ended !== undefined) ended.catch(() => this.close());
    } catch {
      this.close();
    }
  }

  #createStreams(): {
    readable: ReadableStream<Uint8Array>;
    writable: WritableStream<Uint8Array>;
  } {
    let controller!: ReadableStreamDefaultController<Uint8Array>;
    const receiver: ByteReceiver = {
      data: (chunk) => {
        controller.enqueue(chunk);
        if ((controller.desiredSize ?? 0) <= 0) this.receive(null);
      },
      end: (error) => {
        try {
          if (error === undefined) controller.close();
          else controller.error(error);
        } catch {
          // Cancelled meanwhile.
        }
      },
    };
    const readable = new ReadableStream<Uint8Array>({
      start: (start): void => {
        controller = start;
      },
      pull: (): void => this.receive(receiver),
      cancel: (): Promise<void> => this.linger(),
    }, {
      highWaterMark: this.#readHighWaterMark,
      size: (chunk): number => chunk.byteLength,
    });
    const writable = new WritableStream<Uint8Array>({
      write: (chunk): Promise<void> => this.write(chunk),
      close: (): Promise<void> => this.closeWrite(),
      abort: (): void => this.close(),
    });
    return { readable, writable };
  }
}
