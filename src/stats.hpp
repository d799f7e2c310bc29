// SPDX-License-Identifier: MIT
// Statistics (jr_client_stats, jr_client_endpoint_stats, the latency
// histogram). Every counter has one writer, the loop thread, and any
// number of readers: a relaxed load and store (plain moves), never a
// read-modify-write, and nothing a submitting thread writes. A reader loads
// each counter relaxed: each value is exact at some instant, a set of them
// is not one snapshot.
#ifndef JR_SRC_STATS_HPP
#define JR_SRC_STATS_HPP

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace jr {

// Written by one thread only (the loop thread); read by any.
class Counter {
 public:
  void add(uint64_t n = 1) noexcept {
    v_.store(v_.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
  }
  void sub(uint64_t n = 1) noexcept {
    v_.store(v_.load(std::memory_order_relaxed) - n, std::memory_order_relaxed);
  }
  [[nodiscard]] uint64_t get() const noexcept { return v_.load(std::memory_order_relaxed); }

 private:
  std::atomic<uint64_t> v_{0};
};

// One endpoint ("host:port" or a unix path), across every connection to it
// (shared, pooled, pub/sub, monitor, cluster node).
struct EndpointStats {
  explicit EndpointStats(std::string n) : name(std::move(n)) {}
  const std::string name;  // never changes: readers use it without a lock
  Counter connections;     // handshakes done and not lost yet (a gauge)
  Counter completed;       // requests completed by a connection to it
  Counter server_errors;
  Counter library_errors;
  Counter bytes_written;  // handed to the socket (TLS: ciphertext)
  Counter bytes_read;
  Counter connects;  // handshakes done
  Counter disconnects;
  Counter connect_failures;  // failed attempts (each retry counts)
  Counter redirects;         // MOVED and ASK replies from it
};

// Request latency from submit to completion, log-spaced: bucket 0 holds
// < 1024 ns, then four buckets per power of two up to 2^37 ns (~137 s), the
// last holds everything above. Bucket i holds [upper(i-1), upper(i)).
class Latency {
 public:
  static constexpr int kMinShift = 10;  // 1024 ns
  static constexpr int kMaxShift = 36;  // the last octave: [2^36, 2^37)
  static constexpr size_t kBuckets = 2 + (kMaxShift - kMinShift + 1) * 4;
  static size_t bucket(uint64_t ns) noexcept {
    if (ns < (uint64_t{1} << kMinShift)) return 0;
    int k = 63 - __builtin_clzll(ns);
    if (k > kMaxShift) return kBuckets - 1;
    return 1 + static_cast<size_t>(k - kMinShift) * 4 + ((ns >> (k - 2)) & 3);
  }
  static uint64_t upper_ns(size_t i) noexcept {
    if (i == 0) return uint64_t{1} << kMinShift;
    if (i >= kBuckets - 1) return UINT64_MAX;
    size_t j = i - 1;
    int k = kMinShift + static_cast<int>(j / 4);
    return (uint64_t{1} << k) + ((j % 4 + 1) << (k - 2));
  }
  void record(uint64_t ns) noexcept { counts_[bucket(ns)].add(); }
  [[nodiscard]] uint64_t count(size_t i) const noexcept { return counts_[i].get(); }

 private:
  Counter counts_[kBuckets];
};

class Stats {
 public:
  Counter submitted;  // requests the loop thread took in
  // Requests completed (once each): the sum of the latency buckets, as
  // every request is timed (one counter less on the path).
  [[nodiscard]] uint64_t completed() const noexcept {
    uint64_t n = 0;
    for (size_t i = 0; i < Latency::kBuckets; i++) n += latency.count(i);
    return n;
  }
  Counter server_errors;
  Counter library_errors;
  Counter timeouts;  // JR_ETIMEDOUT, JR_EQUEUETIMEOUT, JR_EPOOLTIMEOUT
  Counter cancels;   // JR_ECANCELED, JR_EABANDONED
  Latency latency;

  // Loop thread: the endpoint's record, made on first use; the pointer is
  // valid as long as the client.
  EndpointStats *endpoint(const std::string &name) {
    std::lock_guard<std::mutex> lk(mu_);
    for (auto &e : eps_)
      if (e->name == name) return e.get();
    eps_.push_back(std::make_unique<EndpointStats>(name));
    return eps_.back().get();
  }
  // Any thread: the i-th endpoint record (in the order they were made), or
  // nullptr past the last.
  const EndpointStats *endpoint_at(size_t i) const {
    std::lock_guard<std::mutex> lk(mu_);
    return i < eps_.size() ? eps_[i].get() : nullptr;
  }

 private:
  mutable std::mutex mu_;
  std::vector<std::unique_ptr<EndpointStats>> eps_;
};

}  // namespace jr

#endif  // JR_SRC_STATS_HPP
