// SPDX-License-Identifier: MIT
// The seed's transparent API against a real redis-server: the pool and
// blocking commands, MULTI/EXEC, WATCH, pub/sub, MONITOR, the script cache.
#include <gtest/gtest.h>
#include <jr/jr.h>

#include <atomic>
#include <deque>
#include <map>
#include <set>
#include <thread>

#include "jr_test.hpp"
#include "redis_server.hpp"
#include "shared_server.hpp"

using namespace jrtest;

namespace {

class PoolTxPubSub : public jrtest::SharedServer<PoolTxPubSub> {
 protected:
  static OptionsPtr opts() {
    OptionsPtr o;
    o.set("endpoint", server_->endpoint());
    return o;
  }
};

int64_t elapsed_ms(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() -
                                                               t0)
      .count();
}

int64_t info_field(jr_client *c, const std::string &section, const std::string &field) {
  Result r = call(c, {"INFO", section});
  std::string s = r.str();
  size_t p = s.find(field + ":");
  if (p == std::string::npos) return -1;
  return std::atoll(s.c_str() + p + field.size() + 1);
}

}  // namespace

// ---- Pool and blocking commands ----------------------------------------------------

TEST_F(PoolTxPubSub, BlpopDoesNotDelayOtherCallers) {
  auto o = opts();
  ClientPtr c(o);
  call(c, {"DEL", "q:blpop"});
  Recorder rec;
  auto t0 = std::chrono::steady_clock::now();
  ASSERT_EQ(submit(c, {"BLPOP", "q:blpop", "0"}, rec, 0), JR_OK);
  // While BLPOP waits on its dedicated connection, the shared one answers.
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  auto g0 = std::chrono::steady_clock::now();
  Result r = call(c, {"SET", "k", "v"});
  int64_t get_ms = elapsed_ms(g0);
  EXPECT_TRUE(r.ok());
  EXPECT_LT(get_ms, 100) << "a GET behind a BLPOP took " << get_ms << " ms";
  EXPECT_EQ(rec.done(), 0u);
  ASSERT_TRUE(call(c, {"RPUSH", "q:blpop", "hello"}).ok());
  ASSERT_TRUE(rec.wait_all());
  auto out = rec.get(0);
  EXPECT_EQ(out.status, JR_OK);
  EXPECT_EQ(out.type, JR_REPLY_ARRAY);
  EXPECT_GE(elapsed_ms(t0), 50);
  std::printf("[ measure  ] SET while a BLPOP waits: %lld ms\n", static_cast<long long>(get_ms));
}

TEST_F(PoolTxPubSub, PoolOfOneServesTwoBlockingCallersInTurn) {
  auto o = opts();
  o.set_int("max_connections", 1);
  ClientPtr c(o);
  call(c, {"DEL", "q:one"});
  Recorder rec;
  ASSERT_EQ(submit(c, {"BLPOP", "q:one", "5"}, rec, 0), JR_OK);
  ASSERT_EQ(submit(c, {"BLPOP", "q:one", "5"}, rec, 1), JR_OK);
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  ASSERT_TRUE(call(c, {"RPUSH", "q:one", "a"}).ok());
  // The second waits for the first's connection, then gets the next item.
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  ASSERT_TRUE(call(c, {"RPUSH", "q:one", "b"}).ok());
  ASSERT_TRUE(rec.wait_all(8000));
  EXPECT_EQ(rec.get(0).status, JR_OK);
  EXPECT_EQ(rec.get(1).status, JR_OK);
  EXPECT_EQ(rec.duplicates(), 0u);
  EXPECT_EQ(info_field(c, "clients", "blocked_clients"), 0);
}

TEST_F(PoolTxPubSub, TimedOutBlpopDoesNotEatALaterItem) {
  auto o = opts();
  ClientPtr c(o);
  call(c, {"DEL", "q:eat"});
  Recorder rec;
  // A client-side deadline shorter than the server-side block.
  ASSERT_EQ(submit(c, {"BLPOP", "q:eat", "0"}, rec, 0, 200), JR_OK);
  ASSERT_TRUE(rec.wait_all(3000));
  EXPECT_EQ(rec.get(0).status, JR_ETIMEDOUT);
  // The server no longer has a blocked client for it.
  EXPECT_TRUE(eventually([&] { return info_field(c, "clients", "blocked_clients") == 0; }));
  ASSERT_TRUE(call(c, {"RPUSH", "q:eat", "precious"}).ok());
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  EXPECT_EQ(call(c, {"LLEN", "q:eat"}).integer(), 1);

  // Same for a cancel.
  jr_req_id id = 0;
  call(c, {"DEL", "q:eat2"});
  ASSERT_EQ(submit(c, {"BRPOP", "q:eat2", "0"}, rec, 1, -1, &id), JR_OK);
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  ASSERT_EQ(jr_cancel(c, id), JR_OK);
  ASSERT_TRUE(rec.wait_all(3000));
  EXPECT_EQ(rec.get(1).status, JR_EABANDONED);
  EXPECT_TRUE(eventually([&] { return info_field(c, "clients", "blocked_clients") == 0; }));
  ASSERT_TRUE(call(c, {"RPUSH", "q:eat2", "kept"}).ok());
  EXPECT_EQ(call(c, {"LLEN", "q:eat2"}).integer(), 1);
}

TEST_F(PoolTxPubSub, BlockingTimeoutOnTheServerIsANilReply) {
  auto o = opts();
  ClientPtr c(o);
  Result r = call(c, {"BLPOP", "q:none", "0.1"});
  EXPECT_EQ(r.status, JR_OK);
  EXPECT_EQ(r.type(), JR_REPLY_NIL);
  r = call(c, {"XREAD", "BLOCK", "50", "STREAMS", "s:none", "$"});
  EXPECT_EQ(r.status, JR_OK);
  EXPECT_EQ(r.type(), JR_REPLY_NIL);
}

TEST_F(PoolTxPubSub, PoolWaitTimesOutWithAClearError) {
  auto o = opts();
  o.set_int("max_connections", 1);
  ClientPtr c(o);
  Recorder rec;
  ASSERT_EQ(submit(c, {"BLPOP", "q:busy", "1"}, rec, 0), JR_OK);
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  ASSERT_EQ(submit(c, {"BLPOP", "q:busy", "1"}, rec, 1, 200), JR_OK);
  ASSERT_TRUE(rec.wait_all(5000));
  EXPECT_EQ(rec.get(1).status, JR_EPOOLTIMEOUT);
  EXPECT_EQ(jr_err_unsent(JR_EPOOLTIMEOUT), 1);
  EXPECT_EQ(rec.get(0).status, JR_OK);
}

// ---- MULTI/EXEC ------------------------------------------------------------------------

namespace {
int multi_add(jr_multi *m, Recorder &rec, size_t token, const std::vector<std::string> &args) {
  std::vector<size_t> lens;
  auto argv = argv_of(args, lens);
  void *ud = rec.expect(token);
  int rc = jr_multi_add(m, argv.size(), argv.data(), lens.data(), Recorder::cb, ud);
  if (rc != JR_OK) rec.refused();
  return rc;
}
}  // namespace

TEST_F(PoolTxPubSub, MultiExecGivesEachCommandItsOwnReply) {
  auto o = opts();
  ClientPtr c(o);
  call(c, {"DEL", "tx:a", "tx:s"});
  call(c, {"SET", "tx:s", "text"});
  Recorder rec;
  jr_multi *m = nullptr;
  ASSERT_EQ(jr_multi_new(c, -1, &m), JR_OK);
  ASSERT_EQ(multi_add(m, rec, 0, {"SET", "tx:a", "1"}), JR_OK);
  ASSERT_EQ(multi_add(m, rec, 1, {"INCR", "tx:a"}), JR_OK);
  ASSERT_EQ(multi_add(m, rec, 2, {"INCR", "tx:s"}), JR_OK);  // fails at run time
  ASSERT_EQ(multi_add(m, rec, 3, {"GET", "tx:a"}), JR_OK);
  EXPECT_EQ(multi_add(m, rec, 9, {"WATCH", "x"}), JR_EREFUSED);
  void *exec_ud = rec.expect(4);
  ASSERT_EQ(jr_multi_exec(m, -1, Recorder::cb, exec_ud), JR_OK);
  ASSERT_TRUE(rec.wait_all());
  EXPECT_EQ(rec.get(0).text, "OK");
  EXPECT_EQ(rec.get(1).integer, 2);
  EXPECT_EQ(rec.get(2).status, JR_OK);
  EXPECT_EQ(rec.get(2).type, JR_REPLY_ERROR);
  EXPECT_EQ(rec.get(3).text, "2");
  EXPECT_EQ(rec.get(4).type, JR_REPLY_ARRAY);
  EXPECT_EQ(rec.duplicates(), 0u);
}

TEST_F(PoolTxPubSub, MultiIsAtomicAgainstConcurrentCallers) {
  auto o = opts();
  ClientPtr c(o);
  call(c, {"DEL", "tx:atomic"});
  std::atomic<bool> stop{false};
  std::thread noise([&] {
    Recorder r;
    size_t i = 0;
    while (!stop) {
      submit(c, {"RPUSH", "tx:atomic", "noise"}, r, i++);
      if (i % 256 == 0) r.wait_all();
    }
    r.wait_all();
  });
  Recorder rec;
  for (int t = 0; t < 20; t++) {
    jr_multi *m = nullptr;
    ASSERT_EQ(jr_multi_new(c, -1, &m), JR_OK);
    for (int i = 0; i < 5; i++)
      ASSERT_EQ(multi_add(m, rec, t * 5 + i, {"RPUSH", "tx:atomic", "tx" + std::to_string(t)}),
                JR_OK);
    ASSERT_EQ(jr_multi_exec(m, -1, nullptr, nullptr), JR_OK);
  }
  ASSERT_TRUE(rec.wait_all());
  stop = true;
  noise.join();
  // Each transaction's 5 pushes are adjacent in the list.
  for (int t = 0; t < 20; t++) {
    int64_t first = rec.get(t * 5).integer;
    for (int i = 1; i < 5; i++) EXPECT_EQ(rec.get(t * 5 + i).integer, first + i) << t;
  }
}

TEST_F(PoolTxPubSub, ExecAbortReachesEveryHandleWithTheOriginalError) {
  auto o = opts();
  ClientPtr c(o);
  Recorder rec;
  jr_multi *m = nullptr;
  ASSERT_EQ(jr_multi_new(c, -1, &m), JR_OK);
  ASSERT_EQ(multi_add(m, rec, 0, {"SET", "tx:abort", "1"}), JR_OK);
  ASSERT_EQ(multi_add(m, rec, 1, {"NOSUCHCMD", "x"}), JR_OK);
  ASSERT_EQ(multi_add(m, rec, 2, {"SET", "tx:abort", "2"}), JR_OK);
  ASSERT_EQ(jr_multi_exec(m, -1, nullptr, nullptr), JR_OK);
  ASSERT_TRUE(rec.wait_all());
  for (int i = 0; i < 3; i++) {
    EXPECT_EQ(rec.get(i).status, JR_OK);
    EXPECT_EQ(rec.get(i).type, JR_REPLY_ERROR);
  }
  EXPECT_NE(rec.get(1).text.find("unknown command"), std::string::npos) << rec.get(1).text;
  EXPECT_NE(rec.get(0).text.find("EXECABORT"), std::string::npos) << rec.get(0).text;
  EXPECT_NE(rec.get(0).text.find("unknown command"), std::string::npos) << rec.get(0).text;
  EXPECT_EQ(call(c, {"EXISTS", "tx:abort"}).integer(), 0);
}

TEST_F(PoolTxPubSub, DiscardCompletesEveryHandle) {
  auto o = opts();
  ClientPtr c(o);
  Recorder rec;
  jr_multi *m = nullptr;
  ASSERT_EQ(jr_multi_new(c, 3, &m), JR_OK);
  ASSERT_EQ(multi_add(m, rec, 0, {"SET", "tx:d", "1"}), JR_OK);
  ASSERT_EQ(multi_add(m, rec, 1, {"SET", "tx:d", "2"}), JR_OK);
  jr_multi_discard(m);
  ASSERT_TRUE(rec.wait_all());
  EXPECT_EQ(rec.get(0).status, JR_EDISCARDED);
  EXPECT_EQ(rec.get(1).status, JR_EDISCARDED);
  EXPECT_EQ(jr_err_unsent(JR_EDISCARDED), 1);
}

TEST_F(PoolTxPubSub, MultiRunsInItsDatabase) {
  auto o = opts();
  ClientPtr c(o);
  Recorder rec;
  jr_multi *m = nullptr;
  ASSERT_EQ(jr_multi_new(c, 5, &m), JR_OK);
  ASSERT_EQ(multi_add(m, rec, 0, {"SET", "tx:db5", "five"}), JR_OK);
  ASSERT_EQ(jr_multi_exec(m, -1, nullptr, nullptr), JR_OK);
  ASSERT_TRUE(rec.wait_all());
  jr_db *db5 = nullptr;
  jr_db_new(c, 5, &db5);
  EXPECT_EQ(call(db5, {"GET", "tx:db5"}).str(), "five");
  EXPECT_EQ(call(c, {"EXISTS", "tx:db5"}).integer(), 0);
  jr_db_free(db5);
}

// ---- WATCH ------------------------------------------------------------------------------

namespace {
// The seed's counter: read under WATCH, write in MULTI. Returns the status
// of the SET inside the transaction.
int watch_increment(jr_client *c, const std::string &key, RedisServer *meddle) {
  jr_watch *w = nullptr;
  const char *keys[] = {key.c_str()};
  EXPECT_EQ(jr_watch_new(c, -1, 1, keys, nullptr, &w), JR_OK);
  Recorder rec;
  std::vector<size_t> lens;
  std::vector<std::string> get = {"GET", key};
  auto argv = argv_of(get, lens);
  void *ud = rec.expect(0);
  EXPECT_EQ(jr_watch_submit(w, argv.size(), argv.data(), lens.data(), -1, Recorder::cb, ud), JR_OK);
  EXPECT_TRUE(rec.wait_all());
  int64_t value = std::atoll(rec.get(0).text.c_str()) + 1;
  if (meddle != nullptr) meddle->cmd("INCR " + key);  // another client changes it
  jr_multi *m = nullptr;
  EXPECT_EQ(jr_watch_multi(w, &m), JR_OK);
  jr_multi *again = nullptr;
  EXPECT_EQ(jr_watch_multi(w, &again), JR_EMISUSE);
  multi_add(m, rec, 1, {"SET", key, std::to_string(value)});
  EXPECT_EQ(jr_multi_exec(m, -1, nullptr, nullptr), JR_OK);
  EXPECT_TRUE(rec.wait_all());
  jr_watch_free(w);
  return rec.get(1).status;
}
}  // namespace

TEST_F(PoolTxPubSub, WatchCounterIncrements) {
  auto o = opts();
  ClientPtr c(o);
  call(c, {"SET", "w:counter", "41"});
  EXPECT_EQ(watch_increment(c, "w:counter", nullptr), JR_OK);
  EXPECT_EQ(call(c, {"GET", "w:counter"}).str(), "42");
}

TEST_F(PoolTxPubSub, WatchConflictFromAnotherClientAbortsTheTransaction) {
  auto o = opts();
  ClientPtr c(o);
  call(c, {"SET", "w:conflict", "10"});
  EXPECT_EQ(watch_increment(c, "w:conflict", server_), JR_EWATCH);
  // The other client's increment stands; ours did not happen.
  EXPECT_EQ(call(c, {"GET", "w:conflict"}).str(), "11");
  EXPECT_EQ(jr_err_unsent(JR_EWATCH), 1);
  // The connection went back to the pool without WATCH state: the next
  // watch on it works.
  EXPECT_EQ(watch_increment(c, "w:conflict", nullptr), JR_OK);
  EXPECT_EQ(call(c, {"GET", "w:conflict"}).str(), "12");
}

TEST_F(PoolTxPubSub, WatchFreedBeforeItsTransactionRunsMakesItMisuse) {
  auto o = opts();
  ClientPtr c(o);
  call(c, {"SET", "w:orphan", "1"});
  const char *keys[] = {"w:orphan"};
  Recorder rec;
  // Freed with its transaction built but not executed.
  jr_watch *w = nullptr;
  ASSERT_EQ(jr_watch_new(c, -1, 1, keys, nullptr, &w), JR_OK);
  jr_multi *m = nullptr;
  ASSERT_EQ(jr_watch_multi(w, &m), JR_OK);
  multi_add(m, rec, 0, {"SET", "w:orphan", "2"});
  jr_watch_free(w);
  std::this_thread::sleep_for(std::chrono::milliseconds(20));  // the release ran on the loop
  EXPECT_EQ(jr_multi_exec(m, -1, nullptr, nullptr), JR_EMISUSE);
  ASSERT_TRUE(rec.wait_all());
  EXPECT_EQ(rec.get(0).status, JR_EMISUSE);
  EXPECT_EQ(rec.get(0).count, 1);
  EXPECT_EQ(call(c, {"GET", "w:orphan"}).str(), "1");
  // Discarding such a transaction works as always.
  ASSERT_EQ(jr_watch_new(c, -1, 1, keys, nullptr, &w), JR_OK);
  ASSERT_EQ(jr_watch_multi(w, &m), JR_OK);
  multi_add(m, rec, 1, {"SET", "w:orphan", "3"});
  jr_watch_free(w);
  jr_multi_discard(m);
  ASSERT_TRUE(rec.wait_all());
  EXPECT_EQ(rec.get(1).status, JR_EDISCARDED);
  // And the other order still runs the transaction.
  EXPECT_EQ(watch_increment(c, "w:orphan", nullptr), JR_OK);
  EXPECT_EQ(call(c, {"GET", "w:orphan"}).str(), "2");
}

TEST_F(PoolTxPubSub, ManyWatchersWithAPoolOfTwo) {
  auto o = opts();
  o.set_int("max_connections", 2);
  ClientPtr c(o);
  call(c, {"SET", "w:many", "0"});
  std::vector<std::thread> ts;
  std::atomic<int> committed{0};
  for (int t = 0; t < 4; t++) {
    ts.emplace_back([&] {
      for (int i = 0; i < 10; i++) {
        // Retry on conflict, as users of WATCH do.
        while (watch_increment(c, "w:many", nullptr) != JR_OK) {
        }
        committed++;
      }
    });
  }
  for (auto &t : ts) t.join();
  EXPECT_EQ(committed.load(), 40);
  EXPECT_EQ(call(c, {"GET", "w:many"}).str(), "40");
}

// ---- Pub/sub -----------------------------------------------------------------------------

TEST_F(PoolTxPubSub, PubSubDeliversConfirmationsAndMessages) {
  auto o = opts();
  Inbox in;  // declared first: outlives the client's final callbacks
  ClientPtr c(o);
  jr_sub *s = nullptr;
  ASSERT_EQ(jr_sub_new(c, Inbox::cb, &in, &s), JR_OK);
  const char *ch[] = {"ps:hello"};
  ASSERT_EQ(jr_sub_subscribe(s, 0, 1, ch, nullptr), JR_OK);
  auto m = in.next();
  ASSERT_EQ(m.first, 0);
  EXPECT_EQ(m.second, (std::vector<std::string>{"subscribe", "ps:hello", "1"}));
  const char *pt[] = {"ps:h*"};
  ASSERT_EQ(jr_sub_subscribe(s, 1, 1, pt, nullptr), JR_OK);
  EXPECT_EQ(in.next().second, (std::vector<std::string>{"psubscribe", "ps:h*", "2"}));
  EXPECT_EQ(call(c, {"PUBLISH", "ps:hello", "World!"}).integer(), 2);
  auto a = in.next_of("message");
  EXPECT_EQ(a, (std::vector<std::string>{"message", "ps:hello", "World!"}));
  // Removing channels never drops patterns.
  ASSERT_EQ(jr_sub_unsubscribe(s, 0, 0, nullptr, nullptr), JR_OK);
  EXPECT_EQ(in.next_of("unsubscribe"), (std::vector<std::string>{"unsubscribe", "ps:hello", "1"}));
  EXPECT_TRUE(eventually([&] { return call(c, {"PUBLISH", "ps:hello", "again"}).integer() == 1; }));
  auto p = in.next_of("pmessage");
  EXPECT_EQ(p, (std::vector<std::string>{"pmessage", "ps:h*", "ps:hello", "again"}));
  ASSERT_EQ(jr_sub_ping(s, "hi", 2), JR_OK);
  EXPECT_EQ(in.next_of("pong"), (std::vector<std::string>{"pong", "hi"}));
  jr_sub_free(s);
  ASSERT_TRUE(eventually([&] {
    std::lock_guard<std::mutex> lk(in.mu);
    return in.closed == 1;
  }));
}

TEST_F(PoolTxPubSub, SubscribersShareOneConnectionWithRefcounts) {
  auto o = opts();
  Inbox a, b;
  ClientPtr c(o);
  jr_sub *sa = nullptr, *sb = nullptr;
  ASSERT_EQ(jr_sub_new(c, Inbox::cb, &a, &sa), JR_OK);
  ASSERT_EQ(jr_sub_new(c, Inbox::cb, &b, &sb), JR_OK);
  const char *ch[] = {"ps:shared"};
  ASSERT_EQ(jr_sub_subscribe(sa, 0, 1, ch, nullptr), JR_OK);
  ASSERT_FALSE(a.next_of("subscribe").empty());
  ASSERT_EQ(jr_sub_subscribe(sb, 0, 1, ch, nullptr), JR_OK);
  ASSERT_FALSE(b.next_of("subscribe").empty());
  // One subscriber on the server for two of ours.
  EXPECT_EQ(call(c, {"PUBLISH", "ps:shared", "x"}).integer(), 1);
  EXPECT_FALSE(a.next_of("message").empty());
  EXPECT_FALSE(b.next_of("message").empty());
  jr_sub_free(sa);
  // b still hears it.
  EXPECT_TRUE(eventually([&] { return call(c, {"PUBLISH", "ps:shared", "y"}).integer() == 1; }));
  EXPECT_EQ(b.next_of("message"), (std::vector<std::string>{"message", "ps:shared", "y"}));
  jr_sub_free(sb);
  EXPECT_TRUE(eventually([&] { return call(c, {"PUBLISH", "ps:shared", "z"}).integer() == 0; }));
  EXPECT_TRUE(a.wait_closed());
  EXPECT_TRUE(b.wait_closed());
}

// Each (un)subscribe confirmation carries the server's own count for the
// connection (channels + patterns of the shared connection, sharded
// channels of a node's), as justredis delivers it: [b'subscribe', b'hi', 1].
// Not a count computed when the confirmation is delivered: two channels
// subscribed in one call, then a pattern, give 1, 2, 3.
TEST_F(PoolTxPubSub, ConfirmationsCarryTheServersCount) {
  RedisServer srv;
  OptionsPtr o;
  o.set("endpoint", srv.endpoint()).set_int("connect_retry", 50);
  Inbox a, b;  // declared first: outlive the client's final callbacks
  ClientPtr c(o);
  jr_sub *sa = nullptr, *sb = nullptr;
  ASSERT_EQ(jr_sub_new(c, Inbox::cb, &a, &sa), JR_OK);
  ASSERT_EQ(jr_sub_new(c, Inbox::cb, &b, &sb), JR_OK);
  using V = std::vector<std::string>;
  const char *ch[] = {"cnt:c1", "cnt:c2"};
  const char *pt[] = {"cnt:p*"};
  // Both calls before any answer has arrived.
  ASSERT_EQ(jr_sub_subscribe(sa, JR_SUB_CHANNELS, 2, ch, nullptr), JR_OK);
  ASSERT_EQ(jr_sub_subscribe(sa, JR_SUB_PATTERNS, 1, pt, nullptr), JR_OK);
  EXPECT_EQ(a.next().second, (V{"subscribe", "cnt:c1", "1"}));
  EXPECT_EQ(a.next().second, (V{"subscribe", "cnt:c2", "2"}));
  EXPECT_EQ(a.next().second, (V{"psubscribe", "cnt:p*", "3"}));
  const char *sh[] = {"{cnt}s1", "{cnt}s2"};  // one slot: one SSUBSCRIBE, in order
  ASSERT_EQ(jr_sub_subscribe(sa, JR_SUB_SHARDED, 2, sh, nullptr), JR_OK);
  EXPECT_EQ(a.next().second, (V{"ssubscribe", "{cnt}s1", "1"}));
  EXPECT_EQ(a.next().second, (V{"ssubscribe", "{cnt}s2", "2"}));
  // Another subscriber of a name the connection has: the server's count
  // (what Redis answers to a repeated SUBSCRIBE), not b's own.
  const char *c1[] = {"cnt:c1"};
  ASSERT_EQ(jr_sub_subscribe(sb, JR_SUB_CHANNELS, 1, c1, nullptr), JR_OK);
  EXPECT_EQ(b.next().second, (V{"subscribe", "cnt:c1", "3"}));
  const char *c3[] = {"cnt:c3"};
  ASSERT_EQ(jr_sub_subscribe(sb, JR_SUB_CHANNELS, 1, c3, nullptr), JR_OK);
  EXPECT_EQ(b.next().second, (V{"subscribe", "cnt:c3", "4"}));
  ASSERT_EQ(jr_sub_subscribe(sb, JR_SUB_SHARDED, 1, sh, nullptr), JR_OK);
  EXPECT_EQ(b.next().second, (V{"ssubscribe", "{cnt}s1", "2"}));
  // After a reconnect libjr subscribes everything again (SUBSCRIBE c1 c2
  // c3, PSUBSCRIBE p*, SSUBSCRIBE s1 s2) and each subscriber sees the
  // server's confirmations of its names, then JR_SUB_RESUBSCRIBED.
  srv.cmd("CLIENT KILL TYPE pubsub");
  auto until_back = [](Inbox &in) {
    std::set<V> got;
    EXPECT_EQ(in.next(3000).first, JR_SUB_LOST);
    for (;;) {
      auto m = in.next(5000);
      if (m.first != JR_OK) {
        EXPECT_EQ(m.first, JR_SUB_RESUBSCRIBED);
        return got;
      }
      got.insert(m.second);
    }
  };
  EXPECT_EQ(until_back(a), (std::set<V>{{"subscribe", "cnt:c1", "1"},
                                        {"subscribe", "cnt:c2", "2"},
                                        {"psubscribe", "cnt:p*", "4"},
                                        {"ssubscribe", "{cnt}s1", "1"},
                                        {"ssubscribe", "{cnt}s2", "2"}}));
  EXPECT_EQ(until_back(b), (std::set<V>{{"subscribe", "cnt:c1", "1"},
                                        {"subscribe", "cnt:c3", "3"},
                                        {"ssubscribe", "{cnt}s1", "1"}}));
  // Unsubscribing: the count once the server has read libjr's UNSUBSCRIBE
  // (unchanged when another subscriber keeps the name).
  const char *c2[] = {"cnt:c2"};
  ASSERT_EQ(jr_sub_unsubscribe(sa, JR_SUB_CHANNELS, 1, c2, nullptr), JR_OK);
  EXPECT_EQ(a.next().second, (V{"unsubscribe", "cnt:c2", "3"}));
  ASSERT_EQ(jr_sub_unsubscribe(sa, JR_SUB_CHANNELS, 1, c1, nullptr), JR_OK);
  EXPECT_EQ(a.next().second, (V{"unsubscribe", "cnt:c1", "3"}));  // b keeps it
  ASSERT_EQ(jr_sub_unsubscribe(sa, JR_SUB_PATTERNS, 0, nullptr, nullptr), JR_OK);
  EXPECT_EQ(a.next().second, (V{"punsubscribe", "cnt:p*", "2"}));
  ASSERT_EQ(jr_sub_unsubscribe(sa, JR_SUB_SHARDED, 0, nullptr, nullptr), JR_OK);
  EXPECT_EQ(a.next().second, (V{"sunsubscribe", "{cnt}s1", "2"}));  // b keeps it
  EXPECT_EQ(a.next().second, (V{"sunsubscribe", "{cnt}s2", "1"}));
  // The server agrees: b's two channels and one sharded channel are left.
  ASSERT_EQ(jr_sub_subscribe(sb, JR_SUB_CHANNELS, 1, c2, nullptr), JR_OK);
  EXPECT_EQ(b.next().second, (V{"subscribe", "cnt:c2", "3"}));  // the server's answer
  const char *s2[] = {"{cnt}s2"};
  ASSERT_EQ(jr_sub_subscribe(sb, JR_SUB_SHARDED, 1, s2, nullptr), JR_OK);
  EXPECT_EQ(b.next().second, (V{"ssubscribe", "{cnt}s2", "2"}));
  jr_sub_free(sa);
  jr_sub_free(sb);
  EXPECT_TRUE(a.wait_closed());
  EXPECT_TRUE(b.wait_closed());
}

TEST_F(PoolTxPubSub, PubSubSurvivesClientKillAndRestart) {
  RedisServer s;
  OptionsPtr o;
  o.set("endpoint", s.endpoint()).set_int("connect_retry", 50);
  Inbox in;  // declared first: outlives the client's final callbacks
  ClientPtr c(o);
  jr_sub *sub = nullptr;
  ASSERT_EQ(jr_sub_new(c, Inbox::cb, &in, &sub), JR_OK);
  const char *ch[] = {"ps:a", "ps:b"};
  ASSERT_EQ(jr_sub_subscribe(sub, 0, 2, ch, nullptr), JR_OK);
  const char *pt[] = {"ps:p*"};
  ASSERT_EQ(jr_sub_subscribe(sub, 1, 1, pt, nullptr), JR_OK);
  ASSERT_FALSE(in.next_of("psubscribe").empty());
  // Sharded channels too: their own connection (standalone: to the same
  // server), killed by the same CLIENT KILL.
  const char *sh[] = {"ps:s1", "ps:s2"};
  ASSERT_EQ(jr_sub_subscribe(sub, JR_SUB_SHARDED, 2, sh, nullptr), JR_OK);
  ASSERT_FALSE(in.next_of("ssubscribe").empty());
  ASSERT_FALSE(in.next_of("ssubscribe").empty());
  s.cmd("CLIENT KILL TYPE pubsub");
  // One JR_SUB_LOST for the two connections, the server's confirmations of
  // the resubscriptions, one JR_SUB_RESUBSCRIBED once everything is back.
  auto lost = in.next(3000);
  EXPECT_EQ(lost.first, JR_SUB_LOST);
  std::set<std::vector<std::string>> again;
  auto back = in.next(5000);
  for (; back.first == JR_OK; back = in.next(5000)) again.insert(back.second);
  EXPECT_EQ(back.first, JR_SUB_RESUBSCRIBED);
  EXPECT_EQ(again.size(), 5u);
  EXPECT_EQ(again.count({"subscribe", "ps:a", "1"}), 1u);
  EXPECT_EQ(again.count({"subscribe", "ps:b", "2"}), 1u);
  EXPECT_EQ(again.count({"psubscribe", "ps:p*", "3"}), 1u);
  EXPECT_EQ(in.next(300).first, -999) << "a second LOST or RESUBSCRIBED";
  EXPECT_EQ(call(c, {"PUBLISH", "ps:b", "after-kill"}).integer(), 1);
  EXPECT_EQ(in.next_of("message"), (std::vector<std::string>{"message", "ps:b", "after-kill"}));
  EXPECT_EQ(call(c, {"PUBLISH", "ps:pq", "pattern"}).integer(), 1);
  EXPECT_FALSE(in.next_of("pmessage").empty());
  EXPECT_EQ(call(c, {"SPUBLISH", "ps:s2", "sharded"}).integer(), 1);
  EXPECT_EQ(in.next_of("smessage"), (std::vector<std::string>{"smessage", "ps:s2", "sharded"}));

  s.restart();
  EXPECT_EQ(in.next_of_status(JR_SUB_RESUBSCRIBED), true);
  EXPECT_TRUE(eventually([&] {
    return call(c, {"PUBLISH", "ps:a", "after-restart"}).integer() == 1;
  }));
  EXPECT_EQ(in.next_of("message"), (std::vector<std::string>{"message", "ps:a", "after-restart"}));
  EXPECT_TRUE(eventually([&] {
    return call(c, {"SPUBLISH", "ps:s1", "after-restart"}).integer() == 1;
  }));
  EXPECT_EQ(in.next_of("smessage"),
            (std::vector<std::string>{"smessage", "ps:s1", "after-restart"}));
  jr_sub_free(sub);
  EXPECT_TRUE(in.wait_closed());
}

TEST_F(PoolTxPubSub, ShardedChannelsOnAStandaloneServer) {
  auto o = opts();
  Inbox a, b;  // declared first: outlive the client's final callbacks
  ClientPtr c(o);
  jr_sub *sa = nullptr, *sb = nullptr;
  ASSERT_EQ(jr_sub_new(c, Inbox::cb, &a, &sa), JR_OK);
  ASSERT_EQ(jr_sub_new(c, Inbox::cb, &b, &sb), JR_OK);
  const char *bad[] = {"x"};
  EXPECT_EQ(jr_sub_subscribe(sa, 3, 1, bad, nullptr), JR_EINVAL);
  EXPECT_EQ(jr_sub_subscribe(sa, -1, 1, bad, nullptr), JR_EINVAL);
  const char *sh[] = {"sh:one", "sh:two"};
  ASSERT_EQ(jr_sub_subscribe(sa, JR_SUB_SHARDED, 2, sh, nullptr), JR_OK);
  // Confirmed in slot order (one SSUBSCRIBE per slot), with the server's
  // count for the connection.
  EXPECT_EQ(a.next().second, (std::vector<std::string>{"ssubscribe", "sh:two", "1"}));
  EXPECT_EQ(a.next().second, (std::vector<std::string>{"ssubscribe", "sh:one", "2"}));
  // A plain channel of the same name is another thing.
  const char *plain[] = {"sh:one"};
  ASSERT_EQ(jr_sub_subscribe(sa, JR_SUB_CHANNELS, 1, plain, nullptr), JR_OK);
  EXPECT_EQ(a.next().second, (std::vector<std::string>{"subscribe", "sh:one", "1"}));
  ASSERT_EQ(jr_sub_subscribe(sb, JR_SUB_SHARDED, 1, sh, nullptr), JR_OK);
  // The connection's count: it serves sh:one and sh:two.
  EXPECT_EQ(b.next().second, (std::vector<std::string>{"ssubscribe", "sh:one", "2"}));
  // One server-side subscription for two subscribers of libjr.
  EXPECT_EQ(call(c, {"PUBSUB", "SHARDNUMSUB", "sh:one"}).type(), JR_REPLY_ARRAY);
  Result n = call(c, {"PUBSUB", "SHARDNUMSUB", "sh:one"});
  EXPECT_EQ(jr_reply_integer(jr_reply_element(n.reply.get(), 1)), 1);
  EXPECT_EQ(call(c, {"SPUBLISH", "sh:one", "hello"}).integer(), 1);
  EXPECT_EQ(a.next_of("smessage"), (std::vector<std::string>{"smessage", "sh:one", "hello"}));
  EXPECT_EQ(b.next_of("smessage"), (std::vector<std::string>{"smessage", "sh:one", "hello"}));
  EXPECT_EQ(call(c, {"PUBLISH", "sh:one", "plain"}).integer(), 1);
  EXPECT_EQ(a.next_of("message"), (std::vector<std::string>{"message", "sh:one", "plain"}));
  // Unsubscribing every sharded channel of a keeps its plain channel and b.
  ASSERT_EQ(jr_sub_unsubscribe(sa, JR_SUB_SHARDED, 0, nullptr, nullptr), JR_OK);
  // (sh:one stays on the connection for b.)
  EXPECT_EQ(a.next_of("sunsubscribe"), (std::vector<std::string>{"sunsubscribe", "sh:one", "2"}));
  EXPECT_EQ(a.next_of("sunsubscribe"), (std::vector<std::string>{"sunsubscribe", "sh:two", "1"}));
  EXPECT_TRUE(eventually([&] { return call(c, {"SPUBLISH", "sh:two", "x"}).integer() == 0; }));
  EXPECT_EQ(call(c, {"SPUBLISH", "sh:one", "b only"}).integer(), 1);
  EXPECT_EQ(b.next_of("smessage"), (std::vector<std::string>{"smessage", "sh:one", "b only"}));
  EXPECT_EQ(call(c, {"PUBLISH", "sh:one", "plain again"}).integer(), 1);
  EXPECT_EQ(a.next_of("message"), (std::vector<std::string>{"message", "sh:one", "plain again"}));
  jr_sub_free(sb);
  EXPECT_TRUE(b.wait_closed());
  EXPECT_TRUE(eventually([&] { return call(c, {"SPUBLISH", "sh:one", "y"}).integer() == 0; }));
  jr_sub_free(sa);
  EXPECT_TRUE(a.wait_closed());
}

TEST_F(PoolTxPubSub, RefusedSubscriptionsAreReportedAndDropped) {
  RedisServer s;
  s.cmd("ACL SETUSER limited on >pw resetchannels &ok:* ~* +@all");
  OptionsPtr o;
  o.set("endpoint", s.endpoint())
      .set("username", "limited")
      .set("password", "pw")
      .set_int("connect_timeout_ms", 300);
  Inbox in;  // declared first: outlives the client's final callbacks
  ClientPtr c(o);
  jr_sub *sub = nullptr;
  ASSERT_EQ(jr_sub_new(c, Inbox::cb, &in, &sub), JR_OK);
  // The server refuses the whole command for one name: libjr asks again
  // name by name, so only that one is refused.
  const char *mixed[] = {"ok:a", "no:b"};
  ASSERT_EQ(jr_sub_subscribe(sub, JR_SUB_CHANNELS, 2, mixed, nullptr), JR_OK);
  std::map<std::string, std::vector<std::string>> got;
  for (int i = 0; i < 2; i++) {
    auto m = in.next();
    ASSERT_EQ(m.first, 0);
    ASSERT_EQ(m.second.size(), 3u);
    got[m.second[1]] = m.second;
  }
  EXPECT_EQ(got["ok:a"], (std::vector<std::string>{"subscribe", "ok:a", "1"}));
  ASSERT_EQ(got["no:b"].size(), 3u);
  EXPECT_EQ(got["no:b"][0], "subscribe");
  EXPECT_EQ(got["no:b"][2].rfind("NOPERM", 0), 0u) << got["no:b"][2];
  const char *sh[] = {"no:shard"};
  ASSERT_EQ(jr_sub_subscribe(sub, JR_SUB_SHARDED, 1, sh, nullptr), JR_OK);
  auto m = in.next();
  ASSERT_EQ(m.second.size(), 3u);
  EXPECT_EQ(m.second[0], "ssubscribe");
  EXPECT_EQ(m.second[1], "no:shard");
  EXPECT_EQ(m.second[2].rfind("NOPERM", 0), 0u) << m.second[2];
  // Dropped, not retried: no reconnect loop (the liveness check would
  // replace a connection that owes answers after 300 ms).
  std::string before = s.cmd("INFO stats");
  std::this_thread::sleep_for(std::chrono::milliseconds(800));
  EXPECT_EQ(in.next(10).first, -999) << "unexpected callback";
  auto connections = [](const std::string &info) {
    size_t p = info.find("total_connections_received:");
    return p == std::string::npos ? -1 : std::atoll(info.c_str() + p + 27);
  };
  EXPECT_EQ(connections(s.cmd("INFO stats")), connections(before) + 1);  // the INFO itself
  // What is allowed works on the same connections, and survives the
  // user losing the right to one of its channels: the server closes the
  // connection, and of the names libjr subscribes again only that one is
  // refused.
  const char *ok[] = {"ok:b"};
  ASSERT_EQ(jr_sub_subscribe(sub, JR_SUB_CHANNELS, 1, ok, nullptr), JR_OK);
  EXPECT_EQ(in.next().second, (std::vector<std::string>{"subscribe", "ok:b", "2"}));
  s.cmd("ACL SETUSER limited resetchannels &ok:a &ok:s");
  EXPECT_TRUE(in.next_of_status(JR_SUB_LOST, 3000));
  got.clear();
  for (int i = 0; i < 2; i++) {
    auto sm = in.next_of("subscribe", 5000);
    ASSERT_EQ(sm.size(), 3u);
    got[sm[1]] = sm;
  }
  // ok:a subscribed again, with the server's count.
  EXPECT_EQ(got["ok:a"], (std::vector<std::string>{"subscribe", "ok:a", "1"}));
  auto refused_b = got["ok:b"];
  ASSERT_EQ(refused_b.size(), 3u);
  EXPECT_EQ(refused_b[2].rfind("NOPERM", 0), 0u) << refused_b[2];
  EXPECT_TRUE(in.next_of_status(JR_SUB_RESUBSCRIBED, 3000));
  EXPECT_TRUE(eventually([&] { return call(c, {"PUBLISH", "ok:a", "still"}).integer() == 1; }));
  EXPECT_EQ(in.next_of("message"), (std::vector<std::string>{"message", "ok:a", "still"}));
  const char *oks[] = {"ok:s"};
  ASSERT_EQ(jr_sub_subscribe(sub, JR_SUB_SHARDED, 1, oks, nullptr), JR_OK);
  EXPECT_EQ(in.next().second, (std::vector<std::string>{"ssubscribe", "ok:s", "1"}));
  EXPECT_EQ(call(c, {"SPUBLISH", "ok:s", "x"}).integer(), 1);
  EXPECT_EQ(in.next_of("smessage"), (std::vector<std::string>{"smessage", "ok:s", "x"}));
  jr_sub_free(sub);
  EXPECT_TRUE(in.wait_closed());
}

// ---- MONITOR ----------------------------------------------------------------------------------

TEST_F(PoolTxPubSub, MonitorStreamsCommands) {
  auto o = opts();
  Inbox in;  // declared first: outlives the client's final callbacks
  ClientPtr c(o);
  jr_monitor *mon = nullptr;
  ASSERT_EQ(jr_monitor_new(c, Inbox::cb, &in, &mon), JR_OK);
  bool seen = false;
  for (int i = 0; i < 100 && !seen; i++) {
    call(c, {"SET", "mon:key", "watched-value"});
    auto m = in.next(100);
    while (m.first == 0) {
      if (!m.second.empty() && m.second[0].find("watched-value") != std::string::npos) seen = true;
      m = in.next(50);
    }
  }
  EXPECT_TRUE(seen);
  jr_monitor_free(mon);
  ASSERT_TRUE(eventually([&] {
    std::lock_guard<std::mutex> lk(in.mu);
    return in.closed == 1;
  }));
}

// ---- Scripts
// -------------------------------------------------------------------------------------

TEST_F(PoolTxPubSub, EvalUsesEvalshaAndSurvivesScriptFlush) {
  RedisServer s;
  OptionsPtr o;
  o.set("endpoint", s.endpoint());
  ClientPtr c(o);
  const std::string script = "return tonumber(ARGV[1]) + 1";
  Result r = call(c, {"EVAL", script, "0", "41"});
  ASSERT_EQ(r.status, JR_OK);
  EXPECT_EQ(r.integer(), 42);
  r = call(c, {"EVAL", script, "0", "1"});
  EXPECT_EQ(r.integer(), 2);
  EXPECT_NE(call(c, {"INFO", "commandstats"}).str().find("cmdstat_evalsha:calls=1,"),
            std::string::npos);
  ASSERT_TRUE(call(c, {"SCRIPT", "FLUSH"}).ok());
  r = call(c, {"EVAL", script, "0", "9"});
  EXPECT_EQ(r.status, JR_OK);
  EXPECT_EQ(r.integer(), 10);  // NOSCRIPT was retried as EVAL transparently
  r = call(c, {"eval_ro", "return 'ro'", "0"});
  EXPECT_EQ(r.str(), "ro");
  r = call(c, {"EVAL", "return redis.call('nosuch')", "0"});
  EXPECT_EQ(r.type(), JR_REPLY_ERROR);  // a script error stays a server error
  s.restart();
  EXPECT_TRUE(eventually([&] { return call(c, {"EVAL", script, "0", "1"}).integer() == 2; }));
}

// ---- AUTH on every kind of connection ----------------------------------------------------------

TEST(PoolTxPubSubAuth, EveryConnectionKindAuthenticatesAgain) {
  RedisServer s({"--requirepass", "pw"});
  OptionsPtr o;
  o.set("endpoint", s.endpoint()).set("password", "pw").set_int("connect_retry", 20);
  Inbox in;  // declared first: outlives the client's final callbacks
  ClientPtr c(o);
  jr_sub *sub = nullptr;
  ASSERT_EQ(jr_sub_new(c, Inbox::cb, &in, &sub), JR_OK);
  const char *ch[] = {"auth:ch"};
  ASSERT_EQ(jr_sub_subscribe(sub, 0, 1, ch, nullptr), JR_OK);
  ASSERT_FALSE(in.next_of("subscribe").empty());
  ASSERT_EQ(call(c, {"BLPOP", "auth:q", "0.05"}).status, JR_OK);
  s.cmd("CLIENT KILL TYPE normal", "pw");
  s.cmd("CLIENT KILL TYPE pubsub", "pw");
  // Shared, pooled and pub/sub connections all come back authenticated.
  EXPECT_TRUE(eventually([&] { return call(c, {"PING"}).str() == "PONG"; }));
  EXPECT_EQ(call(c, {"BLPOP", "auth:q", "0.05"}).type(), JR_REPLY_NIL);
  EXPECT_TRUE(eventually([&] { return call(c, {"PUBLISH", "auth:ch", "m"}).integer() == 1; }));
  EXPECT_EQ(in.next_of("message"), (std::vector<std::string>{"message", "auth:ch", "m"}));
  jr_sub_free(sub);
  EXPECT_TRUE(in.wait_closed());
  OptionsPtr bad;
  bad.set("endpoint", s.endpoint()).set("password", "nope");
  ClientPtr cb(bad);
  EXPECT_EQ(call(cb, {"BLPOP", "auth:q", "0.05"}).status, JR_EAUTH);
  EXPECT_EQ(call(cb, {"PING"}).status, JR_EAUTH);
}

TEST(PoolTxPubSubShutdown, FreeingTheClientEndsEverything) {
  RedisServer s;
  OptionsPtr o;
  o.set("endpoint", s.endpoint());
  auto *c = new ClientPtr(o);
  Inbox in;
  jr_sub *sub = nullptr;
  ASSERT_EQ(jr_sub_new(*c, Inbox::cb, &in, &sub), JR_OK);
  const char *ch[] = {"bye"};
  ASSERT_EQ(jr_sub_subscribe(sub, 0, 1, ch, nullptr), JR_OK);
  Recorder rec;
  ASSERT_EQ(submit(*c, {"BLPOP", "never", "0"}, rec, 0), JR_OK);
  jr_multi *m = nullptr;
  ASSERT_EQ(jr_multi_new(*c, -1, &m), JR_OK);
  multi_add(m, rec, 1, {"SET", "a", "b"});
  ASSERT_EQ(jr_multi_exec(m, -1, nullptr, nullptr), JR_OK);
  // The BLPOP blocks in the server (sent: JR_ESHUTDOWN, not JR_ECLOSED). A
  // fixed 100 ms sleep was too short on a loaded machine.
  ASSERT_TRUE(eventually(
      [&] { return s.cmd("INFO clients").find("blocked_clients:1") != std::string::npos; }));
  delete c;
  EXPECT_EQ(rec.done(), 2u);
  EXPECT_EQ(rec.duplicates(), 0u);
  EXPECT_EQ(rec.get(0).status, JR_ESHUTDOWN);
  std::lock_guard<std::mutex> lk(in.mu);
  EXPECT_EQ(in.closed, 1);
}
