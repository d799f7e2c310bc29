// SPDX-License-Identifier: MIT
#include "commands.hpp"

#include <cstring>

namespace jr {

namespace {

struct Entry {
  const char *name;
  CommandClass cls;
  const char *reason;
};

constexpr const char *kUsePool =
    "blocking commands need a dedicated connection and would stall the shared one";

// Sorted by name (checked by a unit test): binary search below.
constexpr Entry kTable[] = {
    {"AUTH", CommandClass::kRefused,
     "AUTH is sent by libjr on every (re)connection: set the \"username\"/\"password\" options"},
    {"BLMOVE", CommandClass::kBlocking, kUsePool},
    {"BLMPOP", CommandClass::kBlocking, kUsePool},
    {"BLPOP", CommandClass::kBlocking, kUsePool},
    {"BRPOP", CommandClass::kBlocking, kUsePool},
    {"BRPOPLPUSH", CommandClass::kBlocking, kUsePool},
    {"BZMPOP", CommandClass::kBlocking, kUsePool},
    {"BZPOPMAX", CommandClass::kBlocking, kUsePool},
    {"BZPOPMIN", CommandClass::kBlocking, kUsePool},
    {"DISCARD", CommandClass::kRefused,
     "transactions must not interleave with other callers: use a transaction handle"},
    {"EXEC", CommandClass::kRefused,
     "transactions must not interleave with other callers: use a transaction handle"},
    {"HELLO", CommandClass::kRefused,
     "HELLO changes the protocol of the shared connection: libjr negotiates it itself (set the "
     "\"protocol\" option to 3 for RESP3, and \"username\"/\"password\" for AUTH)"},
    {"MONITOR", CommandClass::kRefused,
     "MONITOR turns the connection into a stream: use a monitor handle"},
    {"MULTI", CommandClass::kRefused,
     "transactions must not interleave with other callers: use a transaction handle"},
    {"PSUBSCRIBE", CommandClass::kRefused,
     "subscriptions need their own connection: use a pub/sub handle"},
    {"PSYNC", CommandClass::kRefused, "replication streams are not supported"},
    {"PUNSUBSCRIBE", CommandClass::kRefused,
     "subscriptions need their own connection: use a pub/sub handle"},
    {"QUIT", CommandClass::kRefused,
     "QUIT would close the shared connection: use jr_client_drain / jr_client_free"},
    {"RESET", CommandClass::kRefused,
     "RESET would clear the shared connection's state: libjr manages AUTH and SELECT"},
    {"SELECT", CommandClass::kRefused,
     "SELECT is tracked by libjr for the shared connection: use jr_db_new(client, n)"},
    {"SSUBSCRIBE", CommandClass::kRefused,
     "subscriptions need their own connection: use a pub/sub handle"},
    {"SUBSCRIBE", CommandClass::kRefused,
     "subscriptions need their own connection: use a pub/sub handle"},
    {"SUNSUBSCRIBE", CommandClass::kRefused,
     "subscriptions need their own connection: use a pub/sub handle"},
    {"SYNC", CommandClass::kRefused, "replication streams are not supported"},
    {"UNSUBSCRIBE", CommandClass::kRefused,
     "subscriptions need their own connection: use a pub/sub handle"},
    {"UNWATCH", CommandClass::kRefused,
     "WATCH state belongs to one connection: use a transaction handle with watched keys"},
    {"WAIT", CommandClass::kBlocking, kUsePool},
    {"WAITAOF", CommandClass::kBlocking, kUsePool},
    {"WATCH", CommandClass::kRefused,
     "WATCH state belongs to one connection: use a transaction handle with watched keys"},
};

constexpr const char *kClientReply =
    "CLIENT REPLY OFF/SKIP would desynchronise replies on the shared connection";

// Upper-cases s into buf (NUL-terminated); false when too long to be a name
// in the table.
bool upper(const char *s, size_t len, char *buf, size_t cap) noexcept {
  if (len >= cap) return false;  // len + 1 > cap wrapped at SIZE_MAX
  for (size_t i = 0; i < len; i++) {
    char c = s[i];
    buf[i] = (c >= 'a' && c <= 'z') ? static_cast<char>(c - 32) : c;
  }
  buf[len] = '\0';
  return true;
}

bool iequals(const char *s, size_t len, const char *upper_word) noexcept {
  size_t n = std::strlen(upper_word);
  if (len != n) return false;
  for (size_t i = 0; i < n; i++) {
    char c = s[i];
    if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 32);
    if (c != upper_word[i]) return false;
  }
  return true;
}

const Entry *lookup(const char *name, size_t len) noexcept {
  char buf[16];
  if (!upper(name, len, buf, sizeof buf)) return nullptr;
  size_t lo = 0, hi = sizeof kTable / sizeof kTable[0];
  while (lo < hi) {
    size_t mid = (lo + hi) / 2;
    int c = std::strcmp(buf, kTable[mid].name);
    if (c == 0) return &kTable[mid];
    if (c < 0) {
      hi = mid;
    } else {
      lo = mid + 1;
    }
  }
  return nullptr;
}

inline size_t arg_len(const char *const *argv, const size_t *argvlen, size_t i) noexcept {
  return argvlen != nullptr ? argvlen[i] : std::strlen(argv[i]);
}

}  // namespace

bool table_is_sorted() noexcept {
  for (size_t i = 1; i < sizeof kTable / sizeof kTable[0]; i++)
    if (std::strcmp(kTable[i - 1].name, kTable[i].name) >= 0) return false;
  return true;
}

Classification classify(size_t argc, const char *const *argv, const size_t *argvlen) noexcept {
  Classification out;
  size_t len0 = arg_len(argv, argvlen, 0);
  const char *name = argv[0];
  // Fast exit: every listed name starts with one of these letters.
  char c0 = len0 > 0 ? name[0] : 0;
  if (c0 >= 'a' && c0 <= 'z') c0 = static_cast<char>(c0 - 32);
  switch (c0) {
    case 'A':
    case 'B':
    case 'C':
    case 'D':
    case 'E':
    case 'H':
    case 'M':
    case 'P':
    case 'Q':
    case 'R':
    case 'S':
    case 'U':
    case 'W':
    case 'X':
      break;
    default:
      return out;
  }
  if (const Entry *e = lookup(name, len0)) {
    out.cls = e->cls;
    out.reason = e->reason;
    return out;
  }
  if (c0 == 'C' && argc >= 3 && iequals(name, len0, "CLIENT") &&
      iequals(argv[1], arg_len(argv, argvlen, 1), "REPLY")) {
    out.cls = CommandClass::kRefused;
    out.reason = kClientReply;
    return out;
  }
  if (c0 == 'X' && (iequals(name, len0, "XREAD") || iequals(name, len0, "XREADGROUP"))) {
    for (size_t i = 1; i < argc; i++) {
      size_t l = arg_len(argv, argvlen, i);
      if (iequals(argv[i], l, "STREAMS")) break;
      if (iequals(argv[i], l, "BLOCK")) {
        out.cls = CommandClass::kBlocking;
        out.reason = kUsePool;
        break;
      }
    }
  }
  return out;
}

const char *refusal_reason(const char *name, size_t len) noexcept {
  const Entry *e = lookup(name, len);
  return e != nullptr && e->cls == CommandClass::kRefused ? e->reason : nullptr;
}

}  // namespace jr
