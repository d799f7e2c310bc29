// SPDX-License-Identifier: MIT
// Platform seams: see platform.hpp.
#include "platform.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <functional>
#include <mutex>
#include <thread>

#if defined(__linux__)
#include <linux/futex.h>
#include <sched.h>
#include <sys/eventfd.h>
#include <sys/syscall.h>
#include <time.h>
#endif

namespace jr::platform {

// ---- PipeWakeup ----------------------------------------------------------------------

namespace {
bool set_flags(int fd) noexcept {
  int fl = fcntl(fd, F_GETFL);
  int fd_fl = fcntl(fd, F_GETFD);
  return fl >= 0 && fd_fl >= 0 && fcntl(fd, F_SETFL, fl | O_NONBLOCK) == 0 &&
         fcntl(fd, F_SETFD, fd_fl | FD_CLOEXEC) == 0;
}
}  // namespace

PipeWakeup::~PipeWakeup() {
  if (read_fd_ >= 0) close(read_fd_);
  if (write_fd_ >= 0) close(write_fd_);
}

bool PipeWakeup::open() noexcept {
  int fds[2];
  // pipe + fcntl, not pipe2 (not on macOS): a fork+exec in another thread
  // between the two may inherit the descriptors, as with any pipe().
  if (pipe(fds) != 0) return false;
  if (!set_flags(fds[0]) || !set_flags(fds[1])) {
    int err = errno;
    close(fds[0]);
    close(fds[1]);
    errno = err;
    return false;
  }
  read_fd_ = fds[0];
  write_fd_ = fds[1];
  return true;
}

void PipeWakeup::signal() noexcept {
  char one = 1;
  ssize_t n;
  do {
    n = write(write_fd_, &one, 1);
  } while (n < 0 && errno == EINTR);
  // EAGAIN: the pipe is full, so it is readable already.
}

void PipeWakeup::clear() noexcept {
  char buf[64];
  for (;;) {
    ssize_t n = read(read_fd_, buf, sizeof buf);
    if (n == static_cast<ssize_t>(sizeof buf) || (n < 0 && errno == EINTR)) continue;
    return;  // drained (short read or EAGAIN)
  }
}

// ---- PortableWaiter --------------------------------------------------------------------

namespace {
struct alignas(64) Bucket {
  std::mutex mu;
  std::condition_variable cv;
};
constexpr size_t kBuckets = 64;

Bucket &bucket_for(const Word *word) noexcept {
  // Never destroyed: a wake may come from a thread still running at exit.
  static Bucket *const table = new Bucket[kBuckets];
  size_t h = std::hash<const void *>()(word);
  return table[(h ^ (h >> 6) ^ (h >> 12)) % kBuckets];
}
}  // namespace

bool PortableWaiter::wait(const Word &word, uint32_t expected, int64_t timeout_ns) noexcept {
  Bucket &b = bucket_for(&word);
  std::unique_lock<std::mutex> lk(b.mu);
  // A waker changes the word before it takes the bucket's mutex: checked
  // under the mutex, the change is either seen here or notified below.
  if (word.load(std::memory_order_acquire) != expected) return true;
  if (timeout_ns < 0) {
    b.cv.wait(lk);
    return true;
  }
  return b.cv.wait_for(lk, std::chrono::nanoseconds(timeout_ns)) == std::cv_status::no_timeout ||
         word.load(std::memory_order_acquire) != expected;
}

void PortableWaiter::wake_one(const Word *word) noexcept {
  // Other words may share the bucket: wake them all, each rechecks its own.
  wake_all(word);
}

void PortableWaiter::wake_all(const Word *word) noexcept {
  Bucket &b = bucket_for(word);
  { std::lock_guard<std::mutex> lk(b.mu); }
  b.cv.notify_all();
}

int portable_cpu_count() noexcept {
  return std::max(1, static_cast<int>(std::thread::hardware_concurrency()));
}

// ---- Linux ---------------------------------------------------------------------------------

#if defined(__linux__)
EventfdWakeup::~EventfdWakeup() {
  if (fd_ >= 0) close(fd_);
}

bool EventfdWakeup::open() noexcept {
  fd_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  return fd_ >= 0;
}

void EventfdWakeup::signal() noexcept {
  uint64_t one = 1;
  ssize_t n;
  do {
    n = write(fd_, &one, sizeof one);
  } while (n < 0 && errno == EINTR);
}

void EventfdWakeup::clear() noexcept {
  uint64_t v;
  ssize_t n;
  do {
    n = read(fd_, &v, sizeof v);
  } while (n < 0 && errno == EINTR);
}

namespace {
// FUTEX_WAIT compares the word's value itself: it only reads the address.
uint32_t *futex_addr(const Word *word) noexcept {
  return const_cast<uint32_t *>(reinterpret_cast<const uint32_t *>(word));
}
}  // namespace

bool FutexWaiter::wait(const Word &word, uint32_t expected, int64_t timeout_ns) noexcept {
  struct timespec ts;
  struct timespec *tp = nullptr;
  if (timeout_ns >= 0) {
    ts.tv_sec = static_cast<time_t>(timeout_ns / 1000000000);
    ts.tv_nsec = static_cast<long>(timeout_ns % 1000000000);
    tp = &ts;
  }
  int err = errno;
  long r = syscall(SYS_futex, futex_addr(&word), FUTEX_WAIT_PRIVATE, expected, tp, nullptr, 0);
  bool timed_out = r != 0 && errno == ETIMEDOUT;
  errno = err;
  return !timed_out;
}

void FutexWaiter::wake_one(const Word *word) noexcept {
  syscall(SYS_futex, futex_addr(word), FUTEX_WAKE_PRIVATE, 1, nullptr, nullptr, 0);
}

void FutexWaiter::wake_all(const Word *word) noexcept {
  syscall(SYS_futex, futex_addr(word), FUTEX_WAKE_PRIVATE, INT32_MAX, nullptr, nullptr, 0);
}

int linux_cpu_count() noexcept {
  cpu_set_t cpus;
  CPU_ZERO(&cpus);
  if (sched_getaffinity(0, sizeof cpus, &cpus) == 0) return CPU_COUNT(&cpus);
  return portable_cpu_count();
}
#endif

}  // namespace jr::platform
