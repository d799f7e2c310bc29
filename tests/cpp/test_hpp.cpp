// SPDX-License-Identifier: MIT
// Tests of jr.hpp (the C++ wrapper) against a real redis-server.
#include <gtest/gtest.h>
#include <poll.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <coroutine>
#include <fstream>
#include <future>
#include <iterator>
#include <jr/jr.hpp>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "jr_test.hpp"
#include "redis_sentinel.hpp"
#include "redis_server.hpp"
#include "shared_server.hpp"

using namespace std::chrono_literals;
using jrtest::RedisServer;

namespace {

// A minimal eager coroutine task for the tests: its result arrives through a
// std::future (jr.hpp ships awaitables, not a task type).
template <class T>
struct Task {
  struct promise_type {
    std::promise<T> done;
    Task get_return_object() { return Task{done.get_future()}; }
    std::suspend_never initial_suspend() noexcept { return {}; }
    std::suspend_never final_suspend() noexcept { return {}; }
    void return_value(T v) { done.set_value(std::move(v)); }
    void unhandled_exception() { done.set_exception(std::current_exception()); }
  };
  std::future<T> result;
};

// The error a future holds, copied out while the future's shared state is
// still held (share()). With libstdc++ the exception's reference count is not
// visible to ThreadSanitizer, so reading an exception after plain get() has
// dropped the state, while the completion thread frees it, is reported as a
// race (a false positive this sidesteps).
template <class E, class T = jr::Reply>
std::optional<E> error_of(std::future<T> &f) {
  std::shared_future<T> sf = f.share();
  try {
    sf.get();
  } catch (const E &e) {
    return e;
  }
  return std::nullopt;
}

}  // namespace

class HppTest : public jrtest::SharedServer<HppTest> {
 protected:
  static jr::Options opts() { return jr::Options().endpoint(server_->endpoint()); }
};

TEST_F(HppTest, CallReturnsTypedReplies) {
  jr::Client c(opts());
  jr::Reply ok = c.call({"SET", "hpp:k", "hello"});
  EXPECT_EQ(ok.type(), jr::Type::status);
  EXPECT_EQ(ok.view(), "OK");
  EXPECT_EQ(c.call({"GET", "hpp:k"}).as_string(), "hello");
  EXPECT_TRUE(c.call({"GET", "hpp:missing"}).is_nil());
  EXPECT_EQ(c.call({"GET", "hpp:missing"}).as_optional_string(), std::nullopt);
  c.call({"DEL", "hpp:n"});
  EXPECT_EQ(c.call({"INCRBY", "hpp:n", "41"}).as_integer(), 41);
  EXPECT_THROW(static_cast<void>(c.call({"GET", "hpp:k"}).as_integer()), jr::TypeError);
}

// send_many: one future per command, in order; a refused command's future
// holds its LibraryError and the others still run; on a view too.
TEST_F(HppTest, SendManyIsOnePipelineOfFutures) {
  jr::Client c(opts());
  c.call({"DEL", "hpp:many"});
  jr::Args cmds[] = {{"RPUSH", "hpp:many", "a"},
                     {"SELECT", "1"},
                     {"RPUSH", "hpp:many", "b"},
                     {"LRANGE", "hpp:many", "0", "-1"}};
  auto fs = c.send_many(cmds);
  ASSERT_EQ(fs.size(), 4u);
  EXPECT_EQ(fs[0].get().integer(), 1);
  try {
    fs[1].get();
    ADD_FAILURE() << "SELECT was not refused";
  } catch (const jr::LibraryError &e) {
    EXPECT_EQ(e.code(), JR_EREFUSED);
  }
  EXPECT_EQ(fs[2].get().integer(), 2);
  jr::Reply all = fs[3].get();
  ASSERT_EQ(all.size(), 2u);
  EXPECT_EQ(all[1].str(), "b");
  EXPECT_TRUE(c.send_many({}).empty());
  jr::Db db = c.db(4);
  jr::Args set[] = {{"SET", "hpp:many:db", "four"}};
  EXPECT_EQ(db.send_many(set)[0].get().str(), "OK");
  EXPECT_NE(server_->cmd("SELECT 4\r\nGET hpp:many:db").find("four"), std::string::npos);
  c.call({"DEL", "hpp:many"});
}

TEST_F(HppTest, ArgsFromContainersAndBinaryData) {
  jr::Client c(opts());
  std::string key("hpp:\0bin", 8);
  std::string value("a\0b\r\nc", 6);
  std::vector<std::string> set = {"SET", key, value};
  c.call(set);
  std::vector<std::string_view> get = {"GET", key};
  EXPECT_EQ(c.call(get).str(), value);
  // More arguments than the inline buffer holds.
  std::vector<std::string> rpush = {"RPUSH", "hpp:long"};
  for (int i = 0; i < 40; i++) rpush.push_back(std::to_string(i));
  c.call({"DEL", "hpp:long"});
  EXPECT_EQ(c.call(rpush).integer(), 40);
  // An empty argument is an argument.
  c.call({"SET", "hpp:empty", ""});
  EXPECT_EQ(c.call({"STRLEN", "hpp:empty"}).integer(), 0);
}

TEST_F(HppTest, ArraysAreOwnedAndOutliveTheClient) {
  jr::Reply arr;
  {
    jr::Client c(opts());
    c.call({"DEL", "hpp:list"});
    c.call({"RPUSH", "hpp:list", "a", "b", "c"});
    arr = c.call({"LRANGE", "hpp:list", "0", "-1"});
  }
  ASSERT_TRUE(arr.is_array());
  ASSERT_EQ(arr.size(), 3u);
  std::vector<std::string> got;
  for (const jr::Reply &e : arr) got.push_back(e.str());
  EXPECT_EQ(got, (std::vector<std::string>{"a", "b", "c"}));
  jr::Reply second = arr[1];  // an element keeps the whole reply alive
  jr::Reply copy = arr;
  arr = jr::Reply();
  EXPECT_EQ(second.str(), "b");
  EXPECT_EQ(copy.at(2).str(), "c");
  EXPECT_TRUE(copy[7].empty());
  EXPECT_THROW(static_cast<void>(copy.at(7)), std::out_of_range);
  auto v = copy.as_array();
  EXPECT_EQ(v.size(), 3u);
  jr::Reply moved = std::move(copy);
  EXPECT_TRUE(copy.empty());  // NOLINT(bugprone-use-after-move)
  EXPECT_EQ(moved.size(), 3u);
}

TEST_F(HppTest, ServerErrorIsAServerError) {
  jr::Client c(opts());
  c.call({"SET", "hpp:str", "x"});
  try {
    c.call({"LPUSH", "hpp:str", "y"});
    FAIL() << "no exception";
  } catch (const jr::ServerError &e) {
    EXPECT_TRUE(e.is_server());
    EXPECT_EQ(e.kind(), jr::Error::Kind::server);
    EXPECT_EQ(e.code(), 0);
    EXPECT_EQ(e.prefix(), "WRONGTYPE");
    EXPECT_STREQ(e.name(), "server");
  }
  jr::Result r = c.try_call({"NOSUCHCOMMAND"});
  EXPECT_FALSE(r.ok());
  EXPECT_TRUE(r.is_server_error());
  EXPECT_NE(r.reply().view().find("unknown command"), std::string_view::npos);
  EXPECT_THROW(r.rethrow(), jr::ServerError);
  EXPECT_EQ(c.call({"PING"}).str(), "PONG");  // connection still fine
}

TEST_F(HppTest, LibraryErrorCarriesCodeTextAndUnsent) {
  jr::Client c(jr::Options()
                   .endpoint("127.0.0.1:" + std::to_string(jrtest::free_port()))
                   .set("connect_retry", int64_t{0})
                   .connect_timeout(300ms));
  try {
    c.call({"PING"});
    FAIL() << "no exception";
  } catch (const jr::LibraryError &e) {
    EXPECT_TRUE(e.is_library());
    EXPECT_EQ(e.code(), JR_ECONNECT);
    EXPECT_TRUE(e.unsent());
    EXPECT_STREQ(e.name(), "JR_ECONNECT");
    EXPECT_EQ(std::string(e.what()).rfind(jr_strerror(JR_ECONNECT), 0), 0u) << e.what();
  }
  // Through a future too, and as a Result.
  auto f = c.send({"PING"});
  EXPECT_THROW(f.get(), jr::LibraryError);
  jr::Result r = c.try_call({"PING"});
  EXPECT_TRUE(r.is_library_error());
  EXPECT_EQ(r.status(), JR_ECONNECT);
  EXPECT_TRUE(r.reply().empty());
}

// jr_error_detail reaches every form: the endpoint and the cause, in
// error_detail() and in what().
TEST(HppErrorDetail, ConnectFailureSaysWhereAndWhy) {
  const std::string ep = "127.0.0.1:" + std::to_string(jrtest::free_port());
  jr::Client c(jr::Options().endpoint(ep).set("connect_retry", int64_t{0}).connect_timeout(300ms));
  auto check = [&](const jr::LibraryError &e, const char *form) {
    EXPECT_EQ(e.code(), JR_ECONNECT) << form;
    EXPECT_NE(e.error_detail().find("connect " + ep), std::string::npos)
        << form << ": " << e.error_detail();
    EXPECT_NE(e.error_detail().find("ECONNREFUSED"), std::string::npos) << form;
    EXPECT_EQ(std::string(e.what()),
              std::string(jr_strerror(JR_ECONNECT)) + ": " + e.error_detail())
        << form;
    EXPECT_TRUE(e.detail().empty()) << form;  // no server text
  };
  try {
    c.call({"PING"});
    ADD_FAILURE() << "no exception";
  } catch (const jr::LibraryError &e) {
    check(e, "call");
  }
  jr::Result r = c.try_call({"PING"});
  EXPECT_NE(r.error_detail().find(ep), std::string::npos) << r.error_detail();
  // The shared state stays held on this thread until the end of the test,
  // so the loop thread never drops the exception's last reference (see
  // error_of: libstdc++'s exception and COW-string counts are invisible to
  // TSan).
  auto f = c.send({"PING"}).share();
  try {
    f.get();
    ADD_FAILURE() << "future: no exception";
  } catch (const jr::LibraryError &e) {
    check(e, "future");
  }
  std::promise<jr::Result> p;
  auto got = p.get_future();
  c.submit({"PING"}, [&p](jr::Result res) { p.set_value(std::move(res)); });
  jr::Result cb = got.get();
  try {
    cb.rethrow();
    ADD_FAILURE() << "callback: no exception";
  } catch (const jr::LibraryError &e) {
    check(e, "callback");
  }
  auto co = [](jr::Client &cl) -> Task<std::string> {
    try {
      co_await cl.async({"PING"});
    } catch (const jr::LibraryError &e) {
      co_return e.error_detail();
    }
    co_return "no exception";
  }(c);
  EXPECT_NE(co.result.get().find("connect " + ep), std::string::npos);
  // A success carries none.
  EXPECT_TRUE(jr::Result(JR_OK, jr::Reply()).error_detail().empty());
}

// ---- Observability: statistics, latency, Prometheus text, trace and log.

// Every counter against what the test did.
TEST_F(HppTest, StatsCountWhatTheTestDid) {
  jr::Client c(opts());
  jr::Stats s0 = c.stats();
  EXPECT_EQ(s0.submitted, 0u);
  EXPECT_EQ(s0.connects, 0u);  // lazy: nothing connected yet
  EXPECT_TRUE(c.endpoint_stats().empty());
  EXPECT_EQ(c.latency(50), std::nullopt);  // nothing completed
  const int n = 40;
  for (int i = 0; i < n; i++) c.call({"SET", "hpp:st" + std::to_string(i), "v"});
  std::vector<std::future<jr::Reply>> fs;
  for (int i = 0; i < n; i++) fs.push_back(c.send({"GET", "hpp:st" + std::to_string(i)}));
  for (auto &f : fs) EXPECT_EQ(f.get().str(), "v");
  EXPECT_TRUE(c.try_call({"NOSUCHCOMMAND"}).is_server_error());
  EXPECT_TRUE(c.try_call({"LPUSH"}).is_server_error());
  EXPECT_EQ(c.try_call({"DEBUG", "SLEEP", "0.2"}, 20ms).status(), JR_ETIMEDOUT);
  jr::Stats s = c.stats();
  EXPECT_EQ(s.submitted, 2u * n + 3);
  EXPECT_EQ(s.completed, 2u * n + 3);
  EXPECT_EQ(s.server_errors, 2u);
  EXPECT_EQ(s.library_errors, 1u);
  EXPECT_EQ(s.timeouts, 1u);
  EXPECT_EQ(s.cancels, 0u);
  EXPECT_EQ(s.in_flight, 0u);
  EXPECT_EQ(s.connects, 1u);
  EXPECT_EQ(s.disconnects, 0u);
  EXPECT_EQ(s.redirects, 0u);
  EXPECT_GE(s.bytes_written, static_cast<uint64_t>(n) * 30);
  EXPECT_GE(s.bytes_read, static_cast<uint64_t>(n) * (5 + 7));
  std::vector<jr::EndpointStats> eps = c.endpoint_stats();
  ASSERT_EQ(eps.size(), 1u);
  EXPECT_EQ(eps[0].endpoint, server_->endpoint());
  EXPECT_EQ(eps[0].connections, 1u);
  EXPECT_EQ(eps[0].connects, 1u);
  EXPECT_EQ(eps[0].server_errors, 2u);
  EXPECT_EQ(eps[0].bytes_written, s.bytes_written);
  EXPECT_EQ(eps[0].completed, 2u * n + 3);  // the timed-out DEBUG SLEEP had been written

  // A kill: one disconnect, then one connect for the next command.
  jr::Client killer(opts());
  int64_t id = c.call({"CLIENT", "ID"}).as_integer();
  EXPECT_EQ(killer.call({"CLIENT", "KILL", "ID", std::to_string(id)}).as_integer(), 1);
  auto until = std::chrono::steady_clock::now() + 5s;
  while (c.stats().disconnects == 0 && std::chrono::steady_clock::now() < until)
    std::this_thread::sleep_for(5ms);
  EXPECT_EQ(c.call({"PING"}).str(), "PONG");
  jr::Stats s2 = c.stats();
  EXPECT_EQ(s2.disconnects, 1u);
  EXPECT_EQ(s2.connects, 2u);
  EXPECT_EQ(s2.completed, 2u * n + 5);  // + CLIENT ID, PING
  EXPECT_EQ(c.endpoint_stats().at(0).disconnects, 1u);
}

// The histogram against a known delay, and the Prometheus text against the
// counters.
TEST_F(HppTest, LatencyAndPrometheusText) {
  jr::Client c(opts());
  for (int i = 0; i < 19; i++) c.call({"PING"});
  // The DEBUG SLEEP's own count: the histogram before and after it (on a
  // loaded machine a PING may take over 100 ms too).
  std::vector<jr::LatencyBucket> pings = c.latency_buckets();
  c.call({"DEBUG", "SLEEP", "0.1"});
  std::optional<std::chrono::nanoseconds> p50 = c.latency(50), p100 = c.latency(100);
  ASSERT_TRUE(p50 && p100);
  EXPECT_LT(*p50, 50ms);
  EXPECT_GE(*p100, 100ms);
  EXPECT_LT(*p100, 2s);
  EXPECT_THROW(static_cast<void>(c.latency(101)), jr::LibraryError);
  uint64_t total = 0, before = 0, grown = 0;
  std::vector<jr::LatencyBucket> buckets = c.latency_buckets();
  ASSERT_GT(buckets.size(), 30u);
  ASSERT_EQ(buckets.size(), pings.size());
  EXPECT_EQ(buckets.back().upper, std::chrono::nanoseconds::max());
  for (size_t i = 0; i < buckets.size(); i++) {
    ASSERT_EQ(buckets[i].upper, pings[i].upper);
    ASSERT_GE(buckets[i].count, pings[i].count);
    total += buckets[i].count;
    before += pings[i].count;
    if (buckets[i].count == pings[i].count) continue;
    EXPECT_EQ(buckets[i].count, pings[i].count + 1) << "bucket < " << buckets[i].upper.count();
    // The bucket that took the DEBUG SLEEP holds 100 ms or more.
    EXPECT_GT(buckets[i].upper, 100ms);
    grown++;
  }
  EXPECT_EQ(before, 19u);
  EXPECT_EQ(total, 20u);
  EXPECT_EQ(grown, 1u);

  std::string text = c.stats_text();
  EXPECT_EQ(text.back(), '\n');
  EXPECT_NE(text.find("# TYPE jr_commands_completed_total counter\n"), std::string::npos);
  EXPECT_NE(text.find("jr_commands_completed_total{endpoint=\"" + server_->endpoint() + "\"} 20\n"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("jr_request_duration_seconds_count 20\n"), std::string::npos);
  // Longer than the first buffer stats_text() tries: a client with many
  // endpoints (each failed one adds its series).
  jr::Client many(jr::Options().set("connect_retry", int64_t{0}).connect_timeout(200ms));
  for (int i = 0; i < 40; i++) {
    std::string ep = "127.0.0.1:" + std::to_string(jrtest::free_port());
    static_cast<void>(many.send_to(ep, {"PING"}).wait_for(2s));
  }
  std::string long_text = many.stats_text();
  EXPECT_GT(long_text.size(), 4096u);
  EXPECT_EQ(long_text.find('\0'), std::string::npos);
  EXPECT_EQ(long_text.back(), '\n');
}

// The trace hook: the command's name only, the endpoint, the status and
// ordered times; the log hook: levels, and never the password.
TEST(HppHooks, TraceAndLogSeeEveryRequestAndNoSecret) {
  RedisServer s({"--requirepass", "hpp-very-secret"});
  struct Seen {
    std::mutex mu;
    std::vector<std::string> commands, endpoints, lines;
    std::vector<int> statuses;
    std::vector<jr::LogLevel> levels;
    bool ordered = true;
    uint64_t reply_bytes = 0;
  };
  auto seen = std::make_shared<Seen>();
  std::optional<jr::Client> c;
  {
    // The handlers outlive the Options that held them: the Client keeps them.
    jr::Options o;
    o.endpoint(s.endpoint())
        .password("hpp-very-secret")
        .on_trace([seen](const jr::Trace &t) {
          std::lock_guard<std::mutex> lk(seen->mu);
          seen->commands.emplace_back(t.command);
          seen->endpoints.emplace_back(t.endpoint);
          seen->statuses.push_back(t.status);
          seen->ordered = seen->ordered && t.submit_ns != 0 && t.submit_ns <= t.reply_ns &&
                          (t.write_ns == 0 || t.write_ns <= t.reply_ns);
          seen->reply_bytes += t.reply_bytes;
        })
        .on_log([seen](jr::LogLevel level, int, std::string_view endpoint, std::string_view text) {
          std::lock_guard<std::mutex> lk(seen->mu);
          seen->levels.push_back(level);
          seen->lines.push_back(std::string(to_string(level)) + " " + std::string(endpoint) + " " +
                                std::string(text));
        });
    c.emplace(o);
  }
  c->call({"SET", "hpp:trace", "argument-never-traced"});
  EXPECT_EQ(c->call({"GET", "hpp:trace"}).str(), "argument-never-traced");
  EXPECT_EQ(c->try_call({"DEBUG", "SLEEP", "0.2"}, 20ms).status(), JR_ETIMEDOUT);
  // A lost connection (killed by another client): a warn line.
  int64_t id = c->call({"CLIENT", "ID"}).as_integer();
  jr::Client killer(jr::Options().endpoint(s.endpoint()).password("hpp-very-secret"));
  EXPECT_EQ(killer.call({"CLIENT", "KILL", "ID", std::to_string(id)}).as_integer(), 1);
  auto until = std::chrono::steady_clock::now() + 5s;
  while (c->stats().disconnects == 0 && std::chrono::steady_clock::now() < until)
    std::this_thread::sleep_for(5ms);
  EXPECT_EQ(c->call({"PING"}).str(), "PONG");
  c.reset();  // joins the loop thread: every hook has run
  ASSERT_EQ(seen->commands.size(), 5u);
  EXPECT_EQ(seen->commands[0], "SET");
  EXPECT_EQ(seen->commands[1], "GET");
  EXPECT_EQ(seen->commands[2], "DEBUG");
  EXPECT_EQ(seen->statuses[2], JR_ETIMEDOUT);
  EXPECT_EQ(seen->commands[3], "CLIENT");
  EXPECT_EQ(seen->commands[4], "PING");
  EXPECT_EQ(seen->endpoints[0], s.endpoint());
  EXPECT_EQ(seen->statuses[1], JR_OK);
  EXPECT_TRUE(seen->ordered);
  EXPECT_GT(seen->reply_bytes, 0u);
  bool info = false, warn = false;
  for (size_t i = 0; i < seen->lines.size(); i++) {
    EXPECT_EQ(seen->lines[i].find("hpp-very-secret"), std::string::npos) << seen->lines[i];
    EXPECT_EQ(seen->lines[i].find("argument-never-traced"), std::string::npos) << seen->lines[i];
    info = info || seen->levels[i] == jr::LogLevel::info;
    warn = warn || seen->levels[i] == jr::LogLevel::warn;
  }
  EXPECT_TRUE(info) << "no info line (connected)";
  EXPECT_TRUE(warn) << "no warn line (the killed connection)";
}

TEST_F(HppTest, TimeoutIsALibraryErrorThatMayHaveRun) {
  jr::Client c(opts());
  auto sleeping = c.send({"DEBUG", "SLEEP", "0.3"}, 5s);
  try {
    c.call({"PING"}, 50ms);
    FAIL() << "no exception";
  } catch (const jr::LibraryError &e) {
    EXPECT_EQ(e.code(), JR_ETIMEDOUT);
    EXPECT_FALSE(e.unsent());
  }
  EXPECT_EQ(sleeping.get().str(), "OK");
}

TEST_F(HppTest, OptionsRejectUnknownKeysAndBadValues) {
  jr::Options o;
  try {
    o.set("no_such_key", "1");
    FAIL() << "no exception";
  } catch (const jr::LibraryError &e) {
    EXPECT_EQ(e.code(), JR_ENOENT);
  }
  EXPECT_THROW(o.set("dispatch", "sideways"), jr::LibraryError);
  EXPECT_THROW(o.connect_command({"SELECT", "1"}), jr::LibraryError);
}

// The shorthands of jr::Options checked against libjr's option table
// (jr::describe_options): every key a shorthand in jr.hpp sets is known to
// libjr with a matching type (a number, int64_t{...}, for int and bool; text
// for string and enum, an enum's literal word named by its doc), and every
// libjr key has a shorthand or a reason in kNotExposed. A key libjr adds
// fails this test until jr.hpp decides. The keys are read from jr.hpp's
// source, so a new shorthand is checked without editing this test.
TEST(HppOptions, ShorthandsMatchLibjrOptionTable) {
  // libjr keys without a shorthand, and why: Options::set reaches each.
  const std::map<std::string, std::string> kNotExposed = {
      {"socket_timeout_ms", "tuning: set"},
      {"silence_timeout_ms", "tuning: set"},
      {"recv_buffer_size", "tuning: set"},
      {"tcp_keepalive_s", "tuning: set"},
      {"tcp_nodelay", "tuning: set"},
      {"max_bulk_len", "reader limit: set"},
      {"max_elements", "reader limit: set"},
      {"max_reply_bytes", "reader limit: set"},
      {"max_queued", "back-pressure: set"},
      {"max_queued_bytes", "back-pressure: set"},
      {"max_connections", "pool size: set"},
      {"call_spin_us", "tuning of Client::call: set"},
      {"loop_spin_us", "tuning: set"},
      {"ready_batch", "only with a ready hook, which jr.hpp does not install"},
      {"read_from_replicas", "cluster reads: set"},
      {"cluster", "cluster detection: set"},
  };
  std::map<std::string, jr::OptionInfo> lib;
  for (const jr::OptionInfo &o : jr::describe_options()) {
    EXPECT_TRUE(lib.emplace(std::string(o.name), o).second) << "twice: " << o.name;
  }
  ASSERT_FALSE(lib.empty());

  std::ifstream in(JR_SOURCE_ROOT "/include/jr/jr.hpp");
  ASSERT_TRUE(in) << "cannot read jr.hpp";
  const std::string src((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const size_t begin = src.find("\nclass Options {");
  const size_t end = src.find("\n};", begin);
  ASSERT_NE(begin, std::string::npos);
  ASSERT_NE(end, std::string::npos);
  const std::string body = src.substr(begin, end - begin);
  std::set<std::string> reached;
  for (size_t at = body.find("set(\""); at != std::string::npos; at = body.find("set(\"", at + 1)) {
    const size_t k0 = at + 5, k1 = body.find('"', k0);
    const std::string key = body.substr(k0, k1 - k0);
    const size_t v0 = body.find_first_not_of(", \n", k1 + 1);
    const std::string value = body.substr(v0, body.find_first_of(")\n", v0) - v0);
    reached.insert(key);
    auto it = lib.find(key);
    if (it == lib.end()) {
      ADD_FAILURE() << "a shorthand sets \"" << key << "\", which libjr does not know";
      continue;
    }
    const jr::OptionInfo &o = it->second;
    const bool number = value.rfind("int64_t{", 0) == 0;
    if (number) {
      EXPECT_TRUE(o.type == "int" || o.type == "bool")
          << key << " is set as a number (" << value << "); libjr's type is " << o.type;
    } else {
      EXPECT_TRUE(o.type == "string" || o.type == "enum")
          << key << " is set as text (" << value << "); libjr's type is " << o.type;
    }
    if (o.type == "enum" && value.front() == '"') {
      const std::string word = value.substr(1, value.find('"', 1) - 1);
      EXPECT_NE(o.doc.find(word + ":"), std::string_view::npos)
          << key << "=" << word << ": libjr's doc names no such word: " << o.doc;
    }
  }
  EXPECT_GE(reached.size(), 10u) << "the scan of class Options found too few set(\"...\") calls";
  for (const auto &[name, info] : lib) {
    const bool listed = kNotExposed.count(name) != 0;
    if (reached.count(name) != 0) {
      EXPECT_FALSE(listed) << name << " has a shorthand but is listed in kNotExposed";
    } else {
      EXPECT_TRUE(listed) << "libjr key " << name
                          << " has no shorthand: add one, or a reason in kNotExposed";
    }
  }
  for (const auto &[name, why] : kNotExposed) {
    EXPECT_EQ(lib.count(name), 1u) << "kNotExposed lists " << name << ", unknown to libjr";
  }
}

// libjr takes what each shorthand sets (LibraryError otherwise), and
// rejects out of libjr's range what a shorthand's C++ type allows.
TEST(HppOptions, ShorthandsSetValuesLibjrTakes) {
  EXPECT_NO_THROW(jr::Options()
                      .endpoint("127.0.0.1:6380")
                      .url("redis://127.0.0.1:6380/2")
                      .username("user")
                      .password("secret")
                      .client_name("app")
                      .protocol(2)
                      .connect_retry(2)
                      .database(2)
                      .command_timeout(0ms)
                      .connect_timeout(1500ms)
                      .tls()
                      .tls(false)
                      .tls_verify(false)
                      .tls_ca_file("/etc/ca.pem")
                      .tls_ca_dir("/etc/ssl/certs")
                      .tls_cert("client.crt", "client.key")
                      .tls_server_name("redis.example")
                      .sentinel("127.0.0.1:26379")
                      .sentinels({"[::1]:26380", "sentinel.example"})
                      .sentinels(std::vector<std::string>{"10.0.0.1:26381"})
                      .sentinel_master("mymaster")
                      .sentinel_auth("pw")
                      .sentinel_auth("user", "pw")
                      .poll_mode());
  EXPECT_THROW(jr::Options().sentinel("127.0.0.1:notaport"), jr::LibraryError);
  EXPECT_THROW(jr::Options().database(-1), jr::LibraryError);
  EXPECT_THROW(jr::Options().connect_timeout(0ms), jr::LibraryError);
  EXPECT_THROW(jr::Options().connect_retry(-1), jr::LibraryError);
  EXPECT_THROW(jr::Options().client_name("two words"), jr::LibraryError);
  EXPECT_THROW(jr::Options().protocol(4), jr::LibraryError);
}

// RESP3's types through jr::Reply (built with hiredis >= 1.0).
TEST_F(HppTest, Resp3TypesMapToReply) {
  if (JR_TEST_HIREDIS_MAJOR < 1) GTEST_SKIP() << "built with hiredis 0.14: no RESP3";
  jr::Client c(opts().protocol(3));
  c.call({"DEL", "hpp:r3h", "hpp:r3s"});
  c.call({"HSET", "hpp:r3h", "f", "v"});
  jr::Reply h = c.call({"HGETALL", "hpp:r3h"});
  ASSERT_TRUE(h.is_map());
  auto pairs = h.as_map();
  ASSERT_EQ(pairs.size(), 1u);
  EXPECT_EQ(pairs[0].first.as_string(), "f");
  EXPECT_EQ(pairs[0].second.as_string(), "v");
  c.call({"SADD", "hpp:r3s", "a"});
  jr::Reply s = c.call({"SMEMBERS", "hpp:r3s"});
  ASSERT_TRUE(s.is_set());
  EXPECT_EQ(s.as_array().at(0).as_string(), "a");
  EXPECT_DOUBLE_EQ(c.call({"DEBUG", "PROTOCOL", "double"}).as_double(), 3.141);
  EXPECT_TRUE(c.call({"DEBUG", "PROTOCOL", "true"}).as_bool());
  jr::Reply v = c.call({"DEBUG", "PROTOCOL", "verbatim"});
  EXPECT_EQ(v.verb_format(), "txt");
  EXPECT_EQ(v.as_string(), "This is a verbatim\nstring");
  EXPECT_THROW((void)v.as_double(), jr::TypeError);
  // The others DEBUG PROTOCOL has, each through its accessor and type.
  jr::Reply f = c.call({"DEBUG", "PROTOCOL", "false"});
  EXPECT_EQ(f.type(), jr::Type::boolean);
  EXPECT_FALSE(f.as_bool());
  EXPECT_THROW((void)f.as_integer(), jr::TypeError);
  jr::Reply big = c.call({"DEBUG", "PROTOCOL", "bignum"});
  EXPECT_TRUE(big.is_bignum());
  EXPECT_EQ(big.as_string(), "1234567999999999999999999999999999999");
  EXPECT_EQ(big.verb_format(), "");
  jr::Reply dm = c.call({"DEBUG", "PROTOCOL", "map"});
  ASSERT_TRUE(dm.is_map());
  EXPECT_EQ(dm.size(), 2 * dm.as_map().size());  // keys and values alternate
  EXPECT_TRUE(dm.as_map().at(0).second.is_bool());
  jr::Reply ds = c.call({"DEBUG", "PROTOCOL", "set"});
  ASSERT_TRUE(ds.is_set());
  EXPECT_EQ(ds.as_array().size(), ds.size());
  EXPECT_THROW((void)ds.as_map(), jr::TypeError);
  // RESP3's null is a nil like RESP2's, for the typed forms too.
  EXPECT_TRUE(c.call({"DEBUG", "PROTOCOL", "null"}).is_nil());
  EXPECT_EQ(c.call_as<jr::OptionalString>({"DEBUG", "PROTOCOL", "null"}), std::nullopt);
  EXPECT_DOUBLE_EQ(c.call({"DEBUG", "PROTOCOL", "double"}).dbl(), 3.141);
  EXPECT_EQ(c.call({"DEBUG", "PROTOCOL", "double"}).view(), "3.141");
}

// Built with hiredis 0.14, protocol=3 is refused when the client is made.
TEST_F(HppTest, Resp3RefusedWithoutHiredis1) {
  if (JR_TEST_HIREDIS_MAJOR >= 1) GTEST_SKIP() << "built with hiredis >= 1.0: RESP3 works";
  try {
    jr::Client c(opts().protocol(3));
    ADD_FAILURE() << "protocol=3 accepted with hiredis 0.14";
  } catch (const jr::LibraryError &e) {
    EXPECT_EQ(e.code(), JR_EINVAL);
  }
}

// A nil is nullopt, never "": GET, HGET, MGET, a timed-out BLPOP, in every
// form (call, future, coroutine).
TEST_F(HppTest, NilIsNulloptNotEmpty) {
  jr::Client c(opts());
  c.call({"DEL", "hpp:nil:a", "hpp:nil:empty", "hpp:nil:missing", "hpp:nil:h"});
  c.call({"SET", "hpp:nil:a", "1"});
  c.call({"SET", "hpp:nil:empty", ""});
  c.call({"HSET", "hpp:nil:h", "f", "v"});
  EXPECT_EQ(c.call_as<jr::OptionalString>({"GET", "hpp:nil:missing"}), std::nullopt);
  EXPECT_EQ(c.call_as<jr::OptionalString>({"GET", "hpp:nil:empty"}),
            std::optional<std::string>(""));
  EXPECT_EQ(c.call_as<jr::OptionalString>({"GET", "hpp:nil:a"}), "1");
  EXPECT_EQ(c.call_as<jr::OptionalString>({"HGET", "hpp:nil:h", "nope"}), std::nullopt);
  EXPECT_EQ(c.call_as<std::string>({"HGET", "hpp:nil:h", "f"}), "v");
  // A plain string cannot say nil: a TypeError, not "".
  EXPECT_THROW(static_cast<void>(c.call_as<std::string>({"GET", "hpp:nil:missing"})),
               jr::TypeError);
  EXPECT_THROW(static_cast<void>(c.call({"GET", "hpp:nil:missing"}).as_string()), jr::TypeError);
  using Strings = std::vector<jr::OptionalString>;
  EXPECT_EQ(c.call_as<Strings>({"MGET", "hpp:nil:a", "hpp:nil:missing", "hpp:nil:empty"}),
            (Strings{"1", std::nullopt, ""}));
  EXPECT_EQ(c.call_as<Strings>({"HMGET", "hpp:nil:h", "f", "g"}), (Strings{"v", std::nullopt}));
  EXPECT_THROW(static_cast<void>(c.call_as<std::vector<std::string>>({"MGET", "hpp:nil:missing"})),
               jr::TypeError);
  EXPECT_EQ(c.call_as<std::optional<int64_t>>({"ZSCORE", "hpp:nil:z", "m"}), std::nullopt);
  EXPECT_EQ(c.call_as<int64_t>({"EXISTS", "hpp:nil:a", "hpp:nil:missing"}), 1);
  // BLPOP that times out answers a nil array.
  EXPECT_EQ(c.call_as<jr::OptionalString>({"BLPOP", "hpp:nil:list", "0.01"}), std::nullopt);
  // Futures and coroutines.
  EXPECT_EQ(c.send_as<jr::OptionalString>({"GET", "hpp:nil:missing"}).get(), std::nullopt);
  EXPECT_EQ(c.send_as<jr::OptionalString>({"GET", "hpp:nil:a"}).get(), "1");
  auto typed = c.send_as<std::string>({"GET", "hpp:nil:missing"}).share();  // as in error_of
  EXPECT_THROW(typed.get(), jr::TypeError);
  auto co = [](jr::Client &cl) -> Task<std::vector<jr::OptionalString>> {
    jr::OptionalString missing =
        co_await cl.async_as<jr::OptionalString>({"GET", "hpp:nil:missing"});
    jr::OptionalString empty = co_await cl.async_as<jr::OptionalString>({"GET", "hpp:nil:empty"});
    co_return std::vector<jr::OptionalString>{missing, empty};
  }(c);
  EXPECT_EQ(co.result.get(), (Strings{std::nullopt, ""}));
  // Errors still throw as for call(): a server error, a library error.
  EXPECT_THROW(static_cast<void>(c.call_as<jr::OptionalString>({"LPUSH"})), jr::ServerError);
  EXPECT_THROW(static_cast<void>(c.call_as<jr::OptionalString>({"DEBUG", "SLEEP", "0.1"}, 10ms)),
               jr::LibraryError);
  // A database view has the typed forms too.
  jr::Db db = c.db(3);
  db.call({"DEL", "hpp:nil:a"});
  EXPECT_EQ(db.call_as<jr::OptionalString>({"GET", "hpp:nil:a"}), std::nullopt);
}

TEST_F(HppTest, ConnectCommandAndEvents) {
  std::atomic<int> connected{0};
  jr::Client c(opts()
                   .set("client_name", "hpp-client")
                   .connect_command({"SET", "hpp:on-connect", "yes"})
                   .on_event([&](int ev, std::string_view endpoint, std::string_view) {
                     if (ev == JR_EVENT_CONNECTED && !endpoint.empty()) connected++;
                   }));
  EXPECT_EQ(c.call({"CLIENT", "GETNAME"}).str(), "hpp-client");
  EXPECT_GE(connected.load(), 1);
  EXPECT_EQ(c.call({"GET", "hpp:on-connect"}).str(), "yes");
}

TEST_F(HppTest, LambdaCallbacksRunOnceAndMayBeMoveOnly) {
  jr::Client c(opts());
  c.call({"DEL", "hpp:cb"});
  constexpr int kN = 500;
  std::atomic<int> calls{0};
  std::promise<void> all;
  auto keep = std::make_shared<int>(0);
  for (int i = 0; i < kN; i++) {
    std::unique_ptr<int> move_only = std::make_unique<int>(i);
    c.submit({"INCR", "hpp:cb"}, [&, keep, p = std::move(move_only)](jr::Result r) {
      EXPECT_TRUE(r.ok());
      EXPECT_EQ(r.reply().integer(), *p + 1);  // replies arrive in order
      if (++calls == kN) all.set_value();
    });
  }
  ASSERT_EQ(all.get_future().wait_for(10s), std::future_status::ready);
  // Every callable was freed after its one call: only our copy is left.
  EXPECT_TRUE(jrtest::eventually([&] { return keep.use_count() == 1; }));
  EXPECT_EQ(calls.load(), kN);
}

TEST_F(HppTest, RefusedSubmitThrowsAndNeverCallsBack) {
  jr::Client c(opts());
  bool called = false;
  try {
    c.submit({"SELECT", "1"}, [&](jr::Result) { called = true; });
    FAIL() << "no exception";
  } catch (const jr::LibraryError &e) {
    EXPECT_EQ(e.code(), JR_EREFUSED);
  }
  EXPECT_FALSE(called);
  EXPECT_NE(jr::refusal_reason("SELECT"), nullptr);
  EXPECT_EQ(jr::refusal_reason("GET"), nullptr);
  // A refused future is a ready future with the error.
  auto f = c.send({"SUBSCRIBE", "x"});
  ASSERT_EQ(f.wait_for(0s), std::future_status::ready);
  EXPECT_THROW(f.get(), jr::LibraryError);
}

TEST_F(HppTest, FuturesPipelineInOrderFromManyThreads) {
  jr::Client c(opts());
  c.call({"DEL", "hpp:fut"});
  constexpr int kThreads = 4, kPer = 1000;
  std::vector<std::thread> threads;
  std::atomic<int> bad{0};
  for (int t = 0; t < kThreads; t++) {
    threads.emplace_back([&, t] {
      std::string key = "hpp:fut:" + std::to_string(t);
      c.call({"DEL", key});
      std::vector<std::future<jr::Reply>> fs;
      for (int i = 0; i < kPer; i++) fs.push_back(c.send({"INCR", key}));
      for (int i = 0; i < kPer; i++)
        if (fs[i].get().integer() != i + 1) bad++;
    });
  }
  for (auto &t : threads) t.join();
  EXPECT_EQ(bad.load(), 0);
}

TEST_F(HppTest, CancelBeforeTheWrite) {
  jr::Client c(opts());
  auto sleeping = c.send({"DEBUG", "SLEEP", "0.3"}, 5s);
  std::promise<jr::Result> out;
  // Let the sleep reach the server first so the INCR queues behind it.
  std::this_thread::sleep_for(50ms);
  jr::RequestId id = c.submit(
      {"INCR", "hpp:cancelled"}, [&](jr::Result r) { out.set_value(std::move(r)); }, 5s);
  EXPECT_TRUE(c.cancel(id));
  jr::Result r = out.get_future().get();
  EXPECT_TRUE(r.status() == JR_ECANCELED || r.status() == JR_EABANDONED) << r.status();
  EXPECT_FALSE(c.cancel(id));  // completed already
  sleeping.get();
}

TEST_F(HppTest, DatabaseViews) {
  jr::Client c(opts());
  jr::Db db5 = c.db(5);
  jr::Db db6 = c.db(6);
  db5.call({"SET", "hpp:db", "five"});
  db6.call({"SET", "hpp:db", "six"});
  auto f5 = db5.send({"GET", "hpp:db"});
  auto f6 = db6.send({"GET", "hpp:db"});
  EXPECT_EQ(f5.get().str(), "five");
  EXPECT_EQ(f6.get().str(), "six");
  std::promise<std::string> p;
  db6.submit({"GET", "hpp:db"}, [&](jr::Result r) { p.set_value(r.reply().str()); });
  EXPECT_EQ(p.get_future().get(), "six");
  EXPECT_THROW(static_cast<void>(c.db(-1)), jr::LibraryError);
  jr::Db moved = std::move(db5);
  EXPECT_EQ(moved.call({"GET", "hpp:db"}).str(), "five");
}

TEST_F(HppTest, PollModeRunsCallbacksInDispatch) {
  jr::Client c(opts().poll_mode());
  int fd = c.fd();
  ASSERT_GE(fd, 0);
  std::thread::id me = std::this_thread::get_id();
  int done = 0;
  bool same_thread = true;
  for (int i = 0; i < 10; i++) {
    c.submit({"PING"}, [&](jr::Result r) {
      EXPECT_EQ(r.reply().str(), "PONG");
      same_thread = same_thread && std::this_thread::get_id() == me;
      done++;
    });
  }
  auto end = std::chrono::steady_clock::now() + 5s;
  while (done < 10 && std::chrono::steady_clock::now() < end) {
    pollfd p{fd, POLLIN, 0};
    ::poll(&p, 1, 100);
    c.dispatch();
  }
  EXPECT_EQ(done, 10);
  EXPECT_TRUE(same_thread);
  // call() works without dispatching.
  EXPECT_EQ(c.call({"PING"}).str(), "PONG");
}

namespace {
Task<std::string> coro_set_get(const jr::Client &c, std::string key) {
  co_await c.async({"SET", key, "from-a-coroutine"});
  jr::Reply r = co_await c.async({"GET", key});
  int64_t n = 0;
  for (int i = 0; i < 100; i++) n = (co_await c.async({"INCR", key + ":n"})).integer();
  co_return r.str() + ":" + std::to_string(n);
}

Task<std::string> coro_errors(const jr::Client &c) {
  std::string out;
  try {
    co_await c.async({"NOSUCHCOMMAND"});
  } catch (const jr::ServerError &e) {
    out += "server;";
  }
  try {
    co_await c.async({"SELECT", "2"});  // refused: resumes at once with the error
  } catch (const jr::LibraryError &e) {
    out += std::string(e.name()) + ";";
  }
  try {
    co_await c.async({"DEBUG", "SLEEP", "0.2"}, 20ms);
  } catch (const jr::LibraryError &e) {
    out += std::string(e.name());
  }
  co_return out;
}

Task<std::string> coro_db(const jr::Db &db) {
  co_await db.async({"SET", "hpp:coro:db", "nine"});
  co_return (co_await db.async({"GET", "hpp:coro:db"})).str();
}
}  // namespace

TEST_F(HppTest, CoroutinesAwaitCommands) {
  jr::Client c(opts());
  c.call({"DEL", "hpp:coro:n"});
  Task<std::string> t = coro_set_get(c, "hpp:coro");
  ASSERT_EQ(t.result.wait_for(10s), std::future_status::ready);
  EXPECT_EQ(t.result.get(), "from-a-coroutine:100");
}

TEST_F(HppTest, CoroutinesSeeBothErrorKinds) {
  jr::Client c(opts());
  Task<std::string> t = coro_errors(c);
  ASSERT_EQ(t.result.wait_for(10s), std::future_status::ready);
  EXPECT_EQ(t.result.get(), "server;JR_EREFUSED;JR_ETIMEDOUT");
}

TEST_F(HppTest, CoroutinesOnDatabaseViewsAndInPollMode) {
  jr::Client c(opts().poll_mode());
  jr::Db db = c.db(9);
  Task<std::string> t = coro_db(db);
  auto end = std::chrono::steady_clock::now() + 5s;
  while (t.result.wait_for(0s) != std::future_status::ready &&
         std::chrono::steady_clock::now() < end) {
    pollfd p{c.fd(), POLLIN, 0};
    ::poll(&p, 1, 100);
    c.dispatch();
  }
  ASSERT_EQ(t.result.wait_for(0s), std::future_status::ready);
  EXPECT_EQ(t.result.get(), "nine");
}

TEST_F(HppTest, ManyCoroutinesInFlight) {
  jr::Client c(opts());
  constexpr int kN = 200;
  std::vector<Task<std::string>> tasks;
  for (int i = 0; i < kN; i++) tasks.push_back(coro_set_get(c, "hpp:many:" + std::to_string(i)));
  for (int i = 0; i < kN; i++) {
    ASSERT_EQ(tasks[i].result.wait_for(10s), std::future_status::ready);
    EXPECT_EQ(tasks[i].result.get().substr(0, 16), "from-a-coroutine");
  }
}

TEST_F(HppTest, DestroyCompletesPendingCommandsOnce) {
  auto c = std::make_unique<jr::Client>(opts());
  c->call({"PING"});
  auto sleeping = c->send({"DEBUG", "SLEEP", "0.2"}, 5s);
  std::atomic<int> calls{0};
  for (int i = 0; i < 50; i++) c->submit({"PING"}, [&](jr::Result) { calls++; });
  std::vector<std::future<jr::Reply>> fs;
  for (int i = 0; i < 50; i++) fs.push_back(c->send({"PING"}));
  c.reset();
  EXPECT_EQ(calls.load(), 50);
  for (auto &f : fs) {
    ASSERT_EQ(f.wait_for(0s), std::future_status::ready);
    try {
      f.get();
    } catch (const jr::LibraryError &e) {
      EXPECT_TRUE(e.code() == JR_ESHUTDOWN || e.code() == JR_ECLOSED) << e.code();
    }
  }
}

TEST_F(HppTest, MoveDrainAndClose) {
  jr::Client a(opts());
  jr::Client b = std::move(a);
  EXPECT_EQ(a.get(), nullptr);  // NOLINT(bugprone-use-after-move)
  EXPECT_EQ(b.call({"PING"}).str(), "PONG");
  auto f = b.send({"PING"});
  EXPECT_TRUE(b.drain(5s));
  EXPECT_EQ(f.get().str(), "PONG");
  try {
    b.call({"PING"});
    FAIL() << "no exception";
  } catch (const jr::LibraryError &e) {
    EXPECT_EQ(e.code(), JR_ECLOSED);
    EXPECT_TRUE(e.unsent());
  }
  b.close();
  EXPECT_EQ(b.get(), nullptr);
}

TEST(HppVersion, MatchesTheHeader) {
  EXPECT_STREQ(jr::version_string(), JR_VERSION_STRING);
  EXPECT_EQ(jr_version(), static_cast<unsigned>(JR_VERSION_HEX));
}

// ---- Transactions, WATCH, pub/sub, MONITOR ------------------------------------------

TEST_F(HppTest, TransactionQueuesAndExecs) {
  jr::Client c(opts());
  c.call({"DEL", "hpp:tx:n", "hpp:tx:s"});
  jr::Transaction tx = c.multi();
  auto incr = tx.add({"INCR", "hpp:tx:n"});
  std::promise<jr::Result> set_result;
  tx.add({"SET", "hpp:tx:s", "v"}, [&](jr::Result r) { set_result.set_value(std::move(r)); });
  auto bad = tx.add({"LPUSH", "hpp:tx:s", "x"});  // fails at run time: WRONGTYPE
  auto get = tx.add({"GET", "hpp:tx:s"});
  jr::Reply exec = tx.exec().get();
  EXPECT_FALSE(tx.valid());
  ASSERT_TRUE(exec.is_array());
  EXPECT_EQ(exec.size(), 4u);
  EXPECT_EQ(incr.get().integer(), 1);
  EXPECT_TRUE(set_result.get_future().get().ok());
  EXPECT_THROW(bad.get(), jr::ServerError);
  EXPECT_TRUE(exec[2].is_error());
  EXPECT_EQ(get.get().str(), "v");
  EXPECT_THROW(tx.add({"PING"}), jr::LibraryError);  // spent
}

TEST_F(HppTest, TransactionRefusesAndAborts) {
  jr::Client c(opts());
  jr::Transaction tx = c.multi();
  try {
    tx.add({"WATCH", "k"});
    FAIL() << "no exception";
  } catch (const jr::LibraryError &e) {
    EXPECT_EQ(e.code(), JR_EREFUSED);
  }
  auto ok = tx.add({"SET", "hpp:tx:abort", "1"});
  auto wrong = tx.add({"NOSUCHCOMMAND"});  // rejected at queue time: EXECABORT
  auto exec = tx.exec();
  EXPECT_THROW(exec.get(), jr::ServerError);
  auto abort = error_of<jr::ServerError>(ok);
  ASSERT_TRUE(abort.has_value());
  EXPECT_EQ(abort->prefix(), "EXECABORT") << abort->what();
  EXPECT_THROW(wrong.get(), jr::ServerError);
  EXPECT_TRUE(c.call({"GET", "hpp:tx:abort"}).is_nil());
}

TEST_F(HppTest, TransactionDiscardAndDestroy) {
  jr::Client c(opts());
  std::future<jr::Reply> a, b;
  {
    jr::Transaction tx = c.multi();
    a = tx.add({"SET", "hpp:tx:d", "1"});
    tx.discard();
    EXPECT_FALSE(tx.valid());
  }
  {
    jr::Transaction tx = c.multi();
    b = tx.add({"SET", "hpp:tx:d", "2"});
  }  // destroyed without exec: discarded
  for (auto *f : {&a, &b}) {
    auto e = error_of<jr::LibraryError>(*f);
    ASSERT_TRUE(e.has_value());
    EXPECT_EQ(e->code(), JR_EDISCARDED);
    EXPECT_TRUE(e->unsent());
  }
  EXPECT_TRUE(c.call({"GET", "hpp:tx:d"}).is_nil());
}

TEST_F(HppTest, TransactionInADatabaseView) {
  jr::Client c(opts());
  jr::Db db = c.db(7);
  jr::Transaction tx = db.multi();
  tx.add({"SET", "hpp:tx:db", "seven"});
  tx.exec().get();
  EXPECT_EQ(db.call({"GET", "hpp:tx:db"}).str(), "seven");
  EXPECT_TRUE(c.call({"GET", "hpp:tx:db"}).is_nil());
}

TEST_F(HppTest, WatchCommitsOrFailsWithEWatch) {
  jr::Client c(opts());
  c.call({"SET", "hpp:w", "10"});
  {
    jr::Watch w = c.watch({"hpp:w"});
    int64_t v = std::stoll(w.send({"GET", "hpp:w"}).get().str());
    jr::Transaction tx = w.multi();
    tx.add({"SET", "hpp:w", std::to_string(v + 1)});
    tx.exec().get();
    EXPECT_THROW(w.multi(), jr::LibraryError);  // once
  }
  EXPECT_EQ(c.call({"GET", "hpp:w"}).str(), "11");
  {
    jr::Watch w = c.watch({"hpp:w"});
    w.send({"GET", "hpp:w"}).get();
    c.call({"SET", "hpp:w", "changed"});  // another client's write
    jr::Transaction tx = w.multi();
    auto set = tx.add({"SET", "hpp:w", "12"});
    auto exec = tx.exec();
    auto e = error_of<jr::LibraryError>(exec);
    ASSERT_TRUE(e.has_value());
    EXPECT_EQ(e->code(), JR_EWATCH);
    EXPECT_THROW(set.get(), jr::LibraryError);
  }
  EXPECT_EQ(c.call({"GET", "hpp:w"}).str(), "changed");
}

namespace {
// Collects messages; wait_for(n) waits until n arrived.
struct Inbox {
  std::mutex mu;
  std::condition_variable cv;
  std::vector<jr::Message> got;
  void push(jr::Message m) {
    std::lock_guard<std::mutex> lk(mu);
    got.push_back(std::move(m));
    cv.notify_all();
  }
  bool wait_for(size_t n) {
    std::unique_lock<std::mutex> lk(mu);
    return cv.wait_for(lk, 5s, [&] { return got.size() >= n; });
  }
  bool wait_kind(std::string_view kind, size_t count = 1) {
    std::unique_lock<std::mutex> lk(mu);
    return cv.wait_for(lk, 5s, [&] {
      size_t k = 0;
      for (auto &m : got)
        if (m.kind() == kind) k++;
      return k >= count;
    });
  }
};
}  // namespace

TEST_F(HppTest, PubSubDeliversMessagesAndClosesLast) {
  jr::Client c(opts());
  auto inbox = std::make_shared<Inbox>();
  auto handler_alive = std::make_shared<int>(0);
  {
    jr::Subscriber sub =
        c.subscriber([inbox, handler_alive](jr::Message m) { inbox->push(std::move(m)); });
    sub.subscribe({"hpp:ch1", "hpp:ch2"});
    sub.psubscribe({"hpp:p*"});
    ASSERT_TRUE(inbox->wait_kind("subscribe", 2));
    ASSERT_TRUE(inbox->wait_kind("psubscribe"));
    EXPECT_GE(c.call({"PUBLISH", "hpp:ch1", "hello"}).integer(), 1);
    c.call({"PUBLISH", "hpp:pattern", "world"});
    ASSERT_TRUE(inbox->wait_kind("message"));
    ASSERT_TRUE(inbox->wait_kind("pmessage"));
    sub.ping("are you there");
    ASSERT_TRUE(inbox->wait_kind("pong"));
    sub.unsubscribe();
    ASSERT_TRUE(inbox->wait_kind("unsubscribe", 2));
    sub.ssubscribe({"hpp:shard"});
    ASSERT_TRUE(inbox->wait_kind("ssubscribe"));
    EXPECT_EQ(c.call({"SPUBLISH", "hpp:shard", "sharded"}).integer(), 1);
    ASSERT_TRUE(inbox->wait_kind("smessage"));
    sub.sunsubscribe();
    ASSERT_TRUE(inbox->wait_kind("sunsubscribe"));
  }
  ASSERT_TRUE(jrtest::eventually([&] {
    std::lock_guard<std::mutex> lk(inbox->mu);
    return !inbox->got.empty() && inbox->got.back().closed();
  }));
  std::lock_guard<std::mutex> lk(inbox->mu);
  bool message = false, pmessage = false, smessage = false, pong = false;
  for (auto &m : inbox->got) {
    if (m.kind() == "message") {
      message = true;
      EXPECT_EQ(m.channel(), "hpp:ch1");
      EXPECT_EQ(m.payload(), "hello");
    } else if (m.kind() == "pmessage") {
      pmessage = true;
      EXPECT_EQ(m.pattern(), "hpp:p*");
      EXPECT_EQ(m.channel(), "hpp:pattern");
      EXPECT_EQ(m.payload(), "world");
    } else if (m.kind() == "smessage") {
      smessage = true;
      EXPECT_EQ(m.channel(), "hpp:shard");
      EXPECT_EQ(m.payload(), "sharded");
    } else if (m.kind() == "pong") {
      pong = true;
      EXPECT_EQ(m.payload(), "are you there");
    }
  }
  EXPECT_TRUE(message && pmessage && smessage && pong);
  size_t closed = 0;
  for (auto &m : inbox->got) closed += m.closed() ? 1 : 0;
  EXPECT_EQ(closed, 1u);
  EXPECT_TRUE(jrtest::eventually([&] { return handler_alive.use_count() == 1; }));
}

TEST_F(HppTest, MonitorSeesCommands) {
  jr::Client c(opts());
  auto inbox = std::make_shared<Inbox>();
  {
    jr::Monitor mon = c.monitor([inbox](jr::Message m) { inbox->push(std::move(m)); });
    // MONITOR starts asynchronously: repeat a marker until it shows up.
    bool seen = jrtest::eventually([&] {
      c.call({"ECHO", "hpp-monitor-marker"});
      std::lock_guard<std::mutex> lk(inbox->mu);
      for (auto &m : inbox->got)
        if (m.payload().find("hpp-monitor-marker") != std::string::npos) return true;
      return false;
    });
    EXPECT_TRUE(seen);
  }
  EXPECT_TRUE(jrtest::eventually([&] {
    std::lock_guard<std::mutex> lk(inbox->mu);
    return !inbox->got.empty() && inbox->got.back().closed();
  }));
}

// ---- Redis Cluster calls, credential rotation, TLS options (standalone server) ------

namespace {
Task<std::string> coro_cluster_calls(const jr::Client &c, std::string node) {
  std::string out;
  std::vector<jr::Node> nodes = co_await c.async_endpoints();
  out += std::to_string(nodes.size()) + ":" + nodes.at(0).role + ";";
  co_await c.async_to(node, {"SET", "hpp:cl:coro", "to-node"});
  out += (co_await c.async_to(node, {"GET", "hpp:cl:coro"})).str() + ";";
  try {
    co_await c.async_all_masters({"PING"});
  } catch (const jr::LibraryError &e) {
    out += e.name();
  }
  co_return out;
}
}  // namespace

TEST_F(HppTest, EndpointsOfAStandaloneServer) {
  jr::Client c(opts());
  std::vector<jr::Node> nodes = c.endpoints().get();
  ASSERT_EQ(nodes.size(), 1u);
  EXPECT_EQ(nodes[0].address, server_->endpoint());
  EXPECT_EQ(nodes[0].role, "standalone");
  // The callback form gets the raw [[address, role]] reply.
  std::promise<jr::Result> p;
  c.submit_endpoints([&](jr::Result r) { p.set_value(std::move(r)); });
  jr::Result r = p.get_future().get();
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(jr::Node::list(r.reply()), nodes);
  EXPECT_EQ(r.reply().at(0).at(1).str(), "standalone");
  // In poll mode too (completed in dispatch()).
  jr::Client pc(opts().poll_mode());
  auto f = pc.endpoints();
  auto end = std::chrono::steady_clock::now() + 5s;
  while (f.wait_for(0s) != std::future_status::ready && std::chrono::steady_clock::now() < end) {
    pollfd pf{pc.fd(), POLLIN, 0};
    ::poll(&pf, 1, 100);
    pc.dispatch();
  }
  ASSERT_EQ(f.wait_for(0s), std::future_status::ready);
  EXPECT_EQ(f.get(), nodes);
}

TEST_F(HppTest, AllMastersIsAClusterErrorOnAStandaloneServer) {
  jr::Client c(opts());
  auto f = c.send_all_masters({"DBSIZE"});
  auto e = error_of<jr::LibraryError>(f);
  ASSERT_TRUE(e.has_value());
  EXPECT_EQ(e->code(), JR_ECLUSTER);
  EXPECT_STREQ(e->name(), "JR_ECLUSTER");
  EXPECT_TRUE(e->unsent());
  std::promise<jr::Result> p;
  c.submit_all_masters({"DBSIZE"}, [&](jr::Result r) { p.set_value(std::move(r)); });
  jr::Result r = p.get_future().get();
  EXPECT_TRUE(r.is_library_error());
  EXPECT_EQ(r.status(), JR_ECLUSTER);
  // Refused commands are refused before anything is sent.
  EXPECT_THROW(c.submit_all_masters({"SUBSCRIBE", "x"}, [](jr::Result) {}), jr::LibraryError);
  auto refused = c.send_all_masters({"SUBSCRIBE", "x"});
  ASSERT_EQ(refused.wait_for(0s), std::future_status::ready);
  auto re = error_of<jr::LibraryError>(refused);
  ASSERT_TRUE(re.has_value());
  EXPECT_EQ(re->code(), JR_EREFUSED);
  EXPECT_EQ(c.call({"PING"}).str(), "PONG");
}

TEST_F(HppTest, SubmitToTheServersOwnAddress) {
  jr::Client c(opts());
  const std::string node = server_->endpoint();  // "127.0.0.1:port"
  EXPECT_EQ(c.send_to(node, {"SET", "hpp:cl:to", "v1"}).get().str(), "OK");
  EXPECT_EQ(c.call({"GET", "hpp:cl:to"}).str(), "v1");
  EXPECT_EQ(c.send_to(node, {"GET", "hpp:cl:to"}).get().str(), "v1");
  std::promise<jr::Result> p;
  c.submit_to(node, {"INCRBY", "hpp:cl:n", "0"}, [&](jr::Result r) { p.set_value(std::move(r)); });
  jr::Result r = p.get_future().get();
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r.reply().is_integer());
  // A server error is a ServerError as for any command.
  auto bad = c.send_to(node, {"NOSUCHCOMMAND"});
  EXPECT_THROW(bad.get(), jr::ServerError);
  // An address that does not parse is refused at the call.
  EXPECT_THROW(c.submit_to("", {"PING"}, [](jr::Result) {}), jr::LibraryError);
  EXPECT_THROW(c.submit_to(std::string_view("127.0.0.1:1\0x", 13), {"PING"}, [](jr::Result) {}),
               jr::LibraryError);
  auto f = c.send_to("", {"PING"});
  auto e = error_of<jr::LibraryError>(f);
  ASSERT_TRUE(e.has_value());
  EXPECT_EQ(e->code(), JR_EINVAL);
}

TEST_F(HppTest, ClusterCallsFromACoroutine) {
  jr::Client c(opts());
  Task<std::string> t = coro_cluster_calls(c, server_->endpoint());
  ASSERT_EQ(t.result.wait_for(10s), std::future_status::ready);
  EXPECT_EQ(t.result.get(), "1:standalone;to-node;JR_ECLUSTER");
}

namespace {
// Counts JR_EVENT_DISCONNECTED and JR_EVENT_CONNECT_FAILED.
struct EventLog {
  std::mutex mu;
  std::condition_variable cv;
  int disconnected = 0;
  int connect_failed = 0;
  jr::EventHandler handler() {
    return [this](int ev, std::string_view, std::string_view) {
      std::lock_guard<std::mutex> lk(mu);
      if (ev == JR_EVENT_DISCONNECTED) disconnected++;
      if (ev == JR_EVENT_CONNECT_FAILED) connect_failed++;
      cv.notify_all();
    };
  }
  bool wait_disconnected(int n) {
    std::unique_lock<std::mutex> lk(mu);
    return cv.wait_for(lk, 5s, [&] { return disconnected >= n; });
  }
};
}  // namespace

TEST(HppAuth, SetAuthRotatesTheCredentialsOfNewConnections) {
  RedisServer s({"--requirepass", "old-secret"});
  EventLog events;
  jr::Client c(jr::Options()
                   .endpoint(s.endpoint())
                   .password("old-secret")
                   .set("connect_retry", int64_t{0})
                   .on_event(events.handler()));
  int64_t id = c.call({"CLIENT", "ID"}).integer();
  ASSERT_GT(id, 0);
  // Rotate on the server; the live connection stays authenticated.
  ASSERT_NE(s.cmd("CONFIG SET requirepass new-secret", "old-secret").find("+OK"),
            std::string::npos);
  c.set_auth("new-secret");
  EXPECT_EQ(c.call({"CLIENT", "ID"}).integer(), id);
  // Drop the connection from a side connection; the reconnect uses the new
  // password, so the next command works.
  ASSERT_NE(s.cmd("CLIENT KILL ID " + std::to_string(id), "new-secret").find(":1"),
            std::string::npos);
  ASSERT_TRUE(events.wait_disconnected(1));
  EXPECT_EQ(c.call({"PING"}).str(), "PONG");
  EXPECT_NE(c.call({"CLIENT", "ID"}).integer(), id);
  // With a user name (AUTH default <password>), through the same rotation.
  ASSERT_NE(s.cmd("CONFIG SET requirepass third", "new-secret").find("+OK"), std::string::npos);
  c.set_auth("default", "third");
  id = c.call({"CLIENT", "ID"}).integer();
  ASSERT_NE(s.cmd("CLIENT KILL ID " + std::to_string(id), "third").find(":1"), std::string::npos);
  ASSERT_TRUE(events.wait_disconnected(2));
  EXPECT_EQ(c.call({"ACL", "WHOAMI"}).str(), "default");
  // Text libjr cannot pass on (a NUL byte) is refused.
  EXPECT_THROW(c.set_auth(std::string_view("a\0b", 3)), jr::LibraryError);
}

// A wrong password: a LibraryError (JR_EAUTH, unsent) that shows the
// server's own text, from call(), a future and a callback's Result.
TEST(HppAuth, WrongPasswordErrorShowsTheServersText) {
  RedisServer s({"--requirepass", "right"});
  jr::Client c(
      jr::Options().endpoint(s.endpoint()).password("wrong").set("connect_retry", int64_t{0}));
  auto check = [](const jr::LibraryError &e) {
    EXPECT_EQ(e.code(), JR_EAUTH);
    EXPECT_TRUE(e.unsent());
    EXPECT_EQ(e.detail().rfind("WRONGPASS", 0), 0u) << e.detail();
    EXPECT_NE(std::string(e.what()).find("WRONGPASS"), std::string::npos) << e.what();
  };
  try {
    c.call({"PING"});
    ADD_FAILURE() << "no exception";
  } catch (const jr::LibraryError &e) {
    check(e);
  }
  // A shared_future keeps the shared state (and with it the exception) alive
  // on this thread until the checks are done: the exception's own refcount
  // lives in uninstrumented libstdc++, and TSan would take its release by
  // the loop thread's promise for a race.
  auto f = c.send({"PING"}).share();
  try {
    f.get();
    ADD_FAILURE() << "no exception";
  } catch (const jr::LibraryError &e) {
    check(e);
  }
  std::promise<jr::Result> p;
  auto got = p.get_future();
  c.submit({"PING"}, [&p](jr::Result r) { p.set_value(std::move(r)); });
  jr::Result r = got.get();
  EXPECT_TRUE(r.is_library_error());
  EXPECT_FALSE(r.is_server_error());
  try {
    r.rethrow();
    ADD_FAILURE() << "no exception";
  } catch (const jr::LibraryError &e) {
    check(e);
  }
}

TEST(HppAuth, WithoutSetAuthTheReconnectFailsWithEAuth) {
  RedisServer s({"--requirepass", "old-secret"});
  EventLog events;
  jr::Client c(jr::Options()
                   .endpoint(s.endpoint())
                   .password("old-secret")
                   .set("connect_retry", int64_t{0})
                   .on_event(events.handler()));
  int64_t id = c.call({"CLIENT", "ID"}).integer();
  s.cmd("CONFIG SET requirepass new-secret", "old-secret");
  s.cmd("CLIENT KILL ID " + std::to_string(id), "new-secret");
  ASSERT_TRUE(events.wait_disconnected(1));
  try {
    c.call({"PING"});
    FAIL() << "no exception";
  } catch (const jr::LibraryError &e) {
    EXPECT_EQ(e.code(), JR_EAUTH);
    EXPECT_TRUE(e.unsent());
  }
  c.set_auth("new-secret");
  EXPECT_EQ(c.call({"PING"}).str(), "PONG");
}

TEST_F(HppTest, TlsOptionsReachTheCore) {
  // Files that cannot be used are an error at creation.
  try {
    jr::Client c(opts().tls().tls_ca_file("/nonexistent/jr-ca.crt"));
    FAIL() << "no exception";
  } catch (const jr::LibraryError &e) {
    EXPECT_EQ(e.code(), JR_ETLS);
    EXPECT_STREQ(e.name(), "JR_ETLS");
  }
  EXPECT_THROW(jr::Client(opts().tls().tls_cert("/nonexistent/c.crt", "/nonexistent/c.key")),
               jr::LibraryError);
  // TLS to a plain-TCP server: the handshake fails, commands get JR_ECONNECT.
  EventLog events;
  jr::Client c(opts()
                   .tls()
                   .tls_verify(false)
                   .tls_server_name("localhost")
                   .set("connect_retry", int64_t{0})
                   .connect_timeout(300ms)
                   .on_event(events.handler()));
  try {
    c.call({"PING"});
    FAIL() << "no exception";
  } catch (const jr::LibraryError &e) {
    EXPECT_EQ(e.code(), JR_ECONNECT);
  }
  {
    std::lock_guard<std::mutex> lk(events.mu);
    EXPECT_GE(events.connect_failed, 1);
  }
  // rediss:// URLs turn TLS on (the same failure); the generic setter
  // takes every key.
  jr::Client u(jr::Options()
                   .url("rediss://" + server_->endpoint())
                   .set("connect_retry", int64_t{0})
                   .connect_timeout(300ms)
                   .set("tls_verify", int64_t{0}));
  EXPECT_THROW(u.call({"PING"}), jr::LibraryError);
  jr::Options any;
  any.set("tls", "1").set("tls_ca_dir", "/etc/ssl/certs").set("tls_server_name", "x");
  any.username("u").tls(false);
}

namespace {
// A CA, a server certificate for localhost/127.0.0.1 and a client
// certificate, made with the openssl command.
struct TestCerts {
  std::string dir;
  bool ok = false;
  TestCerts() {
    char tmpl[] = "/tmp/jrhpp-tls-XXXXXX";
    dir = mkdtemp(tmpl);
    std::string script =
        "cd '" + dir +
        "' && openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.crt -days 2 "
        "-subj /CN=jr-hpp-ca && "
        "openssl req -newkey rsa:2048 -nodes -keyout server.key -out server.csr "
        "-subj /CN=localhost && "
        "printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\\n' > san.cnf && "
        "openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial "
        "-out server.crt -days 2 -extfile san.cnf && "
        "openssl req -newkey rsa:2048 -nodes -keyout client.key -out client.csr "
        "-subj /CN=jr-client && "
        "openssl x509 -req -in client.csr -CA ca.crt -CAkey ca.key -CAcreateserial "
        "-out client.crt -days 2";
    ok = std::system(("(" + script + ") >/dev/null 2>&1").c_str()) == 0;
  }
  ~TestCerts() {
    if (std::system(("rm -rf '" + dir + "'").c_str()) != 0) {
    }
  }
  [[nodiscard]] std::string f(const char *name) const { return dir + "/" + name; }
};
}  // namespace

TEST(HppTls, MutualTlsThroughTheShorthands) {
  TestCerts certs;
  if (!certs.ok) GTEST_SKIP() << "openssl could not make test certificates";
  int tls_port = jrtest::free_port();
  RedisServer s({"--tls-port", std::to_string(tls_port), "--tls-cert-file", certs.f("server.crt"),
                 "--tls-key-file", certs.f("server.key"), "--tls-ca-cert-file", certs.f("ca.crt"),
                 "--tls-auth-clients", "yes"});
  const std::string ep = "127.0.0.1:" + std::to_string(tls_port);
  jr::Client c(jr::Options()
                   .endpoint(ep)
                   .tls()
                   .tls_ca_file(certs.f("ca.crt"))
                   .tls_cert(certs.f("client.crt"), certs.f("client.key"))
                   .tls_server_name("localhost"));
  EXPECT_EQ(c.call({"PING"}).str(), "PONG");
  auto nodes = c.endpoints().get();
  ASSERT_EQ(nodes.size(), 1u);
  EXPECT_EQ(nodes[0].role, "standalone");
  EXPECT_EQ(c.send_to(ep, {"ECHO", "over-tls"}).get().str(), "over-tls");
  // Without the client certificate the server refuses the handshake.
  jr::Client anon(jr::Options()
                      .endpoint(ep)
                      .tls()
                      .tls_ca_file(certs.f("ca.crt"))
                      .set("connect_retry", int64_t{0}));
  // It fails as a connection failure, not by waiting out its deadline (the
  // cluster probe it waited behind failed too).
  try {
    anon.call({"PING"});
    ADD_FAILURE() << "PING without a client certificate succeeded";
  } catch (const jr::LibraryError &e) {
    EXPECT_TRUE(e.code() == JR_ECONNECT || e.code() == JR_ECONNLOST) << jr_err_name(e.code());
  }
}

// Redis Sentinel through the typed options: a sentinel that is down, then
// one that knows the master (with its own ACL user), and the master's name.
TEST(HppSentinel, TypedOptionsFindTheMaster) {
  RedisServer master;
  jrtest::SentinelProc sentinel("hppmaster", master.port(), 5000);
  ASSERT_NE(sentinel.cmd("ACL SETUSER hppsent on >sent-pw +@all").find("OK"), std::string::npos);
  const std::string down = "127.0.0.1:" + std::to_string(jrtest::free_port());
  auto base = [&] {
    return jr::Options()
        .sentinels({down, sentinel.endpoint()})
        .connect_retry(0)
        .connect_timeout(500ms);
  };
  jr::Client c(base().sentinel_master("hppmaster").sentinel_auth("hppsent", "sent-pw"));
  c.call({"SET", "hpp:sentinel", "via-sentinel"});
  EXPECT_NE(master.cmd("GET hpp:sentinel").find("via-sentinel"), std::string::npos);
  // The endpoints: the two sentinels tried (the first refused) and the master.
  std::map<std::string, jr::EndpointStats> eps;
  for (jr::EndpointStats &e : c.endpoint_stats()) eps[e.endpoint] = e;
  EXPECT_EQ(eps.size(), 3u);
  EXPECT_EQ(eps[master.endpoint()].completed, 1u);
  EXPECT_GE(eps[down].connect_failures, 1u);
  // The sentinel's password is checked: a clear JR_ECONNECT, not a hang.
  jr::Client wrong(base().sentinel_master("hppmaster").sentinel_auth("hppsent", "nope"));
  try {
    wrong.call({"PING"}, 5s);
    ADD_FAILURE() << "no exception";
  } catch (const jr::LibraryError &e) {
    EXPECT_EQ(e.code(), JR_ECONNECT) << e.what();
  }
  // So is the master's name.
  jr::Client unknown(base().sentinel_master("no-such-master").sentinel_auth("hppsent", "sent-pw"));
  EXPECT_EQ(unknown.try_call({"PING"}, 5s).status(), JR_ECONNECT);
}
