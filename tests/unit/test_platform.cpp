// SPDX-License-Identifier: MIT
// The platform seams (src/platform.hpp): every implementation this build
// compiles (the portable ones always).
#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <sched.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstring>
#include <string>
#include <thread>
#include <type_traits>
#include <vector>

#include "platform.hpp"

namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;
using jr::platform::Word;

bool readable(int fd, int timeout_ms = 0) {
  struct pollfd p = {fd, POLLIN, 0};
  return poll(&p, 1, timeout_ms) == 1 && (p.revents & POLLIN) != 0;
}

// ---- Wakeup ------------------------------------------------------------------------------

template <typename W>
class WakeupTest : public ::testing::Test {};

#if defined(__linux__)
using WakeupTypes = ::testing::Types<jr::platform::PipeWakeup, jr::platform::EventfdWakeup>;
#else
using WakeupTypes = ::testing::Types<jr::platform::PipeWakeup>;
#endif
TYPED_TEST_SUITE(WakeupTest, WakeupTypes);

TYPED_TEST(WakeupTest, ReadableFromSignalUntilClear) {
  TypeParam w;
  EXPECT_EQ(w.fd(), -1);
  ASSERT_TRUE(w.open());
  ASSERT_GE(w.fd(), 0);
  EXPECT_FALSE(readable(w.fd()));
  w.clear();  // clearing an unsignalled wake-up is harmless
  EXPECT_FALSE(readable(w.fd()));
  w.signal();
  EXPECT_TRUE(readable(w.fd()));
  w.signal();  // twice: still one readable state, one clear undoes it
  EXPECT_TRUE(readable(w.fd()));
  w.clear();
  EXPECT_FALSE(readable(w.fd()));
  w.signal();
  EXPECT_TRUE(readable(w.fd()));
}

TYPED_TEST(WakeupTest, DescriptorIsNonBlockingAndCloseOnExec) {
  TypeParam w;
  ASSERT_TRUE(w.open());
  EXPECT_NE(fcntl(w.fd(), F_GETFL) & O_NONBLOCK, 0);
  EXPECT_NE(fcntl(w.fd(), F_GETFD) & FD_CLOEXEC, 0);
}

TYPED_TEST(WakeupTest, ManySignalsNeverBlockAndOneClearDrainsThem) {
  // More than a pipe holds (64 KiB on Linux): a full pipe is readable
  // already, so signal must not block or fail.
  TypeParam w;
  ASSERT_TRUE(w.open());
  for (int i = 0; i < 200000; i++) w.signal();
  EXPECT_TRUE(readable(w.fd()));
  w.clear();
  EXPECT_FALSE(readable(w.fd()));
}

TYPED_TEST(WakeupTest, SignalFromAnotherThreadWakesAPoll) {
  TypeParam w;
  ASSERT_TRUE(w.open());
  std::thread t([&] {
    std::this_thread::sleep_for(20ms);
    w.signal();
  });
  auto t0 = Clock::now();
  EXPECT_TRUE(readable(w.fd(), 10000));
  EXPECT_LT(Clock::now() - t0, 5s);
  t.join();
  w.clear();
  EXPECT_FALSE(readable(w.fd()));
}

TYPED_TEST(WakeupTest, DestructorClosesTheDescriptor) {
  int fd;
  {
    TypeParam w;
    ASSERT_TRUE(w.open());
    fd = w.fd();
    ASSERT_NE(fcntl(fd, F_GETFD), -1);
  }
  errno = 0;
  EXPECT_EQ(fcntl(fd, F_GETFD), -1);
  EXPECT_EQ(errno, EBADF);
}

// ---- Waiter ------------------------------------------------------------------------------

template <typename W>
class WaiterTest : public ::testing::Test {};

#if defined(__linux__)
using WaiterTypes = ::testing::Types<jr::platform::PortableWaiter, jr::platform::FutexWaiter>;
#else
using WaiterTypes = ::testing::Types<jr::platform::PortableWaiter>;
#endif
TYPED_TEST_SUITE(WaiterTest, WaiterTypes);

TYPED_TEST(WaiterTest, ReturnsAtOnceWhenTheWordDiffers) {
  Word word{1};
  auto t0 = Clock::now();
  EXPECT_TRUE(TypeParam::wait(word, 0));  // no timeout: would hang if it slept
  EXPECT_TRUE(TypeParam::wait(word, 0, 1000000000));
  EXPECT_LT(Clock::now() - t0, 500ms);
}

TYPED_TEST(WaiterTest, TimedWaitTimesOut) {
  Word word{0};
  auto t0 = Clock::now();
  // Spurious returns are allowed: loop until the timeout is reported.
  bool timed_out = false;
  for (int i = 0; i < 100 && !timed_out; i++) timed_out = !TypeParam::wait(word, 0, 30000000);
  EXPECT_TRUE(timed_out);
  EXPECT_GE(Clock::now() - t0, 30ms);
  EXPECT_LT(Clock::now() - t0, 5s);
}

TYPED_TEST(WaiterTest, WakeOneWakesASleeper) {
  Word word{0};
  std::atomic<bool> sleeping{false};
  std::thread t([&] {
    while (!sleeping.load()) std::this_thread::yield();
    std::this_thread::sleep_for(20ms);  // let it reach the sleep
    word.store(1, std::memory_order_release);
    TypeParam::wake_one(&word);
  });
  sleeping.store(true);
  auto t0 = Clock::now();
  while (word.load(std::memory_order_acquire) == 0 && Clock::now() - t0 < 10s)
    TypeParam::wait(word, 0, 10000000000);
  EXPECT_EQ(word.load(), 1u);
  EXPECT_LT(Clock::now() - t0, 5s);  // woken, not timed out
  t.join();
}

TYPED_TEST(WaiterTest, WakeAllWakesEverySleeper) {
  Word word{0};
  constexpr int kThreads = 4;
  std::atomic<int> done{0};
  std::vector<std::thread> ts;
  for (int i = 0; i < kThreads; i++) {
    ts.emplace_back([&] {
      auto t0 = Clock::now();
      while (word.load(std::memory_order_acquire) == 0 && Clock::now() - t0 < 10s)
        TypeParam::wait(word, 0, 10000000000);
      done.fetch_add(1);
    });
  }
  std::this_thread::sleep_for(30ms);
  auto t0 = Clock::now();
  word.store(1, std::memory_order_release);
  TypeParam::wake_all(&word);
  for (auto &t : ts) t.join();
  EXPECT_EQ(done.load(), kThreads);
  EXPECT_LT(Clock::now() - t0, 5s);
}

// Client::call's rendezvous, many times: the waker exchanges the word and
// wakes only a sleeper; the sleeper's word lives on its stack and dies as
// soon as it sees the change. Odd rounds mark the word "sleeping" before
// the waker sees it (the wake path every time), even rounds race the waker
// for it; every 4th round the waker first lets the sleeper fall asleep. A
// lost wake-up times an iteration out; a wake that dereferenced a dead word
// is ASan's to catch.
TYPED_TEST(WaiterTest, CallRendezvousNeverLosesAWakeUp) {
  constexpr int kRounds = 10000;
  std::atomic<Word *> slot{nullptr};
  std::atomic<bool> stop{false};
  std::thread loop([&] {
    for (unsigned n = 0; !stop.load(std::memory_order_acquire);) {
      Word *w = slot.load(std::memory_order_acquire);
      if (w == nullptr) {
        std::this_thread::yield();
        continue;
      }
      if (++n % 4 == 0) std::this_thread::sleep_for(100us);
      slot.store(nullptr, std::memory_order_release);
      if (w->exchange(1, std::memory_order_acq_rel) == 2) TypeParam::wake_one(w);
    }
  });
  int slept = 0;
  int lost = -1;  // the round whose wake-up was lost
  for (int i = 0; i < kRounds && lost < 0; i++) {
    Word state{0};
    uint32_t expected = 0;
    bool sleeps;
    if (i % 2 == 1) {
      sleeps = state.compare_exchange_strong(expected, 2, std::memory_order_acq_rel);
      slot.store(&state, std::memory_order_release);
    } else {
      slot.store(&state, std::memory_order_release);
      sleeps = state.compare_exchange_strong(expected, 2, std::memory_order_acq_rel);
    }
    if (sleeps) {
      slept++;
      // A wake-up is lost if the sleeper sleeps its whole timeout (it may
      // then see the change and not report a timeout).
      auto t0 = Clock::now();
      while (state.load(std::memory_order_acquire) == 2) TypeParam::wait(state, 2, 1000000000);
      if (Clock::now() - t0 >= 1s) lost = i;
    }
    // The waker has taken this word from the slot before it dies.
    while (slot.load(std::memory_order_acquire) != nullptr) std::this_thread::yield();
  }
  stop.store(true, std::memory_order_release);
  loop.join();
  EXPECT_EQ(lost, -1) << "a wake-up was lost";
  EXPECT_GE(slept, kRounds / 2);
}

// ---- CPU count ------------------------------------------------------------------------------

TEST(Platform, CpuCount) {
  int hw = static_cast<int>(std::thread::hardware_concurrency());
  EXPECT_EQ(jr::platform::portable_cpu_count(), std::max(1, hw));
#if defined(__linux__)
  cpu_set_t cpus;
  CPU_ZERO(&cpus);
  ASSERT_EQ(sched_getaffinity(0, sizeof cpus, &cpus), 0);
  EXPECT_EQ(jr::platform::linux_cpu_count(), CPU_COUNT(&cpus));
#endif
  EXPECT_GE(jr::platform::cpu_count(), 1);
}

// The build option picks what the library uses (meson -Dplatform_fallback
// passes JR_PLATFORM_FALLBACK to the library and to this test alike).
TEST(Platform, BuildChoosesTheConfiguredImplementation) {
#if defined(__linux__) && !defined(JR_PLATFORM_FALLBACK)
  EXPECT_TRUE((std::is_same_v<jr::platform::Wakeup, jr::platform::EventfdWakeup>));
  EXPECT_TRUE((std::is_same_v<jr::platform::Waiter, jr::platform::FutexWaiter>));
  EXPECT_EQ(jr::platform::cpu_count(), jr::platform::linux_cpu_count());
#else
  EXPECT_TRUE((std::is_same_v<jr::platform::Wakeup, jr::platform::PipeWakeup>));
  EXPECT_TRUE((std::is_same_v<jr::platform::Waiter, jr::platform::PortableWaiter>));
  EXPECT_EQ(jr::platform::cpu_count(), jr::platform::portable_cpu_count());
#endif
}

}  // namespace
