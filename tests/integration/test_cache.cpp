// SPDX-License-Identifier: MIT
// Client-side caching (client_cache_bytes) against a real redis-server, in
// both protocols: RESP2 (CLIENT TRACKING REDIRECT to a connection
// subscribed to __redis__:invalidate) always, RESP3 (pushes on the shared
// connection) when libjr is built with hiredis >= 1.0. Hits and misses,
// invalidations from another client's writes and from this client's own,
// concurrent writers with several reader threads, the whole cache dropped
// when the invalidation (or the shared) connection is killed, TTL, LRU
// eviction by bytes, broadcast prefixes.
#include <gtest/gtest.h>
#include <jr/jr.h>

#include <atomic>
#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "cache_race.hpp"
#include "fake_server.hpp"
#include "jr_test.hpp"
#include "redis_server.hpp"

using namespace jrtest;

namespace {

// A figure of the Prometheus text (jr_client_stats_text), e.g.
// "jr_cache_evictions_total".
uint64_t metric(jr_client *c, const std::string &name) {
  std::string buf(1 << 16, '\0');
  int64_t n = jr_client_stats_text(c, buf.data(), buf.size());
  EXPECT_GT(n, 0);
  buf.resize(static_cast<size_t>(n > 0 ? n : 0));
  size_t at = buf.find("\n" + name + " ");
  if (at == std::string::npos) {
    ADD_FAILURE() << name << " not in the stats text";
    return 0;
  }
  return std::stoull(buf.substr(at + name.size() + 2));
}

class Cache : public ::testing::TestWithParam<int> {
 protected:
  static void SetUpTestSuite() { server_ = new RedisServer(); }
  static void TearDownTestSuite() {
    delete server_;
    server_ = nullptr;
  }
  void SetUp() override {
    if (GetParam() == 3 && JR_TEST_HIREDIS_MAJOR < 1)
      GTEST_SKIP() << "built with hiredis 0.14: no RESP3 (the RESP2 redirect mode is tested)";
  }
  OptionsPtr opts(int64_t bytes = 1 << 20, int64_t ttl_ms = 600000) {
    OptionsPtr o;
    o.set("endpoint", server_->endpoint()).set("cluster", "no");
    o.set_int("protocol", GetParam());
    o.set_int("client_cache_bytes", bytes).set_int("client_cache_ttl_ms", ttl_ms);
    return o;
  }
  static OptionsPtr plain() {
    OptionsPtr o;
    o.set("endpoint", server_->endpoint()).set("cluster", "no");
    return o;
  }
  // Reads `key` until a read is answered from the cache: the tracking is
  // established (the first reads of a new client miss without filling).
  static bool wait_live(jr_client *c, const std::string &key) {
    return eventually([&] {
      uint64_t before = stats_of(c).cache_hits;
      call(c, {"GET", key});
      return stats_of(c).cache_hits > before;
    });
  }
  std::string key(const std::string &k) const {
    return "csc" + std::to_string(GetParam()) + ":" + k;
  }
  static RedisServer *server_;
};
RedisServer *Cache::server_ = nullptr;

INSTANTIATE_TEST_SUITE_P(Protocol, Cache, ::testing::Values(2, 3),
                         [](const ::testing::TestParamInfo<int> &i) {
                           return "resp" + std::to_string(i.param);
                         });

TEST_P(Cache, HitsMissesAndOtherClientsWrites) {
  OptionsPtr wo = plain();
  ClientPtr writer(wo);
  auto o = opts();
  ClientPtr c(o);
  std::string k = key("a");
  ASSERT_TRUE(call(writer, {"SET", k, "v1"}).ok());
  ASSERT_TRUE(wait_live(c, k));
  jr_stats s0 = stats_of(c);
  for (int i = 0; i < 10; i++) EXPECT_EQ(call(c, {"GET", k}).str(), "v1");
  jr_stats s1 = stats_of(c);
  EXPECT_EQ(s1.cache_hits - s0.cache_hits, 10u);
  EXPECT_EQ(s1.cache_misses, s0.cache_misses);
  // A hit is a shared, read-only reply that outlives the entry.
  Result kept = call(c, {"GET", k});
  ASSERT_TRUE(call(writer, {"SET", k, "v2"}).ok());
  EXPECT_TRUE(eventually([&] { return call(c, {"GET", k}).str() == "v2"; }));
  EXPECT_EQ(kept.str(), "v1");
  EXPECT_GE(stats_of(c).cache_invalidations, 1u);
  // Reads of several keys, hashes, sets, lists: each answered from the cache.
  ASSERT_TRUE(call(writer, {"HSET", key("h"), "f", "1", "g", "2"}).ok());
  ASSERT_TRUE(call(writer, {"SADD", key("s"), "x"}).ok());
  for (const std::vector<std::string> &cmd :
       std::vector<std::vector<std::string>>{{"MGET", k, key("h0")},
                                             {"HGETALL", key("h")},
                                             {"hget", key("h"), "f"},
                                             {"SMEMBERS", key("s")},
                                             {"EXISTS", k, key("s")}}) {
    Result first = call(c, cmd);
    ASSERT_TRUE(first.ok()) << cmd[0];
    uint64_t hits = stats_of(c).cache_hits;
    Result second = call(c, cmd);
    EXPECT_EQ(stats_of(c).cache_hits, hits + 1) << cmd[0];
    EXPECT_EQ(second.type(), first.type()) << cmd[0];
    EXPECT_EQ(jr_reply_len(second.reply.get()), jr_reply_len(first.reply.get())) << cmd[0];
  }
  // A write of one key of an MGET drops it.
  ASSERT_TRUE(call(writer, {"SET", key("h0"), "z"}).ok());
  EXPECT_TRUE(eventually([&] {
    Result m = call(c, {"MGET", k, key("h0")});
    const jr_reply *e = jr_reply_element(m.reply.get(), 1);
    size_t n = 0;
    const char *s = jr_reply_str(e, &n);
    return s != nullptr && std::string(s, n) == "z";
  }));
  // Not cached: writes, and reads outside the table (TTL depends on time).
  uint64_t misses = stats_of(c).cache_misses;
  call(c, {"TTL", k});
  call(c, {"INCR", key("n")});
  EXPECT_EQ(stats_of(c).cache_misses, misses);
}

TEST_P(Cache, OwnWritesAreInvalidatedByTheServer) {
  auto o = opts();
  ClientPtr c(o);
  std::string k = key("own");
  ASSERT_TRUE(call(c, {"SET", k, "0"}).ok());
  ASSERT_TRUE(wait_live(c, k));
  for (int i = 1; i <= 20; i++) {
    std::string v = std::to_string(i);
    ASSERT_TRUE(call(c, {"SET", k, v}).ok());
    // The server's invalidation follows the write's reply (on the same
    // connection in RESP3, on the invalidation connection in RESP2): the
    // next reads see the new value once it is applied.
    EXPECT_TRUE(eventually([&] { return call(c, {"GET", k}).str() == v; }, 2000)) << v;
  }
}

// Writers on other connections, readers on several threads of the caching
// client: a reader never goes back to an older value (each value it sees
// was current at some point after the one before it), and after each write
// the cache converges to it: a read that filled the cache with a value an
// invalidation had already replaced would stay stale (the TTL is 10 min).
TEST_P(Cache, ConcurrentWritersNeverLeaveAStaleValue) {
  OptionsPtr wo = plain();
  ClientPtr writer(wo);
  auto o = opts();
  ClientPtr c(o);
  std::vector<std::string> keys;
  for (int i = 0; i < 4; i++) keys.push_back(key("race" + std::to_string(i)));
  for (const auto &k : keys) ASSERT_TRUE(call(writer, {"SET", k, "0"}).ok());
  ASSERT_TRUE(wait_live(c, keys[0]));
  // Four readers; one key written slowly (each value awaited through the
  // cache), three as fast as a second writer can.
  OptionsPtr fo = plain();
  ClientPtr w2(fo);
  CacheRace race = run_cache_race(c, writer, w2, {keys[0]},
                                  std::vector<std::string>(keys.begin() + 1, keys.end()), 200, 4);
  expect_consistent(race);
  jr_stats s = stats_of(c);
  EXPECT_GT(race.reads, 1000u);
  EXPECT_GT(s.cache_hits, 100u) << "the readers were answered from the cache";
  EXPECT_GT(s.cache_invalidations, 100u);
}

// Killing the connection that receives the invalidations (RESP2: the
// subscribed one; RESP3: the shared one) drops the whole cache at once: the
// writes made while nobody listened must not be hidden by old entries.
TEST_P(Cache, LosingTheInvalidationConnectionFlushes) {
  OptionsPtr wo = plain();
  ClientPtr writer(wo);
  auto o = opts();
  o.set("client_name", "csc-victim");
  ClientPtr c(o);
  std::vector<std::string> keys;
  for (int i = 0; i < 20; i++) {
    keys.push_back(key("kill" + std::to_string(i)));
    ASSERT_TRUE(call(writer, {"SET", keys.back(), "old"}).ok());
  }
  ASSERT_TRUE(wait_live(c, keys[0]));
  for (const auto &k : keys) call(c, {"GET", k});
  uint64_t hits = stats_of(c).cache_hits;
  for (const auto &k : keys) EXPECT_EQ(call(c, {"GET", k}).str(), "old");
  EXPECT_EQ(stats_of(c).cache_hits, hits + keys.size());
  // RESP2: the subscribed connection; RESP3: the one that tracks.
  std::string list = call(writer, {"CLIENT", "LIST"}).str();
  std::string id;
  size_t pos = 0;
  while ((pos = list.find("id=", pos)) != std::string::npos) {
    size_t eol = list.find('\n', pos);
    std::string line = list.substr(pos, eol - pos);
    pos = eol;
    if (line.find("name=csc-victim") == std::string::npos) continue;
    bool subscribed = line.find(" sub=1") != std::string::npos;
    bool tracking = line.find("flags=t") != std::string::npos;
    if (GetParam() == 2 ? subscribed : tracking) id = line.substr(3, line.find(' ') - 3);
  }
  ASSERT_FALSE(id.empty()) << list;
  ASSERT_EQ(call(writer, {"CLIENT", "KILL", "ID", id}).integer(), 1);
  // Written while the client has no invalidation connection: no
  // invalidation for these can reach it.
  for (const auto &k : keys) ASSERT_TRUE(call(writer, {"SET", k, "new"}).ok());
  for (const auto &k : keys)
    EXPECT_TRUE(eventually([&] { return call(c, {"GET", k}).str() == "new"; }, 5000)) << k;
  // Caching resumes once the tracking is back.
  EXPECT_TRUE(wait_live(c, keys[0]));
  ASSERT_TRUE(call(writer, {"SET", keys[0], "newer"}).ok());
  EXPECT_TRUE(eventually([&] { return call(c, {"GET", keys[0]}).str() == "newer"; }));
}

TEST_P(Cache, EntriesAgeOutAfterTheTtl) {
  OptionsPtr wo = plain();
  ClientPtr writer(wo);
  auto o = opts(1 << 20, 300);
  ClientPtr c(o);
  std::string k = key("ttl");
  ASSERT_TRUE(call(writer, {"SET", k, "x"}).ok());
  ASSERT_TRUE(wait_live(c, k));
  jr_stats s0 = stats_of(c);
  uint64_t ev0 = metric(c, "jr_cache_evictions_total");
  EXPECT_EQ(call(c, {"GET", k}).str(), "x");
  EXPECT_EQ(stats_of(c).cache_hits, s0.cache_hits + 1);
  std::this_thread::sleep_for(std::chrono::milliseconds(400));
  EXPECT_EQ(call(c, {"GET", k}).str(), "x");
  jr_stats s1 = stats_of(c);
  EXPECT_EQ(s1.cache_hits, s0.cache_hits + 1) << "an entry past its TTL was used";
  EXPECT_EQ(s1.cache_misses, s0.cache_misses + 1);
  EXPECT_EQ(metric(c, "jr_cache_evictions_total"), ev0 + 1);
}

TEST_P(Cache, LruEvictionKeepsTheBytesBound) {
  OptionsPtr wo = plain();
  ClientPtr writer(wo);
  const int64_t limit = 32 * 1024;
  auto o = opts(limit);
  ClientPtr c(o);
  std::vector<std::string> keys;
  // 64 entries of a 400-byte value (about 850 bytes each as charged):
  // well over the budget, so the LRU must evict.
  for (int i = 0; i < 64; i++) {
    keys.push_back(key("lru" + std::to_string(i)));
    ASSERT_TRUE(call(writer, {"SET", keys.back(), std::string(400, 'v')}).ok());
  }
  ASSERT_TRUE(wait_live(c, keys[0]));
  for (const auto &k : keys) call(c, {"GET", k});
  EXPECT_LE(metric(c, "jr_cache_bytes"), static_cast<uint64_t>(limit));
  EXPECT_GT(metric(c, "jr_cache_evictions_total"), 0u);
  // The most recent keys are there, the oldest are not.
  uint64_t hits = stats_of(c).cache_hits;
  call(c, {"GET", keys.back()});
  EXPECT_EQ(stats_of(c).cache_hits, hits + 1);
  uint64_t misses = stats_of(c).cache_misses;
  call(c, {"GET", keys[1]});
  EXPECT_EQ(stats_of(c).cache_misses, misses + 1);
  // Large values: one over the whole budget is never cached.
  ASSERT_TRUE(call(writer, {"SET", key("big"), std::string(64 * 1024, 'b')}).ok());
  call(c, {"GET", key("big")});
  misses = stats_of(c).cache_misses;
  call(c, {"GET", key("big")});
  EXPECT_EQ(stats_of(c).cache_misses, misses + 1);
  EXPECT_LE(metric(c, "jr_cache_bytes"), static_cast<uint64_t>(limit));
}

TEST_P(Cache, BroadcastPrefixesCacheOnlyTheirKeys) {
  OptionsPtr wo = plain();
  ClientPtr writer(wo);
  auto o = opts();
  o.set("client_cache_prefix", key("p:")).set("client_cache_prefix", key("q:"));
  ClientPtr c(o);
  ASSERT_TRUE(call(writer, {"SET", key("p:1"), "a"}).ok());
  ASSERT_TRUE(call(writer, {"SET", key("other"), "b"}).ok());
  ASSERT_TRUE(wait_live(c, key("p:1")));
  // Outside the prefixes: not cacheable (neither a hit nor a miss).
  jr_stats s0 = stats_of(c);
  for (int i = 0; i < 3; i++) EXPECT_EQ(call(c, {"GET", key("other")}).str(), "b");
  EXPECT_EQ(stats_of(c).cache_hits, s0.cache_hits);
  EXPECT_EQ(stats_of(c).cache_misses, s0.cache_misses);
  // Under one: a write of a key under it, never read, is announced too.
  ASSERT_TRUE(call(writer, {"SET", key("p:1"), "a2"}).ok());
  EXPECT_TRUE(eventually([&] { return call(c, {"GET", key("p:1")}).str() == "a2"; }));
  uint64_t inv = stats_of(c).cache_invalidations;
  ASSERT_TRUE(call(writer, {"SET", key("q:never-read"), "z"}).ok());
  EXPECT_TRUE(eventually([&] { return stats_of(c).cache_invalidations > inv; }));
}

// A submitted read (not jr_client_call) answered from the cache completes
// through its callback like any other, in poll mode too.
TEST_P(Cache, SubmittedHitsCompleteThroughTheirCallback) {
  OptionsPtr wo = plain();
  ClientPtr writer(wo);
  auto o = opts();
  o.set("dispatch", "poll");
  ClientPtr c(o);
  std::string k = key("cb");
  ASSERT_TRUE(call(writer, {"SET", k, "cbv"}).ok());
  ASSERT_TRUE(wait_live(c, k));
  struct Got {
    std::atomic<int> n{0};
    std::string v;
  } got;
  auto cb = [](void *ud, int status, const jr_reply *r) {
    auto *g = static_cast<Got *>(ud);
    size_t len = 0;
    const char *s = status == JR_OK ? jr_reply_str(r, &len) : nullptr;
    g->v = s != nullptr ? std::string(s, len) : "error";
    g->n++;
  };
  uint64_t hits = stats_of(c).cache_hits;
  const char *argv[] = {"GET", k.c_str()};
  ASSERT_EQ(jr_client_submit(c, 2, argv, nullptr, -1, cb, &got, nullptr), JR_OK);
  EXPECT_EQ(got.n.load(), 0) << "the callback never runs inside the submit";
  EXPECT_TRUE(eventually([&] {
    jr_dispatch(c, 0);
    return got.n.load() == 1;
  }));
  EXPECT_EQ(got.v, "cbv");
  EXPECT_EQ(stats_of(c).cache_hits, hits + 1);
}

// Reads inside a transaction or on a WATCH connection never use the cache
// (neither a hit nor a fill): they run on the server, in their context.
TEST_P(Cache, TransactionsAndWatchReadsBypassTheCache) {
  auto o = opts();
  ClientPtr c(o);
  std::string k = key("tx");
  ASSERT_TRUE(call(c, {"SET", k, "t1"}).ok());
  ASSERT_TRUE(wait_live(c, k));
  jr_stats s0 = stats_of(c);
  struct Got {
    std::atomic<int> n{0};
    std::string v;
  } got;
  auto cb = [](void *ud, int status, const jr_reply *r) {
    auto *g = static_cast<Got *>(ud);
    size_t len = 0;
    const char *s = status == JR_OK ? jr_reply_str(r, &len) : nullptr;
    g->v = s != nullptr ? std::string(s, len) : "error";
    g->n++;
  };
  const char *get[] = {"GET", k.c_str()};
  jr_multi *m = nullptr;
  ASSERT_EQ(jr_multi_new(c, -1, &m), JR_OK);
  ASSERT_EQ(jr_multi_add(m, 2, get, nullptr, cb, &got), JR_OK);
  ASSERT_EQ(jr_multi_exec(m, -1, nullptr, nullptr), JR_OK);
  ASSERT_TRUE(eventually([&] { return got.n.load() == 1; }));
  EXPECT_EQ(got.v, "t1");
  const char *keys[] = {k.c_str()};
  jr_watch *w = nullptr;
  ASSERT_EQ(jr_watch_new(c, -1, 1, keys, nullptr, &w), JR_OK);
  ASSERT_EQ(jr_watch_submit(w, 2, get, nullptr, -1, cb, &got), JR_OK);
  ASSERT_TRUE(eventually([&] { return got.n.load() == 2; }));
  EXPECT_EQ(got.v, "t1");
  jr_watch_free(w);
  jr_stats s1 = stats_of(c);
  EXPECT_EQ(s1.cache_hits, s0.cache_hits);
  EXPECT_EQ(s1.cache_misses, s0.cache_misses);
}

// The race every implementation must handle, made deterministic with a
// scripted server in RESP2 redirect mode: the read is in flight on the data
// connection when the invalidation of its key arrives on the invalidation
// connection, and the (now stale) reply comes after it. That reply answers
// its read but must not fill the cache: the next read goes to the server.
TEST(CacheRace, AnInvalidationThatOvertakesTheReplyCancelsTheFill) {
  std::atomic<bool> tracking_ok{false};
  std::atomic<bool> invalidate{false};
  std::atomic<int> reads{0};
  FakeServer *srv = nullptr;
  FakeServer server([&](int fd, int index) {
    if (index == 0) {  // the data connection
      // Its commands may arrive together (the tracking can be sent before
      // the first GET is read): counted in one buffer, by total.
      std::string in;
      auto until = [&](int total) {
        while (FakeServer::count_commands(in) < total && !srv->stopping()) {
          pollfd p{fd, POLLIN, 0};
          if (poll(&p, 1, 20) <= 0) continue;
          char buf[4096];
          ssize_t r = read(fd, buf, sizeof buf);
          if (r <= 0) return false;
          in.append(buf, static_cast<size_t>(r));
        }
        return !srv->stopping();
      };
      if (!until(1)) return;  // the first GET, before the tracking
      reads++;
      FakeServer::send_all(fd, "$2\r\nv0\r\n");
      if (!until(3)) return;  // CLIENT TRACKING off, on REDIRECT 7
      if (in.find("REDIRECT\r\n$1\r\n7\r\n") == std::string::npos) return;
      FakeServer::send_all(fd, "+OK\r\n+OK\r\n");
      tracking_ok = true;
      if (!until(4)) return;  // the read the invalidation overtakes
      invalidate = true;
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
      reads++;
      FakeServer::send_all(fd, "$3\r\nold\r\n");
      if (!until(5)) return;  // the next read must come here
      reads++;
      FakeServer::send_all(fd, "$3\r\nnew\r\n");
      srv->hold(fd);
    } else {                      // the invalidation connection
      srv->read_commands(fd, 2);  // CLIENT ID, SUBSCRIBE __redis__:invalidate
      FakeServer::send_all(fd,
                           ":7\r\n*3\r\n$9\r\nsubscribe\r\n$20\r\n__redis__:invalidate\r\n:1\r\n");
      while (!invalidate.load() && !srv->stopping())
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
      FakeServer::send_all(
          fd, "*3\r\n$7\r\nmessage\r\n$20\r\n__redis__:invalidate\r\n*1\r\n$1\r\nk\r\n");
      srv->hold(fd);
    }
  });
  srv = &server;
  OptionsPtr o;
  o.set("endpoint", server.endpoint()).set("cluster", "no");
  o.set_int("client_cache_bytes", 1 << 20).set_int("client_cache_ttl_ms", 600000);
  ClientPtr c(o);
  EXPECT_EQ(call(c, {"GET", "k"}).str(), "v0");
  ASSERT_TRUE(eventually([&] { return tracking_ok.load(); }));
  std::this_thread::sleep_for(std::chrono::milliseconds(50));  // the +OK is applied
  EXPECT_EQ(call(c, {"GET", "k"}).str(), "old");               // the answer of its own read
  EXPECT_EQ(stats_of(c).cache_invalidations, 1u);
  Result next = call(c, {"GET", "k"}, 2000);
  EXPECT_EQ(next.str(), "new") << "the overtaken reply filled the cache";
  EXPECT_EQ(reads.load(), 3);
  EXPECT_EQ(stats_of(c).cache_hits, 0u);
  // Nothing overtook that one: it filled, and the next read is a hit.
  EXPECT_EQ(call(c, {"GET", "k"}).str(), "new");
  EXPECT_EQ(stats_of(c).cache_hits, 1u);
}

}  // namespace
