// SPDX-License-Identifier: MIT
// Tests against a scripted fake server: what a real redis-server cannot do
// on demand (malformed replies, oversized replies, stalls, closing mid-reply).
#include <gtest/gtest.h>
#include <jr/jr.h>

#include <atomic>
#include <cctype>
#include <chrono>
#include <condition_variable>
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

// Control tasks (src/loop/task.hpp) posted just before jr_client_free: some
// are still in the inbox when the loop stops, some were taken (or are held
// behind the unanswered probe). Either way a control task takes effect and
// is freed (LeakSanitizer), and a task carrying a request completes it once.
TEST(ClusterProbe, FreeingTheClientRightAfterControlTasksEndsEachOnce) {
  for (const char *dispatch : {"loop", "poll"}) {
    SCOPED_TRACE(dispatch);
    for (int round = 0; round < 10; round++) {
      ProbeServer srv;  // never answers the probe
      auto o = probe_opts(srv, dispatch);
      jr_client *c = nullptr;
      ASSERT_EQ(jr_client_new(o.o, &c), JR_OK);
      Recorder rec;
      ASSERT_EQ(jr_client_endpoints(c, Recorder::cb, rec.expect(0)), JR_OK);  // ClusterCall
      ASSERT_EQ(jr_client_set_auth(c, "u", "p"), JR_OK);                      // SetAuth
      jr_multi *m = nullptr;
      ASSERT_EQ(jr_multi_new(c, -1, &m), JR_OK);
      const char *set[] = {"SET", "k", "v"};
      ASSERT_EQ(jr_multi_add(m, 3, set, nullptr, Recorder::cb, rec.expect(1)), JR_OK);
      jr_multi_discard(m);  // TxFail
      const char *keys[] = {"k"};
      jr_watch *w = nullptr;
      ASSERT_EQ(jr_watch_new(c, -1, 1, keys, nullptr, &w), JR_OK);
      jr_watch_free(w);  // WatchRelease
      jr_sub *sub = nullptr;
      ASSERT_EQ(jr_sub_new(
                    c, [](void *, int, const jr_reply *) {}, nullptr, &sub),
                JR_OK);
      const char *ch[] = {"ch"};
      ASSERT_EQ(jr_sub_subscribe(sub, JR_SUB_CHANNELS, 1, ch, nullptr), JR_OK);  // Request
      if (round % 2 == 1) jr_sub_free(sub);
      free_or_abort(c);
      EXPECT_EQ(rec.done(), 2u);
      EXPECT_EQ(rec.duplicates(), 0u);
      EXPECT_EQ(rec.get(0).status, JR_ECLOSED);
      EXPECT_EQ(rec.get(1).status, JR_EDISCARDED);
    }
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

// ---- Hostile interpretations (issue 11, item 1) ---------------------------------
//
// A server whose replies have the right RESP syntax but the wrong shape or
// range for what libjr reads out of them: CLUSTER SLOTS, MOVED / ASK,
// CLUSTER NODES, pub/sub and MONITOR messages, a transaction's replies. Each
// must fail that refresh or that command (JR_EPROTO, an event), never crash.

namespace {

std::string B(const std::string &s) {
  return "$" + std::to_string(s.size()) + "\r\n" + s + "\r\n";
}
std::string A(size_t n) {
  return "*" + std::to_string(n) + "\r\n";
}
std::string I(int64_t v) {
  return ":" + std::to_string(v) + "\r\n";
}

// Answers each request with what `script` returns for it (args[0] upper
// case; "" sends nothing). `index`: the connection's accept order.
class ScriptServer {
 public:
  using Script = std::function<std::string(const std::vector<std::string> &args, int index)>;
  explicit ScriptServer(Script script)
      : script_(std::move(script)), srv_([this](int fd, int index) { serve(fd, index); }) {
    ready_ = true;
  }
  [[nodiscard]] std::string endpoint() const { return srv_.endpoint(); }
  [[nodiscard]] int port() const { return srv_.port(); }
  [[nodiscard]] int count(const std::string &name) {
    std::lock_guard<std::mutex> lk(mu_);
    int n = 0;
    for (auto &s : seen_) n += s == name;
    return n;
  }

 private:
  void serve(int fd, int index) {
    while (!ready_) std::this_thread::yield();
    std::string buf;
    std::vector<std::string> args;
    while (!srv_.stopping()) {
      while (take_command(buf, args)) {
        if (args.empty()) continue;
        for (char &ch : args[0])
          ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
        {
          std::lock_guard<std::mutex> lk(mu_);
          seen_.push_back(args[0]);
        }
        FakeServer::send_all(fd, script_(args, index));
      }
      pollfd p{fd, POLLIN, 0};
      if (poll(&p, 1, 20) <= 0) continue;
      char b[4096];
      ssize_t r = read(fd, b, sizeof b);
      if (r <= 0) return;
      buf.append(b, static_cast<size_t>(r));
    }
  }

  Script script_;
  std::atomic<bool> ready_{false};
  std::mutex mu_;
  std::vector<std::string> seen_;
  FakeServer srv_;  // last: its threads use the members above
};

// The event callback's log lines.
struct Events {
  std::mutex mu;
  std::vector<std::string> lines;
  static void cb(void *ctx, int event, const char *endpoint, const char *detail) {
    auto *self = static_cast<Events *>(ctx);
    std::lock_guard<std::mutex> lk(self->mu);
    self->lines.push_back(std::to_string(event) + " " + (endpoint ? endpoint : "") + " " +
                          (detail ? detail : ""));
  }
  bool has(const std::string &needle) {
    std::lock_guard<std::mutex> lk(mu);
    for (auto &l : lines)
      if (l.find(needle) != std::string::npos) return true;
    return false;
  }
};

// The COMMAND table of a one-node cluster: GET and SET, key at 1.
const std::string kTable = A(2) + A(6) + B("get") + I(2) + A(1) + "+readonly\r\n" + I(1) + I(1) +
                           I(1) + A(6) + B("set") + I(-3) + A(1) + "+write\r\n" + I(1) + I(1) +
                           I(1);

// A one-node cluster map: every slot on 127.0.0.1:port.
std::string own_map(int port) {
  return A(1) + A(3) + I(0) + I(16383) + A(2) + B("127.0.0.1") + I(port);
}

OptionsPtr hostile_opts(const ScriptServer &s, Events &ev) {
  OptionsPtr o;  // cluster=auto, the default
  o.set("endpoint", s.endpoint()).set_int("connect_retry", 0).set_int("command_timeout_ms", 3000);
  EXPECT_EQ(jr_options_set_event_cb(o.o, Events::cb, &ev), JR_OK);
  return o;
}

struct SlotsCase {
  const char *name;
  std::function<std::string(int port)> reply;
};

class HostileSlots : public ::testing::TestWithParam<SlotsCase> {};

}  // namespace

// The first CLUSTER SLOTS answer is malformed: detection fails (an event
// says why), the command goes to the seed node and gets its reply. The old
// code dereferenced NULL on a replica entry that is an integer or a short
// array, and wrote outside the slot table on a negative start slot.
TEST_P(HostileSlots, FirstAnswerIsAFailedDetectionNotACrash) {
  const SlotsCase &k = GetParam();
  std::atomic<int> port{0};
  ScriptServer srv([&](const std::vector<std::string> &a, int) -> std::string {
    if (a[0] == "CLUSTER") return k.reply(port);
    if (a[0] == "COMMAND") return kTable;
    if (a[0] == "GET") return B("v");
    return "+OK\r\n";
  });
  port = srv.port();
  Events ev;
  auto o = hostile_opts(srv, ev);
  ClientPtr c(o);
  for (int i = 0; i < 3; i++) {
    Result r = call(c, {"GET", "k"});
    ASSERT_EQ(r.status, JR_OK) << k.name;
    EXPECT_EQ(r.str(), "v");
  }
  EXPECT_TRUE(ev.has("topology refresh failed (protocol error)")) << k.name;
}

INSTANTIATE_TEST_SUITE_P(
    Cases, HostileSlots,
    ::testing::Values(
        SlotsCase{"ReplicaIsAnInteger",
                  [](int p) {
                    return A(1) + A(4) + I(0) + I(16383) + A(2) + B("127.0.0.1") + I(p) + I(5);
                  }},
        SlotsCase{"ReplicaIsAShortArray",
                  [](int p) {
                    return A(1) + A(4) + I(0) + I(16383) + A(2) + B("127.0.0.1") + I(p) + A(1) +
                           B("127.0.0.1");
                  }},
        SlotsCase{"NegativeStartSlot",
                  [](int p) {
                    return A(1) + A(3) + I(-100000000) + I(16383) + A(2) + B("127.0.0.1") + I(p);
                  }},
        SlotsCase{
            "EndSlotPast16383",
            [](int p) { return A(1) + A(3) + I(0) + I(100000) + A(2) + B("127.0.0.1") + I(p); }},
        SlotsCase{
            "SlotIsAString",
            [](int p) { return A(1) + A(3) + B("0") + I(16383) + A(2) + B("127.0.0.1") + I(p); }},
        SlotsCase{"MasterIsAnInteger", [](int) { return A(1) + A(3) + I(0) + I(16383) + I(7); }},
        SlotsCase{
            "PortOutOfRange",
            [](int) { return A(1) + A(3) + I(0) + I(16383) + A(2) + B("127.0.0.1") + I(70000); }},
        SlotsCase{"HostIsAPath",
                  [](int p) {
                    return A(1) + A(3) + I(0) + I(16383) + A(2) + B("/tmp/jr-hostile") + I(p);
                  }},
        SlotsCase{"RangeIsAnInteger", [](int) { return A(1) + I(1); }},
        SlotsCase{"NotAnArray", [](int) { return I(1); }}),
    [](const ::testing::TestParamInfo<SlotsCase> &info) { return std::string(info.param.name); });

// A refresh (here after a MOVED) answered with a malformed map keeps the map
// it had: commands keep working, an event says why.
TEST(HostileTopology, MalformedRefreshKeepsTheMap) {
  std::atomic<int> slots_asked{0}, gets{0};
  std::atomic<int> port{0};
  ScriptServer srv([&](const std::vector<std::string> &a, int) -> std::string {
    if (a[0] == "CLUSTER") {
      if (slots_asked++ == 0) return own_map(port);
      // A replica entry that is an integer (the old code crashed).
      return A(1) + A(4) + I(0) + I(16383) + A(2) + B("127.0.0.1") + I(port) + I(5);
    }
    if (a[0] == "COMMAND") return kTable;
    if (a[0] == "GET") {
      // The first GET is MOVED to this same node: a refresh follows.
      if (gets++ == 0) return "-MOVED 6918 127.0.0.1:" + std::to_string(port.load()) + "\r\n";
      return B("v");
    }
    return "+OK\r\n";
  });
  port = srv.port();
  Events ev;
  auto o = hostile_opts(srv, ev);
  ClientPtr c(o);
  Result r = call(c, {"GET", "k"});
  ASSERT_EQ(r.status, JR_OK);
  EXPECT_EQ(r.str(), "v");
  ASSERT_TRUE(eventually([&] { return ev.has("topology refresh failed (protocol error)"); }));
  for (int i = 0; i < 5; i++) {
    Result again = call(c, {"GET", "k" + std::to_string(i)});
    ASSERT_EQ(again.status, JR_OK);
    EXPECT_EQ(again.str(), "v");
  }
  EXPECT_GE(slots_asked.load(), 2);
}

// MOVED / ASK with a slot out of range, a port out of range, a path for an
// address or no address: the command fails with JR_EPROTO (the old code
// followed some of them, to a unix socket path or back to the same node 16
// times, and returned others as the server's reply).
TEST(HostileTopology, MalformedRedirectionIsAProtocolError) {
  for (const char *text : {"MOVED 99999 127.0.0.1:%d", "MOVED -1 127.0.0.1:%d",
                           "ASK 1 127.0.0.1:70000", "MOVED 1 /tmp/jr-hostile:%d", "MOVED 1",
                           "MOVED x 127.0.0.1:%d", "ASK 1 127.0.0.1", "MOVED 1 127.0.0.1:0"}) {
    SCOPED_TRACE(text);
    std::atomic<int> port{0};
    ScriptServer srv([&](const std::vector<std::string> &a, int) -> std::string {
      if (a[0] == "CLUSTER") return own_map(port);
      if (a[0] == "COMMAND") return kTable;
      if (a[0] == "GET") {
        char buf[128];
        std::snprintf(buf, sizeof buf, text, port.load());
        return "-" + std::string(buf) + "\r\n";
      }
      return "+OK\r\n";
    });
    port = srv.port();
    Events ev;
    auto o = hostile_opts(srv, ev);
    ClientPtr c(o);
    Result r = call(c, {"GET", "k"});
    EXPECT_EQ(r.status, JR_EPROTO) << r.str();
    EXPECT_EQ(srv.count("GET"), 1);
    // The client still works.
    EXPECT_EQ(call(c, {"SET", "k", "v"}).status, JR_OK);
  }
}

// all-masters when a master left the map and nothing took its slots (a
// master killed, its replica not promoted yet, as a node mid-failover may
// answer): fresher maps are read (3 rounds), then the call completes with
// the master it reached and an entry, under the departed master's address,
// that names the slots no master answered for. The old code completed with
// JR_OK and the one entry, as if that were every master.
TEST(HostileTopology, AllMastersNamesTheSlotsNoMasterAnsweredFor) {
  int dead = 0;
  {
    // A port nothing listens on: connecting to it is refused.
    FakeServer gone([](int, int) {});
    dead = gone.port();
  }
  std::atomic<int> port{0}, slots_asked{0};
  ScriptServer srv([&](const std::vector<std::string> &a, int) -> std::string {
    if (a[0] == "CLUSTER") {
      std::string mine = A(3) + I(0) + I(5460) + A(2) + B("127.0.0.1") + I(port);
      if (slots_asked++ == 0)
        return A(2) + mine + A(3) + I(5461) + I(16383) + A(2) + B("127.0.0.1") + I(dead);
      return A(1) + mine;  // 5461-16383: no master
    }
    if (a[0] == "COMMAND") return kTable;
    if (a[0] == "DBSIZE") return I(7);
    return "+OK\r\n";
  });
  port = srv.port();
  Events ev;
  auto o = hostile_opts(srv, ev);
  ClientPtr c(o);
  struct Out {
    std::mutex mu;
    std::condition_variable cv;
    bool done = false;
    int status = 1;
    std::vector<std::pair<std::string, std::string>> rows;  // address, text ("-" error)
    static void cb(void *ud, int st, const jr_reply *r) {
      auto *self = static_cast<Out *>(ud);
      std::lock_guard<std::mutex> lk(self->mu);
      self->status = st;
      for (size_t i = 0; r != nullptr && i < jr_reply_len(r); i++) {
        const jr_reply *pair = jr_reply_element(r, i);
        const jr_reply *v = jr_reply_element(pair, 1);
        size_t len = 0;
        const char *text = jr_reply_str(v, &len);
        std::string t =
            text != nullptr ? std::string(text, len) : std::to_string(jr_reply_integer(v));
        if (jr_reply_get_type(v) == JR_REPLY_ERROR) t = "-" + t;
        self->rows.emplace_back(jr_reply_str(jr_reply_element(pair, 0), nullptr), t);
      }
      self->done = true;
      self->cv.notify_all();
    }
  } out;
  const char *dbsize[] = {"DBSIZE"};
  ASSERT_EQ(jr_client_submit_all_masters(c, 1, dbsize, nullptr, -1, Out::cb, &out), JR_OK);
  std::unique_lock<std::mutex> lk(out.mu);
  ASSERT_TRUE(out.cv.wait_for(lk, std::chrono::seconds(10), [&] { return out.done; }));
  ASSERT_EQ(out.status, JR_OK);
  ASSERT_EQ(out.rows.size(), 2u);
  EXPECT_EQ(out.rows[0], std::make_pair(srv.endpoint(), std::string("7")));
  EXPECT_EQ(out.rows[1].first, "127.0.0.1:" + std::to_string(dead));
  EXPECT_EQ(out.rows[1].second.rfind("-JR_ECLUSTER: no master reached for slots 5461-16383", 0), 0u)
      << out.rows[1].second;
  EXPECT_GE(slots_asked.load(), 2);
}

// jr_client_endpoints reads CLUSTER NODES: a reply that is not a string, or
// a line without a valid host:port, is JR_EPROTO (the old code read an
// array's element pointers as text).
TEST(HostileTopology, MalformedClusterNodesIsAProtocolError) {
  for (int shape = 0; shape < 3; shape++) {
    SCOPED_TRACE(shape);
    std::atomic<int> port{0};
    ScriptServer srv([&](const std::vector<std::string> &a, int) -> std::string {
      if (a[0] == "CLUSTER" && a.size() > 1 && (a[1] == "NODES" || a[1] == "nodes")) {
        if (shape == 0) return A(3) + I(1) + I(2) + I(3);
        if (shape == 1) return B("abc 127.0.0.1:99999@1 master - 0 0 1 connected 0-16383\n");
        return I(5);
      }
      if (a[0] == "CLUSTER") return own_map(port);
      if (a[0] == "COMMAND") return kTable;
      return "+OK\r\n";
    });
    port = srv.port();
    Events ev;
    auto o = hostile_opts(srv, ev);
    ClientPtr c(o);
    EXPECT_EQ(call(c, {"SET", "k", "v"}).status, JR_OK);  // detection done: a cluster
    Recorder rec;
    ASSERT_EQ(jr_client_endpoints(c, Recorder::cb, rec.expect(0)), JR_OK);
    ASSERT_TRUE(rec.wait_all());
    EXPECT_EQ(rec.get(0).status, JR_EPROTO);
  }
}

// A transaction whose MULTI or queued replies are not +OK / +QUEUED: the
// EXEC array cannot be matched to the commands (they may have run on their
// own): every callback gets JR_EPROTO (the old code handed out the array).
TEST(HostileTx, UnqueuedCommandsAreAProtocolError) {
  for (int shape = 0; shape < 2; shape++) {
    SCOPED_TRACE(shape);
    ScriptServer srv([&](const std::vector<std::string> &a, int) -> std::string {
      if (a[0] == "MULTI") return shape == 0 ? "+OK\r\n" : "-ERR MULTI calls can not be nested\r\n";
      if (a[0] == "SET") return shape == 0 ? "+OK\r\n" : "+QUEUED\r\n";
      if (a[0] == "EXEC") return A(1) + "+OK\r\n";
      return "+OK\r\n";
    });
    OptionsPtr o;
    o.set("endpoint", srv.endpoint()).set("cluster", "no").set_int("connect_retry", 0);
    ClientPtr c(o);
    jr_multi *m = nullptr;
    ASSERT_EQ(jr_multi_new(c, -1, &m), JR_OK);
    Recorder rec;
    const char *set[] = {"SET", "k", "v"};
    ASSERT_EQ(jr_multi_add(m, 3, set, nullptr, Recorder::cb, rec.expect(0)), JR_OK);
    ASSERT_EQ(jr_multi_exec(m, -1, Recorder::cb, rec.expect(1)), JR_OK);
    ASSERT_TRUE(rec.wait_all());
    EXPECT_EQ(rec.get(0).status, JR_EPROTO);
    EXPECT_EQ(rec.get(1).status, JR_EPROTO);
  }
}

// Pub/sub messages of the wrong shape or an unknown kind: the subscription
// connection is replaced (JR_SUB_LOST, then JR_SUB_RESUBSCRIBED); nothing
// malformed reaches the subscriber (the old code delivered a message whose
// payload was an integer and ignored the rest).
TEST(HostilePush, MalformedPubSubMessageReplacesTheConnection) {
  const std::vector<std::string> bad = {
      A(3) + B("message") + B("ch") + I(5),             // payload not a string
      A(2) + B("message") + B("ch"),                    // too short
      A(4) + B("message") + B("ch") + B("x") + B("y"),  // too long
      A(3) + B("pmessage") + B("ch") + B("x"),          // pmessage needs 4
      A(3) + B("subscribe") + B("ch") + B("1"),         // count not an integer
      A(2) + B("frobnicate") + B("ch"),                 // unknown kind
      A(3) + I(1) + B("ch") + B("x"),                   // kind not a string
      I(42),                                            // not an array
  };
  for (size_t i = 0; i < bad.size(); i++) {
    SCOPED_TRACE(i);
    ScriptServer srv([&](const std::vector<std::string> &a, int index) -> std::string {
      if (a[0] == "SUBSCRIBE" && a.size() == 2) {
        std::string confirm = A(3) + B("subscribe") + B(a[1]) + I(1);
        // The first connection follows its confirmation with garbage.
        return index == 0 ? confirm + bad[i] : confirm;
      }
      return "+OK\r\n";
    });
    OptionsPtr o;
    o.set("endpoint", srv.endpoint()).set("cluster", "no").set_int("connect_retry", 0);
    ClientPtr c(o);
    Inbox in;
    jr_sub *s = nullptr;
    ASSERT_EQ(jr_sub_new(c, Inbox::cb, &in, &s), JR_OK);
    const char *ch[] = {"ch"};
    ASSERT_EQ(jr_sub_subscribe(s, JR_SUB_CHANNELS, 1, ch, nullptr), JR_OK);
    auto first = in.next();
    ASSERT_EQ(first.first, JR_OK);
    ASSERT_FALSE(first.second.empty());
    EXPECT_EQ(first.second[0], "subscribe");
    auto second = in.next();
    EXPECT_EQ(second.first, JR_SUB_LOST);
    EXPECT_TRUE(in.next_of_status(JR_SUB_RESUBSCRIBED));
    jr_sub_free(s);
    EXPECT_TRUE(in.wait_closed());
  }
}

// MONITOR lines are status replies: anything else replaces the connection
// (the old code delivered an integer as a MONITOR line).
TEST(HostilePush, MalformedMonitorLineReplacesTheConnection) {
  ScriptServer srv([&](const std::vector<std::string> &a, int index) -> std::string {
    if (a[0] == "MONITOR") return index == 0 ? "+OK\r\n:5\r\n" : "+OK\r\n+1.0 [0 x] \"PING\"\r\n";
    return "+OK\r\n";
  });
  OptionsPtr o;
  o.set("endpoint", srv.endpoint()).set("cluster", "no").set_int("connect_retry", 0);
  ClientPtr c(o);
  Inbox in;
  jr_monitor *m = nullptr;
  ASSERT_EQ(jr_monitor_new(c, Inbox::cb, &in, &m), JR_OK);
  EXPECT_EQ(in.next().first, JR_SUB_LOST);
  EXPECT_EQ(in.next().first, JR_SUB_RESUBSCRIBED);
  auto line = in.next();
  EXPECT_EQ(line.first, JR_OK);
  ASSERT_EQ(line.second.size(), 1u);
  EXPECT_EQ(line.second[0], "1.0 [0 x] \"PING\"");
  jr_monitor_free(m);
  EXPECT_TRUE(in.wait_closed());
}
