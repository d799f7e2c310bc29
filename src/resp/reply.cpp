// SPDX-License-Identifier: MIT
#include "resp/reply.hpp"

#include <cstdlib>
#include <cstring>
#include <mutex>
#include <new>

#include "jr/jr.h"

namespace jr {

// ---- Arena -------------------------------------------------------------

static_assert(sizeof(Arena) % 16 == 0, "the first chunk's data follows the header, aligned");

Arena *Arena::create() {
  void *mem = std::malloc(sizeof(Arena) + kFirst);
  if (mem == nullptr) return nullptr;
  return new (mem) Arena();
}

Arena *Arena::create_exact(size_t n) noexcept {
  if (n > SIZE_MAX - sizeof(Arena)) return nullptr;
  void *mem = std::malloc(sizeof(Arena) + n);
  if (mem == nullptr) return nullptr;
  auto *a = new (mem) Arena();
  a->first_.cap = n;
  a->exact_ = true;
  return a;
}

size_t Arena::footprint() const noexcept {
  size_t n = sizeof(Arena) + first_.cap;
  for (const Chunk *c = extra_; c != nullptr; c = c->next) n += sizeof(Chunk) + c->cap;
  return n;
}

void Arena::destroy(Arena *a) noexcept {
  if (a == nullptr) return;
  a->reset();
  a->~Arena();
  std::free(a);
}

void *Arena::alloc(size_t n) noexcept {
  // Saturate: a size near SIZE_MAX must fail, not round up to a tiny one.
  if (n > SIZE_MAX - sizeof(Chunk) - 7) return nullptr;
  n = (n + 7) & ~size_t{7};
  bytes_ += n;
  if (extra_ == nullptr && first_.cap - first_.used >= n) {
    void *p = data() + first_.used;
    first_.used += n;
    return p;
  }
  if (extra_ != nullptr && extra_->cap - extra_->used >= n) {
    char *base = reinterpret_cast<char *>(extra_ + 1);
    void *p = base + extra_->used;
    extra_->used += n;
    return p;
  }
  size_t cap = extra_ != nullptr && extra_->cap <= SIZE_MAX / 2 ? extra_->cap * 2 : kFirst * 4;
  if (cap < n) cap = n;
  if (cap > (size_t{1} << 20) && n < (size_t{1} << 20)) cap = size_t{1} << 20;
  auto *c = static_cast<Chunk *>(std::malloc(sizeof(Chunk) + cap));
  if (c == nullptr) return nullptr;
  c->next = extra_;
  c->cap = cap;
  c->used = n;
  extra_ = c;
  return reinterpret_cast<char *>(c + 1);
}

void Arena::reset() noexcept {
  while (extra_ != nullptr) {
    Chunk *next = extra_->next;
    std::free(extra_);
    extra_ = next;
  }
  first_.used = 0;
  bytes_ = 0;
}

// ---- Arena recycling ---------------------------------------------------

namespace {

constexpr size_t kSharedMax = 4096;
constexpr size_t kLocalMax = 256;
constexpr size_t kBatch = 64;

struct SharedArenas {
  std::mutex mu;
  std::vector<Arena *> list;
  ~SharedArenas() {
    for (Arena *a : list) Arena::destroy(a);
  }
};

SharedArenas &shared_arenas() {
  static SharedArenas s;
  return s;
}

void spill(std::vector<Arena *> &v, size_t keep) noexcept {
  SharedArenas &s = shared_arenas();
  std::lock_guard<std::mutex> lk(s.mu);
  while (v.size() > keep) {
    Arena *a = v.back();
    v.pop_back();
    if (s.list.size() < kSharedMax) {
      s.list.push_back(a);
    } else {
      Arena::destroy(a);
    }
  }
}

struct LocalArenas {
  std::vector<Arena *> list;
  ~LocalArenas() { spill(list, 0); }
};

LocalArenas &local_arenas() {
  // initial-exec: no __tls_get_addr per reply (see client.cpp).
  [[gnu::tls_model("initial-exec")]] static thread_local LocalArenas l;
  return l;
}

}  // namespace

Arena *arena_get() noexcept {
  std::vector<Arena *> &v = local_arenas().list;
  if (v.empty()) {
    SharedArenas &s = shared_arenas();
    std::lock_guard<std::mutex> lk(s.mu);
    for (size_t i = 0; i < kBatch && !s.list.empty(); i++) {
      v.push_back(s.list.back());
      s.list.pop_back();
    }
  }
  if (v.empty()) return Arena::create();
  Arena *a = v.back();
  v.pop_back();
  return a;
}

void arena_put(Arena *a) noexcept {
  if (a->exact()) {  // sized for one reply: freed, not recycled
    Arena::destroy(a);
    return;
  }
  a->reset();
  std::vector<Arena *> &v = local_arenas().list;
  v.push_back(a);
  if (v.size() > kLocalMax) spill(v, kLocalMax - kBatch);
}

void reply_release(const jr_reply *r) noexcept {
  if (r != nullptr && r->arena->unref()) arena_put(r->arena);
}

// ---- Compact copies ------------------------------------------------------

namespace {

constexpr size_t round8(size_t n) noexcept {
  return (n + 7) & ~size_t{7};
}

bool is_aggregate(int type) noexcept {
  return type == JR_REPLY_ARRAY || type == JR_REPLY_MAP || type == JR_REPLY_SET ||
         type == JR_REPLY_ATTR || type == JR_REPLY_PUSH;
}

// The bytes before u.str that belong to the string: a DOUBLE's value, a
// VERB's "xxx\0" format (see jr_reply).
size_t str_prefix(int type) noexcept {
  if (type == JR_REPLY_DOUBLE) return sizeof(double);
  if (type == JR_REPLY_VERB) return 4;
  return 0;
}

bool has_str(int type) noexcept {
  return type == JR_REPLY_STRING || type == JR_REPLY_STATUS || type == JR_REPLY_ERROR ||
         type == JR_REPLY_DOUBLE || type == JR_REPLY_BIGNUM || type == JR_REPLY_VERB;
}

jr_reply *copy_into(Arena *a, const jr_reply *r) noexcept {
  auto *n = static_cast<jr_reply *>(a->alloc(sizeof(jr_reply)));
  if (n == nullptr) return nullptr;
  n->type = r->type;
  n->len = r->len;
  n->arena = a;
  n->u.integer = r->u.integer;
  if (has_str(r->type) && r->u.str != nullptr) {
    size_t pre = str_prefix(r->type);
    auto *d = static_cast<char *>(a->alloc(pre + r->len + 1));
    if (d == nullptr) return nullptr;
    std::memcpy(d, r->u.str - pre, pre + r->len + 1);  // the text and its '\0'
    n->u.str = d + pre;
  } else if (is_aggregate(r->type)) {
    n->u.elements = nullptr;
    if (r->len > 0) {
      auto **el = static_cast<jr_reply **>(a->alloc(sizeof(jr_reply *) * r->len));
      if (el == nullptr) return nullptr;
      n->u.elements = el;
      for (size_t i = 0; i < r->len; i++) {
        el[i] = nullptr;
        if (r->u.elements[i] == nullptr) continue;
        el[i] = copy_into(a, r->u.elements[i]);
        if (el[i] == nullptr) return nullptr;
      }
    }
  }
  return n;
}

}  // namespace

size_t reply_tree_bytes(const jr_reply *r) noexcept {
  size_t n = round8(sizeof(jr_reply));
  if (has_str(r->type) && r->u.str != nullptr) {
    n += round8(str_prefix(r->type) + r->len + 1);
  } else if (is_aggregate(r->type) && r->len > 0) {
    n += round8(sizeof(jr_reply *) * r->len);
    for (size_t i = 0; i < r->len; i++)
      if (r->u.elements[i] != nullptr) n += reply_tree_bytes(r->u.elements[i]);
  }
  return n;
}

jr_reply *reply_copy_exact(const jr_reply *r) noexcept {
  Arena *a = Arena::create_exact(reply_tree_bytes(r));
  if (a == nullptr) return nullptr;
  jr_reply *root = copy_into(a, r);
  if (root == nullptr) {
    Arena::destroy(a);
    return nullptr;
  }
  a->set_refs(1);
  return root;
}

// ---- Replies built by libjr ------------------------------------------------

namespace {
jr_reply *node_in(Arena *a, const ReplyPart &part) noexcept {
  auto *n = static_cast<jr_reply *>(a->alloc(sizeof(jr_reply)));
  if (n == nullptr) return nullptr;
  n->type = part.type;
  n->arena = a;
  n->len = 0;
  n->u.integer = 0;
  if (part.type == JR_REPLY_INTEGER) {
    n->u.integer = part.integer;
  } else if (part.type != JR_REPLY_NIL) {
    auto *d = static_cast<char *>(a->alloc(part.str.size() + 1));
    if (d == nullptr) return nullptr;
    std::memcpy(d, part.str.data(), part.str.size());
    d[part.str.size()] = '\0';
    n->u.str = d;
    n->len = part.str.size();
  }
  return n;
}
}  // namespace

jr_reply *make_reply(const ReplyPart &part) noexcept {
  Arena *a = arena_get();
  if (a == nullptr) return nullptr;
  jr_reply *n = node_in(a, part);
  if (n == nullptr) {
    arena_put(a);
    return nullptr;
  }
  a->set_refs(1);
  return n;
}

jr_reply *make_array_reply(const std::vector<ReplyPart> &parts) noexcept {
  Arena *a = arena_get();
  if (a == nullptr) return nullptr;
  auto *root = static_cast<jr_reply *>(a->alloc(sizeof(jr_reply)));
  auto **el = static_cast<jr_reply **>(a->alloc(sizeof(jr_reply *) * (parts.size() + 1)));
  if (root == nullptr || el == nullptr) {
    arena_put(a);
    return nullptr;
  }
  root->type = JR_REPLY_ARRAY;
  root->arena = a;
  root->len = parts.size();
  root->u.elements = el;
  for (size_t i = 0; i < parts.size(); i++) {
    el[i] = node_in(a, parts[i]);
    if (el[i] == nullptr) {
      arena_put(a);
      return nullptr;
    }
  }
  a->set_refs(1);
  return root;
}

// ---- ReplyReader ----------------------------------------------------------

#if JR_HIREDIS_RESP3
redisReplyObjectFunctions ReplyReader::fns_ = {
    ReplyReader::create_string, ReplyReader::create_array, ReplyReader::create_integer,
    ReplyReader::create_double, ReplyReader::create_nil,   ReplyReader::create_bool,
    ReplyReader::free_object};
#else
redisReplyObjectFunctions ReplyReader::fns_ = {
    ReplyReader::create_string, ReplyReader::create_array, ReplyReader::create_integer,
    ReplyReader::create_nil, ReplyReader::free_object};
#endif

ReplyReader::ReplyReader(const ReaderLimits &limits) : limits_(limits) {
  reset();
}

ReplyReader::~ReplyReader() {
  if (r_ != nullptr) redisReaderFree(r_);
  if (arena_ != nullptr) arena_put(arena_);
}

void ReplyReader::reset() noexcept {
  if (r_ != nullptr) redisReaderFree(r_);
  r_ = redisReaderCreateWithFunctions(&fns_);
  if (r_ != nullptr) {
    r_->privdata = this;
    // Keep up to 256 KiB of idle buffer: no free/malloc per read burst.
    r_->maxbuf = 256 * 1024;
#if JR_HIREDIS_RESP3
    // 0.14 refuses a count over INT_MAX as a protocol error: the same here
    // (1.x's default is 2^32 - 1); max_elements is libjr's own, checked in
    // create_array.
    r_->maxelements = INT_MAX;
#endif
  }
  if (arena_ != nullptr) arena_->reset();
  limit_code_ = 0;
  error_.clear();
  input_ = nullptr;
  input_len_ = 0;
  piece_ = kPiece;
  attrs_.reset();
  attr_code_ = 0;
  bulks_ = 0;
}

size_t ReplyReader::buffered() const noexcept {
  return r_ != nullptr ? r_->len - r_->pos : 0;
}

bool ReplyReader::partial() const noexcept {
  return buffered() > 0 || !attrs_.at_boundary();
}

Arena *ReplyReader::current() noexcept {
  if (arena_ == nullptr) arena_ = arena_get();
  return arena_;
}

int ReplyReader::fail(int code, const char *msg) noexcept {
  if (error_.empty()) error_ = msg;
  if (limit_code_ == 0) limit_code_ = code;  // next() keeps returning it
  return code;
}

// True when a node that allocates `extra` bytes more (a string, an element
// table) keeps a reply whose arena holds `used` bytes within
// max_reply_bytes. Saturating: no sum or rounding can wrap.
bool ReplyReader::fits(size_t used, size_t extra) const noexcept {
  constexpr size_t kNode = (sizeof(jr_reply) + 7) & ~size_t{7};
  size_t max = limits_.max_reply_bytes;
  if (used > max || max - used < kNode) return false;
  size_t room = max - used - kNode;
  if (extra == 0) return true;
  return extra <= room && ((extra + 7) & ~size_t{7}) <= room;
}

// `extra`: the bytes the node will allocate next (a string, an element
// table). Every node counts against max_reply_bytes, integers and nils too:
// an array of them was never checked and passed the limit.
jr_reply *ReplyReader::new_node(const redisReadTask *task, int type, size_t extra) noexcept {
  Arena *a = current();
  if (a == nullptr) {
    limit_code_ = JR_ENOMEM;
    return nullptr;
  }
  if (!fits(a->bytes(), extra)) {
    limit_code_ = JR_ETOOBIG;
    error_ = "reply larger than max_reply_bytes";
    return nullptr;
  }
  auto *node = static_cast<jr_reply *>(a->alloc(sizeof(jr_reply)));
  if (node == nullptr) {
    limit_code_ = JR_ENOMEM;
    return nullptr;
  }
  node->type = type;
  node->len = 0;
  node->u.integer = 0;
  node->arena = a;
  if (task->parent != nullptr) {
    auto *parent = static_cast<jr_reply *>(task->parent->obj);
    parent->u.elements[task->idx] = node;
  }
  return node;
}

#if JR_HIREDIS_RESP3
// hiredis 1.x parses RESP3 whatever was negotiated: on a RESP2 connection
// its types are refused as 0.14 refuses them.
bool ReplyReader::type_refused(const redisReadTask *task) noexcept {
  if (task->type <= REDIS_REPLY_ERROR || limits_.resp3) return false;
  limit_code_ = JR_EPROTO;
  error_ = "protocol error: a RESP3 type in a RESP2 reply";
  return true;
}
#endif

void *ReplyReader::create_string(const redisReadTask *task, char *str, size_t len) {
  auto *self = static_cast<ReplyReader *>(task->privdata);
#if JR_HIREDIS_RESP3
  if (self->type_refused(task)) return nullptr;
  bool bulk = task->type == REDIS_REPLY_STRING || task->type == REDIS_REPLY_VERB;
#else
  bool bulk = task->type == REDIS_REPLY_STRING;
#endif
  if (bulk && static_cast<int64_t>(len) > self->limits_.max_bulk_len) {
    self->limit_code_ = JR_ETOOBIG;
    self->error_ = "bulk string longer than max_bulk_len";
    return nullptr;
  }
  int type = task->type;
#if JR_HIREDIS_RESP3
  // A RESP3 blob error reached hiredis as a bulk string (attributes.hpp):
  // an error reply, as '-' gives, its bytes as they are.
  if (type == REDIS_REPLY_STRING && self->limits_.resp3 &&
      self->attrs_.take_blob_error(++self->bulks_))
    type = JR_REPLY_ERROR;
#endif
  jr_reply *node = self->new_node(task, type, len + 1);
  if (node == nullptr) return nullptr;
  auto *data = static_cast<char *>(node->arena->alloc(len + 1));
  if (data == nullptr) {
    self->limit_code_ = JR_ENOMEM;
    return nullptr;
  }
  if (len > 0) std::memcpy(data, str, len);
  data[len] = '\0';
  node->u.str = data;
  node->len = len;
#if JR_HIREDIS_RESP3
  if (task->type == REDIS_REPLY_VERB) {
    // "txt:hello" (hiredis checked the ':' and len >= 4) is kept as
    // "txt\0hello\0": the text, and its format 4 bytes before it.
    data[3] = '\0';
    node->u.str = data + 4;
    node->len = len - 4;
  }
#endif
  return node;
}

void *ReplyReader::create_array(const redisReadTask *task, Count elements) {
  auto *self = static_cast<ReplyReader *>(task->privdata);
#if JR_HIREDIS_RESP3
  if (self->type_refused(task)) return nullptr;
  // 1.x grows its task stack without a bound of its own that 0.14 has.
  if (self->r_->ridx >= kMaxReplyDepth) {
    self->limit_code_ = JR_EPROTO;
    self->error_ = "protocol error: replies nested deeper than 8 aggregates";
    return nullptr;
  }
  if (elements > static_cast<uint64_t>(self->limits_.max_elements)) {
#else
  if (elements < 0 || elements > self->limits_.max_elements) {
#endif
    self->limit_code_ = JR_ETOOBIG;
    self->error_ = "array longer than max_elements";
    return nullptr;
  }
  size_t need = sizeof(jr_reply *) * static_cast<size_t>(elements);
  jr_reply *node = self->new_node(task, task->type, need);
  if (node == nullptr) return nullptr;
  node->len = static_cast<size_t>(elements);
  node->u.elements = nullptr;
  if (elements > 0) {
    auto **el = static_cast<jr_reply **>(node->arena->alloc(need));
    if (el == nullptr) {
      self->limit_code_ = JR_ENOMEM;
      return nullptr;
    }
    std::memset(el, 0, need);
    node->u.elements = el;
  }
  return node;
}

void *ReplyReader::create_integer(const redisReadTask *task, long long value) {
  auto *self = static_cast<ReplyReader *>(task->privdata);
  jr_reply *node = self->new_node(task, JR_REPLY_INTEGER, 0);
  if (node != nullptr) node->u.integer = value;
  return node;
}

void *ReplyReader::create_nil(const redisReadTask *task) {
  auto *self = static_cast<ReplyReader *>(task->privdata);
  return self->new_node(task, JR_REPLY_NIL, 0);
}

#if JR_HIREDIS_RESP3
// The text as the server sent it, and the value (hiredis parsed it) in the
// 8 bytes before the text.
void *ReplyReader::create_double(const redisReadTask *task, double value, char *str, size_t len) {
  auto *self = static_cast<ReplyReader *>(task->privdata);
  if (self->type_refused(task)) return nullptr;
  jr_reply *node = self->new_node(task, REDIS_REPLY_DOUBLE, sizeof(double) + len + 1);
  if (node == nullptr) return nullptr;
  auto *data = static_cast<char *>(node->arena->alloc(sizeof(double) + len + 1));
  if (data == nullptr) {
    self->limit_code_ = JR_ENOMEM;
    return nullptr;
  }
  std::memcpy(data, &value, sizeof(double));
  if (len > 0) std::memcpy(data + sizeof(double), str, len);
  data[sizeof(double) + len] = '\0';
  node->u.str = data + sizeof(double);
  node->len = len;
  return node;
}

void *ReplyReader::create_bool(const redisReadTask *task, int value) {
  auto *self = static_cast<ReplyReader *>(task->privdata);
  if (self->type_refused(task)) return nullptr;
  jr_reply *node = self->new_node(task, REDIS_REPLY_BOOL, 0);
  if (node != nullptr) node->u.integer = value != 0 ? 1 : 0;
  return node;
}
#endif

// The type of the item hiredis stopped in (its type byte was consumed).
int ReplyReader::pending_type() const noexcept {
#if JR_HIREDIS_RESP3
  return r_->task[r_->ridx]->type;
#else
  return r_->rstack[r_->ridx].type;
#endif
}

void ReplyReader::free_object(void *obj) {
  // hiredis frees a partially built root on error: the arena holds it all.
  if (obj != nullptr) static_cast<jr_reply *>(obj)->arena->reset();
}

// hiredis 0.14.1 buffers a whole bulk string before it calls createString.
// Whenever it stops in the middle of an item, look at that item's header: a
// bulk length over the limits fails at once, on the header alone (a server
// that sends "$4611686018427387904\r\n" and then nothing must not hang the
// connection), not after the announced bytes were buffered. hiredis itself
// rejects a malformed length, a negative one other than -1 and an array
// count over INT_MAX as soon as the line is complete (string2ll and the
// "out of range" checks; Debian's 0.14.1-2 adds the array one for
// CVE-2021-32765), and an array count over max_elements fails in
// create_array, also on the header alone (the unit test
// Reader.LengthLinesAreStrict pins what hiredis must do).
int ReplyReader::check_pending() noexcept {
  size_t avail = r_->len - r_->pos;
  if (avail == 0 || r_->ridx < 0) return 0;
  // A line that never ends (a status, an error, an integer) is bounded
  // here; past 64 KiB only, so that below that the outcome cannot depend on
  // how the bytes were split (fuzz_reply checks it).
  if (avail > 64 * 1024 && avail > limits_.max_reply_bytes)
    return fail(JR_ETOOBIG, "reply larger than max_reply_bytes");
  // The pending item's type byte was consumed: its task knows the type, and
  // the buffer starts with its length line.
  int type = pending_type();
#if JR_HIREDIS_RESP3
  // A verbatim string's length line is a bulk's; a map's, a set's and a
  // push's are an array's.
  if (type == REDIS_REPLY_VERB) type = REDIS_REPLY_STRING;
  if (type == REDIS_REPLY_MAP || type == REDIS_REPLY_SET || type == REDIS_REPLY_PUSH)
    type = REDIS_REPLY_ARRAY;
#endif
  if (type != REDIS_REPLY_STRING && type != REDIS_REPLY_ARRAY) return 0;
  const char *p = r_->buf + r_->pos;
  // A valid length line is "-1" or up to 20 characters, then CRLF.
  constexpr size_t kMaxLine = 20;
  const char *end = nullptr;
  size_t n = avail < kMaxLine + 2 ? avail : kMaxLine + 2;
  for (size_t i = 0; i + 1 < n; i++) {
    if (p[i] == '\r' && p[i + 1] == '\n') {
      end = p + i;
      break;
    }
  }
  if (end == nullptr) {
    // hiredis would reject the line once it ends: say so now.
    if (avail >= kMaxLine + 2) return fail(JR_EPROTO, "protocol error: length line too long");
    return 0;  // the rest of the line has not arrived
  }
  // A complete length line that hiredis keeps is a bulk string's valid
  // length (>= 0) waiting for its bytes: arrays, nils and malformed lines are
  // handled at once.
  if (type != REDIS_REPLY_STRING) return 0;
  uint64_t v = 0;
  for (const char *q = p; q < end; q++) {
    if (*q < '0' || *q > '9' || v > (UINT64_MAX - 9) / 10) return 0;  // hiredis decides
    v = v * 10 + static_cast<uint64_t>(*q - '0');
  }
  if (v > static_cast<uint64_t>(limits_.max_bulk_len))
    return fail(JR_ETOOBIG, "bulk string longer than max_bulk_len");
  // The same test as create_string's, before the bytes are buffered.
  size_t used = arena_ != nullptr ? arena_->bytes() : 0;
  if (v >= SIZE_MAX || !fits(used, static_cast<size_t>(v) + 1))
    return fail(JR_ETOOBIG, "reply larger than max_reply_bytes");
  return 0;
}

int ReplyReader::feed(const char *buf, size_t len) noexcept {
  if (r_ == nullptr) return fail(JR_ENOMEM, "out of memory creating the reader");
  input_ = buf;
  input_len_ = len;
  return 0;
}

// hiredis keeps unparsed bytes in one buffer and, once 1 KiB of it has been
// consumed, moves the rest to the front after every reply: fed a whole
// 64 KiB read of 1 KiB replies at once, it moves ~2 MiB. Fed a few KiB at a
// time, it moves about as much as it parses. A piece that completes no
// reply doubles the next one: an item longer than a piece (a large bulk, a
// long status line, which hiredis scans from its start on every call) is
// fed in a few large pieces, not in many small ones.
int ReplyReader::feed_piece() noexcept {
  size_t n = input_len_ < piece_ ? input_len_ : piece_;
  if (limits_.resp3) {
    // The runs around attributes go to hiredis; an error in an attribute
    // waits until hiredis has used the bytes before it (replies that
    // complete before it are delivered, an error of hiredis's comes first).
    AttributeFilter::Limits al{limits_.max_bulk_len, limits_.max_elements, limits_.max_reply_bytes};
    int rc = attrs_.scan(input_, n, al, keep, this);
    if (rc == JR_ENOMEM) return fail(JR_ENOMEM, "out of memory");
    if (rc != 0) {
      attr_code_ = rc;
      input_ = nullptr;
      input_len_ = 0;
      return 0;
    }
  } else if (redisReaderFeed(r_, input_, n) != REDIS_OK) {
    return fail(JR_ENOMEM, "out of memory");
  }
  input_ += n;
  input_len_ -= n;
  return 0;
}

int ReplyReader::keep(void *ctx, const char *p, size_t n) {
  auto *self = static_cast<ReplyReader *>(ctx);
  return redisReaderFeed(self->r_, p, n) == REDIS_OK ? 0 : JR_ENOMEM;
}

int ReplyReader::next(jr_reply **out) noexcept {
  *out = nullptr;
  if (r_ == nullptr) return fail(JR_ENOMEM, "out of memory creating the reader");
  if (!error_.empty()) return limit_code_ != 0 ? limit_code_ : JR_EPROTO;
  void *obj = nullptr;
  bool fed = false;
  for (;;) {
    if (redisReaderGetReply(r_, &obj) != REDIS_OK) {
      if (limit_code_ != 0) return fail(limit_code_, "reply over limits");
      std::string msg = "protocol error: ";
      msg += r_->errstr;
      error_ = msg;
      return JR_EPROTO;
    }
    if (obj != nullptr) {
      piece_ = kPiece;
      break;
    }
    // Stopped inside an item: judge its header now, not once its announced
    // bytes have arrived.
    int rc = check_pending();
    if (rc != 0) return rc;
    if (input_len_ == 0) {
      input_ = nullptr;
      if (attr_code_ != 0) return fail(attr_code_, attrs_.error());
      return 0;
    }
    if (fed && piece_ < (size_t{1} << 30)) piece_ *= 2;  // the last piece completed nothing
    rc = feed_piece();
    if (rc != 0) return rc;
    fed = true;
  }
  auto *root = static_cast<jr_reply *>(obj);
  root->arena->set_refs(1);
  arena_ = nullptr;  // the reply owns it now
  *out = root;
  return 1;
}

}  // namespace jr
