// SPDX-License-Identifier: MIT
// Redis Sentinel against real processes (tests/fixtures/redis_sentinel.hpp:
// a master, a replica, three sentinels): discovery (options and the
// redis-sentinel:// URL), a wrong master name, one sentinel down, all
// sentinels down and back, a sentinel that answers nonsense, sentinel ACL,
// a master demoted while the connection was down (nothing is written to
// it), reads from replicas (read_from_replicas: reads on a replica, writes
// on the master, a failover, killed replicas), and failovers (SENTINEL
// FAILOVER, kill -9 of the master) under load from several threads: every
// accepted command completes exactly once, one that failed with
// jr_err_unsent() == 1 never reached a server, pub/sub and MONITOR follow
// the master, and the time from the sentinels' +switch-master to the first
// success is printed as a "[ sentinel ]" line (docs/reliability.md).
#include <gtest/gtest.h>
#include <jr/jr.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <functional>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "fake_server.hpp"
#include "jr_test.hpp"
#include "redis_sentinel.hpp"

using namespace jrtest;
using Clock = std::chrono::steady_clock;

namespace {

constexpr const char *kName = SentinelCluster::kName;

int64_t ms_since(Clock::time_point t0, Clock::time_point t = Clock::now()) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(t - t0).count();
}

// The event callback's lines, timed.
struct Events {
  std::mutex mu;
  struct Row {
    Clock::time_point at;
    int event;
    std::string endpoint, detail;
  };
  std::vector<Row> rows;
  static void cb(void *ctx, int event, const char *endpoint, const char *detail) {
    auto *self = static_cast<Events *>(ctx);
    std::lock_guard<std::mutex> lk(self->mu);
    self->rows.push_back({Clock::now(), event, endpoint, detail});
  }
  // The first row at or after `from` whose detail contains `text`.
  bool find(const std::string &text, Clock::time_point *at = nullptr,
            Clock::time_point from = Clock::time_point()) {
    std::lock_guard<std::mutex> lk(mu);
    for (auto &r : rows)
      if (r.at >= from && r.detail.find(text) != std::string::npos) {
        if (at != nullptr) *at = r.at;
        return true;
      }
    return false;
  }
  std::string all() {
    std::lock_guard<std::mutex> lk(mu);
    std::string s;
    for (auto &r : rows) s += std::to_string(r.event) + " " + r.endpoint + " " + r.detail + "\n";
    return s;
  }
};

void sentinel_opts(OptionsPtr &o, SentinelCluster &sc, Events *ev, const char *master = kName) {
  for (size_t i = 0; i < 3; i++) o.set("sentinel", sc.sentinel(i).endpoint());
  o.set("sentinel_master", master);
  o.set_int("connect_timeout_ms", 500);
  if (ev != nullptr) {
    EXPECT_EQ(jr_options_set_event_cb(o.o, Events::cb, ev), JR_OK);
  }
}

std::string get_on(RedisServer &s, const std::string &key) {
  std::string r = s.cmd("GET " + key);
  if (r.rfind("$-1", 0) == 0) return "";
  size_t nl = r.find("\r\n");
  return nl == std::string::npos ? "?" : r.substr(nl + 2, r.size() - nl - 4);
}

// The calls of `cmd` in INFO commandstats (since CONFIG RESETSTAT).
int64_t calls_of(RedisServer &s, const std::string &cmd) {
  std::string r = s.cmd("INFO commandstats");
  std::string key = "cmdstat_" + cmd + ":calls=";
  size_t at = r.find(key);
  return at == std::string::npos ? 0 : std::stoll(r.substr(at + key.size()));
}

// Waits up to `ms` for an event whose detail contains `text`.
bool wait_event(Events &ev, const std::string &text, int ms = 5000,
                Clock::time_point from = Clock::time_point()) {
  for (int i = 0; i < ms / 10; i++) {
    if (ev.find(text, nullptr, from)) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return ev.find(text, nullptr, from);
}

// Waits until a GET of key on s answers `want`.
bool wait_value(RedisServer &s, const std::string &key, const std::string &want) {
  for (int i = 0; i < 500; i++) {
    if (get_on(s, key) == want) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return false;
}

// A client with read_from_replicas whose reads may go to `replica`: the
// COMMAND table is read and ROLE confirmed the replica.
void replica_ready(Events &ev, int replica_port, Clock::time_point from = Clock::time_point()) {
  ASSERT_TRUE(wait_event(ev, "COMMAND table read")) << ev.all();
  ASSERT_TRUE(wait_event(
      ev, "replica 127.0.0.1:" + std::to_string(replica_port) + " confirmed by ROLE", 20000, from))
      << ev.all();
}

// One SentinelCluster for the tests that leave it as they found it.
SentinelCluster *g_sc = nullptr;

class SentinelTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    g_sc = new SentinelCluster(1);
    std::printf("[ sentinel ] fixture up in %ld ms\n", g_sc->setup_ms());
  }
  static void TearDownTestSuite() {
    delete g_sc;
    g_sc = nullptr;
  }
};

TEST_F(SentinelTest, DiscoversTheMasterByOptions) {
  Events ev;
  OptionsPtr o;
  sentinel_opts(o, *g_sc, &ev);
  ClientPtr c(o);
  auto t0 = Clock::now();
  Result r = call(c.get(), {"SET", "disc:k", "v1"});
  ASSERT_EQ(r.status, JR_OK) << ev.all();
  EXPECT_EQ(r.str(), "OK");
  std::printf("[ sentinel ] discovery + first SET: %lld ms\n",
              static_cast<long long>(ms_since(t0)));
  int mport = g_sc->master_port();
  EXPECT_EQ(get_on(*g_sc->by_port(mport), "disc:k"), "v1");
  EXPECT_TRUE(ev.find("master jrmaster is 127.0.0.1:" + std::to_string(mport))) << ev.all();
}

TEST_F(SentinelTest, DiscoversTheMasterByUrl) {
  OptionsPtr o;
  // Lettuce's form; the first host is a dead port (a sentinel down), the
  // database is the master's.
  std::string url = "redis-sentinel://127.0.0.1:" + std::to_string(free_port()) + "," +
                    g_sc->sentinel_hosts() + "/3#" + kName;
  o.set("url", url);
  o.set_int("connect_timeout_ms", 500);
  ClientPtr c(o);
  ASSERT_EQ(call(c.get(), {"SET", "url:k", "v2"}).status, JR_OK);
  RedisServer &m = *g_sc->by_port(g_sc->master_port());
  EXPECT_EQ(m.cmd("SELECT 3\r\nGET url:k").find("v2") != std::string::npos, true);
}

TEST_F(SentinelTest, UrlAndOptionsAreChecked) {
  jr_options *o = jr_options_new();
  EXPECT_EQ(jr_options_set(o, "url", "redis-sentinel://h1,h2:26380"), JR_EINVAL);  // no master
  EXPECT_EQ(jr_options_set(o, "url", "redis-sentinel://h1,,h2#m"), JR_EINVAL);
  EXPECT_EQ(jr_options_set(o, "url", "redis-sentinel://h1:0#m"), JR_EINVAL);
  EXPECT_EQ(jr_options_set(o, "url", "redis-sentinel://[::1]:26380,h2/1?sentinelMasterId=m"),
            JR_OK);
  EXPECT_EQ(jr_options_set(o, "sentinel", "/tmp/x.sock"), JR_EINVAL);
  EXPECT_EQ(jr_options_set(o, "sentinel", "[::1]:26379"), JR_OK);
  jr_options_free(o);
  // Sentinels without a master name: refused at creation.
  OptionsPtr p;
  p.set("sentinel", "127.0.0.1:1");
  jr_client *c = nullptr;
  EXPECT_EQ(jr_client_new(p.o, &c), JR_EINVAL);
}

TEST_F(SentinelTest, WrongMasterNameIsAClearError) {
  Events ev;
  OptionsPtr o;
  sentinel_opts(o, *g_sc, &ev, "no-such-master");
  o.set_int("connect_retry", 1);
  ClientPtr c(o);
  auto t0 = Clock::now();
  Result r = call(c.get(), {"PING"});
  EXPECT_EQ(r.status, JR_ECONNECT);
  EXPECT_EQ(jr_err_unsent(r.status), 1);
  EXPECT_LT(ms_since(t0), 2000);
  EXPECT_TRUE(ev.find("master name 'no-such-master' unknown")) << ev.all();
  // The failure itself says why (jr_error_detail), not only the event.
  EXPECT_NE(r.detail.find("no master 'no-such-master' from any sentinel"), std::string::npos)
      << r.detail;
  EXPECT_NE(r.detail.find("unknown"), std::string::npos) << r.detail;
}

TEST_F(SentinelTest, NonsenseAnswerIsAClearError) {
  // A "sentinel" that answers every command with a bulk string.
  FakeServer fake([](int fd, int) {
    FakeServer *unused = nullptr;
    (void)unused;
    std::string in;
    char buf[4096];
    for (;;) {
      ssize_t n = read(fd, buf, sizeof buf);
      if (n <= 0) return;
      FakeServer::send_all(fd, "$8\r\nnonsense\r\n");
    }
  });
  Events ev;
  OptionsPtr o;
  o.set("sentinel", fake.endpoint());
  o.set("sentinel_master", kName);
  o.set_int("connect_retry", 0);
  o.set_int("connect_timeout_ms", 500);
  EXPECT_EQ(jr_options_set_event_cb(o.o, Events::cb, &ev), JR_OK);
  ClientPtr c(o);
  Result r = call(c.get(), {"PING"}, 3000);
  EXPECT_EQ(r.status, JR_ECONNECT);
  EXPECT_TRUE(ev.find("not [ip, port]")) << ev.all();
}

TEST_F(SentinelTest, SentinelAcl) {
  for (size_t i = 0; i < 3; i++)
    ASSERT_NE(g_sc->sentinel(i).cmd("ACL SETUSER jrsent on >s3cret +@all").find("OK"),
              std::string::npos);
  {
    Events ev;
    OptionsPtr o;
    sentinel_opts(o, *g_sc, &ev);
    o.set("sentinel_username", "jrsent").set("sentinel_password", "wrong");
    o.set_int("connect_retry", 0);
    ClientPtr c(o);
    EXPECT_EQ(call(c.get(), {"PING"}).status, JR_ECONNECT);
    EXPECT_TRUE(ev.find("WRONGPASS")) << ev.all();
  }
  OptionsPtr o;
  sentinel_opts(o, *g_sc, nullptr);
  o.set("sentinel_username", "jrsent").set("sentinel_password", "s3cret");
  ClientPtr c(o);
  EXPECT_EQ(call(c.get(), {"PING"}).status, JR_OK);
}

TEST_F(SentinelTest, AllSentinelsDownThenBack) {
  Events ev;
  OptionsPtr o;
  sentinel_opts(o, *g_sc, &ev);
  o.set_int("connect_retry", 1);
  ClientPtr c(o);
  for (size_t i = 0; i < 3; i++) g_sc->sentinel(i).stop();
  auto t0 = Clock::now();
  Result r = call(c.get(), {"PING"});
  EXPECT_EQ(r.status, JR_ECONNECT);
  EXPECT_LT(ms_since(t0), 2000);
  EXPECT_TRUE(ev.find("no master 'jrmaster' from any sentinel")) << ev.all();
  EXPECT_NE(r.detail.find("no master 'jrmaster' from any sentinel"), std::string::npos) << r.detail;
  for (size_t i = 0; i < 3; i++) g_sc->sentinel(i).start();
  EXPECT_EQ(call(c.get(), {"PING"}).status, JR_OK) << ev.all();
}

// Serves RESP commands on fd: answer(argv) gives each reply, in order.
void serve(FakeServer &srv, int fd,
           const std::function<std::string(const std::vector<std::string> &)> &answer) {
  std::string in;
  char buf[4096];
  while (!srv.stopping()) {
    pollfd p{fd, POLLIN, 0};
    if (poll(&p, 1, 50) <= 0) continue;
    ssize_t n = read(fd, buf, sizeof buf);
    if (n <= 0) return;
    in.append(buf, static_cast<size_t>(n));
    for (;;) {  // each complete "*N $len arg..." frame
      size_t pos = 0;
      if (in.empty()) break;
      if (in[0] != '*') return;
      size_t e = in.find("\r\n");
      if (e == std::string::npos) break;
      int argc = std::atoi(in.c_str() + 1);
      pos = e + 2;
      std::vector<std::string> argv;
      bool whole = true;
      for (int i = 0; i < argc && whole; i++) {
        e = in.find("\r\n", pos);
        if (e == std::string::npos || in[pos] != '$') {
          whole = false;
          break;
        }
        size_t len = static_cast<size_t>(std::atol(in.c_str() + pos + 1));
        if (e + 2 + len + 2 > in.size()) {
          whole = false;
          break;
        }
        argv.push_back(in.substr(e + 2, len));
        pos = e + 2 + len + 2;
      }
      if (!whole) break;
      in.erase(0, pos);
      FakeServer::send_all(fd, answer(argv));
    }
  }
}

// A fake sentinel's answer to SUBSCRIBE +switch-master.
const std::string kSubscribed = "*3\r\n$9\r\nsubscribe\r\n$14\r\n+switch-master\r\n:1\r\n";

std::string bulk(const std::string &s) {
  return "$" + std::to_string(s.size()) + "\r\n" + s + "\r\n";
}

// A master that turns out to be a replica: its READONLY answer is not
// delivered; the command goes, once, to the master the sentinels name next.
TEST_F(SentinelTest, ReadonlyMovesTheCommandToTheNextMaster) {
  FakeServer demoted([&demoted](int fd, int) {
    serve(demoted, fd, [](const std::vector<std::string> &argv) -> std::string {
      if (!argv.empty() && argv[0] == "ROLE") return "*3\r\n$6\r\nmaster\r\n:0\r\n*0\r\n";
      return "-READONLY You can't write against a read only replica.\r\n";
    });
  });
  int mport = g_sc->master_port();
  std::atomic<int> asked{0};
  // A sentinel that names the demoted server first, then the real master.
  FakeServer sentinel([&](int fd, int) {
    serve(sentinel, fd, [&](const std::vector<std::string> &argv) -> std::string {
      if (argv.size() == 3 && argv[1] == "get-master-addr-by-name") {
        int port = asked++ == 0 ? demoted.port() : mport;
        return "*2\r\n" + bulk("127.0.0.1") + bulk(std::to_string(port));
      }
      if (argv[0] == "SUBSCRIBE") return kSubscribed;
      return "*0\r\n";  // SENTINEL sentinels: none other
    });
  });
  Events ev;
  OptionsPtr o;
  o.set("sentinel", sentinel.endpoint()).set("sentinel_master", kName);
  EXPECT_EQ(jr_options_set_event_cb(o.o, Events::cb, &ev), JR_OK);
  ClientPtr c(o);
  Result r = call(c.get(), {"SET", "ro:k", "moved"});
  EXPECT_EQ(r.status, JR_OK) << ev.all();
  EXPECT_EQ(r.type(), JR_REPLY_STATUS) << r.str();
  EXPECT_EQ(asked.load(), 2);
  EXPECT_EQ(get_on(*g_sc->by_port(mport), "ro:k"), "moved");
  EXPECT_TRUE(ev.find("READONLY from 127.0.0.1:" + std::to_string(demoted.port()))) << ev.all();
}

// A master connection that is lost makes libjr ask the sentinels again
// (then ROLE), without a +switch-master or a READONLY: reads move too.
TEST_F(SentinelTest, LostMasterConnectionRediscovers) {
  std::atomic<int> gets{0};
  FakeServer old_master([&](int fd, int) {
    serve(old_master, fd, [&](const std::vector<std::string> &argv) -> std::string {
      if (!argv.empty() && argv[0] == "ROLE") return "*3\r\n$6\r\nmaster\r\n:0\r\n*0\r\n";
      if (!argv.empty() && argv[0] == "GET") {
        gets++;
        FakeServer::send_all(fd, "$5\r\nstale\r\n");
        shutdown(fd, SHUT_RDWR);  // the answer, then the connection goes
        return "";
      }
      return "+OK\r\n";
    });
  });
  int mport = g_sc->master_port();
  ASSERT_NE(g_sc->by_port(mport)->cmd("SET lost:k fresh").find("OK"), std::string::npos);
  std::atomic<int> asked{0};
  FakeServer sentinel([&](int fd, int) {
    serve(sentinel, fd, [&](const std::vector<std::string> &argv) -> std::string {
      if (argv.size() == 3 && argv[1] == "get-master-addr-by-name") {
        int port = asked++ == 0 ? old_master.port() : mport;
        return "*2\r\n" + bulk("127.0.0.1") + bulk(std::to_string(port));
      }
      if (argv[0] == "SUBSCRIBE") return kSubscribed;
      return "*0\r\n";  // SENTINEL sentinels: none other
    });
  });
  Events ev;
  OptionsPtr o;
  o.set("sentinel", sentinel.endpoint()).set("sentinel_master", kName);
  EXPECT_EQ(jr_options_set_event_cb(o.o, Events::cb, &ev), JR_OK);
  ClientPtr c(o);
  Result r1 = call(c.get(), {"GET", "lost:k"});
  EXPECT_EQ(r1.str(), "stale");
  // The old master closed the connection: the sentinels name another.
  for (int i = 0; i < 100 && !ev.find("is 127.0.0.1:" + std::to_string(mport)); i++)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  Result r2 = call(c.get(), {"GET", "lost:k"});
  EXPECT_EQ(r2.status, JR_OK) << ev.all();
  EXPECT_EQ(r2.str(), "fresh") << ev.all();
  EXPECT_EQ(gets.load(), 1);
  EXPECT_TRUE(ev.find("lost")) << ev.all();
}

// A master that was demoted while the shared connection was down: the ROLE
// of the reconnect's handshake says so, nothing is written to it, and the
// command goes to the master the sentinels name next.
TEST_F(SentinelTest, DemotedMasterAfterAReconnectGetsNoWrite) {
  std::atomic<bool> demoted{false};
  std::atomic<int> writes_after{0};
  FakeServer fake([&](int fd, int) {
    serve(fake, fd, [&](const std::vector<std::string> &argv) -> std::string {
      if (argv.empty()) return "";
      if (argv[0] == "ROLE")
        return demoted ? "*5\r\n$5\r\nslave\r\n$9\r\n127.0.0.1\r\n:1\r\n$9\r\nconnected\r\n:0\r\n"
                       : "*3\r\n$6\r\nmaster\r\n:0\r\n*0\r\n";
      if (argv[0] == "SET") {
        if (demoted) {
          writes_after++;
          return "-READONLY You can't write against a read only replica.\r\n";
        }
        // Answered, then demoted while the connection is down.
        demoted = true;
        FakeServer::send_all(fd, "+OK\r\n");
        shutdown(fd, SHUT_RDWR);
        return "";
      }
      return "+OK\r\n";
    });
  });
  int mport = g_sc->master_port();
  std::atomic<int> asked{0};
  // A sentinel that learns of the switch late: it names the fake twice.
  FakeServer sentinel([&](int fd, int) {
    serve(sentinel, fd, [&](const std::vector<std::string> &argv) -> std::string {
      if (argv.size() == 3 && argv[1] == "get-master-addr-by-name") {
        int port = asked++ < 2 ? fake.port() : mport;
        return "*2\r\n" + bulk("127.0.0.1") + bulk(std::to_string(port));
      }
      if (argv[0] == "SUBSCRIBE") return kSubscribed;
      return "*0\r\n";
    });
  });
  Events ev;
  OptionsPtr o;
  o.set("sentinel", sentinel.endpoint()).set("sentinel_master", kName);
  EXPECT_EQ(jr_options_set_event_cb(o.o, Events::cb, &ev), JR_OK);
  ClientPtr c(o);
  Result r1 = call(c.get(), {"SET", "dm:k1", "a"});
  ASSERT_EQ(r1.status, JR_OK) << ev.all();
  // The loss is seen (and the sentinel, asked again, still names the fake).
  ASSERT_TRUE(wait_event(ev, "connection to 127.0.0.1:" + std::to_string(fake.port()) + " lost"))
      << ev.all();
  Result r2 = call(c.get(), {"SET", "dm:k2", "b"});
  EXPECT_EQ(r2.status, JR_OK) << ev.all();
  EXPECT_EQ(r2.type(), JR_REPLY_STATUS) << r2.str();
  EXPECT_EQ(writes_after.load(), 0) << ev.all();
  EXPECT_EQ(get_on(*g_sc->by_port(mport), "dm:k2"), "b");
  EXPECT_TRUE(ev.find("ROLE says slave, not master")) << ev.all();
}

// read_from_replicas: read-only commands on the replica (confirmed by ROLE),
// writes on the master; counted by the servers' INFO commandstats.
TEST_F(SentinelTest, ReadsGoToTheReplicaWritesToTheMaster) {
  Events ev;
  OptionsPtr o;
  sentinel_opts(o, *g_sc, &ev);
  o.set_int("read_from_replicas", 1);
  ClientPtr c(o);
  ASSERT_EQ(call(c.get(), {"SET", "rr:k", "v"}).status, JR_OK);
  RedisServer &m = *g_sc->by_port(g_sc->master_port());
  RedisServer &r = &g_sc->server(0) == &m ? g_sc->server(1) : g_sc->server(0);
  replica_ready(ev, r.port());
  ASSERT_TRUE(wait_value(r, "rr:k", "v"));
  r.cmd("CONFIG RESETSTAT");
  m.cmd("CONFIG RESETSTAT");
  for (int i = 0; i < 20; i++) {
    Result g = call(c.get(), {"GET", "rr:k"});
    ASSERT_EQ(g.status, JR_OK);
    EXPECT_EQ(g.str(), "v");
    Result w = call(c.get(), {"SET", "rr:w", std::to_string(i)});
    ASSERT_EQ(w.status, JR_OK);
    EXPECT_EQ(w.type(), JR_REPLY_STATUS) << w.str();
  }
  EXPECT_GE(calls_of(r, "get"), 20);
  EXPECT_EQ(calls_of(m, "get"), 0);
  EXPECT_GE(calls_of(m, "set"), 20);
}

// Reads across a failover, then replicas that die (two replicas). During
// SENTINEL FAILOVER every read succeeds (but one in flight when the
// sentinels end the clients of a server they reconfigure); after the
// switch reads go to the replica that was not promoted, writes to the new
// master. Then the replicas die: reads go to the master at once.
TEST(SentinelReplicas, ReadsFollowAFailoverAndFallBackToTheMaster) {
  SentinelCluster sc(2);
  Events ev;
  OptionsPtr o;
  sentinel_opts(o, sc, &ev);
  o.set_int("read_from_replicas", 1);
  ClientPtr c(o);
  ASSERT_EQ(call(c.get(), {"SET", "ff:k", "v"}).status, JR_OK);
  int old_port = sc.master_port();
  RedisServer &m = *sc.by_port(old_port);
  for (size_t i = 0; i < sc.size(); i++)
    if (&sc.server(i) != &m) replica_ready(ev, sc.server(i).port());
  std::atomic<bool> stop{false};
  std::atomic<int> reads{0}, bad{0}, lost{0};
  std::thread reader([&] {
    while (!stop) {
      // The sentinels end the clients of the servers they reconfigure
      // (CLIENT KILL TYPE normal): a read in flight then may have reached.
      Result g = call(c.get(), {"GET", "ff:k"});
      if (g.status == JR_ECONNLOST) {
        lost++;
      } else if (g.status != JR_OK || g.str() != "v") {
        bad++;
      }
      reads++;
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
  });
  auto t0 = Clock::now();
  ASSERT_NE(sc.sentinel(0).cmd(std::string("SENTINEL FAILOVER ") + kName).find("OK"),
            std::string::npos);
  Clock::time_point switched;
  ASSERT_TRUE(wait_event(ev, "+switch-master", 10000, t0)) << ev.all();
  ev.find("+switch-master", &switched, t0);
  int new_port = sc.master_port();
  ASSERT_NE(new_port, old_port);
  RedisServer &nm = *sc.by_port(new_port);
  RedisServer *other = nullptr;  // the replica that stayed one
  for (size_t i = 0; i < sc.size(); i++)
    if (&sc.server(i) != &m && &sc.server(i) != &nm) other = &sc.server(i);
  ASSERT_NE(other, nullptr);
  // Reads reach it again once the sentinels list it in sync after the
  // switch (and ROLE confirms it if its connection was ended).
  int64_t on_replica_ms = -1;
  for (int i = 0; i < 100 && on_replica_ms < 0; i++) {
    other->cmd("CONFIG RESETSTAT");
    for (int k = 0; k < 5; k++) call(c.get(), {"GET", "ff:k"});
    if (calls_of(*other, "get") >= 5) on_replica_ms = ms_since(switched);
    if (on_replica_ms < 0) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  stop = true;
  reader.join();
  ASSERT_GE(on_replica_ms, 0) << ev.all();
  EXPECT_EQ(bad.load(), 0) << reads.load() << " reads";
  EXPECT_LE(lost.load(), 3);
  EXPECT_GT(reads.load(), 0);
  nm.cmd("CONFIG RESETSTAT");
  for (int i = 0; i < 20; i++) {
    ASSERT_EQ(call(c.get(), {"GET", "ff:k"}).str(), "v");
    Result w = call(c.get(), {"SET", "ff:w", std::to_string(i)});
    ASSERT_EQ(w.status, JR_OK);
    EXPECT_EQ(w.type(), JR_REPLY_STATUS) << w.str();
  }
  EXPECT_EQ(calls_of(nm, "get"), 0);   // the replicas serve the reads
  EXPECT_GE(calls_of(nm, "set"), 20);  // the new master the writes
  std::printf(
      "[ sentinel ] replica reads across SENTINEL FAILOVER: %d reads, %d lost in flight "
      "(the sentinels' CLIENT KILL), the rest served; reads on the remaining replica %lld "
      "ms after +switch-master\n",
      reads.load(), lost.load(), static_cast<long long>(on_replica_ms));

  // The replicas die: at most the read in flight fails, as one that may
  // have reached it; every other read is served by the master.
  nm.cmd("CONFIG RESETSTAT");
  auto t1 = Clock::now();
  other->kill9();
  m.kill9();
  int failed = 0;
  int64_t first_ok_ms = -1;
  for (int i = 0; i < 40; i++) {
    Result g = call(c.get(), {"GET", "ff:k"});
    if (g.status == JR_OK) {
      EXPECT_EQ(g.str(), "v");
      if (first_ok_ms < 0) first_ok_ms = ms_since(t1);
    } else {
      EXPECT_EQ(g.status, JR_ECONNLOST) << jr_err_name(g.status);
      EXPECT_EQ(jr_err_unsent(g.status), 0);
      failed++;
    }
  }
  EXPECT_LE(failed, 1);
  EXPECT_GE(calls_of(nm, "get"), 39);
  EXPECT_GE(first_ok_ms, 0);
  std::printf("[ sentinel ] replicas killed: first read served by the master after %lld ms\n",
              static_cast<long long>(first_ok_ms));
}

// ---- RESP3 ---------------------------------------------------------------------

#ifndef JR_TEST_HIREDIS_MAJOR
#define JR_TEST_HIREDIS_MAJOR 0
#endif

// protocol=3 is the user's connections' protocol: the master's and the
// replicas' (HELLO 3, typed replies). In RESP3 a sentinel answers SENTINEL
// replicas and SENTINEL sentinels with maps and sends +switch-master as a
// push; libjr reads them in RESP2, so discovery, replica reads and the
// switch work as in the default protocol. Needs hiredis >= 1.0 (scripts/
// test's build/asan runs it; skipped with 0.14).
TEST(SentinelResp3, ReplicaReadsAndASwitchWithProtocol3) {
  if (JR_TEST_HIREDIS_MAJOR < 1) GTEST_SKIP() << "protocol=3 needs hiredis >= 1.0";
  SentinelCluster sc(1);
  Events ev;
  OptionsPtr o;
  sentinel_opts(o, sc, &ev);
  o.set_int("protocol", 3);
  o.set_int("read_from_replicas", 1);
  ClientPtr c(o);
  ASSERT_EQ(call(c.get(), {"SET", "r3:k", "v"}).status, JR_OK) << ev.all();
  // A RESP3 reply type on the user's connection: HELLO 3 was spoken.
  Result h = call(c.get(), {"HGETALL", "r3:none"});
  ASSERT_EQ(h.status, JR_OK);
  EXPECT_EQ(h.type(), JR_REPLY_MAP);
  int old_port = sc.master_port();
  RedisServer &m = *sc.by_port(old_port);
  RedisServer &r = &sc.server(0) == &m ? sc.server(1) : sc.server(0);
  replica_ready(ev, r.port());
  ASSERT_TRUE(wait_value(r, "r3:k", "v"));
  r.cmd("CONFIG RESETSTAT");
  for (int i = 0; i < 10; i++) ASSERT_EQ(call(c.get(), {"GET", "r3:k"}).str(), "v");
  EXPECT_GE(calls_of(r, "get"), 10);

  auto t0 = Clock::now();
  ASSERT_NE(sc.sentinel(0).cmd(std::string("SENTINEL FAILOVER ") + kName).find("OK"),
            std::string::npos);
  ASSERT_TRUE(wait_event(ev, "+switch-master", 10000, t0)) << ev.all();
  int new_port = sc.master_port();
  ASSERT_NE(new_port, old_port);
  RedisServer &nm = *sc.by_port(new_port);
  // Writes reach the new master (a write in flight at the switch may fail
  // as one that may have reached the old one).
  bool written = false;
  for (int i = 0; i < 200 && !written; i++) {
    Result w = call(c.get(), {"SET", "r3:after", "w"});
    written = w.status == JR_OK && w.type() == JR_REPLY_STATUS;
    if (!written) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  ASSERT_TRUE(written) << ev.all();
  EXPECT_EQ(get_on(nm, "r3:after"), "w");
}

// ---- Failovers under load -------------------------------------------------------

struct LoadResult {
  size_t accepted = 0, ok = 0, dup = 0, lost = 0;
  std::map<int, size_t> by_status;
  int64_t first_ok_after_switch_ms = -1;
};

// kThreads threads SET unique keys until `stop`; afterwards every accepted
// command has completed exactly once, and a key whose SET failed with an
// "unsent" code exists on no server.
class Load {
 public:
  static constexpr int kThreads = 4;
  explicit Load(jr_client *c) : c_(c) {
    for (int t = 0; t < kThreads; t++) threads_.emplace_back([this, t] { run(t); });
  }
  void stop() {
    stop_ = true;
    for (auto &t : threads_) t.join();
  }
  struct Done {
    int status;
    bool ok;
    Clock::time_point at;
    int count = 0;
  };
  std::mutex mu;
  std::map<std::string, Done> done;  // key -> outcome
  std::atomic<size_t> accepted{0};

 private:
  struct Ctx {
    Load *self;
    std::string key;
  };
  static void cb(void *ud, int status, const jr_reply *r) {
    auto *ctx = static_cast<Ctx *>(ud);
    Load *self = ctx->self;
    {
      std::lock_guard<std::mutex> lk(self->mu);
      Done &d = self->done[ctx->key];
      d.count++;
      d.status = status;
      d.ok = status == JR_OK && jr_reply_get_type(r) != JR_REPLY_ERROR;
      d.at = Clock::now();
    }
    delete ctx;
  }
  void run(int t) {
    for (int i = 0; !stop_; i++) {
      std::string key = "load:" + std::to_string(t) + ":" + std::to_string(i);
      const char *argv[] = {"SET", key.c_str(), "x"};
      size_t lens[] = {3, key.size(), 1};
      auto *ctx = new Ctx{this, key};
      if (jr_client_submit(c_, 3, argv, lens, 3000, cb, ctx, nullptr) == JR_OK) {
        accepted++;
      } else {
        delete ctx;
      }
      std::this_thread::sleep_for(std::chrono::microseconds(500));
    }
  }
  jr_client *c_;
  std::atomic<bool> stop_{false};
  std::vector<std::thread> threads_;
};

void check_load(Load &load, SentinelCluster &sc, Clock::time_point switched, const char *what,
                int64_t failover_ms) {
  // Everything accepted completes (deadlines are 3 s).
  for (int i = 0; i < 100; i++) {
    {
      std::lock_guard<std::mutex> lk(load.mu);
      if (load.done.size() >= load.accepted) break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  std::lock_guard<std::mutex> lk(load.mu);
  ASSERT_EQ(load.done.size(), load.accepted.load());
  std::map<int, size_t> by;
  size_t dup = 0, unsent_checked = 0;
  int64_t first_ok = -1;
  int mport = sc.master_port();
  RedisServer *m = sc.by_port(mport);
  ASSERT_NE(m, nullptr);
  for (auto &kv : load.done) {
    const Load::Done &d = kv.second;
    if (d.count != 1) dup++;
    by[d.ok ? 0 : d.status == JR_OK ? 1 : d.status]++;  // 1: an error reply
    if (d.ok && d.at >= switched) {
      int64_t ms = ms_since(switched, d.at);
      if (first_ok < 0 || ms < first_ok) first_ok = ms;
    }
    if (!d.ok && d.status != JR_OK && jr_err_unsent(d.status) == 1) {
      // Never sent: on no server (the new master has every write it took).
      for (size_t i = 0; i < sc.size(); i++) {
        RedisServer &s = sc.server(i);
        if (s.pid() <= 0) continue;
        EXPECT_EQ(get_on(s, kv.first), "") << kv.first << " " << jr_err_name(d.status);
      }
      unsent_checked++;
    }
  }
  // Nothing went to the demoted master once libjr knew of the switch: a
  // write acknowledged 100 ms or more after +switch-master is on the new
  // master. (Writes the old master took during the sentinels' own switch
  // window may be lost: Redis Sentinel's known limit.)
  size_t late_checked = 0;
  for (auto &kv : load.done) {
    if (!kv.second.ok || ms_since(switched, kv.second.at) < 100) continue;
    EXPECT_EQ(get_on(*m, kv.first), "x") << kv.first;
    late_checked++;
  }
  EXPECT_GT(late_checked, 0u);
  // No error reply reached a caller (a READONLY from the demoted master is
  // taken by libjr and the command sent again to the new one).
  EXPECT_EQ(by.count(1), 0u) << "commands answered with an error reply";
  EXPECT_EQ(dup, 0u);
  EXPECT_GE(first_ok, 0) << "no success after the switch";
  std::string statuses;
  for (auto &kv : by)
    statuses += std::string(" ") +
                (kv.first == 0   ? "ok"
                 : kv.first == 1 ? "error-reply"
                                 : jr_err_name(kv.first)) +
                "=" + std::to_string(kv.second);
  std::printf(
      "[ sentinel ] %s: sentinels' failover %lld ms; +switch-master -> first success %lld ms; "
      "%zu accepted, exactly once;%s; %zu unsent checked absent; %zu acked after the switch "
      "checked on the new master\n",
      what, static_cast<long long>(failover_ms), static_cast<long long>(first_ok), load.done.size(),
      statuses.c_str(), unsent_checked, late_checked);
}

// A failover under load: `fault` makes the sentinels switch (given the
// deployment and the master's port). Commands from several threads
// complete exactly once (check_load); a subscriber and a MONITOR move to
// the new master with it.
void failover_under_load(const char *what,
                         const std::function<void(SentinelCluster &, int)> &fault) {
  SentinelCluster sc(1);
  Events ev;
  OptionsPtr o;
  sentinel_opts(o, sc, &ev);
  ClientPtr c(o);
  ASSERT_EQ(call(c.get(), {"PING"}).status, JR_OK);
  struct Msgs {
    std::mutex mu;
    std::vector<std::string> got;  // messages, and the monitor's lines
    std::atomic<int> resub{0};
  } msgs, mon;
  jr_sub *sub = nullptr;
  ASSERT_EQ(jr_sub_new(
                c.get(),
                [](void *ud, int st, const jr_reply *m) {
                  auto *ms = static_cast<Msgs *>(ud);
                  if (st == JR_SUB_RESUBSCRIBED) ms->resub++;
                  if (st != 0 || jr_reply_get_type(m) != JR_REPLY_ARRAY || jr_reply_len(m) != 3)
                    return;
                  size_t n = 0;
                  const char *kind = jr_reply_str(jr_reply_element(m, 0), &n);
                  if (std::string(kind, n) != "message") return;
                  const char *p = jr_reply_str(jr_reply_element(m, 2), &n);
                  std::lock_guard<std::mutex> lk(ms->mu);
                  ms->got.emplace_back(p, n);
                },
                &msgs, &sub),
            JR_OK);
  const char *ch[] = {"jrchan"};
  size_t chl[] = {6};
  ASSERT_EQ(jr_sub_subscribe(sub, JR_SUB_CHANNELS, 1, ch, chl), JR_OK);
  jr_monitor *monitor = nullptr;
  ASSERT_EQ(jr_monitor_new(
                c.get(),
                [](void *ud, int st, const jr_reply *line) {
                  auto *ms = static_cast<Msgs *>(ud);
                  if (st == JR_SUB_RESUBSCRIBED) ms->resub++;
                  if (st != 0 || line == nullptr) return;
                  size_t n = 0;
                  const char *p = jr_reply_str(line, &n);
                  std::lock_guard<std::mutex> lk(ms->mu);
                  ms->got.emplace_back(p, n);
                },
                &mon, &monitor),
            JR_OK);
  std::this_thread::sleep_for(std::chrono::milliseconds(200));

  int old_port = sc.master_port();
  Load load(c.get());
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  auto t0 = Clock::now();
  fault(sc, old_port);
  Clock::time_point switched;
  for (int i = 0; i < 500 && !ev.find("+switch-master", &switched, t0); i++)
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  ASSERT_TRUE(ev.find("+switch-master", &switched, t0)) << ev.all();
  std::this_thread::sleep_for(std::chrono::milliseconds(700));
  load.stop();
  int new_port = sc.master_port();
  EXPECT_NE(new_port, old_port);
  check_load(load, sc, switched, what, ms_since(t0, switched));

  // Pub/sub and MONITOR moved with the master: a message published there
  // arrives, and the monitor sees the command.
  for (int i = 0; i < 150 && (msgs.resub.load() == 0 || mon.resub.load() == 0); i++)
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  EXPECT_GE(msgs.resub.load(), 1);
  EXPECT_GE(mon.resub.load(), 1);
  ASSERT_NE(sc.by_port(new_port)->cmd("PUBLISH jrchan after").find(":1"), std::string::npos);
  auto seen = [](Msgs &ms, const std::string &text) {
    for (int i = 0; i < 10; i++) {
      {
        std::lock_guard<std::mutex> lk(ms.mu);
        for (auto &g : ms.got)
          if (g.find(text) != std::string::npos) return true;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return false;
  };
  bool published = false;
  for (int i = 0; i < 10 && !published; i++) published = seen(msgs, "after");
  EXPECT_TRUE(published);
  {
    std::lock_guard<std::mutex> lk(msgs.mu);
    EXPECT_EQ(msgs.got.size(), 1u);
  }
  // ECHO is not replicated: only a monitor on the new master sees it.
  bool echoed = false;
  for (int i = 0; i < 30 && !echoed; i++) {
    sc.by_port(new_port)->cmd("ECHO jrmon-after");
    echoed = seen(mon, "jrmon-after");
  }
  EXPECT_TRUE(echoed);
  jr_monitor_free(monitor);
  jr_sub_free(sub);
}

TEST(SentinelFailover, SentinelFailoverCommandUnderLoad) {
  failover_under_load("SENTINEL FAILOVER", [](SentinelCluster &sc, int) {
    ASSERT_NE(sc.sentinel(0).cmd(std::string("SENTINEL FAILOVER ") + kName).find("OK"),
              std::string::npos);
  });
}

TEST(SentinelFailover, KillMasterUnderLoad) {
  failover_under_load("kill -9 of the master",
                      [](SentinelCluster &sc, int old_port) { sc.by_port(old_port)->kill9(); });
}

}  // namespace
