// SPDX-License-Identifier: MIT
// Observability: jr_client_stats and the per-endpoint figures against what
// each test did, the latency histogram against DEBUG SLEEP, the trace hook's
// fields, the Prometheus text, the log hook's levels, error details, and a
// reader thread racing the loop thread (run under TSan by scripts/test).
#include <gtest/gtest.h>
#include <jr/jr.h>

#include <atomic>
#include <cstddef>
#include <cstring>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "jr_test.hpp"
#include "redis_server.hpp"
#include "shared_server.hpp"

using namespace jrtest;

namespace {

jr_endpoint_stats endpoint_of(jr_client *c, size_t i) {
  jr_endpoint_stats e;
  std::memset(&e, 0, sizeof e);
  e.size = sizeof e;
  EXPECT_EQ(jr_client_endpoint_stats(c, i, &e), JR_OK);
  return e;
}

std::string stats_text(jr_client *c) {
  int64_t n = jr_client_stats_text(c, nullptr, 0);
  EXPECT_GT(n, 0);
  std::string s(static_cast<size_t>(n) + 1, '\0');
  EXPECT_EQ(jr_client_stats_text(c, s.data(), s.size()), n);
  s.resize(static_cast<size_t>(n));
  return s;
}

class Observe : public jrtest::SharedServer<Observe> {};

}  // namespace

TEST_F(Observe, CountersMatchWhatTheTestDid) {
  OptionsPtr o;
  o.set("endpoint", server_->endpoint());
  ClientPtr c(o);
  jr_stats s0 = stats_of(c);
  EXPECT_EQ(s0.size, sizeof(jr_stats));
  EXPECT_EQ(s0.submitted, 0u);
  EXPECT_EQ(s0.completed, 0u);
  EXPECT_EQ(s0.connects, 0u);  // lazy: nothing connected yet
  const int n = 50;
  for (int i = 0; i < n; i++) ASSERT_TRUE(call(c, {"SET", "obs:k" + std::to_string(i), "v"}).ok());
  Result bad = call(c, {"NOSUCHCOMMAND"});
  ASSERT_EQ(bad.status, JR_OK);
  ASSERT_EQ(bad.type(), JR_REPLY_ERROR);
  Recorder rec;
  for (int i = 0; i < n; i++) ASSERT_EQ(submit(c, {"GET", "obs:k" + std::to_string(i)}, rec, i), 0);
  ASSERT_TRUE(rec.wait_all());
  jr_stats s = stats_of(c);
  EXPECT_EQ(s.submitted, 2u * n + 1);
  EXPECT_EQ(s.completed, 2u * n + 1);
  EXPECT_EQ(s.server_errors, 1u);
  EXPECT_EQ(s.library_errors, 0u);
  EXPECT_EQ(s.timeouts, 0u);
  EXPECT_EQ(s.cancels, 0u);
  EXPECT_EQ(s.in_flight, 0u);
  EXPECT_EQ(s.connects, 1u);
  EXPECT_EQ(s.disconnects, 0u);
  EXPECT_EQ(s.connect_failures, 0u);
  EXPECT_EQ(s.redirects, 0u);
  EXPECT_EQ(s.cache_hits + s.cache_misses + s.cache_invalidations, 0u);
  // Each SET is "*3\r\n$3\r\nSET\r\n$7+\r\nobs:kN\r\n$1\r\nv\r\n" or longer.
  EXPECT_GE(s.bytes_written, static_cast<uint64_t>(n) * 30);
  EXPECT_GE(s.bytes_read, static_cast<uint64_t>(n) * (5 + 7));  // +OK\r\n and $1\r\nv\r\n
  jr_endpoint_stats e = endpoint_of(c, 0);
  EXPECT_STREQ(e.endpoint, server_->endpoint().c_str());
  EXPECT_EQ(e.connections, 1u);
  EXPECT_EQ(e.completed, 2u * n + 1);
  EXPECT_EQ(e.server_errors, 1u);
  EXPECT_EQ(e.connects, 1u);
  EXPECT_EQ(e.bytes_written, s.bytes_written);
  EXPECT_EQ(e.bytes_read, s.bytes_read);
  jr_endpoint_stats none;
  none.size = sizeof none;
  EXPECT_EQ(jr_client_endpoint_stats(c, 1, &none), JR_ENOENT);
}

TEST_F(Observe, SizedStructFillsOnlyWhatTheCallerKnows) {
  OptionsPtr o;
  o.set("endpoint", server_->endpoint());
  ClientPtr c(o);
  ASSERT_TRUE(call(c, {"PING"}).ok());
  // An older caller: its struct ends after `completed`.
  jr_stats s;
  std::memset(&s, 0xAB, sizeof s);
  s.size = offsetof(jr_stats, completed) + sizeof(uint64_t);
  ASSERT_EQ(jr_client_stats(c, &s), JR_OK);
  EXPECT_EQ(s.size, offsetof(jr_stats, completed) + sizeof(uint64_t));
  EXPECT_EQ(s.submitted, 1u);
  EXPECT_EQ(s.completed, 1u);
  uint64_t untouched;
  std::memset(&untouched, 0xAB, sizeof untouched);
  EXPECT_EQ(s.server_errors, untouched);
  // A newer caller: a larger struct; size says what was filled.
  struct Bigger {
    jr_stats s;
    uint64_t future;
  } b;
  std::memset(&b, 0, sizeof b);
  b.s.size = sizeof b;
  ASSERT_EQ(jr_client_stats(c, &b.s), JR_OK);
  EXPECT_EQ(b.s.size, sizeof(jr_stats));
  EXPECT_EQ(b.future, 0u);
  s.size = 3;  // smaller than the size field itself
  EXPECT_EQ(jr_client_stats(c, &s), JR_EINVAL);
  EXPECT_EQ(jr_client_stats(nullptr, &s), JR_EINVAL);
  EXPECT_EQ(jr_client_stats(c, nullptr), JR_EINVAL);
}

TEST_F(Observe, AKillIsOneDisconnectAndOneConnect) {
  RedisServer srv;
  OptionsPtr o;
  o.set("endpoint", srv.endpoint());
  ClientPtr c(o);
  ASSERT_TRUE(call(c, {"PING"}).ok());
  srv.kill9();
  srv.start();
  // The loss is noticed on the next command (or at once, by the read).
  ASSERT_TRUE(eventually([&] { return call(c, {"PING"}, 1000).ok(); }, 10000));
  jr_stats s = stats_of(c);
  EXPECT_EQ(s.disconnects, 1u);
  EXPECT_EQ(s.connects, 2u);
  jr_endpoint_stats e = endpoint_of(c, 0);
  EXPECT_EQ(e.connections, 1u);
  EXPECT_EQ(e.disconnects, 1u);
}

TEST_F(Observe, TimeoutsCancelsAndLibraryErrors) {
  OptionsPtr o;
  o.set("endpoint", server_->endpoint());
  ClientPtr c(o);
  ASSERT_TRUE(call(c, {"PING"}).ok());
  // A deadline that passes while the server sleeps: one timeout.
  Result r = call(c, {"DEBUG", "SLEEP", "0.3"}, 50);
  EXPECT_EQ(r.status, JR_ETIMEDOUT);
  // Behind a sleeping command, a GET written and then cancelled.
  Recorder rec;
  ASSERT_EQ(submit(c, {"DEBUG", "SLEEP", "0.2"}, rec, 0, 5000), 0);
  jr_req_id id = 0;
  ASSERT_EQ(submit(c, {"GET", "obs:x"}, rec, 1, 5000, &id), 0);
  ASSERT_EQ(jr_cancel(c, id), JR_OK);
  ASSERT_TRUE(rec.wait_all());
  int st = rec.get(1).status;
  EXPECT_TRUE(st == JR_ECANCELED || st == JR_EABANDONED) << jr_err_name(st);
  // The timed-out sleep's late reply is dropped, not counted twice.
  ASSERT_TRUE(call(c, {"PING"}).ok());
  jr_stats s = stats_of(c);
  EXPECT_EQ(s.timeouts, 1u);
  EXPECT_EQ(s.cancels, 1u);
  EXPECT_EQ(s.library_errors, 2u);
  EXPECT_EQ(s.completed, 5u);
  EXPECT_EQ(s.submitted, 5u);
}

TEST_F(Observe, LatencyHistogramSeesDebugSleep) {
  OptionsPtr o;
  o.set("endpoint", server_->endpoint());
  ClientPtr c(o);
  uint64_t ns = 0;
  EXPECT_EQ(jr_client_latency(c, 50, &ns), JR_ENOENT);
  for (int i = 0; i < 3; i++) ASSERT_TRUE(call(c, {"DEBUG", "SLEEP", "0.1"}).ok());
  ASSERT_EQ(jr_client_latency(c, 100, &ns), JR_OK);
  // The bucket's upper bound: at most 25% above the true latency (100 ms
  // plus what a loaded machine or a sanitizer adds).
  EXPECT_GE(ns, 100000000u);
  EXPECT_LE(ns, 500000000u);
  ASSERT_EQ(jr_client_latency(c, 0, &ns), JR_OK);
  EXPECT_GE(ns, 100000000u);
  // 97 fast commands: the median is far below the sleep, p99 is the sleep.
  for (int i = 0; i < 97; i++) ASSERT_TRUE(call(c, {"PING"}).ok());
  ASSERT_EQ(jr_client_latency(c, 50, &ns), JR_OK);
  EXPECT_LT(ns, 50000000u);
  ASSERT_EQ(jr_client_latency(c, 99, &ns), JR_OK);
  EXPECT_GE(ns, 100000000u);
  // The buckets: ascending bounds, counts that add up to the requests.
  uint64_t total = 0;
  uint64_t prev = 0;
  size_t i = 0;
  for (;; i++) {
    uint64_t up = 0;
    uint64_t n = 0;
    int rc = jr_client_latency_bucket(c, i, &up, &n);
    if (rc == JR_ENOENT) break;
    ASSERT_EQ(rc, JR_OK);
    EXPECT_GT(up, prev);
    prev = up;
    total += n;
  }
  EXPECT_EQ(prev, UINT64_MAX);
  EXPECT_GT(i, 100u);
  EXPECT_EQ(total, 100u);
  EXPECT_EQ(jr_client_latency(c, 101, &ns), JR_EINVAL);
  EXPECT_EQ(jr_client_latency(c, -1, &ns), JR_EINVAL);
  EXPECT_EQ(jr_client_latency(c, 50, nullptr), JR_EINVAL);
}

namespace {
struct TraceLog {
  std::mutex mu;
  struct Entry {
    std::string command, endpoint;
    int db, status, reply_type;
    uint64_t submit_ns, write_ns, reply_ns, reply_bytes;
    size_t size;
  };
  std::vector<Entry> entries;
  static void cb(void *ctx, const jr_trace *t) {
    auto *self = static_cast<TraceLog *>(ctx);
    std::lock_guard<std::mutex> lk(self->mu);
    self->entries.push_back(Entry{std::string(t->command, t->command_len), t->endpoint, t->db,
                                  t->status, t->reply_type, t->submit_ns, t->write_ns, t->reply_ns,
                                  t->reply_bytes, t->size});
  }
};
}  // namespace

TEST_F(Observe, TraceHookGivesNameEndpointDbTimesStatusAndSize) {
  TraceLog log;
  OptionsPtr o;
  o.set("endpoint", server_->endpoint());
  ASSERT_EQ(jr_options_set_trace_cb(o.o, TraceLog::cb, &log), JR_OK);
  ClientPtr c(o);
  jr_db *db = nullptr;
  ASSERT_EQ(jr_db_new(c, 3, &db), JR_OK);
  std::string big(1000, 'x');
  ASSERT_TRUE(call(db, {"SET", "obs:secretkey", big}).ok());
  Result g = call(db, {"get", "obs:secretkey"});
  ASSERT_EQ(g.str(), big);
  Result e = call(c, {"NOSUCHCOMMAND", "arg"});
  ASSERT_EQ(e.type(), JR_REPLY_ERROR);
  Result t = call(c, {"DEBUG", "SLEEP", "0.2"}, 20);
  ASSERT_EQ(t.status, JR_ETIMEDOUT);
  jr_db_free(db);
  std::lock_guard<std::mutex> lk(log.mu);
  ASSERT_EQ(log.entries.size(), 4u);
  const auto &set = log.entries[0];
  EXPECT_EQ(set.size, sizeof(jr_trace));
  EXPECT_EQ(set.command, "SET");  // the first argument only
  EXPECT_EQ(set.endpoint, server_->endpoint());
  EXPECT_EQ(set.db, 3);
  EXPECT_EQ(set.status, JR_OK);
  EXPECT_EQ(set.reply_type, JR_REPLY_STATUS);
  EXPECT_GT(set.submit_ns, 0u);
  EXPECT_GE(set.write_ns, set.submit_ns);
  EXPECT_GE(set.reply_ns, set.write_ns);
  const auto &get = log.entries[1];
  EXPECT_EQ(get.command, "get");  // as sent
  EXPECT_EQ(get.reply_type, JR_REPLY_STRING);
  EXPECT_GE(get.reply_bytes, 1000u);
  EXPECT_EQ(log.entries[2].command, "NOSUCHCOMMAND");
  EXPECT_EQ(log.entries[2].reply_type, JR_REPLY_ERROR);
  EXPECT_EQ(log.entries[2].db, 0);
  const auto &slow = log.entries[3];
  EXPECT_EQ(slow.command, "DEBUG");
  EXPECT_EQ(slow.status, JR_ETIMEDOUT);
  EXPECT_EQ(slow.reply_type, 0);
  EXPECT_EQ(slow.reply_bytes, 0u);
  EXPECT_GE(slow.reply_ns - slow.submit_ns, 20000000u);
}

TEST_F(Observe, PrometheusTextAndTruncation) {
  OptionsPtr o;
  o.set("endpoint", server_->endpoint());
  ClientPtr c(o);
  for (int i = 0; i < 7; i++) ASSERT_TRUE(call(c, {"PING"}).ok());
  std::string text = stats_text(c);
  std::string ep = "{endpoint=\"" + server_->endpoint() + "\"}";
  EXPECT_NE(text.find("# TYPE jr_commands_completed_total counter\n"), std::string::npos) << text;
  EXPECT_NE(text.find("jr_commands_completed_total" + ep + " 7\n"), std::string::npos) << text;
  EXPECT_NE(text.find("jr_commands_completed_total{endpoint=\"\"} 0\n"), std::string::npos);
  EXPECT_NE(text.find("jr_connects_total" + ep + " 1\n"), std::string::npos);
  EXPECT_NE(text.find("jr_connections" + ep + " 1\n"), std::string::npos);
  EXPECT_NE(text.find("jr_requests_submitted_total 7\n"), std::string::npos);
  EXPECT_NE(text.find("jr_request_duration_seconds_bucket{le=\"+Inf\"} 7\n"), std::string::npos);
  EXPECT_NE(text.find("jr_request_duration_seconds_count 7\n"), std::string::npos);
  // Every line is a comment or "name[{labels}] value".
  size_t lines = 0;
  for (size_t at = 0; at < text.size();) {
    size_t nl = text.find('\n', at);
    ASSERT_NE(nl, std::string::npos) << "no final newline";
    std::string line = text.substr(at, nl - at);
    at = nl + 1;
    lines++;
    if (line.rfind("# ", 0) == 0) continue;
    ASSERT_EQ(line.rfind("jr_", 0), 0u) << line;
    ASSERT_NE(line.find(' '), std::string::npos) << line;
  }
  EXPECT_GT(lines, 40u);
  // snprintf semantics: the needed length, a cut copy, always terminated.
  char small[16];
  std::memset(small, 'Z', sizeof small);
  int64_t need = jr_client_stats_text(c, small, sizeof small);
  EXPECT_EQ(need, static_cast<int64_t>(text.size()));
  EXPECT_EQ(std::string(small), text.substr(0, sizeof small - 1));
  char one = 'Z';
  EXPECT_EQ(jr_client_stats_text(c, &one, 1), need);
  EXPECT_EQ(one, '\0');
  EXPECT_EQ(jr_client_stats_text(c, nullptr, 5), JR_EINVAL);
  EXPECT_EQ(jr_client_stats_text(nullptr, small, sizeof small), JR_EINVAL);
}

namespace {
struct Logs {
  std::mutex mu;
  struct Line {
    int level, event;
    std::string endpoint, text;
  };
  std::vector<Line> lines;
  std::vector<int> events;  // the 0.1 event callback's
  static void log_cb(void *ctx, int level, int event, const char *ep, const char *text) {
    auto *self = static_cast<Logs *>(ctx);
    std::lock_guard<std::mutex> lk(self->mu);
    self->lines.push_back(Line{level, event, ep, text});
  }
  static void event_cb(void *ctx, int event, const char *, const char *) {
    auto *self = static_cast<Logs *>(ctx);
    std::lock_guard<std::mutex> lk(self->mu);
    self->events.push_back(event);
  }
  size_t count(int level, const std::string &needle) {
    std::lock_guard<std::mutex> lk(mu);
    size_t n = 0;
    for (auto &l : lines)
      if (l.level == level && l.text.find(needle) != std::string::npos) n++;
    return n;
  }
};
}  // namespace

TEST_F(Observe, LogHookLevelsAndTheOldEventCallback) {
  Logs logs;
  RedisServer srv;
  OptionsPtr o;
  o.set("endpoint", srv.endpoint()).set_int("connect_retry", 1).set_int("connect_timeout_ms", 500);
  ASSERT_EQ(jr_options_set_log_cb(o.o, Logs::log_cb, &logs), JR_OK);
  ASSERT_EQ(jr_options_set_event_cb(o.o, Logs::event_cb, &logs), JR_OK);
  ClientPtr c(o);
  ASSERT_TRUE(call(c, {"PING"}).ok());
  EXPECT_EQ(logs.count(JR_LOG_DEBUG, "shared connection: connecting"), 1u);
  EXPECT_EQ(logs.count(JR_LOG_INFO, "shared connection: connected"), 1u);
  srv.kill9();
  Result r = call(c, {"PING"}, 5000);
  EXPECT_NE(r.status, JR_OK);
  EXPECT_EQ(logs.count(JR_LOG_WARN, "shared connection: lost"), 1u);
  EXPECT_GE(logs.count(JR_LOG_WARN, "shared connection: attempt failed"), 2u);
  EXPECT_EQ(logs.count(JR_LOG_ERROR, "giving up"), 1u);
  jr_stats s = stats_of(c);
  EXPECT_GE(s.connect_failures, 2u);
  std::lock_guard<std::mutex> lk(logs.mu);
  for (int ev : logs.events) EXPECT_TRUE(ev >= 1 && ev <= 4) << ev;  // 0.1's four events only
  for (auto &l : logs.lines) {
    EXPECT_TRUE(l.level >= JR_LOG_ERROR && l.level <= JR_LOG_DEBUG);
    EXPECT_TRUE(l.event >= JR_EVENT_CONNECTED && l.event <= JR_EVENT_STATE);
  }
}

// Readers on other threads while the loop thread counts: each counter has
// one writer (relaxed load and store) and any number of relaxed readers.
// TSan (scripts/test's tsan build runs this suite) reports a data race if
// a counter were a plain integer.
TEST_F(Observe, ReadersRaceTheLoopThread) {
  OptionsPtr o;
  o.set("endpoint", server_->endpoint());
  ClientPtr c(o);
  std::atomic<bool> stop{false};
  std::atomic<uint64_t> reads{0};
  std::vector<std::thread> readers;
  for (int t = 0; t < 2; t++) {
    readers.emplace_back([&] {
      char buf[256];
      while (!stop.load()) {
        jr_stats s;
        s.size = sizeof s;
        jr_client_stats(c, &s);
        jr_endpoint_stats e;
        e.size = sizeof e;
        jr_client_endpoint_stats(c, 0, &e);
        uint64_t ns;
        jr_client_latency(c, 99, &ns);
        jr_client_stats_text(c, buf, sizeof buf);
        reads++;
      }
    });
  }
  Recorder rec;
  for (int i = 0; i < 2000; i++) ASSERT_EQ(submit(c, {"INCR", "obs:race"}, rec, i), 0);
  ASSERT_TRUE(rec.wait_all());
  stop = true;
  for (auto &t : readers) t.join();
  EXPECT_GT(reads.load(), 0u);
  EXPECT_EQ(stats_of(c).completed, 2000u);
}

TEST(ObserveErrors, AFailedConnectNamesTheEndpointAndTheReason) {
  int port = free_port();  // nothing listens there
  std::string ep = "127.0.0.1:" + std::to_string(port);
  OptionsPtr o;
  o.set("endpoint", ep).set_int("connect_retry", 0);
  ClientPtr c(o);
  struct Seen {
    std::mutex mu;
    int status = 0;
    std::string detail;
    bool done = false;
  } seen;
  const char *argv[] = {"PING"};
  ASSERT_EQ(jr_client_submit(
                c, 1, argv, nullptr, 2000,
                [](void *ud, int status, const jr_reply *) {
                  auto *s = static_cast<Seen *>(ud);
                  const char *d = jr_error_detail();
                  std::lock_guard<std::mutex> lk(s->mu);
                  s->status = status;
                  s->detail = d != nullptr ? d : "(null)";
                  s->done = true;
                },
                &seen, nullptr),
            JR_OK);
  ASSERT_TRUE(eventually([&] {
    std::lock_guard<std::mutex> lk(seen.mu);
    return seen.done;
  }));
  EXPECT_EQ(seen.status, JR_ECONNECT);
  EXPECT_NE(seen.detail.find("connect " + ep), std::string::npos) << seen.detail;
  EXPECT_NE(seen.detail.find("ECONNREFUSED"), std::string::npos) << seen.detail;
  // jr_client_call: read on the caller's thread after it returns.
  Result r = call(c, {"PING"}, 2000);
  EXPECT_EQ(r.status, JR_ECONNECT);
  const char *d = jr_error_detail();
  ASSERT_NE(d, nullptr);
  EXPECT_NE(std::string(d).find("ECONNREFUSED"), std::string::npos) << d;
  // A success leaves no detail behind.
  RedisServer srv;
  OptionsPtr o2;
  o2.set("endpoint", srv.endpoint());
  ClientPtr c2(o2);
  ASSERT_TRUE(call(c2, {"PING"}).ok());
  EXPECT_EQ(jr_error_detail(), nullptr);
}

// A blocking call's detail belongs to its caller's thread, and no later
// failure completed on that thread inherits it. Here the thread is client
// a's loop thread: a success callback of a calls jr_client_call on client b,
// whose server is not there. a's next failure (a cancel: no detail) must
// have none; it had b's connect failure when one thread-local held both.
TEST(ObserveErrors, ABlockingCallsDetailDoesNotLeakIntoLaterFailures) {
  RedisServer srv;
  OptionsPtr oa;
  oa.set("endpoint", srv.endpoint()).set_int("connect_retry", 0);
  ClientPtr a(oa);
  OptionsPtr ob;
  ob.set("endpoint", "127.0.0.1:" + std::to_string(free_port())).set_int("connect_retry", 0);
  ClientPtr b(ob);
  struct Seen {
    jr_client *b;
    std::mutex mu;
    int call_status = 0;
    std::string call_detail;
    bool called = false;
  } seen;
  seen.b = b.get();
  const char *ping[] = {"PING"};
  ASSERT_EQ(jr_client_submit(
                a, 1, ping, nullptr, 5000,
                [](void *ud, int status, const jr_reply *) {
                  auto *s = static_cast<Seen *>(ud);
                  if (status != JR_OK) return;
                  jr_reply *r = nullptr;
                  const char *argv[] = {"PING"};
                  int rc = jr_client_call(s->b, 1, argv, nullptr, 2000, &r);
                  jr_reply_free(r);
                  const char *d = jr_error_detail();
                  std::lock_guard<std::mutex> lk(s->mu);
                  s->call_status = rc;
                  s->call_detail = d != nullptr ? d : "(null)";
                  s->called = true;
                },
                &seen, nullptr),
            JR_OK);
  ASSERT_TRUE(eventually([&] {
    std::lock_guard<std::mutex> lk(seen.mu);
    return seen.called;
  }));
  EXPECT_EQ(seen.call_status, JR_ECONNECT);
  EXPECT_NE(seen.call_detail.find("ECONNREFUSED"), std::string::npos) << seen.call_detail;
  // A cancel on a: JR_ECANCELED or JR_EABANDONED, which have no detail.
  struct Late {
    std::mutex mu;
    int status = 0;
    std::string detail;
    bool done = false;
  } late;
  const char *blpop[] = {"BLPOP", "obs:detail:none", "1"};
  jr_req_id id = 0;
  ASSERT_EQ(jr_client_submit(
                a, 3, blpop, nullptr, 5000,
                [](void *ud, int status, const jr_reply *) {
                  auto *l = static_cast<Late *>(ud);
                  const char *d = jr_error_detail();
                  std::lock_guard<std::mutex> lk(l->mu);
                  l->status = status;
                  l->detail = d != nullptr ? d : "(null)";
                  l->done = true;
                },
                &late, &id),
            JR_OK);
  ASSERT_EQ(jr_cancel(a, id), JR_OK);
  ASSERT_TRUE(eventually([&] {
    std::lock_guard<std::mutex> lk(late.mu);
    return late.done;
  }));
  EXPECT_TRUE(late.status == JR_ECANCELED || late.status == JR_EABANDONED)
      << jr_err_name(late.status);
  EXPECT_EQ(late.detail, "(null)");
}
