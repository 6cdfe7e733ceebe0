/**
 * The fuzzer's seeded pseudo-random source (sfc32, seeded through
 * splitmix32), and the per-input seeds: input `i` of target `t` under run
 * seed `s` gets its own stream, so that any one input is regenerated, and
 * replayed, from `(s, t, i)` alone.
 *
 * @module
 */

/** A deterministic pseudo-random source. */
export interface Random {
  /** A 32-bit unsigned integer. */
  u32(): number;
  /** A float in [0, 1). */
  float(): number;
  /** An integer in [0, max). */
  int(max: number): number;
  /** `true` with probability `p`. */
  chance(p: number): boolean;
  /** An integer in [0, max), biased toward small values (log-uniform). */
  small(max: number): number;
  /** `n` random bytes. */
  bytes(n: number): Uint8Array<ArrayBuffer>;
  /** A random element of a non-empty array. */
  pick<T>(items: readonly T[]): T;
}

/** splitmix32: a good 32-bit mixer for deriving seeds. */
export function mix32(value: number): number {
  let z = (value + 0x9e3779b9) >>> 0;
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
  return (z ^ (z >>> 16)) >>> 0;
}

/** A 32-bit hash of a string (FNV-1a), for target names in seeds. */
export function hashName(name: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < name.length; i++) {
    h = Math.imul(h ^ name.charCodeAt(i), 0x01000193) >>> 0;
  }
  return h;
}

/**
 * The seed of input `index` of `target` in a run seeded with `seed`.
 *
 * @param seed The run seed (32-bit).
 * @param target The target name.
 * @param index The input number, from 0.
 * @returns A 32-bit seed.
 */
export function inputSeed(seed: number, target: string, index: number): number {
  return mix32(
    mix32(seed ^ hashName(target)) ^ mix32(index + 0x632be5ab * (index >>> 31)),
  );
}

/**
 * Creates an sfc32 generator seeded from `seed` and a stream number (the
 * generator of an input and its runner use different streams).
 *
 * @param seed A 32-bit seed.
 * @param stream A small integer telling independent streams apart.
 * @returns The random source.
 */
export function createRandom(seed: number, stream = 0): Random {
  let a = mix32(seed ^ 0x1234567);
  let b = mix32(a ^ stream);
  let c = mix32(b + 0x7f4a7c15);
  let d = 1;
  const u32 = (): number => {
    const t = (((a + b) >>> 0) + d) >>> 0;
    d = (d + 1) >>> 0;
    a = b ^ (b >>> 9);
    b = (c + (c << 3)) >>> 0;
    c = ((c << 21) | (c >>> 11)) >>> 0;
    c = (c + t) >>> 0;
    return t;
  };
  for (let i = 0; i < 12; i++) u32();
  const float = (): number => u32() / 4294967296;
  const int = (max: number): number => Math.floor(float() * max);
  return {
    u32,
    float,
    int,
    chance: (p) => float() < p,
    small(max) {
      if (max <= 1) return 0;
      return Math.min(
        max - 1,
        Math.floor(Math.exp(float() * Math.log(max))) - 1 + int(2),
      );
    },
    bytes(n) {
      const bytes = new Uint8Array(n);
      let i = 0;
      for (; i + 4 <= n; i += 4) {
        const v = u32();
        bytes[i] = v;
        bytes[i + 1] = v >>> 8;
        bytes[i + 2] = v >>> 16;
        bytes[i + 3] = v >>> 24;
      }
      for (; i < n; i++) bytes[i] = u32();
      return bytes;
    },
    pick(items) {
      if (items.length === 0) throw new RangeError("Cannot pick from nothing");
      return items[int(items.length)]!;
    },
  };
}
