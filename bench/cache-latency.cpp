// SPDX-License-Identifier: MIT
// Client-side caching: how long after another client's write the caching
// client has applied the server's invalidation (its cache_invalidations
// counter moved). Each round: the caching client reads the key (filled,
// then tracked), the writer writes it; the time is taken from just before
// the writer's SET to the moment the counter moves (so it includes the
// SET's own trip to the server, which is printed apart for comparison).
//   jr-cache-latency [-p port] [-n rounds] [--protocol 2|3]
#include <jr/jr.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

namespace {

int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

[[noreturn]] void die(const char *what, int rc) {
  std::fprintf(stderr, "jr-cache-latency: %s: %s\n", what, jr_strerror(rc));
  std::exit(1);
}

jr_client *make(int port, int protocol, bool cache) {
  jr_options *o = jr_options_new();
  std::string ep = "127.0.0.1:" + std::to_string(port);
  jr_options_set(o, "endpoint", ep.c_str());
  jr_options_set(o, "cluster", "no");
  if (jr_options_set_int(o, "protocol", protocol) != JR_OK) die("protocol", JR_EINVAL);
  if (cache) jr_options_set_int(o, "client_cache_bytes", 1 << 20);
  jr_client *c = nullptr;
  int rc = jr_client_new(o, &c);
  jr_options_free(o);
  if (rc != JR_OK) die("jr_client_new", rc);
  return c;
}

void call(jr_client *c, std::vector<const char *> argv) {
  jr_reply *r = nullptr;
  int rc = jr_client_call(c, argv.size(), argv.data(), nullptr, -1, &r);
  if (rc != JR_OK) die(argv[0], rc);
  jr_reply_free(r);
}

uint64_t invalidations(jr_client *c) {
  jr_stats s{};
  s.size = sizeof s;
  jr_client_stats(c, &s);
  return s.cache_invalidations;
}

uint64_t hits(jr_client *c) {
  jr_stats s{};
  s.size = sizeof s;
  jr_client_stats(c, &s);
  return s.cache_hits;
}

double pct(std::vector<int64_t> &v, double p) {
  std::sort(v.begin(), v.end());
  return static_cast<double>(v[static_cast<size_t>(p * static_cast<double>(v.size() - 1))]) / 1e3;
}

}  // namespace

int main(int argc, char **argv) {
  int port = 6379, rounds = 2000, protocol = 2;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (std::strcmp(argv[i], "-p") == 0) port = std::atoi(argv[i + 1]);
    if (std::strcmp(argv[i], "-n") == 0) rounds = std::atoi(argv[i + 1]);
    if (std::strcmp(argv[i], "--protocol") == 0) protocol = std::atoi(argv[i + 1]);
  }
  jr_client *cached = make(port, protocol, true);
  jr_client *writer = make(port, 2, false);
  const char *key = "jrbench:csc";
  call(writer, {"SET", key, "0"});
  // The tracking is on once a read is answered from the cache.
  for (int i = 0; i < 10000 && hits(cached) == 0; i++) call(cached, {"GET", key});
  if (hits(cached) == 0) die("the cache never went live", JR_ETIMEDOUT);
  std::vector<int64_t> applied, set_rtt;
  for (int i = 0; i < rounds; i++) {
    call(cached, {"GET", key});  // fills (and the server tracks it again)
    call(cached, {"GET", key});  // a hit: the entry is there
    uint64_t before = invalidations(cached);
    std::string v = std::to_string(i);
    int64_t t0 = now_ns();
    call(writer, {"SET", key, v.c_str()});
    int64_t t1 = now_ns();
    while (invalidations(cached) == before) {
      if (now_ns() - t0 > 1000000000) die("no invalidation within 1 s", JR_ETIMEDOUT);
    }
    int64_t t2 = now_ns();
    set_rtt.push_back(t1 - t0);
    applied.push_back(t2 - t0);
  }
  std::printf("protocol=%d rounds=%d\n", protocol, rounds);
  std::printf("  writer's SET round trip      p50 %.1f us  p99 %.1f us\n", pct(set_rtt, 0.5),
              pct(set_rtt, 0.99));
  std::printf("  SET sent -> invalidation     p50 %.1f us  p99 %.1f us\n", pct(applied, 0.5),
              pct(applied, 0.99));
  jr_client_free(cached);
  jr_client_free(writer);
  return 0;
}
