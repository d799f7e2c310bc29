// SPDX-License-Identifier: MIT
// The client-side cache structure (src/cache.hpp) without sockets: the
// table of cacheable reads, hits sharing one reply, the fill tokens against
// invalidations and flushes that come while a read is in flight, TTL, LRU
// by bytes; and the invalidation interpreter (src/interpret.hpp).
#include <gtest/gtest.h>

#include <cstring>
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
  Args(std::initializer_list<std::string> a) : Args(std::vector<std::string>(a)) {}
  explicit Args(std::vector<std::string> a) : v(std::move(a)) {
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

// What the cache charges for one entry: the read of `a` answered `value`.
size_t charge_of(const Args &a, const std::string &value) {
  ClientCache cache(config());
  cache.set_live(true);
  CacheFill *f = nullptr;
  get(cache, a, &f);
  answer(cache, f, value);
  EXPECT_EQ(cache.counts().entries, 1u);
  return cache.counts().bytes;
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

  size_t one = charge_of(Args{"GET", "k1"}, "v");
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

// ---- What an entry costs --------------------------------------------------
// An entry used to keep its parsed reply's arena whole (2 KB inline and
// more): about 2.3 KB for a 3-byte GET, so 16 MB held some 7,000 small
// values. It keeps a compact copy now, charged as cache.cpp's formula says.

namespace {

// A reply as the reader builds it from the server's bytes.
jr_reply *parse(const std::string &bytes, bool resp3 = false) {
  jr::ReaderLimits lim;
  lim.resp3 = resp3;
  jr::ReplyReader rr(lim);
  EXPECT_EQ(rr.feed(bytes.data(), bytes.size()), 0);
  jr_reply *r = nullptr;
  EXPECT_EQ(rr.next(&r), 1) << rr.error();
  return r;
}

bool has_text(int type) {
  return type == JR_REPLY_STRING || type == JR_REPLY_STATUS || type == JR_REPLY_ERROR ||
         type == JR_REPLY_DOUBLE || type == JR_REPLY_BIGNUM || type == JR_REPLY_VERB;
}

// b is a, node for node and byte for byte (terminators, a DOUBLE's value
// and a VERB's format included), every node of b in `arena`.
void expect_same(const jr_reply *a, const jr_reply *b, const jr::Arena *arena,
                 const std::string &where) {
  ASSERT_NE(b, nullptr) << where;
  ASSERT_EQ(a->type, b->type) << where;
  ASSERT_EQ(a->len, b->len) << where;
  EXPECT_EQ(b->arena, arena) << where;
  if (has_text(a->type)) {
    EXPECT_EQ(std::string(a->u.str, a->len + 1), std::string(b->u.str, b->len + 1)) << where;
    if (a->type == JR_REPLY_DOUBLE)
      EXPECT_EQ(std::memcmp(a->u.str - sizeof(double), b->u.str - sizeof(double), sizeof(double)),
                0)
          << where;
    if (a->type == JR_REPLY_VERB) EXPECT_STREQ(a->u.str - 4, b->u.str - 4) << where;
  } else if (a->type == JR_REPLY_INTEGER || a->type == JR_REPLY_BOOL) {
    EXPECT_EQ(a->u.integer, b->u.integer) << where;
  } else if (a->type != JR_REPLY_NIL) {
    for (size_t i = 0; i < a->len; i++)
      expect_same(a->u.elements[i], b->u.elements[i], arena, where + "[" + std::to_string(i) + "]");
  }
}

std::string bulk(const std::string &s) {
  return "$" + std::to_string(s.size()) + "\r\n" + s + "\r\n";
}

// HGETALL of 10 fields "fieldN" -> "valueN" (RESP2: a flat array).
std::string hgetall10() {
  std::string b = "*20\r\n";
  for (int i = 0; i < 10; i++)
    b += bulk("field" + std::to_string(i)) + bulk("value" + std::to_string(i));
  return b;
}

}  // namespace

// 4096 GETs of 3-byte values in 2 MB (512 bytes each): with the arena kept
// whole, fewer than 1,000 fit and the rest evicted each other.
TEST(CacheSize, ManySmallEntriesFitTheirBudget) {
  constexpr size_t kN = 4096;
  constexpr size_t kBudget = kN * 512;
  ClientCache cache(config(kBudget));
  cache.set_live(true);
  CacheFill *f = nullptr;
  for (size_t i = 0; i < kN; i++) {
    get(cache, Args{"GET", "key:" + std::to_string(i)}, &f);
    answer(cache, f, "abc");
  }
  ClientCache::Counts c = cache.counts();
  EXPECT_EQ(c.entries, kN);
  EXPECT_EQ(c.evictions, 0u);
  EXPECT_LE(c.bytes, kBudget);
  size_t hits = 0;
  for (size_t i = 0; i < kN; i++) {
    hits += get(cache, Args{"GET", "key:" + std::to_string(i)}, &f) == "abc" ? 1 : 0;
    if (f != nullptr) cache.finish(f, JR_ECANCELED, nullptr, 1);
  }
  EXPECT_EQ(hits, kN);
}

// The charge covers what the entry holds (the reply's tree, the request,
// the keys) and its overhead stays a few hundred bytes whatever the reply.
TEST(CacheSize, TheChargeCoversTheContentAndLittleMore) {
  struct Case {
    std::vector<std::string> args;
    std::string reply;
  };
  std::vector<Case> cases = {
      {{"GET", "key:1"}, bulk("abc")},
      {{"GET", "key:2"}, bulk(std::string(1000, 'x'))},
      {{"HGETALL", "hash:1"}, hgetall10()},
      {{"MGET", "a", "b", "a-rather-long-key-name-beyond-sso"}, "*3\r\n$1\r\n1\r\n$-1\r\n:3\r\n"},
  };
  for (Case &k : cases) {
    Args read(k.args);
    ClientCache cache(config());
    cache.set_live(true);
    CacheFill *f = nullptr;
    get(cache, read, &f);
    ASSERT_NE(f, nullptr);
    jr_reply *r = parse(k.reply);
    cache.finish(f, JR_OK, r, 1);
    size_t tree = jr::reply_tree_bytes(r);
    jr::reply_release(r);
    size_t content = tree;
    for (size_t i = 0; i < read.v.size(); i++) content += read.v[i].size() * (i == 0 ? 1 : 2);
    size_t charged = cache.counts().bytes;
    EXPECT_GE(charged, content + sizeof(jr::Arena)) << read.v[0];
    EXPECT_LE(charged, content + 640) << read.v[0];
    // The charged tree is the one held: one exact block, nothing else.
    jr_reply *hit = cache.lookup(0, read.p.size(), read.p.data(), read.l.data(), 1, &f);
    ASSERT_NE(hit, nullptr);
    EXPECT_EQ(hit->arena->footprint(), sizeof(jr::Arena) + tree);
    jr::reply_release(hit);
  }
  // Small entries cost a few hundred bytes, not their parse arena's 2 KB.
  EXPECT_LT(charge_of(Args{"GET", "key:1"}, "abc"), 512u);
}

// Whatever fills and evictions and invalidations happen, the sum of the
// charges stays within client_cache_bytes and goes back to 0.
TEST(CacheSize, TheAccountingStaysWithinTheBudget) {
  constexpr size_t kBudget = 64 * 1024;
  ClientCache cache(config(kBudget));
  cache.set_live(true);
  CacheFill *f = nullptr;
  size_t min_charge = charge_of(Args{"GET", "k0"}, "v");
  for (int i = 0; i < 2000; i++) {
    get(cache, Args{"GET", "k" + std::to_string(i % 700)}, &f);
    if (f != nullptr) answer(cache, f, std::string(static_cast<size_t>(i % 97) * 13, 'v'));
    ClientCache::Counts c = cache.counts();
    ASSERT_LE(c.bytes, kBudget);
    ASSERT_GE(c.bytes, c.entries * min_charge);
  }
  EXPECT_GT(cache.counts().evictions, 0u);
  for (int i = 0; i < 700; i++) cache.invalidate({"k" + std::to_string(i)});
  EXPECT_EQ(cache.counts().entries, 0u);
  EXPECT_EQ(cache.counts().bytes, 0u);
}

// A hit is the server's reply, node for node, shared by every hit: a
// compact copy (one block, no slack, nothing beyond it) unless the parsed
// reply's arena is tight already; errors are not cached.
TEST(CacheSize, HitsAreTheRepliesInOneTightBlock) {
  std::vector<std::pair<std::string, bool>> replies = {
      {bulk("abc"), false},
      {bulk(""), false},
      {bulk("7 bytes"), false},  // with its '\0', flush with the block's end: ASan sees past it
      {bulk(std::string("a\0b\r\nc", 6)), false},
      {bulk(std::string(5000, 'y')), false},  // beyond the parse arena's first chunk
      {"$-1\r\n", false},
      {":-42\r\n", false},
      {"+string\r\n", false},
      {"*0\r\n", false},
      {"*-1\r\n", false},
      {"*3\r\n$1\r\na\r\n:1\r\n$-1\r\n", false},
      {"*2\r\n*2\r\n$1\r\nx\r\n$1\r\ny\r\n*1\r\n*1\r\n:7\r\n", false},
      {hgetall10(), false},
  };
  std::string many = "*1000\r\n";
  for (int i = 0; i < 1000; i++) many += bulk("member" + std::to_string(i));
  replies.emplace_back(many, false);
#if JR_HIREDIS_RESP3
  replies.insert(replies.end(), {
                                    {"%2\r\n$1\r\na\r\n:1\r\n$1\r\nb\r\n,2.5\r\n", true},
                                    {"~2\r\n$1\r\nx\r\n#t\r\n", true},
                                    {",3.14159\r\n", true},
                                    {",-inf\r\n", true},
                                    {"#f\r\n", true},
                                    {"_\r\n", true},
                                    {"(12345678901234567890123\r\n", true},
                                    {"=9\r\ntxt:hello\r\n", true},
                                    {"*2\r\n%1\r\n+k\r\n~1\r\n,1e3\r\n=7\r\nmkd:abc\r\n", true},
                                });
#endif
  ClientCache cache(config(16 << 20));
  cache.set_live(true);
  for (size_t i = 0; i < replies.size(); i++) {
    SCOPED_TRACE(replies[i].first.substr(0, 40));
    Args read{"GET", "k" + std::to_string(i)};
    CacheFill *f = nullptr;
    get(cache, read, &f);
    ASSERT_NE(f, nullptr);
    jr_reply *r = parse(replies[i].first, replies[i].second);
    ASSERT_NE(r, nullptr);
    cache.finish(f, JR_OK, r, 1);
    jr_reply *h1 = cache.lookup(0, 2, read.p.data(), read.l.data(), 1, &f);
    jr_reply *h2 = cache.lookup(0, 2, read.p.data(), read.l.data(), 1, &f);
    ASSERT_NE(h1, nullptr);
    EXPECT_EQ(h1, h2) << "a hit shares the entry's tree, no copy";
    size_t tree = jr::reply_tree_bytes(r);
    // Kept as parsed only when its arena is tight already (a large
    // reply: here the 1000 members); otherwise a compact copy.
    bool tight = r->arena->footprint() <= sizeof(jr::Arena) + tree + tree / 8;
    EXPECT_EQ(h1 == r, tight);
    expect_same(r, h1, h1->arena, "root");
    EXPECT_EQ(jr::reply_tree_bytes(h1), tree);
    // The compact copy, whichever the cache kept.
    jr_reply *c = jr::reply_copy_exact(r);
    ASSERT_NE(c, nullptr);
    EXPECT_NE(c->arena, r->arena);
    EXPECT_TRUE(c->arena->exact());
    EXPECT_EQ(c->arena->bytes(), tree) << "all of the block used";
    EXPECT_EQ(c->arena->footprint(), sizeof(jr::Arena) + tree) << "and nothing beyond it";
    if (!tight) EXPECT_EQ(h1->arena->footprint(), sizeof(jr::Arena) + tree);
    jr::reply_release(r);
    expect_same(h1, c, c->arena, "the copy");  // also after the parsed reply went
    jr::reply_release(c);
    expect_same(h2, h1, h1->arena, "the hits outlive the parsed reply");
    jr::reply_release(h1);
    jr::reply_release(h2);
  }
  EXPECT_EQ(cache.counts().entries, replies.size());
  // Errors are not cached.
  Args read{"GET", "err"};
  CacheFill *f = nullptr;
  get(cache, read, &f);
  jr_reply *e = parse("-ERR wrong\r\n");
  cache.finish(f, JR_OK, e, 1);
  jr::reply_release(e);
  EXPECT_EQ(get(cache, read, &f), "");
  cache.finish(f, JR_ECANCELED, nullptr, 1);
}

// A reply that already is a compact copy is kept as it is, not copied.
TEST(CacheSize, ACompactReplyIsSharedNotCopied) {
  ClientCache cache(config());
  cache.set_live(true);
  jr_reply *parsed = parse(hgetall10());
  jr_reply *compact = jr::reply_copy_exact(parsed);
  jr::reply_release(parsed);
  ASSERT_NE(compact, nullptr);
  Args read{"HGETALL", "h"};
  CacheFill *f = nullptr;
  get(cache, read, &f);
  cache.finish(f, JR_OK, compact, 1);
  jr_reply *hit = cache.lookup(0, 2, read.p.data(), read.l.data(), 1, &f);
  EXPECT_EQ(hit, compact);
  jr::reply_release(hit);
  jr::reply_release(compact);
}

// A large reply's parse arena is tight already (its string has a chunk of
// its own): kept as it is, not copied, and charged its whole footprint.
TEST(CacheSize, ALargeReplyIsKeptAsItIsAndChargedWhole) {
  ClientCache cache(config(1 << 20));
  cache.set_live(true);
  jr_reply *r = parse(bulk(std::string(100000, 'z')));
  ASSERT_GT(r->arena->footprint(), sizeof(jr::Arena) + jr::reply_tree_bytes(r));
  Args read{"GET", "big"};
  CacheFill *f = nullptr;
  get(cache, read, &f);
  cache.finish(f, JR_OK, r, 1);
  jr_reply *hit = cache.lookup(0, 2, read.p.data(), read.l.data(), 1, &f);
  EXPECT_EQ(hit, r);
  EXPECT_GE(cache.counts().bytes, r->arena->footprint() + 2 * std::string("big").size());
  EXPECT_LE(cache.counts().bytes, r->arena->footprint() + 640);
  jr::reply_release(r);
  jr::reply_release(hit);
}
