// SPDX-License-Identifier: MIT
// Reply storage: every top-level reply lives in one reference-counted arena,
// built directly by hiredis's reader through custom object functions (no
// redisReply tree, no per-node malloc). Arenas are recycled.
#ifndef JR_SRC_RESP_REPLY_HPP
#define JR_SRC_RESP_REPLY_HPP

#include <hiredis/hiredis.h>  // HIREDIS_MAJOR (read.h of 1.x does not say)
#include <hiredis/read.h>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "resp/attributes.hpp"

// hiredis 1.x parses RESP3 and has a reply-function table of 7 entries
// (size_t counts, createDouble, createBool) and a growable task stack;
// 0.14 has 5 entries (int counts) and a fixed rstack[9].
#if defined(HIREDIS_MAJOR) && HIREDIS_MAJOR >= 1
#define JR_HIREDIS_RESP3 1
#else
#define JR_HIREDIS_RESP3 0
#endif

namespace jr {
class Arena;
}

// One node of a reply. Lives inside an arena; never freed on its own.
struct jr_reply {
  int32_t type;
  // Bytes of a string, elements of an aggregate (a map counts keys and
  // values). DOUBLE: u.str is its text, its value the 8 bytes before it;
  // VERB: u.str is the text after "xxx:", its format "xxx\0" the 4 bytes
  // before it; BOOL: u.integer is 0 or 1.
  size_t len;
  union {
    const char *str;
    int64_t integer;
    jr_reply **elements;
  } u;
  jr::Arena *arena;
};

namespace jr {

// A bump allocator with a first chunk inline (in the same allocation, right
// after the header). Not thread-safe while it is being built (loop thread
// only); the reference count is atomic so that an owned reply may be
// released on any thread.
class alignas(16) Arena {
 public:
  static Arena *create();
  // An arena of exactly `n` bytes of data in one allocation with its header,
  // no more: the compact copy of a reply (reply_copy_exact). It is freed,
  // not recycled, when its last reference goes (arena_put).
  static Arena *create_exact(size_t n) noexcept;
  static void destroy(Arena *a) noexcept;

  void *alloc(size_t n) noexcept;  // 8-byte aligned; nullptr on OOM
  void reset() noexcept;           // drop everything but the first chunk
  [[nodiscard]] size_t bytes() const noexcept { return bytes_; }
  // The heap bytes it holds: its header, the first chunk, the chunks beyond.
  [[nodiscard]] size_t footprint() const noexcept;
  [[nodiscard]] bool exact() const noexcept { return exact_; }

  void ref() noexcept { refs_.fetch_add(1, std::memory_order_relaxed); }
  // Returns true when the last reference went away (caller recycles it).
  [[nodiscard]] bool unref() noexcept { return refs_.fetch_sub(1, std::memory_order_acq_rel) == 1; }
  void set_refs(int n) noexcept { refs_.store(n, std::memory_order_relaxed); }

 private:
  struct Chunk {
    Chunk *next;
    size_t cap;
    size_t used;
  };
  static constexpr size_t kFirst = 2048;

  Arena() = default;
  char *data() noexcept { return reinterpret_cast<char *>(this + 1); }
  std::atomic<int> refs_{0};
  bool exact_ = false;
  size_t bytes_ = 0;
  Chunk *extra_ = nullptr;  // chunks beyond the first, newest first
  Chunk first_{nullptr, kFirst, 0};
  // The first chunk's data follows (sizeof(Arena) is a multiple of 16).
};

// Arena recycling: each thread keeps a small private cache that spills to
// and refills from a process-wide list in batches, so neither the loop
// thread nor a dispatching thread takes a lock per reply.
Arena *arena_get() noexcept;        // nullptr on OOM
void arena_put(Arena *a) noexcept;  // a must have no references left
// Drops one reference to the reply's arena and recycles it when unused.
void reply_release(const jr_reply *r) noexcept;
// The bytes a copy of the tree under r takes in an arena: each node, string
// (with its terminator, and a DOUBLE's value or a VERB's format before it)
// and element table, rounded up to 8 as Arena::alloc rounds them.
size_t reply_tree_bytes(const jr_reply *r) noexcept;
// A deep copy of the tree under r in one arena of exactly
// reply_tree_bytes(r) (Arena::create_exact), with one reference; nullptr on
// OOM. For what is kept long (the client-side cache): a parsed reply's
// arena is at least its 2 KB first chunk whatever the reply's size.
jr_reply *reply_copy_exact(const jr_reply *r) noexcept;

// Builds replies that libjr itself produces (pub/sub confirmations, an
// EXECABORT that quotes the queue-time error). Each returns a root with one
// reference, or nullptr on OOM.
struct ReplyPart {
  int type;         // JR_REPLY_STRING / STATUS / ERROR / INTEGER
  std::string str;  // for the string types
  int64_t integer;  // for JR_REPLY_INTEGER
};
jr_reply *make_reply(const ReplyPart &part) noexcept;
jr_reply *make_array_reply(const std::vector<ReplyPart> &parts) noexcept;

struct ReaderLimits {
  int64_t max_bulk_len = 512LL << 20;
  int64_t max_elements = 16LL << 20;
  size_t max_reply_bytes = size_t{1} << 30;
  // RESP3 types are accepted (hiredis 1.x only); otherwise they are a
  // protocol error, as with hiredis 0.14. With RESP3, attributes are
  // removed from the stream before hiredis sees it (attributes.hpp).
  bool resp3 = false;
};

// The deepest nesting of aggregates a reply may have (root + 7), hiredis
// 0.14's own limit, enforced by libjr with hiredis 1.x.
constexpr int kMaxReplyDepth = 8;

// Wraps hiredis's reader (RESP2; RESP3 with hiredis 1.x) with libjr's
// limits.
class ReplyReader {
 public:
  explicit ReplyReader(const ReaderLimits &limits);
  ~ReplyReader();
  ReplyReader(const ReplyReader &) = delete;
  ReplyReader &operator=(const ReplyReader &) = delete;

  // Takes the bytes of one read. They are handed to hiredis piece by piece
  // as next() needs them, so buf must stay valid until next() returns 0 (or
  // an error), and the next feed() replaces what is left. Returns 0, or
  // JR_ENOMEM.
  int feed(const char *buf, size_t len) noexcept;
  // Returns 1 with *out (a root whose arena holds one reference), 0 when more
  // bytes are needed, or JR_EPROTO / JR_ETOOBIG / JR_ENOMEM (message in
  // error()).
  int next(jr_reply **out) noexcept;
  // Discards all state (after an error or a reconnect).
  void reset() noexcept;
  [[nodiscard]] const std::string &error() const noexcept { return error_; }
  [[nodiscard]] size_t buffered() const noexcept;
  // True when the bytes fed so far end inside an item (buffered by hiredis,
  // or inside an attribute being removed).
  [[nodiscard]] bool partial() const noexcept;
  // Attributes removed from the stream (RESP3 only) so far.
  [[nodiscard]] uint64_t attributes_removed() const noexcept { return attrs_.removed(); }
  // RESP3 types accepted or refused from now on (the handshake decides).
  void set_resp3(bool on) noexcept { limits_.resp3 = on; }

 private:
  static void *create_string(const redisReadTask *task, char *str, size_t len);
#if JR_HIREDIS_RESP3
  using Count = size_t;
#else
  using Count = int;
#endif
  static void *create_array(const redisReadTask *task, Count elements);
  static void *create_integer(const redisReadTask *task, long long value);
  static void *create_nil(const redisReadTask *task);
#if JR_HIREDIS_RESP3
  static void *create_double(const redisReadTask *task, double value, char *str, size_t len);
  static void *create_bool(const redisReadTask *task, int value);
  bool type_refused(const redisReadTask *task) noexcept;
#endif
  [[nodiscard]] int pending_type() const noexcept;
  static void free_object(void *obj);
  jr_reply *new_node(const redisReadTask *task, int type, size_t extra) noexcept;
  Arena *current() noexcept;
  int fail(int code, const char *msg) noexcept;
  int check_pending() noexcept;
  [[nodiscard]] bool fits(size_t used, size_t extra) const noexcept;
  int feed_piece() noexcept;
  static int keep(void *ctx, const char *p, size_t n);

  ReaderLimits limits_;
  redisReader *r_ = nullptr;
  Arena *arena_ = nullptr;  // the reply being built
  int limit_code_ = 0;
  std::string error_;
  const char *input_ = nullptr;  // bytes of the last feed() not given to hiredis yet
  size_t input_len_ = 0;
  static constexpr size_t kPiece = 4096;
  size_t piece_ = kPiece;  // bytes handed to hiredis at a time
  AttributeFilter attrs_;  // RESP3: between the input and hiredis
  int attr_code_ = 0;      // its error, reported once hiredis used the bytes before it
  uint64_t bulks_ = 0;     // RESP3: bulk strings built, to match the filter's blob errors
  static redisReplyObjectFunctions fns_;
};

}  // namespace jr

#endif  // JR_SRC_RESP_REPLY_HPP
