/* The audit verifier's fast pass inside SQLite: one aggregate that checks a run of events.
 *
 *   audit_chain_prefix(first_seq, entry_hash, seq, prev_hash, hash,
 *                      action, actor, dataset, decision, details, project, reason, time)
 *
 * fed the events of a range in seq order, returns how many leading events verify: each one's seq
 * follows the previous (the first is first_seq), its prev_hash is the previous event's hash (the
 * first's is entry_hash, unless that is NULL) and its hash is SHA-256 (lowercase hex) over its
 * canonical JSON, built here as wgs_tre.audit.chain.canonical_json builds it: keys in FIELDS
 * order, no whitespace, strings escaped as orjson escapes them, integers in decimal, null.
 *
 * It only vouches: a value it cannot render as the appender did (a real, a BLOB) or rows out of
 * order end the run, and the exact checker in Python names the event. Equal SHA-256 means these
 * bytes are the appended event's canonical bytes, and they are a faithful JSON rendering of the
 * values stored now, so those values are the ones appended.
 *
 * Built by `python -m wgs_tre.audit.chain_ext` (scripts/install), linked to OpenSSL's libcrypto
 * for its SHA-256 (SHA-NI where the CPU has it).
 */
#include <sqlite3ext.h>
SQLITE_EXTENSION_INIT1

/* The one-shot SHA256() of OpenSSL 3 fetches the algorithm on every call; the low-level
 * functions go straight to the assembly, three times faster on events this short. */
#define OPENSSL_API_COMPAT 0x10100000L
#include <openssl/sha.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define HEX_LEN 64

typedef struct {
  int started, broken, have_prev;
  sqlite3_int64 next_seq, count;
  char prev[HEX_LEN];
  unsigned char *buf;
  size_t cap, len;
} Chain;

static int grow(Chain *c, size_t extra) {
  if (c->len + extra <= c->cap) return 1;
  size_t cap = c->cap ? c->cap : 1024;
  while (cap < c->len + extra) cap *= 2;
  unsigned char *buf = realloc(c->buf, cap);
  if (!buf) return 0;
  c->buf = buf;
  c->cap = cap;
  return 1;
}

static void put(Chain *c, const char *s, size_t n) {
  memcpy(c->buf + c->len, s, n);
  c->len += n;
}

#define ONES 0x0101010101010101ULL
#define HIGHS 0x8080808080808080ULL

/* Whether any of 8 bytes is ", \ or a control character (the bit tricks of "Bit Twiddling
 * Hacks": a zero byte, a byte below 0x20). */
static int any_to_escape(uint64_t v) {
  uint64_t quote = v ^ (ONES * '"'), backslash = v ^ (ONES * '\\');
  uint64_t flags = ((quote - ONES) & ~quote) | ((backslash - ONES) & ~backslash) |
                   ((v - ONES * 0x20) & ~v);
  return (flags & HIGHS) != 0;
}

/* A JSON string as orjson writes it: ", \ and control characters escaped, the rest verbatim.
 * Runs of bytes that need no escape (nearly all of them) are copied whole. */
static int put_text(Chain *c, const unsigned char *s, int n) {
  static const char hex[] = "0123456789abcdef";
  if (!grow(c, (size_t)n * 6 + 2)) return 0;
  c->buf[c->len++] = '"';
  int run = 0, i = 0;
  for (uint64_t block; i + 8 <= n; i += 8) {
    memcpy(&block, s + i, 8);
    if (any_to_escape(block)) break;
  }
  for (; i < n; i++) {
    unsigned char ch = s[i];
    if (ch >= 0x20 && ch != '"' && ch != '\\') continue;
    put(c, (const char *)s + run, (size_t)(i - run));
    run = i + 1;
    const char *esc = NULL;
    switch (ch) {
      case '"': esc = "\\\""; break;
      case '\\': esc = "\\\\"; break;
      case '\b': esc = "\\b"; break;
      case '\f': esc = "\\f"; break;
      case '\n': esc = "\\n"; break;
      case '\r': esc = "\\r"; break;
      case '\t': esc = "\\t"; break;
    }
    if (esc) {
      put(c, esc, 2);
    } else {
      char u[6] = {'\\', 'u', '0', '0', hex[ch >> 4], hex[ch & 15]};
      put(c, u, 6);
    }
  }
  put(c, (const char *)s + run, (size_t)(n - run));
  c->buf[c->len++] = '"';
  return 1;
}

/* An integer in decimal, as orjson writes it. */
static void put_integer(Chain *c, sqlite3_int64 value) {
  char digits[24];
  int i = sizeof digits;
  sqlite3_uint64 magnitude = value < 0 ? 0 - (sqlite3_uint64)value : (sqlite3_uint64)value;
  do {
    digits[--i] = (char)('0' + magnitude % 10);
    magnitude /= 10;
  } while (magnitude);
  if (value < 0) digits[--i] = '-';
  put(c, digits + i, sizeof digits - (size_t)i);
}

/* "key":value; 0 for a value the appender never writes (a real, a BLOB). */
static int put_field(Chain *c, const char *key, sqlite3_value *v) {
  size_t klen = strlen(key);
  if (!grow(c, klen + 32)) return 0;
  char opening = c->len ? ',' : '{';
  c->buf[c->len++] = opening;
  c->buf[c->len++] = '"';
  put(c, key, klen);
  put(c, "\":", 2);
  switch (sqlite3_value_type(v)) {
    case SQLITE_NULL: put(c, "null", 4); return 1;
    case SQLITE_INTEGER: put_integer(c, sqlite3_value_int64(v)); return 1;
    case SQLITE_TEXT: {
      const unsigned char *s = sqlite3_value_text(v);
      return put_text(c, s, sqlite3_value_bytes(v));
    }
    default: return 0;
  }
}

static int is_hex_text(sqlite3_value *v) {
  return sqlite3_value_type(v) == SQLITE_TEXT && sqlite3_value_bytes(v) == HEX_LEN;
}

enum { FIRST, ENTRY, SEQ, PREV, HASH, ACTION, ACTOR, DATASET, DECISION, DETAILS, PROJECT, REASON,
       TIME, NARGS };

/* The canonical order (wgs_tre.audit.chain.FIELDS, alphabetical) and where each value comes. */
static const struct { const char *key; int arg; } FIELDS[] = {
    {"action", ACTION},   {"actor", ACTOR},     {"dataset", DATASET}, {"decision", DECISION},
    {"details", DETAILS}, {"prev_hash", PREV},  {"project", PROJECT}, {"reason", REASON},
    {"seq", SEQ},         {"time", TIME},
};

static int event_verifies(Chain *c, sqlite3_value **argv) {
  if (sqlite3_value_type(argv[SEQ]) != SQLITE_INTEGER) return 0;
  if (sqlite3_value_int64(argv[SEQ]) != c->next_seq) return 0;
  if (!is_hex_text(argv[PREV]) || !is_hex_text(argv[HASH])) return 0;
  if (c->have_prev && memcmp(sqlite3_value_text(argv[PREV]), c->prev, HEX_LEN) != 0) return 0;
  c->len = 0;
  for (size_t i = 0; i < sizeof FIELDS / sizeof FIELDS[0]; i++)
    if (!put_field(c, FIELDS[i].key, argv[FIELDS[i].arg])) return 0;
  if (!grow(c, 1)) return 0;
  c->buf[c->len++] = '}';

  static const char hex[] = "0123456789abcdef";
  unsigned char digest[SHA256_DIGEST_LENGTH];
  char computed[HEX_LEN];
  SHA256_CTX sha;
  SHA256_Init(&sha);
  SHA256_Update(&sha, c->buf, c->len);
  SHA256_Final(digest, &sha);
  for (int i = 0; i < SHA256_DIGEST_LENGTH; i++) {
    computed[2 * i] = hex[digest[i] >> 4];
    computed[2 * i + 1] = hex[digest[i] & 15];
  }
  if (memcmp(computed, sqlite3_value_text(argv[HASH]), HEX_LEN) != 0) return 0;
  memcpy(c->prev, computed, HEX_LEN);
  c->have_prev = 1;
  return 1;
}

static void step(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
  Chain *c = sqlite3_aggregate_context(ctx, sizeof *c);
  if (!c || c->broken) return;
  (void)argc;
  if (!c->started) {
    c->started = 1;
    c->next_seq = sqlite3_value_int64(argv[FIRST]);
    if (sqlite3_value_type(argv[ENTRY]) != SQLITE_NULL) {
      if (!is_hex_text(argv[ENTRY])) { c->broken = 1; return; }
      memcpy(c->prev, sqlite3_value_text(argv[ENTRY]), HEX_LEN);
      c->have_prev = 1;
    }
  }
  if (!event_verifies(c, argv)) { c->broken = 1; return; }
  c->count++;
  c->next_seq++;
}

static void final(sqlite3_context *ctx) {
  Chain *c = sqlite3_aggregate_context(ctx, 0);
  sqlite3_result_int64(ctx, c ? c->count : 0);
  if (c) free(c->buf);
}

#ifdef _WIN32
__declspec(dllexport)
#endif
int sqlite3_chainsqlite_init(sqlite3 *db, char **err, const sqlite3_api_routines *api) {
  SQLITE_EXTENSION_INIT2(api);
  (void)err;
  return sqlite3_create_function(db, "audit_chain_prefix", NARGS,
                                 SQLITE_UTF8 | SQLITE_DETERMINISTIC | SQLITE_DIRECTONLY, NULL,
                                 NULL, step, final);
}
