// SPDX-License-Identifier: MIT
// Redis Sentinel: discovery, holding, following failovers (see sentinel.hpp).
#include "sentinel.hpp"

#include <algorithm>
#include <utility>

#include "interpret.hpp"
#include "loop/client.hpp"
#include "resp/encoder.hpp"
#include "saturate.hpp"

namespace jr {

namespace {
constexpr const char *kEventEndpoint = "sentinel";
}

Sentinel::Sentinel(Client &client) : client_(client) {
  const Options &o = client.opts();
  enabled_ = !o.sentinels.empty();
  uv_timer_init(client.loop(), &timer_);
  timer_.data = this;
  uv_timer_init(client.loop(), &rtimer_);
  rtimer_.data = this;
  if (!enabled_) return;
  replicas_on_ = o.read_from_replicas;
  sentinels_ = o.sentinels;
  name_ = o.sentinel_master;
  // Sentinels: their own credentials, no database, no connect commands,
  // one attempt each (the next sentinel is the retry), and RESP2 whatever
  // the user's protocol: the SENTINEL replies are read as arrays of
  // field/value arrays (RESP3 would send maps) and +switch-master as a
  // message (a push in RESP3); nothing of a sentinel's needs RESP3.
  sopts_ = o;
  sopts_.protocol = 2;
  sopts_.username = o.sentinel_username;
  sopts_.password = o.sentinel_password;
  sopts_.database = 0;
  sopts_.connect_commands.clear();
  sopts_.connect_retry = 0;
  sopts_.read_from_replicas = false;
  // The candidate master: its credentials, one attempt.
  mopts_ = o;
  mopts_.connect_commands.clear();
  mopts_.connect_retry = 0;
  mopts_.read_from_replicas = false;
  ask_ = std::make_unique<Connection>(client, std::vector<Endpoint>{sentinels_[0]});
  ask_->set_options(&sopts_);
  probe_ = std::make_unique<Connection>(client, std::vector<Endpoint>{sentinels_[0]});
  probe_->set_options(&mopts_);
  if (replicas_on_) {
    rask_ = std::make_unique<Connection>(client, std::vector<Endpoint>{sentinels_[0]});
    rask_->set_options(&sopts_);
  }
}

Sentinel::~Sentinel() = default;

// ---- Holding ------------------------------------------------------------------------

void Sentinel::hold(Queued *q) {
  held_.push_back(q);
  if (!known_) discover("first command");
}

bool Sentinel::cancel(Command *c) {
  if (held_.remove(c)) return true;
  for (auto &r : replicas_)
    if (r->conn->cancel(c)) return true;
  return false;
}

void Sentinel::fail_held(int status, const std::string &detail) {
  Inbox list = held_;
  held_ = Inbox();
  // The failures carry why (jr_error_detail), as a failed connect's do.
  const char *prev = client_.swap_detail(detail.empty() ? nullptr : detail.c_str());
  while (Queued *q = list.pop_front()) {
    if (q->is_task) {
      client_.fail_task(static_cast<Task *>(q), status, nullptr);
    } else {
      client_.complete(static_cast<Command *>(q), status, nullptr);
    }
  }
  client_.swap_detail(prev);
}

int64_t Sentinel::expire(int64_t now) {
  if (!enabled_) return 0;
  int64_t next = 0;
  auto consider = [&](int64_t d) {
    if (d != 0 && (next == 0 || d < next)) next = d;
  };
  Inbox list = held_;
  held_ = Inbox();
  Inbox still;
  while (Queued *q = list.pop_front()) {
    int64_t d =
        q->is_task ? static_cast<Task *>(q)->deadline() : static_cast<Command *>(q)->deadline;
    if (d != 0 && d <= now) {
      // Never written: the master was not known in time.
      if (q->is_task) {
        client_.fail_task(static_cast<Task *>(q), JR_EQUEUETIMEOUT, nullptr);
      } else {
        client_.complete(static_cast<Command *>(q), JR_EQUEUETIMEOUT, nullptr);
      }
    } else {
      consider(d);
      still.push_back(q);
    }
  }
  still.append(held_);  // held by the callbacks meanwhile
  held_ = still;
  consider(ask_->expire(now));
  consider(probe_->expire(now));
  if (sub_) consider(sub_->expire(now));
  if (rask_) consider(rask_->expire(now));
  for (auto &r : replicas_) consider(r->conn->expire(now));
  return next;
}

void Sentinel::shutdown() {
  if (shutting_down_) return;
  shutting_down_ = true;
  phase_ = Phase::kIdle;
  uv_timer_stop(&timer_);
  uv_close(reinterpret_cast<uv_handle_t *>(&timer_), nullptr);  // made in any case
  uv_timer_stop(&rtimer_);
  uv_close(reinterpret_cast<uv_handle_t *>(&rtimer_), nullptr);
  if (!enabled_) return;
  fail_held(JR_ECLOSED);
  if (sub_) sub_->shutdown();
  ask_->shutdown();
  probe_->shutdown();
  if (rask_) rask_->shutdown();
  for (auto &r : replicas_) r->conn->shutdown();
}

// ---- Discovery ----------------------------------------------------------------------

void Sentinel::send(Connection &conn, std::vector<std::string> args,
                    void (*cb)(void *, int, const jr_reply *), void *ud) {
  if (ud == nullptr) ud = this;
  std::vector<const char *> argv;
  std::vector<size_t> lens;
  for (const auto &a : args) {
    argv.push_back(a.data());
    lens.push_back(a.size());
  }
  Command *c = client_.acquire_command();
  if (c == nullptr || !encode_command(c->wire, argv.size(), argv.data(), lens.data())) {
    if (c != nullptr) client_.release_unsubmitted(c);
    cb(ud, JR_ENOMEM, nullptr);
    return;
  }
  c->cb = cb;
  c->userdata = ud;
  c->db = 0;
  c->flags = kFlagDirect | kFlagInternal;
  // A sentinel that accepts the connection and never answers is given up
  // after connect_timeout_ms, like one that does not answer the connect.
  c->deadline = deadline_after(now_ms(), client_.opts().connect_timeout_ms);
  client_.start_internal(c);
  client_.arm_deadline(c->deadline);
  conn.submit(c);
}

void Sentinel::watch() {
  if (sub_ || shutting_down_) return;
  sub_ = std::make_unique<Connection>(client_, sentinels_, Connection::Role::kPush);
  sub_->set_options(&sopts_);
  sub_->set_push(this);
  sub_->connect_now();
}

void Sentinel::note(const std::string &who, const std::string &what) {
  if (!reasons_.empty()) reasons_ += "; ";
  reasons_ += who + ": " + what;
}

void Sentinel::discover(const std::string &why) {
  if (running_ || shutting_down_ || !enabled_) return;
  uv_timer_stop(&timer_);
  running_ = true;
  answered_ = false;
  idx_ = 0;
  reasons_.clear();
  client_.emit(JR_EVENT_LOG, kEventEndpoint,
               "asking the sentinels for " + name_ + " (" + why + ")");
  watch();
  ask_next();
}

void Sentinel::ask_next() {
  if (idx_ >= sentinels_.size()) {
    round_over(answered_);
    return;
  }
  phase_ = Phase::kIdle;  // what a move cuts short is not this round's answer
  ask_->set_endpoints({sentinels_[idx_]});
  phase_ = Phase::kAsk;
  send(*ask_, {"SENTINEL", "get-master-addr-by-name", name_},
       [](void *ud, int st, const jr_reply *r) {
         static_cast<Sentinel *>(ud)->on_master_addr(st, r);
       });
}

void Sentinel::on_master_addr(int status, const jr_reply *r) {
  if (phase_ != Phase::kAsk || shutting_down_) return;
  std::string who = sentinels_[idx_].display();
  if (status != JR_OK) {
    note(who,
         std::string(jr_err_name(status)) +
             (status == JR_ECONNECT || status == JR_EAUTH ? " (not reachable or refused)" : ""));
    idx_++;
    ask_next();
    return;
  }
  std::string addr, why;
  int rc = parse_master_addr(r, addr, why);
  if (rc == JR_ENOENT) {
    note(who, "master name '" + name_ + "' unknown");
    idx_++;
    ask_next();
    return;
  }
  if (rc != JR_OK) {
    note(who, why);
    idx_++;
    ask_next();
    return;
  }
  answered_ = true;
  // The sentinel that answered goes to the front.
  if (idx_ != 0) {
    std::rotate(sentinels_.begin(), sentinels_.begin() + static_cast<ptrdiff_t>(idx_),
                sentinels_.begin() + static_cast<ptrdiff_t>(idx_) + 1);
    idx_ = 0;
  }
  // Sentinels added later become known (pipelined, on the same connection).
  send(*ask_, {"SENTINEL", "sentinels", name_}, [](void *ud, int st, const jr_reply *rep) {
    static_cast<Sentinel *>(ud)->on_sentinels(st, rep);
  });
  probe(addr);
}

void Sentinel::on_sentinels(int status, const jr_reply *r) {
  if (status != JR_OK || shutting_down_) return;
  std::vector<std::string> addrs;
  std::string why;
  if (parse_sentinel_instances(r, addrs, why) != JR_OK) {
    client_.emit(JR_EVENT_LOG, kEventEndpoint, "SENTINEL sentinels: " + why);
    return;
  }
  bool added = false;
  for (const std::string &a : addrs) {
    if (sentinels_.size() >= kMaxSentinels) break;
    bool have = false;
    for (const Endpoint &e : sentinels_) have = have || e.display() == a;
    Endpoint ep;
    if (have || parse_endpoint(a, ep) != JR_OK || ep.unix_socket) continue;
    sentinels_.push_back(ep);
    added = true;
  }
  if (added && sub_) sub_->set_endpoints(sentinels_);  // a live subscription stays
}

void Sentinel::probe(const std::string &addr) {
  Endpoint ep;
  if (parse_endpoint(addr, ep) != JR_OK || ep.unix_socket) {
    round_over(true);
    return;
  }
  candidate_ = addr;
  running_ = true;
  phase_ = Phase::kIdle;
  probe_->set_endpoints({ep});
  phase_ = Phase::kRole;
  send(*probe_, {"ROLE"},
       [](void *ud, int st, const jr_reply *r) { static_cast<Sentinel *>(ud)->on_role(st, r); });
}

void Sentinel::on_role(int status, const jr_reply *r) {
  if (phase_ != Phase::kRole || shutting_down_) return;
  if (status != JR_OK) {
    note(candidate_, std::string("ROLE: ") + jr_err_name(status));
    round_over(true);
    return;
  }
  std::string role, why;
  if (r != nullptr && r->type == JR_REPLY_ERROR) {
    note(candidate_, "ROLE: " + std::string(r->u.str, std::min<size_t>(r->len, 200)));
    round_over(true);
    return;
  }
  if (parse_role(r, role, why) != JR_OK) {
    note(candidate_, why);
    round_over(true);
    return;
  }
  if (role != "master") {
    note(candidate_, "is a " + role + ", not a master");
    round_over(true);
    return;
  }
  confirmed();
}

void Sentinel::confirmed() {
  phase_ = Phase::kIdle;
  running_ = false;
  rounds_ = 0;
  bool moved = candidate_ != master_;
  master_ = candidate_;
  known_ = true;
  if (moved) {
    Endpoint ep;
    (void)parse_endpoint(master_, ep);  // validated by the interpreter
    client_.emit(JR_EVENT_LOG, kEventEndpoint, "master " + name_ + " is " + master_);
    moving_ = true;
    client_.follow_master(ep);
    moving_ = false;
  }
  if (replicas_on_) {
    if (moved) {
      rempty_ = 0;
      refresh_replicas("the master moved");
    }
    if (!finder_.loaded() && !table_pending_) load_commands();
  }
  // In order; what their callbacks submit meanwhile queues behind them.
  while (Queued *q = held_.pop_front()) client_.reroute(q);
}

void Sentinel::round_over(bool answered) {
  phase_ = Phase::kIdle;
  running_ = false;
  if (shutting_down_) return;
  if (held_.empty()) {
    // Nobody waits: the next command (or event) asks again.
    rounds_ = 0;
    return;
  }
  rounds_++;
  if (!answered && rounds_ > client_.opts().connect_retry) {
    std::string text = "no master '" + name_ + "' from any sentinel: " + reasons_;
    client_.emit(JR_EVENT_CONNECT_FAILED, kEventEndpoint, text);
    rounds_ = 0;
    fail_held(JR_ECONNECT, text);
    return;
  }
  // A failover under way (or sentinels not reachable yet): again soon.
  int64_t delay = int64_t{25} << std::min(rounds_, 5);
  if (delay > 500) delay = 500;
  uv_timer_start(&timer_, on_timer_cb, static_cast<uint64_t>(delay), 0);
}

void Sentinel::on_timer_cb(uv_timer_t *t) {
  auto *self = static_cast<Sentinel *>(t->data);
  if (!self->held_.empty()) self->discover("retry");
}

// ---- Replicas (read_from_replicas) --------------------------------------------------

// Which commands are read-only: the master's COMMAND table, read once.
void Sentinel::load_commands() {
  if (shutting_down_) return;
  table_pending_ = true;
  send(client_.seed(), {"COMMAND"}, [](void *ud, int st, const jr_reply *r) {
    auto *self = static_cast<Sentinel *>(ud);
    self->table_pending_ = false;
    if (st == JR_OK && r != nullptr && r->type == JR_REPLY_ARRAY) self->finder_.load(r);
    if (self->finder_.loaded())
      self->client_.emit(JR_EVENT_LOG, kEventEndpoint,
                         "COMMAND table read: read-only commands may go to replicas");
  });
}

void Sentinel::replicas_in(uint64_t ms) {
  if (!replicas_on_ || shutting_down_) return;
  uv_timer_start(
      &rtimer_,
      [](uv_timer_t *t) { static_cast<Sentinel *>(t->data)->refresh_replicas("periodic"); }, ms, 0);
}

void Sentinel::refresh_replicas(const char *why) {
  if (!replicas_on_ || shutting_down_) return;
  if (rask_pending_) {
    // The answer on its way may predate the move: ask again after it.
    rask_again_ = true;
    return;
  }
  uv_timer_stop(&rtimer_);
  const Endpoint &ep = sentinels_[rask_idx_ % sentinels_.size()];
  rask_->set_endpoints({ep});
  rask_pending_ = true;
  if (client_.log_on())
    client_.log(JR_LOG_DEBUG, JR_EVENT_STATE, kEventEndpoint,
                "SENTINEL replicas " + name_ + " to " + ep.display() + " (" + why + ")");
  send(*rask_, {"SENTINEL", "replicas", name_}, [](void *ud, int st, const jr_reply *r) {
    static_cast<Sentinel *>(ud)->on_replicas(st, r);
  });
}

void Sentinel::on_replicas(int status, const jr_reply *r) {
  rask_pending_ = false;
  if (shutting_down_) return;
  if (rask_again_) {
    rask_again_ = false;
    refresh_replicas("the master moved while asking");
    return;
  }
  std::vector<std::string> addrs;
  size_t skipped = 0;
  std::string why;
  if (status != JR_OK) {
    why = jr_err_name(status);
  } else if (parse_sentinel_replicas(r, addrs, skipped, why) == JR_OK) {
    why.clear();
  }
  if (!why.empty()) {
    // Another sentinel next time, soon.
    client_.emit(JR_EVENT_LOG, kEventEndpoint,
                 "SENTINEL replicas from " + sentinels_[rask_idx_ % sentinels_.size()].display() +
                     ": " + why);
    rask_idx_++;
    replicas_in(1000);
    return;
  }
  for (auto &rp : replicas_) rp->listed = false;
  std::string list;
  for (const std::string &addr : addrs) {
    if (addr == master_) continue;  // the sentinel has not seen the switch yet
    Replica *rp = nullptr;
    for (auto &x : replicas_)
      if (x->addr == addr) rp = x.get();
    if (rp == nullptr) {
      Endpoint ep;
      if (replicas_.size() >= 2 * kMaxSentinelReplicas || parse_endpoint(addr, ep) != JR_OK ||
          ep.unix_socket)
        continue;
      auto made = std::make_unique<Replica>();
      made->owner = this;
      made->addr = addr;
      made->conn = std::make_unique<Connection>(client_, std::vector<Endpoint>{ep});
      made->conn->sentinel_replica = true;
      rp = made.get();
      replicas_.push_back(std::move(made));
    }
    rp->listed = true;
    list += (list.empty() ? "" : ", ") + addr;
    if (!usable(*rp)) check_replica(*rp);
  }
  if (list != replica_list_) {
    replica_list_ = list;
    client_.emit(JR_EVENT_LOG, kEventEndpoint,
                 "replicas of " + name_ + ": " + (list.empty() ? "none usable" : list) + " (" +
                     std::to_string(skipped) + " down or not in sync)");
  }
  if (!finder_.loaded() && !table_pending_ && known_) load_commands();
  // Every 10 s (jittered). While none is listed (after a failover the
  // sentinels see the replicas in sync at their next INFO): 250 ms, 500 ms,
  // 1 s, then every 2 s.
  if (list.empty()) {
    replicas_in(std::min<uint64_t>(uint64_t{250} << std::min(rempty_++, 3), 2000));
  } else {
    rempty_ = 0;
    replicas_in(10000 + static_cast<uint64_t>(now_ms() % 2000));
  }
}

void Sentinel::check_replica(Replica &r) {
  if (r.checking || shutting_down_) return;
  r.checking = true;
  send(
      *r.conn, {"ROLE"},
      [](void *ud, int st, const jr_reply *rep) {
        auto *rp = static_cast<Replica *>(ud);
        rp->owner->on_replica_role(*rp, st, rep);
      },
      &r);
}

void Sentinel::on_replica_role(Replica &r, int status, const jr_reply *reply) {
  r.checking = false;
  if (shutting_down_) return;
  std::string role, why;
  if (status != JR_OK) {
    why = std::string("ROLE: ") + jr_err_name(status);
  } else if (reply->type == JR_REPLY_ERROR) {
    why = "ROLE: " + std::string(reply->u.str, std::min<size_t>(reply->len, 200));
  } else if (parse_role(reply, role, why) == JR_OK && role != "slave" && role != "replica") {
    why = "is a " + role + ", not a replica";
  }
  if (!why.empty()) {
    r.confirmed = 0;
    client_.emit(JR_EVENT_LOG, kEventEndpoint, "replica " + r.addr + " not used: " + why);
    return;
  }
  bool was = r.confirmed != 0;
  r.confirmed = r.conn->epoch();
  if (!was) client_.emit(JR_EVENT_LOG, kEventEndpoint, "replica " + r.addr + " confirmed by ROLE");
}

Connection *Sentinel::replica_for(Command *c) {
  if (!replicas_on_ || replicas_.empty() || c->tx != nullptr || c->lease != nullptr ||
      !finder_.loaded())
    return nullptr;
  args_.clear();
  size_t pos = 0;
  if (!parse_request(c->wire.data(), c->wire.size(), pos, args_) || args_.empty() ||
      !finder_.readonly(args_[0]))
    return nullptr;
  size_t n = replicas_.size();
  for (size_t i = 0; i < n; i++) {
    Replica &r = *replicas_[(rr_ + i) % n];
    if (usable(r)) {
      rr_ = (rr_ + i + 1) % n;
      return r.conn.get();
    }
  }
  return nullptr;
}

void Sentinel::to_master(Command *c) {
  if (holding()) {
    hold(c);
  } else {
    client_.reroute(c);
  }
}

void Sentinel::replica_down(Connection &conn, CmdList &waiting) {
  for (auto &r : replicas_)
    if (r->conn.get() == &conn) r->confirmed = 0;
  while (Command *c = waiting.pop_front()) {
    if ((c->flags & kFlagInternal) != 0) {
      client_.complete(c, JR_ECONNECT, nullptr);  // its ROLE: never sent
    } else {
      to_master(c);
    }
  }
  // Asked again soon: the replica may be back (or gone from the list).
  if (!rask_pending_ && (uv_is_active(reinterpret_cast<uv_handle_t *>(&rtimer_)) == 0 ||
                         uv_timer_get_due_in(&rtimer_) > 2000))
    replicas_in(2000);
}

// ---- Following failovers -----------------------------------------------------------

void Sentinel::master_lost(Connection &conn) {
  // Not the connections libjr closes itself to move them.
  if (!moving_ && conn.endpoint().display() == master_)
    discover("connection to " + master_ + " lost");
}

void Sentinel::master_unreachable(Connection &conn, CmdList &waiting) {
  while (Command *c = waiting.pop_front()) held_.push_back(c);
  if (known_ && conn.endpoint().display() == master_) known_ = false;
  discover("master " + conn.endpoint().display() + " not reachable");
}

bool Sentinel::readonly_reply(Connection &conn, Command *c, jr_reply *reply) {
  std::string_view text(reply->u.str, reply->len);
  if (text.substr(0, 9) != "READONLY ") return false;
  if (++c->redirects > 5) return false;  // the caller gets the server's error
  reply_release(reply);
  c->state.store(CmdState::kPending, std::memory_order_release);
  held_.push_back(c);
  if (known_ && conn.endpoint().display() == master_) known_ = false;
  discover("READONLY from " + conn.endpoint().display());
  return true;
}

void Sentinel::on_ready(Connection &conn) {
  const char *argv[] = {"SUBSCRIBE", "+switch-master"};
  const size_t lens[] = {9, 14};
  sub_awaiting_ = true;
  conn.write_raw(2, argv, lens);
  // A switch may have been missed while no subscription was up.
  if (sub_was_ready_ && known_) discover("subscription back on " + conn.endpoint().display());
  sub_was_ready_ = true;
}

void Sentinel::on_push(Connection &conn, jr_reply *reply) {
  PushMsg m;
  std::string why;
  if (parse_push(reply, true, m, why) != JR_OK) {
    reply_release(reply);
    conn.protocol_error("sentinel subscription: " + why);
    return;
  }
  if (m.type == PushMsg::kSubscribe) {
    sub_awaiting_ = false;
  } else if (m.type == PushMsg::kMessage && m.name == "+switch-master" && reply->len == 3) {
    const jr_reply *payload = reply->u.elements[2];
    std::string addr;
    int rc = parse_switch_master(std::string_view(payload->u.str, payload->len), name_, addr, why);
    if (rc == JR_EPROTO) {
      client_.emit(JR_EVENT_LOG, kEventEndpoint, why);
    } else if (rc == JR_OK && !shutting_down_) {
      client_.emit(
          JR_EVENT_LOG, kEventEndpoint,
          "+switch-master " + name_ + " to " + addr + " (from " + conn.endpoint().display() + ")");
      if (addr != master_ || !known_) {
        // Nothing more goes to the old master: new requests wait for the
        // ROLE check of the new one.
        known_ = false;
        uv_timer_stop(&timer_);
        reasons_.clear();
        probe(addr);
      }
    }
  }
  reply_release(reply);
}

void Sentinel::on_lost(Connection &) {
  sub_awaiting_ = false;
}

bool Sentinel::wants_connection(const Connection &) const {
  return enabled_ && !shutting_down_;
}

bool Sentinel::awaiting_reply(const Connection &) const {
  return sub_awaiting_;
}

}  // namespace jr
