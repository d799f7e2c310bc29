// SPDX-License-Identifier: MIT
// The loop-thread core: commands, the connection state machine and the
// client that owns the libuv loop. Internal; nothing here crosses the ABI.
#ifndef JR_SRC_CORE_HPP
#define JR_SRC_CORE_HPP

#include <uv.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "encoder.hpp"
#include "jr/jr.h"
#include "options.hpp"
#include "platform.hpp"
#include "reply.hpp"
#include "saturate.hpp"
#include "tls.hpp"

namespace jr {

int64_t now_ms() noexcept;

enum class CmdState : uint8_t { kFree, kPending, kWritten, kDone };

enum CmdFlags : uint8_t {
  kFlagDirect = 1,       // complete on the loop thread even in poll mode (jr_client_call)
  kFlagBlocking = 2,     // runs on a dedicated pooled connection
  kFlagInternal = 4,     // sent by libjr itself (UNWATCH, ...)
  kFlagWatch = 8,        // the WATCH that starts a lease
  kFlagAsking = 16,      // cluster ASK: send ASKING first
  kFlagNoRedirect = 32,  // sent to a chosen node: do not follow MOVED/ASK
  // Part of an all-masters fan-out (its ROLE check or its command): its
  // node is its target. MOVED/ASK are followed; anything else (TRYAGAIN,
  // an unreachable node) goes back to the fan-out, which re-plans.
  kFlagMasterFanout = 64,
};

// What a command object carries through the inbox.
enum class Op : uint8_t {
  kCommand,       // a Redis command
  kWatchRelease,  // jr_watch_free: UNWATCH and return the lease's connection
  kSub,           // pub/sub request (obj: SubRequest)
  kMonitor,       // monitor request (obj: MonitorRequest)
  kDelivery,      // a message for a subscriber / monitor (completion only)
  kAllMasters,    // run on every cluster master
  kEndpoints,     // list the nodes
  kToNode,        // run on one chosen node (obj: std::string address)
  kSetAuth,       // new credentials for future connections (obj: Credentials)
  kTxFail,        // complete a transaction's queued callbacks (obj: TxFail)
};

struct Credentials {
  std::string username;
  std::string password;
};

struct Tx;
// jr_multi_discard and a failed jr_multi_exec: every queued callback of tx
// completes with `code`, on the loop (never inside the call).
struct TxFail {
  Tx *tx;
  int code;
};
struct Lease;
class Connection;

// One accepted command. Pooled: its buffer keeps its capacity across uses.
struct Command {
  Buffer wire;  // the RESP encoding
  jr_reply_cb cb = nullptr;
  void *userdata = nullptr;
  int db = 0;
  uint8_t flags = 0;
  int64_t deadline = 0;  // now_ms() based; 0 = none
  uint32_t index = 0;
  std::atomic<uint32_t> gen{0};
  std::atomic<CmdState> state{CmdState::kFree};
  // References: one for the completion, one while in a connection's FIFO.
  std::atomic<int> holds{0};
  int status = 0;             // poll mode: kept until dispatched
  jr_reply *reply = nullptr;  // poll mode: kept until dispatched
  Command *next = nullptr;    // intrusive link (inbox, waiting, completions)
  Op op = Op::kCommand;
  Tx *tx = nullptr;            // MULTI/EXEC payload (wire holds the whole block)
  Lease *lease = nullptr;      // runs on a leased (WATCH) connection
  void *obj = nullptr;         // payload of control ops
  Connection *conn = nullptr;  // where it was written (blocking cancel)
  // Script cache: wire holds EVALSHA, alt holds EVAL.
  Buffer alt;
  char sha[40];
  uint8_t script = 0;     // 0: not a script; 1: wire is EVALSHA; 2: EVAL sent
  uint8_t redirects = 0;  // cluster redirections and retries so far
  int64_t charged = 0;    // bytes counted against max_queued_bytes
  bool counted = false;   // counted against max_queued (user commands only)

  [[nodiscard]] jr_req_id id() const noexcept {
    return (static_cast<uint64_t>(gen.load(std::memory_order_relaxed)) << 32) | index;
  }
};

// Intrusive FIFO list of commands.
struct CmdList {
  Command *head = nullptr;
  Command *tail = nullptr;
  size_t size = 0;
  [[nodiscard]] bool empty() const noexcept { return head == nullptr; }
  void push_back(Command *c) noexcept {
    c->next = nullptr;
    if (tail != nullptr) {
      tail->next = c;
    } else {
      head = c;
    }
    tail = c;
    size++;
  }
  void push_front(Command *c) noexcept {
    c->next = head;
    head = c;
    if (tail == nullptr) tail = c;
    size++;
  }
  Command *pop_front() noexcept {
    Command *c = head;
    if (c == nullptr) return nullptr;
    head = c->next;
    if (head == nullptr) tail = nullptr;
    c->next = nullptr;
    size--;
    return c;
  }
  void append(CmdList &o) noexcept {
    if (o.head == nullptr) return;
    if (tail != nullptr) {
      tail->next = o.head;
    } else {
      head = o.head;
    }
    tail = o.tail;
    size += o.size;
    o.head = o.tail = nullptr;
    o.size = 0;
  }
  bool remove(Command *c) noexcept {
    Command *prev = nullptr;
    for (Command *it = head; it != nullptr; prev = it, it = it->next) {
      if (it != c) continue;
      if (prev != nullptr) {
        prev->next = it->next;
      } else {
        head = it->next;
      }
      if (tail == it) tail = prev;
      it->next = nullptr;
      size--;
      return true;
    }
    return false;
  }
};

// A growable ring buffer (std::deque allocates as it moves).
template <typename T>
class Ring {
 public:
  [[nodiscard]] bool empty() const noexcept { return size_ == 0; }
  [[nodiscard]] size_t size() const noexcept { return size_; }
  T &operator[](size_t i) noexcept { return buf_[(head_ + i) & (buf_.size() - 1)]; }
  T &front() noexcept { return buf_[head_]; }
  T &back() noexcept { return (*this)[size_ - 1]; }
  void push_back(const T &v) {
    if (size_ == buf_.size()) grow();
    buf_[(head_ + size_) & (buf_.size() - 1)] = v;
    size_++;
  }
  T pop_front() noexcept {
    T v = buf_[head_];
    head_ = (head_ + 1) & (buf_.size() - 1);
    size_--;
    return v;
  }
  T pop_back() noexcept {
    T v = back();
    size_--;
    return v;
  }

 private:
  void grow() {
    std::vector<T> nb(buf_.empty() ? 64 : buf_.size() * 2);
    for (size_t i = 0; i < size_; i++) nb[i] = (*this)[i];
    buf_.swap(nb);
    head_ = 0;
  }
  std::vector<T> buf_;
  size_t head_ = 0;
  size_t size_ = 0;
};

// Slab of commands with stable addresses, indexed for jr_cancel.
class CommandPool {
 public:
  CommandPool() { local_.reserve(kLocalMax); }
  ~CommandPool();
  // Any thread; loop: the caller is the loop thread, which keeps a private
  // free list (no lock per command on its own submits and completions).
  Command *acquire(bool loop) noexcept;  // nullptr on OOM
  void release(Command *c, bool loop) noexcept;
  Command *lookup(uint32_t index) const noexcept;

 private:
  static constexpr uint32_t kChunk = 256;
  static constexpr uint32_t kMaxChunks = 1u << 16;
  static constexpr size_t kLocalMax = 1024;
  std::vector<Command *> local_;  // the loop thread's
  std::mutex mu_;
  std::vector<Command *> free_;
  uint32_t nchunks_ = 0;
  std::unique_ptr<std::atomic<Command *>[]> chunks_ { new std::atomic<Command *>[ kMaxChunks ]() };
};

class Client;

// MULTI/EXEC: one command object carries the whole block; each queued
// command's callback is completed from the EXEC reply.
struct Tx {
  struct Item {
    jr_reply_cb cb;
    void *userdata;
  };
  std::vector<Item> items;
  std::vector<jr_reply *> queue_errors;  // per item: its error at queue time
  size_t seen = 0;                       // replies received so far
  bool malformed = false;                // MULTI not +OK, or a queued reply not +QUEUED / error
  bool watch = false;                    // a nil EXEC means a watched key changed
  jr_reply_cb exec_cb = nullptr;
  void *exec_userdata = nullptr;
  ~Tx();
};

// A dedicated pooled connection held by a WATCH handle.
class Pool;
struct Lease {
  Pool *pool = nullptr;  // where it asked for a connection
  Connection *conn = nullptr;
  CmdList pending;  // commands before the connection is granted
  bool requested = false;
  bool tracked = false;  // in Client::leases_ (freed with the client unless released)
  bool watched = false;
  uint64_t epoch = 0;  // connection epoch when WATCH was written
};

// Receives what a push-mode connection (pub/sub, MONITOR) reads.
class PushHandler {
 public:
  virtual ~PushHandler() = default;
  virtual void on_ready(Connection &conn) = 0;
  virtual void on_push(Connection &conn, jr_reply *reply) = 0;  // owns reply
  virtual void on_lost(Connection &conn) = 0;
  [[nodiscard]] virtual bool wants_connection(const Connection &conn) const = 0;
  // True while the server owes an answer (a subscribe confirmation, a pong,
  // MONITOR's +OK): the connection is replaced if none comes in time.
  [[nodiscard]] virtual bool awaiting_reply(const Connection &conn) const = 0;
};

class Pool;

// One multiplexed connection to one server (the first endpoint that
// answers), with its state machine. Loop thread only.
class Connection {
 public:
  enum class Role { kShared, kPooled, kPush };
  Connection(Client &client, std::vector<Endpoint> endpoints, Role role = Role::kShared);
  ~Connection();

  void submit(Command *c);  // route a new command
  // Push mode: writes a command with no reply expected in FIFO order.
  void write_raw(size_t argc, const char *const *argv, const size_t *lens);
  void connect_now();  // connect even with nothing queued (push mode)
  [[nodiscard]] bool ready_now() const noexcept { return state_ == State::kReady; }
  // Connected, connecting or waiting to reconnect.
  [[nodiscard]] bool active() const noexcept { return state_ != State::kIdle; }
  [[nodiscard]] uint64_t epoch() const noexcept { return epoch_; }
  // The endpoint in use (or the first one before a connection exists).
  [[nodiscard]] const Endpoint &endpoint() const noexcept {
    return endpoints_[ep_index_ < endpoints_.size() ? ep_index_ : 0];
  }
  [[nodiscard]] bool idle() const noexcept {
    return fifo_.empty() && waiting_.empty() && db_pending_.empty();
  }
  // Closes the socket: what is in flight fails with JR_ECONNLOST.
  void reset(const std::string &why) { lost(JR_ECONNLOST, why, false); }
  // The server sent what the protocol does not allow here (a push handler's
  // verdict): as reset(), what is in flight fails with JR_EPROTO.
  void protocol_error(const std::string &why) { lost(JR_EPROTO, why, false); }
  void set_push(PushHandler *h) noexcept { push_ = h; }
  Pool *pool = nullptr;              // kPooled: the pool it returns to
  bool cluster_node = false;         // a cluster node's shared connection
  bool readonly_session = false;     // send READONLY in the handshake (replica reads)
  std::vector<std::string> scripts;  // SHA1s this server has (sorted; EVALSHA cache)
  Lease *lease = nullptr;            // kPooled: the WATCH that holds it
  bool busy = false;                 // kPooled: given to a command or a lease
  void flush();                      // hand buffered bytes to the socket
  bool cancel(Command *c);           // unlink an unsent command; false if not here
  // Expires commands past `now`; returns the next deadline (0 = none).
  int64_t expire(int64_t now);
  // Shutdown: complete everything and close handles.
  void shutdown();
  [[nodiscard]] bool dirty() const noexcept { return has_output(); }
  // Enough is queued to be worth a write while replies are still being
  // read: a quarter of what is in flight here, at least 16 commands.
  [[nodiscard]] bool batch_ready() const noexcept {
    return unflushed_ >= std::max<size_t>(16, fifo_.size() / 4);
  }

 private:
  enum class State { kIdle, kConnecting, kTls, kHandshake, kReady };
  // kSession: the PING that proves a TLS session was accepted (any reply).
  enum class Kind : uint8_t { kCmd, kSelect, kProbe, kHandshake, kTx, kAsking, kSession };
  struct Entry {
    Command *cmd;
    Kind kind;
    int db;
  };
  struct Sock;

  void start_connect();
  void connect_endpoint();
  void connect_resolved(const struct sockaddr *addr);
  void attempt_failed(const std::string &detail);
  void on_connected();
  void ready();
  void handshake_failed(const std::string &detail, jr_reply *error_reply);
  // from_peer: the socket failed (not libjr closing it); before the session
  // is accepted that is a failed connect attempt.
  void lost(int head_code, const std::string &detail, bool from_peer = true);
  void close_sock();
  void write_command(Command *c);
  void write_internal(Kind kind, int db, size_t argc, const char *const *argv, const size_t *lens);
  [[nodiscard]] bool has_output() const noexcept { return !out_.empty() || !refs_.empty(); }
  // Drops what is queued and not yet handed to the socket (or to TLS).
  void output_reset() noexcept;
  bool tls_encrypt_slice();  // plaintext queue -> TLS session, a slice at a time
  void flush_gather();       // plain TCP with large commands: one writev
  void on_read(ssize_t nread, const char *data);
  void on_plain(const char *data, size_t len);
  void begin_session();
  bool send_tls();
  void on_reply(jr_reply *reply);
  void fail_waiting(int code, const jr_reply *detail = nullptr);
  void requeue_pending_db(int db);
  void fail_pending_db(int db, jr_reply *error_reply);
  void drop_fifo_hold(Command *c);
  void check_idle();
  void tx_reply(Entry &e, jr_reply *reply);
  bool cluster_node_redirect(Command *c, jr_reply *reply);

  static void on_connect_cb(uv_connect_t *req, int status);
  static void on_timer_cb(uv_timer_t *t);
  static void on_getaddrinfo_cb(uv_getaddrinfo_t *req, int status, struct addrinfo *res);
  static void on_alloc_cb(uv_handle_t *h, size_t suggested, uv_buf_t *buf);
  static void on_read_cb(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf);
  static void on_write_cb(uv_write_t *req, int status);
  static void on_sock_close_cb(uv_handle_t *h);

  Client &client_;
  std::vector<Endpoint> endpoints_;
  Role role_;
  PushHandler *push_ = nullptr;
  uint64_t epoch_ = 0;    // incremented on every successful handshake
  bool abandon_ = false;  // a blocking command was given up: close after this pass
  State state_ = State::kIdle;
  Sock *sock_ = nullptr;
  uv_getaddrinfo_t *resolving_ = nullptr;
  uv_timer_t timer_;  // connect timeout and retry backoff
  bool timer_is_backoff_ = false;
  size_t ep_index_ = 0;
  int cycle_ = 0;  // retry cycles over the endpoint list
  std::string endpoint_name_;
  std::string last_error_;
  // A write failed before the TLS session was accepted: the server's alert
  // (why it refused) is still to be read, and the read reports the failure.
  std::string tls_write_error_;

  ReplyReader reader_;
  std::unique_ptr<TlsSession> tls_;
  Ring<Entry> fifo_;
  size_t unflushed_ = 0;  // entries at the back whose bytes are still in out_
  size_t handshake_left_ = 0;
  CmdList waiting_;  // accepted, not written (not connected yet)
  // What is queued for the socket, in order. Small commands and libjr's own
  // are copied into out_ (one write for many); a large command is written
  // from its own buffer, with no second copy (max_queued_bytes counts its
  // bytes once, and they are the only copy): refs_ holds it (one hold each,
  // until the socket or TLS has its bytes), its bytes going after out_[0, at).
  struct Ref {
    Command *cmd;
    size_t at;
  };
  static constexpr size_t kRefMin = 16 * 1024;        // commands this large are not copied
  static constexpr size_t kCoalesceMax = 512 * 1024;  // out_ copies at most this much
  static constexpr size_t kTlsSlice = 256 * 1024;     // plaintext encrypted per TLS write
  Buffer out_;
  std::vector<Ref> refs_;
  // TLS encrypts the queue a slice at a time: what it has taken so far.
  size_t out_sent_ = 0;
  size_t ref_head_ = 0;             // refs_ before it are encrypted (and released)
  size_t ref_sent_ = 0;             // bytes of refs_[ref_head_] encrypted
  std::vector<uv_buf_t> iov_;       // flush_gather's scratch
  std::vector<Command *> iov_cmd_;  // per iov_ entry: its command on its last piece, or null
  int current_db_ = 0;              // -1: unknown (after a SELECT probe)
  // Database states (0 unknown, 1 probing, 2 valid): a map, so that a huge
  // database number costs nothing.
  std::unordered_map<int, uint8_t> db_state_;
  std::vector<std::pair<int, CmdList>> db_pending_;  // commands waiting for a probe
  int64_t last_read_ = 0;
  // uv_now() of the last read, or of the moment the connection started to
  // owe replies if that came later (the silence rule; see expire()).
  uint64_t heard_at_ = 0;
  int64_t ready_at_ = 0;
  int flaps_ = 0;  // connections lost soon after they were made, in a row
  [[nodiscard]] int64_t liveness_timeout() const noexcept;
  int64_t silent_until(int64_t now);
  void set_keepalive(int idle_s);
  void schedule_reconnect(bool was_ready);
  friend class Client;
};

// Dedicated connections for blocking commands and WATCH leases, at most
// max_connections, handed out FIFO.
class Pool {
 public:
  Pool(Client &client, std::vector<Endpoint> endpoints, int max)
      : client_(client), endpoints_(std::move(endpoints)), max_(max) {}
  void submit(Command *c);         // a blocking command
  void request(Lease *l);          // a lease wants a connection
  void release(Connection *conn);  // a connection is free again
  bool cancel(Command *c);
  void forget(Lease *l);  // a lease given up before it was granted
  int64_t expire(int64_t now);
  void shutdown();
  [[nodiscard]] size_t size() const noexcept { return conns_.size(); }

 private:
  struct Request {
    Command *cmd;
    Lease *lease;
  };
  Connection *take();
  void grant(Connection *conn, const Request &r);

  Client &client_;
  std::vector<Endpoint> endpoints_;
  int max_;
  std::vector<std::unique_ptr<Connection>> conns_;
  std::vector<Connection *> idle_;
  std::vector<Request> waiting_;
};

class SubManager;
class Monitor;
class Cluster;

class Client {
 public:
  static int create(const Options &opts, Client **out);
  int submit(int db, size_t argc, const char *const *argv, const size_t *argvlen,
             int64_t timeout_ms, jr_reply_cb cb, void *userdata, uint8_t flags, jr_req_id *id_out);
  int call(int db, size_t argc, const char *const *argv, const size_t *argvlen, int64_t timeout_ms,
           jr_reply **out);
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
  void complete(Command *c, int status, jr_reply *reply);
  void release_hold(Command *c) noexcept;
  void arm_deadline(int64_t deadline);
  void mark_dirty(Connection *conn);
  // A connection wrote requests (spin for their replies) / read something.
  void spin_after_write();
  void spin_hit();
  void emit(int event, const std::string &endpoint, const std::string &detail);
  // Queues a callback (subscriber messages, tx items) through the normal
  // completion path, so it runs in the dispatch mode's thread. Takes a
  // reference to reply's arena when reply is not NULL.
  void post(jr_reply_cb cb, void *userdata, int status, const jr_reply *reply, bool direct = false);
  // Script cache and NOSCRIPT retry. Returns true when the command was
  // re-sent (the reply is consumed).
  bool script_reply(Command *c, jr_reply *reply, Connection &conn);
  void lease_granted(Lease *l);
  Pool &pool() noexcept { return *pool_; }
  int submit_op(Command *c);  // hand a prepared command object to the loop
  Command *acquire_command() noexcept;
  void release_unsubmitted(Command *c) noexcept;
  std::vector<Endpoint> endpoints() const { return opts_.endpoints; }
  SubManager &subs() noexcept { return *subs_; }
  Cluster &cluster() noexcept { return *cluster_; }
  [[nodiscard]] const TlsContext *tls() const noexcept { return tls_.get(); }
  Connection &seed() noexcept { return *conn_; }
  // Accounts for a command libjr makes itself (fan-out children, probes).
  void start_internal(Command *c) noexcept;
  // Routes a command past the cluster detection step.
  void reroute(Command *c);
  char *read_buffer() noexcept { return read_buf_.data(); }
  [[nodiscard]] size_t read_buffer_size() const noexcept { return read_buf_.size(); }

 private:
  explicit Client(const Options &opts);
  ~Client();
  int start();
  void run();
  void route(Command *c);
  // may_hold: a new request (cluster calls wait for the detection); false
  // when the detection released it (holding it again looped forever).
  void route_op(Command *c, bool may_hold);
  void track_lease(Lease *l);
  void do_cancel(jr_req_id id);
  void shutdown_loop();
  void flush_completions();
  void deliver(Command *c) noexcept;
  void run_deferred();
  void finished_one() noexcept;

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
  uint32_t loop_spin_misses_ = 0;
  uint32_t loop_spin_writes_ = 0;
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
  std::unique_ptr<TlsContext> tls_;
  std::vector<std::unique_ptr<Monitor>> monitors_;
  std::vector<Lease *> leases_;  // WATCH leases the loop has seen and not released
  std::vector<Connection *> dirty_;
  std::vector<Connection *> flushing_;  // flush_all's batch (dirty_ takes new ones)
  std::vector<Connection *> ready_;     // flush_ready's batch

  CommandPool cmds_;
  std::atomic<bool> closing_{false};
  std::atomic<bool> known_cluster_{false};
  std::atomic<int64_t> queued_{0};        // accepted and not yet released (max_queued)
  std::atomic<int64_t> queued_bytes_{0};  // their encoded size (max_queued_bytes)

  std::mutex inbox_mu_;
  CmdList inbox_;
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

}  // namespace jr

#endif  // JR_SRC_CORE_HPP
