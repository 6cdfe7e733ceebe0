/**
 * Private: the byte-stream adapter of the push-based transports, Bun's
 * (`Bun.listen` / `Bun.connect` sockets) and Node's (`node:net` /
 * `node:tls` sockets). Both runtimes push received bytes to a callback,
 * pause and resume reading on request and report the kernel taking written
 * bytes; {@linkcode PushSocket} turns that into the
 * {@linkcode TcpConnection} contract once, and each transport subclasses it
 * with the runtime's own calls: pause, resume, own a received chunk, write,
 * end and destroy.
 *
 * Receiving: chunks are queued in `readable` and once the queue holds
 * `highWaterMark` bytes the socket is paused until the consumer pulls
 * again, so a consumer that stops reading stops the peer (TCP flow
 * control). Closing: closing `writable` sends FIN, then cancelling
 * `readable` discards what the peer still sends until it closes, for at
 * most {@linkcode LINGER_TIME} and {@linkcode LINGER_BYTES} (a lingering
 * close).
 *
 * @module
 */

import {
  LINGER_BYTES,
  LINGER_TIME,
  socketClosedError,
} from "./_stream_socket.ts";
import type { NetAddr, TcpConnection } from "./tcp.ts";

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

/**
 * One push-based socket as a {@linkcode TcpConnection}. A subclass supplies
 * the runtime's calls (the `protected abstract` members) and forwards the
 * runtime's callbacks or events to {@linkcode PushSocket.onData},
 * {@linkcode PushSocket.onEnd}, {@linkcode PushSocket.onClose} and
 * {@linkcode PushSocket.onError}.
 */
export abstract class PushSocket {
  /** The connection this socket is, as handed to its owner. */
  readonly connection: TcpConnection;
  #controller!: ReadableStreamDefaultController<Uint8Array>;
  #paused = false;
  #closed = false;
  #halfClosed = false;
  #eof = false;
  #readableDone = false;
  #lingered = 0;
  #lingerTimer: ReturnType<typeof setTimeout> | undefined;
  #lingering: PromiseWithResolvers<void> | null = null;
  #socketClosed: PromiseWithResolvers<void> = Promise.withResolvers<void>();
  /** The rejecters of the waits {@linkcode PushSocket.whileOpen} runs. */
  #waits = new Set<(error: Error) => void>();

  /**
   * @param highWaterMark Bytes queued in `readable` before the socket is
   * paused (checked by {@linkcode checkHighWaterMark}).
   * @param localAddr Reads the local address, once, when first asked for.
   * @param remoteAddr Reads the peer's address, once, when first asked for.
   */
  constructor(
    highWaterMark: number,
    localAddr: () => NetAddr,
    remoteAddr: () => NetAddr,
  ) {
    const readable = new ReadableStream<Uint8Array>({
      start: (controller): void => {
        this.#controller = controller;
      },
      pull: (): void => {
        if (this.#paused && !this.#closed) {
          this.#paused = false;
          this.resumeSocket();
        }
      },
      cancel: (): Promise<void> | void => {
        this.#readableDone = true;
        if (this.#halfClosed && !this.#closed) return this.#linger();
        this.close();
      },
    }, {
      highWaterMark,
      size: (chunk): number => chunk.byteLength,
    });
    const writable = new WritableStream<Uint8Array>({
      write: (chunk): Promise<void> => this.#write(chunk),
      close: (): void => this.#closeWrite(),
      abort: (): void => this.close(),
    });
    let local: NetAddr | undefined;
    let remote: NetAddr | undefined;
    this.connection = {
      readable,
      writable,
      get localAddr(): NetAddr {
        return local ??= localAddr();
      },
      get remoteAddr(): NetAddr {
        return remote ??= remoteAddr();
      },
      closed: this.#socketClosed.promise,
      close: (): void => this.close(),
    };
  }

  /** Stops reading from the kernel, so that the peer's TCP window closes. */
  protected abstract pauseSocket(): void;

  /** Reads from the kernel again. */
  protected abstract resumeSocket(): void;

  /**
   * Returns a received chunk as a plain `Uint8Array` the consumer owns and
   * may mutate: never a Node `Buffer`, nor a view into a buffer the runtime
   * reuses or shares with other sockets.
   */
  protected abstract ownChunk(chunk: Uint8Array): Uint8Array;

  /**
   * Hands every byte of `chunk` to the kernel (retrying partial writes) and
   * resolves then. Called only while {@linkcode PushSocket.writing}; run
   * every wait in {@linkcode PushSocket.whileOpen}, so that the socket
   * closing ends it.
   */
  protected abstract send(chunk: Uint8Array): Promise<void>;

  /** Sends FIN once the queued bytes are out; reading goes on. May throw. */
  protected abstract endSocket(): void;

  /** Closes the socket now. May throw when it is already closed. */
  protected abstract destroySocket(): void;

  /**
   * Whether closing `writable` after the peer's FIN ends the socket
   * ({@linkcode PushSocket.endSocket}: FIN after the queued bytes, then the
   * runtime closes it, or the linger timer does) rather than closing it at
   * once.
   */
  protected abstract readonly endAfterEof: boolean;

  /**
   * Called once the socket is closed, before `readable` ends: settles the
   * subclass's own waits that {@linkcode PushSocket.whileOpen} does not
   * run.
   *
   * @param _error The socket's error, if it closed on one.
   */
  protected finished(_error: Error | undefined): void {}

  /** Whether `writable` may still write: open and not half closed. */
  protected get writing(): boolean {
    return !this.#closed && !this.#halfClosed;
  }

  /**
   * Like `new Promise(executor)`, except that the promise also rejects once
   * the socket closes (with its error, or "The TCP socket is closed").
   */
  protected whileOpen(
    executor: (resolve: () => void, reject: (error: Error) => void) => void,
  ): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.#waits.add(reject);
      executor(() => {
        this.#waits.delete(reject);
        resolve();
      }, (error) => {
        this.#waits.delete(reject);
        reject(error);
      });
    });
  }

  /** Takes received bytes: the runtime's `data` callback or event. */
  onData(chunk: Uint8Array): void {
    if (this.#readableDone) {
      // Lingering (or cancelled): discard, within bounds.
      this.#lingered += chunk.byteLength;
      if (this.#lingered > LINGER_BYTES) this.close();
      return;
    }
    this.#controller.enqueue(this.ownChunk(chunk));
    if ((this.#controller.desiredSize ?? 0) <= 0 && !this.#paused) {
      this.#paused = true;
      this.pauseSocket();
    }
  }

  /** Takes the peer's FIN: `readable` ends. */
  onEnd(): void {
    this.#eof = true;
    this.#endReadable(undefined);
    if (this.#halfClosed) this.close();
  }

  /** Takes the socket's closing, also after our own end or destroy. */
  onClose(error?: Error): void {
    this.#closed = true;
    this.#finish(error);
  }

  /** Takes a socket error: `readable` errors with it. */
  onError(error: Error): void {
    this.#endReadable(error);
  }

  /** Closes the socket now. Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#finish(undefined);
    try {
      this.destroySocket();
    } catch {
      // Already closed.
    }
  }

  #finish(error: Error | undefined): void {
    clearTimeout(this.#lingerTimer);
    this.#socketClosed.resolve();
    this.finished(error);
    this.#endReadable(error);
    if (this.#waits.size > 0) {
      const failure = error ?? socketClosedError(); // Stack traces cost.
      for (const reject of this.#waits) reject(failure);
      this.#waits.clear();
    }
    this.#lingering?.resolve();
  }

  /** Closing `writable`: send FIN, keep reading (lingering close). */
  #closeWrite(): void {
    if (this.#closed || this.#halfClosed) return;
    this.#halfClosed = true;
    if (this.#eof) {
      // The peer is done too.
      if (!this.endAfterEof) return this.close();
      this.endSocket(); // Flushes, then the runtime closes the socket.
      this.#lingerTimer = setTimeout(() => this.close(), LINGER_TIME);
      return;
    }
    this.#lingerTimer = setTimeout(() => this.close(), LINGER_TIME);
    try {
      this.endSocket();
    } catch {
      this.close();
    }
  }

  /** Cancelling `readable` after closing `writable`: wait for the peer. */
  #linger(): Promise<void> {
    this.#lingering ??= Promise.withResolvers<void>();
    if (this.#paused) {
      this.#paused = false;
      this.resumeSocket();
    }
    return this.#lingering.promise;
  }

  #endReadable(error: Error | undefined): void {
    if (this.#readableDone) return;
    this.#readableDone = true;
    try {
      if (error === undefined) this.#controller.close();
      else this.#controller.error(error);
    } catch {
      // Cancelled meanwhile.
    }
  }

  #write(chunk: Uint8Array): Promise<void> {
    if (!this.writing) return Promise.reject(socketClosedError());
    return this.send(chunk);
  }
}
