// SPDX-License-Identifier: MIT
// Saturating arithmetic for deadlines and sizes. A value a caller passes (a
// timeout near INT64_MAX, a length near SIZE_MAX) must clamp, never wrap: a
// wrapped deadline is negative, and a negative deadline once armed kept
// every later deadline of the client from firing.
#ifndef JR_SRC_SATURATE_HPP
#define JR_SRC_SATURATE_HPP

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <limits>

namespace jr {

// a + b, clamped to [INT64_MIN, INT64_MAX].
constexpr int64_t sat_add(int64_t a, int64_t b) noexcept {
  int64_t r = 0;
  if (__builtin_add_overflow(a, b, &r))
    return b > 0 ? std::numeric_limits<int64_t>::max() : std::numeric_limits<int64_t>::min();
  return r;
}

// a + b for sizes, SIZE_MAX on overflow.
constexpr size_t sat_add(size_t a, size_t b) noexcept {
  size_t r = 0;
  return __builtin_add_overflow(a, b, &r) ? std::numeric_limits<size_t>::max() : r;
}

// The deadline (now_ms() based) `timeout_ms` after `now`: 0 (no deadline)
// for timeout_ms <= 0. Saturates at INT64_MAX, a deadline that never comes.
constexpr int64_t deadline_after(int64_t now, int64_t timeout_ms) noexcept {
  return timeout_ms > 0 ? sat_add(now, timeout_ms) : 0;
}

// Milliseconds from `now` until `deadline`, never negative.
constexpr int64_t ms_until(int64_t deadline, int64_t now) noexcept {
  int64_t r = 0;
  if (__builtin_sub_overflow(deadline, now, &r)) return deadline > now ? INT64_MAX : 0;
  return r > 0 ? r : 0;
}

// A wait of `ms` as a chrono duration that a condition variable's wait_for
// can add to steady_clock::now() without overflow: std::chrono::milliseconds
// (INT64_MAX) becomes a negative count of nanoseconds there and the wait
// returns at once. Clamped to [0, one day]: the caller waits again if its
// deadline is further away.
inline std::chrono::milliseconds bounded_wait(int64_t ms) noexcept {
  constexpr int64_t kDay = int64_t{24} * 3600 * 1000;
  return std::chrono::milliseconds(ms <= 0 ? 0 : ms < kDay ? ms : kDay);
}

}  // namespace jr

#endif  // JR_SRC_SATURATE_HPP
