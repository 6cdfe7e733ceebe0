/**
 * Who is in which room, across processes, kept by each process from the
 * room's own messages (no shared state in Redis):
 *
 * - Its **local** members it knows first-hand (join, rename, leave when
 *   the socket closes).
 * - **Remote** members it learns from the `presence` events and `roster`
 *   heartbeats other processes publish to the room. A heartbeat replaces
 *   everything known about that process in that room (so a missed leave is
 *   corrected), and each remote member expires {@linkcode EXPIRY_MS} after
 *   its process last spoke for it: the users of a crashed process
 *   disappear after that, plus up to one heartbeat (the sweep's period).
 *
 * @module
 */
import type { MemberInfo } from "./protocol.ts";

/** How often a process announces its members of each room. */
export const HEARTBEAT_MS = 5000;
/** How long a remote member stays without its process's heartbeat. */
export const EXPIRY_MS = 3 * HEARTBEAT_MS;

interface Entry extends MemberInfo {
  /** The process it is connected to. */
  origin: string;
  /** When it expires (`Infinity` for local members). */
  expires: number;
}

/** The members of every room this process knows, local and remote. */
export class Presence {
  readonly #origin: string;
  readonly #rooms = new Map<string, Map<string, Entry>>();

  /**
   * @param origin This process's id, as it appears in its own events.
   */
  constructor(origin: string) {
    this.#origin = origin;
  }

  /** This process's id. */
  get origin(): string {
    return this.#origin;
  }

  /**
   * Adds or renames a member.
   *
   * @returns Whether the room's member list changed.
   */
  set(room: string, member: MemberInfo, origin = this.#origin): boolean {
    let entries = this.#rooms.get(room);
    if (entries === undefined) this.#rooms.set(room, entries = new Map());
    const before = entries.get(member.id);
    entries.set(member.id, {
      id: member.id,
      name: member.name,
      origin,
      expires: origin === this.#origin ? Infinity : Date.now() + EXPIRY_MS,
    });
    return before?.name !== member.name;
  }

  /**
   * Removes a member.
   *
   * @returns Whether it was there.
   */
  delete(room: string, id: string): boolean {
    const entries = this.#rooms.get(room);
    if (entries === undefined || !entries.delete(id)) return false;
    if (entries.size === 0) this.#rooms.delete(room);
    return true;
  }

  /**
   * Replaces what is known of `origin`'s members of `room` (a heartbeat).
   *
   * @returns Whether the room's member list changed.
   */
  replace(room: string, origin: string, members: MemberInfo[]): boolean {
    const entries = this.#rooms.get(room);
    let changed = false;
    const ids = new Set(members.map((member) => member.id));
    for (const entry of entries?.values() ?? []) {
      if (entry.origin === origin && !ids.has(entry.id)) {
        changed = this.delete(room, entry.id) || changed;
      }
    }
    for (const member of members) {
      changed = this.set(room, member, origin) || changed;
    }
    return changed;
  }

  /**
   * Removes the remote members whose process has not spoken for them for
   * {@linkcode EXPIRY_MS}.
   *
   * @returns The rooms whose member list changed.
   */
  expire(now = Date.now()): string[] {
    const changed: string[] = [];
    for (const [room, entries] of this.#rooms) {
      let any = false;
      for (const entry of entries.values()) {
        if (entry.expires <= now) any = this.delete(room, entry.id) || any;
      }
      if (any) changed.push(room);
    }
    return changed;
  }

  /** The members of a room, sorted by name. */
  members(room: string): MemberInfo[] {
    return [...this.#rooms.get(room)?.values() ?? []]
      .map(({ id, name }) => ({ id, name }))
      .sort((a, b) => a.name.localeCompare(b.name) || a.id.localeCompare(b.id));
  }

  /** This process's members of a room. */
  local(room: string): MemberInfo[] {
    return [...this.#rooms.get(room)?.values() ?? []]
      .filter((entry) => entry.origin === this.#origin)
      .map(({ id, name }) => ({ id, name }));
  }

  /** The rooms where this process has members. */
  localRooms(): string[] {
    return [...this.#rooms.keys()].filter((room) =>
      this.local(room).length > 0
    );
  }
}
