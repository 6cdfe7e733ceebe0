/**
 * A self-signed TLS certificate for tests, generated at test time with the
 * `openssl` command line (P-256, valid one day, for `localhost` and
 * `127.0.0.1`). Private to the tests; never re-exported.
 *
 * The certificate says `CA:FALSE`: `openssl req -x509` marks it a CA by
 * default, and rustls (Deno's `connectTls`) refuses a CA certificate as a
 * server's own ("CaUsedAsEndEntity").
 *
 * @module
 */

import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

/** A PEM certificate and its PEM private key. */
export interface TestCert {
  /** The certificate, PEM; also the CA certificate a client must trust. */
  cert: string;
  /** The private key, PEM (PKCS #8). */
  key: string;
}

let cached: TestCert | undefined;

/**
 * Returns a self-signed certificate for `localhost` / `127.0.0.1`, made
 * once per process with `openssl req -x509` in a temporary directory (which
 * is removed again).
 *
 * @returns The certificate and key, PEM.
 * @throws {Error} If `openssl` is missing or fails.
 */
export function generateSelfSignedCert(): TestCert {
  if (cached !== undefined) return { ...cached };
  const dir = mkdtempSync(join(tmpdir(), "wstream-cert-"));
  try {
    const certPath = join(dir, "cert.pem");
    const keyPath = join(dir, "key.pem");
    execFileSync("openssl", [
      "req",
      "-x509",
      "-newkey",
      "ec",
      "-pkeyopt",
      "ec_paramgen_curve:prime256v1",
      "-nodes",
      "-days",
      "1",
      "-subj",
      "/CN=localhost",
      "-addext",
      "subjectAltName=DNS:localhost,IP:127.0.0.1",
      "-addext",
      "basicConstraints=critical,CA:FALSE",
      "-keyout",
      keyPath,
      "-out",
      certPath,
    ], { stdio: ["ignore", "ignore", "pipe"], timeout: 10_000 });
    cached = {
      cert: readFileSync(certPath, "utf8"),
      key: readFileSync(keyPath, "utf8"),
    };
    return { ...cached };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
