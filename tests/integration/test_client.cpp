// SPDX-License-Identifier: MIT
// Integration tests of the core against a real redis-server.
#include <gtest/gtest.h>
#include <jr/jr.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <climits>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <functional>
#include <mutex>
#include <set>
#include <thread>

#include "callback_rule.hpp"
#include "jr_test.hpp"
#include "redis_server.hpp"
#include "rss.hpp"
#include "shared_server.hpp"

using namespace jrtest;

class ClientTest : public jrtest::SharedServer<ClientTest> {
 protected:
  OptionsPtr opts() {
    OptionsPtr o;
    o.set("endpoint", server_->endpoint());
    return o;
  }
};

TEST_F(ClientTest, SetGetRoundTrip) {
  auto o = opts();
  ClientPtr c(o);
  Result r = call(c, {"SET", "t:basic", "hello"});
  ASSERT_EQ(r.status, JR_OK);
  EXPECT_EQ(r.type(), JR_REPLY_STATUS);
  EXPECT_EQ(r.str(), "OK");
  r = call(c, {"GET", "t:basic"});
  ASSERT_EQ(r.status, JR_OK);
  EXPECT_EQ(r.type(), JR_REPLY_STRING);
  EXPECT_EQ(r.str(), "hello");
  r = call(c, {"GET", "t:missing"});
  EXPECT_EQ(r.type(), JR_REPLY_NIL);
  r = call(c, {"INCRBY", "t:counter", "5"});
  EXPECT_EQ(r.type(), JR_REPLY_INTEGER);
  EXPECT_EQ(r.integer(), 5);
}

TEST_F(ClientTest, SpinningAndSleepingCallersAndLoopThread) {
  OptionsPtr bad;
  EXPECT_EQ(jr_options_set_int(bad.o, "call_spin_us", -1), JR_EINVAL);
  EXPECT_EQ(jr_options_set_int(bad.o, "call_spin_us", 10001), JR_EINVAL);
  EXPECT_EQ(jr_options_set_int(bad.o, "loop_spin_us", -1), JR_EINVAL);
  EXPECT_EQ(jr_options_set_int(bad.o, "loop_spin_us", 10001), JR_EINVAL);
  for (int spin : {0, 100, 10000}) {
    auto o = opts();
    o.set_int("call_spin_us", spin).set_int("loop_spin_us", spin);
    ClientPtr c(o);
    // From several threads at once: at most half the CPUs spin, the other
    // callers sleep; every reply reaches its own caller.
    std::vector<std::thread> ts;
    std::atomic<int> wrong{0};
    for (int t = 0; t < 4; t++) {
      ts.emplace_back([&, t] {
        for (int i = 0; i < 200; i++) {
          std::string v = std::to_string(t) + ":" + std::to_string(i);
          if (call(c, {"ECHO", v}).str() != v) wrong++;
        }
      });
    }
    // And pipelined from the same threads' callbacks' point of view: many
    // in flight at once.
    Recorder rec;
    for (int i = 0; i < 500; i++) ASSERT_EQ(submit(c, {"INCR", "t:spin"}, rec, i), JR_OK);
    for (auto &th : ts) th.join();
    ASSERT_TRUE(rec.wait_all());
    EXPECT_EQ(rec.duplicates(), 0u);
    EXPECT_EQ(wrong.load(), 0) << "spin " << spin;
    // Slower than any spin: the caller sleeps and is woken.
    EXPECT_EQ(call(c, {"DEBUG", "SLEEP", "0.02"}).str(), "OK") << "spin " << spin;
    // A deadline while waiting.
    Result r = call(c, {"DEBUG", "SLEEP", "0.3"}, 50);
    EXPECT_EQ(r.status, JR_ETIMEDOUT) << "spin " << spin;
    EXPECT_EQ(call(c, {"PING"}).str(), "PONG") << "spin " << spin;
    // Idle after a reply: the window it opened for a next command closes,
    // and the loop thread sleeps (an idle client burns no CPU). 300 ms idle
    // costs well under 100 ms of the process's CPU; a spin that never ended
    // costs all of it. The last command is submitted, not called: a
    // blocking caller's own spin takes the spinner slot (at most half the
    // CPUs spin), and the loop thread would not spin at all.
    Recorder last;
    ASSERT_EQ(submit(c, {"PING"}, last, 0), JR_OK);
    ASSERT_TRUE(last.wait_all());
    std::this_thread::sleep_for(std::chrono::milliseconds(60));
    auto cpu = [] {
      rusage ru{};
      getrusage(RUSAGE_SELF, &ru);
      return (ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1e6 + ru.ru_utime.tv_usec +
             ru.ru_stime.tv_usec;
    };
    double cpu0 = cpu();
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    EXPECT_LT(cpu() - cpu0, 100e3) << "spin " << spin;
  }
}

// A blocking call's command leaves the queue limits before its caller
// wakes: at max_queued 1 (and max_queued_bytes with room for one 600-byte
// command) the next call always finds room, and the statistics read after
// the return no longer count it. Before, the loop thread released it only
// after waking the caller, and a quick next call could fail with JR_EFULL.
TEST_F(ClientTest, BlockingCallsFreeTheirQueueSlotBeforeReturning) {
  const std::string v(600, 'q');
  for (int limit : {0, 1}) {
    for (int spin : {0, 100}) {
      auto o = opts();
      o.set_int("call_spin_us", spin);
      if (limit == 0) {
        o.set_int("max_queued", 1);
      } else {
        o.set_int("max_queued_bytes", 1024);
      }
      ClientPtr c(o);
      int full = 0;
      int counted = 0;
      for (int i = 0; i < 2000; i++) {
        Result r = call(c, {"ECHO", v});
        if (r.status == JR_EFULL) {
          full++;
          continue;
        }
        ASSERT_EQ(r.str(), v) << "spin " << spin << " call " << i;
        jr_stats s{};
        s.size = sizeof s;
        ASSERT_EQ(jr_client_stats(c.c, &s), JR_OK);
        if (s.queued != 0) counted++;
      }
      EXPECT_EQ(full, 0) << "limit " << limit << " spin " << spin;
      EXPECT_EQ(counted, 0) << "limit " << limit << " spin " << spin;
    }
  }
}

TEST_F(ClientTest, ServerErrorIsAReplyNotALibraryError) {
  auto o = opts();
  ClientPtr c(o);
  Result r = call(c, {"NOSUCHCOMMAND", "x"});
  ASSERT_EQ(r.status, JR_OK);
  EXPECT_EQ(r.type(), JR_REPLY_ERROR);
  EXPECT_NE(r.str().find("unknown command"), std::string::npos) << r.str();
  // The connection is still good afterwards.
  EXPECT_EQ(call(c, {"PING"}).str(), "PONG");
}

TEST_F(ClientTest, BinarySafeArgumentsAndLargeValues) {
  auto o = opts();
  ClientPtr c(o);
  std::string bin("a\0b\r\n*3\r\n$", 11);
  std::string big(3 * 1024 * 1024, 'x');
  for (size_t i = 0; i < big.size(); i += 997) big[i] = static_cast<char>(i);
  ASSERT_TRUE(call(c, {"SET", bin, big}).ok());
  Result r = call(c, {"GET", bin});
  ASSERT_EQ(r.status, JR_OK);
  EXPECT_EQ(r.str().size(), big.size());
  EXPECT_TRUE(r.str() == big);
}

TEST_F(ClientTest, ArraysAndNesting) {
  auto o = opts();
  ClientPtr c(o);
  call(c, {"DEL", "t:list"});
  call(c, {"RPUSH", "t:list", "a", "b", "c"});
  Result r = call(c, {"LRANGE", "t:list", "0", "-1"});
  ASSERT_EQ(r.type(), JR_REPLY_ARRAY);
  ASSERT_EQ(jr_reply_len(r.reply.get()), 3u);
  size_t len;
  EXPECT_STREQ(jr_reply_str(jr_reply_element(r.reply.get(), 2), &len), "c");
  EXPECT_EQ(jr_reply_element(r.reply.get(), 3), nullptr);
  // A nested reply: EVAL returning a table of tables.
  r = call(c, {"EVAL", "return {1, {2, 'x'}, {}}", "0"});
  ASSERT_EQ(r.type(), JR_REPLY_ARRAY);
  const jr_reply *inner = jr_reply_element(r.reply.get(), 1);
  EXPECT_EQ(jr_reply_get_type(inner), JR_REPLY_ARRAY);
  EXPECT_EQ(jr_reply_integer(jr_reply_element(inner, 0)), 2);
  EXPECT_EQ(jr_reply_len(jr_reply_element(r.reply.get(), 2)), 0u);
}

TEST_F(ClientTest, PipelinesManyThreadsOverOneConnectionInOrder) {
  auto o = opts();
  ClientPtr c(o);
  call(c, {"DEL", "t:seq"});
  Result id_before = call(c, {"CLIENT", "ID"});
  constexpr int kThreads = 4, kPer = 5000;
  Recorder rec;
  std::vector<std::thread> ts;
  for (int t = 0; t < kThreads; t++) {
    ts.emplace_back([&, t] {
      for (int i = 0; i < kPer; i++) {
        // Each thread appends to its own list: order within a thread is kept.
        ASSERT_EQ(submit(c, {"RPUSH", "t:seq:" + std::to_string(t), std::to_string(i)}, rec,
                         static_cast<size_t>(t * kPer + i)),
                  JR_OK);
      }
    });
  }
  for (auto &t : ts) t.join();
  ASSERT_TRUE(rec.wait_all());
  EXPECT_EQ(rec.duplicates(), 0u);
  EXPECT_EQ(rec.done(), static_cast<size_t>(kThreads * kPer));
  for (int t = 0; t < kThreads; t++) {
    // RPUSH returns the new length: the i-th push of a thread sees i+1.
    for (int i = 0; i < kPer; i += 499) {
      auto out = rec.get(static_cast<size_t>(t * kPer + i));
      EXPECT_EQ(out.status, JR_OK);
      EXPECT_EQ(out.integer, i + 1);
    }
    Result r = call(c, {"LINDEX", "t:seq:" + std::to_string(t), "-1"});
    EXPECT_EQ(r.str(), std::to_string(kPer - 1));
    call(c, {"DEL", "t:seq:" + std::to_string(t)});
  }
  // Still the one and same connection.
  EXPECT_EQ(call(c, {"CLIENT", "ID"}).integer(), id_before.integer());
}

TEST_F(ClientTest, PipelinedCommandsShareWrites) {
  // A burst of commands goes out in few writes: the server's own counters
  // show that its reads were batched (far fewer reads than commands).
  auto o = opts();
  ClientPtr c(o);
  ASSERT_TRUE(call(c, {"PING"}).ok());
  Recorder rec;
  for (int i = 0; i < 2000; i++) ASSERT_EQ(submit(c, {"INCR", "t:burst"}, rec, i), JR_OK);
  ASSERT_TRUE(rec.wait_all());
  EXPECT_EQ(rec.get(1999).integer - rec.get(0).integer, 1999);
  Result info = call(c, {"INFO", "stats"});
  EXPECT_NE(info.str().find("total_commands_processed"), std::string::npos);
}

// The server's read system calls so far (INFO stats; Redis >= 6).
int64_t server_reads(RedisServer &s) {
  std::string info = s.cmd("INFO stats");
  size_t at = info.find("total_reads_processed:");
  return at == std::string::npos ? -1 : std::stoll(info.substr(at + 22));
}

// jr_client_submit_many: n commands in order, one wake-up of the loop
// thread, so they reach the server in a few large writes; a refused command
// in the middle says why in its rcs slot and never calls back; the others
// still complete exactly once, in order; the call itself is checked first.
TEST_F(ClientTest, SubmitManyIsOnePipelineAndRefusesPerCommand) {
  auto o = opts();
  ClientPtr c(o);
  ASSERT_TRUE(call(c, {"DEL", "t:many"}).ok());
  constexpr size_t kN = 5000;
  // Command i is RPUSH t:many i, but command 700 has no arguments at all.
  std::vector<std::vector<std::string>> args(kN);
  std::vector<std::vector<const char *>> argv(kN);
  std::vector<std::vector<size_t>> lens(kN);
  std::vector<size_t> argcs(kN);
  std::vector<const char *const *> argvs(kN);
  std::vector<const size_t *> argvlens(kN);
  Recorder rec;
  std::vector<void *> uds(kN);
  for (size_t i = 0; i < kN; i++) {
    if (i != 700) args[i] = {"RPUSH", "t:many", std::to_string(i)};
    for (auto &a : args[i]) {
      argv[i].push_back(a.data());
      lens[i].push_back(a.size());
    }
    argcs[i] = args[i].size();
    argvs[i] = argv[i].data();
    argvlens[i] = lens[i].data();
    uds[i] = rec.expect(i);
  }
  rec.refused();  // command 700's
  std::vector<int> rcs(kN, 99);
  std::vector<jr_req_id> ids(kN, 99);
  int64_t reads0 = server_reads(*server_);
  int n = jr_client_submit_many(c, kN, argcs.data(), argvs.data(), argvlens.data(), -1,
                                Recorder::cb, uds.data(), rcs.data(), ids.data());
  size_t early = rec.done();  // completed before the call returned
  EXPECT_EQ(n, static_cast<int>(kN - 1));
  ASSERT_TRUE(rec.wait_all());
  int64_t reads = server_reads(*server_) - reads0;
  EXPECT_EQ(rcs[700], JR_EINVAL);
  EXPECT_EQ(ids[700], 0u);
  EXPECT_EQ(rec.get(700).count, 0) << "a refused command never calls back";
  EXPECT_EQ(rec.duplicates(), 0u);
  for (size_t i = 0; i < kN; i++) {
    if (i == 700) continue;
    ASSERT_EQ(rcs[i], JR_OK) << i;
    ASSERT_NE(ids[i], 0u) << i;
    // RPUSH answers the list's new length: the commands ran in order.
    ASSERT_EQ(rec.get(i).integer, static_cast<int64_t>(i < 700 ? i + 1 : i)) << i;
  }
  EXPECT_EQ(call(c, {"LLEN", "t:many"}).integer(), static_cast<int64_t>(kN - 1));
  // One wake-up, after the last command: the loop thread saw none of them
  // while the call ran, so none could complete before it returned (5000
  // separate submits from this thread: some do, as the loop thread starts
  // writing at the first). The server read the ~90 KB in a few calls.
  EXPECT_EQ(early, 0u);
  std::printf(
      "[ measure  ] submit_many of %zu commands: %lld server reads, %zu completed "
      "before it returned\n",
      kN, static_cast<long long>(reads), early);
  // jr_db_submit_many reaches the view's database.
  jr_db *db3 = nullptr;
  ASSERT_EQ(jr_db_new(c, 3, &db3), JR_OK);
  const char *set[] = {"SET", "t:many:db", "three"};
  size_t one = 3;
  const char *const *setv = set;
  Recorder rec3;
  void *ud3 = rec3.expect(0);
  EXPECT_EQ(
      jr_db_submit_many(db3, 1, &one, &setv, nullptr, -1, Recorder::cb, &ud3, nullptr, nullptr), 1);
  ASSERT_TRUE(rec3.wait_all());
  EXPECT_EQ(rec3.get(0).text, "OK");
  EXPECT_NE(server_->cmd("SELECT 3\r\nGET t:many:db").find("three"), std::string::npos);
  jr_db_free(db3);
  // The call itself: refused whole, nothing submitted.
  EXPECT_EQ(
      jr_client_submit_many(c, 1, &one, &setv, nullptr, -1, nullptr, nullptr, nullptr, nullptr),
      JR_EINVAL);
  EXPECT_EQ(jr_client_submit_many(c, 1, nullptr, &setv, nullptr, -1, Recorder::cb, nullptr, nullptr,
                                  nullptr),
            JR_EINVAL);
  EXPECT_EQ(jr_client_submit_many(nullptr, 1, &one, &setv, nullptr, -1, Recorder::cb, nullptr,
                                  nullptr, nullptr),
            JR_EINVAL);
  EXPECT_EQ(jr_db_submit_many(nullptr, 1, &one, &setv, nullptr, -1, Recorder::cb, nullptr, nullptr,
                              nullptr),
            JR_EINVAL);
  EXPECT_EQ(jr_client_submit_many(c, 0, nullptr, nullptr, nullptr, -1, Recorder::cb, nullptr,
                                  nullptr, nullptr),
            0);
  call(c, {"DEL", "t:many"});
}

TEST_F(ClientTest, DatabaseViewsInterleaveOnOneSocket) {
  auto o = opts();
  ClientPtr c(o);
  jr_db *db1 = nullptr, *db2 = nullptr;
  ASSERT_EQ(jr_db_new(c, 1, &db1), JR_OK);
  ASSERT_EQ(jr_db_new(c, 2, &db2), JR_OK);
  Recorder rec;
  for (int i = 0; i < 300; i++) {
    ASSERT_EQ(submit(db1, {"SET", "t:dbkey", "one-" + std::to_string(i)}, rec, 3 * i), JR_OK);
    ASSERT_EQ(submit(db2, {"SET", "t:dbkey", "two-" + std::to_string(i)}, rec, 3 * i + 1), JR_OK);
    ASSERT_EQ(submit(c, {"SET", "t:dbkey", "zero-" + std::to_string(i)}, rec, 3 * i + 2), JR_OK);
  }
  ASSERT_TRUE(rec.wait_all());
  EXPECT_EQ(call(db1, {"GET", "t:dbkey"}).str(), "one-299");
  EXPECT_EQ(call(db2, {"GET", "t:dbkey"}).str(), "two-299");
  EXPECT_EQ(call(c, {"GET", "t:dbkey"}).str(), "zero-299");
  // The server agrees about which database each view is on.
  EXPECT_EQ(server_->cmd("SELECT 2\r\nGET t:dbkey").find("two-299") != std::string::npos, true);
  jr_db_free(db1);
  jr_db_free(db2);
}

TEST_F(ClientTest, InvalidDatabaseGetsTheServerErrorAndOthersAreUnaffected) {
  auto o = opts();
  ClientPtr c(o);
  jr_db *bad = nullptr;
  ASSERT_EQ(jr_db_new(c, 999, &bad), JR_OK);
  Recorder rec;
  ASSERT_EQ(submit(c, {"SET", "t:before", "0"}, rec, 0), JR_OK);
  ASSERT_EQ(submit(bad, {"SET", "t:wrongdb", "x"}, rec, 1), JR_OK);
  ASSERT_EQ(submit(c, {"SET", "t:after", "0"}, rec, 2), JR_OK);
  ASSERT_TRUE(rec.wait_all());
  EXPECT_EQ(rec.get(1).status, JR_OK);
  EXPECT_EQ(rec.get(1).type, JR_REPLY_ERROR);
  EXPECT_NE(rec.get(1).text.find("DB index is out of range"), std::string::npos) << rec.get(1).text;
  EXPECT_EQ(rec.get(0).text, "OK");
  EXPECT_EQ(rec.get(2).text, "OK");
  // Nothing was written anywhere by the rejected command.
  EXPECT_EQ(call(c, {"EXISTS", "t:wrongdb"}).integer(), 0);
  jr_db_free(bad);
  EXPECT_EQ(jr_db_new(c, -1, &bad), JR_EINVAL);
}

TEST_F(ClientTest, RefusedCommandsSayWhyAndNeverCallBack) {
  auto o = opts();
  ClientPtr c(o);
  Recorder rec;
  for (const char *name : {"SELECT", "multi", "EXEC", "WATCH", "SUBSCRIBE", "MONITOR", "AUTH",
                           "HELLO", "QUIT", "UNWATCH", "psubscribe", "RESET"}) {
    std::vector<std::string> args = {name, "a", "0"};
    EXPECT_EQ(submit(c, args, rec, 0), JR_EREFUSED) << name;
    EXPECT_NE(jr_refusal_reason(name, strlen(name)), nullptr) << name;
  }
  EXPECT_EQ(submit(c, {"CLIENT", "REPLY", "OFF"}, rec, 0), JR_EREFUSED);
  // Non-blocking forms stay allowed.
  EXPECT_EQ(submit(c, {"XREAD", "COUNT", "1", "STREAMS", "t:stream", "0"}, rec, 1), JR_OK);
  EXPECT_EQ(jr_refusal_reason("GET", 3), nullptr);
  // Blocking commands are allowed (they run on pooled connections).
  EXPECT_EQ(jr_refusal_reason("BLPOP", 5), nullptr);
  EXPECT_NE(std::string(jr_refusal_reason("SELECT", 6)).find("jr_db_new"), std::string::npos);
  ASSERT_TRUE(rec.wait_all());
  EXPECT_EQ(rec.done(), 1u);
}

TEST_F(ClientTest, InvalidArgumentsAreRejectedAtOnce) {
  auto o = opts();
  ClientPtr c(o);
  Recorder rec;
  const char *argv[] = {"GET", nullptr};
  EXPECT_EQ(jr_client_submit(c, 0, argv, nullptr, -1, Recorder::cb, nullptr, nullptr), JR_EINVAL);
  EXPECT_EQ(jr_client_submit(c, 1, nullptr, nullptr, -1, Recorder::cb, nullptr, nullptr),
            JR_EINVAL);
  EXPECT_EQ(jr_client_submit(c, 2, argv, nullptr, -1, Recorder::cb, nullptr, nullptr), JR_EINVAL);
  EXPECT_EQ(jr_client_submit(c, 1, argv, nullptr, -1, nullptr, nullptr, nullptr), JR_EINVAL);
  EXPECT_EQ(jr_client_submit(nullptr, 1, argv, nullptr, -1, Recorder::cb, nullptr, nullptr),
            JR_EINVAL);
  jr_reply *r = reinterpret_cast<jr_reply *>(0x1);
  EXPECT_EQ(jr_client_call(c, 0, argv, nullptr, -1, &r), JR_EINVAL);
  EXPECT_EQ(r, nullptr);
  EXPECT_EQ(jr_client_call(c, 1, argv, nullptr, -1, nullptr), JR_EINVAL);
  EXPECT_EQ(jr_cancel(c, 12345678901234ull), JR_ENOENT);
  EXPECT_EQ(jr_cancel(nullptr, 1), JR_EINVAL);
  EXPECT_EQ(jr_client_free(nullptr), JR_OK);
  // NUL-terminated arguments when argvlen is NULL.
  const char *set[] = {"SET", "t:nul", "v"};
  jr_reply *out = nullptr;
  ASSERT_EQ(jr_client_call(c, 3, set, nullptr, -1, &out), JR_OK);
  jr_reply_free(out);
}

TEST_F(ClientTest, TimeoutDoesNotTearDownTheConnection) {
  auto o = opts();
  ClientPtr c(o);
  int64_t id = call(c, {"CLIENT", "ID"}).integer();
  ASSERT_GT(id, 0);
  Recorder rec;
  // DEBUG SLEEP holds the server; the command behind it times out.
  ASSERT_EQ(submit(c, {"DEBUG", "SLEEP", "0.5"}, rec, 0, 2000), JR_OK);
  ASSERT_EQ(submit(c, {"SET", "t:late", "v"}, rec, 1, 100), JR_OK);
  ASSERT_TRUE(rec.wait_all(5000));
  EXPECT_EQ(rec.get(1).status, JR_ETIMEDOUT);
  EXPECT_EQ(jr_err_unsent(JR_ETIMEDOUT), 0);
  EXPECT_EQ(rec.get(0).status, JR_OK);
  // The late reply was read and dropped; the next command gets its own reply
  // on the same connection.
  EXPECT_EQ(call(c, {"GET", "t:late"}).str(), "v");
  EXPECT_EQ(call(c, {"CLIENT", "ID"}).integer(), id);
  EXPECT_EQ(rec.get(1).count, 1);
}

TEST_F(ClientTest, CancelBeforeAndAfterTheWrite) {
  auto o = opts();
  ClientPtr c(o);
  ASSERT_TRUE(call(c, {"PING"}).ok());
  Recorder rec;
  jr_req_id sleeping = 0, behind = 0;
  ASSERT_EQ(submit(c, {"DEBUG", "SLEEP", "0.3"}, rec, 0, 5000, &sleeping), JR_OK);
  ASSERT_EQ(submit(c, {"INCR", "t:cancelled"}, rec, 1, 5000, &behind), JR_OK);
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  EXPECT_EQ(jr_cancel(c, behind), JR_OK);
  ASSERT_TRUE(rec.wait_all(5000));
  EXPECT_EQ(rec.get(1).status, JR_EABANDONED);  // it was written already
  EXPECT_EQ(rec.get(0).status, JR_OK);
  EXPECT_EQ(jr_cancel(c, behind), JR_ENOENT);  // completed already
  EXPECT_EQ(call(c, {"PING"}).str(), "PONG");  // connection in sync

  // Cancel before the write: a client whose server does not answer yet.
  RedisServer paused;
  paused.pause();
  OptionsPtr o2;
  o2.set("endpoint", paused.endpoint()).set_int("connect_timeout_ms", 3000);
  ClientPtr c2(o2);
  Recorder rec2;
  jr_req_id id = 0;
  // A paused server still accepts TCP connections (the kernel does), so use
  // a handshake that cannot finish: AUTH is sent, no reply comes.
  ASSERT_EQ(submit(c2, {"GET", "x"}, rec2, 0, 5000, &id), JR_OK);
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  EXPECT_EQ(jr_cancel(c2, id), JR_OK);
  ASSERT_TRUE(rec2.wait_all(5000));
  auto out = rec2.get(0);
  EXPECT_TRUE(out.status == JR_ECANCELED || out.status == JR_EABANDONED) << out.status;
  paused.resume();
}

TEST_F(ClientTest, ConnectionLossCompletesInFlightOnceAndReconnects) {
  auto o = opts();
  o.set("client_name", "jr-loss");
  ClientPtr c(o);
  int64_t id = call(c, {"CLIENT", "ID"}).integer();
  Recorder rec;
  ASSERT_EQ(submit(c, {"DEBUG", "SLEEP", "0.3"}, rec, 0, 5000), JR_OK);
  for (int i = 1; i <= 50; i++) ASSERT_EQ(submit(c, {"INCR", "t:loss"}, rec, i, 5000), JR_OK);
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  // Kill our connection from the side while the commands are in flight.
  std::string killed = server_->cmd("CLIENT KILL ID " + std::to_string(id));
  ASSERT_TRUE(rec.wait_all(5000));
  EXPECT_EQ(rec.duplicates(), 0u);
  for (int i = 0; i <= 50; i++) {
    int st = rec.get(i).status;
    EXPECT_TRUE(st == JR_OK || st == JR_ECONNLOST) << i << " " << st;
  }
  // Later commands reconnect by themselves.
  Result r = call(c, {"CLIENT", "GETNAME"});
  EXPECT_EQ(r.status, JR_OK);
  EXPECT_EQ(r.str(), "jr-loss");
  EXPECT_NE(call(c, {"CLIENT", "ID"}).integer(), id);
}

TEST_F(ClientTest, UnixSocketEndpoint) {
  OptionsPtr o;
  o.set("url", "unix://" + server_->socket_path() + "?db=3");
  ClientPtr c(o);
  ASSERT_TRUE(call(c, {"SET", "t:unix", "u"}).ok());
  EXPECT_NE(server_->cmd("SELECT 3\r\nGET t:unix").find("$1\r\nu"), std::string::npos);
}

TEST_F(ClientTest, UrlWithDatabaseAndHostname) {
  OptionsPtr o;
  o.set("url", "redis://localhost:" + std::to_string(server_->port()) + "/4");
  ClientPtr c(o);
  ASSERT_TRUE(call(c, {"SET", "t:url", "4"}).ok());
  EXPECT_NE(server_->cmd("SELECT 4\r\nGET t:url").find("$1\r\n4"), std::string::npos);
}

TEST_F(ClientTest, UnreachableEndpointFailsWithConnectErrorNotAHang) {
  OptionsPtr o;
  o.set("endpoint", "127.0.0.1:" + std::to_string(free_port()))
      .set_int("connect_retry", 2)
      .set_int("connect_timeout_ms", 500);
  std::atomic<int> failed{0};
  jr_options_set_event_cb(
      o.o,
      [](void *ctx, int ev, const char *, const char *) {
        if (ev == JR_EVENT_CONNECT_FAILED) static_cast<std::atomic<int> *>(ctx)->fetch_add(1);
      },
      &failed);
  ClientPtr c(o);
  auto t0 = std::chrono::steady_clock::now();
  Result r = call(c, {"PING"});
  auto ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0)
          .count();
  EXPECT_EQ(r.status, JR_ECONNECT);
  EXPECT_EQ(jr_err_unsent(r.status), 1);
  EXPECT_EQ(failed.load(), 3);  // first attempt + 2 retries
  EXPECT_LT(ms, 3000);
  // Fails over to a second endpoint that works.
  OptionsPtr o2;
  o2.set("endpoint", "127.0.0.1:" + std::to_string(free_port()))
      .set("endpoint", server_->endpoint());
  ClientPtr c2(o2);
  EXPECT_EQ(call(c2, {"PING"}).str(), "PONG");
}

TEST_F(ClientTest, CommandsWaitForAReconnectAfterRestart) {
  RedisServer s;
  OptionsPtr o;
  o.set("endpoint", s.endpoint()).set_int("connect_retry", 20);
  ClientPtr c(o);
  ASSERT_TRUE(call(c, {"SET", "k", "1"}).ok());
  s.stop();
  // Submitted while the server is down: they wait (unsent) for a reconnect.
  Recorder rec;
  std::thread restarter([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    s.start();
  });
  ASSERT_EQ(submit(c, {"PING"}, rec, 0, 5000), JR_OK);
  restarter.join();
  ASSERT_TRUE(rec.wait_all(8000));
  auto out = rec.get(0);
  // The first attempt may see the old connection's EOF first; either way one
  // completion, and the next command works.
  EXPECT_TRUE(out.status == JR_OK || out.status == JR_ECONNLOST) << out.status;
  EXPECT_EQ(call(c, {"PING"}).str(), "PONG");
}

TEST_F(ClientTest, FreeWithCommandsInFlightCompletesEachOnce) {
  auto o = opts();
  auto *c = new ClientPtr(o);
  ASSERT_TRUE(call(*c, {"PING"}).ok());
  Recorder rec;
  ASSERT_EQ(submit(*c, {"DEBUG", "SLEEP", "0.2"}, rec, 0, 5000), JR_OK);
  for (int i = 1; i < 100; i++) ASSERT_EQ(submit(*c, {"INCR", "t:free"}, rec, i, 5000), JR_OK);
  c->reset();
  delete c;
  EXPECT_EQ(rec.done(), 100u);
  EXPECT_EQ(rec.duplicates(), 0u);
  for (auto &kv : rec.by_status())
    EXPECT_TRUE(kv.first == JR_OK || kv.first == JR_ESHUTDOWN || kv.first == JR_ECLOSED)
        << kv.first;
}

TEST_F(ClientTest, DrainWaitsThenRefuses) {
  auto o = opts();
  ClientPtr c(o);
  Recorder rec;
  for (int i = 0; i < 100; i++) ASSERT_EQ(submit(c, {"INCR", "t:drain"}, rec, i), JR_OK);
  EXPECT_EQ(jr_client_drain(c, 5000), JR_OK);
  EXPECT_EQ(rec.done(), 100u);
  EXPECT_EQ(submit(c, {"PING"}, rec, 1000), JR_ECLOSED);
}

TEST_F(ClientTest, CallbacksMaySubmitButNotFree) {
  auto o = opts();
  ClientPtr c(o);
  struct Ctx {
    jr_client *c;
    std::atomic<int> chain{0};
    std::atomic<int> free_rc{1};
    std::atomic<int> call_rc{1};
  } ctx{c};
  static jr_reply_cb step = [](void *ud, int status, const jr_reply *) {
    auto *x = static_cast<Ctx *>(ud);
    if (status != JR_OK) return;
    if (x->chain.fetch_add(1) < 9) {
      const char *argv[] = {"INCR", "t:chain"};
      jr_client_submit(x->c, 2, argv, nullptr, -1, step, x, nullptr);
    } else {
      x->free_rc = jr_client_free(x->c);
      jr_reply *r = nullptr;
      const char *argv[] = {"PING"};
      x->call_rc = jr_client_call(x->c, 1, argv, nullptr, -1, &r);
    }
  };
  const char *argv[] = {"INCR", "t:chain"};
  ASSERT_EQ(jr_client_submit(c, 2, argv, nullptr, -1, step, &ctx, nullptr), JR_OK);
  ASSERT_TRUE(eventually([&] { return ctx.call_rc.load() != 1; }));
  EXPECT_EQ(ctx.chain.load(), 10);
  EXPECT_EQ(ctx.free_rc.load(), JR_EMISUSE);
  EXPECT_EQ(ctx.call_rc.load(), JR_EMISUSE);
}

TEST_F(ClientTest, PollModeRunsCallbacksOnTheDispatchingThread) {
  auto o = opts();
  o.set("dispatch", "poll");
  ClientPtr c(o);
  int fd = jr_client_fd(c);
  ASSERT_GE(fd, 0);
  std::thread::id me = std::this_thread::get_id();
  struct Ctx {
    std::thread::id me;
    int n = 0;
    bool wrong_thread = false;
  } ctx{me};
  auto cb = [](void *ud, int status, const jr_reply *) {
    auto *x = static_cast<Ctx *>(ud);
    if (std::this_thread::get_id() != x->me) x->wrong_thread = true;
    if (status == JR_OK) x->n++;
  };
  for (int i = 0; i < 1000; i++) {
    const char *argv[] = {"PING"};
    ASSERT_EQ(jr_client_submit(c, 1, argv, nullptr, -1, cb, &ctx, nullptr), JR_OK);
  }
  while (ctx.n < 1000) {
    pollfd p{fd, POLLIN, 0};
    ASSERT_GT(poll(&p, 1, 5000), 0);
    jr_dispatch(c, 100);
  }
  EXPECT_FALSE(ctx.wrong_thread);
  EXPECT_EQ(jr_dispatch(c, 0), 0u);
  pollfd p{fd, POLLIN, 0};
  EXPECT_EQ(poll(&p, 1, 0), 0);  // not readable once the queue is empty
  // The blocking call works in poll mode without anyone dispatching.
  EXPECT_EQ(call(c, {"PING"}).str(), "PONG");
  EXPECT_EQ(jr_client_fd(nullptr), -1);
}

TEST_F(ClientTest, ReadyHookRunsBatchesOnTheLoopThreadInsteadOfTheFd) {
  struct Ctx {
    std::atomic<jr_client *> c{nullptr};
    std::thread::id caller;
    std::atomic<int> hooks{0}, n{0}, call_rc{1};
    std::atomic<bool> wrong_thread{false};
  } ctx;
  ctx.caller = std::this_thread::get_id();
  auto o = opts();
  o.set("dispatch", "poll");
  auto hook = [](void *ud) {
    auto *x = static_cast<Ctx *>(ud);
    if (std::this_thread::get_id() == x->caller) x->wrong_thread = true;
    x->hooks++;
    jr_client *c = x->c.load();
    const char *ping[] = {"PING"};
    jr_reply *r = nullptr;
    x->call_rc = jr_client_call(c, 1, ping, nullptr, 1000, &r);  // would deadlock
    jr_reply_free(r);
    jr_dispatch(c, 0);
  };
  ASSERT_EQ(jr_options_set_ready_cb(o.o, hook, &ctx), JR_OK);
  EXPECT_EQ(jr_options_set_ready_cb(nullptr, hook, &ctx), JR_EINVAL);
  auto *c = new ClientPtr(o);
  ctx.c = *c;
  auto cb = [](void *ud, int status, const jr_reply *) {
    auto *x = static_cast<Ctx *>(ud);
    if (std::this_thread::get_id() == x->caller) x->wrong_thread = true;
    if (status == JR_OK) x->n++;
  };
  const int total = 1000;
  for (int i = 0; i < total; i++) {
    const char *argv[] = {"PING"};
    ASSERT_EQ(jr_client_submit(*c, 1, argv, nullptr, -1, cb, &ctx, nullptr), JR_OK);
  }
  ASSERT_TRUE(eventually([&] { return ctx.n.load() == total; }));
  EXPECT_FALSE(ctx.wrong_thread.load());
  EXPECT_EQ(ctx.call_rc.load(), JR_EMISUSE);
  EXPECT_GE(ctx.hooks.load(), 1);
  EXPECT_LT(ctx.hooks.load(), total);  // a batch per loop iteration, not a call per reply
  pollfd p{jr_client_fd(*c), POLLIN, 0};
  EXPECT_EQ(poll(&p, 1, 0), 0);  // the hook replaces the descriptor's signal
  // Commands still in flight at free complete exactly once.
  std::atomic<int> at_free{0};
  auto count = [](void *ud, int, const jr_reply *) { ++*static_cast<std::atomic<int> *>(ud); };
  for (int i = 0; i < 200; i++) {
    const char *argv[] = {"PING"};
    ASSERT_EQ(jr_client_submit(*c, 1, argv, nullptr, -1, count, &at_free, nullptr), JR_OK);
  }
  delete c;
  EXPECT_EQ(at_free.load(), 200);
}

// In loop mode the ready hook says that a batch of callbacks has run: on
// the loop thread, after them, once per batch. A completion that the
// hook's own work causes (here a cancel) gets a hook round at once, not
// when the loop next wakes up.
TEST_F(ClientTest, ReadyHookInLoopModeFollowsEachBatchOfCallbacks) {
  struct Ctx {
    std::atomic<jr_client *> c{nullptr};
    std::atomic<std::thread::id> loop{};
    std::atomic<int> hooks{0}, ran{0}, seen_at_hook{0};
    std::atomic<bool> wrong_thread{false}, empty_hook{false};
    std::atomic<jr_req_id> cancel_me{0};
    std::atomic<bool> late{false}, late_hooked{false}, sleep_replied{false}, hooked_in_sleep{false};
  } ctx;
  auto o = opts();
  auto hook = [](void *ud) {
    auto *x = static_cast<Ctx *>(ud);
    if (std::this_thread::get_id() != x->loop.load()) x->wrong_thread = true;
    int ran = x->ran.load();
    if (ran == x->seen_at_hook.load()) x->empty_hook = true;  // no callback ran since the last
    x->seen_at_hook = ran;
    x->hooks++;
    if (x->late.load() && !x->late_hooked.exchange(true)) x->hooked_in_sleep = !x->sleep_replied;
    if (jr_req_id id = x->cancel_me.exchange(0)) jr_cancel(x->c.load(), id);
  };
  ASSERT_EQ(jr_options_set_ready_cb(o.o, hook, &ctx), JR_OK);
  auto *c = new ClientPtr(o);
  ctx.c = *c;
  auto cb = [](void *ud, int, const jr_reply *) {
    auto *x = static_cast<Ctx *>(ud);
    x->loop = std::this_thread::get_id();
    x->ran++;
  };
  const int total = 2000;
  for (int i = 0; i < total; i++) {
    const char *argv[] = {"PING"};
    ASSERT_EQ(jr_client_submit(*c, 1, argv, nullptr, -1, cb, &ctx, nullptr), JR_OK);
  }
  ASSERT_TRUE(eventually([&] { return ctx.ran.load() == total && ctx.seen_at_hook == total; }));
  EXPECT_FALSE(ctx.wrong_thread.load());
  EXPECT_FALSE(ctx.empty_hook.load());
  EXPECT_GE(ctx.hooks.load(), 1);
  EXPECT_LT(ctx.hooks.load(), total);  // a batch at a time, not a hook per callback

  // The server sleeps; a command behind it times out (a callback, so a
  // hook), and that hook cancels another one behind it: the cancel
  // completes at once, and its hook comes while the server still sleeps.
  const char *sleep[] = {"DEBUG", "SLEEP", "0.5"};
  ASSERT_EQ(jr_client_submit(
                *c, 3, sleep, nullptr, 5000,
                [](void *ud, int, const jr_reply *) {
                  auto *x = static_cast<Ctx *>(ud);
                  x->sleep_replied = true;
                  x->ran++;
                },
                &ctx, nullptr),
            JR_OK);
  const char *ping[] = {"PING"};
  jr_req_id id = 0;
  auto late = [](void *ud, int status, const jr_reply *) {
    auto *x = static_cast<Ctx *>(ud);
    if (status == JR_EABANDONED || status == JR_ECANCELED) x->late = true;
    x->ran++;
  };
  ASSERT_EQ(jr_client_submit(*c, 1, ping, nullptr, -1, late, &ctx, &id), JR_OK);
  ctx.cancel_me = id;
  ASSERT_EQ(jr_client_submit(*c, 1, ping, nullptr, 50, cb, &ctx, nullptr), JR_OK);
  ASSERT_TRUE(eventually([&] { return ctx.sleep_replied.load() && ctx.late_hooked.load(); }));
  EXPECT_TRUE(ctx.late.load());
  EXPECT_TRUE(ctx.hooked_in_sleep.load());
  delete c;
}

// ready_batch sets how many completions a read hands the hook at a time.
TEST_F(ClientTest, ReadyBatchSetsTheHooksBatchWithinARead) {
  OptionsPtr bad;
  EXPECT_EQ(jr_options_set_int(bad.o, "ready_batch", 0), JR_EINVAL);
  EXPECT_EQ(jr_options_set_int(bad.o, "ready_batch", (1 << 20) + 1), JR_EINVAL);
  EXPECT_EQ(jr_options_set(bad.o, "ready_batch", "x"), JR_EINVAL);
  auto hooks_for = [&](int batch, const char *dispatch) {
    struct Ctx {
      std::atomic<int> hooks{0}, ran{0};
      jr_client *c = nullptr;
    } ctx;
    auto o = opts();
    o.set("dispatch", dispatch).set_int("ready_batch", batch);
    EXPECT_EQ(jr_options_set_ready_cb(
                  o.o,
                  [](void *ud) {
                    auto *x = static_cast<Ctx *>(ud);
                    x->hooks++;
                    if (x->c != nullptr) jr_dispatch(x->c, 0);  // poll mode
                  },
                  &ctx),
              JR_OK);
    ClientPtr c(o);
    if (std::strcmp(dispatch, "poll") == 0) ctx.c = c;
    EXPECT_EQ(call(c, {"PING"}).str(), "PONG");
    auto cb = [](void *ud, int, const jr_reply *) { static_cast<Ctx *>(ud)->ran++; };
    // Replies to a pipeline of 20000 arrive in a few large reads: the server
    // sleeps while they are submitted (a slow submitter, under TSan, would
    // otherwise get its replies in hundreds of small reads).
    ctx.hooks = 0;
    const int total = 20001;
    const char *sleep_argv[] = {"DEBUG", "SLEEP", "0.5"};
    EXPECT_EQ(jr_client_submit(c, 3, sleep_argv, nullptr, 0, cb, &ctx, nullptr), JR_OK);
    for (int i = 1; i < total; i++) {
      const char *argv[] = {"PING"};
      EXPECT_EQ(jr_client_submit(c, 1, argv, nullptr, -1, cb, &ctx, nullptr), JR_OK);
    }
    EXPECT_TRUE(eventually([&] { return ctx.ran.load() == total; }));
    return ctx.hooks.load();
  };
  for (const char *mode : {"loop", "poll"}) {
    int small = hooks_for(1, mode), large = hooks_for(4096, mode);
    EXPECT_GT(small, 20000 / 16 / 2) << mode;  // every 16 replies at least
    EXPECT_LT(large, small / 4) << mode;
  }
}

// A thread starter lends libjr a thread of the application for its loop.
TEST_F(ClientTest, ThreadStarterRunsTheLoopOnTheApplicationsThread) {
  struct Ctx {
    std::thread th;
    std::thread::id loop_id;
    void (*run)(void *) = nullptr;
    void *arg = nullptr;
    int starts = 0;
    bool defer = false;  // hold run back until go()
    std::atomic<bool> pipe_blocked{false}, pipe_after{true}, returned{false};
    void go() {
      th = std::thread([this] {
        loop_id = std::this_thread::get_id();
        sigset_t m;
        pthread_sigmask(SIG_SETMASK, nullptr, &m);
        pipe_blocked = sigismember(&m, SIGPIPE) == 1;  // before: not blocked
        run(arg);
        pthread_sigmask(SIG_SETMASK, nullptr, &m);
        pipe_after = sigismember(&m, SIGPIPE) == 1;  // restored
        returned = true;
      });
    }
  };
  auto starter = [](void *ctx, void (*run)(void *), void *arg) -> int {
    auto *x = static_cast<Ctx *>(ctx);
    x->starts++;
    x->run = run;
    x->arg = arg;
    if (!x->defer) x->go();
    return 0;
  };
  EXPECT_EQ(jr_options_set_thread_starter(nullptr, starter, nullptr), JR_EINVAL);
  struct Seen {
    std::atomic<int> n{0};
    std::mutex mu;
    std::set<std::thread::id> threads;
  };
  auto cb = [](void *ud, int status, const jr_reply *) {
    auto *s = static_cast<Seen *>(ud);
    {
      std::lock_guard<std::mutex> lk(s->mu);
      s->threads.insert(std::this_thread::get_id());
    }
    if (status == JR_OK) s->n++;
  };
  {
    Ctx ctx;
    auto o = opts();
    ASSERT_EQ(jr_options_set_thread_starter(o.o, starter, &ctx), JR_OK);
    auto *c = new ClientPtr(o);
    EXPECT_EQ(ctx.starts, 1);
    Seen seen;
    for (int i = 0; i < 500; i++) {
      const char *argv[] = {"PING"};
      ASSERT_EQ(jr_client_submit(*c, 1, argv, nullptr, -1, cb, &seen, nullptr), JR_OK);
    }
    ASSERT_TRUE(eventually([&] { return seen.n.load() == 500; }));
    EXPECT_EQ(call(*c, {"ECHO", "x"}).str(), "x");  // blocking calls work too
    {
      std::lock_guard<std::mutex> lk(seen.mu);
      ASSERT_EQ(seen.threads.size(), 1u);  // every callback on the lent thread
      EXPECT_EQ(*seen.threads.begin(), ctx.loop_id);
    }
    delete c;  // returns once run has returned
    ctx.th.join();
    EXPECT_TRUE(ctx.returned.load());
    EXPECT_FALSE(ctx.pipe_blocked.load());
    EXPECT_FALSE(ctx.pipe_after.load());
  }
  {
    // The starter may run the loop later, even after free began: free
    // waits for it, and what was submitted completes exactly once.
    Ctx ctx;
    ctx.defer = true;
    auto o = opts();
    ASSERT_EQ(jr_options_set_thread_starter(o.o, starter, &ctx), JR_OK);
    auto *c = new ClientPtr(o);
    std::atomic<int> done{0};
    auto count = [](void *ud, int, const jr_reply *) { ++*static_cast<std::atomic<int> *>(ud); };
    for (int i = 0; i < 100; i++) {
      const char *argv[] = {"PING"};
      ASSERT_EQ(jr_client_submit(*c, 1, argv, nullptr, -1, count, &done, nullptr), JR_OK);
    }
    std::atomic<bool> freed{false};
    std::thread freer([&] {
      delete c;
      freed = true;
    });
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    EXPECT_FALSE(freed.load());
    EXPECT_EQ(done.load(), 0);
    ctx.go();
    freer.join();
    ctx.th.join();
    EXPECT_EQ(done.load(), 100);
  }
  {
    // A starter that fails: no client, run never called.
    auto fail = [](void *ctx, void (*)(void *), void *) -> int {
      ++*static_cast<int *>(ctx);
      return -1;
    };
    int calls = 0;
    auto o = opts();
    ASSERT_EQ(jr_options_set_thread_starter(o.o, fail, &calls), JR_OK);
    jr_client *none = nullptr;
    EXPECT_EQ(jr_client_new(o.o, &none), JR_ENOMEM);
    EXPECT_EQ(none, nullptr);
    EXPECT_EQ(calls, 1);
  }
}

TEST_F(ClientTest, OwnedRepliesOutliveTheCallbackAndTheClient) {
  auto o = opts();
  auto *c = new ClientPtr(o);
  call(*c, {"SET", "t:owned", "still here"});
  struct Ctx {
    std::mutex mu;
    jr_reply *kept = nullptr;
  } ctx;
  const char *argv[] = {"GET", "t:owned"};
  ASSERT_EQ(jr_client_submit(
                *c, 2, argv, nullptr, -1,
                [](void *ud, int, const jr_reply *r) {
                  auto *x = static_cast<Ctx *>(ud);
                  std::lock_guard<std::mutex> lk(x->mu);
                  x->kept = jr_reply_dup(r);
                },
                &ctx, nullptr),
            JR_OK);
  ASSERT_TRUE(eventually([&] {
    std::lock_guard<std::mutex> lk(ctx.mu);
    return ctx.kept != nullptr;
  }));
  delete c;
  size_t len;
  EXPECT_STREQ(jr_reply_str(ctx.kept, &len), "still here");
  jr_reply_free(ctx.kept);
}

TEST(AuthTest, PasswordAndAclUserReplayedOnReconnect) {
  RedisServer s({"--requirepass", "s3cret"});
  s.cmd("ACL SETUSER alice on >alicepw ~* &* +@all", "s3cret");
  {
    OptionsPtr o;
    o.set("url", "redis://:s3cret@127.0.0.1:" + std::to_string(s.port()) + "/2");
    ClientPtr c(o);
    int64_t id = call(c, {"CLIENT", "ID"}).integer();
    ASSERT_GT(id, 0);
    ASSERT_TRUE(call(c, {"SET", "k", "v"}).ok());
    s.cmd("CLIENT KILL ID " + std::to_string(id), "s3cret");
    // Reconnects, authenticates and selects db 2 again by itself.
    Result r;
    ASSERT_TRUE(eventually([&] {
      r = call(c, {"GET", "k"});
      return r.status == JR_OK;
    }));
    EXPECT_EQ(r.str(), "v");
    EXPECT_NE(call(c, {"CLIENT", "ID"}).integer(), id);
  }
  {
    OptionsPtr o;
    o.set("username", "alice").set("password", "alicepw").set("endpoint", s.endpoint());
    ClientPtr c(o);
    EXPECT_EQ(call(c, {"ACL", "WHOAMI"}).str(), "alice");
  }
  {
    OptionsPtr o;
    o.set("password", "wrong").set("endpoint", s.endpoint());
    ClientPtr c(o);
    Result r = call(c, {"PING"});
    EXPECT_EQ(r.status, JR_EAUTH);
    EXPECT_EQ(jr_err_unsent(r.status), 1);
  }
  {
    OptionsPtr o;  // no password at all: the server's NOAUTH is a server error
    o.set("endpoint", s.endpoint());
    ClientPtr c(o);
    Result r = call(c, {"PING"});
    EXPECT_EQ(r.status, JR_OK);
    EXPECT_EQ(r.type(), JR_REPLY_ERROR);
    EXPECT_NE(r.str().find("NOAUTH"), std::string::npos);
  }
}

// A handshake the server refuses (wrong password, a failing connect
// command) fails the waiting commands with JR_EAUTH (a library error: they
// never ran) and each completion carries the server's error reply, so the
// caller sees why: justredis raises the server's "WRONGPASS ..." itself.
TEST(AuthTest, WrongPasswordCompletionCarriesTheServersError) {
  RedisServer s({"--requirepass", "s3cret"});
  s.cmd("ACL SETUSER alice on >alicepw ~* &* +@all", "s3cret");
  auto contains = [](const std::string &text, const char *what) {
    return text.find(what) != std::string::npos;
  };
  for (const char *cluster : {"auto", "no"}) {  // auto: the CLUSTER SLOTS probe fails first
    for (const char *dispatch : {"loop", "poll"}) {
      SCOPED_TRACE(std::string("cluster=") + cluster + " dispatch=" + dispatch);
      OptionsPtr o;
      o.set("password", "wrong").set("endpoint", s.endpoint()).set("cluster", cluster);
      o.set("dispatch", dispatch).set_int("connect_retry", 0);
      ClientPtr c(o);
      Recorder rec;
      ASSERT_EQ(submit(c, {"PING"}, rec, 0), JR_OK);
      ASSERT_EQ(submit(c, {"BLPOP", "auth:q", "0.05"}, rec, 1), JR_OK);  // a pooled connection
      if (std::string(dispatch) == "poll") {
        ASSERT_TRUE(eventually([&] {
          jr_dispatch(c, 0);
          return rec.done() == 2;
        }));
      }
      ASSERT_TRUE(rec.wait_all());
      for (size_t t : {0, 1}) {
        auto r = rec.get(t);
        EXPECT_EQ(r.status, JR_EAUTH) << t;
        EXPECT_EQ(r.type, JR_REPLY_ERROR) << t;
        EXPECT_TRUE(contains(r.text, "WRONGPASS")) << t << ": " << r.text;
      }
      if (std::string(dispatch) == "loop") {
        Result r = call(c, {"PING"});  // jr_client_call: *out is the error reply
        EXPECT_EQ(r.status, JR_EAUTH);
        EXPECT_EQ(jr_err_unsent(r.status), 1);
        EXPECT_EQ(r.type(), JR_REPLY_ERROR);
        EXPECT_TRUE(contains(r.str(), "WRONGPASS")) << r.str();
      }
    }
  }
  {
    OptionsPtr o;  // an ACL user with a wrong password
    o.set("username", "alice").set("password", "nope").set("endpoint", s.endpoint());
    ClientPtr c(o);
    Result r = call(c, {"PING"});
    EXPECT_EQ(r.status, JR_EAUTH);
    EXPECT_TRUE(contains(r.str(), "WRONGPASS")) << r.str();
    // A transaction's callbacks get it too.
    jr_multi *m = nullptr;
    ASSERT_EQ(jr_multi_new(c, -1, &m), JR_OK);
    Recorder rec;
    const char *incr[] = {"INCR", "auth:n"};
    ASSERT_EQ(jr_multi_add(m, 2, incr, nullptr, Recorder::cb, rec.expect(0)), JR_OK);
    ASSERT_EQ(jr_multi_exec(m, -1, Recorder::cb, rec.expect(1)), JR_OK);
    ASSERT_TRUE(rec.wait_all());
    for (size_t t : {0, 1}) {
      EXPECT_EQ(rec.get(t).status, JR_EAUTH) << t;
      EXPECT_TRUE(contains(rec.get(t).text, "WRONGPASS")) << t << ": " << rec.get(t).text;
    }
  }
  {
    OptionsPtr o;  // right password, a connect command the server refuses
    o.set("password", "s3cret").set("endpoint", s.endpoint());
    const char *bad[] = {"CLIENT", "NOSUCHSUBCOMMAND"};
    ASSERT_EQ(jr_options_add_connect_command(o.o, 2, bad, nullptr), JR_OK);
    ClientPtr c(o);
    Result r = call(c, {"PING"});
    EXPECT_EQ(r.status, JR_EAUTH);
    EXPECT_EQ(r.type(), JR_REPLY_ERROR);
    EXPECT_TRUE(contains(r.str(), "NOSUCHSUBCOMMAND") || contains(r.str(), "nosuchsubcommand"))
        << r.str();
  }
}

TEST(ConnectCommands, RunOnEveryConnection) {
  RedisServer s;
  OptionsPtr o;
  o.set("endpoint", s.endpoint());
  const char *argv[] = {"CLIENT", "SETINFO", "LIB-NAME", "libjr-test"};
  ASSERT_EQ(jr_options_add_connect_command(o.o, 4, argv, nullptr), JR_OK);
  // Redis 7.0 has no CLIENT SETINFO: the handshake must fail cleanly.
  // Valkey 8.0 (and Redis 7.2+) has it: it runs on the connection. Asked of
  // the server on a side connection, so either answer is checked.
  std::string probe = s.cmd("CLIENT SETINFO LIB-NAME probe");
  bool has_setinfo = probe.rfind("+OK", 0) == 0;
  ASSERT_TRUE(has_setinfo || probe.rfind("-ERR", 0) == 0) << probe;
  {
    ClientPtr c(o);
    Result r = call(c, {"CLIENT", "INFO"});
    if (has_setinfo) {
      ASSERT_EQ(r.status, JR_OK) << r.str();
      EXPECT_NE(r.str().find("lib-name=libjr-test"), std::string::npos) << r.str();
    } else {
      EXPECT_EQ(r.status, JR_EAUTH) << s.server_name() << ": " << r.str();
    }
  }
  OptionsPtr o2;
  o2.set("endpoint", s.endpoint());
  const char *name[] = {"CLIENT", "SETNAME", "from-hook"};
  ASSERT_EQ(jr_options_add_connect_command(o2.o, 3, name, nullptr), JR_OK);
  const char *bad[] = {"SELECT", "1"};
  EXPECT_EQ(jr_options_add_connect_command(o2.o, 2, bad, nullptr), JR_EREFUSED);
  ClientPtr c(o2);
  EXPECT_EQ(call(c, {"CLIENT", "GETNAME"}).str(), "from-hook");
}

TEST_F(ClientTest, PollModeSignalsTimeoutsWithoutOtherTraffic) {
  // A completion made by the deadline timer (no socket activity) must make
  // the fd readable at once, not at the next read.
  auto o = opts();
  o.set("dispatch", "poll");
  ClientPtr c(o);
  ASSERT_EQ(call(c, {"PING"}).str(), "PONG");
  int fd = jr_client_fd(c);
  int status = 1;
  auto cb = [](void *ud, int st, const jr_reply *) { *static_cast<int *>(ud) = st; };
  const char *argv[] = {"DEBUG", "SLEEP", "1"};
  ASSERT_EQ(jr_client_submit(c, 3, argv, nullptr, 100, cb, &status, nullptr), JR_OK);
  auto t0 = std::chrono::steady_clock::now();
  pollfd p{fd, POLLIN, 0};
  ASSERT_EQ(poll(&p, 1, 3000), 1);
  auto ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0)
          .count();
  jr_dispatch(c, 0);
  EXPECT_EQ(status, JR_ETIMEDOUT);
  EXPECT_LT(ms, 600);
}

TEST_F(ClientTest, AForkedChildGetsAClearErrorAndCanMakeItsOwnClient) {
  auto o = opts();
  ClientPtr c(o);
  ASSERT_EQ(call(c, {"SET", "t:fork", "parent"}).str(), "OK");
  int fds[2];
  ASSERT_EQ(pipe(fds), 0);
  pid_t pid = fork();
  if (pid == 0) {
    // Child: the parent's client refuses; a new one works. The result goes
    // through the pipe and the child ends with SIGKILL: no exit handlers (a
    // leak checker would report the parent's client, which the child cannot
    // free by design).
    int bad = 0;
    jr_reply *r = nullptr;
    const char *get[] = {"GET", "t:fork"};
    if (jr_client_call(c, 2, get, nullptr, 1000, &r) != JR_EFORKED) bad |= 1;
    if (jr_client_free(c) != JR_EFORKED) bad |= 2;
#if !defined(__SANITIZE_THREAD__)
    // (ThreadSanitizer cannot start threads after a multi-threaded fork.)
    jr_client *mine = nullptr;
    if (jr_client_new(o.o, &mine) != JR_OK) bad |= 4;
    if (jr_client_call(mine, 2, get, nullptr, 2000, &r) != JR_OK) bad |= 8;
    if (r == nullptr || std::string(jr_reply_str(r, nullptr)) != "parent") bad |= 16;
    jr_reply_free(r);
    jr_client_free(mine);
#endif
    if (write(fds[1], &bad, sizeof bad) != sizeof bad) bad |= 32;
    kill(getpid(), SIGKILL);
  }
  close(fds[1]);
  int bad = -1;
  ASSERT_EQ(read(fds[0], &bad, sizeof bad), static_cast<ssize_t>(sizeof bad));
  close(fds[0]);
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  EXPECT_EQ(bad, 0);
  // The parent's client is unaffected.
  EXPECT_EQ(call(c, {"GET", "t:fork"}).str(), "parent");
}

TEST(AuthRotation, NewPasswordUsedForNewConnections) {
  RedisServer s({"--requirepass", "old"});
  OptionsPtr o;
  o.set("endpoint", s.endpoint()).set("password", "old").set_int("connect_retry", 5);
  ClientPtr c(o);
  int64_t id = call(c, {"CLIENT", "ID"}).integer();
  ASSERT_GT(id, 0);
  // Rotate on the server, then on the client; the live connection stays.
  s.cmd("CONFIG SET requirepass new", "old");
  ASSERT_EQ(jr_client_set_auth(c, nullptr, "new"), JR_OK);
  EXPECT_EQ(call(c, {"CLIENT", "ID"}).integer(), id);
  // A reconnect authenticates with the new password.
  s.cmd("CLIENT KILL ID " + std::to_string(id), "new");
  EXPECT_TRUE(eventually([&] { return call(c, {"PING"}).str() == "PONG"; }));
  EXPECT_NE(call(c, {"CLIENT", "ID"}).integer(), id);
  EXPECT_EQ(jr_client_set_auth(nullptr, nullptr, "x"), JR_EINVAL);
  EXPECT_EQ(jr_client_set_auth(c, nullptr, nullptr), JR_EINVAL);
}

TEST(BackPressure, QueuedCommandsAndBytesAreCappedWithEFull) {
  RedisServer s;
  s.pause();  // a stalled server: accepts connections, answers nothing
  OptionsPtr o;
  o.set("endpoint", s.endpoint())
      .set("cluster", "no")
      .set_int("max_queued", 100)
      .set_int("command_timeout_ms", 300);
  ClientPtr c(o);
  Recorder rec;
  int accepted = 0, full = 0;
  for (int i = 0; i < 200; i++) {
    int rc = submit(c, {"PING"}, rec, i);
    if (rc == JR_OK) accepted++;
    if (rc == JR_EFULL) full++;
  }
  EXPECT_EQ(accepted, 100);
  EXPECT_EQ(full, 100);
  EXPECT_EQ(jr_err_unsent(JR_EFULL), 1);
  // They time out, but stay held until their late replies arrive (the
  // connection is not torn down): the cap still protects memory.
  ASSERT_TRUE(rec.wait_all(5000));
  EXPECT_EQ(submit(c, {"PING"}, rec, 500), JR_EFULL);

  // Bytes: a few large values fill 64 KiB before the count cap.
  OptionsPtr ob;
  ob.set("endpoint", s.endpoint())
      .set("cluster", "no")
      .set_int("max_queued_bytes", 64 * 1024)
      .set_int("command_timeout_ms", 300);
  ClientPtr cb(ob);
  std::string big(20000, 'b');
  int big_ok = 0, big_full = 0;
  for (int i = 0; i < 10; i++) {
    int rc = submit(cb, {"SET", "k", big}, rec, 1000 + i);
    if (rc == JR_OK) big_ok++;
    if (rc == JR_EFULL) big_full++;
    if (rc != JR_OK && rc != JR_EFULL) ADD_FAILURE() << "submit: " << jr_err_name(rc);
  }
  EXPECT_EQ(big_ok, 3);
  EXPECT_EQ(big_full, 7);
  ASSERT_TRUE(rec.wait_all(5000));
  EXPECT_EQ(rec.duplicates(), 0u);
  // The server comes back: the late replies are read and dropped, and there
  // is room again.
  s.resume();
  EXPECT_TRUE(eventually([&] { return call(c, {"PING"}).str() == "PONG"; }));
  EXPECT_TRUE(eventually([&] { return call(cb, {"SET", "k", big}).ok(); }));
}

// ---- Extreme integer arguments (issue 11, item 4) ----------------------------------------

namespace {

int64_t ms_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() -
                                                               t0)
      .count();
}

// One way to submit a PING with a given timeout through one of the calls
// that take a timeout_ms; its completion goes to rec's token.
using TimedSubmit = std::function<int(jr_client *, int64_t, Recorder &, size_t)>;

std::vector<std::pair<const char *, TimedSubmit>> timed_submits(const std::string &endpoint) {
  static const char *ping[] = {"PING"};
  std::vector<std::pair<const char *, TimedSubmit>> v;
  v.emplace_back("jr_client_submit", [](jr_client *c, int64_t t, Recorder &rec, size_t tok) {
    return submit(c, {"PING"}, rec, tok, t);
  });
  v.emplace_back("jr_db_submit", [](jr_client *c, int64_t t, Recorder &rec, size_t tok) {
    jr_db *db = nullptr;
    EXPECT_EQ(jr_db_new(c, 0, &db), JR_OK);
    return submit(db, {"PING"}, rec, tok, t);  // the client frees the view
  });
  v.emplace_back("jr_client_call", [](jr_client *c, int64_t t, Recorder &rec, size_t tok) {
    // Blocks until the reply: from a thread of its own, reported as if
    // it had been a callback.
    void *ud = rec.expect(tok);
    std::thread([c, t, ud] {
      jr_reply *r = nullptr;
      int rc = jr_client_call(c, 1, ping, nullptr, t, &r);
      Recorder::cb(ud, rc, r);
      jr_reply_free(r);
    }).detach();
    return JR_OK;
  });
  v.emplace_back("jr_multi_exec", [](jr_client *c, int64_t t, Recorder &rec, size_t tok) {
    jr_multi *m = nullptr;
    EXPECT_EQ(jr_multi_new(c, -1, &m), JR_OK);
    EXPECT_EQ(jr_multi_add(
                  m, 1, ping, nullptr, [](void *, int, const jr_reply *) {}, nullptr),
              JR_OK);
    void *ud = rec.expect(tok);
    int rc = jr_multi_exec(m, t, Recorder::cb, ud);
    if (rc != JR_OK) rec.refused();
    return rc;
  });
  v.emplace_back("jr_watch_submit", [](jr_client *c, int64_t t, Recorder &rec, size_t tok) {
    jr_watch *w = nullptr;
    const char *keys[] = {"t:extreme:w"};
    EXPECT_EQ(jr_watch_new(c, -1, 1, keys, nullptr, &w), JR_OK);
    void *ud = rec.expect(tok);
    int rc = jr_watch_submit(w, 1, ping, nullptr, t, Recorder::cb, ud);
    if (rc != JR_OK) rec.refused();
    return rc;  // the client releases the watch
  });
  v.emplace_back(
      "jr_client_submit_to", [endpoint](jr_client *c, int64_t t, Recorder &rec, size_t tok) {
        void *ud = rec.expect(tok);
        int rc = jr_client_submit_to(c, endpoint.c_str(), 1, ping, nullptr, t, Recorder::cb, ud);
        if (rc != JR_OK) rec.refused();
        return rc;
      });
  v.emplace_back("jr_client_submit_all_masters",
                 [](jr_client *c, int64_t t, Recorder &rec, size_t tok) {
                   void *ud = rec.expect(tok);
                   int rc = jr_client_submit_all_masters(c, 1, ping, nullptr, t, Recorder::cb, ud);
                   if (rc != JR_OK) rec.refused();
                   return rc;
                 });
  return v;
}

}  // namespace

// A timeout of INT64_MAX made now + timeout wrap negative; armed as the
// client's next deadline it kept every later deadline from firing: a 50 ms
// command behind a sleeping server waited for the server instead.
TEST_F(ClientTest, HugeTimeoutDoesNotDisableLaterDeadlines) {
  for (auto &[name, how] : timed_submits(server_->endpoint())) {
    auto o = opts();
    o.set("cluster", "no");
    Recorder rec;  // outlives the client (its callbacks)
    ClientPtr c(o);
    ASSERT_TRUE(call(c, {"PING"}).ok());
    ASSERT_EQ(submit(c, {"DEBUG", "SLEEP", "0.6"}, rec, 0, 0), JR_OK);
    const int64_t huge[] = {INT64_MAX, INT64_MAX - 1, INT64_MAX / 2 + 1};
    for (size_t i = 0; i < 3; i++) ASSERT_EQ(how(c, huge[i], rec, 1 + i), JR_OK) << name;
    auto t0 = std::chrono::steady_clock::now();
    ASSERT_EQ(submit(c, {"PING"}, rec, 100, 50), JR_OK);
    EXPECT_TRUE(eventually([&] { return rec.get(100).count == 1; }, 400))
        << name << ": a 50 ms deadline after a timeout of INT64_MAX did not fire";
    EXPECT_EQ(rec.get(100).status, JR_ETIMEDOUT) << name << " " << jr_err_name(rec.get(100).status);
    EXPECT_LT(ms_since(t0), 400) << name;
    ASSERT_TRUE(rec.wait_all(5000)) << name;
    EXPECT_EQ(rec.duplicates(), 0u) << name;
    // The huge ones had no deadline in effect: the sleep ended, they ran.
    for (size_t tok : {1, 2, 3}) {
      int st = rec.get(tok).status;
      EXPECT_TRUE(st == JR_OK || (st == JR_ECLUSTER && std::strstr(name, "all_masters")))
          << name << " " << jr_err_name(st);
    }
  }
}

// The same on a pooled connection: a BLPOP with a timeout of INT64_MAX, then
// one with 50 ms, which must still time out (its connection is closed).
TEST_F(ClientTest, HugeTimeoutOnABlockingCommandDoesNotDisableLaterDeadlines) {
  auto o = opts();
  o.set("cluster", "no");
  Recorder rec;
  ClientPtr c(o);
  ASSERT_EQ(submit(c, {"BLPOP", "t:extreme:q1", "0"}, rec, 0, INT64_MAX), JR_OK);
  ASSERT_EQ(submit(c, {"BLPOP", "t:extreme:q2", "0"}, rec, 1, 50), JR_OK);
  auto t0 = std::chrono::steady_clock::now();
  EXPECT_TRUE(eventually([&] { return rec.get(1).count == 1; }, 2000))
      << "a BLPOP with 50 ms never timed out";
  EXPECT_EQ(rec.get(1).status, JR_ETIMEDOUT) << jr_err_name(rec.get(1).status);
  EXPECT_LT(ms_since(t0), 2000);
  // The first still waits: no deadline in effect.
  EXPECT_EQ(rec.get(0).count, 0);
  ASSERT_TRUE(call(c, {"RPUSH", "t:extreme:q1", "x"}).ok());
  ASSERT_TRUE(rec.wait_all(5000));
  EXPECT_EQ(rec.get(0).status, JR_OK);
}

// Every timeout_ms the header names: < 0 the default (command_timeout_ms,
// here 150 ms), INT64_MIN included; 0 none; 1 one millisecond; INT64_MAX
// none in effect.
TEST_F(ClientTest, TimeoutArgumentExtremes) {
  auto o = opts();
  o.set("cluster", "no").set_int("command_timeout_ms", 150);
  Recorder rec;
  ClientPtr c(o);
  ASSERT_TRUE(call(c, {"PING"}).ok());
  ASSERT_EQ(submit(c, {"DEBUG", "SLEEP", "0.5"}, rec, 0, 0), JR_OK);
  const int64_t values[] = {INT64_MAX, INT64_MIN, -1, 0, 1, INT64_MIN + 1, -2};
  const int expect[] = {JR_OK,        JR_ETIMEDOUT, JR_ETIMEDOUT, JR_OK,
                        JR_ETIMEDOUT, JR_ETIMEDOUT, JR_ETIMEDOUT};
  for (size_t i = 0; i < 7; i++) ASSERT_EQ(submit(c, {"PING"}, rec, 1 + i, values[i]), JR_OK);
  // The ones with a deadline fire long before the sleep ends.
  EXPECT_TRUE(eventually([&] { return rec.done() >= 5; }, 450)) << rec.done();
  ASSERT_TRUE(rec.wait_all(5000));
  for (size_t i = 0; i < 7; i++)
    EXPECT_EQ(rec.get(1 + i).status, expect[i])
        << "timeout_ms " << values[i] << ": " << jr_err_name(rec.get(1 + i).status);
  // jr_client_call and jr_db_call alike.
  jr_db *db = nullptr;
  ASSERT_EQ(jr_db_new(c, 0, &db), JR_OK);
  for (int64_t t : {INT64_MAX, INT64_MIN, int64_t{-1}, int64_t{0}}) {
    EXPECT_EQ(call(c, {"PING"}, t).str(), "PONG") << t;
    EXPECT_EQ(call(db, {"PING"}, t).str(), "PONG") << t;
  }
  // One millisecond is a real deadline: a loaded machine may miss it.
  for (int i = 0; i < 2; i++) {
    Result r = i == 0 ? call(c, {"PING"}, 1) : call(db, {"PING"}, 1);
    if (r.status == JR_OK) {
      EXPECT_EQ(r.str(), "PONG");
    } else {
      EXPECT_EQ(r.status, JR_ETIMEDOUT) << jr_err_name(r.status);
    }
  }
  jr_db_free(db);
}

// jr_client_drain(c, INT64_MAX) waited for nothing: the chrono conversion
// overflowed and it returned JR_ETIMEDOUT at once.
TEST_F(ClientTest, DrainTimeoutExtremes) {
  struct Case {
    int64_t timeout;
    int expect;
  };
  for (Case k : {Case{INT64_MAX, JR_OK}, Case{INT64_MAX - 1, JR_OK}, Case{INT64_MIN, JR_OK},
                 Case{-1, JR_OK}, Case{0, JR_ETIMEDOUT}, Case{1, JR_ETIMEDOUT}}) {
    auto o = opts();
    o.set("cluster", "no");
    Recorder rec;  // outlives the client (its callbacks)
    ClientPtr c(o);
    ASSERT_TRUE(call(c, {"PING"}).ok());
    ASSERT_EQ(submit(c, {"DEBUG", "SLEEP", "0.3"}, rec, 0, 0), JR_OK);
    auto t0 = std::chrono::steady_clock::now();
    int rc = jr_client_drain(c, k.timeout);
    int64_t took = ms_since(t0);
    EXPECT_EQ(rc, k.expect) << "drain(" << k.timeout << "): " << jr_err_name(rc);
    if (k.expect == JR_OK) {
      EXPECT_EQ(rec.done(), 1u) << "drain(" << k.timeout << ") returned before the command";
      EXPECT_GE(took, 200) << k.timeout;
    } else {
      EXPECT_LT(took, 200) << k.timeout;
    }
    EXPECT_EQ(submit(c, {"PING"}, rec, 1), JR_ECLOSED);
    ASSERT_TRUE(rec.wait_all(5000));
  }
}

// Lengths and counts at SIZE_MAX (or any that no object can have, or that
// the queue limit refuses) are refused at once, before anything is read or
// allocated: encoded_size wrapped and the copy ran past the argument.
TEST_F(ClientTest, SizeArgumentExtremes) {
  auto o = opts();
  o.set("cluster", "no");
  Recorder rec;
  ClientPtr c(o);
  const char *ping[] = {"PING", nullptr};
  const char *echo[] = {"ECHO", "x"};
  auto noop = [](void *, int, const jr_reply *) {};
  // argc SIZE_MAX: the NULL entry stops the scan.
  EXPECT_EQ(jr_client_submit(c, SIZE_MAX, ping, nullptr, -1, noop, nullptr, nullptr), JR_EINVAL);
  jr_reply *r = nullptr;
  EXPECT_EQ(jr_client_call(c, SIZE_MAX, ping, nullptr, -1, &r), JR_EINVAL);
  for (size_t huge : {SIZE_MAX, SIZE_MAX - 1, SIZE_MAX / 2 + 1}) {
    const size_t lens[] = {4, huge};
    SCOPED_TRACE(huge);
    EXPECT_EQ(jr_client_submit(c, 2, echo, lens, -1, noop, nullptr, nullptr), JR_EINVAL);
    EXPECT_EQ(jr_client_call(c, 2, echo, lens, -1, &r), JR_EINVAL);
    jr_db *db = nullptr;
    ASSERT_EQ(jr_db_new(c, 0, &db), JR_OK);
    EXPECT_EQ(jr_db_submit(db, 2, echo, lens, -1, noop, nullptr, nullptr), JR_EINVAL);
    EXPECT_EQ(jr_db_call(db, 2, echo, lens, -1, &r), JR_EINVAL);
    jr_db_free(db);
    jr_multi *m = nullptr;
    ASSERT_EQ(jr_multi_new(c, -1, &m), JR_OK);
    EXPECT_EQ(jr_multi_add(m, 2, echo, lens, noop, nullptr), JR_EINVAL);
    jr_multi_discard(m);
    const char *keys[] = {"k", "x"};
    jr_watch *w = nullptr;
    EXPECT_EQ(jr_watch_new(c, -1, 2, keys, lens, &w), JR_EINVAL);
    EXPECT_EQ(jr_watch_new(c, -1, SIZE_MAX, ping, nullptr, &w), JR_EINVAL);
    EXPECT_EQ(w, nullptr);
    EXPECT_EQ(jr_client_submit_to(c, server_->endpoint().c_str(), 2, echo, lens, -1, noop, nullptr),
              JR_EINVAL);
    EXPECT_EQ(jr_client_submit_all_masters(c, 2, echo, lens, -1, noop, nullptr), JR_EINVAL);
    jr_sub *s = nullptr;
    ASSERT_EQ(jr_sub_new(
                  c, [](void *, int, const jr_reply *) {}, nullptr, &s),
              JR_OK);
    EXPECT_EQ(jr_sub_subscribe(s, JR_SUB_CHANNELS, 2, echo, lens), JR_EINVAL);
    EXPECT_EQ(jr_sub_unsubscribe(s, JR_SUB_CHANNELS, 2, echo, lens), JR_EINVAL);
    EXPECT_EQ(jr_sub_ping(s, "x", huge), JR_EINVAL);
    jr_sub_free(s);
    OptionsPtr oc;
    EXPECT_EQ(jr_options_add_connect_command(oc.o, 2, echo, lens), JR_EINVAL);
    EXPECT_EQ(jr_options_add_connect_command(oc.o, SIZE_MAX, ping, nullptr), JR_EINVAL);
    EXPECT_EQ(jr_refusal_reason("SELECT", huge), nullptr);
  }
  // A length an object may have but the queue limit (max_queued_bytes,
  // 1 GiB here) refuses: JR_EFULL before anything is copied (echo[1] is
  // one byte long: reading more would be a bug).
  const size_t big[] = {4, size_t{1} << 40};
  EXPECT_EQ(jr_client_submit(c, 2, echo, big, -1, noop, nullptr, nullptr), JR_EFULL);
  EXPECT_EQ(jr_client_call(c, 2, echo, big, -1, &r), JR_EFULL);
  jr_multi *m = nullptr;
  ASSERT_EQ(jr_multi_new(c, -1, &m), JR_OK);
  EXPECT_EQ(jr_multi_add(m, 2, echo, big, noop, nullptr), JR_EFULL);
  jr_multi_discard(m);
  EXPECT_EQ(jr_client_submit_to(c, server_->endpoint().c_str(), 2, echo, big, -1, noop, nullptr),
            JR_EFULL);
  const char *wkeys[] = {"k", "x"};
  jr_watch *w = nullptr;
  EXPECT_EQ(jr_watch_new(c, -1, 2, wkeys, big, &w), JR_EFULL);
  // Other counts: jr_dispatch in loop mode, jr_reply_element, jr_cancel.
  EXPECT_EQ(jr_dispatch(c, SIZE_MAX), 0u);
  Result arr = call(c, {"ECHO", "x"});
  EXPECT_EQ(jr_reply_element(arr.reply.get(), SIZE_MAX), nullptr);
  for (jr_req_id id : {jr_req_id{0}, jr_req_id{1}, UINT64_MAX, UINT64_MAX - 1})
    EXPECT_EQ(jr_cancel(c, id), JR_ENOENT) << id;
  // Nothing ran, nothing called back; the client still works.
  EXPECT_EQ(call(c, {"PING"}).str(), "PONG");
  EXPECT_EQ(rec.done(), 0u);
}

// The int arguments: database numbers and jr_sub_subscribe's kind.
TEST_F(ClientTest, IntArgumentExtremes) {
  auto o = opts();
  o.set("cluster", "no");
  ClientPtr c(o);
  jr_db *db = nullptr;
  for (int bad : {INT_MIN, INT_MIN + 1, -1}) {
    EXPECT_EQ(jr_db_new(c, bad, &db), JR_EINVAL) << bad;
    EXPECT_EQ(db, nullptr);
  }
  // A number the server rejects: its commands get the server's error.
  ASSERT_EQ(jr_db_new(c, INT_MAX, &db), JR_OK);
  Result r = call(db, {"PING"});
  EXPECT_EQ(r.status, JR_OK);
  EXPECT_EQ(r.type(), JR_REPLY_ERROR) << r.str();
  jr_db_free(db);
  // jr_multi_new / jr_watch_new: any negative db is the default one.
  for (int d : {INT_MIN, -1}) {
    jr_multi *m = nullptr;
    ASSERT_EQ(jr_multi_new(c, d, &m), JR_OK);
    Recorder rec;
    const char *ping[] = {"PING"};
    ASSERT_EQ(jr_multi_add(m, 1, ping, nullptr, Recorder::cb, rec.expect(0)), JR_OK);
    ASSERT_EQ(jr_multi_exec(m, -1, nullptr, nullptr), JR_OK);
    ASSERT_TRUE(rec.wait_all());
    EXPECT_EQ(rec.get(0).text, "PONG") << d;
  }
  {
    jr_multi *m = nullptr;
    ASSERT_EQ(jr_multi_new(c, INT_MAX, &m), JR_OK);
    Recorder rec;
    const char *ping[] = {"PING"};
    ASSERT_EQ(jr_multi_add(m, 1, ping, nullptr, Recorder::cb, rec.expect(0)), JR_OK);
    ASSERT_EQ(jr_multi_exec(m, -1, nullptr, nullptr), JR_OK);
    ASSERT_TRUE(rec.wait_all());
    EXPECT_EQ(rec.get(0).type, JR_REPLY_ERROR) << rec.get(0).text;
  }
  jr_sub *s = nullptr;
  ASSERT_EQ(jr_sub_new(
                c, [](void *, int, const jr_reply *) {}, nullptr, &s),
            JR_OK);
  const char *names[] = {"t:extreme:ch"};
  for (int kind : {INT_MIN, -1, 3, INT_MAX}) {
    EXPECT_EQ(jr_sub_subscribe(s, kind, 1, names, nullptr), JR_EINVAL) << kind;
    EXPECT_EQ(jr_sub_unsubscribe(s, kind, 1, names, nullptr), JR_EINVAL) << kind;
  }
  EXPECT_EQ(jr_sub_subscribe(s, JR_SUB_CHANNELS, SIZE_MAX, nullptr, nullptr), JR_EINVAL);
  jr_sub_free(s);
}

// Every int and bool option at both ends of its range (from the option
// table): a client made with it still answers, nothing hangs or overflows.
// TLS on a plain server and a 1 ms connect timeout may fail to connect,
// but must say so (JR_ECONNECT / JR_ETIMEDOUT...) rather than hang.
TEST_F(ClientTest, EveryIntOptionAtTheEndsOfItsRange) {
  const char *name = nullptr, *type = nullptr;
  int64_t min = 0, max = 0;
  size_t tried = 0;
  for (size_t i = 0; jr_options_describe(i, &name, &type, &min, &max, nullptr, nullptr) == JR_OK;
       i++) {
    std::string t = type;
    if (t != "int" && t != "bool") continue;
    for (int64_t v : {min, max}) {
      SCOPED_TRACE(std::string(name) + "=" + std::to_string(v));
      auto o = opts();
      o.set("cluster", "no").set_int(name, v);
      if (std::string(name) != "connect_timeout_ms") o.set_int("connect_timeout_ms", 2000);
      if (JR_TEST_HIREDIS_MAJOR < 1 && std::string(name) == "protocol" && v == 3) {
        // RESP3 needs hiredis 1.x: refused at once, with the reason.
        jr_client *refused = nullptr;
        EXPECT_EQ(jr_client_new(o.o, &refused), JR_EINVAL);
        EXPECT_EQ(refused, nullptr);
        tried++;
        continue;
      }
      ClientPtr c(o);
      ASSERT_NE(c.get(), nullptr);
      auto t0 = std::chrono::steady_clock::now();
      Result r = call(c, {"PING"}, 3000);
      EXPECT_LT(ms_since(t0), 4000);
      bool may_fail = (std::string(name) == "tls" && v == 1) ||
                      (std::string(name) == "connect_timeout_ms" && v == 1);
      if (may_fail) {
        EXPECT_TRUE(r.status == JR_OK || r.status < 0) << jr_err_name(r.status);
      } else if (std::string(name) == "database" && v == max) {
        // A database the server does not have: its SELECT error reply.
        EXPECT_EQ(r.type(), JR_REPLY_ERROR) << jr_err_name(r.status);
      } else if (std::string(name) == "max_queued" && v == 1) {
        EXPECT_EQ(r.str(), "PONG");
        Recorder rec;
        // The PING's slot is released just after its callback ran.
        ASSERT_TRUE(eventually([&] {
          return submit(c, {"DEBUG", "SLEEP", "0.05"}, rec, 0, 0) == 0;
        }));
        EXPECT_EQ(submit(c, {"PING"}, rec, 1, 20), JR_EFULL);
        ASSERT_TRUE(rec.wait_all(3000));
        c.reset();
      } else {
        EXPECT_EQ(r.str(), "PONG") << jr_err_name(r.status);
        // And a deadline still fires, from the option or the argument: a
        // PING behind a DEBUG SLEEP 0.2, with 20 ms. On a loaded machine it
        // may rightly come back PONG (this thread held back until the sleep
        // was over; or the loop thread woke so late that the reply was read
        // before the timer ran, which jr.h says is delivered): then it is
        // tried again. A deadline that never fires fails all 3 tries.
        int got = JR_OK;
        for (int attempt = 0; attempt < 3 && got == JR_OK; attempt++) {
          Recorder rec;
          ASSERT_EQ(submit(c, {"DEBUG", "SLEEP", "0.2"}, rec, 0, 0), JR_OK);
          ASSERT_EQ(submit(c, {"PING"}, rec, 1, 20), JR_OK);
          ASSERT_TRUE(rec.wait_all(3000));
          got = rec.get(1).status;
          if (got == JR_OK) {
            EXPECT_EQ(rec.get(1).text, "PONG");
          }
        }
        EXPECT_EQ(got, JR_ETIMEDOUT) << jr_err_name(got);
        c.reset();
      }
      tried++;
    }
  }
  EXPECT_GE(tried, 40u);
}

// jr_err_unsent against what the server saw: 1 only for outcomes whose
// command never ran; 0 for codes that are no command's outcome (it was 1
// for JR_ENOENT and JR_ETLS).
TEST_F(ClientTest, ErrUnsentMatchesWhatTheServerRan) {
  auto o = opts();
  o.set("cluster", "no");
  Recorder rec;
  ClientPtr c(o);
  ASSERT_TRUE(call(c, {"SET", "t:unsent", "0"}).ok());
  // JR_ETIMEDOUT: 0, and right so: the command ran after its deadline. (On
  // a loaded machine the INCR may rightly complete with its reply, as in
  // EveryIntOptionAtTheEndsOfItsRange: then it is tried again.)
  int got = JR_OK, tries = 0;
  while (got == JR_OK && tries < 3) {
    Recorder one;
    ASSERT_EQ(submit(c, {"DEBUG", "SLEEP", "0.2"}, one, 0, 0), JR_OK);
    ASSERT_EQ(submit(c, {"INCR", "t:unsent"}, one, 1, 20), JR_OK);
    ASSERT_TRUE(one.wait_all());
    got = one.get(1).status;
    tries++;
  }
  EXPECT_EQ(got, JR_ETIMEDOUT);
  EXPECT_EQ(jr_err_unsent(got), 0);
  EXPECT_EQ(call(c, {"GET", "t:unsent"}).str(), std::to_string(tries));
  // JR_EMISUSE is an outcome (jr_client_call on the loop thread; the queued
  // commands of a transaction whose WATCH was freed) and nothing ran: 1.
  struct Ctx {
    jr_client *c;
    std::atomic<int> rc{0};
  } ctx{c};
  const char *incr[] = {"INCR", "t:unsent"};
  const char *ping[] = {"PING"};
  ASSERT_EQ(jr_client_submit(
                c, 1, ping, nullptr, -1,
                [](void *ud, int, const jr_reply *) {
                  auto *x = static_cast<Ctx *>(ud);
                  const char *argv[] = {"INCR", "t:unsent"};
                  jr_reply *r = nullptr;
                  x->rc = jr_client_call(x->c, 2, argv, nullptr, -1, &r);
                  jr_reply_free(r);
                },
                &ctx, nullptr),
            JR_OK);
  EXPECT_TRUE(eventually([&] { return ctx.rc != 0; }));
  EXPECT_EQ(ctx.rc.load(), JR_EMISUSE);
  EXPECT_EQ(jr_err_unsent(ctx.rc.load()), 1);
  EXPECT_EQ(call(c, {"GET", "t:unsent"}).str(), "1");
  const char *keys[] = {"t:unsent"};
  jr_watch *w = nullptr;
  jr_multi *m = nullptr;
  ASSERT_EQ(jr_watch_new(c, -1, 1, keys, nullptr, &w), JR_OK);
  ASSERT_EQ(jr_watch_multi(w, &m), JR_OK);
  ASSERT_EQ(jr_multi_add(m, 2, incr, nullptr, Recorder::cb, rec.expect(2)), JR_OK);
  jr_watch_free(w);
  EXPECT_EQ(jr_multi_exec(m, -1, nullptr, nullptr), JR_EMISUSE);
  ASSERT_TRUE(rec.wait_all());
  EXPECT_EQ(rec.get(2).status, JR_EMISUSE);
  EXPECT_EQ(jr_err_unsent(rec.get(2).status), 1);
  EXPECT_EQ(call(c, {"GET", "t:unsent"}).str(), std::to_string(tries));
  // JR_ENOENT (jr_cancel of a finished command) and JR_ETLS (jr_client_new)
  // are no command's outcome: 0.
  jr_req_id id = 0;
  ASSERT_EQ(jr_client_submit(c, 2, incr, nullptr, -1, Recorder::cb, rec.expect(3), &id), JR_OK);
  ASSERT_TRUE(rec.wait_all());
  int rc = jr_cancel(c, id);
  EXPECT_EQ(rc, JR_ENOENT);
  EXPECT_EQ(jr_err_unsent(rc), 0);
  OptionsPtr bad;
  bad.set("endpoint", server_->endpoint()).set_int("tls", 1).set("tls_ca_file", "/nonexistent");
  jr_client *tc = nullptr;
  rc = jr_client_new(bad.o, &tc);
  EXPECT_EQ(rc, JR_ETLS);
  EXPECT_EQ(jr_err_unsent(rc), 0);
  OptionsPtr ob;
  rc = jr_options_set(ob.o, "no_such_key", "1");
  EXPECT_EQ(rc, JR_ENOENT);
  EXPECT_EQ(jr_err_unsent(rc), 0);
}

// max_queued_bytes bounds the memory the process sees: a large command's
// bytes are written from its own buffer, not copied again into the
// connection's output buffer (with 64 KiB values and a stalled server, the
// process reached twice the limit).
TEST(BackPressure, QueuedBytesBoundTheMemoryWhileTheServerStalls) {
  RedisServer s;
  s.pause();  // accepts the connection, reads nothing
  const int64_t limit = 32 << 20;
  OptionsPtr o;
  o.set("endpoint", s.endpoint())
      .set("cluster", "no")
      .set_int("max_queued_bytes", limit)
      .set_int("command_timeout_ms", 60000);
  ClientPtr c(o);
  // Just under 256 KiB encoded: each command's buffer is one 256 KiB block.
  std::string value(250000, 'v');
  Recorder rec;
  size_t before = rss_now();
  size_t accepted = 0;
  for (int i = 0; i < 1000; i++) {
    value[0] = static_cast<char>('a' + i % 26);
    int rc = submit(c, {"SET", "mem:" + std::to_string(i), value}, rec, static_cast<size_t>(i));
    if (rc == JR_EFULL) break;
    ASSERT_EQ(rc, JR_OK) << jr_err_name(rc);
    accepted++;
  }
  ASSERT_GT(accepted, 100u);
  ASSERT_LT(accepted, 1000u);
  // The loop thread writes what the socket takes and queues the rest.
  size_t peak = 0;
  for (int i = 0; i < 30; i++) {
    peak = std::max(peak, rss_now());
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  double growth_mib = (static_cast<double>(peak) - static_cast<double>(before)) / (1 << 20);
  // The commands' own bytes (the limit), plus a little (allocator, sanitizer
  // shadow); a second copy of what the socket did not take was far more.
  std::printf(
      "[ memory ] stalled server, max_queued_bytes 32 MiB, %zu commands of 250 kB: "
      "RSS +%.1f MiB\n",
      accepted, growth_mib);
  if (kRssMeaningful) {
    EXPECT_LT(growth_mib, 40.0) << "limit 32 MiB, " << accepted << " commands";
    EXPECT_GT(growth_mib, 16.0);  // the measure sees the commands at all
  }
  s.resume();
  ASSERT_TRUE(rec.wait_all(30000));
  for (size_t i = 0; i < accepted; i++) ASSERT_EQ(rec.get(i).status, JR_OK) << i;
  // The bytes that went out from the commands' own buffers are intact.
  for (size_t i : {size_t{0}, accepted / 2, accepted - 1}) {
    value[0] = static_cast<char>('a' + i % 26);
    EXPECT_EQ(call(c, {"GET", "mem:" + std::to_string(i)}).str(), value) << i;
  }
}

// ---- "The callback never runs inside the submitting call" ---------------------

namespace {

struct RuleTrigger {
  LockedCaller *lc;
  jr_client *client;
  std::string endpoint;
  std::atomic<bool> done{false};
  static void cb(void *ud, int, const jr_reply *) {
    auto *t = static_cast<RuleTrigger *>(ud);
    t->lc->lock();
    exercise_callback_apis(*t->lc, t->client, t->endpoint);
    t->lc->unlock();
    t->done.store(true);
  }
};

// Every call that takes a callback, made while the caller holds a lock its
// callbacks take: from inside a libjr callback (the loop thread, or the
// dispatching thread in poll mode) and from a thread of the application.
void check_callback_rule(jr_client *c, const std::string &endpoint, bool from_callback,
                         bool standalone) {
  LockedCaller lc;
  if (from_callback) {
    RuleTrigger t{&lc, c, endpoint};
    const char *argv[] = {"PING"};
    ASSERT_EQ(jr_client_submit(c, 1, argv, nullptr, -1, RuleTrigger::cb, &t, nullptr), JR_OK);
    ASSERT_TRUE(eventually([&] { return t.done.load(); }, 10000));
  } else {
    lc.lock();
    exercise_callback_apis(lc, c, endpoint);
    lc.unlock();
  }
  ASSERT_TRUE(eventually([&] { return lc.all_done(); }, 10000));
  EXPECT_EQ(lc.violations(), std::vector<std::string>{});
  EXPECT_EQ(lc.status_of("all masters"), standalone ? JR_ECLUSTER : JR_OK);
  EXPECT_EQ(lc.status_of("endpoints"), JR_OK);
  EXPECT_EQ(lc.status_of("multi discard"), JR_EDISCARDED);
  EXPECT_EQ(lc.status_of("orphaned multi exec"), JR_EMISUSE);
  EXPECT_EQ(lc.status_of("submit cross-slot"), standalone ? JR_OK : JR_ECROSSSLOT);
  int cancelled = lc.status_of("submit then cancel");
  EXPECT_TRUE(cancelled == JR_ECANCELED || cancelled == JR_EABANDONED || cancelled == JR_OK)
      << cancelled;
}

}  // namespace

TEST_F(ClientTest, CallbacksNeverRunInsideTheCallThatCausedThemLoopMode) {
  for (bool from_callback : {true, false}) {
    SCOPED_TRACE(from_callback ? "from a loop-mode callback" : "from an application thread");
    auto o = opts();
    ClientPtr c(o);
    check_callback_rule(c, server_->endpoint(), from_callback, true);
  }
}

TEST_F(ClientTest, CallbacksNeverRunInsideTheCallThatCausedThemPollMode) {
  for (bool from_callback : {true, false}) {
    SCOPED_TRACE(from_callback ? "from a dispatched callback" : "from an application thread");
    auto o = opts();
    o.set("dispatch", "poll");
    ClientPtr c(o);
    std::atomic<bool> stop{false};
    std::thread dispatcher([&] {
      struct pollfd p = {jr_client_fd(c), POLLIN, 0};
      while (!stop.load()) {
        if (poll(&p, 1, 20) > 0) jr_dispatch(c, 0);
      }
    });
    check_callback_rule(c, server_->endpoint(), from_callback, true);
    stop.store(true);
    dispatcher.join();
  }
}
