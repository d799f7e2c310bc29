// SPDX-License-Identifier: MIT
// The client-side cache structure (src/cache.hpp) without sockets: the
// table of cacheable reads, hits sharing one reply, the fill tokens against
// invalidations and flushes that come while a read is in flight, TTL, LRU
// by bytes; and the invalidation interpreter (src/interpret.hpp).
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "cache.hpp"
#include "interpret.hpp"
#include "jr/jr.h"
#include "resp/reply.hpp"

namespace {

using jr::CacheFill;
using jr::ClientCache;

struct Args {
  std::vector<std::string> v;
  std::vector<const char *> p;
  std::vector<size_t> l;
  Args(std::initializer_list<std::string> a) : v(a) {
    for (auto &s : v) {
      p.push_back(s.data());
      l.push_back(s.size());
    }
  }
};

jr_reply *str(const std::string &s) {
  return jr::make_reply(jr::ReplyPart{JR_REPLY_STRING, s, 0});
}

ClientCache::Config config(size_t bytes = 1 << 20, int64_t ttl = 0) {
  ClientCache::Config c;
  c.max_bytes = bytes;
  c.ttl_ms = ttl;
  return c;
}

// A read through the cache: the hit's text, or "" and the fill token.
std::string get(ClientCache &cache, const Args &a, CacheFill **fill, int64_t now = 1, int db = 0) {
  jr_reply *r = cache.lookup(db, a.p.size(), a.p.data(), a.l.data(), now, fill);
  if (r == nullptr) return "";
  std::string s(r->u.str, r->len);
  jr::reply_release(r);
  return s;
}

// A miss answered by the server with `value` (fills if allowed).
void answer(ClientCache &cache, CacheFill *f, const std::string &value, int64_t now = 1) {
  ASSERT_NE(f, nullptr);
  jr_reply *r = str(value);
  cache.finish(f, JR_OK, r, now);
  jr::reply_release(r);  // the cache took its own reference if it kept it
}

}  // namespace

TEST(CacheTable, KnowsTheReadsAndTheirKeys) {
  std::vector<std::string_view> keys;
  Args get{"get", "k"};
  EXPECT_TRUE(jr::cacheable_read(2, get.p.data(), get.l.data(), keys));
  EXPECT_EQ(keys, (std::vector<std::string_view>{"k"}));
  Args mget{"MGET", "a", "b", "c"};
  EXPECT_TRUE(jr::cacheable_read(4, mget.p.data(), mget.l.data(), keys));
  EXPECT_EQ(keys.size(), 3u);
  Args hget{"HGET", "h", "f"};
  EXPECT_TRUE(jr::cacheable_read(3, hget.p.data(), hget.l.data(), keys));
  EXPECT_EQ(keys, (std::vector<std::string_view>{"h"}));
  for (Args a : {Args{"SET", "k", "v"}, Args{"GETEX", "k"}, Args{"GETDEL", "k"}, Args{"TTL", "k"},
                 Args{"SRANDMEMBER", "s"}, Args{"INCR", "k"}, Args{"GET"}, Args{"SCAN", "0"},
                 Args{"BLPOP", "l", "0"}, Args{"MGET"}}) {
    EXPECT_FALSE(jr::cacheable_read(a.p.size(), a.p.data(), a.l.data(), keys)) << a.v[0];
  }
}

TEST(Cache, HitsShareOneReplyAndCount) {
  ClientCache cache(config());
  cache.set_live(true);
  CacheFill *f = nullptr;
  EXPECT_EQ(get(cache, Args{"GET", "k"}, &f), "");
  answer(cache, f, "v");
  CacheFill *none = nullptr;
  Args a{"get", "k"};  // the name's case does not matter
  jr_reply *h1 = cache.lookup(0, 2, a.p.data(), a.l.data(), 1, &none);
  jr_reply *h2 = cache.lookup(0, 2, a.p.data(), a.l.data(), 1, &none);
  ASSERT_NE(h1, nullptr);
  EXPECT_EQ(h1, h2) << "one immutable tree, shared by reference";
  EXPECT_EQ(none, nullptr);
  // Another database is another entry.
  EXPECT_EQ(get(cache, Args{"GET", "k"}, &f, 1, 3), "");
  cache.finish(f, JR_ECONNLOST, nullptr, 1);
  // The entry goes; the replies handed out stay valid.
  cache.invalidate({"k"});
  EXPECT_EQ(std::string(h1->u.str, h1->len), "v");
  jr::reply_release(h1);
  jr::reply_release(h2);
  EXPECT_EQ(get(cache, Args{"GET", "k"}, &f), "");
  cache.finish(f, JR_ECANCELED, nullptr, 1);
  ClientCache::Counts c = cache.counts();
  EXPECT_EQ(c.hits, 2u);
  EXPECT_EQ(c.misses, 3u);
  EXPECT_EQ(c.invalidations, 1u);
  EXPECT_EQ(c.entries, 0u);
}

// The race every implementation must handle: the read was sent, the key
// changed, the invalidation came (in RESP2 on another socket, so before the
// reply), then the reply with the old value: it must not fill.
TEST(Cache, AnInvalidationWhileInFlightCancelsTheFill) {
  ClientCache cache(config());
  cache.set_live(true);
  CacheFill *f1 = nullptr, *f2 = nullptr, *f3 = nullptr;
  get(cache, Args{"GET", "k"}, &f1);
  get(cache, Args{"MGET", "x", "k"}, &f2);
  cache.invalidate({"k"});
  get(cache, Args{"GET", "k"}, &f3);  // sent after the invalidation: may fill
  answer(cache, f1, "old");
  answer(cache, f2, "old");
  CacheFill *f = nullptr;
  EXPECT_EQ(get(cache, Args{"GET", "k"}, &f), "") << "filled by a read the invalidation overtook";
  cache.finish(f, JR_ECANCELED, nullptr, 1);
  EXPECT_EQ(get(cache, Args{"MGET", "x", "k"}, &f), "");
  cache.finish(f, JR_ECANCELED, nullptr, 1);
  answer(cache, f3, "new");
  EXPECT_EQ(get(cache, Args{"GET", "k"}, &f), "new");
  // An invalidation of another key does not cancel.
  get(cache, Args{"GET", "y"}, &f1);
  cache.invalidate({"z"});
  answer(cache, f1, "y1");
  EXPECT_EQ(get(cache, Args{"GET", "y"}, &f), "y1");
}

TEST(Cache, AFlushOrALostTrackingCancelsEveryFill) {
  ClientCache cache(config());
  cache.set_live(true);
  CacheFill *f1 = nullptr, *f2 = nullptr, *f = nullptr;
  get(cache, Args{"GET", "a"}, &f1);
  cache.flush();
  answer(cache, f1, "1");
  EXPECT_EQ(get(cache, Args{"GET", "a"}, &f2), "");
  answer(cache, f2, "2");
  EXPECT_EQ(get(cache, Args{"GET", "a"}, &f), "2");
  // Tracking lost: everything goes at once, in-flight reads do not fill,
  // and nothing fills until it is live again.
  get(cache, Args{"GET", "b"}, &f1);
  cache.set_live(false);
  EXPECT_EQ(cache.counts().entries, 0u);
  answer(cache, f1, "b");
  EXPECT_EQ(get(cache, Args{"GET", "b"}, &f2), "");
  EXPECT_EQ(f2, nullptr) << "no token while not live";
  cache.set_live(true);
  EXPECT_EQ(get(cache, Args{"GET", "b"}, &f2), "");
  answer(cache, f2, "b");
  EXPECT_EQ(get(cache, Args{"GET", "b"}, &f), "b");
  // Errors are never cached.
  get(cache, Args{"GET", "e"}, &f1);
  jr_reply *err = jr::make_reply(jr::ReplyPart{JR_REPLY_ERROR, "WRONGTYPE", 0});
  cache.finish(f1, JR_OK, err, 1);
  jr::reply_release(err);
  EXPECT_EQ(get(cache, Args{"GET", "e"}, &f), "");
  cache.finish(f, JR_ECANCELED, nullptr, 1);
}

TEST(Cache, TtlAndLruByBytes) {
  ClientCache ttl(config(1 << 20, 100));
  ttl.set_live(true);
  CacheFill *f = nullptr;
  get(ttl, Args{"GET", "k"}, &f, 1000);
  answer(ttl, f, "v", 1000);
  EXPECT_EQ(get(ttl, Args{"GET", "k"}, &f, 1099), "v");
  EXPECT_EQ(get(ttl, Args{"GET", "k"}, &f, 1100), "") << "past its TTL";
  ttl.finish(f, JR_ECANCELED, nullptr, 1100);
  EXPECT_EQ(ttl.counts().evictions, 1u);

  jr_reply *probe = str("v");
  size_t one = ClientCache::cost_of(probe, 16, 2);
  jr::reply_release(probe);
  ClientCache lru(config(one * 3 + one / 2));
  lru.set_live(true);
  for (std::string k : {"k1", "k2", "k3"}) {
    get(lru, Args{"GET", k}, &f);
    answer(lru, f, "v");
  }
  EXPECT_EQ(get(lru, Args{"GET", "k1"}, &f), "v");  // k1 is now the most recent
  get(lru, Args{"GET", "k4"}, &f);
  answer(lru, f, "v");  // evicts k2, the least recently used
  ClientCache::Counts c = lru.counts();
  EXPECT_EQ(c.entries, 3u);
  EXPECT_LE(c.bytes, one * 3 + one / 2);
  EXPECT_EQ(c.evictions, 1u);
  EXPECT_EQ(get(lru, Args{"GET", "k1"}, &f), "v");
  EXPECT_EQ(get(lru, Args{"GET", "k2"}, &f), "");
  lru.finish(f, JR_ECANCELED, nullptr, 1);
  // A reply larger than the whole cache is not kept (and evicts nothing).
  get(lru, Args{"GET", "big"}, &f);
  answer(lru, f, std::string(one * 4, 'x'));
  EXPECT_EQ(lru.counts().entries, 3u);
}

TEST(Cache, BroadcastPrefixesLimitWhatIsCacheable) {
  ClientCache::Config cfg = config();
  cfg.prefixes = {"user:", "cfg:"};
  ClientCache cache(cfg);
  cache.set_live(true);
  CacheFill *f = nullptr;
  get(cache, Args{"GET", "user:1"}, &f);
  EXPECT_NE(f, nullptr);
  answer(cache, f, "u");
  get(cache, Args{"GET", "other"}, &f);
  EXPECT_EQ(f, nullptr) << "a key no prefix covers is never invalidated: not cached";
  get(cache, Args{"MGET", "user:1", "other"}, &f);
  EXPECT_EQ(f, nullptr);
  EXPECT_EQ(cache.counts().misses, 1u);
}

TEST(Interpret, Invalidations) {
  std::vector<std::string_view> keys;
  bool all = false;
  std::string why;
  // RESP2: a message on __redis__:invalidate with keys, or nil.
  jr_reply *m = jr::make_array_reply({{JR_REPLY_STRING, "message", 0},
                                      {JR_REPLY_STRING, "__redis__:invalidate", 0},
                                      {JR_REPLY_INTEGER, "", 7}});
  EXPECT_EQ(jr::parse_invalidation(m, false, keys, &all, why), JR_EPROTO);
  EXPECT_FALSE(why.empty());
  jr::reply_release(m);
  m = jr::make_array_reply(
      {{JR_REPLY_STRING, "message", 0}, {JR_REPLY_STRING, "other", 0}, {JR_REPLY_STRING, "x", 0}});
  EXPECT_EQ(jr::parse_invalidation(m, false, keys, &all, why), 0) << "another channel";
  EXPECT_EQ(jr::parse_invalidation(m, true, keys, &all, why), 0) << "not a push";
  jr::reply_release(m);
  m = jr::make_array_reply({{JR_REPLY_STRING, "subscribe", 0},
                            {JR_REPLY_STRING, "__redis__:invalidate", 0},
                            {JR_REPLY_INTEGER, "", 1}});
  EXPECT_EQ(jr::parse_invalidation(m, false, keys, &all, why), 0) << "a confirmation";
  jr::reply_release(m);
  EXPECT_EQ(jr::parse_invalidation(nullptr, false, keys, &all, why), 0);
}
