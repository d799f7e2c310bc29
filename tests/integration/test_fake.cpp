// Tests against a scripted fake server: what a real redis-server cannot do
// on demand (malformed replies, oversized replies, stalls, closing mid-reply).
#include <gtest/gtest.h>
#include <jr/jr.h>

#include <atomic>
#include <cctype>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <mutex>
#include <string>
#include <vector>

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

// A header over the limits fails its command at once, on the header alone
// (the server sends nothing after it), and the connection is replaced: the
// next command succeeds on a fresh one. A bulk length used to be looked at
// only once 64 KiB had been buffered: "$4611686018427387904\r\n" then silence
// hung the command until its deadline and the connection for good.
TEST(FakeServer, OversizedOrMalformedHeaderFailsAtOnceAndReplacesTheConnection) {
  struct Case {
    const char *header;
    int want;
    int64_t max_bulk_len;  // 0: the default
  };
  const Case cases[] = {
      {"$4611686018427387904\r\n", JR_ETOOBIG, 0},
      {"$9223372036854775807\r\n", JR_ETOOBIG, 0},
      {"$536870913\r\n", JR_ETOOBIG, 0},  // the default max_bulk_len + 1
      {"$2000000\r\n", JR_ETOOBIG, 1 << 20},
      {"*2\r\n$3\r\nfoo\r\n$4611686018427387904\r\n", JR_ETOOBIG, 0},
      {"*16777217\r\n", JR_ETOOBIG, 0},  // the default max_elements + 1
      {"*4294967297\r\n", JR_EPROTO, 0},
      {"$-2\r\n", JR_EPROTO, 0},
      {"*-2\r\n", JR_EPROTO, 0},
      {"%3\r\n", JR_EPROTO, 0},
      {"$1234567890123456789012", JR_EPROTO, 0},  // a length line that never ends
  };
  for (const Case &k : cases) {
    SCOPED_TRACE(k.header);
    std::atomic<FakeServer *> self{nullptr};
    std::atomic<bool> first_closed{false};
    FakeServer srv([&](int fd, int index) {
      FakeServer *s = self.load();
      while (s == nullptr) s = self.load();
      if (index == 0) {
        s->read_commands(fd, 1);
        FakeServer::send_all(fd, k.header);
        s->hold(fd);  // nothing more; returns when the client closes
        if (!s->stopping()) first_closed = true;
        return;
      }
      while (!s->stopping()) {
        if (s->read_commands(fd, 1).empty()) return;
        FakeServer::send_all(fd, "+PONG\r\n");
      }
    });
    self = &srv;
    auto o = fake_opts(srv);
    if (k.max_bulk_len != 0) o.set_int("max_bulk_len", k.max_bulk_len);
    ClientPtr c(o);
    auto t0 = std::chrono::steady_clock::now();
    Result r = call(c, {"GET", "k"});  // deadline: command_timeout_ms (3 s)
    auto ms =
        std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0)
            .count();
    EXPECT_EQ(r.status, k.want) << jr_err_name(r.status);
    EXPECT_EQ(jr_err_unsent(r.status), 0);
    EXPECT_LT(ms, 1000) << "the header alone must fail the command";
    EXPECT_TRUE(eventually([&] { return first_closed.load(); }, 2000)) << "the connection was kept";
    Result next = call(c, {"PING"}, 2000);
    EXPECT_EQ(next.status, JR_OK) << jr_err_name(next.status);
    EXPECT_EQ(next.str(), "PONG");
    EXPECT_EQ(srv.accepted(), 2);
  }
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

// ---- The cluster probe (CLUSTER SLOTS) held back by the server ----------------
//
// Until the probe is answered the loop holds every command. These servers
// answer it only when the test says so (or never), parse what they get and
// record each connection's command names.

namespace {

// Takes one complete RESP multi-bulk request off the front of buf.
bool take_command(std::string &buf, std::vector<std::string> &args) {
  args.clear();
  if (buf.empty() || buf[0] != '*') return false;
  size_t e = buf.find("\r\n");
  if (e == std::string::npos) return false;
  int argc = std::atoi(buf.c_str() + 1);
  size_t p = e + 2;
  for (int i = 0; i < argc; i++) {
    if (p >= buf.size() || buf[p] != '$') return false;
    e = buf.find("\r\n", p);
    if (e == std::string::npos) return false;
    size_t len = static_cast<size_t>(std::atol(buf.c_str() + p + 1));
    if (e + 2 + len + 2 > buf.size()) return false;
    args.emplace_back(buf, e + 2, len);
    p = e + 2 + len + 2;
  }
  buf.erase(0, p);
  return true;
}

class ProbeServer {
 public:
  // cluster: answer the probe with a one-node slot map (itself), then hold
  // the COMMAND table until answer_table(); else "cluster support disabled".
  explicit ProbeServer(bool cluster = false)
      : cluster_(cluster), srv_([this](int fd, int index) { serve(fd, index); }) {
    ready_ = true;
  }
  [[nodiscard]] std::string endpoint() const { return srv_.endpoint(); }
  void answer_probe() { answer_ = true; }
  void answer_table() { answer_table_ = true; }
  [[nodiscard]] bool table_asked() {
    std::lock_guard<std::mutex> lk(mu_);
    for (auto &kv : seen_)
      for (auto &n : kv.second)
        if (n == "COMMAND") return true;
    return false;
  }
  // The values of SET k <value>, in the order they reached the server.
  std::vector<std::string> sets() {
    std::lock_guard<std::mutex> lk(mu_);
    return sets_;
  }
  // The command names connection `index` has received so far.
  std::vector<std::string> commands(int index) {
    std::lock_guard<std::mutex> lk(mu_);
    return seen_[index];
  }
  bool probe_seen() {
    auto c = commands(0);
    return !c.empty() && c[0] == "CLUSTER";
  }

 private:
  void serve(int fd, int index) {
    while (!ready_) std::this_thread::yield();
    std::string buf;
    std::vector<std::string> args;
    while (!srv_.stopping()) {
      while (take_command(buf, args)) {
        std::string name = args.empty() ? "" : args[0];
        for (char &ch : name) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
        {
          std::lock_guard<std::mutex> lk(mu_);
          seen_[index].push_back(name);
          if (name == "SET" && args.size() == 3) sets_.push_back(args[2]);
        }
        if (name == "CLUSTER") {
          while (!answer_ && !srv_.stopping())
            std::this_thread::sleep_for(std::chrono::milliseconds(2));
          if (!answer_) return;
          if (cluster_) {
            std::string port = std::to_string(srv_.port());
            FakeServer::send_all(
                fd, "*1\r\n*3\r\n:0\r\n:16383\r\n*2\r\n$9\r\n127.0.0.1\r\n:" + port + "\r\n");
          } else {
            FakeServer::send_all(fd, "-ERR This instance has cluster support disabled\r\n");
          }
        } else if (name == "COMMAND") {
          while (!answer_table_ && !srv_.stopping())
            std::this_thread::sleep_for(std::chrono::milliseconds(2));
          if (!answer_table_) return;
          // SET: arity -3, first key 1, last 1, step 1.
          FakeServer::send_all(fd,
                               "*1\r\n*6\r\n$3\r\nset\r\n:-3\r\n*1\r\n+write\r\n"
                               ":1\r\n:1\r\n:1\r\n");
        } else {
          FakeServer::send_all(fd, name == "PING" ? "+PONG\r\n" : "+OK\r\n");
        }
      }
      pollfd p{fd, POLLIN, 0};
      if (poll(&p, 1, 20) <= 0) continue;
      char b[4096];
      ssize_t r = read(fd, b, sizeof b);
      if (r <= 0) return;
      buf.append(b, static_cast<size_t>(r));
    }
  }

  bool cluster_;
  std::atomic<bool> ready_{false};
  std::atomic<bool> answer_{false};
  std::atomic<bool> answer_table_{false};
  std::mutex mu_;
  std::map<int, std::vector<std::string>> seen_;
  std::vector<std::string> sets_;
  FakeServer srv_;  // last: its threads use the members above
};

OptionsPtr probe_opts(const ProbeServer &s, const char *dispatch = "loop") {
  OptionsPtr o;  // cluster=auto (the default): the first command sends the probe
  o.set("endpoint", s.endpoint())
      .set("dispatch", dispatch)
      .set_int("connect_retry", 0)
      .set_int("command_timeout_ms", 3000);
  return o;
}

// jr_client_free on another thread; a client that never finishes freeing
// ends the test binary at once instead of hanging it until the meson timeout.
void free_or_abort(jr_client *c) {
  std::atomic<bool> done{false};
  std::thread t([&] {
    jr_client_free(c);
    done = true;
  });
  if (!eventually([&] { return done.load(); }, 10000)) {
    std::fprintf(stderr, "jr_client_free did not return within 10 s\n");
    std::abort();
  }
  t.join();
}

}  // namespace

// A jr_watch freed while its WATCH is still held behind the unanswered probe:
// the release must wait behind that WATCH (it used to free the lease the held
// WATCH still pointed to, and routing the WATCH once the probe was answered
// read freed memory: the Go suite's silent SIGSEGV on the loop thread).
TEST(ClusterProbe, WatchFreedWhileItsWatchIsHeldIsReleasedAfterIt) {
  ProbeServer srv;
  auto o = probe_opts(srv);
  ClientPtr c(o);
  const char *keys[] = {"k"};
  jr_watch *w = nullptr;
  ASSERT_EQ(jr_watch_new(c, -1, 1, keys, nullptr, &w), JR_OK);
  jr_watch_free(w);
  ASSERT_TRUE(eventually([&] { return srv.probe_seen(); }));
  // Let the loop take the release while the probe is still unanswered.
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  srv.answer_probe();
  EXPECT_EQ(call(c, {"PING"}).str(), "PONG");
  // The WATCH ran on a pooled connection, then the release's UNWATCH.
  EXPECT_TRUE(eventually([&] {
    return srv.commands(1) == std::vector<std::string>{"WATCH", "UNWATCH"};
  }));
  auto seen = srv.commands(1);
  for (auto &n : seen) std::printf("[ probe ] pooled connection got %s\n", n.c_str());
}

// Freeing the client while the probe is written and unanswered: every held
// command completes once with JR_ECLOSED (it was never sent), in both
// dispatch modes; a held jr_client_endpoints used to make the loop re-send the
// probe forever inside jr_client_free (it never returned), and a held WATCH
// whose jr_watch was freed read its freed lease.
TEST(ClusterProbe, FreeingTheClientEndsEveryHeldCommand) {
  for (const char *dispatch : {"loop", "poll"}) {
    SCOPED_TRACE(dispatch);
    ProbeServer srv;  // never answers the probe
    auto o = probe_opts(srv, dispatch);
    jr_client *c = nullptr;
    ASSERT_EQ(jr_client_new(o.o, &c), JR_OK);
    Recorder rec;
    ASSERT_EQ(submit(c, {"GET", "k"}, rec, 0), JR_OK);
    ASSERT_EQ(jr_client_endpoints(c, Recorder::cb, rec.expect(1)), JR_OK);
    const char *keys[] = {"k"};
    jr_watch *freed = nullptr, *open = nullptr;
    ASSERT_EQ(jr_watch_new(c, -1, 1, keys, nullptr, &freed), JR_OK);
    ASSERT_EQ(jr_watch_new(c, -1, 1, keys, nullptr, &open), JR_OK);
    ASSERT_EQ(jr_watch_submit(open, 2, std::vector<const char *>{"GET", "k"}.data(), nullptr, -1,
                              Recorder::cb, rec.expect(2)),
              JR_OK);
    jr_watch_free(freed);
    // A held call to a chosen node (its address must not leak: LeakSanitizer).
    const char *ping[] = {"PING"};
    ASSERT_EQ(jr_client_submit_to(c, srv.endpoint().c_str(), 1, ping, nullptr, -1, Recorder::cb,
                                  rec.expect(3)),
              JR_OK);
    ASSERT_TRUE(eventually([&] { return srv.probe_seen(); }));
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    free_or_abort(c);  // `open` is released with the client
    EXPECT_EQ(rec.done(), 4u);
    EXPECT_EQ(rec.duplicates(), 0u);
    for (size_t i = 0; i < 4; i++) EXPECT_EQ(rec.get(i).status, JR_ECLOSED) << i;
    EXPECT_EQ(srv.commands(0), std::vector<std::string>{"CLUSTER"});
  }
}

// Commands submitted while the COMMAND table is still being read (the slot
// map already is) queue behind the ones held since the probe: they used to
// be routed at once and reached the server first.
TEST(ClusterProbe, CommandsSubmittedWhileTheTableIsReadKeepTheirOrder) {
  ProbeServer srv(true);
  auto o = probe_opts(srv);
  ClientPtr c(o);
  Recorder rec;
  ASSERT_EQ(submit(c, {"SET", "k", "first"}, rec, 0), JR_OK);
  ASSERT_TRUE(eventually([&] { return srv.probe_seen(); }));
  srv.answer_probe();
  ASSERT_TRUE(eventually([&] { return srv.table_asked(); }));
  ASSERT_EQ(submit(c, {"SET", "k", "second"}, rec, 1), JR_OK);
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  srv.answer_table();
  ASSERT_TRUE(rec.wait_all());
  EXPECT_EQ(rec.get(0).status, JR_OK);
  EXPECT_EQ(rec.get(1).status, JR_OK);
  EXPECT_EQ(srv.sets(), (std::vector<std::string>{"first", "second"}));
}
