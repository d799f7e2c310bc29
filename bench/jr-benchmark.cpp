// SPDX-License-Identifier: MIT
// jr-benchmark: closed-loop throughput and latency of libjr against hiredis.
//
// Two command-line interfaces share one set of settings:
//
//   redis-benchmark style:  -h host -p port -s socket -a password -c clients
//                           -n requests -d size -P pipeline -t get,set
//                           --threads N --csv -q --client libjr|hiredis
//                           --duration secs --blocking
//   harness style:          --host --port --socket --op GET|SET --size N
//                           --depth D --duration S [--client ...]
//                           prints exactly one line per run:
//     client=libjr transport=tcp op=GET size=3 depth=64 ops=N secs=S
//     ops_per_s=R p50_us=X p99_us=Y errors=E
//
// Model: -c callers share libjr's ONE connection; each caller keeps -P
// commands in flight, and every completion resubmits its slot (closed loop),
// so c*P commands are in flight. With --threads 0 (default) the completion
// callback resubmits directly on libjr's loop thread; with --threads N the
// callers belong to N submitting threads and a completion hands its slot back
// to the owning thread, which submits it (the cross-thread submit path).
// hiredis mode: one redisAsyncContext on a libuv loop (adapters/libuv.h), the
// same c*P slots, resubmitted from hiredis's reply callback, one thread.
// --blocking: one caller, one command at a time: jr_client_call vs hiredis's
// blocking redisCommandArgv.
//
// Redis Cluster (libjr only): when the endpoint is a cluster node (found with
// jr_client_endpoints; --cluster insists on one), the run cycles over --keys
// keys "jrbench:{i}" (default 16384) whose hash tags spread them over the
// slots, so every master gets its share; GET keys are SET first. libjr
// routes by slot over one multiplexed connection per master. --keys N also
// works on a standalone server (both clients). The one-line output then adds
// keys=N and, on a cluster, masters=M; it always ends with cpu_pct, the
// client process's user+system CPU over the run (100 = one core).
//
// Latency is submit -> completion callback, recorded in a log-linear
// histogram (64 sub-buckets per power of two: < 1.6% error).
#include <hiredis/adapters/libuv.h>
#include <hiredis/async.h>
#include <hiredis/hiredis.h>
#include <jr/jr.h>
#include <sys/resource.h>
#include <time.h>
#include <uv.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cinttypes>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace {

// ---- Clock and histogram ------------------------------------------------------

inline uint64_t now_ns() noexcept {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);  // vDSO: ~20 ns with a TSC clocksource
  return static_cast<uint64_t>(ts.tv_sec) * 1000000000u + static_cast<uint64_t>(ts.tv_nsec);
}

class Histogram {
 public:
  static constexpr int kSubBits = 6;
  static constexpr uint64_t kSub = uint64_t{1} << kSubBits;
  static constexpr size_t kBuckets = (64 - kSubBits) * kSub + kSub;

  void record(uint64_t v) noexcept {
    counts_[index(v)]++;
    total_++;
    sum_ += v;
    if (v > max_) max_ = v;
    if (v < min_) min_ = v;
  }
  void merge(const Histogram &o) noexcept {
    for (size_t i = 0; i < kBuckets; i++) counts_[i] += o.counts_[i];
    total_ += o.total_;
    sum_ += o.sum_;
    max_ = std::max(max_, o.max_);
    min_ = std::min(min_, o.min_);
  }
  [[nodiscard]] uint64_t count() const noexcept { return total_; }
  [[nodiscard]] uint64_t max() const noexcept { return total_ != 0 ? max_ : 0; }
  [[nodiscard]] uint64_t min() const noexcept { return total_ != 0 ? min_ : 0; }
  [[nodiscard]] double mean() const noexcept {
    return total_ != 0 ? static_cast<double>(sum_) / static_cast<double>(total_) : 0.0;
  }
  // Value (ns) at percentile p in [0, 100]; the middle of its bucket.
  [[nodiscard]] uint64_t percentile(double p) const noexcept {
    if (total_ == 0) return 0;
    auto target = static_cast<uint64_t>(p / 100.0 * static_cast<double>(total_) + 0.5);
    if (target < 1) target = 1;
    if (target > total_) target = total_;
    uint64_t seen = 0;
    for (size_t i = 0; i < kBuckets; i++) {
      seen += counts_[i];
      if (seen >= target) return std::min(std::max(value(i), min()), max());
    }
    return max_;
  }

 private:
  static size_t index(uint64_t v) noexcept {
    if (v < 2 * kSub) return static_cast<size_t>(v);
    int msb = 63 - __builtin_clzll(v);
    int shift = msb - kSubBits;
    return static_cast<size_t>(shift + 1) * kSub + static_cast<size_t>((v >> shift) - kSub);
  }
  static uint64_t value(size_t idx) noexcept {
    if (idx < 2 * kSub) return idx;
    size_t shift = idx / kSub - 1;
    uint64_t low = ((idx % kSub) + kSub) << shift;
    return low + ((uint64_t{1} << shift) >> 1);
  }

  std::vector<uint64_t> counts_ = std::vector<uint64_t>(kBuckets, 0);
  uint64_t total_ = 0;
  uint64_t sum_ = 0;
  uint64_t max_ = 0;
  uint64_t min_ = UINT64_MAX;
};

// ---- Settings -----------------------------------------------------------------

enum class Impl { kLibjr, kHiredis };

struct Config {
  std::string host = "127.0.0.1";
  int port = 6379;
  std::string socket;
  std::string password;
  int clients = 50;
  int pipeline = 1;
  int depth = 0;  // harness interface: total in flight (overrides c*P)
  int64_t requests = 100000;
  double duration = 0;  // seconds; > 0 overrides requests
  size_t size = 3;
  std::vector<std::string> tests{"SET", "GET"};
  int threads = 0;
  bool csv = false;
  bool quiet = false;
  bool stats = false;  // --stats: libjr's statistics after the run (stderr)
  bool line = false;   // harness one-line output (--op)
  bool blocking = false;
  int64_t timeout_ms = -1;  // libjr: < 0 = the library default
  Impl impl = Impl::kLibjr;
  std::string key = "jrbench:key";
  bool cluster = false;  // --cluster: the endpoint must be a Redis Cluster
  int64_t keys = 0;      // --keys; 0 = one key standalone, kClusterKeys on a cluster
  std::vector<std::pair<std::string, std::string>> jr_opts;  // --jr-opt key=value
};

constexpr int64_t kClusterKeys = 16384;
constexpr int64_t kSetupTimeoutMs = 10000;  // PING, pre-SET: fail rather than hang

struct Result {
  uint64_t ops = 0;
  double secs = 0;
  double cpu_pct = 0;  // client process CPU (user + system) over the run
  size_t keys = 1;
  int masters = 0;  // > 0: a cluster with this many masters
  uint64_t errors = 0;
  std::string first_error;
  Histogram hist;
};

[[noreturn]] void die(const char *fmt, const char *a = "", const char *b = "") {
  std::fprintf(stderr, "jr-benchmark: ");
  std::fprintf(stderr, fmt, a, b);
  std::fprintf(stderr, "\n");
  std::exit(1);
}

// The argv of one benchmark command. key (and a shared value) must outlive it.
struct Command {
  std::vector<const char *> argv;
  std::vector<size_t> lens;
  std::string own_value;
  Command(const std::string &op, const std::string &key, size_t size) : own_value(size, 'x') {
    init(op, key, own_value);
  }
  Command(const std::string &op, const std::string &key, const std::string &value) {
    init(op, key, value);
  }
  Command(const Command &) = delete;
  Command &operator=(const Command &) = delete;

 private:
  void init(const std::string &op, const std::string &key, const std::string &value) {
    if (op == "GET") {
      argv = {"GET", key.c_str()};
      lens = {3, key.size()};
    } else if (op == "SET") {
      argv = {"SET", key.c_str(), value.data()};
      lens = {3, key.size(), value.size()};
    } else if (op == "PING") {
      argv = {"PING"};
      lens = {4};
    } else {
      die("unknown test '%s' (supported: get, set, ping)", op.c_str());
    }
  }
};

// The commands a run cycles through, one per key: cfg.key alone, or with
// --keys N (default kClusterKeys on a cluster) "jrbench:{i}" for i < N, whose
// hash tags spread the keys over the cluster's slots.
struct Workload {
  std::string value;
  std::vector<std::string> keys;
  std::vector<std::unique_ptr<Command>> cmds;

  Workload(const std::string &op, const Config &cfg, bool cluster) : value(cfg.size, 'x') {
    int64_t n = cfg.keys > 0 ? cfg.keys : (cluster ? kClusterKeys : 0);
    if (n == 0) {
      keys.push_back(cfg.key);
    } else {
      keys.reserve(static_cast<size_t>(n));
      for (int64_t i = 0; i < n; i++) keys.push_back("jrbench:{" + std::to_string(i) + "}");
    }
    cmds.reserve(keys.size());
    for (const std::string &k : keys) cmds.push_back(std::make_unique<Command>(op, k, value));
  }
  [[nodiscard]] size_t size() const noexcept { return cmds.size(); }
  [[nodiscard]] const Command &at(size_t i) const noexcept { return *cmds[i]; }
};

// User + system CPU seconds of the whole process (every thread).
double cpu_secs() noexcept {
  struct rusage ru {};
  getrusage(RUSAGE_SELF, &ru);
  auto tv = [](const struct timeval &t) {
    return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_usec) / 1e6;
  };
  return tv(ru.ru_utime) + tv(ru.ru_stime);
}

int total_depth(const Config &cfg) {
  return cfg.depth > 0 ? cfg.depth : cfg.clients * cfg.pipeline;
}

// Shared closed-loop bookkeeping: tickets (-n), stop flag (--duration), and an
// outstanding count that signals completion when it reaches zero.
struct LoopState {
  int64_t limit = -1;  // -n; -1 = until stopped
  std::atomic<int64_t> issued{0};
  std::atomic<bool> stop{false};
  std::atomic<int64_t> outstanding{1};  // starts with the starter's reference
  std::atomic<uint64_t> completed{0};   // single writer: the completing thread
  std::atomic<uint64_t> errors{0};
  std::atomic<bool> done{false};
  uint64_t start_ns = 0;
  uint64_t end_ns = 0;
  uint64_t snap_ops = 0;  // --duration: completions at the stop instant
  uint64_t snap_ns = 0;
  double cpu_start = 0;
  double cpu_end = 0;
  std::mutex err_mu;
  std::string first_error;

  void begin() noexcept {
    cpu_start = cpu_secs();
    start_ns = now_ns();
  }
  bool take_ticket() noexcept {
    if (stop.load(std::memory_order_relaxed)) return false;
    if (limit < 0) return true;
    return issued.fetch_add(1, std::memory_order_relaxed) < limit;
  }
  void count_completion() noexcept {
    completed.store(completed.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
  }
  void error(const std::string &text) {
    if (errors.fetch_add(1, std::memory_order_relaxed) == 0) {
      std::lock_guard<std::mutex> lk(err_mu);
      first_error = text;
    }
  }
  // Drops one reference; returns true for the last one.
  bool finish(uint64_t now) noexcept {
    if (outstanding.fetch_sub(1, std::memory_order_acq_rel) != 1) return false;
    end_ns = now;
    if (limit >= 0) cpu_end = cpu_secs();
    done.store(true, std::memory_order_release);
    done.notify_all();
    return true;
  }
  void snapshot_and_stop() noexcept {
    snap_ops = completed.load(std::memory_order_relaxed);
    snap_ns = now_ns();
    cpu_end = cpu_secs();
    stop.store(true, std::memory_order_relaxed);
  }
  void fill(Result &r) {
    if (limit < 0) {
      r.ops = snap_ops;
      r.secs = static_cast<double>(snap_ns - start_ns) / 1e9;
    } else {
      r.ops = completed.load();
      r.secs = static_cast<double>(end_ns - start_ns) / 1e9;
    }
    r.errors = errors.load();
    r.first_error = first_error;
    if (r.secs > 0) r.cpu_pct = 100.0 * (cpu_end - cpu_start) / r.secs;
  }
};

// ---- libjr -------------------------------------------------------------------------

jr_client *jr_connect(const Config &cfg) {
  jr_options *o = jr_options_new();
  if (o == nullptr) die("out of memory");
  std::string ep;
  if (!cfg.socket.empty()) {
    ep = cfg.socket.find('/') == std::string::npos ? "./" + cfg.socket : cfg.socket;
  } else if (cfg.host.find(':') != std::string::npos) {
    ep = "[" + cfg.host + "]:" + std::to_string(cfg.port);
  } else {
    ep = cfg.host + ":" + std::to_string(cfg.port);
  }
  int rc = jr_options_set(o, "endpoint", ep.c_str());
  if (rc == JR_OK && !cfg.password.empty())
    rc = jr_options_set(o, "password", cfg.password.c_str());
  if (rc == JR_OK) rc = jr_options_set_int(o, "connect_retry", 0);
  if (rc != JR_OK) die("jr_options_set: %s", jr_strerror(rc));
  for (const auto &kv : cfg.jr_opts) {
    rc = jr_options_set(o, kv.first.c_str(), kv.second.c_str());
    if (rc != JR_OK) die("--jr-opt %s: %s", kv.first.c_str(), jr_strerror(rc));
  }
  jr_client *c = nullptr;
  rc = jr_client_new(o, &c);
  jr_options_free(o);
  if (rc != JR_OK) die("jr_client_new: %s", jr_strerror(rc));
  return c;
}

std::string jr_describe(int status, const jr_reply *reply) {
  if (status != JR_OK) return std::string(jr_err_name(status)) + ": " + jr_strerror(status);
  size_t n = 0;
  const char *s = jr_reply_str(reply, &n);
  return s != nullptr ? std::string(s, n) : std::string("?");
}

// Runs one blocking command for setup; dies on failure.
void jr_setup_call(jr_client *c, const Command &cmd) {
  jr_reply *r = nullptr;
  int rc =
      jr_client_call(c, cmd.argv.size(), cmd.argv.data(), cmd.lens.data(), kSetupTimeoutMs, &r);
  if (rc != JR_OK || jr_reply_get_type(r) == JR_REPLY_ERROR) {
    std::string t = jr_describe(rc, r);
    jr_reply_free(r);
    die("setup %s failed: %s", cmd.argv[0], t.c_str());
  }
  jr_reply_free(r);
}

// Waits for a batch of callbacks (setup commands, jr_client_endpoints).
struct JrBatch {
  std::atomic<size_t> left{0};
  std::atomic<bool> done{false};
  std::mutex mu;
  std::string first_error;
  int masters = 0;

  void fail(const std::string &text) {
    std::lock_guard<std::mutex> lk(mu);
    if (first_error.empty()) first_error = text;
  }
  void complete_one() {
    if (left.fetch_sub(1, std::memory_order_acq_rel) == 1) {
      done.store(true, std::memory_order_release);
      done.notify_all();
    }
  }
  void wait() { done.wait(false, std::memory_order_acquire); }
};

// Runs every command of w, pipelined, for setup; dies on any failure.
void jr_setup_all(jr_client *c, const Workload &w) {
  JrBatch b;
  b.left.store(w.size() + 1);
  auto cb = [](void *ud, int status, const jr_reply *reply) {
    auto *bp = static_cast<JrBatch *>(ud);
    if (status != JR_OK || jr_reply_get_type(reply) == JR_REPLY_ERROR)
      bp->fail(jr_describe(status, reply));
    bp->complete_one();
  };
  for (size_t i = 0; i < w.size(); i++) {
    const Command &cmd = w.at(i);
    int rc = jr_client_submit(c, cmd.argv.size(), cmd.argv.data(), cmd.lens.data(), kSetupTimeoutMs,
                              cb, &b, nullptr);
    if (rc != JR_OK) die("setup submit: %s", jr_strerror(rc));
  }
  b.complete_one();
  b.wait();
  if (!b.first_error.empty()) die("setup %s failed: %s", w.at(0).argv[0], b.first_error.c_str());
}

// Masters of the Redis Cluster behind c, 0 for a standalone server.
int jr_masters(jr_client *c) {
  JrBatch b;
  b.left.store(1);
  auto cb = [](void *ud, int status, const jr_reply *reply) {
    auto *bp = static_cast<JrBatch *>(ud);
    if (status != JR_OK) {
      bp->fail(jr_describe(status, reply));
    } else {
      for (size_t i = 0; i < jr_reply_len(reply); i++) {
        size_t n = 0;
        const char *role = jr_reply_str(jr_reply_element(jr_reply_element(reply, i), 1), &n);
        if (role != nullptr && std::string(role, n) == "master") bp->masters++;
      }
    }
    bp->complete_one();
  };
  int rc = jr_client_endpoints(c, cb, &b);
  if (rc != JR_OK) die("jr_client_endpoints: %s", jr_strerror(rc));
  b.wait();
  if (!b.first_error.empty()) die("jr_client_endpoints: %s", b.first_error.c_str());
  return b.masters;
}

// Connects (PING), finds out whether the endpoint is a cluster, and SETs the
// keys of a GET run. Returns the masters (0: standalone).
int jr_prepare(jr_client *client, const Config &cfg, const std::string &op) {
  jr_setup_call(client, Command("PING", cfg.key, 0));  // connects
  int masters = jr_masters(client);
  if (cfg.cluster && masters == 0) die("--cluster: the endpoint is not a Redis Cluster");
  if (op == "GET") jr_setup_all(client, Workload("SET", cfg, masters > 0));
  return masters;
}

struct JrRun;

struct JrSlot {
  JrRun *run;
  uint64_t t0;
  int worker;
  uint32_t key;  // index into the workload, advanced by every submit
};

struct JrWorker {
  std::mutex mu;
  std::condition_variable cv;
  std::vector<JrSlot *> ready;
  bool quit = false;
  std::thread th;
};

struct JrRun {
  jr_client *client = nullptr;
  const Workload *work = nullptr;
  uint32_t nkeys = 1;
  int64_t timeout_ms = -1;
  LoopState st;
  Histogram hist;  // written on libjr's loop thread only
  std::vector<std::unique_ptr<JrWorker>> workers;
};

void jr_cb(void *ud, int status, const jr_reply *reply);

void jr_submit_slot(JrSlot *s, uint64_t now) {
  JrRun *r = s->run;
  s->t0 = now;
  const Command &cmd = r->work->at(s->key);
  if (++s->key == r->nkeys) s->key = 0;
  int rc = jr_client_submit(r->client, cmd.argv.size(), cmd.argv.data(), cmd.lens.data(),
                            r->timeout_ms, jr_cb, s, nullptr);
  if (rc != JR_OK) {
    r->st.error(std::string("submit: ") + jr_err_name(rc));
    r->st.finish(now_ns());
  }
}

void jr_cb(void *ud, int status, const jr_reply *reply) {
  auto *s = static_cast<JrSlot *>(ud);
  JrRun *r = s->run;
  uint64_t now = now_ns();
  r->hist.record(now - s->t0);
  if (status != JR_OK || jr_reply_get_type(reply) == JR_REPLY_ERROR)
    r->st.error(jr_describe(status, reply));
  r->st.count_completion();
  if (status != JR_OK || !r->st.take_ticket()) {
    r->st.finish(now);
    return;
  }
  if (r->workers.empty()) {
    jr_submit_slot(s, now);  // on the loop thread: the fastest closed loop
    return;
  }
  JrWorker &w = *r->workers[static_cast<size_t>(s->worker)];
  bool wake;
  {
    std::lock_guard<std::mutex> lk(w.mu);
    wake = w.ready.empty();
    w.ready.push_back(s);
  }
  if (wake) w.cv.notify_one();
}

void jr_worker_main(JrWorker *w) {
  std::vector<JrSlot *> batch;
  for (;;) {
    {
      std::unique_lock<std::mutex> lk(w->mu);
      w->cv.wait(lk, [&] { return !w->ready.empty() || w->quit; });
      if (w->ready.empty()) return;
      batch.swap(w->ready);
    }
    uint64_t now = now_ns();
    for (JrSlot *s : batch) jr_submit_slot(s, now);
    batch.clear();
  }
}

void wait_done(LoopState &st, double duration) {
  if (duration > 0) {
    // Sleep in short steps so that an early failure ends the run.
    uint64_t until = st.start_ns + static_cast<uint64_t>(duration * 1e9);
    for (;;) {
      uint64_t now = now_ns();
      if (now >= until || st.done.load(std::memory_order_acquire)) break;
      uint64_t left = until - now;
      std::this_thread::sleep_for(std::chrono::nanoseconds(std::min<uint64_t>(left, 50000000)));
    }
    st.snapshot_and_stop();
  }
  st.done.wait(false, std::memory_order_acquire);
}

// --stats: the client's counters (jr_client_stats_text, Prometheus text)
// and its latency percentiles, on stderr (stdout keeps the harness line).
void print_stats(const Config &cfg, jr_client *client) {
  if (!cfg.stats) return;
  int64_t n = jr_client_stats_text(client, nullptr, 0);
  if (n < 0) die("jr_client_stats_text: %s", jr_strerror(static_cast<int>(n)));
  std::string text(static_cast<size_t>(n) + 1, '\0');
  jr_client_stats_text(client, text.data(), text.size());
  text.resize(static_cast<size_t>(n));
  std::fprintf(stderr, "# libjr statistics (jr_client_stats_text)\n%s", text.c_str());
  for (double p : {50.0, 99.0, 99.9}) {
    uint64_t ns = 0;
    if (jr_client_latency(client, p, &ns) == JR_OK)
      std::fprintf(stderr, "# libjr latency p%g <= %.1f us\n", p, static_cast<double>(ns) / 1e3);
  }
}

Result run_libjr(const Config &cfg, const std::string &op) {
  jr_client *client = jr_connect(cfg);
  int masters = jr_prepare(client, cfg, op);
  Workload work(op, cfg, masters > 0);

  auto run = std::make_unique<JrRun>();
  run->client = client;
  run->work = &work;
  run->nkeys = static_cast<uint32_t>(work.size());
  run->timeout_ms = cfg.timeout_ms;
  run->st.limit = cfg.duration > 0 ? -1 : cfg.requests;
  int depth = total_depth(cfg);
  int callers = cfg.depth > 0 ? std::max(1, cfg.threads) : cfg.clients;
  std::vector<JrSlot> slots(static_cast<size_t>(depth));
  for (int i = 0; i < depth; i++) {
    int caller = i % callers;
    slots[static_cast<size_t>(i)] =
        JrSlot{run.get(), 0, cfg.threads > 0 ? caller % cfg.threads : 0,
               static_cast<uint32_t>(static_cast<size_t>(i) % work.size())};
  }
  for (int t = 0; t < cfg.threads; t++) {
    run->workers.push_back(std::make_unique<JrWorker>());
    JrWorker *w = run->workers.back().get();
    w->th = std::thread(jr_worker_main, w);
  }
  run->st.begin();
  for (JrSlot &s : slots) {
    if (!run->st.take_ticket()) break;
    run->st.outstanding.fetch_add(1, std::memory_order_relaxed);
    jr_submit_slot(&s, now_ns());
  }
  run->st.finish(now_ns());  // the starter's reference
  wait_done(run->st, cfg.duration);
  for (auto &w : run->workers) {
    {
      std::lock_guard<std::mutex> lk(w->mu);
      w->quit = true;
    }
    w->cv.notify_one();
    w->th.join();
  }
  Result res;
  run->st.fill(res);
  res.hist = run->hist;
  res.keys = work.size();
  res.masters = masters;
  print_stats(cfg, client);
  int rc = jr_client_free(client);
  if (rc != JR_OK) die("jr_client_free: %s", jr_strerror(rc));
  return res;
}

// step(i) runs command i and returns an error text ("" = fine).
template <typename Step>
Result run_blocking(const Config &cfg, Step step) {
  Result res;
  double cpu0 = cpu_secs();
  uint64_t start = now_ns();
  uint64_t until = cfg.duration > 0 ? start + static_cast<uint64_t>(cfg.duration * 1e9) : 0;
  uint64_t now = start;
  int64_t i = 0;
  for (;;) {
    if (until != 0 ? now >= until : i >= cfg.requests) break;
    uint64_t t0 = now;
    std::string err = step(static_cast<uint64_t>(i));
    now = now_ns();
    res.hist.record(now - t0);
    if (!err.empty() && res.errors++ == 0) res.first_error = err;
    i++;
  }
  res.ops = static_cast<uint64_t>(i);
  res.secs = static_cast<double>(now - start) / 1e9;
  if (res.secs > 0) res.cpu_pct = 100.0 * (cpu_secs() - cpu0) / res.secs;
  return res;
}

Result run_libjr_blocking(const Config &cfg, const std::string &op) {
  jr_client *client = jr_connect(cfg);
  int masters = jr_prepare(client, cfg, op);
  Workload work(op, cfg, masters > 0);
  Result res = run_blocking(cfg, [&](uint64_t i) -> std::string {
    const Command &cmd = work.at(static_cast<size_t>(i % work.size()));
    jr_reply *r = nullptr;
    int rc = jr_client_call(client, cmd.argv.size(), cmd.argv.data(), cmd.lens.data(),
                            cfg.timeout_ms, &r);
    std::string err;
    if (rc != JR_OK || jr_reply_get_type(r) == JR_REPLY_ERROR) err = jr_describe(rc, r);
    jr_reply_free(r);
    return err;
  });
  res.keys = work.size();
  res.masters = masters;
  print_stats(cfg, client);
  jr_client_free(client);
  return res;
}

// ---- hiredis -------------------------------------------------------------------------

redisContext *hr_connect_blocking(const Config &cfg) {
  redisContext *c = cfg.socket.empty() ? redisConnect(cfg.host.c_str(), cfg.port)
                                       : redisConnectUnix(cfg.socket.c_str());
  if (c == nullptr || c->err != 0) die("hiredis connect: %s", c != nullptr ? c->errstr : "oom");
  if (!cfg.password.empty()) {
    auto *r = static_cast<redisReply *>(redisCommand(c, "AUTH %s", cfg.password.c_str()));
    if (r == nullptr || r->type == REDIS_REPLY_ERROR)
      die("AUTH failed: %s", r != nullptr ? r->str : c->errstr);
    freeReplyObject(r);
  }
  return c;
}

std::string hr_call(redisContext *c, const Command &cmd) {
  auto *r = static_cast<redisReply *>(redisCommandArgv(c, static_cast<int>(cmd.argv.size()),
                                                       const_cast<const char **>(cmd.argv.data()),
                                                       cmd.lens.data()));
  if (r == nullptr) return c->errstr;
  std::string err;
  if (r->type == REDIS_REPLY_ERROR) err.assign(r->str, r->len);
  freeReplyObject(r);
  return err;
}

// hiredis has no cluster routing: refuses a cluster endpoint. Then SETs the
// keys of a GET run (pipelined).
void hr_prepare(redisContext *c, const Config &cfg, const std::string &op) {
  const char *no_cluster = "hiredis mode has no cluster routing (use --client libjr)";
  if (cfg.cluster) die("--cluster: %s", no_cluster);
  auto *info = static_cast<redisReply *>(redisCommand(c, "INFO cluster"));
  if (info == nullptr) die("INFO cluster: %s", c->errstr);
  bool cluster =
      info->type == REDIS_REPLY_STRING && std::strstr(info->str, "cluster_enabled:1") != nullptr;
  freeReplyObject(info);
  if (cluster) die("the endpoint is a Redis Cluster: %s", no_cluster);
  if (op != "GET") return;
  Workload sets("SET", cfg, false);
  for (size_t i = 0; i < sets.size(); i++) {
    const Command &cmd = sets.at(i);
    if (redisAppendCommandArgv(c, static_cast<int>(cmd.argv.size()),
                               const_cast<const char **>(cmd.argv.data()),
                               cmd.lens.data()) != REDIS_OK)
      die("setup SET failed: %s", c->errstr);
  }
  for (size_t i = 0; i < sets.size(); i++) {
    void *rp = nullptr;
    if (redisGetReply(c, &rp) != REDIS_OK) die("setup SET failed: %s", c->errstr);
    auto *r = static_cast<redisReply *>(rp);
    if (r->type == REDIS_REPLY_ERROR) die("setup SET failed: %s", r->str);
    freeReplyObject(r);
  }
}

struct HrRun;

struct HrSlot {
  HrRun *run;
  uint64_t t0;
  uint32_t key;  // index into the workload, advanced by every submit
};

struct HrRun {
  redisAsyncContext *ac = nullptr;
  uv_loop_t loop;
  uv_timer_t timer;
  const Workload *work = nullptr;
  uint32_t nkeys = 1;
  double duration = 0;
  LoopState st;
  Histogram hist;
  std::vector<HrSlot> slots;
  bool started = false;
  bool ended = false;
};

void hr_cb(redisAsyncContext *ac, void *reply, void *priv);

void hr_end(HrRun *r) {
  if (r->ended) return;
  r->ended = true;
  uv_timer_stop(&r->timer);
  uv_close(reinterpret_cast<uv_handle_t *>(&r->timer), nullptr);
  redisAsyncDisconnect(r->ac);
}

void hr_finish(HrRun *r, uint64_t now) {
  if (r->st.finish(now)) hr_end(r);
}

void hr_submit_slot(HrSlot *s, uint64_t now) {
  HrRun *r = s->run;
  s->t0 = now;
  const Command &cmd = r->work->at(s->key);
  if (++s->key == r->nkeys) s->key = 0;
  int rc = redisAsyncCommandArgv(r->ac, hr_cb, s, static_cast<int>(cmd.argv.size()),
                                 const_cast<const char **>(cmd.argv.data()), cmd.lens.data());
  if (rc != REDIS_OK) {
    r->st.error("redisAsyncCommandArgv failed");
    hr_finish(r, now_ns());
  }
}

void hr_cb(redisAsyncContext *ac, void *reply, void *priv) {
  auto *s = static_cast<HrSlot *>(priv);
  HrRun *r = s->run;
  uint64_t now = now_ns();
  r->hist.record(now - s->t0);
  auto *rep = static_cast<redisReply *>(reply);
  if (rep == nullptr) {
    r->st.error(ac->err != 0 ? ac->errstr : "disconnected");
  } else if (rep->type == REDIS_REPLY_ERROR) {
    r->st.error(std::string(rep->str, rep->len));
  }
  r->st.count_completion();
  if (rep == nullptr || !r->st.take_ticket()) {
    hr_finish(r, now);
    return;
  }
  hr_submit_slot(s, now);
}

void hr_timer_cb(uv_timer_t *t) {
  auto *r = static_cast<HrRun *>(t->data);
  r->st.snapshot_and_stop();
}

// PING answered: the connection is up; start the closed loop.
void hr_start_cb(redisAsyncContext *ac, void *reply, void *priv) {
  auto *r = static_cast<HrRun *>(priv);
  auto *rep = static_cast<redisReply *>(reply);
  if (rep == nullptr || rep->type == REDIS_REPLY_ERROR) {
    r->st.error(rep == nullptr ? (ac->err != 0 ? ac->errstr : "disconnected")
                               : std::string(rep->str, rep->len));
    r->st.start_ns = now_ns();
    r->st.finish(r->st.start_ns);
    r->st.snapshot_and_stop();
    hr_end(r);
    return;
  }
  r->started = true;
  r->st.begin();
  if (r->duration > 0)
    uv_timer_start(&r->timer, hr_timer_cb, static_cast<uint64_t>(r->duration * 1000), 0);
  for (HrSlot &s : r->slots) {
    if (!r->st.take_ticket()) break;
    r->st.outstanding.fetch_add(1, std::memory_order_relaxed);
    hr_submit_slot(&s, now_ns());
  }
  hr_finish(r, now_ns());
}

void hr_connect_cb(const redisAsyncContext *ac, int status) {
  auto *r = static_cast<HrRun *>(ac->data);
  if (status == REDIS_OK || r->ended) return;
  r->st.error(std::string("connect: ") + ac->errstr);
  r->ended = true;  // hiredis frees the context itself
  uv_timer_stop(&r->timer);
  uv_close(reinterpret_cast<uv_handle_t *>(&r->timer), nullptr);
}

void hr_auth_cb(redisAsyncContext *, void *reply, void *priv) {
  auto *r = static_cast<HrRun *>(priv);
  auto *rep = static_cast<redisReply *>(reply);
  if (rep != nullptr && rep->type == REDIS_REPLY_ERROR)
    r->st.error("AUTH: " + std::string(rep->str, rep->len));
}

Result run_hiredis(const Config &cfg, const std::string &op) {
  if (cfg.threads > 0 && !cfg.line)
    std::fprintf(stderr, "jr-benchmark: --threads is ignored in hiredis mode (one thread)\n");
  redisContext *setup = hr_connect_blocking(cfg);
  hr_prepare(setup, cfg, op);
  redisFree(setup);
  Workload work(op, cfg, false);
  auto run = std::make_unique<HrRun>();
  HrRun *r = run.get();
  r->work = &work;
  r->nkeys = static_cast<uint32_t>(work.size());
  r->duration = cfg.duration;
  r->st.limit = cfg.duration > 0 ? -1 : cfg.requests;
  r->slots.resize(static_cast<size_t>(total_depth(cfg)));
  for (size_t i = 0; i < r->slots.size(); i++)
    r->slots[i] = HrSlot{r, 0, static_cast<uint32_t>(i % work.size())};
  if (uv_loop_init(&r->loop) != 0) die("uv_loop_init failed");
  uv_timer_init(&r->loop, &r->timer);
  r->timer.data = r;
  r->ac = cfg.socket.empty() ? redisAsyncConnect(cfg.host.c_str(), cfg.port)
                             : redisAsyncConnectUnix(cfg.socket.c_str());
  if (r->ac == nullptr || r->ac->err != 0)
    die("hiredis async connect: %s", r->ac != nullptr ? r->ac->errstr : "oom");
  if (redisLibuvAttach(r->ac, &r->loop) != REDIS_OK) die("redisLibuvAttach failed");
  r->ac->data = r;
  redisAsyncSetConnectCallback(r->ac, hr_connect_cb);
  if (!cfg.password.empty())
    redisAsyncCommand(r->ac, hr_auth_cb, r, "AUTH %s", cfg.password.c_str());
  redisAsyncCommand(r->ac, hr_start_cb, r, "PING");
  uv_run(&r->loop, UV_RUN_DEFAULT);
  // The libuv adapter drops poll errors (e.g. a refused connect), which ends
  // the loop with nothing reported.
  if (!r->ended) die("hiredis: connection failed before the run started");
  uv_loop_close(&r->loop);
  if (!r->started) die("hiredis: %s", r->st.first_error.c_str());
  Result res;
  r->st.fill(res);
  res.hist = r->hist;
  res.keys = work.size();
  return res;
}

Result run_hiredis_blocking(const Config &cfg, const std::string &op) {
  redisContext *c = hr_connect_blocking(cfg);
  hr_prepare(c, cfg, op);
  Workload work(op, cfg, false);
  Result res = run_blocking(
      cfg, [&](uint64_t i) { return hr_call(c, work.at(static_cast<size_t>(i % work.size()))); });
  res.keys = work.size();
  redisFree(c);
  return res;
}

// ---- Output -------------------------------------------------------------------------

double ms(uint64_t ns) {
  return static_cast<double>(ns) / 1e6;
}
double us(uint64_t ns) {
  return static_cast<double>(ns) / 1e3;
}

void report(const Config &cfg, const std::string &op, const Result &r, bool &csv_header) {
  double rate = r.secs > 0 ? static_cast<double>(r.ops) / r.secs : 0.0;
  const char *impl = cfg.impl == Impl::kLibjr ? "libjr" : "hiredis";
  const char *transport = cfg.socket.empty() ? "tcp" : "unix";
  int depth = cfg.blocking ? 1 : total_depth(cfg);
  if (r.errors > 0)
    std::fprintf(stderr, "jr-benchmark: %s %s: %" PRIu64 " errors, first: %s\n", impl, op.c_str(),
                 r.errors, r.first_error.c_str());
  if (cfg.line) {
    std::printf("client=%s transport=%s op=%s size=%zu depth=%d ops=%" PRIu64
                " secs=%.3f ops_per_s=%.0f p50_us=%.1f p99_us=%.1f errors=%" PRIu64,
                impl, transport, op.c_str(), cfg.size, depth, r.ops, r.secs, rate,
                us(r.hist.percentile(50)), us(r.hist.percentile(99)), r.errors);
    if (r.keys > 1) std::printf(" keys=%zu", r.keys);
    if (r.masters > 0) std::printf(" masters=%d", r.masters);
    std::printf(" cpu_pct=%.0f\n", r.cpu_pct);
  } else if (cfg.csv) {
    if (!csv_header) {
      std::printf(
          "\"test\",\"rps\",\"avg_latency_ms\",\"min_latency_ms\",\"p50_latency_ms\","
          "\"p95_latency_ms\",\"p99_latency_ms\",\"max_latency_ms\"\n");
      csv_header = true;
    }
    std::printf("\"%s\",\"%.2f\",\"%.3f\",\"%.3f\",\"%.3f\",\"%.3f\",\"%.3f\",\"%.3f\"\n",
                op.c_str(), rate, r.hist.mean() / 1e6, ms(r.hist.min()), ms(r.hist.percentile(50)),
                ms(r.hist.percentile(95)), ms(r.hist.percentile(99)), ms(r.hist.max()));
  } else if (cfg.quiet) {
    std::printf("%s: %.2f requests per second, p50=%.3f msec\n", op.c_str(), rate,
                ms(r.hist.percentile(50)));
  } else {
    std::printf("====== %s ======\n", op.c_str());
    if (cfg.blocking) {
      std::printf("  client: %s (blocking, one caller)  transport: %s\n", impl, transport);
    } else {
      std::printf("  client: %s  transport: %s  in flight: %d", impl, transport, depth);
      if (cfg.depth == 0) std::printf(" (%d callers x pipeline %d)", cfg.clients, cfg.pipeline);
      if (cfg.impl == Impl::kLibjr)
        std::printf("  submit threads: %s",
                    cfg.threads > 0 ? std::to_string(cfg.threads).c_str() : "loop callback");
      std::printf("\n");
    }
    std::printf("  %" PRIu64 " requests completed in %.2f seconds\n", r.ops, r.secs);
    std::printf("  %zu bytes payload\n", cfg.size);
    if (r.masters > 0) std::printf("  Redis Cluster: %d masters\n", r.masters);
    if (r.keys > 1) std::printf("  keys: %zu (jrbench:{0} ...)\n", r.keys);
    std::printf("  client CPU: %.0f%% of one core\n", r.cpu_pct);
    if (r.errors > 0) std::printf("  %" PRIu64 " errors\n", r.errors);
    std::printf("  latency (msec): avg=%.3f min=%.3f p50=%.3f p95=%.3f p99=%.3f max=%.3f\n",
                r.hist.mean() / 1e6, ms(r.hist.min()), ms(r.hist.percentile(50)),
                ms(r.hist.percentile(95)), ms(r.hist.percentile(99)), ms(r.hist.max()));
    std::printf("  throughput: %.2f requests per second\n\n", rate);
  }
  std::fflush(stdout);
}

// ---- Command line -------------------------------------------------------------------

void usage(FILE *f) {
  std::fprintf(f,
               "Usage: jr-benchmark [options]\n"
               "  -h, --host <host>      server host (default 127.0.0.1)\n"
               "  -p, --port <port>      server port (default 6379)\n"
               "  -s, --socket <path>    unix socket (overrides host and port)\n"
               "  -a, --password <pw>    AUTH password\n"
               "  -c, --clients <n>      concurrent callers on the ONE connection (default 50)\n"
               "  -n, --requests <n>     total requests (default 100000)\n"
               "  -d, --size <bytes>     SET/GET value size (default 3)\n"
               "  -P, --pipeline <n>     commands each caller keeps in flight (default 1)\n"
               "      --depth <n>        total commands in flight (instead of -c * -P)\n"
               "  -t, --tests <list>     comma-separated: get,set,ping (default set,get)\n"
               "      --op <GET|SET>     one test; prints the one-line harness format\n"
               "      --duration <secs>  run for a time instead of -n\n"
               "      --threads <n>      libjr: submit from n threads (default 0: resubmit\n"
               "                         from the completion callback on libjr's loop thread)\n"
               "      --client <impl>    libjr (default) or hiredis (async + libuv adapter)\n"
               "      --blocking         one caller, one command at a time (jr_client_call or\n"
               "                         hiredis redisCommandArgv)\n"
               "      --timeout-ms <n>   libjr per-command timeout (default: library default)\n"
               "      --jr-opt <k=v>     extra libjr option (jr_options_set), e.g.\n"
               "                         recv_buffer_size=16384; may be repeated\n"
               "      --cluster          the endpoint must be a Redis Cluster (libjr; detected\n"
               "                         without it): keys spread over all slots and masters\n"
               "      --keys <n>         cycle over n keys jrbench:{0..n-1} (default: 1 key,\n"
               "                         16384 on a cluster); GET keys are SET first\n"
               "      --stats            libjr: print its statistics after each test (stderr;\n"
               "                         Prometheus text and latency percentiles)\n"
               "      --csv              redis-benchmark 7 CSV output\n"
               "  -q, --quiet            one line per test\n"
               "      --help             this text\n");
}

std::string upper(std::string s) {
  for (char &ch : s) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
  return s;
}

int64_t parse_int(const std::string &opt, const std::string &v, int64_t lo) {
  char *end = nullptr;
  errno = 0;
  long long n = std::strtoll(v.c_str(), &end, 10);
  if (errno != 0 || end == v.c_str() || *end != '\0' || n < lo)
    die("bad value '%s' for %s", v.c_str(), opt.c_str());
  return n;
}

Config parse(int argc, char **argv) {
  Config cfg;
  for (int i = 1; i < argc; i++) {
    std::string a = argv[i];
    std::string val;
    bool has_inline = false;
    if (a.rfind("--", 0) == 0) {
      size_t eq = a.find('=');
      if (eq != std::string::npos) {
        val = a.substr(eq + 1);
        a = a.substr(0, eq);
        has_inline = true;
      }
    }
    auto need = [&]() -> std::string {
      if (has_inline) return val;
      if (i + 1 >= argc) die("option %s needs a value", a.c_str());
      return argv[++i];
    };
    if (a == "--help") {
      usage(stdout);
      std::exit(0);
    } else if (a == "-h" || a == "--host") {
      cfg.host = need();
    } else if (a == "-p" || a == "--port") {
      cfg.port = static_cast<int>(parse_int(a, need(), 1));
    } else if (a == "-s" || a == "--socket") {
      cfg.socket = need();
    } else if (a == "-a" || a == "--password") {
      cfg.password = need();
    } else if (a == "-c" || a == "--clients") {
      cfg.clients = static_cast<int>(parse_int(a, need(), 1));
    } else if (a == "-n" || a == "--requests") {
      cfg.requests = parse_int(a, need(), 0);
    } else if (a == "-d" || a == "--size") {
      cfg.size = static_cast<size_t>(parse_int(a, need(), 0));
    } else if (a == "-P" || a == "--pipeline") {
      cfg.pipeline = static_cast<int>(parse_int(a, need(), 1));
    } else if (a == "--depth") {
      cfg.depth = static_cast<int>(parse_int(a, need(), 1));
    } else if (a == "-t" || a == "--tests") {
      std::string list = need();
      cfg.tests.clear();
      size_t pos = 0;
      while (pos <= list.size()) {
        size_t comma = list.find(',', pos);
        if (comma == std::string::npos) comma = list.size();
        std::string t = upper(list.substr(pos, comma - pos));
        if (!t.empty()) cfg.tests.push_back(t);
        pos = comma + 1;
      }
    } else if (a == "--op") {
      cfg.tests = {upper(need())};
      cfg.line = true;
    } else if (a == "--duration") {
      char *end = nullptr;
      std::string v = need();
      cfg.duration = std::strtod(v.c_str(), &end);
      if (end == v.c_str() || *end != '\0' || cfg.duration < 0)
        die("bad --duration '%s'", v.c_str());
    } else if (a == "--threads") {
      cfg.threads = static_cast<int>(parse_int(a, need(), 0));
    } else if (a == "--client") {
      std::string v = need();
      if (v == "libjr" || v == "jr") {
        cfg.impl = Impl::kLibjr;
      } else if (v == "hiredis") {
        cfg.impl = Impl::kHiredis;
      } else {
        die("--client must be libjr or hiredis, not '%s'", v.c_str());
      }
    } else if (a == "--blocking") {
      cfg.blocking = true;
    } else if (a == "--timeout-ms") {
      cfg.timeout_ms = parse_int(a, need(), 0);
    } else if (a == "--jr-opt") {
      std::string v = need();
      size_t eq = v.find('=');
      if (eq == std::string::npos || eq == 0) die("--jr-opt wants key=value, not '%s'", v.c_str());
      cfg.jr_opts.emplace_back(v.substr(0, eq), v.substr(eq + 1));
    } else if (a == "--cluster") {
      cfg.cluster = true;
    } else if (a == "--keys") {
      cfg.keys = parse_int(a, need(), 1);
      if (cfg.keys > (int64_t{1} << 24)) die("--keys: at most 16777216");
    } else if (a == "--stats") {
      cfg.stats = true;
    } else if (a == "--csv") {
      cfg.csv = true;
    } else if (a == "-q" || a == "--quiet") {
      cfg.quiet = true;
    } else {
      usage(stderr);
      die("unknown option '%s'", a.c_str());
    }
  }
  if (cfg.tests.empty()) die("no tests selected");
  if (cfg.threads > 0 && cfg.depth == 0 && cfg.clients < cfg.threads)
    std::fprintf(stderr, "jr-benchmark: note: %d callers over %d threads leaves threads idle\n",
                 cfg.clients, cfg.threads);
  return cfg;
}

}  // namespace

int main(int argc, char **argv) {
  Config cfg = parse(argc, argv);
  bool csv_header = false;
  int status = 0;
  for (const std::string &op : cfg.tests) {
    Result r;
    if (cfg.blocking) {
      r = cfg.impl == Impl::kLibjr ? run_libjr_blocking(cfg, op) : run_hiredis_blocking(cfg, op);
    } else {
      r = cfg.impl == Impl::kLibjr ? run_libjr(cfg, op) : run_hiredis(cfg, op);
    }
    report(cfg, op, r, csv_header);
    if (r.errors > 0) status = 1;
  }
  return status;
}
