// SPDX-License-Identifier: MIT
// The socket-free session core (src/conn/session.hpp) driven byte by byte:
// no socket, no loop, a fake host that records what the session hands out.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "conn/session.hpp"
#include "fake_session_host.hpp"
#include "jr/jr.h"

namespace {

using jr::Command;
using jr::Session;
using jr::testing::FakeHost;

// A pipeline of six commands, and the replies the server sends them.
const char kStream[] =
    "+OK\r\n"
    "$3\r\nbar\r\n"
    ":42\r\n"
    "*3\r\n$1\r\na\r\n$-1\r\n:7\r\n"
    "-ERR wrong kind\r\n"
    "$0\r\n\r\n";
const std::vector<std::string> kExpected = {
    "c0 0 +OK", "c1 0 $bar", "c2 0 :42", "c3 0 [$a,nil,:7]", "c4 0 -ERR wrong kind", "c5 0 $",
};

void submit_pipeline(FakeHost &h) {
  ASSERT_TRUE(h.up());  // no handshake: ready at once
  h.submit({"SET", "foo", "bar"});
  h.submit({"GET", "foo"});
  h.submit({"INCR", "n"});
  h.submit({"LRANGE", "l", "0", "-1"});
  h.submit({"HGET", "foo", "x"});
  h.submit({"GET", "empty"});
  h.flush();
}

void expect_clean(const FakeHost &h) {
  for (const auto &c : h.cmds) EXPECT_EQ(c->holds.load(), 0) << h.name(c.get());
}

TEST(Session, PipelineWritesInOrder) {
  FakeHost h;
  submit_pipeline(h);
  EXPECT_EQ(h.written.substr(0, 31), "*3\r\n$3\r\nSET\r\n$3\r\nfoo\r\n$3\r\nbar\r\n");
  EXPECT_EQ(h.s.owed(), 6u);
  h.feed(kStream);
  EXPECT_EQ(h.events, kExpected);
  EXPECT_EQ(h.s.owed(), 0u);
  EXPECT_TRUE(h.s.idle());
  EXPECT_EQ(h.fails, 0);
  expect_clean(h);
}

TEST(Session, ByteByByte) {
  FakeHost h;
  submit_pipeline(h);
  std::string all = kStream;
  for (char ch : all) h.feed(std::string(1, ch));
  EXPECT_EQ(h.events, kExpected);
  EXPECT_EQ(h.fails, 0);
  expect_clean(h);
}

// Every split of the stream into two reads, and every pair of split points
// into three, gives the same completions in the same order.
TEST(Session, EverySplitGivesTheSameCompletions) {
  std::string all = kStream;
  for (size_t i = 0; i <= all.size(); i++) {
    FakeHost h;
    submit_pipeline(h);
    h.feed(all.substr(0, i));
    h.feed(all.substr(i));
    ASSERT_EQ(h.events, kExpected) << "split at " << i;
    ASSERT_EQ(h.fails, 0);
  }
  for (size_t i = 0; i <= all.size(); i++) {
    for (size_t j = i; j <= all.size(); j++) {
      FakeHost h;
      submit_pipeline(h);
      h.feed(all.substr(0, i));
      h.feed(all.substr(i, j - i));
      h.feed(all.substr(j));
      ASSERT_EQ(h.events, kExpected) << "splits at " << i << ", " << j;
    }
  }
}

TEST(Session, ReplyWithNoCommandOwedIsAProtocolError) {
  FakeHost h;
  ASSERT_TRUE(h.up());
  h.feed("+OK\r\n");
  EXPECT_EQ(h.fails, 1);
  EXPECT_EQ(h.last_fail, JR_EPROTO);
  EXPECT_EQ(h.last_detail, "reply with no command waiting for it");
}

TEST(Session, ReplyBeforeTheCommandWasWrittenIsAProtocolError) {
  FakeHost h;
  ASSERT_TRUE(h.up());
  Command *c = h.submit({"GET", "k"});  // queued, not flushed
  h.feed("$1\r\nv\r\n");
  EXPECT_EQ(h.last_fail, JR_EPROTO);
  EXPECT_EQ(h.last_detail, "reply before its command was written");
  // Never sent: it waits for the next connection, not completed.
  EXPECT_EQ(h.completions[c], 0);
  EXPECT_TRUE(h.s.has_waiting());
}

TEST(Session, MalformedStreamIsAProtocolError) {
  FakeHost h;
  ASSERT_TRUE(h.up());
  Command *a = h.submit({"GET", "a"});
  Command *b = h.submit({"GET", "b"});
  h.flush();
  h.feed("?what\r\n");
  EXPECT_EQ(h.last_fail, JR_EPROTO);
  // Both were written: the first gets the loss's code, the next ECONNLOST.
  EXPECT_EQ(h.events, (std::vector<std::string>{"c0 " + std::to_string(JR_EPROTO) + " -",
                                                "c1 " + std::to_string(JR_ECONNLOST) + " -"}));
  EXPECT_EQ(h.completions[a], 1);
  EXPECT_EQ(h.completions[b], 1);
  expect_clean(h);
}

TEST(Session, LateReplyOfAnAbandonedCommandIsDropped) {
  FakeHost h;
  ASSERT_TRUE(h.up());
  Command *slow = h.submit({"GET", "slow"}, 0, 100);
  Command *next = h.submit({"GET", "next"}, 0, 1000);
  h.flush();
  bool owed = false;
  bool abandon = false;
  EXPECT_EQ(h.s.expire(200, &owed, &abandon), 1000);
  EXPECT_TRUE(owed);
  EXPECT_FALSE(abandon);
  EXPECT_EQ(h.events, (std::vector<std::string>{"c0 " + std::to_string(JR_ETIMEDOUT) + " -"}));
  h.feed("$4\r\nlate\r\n$2\r\nok\r\n");
  EXPECT_EQ(h.completions[slow], 1);
  EXPECT_EQ(h.completions[next], 1);
  EXPECT_EQ(h.events.back(), "c1 0 $ok");
  EXPECT_EQ(h.fails, 0);
  EXPECT_EQ(h.s.owed(), 0u);
  expect_clean(h);
}

// The deadline is the tick's to judge (Session::on_tick): a reply read
// before the tick ran is delivered, even with the clock past the deadline
// (a loop thread that wakes late finds the reply and the timer due
// together, and libuv runs the read first). The command ran and the reply
// is valid: jr.h's contract (jr_client_submit).
TEST(Session, ReplyReadPastItsDeadlineBeforeTheTickIsDelivered) {
  FakeHost h;
  ASSERT_TRUE(h.up());
  Command *a = h.submit({"GET", "a"}, 0, 1100);
  h.flush();
  h.clock = 1500;  // past the deadline; the tick has not run
  h.feed("$1\r\nv\r\n");
  EXPECT_EQ(h.events, (std::vector<std::string>{"c0 0 $v"}));
  bool owed = false;
  bool abandon = false;
  EXPECT_EQ(h.s.expire(1500, &owed, &abandon), 0);
  EXPECT_FALSE(owed);
  EXPECT_EQ(h.completions[a], 1);
  expect_clean(h);
}

TEST(Session, ExpiredBlockingCommandAbandonsTheConnection) {
  FakeHost h;
  ASSERT_TRUE(h.up());
  h.submit({"BLPOP", "q", "0"}, 0, 100, jr::kFlagBlocking);
  h.flush();
  bool owed = false;
  bool abandon = false;
  h.s.expire(100, &owed, &abandon);
  EXPECT_TRUE(abandon);
}

TEST(Session, WaitingCommandsExpireUnsent) {
  FakeHost h;  // not connected
  Command *c = h.submit({"GET", "k"}, 0, 50);
  bool owed = false;
  bool abandon = false;
  EXPECT_EQ(h.s.expire(49, &owed, &abandon), 50);
  EXPECT_EQ(h.completions[c], 0);
  h.s.expire(50, &owed, &abandon);
  EXPECT_EQ(h.events, (std::vector<std::string>{"c0 " + std::to_string(JR_EQUEUETIMEOUT) + " -"}));
  EXPECT_TRUE(h.written.empty());
}

TEST(Session, SelectTracking) {
  FakeHost h;
  ASSERT_TRUE(h.up());
  h.submit({"GET", "a"}, 0);
  h.submit({"GET", "b"}, 3);  // first use of db 3: a probe, b and c held
  h.submit({"GET", "c"}, 3);
  h.submit({"GET", "d"}, 0);  // the server's db is unknown: SELECT 0 first
  h.flush();
  const std::string get_a = "*2\r\n$3\r\nGET\r\n$1\r\na\r\n";
  const std::string sel3 = "*2\r\n$6\r\nSELECT\r\n$1\r\n3\r\n";
  const std::string sel0 = "*2\r\n$6\r\nSELECT\r\n$1\r\n0\r\n";
  EXPECT_EQ(h.written, get_a + sel3 + sel0 + "*2\r\n$3\r\nGET\r\n$1\r\nd\r\n");
  h.written.clear();
  h.feed("$1\r\nA\r\n+OK\r\n");  // a, the probe: b and c are written now
  h.flush();
  EXPECT_EQ(h.written, sel3 + "*2\r\n$3\r\nGET\r\n$1\r\nb\r\n*2\r\n$3\r\nGET\r\n$1\r\nc\r\n");
  h.feed("+OK\r\n$1\r\nD\r\n+OK\r\n$1\r\nB\r\n$1\r\nC\r\n");
  EXPECT_EQ(h.events, (std::vector<std::string>{"c0 0 $A", "c3 0 $D", "c1 0 $B", "c2 0 $C"}));
  // db 3 is known now: no probe, one SELECT.
  h.written.clear();
  h.submit({"GET", "e"}, 0);
  h.submit({"GET", "f"}, 3);
  h.flush();
  EXPECT_EQ(h.written,
            sel0 + "*2\r\n$3\r\nGET\r\n$1\r\ne\r\n" + sel3 + "*2\r\n$3\r\nGET\r\n$1\r\nf\r\n");
  h.feed("+OK\r\n$1\r\nE\r\n+OK\r\n$1\r\nF\r\n");
  EXPECT_EQ(h.events.size(), 6u);
  EXPECT_EQ(h.fails, 0);
  expect_clean(h);
}

TEST(Session, RejectedDatabaseFailsItsCommandsWithTheServersError) {
  FakeHost h;
  ASSERT_TRUE(h.up());
  Command *a = h.submit({"GET", "a"}, 99);
  Command *b = h.submit({"GET", "b"}, 99);
  h.flush();
  h.feed("-ERR DB index is out of range\r\n");
  EXPECT_EQ(h.events, (std::vector<std::string>{"c0 0 -ERR DB index is out of range",
                                                "c1 0 -ERR DB index is out of range"}));
  EXPECT_EQ(h.completions[a] + h.completions[b], 2);
  EXPECT_EQ(h.fails, 0);
}

TEST(Session, FailedSelectOfAKnownDatabaseResetsTheConnection) {
  FakeHost h;
  ASSERT_TRUE(h.up());
  h.submit({"GET", "a"}, 2);
  h.flush();
  h.feed("+OK\r\n");  // the probe: a is written (SELECT 2, GET a)
  h.flush();
  h.feed("+OK\r\n$1\r\nA\r\n");
  h.submit({"GET", "b"}, 0);
  h.submit({"GET", "c"}, 2);
  h.flush();
  h.feed("+OK\r\n$1\r\nB\r\n-ERR gone\r\n");
  EXPECT_EQ(h.last_fail, JR_ECONNLOST);
  EXPECT_EQ(h.last_detail, "SELECT 2 failed: ERR gone");
  EXPECT_EQ(h.completions[h.cmds[2].get()], 1);  // may have run elsewhere: completed
}

TEST(Session, HandshakeThenWaitingCommands) {
  jr::Options o;
  o.password = "pw";
  o.client_name = "me";
  FakeHost h(o);
  Command *c = h.submit({"GET", "k"});  // waits for the handshake
  EXPECT_FALSE(h.up());
  h.flush();
  EXPECT_EQ(h.written,
            "*2\r\n$4\r\nAUTH\r\n$2\r\npw\r\n*3\r\n$6\r\nCLIENT\r\n$7\r\nSETNAME\r\n$2\r\nme\r\n");
  h.written.clear();
  h.feed("+OK\r\n");
  EXPECT_EQ(h.ready_calls, 0);
  h.feed("+OK\r\n");
  EXPECT_EQ(h.ready_calls, 1);
  EXPECT_EQ(h.s.phase(), Session::Phase::kReady);
  EXPECT_EQ(h.s.epoch(), 1u);
  h.flush();
  EXPECT_EQ(h.written, "*2\r\n$3\r\nGET\r\n$1\r\nk\r\n");
  h.feed("$1\r\nv\r\n");
  EXPECT_EQ(h.completions[c], 1);
}

TEST(Session, AuthErrorIsAHandshakeFailure) {
  jr::Options o;
  o.password = "bad";
  FakeHost h(o);
  Command *c = h.submit({"GET", "k"});
  EXPECT_FALSE(h.up());
  h.flush();
  h.feed("-WRONGPASS invalid username-password pair\r\n");
  EXPECT_EQ(h.fails, 1);
  EXPECT_EQ(h.last_detail, "WRONGPASS invalid username-password pair");
  EXPECT_EQ(h.events, (std::vector<std::string>{"c0 " + std::to_string(JR_EAUTH) +
                                                " -WRONGPASS invalid username-password pair"}));
  EXPECT_EQ(h.completions[c], 1);
  EXPECT_EQ(h.ready_calls, 0);
  EXPECT_EQ(h.s.phase(), Session::Phase::kDown);
}

// Sentinel: a master connection's handshake ends with ROLE; a server that
// is no master any more gets nothing written (the commands keep waiting).
TEST(Session, HandshakeRoleMustSayMaster) {
  jr::Options o;
  o.password = "pw";
  {
    FakeHost h(o);
    h.master_role = true;
    Command *c = h.submit({"SET", "k", "v"});
    EXPECT_FALSE(h.up());
    h.flush();
    EXPECT_EQ(h.written, "*2\r\n$4\r\nAUTH\r\n$2\r\npw\r\n*1\r\n$4\r\nROLE\r\n");
    h.written.clear();
    h.feed("+OK\r\n*5\r\n$5\r\nslave\r\n$9\r\n127.0.0.1\r\n:6379\r\n$9\r\nconnected\r\n:1\r\n");
    EXPECT_EQ(h.not_masters, 1);
    EXPECT_EQ(h.last_detail, "ROLE says slave, not master");
    EXPECT_EQ(h.ready_calls, 0);
    h.flush();
    EXPECT_EQ(h.written, "");  // the SET was not written
    EXPECT_EQ(h.completions[c], 0);
    EXPECT_TRUE(h.s.has_waiting());
    EXPECT_EQ(h.s.phase(), Session::Phase::kDown);
    // The next transport: a master this time.
    EXPECT_FALSE(h.up());
    h.flush();
    h.written.clear();
    h.feed("+OK\r\n*3\r\n$6\r\nmaster\r\n:0\r\n*0\r\n");
    EXPECT_EQ(h.ready_calls, 1);
    h.flush();
    EXPECT_EQ(h.written, "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n");
  }
  {
    FakeHost h;  // a malformed ROLE answer is no master either
    h.master_role = true;
    h.submit({"GET", "k"});
    EXPECT_FALSE(h.up());
    h.flush();
    h.feed("$6\r\nmaster\r\n");
    EXPECT_EQ(h.not_masters, 1);
    EXPECT_EQ(h.ready_calls, 0);
  }
  {
    FakeHost h;  // ROLE refused (ACL): a handshake failure with the server's words
    h.master_role = true;
    h.submit({"GET", "k"});
    EXPECT_FALSE(h.up());
    h.flush();
    h.feed("-NOPERM this user has no permissions to run the 'role' command\r\n");
    EXPECT_EQ(h.fails, 1);
    EXPECT_EQ(h.last_fail, JR_EAUTH);
    EXPECT_EQ(h.not_masters, 0);
  }
}

TEST(Session, TlsSessionIsProvenByAPing) {
  FakeHost h;
  h.tls = true;
  EXPECT_FALSE(h.up());
  h.flush();
  EXPECT_EQ(h.written, "*1\r\n$4\r\nPING\r\n");
  h.feed("-NOAUTH Authentication required.\r\n");  // any reply: accepted
  EXPECT_EQ(h.ready_calls, 1);
}

TEST(Session, MovedAndAskAreHandedUp) {
  FakeHost h;
  ASSERT_TRUE(h.up());
  h.submit({"GET", "a"});
  h.submit({"GET", "b"});
  h.submit({"GET", "c"});
  h.flush();
  h.feed("-MOVED 3999 127.0.0.1:6381\r\n-ASK 42 127.0.0.1:6382\r\n-ERR other\r\n");
  EXPECT_EQ(h.events,
            (std::vector<std::string>{"c0 redirect MOVED 3999 127.0.0.1:6381",
                                      "c1 redirect ASK 42 127.0.0.1:6382", "c2 0 -ERR other"}));
  expect_clean(h);
}

TEST(Session, AskingGoesBeforeTheCommandAndItsReplyIsSwallowed) {
  FakeHost h;
  ASSERT_TRUE(h.up());
  h.submit({"GET", "a"}, 0, 0, jr::kFlagAsking);
  h.flush();
  EXPECT_EQ(h.written, "*1\r\n$6\r\nASKING\r\n*2\r\n$3\r\nGET\r\n$1\r\na\r\n");
  h.feed("+OK\r\n$1\r\nA\r\n");
  EXPECT_EQ(h.events, (std::vector<std::string>{"c0 0 $A"}));
}

TEST(Session, LossCompletesWrittenAndRequeuesUnsent) {
  FakeHost h;
  ASSERT_TRUE(h.up());
  Command *a = h.submit({"GET", "a"});
  Command *b = h.submit({"GET", "b"});
  h.flush();
  Command *c = h.submit({"GET", "c"});  // not taken by the transport
  h.lost(JR_ETIMEDOUT);
  EXPECT_EQ(h.events, (std::vector<std::string>{"c0 " + std::to_string(JR_ETIMEDOUT) + " -",
                                                "c1 " + std::to_string(JR_ECONNLOST) + " -"}));
  EXPECT_EQ(h.completions[c], 0);
  EXPECT_EQ(c->state.load(), jr::CmdState::kPending);
  expect_clean(h);
  // The next session writes it.
  h.written.clear();
  ASSERT_TRUE(h.up());
  h.flush();
  EXPECT_EQ(h.written, "*2\r\n$3\r\nGET\r\n$1\r\nc\r\n");
  h.feed("$1\r\nC\r\n");
  EXPECT_EQ(h.completions[a] + h.completions[b] + h.completions[c], 3);
}

TEST(Session, LargeCommandsAreWrittenFromTheirOwnBuffer) {
  FakeHost h;
  ASSERT_TRUE(h.up());
  std::string big(Session::kRefMin, 'x');
  h.submit({"GET", "a"});
  Command *c = h.submit({"SET", "k", big});
  h.submit({"GET", "b"});
  ASSERT_EQ(h.s.refs().size(), 1u);
  EXPECT_EQ(c->holds.load(), 2);  // the FIFO's and the output's
  h.flush();
  EXPECT_NE(h.written.find(big), std::string::npos);
  h.feed("$1\r\nA\r\n+OK\r\n$1\r\nB\r\n");
  EXPECT_EQ(h.events.size(), 3u);
  expect_clean(h);
}

TEST(Session, PushModeHandsRepliesOut) {
  FakeHost h;
  h.s.set_push(true);
  ASSERT_TRUE(h.up());
  h.feed("*3\r\n$7\r\nmessage\r\n$2\r\nch\r\n$2\r\nhi\r\n");
  EXPECT_EQ(h.pushes, (std::vector<std::string>{"[$message,$ch,$hi]"}));
  EXPECT_EQ(h.fails, 0);
}

// ---- Liveness: the rules on the clock (Session::on_tick), with a fake clock ----

constexpr int64_t kMax = INT64_MAX;
const std::string kSilence = "nothing read for 1000 ms while replies are owed (silence_timeout_ms)";

// A ready session with these rules; the clock at 1000.
void live(FakeHost &h, int64_t silence, int64_t socket, int64_t answer) {
  h.s.set_liveness(Session::Liveness{silence, socket, answer});
  ASSERT_TRUE(h.up());
}

TEST(SessionLiveness, RulesComeFromTheOptions) {
  jr::Options o;
  o.silence_timeout_ms = 7;
  o.socket_timeout_ms = 0;
  o.connect_timeout_ms = 9;
  Session::Liveness l = Session::liveness_of(o);
  EXPECT_EQ(l.silence_ms, 7);
  EXPECT_EQ(l.socket_ms, 0);
  EXPECT_EQ(l.answer_ms, 9);  // no socket timeout: the connect timeout
  o.socket_timeout_ms = 5;
  EXPECT_EQ(Session::liveness_of(o).answer_ms, 5);
}

// Silent for the window, once the head command is past its deadline: the
// session is dropped; its commands fail, the first with JR_ETIMEDOUT. A
// head within a deadline longer than the window is waited for.
TEST(SessionLiveness, SilenceDropsOnceTheHeadIsPastItsDeadline) {
  FakeHost h;
  live(h, 1000, 0, 0);
  Command *a = h.submit({"EVAL", "slow", "0"}, 0, 5000);
  Command *b = h.submit({"GET", "b"});
  h.flush();
  h.clock = 2000;  // silent for the window, but a may still answer
  EXPECT_EQ(h.tick().next, 5000);
  EXPECT_TRUE(h.drops.empty());
  h.clock = 4999;
  EXPECT_EQ(h.tick().next, 5000);
  EXPECT_TRUE(h.drops.empty());
  h.clock = 5000;  // a times out: silent since 1000, dead now
  h.tick();
  EXPECT_EQ(h.drops, (std::vector<std::string>{kSilence}));
  EXPECT_EQ(h.completions[a], 1);
  EXPECT_EQ(h.completions[b], 1);
  EXPECT_EQ(h.events, (std::vector<std::string>{"c0 " + std::to_string(JR_ETIMEDOUT) + " -",
                                                "c1 " + std::to_string(JR_ECONNLOST) + " -"}));
  EXPECT_EQ(h.s.phase(), Session::Phase::kDown);
  expect_clean(h);
}

// Once the head is done (timed out), the window counts from the last read.
TEST(SessionLiveness, SilenceCountsFromTheLastRead) {
  FakeHost h;
  live(h, 1000, 0, 0);
  h.submit({"GET", "a"}, 0, 1010);
  Command *b = h.submit({"GET", "b"}, 0, 1010);
  h.flush();
  h.clock = 1500;
  h.feed("$2\r\nx");  // half a reply: heard at 1500
  h.clock = 1600;
  EXPECT_EQ(h.tick().next, 2500);  // both timed out; dead at 1500 + 1000
  EXPECT_TRUE(h.drops.empty());
  h.clock = 2499;
  EXPECT_EQ(h.tick().next, 2500);
  h.clock = 2500;
  h.tick();
  EXPECT_EQ(h.drops, (std::vector<std::string>{kSilence}));
  EXPECT_EQ(h.completions[b], 1);
  expect_clean(h);
}

// The window counts from when the session started to owe, not from an
// older read: an idle session's first command gets the full window.
TEST(SessionLiveness, SilenceCountsFromTheFirstReplyOwed) {
  FakeHost h;
  live(h, 1000, 0, 0);
  h.clock = 50000;  // idle since 1000
  h.submit({"GET", "a"}, 0, 50001);
  h.flush();
  h.clock = 50001;
  EXPECT_EQ(h.tick().next, 51000);
  EXPECT_TRUE(h.drops.empty());
  h.clock = 51000;
  h.tick();
  EXPECT_EQ(h.drops.size(), 1u);
}

// A head without a deadline (timeout_ms 0, a blocking command) holds the
// rule off, forever.
TEST(SessionLiveness, SilenceWaitsForAHeadWithoutADeadline) {
  FakeHost h;
  live(h, 1000, 0, 0);
  h.submit({"EVAL", "slow", "0"});
  h.flush();
  h.clock = kMax;
  EXPECT_EQ(h.tick().next, 0);
  EXPECT_TRUE(h.drops.empty());
}

TEST(SessionLiveness, SilenceZeroIsOff) {
  FakeHost h;
  live(h, 0, 0, 0);
  h.submit({"GET", "a"}, 0, 1001);
  h.flush();
  h.clock = kMax;
  EXPECT_EQ(h.tick().next, 0);
  EXPECT_TRUE(h.drops.empty());
  EXPECT_EQ(h.s.owed(), 1u);  // timed out, its late reply still owed
}

// A huge window saturates: the session is never judged dead, and the next
// tick is "never" (INT64_MAX), not a wrapped, negative time.
TEST(SessionLiveness, SilenceHugeSaturates) {
  FakeHost h;
  live(h, kMax, 0, 0);
  h.submit({"GET", "a"}, 0, 1001);
  h.flush();
  h.clock = kMax - 1;
  EXPECT_EQ(h.tick().next, kMax);
  h.clock = 2000;
  h.feed("$1\r");  // heard at 2000: 2000 + INT64_MAX saturates too
  EXPECT_EQ(h.tick().next, kMax);
  EXPECT_TRUE(h.drops.empty());
}

// socket_timeout_ms: owing a command's reply and reading nothing for that
// long drops the session, whatever the commands' deadlines.
TEST(SessionLiveness, SocketTimeoutDropsAfterNoRead) {
  FakeHost h;
  live(h, 0, 300, 300);
  Command *a = h.submit({"GET", "a"});
  EXPECT_EQ(h.ticks, (std::vector<int64_t>{1300}));  // asked at the first reply owed
  h.submit({"GET", "b"});
  EXPECT_EQ(h.ticks.size(), 1u);
  h.flush();
  h.clock = 1200;
  h.feed("$1\r\nA\r\n");  // a's reply: the window restarts
  EXPECT_EQ(h.completions[a], 1);
  h.clock = 1499;
  EXPECT_EQ(h.tick().next, 1500);
  EXPECT_TRUE(h.drops.empty());
  h.clock = 1500;
  h.tick();
  EXPECT_EQ(h.drops, (std::vector<std::string>{"no reply for socket_timeout_ms"}));
  EXPECT_EQ(h.events.back(), "c1 " + std::to_string(JR_ETIMEDOUT) + " -");
  expect_clean(h);
}

// Owing nothing (or only libjr's own entries), the socket timeout sleeps.
TEST(SessionLiveness, SocketTimeoutNeedsACommandOwed) {
  FakeHost h;
  live(h, 0, 300, 300);
  h.clock = 100000;
  EXPECT_EQ(h.tick().next, 0);
  EXPECT_TRUE(h.drops.empty());
}

TEST(SessionLiveness, SocketTimeoutZeroIsOffAndHugeSaturates) {
  {
    FakeHost h;
    live(h, 0, 0, 0);
    h.submit({"GET", "a"});
    h.flush();
    EXPECT_TRUE(h.ticks.empty());
    h.clock = kMax;
    EXPECT_EQ(h.tick().next, 0);
    EXPECT_TRUE(h.drops.empty());
  }
  FakeHost h;
  live(h, 0, kMax, kMax);
  h.clock = 5;
  h.submit({"GET", "a"});
  EXPECT_EQ(h.ticks, (std::vector<int64_t>{kMax}));
  h.clock = kMax - 1;
  EXPECT_EQ(h.tick().next, kMax);
  EXPECT_TRUE(h.drops.empty());
}

// Push mode: an answer the handler awaits (a subscribe confirmation, a
// pong) must come within the window of the request (or of the last read).
TEST(SessionLiveness, PushAnswerMustComeInTime) {
  FakeHost h;
  h.s.set_push(true);
  live(h, 0, 0, 200);
  h.clock = 5000;  // the last read (the handshake) is older than the window
  const char *argv[] = {"SUBSCRIBE", "ch"};
  const size_t lens[] = {9, 2};
  h.s.write_raw(2, argv, lens);
  EXPECT_EQ(h.ticks, (std::vector<int64_t>{5200}));  // counted from the request
  h.clock = 5100;
  h.s.write_raw(2, argv, lens);  // a second request: the window does not move
  EXPECT_EQ(h.ticks.back(), 5200);
  h.clock = 5199;
  EXPECT_EQ(h.tick(true).next, 5200);
  h.clock = 5200;
  EXPECT_EQ(h.tick(false).next, 0);  // nothing awaited: no rule
  EXPECT_TRUE(h.drops.empty());
  h.feed("*3\r\n$9\r\nsubscribe\r\n$2\r\nch\r\n:1\r\n");  // heard at 5200
  h.clock = 5399;
  EXPECT_EQ(h.tick(true).next, 5400);
  h.clock = 5400;
  h.tick(true);
  EXPECT_EQ(h.drops, (std::vector<std::string>{"no answer from the subscription connection"}));
}

TEST(SessionLiveness, PushAnswerZeroIsOffAndHugeSaturates) {
  for (int64_t window : {int64_t{0}, kMax}) {
    FakeHost h;
    h.s.set_push(true);
    live(h, 0, 0, window);
    const char *argv[] = {"PING"};
    const size_t lens[] = {4};
    h.s.write_raw(1, argv, lens);
    EXPECT_EQ(h.ticks, window == 0 ? std::vector<int64_t>{} : std::vector<int64_t>{kMax});
    h.clock = kMax - 1;
    EXPECT_EQ(h.tick(true).next, window == 0 ? 0 : kMax) << window;
    EXPECT_TRUE(h.drops.empty()) << window;
  }
}

// The rules judge a ready session only: waiting for a connection, the
// commands' own deadlines are all that counts.
TEST(SessionLiveness, RulesSleepWhileTheSessionIsDown) {
  FakeHost h;
  h.s.set_liveness(Session::Liveness{1, 1, 1});
  Command *c = h.submit({"GET", "a"}, 0, 3000);
  h.clock = 2999;
  EXPECT_EQ(h.tick(true).next, 3000);
  h.clock = 3000;
  h.tick(true);
  EXPECT_TRUE(h.drops.empty());
  EXPECT_EQ(h.events, (std::vector<std::string>{"c0 " + std::to_string(JR_EQUEUETIMEOUT) + " -"}));
  EXPECT_EQ(h.completions[c], 1);
}

// A blocking command past its deadline: the session is dropped (the server
// must not hand it an item nobody waits for).
TEST(SessionLiveness, ABlockingCommandGivenUpDropsTheSession) {
  FakeHost h;
  live(h, 0, 0, 0);
  Command *c = h.submit({"BLPOP", "q", "0"}, 0, 1100, jr::kFlagBlocking);
  Command *d = h.submit({"GET", "k"});
  h.flush();
  h.clock = 1100;
  EXPECT_EQ(h.tick().next, 0);
  EXPECT_EQ(h.drops, (std::vector<std::string>{"blocking command given up"}));
  EXPECT_EQ(h.completions[c], 1);
  EXPECT_EQ(h.completions[d], 1);  // JR_ECONNLOST
  EXPECT_EQ(h.events.back(), "c1 " + std::to_string(JR_ECONNLOST) + " -");
  expect_clean(h);
}

// ---- Extensions of a request: transactions and scripts ----

// MULTI ... EXEC is one command object: +OK, a +QUEUED per command, then
// the EXEC reply, which completes it once, whatever the splits.
TEST(SessionTx, TheExecReplyCompletesTheBlockOnce) {
  const std::string replies = "+OK\r\n+QUEUED\r\n+QUEUED\r\n*2\r\n:1\r\n$1\r\nx\r\n:7\r\n";
  for (size_t i = 0; i <= replies.size(); i++) {
    FakeHost h;
    ASSERT_TRUE(h.up());
    Command *c = h.submit_tx({{"INCR", "n"}, {"GET", "k"}});
    h.submit({"INCR", "after"});
    h.flush();
    ASSERT_EQ(h.written.rfind("*1\r\n$5\r\nMULTI\r\n", 0), 0u);
    h.feed(replies.substr(0, i));
    h.feed(replies.substr(i));
    ASSERT_EQ(h.events, (std::vector<std::string>{"c0 0 [:1,$x]", "c1 0 :7"})) << "split at " << i;
    EXPECT_EQ(h.completions[c], 1);
    EXPECT_EQ(h.fails, 0);
    expect_clean(h);
  }
}

TEST(SessionTx, ExecabortKeepsEachQueueError) {
  FakeHost h;
  ASSERT_TRUE(h.up());
  Command *c = h.submit_tx({{"SET", "k"}, {"GET", "k"}});
  h.flush();
  h.feed(
      "+OK\r\n-ERR wrong number of arguments\r\n+QUEUED\r\n-EXECABORT Transaction discarded\r\n");
  EXPECT_EQ(h.events, (std::vector<std::string>{"c0 0 -EXECABORT Transaction discarded"}));
  ASSERT_NE(c->tx->queue_errors[0], nullptr);  // tx_deliver gives it to the first callback
  EXPECT_EQ(jr::testing::describe(c->tx->queue_errors[0]), "-ERR wrong number of arguments");
  EXPECT_EQ(c->tx->queue_errors[1], nullptr);
  expect_clean(h);
}

TEST(SessionTx, NilExecAndMalformedQueueReplies) {
  {
    FakeHost h;
    ASSERT_TRUE(h.up());
    h.submit_tx({{"GET", "k"}}, true);
    h.flush();
    h.feed("+OK\r\n+QUEUED\r\n*-1\r\n");  // a watched key changed
    EXPECT_EQ(h.events, (std::vector<std::string>{"c0 0 nil"}));
  }
  FakeHost h;
  ASSERT_TRUE(h.up());
  h.submit_tx({{"GET", "k"}});
  h.flush();
  h.feed("+OK\r\n:1\r\n*1\r\n:1\r\n");  // not +QUEUED: the EXEC cannot be matched
  EXPECT_EQ(h.events,
            (std::vector<std::string>{
                "log protocol error: a transaction's MULTI or queued replies are malformed",
                "c0 " + std::to_string(JR_EPROTO) + " -"}));
  expect_clean(h);
}

// Unsent when the transport is lost: the block waits and is written whole
// again on the next session.
TEST(SessionTx, AnUnsentBlockIsWrittenAgainWhole) {
  FakeHost h;
  ASSERT_TRUE(h.up());
  Command *c = h.submit_tx({{"GET", "k"}});
  h.lost(JR_ECONNLOST);
  EXPECT_EQ(h.completions[c], 0);
  ASSERT_TRUE(h.up());
  h.flush();
  h.feed("+OK\r\n+QUEUED\r\n*1\r\n$1\r\nv\r\n");
  EXPECT_EQ(h.events, (std::vector<std::string>{"c0 0 [$v]"}));
  expect_clean(h);
}

// EVAL goes out as the EVAL on the script's first use on this server, as
// EVALSHA once the server has it; NOSCRIPT (SCRIPT FLUSH, a restart)
// re-sends the EVAL once, and the command completes once, with its reply.
TEST(SessionScripts, NoscriptResendsTheEvalOnce) {
  FakeHost h;
  ASSERT_TRUE(h.up());
  Command *a = h.submit_eval({"EVAL", "return 1", "0"});
  h.flush();
  EXPECT_NE(h.written.find("$4\r\nEVAL\r\n"), std::string::npos);
  EXPECT_TRUE(a->script->eval_sent);
  h.feed(":1\r\n");  // the server has the script now
  h.written.clear();
  Command *b = h.submit_eval({"EVAL", "return 1", "0"});
  h.flush();
  EXPECT_EQ(h.written.find("$7\r\nEVALSHA\r\n"), 4u);  // after *3
  EXPECT_FALSE(b->script->eval_sent);
  h.written.clear();
  h.feed("-NOSCRIPT No matching script. Please use EVAL.\r\n");
  EXPECT_EQ(h.resent, 1);
  EXPECT_EQ(h.completions[b], 0);
  h.flush();
  EXPECT_NE(h.written.find("$4\r\nEVAL\r\n"), std::string::npos);
  h.feed("-NOSCRIPT still\r\n");  // the EVAL's own error is its answer
  EXPECT_EQ(h.resent, 1);
  EXPECT_EQ(h.events, (std::vector<std::string>{"c0 0 :1", "c1 0 -NOSCRIPT still"}));
  expect_clean(h);
}

}  // namespace
