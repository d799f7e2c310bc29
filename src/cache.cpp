// SPDX-License-Identifier: MIT
// The client-side cache and its table of cacheable reads: see cache.hpp.
#include "cache.hpp"

#include <cstring>
#include <new>

#include "jr/jr.h"
#include "saturate.hpp"

namespace jr {

namespace {

// A read and where its keys are: argv[first], then every step-th argument
// up to argv[last] (last < 0: counted from the end, -1 the last argument).
struct ReadSpec {
  const char *name;
  int first;
  int last;
  int step;
};

// Deterministic reads only: what the reply says depends on the keys' values
// alone, so an invalidation of those keys is all that can change it. Not
// here: writes and reads with side effects (GETEX, GETDEL), random replies
// (SRANDMEMBER, HRANDFIELD, ZRANDMEMBER), time (TTL, PTTL, OBJECT), cursors
// (SCAN and its kind), blocking commands.
constexpr ReadSpec kReads[] = {
    {"GET", 1, 1, 1},         {"MGET", 1, -1, 1},          {"EXISTS", 1, -1, 1},
    {"STRLEN", 1, 1, 1},      {"GETRANGE", 1, 1, 1},       {"SUBSTR", 1, 1, 1},
    {"GETBIT", 1, 1, 1},      {"BITCOUNT", 1, 1, 1},       {"BITPOS", 1, 1, 1},
    {"TYPE", 1, 1, 1},        {"HGET", 1, 1, 1},           {"HMGET", 1, 1, 1},
    {"HGETALL", 1, 1, 1},     {"HEXISTS", 1, 1, 1},        {"HLEN", 1, 1, 1},
    {"HKEYS", 1, 1, 1},       {"HVALS", 1, 1, 1},          {"HSTRLEN", 1, 1, 1},
    {"SMEMBERS", 1, 1, 1},    {"SISMEMBER", 1, 1, 1},      {"SMISMEMBER", 1, 1, 1},
    {"SCARD", 1, 1, 1},       {"SINTER", 1, -1, 1},        {"SUNION", 1, -1, 1},
    {"SDIFF", 1, -1, 1},      {"LRANGE", 1, 1, 1},         {"LLEN", 1, 1, 1},
    {"LINDEX", 1, 1, 1},      {"LPOS", 1, 1, 1},           {"ZRANGE", 1, 1, 1},
    {"ZREVRANGE", 1, 1, 1},   {"ZRANGEBYSCORE", 1, 1, 1},  {"ZREVRANGEBYSCORE", 1, 1, 1},
    {"ZRANGEBYLEX", 1, 1, 1}, {"ZREVRANGEBYLEX", 1, 1, 1}, {"ZSCORE", 1, 1, 1},
    {"ZMSCORE", 1, 1, 1},     {"ZCARD", 1, 1, 1},          {"ZCOUNT", 1, 1, 1},
    {"ZLEXCOUNT", 1, 1, 1},   {"ZRANK", 1, 1, 1},          {"ZREVRANK", 1, 1, 1},
};

bool iequal(const char *s, size_t len, const char *upper) noexcept {
  for (size_t i = 0; i < len; i++) {
    char ch = s[i];
    if (ch >= 'a' && ch <= 'z') ch = static_cast<char>(ch - 32);
    if (ch != upper[i] || upper[i] == '\0') return false;
  }
  return upper[len] == '\0';
}

size_t arg_len(const char *const *argv, const size_t *lens, size_t i) noexcept {
  return lens != nullptr ? lens[i] : std::strlen(argv[i]);
}

// The entry's key: the database, then each argument with its length (the
// name in upper case, so "get" and "GET" share an entry).
std::string request_key(int db, size_t argc, const char *const *argv, const size_t *lens) {
  std::string k;
  std::string d = std::to_string(db);
  size_t total = d.size() + 1;  // exactly: the entry keeps (and is charged) its capacity
  for (size_t i = 0; i < argc; i++) total += arg_len(argv, lens, i) + sizeof(uint32_t);
  k.reserve(total);
  k.append(d).push_back(':');
  for (size_t i = 0; i < argc; i++) {
    size_t n = arg_len(argv, lens, i);
    uint32_t n32 = static_cast<uint32_t>(n);
    k.append(reinterpret_cast<const char *>(&n32), sizeof n32);
    if (i == 0) {
      for (size_t j = 0; j < n; j++) {
        char ch = argv[0][j];
        k.push_back(ch >= 'a' && ch <= 'z' ? static_cast<char>(ch - 32) : ch);
      }
    } else {
      k.append(argv[i], n);
    }
  }
  return k;
}

}  // namespace

bool cacheable_read(size_t argc, const char *const *argv, const size_t *lens,
                    std::vector<std::string_view> &keys) {
  keys.clear();
  if (argc < 2) return false;
  size_t len0 = arg_len(argv, lens, 0);
  if (len0 < 3 || len0 > 16) return false;
  for (const ReadSpec &r : kReads) {
    if (!iequal(argv[0], len0, r.name)) continue;
    auto last = static_cast<size_t>(r.last >= 0 ? r.last : static_cast<int>(argc) + r.last);
    if (static_cast<size_t>(r.first) >= argc || last >= argc) return false;
    for (size_t i = static_cast<size_t>(r.first); i <= last; i += static_cast<size_t>(r.step))
      keys.emplace_back(argv[i], arg_len(argv, lens, i));
    return !keys.empty();
  }
  return false;
}

ClientCache::ClientCache(Config cfg) : cfg_(std::move(cfg)) {}

ClientCache::~ClientCache() {
  std::lock_guard<std::mutex> lk(mu_);
  clear();
}

// What an entry holds, each term in bytes (libstdc++'s layouts):
//   reply   block                     sizeof(Arena) + tree for the compact
//                                     copy (one allocation); a reply kept
//                                     as it is: its arena's footprint
//                                     (its chunks' malloc headers, 16 B
//                                     per 8 KB or more, not counted)
//   entry   sizeof(Entry)             one allocation
//   req     heap(req)                 its buffer beyond the inline (SSO) one
//   keys    cap(keys) * sizeof(std::string) + sum heap(key)
//   index   (1 + n) * (kHashNode + sizeof(void *))
//                                     a by_req_ node and n by_key_ nodes
//                                     (views: no copies of the strings),
//                                     a bucket pointer each
//   + kAllocOverhead per allocation   malloc's header and rounding
// with heap(s) = s.capacity() + 1 when s is not inline, else 0, n the
// keys. tests/unit/test_cache.cpp checks it against the content.
size_t ClientCache::cost_of(size_t block, const std::string &req,
                            const std::vector<std::string> &keys) noexcept {
  constexpr size_t kAllocOverhead = 16;
  constexpr size_t kHashNode =
      sizeof(void *) + sizeof(std::pair<const std::string_view, Entry *>) + sizeof(size_t);
  const size_t inline_cap = std::string().capacity();
  size_t allocs = 2;  // the reply, the entry
  auto heap = [&](const std::string &s) -> size_t {
    if (s.capacity() <= inline_cap) return 0;
    allocs++;
    return s.capacity() + 1;
  };
  size_t n = block + sizeof(Entry) + heap(req);
  if (keys.capacity() > 0) {
    allocs++;
    n += keys.capacity() * sizeof(std::string);
  }
  for (const std::string &k : keys) n += heap(k);
  n += (1 + keys.size()) * (kHashNode + sizeof(void *));
  allocs += 1 + keys.size();
  return n + allocs * kAllocOverhead;
}

jr_reply *ClientCache::lookup(int db, size_t argc, const char *const *argv, const size_t *lens,
                              int64_t now, CacheFill **fill) {
  *fill = nullptr;
  thread_local std::vector<std::string_view> keys;
  if (!cacheable_read(argc, argv, lens, keys)) return nullptr;
  if (!cfg_.prefixes.empty()) {
    // Broadcast mode: the server tells about keys under the prefixes only.
    for (std::string_view k : keys) {
      bool under = false;
      for (const std::string &p : cfg_.prefixes) under = under || k.substr(0, p.size()) == p;
      if (!under) return nullptr;
    }
  }
  std::string req = request_key(db, argc, argv, lens);
  std::lock_guard<std::mutex> lk(mu_);
  auto it = by_req_.find(req);
  if (it != by_req_.end()) {
    Entry *e = it->second;
    if (e->expires != 0 && e->expires <= now) {
      erase(e);
      evictions_.add();
    } else {
      lru_front(e);
      hits_.add();
      e->reply->arena->ref();
      return e->reply;
    }
  }
  misses_.add();
  if (!live_) return nullptr;
  auto *f = new (std::nothrow) CacheFill;
  if (f == nullptr) return nullptr;
  try {
    f->req = std::move(req);
    f->keys.reserve(keys.size());
    for (std::string_view k : keys) f->keys.emplace_back(k);
    f->start = ++clock_;
    for (const std::string &k : f->keys) pending_[k].reads++;
  } catch (...) {
    // Out of memory: what was counted is undone; the read is not cached.
    for (const std::string &k : f->keys) {
      auto p = pending_.find(k);
      if (p != pending_.end() && --p->second.reads == 0) pending_.erase(p);
    }
    delete f;
    return nullptr;
  }
  *fill = f;
  return nullptr;
}

void ClientCache::finish(CacheFill *f, int status, const jr_reply *reply, int64_t now) {
  // The entry keeps a compact copy of the reply, unless the reply's arena
  // is tight already: it holds this tree and less than an eighth more (a
  // compact copy itself, or a large reply: its string or table has a chunk
  // of its own), and a copy would save little. Made before taking the lock
  // (hits on other threads would wait on it), and dropped when the fill
  // turns out not to be allowed.
  jr_reply *kept = nullptr;
  size_t cost = 0;
  if (status == JR_OK && reply != nullptr && reply->type != JR_REPLY_ERROR) {
    size_t exact = sizeof(Arena) + reply_tree_bytes(reply);
    const Arena *a = reply->arena;
    size_t held = a != nullptr ? a->footprint() : SIZE_MAX;
    bool tight = held <= exact + (exact - sizeof(Arena)) / 8;
    cost = cost_of(tight ? held : exact, f->req, f->keys);
    if (cost <= cfg_.max_bytes) {
      if (tight) {
        reply->arena->ref();
        kept = const_cast<jr_reply *>(reply);
      } else {
        kept = reply_copy_exact(reply);  // nullptr on OOM: not cached
      }
    }
  }
  {
    std::lock_guard<std::mutex> lk(mu_);
    bool ok = live_ && kept != nullptr && f->start > flushed_at_;
    for (const std::string &k : f->keys) {
      auto p = pending_.find(k);
      if (p == pending_.end()) continue;
      if (p->second.invalidated > f->start) ok = false;  // invalidated while in flight
      if (--p->second.reads == 0) pending_.erase(p);
    }
    if (ok) {
      Entry *e = nullptr;
      try {
        auto old = by_req_.find(f->req);
        if (old != by_req_.end()) erase(old->second);
        while (bytes_ + cost > cfg_.max_bytes && tail_ != nullptr) {
          erase(tail_);
          evictions_.add();
        }
        e = new Entry;
        e->req = std::move(f->req);  // moves keep the capacities cost_of charged
        e->keys = std::move(f->keys);
        e->reply = kept;
        e->bytes = cost;
        e->expires = cfg_.ttl_ms > 0 ? sat_add(now, cfg_.ttl_ms) : 0;
        by_req_.emplace(e->req, e);
        for (const std::string &k : e->keys) by_key_.emplace(k, e);
        lru_front(e);
        bytes_ += cost;
        kept = nullptr;  // the entry's now
      } catch (...) {
        // Out of memory: not cached; out of whatever index took it.
        if (e != nullptr) unindex(e);
        delete e;
      }
    }
  }
  reply_release(kept);  // not kept (the entry's reference otherwise)
  delete f;
}

void ClientCache::invalidate(const std::vector<std::string_view> &keys) {
  std::lock_guard<std::mutex> lk(mu_);
  std::string k;
  for (std::string_view kv : keys) {
    invalidations_.add();
    k.assign(kv);
    auto p = pending_.find(k);
    if (p != pending_.end()) p->second.invalidated = ++clock_;
    // Each erase unlinks the entry from every key it reads (MGET a b, or
    // MGET a a: twice under the same key), this one included.
    for (auto it = by_key_.find(kv); it != by_key_.end(); it = by_key_.find(kv)) erase(it->second);
  }
}

void ClientCache::flush() {
  std::lock_guard<std::mutex> lk(mu_);
  invalidations_.add();
  clear();
  flushed_at_ = ++clock_;
}

void ClientCache::set_live(bool live) {
  std::lock_guard<std::mutex> lk(mu_);
  if (!live) {
    clear();
    flushed_at_ = ++clock_;
  }
  live_ = live;
}

bool ClientCache::live() const {
  std::lock_guard<std::mutex> lk(mu_);
  return live_;
}

ClientCache::Counts ClientCache::counts() const {
  std::lock_guard<std::mutex> lk(mu_);
  return Counts{hits_.get(),      misses_.get(),  invalidations_.get(),
                evictions_.get(), by_req_.size(), bytes_};
}

void ClientCache::lru_unlink(Entry *e) noexcept {
  if (e->prev != nullptr) {
    e->prev->next = e->next;
  } else if (head_ == e) {
    head_ = e->next;
  }
  if (e->next != nullptr) {
    e->next->prev = e->prev;
  } else if (tail_ == e) {
    tail_ = e->prev;
  }
  e->prev = e->next = nullptr;
}

void ClientCache::lru_front(Entry *e) noexcept {
  if (head_ == e) return;
  lru_unlink(e);
  e->next = head_;
  if (head_ != nullptr) head_->prev = e;
  head_ = e;
  if (tail_ == nullptr) tail_ = e;
}

void ClientCache::unindex(Entry *e) noexcept {
  for (const std::string &k : e->keys) {
    auto range = by_key_.equal_range(k);
    for (auto it = range.first; it != range.second; ++it) {
      if (it->second == e) {
        by_key_.erase(it);
        break;
      }
    }
  }
  auto it = by_req_.find(e->req);
  if (it != by_req_.end() && it->second == e) by_req_.erase(it);
}

void ClientCache::erase(Entry *e) {
  lru_unlink(e);
  unindex(e);
  bytes_ -= e->bytes;
  reply_release(e->reply);
  delete e;
}

void ClientCache::clear() {
  while (head_ != nullptr) erase(head_);
}

}  // namespace jr
