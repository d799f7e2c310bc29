// SPDX-License-Identifier: MIT
// Soak: a bounded run at full speed from several threads against a real
// redis-server, with a CLIENT KILL every few seconds, checking that every
// command completes exactly once and that the process's RSS stays flat after
// warm-up. 20 s by default; JR_SOAK_SECONDS=N runs it longer. Built and run
// only without sanitizers (tests/meson.build: suite 'soak').
#include <gtest/gtest.h>
#include <jr/jr.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "jr_test.hpp"
#include "redis_server.hpp"

using namespace jrtest;

namespace {

size_t rss_bytes() {
  std::ifstream f("/proc/self/statm");
  size_t pages = 0, resident = 0;
  f >> pages >> resident;
  return resident * static_cast<size_t>(sysconf(_SC_PAGESIZE));
}

int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

constexpr int kThreads = 4;
constexpr int kWindow = 256;  // commands in flight per thread

struct Worker;

struct Slot {
  Worker *w = nullptr;
  std::atomic<int> calls{0};
};

struct Worker {
  Slot slots[kWindow];
  std::mutex mu;
  std::condition_variable cv;
  std::vector<int> free_slots;  // guarded by mu
  std::atomic<uint64_t> submitted{0}, completed{0}, dups{0};
  std::map<int, uint64_t> codes;  // guarded by mu
  uint64_t bad_replies = 0;       // guarded by mu

  static void cb(void *ud, int status, const jr_reply *r) {
    auto *s = static_cast<Slot *>(ud);
    Worker *w = s->w;
    if (s->calls.fetch_add(1) != 0) {
      w->dups++;
      return;
    }
    bool bad = status == JR_OK && jr_reply_get_type(r) == JR_REPLY_ERROR;
    std::lock_guard<std::mutex> lk(w->mu);
    w->codes[status]++;
    if (bad) w->bad_replies++;
    w->free_slots.push_back(static_cast<int>(s - w->slots));
    w->completed++;
    w->cv.notify_one();
  }
};

}  // namespace

TEST(Soak, FullSpeedRssStaysFlat) {
  int seconds = 20;
  if (const char *e = std::getenv("JR_SOAK_SECONDS")) seconds = std::max(5, std::atoi(e));
  const int warmup = std::max(3, seconds / 4);
  RedisServer srv;
  OptionsPtr o;
  o.set("endpoint", srv.endpoint()).set_int("command_timeout_ms", 5000);
  ClientPtr c(o);
  ASSERT_EQ(call(c, {"PING"}).str(), "PONG");

  std::vector<std::unique_ptr<Worker>> workers;
  for (int t = 0; t < kThreads; t++) {
    workers.push_back(std::make_unique<Worker>());
    for (int i = 0; i < kWindow; i++) {
      workers[t]->slots[i].w = workers[t].get();
      workers[t]->free_slots.push_back(i);
    }
  }
  std::atomic<bool> stop{false};
  std::vector<std::thread> ts;
  for (int t = 0; t < kThreads; t++) {
    ts.emplace_back([&, t] {
      Worker &w = *workers[t];
      std::mt19937 rng(static_cast<unsigned>(t + 1));
      std::string value(4096, 'v');
      std::vector<std::string> keys;
      for (int k = 0; k < 1000; k++)
        keys.push_back("soak:" + std::to_string(t) + ":" + std::to_string(k));
      while (!stop) {
        int idx;
        {
          std::unique_lock<std::mutex> lk(w.mu);
          w.cv.wait_for(lk, std::chrono::milliseconds(50), [&] { return !w.free_slots.empty(); });
          if (w.free_slots.empty()) continue;
          idx = w.free_slots.back();
          w.free_slots.pop_back();
        }
        Slot &s = w.slots[idx];
        s.calls.store(0);
        const std::string &key = keys[rng() % keys.size()];
        unsigned pick = rng() % 100;
        int rc;
        if (pick < 35) {
          size_t len = 16 + rng() % 4080;
          const char *argv[] = {"SET", key.data(), value.data()};
          const size_t lens[] = {3, key.size(), len};
          rc = jr_client_submit(c, 3, argv, lens, -1, Worker::cb, &s, nullptr);
        } else if (pick < 70) {
          const char *argv[] = {"GET", key.data()};
          const size_t lens[] = {3, key.size()};
          rc = jr_client_submit(c, 2, argv, lens, -1, Worker::cb, &s, nullptr);
        } else if (pick < 85) {
          const char *argv[] = {"INCR", "soak:ctr"};
          rc = jr_client_submit(c, 2, argv, nullptr, -1, Worker::cb, &s, nullptr);
        } else {
          std::vector<const char *> argv{"MGET"};
          std::vector<size_t> lens{4};
          for (int k = 0; k < 10; k++) {
            const std::string &mk = keys[rng() % keys.size()];
            argv.push_back(mk.data());
            lens.push_back(mk.size());
          }
          rc = jr_client_submit(c, argv.size(), argv.data(), lens.data(), -1, Worker::cb, &s,
                                nullptr);
        }
        if (rc == JR_OK) {
          w.submitted++;
        } else {
          std::lock_guard<std::mutex> lk(w.mu);
          w.codes[rc]++;  // refused: counted, the slot goes back
          w.free_slots.push_back(idx);
        }
      }
    });
  }
  auto total = [&] {
    uint64_t n = 0;
    for (auto &w : workers) n += w->completed.load();
    return n;
  };

  // Warm-up, then RSS samples every second; a CLIENT KILL every 5 s makes
  // the client reconnect under load.
  int64_t t0 = now_ms();
  size_t rss_warm = 0, rss_max = 0, rss_min = SIZE_MAX;
  uint64_t ops_warm = 0;
  int kills = 0;
  for (int sec = 1; sec <= seconds; sec++) {
    std::this_thread::sleep_until(
        std::chrono::steady_clock::time_point(std::chrono::milliseconds(t0 + sec * 1000LL)));
    if (sec % 5 == 0 && sec < seconds) {
      srv.cmd("CLIENT KILL TYPE normal");
      kills++;
    }
    if (sec == warmup) {
      rss_warm = rss_bytes();
      ops_warm = total();
    }
    if (sec >= warmup) {
      size_t r = rss_bytes();
      rss_max = std::max(rss_max, r);
      rss_min = std::min(rss_min, r);
    }
  }
  size_t rss_end = rss_bytes();
  uint64_t ops_end = total();
  stop = true;
  for (auto &t : ts) t.join();
  bool drained = eventually(
      [&] {
        uint64_t s = 0;
        for (auto &w : workers) s += w->submitted.load();
        return total() >= s;
      },
      10000);

  std::map<int, uint64_t> codes;
  uint64_t submitted = 0, completed = 0, dups = 0, bad = 0;
  for (auto &w : workers) {
    std::lock_guard<std::mutex> lk(w->mu);
    for (auto &kv : w->codes) codes[kv.first] += kv.second;
    submitted += w->submitted.load();
    completed += w->completed.load();
    dups += w->dups.load();
    bad += w->bad_replies;
  }
  std::string code_text;
  for (auto it = codes.rbegin(); it != codes.rend(); ++it)
    code_text += std::string(code_text.empty() ? "" : " ") +
                 (it->first == 0 ? "OK" : jr_err_name(it->first)) + "=" +
                 std::to_string(it->second);
  long long growth = static_cast<long long>(rss_end) - static_cast<long long>(rss_warm);
  double rate = static_cast<double>(ops_end - ops_warm) / (seconds - warmup);
  std::printf(
      "[ fault ] soak %d s (%d threads x %d in flight, %d CLIENT KILLs): commands=%llu "
      "(%.0f/s after warm-up) | %s | dup=%llu error_replies=%llu | RSS after %d s warm-up "
      "%zu KiB, end %zu KiB (%+lld KiB), min %zu KiB, max %zu KiB\n",
      seconds, kThreads, kWindow, kills, static_cast<unsigned long long>(submitted), rate,
      code_text.c_str(), static_cast<unsigned long long>(dups),
      static_cast<unsigned long long>(bad), warmup, rss_warm / 1024, rss_end / 1024, growth / 1024,
      rss_min / 1024, rss_max / 1024);
  std::fflush(stdout);

  EXPECT_TRUE(drained);
  EXPECT_EQ(completed, submitted);
  EXPECT_EQ(dups, 0u);
  EXPECT_EQ(bad, 0u);
  for (auto &kv : codes)
    EXPECT_TRUE(kv.first == JR_OK || kv.first == JR_ECONNLOST)
        << kv.second << " x " << jr_err_name(kv.first);
  EXPECT_GT(codes[JR_OK], submitted / 2);
  // Flat: less than +20% or +16 MiB, whichever is larger.
  long long allowed = std::max<long long>(static_cast<long long>(rss_warm / 5), 16LL << 20);
  EXPECT_LE(growth, allowed) << "RSS grew from " << rss_warm / 1024 << " KiB to " << rss_end / 1024
                             << " KiB";
}
