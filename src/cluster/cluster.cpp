// SPDX-License-Identifier: MIT
// Redis Cluster: detection, topology (CLUSTER SLOTS) and its refresh, routing
// by slot, redirections and retries, per-node connections and pools.
#include "cluster/cluster.hpp"

#include <algorithm>
#include <cstring>

#include "cluster/fanout.hpp"
#include "interpret.hpp"
#include "loop/client.hpp"
#include "pubsub.hpp"
#include "tracking.hpp"

namespace jr {

// ---- Cluster ----------------------------------------------------------------------------

Cluster::Cluster(Client &client) : client_(client) {
  slots_.fill(-1);
  uv_timer_init(client.loop(), &timer_);
  timer_.data = this;
}

Cluster::~Cluster() = default;

Cluster::Node *Cluster::find_node(const std::string &addr) {
  for (auto &n : nodes_)
    if (n->addr == addr) return n.get();
  return nullptr;
}

Connection &Cluster::node(const std::string &addr) {
  if (Node *n = find_node(addr)) return *n->conn;
  Endpoint ep;
  if (parse_endpoint(addr, ep) != JR_OK) ep = client_.endpoints().front();
  auto n = std::make_unique<Node>();
  n->addr = addr;
  n->conn = std::make_unique<Connection>(client_, std::vector<Endpoint>{ep});
  n->conn->cluster_node = true;
  // Client-side caching on a cluster: tracked per node (tracking.hpp).
  if (client_.tracking() != nullptr) n->conn->cache_node = true;
  nodes_.push_back(std::move(n));
  return *nodes_.back()->conn;
}

void Cluster::send_internal(Connection &conn, const char *const *argv, const size_t *lens,
                            size_t argc, jr_reply_cb cb) {
  Command *c = client_.acquire_command();
  if (c == nullptr || !encode_command(c->wire, argc, argv, lens)) {
    if (c != nullptr) client_.release_unsubmitted(c);
    return;
  }
  c->cb = cb;
  c->userdata = this;
  c->flags = kFlagDirect | kFlagInternal;
  int64_t t = client_.opts().command_timeout_ms;
  c->deadline = deadline_after(now_ms(), t > 0 ? t : 5000);
  client_.start_internal(c);
  conn.submit(c);
}

void Cluster::detect(Connection &seed) {
  if (detecting_ || detected_) return;
  if (client_.opts().cluster_mode == 0) {
    detected_ = true;
    return;
  }
  detecting_ = true;
  asked_host_ = seed.endpoint().host;
  const char *slots[] = {"CLUSTER", "SLOTS"};
  const size_t slens[] = {7, 5};
  send_internal(seed, slots, slens, 2, [](void *ud, int st, const jr_reply *r) {
    static_cast<Cluster *>(ud)->on_slots(st, r, nullptr);
  });
}

void Cluster::hold(Queued *q) {
  held_.push_back(q);
  detect(client_.seed());
  if (detected_ && !table_pending_) release_held();  // cluster=no
}

void Cluster::release_held() {
  // In place: what a callback submits meanwhile queues behind the rest.
  // Also after a failed detection (the commands then try the seed node).
  while (Queued *q = held_.pop_front()) client_.reroute(q);
  if (detected_) client_.detection_done();
}

// A held entry that will not be routed: a command (or cluster call)
// completes with `status`; a WATCH release takes effect (the commands held
// before it have been failed just before): Task::fail.
// detail: the server's error reply that caused it (a failed handshake's), or
// NULL; each completion gets its own reference.
void Cluster::fail_one(Queued *q, int status, const jr_reply *detail) {
  if (q->is_task) {
    client_.fail_task(static_cast<Task *>(q), status, detail);
    return;
  }
  auto *c = static_cast<Command *>(q);
  if (detail != nullptr) detail->arena->ref();
  client_.complete(c, status, const_cast<jr_reply *>(detail));
}

void Cluster::fail_held(int status, const jr_reply *detail) {
  // What the callbacks submit meanwhile is held for the next detection.
  Inbox list = held_;
  held_ = Inbox();
  while (Queued *q = list.pop_front()) fail_one(q, status, detail);
}

void Cluster::on_command_table(int status, const jr_reply *reply) {
  if (status == JR_OK && reply->type == JR_REPLY_ARRAY) finder_.load(reply);
  table_pending_ = false;
  release_held();
}

void Cluster::on_slots(int status, const jr_reply *reply, Connection *) {
  bool first = !detected_;
  refreshing_ = false;
  if (status != JR_OK) {
    if (client_.log_on())
      client_.log(JR_LOG_WARN, JR_EVENT_STATE, "cluster",
                  std::string(first ? "cluster detection" : "topology refresh") +
                      " failed: " + jr_err_name(status));
    if (first) {
      // Not answered: a later command tries again. When nothing was sent
      // (no connection, failed AUTH), the held commands share that fate
      // rather than wait for a second round of connect attempts.
      detecting_ = false;
      if (jr_err_unsent(status) != 0) {
        fail_held(status, reply);  // a failed AUTH's reply: the server's text
      } else {
        release_held();
      }
      client_.subs().on_topology();
    }
    replan_waiting();  // on the map they have: another round, or the end
    return;
  }
  if (reply->type == JR_REPLY_ERROR && !enabled_) {
    // "cluster support disabled": a standalone server, for good.
    if (first) {
      detected_ = true;
      detecting_ = false;
      if (client_.log_on())
        client_.log(JR_LOG_INFO, JR_EVENT_STATE, "cluster", "standalone server (not a cluster)");
    }
    release_held();
    client_.subs().on_topology();
    return;
  }
  std::vector<SlotRange> ranges;
  std::string why;
  if (parse_cluster_slots(reply, asked_host_, ranges, why) != JR_OK) {
    // A malformed answer (or an error from a node of a known cluster): the
    // map we have stays (on a first answer: none, the commands go to the
    // seed node and a later command asks again), and a refresh follows.
    if (reply->type == JR_REPLY_ERROR) why = "CLUSTER SLOTS: " + std::string(text_of(reply));
    client_.emit(JR_EVENT_LOG, "cluster", "topology refresh failed (protocol error): " + why);
    if (first) {
      detecting_ = false;
      release_held();
    } else {
      uv_timer_start(
          &timer_, [](uv_timer_t *t) { static_cast<Cluster *>(t->data)->refresh("retry"); },
          parked_.empty() ? 15000 : 1000, 0);
    }
    client_.subs().on_topology();
    return;
  }
  if (first) {
    detected_ = true;
    detecting_ = false;
  }
  if (!enabled_ && !finder_.loaded() && !table_pending_) {
    // A cluster: key positions come from the server's COMMAND table, read
    // once; held commands are routed when it has arrived.
    table_pending_ = true;
    const char *cmd[] = {"COMMAND"};
    const size_t clens[] = {7};
    send_internal(client_.seed(), cmd, clens, 1, [](void *ud, int st, const jr_reply *r) {
      static_cast<Cluster *>(ud)->on_command_table(st, r);
    });
  }
  enabled_ = true;
  client_.set_known_cluster();
  // Client-side caching: the masters before, to see whether a slot moved.
  std::vector<std::string> before;
  if (client_.tracking() != nullptr && !first) {
    before.resize(slots_.size());
    for (size_t s = 0; s < slots_.size(); s++)
      if (slots_[s] >= 0) before[s] = nodes_[static_cast<size_t>(slots_[s])]->addr;
  }
  slots_.fill(-1);
  replicas_.clear();
  for (auto &n : nodes_) n->in_map = false;
  std::unordered_map<std::string, int32_t> known;  // address -> index into nodes_
  for (size_t k = 0; k < nodes_.size(); k++)
    known.emplace(nodes_[k]->addr, static_cast<int32_t>(k));
  auto index_of = [&](const std::string &addr) {
    auto it = known.find(addr);
    if (it != known.end()) return it->second;
    node(addr);  // appends it
    auto k = static_cast<int32_t>(nodes_.size() - 1);
    known.emplace(addr, k);
    return k;
  };
  for (const SlotRange &sr : ranges) {
    int32_t idx = index_of(sr.master);
    Node *n = nodes_[static_cast<size_t>(idx)].get();
    n->master = true;
    n->in_map = true;
    for (int s = sr.lo; s <= sr.hi; s++) slots_[static_cast<size_t>(s)] = idx;
    for (const std::string &raddr : sr.replicas) {
      int32_t ridx = index_of(raddr);
      Node *rn = nodes_[static_cast<size_t>(ridx)].get();
      rn->master = false;
      rn->in_map = true;
      // Reads may go to this replica (read_from_replicas): READONLY first.
      rn->conn->readonly_session = true;
      auto &reps = replicas_[idx];
      if (std::find(reps.begin(), reps.end(), ridx) == reps.end()) reps.push_back(ridx);
    }
  }
  for (auto &n : nodes_) {
    if (!n->in_map) n->master = false;
    n->conn->cache_replica = !n->master;  // a replica's reads never fill
  }
  if (!before.empty()) {
    for (size_t s = 0; s < slots_.size(); s++) {
      const std::string none;
      const std::string &now = slots_[s] >= 0 ? nodes_[static_cast<size_t>(slots_[s])]->addr : none;
      if (now != before[s]) {
        client_.tracking()->topology_changed("a topology refresh");
        break;
      }
    }
  }
  log_map(ranges, first);
  // Periodic refresh, jittered: 20 s +- 25%.
  uint64_t jitter = static_cast<uint64_t>(now_ms() % 10000);
  uv_timer_start(
      &timer_, [](uv_timer_t *t) { static_cast<Cluster *>(t->data)->refresh("periodic"); },
      15000 + jitter, 0);
  reroute_parked();
  replan_waiting();
  if (!table_pending_) release_held();
  client_.subs().on_topology();
  if (refresh_wanted_) {
    refresh_wanted_ = false;
    refresh("requested during a refresh");
  }
}

// Logs the slot map once per change (a refresh that finds the same map
// says nothing).
void Cluster::log_map(const std::vector<SlotRange> &ranges, bool first) {
  if (!client_.log_on()) return;
  std::string sig;
  size_t masters = 0;
  size_t replicas = 0;
  size_t slots = 0;
  std::vector<std::string> seen;
  for (const SlotRange &sr : ranges) {
    sig += std::to_string(sr.lo) + "-" + std::to_string(sr.hi) + "@" + sr.master;
    for (const std::string &r : sr.replicas) sig += "," + r;
    sig += ";";
    slots += static_cast<size_t>(sr.hi - sr.lo + 1);
    if (std::find(seen.begin(), seen.end(), sr.master) == seen.end()) {
      seen.push_back(sr.master);
      masters++;
      replicas += sr.replicas.size();
    }
  }
  if (sig == map_sig_) return;
  map_sig_ = sig;
  client_.log(JR_LOG_INFO, JR_EVENT_STATE, "cluster",
              std::string(first ? "cluster detected" : "cluster map changed") + ": " +
                  std::to_string(masters) + " masters, " + std::to_string(replicas) +
                  " replicas, " + std::to_string(slots) + " of 16384 slots served");
}

void Cluster::reroute_parked() {
  CmdList list = parked_;
  parked_ = CmdList();
  while (Command *c = list.pop_front()) route(c);
}

void Cluster::refresh(const char *why) {
  if (!enabled_) return;
  int64_t now = now_ms();
  if (refreshing_) {
    refresh_wanted_ = true;
    return;
  }
  // Rate limit: at most one refresh per 100 ms (single-flight above).
  if (now - last_refresh_ < 100) {
    int64_t wait = 100 - (now - last_refresh_) + static_cast<int64_t>(now % 20);
    uv_timer_start(
        &timer_, [](uv_timer_t *t) { static_cast<Cluster *>(t->data)->refresh("rate limited"); },
        static_cast<uint64_t>(wait), 0);
    return;
  }
  last_refresh_ = now;
  // Ask a node that is connected, masters first; else any node.
  Connection *target = nullptr;
  for (auto &n : nodes_)
    if (n->master && n->conn->ready_now()) target = n->conn.get();
  for (size_t i = 0; target == nullptr && i < nodes_.size(); i++)
    if (nodes_[i]->conn->ready_now()) target = nodes_[i]->conn.get();
  if (target == nullptr && !nodes_.empty()) {
    // Nothing connected: rotate through the nodes we know.
    target = nodes_[static_cast<size_t>(now) % nodes_.size()]->conn.get();
  }
  if (target == nullptr) return;
  refreshing_ = true;
  asked_host_ = target->endpoint().host;
  client_.emit(JR_EVENT_LOG, "cluster", std::string("topology refresh: ") + why, nullptr,
               JR_LOG_DEBUG);
  const char *slots[] = {"CLUSTER", "SLOTS"};
  const size_t slens[] = {7, 5};
  send_internal(*target, slots, slens, 2, [](void *ud, int st, const jr_reply *r) {
    static_cast<Cluster *>(ud)->on_slots(st, r, nullptr);
  });
}

void Cluster::submit_to_slot(Command *c, int slot, bool read_only) {
  int32_t idx = slot >= 0 ? slots_[static_cast<size_t>(slot)] : -1;
  if (idx < 0) {
    // No node known for this slot: wait for a refresh.
    parked_.push_back(c);
    refresh("slot without a node");
    return;
  }
  if (read_only && client_.opts().read_from_replicas) {
    // A read-only command may be served by a replica of the slot's master
    // (round robin over master and replicas). A replica that lags or was
    // promoted answers MOVED, which sends the command to the master.
    auto it = replicas_.find(idx);
    if (it != replicas_.end() && !it->second.empty()) {
      size_t pick = rr_++ % (it->second.size() + 1);
      if (pick < it->second.size()) idx = it->second[pick];
    }
  }
  nodes_[static_cast<size_t>(idx)]->conn->submit(c);
}

bool Cluster::split(Command *c, const std::vector<std::string_view> &args,
                    const std::vector<size_t> &keys) {
  std::string_view cmd = args[0];
  Fanout::Kind kind;
  size_t stride = 1;
  if (ieq(cmd, "MGET")) {
    kind = Fanout::kMget;
  } else if (ieq(cmd, "MSET")) {
    kind = Fanout::kMset;
    stride = 2;
  } else if (ieq(cmd, "DEL") || ieq(cmd, "UNLINK") || ieq(cmd, "EXISTS") || ieq(cmd, "TOUCH")) {
    kind = Fanout::kSum;
  } else {
    return false;
  }
  // Group keys by slot, keeping their order.
  std::vector<std::pair<uint16_t, std::vector<size_t>>> groups;
  for (size_t i = 0; i < keys.size(); i++) {
    uint16_t slot = key_slot(args[keys[i]].data(), args[keys[i]].size());
    auto it =
        std::find_if(groups.begin(), groups.end(), [&](const auto &g) { return g.first == slot; });
    if (it == groups.end()) {
      groups.emplace_back(slot, std::vector<size_t>{});
      it = groups.end() - 1;
    }
    it->second.push_back(i);
  }
  auto *f = new Fanout(&client_, c, kind);
  f->total = keys.size();
  f->pending = groups.size();
  f->status.assign(groups.size(), JR_OK);
  f->replies.assign(groups.size(), nullptr);
  f->positions.resize(groups.size());
  c->state.store(CmdState::kWritten, std::memory_order_release);
  std::vector<std::pair<Command *, uint16_t>> children;
  for (size_t g = 0; g < groups.size(); g++) {
    std::vector<const char *> argv{args[0].data()};
    std::vector<size_t> lens{args[0].size()};
    for (size_t k : groups[g].second) {
      for (size_t s = 0; s < stride; s++) {
        argv.push_back(args[keys[k] + s].data());
        lens.push_back(args[keys[k] + s].size());
      }
      f->positions[g].push_back(k);
    }
    Command *child = client_.acquire_command();
    if (child == nullptr || !encode_command(child->wire, argv.size(), argv.data(), lens.data())) {
      if (child != nullptr) client_.release_unsubmitted(child);
      f->status[g] = JR_ENOMEM;
      children.emplace_back(nullptr, 0);
      continue;
    }
    child->cb = Fanout::child_done;
    child->userdata = new std::pair<Fanout *, size_t>(f, g);
    child->flags = kFlagDirect | kFlagInternal;
    child->deadline = c->deadline;
    children.emplace_back(child, groups[g].first);
  }
  for (auto &[child, slot] : children) {
    if (child == nullptr) {
      if (--f->pending == 0) f->finish();
      continue;
    }
    client_.start_internal(child);
    submit_to_slot(child, slot);
  }
  return true;
}

int Cluster::command_slot(Command *c, bool &cross) {
  std::vector<std::string_view> &args = args_;
  std::vector<size_t> &keys = keys_;
  size_t pos = 0;
  int slot = -1;
  cross = false;
  const char *w = c->wire.data();
  size_t size = c->wire.size();
  // A transaction's block holds several commands: all must share a slot.
  while (pos < size && parse_request(w, size, pos, args)) {
    if (args.empty() || ieq(args[0], "MULTI") || ieq(args[0], "EXEC")) continue;
    keys.clear();
    finder_.keys(args, keys);
    for (size_t k : keys) {
      int s = key_slot(args[k].data(), args[k].size());
      if (slot < 0) slot = s;
      if (s != slot) cross = true;
    }
    if (c->tx == nullptr) break;
  }
  return slot;
}

void Cluster::route(Command *c) {
  bool cross = false;
  int slot = command_slot(c, cross);
  if (cross && c->fill != nullptr) client_.drop_cached(c);  // a split read never fills
  if (cross && c->tx == nullptr) {
    std::vector<std::string_view> args;
    std::vector<size_t> keys;
    size_t pos = 0;
    parse_request(c->wire.data(), c->wire.size(), pos, args);
    finder_.keys(args, keys);
    if (split(c, args, keys)) return;
  }
  if (cross) {
    client_.complete(c, JR_ECROSSSLOT, nullptr);
    return;
  }
  if (slot < 0) {
    // Keyless: the seed node answers (documented).
    client_.seed().submit(c);
    return;
  }
  bool read_only = client_.opts().read_from_replicas && c->tx == nullptr && !args_.empty() &&
                   finder_.readonly(args_[0]);
  submit_to_slot(c, slot, read_only);
}

Pool &Cluster::pool(const std::string &addr) {
  for (auto &p : pools_)
    if (p.first == addr) return *p.second;
  Endpoint ep;
  if (parse_endpoint(addr, ep) != JR_OK) ep = client_.endpoints().front();
  pools_.emplace_back(addr, std::make_unique<Pool>(client_, std::vector<Endpoint>{ep},
                                                   client_.opts().max_connections));
  return *pools_.back().second;
}

Pool &Cluster::pool_for(Command *c) {
  bool cross = false;
  int slot = command_slot(c, cross);
  int32_t idx = slot >= 0 ? slots_[static_cast<size_t>(slot)] : -1;
  if (idx < 0) return client_.pool();  // the seed's pool; MOVED corrects it
  return pool(nodes_[static_cast<size_t>(idx)]->addr);
}

bool Cluster::redirect(Command *c, jr_reply *reply, const std::string &from_host) {
  Redirect rd;
  std::string why;
  // An error reply (the caller checked): its text.
  int rc = parse_redirect(std::string_view(reply->u.str, reply->len), from_host, rd, why);
  if (rc == JR_OK && rd.kind == Redirect::kNone) return false;
  if ((c->flags & kFlagInternal) != 0 && c->cb != Fanout::child_done) return false;
  if (rc != JR_OK) {
    // "MOVED 99999 x", "ASK 1 /tmp/sock": the command fails, nothing follows it.
    client_.emit(JR_EVENT_LOG, "cluster", why);
    reply_release(reply);
    client_.complete(c, JR_EPROTO, nullptr);
    return true;
  }
  // A retry re-routes by slot (a keyless part would land on the seed): the
  // fan-out re-plans instead.
  if (rd.kind == Redirect::kRetry && (c->flags & kFlagMasterFanout) != 0) return false;
  if (++c->redirects > 16) return false;  // give the caller the last error
  int64_t now = now_ms();
  if (rd.kind == Redirect::kRetry) {
    int64_t backoff = int64_t{25} << (c->redirects < 5 ? c->redirects : 5);
    // A retry that would come after the deadline: the caller gets the
    // server's answer now (it did not run) rather than a timeout later.
    int64_t due = deadline_after(now, backoff);
    if (c->deadline != 0 && sat_add(due, 50) >= c->deadline) return false;
    if (rd.refresh) refresh("cluster down / readonly / loading");
    retries_.push_back(Retry{due, c});
    c->state.store(CmdState::kPending, std::memory_order_release);
    client_.arm_deadline(due);
    reply_release(reply);
    return true;
  }
  reply_release(reply);
  c->state.store(CmdState::kPending, std::memory_order_release);
  if (rd.kind == Redirect::kMoved) {
    this->moved(rd.slot, rd.addr);
  } else {
    c->flags |= kFlagAsking;  // ASKING, then the command, on the importing node
  }
  if ((c->flags & kFlagBlocking) != 0) {
    pool(rd.addr).submit(c);
  } else {
    node(rd.addr).submit(c);
  }
  return true;
}

const std::string *Cluster::slot_master(int slot) const {
  int32_t idx = slot >= 0 && slot < 16384 ? slots_[static_cast<size_t>(slot)] : -1;
  return idx >= 0 ? &nodes_[static_cast<size_t>(idx)]->addr : nullptr;
}

void Cluster::moved(int slot, const std::string &addr) {
  node(addr);
  if (client_.tracking() != nullptr) client_.tracking()->topology_changed("MOVED");
  if (slot >= 0 && slot < 16384) {
    for (size_t k = 0; k < nodes_.size(); k++)
      if (nodes_[k]->addr == addr) slots_[static_cast<size_t>(slot)] = static_cast<int32_t>(k);
  }
  refresh("MOVED");
}

bool Cluster::cancel(Command *c) {
  if (parked_.remove(c) || held_.remove(c)) return true;
  for (auto it = retries_.begin(); it != retries_.end(); ++it) {
    if (it->cmd == c) {
      retries_.erase(it);
      return true;
    }
  }
  for (auto &n : nodes_)
    if (n->conn->cancel(c)) return true;
  for (auto &p : pools_)
    if (p.second->cancel(c)) return true;
  return false;
}

void Cluster::node_unreachable(Connection &, CmdList &waiting) {
  // Park them for the next topology: a failover moves their slots. An
  // all-masters part is for this node only: it fails, and its fan-out
  // re-plans on that topology.
  CmdList mine;
  while (Command *c = waiting.pop_front()) {
    if ((c->flags & kFlagMasterFanout) != 0) {
      mine.push_back(c);
    } else {
      parked_.push_back(c);
    }
  }
  refresh("node unreachable");
  while (Command *c = mine.pop_front()) client_.complete(c, JR_ECONNECT, nullptr);
}

int64_t Cluster::expire(int64_t now) {
  int64_t next = 0;
  std::vector<Retry> due;
  for (auto it = retries_.begin(); it != retries_.end();) {
    if (it->at <= now) {
      due.push_back(*it);
      it = retries_.erase(it);
    } else {
      if (next == 0 || it->at < next) next = it->at;
      ++it;
    }
  }
  for (auto &r : due) route(r.cmd);
  // All-masters fan-outs waiting for a topology past their deadline: they
  // finish with what they have.
  std::vector<Fanout *> late;
  for (auto it = replans_.begin(); it != replans_.end();) {
    int64_t d = (*it)->parent->deadline;
    if (d != 0 && d <= now) {
      late.push_back(*it);
      it = replans_.erase(it);
    } else {
      if (d != 0 && (next == 0 || d < next)) next = d;
      ++it;
    }
  }
  for (Fanout *f : late) masters_done(f);
  CmdList keep;
  while (Command *c = parked_.pop_front()) {
    if (c->deadline != 0 && c->deadline <= now) {
      client_.complete(c, JR_EQUEUETIMEOUT, nullptr);
    } else {
      if (c->deadline != 0 && (next == 0 || c->deadline < next)) next = c->deadline;
      keep.push_back(c);
    }
  }
  parked_ = keep;
  keep = CmdList();
  Inbox held = held_;
  held_ = Inbox();
  Inbox still;
  while (Queued *q = held.pop_front()) {
    int64_t d =
        q->is_task ? static_cast<Task *>(q)->deadline() : static_cast<Command *>(q)->deadline;
    if (d != 0 && d <= now) {
      fail_one(q, JR_EQUEUETIMEOUT);
    } else {
      if (d != 0 && (next == 0 || d < next)) next = d;
      still.push_back(q);
    }
  }
  still.append(held_);  // held by the callbacks meanwhile
  held_ = still;
  for (auto &n : nodes_) {
    int64_t d = n->conn->expire(now);
    if (d != 0 && (next == 0 || d < next)) next = d;
  }
  for (auto &p : pools_) {
    int64_t d = p.second->expire(now);
    if (d != 0 && (next == 0 || d < next)) next = d;
  }
  return next;
}

void Cluster::shutdown() {
  shutting_down_ = true;
  std::vector<Fanout *> waiting;
  waiting.swap(replans_);
  for (Fanout *f : waiting) f->finish();
  uv_timer_stop(&timer_);
  uv_close(reinterpret_cast<uv_handle_t *>(&timer_), nullptr);
  for (auto &r : retries_) client_.complete(r.cmd, JR_ECLOSED, nullptr);
  retries_.clear();
  while (Command *c = parked_.pop_front()) client_.complete(c, JR_ECLOSED, nullptr);
  fail_held(JR_ECLOSED);
  for (auto &n : nodes_) n->conn->shutdown();
  for (auto &p : pools_) p.second->shutdown();
}

}  // namespace jr
