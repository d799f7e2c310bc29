// Tests of jr.hpp (the C++ wrapper) against a real redis-server.
#include <gtest/gtest.h>
#include <poll.h>

#include <atomic>
#include <chrono>
#include <coroutine>
#include <future>
#include <jr/jr.hpp>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "jr_test.hpp"
#include "redis_server.hpp"

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

}  // namespace

class HppTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { server_ = new RedisServer(); }
  static void TearDownTestSuite() {
    delete server_;
    server_ = nullptr;
  }
  static jr::Options opts() { return jr::Options().endpoint(server_->endpoint()); }
  static RedisServer *server_;
};
RedisServer *HppTest::server_ = nullptr;

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
    EXPECT_STREQ(e.what(), jr_strerror(JR_ECONNECT));
  }
  // Through a future too, and as a Result.
  auto f = c.send({"PING"});
  EXPECT_THROW(f.get(), jr::LibraryError);
  jr::Result r = c.try_call({"PING"});
  EXPECT_TRUE(r.is_library_error());
  EXPECT_EQ(r.status(), JR_ECONNECT);
  EXPECT_TRUE(r.reply().empty());
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
