/**
 * The chat's JSON messages and the server's checks on what a client sends:
 * lengths, the name and room charsets, the per-socket rate limit.
 *
 * What a bad message costs the client (decided here, applied by
 * `server.ts`):
 *
 * - **A mistake a person can make** (a name with a forbidden character, an
 *   empty or too long chat line, saying something before joining) gets an
 *   `{ type: "error", message }` reply; the connection stays open.
 * - **A client that does not speak the protocol** is closed: a binary
 *   message with **1003** (unsupported data: text only), text that is not
 *   JSON with **1007** (invalid payload data), JSON that is not one of the
 *   messages below with **1008** (policy violation). A message over
 *   {@linkcode MAX_FRAME_BYTES} is refused by wstream itself with **1009**.
 * - **Flooding**: past the rate limit a message is dropped with an error
 *   reply; a client that keeps going is closed with **1008**
 *   `"Too many messages"`.
 *
 * @module
 */

/** Longest chat message, in characters. */
export const MAX_TEXT_LENGTH = 500;
/** Longest WebSocket message the server accepts (else 1009), in bytes. */
export const MAX_FRAME_BYTES = 4096;
/** A name: 1-24 letters, digits, spaces, `_`, `.` or `-`, starting with a letter or digit. */
export const NAME_PATTERN: RegExp = /^[\p{L}\p{N}][\p{L}\p{N} _.-]{0,23}$/u;
/** A room: 1-32 of `a-z`, `0-9`, `-`, starting with a letter or digit (fits a URL hash). */
export const ROOM_PATTERN: RegExp = /^[a-z0-9][a-z0-9-]{0,31}$/;
/** Messages a socket may send per second, sustained. */
export const RATE_PER_SECOND = 5;
/** Messages a socket may send at once (the token bucket's size). */
export const RATE_BURST = 10;
/** Messages dropped in a row for the rate limit before the socket is closed. */
export const RATE_STRIKES = 20;

/** A member of a room as clients see it. */
export interface MemberInfo {
  /** Unique per connection. */
  id: string;
  /** The name the member chose. */
  name: string;
}

/** What a client sends. */
export type ClientMessage =
  /** Enter a room (leaving the current one) under a name. */
  | { type: "join"; room: string; name: string }
  /** Say something in the current room. */
  | { type: "say"; text: string }
  /** Change name, staying in the room. */
  | { type: "rename"; name: string };

/** What the server sends; the page ignores types it does not know. */
export type ServerMessage =
  /** The answer to `join`: who you are and who is in the room. */
  | {
    type: "welcome";
    room: string;
    you: MemberInfo;
    members: MemberInfo[];
    server: { runtime: string; pid: number; port: number; redis: boolean };
  }
  /** The room's members changed (sent per socket). */
  | { type: "members"; room: string; members: MemberInfo[] }
  /** A chat message (published to the room). */
  | {
    type: "chat";
    room: string;
    from: MemberInfo;
    text: string;
    time: number;
  }
  /** Someone joined, left or was renamed (published to the room). */
  | {
    type: "presence";
    room: string;
    event: "join" | "leave" | "rename";
    member: MemberInfo;
    /** The old name of a rename. */
    previous?: string;
    /** The process the member is connected to. */
    origin: string;
    time: number;
  }
  /**
   * A process's members of a room, published to the room on a heartbeat
   * and when another process announces a join; read by the other
   * processes (the page ignores it).
   */
  | { type: "roster"; room: string; origin: string; members: MemberInfo[] }
  /** A mistake of the client's: the connection stays open. */
  | { type: "error"; message: string };

/** Why a message closes the connection: a close code and reason. */
export interface Violation {
  /** 1003, 1007 or 1008. */
  closeCode: number;
  /** The close reason. */
  reason: string;
}

/**
 * Parses and checks a message from a client.
 *
 * @param data The WebSocket message.
 * @returns The message, an error for the client (`{ error }`), or the
 * close code and reason for a client that does not speak the protocol.
 */
export function parseClientMessage(
  data: string | Uint8Array,
): ClientMessage | { error: string } | Violation {
  if (typeof data !== "string") {
    return { closeCode: 1003, reason: "Send text (JSON) messages only" };
  }
  let value: unknown;
  try {
    value = JSON.parse(data);
  } catch {
    return { closeCode: 1007, reason: "Invalid JSON" };
  }
  if (typeof value !== "object" || value === null) {
    return { closeCode: 1008, reason: "Expected a JSON object" };
  }
  const message = value as Record<string, unknown>;
  switch (message.type) {
    case "join": {
      const room = checkRoom(message.room);
      if (typeof room !== "string") return room;
      const name = checkName(message.name);
      if (typeof name !== "string") return name;
      return { type: "join", room, name };
    }
    case "rename": {
      const name = checkName(message.name);
      if (typeof name !== "string") return name;
      return { type: "rename", name };
    }
    case "say": {
      if (typeof message.text !== "string") {
        return { closeCode: 1008, reason: "Expected text to be a string" };
      }
      const text = message.text.trim();
      if (text === "") return { error: "Cannot send an empty message" };
      if (text.length > MAX_TEXT_LENGTH) {
        return {
          error:
            `Cannot send ${text.length} characters: at most ${MAX_TEXT_LENGTH}`,
        };
      }
      return { type: "say", text };
    }
    default:
      return { closeCode: 1008, reason: "Unknown message type" };
  }
}

function checkName(value: unknown): string | { error: string } | Violation {
  if (typeof value !== "string") {
    return { closeCode: 1008, reason: "Expected name to be a string" };
  }
  const name = value.trim();
  if (!NAME_PATTERN.test(name)) {
    return {
      error: `Cannot use the name "${
        name.slice(0, 40)
      }": use 1-24 letters, digits, spaces, _ . or -`,
    };
  }
  return name;
}

function checkRoom(value: unknown): string | { error: string } | Violation {
  if (typeof value !== "string") {
    return { closeCode: 1008, reason: "Expected room to be a string" };
  }
  const room = value.trim().toLowerCase();
  if (!ROOM_PATTERN.test(room)) {
    return {
      error: `Cannot join the room "${
        room.slice(0, 40)
      }": use 1-32 of a-z, 0-9 and -`,
    };
  }
  return room;
}

/**
 * A token bucket: {@linkcode RATE_BURST} messages at once,
 * {@linkcode RATE_PER_SECOND} a second sustained.
 */
export class RateLimit {
  #tokens = RATE_BURST;
  #last = Date.now();
  #strikes = 0;

  /**
   * Takes a token for one message.
   *
   * @returns `"ok"`, `"drop"` (over the limit) or `"close"` (over it
   * {@linkcode RATE_STRIKES} times in a row).
   */
  take(): "ok" | "drop" | "close" {
    const now = Date.now();
    this.#tokens = Math.min(
      RATE_BURST,
      this.#tokens + (now - this.#last) / 1000 * RATE_PER_SECOND,
    );
    this.#last = now;
    if (this.#tokens >= 1) {
      this.#tokens--;
      this.#strikes = 0;
      return "ok";
    }
    return ++this.#strikes >= RATE_STRIKES ? "close" : "drop";
  }
}
