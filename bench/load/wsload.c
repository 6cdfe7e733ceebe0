/*
 * wsload: a WebSocket (RFC 6455) load client for echo-server benchmarks.
 *
 * Single-threaded, epoll (Linux), non-blocking sockets, libc only. Meant to
 * be pinned to its own core (taskset) so that it is clearly not the
 * bottleneck; it reports its own CPU use to prove it.
 *
 * Build:  cc -O2 -Wall -Wextra -o wsload wsload.c -lz -lm
 *         (with -lm; bench/_load_client.ts builds it to bench/.build/wsload.)
 *
 * Usage:
 *   wsload --port P [--host 127.0.0.1] [--path /] --mode echo|rate|bulk|handshake
 *          [options]
 *
 *   echo:      --conns 64 --inflight 16 --size 32 --seconds 5 [--warmup 1]
 *              [--binary]
 *              Closed loop: each connection keeps `inflight` messages
 *              outstanding; each echo received triggers the next send.
 *              Latency: round trip of each message from the moment it was
 *              queued for sending.
 *   rate:      --conns 16 --rate 20000 --size 32 --seconds 5 [--warmup 1]
 *              [--binary]
 *              Open loop: `rate` messages per second in total, message k
 *              scheduled at start + k/rate on connection k % conns.
 *              Latency is measured from each message's SCHEDULED send time
 *              (not the time it was actually written), so a client or
 *              server stall is charged in full (no coordinated omission).
 *   bulk:      --conns 4 --size 1048576 --seconds 5 [--warmup 1]
 *              Each connection sends one binary message of `size` bytes,
 *              waits for its full echo, repeats (echo with inflight 1;
 *              --inflight and --binary are ignored).
 *              mbPerSec = echoed payload, one direction, MB = 1e6 bytes.
 *   handshake: --conns 16 --seconds 5 [--warmup 1] [--echo-once [--size 32]]
 *              `conns` concurrent workers; each opens a TCP connection,
 *              does the HTTP/1.1 upgrade, checks the 101 and
 *              Sec-WebSocket-Accept, sends a masked close frame (1000),
 *              waits for the server's close frame or EOF, closes, repeats.
 *              handshakesPerSec = verified 101s per second; the latency
 *              fields hold the time from connect() to the verified 101.
 *              With --echo-once, each connection sends one message of
 *              --size bytes (default 32; text unless --binary) after the
 *              101 and waits for its verified echo before the close frame:
 *              a handshake then counts when that echo arrives
 *              (handshakesPerSec = connect + upgrade + one echo cycles per
 *              second, `messages` = the same count) and the latency fields
 *              hold the time from connect() to the verified echo.
 *              A worker stuck for 10 s on one connection is an error.
 *              The client closes as soon as the server's close frame
 *              arrives, so some TIME_WAIT sockets land on the client side
 *              (Linux reuses them for loopback connects: tcp_tw_reuse=2).
 *
 *   --warmup S   seconds run before the measured window (default 1, 0 ok);
 *                nothing is counted during warmup.
 *   --binary     binary frames (default: text frames, printable ASCII).
 *   --host H     server address (default 127.0.0.1; also sent as Host).
 *   --path P     request target of the upgrade request (default /).
 *
 * Messages and compression (echo and rate modes):
 *   --payloads chat|FILE
 *                realistic messages instead of the fixed pattern: `chat` is
 *                a built-in, deterministic set (fixed seed) of --count
 *                (default 1000) chat/event JSON messages of 100-2,000 bytes
 *                (log-uniform sizes; user ids, timestamps, rooms, text drawn
 *                from a word list, nested objects); FILE holds one message
 *                per line, each containing the placeholder
 *                "0000000000000000" (overwritten with the message's hex id).
 *                Message seq of connection i is payload
 *                (i * 7919 + seq) % count with its 16-byte id; --size is
 *                ignored. --dump-payloads prints the set and exits.
 *   --deflate    offer permessage-deflate (RFC 7692) in the handshake:
 *                "permessage-deflate; client_max_window_bits[=N]" (+ the
 *                options below). The run FAILS if any server answer does
 *                not accept it. Every message is sent compressed (raw
 *                deflate, Z_SYNC_FLUSH, trailing 00 00 ff ff stripped, RSV1
 *                set, masked; context kept between messages unless
 *                client_no_context_takeover was agreed; window = the agreed
 *                client_max_window_bits, else N, else 15; without context
 *                takeover a payload's text after its id is compressed once
 *                and each message is sent as a stored deflate block with
 *                the head and id + that compressed tail, so that the
 *                client's zlib cost does not make it the bottleneck: see
 *                precompressed_msg); echoes with RSV1
 *                are inflated (00 00 ff ff appended) before the byte-for-
 *                byte check, echoes without it are checked as they are.
 *   --window-bits N        offer client_max_window_bits=N (8-15; 9-15 in
 *                          practice: zlib cannot deflate with 8)
 *   --server-window-bits N also offer server_max_window_bits=N
 *   --no-context-takeover  also offer client_no_context_takeover and
 *                          server_no_context_takeover
 *   --level L, --mem-level M  the client's zlib level (default -1 = 6) and
 *                          memLevel (default 8)
 *
 * Wire bytes: every data frame sent and received in the measured window is
 * counted whole (header, mask key, payload; not TCP/IP); the output gives
 * them per message in each direction beside the uncompressed payload bytes
 * per message, so compression ratios are wire / payload.
 *
 * Before the timed phase (echo, rate, bulk) all connections are opened and
 * upgraded; the client fails if that takes more than 10 s.
 *
 * Payload: a fixed printable-ASCII pattern of `size` bytes whose first
 * min(size, 16) bytes are replaced by a hex counter (connection index and
 * per-connection sequence number), so every message differs. Echoes are
 * checked against the payload regenerated from the per-connection receive
 * sequence number: opcode, length and every byte, in order, whatever the
 * TCP chunking or fragmentation (continuation frames) the server uses.
 *
 * Output: one JSON line on stdout, e.g.
 *   {"mode":"echo","conns":64,"inflight":16,"size":32,"seconds":5.000,
 *    "messages":123,"msgPerSec":..,"mbPerSec":..,"p50Us":..,"p99Us":..,
 *    "p999Us":..,"handshakes":0,"handshakesPerSec":0.0,
 *    "clientCpuSeconds":..,"clientCpuShare":..,"errors":0,"deflate":false,
 *    "extensions":"","payloadBytesPerMsg":32.0,"txWireBytesPerMsg":38.0,
 *    "rxWireBytesPerMsg":34.0,"rxCompressedShare":0.000}
 * (extensions: the first connection's Sec-WebSocket-Extensions answer;
 * rxCompressedShare: the fraction of echoes that came with RSV1.)
 * `seconds` is the measured window as actually timed (CLOCK_MONOTONIC);
 * clientCpuSeconds is this process's user+system CPU time (getrusage)
 * during that window, clientCpuShare = clientCpuSeconds / seconds (1.0 =
 * the client's core was saturated: the client was the bottleneck).
 * Latencies come from a log-linear histogram (128 sub-buckets per power of
 * two: <= 0.4% error with bucket midpoints), in microseconds.
 *
 * Errors: any handshake failure, payload/opcode/length mismatch, protocol
 * error, unexpected close or connection error during setup or the timed
 * phase prints a message on stderr and exits with status 1. After the
 * timed phase every connection is sent a close frame (1000) and given at
 * most 1 s in total to close; problems during that shutdown are only
 * counted in `errors` (and noted on stderr).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

/* ------------------------------------------------------------------ */
/* Options                                                             */

enum mode { M_ECHO, M_RATE, M_BULK, M_HANDSHAKE };
static const char *const mode_names[] = {"echo", "rate", "bulk", "handshake"};

static struct {
  const char *host;
  const char *path;
  int port;
  int mode;
  int conns;
  int inflight;
  size_t size;
  double seconds;
  double warmup;
  double rate;
  int binary;
  int echo_once;        /* handshake mode: one echo before the close */
  /* Messages and compression. */
  const char *payloads; /* NULL: the fixed pattern */
  int payload_count;
  int dump_payloads;
  int deflate;
  int client_wbits;     /* offered client_max_window_bits value; 0: no value */
  int server_wbits;     /* offered server_max_window_bits; 0: not offered */
  int no_context;
  int level, mem_level;
} opt;

/* Buffered message path (payloads or deflate): whole messages are built,
 * compressed, inflated and compared in buffers instead of streamed. */
static int buffered;

/* Messages of the buffered path: payload templates with a 16-byte slot
 * for the message's hex id. */
typedef struct payload {
  uint8_t *p;
  size_t n;
  size_t id_off;
} payload;
static payload *payload_set;
static int npayloads;
static size_t max_msg;             /* longest message */
static uint8_t *scratch;           /* one built message, max_msg bytes */
static uint8_t *zbuf;              /* one compressed message */
static size_t zcap;

/* ------------------------------------------------------------------ */
/* Utilities                                                           */

static void die(const char *fmt, ...) __attribute__((noreturn, format(printf, 1, 2)));
static void die(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fputs("wsload: ", stderr);
  vfprintf(stderr, fmt, ap);
  fputc('\n', stderr);
  va_end(ap);
  exit(1);
}

static void *xrealloc(void *p, size_t n) {
  void *q = realloc(p, n);
  if (q == NULL) die("out of memory (%zu bytes)", n);
  return q;
}

static inline int64_t mono_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static double cpu_seconds(void) {
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 +
         (double)ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
}

/* xorshift64* PRNG, seeded from /dev/urandom. Used for masking keys and
 * Sec-WebSocket-Key values: masking only exists to defeat cache-poisoning
 * attacks on intermediaries by untrusted (browser) code, so a load client
 * talking to its own benchmark server does not need CSPRNG keys. */
static uint64_t rng_state = 0x9E3779B97F4A7C15ULL;

static inline uint64_t rng64(void) {
  uint64_t x = rng_state;
  x ^= x >> 12;
  x ^= x << 25;
  x ^= x >> 27;
  rng_state = x;
  return x * 0x2545F4914F6CDD1DULL;
}

static void rng_seed(void) {
  uint64_t seed = 0;
  FILE *f = fopen("/dev/urandom", "rb");
  if (f != NULL) {
    if (fread(&seed, sizeof seed, 1, f) != 1) seed = 0;
    fclose(f);
  }
  seed ^= (uint64_t)mono_ns() ^ ((uint64_t)getpid() << 32);
  rng_state = seed ? seed : 0x9E3779B97F4A7C15ULL;
}

/* SHA-1 (FIPS 180-4), only for Sec-WebSocket-Accept. */
static inline uint32_t rol32(uint32_t x, int n) { return (x << n) | (x >> (32 - n)); }

static void sha1_block(uint32_t h[5], const uint8_t *p) {
  uint32_t w[80];
  for (int t = 0; t < 16; t++)
    w[t] = (uint32_t)p[4 * t] << 24 | (uint32_t)p[4 * t + 1] << 16 |
           (uint32_t)p[4 * t + 2] << 8 | (uint32_t)p[4 * t + 3];
  for (int t = 16; t < 80; t++) w[t] = rol32(w[t - 3] ^ w[t - 8] ^ w[t - 14] ^ w[t - 16], 1);
  uint32_t a = h[0], b = h[1], c = h[2], d = h[3], e = h[4];
  for (int t = 0; t < 80; t++) {
    uint32_t f, k;
    if (t < 20) {
      f = (b & c) | (~b & d);
      k = 0x5A827999;
    } else if (t < 40) {
      f = b ^ c ^ d;
      k = 0x6ED9EBA1;
    } else if (t < 60) {
      f = (b & c) | (b & d) | (c & d);
      k = 0x8F1BBCDC;
    } else {
      f = b ^ c ^ d;
      k = 0xCA62C1D6;
    }
    uint32_t tmp = rol32(a, 5) + f + e + k + w[t];
    e = d;
    d = c;
    c = rol32(b, 30);
    b = a;
    a = tmp;
  }
  h[0] += a;
  h[1] += b;
  h[2] += c;
  h[3] += d;
  h[4] += e;
}

static void sha1(const uint8_t *msg, size_t len, uint8_t out[20]) {
  uint32_t h[5] = {0x67452301, 0xEFCDAB89, 0x98BADCFE, 0x10325476, 0xC3D2E1F0};
  size_t i = 0;
  for (; i + 64 <= len; i += 64) sha1_block(h, msg + i);
  uint8_t block[64];
  size_t rem = len - i;
  memset(block, 0, sizeof block);
  memcpy(block, msg + i, rem);
  block[rem] = 0x80;
  if (rem >= 56) {
    sha1_block(h, block);
    memset(block, 0, sizeof block);
  }
  uint64_t bits = (uint64_t)len * 8;
  for (int j = 0; j < 8; j++) block[63 - j] = (uint8_t)(bits >> (8 * j));
  sha1_block(h, block);
  for (int j = 0; j < 5; j++) {
    out[4 * j] = (uint8_t)(h[j] >> 24);
    out[4 * j + 1] = (uint8_t)(h[j] >> 16);
    out[4 * j + 2] = (uint8_t)(h[j] >> 8);
    out[4 * j + 3] = (uint8_t)h[j];
  }
}

/* Base64 (RFC 4648, padded); out must hold 4 * ceil(n / 3) + 1 bytes. */
static void base64(const uint8_t *in, size_t n, char *out) {
  static const char tbl[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  size_t o = 0, i = 0;
  for (; i + 3 <= n; i += 3) {
    uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];
    out[o++] = tbl[v >> 18];
    out[o++] = tbl[(v >> 12) & 63];
    out[o++] = tbl[(v >> 6) & 63];
    out[o++] = tbl[v & 63];
  }
  if (n - i == 1) {
    uint32_t v = (uint32_t)in[i] << 16;
    out[o++] = tbl[v >> 18];
    out[o++] = tbl[(v >> 12) & 63];
    out[o++] = '=';
    out[o++] = '=';
  } else if (n - i == 2) {
    uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8;
    out[o++] = tbl[v >> 18];
    out[o++] = tbl[(v >> 12) & 63];
    out[o++] = tbl[(v >> 6) & 63];
    out[o++] = '=';
  }
  out[o] = '\0';
}

/* accept = base64(SHA-1(key + GUID)): 28 characters + NUL. */
static void ws_accept(const char *key, char out[29]) {
  static const char guid[] = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
  uint8_t buf[128], digest[20];
  size_t kl = strlen(key);
  memcpy(buf, key, kl);
  memcpy(buf + kl, guid, sizeof guid - 1);
  sha1(buf, kl + sizeof guid - 1, digest);
  base64(digest, 20, out);
}

/* dst[i] = src[i] ^ key[i % 4], 8 bytes at a time. */
static void mask_copy(uint8_t *dst, const uint8_t *src, size_t n, const uint8_t key[4]) {
  uint32_t k32;
  memcpy(&k32, key, 4);
  uint64_t k = (uint64_t)k32 << 32 | k32; /* same byte pattern on any endianness */
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    uint64_t v;
    memcpy(&v, src + i, 8);
    v ^= k;
    memcpy(dst + i, &v, 8);
  }
  for (; i < n; i++) dst[i] = src[i] ^ key[i & 3];
}

/* ------------------------------------------------------------------ */
/* Latency histogram: log-linear, values in ns. v < 256 exact; above,   */
/* 128 sub-buckets per power of two (bucket width <= 1/128 of value).   */

#define HIST_BUCKETS (57 * 128 + 128)
static uint64_t hist[HIST_BUCKETS];
static uint64_t hist_count;

static inline void hist_record(int64_t v) {
  if (v < 0) v = 0;
  uint64_t u = (uint64_t)v;
  size_t idx;
  if (u < 256) {
    idx = (size_t)u;
  } else {
    int e = 63 - __builtin_clzll(u);
    idx = (size_t)(e - 7) * 128 + (size_t)(u >> (e - 7));
  }
  hist[idx]++;
  hist_count++;
}

/* Value (µs) at quantile q: the midpoint of the bucket holding that rank. */
static double hist_quantile_us(double q) {
  if (hist_count == 0) return 0;
  uint64_t rank = (uint64_t)(q * (double)hist_count);
  if ((double)rank < q * (double)hist_count) rank++;
  if (rank < 1) rank = 1;
  uint64_t seen = 0;
  for (size_t i = 0; i < HIST_BUCKETS; i++) {
    seen += hist[i];
    if (seen >= rank) {
      double lo, width;
      if (i < 256) {
        lo = (double)i;
        width = 1;
      } else {
        int e = (int)(i / 128) + 6;
        lo = (double)((uint64_t)(i % 128 + 128) << (e - 7));
        width = (double)(1ULL << (e - 7));
      }
      return (lo + (width - 1) / 2) / 1000.0;
    }
  }
  return 0;
}

/* ------------------------------------------------------------------ */
/* Payloads: built-in chat/event JSON messages or a file               */

/* splitmix64 with a fixed seed: the same messages on every run. */
static uint64_t gen_state;
static uint64_t gen64(void) {
  uint64_t z = (gen_state += 0x9E3779B97F4A7C15ULL);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}
static unsigned gen_below(unsigned n) { return (unsigned)(gen64() % n); }

static const char *const words[] = {
    "the", "a", "to", "and", "of", "in", "is", "it", "you", "that", "for", "on", "we", "this", "with", "be", "are",
    "have", "not", "at", "just", "so", "but", "can", "will", "if", "do", "what", "my", "me", "all", "get", "about",
    "out", "up", "no", "yes", "ok", "thanks", "please", "lol", "today", "tomorrow", "meeting", "deploy", "build",
    "release", "review", "merge", "branch", "ticket", "customer", "dashboard", "latency", "server", "client",
    "database", "migration", "rollback", "incident", "alert", "metrics", "queue", "worker", "cache", "config",
    "staging", "production", "weekend", "lunch", "coffee", "standup", "sprint", "estimate", "blocked", "done",
    "looks", "good", "great", "sounds", "think", "should", "could", "would", "maybe", "probably", "again", "later",
    "soon", "now", "here", "there", "because", "after", "before", "since", "still", "already", "also", "only",
    "really", "pretty", "sure", "right", "wrong", "broken", "fixed", "works", "failing", "flaky", "test", "tests",
    "pipeline", "logs", "error", "timeout", "retry", "users", "team", "design", "doc", "link", "call", "channel",
    "thread", "update", "status", "question", "answer", "issue", "feature", "bug", "patch", "version", "schema",
    "endpoint", "payload", "token", "session", "region", "cluster", "node", "disk", "memory", "cpu", "spike",
    "graph", "p99", "budget", "roadmap", "quarter", "launch", "demo", "feedback", "notes", "agenda", "ping"};
#define NWORDS (sizeof words / sizeof words[0])
static const char *const names[] = {"ada", "grace", "linus", "margaret", "ken", "barbara", "dennis", "frances",
                                    "alan", "radia", "edsger", "hedy", "donald", "sophie", "tim", "katherine"};
static const char *const kinds[] = {"typing", "presence", "read", "join", "leave"};
static const char *const statuses[] = {"online", "away", "busy", "offline"};
static const char *const emoji[] = {"+1", "eyes", "tada", "rocket", "heart", "laughing", "white_check_mark"};
static const char *const oses[] = {"ios", "android", "web", "macos", "windows", "linux"};

typedef struct sbuf {
  char *p;
  size_t n, cap;
} sbuf;

static void sb_add(sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void sb_add(sbuf *b, const char *fmt, ...) {
  for (;;) {
    va_list ap;
    va_start(ap, fmt);
    int k = vsnprintf(b->p + b->n, b->cap - b->n, fmt, ap);
    va_end(ap);
    if (k < 0) die("internal error: vsnprintf");
    if ((size_t)k < b->cap - b->n) {
      b->n += (size_t)k;
      return;
    }
    b->cap = b->cap * 2 + (size_t)k + 64;
    b->p = xrealloc(b->p, b->cap);
  }
}

/* Words until the message, once `tail` more bytes close it, is >= target. */
static void sb_words(sbuf *b, size_t target, size_t tail, int min_words) {
  int k = 0;
  while (k < min_words || b->n + tail < target) {
    sb_add(b, "%s%s", k ? " " : "", words[gen_below(NWORDS)]);
    k++;
  }
}

static void sb_user(sbuf *b) {
  unsigned uid = 1000 + gen_below(90000);
  sb_add(b, "{\"id\":%u,\"name\":\"%s_%u\",\"avatar\":\"https://cdn.example.com/a/%u.png\",\"roles\":[\"member\"%s]}",
         uid, names[gen_below(16)], uid % 1000, uid, gen_below(8) == 0 ? ",\"moderator\"" : "");
}

/* One message of about `target` bytes (100-2,000). The id slot is
 * "0000000000000000" right after {"id":" (offset 7). */
static void gen_message(sbuf *b, size_t target, uint64_t ts) {
  b->n = 0;
  unsigned room = gen_below(40);
  if (target < 180) {
    sb_add(b, "{\"id\":\"0000000000000000\",\"type\":\"%s\",\"room\":\"room-%u\",\"user\":%u,\"ts\":%llu,\"note\":\"",
           kinds[gen_below(5)], room, 1000 + gen_below(90000), (unsigned long long)ts);
    sb_words(b, target, 2, 1);
    sb_add(b, "\"}");
  } else if (target < 700) {
    sb_add(b, "{\"id\":\"0000000000000000\",\"type\":\"message\",\"room\":\"room-%u\",\"ts\":%llu,\"user\":", room,
           (unsigned long long)ts);
    sb_user(b);
    if (gen_below(3) == 0) {
      sb_add(b, ",\"event\":{\"kind\":\"%s\",\"status\":\"%s\",\"device\":{\"os\":\"%s\",\"app\":\"%u.%u.%u\"}}",
             kinds[gen_below(5)], statuses[gen_below(4)], oses[gen_below(6)], 1 + gen_below(3), gen_below(30),
             gen_below(10));
    }
    sb_add(b, ",\"mentions\":[");
    unsigned m = gen_below(3);
    for (unsigned i = 0; i < m; i++) sb_add(b, "%s%u", i ? "," : "", 1000 + gen_below(90000));
    sb_add(b, "],\"reactions\":{");
    unsigned r = gen_below(3);
    for (unsigned i = 0; i < r; i++) sb_add(b, "%s\"%s\":%u", i ? "," : "", emoji[(i * 3 + gen_below(2)) % 7], 1 + gen_below(9));
    sb_add(b, "},\"text\":\"");
    sb_words(b, target, 2, 3);
    sb_add(b, "\"}");
  } else {
    sb_add(b, "{\"id\":\"0000000000000000\",\"type\":\"history\",\"room\":\"room-%u\",\"ts\":%llu,\"cursor\":\"c%llx\",\"items\":[",
           room, (unsigned long long)ts, (unsigned long long)(gen64() & 0xffffffffffULL));
    int first = 1;
    for (;;) {
      sb_add(b, "%s{\"seq\":%u,\"ts\":%llu,\"user\":", first ? "" : ",", gen_below(1000000),
             (unsigned long long)(ts - gen_below(3600000)));
      first = 0;
      sb_user(b);
      sb_add(b, ",\"edited\":%s,\"text\":\"", gen_below(5) == 0 ? "true" : "false");
      if (b->n + 450 < target) {
        sb_words(b, 0, 0, 4 + (int)gen_below(30));
        sb_add(b, "\"}");
      } else {
        sb_words(b, target, 4, 2);
        sb_add(b, "\"}]}");
        break;
      }
    }
  }
}

static void add_payload(const uint8_t *p, size_t n, size_t id_off) {
  payload_set = xrealloc(payload_set, sizeof *payload_set * (size_t)(npayloads + 1));
  payload *pl = &payload_set[npayloads++];
  pl->p = xrealloc(NULL, n ? n : 1);
  memcpy(pl->p, p, n);
  pl->n = n;
  pl->id_off = id_off;
  if (n > max_msg) max_msg = n;
}

static void load_payloads(void) {
  if (strcmp(opt.payloads, "chat") == 0) {
    gen_state = 0x5EED0F0C4A7ULL;
    sbuf b = {xrealloc(NULL, 4096), 0, 4096};
    uint64_t ts = 1763900000000ULL;
    for (int i = 0; i < opt.payload_count; i++) {
      /* Log-uniform target size in [100, 1984]. */
      double u = (double)(gen64() >> 11) / 9007199254740992.0;
      size_t target = (size_t)(100.0 * exp(u * log(19.84)));
      ts += 1 + gen_below(5000);
      gen_message(&b, target, ts);
      if (b.n < 100 || b.n > 2000) die("internal error: generated message of %zu bytes", b.n);
      add_payload((const uint8_t *)b.p, b.n, 7);
    }
    free(b.p);
    return;
  }
  FILE *f = fopen(opt.payloads, "rb");
  if (f == NULL) die("cannot open --payloads file \"%s\": %s", opt.payloads, strerror(errno));
  char *line = NULL;
  size_t cap = 0;
  ssize_t len;
  int lineno = 0;
  while ((len = getline(&line, &cap, f)) >= 0) {
    lineno++;
    while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r')) len--;
    if (len == 0) continue;
    char *slot = memmem(line, (size_t)len, "0000000000000000", 16);
    if (slot == NULL) die("%s:%d: no \"0000000000000000\" placeholder for the message id", opt.payloads, lineno);
    if (len > (1 << 24)) die("%s:%d: message longer than 16 MiB", opt.payloads, lineno);
    add_payload((const uint8_t *)line, (size_t)len, (size_t)(slot - line));
  }
  free(line);
  fclose(f);
  if (npayloads == 0) die("--payloads file \"%s\" holds no messages", opt.payloads);
}

/* ------------------------------------------------------------------ */
/* Connections                                                         */

enum state { S_IDLE, S_CONNECTING, S_RESPONSE, S_OPEN, S_CLOSING, S_DONE };
enum phase { P_SETUP, P_WARMUP, P_MEASURE, P_STOP };

typedef struct conn {
  int fd;
  int idx;
  int state;
  int dirty;
  uint32_t events;      /* currently registered epoll events */
  char accept[29];      /* expected Sec-WebSocket-Accept */
  int64_t t_connect;
  uint8_t *rbuf;        /* unparsed input */
  size_t rlen, rcap;
  uint8_t *wbuf;        /* pending output: bytes [woff, wlen) */
  size_t woff, wlen, wcap;
  uint64_t send_seq;    /* next message to send */
  uint64_t recv_seq;    /* next message expected back */
  int64_t *ts;          /* ring of send (or scheduled) times, by seq */
  size_t tcap;          /* power of two */
  int in_msg;           /* inside a fragmented echo */
  size_t msg_off;       /* bytes of the current echo seen so far */
  /* Buffered path and permessage-deflate. */
  uint8_t *mbuf;        /* the current echo, inflated */
  size_t mcap;
  size_t msg_wire;      /* frame bytes of the current echo */
  int msg_compressed;   /* the current echo had RSV1 */
  int pmd;              /* permessage-deflate agreed */
  int tx_wbits;         /* our deflate window */
  int tx_no_context;    /* client_no_context_takeover agreed */
  int z_ready;
  z_stream def, inf;
} conn;

static conn *conns;
static int *dirty_list;
static int ndirty;
static int epfd = -1, tfd = -1;
static struct sockaddr_storage peer;
static socklen_t peer_len;
static int peer_family;
static uint8_t *pattern;
static int data_opcode;
static int phase = P_SETUP;
static int nopen;
static uint64_t n_messages, n_handshakes, n_errors;
static char request_head[2048];
static size_t request_head_len;
static char offer[256];            /* our Sec-WebSocket-Extensions offer */
static char first_answer[512];     /* the first connection's answer */
static int have_first_answer;
static uint64_t n_tx_msgs, n_tx_wire, n_rx_wire, n_rx_payload, n_rx_compressed;


#define TIMER_TAG 0xFFFFFFFFu

static int conn_finish(conn *c);

static void conn_close(conn *c) {
  if (c->fd >= 0) close(c->fd);
  c->fd = -1;
  if (c->state == S_OPEN) nopen--;
  c->state = S_DONE;
}

/* A connection-level failure: fatal unless the timed phase is over. */
static int conn_fail(conn *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int conn_fail(conn *c, const char *fmt, ...) {
  char msg[1024];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  if (phase != P_STOP) die("connection %d: %s", c->idx, msg);
  fprintf(stderr, "wsload: during shutdown, connection %d: %s\n", c->idx, msg);
  n_errors++;
  conn_close(c);
  return -1;
}

static void set_events(conn *c, uint32_t ev) {
  if (c->events == ev) return;
  struct epoll_event e = {.events = ev, .data.u32 = (uint32_t)c->idx};
  if (epoll_ctl(epfd, EPOLL_CTL_MOD, c->fd, &e) < 0) die("epoll_ctl: %s", strerror(errno));
  c->events = ev;
}

static inline void mark_dirty(conn *c) {
  if (!c->dirty) {
    c->dirty = 1;
    dirty_list[ndirty++] = c->idx;
  }
}

/* Room for `need` more output bytes; returns where to write them. */
static uint8_t *wreserve(conn *c, size_t need) {
  if (c->wlen + need > c->wcap) {
    if (c->woff > 0) {
      memmove(c->wbuf, c->wbuf + c->woff, c->wlen - c->woff);
      c->wlen -= c->woff;
      c->woff = 0;
    }
    if (c->wlen + need > c->wcap) {
      size_t n = c->wcap ? c->wcap : 4096;
      while (n < c->wlen + need) n *= 2;
      c->wbuf = xrealloc(c->wbuf, n);
      c->wcap = n;
    }
  }
  return c->wbuf + c->wlen;
}

/* Write pending output: one send() call; on a short write wait for EPOLLOUT. */
static int flush(conn *c) {
  if (c->woff < c->wlen) {
    ssize_t n;
    do {
      n = send(c->fd, c->wbuf + c->woff, c->wlen - c->woff, MSG_NOSIGNAL);
    } while (n < 0 && errno == EINTR);
    if (n < 0) {
      if (errno != EAGAIN && errno != EWOULDBLOCK) return conn_fail(c, "write: %s", strerror(errno));
    } else {
      c->woff += (size_t)n;
    }
  }
  if (c->woff == c->wlen) {
    c->woff = c->wlen = 0;
    set_events(c, EPOLLIN);
  } else {
    set_events(c, EPOLLIN | EPOLLOUT);
  }
  return 0;
}

static void flush_dirty(void) {
  for (int i = 0; i < ndirty; i++) {
    conn *c = &conns[dirty_list[i]];
    c->dirty = 0;
    if (c->fd >= 0 && c->state >= S_RESPONSE && !(c->events & EPOLLOUT)) flush(c);
  }
  ndirty = 0;
}

/* The varying part of a payload: 16 hex digits of (connection, seq). */
static inline void make_prefix(const conn *c, uint64_t seq, char out[16]) {
  static const char hx[] = "0123456789abcdef";
  uint64_t v = ((uint64_t)c->idx << 44) ^ seq;
  for (int i = 15; i >= 0; i--) {
    out[i] = hx[v & 15];
    v >>= 4;
  }
}

static size_t put_header(uint8_t *d, int opcode, size_t n) {
  size_t h = 0;
  d[h++] = (uint8_t)(0x80 | opcode);
  if (n < 126) {
    d[h++] = (uint8_t)(0x80 | n);
  } else if (n < 65536) {
    d[h++] = 0x80 | 126;
    d[h++] = (uint8_t)(n >> 8);
    d[h++] = (uint8_t)n;
  } else {
    d[h++] = 0x80 | 127;
    for (int i = 7; i >= 0; i--) d[h++] = (uint8_t)((uint64_t)n >> (8 * i));
  }
  uint64_t r = rng64();
  memcpy(d + h, &r, 4);
  return h + 4;
}

static void fifo_push(conn *c, int64_t t) {
  if (c->send_seq - c->recv_seq == c->tcap) {
    size_t ncap = c->tcap * 2;
    int64_t *nts = xrealloc(NULL, ncap * sizeof *nts);
    for (uint64_t s = c->recv_seq; s != c->send_seq; s++)
      nts[s & (ncap - 1)] = c->ts[s & (c->tcap - 1)];
    free(c->ts);
    c->ts = nts;
    c->tcap = ncap;
  }
  c->ts[c->send_seq & (c->tcap - 1)] = t;
  c->send_seq++;
}

/* Message seq of c, whole, into out (max_msg bytes); returns its length. */
static size_t build_msg(const conn *c, uint64_t seq, uint8_t *out) {
  char pre[16];
  make_prefix(c, seq, pre);
  if (npayloads > 0) {
    const payload *pl = &payload_set[((uint64_t)c->idx * 7919 + seq) % (uint64_t)npayloads];
    memcpy(out, pl->p, pl->n);
    memcpy(out + pl->id_off, pre, 16);
    return pl->n;
  }
  size_t n = opt.size, p = n < 16 ? n : 16;
  memcpy(out, pre + 16 - p, p);
  if (n > p) memcpy(out + p, pattern + p, n - p);
  return n;
}

static void zfail(conn *c, const char *what, int r, const z_stream *z) {
  die("connection %d: zlib %s failed (%d): %s", c->idx, what, r, z->msg ? z->msg : "no message");
}

/* The agreed permessage-deflate, after the 101: zlib states of c. */
static void deflate_setup(conn *c) {
  if (c->z_ready) {
    deflateEnd(&c->def);
    inflateEnd(&c->inf);
    c->z_ready = 0;
  }
  memset(&c->def, 0, sizeof c->def);
  memset(&c->inf, 0, sizeof c->inf);
  int bits = c->tx_wbits == 8 ? 9 : c->tx_wbits; /* zlib: raw deflate needs >= 9 */
  int r = deflateInit2(&c->def, opt.level, Z_DEFLATED, -bits, opt.mem_level, Z_DEFAULT_STRATEGY);
  if (r != Z_OK) zfail(c, "deflateInit2", r, &c->def);
  r = inflateInit2(&c->inf, -15);
  if (r != Z_OK) zfail(c, "inflateInit2", r, &c->inf);
  c->z_ready = 1;
}

/* Compress msg[0..n) as one permessage-deflate message into zbuf; returns
 * the compressed length (without the trailing 00 00 ff ff). */
static size_t compress_msg(conn *c, const uint8_t *msg, size_t n) {
  size_t need = deflateBound(&c->def, n) + 64;
  if (need > zcap) {
    zcap = need;
    zbuf = xrealloc(zbuf, zcap);
  }
  c->def.next_in = (Bytef *)msg;
  c->def.avail_in = (uInt)n;
  c->def.next_out = zbuf;
  c->def.avail_out = (uInt)zcap;
  int r = deflate(&c->def, Z_SYNC_FLUSH);
  if (r != Z_OK || c->def.avail_in != 0 || c->def.avail_out == 0) zfail(c, "deflate", r, &c->def);
  size_t out = zcap - c->def.avail_out;
  if (out < 4 || memcmp(zbuf + out - 4, "\x00\x00\xff\xff", 4) != 0)
    die("connection %d: deflate output does not end with 00 00 ff ff", c->idx);
  if (c->tx_no_context) {
    r = deflateReset(&c->def);
    if (r != Z_OK) zfail(c, "deflateReset", r, &c->def);
  }
  return out - 4;
}

/* Without context takeover a message compresses the same whatever was
 * sent before, so the client need not pay zlib for every message (it would
 * saturate its core before a fast server does): each payload's tail, after
 * its id, is compressed once (a fresh deflate stream, the agreed window,
 * --level, --mem-level, sync flush, 00 00 ff ff stripped); a message is
 * then a stored (uncompressed, non-final) deflate block holding the head
 * up to and including its id, followed by that compressed tail: one valid
 * deflate stream, as RFC 7692 allows. */
typedef struct ztail {
  uint8_t *p;
  size_t n;
} ztail;
static ztail *ztails;
static int ztails_wbits;

static const ztail *payload_ztail(conn *c, const payload *pl) {
  size_t i = (size_t)(pl - payload_set);
  if (ztails == NULL) {
    ztails = xrealloc(NULL, sizeof *ztails * (size_t)npayloads);
    memset(ztails, 0, sizeof *ztails * (size_t)npayloads);
    ztails_wbits = c->tx_wbits;
  }
  if (ztails_wbits != c->tx_wbits) die("connections agreed different client windows (%d, %d)", ztails_wbits, c->tx_wbits);
  ztail *z = &ztails[i];
  if (z->p == NULL) {
    size_t head = pl->id_off + 16;
    int r = deflateReset(&c->def);
    if (r != Z_OK) zfail(c, "deflateReset", r, &c->def);
    size_t n = compress_msg(c, pl->p + head, pl->n - head); /* resets again after */
    z->p = xrealloc(NULL, n ? n : 1);
    memcpy(z->p, zbuf, n);
    z->n = n;
  }
  return z;
}

/* The next message of c as [stored block: head + id][compressed tail]. */
static size_t precompressed_msg(conn *c, uint64_t seq) {
  const payload *pl = &payload_set[((uint64_t)c->idx * 7919 + seq) % (uint64_t)npayloads];
  const ztail *z = payload_ztail(c, pl);
  size_t head = pl->id_off + 16, n = 5 + head + z->n;
  if (n > zcap) {
    zcap = n + 64;
    zbuf = xrealloc(zbuf, zcap);
  }
  zbuf[0] = 0x00; /* BFINAL 0, BTYPE 00 (stored), padded to the byte */
  zbuf[1] = (uint8_t)head;
  zbuf[2] = (uint8_t)(head >> 8);
  zbuf[3] = (uint8_t)~head;
  zbuf[4] = (uint8_t)(~head >> 8);
  char pre[16];
  make_prefix(c, seq, pre);
  memcpy(zbuf + 5, pl->p, pl->id_off);
  memcpy(zbuf + 5 + pl->id_off, pre, 16);
  memcpy(zbuf + 5 + head, z->p, z->n);
  return n;
}

/* Buffered path: build, maybe compress, frame and mask the next message. */
static void put_message_buffered(conn *c, int64_t t) {
  size_t n;
  const uint8_t *src = scratch;
  int first = data_opcode;
  if (c->pmd && c->tx_no_context && npayloads > 0) {
    n = precompressed_msg(c, c->send_seq);
    src = zbuf;
    first |= 0x40;
  } else if ((n = build_msg(c, c->send_seq, scratch)), c->pmd) {
    n = compress_msg(c, scratch, n);
    src = zbuf;
    first |= 0x40; /* RSV1: compressed */
  }
  uint8_t *d = wreserve(c, n + 14);
  size_t h = put_header(d, first, n);
  mask_copy(d + h, src, n, d + h - 4);
  c->wlen += h + n;
  if (phase == P_MEASURE) {
    n_tx_msgs++;
    n_tx_wire += h + n;
  }
  fifo_push(c, t);
  mark_dirty(c);
}

/* Queue the next data message of c (masked), remembering time t. */
static void put_message(conn *c, int64_t t) {
  if (buffered) {
    put_message_buffered(c, t);
    return;
  }
  size_t n = opt.size;
  uint8_t *d = wreserve(c, n + 14);
  size_t h = put_header(d, data_opcode, n);
  const uint8_t *key = d + h - 4;
  char pre[16];
  make_prefix(c, c->send_seq, pre);
  size_t p = n < 16 ? n : 16;
  mask_copy(d + h, (const uint8_t *)pre + 16 - p, p, key);
  if (n > p) mask_copy(d + h + p, pattern + p, n - p, key); /* p == 16: key phase 0 */
  c->wlen += h + n;
  if (phase == P_MEASURE) {
    n_tx_msgs++;
    n_tx_wire += h + n;
  }
  fifo_push(c, t);
  mark_dirty(c);
}

static void put_control(conn *c, int opcode, const uint8_t *data, size_t n) {
  uint8_t *d = wreserve(c, n + 6);
  size_t h = put_header(d, opcode, n);
  mask_copy(d + h, data, n, d + h - 4);
  c->wlen += h + n;
  mark_dirty(c);
}

static void put_close(conn *c) {
  static const uint8_t code[2] = {0x03, 0xE8}; /* 1000 */
  put_control(c, 8, code, 2);
  if (c->state == S_OPEN) nopen--;
  c->state = S_CLOSING;
}

static void connect_failed(int err) __attribute__((noreturn));
static void connect_failed(int err) {
  if (err == ECONNREFUSED) die("connection refused by %s:%d (is the server running?)", opt.host, opt.port);
  die("connect to %s:%d: %s", opt.host, opt.port, strerror(err));
}

/* Open a connection and send the upgrade request. On loopback the TCP
 * handshake has usually completed by the time connect() returns
 * EINPROGRESS, so the request is sent at once; only if the socket is still
 * connecting (EAGAIN) do we wait for EPOLLOUT. */
static void conn_start(conn *c) {
  int fd = socket(peer_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) die("socket: %s", strerror(errno));
  if (opt.mode != M_HANDSHAKE) {
    /* Pipelined small frames. (Handshake mode never has unacknowledged
     * data when it writes, so Nagle cannot delay it.) */
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  }
  c->fd = fd;
  c->rlen = 0;
  c->woff = c->wlen = 0;
  c->send_seq = c->recv_seq = 0;
  c->in_msg = 0;
  c->msg_off = 0;
  c->pmd = 0;
  c->t_connect = mono_ns();
  if (connect(fd, (struct sockaddr *)&peer, peer_len) < 0 && errno != EINPROGRESS) connect_failed(errno);

  uint8_t raw[16];
  uint64_t r1 = rng64(), r2 = rng64();
  memcpy(raw, &r1, 8);
  memcpy(raw + 8, &r2, 8);
  char key[25];
  base64(raw, 16, key);
  ws_accept(key, c->accept);
  uint8_t *d = wreserve(c, request_head_len + 24 + 4);
  memcpy(d, request_head, request_head_len);
  memcpy(d + request_head_len, key, 24);
  memcpy(d + request_head_len + 24, "\r\n\r\n", 4);
  c->wlen += request_head_len + 28;

  ssize_t n;
  do {
    n = send(fd, c->wbuf, c->wlen, MSG_NOSIGNAL);
  } while (n < 0 && errno == EINTR);
  uint32_t ev;
  if (n < 0) {
    if (errno != EAGAIN && errno != EWOULDBLOCK) connect_failed(errno == EPIPE ? ECONNREFUSED : errno);
    c->state = S_CONNECTING;
    ev = EPOLLOUT;
  } else {
    c->woff = (size_t)n;
    if (c->woff == c->wlen) c->woff = c->wlen = 0;
    c->state = S_RESPONSE;
    ev = c->wlen ? EPOLLIN | EPOLLOUT : EPOLLIN;
  }
  struct epoll_event e = {.events = ev, .data.u32 = (uint32_t)c->idx};
  if (epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &e) < 0) die("epoll_ctl: %s", strerror(errno));
  c->events = ev;
}

/* The TCP connection is up (it was still connecting in conn_start): send
 * the upgrade request. */
static int on_connected(conn *c) {
  int err = 0;
  socklen_t len = sizeof err;
  if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0) err = errno;
  if (err != 0 && phase != P_STOP) connect_failed(err);
  if (err != 0) return conn_fail(c, "connect to %s:%d: %s", opt.host, opt.port, strerror(err));
  c->state = S_RESPONSE;
  return flush(c);
}

static int hdr_name_is(const char *line, size_t nlen, const char *name) {
  return strlen(name) == nlen && strncasecmp(line, name, nlen) == 0;
}

static int contains_token_ci(const char *v, size_t vlen, const char *tok) {
  size_t tl = strlen(tok);
  for (size_t i = 0; i + tl <= vlen; i++)
    if (strncasecmp(v + i, tok, tl) == 0) return 1;
  return 0;
}

static int process_frames(conn *c, int64_t t);

/* A Sec-WebSocket-Extensions answer to our permessage-deflate offer
 * (RFC 7692 section 7.1): exactly one permessage-deflate with parameters
 * we can accept. Sets c->pmd, c->tx_wbits, c->tx_no_context. */
static int parse_extension_answer(conn *c, const char *v, size_t vl) {
  if (!opt.deflate) return conn_fail(c, "server accepted an extension that was not offered: \"%.*s\"", (int)vl, v);
  if (c->pmd) return conn_fail(c, "more than one Sec-WebSocket-Extensions header in the 101 response");
  char buf[512];
  if (vl >= sizeof buf) return conn_fail(c, "Sec-WebSocket-Extensions answer too long");
  memcpy(buf, v, vl);
  buf[vl] = '\0';
  if (strchr(buf, ',') != NULL) return conn_fail(c, "server accepted more than one extension: \"%s\"", buf);
  int seen_smwb = 0, seen_cmwb = 0, seen_snct = 0, seen_cnct = 0, client_bits = 0;
  char *save = NULL;
  int first = 1;
  for (char *tok = strtok_r(buf, ";", &save); tok != NULL; tok = strtok_r(NULL, ";", &save)) {
    while (*tok == ' ' || *tok == '\t') tok++;
    char *e = tok + strlen(tok);
    while (e > tok && (e[-1] == ' ' || e[-1] == '\t')) *--e = '\0';
    if (first) {
      if (strcasecmp(tok, "permessage-deflate") != 0)
        return conn_fail(c, "server accepted an extension that was not offered: \"%.*s\"", (int)vl, v);
      first = 0;
      continue;
    }
    char *eq = strchr(tok, '=');
    char *val = NULL;
    if (eq != NULL) {
      char *ne = eq;
      while (ne > tok && (ne[-1] == ' ' || ne[-1] == '\t')) ne--;
      *ne = '\0';
      val = eq + 1;
      while (*val == ' ' || *val == '\t') val++;
      size_t l = strlen(val);
      if (l >= 2 && val[0] == '"' && val[l - 1] == '"') {
        val[l - 1] = '\0';
        val++;
      }
    }
    int bits = 0;
    if (val != NULL) {
      char *end;
      long b = strtol(val, &end, 10);
      if (*val == '\0' || *end != '\0' || b < 8 || b > 15)
        return conn_fail(c, "permessage-deflate answer: bad value \"%s\" for %s", val, tok);
      bits = (int)b;
    }
    if (strcasecmp(tok, "server_no_context_takeover") == 0 && val == NULL && !seen_snct) {
      seen_snct = 1;
    } else if (strcasecmp(tok, "client_no_context_takeover") == 0 && val == NULL && !seen_cnct) {
      seen_cnct = 1;
    } else if (strcasecmp(tok, "server_max_window_bits") == 0 && val != NULL && !seen_smwb) {
      seen_smwb = 1;
      if (opt.server_wbits && bits > opt.server_wbits)
        return conn_fail(c, "permessage-deflate answer: server_max_window_bits=%d above the %d offered", bits,
                         opt.server_wbits);
    } else if (strcasecmp(tok, "client_max_window_bits") == 0 && val != NULL && !seen_cmwb) {
      seen_cmwb = 1;
      client_bits = bits;
      if (opt.client_wbits && bits > opt.client_wbits)
        return conn_fail(c, "permessage-deflate answer: client_max_window_bits=%d above the %d offered", bits,
                         opt.client_wbits);
    } else {
      return conn_fail(c, "permessage-deflate answer: unexpected or repeated parameter \"%s\" in \"%.*s\"", tok,
                       (int)vl, v);
    }
  }
  if (opt.no_context && !seen_snct)
    return conn_fail(c, "permessage-deflate answer without the server_no_context_takeover that was offered: \"%.*s\"",
                     (int)vl, v);
  c->pmd = 1;
  c->tx_wbits = client_bits ? client_bits : opt.client_wbits ? opt.client_wbits : 15;
  c->tx_no_context = seen_cnct || opt.no_context;
  if (!have_first_answer) {
    snprintf(first_answer, sizeof first_answer, "%.*s", (int)vl, v);
    have_first_answer = 1;
  }
  return 0;
}

/* Parse and check the server's 101 response. */
static int on_response(conn *c, int64_t t) {
  uint8_t *end = memmem(c->rbuf, c->rlen, "\r\n\r\n", 4);
  if (end == NULL) {
    if (c->rlen > 16384) return conn_fail(c, "handshake response headers larger than 16 KiB");
    return 0;
  }
  size_t hlen = (size_t)(end - c->rbuf) + 4;
  const char *h = (const char *)c->rbuf;
  const char *eol = memmem(h, hlen, "\r\n", 2);
  size_t sl = (size_t)(eol - h);
  if (!(sl >= 12 && memcmp(h, "HTTP/1.1 101", 12) == 0 && (sl == 12 || h[12] == ' ')))
    return conn_fail(c, "handshake rejected: server answered \"%.*s\"", (int)(sl > 200 ? 200 : sl), h);
  int upgrade_ok = 0, connection_ok = 0, accept_ok = 0;
  const char *line = eol + 2;
  const char *stop = h + hlen - 2;
  while (line < stop) {
    const char *le = memmem(line, (size_t)(stop - line) + 2, "\r\n", 2);
    const char *colon = memchr(line, ':', (size_t)(le - line));
    if (colon == NULL) return conn_fail(c, "malformed header line in the 101 response: \"%.*s\"", (int)(le - line), line);
    size_t nl = (size_t)(colon - line);
    const char *v = colon + 1;
    const char *ve = le;
    while (v < ve && (*v == ' ' || *v == '\t')) v++;
    while (ve > v && (ve[-1] == ' ' || ve[-1] == '\t')) ve--;
    size_t vl = (size_t)(ve - v);
    if (hdr_name_is(line, nl, "upgrade")) {
      upgrade_ok = vl == 9 && strncasecmp(v, "websocket", 9) == 0;
    } else if (hdr_name_is(line, nl, "connection")) {
      connection_ok = contains_token_ci(v, vl, "upgrade");
    } else if (hdr_name_is(line, nl, "sec-websocket-accept")) {
      if (!(vl == 28 && memcmp(v, c->accept, 28) == 0))
        return conn_fail(c, "wrong Sec-WebSocket-Accept: got \"%.*s\", expected \"%s\"", (int)(vl > 64 ? 64 : vl), v, c->accept);
      accept_ok = 1;
    } else if (hdr_name_is(line, nl, "sec-websocket-extensions")) {
      if (parse_extension_answer(c, v, vl) < 0) return -1;
    } else if (hdr_name_is(line, nl, "sec-websocket-protocol")) {
      return conn_fail(c, "server selected a subprotocol that was not offered: \"%.*s\"", (int)vl, v);
    }
    line = le + 2;
  }
  if (!accept_ok) return conn_fail(c, "101 response without Sec-WebSocket-Accept");
  if (!upgrade_ok) return conn_fail(c, "101 response without \"Upgrade: websocket\"");
  if (!connection_ok) return conn_fail(c, "101 response without \"Connection: Upgrade\"");
  if (opt.deflate && !c->pmd)
    return conn_fail(c, "--deflate: the server did not negotiate permessage-deflate (no Sec-WebSocket-Extensions in "
                        "its 101; offered \"%s\")", offer);
  if (c->pmd && opt.mode != M_HANDSHAKE) deflate_setup(c);
  c->rlen -= hlen;
  memmove(c->rbuf, c->rbuf + hlen, c->rlen);
  if (opt.mode == M_HANDSHAKE && opt.echo_once) {
    /* Counted when the echo arrives (message_done); timed from connect(). */
    c->state = S_OPEN;
    nopen++;
    if (phase == P_STOP) put_close(c);
    else put_message(c, c->t_connect);
  } else if (opt.mode == M_HANDSHAKE) {
    if (phase == P_MEASURE) {
      n_handshakes++;
      hist_record(t - c->t_connect);
    }
    c->state = S_OPEN;
    nopen++;
    put_close(c);
  } else {
    c->state = S_OPEN;
    nopen++;
  }
  if (c->rlen > 0) return process_frames(c, t);
  return 0;
}

static int verify_chunk(conn *c, const uint8_t *data, size_t len) {
  size_t n = opt.size, off = c->msg_off;
  if (off + len > n)
    return conn_fail(c, "echo of message #%llu is longer than the %zu bytes sent", (unsigned long long)c->recv_seq, n);
  size_t p = n < 16 ? n : 16;
  char pre[16];
  make_prefix(c, c->recv_seq, pre);
  const char *exp_pre = pre + 16 - p;
  size_t i = 0, bad = len;
  for (; i < len && off + i < p; i++)
    if (data[i] != (uint8_t)exp_pre[off + i]) {
      bad = i;
      break;
    }
  if (bad == len && i < len && memcmp(data + i, pattern + off + i, len - i) != 0)
    for (bad = i; data[bad] == pattern[off + bad]; bad++) {
    }
  if (bad < len) {
    size_t at = off + bad;
    uint8_t want = at < p ? (uint8_t)exp_pre[at] : pattern[at];
    return conn_fail(c, "echo of message #%llu differs from what was sent at byte %zu: got 0x%02x, expected 0x%02x",
                     (unsigned long long)c->recv_seq, at, data[bad], want);
  }
  c->msg_off += len;
  return 0;
}

static int message_done(conn *c, int64_t t) {
  if (!buffered && c->msg_off != opt.size)
    return conn_fail(c, "echo of message #%llu has %zu bytes, %zu were sent", (unsigned long long)c->recv_seq, c->msg_off,
                     opt.size);
  int64_t sent = c->ts[c->recv_seq & (c->tcap - 1)];
  c->recv_seq++;
  c->in_msg = 0;
  if (phase == P_MEASURE) {
    n_messages++;
    n_rx_wire += c->msg_wire;
    n_rx_payload += c->msg_off;
    n_rx_compressed += (uint64_t)c->msg_compressed;
    hist_record(t - sent);
  }
  c->msg_wire = 0;
  c->msg_compressed = 0;
  if ((opt.mode == M_ECHO || opt.mode == M_BULK) && phase != P_STOP) put_message(c, t);
  if (opt.mode == M_HANDSHAKE) {
    /* --echo-once: the cycle's echo is back; close. */
    if (phase == P_MEASURE) n_handshakes++;
    put_close(c);
  }
  return 0;
}

/* Buffered path: inflate (RSV1 echoes) or copy a frame's payload into
 * mbuf; at the end of the message compare it with what was sent. */
static int inflate_into(conn *c, const uint8_t *p, size_t len) {
  z_stream *z = &c->inf;
  z->next_in = (Bytef *)p;
  z->avail_in = (uInt)len;
  while (z->avail_in > 0) {
    if (c->msg_off >= c->mcap)
      return conn_fail(c, "echo of message #%llu inflates to more than the %zu bytes sent", (unsigned long long)c->recv_seq,
                       c->mcap - 1);
    z->next_out = c->mbuf + c->msg_off;
    z->avail_out = (uInt)(c->mcap - c->msg_off);
    int r = inflate(z, Z_SYNC_FLUSH);
    c->msg_off = c->mcap - z->avail_out;
    if (r == Z_STREAM_END) {
      /* A final (BFINAL) block: allowed; the next one starts afresh. */
      inflateReset(z);
      continue;
    }
    if (r == Z_BUF_ERROR && z->avail_out > 0) break; /* needs more input */
    if (r != Z_OK && r != Z_BUF_ERROR)
      return conn_fail(c, "echo of message #%llu: inflate failed (%d): %s", (unsigned long long)c->recv_seq, r,
                       z->msg ? z->msg : "corrupt data");
  }
  return 0;
}

static int take_chunk(conn *c, const uint8_t *p, size_t len, int fin, int64_t t) {
  if (c->msg_compressed) {
    if (inflate_into(c, p, len) < 0) return -1;
    if (fin) {
      static const uint8_t tail[4] = {0x00, 0x00, 0xff, 0xff};
      if (inflate_into(c, tail, 4) < 0) return -1;
    }
  } else {
    if (c->msg_off + len >= c->mcap)
      return conn_fail(c, "echo of message #%llu is longer than the %zu bytes sent", (unsigned long long)c->recv_seq,
                       c->mcap - 1);
    memcpy(c->mbuf + c->msg_off, p, len);
    c->msg_off += len;
  }
  if (!fin) return 0;
  size_t n = build_msg(c, c->recv_seq, scratch);
  if (c->msg_off != n || memcmp(c->mbuf, scratch, n) != 0) {
    size_t at = 0;
    while (at < n && at < c->msg_off && c->mbuf[at] == scratch[at]) at++;
    if (at == n || at == c->msg_off)
      return conn_fail(c, "echo of message #%llu has %zu bytes%s, %zu were sent", (unsigned long long)c->recv_seq,
                       c->msg_off, c->msg_compressed ? " once inflated" : "", n);
    return conn_fail(c, "echo of message #%llu%s differs from what was sent at byte %zu: got 0x%02x, expected 0x%02x",
                     (unsigned long long)c->recv_seq, c->msg_compressed ? " (inflated)" : "", at, c->mbuf[at],
                     scratch[at]);
  }
  return message_done(c, t);
}

static int handle_frame(conn *c, int op, int fin, int rsv1, uint8_t *p, size_t len, int64_t t) {
  switch (op) {
  case 0: /* continuation */
    if (c->state != S_OPEN) return 0;
    if (!c->in_msg) return conn_fail(c, "protocol error: continuation frame outside a fragmented message");
    if (buffered) return take_chunk(c, p, len, fin, t);
    if (verify_chunk(c, p, len) < 0) return -1;
    return fin ? message_done(c, t) : 0;
  case 1:
  case 2:
    if (c->state != S_OPEN) return 0;
    if (c->in_msg) return conn_fail(c, "protocol error: new data frame inside a fragmented message");
    if (op != data_opcode)
      return conn_fail(c, "echo of message #%llu is a %s message, a %s one was sent", (unsigned long long)c->recv_seq,
                       op == 1 ? "text" : "binary", data_opcode == 1 ? "text" : "binary");
    if (c->recv_seq == c->send_seq) return conn_fail(c, "received a data message although none is outstanding");
    c->in_msg = 1;
    c->msg_off = 0;
    if (buffered) {
      c->msg_compressed = rsv1;
      return take_chunk(c, p, len, fin, t);
    }
    if (verify_chunk(c, p, len) < 0) return -1;
    return fin ? message_done(c, t) : 0;
  case 8: {
    if (c->state == S_CLOSING) return conn_finish(c);
    unsigned code = len >= 2 ? (unsigned)p[0] << 8 | p[1] : 1005;
    return conn_fail(c, "server sent an unexpected close frame (code %u, reason \"%.*s\")", code,
                     (int)(len > 2 ? len - 2 : 0), (const char *)p + 2);
  }
  case 9:
    if (c->state == S_OPEN) put_control(c, 10, p, len);
    return 0;
  case 10:
    return 0;
  default:
    return conn_fail(c, "protocol error: reserved opcode %d", op);
  }
}

/* Parse every complete frame in rbuf; keep a partial one for later. */
static int process_frames(conn *c, int64_t t) {
  size_t pos = 0;
  for (;;) {
    size_t avail = c->rlen - pos;
    if (avail < 2) break;
    uint8_t *f = c->rbuf + pos;
    int fin = f[0] >> 7, op = f[0] & 15;
    int rsv1 = (f[0] & 0x40) != 0;
    if (f[0] & 0x30) return conn_fail(c, "protocol error: RSV2/RSV3 set (0x%02x)", f[0]);
    if (rsv1 && !c->pmd)
      return conn_fail(c, "protocol error: RSV1 set (0x%02x) without a negotiated extension", f[0]);
    if (rsv1 && op != 1 && op != 2)
      return conn_fail(c, "protocol error: RSV1 set on a %s frame (opcode %d)", op == 0 ? "continuation" : "control", op);
    if (f[1] & 0x80) return conn_fail(c, "protocol error: the server sent a masked frame");
    uint64_t len = f[1] & 0x7f;
    size_t h = 2;
    if (len == 126) {
      if (avail < 4) break;
      len = (uint64_t)f[2] << 8 | f[3];
      h = 4;
    } else if (len == 127) {
      if (avail < 10) break;
      len = 0;
      for (int i = 0; i < 8; i++) len = len << 8 | f[2 + i];
      h = 10;
    }
    if (op >= 8) {
      if (!fin || len > 125) return conn_fail(c, "protocol error: control frame (opcode %d) fragmented or longer than 125 bytes", op);
    } else if (len > opt.size + (c->pmd ? opt.size / 8 + 1024 : 0) && opt.mode != M_HANDSHAKE) {
      return conn_fail(c, "echo frame of %llu bytes is larger than the %zu-byte messages sent", (unsigned long long)len, opt.size);
    } else if (len > c->rcap - 14) {
      return conn_fail(c, "unexpected data frame of %llu bytes", (unsigned long long)len);
    }
    if (avail - h < len) break;
    if (op < 8) c->msg_wire += h + (size_t)len;
    if (handle_frame(c, op, fin, rsv1, f + h, (size_t)len, t) < 0) return -1;
    pos += h + (size_t)len;
  }
  if (pos > 0) {
    c->rlen -= pos;
    if (c->rlen > 0) memmove(c->rbuf, c->rbuf + pos, c->rlen);
  }
  return 0;
}

/* Close handshake complete (or EOF after our close): the connection is done. */
static int conn_finish(conn *c) {
  conn_close(c);
  if (opt.mode == M_HANDSHAKE && phase != P_STOP) conn_start(c);
  return -1;
}

static int on_readable(conn *c) {
  if (c->rlen == c->rcap) return conn_fail(c, "input buffer full");
  ssize_t n;
  do {
    n = read(c->fd, c->rbuf + c->rlen, c->rcap - c->rlen);
  } while (n < 0 && errno == EINTR);
  if (n < 0) {
    if (errno == EAGAIN || errno == EWOULDBLOCK) return 0;
    return conn_fail(c, "read: %s", strerror(errno));
  }
  if (n == 0) {
    if (c->state == S_CLOSING) return conn_finish(c);
    if (c->state == S_RESPONSE) return conn_fail(c, "server closed the connection during the handshake");
    return conn_fail(c, "server closed the TCP connection without a close frame");
  }
  c->rlen += (size_t)n;
  int64_t t = mono_ns();
  if (c->state == S_RESPONSE) return on_response(c, t);
  return process_frames(c, t);
}

static void dispatch(const struct epoll_event *ev, int nev, int64_t *armed) {
  for (int i = 0; i < nev; i++) {
    if (ev[i].data.u32 == TIMER_TAG) {
      *armed = -1; /* re-arming clears its readiness */
      continue;
    }
    conn *c = &conns[ev[i].data.u32];
    uint32_t e = ev[i].events;
    if (c->fd < 0) continue;
    if (c->state == S_CONNECTING) {
      on_connected(c);
      continue;
    }
    if (e & (EPOLLIN | EPOLLERR | EPOLLHUP)) {
      if (on_readable(c) < 0) continue; /* closed (maybe restarted) */
    }
    if ((e & EPOLLOUT) && c->fd >= 0 && c->state >= S_RESPONSE) flush(c);
  }
}

static void arm_timer(int64_t at, int64_t *armed) {
  if (at == *armed) return;
  struct itimerspec its;
  memset(&its, 0, sizeof its);
  if (at > 0) {
    its.it_value.tv_sec = at / 1000000000LL;
    its.it_value.tv_nsec = at % 1000000000LL;
  }
  if (timerfd_settime(tfd, TFD_TIMER_ABSTIME, &its, NULL) < 0) die("timerfd_settime: %s", strerror(errno));
  *armed = at;
}

/* ------------------------------------------------------------------ */
/* Main                                                                */

static void usage(void) {
  fputs("usage: wsload --port P [--host 127.0.0.1] [--path /] --mode echo|rate|bulk|handshake\n"
        "  echo:      --conns 64 --inflight 16 --size 32 --seconds 5 [--warmup 1] [--binary]\n"
        "  rate:      --conns 16 --rate 20000 --size 32 --seconds 5 [--warmup 1] [--binary]\n"
        "  bulk:      --conns 4 --size 1048576 --seconds 5 [--warmup 1]\n"
        "  handshake: --conns 16 --seconds 5 [--warmup 1] [--echo-once [--size 32] [--binary]]\n"
        "  messages:  [--payloads chat|FILE [--count 1000]] [--dump-payloads]\n"
        "  deflate:   [--deflate [--window-bits N] [--server-window-bits N] [--no-context-takeover]\n"
        "             [--level -1] [--mem-level 8]]\n",
        stderr);
}

/* s as the inside of a JSON string (quotes, backslashes, controls). */
static void json_escape(const char *s, char *out, size_t cap) {
  size_t o = 0;
  for (; *s && o + 7 < cap; s++) {
    unsigned char ch = (unsigned char)*s;
    if (ch == '"' || ch == '\\') {
      out[o++] = '\\';
      out[o++] = (char)ch;
    } else if (ch < 0x20) {
      o += (size_t)snprintf(out + o, cap - o, "\\u%04x", ch);
    } else {
      out[o++] = (char)ch;
    }
  }
  out[o] = '\0';
}

static double num_arg(const char *name, const char *v, double min, double max) {
  if (v == NULL) die("%s needs a value", name);
  char *end;
  errno = 0;
  double d = strtod(v, &end);
  if (errno || end == v || *end != '\0' || !(d >= min && d <= max)) die("bad value for %s: \"%s\"", name, v);
  return d;
}

int main(int argc, char **argv) {
  const char *mode = NULL;
  long conns_arg = -1, inflight = -1;
  double size = -1, rate = -1;
  opt.host = "127.0.0.1";
  opt.path = "/";
  opt.port = -1;
  opt.seconds = 5;
  opt.warmup = 1;
  opt.payload_count = 1000;
  opt.level = Z_DEFAULT_COMPRESSION;
  opt.mem_level = 8;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
    if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
      usage();
      return 0;
    } else if (strcmp(a, "--binary") == 0) {
      opt.binary = 1;
      continue;
    } else if (strcmp(a, "--deflate") == 0) {
      opt.deflate = 1;
      continue;
    } else if (strcmp(a, "--echo-once") == 0) {
      opt.echo_once = 1;
      continue;
    } else if (strcmp(a, "--no-context-takeover") == 0) {
      opt.no_context = 1;
      continue;
    } else if (strcmp(a, "--dump-payloads") == 0) {
      opt.dump_payloads = 1;
      continue;
    } else if (strcmp(a, "--payloads") == 0) {
      if (v == NULL) die("--payloads needs a value (chat or a file)");
      opt.payloads = v;
    } else if (strcmp(a, "--count") == 0) {
      opt.payload_count = (int)num_arg(a, v, 1, 1000000);
    } else if (strcmp(a, "--window-bits") == 0) {
      opt.client_wbits = (int)num_arg(a, v, 8, 15);
    } else if (strcmp(a, "--server-window-bits") == 0) {
      opt.server_wbits = (int)num_arg(a, v, 8, 15);
    } else if (strcmp(a, "--level") == 0) {
      opt.level = (int)num_arg(a, v, -1, 9);
    } else if (strcmp(a, "--mem-level") == 0) {
      opt.mem_level = (int)num_arg(a, v, 1, 9);
    } else if (strcmp(a, "--port") == 0) {
      opt.port = (int)num_arg(a, v, 1, 65535);
    } else if (strcmp(a, "--host") == 0) {
      if (v == NULL) die("--host needs a value");
      opt.host = v;
    } else if (strcmp(a, "--path") == 0) {
      if (v == NULL || v[0] != '/') die("--path needs a value starting with /");
      opt.path = v;
    } else if (strcmp(a, "--mode") == 0) {
      mode = v;
    } else if (strcmp(a, "--conns") == 0) {
      conns_arg = (long)num_arg(a, v, 1, 100000);
    } else if (strcmp(a, "--inflight") == 0) {
      inflight = (long)num_arg(a, v, 1, 1 << 20);
    } else if (strcmp(a, "--size") == 0) {
      size = num_arg(a, v, 0, 1 << 30);
    } else if (strcmp(a, "--seconds") == 0) {
      opt.seconds = num_arg(a, v, 0.001, 86400);
    } else if (strcmp(a, "--warmup") == 0) {
      opt.warmup = num_arg(a, v, 0, 86400);
    } else if (strcmp(a, "--rate") == 0) {
      rate = num_arg(a, v, 0.001, 1e9);
    } else {
      usage();
      die("unknown option \"%s\"", a);
    }
    i++;
  }
  if (opt.dump_payloads) {
    if (opt.payloads == NULL) opt.payloads = "chat";
    load_payloads();
    for (int i = 0; i < npayloads; i++) {
      fwrite(payload_set[i].p, 1, payload_set[i].n, stdout);
      fputc('\n', stdout);
    }
    return 0;
  }
  if (opt.port < 0) {
    usage();
    die("--port is required");
  }
  if (mode == NULL) {
    usage();
    die("--mode is required");
  }
  opt.mode = -1;
  for (int m = 0; m < 4; m++)
    if (strcmp(mode, mode_names[m]) == 0) opt.mode = m;
  if (opt.mode < 0) die("unknown mode \"%s\" (echo, rate, bulk or handshake)", mode);
  switch (opt.mode) {
  case M_ECHO:
    opt.conns = conns_arg > 0 ? (int)conns_arg : 64;
    opt.inflight = inflight > 0 ? (int)inflight : 16;
    opt.size = size >= 0 ? (size_t)size : 32;
    break;
  case M_RATE:
    opt.conns = conns_arg > 0 ? (int)conns_arg : 16;
    opt.rate = rate > 0 ? rate : 20000;
    opt.size = size >= 0 ? (size_t)size : 32;
    break;
  case M_BULK:
    opt.conns = conns_arg > 0 ? (int)conns_arg : 4;
    opt.inflight = 1;
    opt.size = size >= 0 ? (size_t)size : 1048576;
    opt.binary = 1;
    break;
  case M_HANDSHAKE:
    opt.conns = conns_arg > 0 ? (int)conns_arg : 16;
    opt.size = opt.echo_once ? (size >= 0 ? (size_t)size : 32) : 0;
    break;
  }
  if (opt.echo_once && opt.mode != M_HANDSHAKE) die("--echo-once needs --mode handshake");
  if (opt.echo_once && opt.deflate) die("--echo-once cannot be combined with --deflate");
  data_opcode = opt.binary ? 2 : 1;
  if (opt.payloads != NULL) {
    if (opt.mode != M_ECHO && opt.mode != M_RATE) die("--payloads needs --mode echo or rate");
    load_payloads();
    opt.size = max_msg; /* the largest message: buffer sizes and checks */
  }
  buffered = opt.payloads != NULL || (opt.deflate && opt.mode != M_HANDSHAKE);
  if (buffered && max_msg == 0) max_msg = opt.size;
  if (opt.deflate) {
    int k = snprintf(offer, sizeof offer, "permessage-deflate; client_max_window_bits");
    if (opt.client_wbits) k += snprintf(offer + k, sizeof offer - (size_t)k, "=%d", opt.client_wbits);
    if (opt.server_wbits) k += snprintf(offer + k, sizeof offer - (size_t)k, "; server_max_window_bits=%d", opt.server_wbits);
    if (opt.no_context)
      snprintf(offer + k, sizeof offer - (size_t)k, "; client_no_context_takeover; server_no_context_takeover");
  }

  /* Self-test of SHA-1 + base64 against RFC 6455's example. */
  char acc[29];
  ws_accept("dGhlIHNhbXBsZSBub25jZQ==", acc);
  if (strcmp(acc, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=") != 0) die("internal error: Sec-WebSocket-Accept self-test failed");

  signal(SIGPIPE, SIG_IGN);
  prctl(PR_SET_TIMERSLACK, 1UL, 0UL, 0UL, 0UL);
  rng_seed();

  /* Resolve the server address once. */
  char portstr[16];
  snprintf(portstr, sizeof portstr, "%d", opt.port);
  struct addrinfo hints, *ai;
  memset(&hints, 0, sizeof hints);
  hints.ai_socktype = SOCK_STREAM;
  int gai = getaddrinfo(opt.host, portstr, &hints, &ai);
  if (gai != 0) die("cannot resolve %s: %s", opt.host, gai_strerror(gai));
  memcpy(&peer, ai->ai_addr, ai->ai_addrlen);
  peer_len = ai->ai_addrlen;
  peer_family = ai->ai_family;
  freeaddrinfo(ai);

  int n = snprintf(request_head, sizeof request_head,
                   "GET %s HTTP/1.1\r\nHost: %s%s%s:%d\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                   "Sec-WebSocket-Version: 13\r\n%s%s%sSec-WebSocket-Key: ",
                   opt.path, strchr(opt.host, ':') ? "[" : "", opt.host, strchr(opt.host, ':') ? "]" : "", opt.port,
                   opt.deflate ? "Sec-WebSocket-Extensions: " : "", offer, opt.deflate ? "\r\n" : "");
  if (n < 0 || (size_t)n >= sizeof request_head) die("--path or --host too long");
  request_head_len = (size_t)n;

  /* Payload pattern: printable ASCII (33..126), not periodic in 4 or 8. */
  pattern = xrealloc(NULL, opt.size + 16);
  for (size_t i = 0; i < opt.size + 16; i++) pattern[i] = (uint8_t)(33 + (i * 31 + (i >> 6)) % 94);

  epfd = epoll_create1(EPOLL_CLOEXEC);
  if (epfd < 0) die("epoll_create1: %s", strerror(errno));
  tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
  if (tfd < 0) die("timerfd_create: %s", strerror(errno));
  struct epoll_event te = {.events = EPOLLIN, .data.u32 = TIMER_TAG};
  if (epoll_ctl(epfd, EPOLL_CTL_ADD, tfd, &te) < 0) die("epoll_ctl: %s", strerror(errno));

  conns = xrealloc(NULL, sizeof *conns * (size_t)opt.conns);
  dirty_list = xrealloc(NULL, sizeof *dirty_list * (size_t)opt.conns);
  memset(conns, 0, sizeof *conns * (size_t)opt.conns);
  size_t tcap = 16;
  while (tcap < (size_t)(opt.inflight > 0 ? opt.inflight : 1) * 2) tcap *= 2;
  for (int i = 0; i < opt.conns; i++) {
    conn *c = &conns[i];
    c->fd = -1;
    c->idx = i;
    c->state = S_IDLE;
    c->rcap = opt.size + 14 + 65536;
    c->rbuf = xrealloc(NULL, c->rcap);
    c->tcap = tcap;
    c->ts = xrealloc(NULL, tcap * sizeof *c->ts);
    if (buffered) {
      c->mcap = max_msg + 1;
      c->mbuf = xrealloc(NULL, c->mcap);
    }
  }
  if (buffered) scratch = xrealloc(NULL, max_msg + 1);

  enum { MAXEV = 1024 };
  static struct epoll_event evs[MAXEV];
  int64_t armed = -1;

  /* Setup: open and upgrade every connection (not in handshake mode). */
  if (opt.mode != M_HANDSHAKE) {
    int64_t deadline = mono_ns() + 10 * 1000000000LL;
    for (int i = 0; i < opt.conns; i++) conn_start(&conns[i]);
    arm_timer(deadline, &armed);
    while (nopen < opt.conns) {
      if (mono_ns() >= deadline)
        die("timed out: only %d of %d connections to %s:%d completed the WebSocket handshake within 10 s", nopen,
            opt.conns, opt.host, opt.port);
      flush_dirty();
      arm_timer(deadline, &armed);
      int nev = epoll_wait(epfd, evs, MAXEV, -1);
      if (nev < 0) {
        if (errno == EINTR) continue;
        die("epoll_wait: %s", strerror(errno));
      }
      dispatch(evs, nev, &armed);
    }
  }

  /* Timed phase. */
  const int64_t t0 = mono_ns();
  const int64_t warm_ns = (int64_t)(opt.warmup * 1e9), meas_ns = (int64_t)(opt.seconds * 1e9);
  int64_t t_meas_start = t0, t_meas_end = 0;
  double cpu_start = 0, cpu_end = 0;
  if (warm_ns > 0) {
    phase = P_WARMUP;
  } else {
    phase = P_MEASURE;
    cpu_start = cpu_seconds();
  }
  if (opt.mode == M_ECHO || opt.mode == M_BULK) {
    for (int i = 0; i < opt.conns; i++)
      for (int k = 0; k < opt.inflight; k++) put_message(&conns[i], t0);
  } else if (opt.mode == M_HANDSHAKE) {
    for (int i = 0; i < opt.conns; i++) conn_start(&conns[i]);
  }
  const double interval_ns = opt.mode == M_RATE ? 1e9 / opt.rate : 0;
  uint64_t rate_k = 0;
  int64_t next_stall_check = t0 + 1000000000LL;

  for (;;) {
    int64_t now = mono_ns();
    if (phase == P_WARMUP && now >= t0 + warm_ns) {
      phase = P_MEASURE;
      t_meas_start = now;
      cpu_start = cpu_seconds();
    }
    if (phase == P_MEASURE && now >= t_meas_start + meas_ns) {
      t_meas_end = now;
      cpu_end = cpu_seconds();
      break;
    }
    int64_t next = phase == P_WARMUP ? t0 + warm_ns : t_meas_start + meas_ns;
    if (opt.mode == M_HANDSHAKE) {
      /* A worker stuck on an unresponsive server is a failure, not a slow run. */
      if (now >= next_stall_check) {
        for (int i = 0; i < opt.conns; i++) {
          const conn *c = &conns[i];
          if (c->fd >= 0 && now - c->t_connect > 10 * 1000000000LL)
            die("connection %d: %s within 10 s", i,
                c->state == S_CLOSING ? "the server did not close the connection after the close frame"
                : c->state == S_OPEN  ? "no echo of its message"
                                      : "no WebSocket handshake response");
        }
        next_stall_check = now + 1000000000LL;
      }
      if (next_stall_check < next) next = next_stall_check;
    }
    if (opt.mode == M_RATE) {
      for (;;) {
        int64_t due = t0 + (int64_t)((double)rate_k * interval_ns);
        if (due > now) {
          if (due < next) next = due;
          break;
        }
        conn *c = &conns[rate_k % (uint64_t)opt.conns];
        if (c->state == S_OPEN) put_message(c, due);
        rate_k++;
      }
    }
    flush_dirty();
    arm_timer(next, &armed);
    int nev = epoll_wait(epfd, evs, MAXEV, -1);
    if (nev < 0) {
      if (errno == EINTR) continue;
      die("epoll_wait: %s", strerror(errno));
    }
    dispatch(evs, nev, &armed);
  }

  /* Shutdown: close frames, at most 1 s in total. */
  phase = P_STOP;
  for (int i = 0; i < opt.conns; i++)
    if (conns[i].state == S_OPEN) put_close(&conns[i]);
  flush_dirty();
  int64_t deadline = mono_ns() + 1000000000LL;
  for (;;) {
    int active = 0;
    for (int i = 0; i < opt.conns; i++) active += conns[i].fd >= 0;
    if (active == 0 || mono_ns() >= deadline) break;
    arm_timer(deadline, &armed);
    int nev = epoll_wait(epfd, evs, MAXEV, -1);
    if (nev < 0) {
      if (errno == EINTR) continue;
      die("epoll_wait: %s", strerror(errno));
    }
    dispatch(evs, nev, &armed);
    flush_dirty();
  }
  for (int i = 0; i < opt.conns; i++)
    if (conns[i].fd >= 0) conn_close(&conns[i]);

  double secs = (double)(t_meas_end - t_meas_start) / 1e9;
  double cpu = cpu_end - cpu_start;
  /* Payload bytes echoed: counted per message on the buffered path. */
  uint64_t payload_total = buffered ? n_rx_payload : n_messages * (uint64_t)opt.size;
  char ext_json[1100], payload_json[600];
  json_escape(first_answer, ext_json, sizeof ext_json);
  json_escape(opt.payloads ? opt.payloads : "", payload_json, sizeof payload_json);
  printf("{\"mode\":\"%s\",\"conns\":%d,\"inflight\":%d,\"size\":%zu,\"seconds\":%.3f,\"messages\":%llu,"
         "\"msgPerSec\":%.1f,\"mbPerSec\":%.3f,\"p50Us\":%.1f,\"p99Us\":%.1f,\"p999Us\":%.1f,\"handshakes\":%llu,"
         "\"handshakesPerSec\":%.1f,\"clientCpuSeconds\":%.3f,\"clientCpuShare\":%.3f,\"errors\":%llu,"
         "\"deflate\":%s,\"extensions\":\"%s\",\"payloads\":\"%s\",\"payloadBytesPerMsg\":%.1f,"
         "\"txWireBytesPerMsg\":%.1f,\"rxWireBytesPerMsg\":%.1f,\"rxCompressedShare\":%.3f}\n",
         mode_names[opt.mode], opt.conns, opt.inflight, opt.size, secs, (unsigned long long)n_messages,
         (double)n_messages / secs, (double)payload_total / 1e6 / secs, hist_quantile_us(0.50),
         hist_quantile_us(0.99), hist_quantile_us(0.999), (unsigned long long)n_handshakes,
         (double)n_handshakes / secs, cpu, cpu / secs, (unsigned long long)n_errors, opt.deflate ? "true" : "false",
         ext_json, payload_json, n_messages ? (double)payload_total / (double)n_messages : 0.0,
         n_tx_msgs ? (double)n_tx_wire / (double)n_tx_msgs : 0.0,
         n_messages ? (double)n_rx_wire / (double)n_messages : 0.0,
         n_messages ? (double)n_rx_compressed / (double)n_messages : 0.0);
  return 0;
}
