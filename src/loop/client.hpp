// SPDX-License-Identifier: MIT
// The client: the libuv loop thread that owns every socket, the inbox that
// feeds it, completions (loop or poll mode), deadlines and blocking calls.
// Internal; nothing here crosses the ABI.
#ifndef JR_SRC_LOOP_CLIENT_HPP
#define JR_SRC_LOOP_CLIENT_HPP

#include <uv.h>

#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "command.hpp"
#include "conn/connection.hpp"
#include "conn/tls.hpp"
#include "jr/jr.h"
#include "loop/task.hpp"
#include "options.hpp"
#include "platform.hpp"
#include "pool.hpp"
#include "stats.hpp"

namespace jr {

struct Lease;
class SubManager;
class Monitor;
class Cluster;
class Sentinel;
class ClientCache;
class Tracking;

class Client {
 public:
  static int create(const Options &opts, Client **out);
  // hit_out (jr_client_call): a client-side cache hit is returned there at
  // once (JR_OK), without a command.
  int submit(int db, size_t argc, const char *const *argv, const size_t *argvlen,
             int64_t timeout_ms, jr_reply_cb cb, void *userdata, uint8_t flags, jr_req_id *id_out,
             jr_reply **hit_out = nullptr);
  int call(int db, size_t argc, const char *const *argv, const size_t *argvlen, int64_t timeout_ms,
           jr_reply **out);
  // jr_client_submit_many: n submits, in order, that wake the loop thread
  // once, after the last (while it runs, this thread's enqueue() defers its
  // wake-up). rcs[i] gets each one's code; returns how many were accepted.
  int submit_many(int db, size_t n, const size_t *argcs, const char *const *const *argvs,
                  const size_t *const *argvlens, int64_t timeout_ms, jr_reply_cb cb,
                  void *const *userdatas, int *rcs, jr_req_id *ids);
  int cancel(jr_req_id id);
  int drain(int64_t timeout_ms);
  int destroy();
  [[nodiscard]] int fd() const noexcept { return wakeup_.fd(); }
  size_t dispatch(size_t max);
  // Relaxed: only the loop thread's own store can make it true.
  [[nodiscard]] bool on_loop_thread() const noexcept {
    return std::this_thread::get_id() == loop_tid_.load(std::memory_order_relaxed);
  }
  static void run_started(void *client);
  // jr_error_detail (this thread's).
  static const char *error_detail() noexcept;
  // Loop thread: makes `detail` the detail of the failures completed until
  // it is swapped back (commands that have none of their own inherit it);
  // returns the one it replaces. For failures found away from a
  // connection (Sentinel's discovery).
  static const char *swap_detail(const char *detail) noexcept;
  [[nodiscard]] bool in_callback() const noexcept;
  [[nodiscard]] bool forked() const noexcept;
  // A command of `encoded` bytes is over max_queued_bytes on its own: it
  // could never be accepted (JR_EFULL), so it is refused before it is copied.
  [[nodiscard]] bool over_byte_limit(size_t encoded) const noexcept {
    return encoded > static_cast<uint64_t>(opts_.max_queued_bytes);
  }
  // Any thread: the server is known to be a Redis Cluster (set once by the
  // detection, never cleared). A cluster has only database 0.
  [[nodiscard]] bool known_cluster() const noexcept {
    return known_cluster_.load(std::memory_order_acquire);
  }
  void set_known_cluster() noexcept { known_cluster_.store(true, std::memory_order_release); }

  // ---- loop thread ----
  [[nodiscard]] const Options &opts() const noexcept { return opts_; }
  uv_loop_t *loop() noexcept { return &loop_; }
  // from: the connection that completes it (statistics, the trace hook).
  void complete(Command *c, int status, jr_reply *reply, const Connection *from = nullptr);
  void release_hold(Command *c) noexcept;
  void arm_deadline(int64_t deadline);
  void mark_dirty(Connection *conn);
  // A connection wrote requests (spin for their replies) / read something.
  void spin_after_write();
  void spin_hit();
  // A read left its connection owing nothing: poll for the next command.
  void spin_for_submit();
  void spin_submit_hit();  // commands arrived while polling for them
  // An event for the event callback and the log hook (role: the
  // connection's, for the log line).
  void emit(int event, const std::string &endpoint, const std::string &detail,
            const char *role = nullptr, int level = 0);
  // A line for the log hook only (a state change the event callback never
  // saw); the caller builds the text only when log_on().
  [[nodiscard]] bool log_on() const noexcept { return opts_.log_cb != nullptr; }
  void log(int level, int event, const std::string &endpoint, const std::string &text);
  // Statistics: counters the loop thread writes and any thread reads.
  Stats &stats() noexcept { return stats_; }
  [[nodiscard]] const Stats &stats() const noexcept { return stats_; }
  [[nodiscard]] uint64_t queued_now() const noexcept {
    int64_t q = queued_.load(std::memory_order_relaxed);
    return q > 0 ? static_cast<uint64_t>(q) : 0;
  }
  // The time of the read being processed (completions during it share it),
  // or 0 outside a read.
  void set_read_time(int64_t ns) noexcept { read_ns_ = ns; }
  // Queues a callback (subscriber messages, tx items) through the normal
  // completion path, so it runs in the dispatch mode's thread. Takes a
  // reference to reply's arena when reply is not NULL.
  void post(jr_reply_cb cb, void *userdata, int status, const jr_reply *reply, bool direct = false);
  void lease_granted(Lease *l);
  Pool &pool() noexcept { return *pool_; }
  // Hands a prepared request to the loop (accounting, then the inbox).
  // With `carrier`, the loop gets the carrier task instead, which owns c
  // (a cluster call: planned by the task, then sent as c). On an error c
  // is released and the carrier destroyed.
  int submit_op(Command *c);
  int submit_op(Command *c, std::unique_ptr<Task> carrier);
  // Hands a control task to the loop, in order with the requests this
  // thread submitted before it. True: the loop owns it now. False (the
  // client is closing, or used after fork): the caller still owns it.
  bool submit_task(Task *t);
  Command *acquire_command() noexcept;
  void release_unsubmitted(Command *c) noexcept;
  std::vector<Endpoint> endpoints() const { return opts_.endpoints; }
  SubManager &subs() noexcept { return *subs_; }
  Cluster &cluster() noexcept { return *cluster_; }
  Sentinel &sentinel() noexcept { return *sentinel_; }
  // Client-side caching (client_cache_bytes > 0), else nullptr. The cache
  // is thread-safe; the tracking is the loop thread's.
  ClientCache *cache() const noexcept { return cache_.get(); }
  Tracking *tracking() noexcept { return tracking_.get(); }
  // The cluster detection is done (Cluster::release_held).
  void detection_done();
  // A command's fill token or carried hit, when it will not complete
  // normally (release_unsubmitted, a hit still in the inbox at shutdown).
  void drop_cached(Command *c) noexcept;
  // Sentinel: the master is at ep now; every connection to it follows
  // (shared, pooled, subscriptions, MONITOR).
  void follow_master(const Endpoint &ep);
  [[nodiscard]] const TlsContext *tls() const noexcept { return tls_.get(); }
  Connection &seed() noexcept { return *conn_; }
  // Accounts for a command libjr makes itself (fan-out children, probes).
  void start_internal(Command *c) noexcept;
  // Routes a request or a task past the cluster detection step.
  void reroute(Queued *q);
  // A task the loop will not run normally (see Task::fail); deletes it.
  void fail_task(Task *t, int status, const jr_reply *detail);
  // Control tasks' effects (loop thread).
  void release_lease(Lease *l);  // jr_watch_free (tx.cpp)
  void track_lease(Lease *l);
  void add_monitor(Monitor *m);
  void set_credentials(const std::string &username, const std::string &password);
  char *read_buffer() noexcept { return read_buf_.data(); }
  [[nodiscard]] size_t read_buffer_size() const noexcept { return read_buf_.size(); }

 private:
  explicit Client(const Options &opts);
  ~Client();
  int start(std::string &why);  // why: what refused the options
  void run();
  int admit(Command *c, Task *carrier);
  int enqueue(Queued *q);
  void route(Queued *q);
  // may_hold: a new task (it may wait for the detection, Task::order);
  // false when the detection released it (holding it again looped forever).
  void route_task(Task *t, bool may_hold);
  void do_cancel(jr_req_id id);
  void shutdown_loop();
  void flush_completions();
  void deliver(Command *c) noexcept;
  void run_deferred();
  void finished_one() noexcept;
  void uncharge(Command *c) noexcept;
  void account(Command *c, int status, const jr_reply *reply, const Connection *from);
  // Out of line (cold): the common completion saves no registers for them.
  [[gnu::cold, gnu::noinline]] void account_error(int status, EndpointStats *ep) noexcept;
  [[gnu::noinline]] void trace(Command *c, int status, const jr_reply *reply,
                               const Connection *from, int64_t now);
  [[gnu::cold, gnu::noinline]] static void inherit_detail(Command *c) noexcept;

  static void on_async_cb(uv_async_t *a);
  static void on_check_cb(uv_check_t *c);
  static void on_prepare_cb(uv_prepare_t *p);

 public:
  void flush_all();
  // While replies are read: writes the connections whose batch_ready(), and
  // the completions (poll mode); the others wait for the end of the read.
  void flush_ready();

 private:
  static void on_deadline_cb(uv_timer_t *t);

  Options opts_;
  unsigned fork_generation_ = 0;
  uv_loop_t loop_;
  uv_async_t async_;
  uv_check_t check_;
  uv_prepare_t prepare_;
  uv_idle_t spin_;  // active while the loop thread spins for replies
  bool spinning_ = false;
  int64_t spin_until_ = 0;
  // A kind of window's back-off: after 4 in a row that saw nothing, only
  // every 32nd chance opens one.
  struct SpinGate {
    uint32_t misses = 0;
    uint32_t tries = 0;
    bool skip() noexcept { return misses >= 4 && (tries++ & 31) != 0; }
    void miss() noexcept {
      if (misses < 4) misses++;
    }
  };
  SpinGate write_gate_;  // windows for the replies, after a write
  // The spin goes on after the replies, for the caller's next command.
  bool spin_for_submit_ = false;
  SpinGate submit_gate_;      // windows for the next command, after a read
  bool direct_done_ = false;  // this read completed a jr_client_call
  bool start_spin(bool for_submit);
  void stop_spin();
  uv_timer_t deadline_timer_;
  int64_t next_deadline_ = 0;
  std::thread thread_;
  std::atomic<std::thread::id> loop_tid_{};
  // With a thread starter: set when the loop, on its borrowed thread, has
  // returned (destroy waits for it instead of joining).
  std::mutex run_mu_;
  std::condition_variable run_cv_;
  bool run_done_ = false;
  std::vector<char> read_buf_;
  std::unique_ptr<Connection> conn_;
  std::unique_ptr<Pool> pool_;
  std::unique_ptr<SubManager> subs_;
  std::unique_ptr<Cluster> cluster_;
  std::unique_ptr<Sentinel> sentinel_;
  std::unique_ptr<ClientCache> cache_;
  std::unique_ptr<Tracking> tracking_;
  std::unique_ptr<TlsContext> tls_;
  std::vector<std::unique_ptr<Monitor>> monitors_;
  std::vector<Lease *> leases_;  // WATCH leases the loop has seen and not released
  std::vector<Connection *> dirty_;
  std::vector<Connection *> flushing_;  // flush_all's batch (dirty_ takes new ones)
  std::vector<Connection *> ready_;     // flush_ready's batch

  // Back to the pools: the command, and its script call if it has one.
  void recycle(Command *c) noexcept;
  Stats stats_;
  int64_t read_ns_ = 0;
  CommandPool cmds_;
  ScriptCallPool script_calls_;  // EVAL requests' extensions
  std::atomic<bool> closing_{false};
  std::atomic<bool> known_cluster_{false};
  std::atomic<int64_t> queued_{0};        // accepted and not yet released (max_queued)
  std::atomic<int64_t> queued_bytes_{0};  // their encoded size (max_queued_bytes)

  std::mutex inbox_mu_;
  Inbox inbox_;  // requests and tasks, in submission order
  std::vector<jr_req_id> cancels_;
  bool stop_ = false;

  // Blocking calls (Client::call): spins in a row that ended in a sleep
  // (at 4, only every 32nd call spins).
  std::atomic<uint32_t> spin_misses_{0};
  int max_spinners_ = 0;  // half the CPUs the creating thread may run on
  std::atomic<uint32_t> calls_{0};

  std::mutex drain_mu_;
  std::condition_variable drain_cv_;
  std::atomic<int64_t> unfinished_{0};  // accepted and not yet completed
  std::atomic<bool> draining_{false};

  // Poll mode.
  platform::Wakeup wakeup_;  // readable while cq_ is not empty (no ready hook)
  CmdList local_done_;       // loop thread: completions not yet published
  // Loop thread: completions made while a libjr callback ran (an API call
  // from it: a cancel, a refused all-masters, a submit that failed at
  // once). They run after that callback returns, in completion order, so
  // a callback never runs inside the call that caused it.
  CmdList deferred_;
  size_t ran_unhooked_ = 0;  // loop mode: callbacks run since the ready hook last did
  std::mutex cq_mu_;
  CmdList cq_;
  std::mutex dispatch_mu_;
};

// jr_client_set_auth: credentials for the connections made from now on.
struct SetAuth final : Task {
  SetAuth(std::string u, std::string p) : username(std::move(u)), password(std::move(p)) {}
  void run(Client &client) override { client.set_credentials(username, password); }
  std::string username;
  std::string password;
};

}  // namespace jr

#endif  // JR_SRC_LOOP_CLIENT_HPP
