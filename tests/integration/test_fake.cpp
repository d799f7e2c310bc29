// Tests against a scripted fake server: what a real redis-server cannot do
// on demand (malformed replies, oversized replies, stalls, closing mid-reply).
#include <gtest/gtest.h>
#include <jr/jr.h>

#include <atomic>
#include <string>

#include "fake_server.hpp"
#include "jr_test.hpp"

using namespace jrtest;

namespace {
OptionsPtr fake_opts(const FakeServer &s) {
  OptionsPtr o;
  // A scripted server answers only what each test scripts: no cluster probe.
  o.set("endpoint", s.endpoint())
      .set("cluster", "no")
      .set_int("connect_retry", 0)
      .set_int("command_timeout_ms", 3000);
  return o;
}
}  // namespace

TEST(FakeServer, GarbageReplyIsAProtocolErrorAndTheNextConnectionWorks) {
  std::atomic<FakeServer *> self{nullptr};
  FakeServer srv([&](int fd, int index) {
    FakeServer *s = self.load();
    while (s == nullptr) s = self.load();
    s->read_commands(fd, index == 0 ? 2 : 1);
    if (index == 0) {
      FakeServer::send_all(fd, "+OK\r\n!garbage\r\n");
      s->hold(fd);
    } else {
      FakeServer::send_all(fd, "+PONG\r\n");
      s->hold(fd);
    }
  });
  self = &srv;
  auto o = fake_opts(srv);
  ClientPtr c(o);
  Recorder rec;
  ASSERT_EQ(submit(c, {"SET", "a", "1"}, rec, 0), JR_OK);
  ASSERT_EQ(submit(c, {"GET", "a"}, rec, 1), JR_OK);
  ASSERT_TRUE(rec.wait_all());
  EXPECT_EQ(rec.get(0).status, JR_OK);
  EXPECT_EQ(rec.get(1).status, JR_EPROTO);
  // A fresh connection is made for the next command.
  Result r = call(c, {"PING"});
  EXPECT_EQ(r.str(), "PONG");
  EXPECT_EQ(srv.accepted(), 2);
}

TEST(FakeServer, OversizedBulkIsRejectedEarly) {
  std::atomic<FakeServer *> self{nullptr};
  FakeServer srv([&](int fd, int) {
    FakeServer *s = self.load();
    while (s == nullptr) s = self.load();
    s->read_commands(fd, 1);
    // Announce 100 GB and start streaming: the client must give up early.
    FakeServer::send_all(fd, "$100000000000\r\n");
    std::string chunk(65536, 'z');
    for (int i = 0; i < 64 && !s->stopping(); i++) FakeServer::send_all(fd, chunk);
    s->hold(fd);
  });
  self = &srv;
  auto o = fake_opts(srv);
  o.set_int("max_bulk_len", 1 << 20);
  ClientPtr c(o);
  Result r = call(c, {"GET", "huge"});
  EXPECT_EQ(r.status, JR_ETOOBIG);
  EXPECT_EQ(jr_err_unsent(r.status), 0);
}

TEST(FakeServer, CloseMidReplyLosesOnlyWhatWasInFlight) {
  std::atomic<FakeServer *> self{nullptr};
  FakeServer srv([&](int fd, int) {
    FakeServer *s = self.load();
    while (s == nullptr) s = self.load();
    s->read_commands(fd, 3);
    FakeServer::send_all(fd, "+OK\r\n$10\r\nhal");  // then close
  });
  self = &srv;
  auto o = fake_opts(srv);
  ClientPtr c(o);
  Recorder rec;
  for (int i = 0; i < 3; i++) ASSERT_EQ(submit(c, {"GET", "k"}, rec, i), JR_OK);
  ASSERT_TRUE(rec.wait_all());
  EXPECT_EQ(rec.get(0).status, JR_OK);
  EXPECT_EQ(rec.get(1).status, JR_ECONNLOST);
  EXPECT_EQ(rec.get(2).status, JR_ECONNLOST);
  EXPECT_EQ(rec.duplicates(), 0u);
}

TEST(FakeServer, StalledServerTimesOutAndSocketTimeoutReplacesTheConnection) {
  std::atomic<FakeServer *> self{nullptr};
  FakeServer srv([&](int fd, int index) {
    FakeServer *s = self.load();
    while (s == nullptr) s = self.load();
    if (index == 0) {
      s->hold(fd);  // never answers
      return;
    }
    while (!s->stopping()) {
      std::string in = s->read_commands(fd, 1);
      if (in.empty()) return;
      FakeServer::send_all(fd, "+PONG\r\n");
    }
  });
  self = &srv;
  auto o = fake_opts(srv);
  o.set_int("socket_timeout_ms", 300);
  ClientPtr c(o);
  auto t0 = std::chrono::steady_clock::now();
  Result r = call(c, {"PING"}, 5000);
  auto ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0)
          .count();
  EXPECT_EQ(r.status, JR_ETIMEDOUT);
  EXPECT_GE(ms, 250);
  EXPECT_LT(ms, 2000);
  EXPECT_EQ(call(c, {"PING"}).str(), "PONG");
  EXPECT_EQ(srv.accepted(), 2);
}

TEST(FakeServer, UnsolicitedReplyIsAProtocolError) {
  std::atomic<FakeServer *> self{nullptr};
  FakeServer srv([&](int fd, int index) {
    FakeServer *s = self.load();
    while (s == nullptr) s = self.load();
    s->read_commands(fd, 1);
    FakeServer::send_all(fd, index == 0 ? "+one\r\n+two\r\n" : "+fine\r\n");
    s->hold(fd);
  });
  self = &srv;
  auto o = fake_opts(srv);
  ClientPtr c(o);
  Result r = call(c, {"PING"});
  EXPECT_EQ(r.status, JR_OK);
  EXPECT_EQ(r.str(), "one");
  // The extra reply desynchronises the stream: the connection is replaced.
  EXPECT_TRUE(eventually([&] { return call(c, {"PING"}).str() == "fine"; }));
}
