// SPDX-License-Identifier: MIT
// The connection state machine: connect (with retry and backoff), handshake
// (AUTH, CLIENT SETNAME, connect commands), SELECT tracking, pipelined
// writes, FIFO reply matching, timeouts and loss handling.
#include "conn/connection.hpp"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <algorithm>
#include <cstring>
#include <string>
#include <string_view>

#include "cluster/cluster.hpp"
#include "interpret.hpp"
#include "loop/client.hpp"
#include "pool.hpp"
#include "sentinel.hpp"
#include "tracking.hpp"
#include "tx.hpp"

namespace jr {

struct Connection::Sock {
  union {
    uv_tcp_t tcp;
    uv_pipe_t pipe;
  } h;
  Connection *owner = nullptr;
  Client *client = nullptr;
  uv_connect_t creq;
  uv_write_t wreq;
  Buffer writing;
  // Commands whose own buffers the active write reads: one hold each,
  // released when it completes (or is cancelled by the close).
  std::vector<Command *> held;
  bool write_active = false;
  uv_stream_t *stream() noexcept { return reinterpret_cast<uv_stream_t *>(&h); }
  uv_handle_t *handle() noexcept { return reinterpret_cast<uv_handle_t *>(&h); }
};

namespace {
std::string uv_text(int err) {
  return std::string(uv_err_name(err)) + ": " + uv_strerror(err);
}
}  // namespace

Connection::Connection(Client &client, std::vector<Endpoint> endpoints, Role role)
    : client_(client),
      endpoints_(std::move(endpoints)),
      role_(role),
      session_(*this, client.opts().limits) {
  uv_timer_init(client.loop(), &timer_);
  timer_.data = this;
  session_.set_owner(this);
  session_.set_liveness(Session::liveness_of(client.opts()));
  session_.set_stamp_writes(client.opts().trace_cb != nullptr);
}

Connection::~Connection() {
  if (state_ == State::kReady) went_down();
}

const char *Connection::role_name() const noexcept {
  switch (role_) {
    case Role::kShared:
      return cluster_node ? "cluster node" : "shared";
    case Role::kPooled:
      return "pooled";
    case Role::kPush:
      return "push";
  }
  return "";
}

void Connection::went_down() noexcept {
  if (ep_stats_ == nullptr) return;
  ep_stats_->disconnects.add();
  ep_stats_->connections.sub();
}

void Connection::set_options(const Options *o) noexcept {
  opts_override_ = o;
  session_.set_liveness(Session::liveness_of(opts()));
}

const Options &Connection::opts() const noexcept {
  return opts_override_ != nullptr ? *opts_override_ : client_.opts();
}

void Connection::set_endpoints(std::vector<Endpoint> eps) {
  if (eps.empty()) return;
  size_t keep = eps.size();
  if (state_ != State::kIdle && ep_index_ < endpoints_.size()) {
    std::string cur = endpoints_[ep_index_].display();
    for (size_t i = 0; i < eps.size() && keep == eps.size(); i++)
      if (eps[i].display() == cur) keep = i;
  }
  endpoints_ = std::move(eps);
  if (keep < endpoints_.size()) {  // connected (or connecting) to one still listed
    ep_index_ = keep;
    return;
  }
  ep_index_ = 0;
  cycle_ = 0;
  flaps_ = 0;
  scripts = ScriptCache();
  switch (state_) {
    case State::kIdle:
      return;  // the next command connects to the new endpoints
    case State::kReady:
      // Written commands fail (they may have run on the old server);
      // unsent ones wait for the reconnect to the new one.
      lost(JR_ECONNLOST, "moved to " + endpoints_[0].display(), false);
      if (state_ == State::kConnecting && timer_is_backoff_) {
        uv_timer_stop(&timer_);
        start_connect();
      }
      return;
    default:
      // Connecting, TLS or handshake: nothing but the handshake was written.
      close_sock();
      uv_timer_stop(&timer_);
      output_reset();
      session_.abort();
      start_connect();
      return;
  }
}

// ---- Routing and writing ------------------------------------------------------

void Connection::submit(Command *c) {
  if (role_ == Role::kPooled) busy = true;
  // Client-side caching: a read sent where the server does not track it
  // (not yet, or a replica) must not fill the cache.
  if (c->fill != nullptr && (!cache_tracked || cache_replica)) [[unlikely]]
    client_.drop_cached(c);
  if (state_ == State::kReady) {
    session_.write_command(c);  // the session is ready too
    return;
  }
  session_.submit(c);  // waits for the session
  if (state_ == State::kIdle) start_connect();
}

void Connection::write_raw(size_t argc, const char *const *argv, const size_t *lens) {
  if (state_ != State::kReady) return;  // on_ready re-sends everything
  session_.write_raw(argc, argv, lens);
}

void Connection::connect_now() {
  if (state_ == State::kIdle) start_connect();
}

// ---- SessionHost: what the session hands out ------------------------------------

void Connection::complete(Command *c, int status, jr_reply *reply) {
  if (failing_ != nullptr && status < 0) [[unlikely]]
    set_detail(c);
  client_.complete(c, status, reply, this);
}

// Out of line: the common path's complete() stays a tail call.
void Connection::set_detail(Command *c) {
  try {
    c->detail = *failing_;
  } catch (...) {  // out of memory: no detail
  }
}

void Connection::release_hold(Command *c) noexcept {
  client_.release_hold(c);
}

void Connection::output_pending() {
  client_.mark_dirty(this);
}

int64_t Connection::now() {
  return now_ms();
}

void Connection::tick_at(int64_t at) {
  client_.arm_deadline(at);
}

bool Connection::redirect(Command *c, jr_reply *reply) {
  // Sentinel: a READONLY answer means this master was demoted.
  if (sentinel_master()) return client_.sentinel().readonly_reply(*this, c, reply);
  if ((c->flags & kFlagNoRedirect) != 0 || !client_.cluster().enabled()) return false;
  bool moved = (reply->len >= 6 && std::memcmp(reply->u.str, "MOVED ", 6) == 0) ||
               (reply->len >= 4 && std::memcmp(reply->u.str, "ASK ", 4) == 0);
  bool taken = client_.cluster().redirect(c, reply, endpoint().host);
  if (taken && moved && ep_stats_ != nullptr) ep_stats_->redirects.add();
  return taken;
}

bool Connection::script_reply(Command *c, jr_reply *reply) {
  if (!scripts.on_reply(c, reply)) return false;
  submit(c);  // NOSCRIPT: the EVAL itself, once
  return true;
}

void Connection::before_script_write(Command *c) {
  scripts.before_write(c);
}

void Connection::push(jr_reply *reply) {
  if (push_ != nullptr) {
    push_->on_push(*this, reply);
    return;
  }
  // A RESP3 push on a command connection (subscriptions live on their own
  // RESP2 connection): client-side caching's invalidations; anything else
  // never reaches the FIFO, and is said as a log event.
  if ((cache_data || cache_node) && client_.tracking()->data_push(*this, reply)) return;
  const jr_reply *kind = reply->len > 0 ? reply->u.elements[0] : nullptr;
  std::string name = kind != nullptr && kind->type == JR_REPLY_STRING
                         ? std::string(kind->u.str, kind->len)
                         : std::string("?");
  reply_release(reply);
  client_.emit(JR_EVENT_LOG, endpoint_name_, "RESP3 push ignored: " + name);
}

void Connection::batch() {
  client_.flush_ready();
}

// A malformed stream or a failed SELECT: like a failure of the socket (before
// the session is accepted, a failed connect attempt).
void Connection::fail(int code, const std::string &detail) {
  lost(code, detail);
}

void Connection::log(const std::string &text) {
  client_.emit(JR_EVENT_LOG, endpoint_name_, text);
}

void Connection::drained() {
  check_idle();
}

void Connection::output_reset() noexcept {
  session_.output_reset(ref_head_);
  out_sent_ = 0;
  ref_head_ = 0;
  ref_sent_ = 0;
}

bool Connection::send_tls() {
  if (sock_ == nullptr || sock_->write_active || !tls_->pending()) return true;
  if (!tls_write_error_.empty()) return true;  // waiting for the read to say why
  sock_->writing.clear();
  if (!tls_->drain(sock_->writing)) return false;
  uv_buf_t buf = uv_buf_init(sock_->writing.data(), static_cast<unsigned>(sock_->writing.size()));
  ep_stats_->bytes_written.add(sock_->writing.size());
  sock_->write_active = true;
  sock_->wreq.data = sock_;
  int rc = uv_write(&sock_->wreq, sock_->stream(), &buf, 1, on_write_cb);
  if (rc != 0) {
    sock_->write_active = false;
    return false;
  }
  return true;
}

// Encrypts up to kTlsSlice bytes of the queue, in order: the ciphertext
// waiting for the socket stays bounded however much is queued (the rest is
// encrypted when this write completes).
bool Connection::tls_encrypt_slice() {
  size_t budget = kTlsSlice;
  while (budget > 0) {
    size_t until =
        ref_head_ < session_.refs().size() ? session_.refs()[ref_head_].at : session_.out().size();
    if (out_sent_ < until) {
      size_t take = std::min(until - out_sent_, budget);
      if (!tls_->write(session_.out().data() + out_sent_, take)) return false;
      out_sent_ += take;
      budget -= take;
      continue;
    }
    if (ref_head_ == session_.refs().size()) break;
    Command *c = session_.refs()[ref_head_].cmd;
    size_t take = std::min(c->wire.size() - ref_sent_, budget);
    if (!tls_->write(c->wire.data() + ref_sent_, take)) return false;
    ref_sent_ += take;
    budget -= take;
    if (ref_sent_ == c->wire.size()) {
      ref_head_++;
      ref_sent_ = 0;
      client_.release_hold(c);  // the session has its bytes
    }
  }
  if (out_sent_ == session_.out().size() && ref_head_ == session_.refs().size()) output_reset();
  return true;
}

// Plain TCP: one writev of the output's pieces and the buffers of the large
// commands queued (Session::refs; usually none: one piece). Straight to the
// socket when it takes everything, the common case: no write request, and
// the next flush may follow at once (early flushes while replies are read).
// What the socket does not take at once is handed to a write request, which
// keeps it alive (the output moves to the socket's buffer, each command
// gets a hold until the write completes).
void Connection::write_plain() {
  iov_.clear();
  iov_cmd_.clear();
  size_t pos = 0;
  size_t total = 0;
  // iov_cmd_: the command on the last piece of its bytes, null elsewhere.
  auto piece = [&](char *p, size_t len, Command *c) {
    iov_.push_back(uv_buf_init(p, static_cast<unsigned>(len)));
    iov_cmd_.push_back(c);
    total += len;
  };
  for (const Session::Ref &r : session_.refs()) {
    if (r.at > pos) piece(session_.out().data() + pos, r.at - pos, nullptr);
    pos = r.at;
    // A buffer larger than a uv_buf_t's length goes in several pieces.
    char *p = r.cmd->wire.data();
    size_t left = r.cmd->wire.size();
    do {
      size_t len = std::min<size_t>(left, 1u << 30);
      piece(p, len, len == left ? r.cmd : nullptr);
      p += len;
      left -= len;
    } while (left > 0);
  }
  if (session_.out().size() > pos)
    piece(session_.out().data() + pos, session_.out().size() - pos, nullptr);
  int n = uv_try_write(sock_->stream(), iov_.data(),
                       static_cast<unsigned>(std::min<size_t>(iov_.size(), 1024)));
  ep_stats_->bytes_written.add(total);  // handed to the socket (now or by the write below)
  if (n >= 0 && static_cast<size_t>(n) == total) {
    output_reset();
    if (push_ == nullptr) client_.spin_after_write();
    return;
  }
  if (n < 0 && n != UV_EAGAIN) {
    lost(JR_ECONNLOST, "write: " + uv_text(n));
    return;
  }
  size_t done = n > 0 ? static_cast<size_t>(n) : 0;
  size_t i = 0;
  while (i < iov_.size() && done >= iov_[i].len) done -= iov_[i++].len;
  iov_[i].base += done;
  iov_[i].len -= static_cast<unsigned>(done);
  // The commands whose bytes the socket took need no hold any more; the
  // others' holds move to the write request.
  sock_->held.clear();
  for (size_t j = 0; j < iov_.size(); j++) {
    Command *c = iov_cmd_[j];
    if (c == nullptr) continue;
    if (j < i) {
      client_.release_hold(c);
    } else {
      sock_->held.push_back(c);
    }
  }
  session_.refs().clear();
  sock_->writing.clear();
  sock_->writing.swap(session_.out());  // the output's pieces now point into writing
  session_.out().clear();
  sock_->write_active = true;
  sock_->wreq.data = sock_;
  int rc = uv_write(&sock_->wreq, sock_->stream(), iov_.data() + i,
                    static_cast<unsigned>(iov_.size() - i), on_write_cb);
  if (rc != 0) {
    sock_->write_active = false;
    for (Command *c : sock_->held) client_.release_hold(c);
    sock_->held.clear();
    lost(JR_ECONNLOST, "write: " + uv_text(rc));
  }
}

void Connection::flush() {
  if (sock_ == nullptr || sock_->write_active) return;
  if (tls_ && state_ != State::kTls) {
    // Plaintext is encrypted into the session's buffer, then sent.
    if (has_output() && (state_ == State::kReady || state_ == State::kHandshake)) {
      session_.mark_flushed();
      if (!tls_encrypt_slice()) {
        lost(JR_ECONNLOST, tls_->error());
        return;
      }
    }
    if (!send_tls()) lost(JR_ECONNLOST, "write: tls");
    return;
  }
  if (tls_) {
    if (!send_tls()) lost(JR_ECONNLOST, "write: tls");
    return;
  }
  if (!has_output()) return;
  if (state_ != State::kReady && state_ != State::kHandshake) return;
  session_.mark_flushed();
  write_plain();
}

void Connection::on_write_cb(uv_write_t *req, int status) {
  auto *sock = static_cast<Sock *>(req->data);
  sock->write_active = false;
  for (Command *c : sock->held) sock->client->release_hold(c);
  sock->held.clear();
  Connection *self = sock->owner;
  if (self == nullptr) return;  // closed meanwhile
  if (status < 0) {
    if (self->tls_ && (self->state_ == State::kTls || self->state_ == State::kHandshake)) {
      // A server that refuses the session (TLS 1.3: after the client's side
      // of the handshake is done) sends an alert and closes, and a write can
      // meet the reset before the alert is read. The alert says why: the
      // read reports the failure (the connect timer bounds the wait).
      if (self->tls_write_error_.empty()) self->tls_write_error_ = "write: " + uv_text(status);
      return;
    }
    self->lost(JR_ECONNLOST, "write: " + uv_text(status));
    return;
  }
  if (self->has_output() || (self->tls_ && self->tls_->pending())) self->flush();
  // Shrink a buffer that a burst of large values grew.
  if (!sock->write_active) sock->writing.shrink(4 << 20);
}

// ---- Connecting -------------------------------------------------------------------

void Connection::start_connect() {
  state_ = State::kConnecting;
  ep_index_ = 0;
  connect_endpoint();
}

void Connection::connect_endpoint() {
  const Endpoint &ep = endpoints_[ep_index_];
  endpoint_name_ = ep.display();
  ep_stats_ = client_.stats().endpoint(endpoint_name_);
  if (client_.log_on())
    client_.log(JR_LOG_DEBUG, JR_EVENT_STATE, endpoint_name_,
                std::string(role_name()) + " connection: connecting");
  timer_is_backoff_ = false;
  uv_timer_start(&timer_, on_timer_cb, static_cast<uint64_t>(opts().connect_timeout_ms), 0);
  if (ep.unix_socket) {
    connect_resolved(nullptr);
    return;
  }
  struct sockaddr_storage ss;
  std::memset(&ss, 0, sizeof ss);
  auto *in4 = reinterpret_cast<struct sockaddr_in *>(&ss);
  auto *in6 = reinterpret_cast<struct sockaddr_in6 *>(&ss);
  if (uv_ip4_addr(ep.host.c_str(), ep.port, in4) == 0) {
    connect_resolved(reinterpret_cast<struct sockaddr *>(&ss));
    return;
  }
  if (uv_ip6_addr(ep.host.c_str(), ep.port, in6) == 0) {
    connect_resolved(reinterpret_cast<struct sockaddr *>(&ss));
    return;
  }
  auto *req = new uv_getaddrinfo_t;
  req->data = this;
  resolving_ = req;
  struct addrinfo hints;
  std::memset(&hints, 0, sizeof hints);
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  std::string port = std::to_string(ep.port);
  int rc =
      uv_getaddrinfo(client_.loop(), req, on_getaddrinfo_cb, ep.host.c_str(), port.c_str(), &hints);
  if (rc != 0) {
    resolving_ = nullptr;
    delete req;
    attempt_failed("resolve " + ep.host + ": " + uv_text(rc));
  }
}

void Connection::on_getaddrinfo_cb(uv_getaddrinfo_t *req, int status, struct addrinfo *res) {
  auto *self = static_cast<Connection *>(req->data);
  delete req;
  if (self == nullptr) {  // abandoned (timeout or shutdown)
    uv_freeaddrinfo(res);
    return;
  }
  self->resolving_ = nullptr;
  if (status != 0 || res == nullptr) {
    uv_freeaddrinfo(res);
    self->attempt_failed("resolve " + self->endpoint_name_ + ": " + uv_text(status));
    return;
  }
  self->connect_resolved(res->ai_addr);
  uv_freeaddrinfo(res);
}

void Connection::connect_resolved(const struct sockaddr *addr) {
  const Endpoint &ep = endpoints_[ep_index_];
  auto *s = new Sock();
  s->owner = this;
  s->client = &client_;
  s->creq.data = s;
  int rc;
  if (ep.unix_socket) {
    uv_pipe_init(client_.loop(), &s->h.pipe, 0);
    s->h.pipe.data = s;
    uv_pipe_connect(&s->creq, &s->h.pipe, ep.path.c_str(), on_connect_cb);
    rc = 0;
  } else {
    uv_tcp_init(client_.loop(), &s->h.tcp);
    s->h.tcp.data = s;
    rc = uv_tcp_connect(&s->creq, &s->h.tcp, addr, on_connect_cb);
  }
  sock_ = s;
  if (rc != 0) attempt_failed("connect " + endpoint_name_ + ": " + uv_text(rc));
}

void Connection::on_connect_cb(uv_connect_t *req, int status) {
  auto *sock = static_cast<Sock *>(req->data);
  Connection *self = sock->owner;
  if (self == nullptr) return;  // closed meanwhile (timeout)
  if (status < 0) {
    self->attempt_failed("connect " + self->endpoint_name_ + ": " + uv_text(status));
    return;
  }
  self->on_connected();
}

void Connection::close_sock() {
  tls_.reset();
  if (resolving_ != nullptr) {
    resolving_->data = nullptr;
    uv_cancel(reinterpret_cast<uv_req_t *>(resolving_));
    resolving_ = nullptr;
  }
  if (sock_ == nullptr) return;
  sock_->owner = nullptr;
  uv_close(sock_->handle(), on_sock_close_cb);
  sock_ = nullptr;
}

void Connection::on_sock_close_cb(uv_handle_t *h) {
  delete static_cast<Sock *>(h->data);
}

void Connection::attempt_failed(const std::string &detail) {
  close_sock();
  uv_timer_stop(&timer_);
  output_reset();
  session_.abort();  // only handshake entries can be owed
  state_ = State::kConnecting;
  last_error_ = detail;
  if (ep_stats_ != nullptr) ep_stats_->connect_failures.add();
  client_.emit(JR_EVENT_CONNECT_FAILED, endpoint_name_, detail, role_name());
  if (++ep_index_ < endpoints_.size()) {
    connect_endpoint();
    return;
  }
  if (cycle_ < opts().connect_retry) {
    // Exponential backoff: 50 ms, 100 ms, ... up to 2 s.
    int64_t delay = int64_t{50} << (cycle_ < 6 ? cycle_ : 6);
    if (delay > 2000) delay = 2000;
    cycle_++;
    timer_is_backoff_ = true;
    if (client_.log_on())
      client_.log(JR_LOG_DEBUG, JR_EVENT_STATE, endpoint_name_,
                  std::string(role_name()) + " connection: retry " + std::to_string(cycle_) +
                      " in " + std::to_string(delay) + " ms");
    uv_timer_start(&timer_, on_timer_cb, static_cast<uint64_t>(delay), 0);
    return;
  }
  if (push_ != nullptr && push_->wants_connection(*this)) {
    // Subscriptions wait for the server as long as they exist; tell them
    // (once per outage) that they are not being served.
    push_->on_lost(*this);
    timer_is_backoff_ = true;
    if (client_.log_on())
      client_.log(JR_LOG_WARN, JR_EVENT_STATE, endpoint_name_,
                  "push connection: server unreachable, retrying every 2000 ms: " + detail);
    uv_timer_start(&timer_, on_timer_cb, 2000, 0);
    return;
  }
  cycle_ = 0;
  state_ = State::kIdle;
  if (sentinel_replica) {
    replica_down();
    return;
  }
  if (to_sentinel()) return;
  if (client_.log_on())
    client_.log(JR_LOG_ERROR, JR_EVENT_STATE, endpoint_name_,
                std::string(role_name()) + " connection: giving up after " +
                    std::to_string(client_.opts().connect_retry + 1) +
                    " attempts, waiting requests fail: " + detail);
  if (cluster_node && client_.cluster().enabled() && session_.has_waiting()) {
    // A node that cannot be reached: its commands wait for the next
    // topology (a failover moves their slots elsewhere).
    CmdList list = session_.take_waiting();
    client_.cluster().node_unreachable(*this, list);
  }
  fail_waiting_with(JR_ECONNECT, detail);
  check_idle();
}

void Connection::fail_waiting_with(int code, const std::string &detail, const jr_reply *reply) {
  failing_ = &detail;
  fail_waiting(code, reply);
  failing_ = nullptr;
}

void Connection::on_timer_cb(uv_timer_t *t) {
  auto *self = static_cast<Connection *>(t->data);
  if (self->timer_is_backoff_) {
    self->ep_index_ = 0;
    self->connect_endpoint();
    return;
  }
  if (self->state_ == State::kConnecting || self->state_ == State::kTls) {
    self->attempt_failed("connect " + self->endpoint_name_ + ": timed out");
  } else if (self->state_ == State::kHandshake) {
    // No answer is a connection problem, not rejected credentials: retry
    // like a failed connect (JR_ECONNECT when the retries are used up).
    self->attempt_failed("handshake with " + self->endpoint_name_ + ": timed out");
  }
}

// TCP keepalive: the first probe after `idle_s` of quiet, then two more
// `idle_s / 3` apart, and the connection fails (ETIMEDOUT on the next read)
// when none is answered: a dead peer of an idle connection is found within
// about 2 x idle_s. libuv (1.44) sets only the idle time, and Linux's
// defaults for the rest (9 probes 75 s apart) add 11 minutes. The same
// settings as redis-server's and hiredis's own keepalive (anet.c, net.c).
void Connection::set_keepalive(int idle_s) {
  uv_tcp_keepalive(&sock_->h.tcp, 1, static_cast<unsigned>(idle_s));
#if defined(TCP_KEEPINTVL) && defined(TCP_KEEPCNT)
  uv_os_fd_t fd;
  if (uv_fileno(sock_->handle(), &fd) != 0) return;
  int interval = idle_s / 3 > 0 ? idle_s / 3 : 1;
  int count = 3;
  setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &interval, sizeof interval);
  setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &count, sizeof count);
#endif
}

void Connection::on_connected() {
  const Options &o = opts();
  if (!endpoints_[ep_index_].unix_socket) {
    uv_tcp_nodelay(&sock_->h.tcp, o.tcp_nodelay ? 1 : 0);
    if (o.tcp_keepalive_s > 0) set_keepalive(o.tcp_keepalive_s);
  }
  session_.on_transport_up();
  tls_write_error_.clear();
  int rc = uv_read_start(sock_->stream(), on_alloc_cb, on_read_cb);
  if (rc != 0) {
    attempt_failed("read " + endpoint_name_ + ": " + uv_text(rc));
    return;
  }
  if (const TlsContext *ctx = client_.tls()) {
    // TLS first (the connect timer keeps running), then the session.
    tls_ = std::make_unique<TlsSession>(*ctx, endpoints_[ep_index_].host);
    state_ = State::kTls;
    if (!tls_->ok() || tls_->handshake() < 0 || !send_tls()) {
      attempt_failed(endpoint_name_ + ": " + tls_->error());
      return;
    }
    return;
  }
  begin_session();
}

void Connection::begin_session() {
  state_ = State::kHandshake;
  // Sentinel: the shared connection checks with ROLE that its server is
  // still the master before anything is written (after a reconnect it may
  // have been demoted).
  bool master_role = role_ == Role::kShared && push_ == nullptr && sentinel_master();
  if (session_.start_handshake(opts(), readonly_session, tls_ != nullptr, master_role))
    return;  // nothing to wait for: ready() ran
  // The connect timer now bounds the handshake.
  uv_timer_start(&timer_, on_timer_cb, static_cast<uint64_t>(opts().connect_timeout_ms), 0);
  flush();
}

// The session's handshake is done; it writes the waiting commands next.
void Connection::ready() {
  uv_timer_stop(&timer_);
  state_ = State::kReady;
  cycle_ = 0;
  ready_at_ = now_ms();
  if (ep_stats_ != nullptr) {
    ep_stats_->connects.add();
    ep_stats_->connections.add();
  }
  client_.emit(JR_EVENT_CONNECTED, endpoint_name_, "", role_name());
  if (push_ != nullptr) push_->on_ready(*this);
  if (cache_data) client_.tracking()->data_ready(*this);
  if (cache_node) client_.tracking()->node_ready(*this);
}

// A handshake that ends here: said once (event, last error), the socket
// closed, the connection idle. Returns the detail: "handshake with EP: text".
std::string Connection::drop_handshake(const std::string &text) {
  std::string detail = "handshake with " + endpoint_name_ + ": " + text;
  uv_timer_stop(&timer_);
  last_error_ = detail;
  client_.emit(JR_EVENT_CONNECT_FAILED, endpoint_name_, detail, role_name());
  output_reset();
  session_.abort();  // handshake entries only
  close_sock();
  state_ = State::kIdle;
  cycle_ = 0;
  return detail;
}

// The server answered a handshake command (AUTH, CLIENT SETNAME, a connect
// command) with an error: the commands waiting for this connection never ran
// and complete with JR_EAUTH, and each carries that error reply (the
// server's own text, e.g. "WRONGPASS ..."), which the completion's reply
// shows next to the library code.
void Connection::handshake_failed(const std::string &text, jr_reply *error_reply) {
  std::string detail = drop_handshake(text);
  fail_waiting_with(JR_EAUTH, detail, error_reply);
  reply_release(error_reply);
  check_idle();
}

// Sentinel: the handshake's ROLE says this server is no master (demoted while
// the connection was down). Nothing was written; the waiting commands wait
// for the master the sentinels name next.
void Connection::not_master(const std::string &text) {
  drop_handshake(text);
  CmdList list = session_.take_waiting();
  client_.sentinel().master_unreachable(*this, list);
  check_idle();
}

// ---- Reading ----------------------------------------------------------------------------

void Connection::on_alloc_cb(uv_handle_t *h, size_t, uv_buf_t *buf) {
  auto *sock = static_cast<Sock *>(h->data);
  Connection *self = sock->owner;
  if (self == nullptr) {
    *buf = uv_buf_init(nullptr, 0);
    return;
  }
  *buf = uv_buf_init(self->client_.read_buffer(),
                     static_cast<unsigned>(self->client_.read_buffer_size()));
}

void Connection::on_read_cb(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf) {
  auto *sock = static_cast<Sock *>(s->data);
  Connection *self = sock->owner;
  if (self == nullptr || nread == 0) return;
  if (nread > 0 && self->ep_stats_ != nullptr)
    self->ep_stats_->bytes_read.add(static_cast<uint64_t>(nread));
  if (nread < 0) {
    std::string detail = nread == UV_EOF ? "server closed the connection"
                                         : "read: " + uv_text(static_cast<int>(nread));
    if (!self->tls_write_error_.empty()) detail = self->tls_write_error_ + ", then " + detail;
    self->lost(JR_ECONNLOST, detail);
    return;
  }
  self->client_.spin_hit();
  // One clock read per read: the completions it carries share it.
  Client &client = self->client_;
  client.set_read_time(now_ns());
  self->on_read(nread, buf->base);
  // Write what the callbacks of these replies submitted now, not after the
  // loop has drained every socket: a closed-loop caller's next window goes
  // out while the rest of this one is still being read.
  client.flush_all();
  client.set_read_time(0);
  // Nothing owed here any more (and the replies kept this socket): poll
  // for the caller's next command for a while (Client::spin_after_write).
  if (sock->owner == self && self->push_ == nullptr && self->session_.idle())
    client.spin_for_submit();
}

void Connection::on_read(ssize_t nread, const char *data) {
  session_.heard();
  if (!tls_) {
    on_plain(data, static_cast<size_t>(nread));
    return;
  }
  Sock *sock = sock_;
  if (!tls_->feed(data, static_cast<size_t>(nread))) {
    lost(JR_ECONNLOST, "tls: out of memory");
    return;
  }
  if (state_ == State::kTls) {
    int hs = tls_->handshake();
    if (hs < 0 || !send_tls()) {
      attempt_failed(endpoint_name_ + ": " + tls_->error());
      return;
    }
    if (hs == 0) return;
    begin_session();
    if (sock_ != sock) return;
  }
  char plain[16384];
  for (;;) {
    int n = tls_->read(plain, sizeof plain);
    if (n == 0) break;
    if (n < 0) {
      lost(JR_ECONNLOST, tls_->error());
      return;
    }
    on_plain(plain, static_cast<size_t>(n));
    if (sock_ != sock) return;  // the replies closed this socket
  }
  if (!send_tls()) lost(JR_ECONNLOST, "write: tls");
}

void Connection::on_plain(const char *data, size_t len) {
  session_.feed(data, len);
}

void Connection::check_idle() {
  if (role_ != Role::kPooled || !busy || lease != nullptr || !idle()) return;
  busy = false;
  pool->release(this);
}

// ---- Loss, expiry, cancel, shutdown ----------------------------------------------------

void Connection::lost(int head_code, const std::string &detail, bool from_peer) {
  if (from_peer && (state_ == State::kTls || state_ == State::kHandshake)) {
    // Before the session was accepted nothing but the handshake was sent
    // (commands wait in waiting_): a failed connect attempt, reported with
    // its cause (a TLS alert, a reset), retried like one, and JR_ECONNECT
    // for the commands when the retries are used up.
    attempt_failed(endpoint_name_ + ": " + detail);
    return;
  }
  bool was_ready = state_ == State::kReady;
  // Copied first: detail may be the TLS session's error text, which
  // close_sock() frees.
  std::string text = detail;
  std::string why = endpoint_name_ + ": " + text;
  last_error_ = text;
  close_sock();
  uv_timer_stop(&timer_);
  state_ = State::kIdle;
  output_reset();
  if (was_ready) went_down();
  // Client-side caching: what this connection read is not tracked any more.
  cache_tracked = false;
  if (was_ready && cache_data) client_.tracking()->data_lost(*this);
  if (was_ready && cache_node) client_.tracking()->node_lost(*this);
  // Unsent commands wait again (in order); written ones complete.
  failing_ = &why;
  session_.drop(head_code);
  failing_ = nullptr;
  if (was_ready) client_.emit(JR_EVENT_DISCONNECTED, endpoint_name_, text, role_name());
  // Sentinel: a lost master connection may mean a failover; the master is
  // checked again (sentinels, then ROLE) while this one reconnects.
  if (was_ready && sentinel_master()) client_.sentinel().master_lost(*this);
  if (sentinel_replica) {
    replica_down();
    return;
  }
  if (cluster_node && client_.cluster().enabled()) client_.cluster().refresh("connection lost");
  if (push_ != nullptr) {
    if (was_ready) push_->on_lost(*this);
    if (push_->wants_connection(*this)) schedule_reconnect(was_ready);
    return;
  }
  if (session_.has_waiting()) {
    schedule_reconnect(was_ready);
  } else {
    check_idle();
  }
}

// Sentinel: the master cannot be reached (the retries are used up); its
// waiting commands wait for the next master (a failover) while the
// sentinels are asked again. False when this is no master connection.
bool Connection::to_sentinel() {
  if (push_ != nullptr || !sentinel_master() || !session_.has_waiting()) return false;
  CmdList list = session_.take_waiting();
  client_.sentinel().master_unreachable(*this, list);
  check_idle();
  return true;
}

bool Connection::sentinel_master() const noexcept {
  return opts_override_ == nullptr && !sentinel_replica && client_.sentinel().enabled();
}

void Connection::replica_down() {
  CmdList list = session_.take_waiting();
  client_.sentinel().replica_down(*this, list);
  check_idle();
}

// A connection that stayed up a while is replaced at once. One lost during
// its handshake or within a second of it (a proxy whose backend is down, a
// server that closes at once) backs off like a failed connect and counts
// against connect_retry, instead of spinning.
void Connection::schedule_reconnect(bool was_ready) {
  if (was_ready && now_ms() - ready_at_ >= 1000) {
    flaps_ = 0;
    if (client_.log_on())
      client_.log(JR_LOG_INFO, JR_EVENT_STATE, endpoint_name_,
                  std::string(role_name()) + " connection: reconnecting at once");
    start_connect();
    return;
  }
  flaps_++;
  if (push_ == nullptr && flaps_ > opts().connect_retry + 1) {
    flaps_ = 0;
    state_ = State::kIdle;
    if (to_sentinel()) return;
    fail_waiting(JR_ECONNECT);
    if (client_.log_on())
      client_.log(JR_LOG_ERROR, JR_EVENT_STATE, endpoint_name_,
                  std::string(role_name()) +
                      " connection: lost again soon after each connect, giving up: " + last_error_);
    fail_waiting_with(JR_ECONNECT, endpoint_name_ + ": " + last_error_);
    check_idle();
    return;
  }
  int64_t delay = int64_t{50} << (flaps_ < 6 ? flaps_ : 6);
  if (delay > 2000) delay = 2000;
  if (client_.log_on())
    client_.log(
        JR_LOG_DEBUG, JR_EVENT_STATE, endpoint_name_,
        std::string(role_name()) + " connection: reconnecting in " + std::to_string(delay) + " ms");
  state_ = State::kConnecting;  // commands queue meanwhile
  ep_index_ = 0;
  timer_is_backoff_ = true;
  uv_timer_start(&timer_, on_timer_cb, static_cast<uint64_t>(delay), 0);
}

bool Connection::cancel(Command *c) {
  return session_.cancel(c);
}

// The deadlines and the liveness rules are the session's (Session::on_tick);
// a drop it asks for closes the socket, then what the loss re-queued is
// judged again (a loss leaves the session down: no second drop).
int64_t Connection::expire(int64_t now) {
  Session::Tick t = session_.on_tick(now, push_ != nullptr && push_->awaiting_reply(*this));
  if (t.drop == 0) return t.next;
  lost(t.drop, t.why);
  return expire(now);
}

void Connection::shutdown() {
  if (state_ == State::kReady) {
    went_down();
    if (client_.log_on())
      client_.log(JR_LOG_DEBUG, JR_EVENT_STATE, endpoint_name_,
                  std::string(role_name()) + " connection: closed");
  }
  push_ = nullptr;
  session_.set_push(false);
  output_reset();
  session_.shutdown();
  close_sock();
  uv_timer_stop(&timer_);
  uv_close(reinterpret_cast<uv_handle_t *>(&timer_), nullptr);
  state_ = State::kIdle;
}

}  // namespace jr
