// SPDX-License-Identifier: MIT
// Client-side caching: the cache of read replies (ClientCache) and the table
// of the read commands it may answer. The cache holds immutable reply trees
// shared by reference (one reference on the reply's arena per entry; a hit
// hands out one more, no copy). A fill keeps a compact copy of the reply
// (reply_copy_exact: one allocation sized to the tree), not the parsed
// reply's arena (2 KB and more even for a 3-byte GET), unless that arena is
// tight already (a large reply). Each entry is charged what it holds (the
// formula in cache.cpp), bounded by bytes (LRU) and by age (a TTL, the
// safety net). It is filled only by reads that nothing invalidated while they were
// in flight (a CacheFill token per read), and only while the server tracks
// the keys for this client (live). The server's invalidations and the
// tracking (tracking.cpp) drive it. Thread-safe: hits are looked up on the
// submitting thread; fills, invalidations and flushes come from the loop
// thread. No I/O: tests/unit/test_cache.cpp drives it directly.
#ifndef JR_SRC_CACHE_HPP
#define JR_SRC_CACHE_HPP

#include <cstddef>
#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "resp/reply.hpp"
#include "stats.hpp"

namespace jr {

// The keys of a read the cache may answer (views into argv), or false: not
// a cacheable read (unknown, a write, random or time-dependent, no key).
// Reads of the table: GET MGET EXISTS STRLEN GETRANGE SUBSTR GETBIT
// BITCOUNT BITPOS TYPE, HGET HMGET HGETALL HEXISTS HLEN HKEYS HVALS HSTRLEN,
// SMEMBERS SISMEMBER SMISMEMBER SCARD SINTER SUNION SDIFF, LRANGE LLEN
// LINDEX LPOS, ZRANGE ZREVRANGE ZRANGEBYSCORE ZREVRANGEBYSCORE ZRANGEBYLEX
// ZREVRANGEBYLEX ZSCORE ZMSCORE ZCARD ZCOUNT ZLEXCOUNT ZRANK ZREVRANK.
bool cacheable_read(size_t argc, const char *const *argv, const size_t *lens,
                    std::vector<std::string_view> &keys);

// A read in flight whose reply may fill the cache (see ClientCache::lookup).
struct CacheFill {
  std::string req;                // the entry's key: database and arguments
  std::vector<std::string> keys;  // the Redis keys it reads
  uint64_t start = 0;             // the cache's clock when it was made
};

class ClientCache {
 public:
  struct Config {
    size_t max_bytes = 0;
    int64_t ttl_ms = 0;                 // 0: entries never age out
    std::vector<std::string> prefixes;  // BCAST: only keys under these are cached
  };
  explicit ClientCache(Config cfg);
  ~ClientCache();
  ClientCache(const ClientCache &) = delete;
  ClientCache &operator=(const ClientCache &) = delete;

  // Any thread. A cacheable read (cacheable_read, and with prefixes every
  // key under one): a hit returns the cached reply with one reference for
  // the caller (jr_reply_free / reply_release). A miss returns nullptr and,
  // while the cache is live, *fill: the token the read carries until its
  // completion (finish). Not cacheable: nullptr, *fill nullptr, not counted.
  jr_reply *lookup(int db, size_t argc, const char *const *argv, const size_t *lens, int64_t now,
                   CacheFill **fill);
  // The read's completion (any status; reply may be nullptr): fills the
  // cache when the cache stayed live, nothing invalidated one of its keys
  // or flushed the cache since the token was made, and the reply is not an
  // error. Takes a reference of its own on reply's arena. Deletes f.
  void finish(CacheFill *f, int status, const jr_reply *reply, int64_t now);
  // The server invalidated these keys: their entries go, reads of them in
  // flight will not fill.
  void invalidate(const std::vector<std::string_view> &keys);
  // Everything goes (the server flushed, or the tracking was lost), and the
  // reads in flight will not fill.
  void flush();
  // Live: the server tracks the keys read from now on (fills allowed). Not
  // live: flushed, and nothing fills until it is live again.
  void set_live(bool live);
  [[nodiscard]] bool live() const;

  struct Counts {
    uint64_t hits, misses, invalidations, evictions, entries, bytes;
  };
  [[nodiscard]] Counts counts() const;
  [[nodiscard]] const Config &config() const noexcept { return cfg_; }
  // Bytes an entry costs: see the formula in cache.cpp. `block`: the
  // bytes of the reply's arena the entry holds; req and keys as the entry
  // will hold them.
  static size_t cost_of(size_t block, const std::string &req,
                        const std::vector<std::string> &keys) noexcept;

 private:
  struct Entry {
    std::string req;
    std::vector<std::string> keys;
    jr_reply *reply = nullptr;  // one reference held
    size_t bytes = 0;
    int64_t expires = 0;  // 0: never
    Entry *prev = nullptr;
    Entry *next = nullptr;  // LRU: head is the most recently used
  };
  void erase(Entry *e);             // mu_ held
  void unindex(Entry *e) noexcept;  // mu_ held: out of by_req_ and by_key_
  void clear();                     // mu_ held
  void lru_front(Entry *e) noexcept;
  void lru_unlink(Entry *e) noexcept;

  struct Pending {
    uint32_t reads = 0;        // fills in flight that read this key
    uint64_t invalidated = 0;  // the clock of its last invalidation
  };

  const Config cfg_;
  mutable std::mutex mu_;
  bool live_ = false;
  uint64_t clock_ = 0;       // a logical clock: tokens, invalidations, flushes
  uint64_t flushed_at_ = 0;  // the clock of the last flush
  size_t bytes_ = 0;
  Entry *head_ = nullptr;
  Entry *tail_ = nullptr;
  // Views of the entries' own req and keys (an entry's strings never move).
  std::unordered_map<std::string_view, Entry *> by_req_;
  std::unordered_multimap<std::string_view, Entry *> by_key_;
  std::unordered_map<std::string, Pending> pending_;
  // Written under mu_ only (one writer at a time), read by any thread.
  Counter hits_, misses_, invalidations_, evictions_;
};

}  // namespace jr

#endif  // JR_SRC_CACHE_HPP
