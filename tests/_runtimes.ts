/**
 * The runtime a test file runs on, and the parts of `Deno.serve` and
 * `Bun.serve` the placement tests use, typed here so that the same file
 * type-checks and runs on Deno, Bun and Node. Private to the tests.
 *
 * @module
 */

/** The part of the `Deno` namespace the tests use. */
export interface DenoLike {
  serve(
    options: { port: number; hostname: string; onListen?: () => void },
    handler: (
      request: Request,
      info: { remoteAddr: { hostname: string; port: number } },
    ) => Response | Promise<Response>,
  ): { addr: { port: number }; shutdown(): Promise<void> };
}

/** The part of the `Bun` namespace the tests use. */
export interface BunLike {
  serve(options: Record<string, unknown>): {
    port: number;
    stop(closeActiveConnections?: boolean): unknown;
  };
}

/** `Deno`, or `undefined` off Deno. */
export const Deno: DenoLike | undefined =
  (globalThis as { Deno?: DenoLike }).Deno;
/** `Bun`, or `undefined` off Bun. */
export const Bun: BunLike | undefined = (globalThis as { Bun?: BunLike }).Bun;
/** The runtime's name, for skip reasons. */
export const runtime: "Deno" | "Bun" | "Node" = Deno !== undefined
  ? "Deno"
  : Bun !== undefined
  ? "Bun"
  : "Node";
