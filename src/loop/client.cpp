// SPDX-License-Identifier: MIT
// The client: loop thread, inbox, completions, deadlines, poll dispatch.
#include "loop/client.hpp"

#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <ctime>
#include <new>
#include <string_view>

#include "cache.hpp"
#include "cluster/cluster.hpp"
#include "commands.hpp"
#include "monitor.hpp"
#include "platform.hpp"
#include "pubsub.hpp"
#include "scripts.hpp"
#include "sentinel.hpp"
#include "tracking.hpp"
#include "tx.hpp"

namespace jr {

int64_t now_ms() noexcept {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000 + ts.tv_nsec / 1000000;
}

int64_t now_ns() noexcept {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}

namespace {
// Incremented in the child after fork(): a client made before it belongs
// to the parent (its loop thread does not exist in the child).
std::atomic<unsigned> g_fork_generation{0};
void on_fork_child() {
  g_fork_generation.fetch_add(1, std::memory_order_relaxed);
}
struct AtFork {
  AtFork() { pthread_atfork(nullptr, nullptr, on_fork_child); }
} g_atfork;

inline void cpu_relax() noexcept {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  asm volatile("yield");
#endif
}

int64_t mono_ns() noexcept {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}

// Threads spinning for a reply right now, across clients (blocking callers
// and loop threads): at most half the CPUs this process may run on spin, so
// that spinning never takes the CPU a reply needs (none on a single CPU).
std::atomic<int> g_spinners{0};

// The client whose callbacks the current thread is running (EMISUSE checks).
// initial-exec: a direct access, not a __tls_get_addr call per callback
// (a few bytes of static TLS, which glibc reserves for dlopen too).
[[gnu::tls_model("initial-exec")]] thread_local const Client *tls_in_callback = nullptr;

struct CallbackScope {
  const Client *prev;
  explicit CallbackScope(const Client *c) : prev(tls_in_callback) { tls_in_callback = c; }
  ~CallbackScope() { tls_in_callback = prev; }
};

// Two per-thread details, kept apart:
// - tls_detail: the one a failure completed on this thread inherits
//   (complete()): set only on the loop thread, around a failure's callback
//   (run_callback) or a sentinel's step (swap_detail), and restored after.
// - tls_visible: what jr_error_detail returns: the detail of the completion
//   whose callback runs on this thread, or of this thread's last
//   jr_client_call / failed jr_client_new, which stays until the next one.
// One variable for both let a call's detail outlive the call and reach an
// unrelated failure completed later on the same thread.
[[gnu::tls_model("initial-exec")]] thread_local const char *tls_detail = nullptr;
[[gnu::tls_model("initial-exec")]] thread_local const char *tls_visible = nullptr;
thread_local std::string tls_call_detail;

// Makes `why` this thread's jr_error_detail after a call or a refused create.
void set_call_detail(std::string &&why) noexcept {
  try {
    tls_call_detail = std::move(why);
    tls_visible = tls_call_detail.empty() ? nullptr : tls_call_detail.c_str();
  } catch (...) {  // out of memory: no detail
    tls_visible = nullptr;
  }
}

// Runs a request's completion callback (the one place that does).
// tls_detail is set and cleared only around a failure's callback: a
// success costs nothing here.
inline void run_callback(const Client *client, Command *c, int status, jr_reply *reply) {
  CallbackScope scope(client);
  if (status >= 0) [[likely]] {
    c->cb(c->userdata, status, reply);
    return;
  }
  const char *prev = tls_detail, *prev_visible = tls_visible;
  tls_detail = tls_visible = c->detail.empty() ? nullptr : c->detail.c_str();
  c->cb(c->userdata, status, reply);
  tls_detail = prev;
  tls_visible = prev_visible;
  c->detail.clear();  // before c is released: a reused command starts without one
}
}  // namespace

const char *Client::error_detail() noexcept {
  return tls_visible;
}

const char *Client::swap_detail(const char *detail) noexcept {
  const char *prev = tls_detail;
  tls_detail = detail;
  return prev;
}

// ---- CommandPool -------------------------------------------------------------

CommandPool::~CommandPool() {
  for (uint32_t i = 0; i < nchunks_; i++) delete[] chunks_[i].load();
}

Command *CommandPool::acquire(bool loop) noexcept {
  if (loop && !local_.empty()) {
    Command *c = local_.back();
    local_.pop_back();
    return c;
  }
  std::lock_guard<std::mutex> lk(mu_);
  if (free_.empty()) {
    if (nchunks_ == kMaxChunks) return nullptr;
    Command *chunk = new (std::nothrow) Command[kChunk];
    if (chunk == nullptr) return nullptr;
    try {
      free_.reserve(free_.size() + kChunk);
    } catch (...) {
      delete[] chunk;
      return nullptr;
    }
    for (uint32_t i = 0; i < kChunk; i++) {
      chunk[i].index = nchunks_ * kChunk + i;
      free_.push_back(&chunk[kChunk - 1 - i]);
    }
    chunks_[nchunks_].store(chunk, std::memory_order_release);
    nchunks_++;
  }
  Command *c = free_.back();
  free_.pop_back();
  return c;
}

void CommandPool::release(Command *c, bool loop) noexcept {
  c->wire.clear();
  c->wire.shrink(64 * 1024);
  c->cb = nullptr;
  c->userdata = nullptr;
  c->reply = nullptr;
  c->next = nullptr;
  c->gen.fetch_add(1, std::memory_order_relaxed);
  c->state.store(CmdState::kFree, std::memory_order_release);
  if (loop && local_.size() < kLocalMax) {
    local_.push_back(c);  // capacity reserved: cannot throw
    return;
  }
  std::lock_guard<std::mutex> lk(mu_);
  free_.push_back(c);  // capacity reserved at chunk creation: cannot throw
}

Command *CommandPool::lookup(uint32_t index) const noexcept {
  uint32_t chunk = index / kChunk;
  if (chunk >= kMaxChunks) return nullptr;
  Command *base = chunks_[chunk].load(std::memory_order_acquire);
  return base != nullptr ? &base[index % kChunk] : nullptr;
}

// ---- Client: creation and teardown ------------------------------------------

Client::Client(const Options &opts) : opts_(opts) {}

Client::~Client() {
  for (Lease *l : leases_) delete l;
}

void Client::drop_cached(Command *c) noexcept {
  // Client-side caching: a read's fill token, or a hit's reply, on a command
  // that will not complete normally (refused at the inbox, or completed
  // before it was routed).
  if (c->fill != nullptr) {
    cache_->finish(c->fill, JR_ECANCELED, nullptr, 0);
    c->fill = nullptr;
  }
  if ((c->flags & kFlagCacheHit) != 0) {
    c->flags &= static_cast<uint8_t>(~kFlagCacheHit);
    reply_release(c->reply);
    c->reply = nullptr;
  }
}

void Client::detection_done() {
  if (tracking_) tracking_->detection_done();
}

int Client::create(const Options &opts, Client **out) {
  Client *c = new (std::nothrow) Client(opts);
  if (c == nullptr) return JR_ENOMEM;
  std::string why;
  int rc = c->start(why);
  if (rc != JR_OK) {
    delete c;
    // jr_error_detail on the caller's thread says why (as after a call).
    set_call_detail(std::move(why));
    return rc;
  }
  *out = c;
  return JR_OK;
}

bool Client::forked() const noexcept {
  return fork_generation_ != g_fork_generation.load(std::memory_order_relaxed);
}

#define JR_STR2(x) #x
#define JR_STR(x) JR_STR2(x)

int Client::start(std::string &why) {
  fork_generation_ = g_fork_generation.load();
  max_spinners_ = platform::cpu_count() / 2;
  if (!opts_.sentinels.empty()) {
    // The master's name is needed; Sentinel and Cluster exclude each other.
    if (opts_.sentinel_master.empty()) {
      why = "sentinel is set but sentinel_master (the master's name) is not";
      return JR_EINVAL;
    }
    if (opts_.cluster_mode == 1) {
      why = "sentinel and cluster_mode=1 exclude each other";
      return JR_EINVAL;
    }
    opts_.cluster_mode = 0;
    opts_.endpoints.clear();  // until the sentinels name the master
  }
  if (opts_.endpoints.empty()) {
    Endpoint ep;
    ep.host = "127.0.0.1";
    opts_.endpoints.push_back(ep);
  }
#if !JR_HIREDIS_RESP3
  if (opts_.protocol == 3) {
    // The loop is not running: said on the caller's thread, to the event
    // and log callbacks and as the detail.
    why =
        "protocol=3 (RESP3) needs libjr built with hiredis >= 1.0; this libjr "
        "was built with hiredis " JR_STR(HIREDIS_MAJOR) "." JR_STR(
            HIREDIS_MINOR) ", whose reader parses RESP2 only";
    if (opts_.event_cb != nullptr) opts_.event_cb(opts_.event_ctx, JR_EVENT_LOG, "", why.c_str());
    if (opts_.log_cb != nullptr)
      opts_.log_cb(opts_.log_ctx, JR_LOG_ERROR, JR_EVENT_LOG, "", why.c_str());
    return JR_EINVAL;
  }
#endif
  if (opts_.tls) {
    std::string err;
    tls_ = TlsContext::create(opts_, err);
    if (!tls_) {
      why = "tls: " + err;
      return JR_ETLS;
    }
  }
  if (opts_.poll_mode && !wakeup_.open()) return JR_ENOMEM;
  if (uv_loop_init(&loop_) != 0) return JR_ENOMEM;
  try {
    read_buf_.resize(opts_.recv_buffer_size);
    conn_ = std::make_unique<Connection>(*this, opts_.endpoints);
    pool_ = std::make_unique<Pool>(*this, opts_.endpoints, opts_.max_connections);
    subs_ = std::make_unique<SubManager>(*this);
    cluster_ = std::make_unique<Cluster>(*this);
    sentinel_ = std::make_unique<Sentinel>(*this);
    if (opts_.client_cache_bytes > 0) {
      ClientCache::Config cc;
      cc.max_bytes = static_cast<size_t>(opts_.client_cache_bytes);
      cc.ttl_ms = opts_.client_cache_ttl_ms;
      cc.prefixes = opts_.client_cache_prefixes;
      cache_ = std::make_unique<ClientCache>(std::move(cc));
      tracking_ = std::make_unique<Tracking>(*this, *cache_);
      conn_->cache_data = true;
    }
  } catch (...) {
    conn_.reset();
    uv_run(&loop_, UV_RUN_NOWAIT);
    uv_loop_close(&loop_);
    return JR_ENOMEM;
  }
  uv_async_init(&loop_, &async_, on_async_cb);
  async_.data = this;
  uv_check_init(&loop_, &check_);
  check_.data = this;
  uv_check_start(&check_, on_check_cb);
  // Check runs after I/O callbacks, prepare before the loop blocks (after
  // timers and pending callbacks): together every callback's writes and
  // completions are flushed before the loop sleeps.
  uv_prepare_init(&loop_, &prepare_);
  prepare_.data = this;
  uv_prepare_start(&prepare_, on_prepare_cb);
  uv_idle_init(&loop_, &spin_);
  spin_.data = this;
  uv_timer_init(&loop_, &deadline_timer_);
  deadline_timer_.data = this;
  bool started = false;
  if (opts_.starter != nullptr) {
    started = opts_.starter(opts_.starter_ctx, run_started, this) == 0;
  } else {
    try {
      thread_ = std::thread([this] { run(); });
      started = true;
    } catch (...) {
    }
  }
  if (!started) {  // nothing was submitted: close every handle here
    shutdown_loop();
    uv_run(&loop_, UV_RUN_DEFAULT);
    int rc = uv_loop_close(&loop_);
    (void)rc;
    return JR_ENOMEM;
  }
  return JR_OK;
}

void Client::run() {
  // A write to a socket the server closed raises SIGPIPE in the writing
  // thread. Block it here so that it turns into EPIPE for libuv: a library
  // must not kill its host process, nor change the process's handlers.
  sigset_t pipe, old;
  sigemptyset(&pipe);
  sigaddset(&pipe, SIGPIPE);
  pthread_sigmask(SIG_BLOCK, &pipe, &old);
  loop_tid_.store(std::this_thread::get_id(), std::memory_order_relaxed);
  // The thread may have had a life before (a binding's thread starter can
  // hand over a thread that ran jr_client_call): no detail of that one may
  // reach this loop's completions or callbacks.
  tls_detail = nullptr;
  tls_visible = nullptr;
  uv_run(&loop_, UV_RUN_DEFAULT);
  int rc = uv_loop_close(&loop_);
  (void)rc;
  loop_tid_.store(std::thread::id(), std::memory_order_relaxed);
  if (opts_.starter != nullptr && sigismember(&old, SIGPIPE) == 0) {
    // The caller's thread goes on: drop the SIGPIPEs our writes left
    // pending (they would be delivered on unblocking), then restore.
    sigset_t pending;
    struct timespec zero = {0, 0};
    while (sigpending(&pending) == 0 && sigismember(&pending, SIGPIPE) == 1 &&
           sigtimedwait(&pipe, nullptr, &zero) == SIGPIPE) {
    }
    pthread_sigmask(SIG_SETMASK, &old, nullptr);
  }
}

void Client::run_started(void *client) {
  auto *c = static_cast<Client *>(client);
  c->run();
  // From the unlock on, destroy may delete the client.
  std::lock_guard<std::mutex> lk(c->run_mu_);
  c->run_done_ = true;
  c->run_cv_.notify_all();
}

bool Client::in_callback() const noexcept {
  return tls_in_callback == this;
}

int Client::destroy() {
  if (forked()) return JR_EFORKED;  // the parent's: nothing here to free safely
  if (on_loop_thread() || in_callback()) return JR_EMISUSE;
  closing_.store(true);
  {
    std::lock_guard<std::mutex> lk(inbox_mu_);
    stop_ = true;
  }
  uv_async_send(&async_);
  if (opts_.starter != nullptr) {
    std::unique_lock<std::mutex> lk(run_mu_);
    run_cv_.wait(lk, [this] { return run_done_; });
  } else {
    thread_.join();
  }
  // Poll mode: the final completions run here, on the caller's thread.
  if (opts_.poll_mode) dispatch(0);
  delete this;
  return JR_OK;
}

int Client::drain(int64_t timeout_ms) {
  if (forked()) return JR_EFORKED;
  if (on_loop_thread() || in_callback()) return JR_EMISUSE;
  closing_.store(true);
  draining_.store(true);
  std::unique_lock<std::mutex> lk(drain_mu_);
  auto done = [this] { return unfinished_.load() == 0; };
  if (timeout_ms < 0) {
    drain_cv_.wait(lk, done);
    return JR_OK;
  }
  // In bounded steps: std::chrono::milliseconds(INT64_MAX) overflows inside
  // wait_for, which then returned at once.
  int64_t deadline = sat_add(now_ms(), timeout_ms);
  while (!done()) {
    int64_t left = ms_until(deadline, now_ms());
    if (left == 0) return JR_ETIMEDOUT;
    drain_cv_.wait_for(lk, bounded_wait(left), done);
  }
  return JR_OK;
}

// ---- Submitting ----------------------------------------------------------------

Command *Client::acquire_command() noexcept {
  Command *c = cmds_.acquire(on_loop_thread());
  if (c == nullptr) return nullptr;
  c->flags = 0;
  c->tx = nullptr;
  c->lease = nullptr;
  c->conn = nullptr;
  c->script = 0;
  c->fill = nullptr;
  c->charged = 0;
  c->redirects = 0;
  c->deadline = 0;
  c->submit_ns = 0;
  c->write_ns = 0;
  c->db = opts_.database;
  return c;
}

void Client::recycle(Command *c) noexcept {
  if (c->script != nullptr) {
    script_calls_.release(c->script);
    c->script = nullptr;
  }
  cmds_.release(c, on_loop_thread());
}

void Client::release_unsubmitted(Command *c) noexcept {
  drop_cached(c);
  c->state.store(CmdState::kDone);
  recycle(c);
}

namespace {
bool name_is(const char *s, size_t len, const char *upper) {
  size_t n = std::strlen(upper);
  if (len != n) return false;
  for (size_t i = 0; i < n; i++) {
    char ch = s[i];
    if (ch >= 'a' && ch <= 'z') ch = static_cast<char>(ch - 32);
    if (ch != upper[i]) return false;
  }
  return true;
}
}  // namespace

int Client::submit(int db, size_t argc, const char *const *argv, const size_t *argvlen,
                   int64_t timeout_ms, jr_reply_cb cb, void *userdata, uint8_t flags,
                   jr_req_id *id_out, jr_reply **hit_out) {
  size_t encoded = 0;
  if (cb == nullptr || !check_argv(argc, argv, argvlen, &encoded)) return JR_EINVAL;
  Classification cls = classify(argc, argv, argvlen);
  if (cls.cls == CommandClass::kRefused) return JR_EREFUSED;
  if (cls.cls == CommandClass::kBlocking) {
    flags |= kFlagBlocking;
    // The server-side timeout of a blocking command governs by default.
    if (timeout_ms < 0) timeout_ms = 0;
  }
  if (closing_.load(std::memory_order_acquire)) return JR_ECLOSED;
  // A cluster has only database 0: refused without a callback once known.
  if (db != 0 && known_cluster()) return JR_ECLUSTER;
  // Over the byte limit on its own: refused before anything is copied.
  if (over_byte_limit(encoded)) return JR_EFULL;
  // Client-side caching: a read the cache holds is answered from it (on
  // this thread: jr_client_call returns at once; a callback's completion
  // goes through the loop as usual). A miss carries a fill token.
  jr_reply *hit = nullptr;
  CacheFill *fill = nullptr;
  bool cached = false;  // one test on the common path below
  if (cache_ && cls.cls != CommandClass::kBlocking) [[unlikely]] {
    hit = cache_->lookup(db, argc, argv, argvlen, now_ms(), &fill);
    if (hit != nullptr && hit_out != nullptr) {
      *hit_out = hit;
      return JR_OK;
    }
    cached = hit != nullptr || fill != nullptr;
  }
  Command *c = acquire_command();
  if (c == nullptr) {
    if (fill != nullptr) cache_->finish(fill, JR_ENOMEM, nullptr, 0);
    reply_release(hit);
    return JR_ENOMEM;
  }
  if (cached) [[unlikely]] {  // release_unsubmitted drops them if c goes unsent
    c->fill = fill;
    if (hit != nullptr) {
      c->flags = kFlagCacheHit;
      c->reply = hit;
    }
  }
  bool ok;
  size_t len0 = argvlen != nullptr ? argvlen[0] : std::strlen(argv[0]);
  bool eval = argc >= 3 && (name_is(argv[0], len0, "EVAL") || name_is(argv[0], len0, "EVAL_RO"));
  if (eval) {
    c->script = script_calls_.acquire();
    ok = c->script != nullptr && encode_script(c, argc, argv, argvlen, len0);
  } else {
    ok = encode_command(c->wire, argc, argv, argvlen);
  }
  if (!ok) {
    release_unsubmitted(c);
    return JR_ENOMEM;
  }
  c->cb = cb;
  c->userdata = userdata;
  c->db = db;
  c->flags |= flags;  // 0, or kFlagCacheHit
  if (timeout_ms < 0) timeout_ms = opts_.command_timeout_ms;
  // One clock read for both the deadline and the latency statistics. The
  // deadline counts from the next whole millisecond (deadlines are checked
  // against now_ms(), which rounds down): a timeout never fires early.
  c->submit_ns = now_ns();
  c->deadline = deadline_after((c->submit_ns + 999999) / 1000000, timeout_ms);
  if (id_out != nullptr) *id_out = c->id();
  return submit_op(c);
}

int Client::submit_op(Command *c) {
  return admit(c, nullptr);
}

int Client::submit_op(Command *c, std::unique_ptr<Task> carrier) {
  Task *t = carrier.release();
  int rc = admit(c, t);
  if (rc != JR_OK) delete t;  // c is released: the carrier must not touch it
  return rc;
}

// Accounting (max_queued, max_queued_bytes, drain), then the inbox.
int Client::admit(Command *c, Task *carrier) {
  if (forked()) {
    release_unsubmitted(c);
    return JR_EFORKED;
  }
  if (closing_.load(std::memory_order_acquire)) {
    release_unsubmitted(c);
    return JR_ECLOSED;
  }
  if (queued_.fetch_add(1, std::memory_order_relaxed) >= opts_.max_queued) {
    queued_.fetch_sub(1, std::memory_order_relaxed);
    release_unsubmitted(c);
    return JR_EFULL;
  }
  // Bytes of commands accepted and not yet completed: a slow or absent
  // server cannot make memory grow without bound.
  c->charged = static_cast<int64_t>(
      std::min(sat_add(c->wire.size(), c->script != nullptr ? c->script->eval.size() : size_t{0}),
               static_cast<size_t>(INT64_MAX)));
  if (queued_bytes_.fetch_add(c->charged, std::memory_order_relaxed) + c->charged >
          opts_.max_queued_bytes &&
      c->charged > 0) {
    queued_bytes_.fetch_sub(c->charged, std::memory_order_relaxed);
    queued_.fetch_sub(1, std::memory_order_relaxed);
    c->charged = 0;
    release_unsubmitted(c);
    return JR_EFULL;
  }
  c->counted = true;
  if (c->submit_ns == 0) c->submit_ns = now_ns();  // not through submit(): tx, cluster calls
  unfinished_.fetch_add(1, std::memory_order_relaxed);
  c->holds.store(1, std::memory_order_relaxed);
  c->state.store(CmdState::kPending, std::memory_order_release);
  int rc = enqueue(carrier != nullptr ? static_cast<Queued *>(carrier) : c);
  if (rc == JR_OK) return JR_OK;
  // Lost a race with jr_client_free: refuse without a callback.
  unfinished_.fetch_sub(1, std::memory_order_relaxed);
  queued_.fetch_sub(1, std::memory_order_relaxed);
  queued_bytes_.fetch_sub(c->charged, std::memory_order_relaxed);
  c->charged = 0;
  c->counted = false;
  release_unsubmitted(c);
  return rc;
}

bool Client::submit_task(Task *t) {
  return !forked() && enqueue(t) == JR_OK;
}

namespace {
// The client whose submit_many runs on this thread, if any, and whether one
// of its enqueues deferred a wake-up of the loop thread.
thread_local Client *t_batch = nullptr;
thread_local bool t_batch_wake = false;
}  // namespace

// The inbox: requests and tasks in one list, so the loop sees them in the
// order each thread submitted them. On the loop thread, routed at once.
int Client::enqueue(Queued *q) {
  if (on_loop_thread()) {
    route(q);
    return JR_OK;
  }
  bool wake;
  {
    std::lock_guard<std::mutex> lk(inbox_mu_);
    if (stop_) return JR_ECLOSED;
    wake = inbox_.empty() && cancels_.empty();
    inbox_.push_back(q);
  }
  if (wake) {
    if (t_batch == this) {
      t_batch_wake = true;  // submit_many wakes it once, at its end
    } else {
      uv_async_send(&async_);
    }
  }
  return JR_OK;
}

int Client::submit_many(int db, size_t n, const size_t *argcs, const char *const *const *argvs,
                        const size_t *const *argvlens, int64_t timeout_ms, jr_reply_cb cb,
                        void *const *userdatas, int *rcs, jr_req_id *ids) {
  // The deferred wake-up is sent however this scope ends. A callback (the
  // loop thread) never defers: its enqueues route at once.
  struct Scope {
    Client *self;
    Client *prev = t_batch;
    bool prev_wake = t_batch_wake;
    explicit Scope(Client *c) : self(c) {
      t_batch = c;
      t_batch_wake = false;
    }
    ~Scope() {
      bool wake = t_batch_wake;
      t_batch = prev;
      t_batch_wake = prev_wake;
      if (wake) uv_async_send(&self->async_);
    }
  } scope(this);
  int accepted = 0;
  for (size_t i = 0; i < n; i++) {
    jr_req_id id = 0;
    int rc;
    try {
      rc = submit(db, argcs[i], argvs[i], argvlens != nullptr ? argvlens[i] : nullptr, timeout_ms,
                  cb, userdatas != nullptr ? userdatas[i] : nullptr, 0, &id);
    } catch (const std::bad_alloc &) {
      rc = JR_ENOMEM;  // this one refused; those before it stay accepted
    } catch (...) {
      rc = JR_EINTERNAL;
    }
    if (rc == JR_OK) accepted++;
    if (rcs != nullptr) rcs[i] = rc;
    if (ids != nullptr) ids[i] = rc == JR_OK ? id : 0;
  }
  return accepted;
}

namespace {
// A blocking call's rendezvous: one futex word (0 pending, 1 done, 2 the
// caller sleeps on it; platform::Waiter). The caller first spins a little:
// from a fast server the reply is there before a sleep and a wake-up would
// be over (two system calls and a thread switch saved per call; on a VM a
// wake-up can cost more than the round trip itself).
// Only then does it sleep, and only a sleeping caller costs the loop thread
// a wake (FUTEX_WAKE). No mutex is shared with the caller (on Linux). After
// the exchange the callback touches nothing of the waiter but its address,
// so the caller may return (and its stack be reused) at once: a late wake
// is at worst spurious.
struct Waiter {
  platform::Word state{0};
  int status = 0;
  jr_reply *reply = nullptr;
  std::string detail;  // jr_error_detail's, copied on errors only
};

void waiter_cb(void *ud, int status, const jr_reply *reply) {
  auto *w = static_cast<Waiter *>(ud);
  if (reply != nullptr) {  // JR_EAUTH may carry the server's error reply too
    reply->arena->ref();
    w->reply = const_cast<jr_reply *>(reply);
  }
  w->status = status;
  if (status < 0 && tls_detail != nullptr) w->detail = tls_detail;
  platform::Word *word = &w->state;
  if (word->exchange(1, std::memory_order_acq_rel) == 2) platform::Waiter::wake_one(word);
}

}  // namespace

int Client::call(int db, size_t argc, const char *const *argv, const size_t *argvlen,
                 int64_t timeout_ms, jr_reply **out) {
  if (out == nullptr) return JR_EINVAL;
  *out = nullptr;
  if (on_loop_thread()) return JR_EMISUSE;
  Waiter w;
  int64_t t0 = mono_ns();
  jr_reply *hit = nullptr;
  int rc = submit(db, argc, argv, argvlen, timeout_ms, waiter_cb, &w, kFlagDirect, nullptr, &hit);
  if (rc != JR_OK) return rc;
  if (hit != nullptr) {  // a client-side cache hit: no command was made
    *out = hit;
    tls_visible = nullptr;
    return JR_OK;
  }
  // Spin for the reply (up to call_spin_us), then sleep. After 4 spins in
  // a row that ended in a sleep anyway (a remote server, slow commands)
  // only every 32nd call spins, to notice when replies come fast again.
  int64_t budget = opts_.call_spin_us * 1000;
  if (budget > 0 && spin_misses_.load(std::memory_order_relaxed) >= 4 &&
      (calls_.fetch_add(1, std::memory_order_relaxed) & 31) != 0)
    budget = 0;
  if (budget > 0) {
    if (g_spinners.fetch_add(1, std::memory_order_relaxed) < max_spinners_) {
      for (unsigned i = 1; w.state.load(std::memory_order_acquire) == 0; i++) {
        cpu_relax();
        if ((i & 31) != 0) continue;
        if (mono_ns() - t0 > budget) break;
        // Let the loop thread run if the scheduler put it on this CPU.
        sched_yield();
      }
      if (w.state.load(std::memory_order_acquire) != 0) {
        spin_misses_.store(0, std::memory_order_relaxed);
      } else if (spin_misses_.load(std::memory_order_relaxed) < 4) {
        spin_misses_.fetch_add(1, std::memory_order_relaxed);
      }
    }
    g_spinners.fetch_sub(1, std::memory_order_relaxed);
  }
  uint32_t expected = 0;
  if (w.state.compare_exchange_strong(expected, 2, std::memory_order_acq_rel)) {
    while (w.state.load(std::memory_order_acquire) == 2) (void)platform::Waiter::wait(w.state, 2);
  }
  *out = w.reply;
  if (w.detail.empty()) {
    tls_visible = nullptr;
  } else {
    set_call_detail(std::move(w.detail));
  }
  return w.status;
}

int Client::cancel(jr_req_id id) {
  if (forked()) return JR_EFORKED;
  Command *c = cmds_.lookup(static_cast<uint32_t>(id & 0xffffffffu));
  if (c == nullptr || c->gen.load(std::memory_order_acquire) != static_cast<uint32_t>(id >> 32))
    return JR_ENOENT;
  CmdState st = c->state.load(std::memory_order_acquire);
  if (st == CmdState::kDone || st == CmdState::kFree) return JR_ENOENT;
  if (on_loop_thread()) {
    do_cancel(id);
    return JR_OK;
  }
  bool wake;
  {
    std::lock_guard<std::mutex> lk(inbox_mu_);
    if (stop_) return JR_ENOENT;
    wake = inbox_.empty() && cancels_.empty();
    cancels_.push_back(id);
  }
  if (wake) uv_async_send(&async_);
  return JR_OK;
}

// ---- Loop thread ------------------------------------------------------------------

void Client::route(Queued *q) {
  if (q->is_task) {
    if (static_cast<Task *>(q)->carries_request()) stats_.submitted.add();
    route_task(static_cast<Task *>(q), true);
    return;
  }
  auto *c = static_cast<Command *>(q);
  stats_.submitted.add();
  if ((c->flags & kFlagCacheHit) != 0) [[unlikely]] {
    jr_reply *hit = c->reply;  // answered from the client-side cache
    c->reply = nullptr;
    c->flags &= static_cast<uint8_t>(~kFlagCacheHit);
    complete(c, JR_OK, hit);
    return;
  }
  // A lease is the client's from its first command on: one whose commands
  // never got further than the cluster detection is freed with the client.
  if (c->lease != nullptr) track_lease(c->lease);
  if (c->deadline != 0) arm_deadline(c->deadline);
  if (sentinel_->holding()) {
    // Sentinel: no confirmed master yet; in order, like the cluster's.
    sentinel_->hold(c);
    return;
  }
  if (cluster_->holding()) {
    // Once per client: CLUSTER SLOTS (and on a cluster the COMMAND table)
    // before the first commands, which wait for the answer, in order.
    cluster_->hold(c);
    return;
  }
  reroute(c);
}

void Client::reroute(Queued *q) {
  if (q->is_task) {
    route_task(static_cast<Task *>(q), false);
    return;
  }
  auto *c = static_cast<Command *>(q);
  if (c->db != 0 && cluster_->enabled()) {
    // Accepted before the detection knew it talks to a cluster (a database
    // view, a transaction or WATCH on database n): a cluster has only
    // database 0, so it fails unsent; no SELECT is written.
    complete(c, JR_ECLUSTER, nullptr);
    return;
  }
  if (Lease *l = c->lease) {
    if (l->conn != nullptr) {
      l->conn->submit(c);
      return;
    }
    l->pending.push_back(c);
    if (!l->requested) {
      l->requested = true;
      track_lease(l);
      // In a cluster, the WATCH runs on a connection to its keys' node.
      l->pool = cluster_->enabled() ? &cluster_->pool_for(c) : pool_.get();
      l->pool->request(l);
    }
    return;
  }
  if ((c->flags & kFlagBlocking) != 0) {
    (cluster_->enabled() ? cluster_->pool_for(c) : *pool_).submit(c);
    return;
  }
  if (cluster_->enabled()) {
    cluster_->route(c);
    return;
  }
  if (opts_.read_from_replicas && sentinel_->enabled()) {
    // Sentinel: a read-only command goes to a replica confirmed by ROLE,
    // when there is one.
    if (Connection *r = sentinel_->replica_for(c)) {
      r->submit(c);
      return;
    }
  }
  conn_->submit(c);
}

void Client::start_internal(Command *c) noexcept {
  c->holds.store(1, std::memory_order_relaxed);
  c->state.store(CmdState::kPending, std::memory_order_release);
  unfinished_.fetch_add(1, std::memory_order_relaxed);
}

void Client::route_task(Task *t, bool may_hold) {
  if (may_hold && sentinel_->holding()) {
    // Sentinel: every task waits for the master too (a subscriber's first
    // connection must go to the master, not to the default endpoint).
    arm_deadline(t->deadline());
    sentinel_->hold(t);
    return;
  }
  if (may_hold) {
    switch (t->order()) {
      case Task::Order::kNow:
        break;
      case Task::Order::kDetection:
        if (!cluster_->holding()) break;
        // Answered from the topology: wait for the detection like commands do.
        arm_deadline(t->deadline());
        cluster_->hold(t);
        return;
      case Task::Order::kBehind:
        // In order with the commands the cluster detection may still be
        // holding (a lease's WATCH, at first): with nothing held hold()
        // hands it straight back (reroute -> route_task).
        cluster_->hold(t);
        return;
    }
  }
  t->run(*this);
  delete t;
}

void Client::fail_task(Task *t, int status, const jr_reply *detail) {
  t->fail(*this, status, detail);
  delete t;
}

void Client::add_monitor(Monitor *m) {
  monitors_.emplace_back(m);
}

void Client::follow_master(const Endpoint &ep) {
  std::vector<Endpoint> eps{ep};
  opts_.endpoints = eps;
  conn_->set_endpoints(eps);
  pool_->set_endpoints(eps);
  subs_->set_endpoints(eps);
  for (auto &m : monitors_) m->set_endpoints(eps);
  if (tracking_) tracking_->set_endpoints(eps);
}

void Client::set_credentials(const std::string &username, const std::string &password) {
  // Connections made from now on authenticate with these; the ones
  // already authenticated stay as they are (Redis keeps them).
  opts_.username = username;
  opts_.password = password;
}

void Client::post(jr_reply_cb cb, void *userdata, int status, const jr_reply *reply, bool direct) {
  Command *c = acquire_command();
  if (c == nullptr) return;  // out of memory: the message is dropped
  c->cb = cb;
  c->userdata = userdata;
  c->flags = direct ? kFlagDirect : 0;
  c->holds.store(1, std::memory_order_relaxed);
  unfinished_.fetch_add(1, std::memory_order_relaxed);
  if (reply != nullptr) reply->arena->ref();
  complete(c, status, const_cast<jr_reply *>(reply));
}

void Client::do_cancel(jr_req_id id) {
  Command *c = cmds_.lookup(static_cast<uint32_t>(id & 0xffffffffu));
  if (c == nullptr || c->gen.load() != static_cast<uint32_t>(id >> 32)) return;
  // A request still inside a task (a cluster call in the inbox or held by
  // the detection) is in none of these lists: as before, not cancelled.
  CmdState st = c->state.load();
  if (st == CmdState::kPending) {
    bool found =
        conn_->cancel(c) || pool_->cancel(c) || cluster_->cancel(c) || sentinel_->cancel(c);
    for (size_t i = 0; !found && i < leases_.size(); i++) found = leases_[i]->pending.remove(c);
    if (found) complete(c, JR_ECANCELED, nullptr);
  } else if (st == CmdState::kWritten) {
    complete(c, JR_EABANDONED, nullptr);  // the FIFO keeps its hold until the reply
    // A blocking command must not stay armed on the server.
    if ((c->flags & kFlagBlocking) != 0 && c->conn != nullptr)
      c->conn->reset("blocking command cancelled");
  }
}

void Client::on_async_cb(uv_async_t *a) {
  auto *self = static_cast<Client *>(a->data);
  Inbox batch;
  std::vector<jr_req_id> cancels;
  bool stop;
  {
    std::lock_guard<std::mutex> lk(self->inbox_mu_);
    batch = self->inbox_;
    self->inbox_ = Inbox();
    cancels.swap(self->cancels_);
    stop = self->stop_;
  }
  if (!batch.empty()) self->spin_submit_hit();
  while (Queued *q = batch.pop_front()) self->route(q);
  for (jr_req_id id : cancels) self->do_cancel(id);
  if (stop) self->shutdown_loop();
}

void Client::mark_dirty(Connection *conn) {
  for (Connection *d : dirty_)
    if (d == conn) return;
  dirty_.push_back(conn);
}

void Client::flush_all() {
  // One write per connection per loop iteration: automatic pipelining.
  // A flush can lose its connection (a write error), and what that runs
  // (callbacks, a topology refresh) can dirty connections flushed a moment
  // ago: they must land in a list that is flushed next, not in the one
  // being cleared (its commands sat unwritten until their deadline).
  if (!deferred_.empty()) run_deferred();
  while (!dirty_.empty()) {
    flushing_.swap(dirty_);
    for (Connection *d : flushing_) d->flush();
    flushing_.clear();
  }
  flush_completions();
  // Completions that these callbacks caused: the next loop turn, at once.
  if (!deferred_.empty()) uv_async_send(&async_);
}

void Client::flush_ready() {
  ready_.swap(dirty_);
  for (Connection *d : ready_) {
    if (d->batch_ready()) {
      d->flush();
    } else {
      mark_dirty(d);  // written at the end of the read
    }
  }
  ready_.clear();
  // A ready hook gets ready_batch completions at a time here; fewer wait
  // for the next check, or for the end of the read.
  if (opts_.ready_cb != nullptr &&
      (opts_.poll_mode ? local_done_.size : ran_unhooked_) < opts_.ready_batch)
    return;
  flush_completions();
}

void Client::on_check_cb(uv_check_t *h) {
  static_cast<Client *>(h->data)->flush_all();
}

// After a write the loop thread polls (an active idle handle: epoll_wait
// with a zero timeout) for up to loop_spin_us instead of sleeping, so that
// the reply finds it awake: on a fast server that saves a thread wake-up
// per round trip, the larger part of it on a VM. The first read ends it.
// A read that leaves its connection owing nothing opens another window,
// for the next command: a caller that waits for each reply (one task, one
// goroutine) submits its next one a few microseconds after it wakes, and
// then finds the loop awake too (no eventfd wake-up). The submit ends that
// window and its write opens the next. While replies are still owed (many
// callers) the loop does not poll for submits: they come anyway, and the
// CPU it would burn is the callers'.
// After 4 windows of a kind in a row that saw nothing, only every 32nd
// write (or read) spins; and the spinner slots are shared with blocking
// callers (see g_spinners). A read that woke a blocking caller opens no
// window: that caller polls for its next reply itself.
bool Client::start_spin(bool for_submit) {
  if (opts_.loop_spin_us == 0) return false;
  int64_t now = mono_ns();
  if (spinning_) {
    spin_for_submit_ = for_submit;
    spin_until_ = now + opts_.loop_spin_us * 1000;
    return true;
  }
  if (g_spinners.fetch_add(1, std::memory_order_relaxed) >= max_spinners_) {
    g_spinners.fetch_sub(1, std::memory_order_relaxed);
    return false;
  }
  spinning_ = true;
  spin_for_submit_ = for_submit;
  spin_until_ = now + opts_.loop_spin_us * 1000;
  uv_idle_start(&spin_, [](uv_idle_t *i) {
    auto *self = static_cast<Client *>(i->data);
    if (mono_ns() <= self->spin_until_) return;
    (self->spin_for_submit_ ? self->submit_gate_ : self->write_gate_).miss();
    self->stop_spin();
  });
  return true;
}

void Client::spin_after_write() {
  if (!spinning_ && write_gate_.skip()) return;
  start_spin(false);
}

void Client::spin_hit() {
  direct_done_ = false;
  if (!spinning_) return;
  if (!spin_for_submit_) write_gate_.misses = 0;
  stop_spin();
}

void Client::spin_for_submit() {
  if (spinning_) return;  // a write from the replies' callbacks opened one
  // A jr_client_call's caller spins for its next reply itself, and the
  // spinner slot it needs must be free then (a sleeping caller costs a
  // futex wake-up per call: 24 -> 46 us p50 when the loop kept the slot).
  if (direct_done_) return;
  if (submit_gate_.skip()) return;
  start_spin(true);
}

void Client::spin_submit_hit() {
  if (!spinning_ || !spin_for_submit_) return;
  submit_gate_.misses = 0;
  stop_spin();
}

void Client::stop_spin() {
  spinning_ = false;
  spin_for_submit_ = false;
  uv_idle_stop(&spin_);
  g_spinners.fetch_sub(1, std::memory_order_relaxed);
}

void Client::on_prepare_cb(uv_prepare_t *h) {
  static_cast<Client *>(h->data)->flush_all();
}

void Client::arm_deadline(int64_t deadline) {
  if (deadline == 0) return;
  if (next_deadline_ != 0 && next_deadline_ <= deadline) return;
  next_deadline_ = deadline;
  uv_timer_start(&deadline_timer_, on_deadline_cb,
                 static_cast<uint64_t>(ms_until(deadline, now_ms())), 0);
}

void Client::on_deadline_cb(uv_timer_t *t) {
  auto *self = static_cast<Client *>(t->data);
  self->next_deadline_ = 0;
  int64_t now = now_ms();
  int64_t next = self->conn_->expire(now);
  auto consider = [&](int64_t d) {
    if (d != 0 && (next == 0 || d < next)) next = d;
  };
  consider(self->pool_->expire(now));
  consider(self->cluster_->expire(now));
  consider(self->sentinel_->expire(now));
  consider(self->subs_->expire(now));
  for (auto &m : self->monitors_) consider(m->expire(now));
  for (Lease *l : self->leases_) {
    CmdList keep;
    while (Command *c = l->pending.pop_front()) {
      if (c->deadline != 0 && c->deadline <= now) {
        self->complete(c, JR_EPOOLTIMEOUT, nullptr);
      } else {
        consider(c->deadline);
        keep.push_back(c);
      }
    }
    l->pending = keep;
  }
  if (next != 0) self->arm_deadline(next);
}

void Client::emit(int event, const std::string &endpoint, const std::string &detail,
                  const char *role, int level) {
  if (opts_.log_cb != nullptr) {
    if (level == 0) level = event == JR_EVENT_CONNECTED ? JR_LOG_INFO : JR_LOG_WARN;
    std::string text = role != nullptr ? std::string(role) + " connection: " : std::string();
    if (event == JR_EVENT_CONNECTED) {
      text += "connected";
    } else if (event == JR_EVENT_DISCONNECTED) {
      text += "lost: " + detail;
    } else if (event == JR_EVENT_CONNECT_FAILED) {
      text += "attempt failed: " + detail;
    } else {
      text += detail;
    }
    log(level, event, endpoint, text);
  }
  if (opts_.event_cb == nullptr) return;
  CallbackScope scope(this);
  opts_.event_cb(opts_.event_ctx, event, endpoint.c_str(), detail.c_str());
}

void Client::log(int level, int event, const std::string &endpoint, const std::string &text) {
  if (opts_.log_cb == nullptr) return;
  CallbackScope scope(this);
  opts_.log_cb(opts_.log_ctx, level, event, endpoint.c_str(), text.c_str());
}

// A request's completion in the statistics (and the trace hook). Loop
// thread: plain stores, no read-modify-write (stats.hpp). Inline on the
// common path: the latency bucket (which also counts it as completed) and
// the endpoint's count; errors and the trace hook out of line.
inline void Client::account(Command *c, int status, const jr_reply *reply, const Connection *from) {
  int64_t now = read_ns_;
  if (now == 0) [[unlikely]]
    now = now_ns();  // not inside a read: a timer, a cancel, a failure
  int64_t took = now - c->submit_ns;
  stats_.latency.record(static_cast<uint64_t>(took > 0 ? took : 0));
  EndpointStats *ep = from != nullptr ? from->ep_stats() : nullptr;
  if (ep != nullptr) ep->completed.add();
  if (status != JR_OK || (reply != nullptr && reply->type == JR_REPLY_ERROR)) [[unlikely]]
    account_error(status, ep);
  if (opts_.trace_cb != nullptr) [[unlikely]]
    trace(c, status, reply, from, now);
}

void Client::account_error(int status, EndpointStats *ep) noexcept {
  if (status == JR_OK) {
    stats_.server_errors.add();
    if (ep != nullptr) ep->server_errors.add();
    return;
  }
  stats_.library_errors.add();
  if (ep != nullptr) ep->library_errors.add();
  if (status == JR_ETIMEDOUT || status == JR_EQUEUETIMEOUT || status == JR_EPOOLTIMEOUT)
    stats_.timeouts.add();
  if (status == JR_ECANCELED || status == JR_EABANDONED) stats_.cancels.add();
}

namespace {
// The command's name in its RESP encoding: "*N\r\n$L\r\nNAME\r\n...".
std::string_view command_name(const Buffer &wire) {
  const char *p = wire.data();
  const char *end = p + wire.size();
  while (p < end && *p != '\n') p++;
  if (p + 2 > end || p[1] != '$') return {};
  p += 2;
  size_t len = 0;
  while (p < end && *p >= '0' && *p <= '9') len = len * 10 + static_cast<size_t>(*p++ - '0');
  if (p + 2 > end) return {};
  p += 2;
  if (len > static_cast<size_t>(end - p)) return {};
  return {p, len};
}
}  // namespace

void Client::trace(Command *c, int status, const jr_reply *reply, const Connection *from,
                   int64_t now) {
  jr_trace t{};
  t.size = sizeof t;
  std::string_view name = command_name(c->wire);
  t.command = name.data() != nullptr ? name.data() : "";
  t.command_len = name.size();
  const EndpointStats *ep = from != nullptr ? from->ep_stats() : nullptr;
  t.endpoint = ep != nullptr ? ep->name.c_str() : "";
  t.db = c->db;
  t.status = status;
  t.reply_type = reply != nullptr ? reply->type : 0;
  t.submit_ns = static_cast<uint64_t>(c->submit_ns);
  t.write_ns = static_cast<uint64_t>(c->write_ns);
  t.reply_ns = static_cast<uint64_t>(now);
  t.reply_bytes = reply != nullptr && reply->arena != nullptr ? reply->arena->bytes() : 0;
  CallbackScope scope(this);
  opts_.trace_cb(opts_.trace_ctx, &t);
}

void Client::inherit_detail(Command *c) noexcept {
  if (!c->detail.empty()) return;
  try {
    c->detail = tls_detail;
  } catch (...) {  // out of memory: no detail
  }
}

void Client::complete(Command *c, int status, jr_reply *reply, const Connection *from) {
  c->state.store(CmdState::kDone, std::memory_order_release);
  if (c->fill != nullptr) [[unlikely]] {  // a cacheable read: may fill the cache
    cache_->finish(c->fill, status, reply, now_ms());
    c->fill = nullptr;
  }
  // A failure caused inside another's callback (the cluster detection's
  // CLUSTER SLOTS failing the commands it held) carries that one's detail.
  if (status < 0 && tls_detail != nullptr) [[unlikely]]
    inherit_detail(c);
  if (c->counted) account(c, status, reply, from);
  bool direct = (c->flags & kFlagDirect) != 0;
  if (!opts_.poll_mode || direct) {
    // The callback never runs inside the call that caused it: a completion
    // made while a libjr callback runs (an API call from it) waits until
    // that callback has returned. A binding that holds a lock while it
    // calls libjr, and takes it in its callbacks, must not deadlock.
    // libjr's own callbacks (fan-out children, probes) run at once. Once
    // something waits, later completions queue behind it (order kept).
    if ((c->flags & kFlagInternal) == 0 && (!deferred_.empty() || in_callback())) {
      c->status = status;
      c->reply = reply;
      deferred_.push_back(c);
      if (!in_callback()) run_deferred();
      return;
    }
    if (direct) {
      uncharge(c);
      direct_done_ = true;
    }
    run_callback(this, c, status, reply);
    reply_release(reply);
    release_hold(c);               // c may be reused from here on
    if (!direct) ran_unhooked_++;  // loop mode: the ready hook's next batch
  } else {
    c->status = status;
    c->reply = reply;
    local_done_.push_back(c);
  }
  finished_one();
}

void Client::finished_one() noexcept {
  if (unfinished_.fetch_sub(1, std::memory_order_acq_rel) == 1 &&
      draining_.load(std::memory_order_acquire)) {
    std::lock_guard<std::mutex> lk(drain_mu_);
    drain_cv_.notify_all();
  }
}

void Client::run_deferred() {
  // The ones waiting now; what their callbacks cause waits for the next
  // round (flush_all wakes the loop for it), so a callback that resubmits
  // whatever fails at once cannot keep the loop thread here forever.
  CmdList batch = deferred_;
  deferred_ = CmdList();
  while (Command *c = batch.pop_front()) {
    bool direct = (c->flags & kFlagDirect) != 0;
    jr_reply *reply = c->reply;
    c->reply = nullptr;
    if (direct) uncharge(c);
    run_callback(this, c, c->status, reply);
    reply_release(reply);
    release_hold(c);
    if (!direct) ran_unhooked_++;
    finished_one();
  }
}

// A jr_client_call's command leaves max_queued, max_queued_bytes and the
// queued statistic before its waiter wakes: the caller's next call must
// find the room this one had (JR_EFULL otherwise, at max_queued 1), and
// its statistics read after the return must not count it. Its holds (the
// FIFO's is released after the completion) only keep it from reuse. Loop
// thread: every hold of a direct command is released there.
void Client::uncharge(Command *c) noexcept {
  if (c->charged != 0) queued_bytes_.fetch_sub(c->charged, std::memory_order_relaxed);
  c->charged = 0;
  if (c->counted) queued_.fetch_sub(1, std::memory_order_relaxed);
  c->counted = false;
}

void Client::release_hold(Command *c) noexcept {
  if (c->holds.fetch_sub(1, std::memory_order_acq_rel) == 1) {
    if (c->charged != 0) queued_bytes_.fetch_sub(c->charged, std::memory_order_relaxed);
    bool counted = c->counted;
    c->charged = 0;
    c->counted = false;
    recycle(c);
    if (counted) queued_.fetch_sub(1, std::memory_order_relaxed);
  }
}

void Client::flush_completions() {
  // With a ready hook, completions that the hook's own callbacks made (a
  // cancel of an unsent command, say) get another round here, not a wait
  // until the loop wakes up again.
  for (;;) {
    if (opts_.ready_cb != nullptr && !opts_.poll_mode) {  // loop mode: they have run
      if (!deferred_.empty()) run_deferred();             // what the hook's own calls completed
      if (ran_unhooked_ == 0) return;
      ran_unhooked_ = 0;
      CallbackScope scope(this);
      opts_.ready_cb(opts_.ready_ctx);
      continue;
    }
    if (local_done_.empty()) return;
    bool signal;
    {
      std::lock_guard<std::mutex> lk(cq_mu_);
      signal = cq_.empty();
      cq_.append(local_done_);
    }
    if (opts_.ready_cb != nullptr) {
      CallbackScope scope(this);
      opts_.ready_cb(opts_.ready_ctx);
      continue;
    }
    if (signal) wakeup_.signal();
    return;
  }
}

void Client::deliver(Command *c) noexcept {
  run_callback(this, c, c->status, c->reply);
  reply_release(c->reply);
  c->reply = nullptr;
  release_hold(c);
}

size_t Client::dispatch(size_t max) {
  if (!opts_.poll_mode || forked()) return 0;
  std::lock_guard<std::mutex> dl(dispatch_mu_);
  size_t ran = 0;
  while (max == 0 || ran < max) {
    CmdList batch;
    {
      std::lock_guard<std::mutex> lk(cq_mu_);
      if (max == 0) {
        batch = cq_;
        cq_ = CmdList();
      } else {
        while (batch.size < max - ran && !cq_.empty()) batch.push_back(cq_.pop_front());
      }
      if (cq_.empty() && opts_.ready_cb == nullptr)  // with a ready hook it is never signalled
        wakeup_.clear();
    }
    if (batch.empty()) break;
    while (Command *c = batch.pop_front()) {
      deliver(c);
      ran++;
    }
  }
  return ran;
}

void Client::shutdown_loop() {
  // Everything still queued completes now: JR_ECLOSED when unsent,
  // JR_ESHUTDOWN when written.
  Inbox rest;
  {
    std::lock_guard<std::mutex> lk(inbox_mu_);
    rest = inbox_;
    inbox_ = Inbox();
    cancels_.clear();
  }
  while (Queued *q = rest.pop_front()) {
    if (q->is_task) {
      if (static_cast<Task *>(q)->carries_request()) stats_.submitted.add();
      // A control task takes effect at once here (a release: the commands
      // the cluster holds are completed below, never routed again); one
      // carrying a request (a cluster call) completes it with JR_ECLOSED.
      fail_task(static_cast<Task *>(q), JR_ECLOSED, nullptr);
      continue;
    }
    auto *c = static_cast<Command *>(q);
    stats_.submitted.add();
    if (c->lease != nullptr) track_lease(c->lease);
    drop_cached(c);  // a hit completes with JR_ECLOSED, not its cached reply
    complete(c, JR_ECLOSED, nullptr);
  }
  // Subscribers first: nothing they own reacts to the topology any more.
  subs_->shutdown();
  // Then the cluster: what it holds was never sent (JR_ECLOSED). Shutting
  // the seed connection down first failed its pending CLUSTER SLOTS with
  // JR_ESHUTDOWN, which routed the held commands again into connections
  // being shut down (a held cluster call re-sent the probe forever).
  cluster_->shutdown();
  sentinel_->shutdown();  // what waits for a master was never sent (JR_ECLOSED)
  conn_->shutdown();
  if (tracking_) tracking_->shutdown();
  pool_->shutdown();
  for (Lease *l : leases_) {
    while (Command *p = l->pending.pop_front()) complete(p, JR_ECLOSED, nullptr);
  }
  for (auto &m : monitors_) m->stop();
  // Their callbacks' submits are refused now (closing): this ends.
  while (!deferred_.empty()) run_deferred();
  flush_completions();
  uv_close(reinterpret_cast<uv_handle_t *>(&async_), nullptr);
  uv_close(reinterpret_cast<uv_handle_t *>(&check_), nullptr);
  uv_close(reinterpret_cast<uv_handle_t *>(&prepare_), nullptr);
  if (spinning_) stop_spin();
  uv_close(reinterpret_cast<uv_handle_t *>(&spin_), nullptr);
  uv_close(reinterpret_cast<uv_handle_t *>(&deadline_timer_), nullptr);
}

}  // namespace jr
