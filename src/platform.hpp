// SPDX-License-Identifier: MIT
// Platform seams: the only place libjr uses primitives of one OS. Each has
// a Linux implementation and a portable one (POSIX + C++20). Both are
// compiled on Linux (the unit tests test both); the aliases at the bottom
// choose the one the library uses: the Linux one, unless the build sets
// JR_PLATFORM_FALLBACK (meson -Dplatform_fallback=true) or is not on Linux.
//
// - Wakeup: a descriptor that is readable while signalled. The poll-mode
//   completion queue (Client::fd, jr_client_fd) signals it when the queue
//   becomes non-empty and clears it when jr_dispatch empties it; asyncio's
//   add_reader and Go's dispatcher watch it. Linux: an eventfd. Portable: a
//   non-blocking pipe (the read end is the descriptor; signal writes a byte,
//   clear reads them all).
// - Waiter: sleep on a 32-bit atomic word while it holds an expected value
//   (optionally with a relative timeout), and wake sleepers after changing
//   it, like a futex. The blocking jr_client_call rendezvous (Client::call,
//   waiter_cb) sleeps on it once its spin is over; the loop thread wakes it.
//   A waker touches the word only by address, never dereferencing it, so
//   the sleeper may return (and its stack be reused) before the wake: a late
//   wake is at worst spurious. Linux: futex (FUTEX_WAIT/WAKE_PRIVATE).
//   Portable: a fixed table of mutex + condition_variable buckets hashed by
//   the word's address (a parking lot), not std::atomic::wait/notify: those
//   have no timeout, and notifying an atomic whose lifetime may have ended
//   (the caller already returned) is undefined; a bucket lives forever.
//   Wake-one in the portable build wakes every sleeper of the bucket (they
//   recheck their word and sleep again).
// - cpu_count: the CPUs this process may run on; Client::start caps the
//   threads that spin for a reply at half of it. Linux: sched_getaffinity
//   (a cpuset or taskset counts). Portable: std::thread::hardware_concurrency.
#ifndef JR_SRC_PLATFORM_HPP
#define JR_SRC_PLATFORM_HPP

#include <atomic>
#include <cstdint>

#if defined(__linux__) && !defined(JR_PLATFORM_FALLBACK)
#define JR_PLATFORM_LINUX 1
#else
#define JR_PLATFORM_LINUX 0
#endif

namespace jr::platform {

// The word a Waiter sleeps on: a futex needs a 32-bit lock-free word whose
// address is the value's.
using Word = std::atomic<uint32_t>;
static_assert(sizeof(Word) == sizeof(uint32_t) && Word::is_always_lock_free);

// ---- Portable implementations (always compiled) ----------------------------------

class PipeWakeup {
 public:
  PipeWakeup() = default;
  ~PipeWakeup();
  PipeWakeup(const PipeWakeup &) = delete;
  PipeWakeup &operator=(const PipeWakeup &) = delete;

  // Creates the pipe (both ends non-blocking, close-on-exec). Returns false
  // with errno set on failure.
  [[nodiscard]] bool open() noexcept;
  // The descriptor to poll for readability; -1 before open().
  [[nodiscard]] int fd() const noexcept { return read_fd_; }
  // Makes fd() readable (a no-op if it already is). Any thread.
  void signal() noexcept;
  // Makes fd() not readable until the next signal(). Any thread.
  void clear() noexcept;

 private:
  int read_fd_ = -1;
  int write_fd_ = -1;
};

struct PortableWaiter {
  // Sleeps while word == expected, up to timeout_ns (< 0: no limit).
  // Returns false on timeout, true otherwise (woken, the word changed, or
  // spuriously): callers loop on their own condition.
  static bool wait(const Word &word, uint32_t expected, int64_t timeout_ns = -1) noexcept;
  // Call after changing the word. word need not be alive any more.
  static void wake_one(const Word *word) noexcept;
  static void wake_all(const Word *word) noexcept;
};

[[nodiscard]] int portable_cpu_count() noexcept;

// ---- Linux implementations ---------------------------------------------------------

#if defined(__linux__)
class EventfdWakeup {
 public:
  EventfdWakeup() = default;
  ~EventfdWakeup();
  EventfdWakeup(const EventfdWakeup &) = delete;
  EventfdWakeup &operator=(const EventfdWakeup &) = delete;

  [[nodiscard]] bool open() noexcept;
  [[nodiscard]] int fd() const noexcept { return fd_; }
  void signal() noexcept;
  void clear() noexcept;

 private:
  int fd_ = -1;
};

struct FutexWaiter {
  static bool wait(const Word &word, uint32_t expected, int64_t timeout_ns = -1) noexcept;
  static void wake_one(const Word *word) noexcept;
  static void wake_all(const Word *word) noexcept;
};

[[nodiscard]] int linux_cpu_count() noexcept;
#endif

// ---- What the library uses -----------------------------------------------------------

#if JR_PLATFORM_LINUX
using Wakeup = EventfdWakeup;
using Waiter = FutexWaiter;
inline int cpu_count() noexcept {
  return linux_cpu_count();
}
#else
using Wakeup = PipeWakeup;
using Waiter = PortableWaiter;
inline int cpu_count() noexcept {
  return portable_cpu_count();
}
#endif

}  // namespace jr::platform

#endif  // JR_SRC_PLATFORM_HPP
