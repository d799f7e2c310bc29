// SPDX-License-Identifier: MIT
// One multiplexed connection to one server: connect (with retry and
// backoff), TLS, handshake, SELECT tracking, pipelined writes and FIFO reply
// matching. Loop thread only.
#ifndef JR_SRC_CONN_CONNECTION_HPP
#define JR_SRC_CONN_CONNECTION_HPP

#include <uv.h>

#include <algorithm>
#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "command.hpp"
#include "conn/session.hpp"
#include "conn/tls.hpp"
#include "jr/jr.h"
#include "options.hpp"
#include "resp/encoder.hpp"
#include "resp/reply.hpp"
#include "scripts.hpp"
#include "stats.hpp"

namespace jr {

class Client;
class Pool;
struct Lease;

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

// One multiplexed connection to one server (the first endpoint that
// answers): the transport (socket, TLS, connect and backoff, timers) of a
// Session (conn/session.hpp), which holds the protocol state machine and
// hands its completions, pushes and verdicts back through SessionHost.
// Loop thread only.
class Connection final : public SessionHost {
 public:
  enum class Role { kShared, kPooled, kPush };
  Connection(Client &client, std::vector<Endpoint> endpoints, Role role = Role::kShared);
  ~Connection() override;

  void submit(Command *c);  // route a new command
  // Push mode: writes a command with no reply expected in FIFO order.
  void write_raw(size_t argc, const char *const *argv, const size_t *lens);
  void connect_now();  // connect even with nothing queued (push mode)
  [[nodiscard]] bool ready_now() const noexcept { return state_ == State::kReady; }
  // Connected, connecting or waiting to reconnect.
  [[nodiscard]] bool active() const noexcept { return state_ != State::kIdle; }
  [[nodiscard]] uint64_t epoch() const noexcept { return session_.epoch(); }
  // The endpoint in use (or the first one before a connection exists).
  [[nodiscard]] const Endpoint &endpoint() const noexcept {
    return endpoints_[ep_index_ < endpoints_.size() ? ep_index_ : 0];
  }
  [[nodiscard]] const std::string &endpoint_name() const noexcept { return endpoint_name_; }
  [[nodiscard]] bool idle() const noexcept { return session_.idle(); }
  // The endpoint's statistics (nullptr before the first connect attempt).
  [[nodiscard]] EndpointStats *ep_stats() const noexcept { return ep_stats_; }
  // Closes the socket: what is in flight fails with JR_ECONNLOST.
  void reset(const std::string &why) { lost(JR_ECONNLOST, why, false); }
  // The server sent what the protocol does not allow here (a push handler's
  // verdict): as reset(), what is in flight fails with JR_EPROTO.
  void protocol_error(const std::string &why) { lost(JR_EPROTO, why, false); }
  void set_push(PushHandler *h) noexcept {
    push_ = h;
    session_.set_push(h != nullptr);
  }
  Pool *pool = nullptr;           // kPooled: the pool it returns to
  bool cluster_node = false;      // a cluster node's shared connection
  bool readonly_session = false;  // send READONLY in the handshake (replica reads)
  bool sentinel_replica = false;  // Sentinel: a replica's connection (read_from_replicas)
  ScriptCache scripts;            // the scripts this server has (EVALSHA cache)
  Lease *lease = nullptr;         // kPooled: the WATCH that holds it
  bool busy = false;              // kPooled: given to a command or a lease
  bool cache_data = false;        // client-side caching tracks this one (tracking.hpp)
  bool cache_node = false;        // a cluster node's connection tracked per node
  // The server tracks the keys this connection reads (CLIENT TRACKING
  // answered +OK in this session): only a read sent while it holds may fill
  // the cache (Connection::submit drops the fill token of any other).
  bool cache_tracked = false;
  bool cache_replica = false;  // a cluster replica: its reads never fill
  // Options of this connection instead of the client's (a sentinel's
  // connections: their own credentials, no connect commands). Must outlive it.
  void set_options(const Options *o) noexcept;
  [[nodiscard]] const Options &opts() const noexcept;
  // New endpoints (Sentinel: the master moved). A connection to an endpoint
  // still in the list stays; any other is closed (what it wrote fails with
  // JR_ECONNLOST, what waits goes to the new endpoints) and the script
  // cache starts empty.
  void set_endpoints(std::vector<Endpoint> eps);
  void flush();             // hand buffered bytes to the socket
  bool cancel(Command *c);  // unlink an unsent command; false if not here
  // Expires commands past `now`; returns the next deadline (0 = none).
  int64_t expire(int64_t now);
  // Shutdown: complete everything and close handles.
  void shutdown();
  [[nodiscard]] bool dirty() const noexcept { return has_output(); }
  // Enough is queued to be worth a write while replies are still being
  // read: a quarter of what is in flight here, at least 16 commands.
  [[nodiscard]] bool batch_ready() const noexcept { return session_.batch_ready(); }

 private:
  enum class State { kIdle, kConnecting, kTls, kHandshake, kReady };
  struct Sock;

  // SessionHost: what the session hands out.
  void complete(Command *c, int status, jr_reply *reply) override;
  void release_hold(Command *c) noexcept override;
  void output_pending() override;
  int64_t now() override;
  void tick_at(int64_t at) override;
  bool redirect(Command *c, jr_reply *reply) override;
  bool script_reply(Command *c, jr_reply *reply) override;
  void before_script_write(Command *c) override;
  void push(jr_reply *reply) override;
  void batch() override;
  void ready() override;
  void handshake_failed(const std::string &text, jr_reply *error_reply) override;
  void not_master(const std::string &detail) override;
  void fail(int code, const std::string &detail) override;
  void log(const std::string &text) override;
  void drained() override;

  void start_connect();
  void connect_endpoint();
  void connect_resolved(const struct sockaddr *addr);
  void attempt_failed(const std::string &detail);
  void on_connected();
  // from_peer: the socket failed (not libjr closing it); before the session
  // is accepted that is a failed connect attempt.
  void lost(int head_code, const std::string &detail, bool from_peer = true);
  void close_sock();
  std::string drop_handshake(const std::string &text);
  [[nodiscard]] bool has_output() const noexcept { return session_.has_output(); }
  // Drops what is queued and not yet handed to the socket (or to TLS).
  void output_reset() noexcept;
  bool tls_encrypt_slice();  // plaintext queue -> TLS session, a slice at a time
  void write_plain();        // plain TCP: one writev (output and large commands)
  void on_read(ssize_t nread, const char *data);
  void on_plain(const char *data, size_t len);
  void begin_session();
  bool send_tls();
  void fail_waiting(int code, const jr_reply *detail = nullptr) {
    session_.fail_waiting(code, detail);
  }
  void check_idle();

  static void on_connect_cb(uv_connect_t *req, int status);
  static void on_timer_cb(uv_timer_t *t);
  static void on_getaddrinfo_cb(uv_getaddrinfo_t *req, int status, struct addrinfo *res);
  static void on_alloc_cb(uv_handle_t *h, size_t suggested, uv_buf_t *buf);
  static void on_read_cb(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf);
  static void on_write_cb(uv_write_t *req, int status);
  static void on_sock_close_cb(uv_handle_t *h);

  Client &client_;
  const Options *opts_override_ = nullptr;
  std::vector<Endpoint> endpoints_;
  Role role_;
  PushHandler *push_ = nullptr;
  State state_ = State::kIdle;
  Sock *sock_ = nullptr;
  uv_getaddrinfo_t *resolving_ = nullptr;
  uv_timer_t timer_;  // connect timeout and retry backoff
  bool timer_is_backoff_ = false;
  size_t ep_index_ = 0;
  int cycle_ = 0;  // retry cycles over the endpoint list
  std::string endpoint_name_;
  std::string last_error_;
  // While a failure completes commands: the detail they carry
  // (jr_error_detail): the endpoint and the cause.
  const std::string *failing_ = nullptr;
  // Completes what waits with code, each carrying `detail`.
  void fail_waiting_with(int code, const std::string &detail, const jr_reply *reply = nullptr);
  [[gnu::cold, gnu::noinline]] void set_detail(Command *c);
  EndpointStats *ep_stats_ = nullptr;
  [[nodiscard]] const char *role_name() const noexcept;
  void went_down() noexcept;  // a ready connection is closed or lost
  // A write failed before the TLS session was accepted: the server's alert
  // (why it refused) is still to be read, and the read reports the failure.
  std::string tls_write_error_;

  Session session_;
  std::unique_ptr<TlsSession> tls_;
  static constexpr size_t kTlsSlice = 256 * 1024;  // plaintext encrypted per TLS write
  // TLS encrypts the session's output a slice at a time: what it has taken
  // so far.
  size_t out_sent_ = 0;
  size_t ref_head_ = 0;             // refs() before it are encrypted (and released)
  size_t ref_sent_ = 0;             // bytes of refs()[ref_head_] encrypted
  std::vector<uv_buf_t> iov_;       // write_plain's scratch
  std::vector<Command *> iov_cmd_;  // per iov_ entry: its command on its last piece, or null
  int64_t ready_at_ = 0;
  int flaps_ = 0;  // connections lost soon after they were made, in a row
  void set_keepalive(int idle_s);
  void schedule_reconnect(bool was_ready);
  bool to_sentinel();
  // Sentinel: a connection to the master (the shared one, pooled ones,
  // subscriptions), not a sentinel's, a probe's or a replica's.
  [[nodiscard]] bool sentinel_master() const noexcept;
  // Sentinel: a replica connection is down; what waits goes to the master.
  void replica_down();
  friend class Client;
};

}  // namespace jr

#endif  // JR_SRC_CONN_CONNECTION_HPP
