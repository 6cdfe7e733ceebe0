/**
 * The application-facing pair of streams every wstream socket hands out in
 * `opened`, whichever engine is behind it (wstream's codec or a runtime's
 * native WebSocket).
 */
import type { WebSocketMessage } from "./websocket_stream_like.ts";

/** What a socket engine does when the application uses its streams. */
export interface MessageStreamHooks {
  /** The application wants more messages (the readable's `pull`). */
  pull?: () => void;
  /** The application closed `writable`. */
  close: () => void;
  /**
   * The application aborted `writable` (queued writes were dropped).
   *
   * @param reason The abort reason.
   */
  aborted: (reason: unknown) => void;
  /** The application wrote a message; a returned promise holds it back. */
  write: (
    message: string | BufferSource | ArrayBufferView,
  ) => Promise<void> | void;
  /**
   * A write entered `writable`'s queue (counted synchronously, before the
   * engine sees it, so that `close()` can send its close frame only after
   * every message already written).
   */
  accepted: () => void;
  /**
   * `readable` was cancelled: messages are no longer wanted, and the
   * connection closes. What it throws rejects `cancel()`.
   *
   * @param reason The cancel reason.
   */
  cancelled: (reason: unknown) => void;
}

/** The streams and their controllers. */
export interface MessageStreams {
  /** Received messages for the application. */
  readable: ReadableStream<WebSocketMessage>;
  /** Messages the application sends. */
  writable: WritableStream<string | BufferSource | ArrayBufferView>;
  /** Enqueues into / ends `readable`. */
  messages: ReadableStreamDefaultController<WebSocketMessage>;
  /** Errors `writable`. */
  sink: WritableStreamDefaultController;
}

/**
 * Creates the pair: `readable` holds at most `readableHighWaterMark` of
 * message length (at least 1 per message) before its desired size goes to
 * zero; `writable` queues up to 16 messages.
 *
 * The underlying source and sink are one object with prototype methods, not
 * closures: an idle connection keeps every byte of this per connection.
 */
export function createMessageStreams(
  readableHighWaterMark: number,
  hooks: MessageStreamHooks,
): MessageStreams {
  const source = new MessageSource(hooks);
  const readable = new ReadableStream<WebSocketMessage>(source, {
    highWaterMark: readableHighWaterMark,
    size: messageSize,
  });
  const sink = new MessageSink(hooks);
  const writable = new WritableStream<
    string | BufferSource | ArrayBufferView
  >(sink, {
    highWaterMark: 16,
    // Called with no `this` (Streams standard): a closure is needed here.
    size: () => {
      hooks.accepted();
      return 1;
    },
  });
  return {
    readable,
    writable,
    messages: source.controller!,
    sink: sink.controller!,
  };
}

/** A message's share of `readable`'s high-water mark. */
function messageSize(message: WebSocketMessage): number {
  return Math.max(1, message.length);
}

/** The underlying source of `readable`. */
class MessageSource implements UnderlyingDefaultSource<WebSocketMessage> {
  readonly hooks: MessageStreamHooks;
  controller: ReadableStreamDefaultController<WebSocketMessage> | null = null;

  constructor(hooks: MessageStreamHooks) {
    this.hooks = hooks;
  }

  start(controller: ReadableStreamDefaultController<WebSocketMessage>): void {
    this.controller = controller;
  }

  pull(): void {
    this.hooks.pull?.();
  }

  cancel(reason: unknown): void {
    this.hooks.cancelled(reason);
  }
}

/** The underlying sink of `writable`. */
class MessageSink
  implements UnderlyingSink<string | BufferSource | ArrayBufferView> {
  readonly hooks: MessageStreamHooks;
  controller: WritableStreamDefaultController | null = null;

  constructor(hooks: MessageStreamHooks) {
    this.hooks = hooks;
  }

  start(controller: WritableStreamDefaultController): void {
    this.controller = controller;
  }

  write(
    message: string | BufferSource | ArrayBufferView,
  ): Promise<void> | void {
    return this.hooks.write(message);
  }

  close(): void {
    this.hooks.close();
  }

  abort(reason: unknown): void {
    this.hooks.aborted(reason);
  }
}
