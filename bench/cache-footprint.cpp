// SPDX-License-Identifier: MIT
// Client-side caching: what an entry costs and what a cache of a given size
// holds, against a standalone server.
//   jr-cache-footprint [-p port] [--keys N] [--cache BYTES] [--passes P]
// 1. Bytes per entry (jr_cache_bytes / entries) for a GET of a 3-byte and of
//    a 1000-byte value and an HGETALL of 10 fields, 1000 keys each.
// 2. A cyclic GET scan over N keys (default 16384, 3-byte values) with a
//    cache of BYTES (default 16 MB): hits and misses per pass. LRU over a
//    cyclic scan larger than the cache never hits.
// Writes keys "jrfoot:*" on the server.
#include <jr/jr.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

namespace {

[[noreturn]] void die(const char *what, int rc) {
  std::fprintf(stderr, "jr-cache-footprint: %s: %s\n", what, jr_strerror(rc));
  std::exit(1);
}

jr_client *make(int port, int64_t cache_bytes) {
  jr_options *o = jr_options_new();
  std::string ep = "127.0.0.1:" + std::to_string(port);
  jr_options_set(o, "endpoint", ep.c_str());
  jr_options_set(o, "cluster", "no");
  if (cache_bytes > 0 && jr_options_set_int(o, "client_cache_bytes", cache_bytes) != JR_OK)
    die("client_cache_bytes", JR_EINVAL);
  jr_client *c = nullptr;
  int rc = jr_client_new(o, &c);
  jr_options_free(o);
  if (rc != JR_OK) die("jr_client_new", rc);
  return c;
}

void call(jr_client *c, const std::vector<std::string> &args) {
  std::vector<const char *> p;
  std::vector<size_t> l;
  for (const std::string &a : args) {
    p.push_back(a.data());
    l.push_back(a.size());
  }
  jr_reply *r = nullptr;
  int rc = jr_client_call(c, p.size(), p.data(), l.data(), -1, &r);
  if (rc != JR_OK) die(args[0].c_str(), rc);
  jr_reply_free(r);
}

jr_stats stats(jr_client *c) {
  jr_stats s{};
  s.size = sizeof s;
  jr_client_stats(c, &s);
  return s;
}

uint64_t cache_bytes(jr_client *c) {
  int64_t n = jr_client_stats_text(c, nullptr, 0);
  std::string t(static_cast<size_t>(n) + 1, '\0');
  jr_client_stats_text(c, t.data(), t.size());
  size_t at = t.find("\njr_cache_bytes ");
  if (at == std::string::npos) die("jr_cache_bytes not in jr_client_stats_text", JR_EINVAL);
  return std::strtoull(t.c_str() + at + 16, nullptr, 10);
}

// Reads every key until one pass hits them all (the first reads may go
// out before the server tracks this client: they do not fill).
void fill(jr_client *c, const std::vector<std::vector<std::string>> &reads) {
  for (int pass = 0; pass < 20; pass++) {
    uint64_t before = stats(c).cache_hits;
    for (const auto &r : reads) call(c, r);
    if (stats(c).cache_hits - before == reads.size()) return;
  }
  die("the cache does not hold every read", JR_ETIMEDOUT);
}

}  // namespace

int main(int argc, char **argv) {
  int port = 6379, passes = 3;
  int64_t nkeys = 16384, cache = 16 << 20;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (std::strcmp(argv[i], "-p") == 0)
      port = std::atoi(argv[i + 1]);
    else if (std::strcmp(argv[i], "--keys") == 0)
      nkeys = std::atoll(argv[i + 1]);
    else if (std::strcmp(argv[i], "--cache") == 0)
      cache = std::atoll(argv[i + 1]);
    else if (std::strcmp(argv[i], "--passes") == 0)
      passes = std::atoi(argv[i + 1]);
    else
      die(argv[i], JR_EINVAL);
  }
  if (nkeys <= 0 || cache <= 0 || passes <= 0)
    die("--keys, --cache and --passes want > 0", JR_EINVAL);
  jr_client *writer = make(port, 0);

  // 1. Bytes per entry.
  constexpr int kPer = 1000;
  struct Kind {
    const char *name;
    std::vector<std::vector<std::string>> reads;
  };
  std::vector<Kind> kinds(3);
  kinds[0].name = "GET, 3-byte value";
  kinds[1].name = "GET, 1000-byte value";
  kinds[2].name = "HGETALL, 10 fields";
  for (int i = 0; i < kPer; i++) {
    std::string k = std::to_string(i);
    call(writer, {"SET", "jrfoot:s:" + k, "abc"});
    call(writer, {"SET", "jrfoot:l:" + k, std::string(1000, 'x')});
    std::vector<std::string> h = {"HSET", "jrfoot:h:" + k};
    for (int f = 0; f < 10; f++) {
      h.push_back("field" + std::to_string(f));
      h.push_back("value" + std::to_string(f));
    }
    call(writer, {"DEL", "jrfoot:h:" + k});
    call(writer, h);
    kinds[0].reads.push_back({"GET", "jrfoot:s:" + k});
    kinds[1].reads.push_back({"GET", "jrfoot:l:" + k});
    kinds[2].reads.push_back({"HGETALL", "jrfoot:h:" + k});
  }
  for (const Kind &k : kinds) {
    jr_client *c = make(port, int64_t{256} << 20);
    fill(c, k.reads);
    uint64_t b = cache_bytes(c);
    std::printf("%-22s %d entries, jr_cache_bytes %llu: %.0f bytes per entry\n", k.name, kPer,
                static_cast<unsigned long long>(b), static_cast<double>(b) / kPer);
    jr_client_free(c);
  }

  // 2. The cyclic scan.
  std::vector<std::string> keys;
  for (int64_t i = 0; i < nkeys; i++) {
    keys.push_back("jrfoot:c:{" + std::to_string(i) + "}");
    call(writer, {"SET", keys.back(), "abc"});
  }
  jr_client *c = make(port, cache);
  // The tracking is on once a read is answered from the cache.
  for (int i = 0; i < 10000 && stats(c).cache_hits == 0; i++) call(c, {"GET", keys[0]});
  if (stats(c).cache_hits == 0) die("the cache never went live", JR_ETIMEDOUT);
  std::printf("cyclic GET scan: %lld keys, client_cache_bytes %lld\n",
              static_cast<long long>(nkeys), static_cast<long long>(cache));
  for (int p = 0; p < passes; p++) {
    jr_stats before = stats(c);
    for (const std::string &k : keys) call(c, {"GET", k});
    jr_stats after = stats(c);
    uint64_t h = after.cache_hits - before.cache_hits;
    uint64_t m = after.cache_misses - before.cache_misses;
    std::printf("  pass %d: %llu hits, %llu misses (hit rate %.1f%%), jr_cache_bytes %llu\n", p + 1,
                static_cast<unsigned long long>(h), static_cast<unsigned long long>(m),
                100.0 * static_cast<double>(h) / static_cast<double>(h + m),
                static_cast<unsigned long long>(cache_bytes(c)));
  }
  jr_client_free(c);
  jr_client_free(writer);
  return 0;
}
