/**
 * The application-facing pair of streams every wstream socket hands out in
 * `opened`, whichever engine is behind it (wstream's codec or a runtime's
 * native WebSocket).
 */
import type { WebSocketMessage } from "./websocket_connection.ts";

/** What a socket engine does when the application uses its streams. */
export interface MessageStreamHooks {
  /** The application wants more messages (the readable's `pull`). */
  pull?: () => void;
  /** The application cancelled `readable` or closed/aborted `writable`. */
  close: () => void;
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
  /** `readable` was cancelled: messages are no longer wanted. */
  cancelled: () => void;
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
 */
export function createMessageStreams(
  readableHighWaterMark: number,
  hooks: MessageStreamHooks,
): MessageStreams {
  let messages!: ReadableStreamDefaultController<WebSocketMessage>;
  let sink!: WritableStreamDefaultController;
  const readable = new ReadableStream<WebSocketMessage>({
    start: (controller) => {
      messages = controller;
    },
    pull: () => hooks.pull?.(),
    cancel: () => {
      hooks.cancelled();
      hooks.close();
    },
  }, {
    highWaterMark: readableHighWaterMark,
    size: (message: WebSocketMessage) => Math.max(1, message.length),
  });
  const writable = new WritableStream<
    string | BufferSource | ArrayBufferView
  >({
    start: (controller) => {
      sink = controller;
    },
    write: hooks.write,
    close: hooks.close,
    abort: hooks.close,
  }, {
    highWaterMark: 16,
    size: () => {
      hooks.accepted();
      return 1;
    },
  });
  return { readable, writable, messages, sink };
}
