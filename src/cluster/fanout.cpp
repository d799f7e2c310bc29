// SPDX-License-Identifier: MIT
// Fan-out: the merge of split commands' replies, all-masters calls (ROLE
// then the command on each master, re-planned on a fresher topology), the
// node list (jr_client_endpoints) and a command sent to one chosen node.
#include "cluster/fanout.hpp"

#include <algorithm>
#include <cstring>

#include "cluster/cluster.hpp"
#include "interpret.hpp"
#include "loop/client.hpp"

namespace jr {

// ---- Fan-out (split multi-key commands, all masters) ------------------------------------

namespace {

jr_reply *copy_into(Arena *a, const jr_reply *r) {
  auto *n = static_cast<jr_reply *>(a->alloc(sizeof(jr_reply)));
  if (n == nullptr) return nullptr;
  *n = *r;
  n->arena = a;
  if (r->type == JR_REPLY_ARRAY) {
    if (r->len > 0) {
      auto **e = static_cast<jr_reply **>(a->alloc(sizeof(jr_reply *) * r->len));
      if (e == nullptr) return nullptr;
      for (size_t i = 0; i < r->len; i++) {
        e[i] = copy_into(a, r->u.elements[i]);
        if (e[i] == nullptr) return nullptr;
      }
      n->u.elements = e;
    }
  } else if (r->type == JR_REPLY_STRING || r->type == JR_REPLY_STATUS ||
             r->type == JR_REPLY_ERROR) {
    auto *d = static_cast<char *>(a->alloc(r->len + 1));
    if (d == nullptr) return nullptr;
    std::memcpy(d, r->u.str, r->len);
    d[r->len] = '\0';
    n->u.str = d;
  }
  return n;
}

}  // namespace

void Fanout::settled() {
  if (kind == kAllMasters) {
    client->cluster().masters_settled(this);
  } else {
    finish();
  }
}

void Fanout::child_done(void *ud, int st, const jr_reply *reply) {
  // userdata packs the fan-out and the child's index.
  auto *pair = static_cast<std::pair<Fanout *, size_t> *>(ud);
  Fanout *f = pair->first;
  size_t i = pair->second;
  delete pair;
  f->status[i] = st;
  if (reply != nullptr) {
    reply->arena->ref();
    f->replies[i] = const_cast<jr_reply *>(reply);
  }
  if (--f->pending == 0) f->settled();
}

void Fanout::role_done(void *ud, int st, const jr_reply *reply) {
  auto *pair = static_cast<std::pair<Fanout *, size_t> *>(ud);
  Fanout *f = pair->first;
  size_t i = pair->second;
  delete pair;
  // ["master", ...] / ["slave", ...]: anything else (an error such as an
  // ACL's NOPERM, a lost connection) says nothing, and the entry stands.
  if (st == JR_OK && reply != nullptr && reply->type == JR_REPLY_ARRAY && reply->len > 0) {
    const jr_reply *role = reply->u.elements[0];
    if (role != nullptr && (role->type == JR_REPLY_STRING || role->type == JR_REPLY_STATUS) &&
        std::string_view(role->u.str, role->len) != "master")
      f->demoted[i] = 1;
  }
  if (--f->pending == 0) f->settled();
}

void Fanout::finish() {
  int st = JR_OK;
  jr_reply *out = nullptr;
  const jr_reply *first_error = nullptr;
  for (size_t i = 0; i < status.size(); i++) {
    if (kind != kAllMasters && status[i] != JR_OK && st == JR_OK) st = status[i];
    if (replies[i] != nullptr && replies[i]->type == JR_REPLY_ERROR && first_error == nullptr)
      first_error = replies[i];
  }
  Arena *a = arena_get();
  if (a == nullptr) st = JR_ENOMEM;
  if (st == JR_OK && kind != kAllMasters && first_error != nullptr) {
    out = copy_into(a, first_error);
  } else if (st == JR_OK) {
    switch (kind) {
      case kMget: {
        auto *root = static_cast<jr_reply *>(a->alloc(sizeof(jr_reply)));
        auto **e = static_cast<jr_reply **>(a->alloc(sizeof(jr_reply *) * (total + 1)));
        if (root == nullptr || e == nullptr) break;
        root->type = JR_REPLY_ARRAY;
        root->arena = a;
        root->len = total;
        root->u.elements = e;
        bool ok = true;
        for (size_t c = 0; c < replies.size() && ok; c++) {
          for (size_t k = 0; k < positions[c].size() && ok; k++) {
            const jr_reply *v =
                replies[c] != nullptr && replies[c]->type == JR_REPLY_ARRAY && k < replies[c]->len
                    ? replies[c]->u.elements[k]
                    : nullptr;
            e[positions[c][k]] = v != nullptr ? copy_into(a, v) : nullptr;
            ok = e[positions[c][k]] != nullptr;
          }
        }
        if (ok) out = root;
        break;
      }
      case kMset: {
        jr_reply r{};
        r.type = JR_REPLY_STATUS;
        r.len = 2;
        r.u.str = "OK";
        out = copy_into(a, &r);
        break;
      }
      case kSum: {
        jr_reply r{};
        r.type = JR_REPLY_INTEGER;
        for (jr_reply *x : replies)
          if (x != nullptr && x->type == JR_REPLY_INTEGER) r.u.integer += x->u.integer;
        out = copy_into(a, &r);
        break;
      }
      case kAllMasters: {
        // [[address, reply or error], ...]: errors are values.
        auto *root = static_cast<jr_reply *>(a->alloc(sizeof(jr_reply)));
        auto **e = static_cast<jr_reply **>(a->alloc(sizeof(jr_reply *) * (labels.size() + 1)));
        if (root == nullptr || e == nullptr) break;
        root->type = JR_REPLY_ARRAY;
        root->arena = a;
        root->len = labels.size();
        root->u.elements = e;
        bool ok = true;
        for (size_t i = 0; i < labels.size() && ok; i++) {
          jr_reply pair{}, name{}, err{};
          jr_reply *two[2];
          name.type = JR_REPLY_STRING;
          name.len = labels[i].size();
          name.u.str = labels[i].c_str();
          two[0] = &name;
          std::string text;
          if (replies[i] != nullptr && status[i] == JR_OK) {
            two[1] = replies[i];
          } else {
            text =
                std::string(jr_err_name(status[i])) + ": " +
                (i < notes.size() && !notes[i].empty() ? notes[i].c_str() : jr_strerror(status[i]));
            if (replies[i] != nullptr && replies[i]->type == JR_REPLY_ERROR)  // JR_EAUTH's
              text += ": " + std::string(replies[i]->u.str, replies[i]->len);
            err.type = JR_REPLY_ERROR;
            err.len = text.size();
            err.u.str = text.c_str();
            two[1] = &err;
          }
          pair.type = JR_REPLY_ARRAY;
          pair.len = 2;
          pair.u.elements = two;
          e[i] = copy_into(a, &pair);
          ok = e[i] != nullptr;
        }
        if (ok) out = root;
        break;
      }
    }
  }
  for (jr_reply *x : replies) reply_release(x);
  if (out == nullptr && st == JR_OK) st = JR_ENOMEM;
  if (out != nullptr) {
    a->set_refs(1);
  } else if (a != nullptr) {
    arena_put(a);
  }
  Command *p = parent;
  Client *cl = client;
  delete this;
  if (p->state.load(std::memory_order_acquire) == CmdState::kDone) {
    reply_release(out);  // cancelled meanwhile: it has had its completion
  } else {
    cl->complete(p, st, out);
  }
  cl->release_hold(p);
}

// ---- Cluster calls (all masters, endpoints, one node) ---------------------------------

void Cluster::all_masters(Command *c) {
  if (!enabled_) {
    client_.complete(c, JR_ECLUSTER, nullptr);
    return;
  }
  auto *f = new Fanout(&client_, c, Fanout::kAllMasters);
  c->state.store(CmdState::kWritten, std::memory_order_release);
  replan(f);
}

// One master's part of an all-masters fan-out: ROLE, then the command, on
// the same connection (so no extra round trip): ROLE tells whether the
// node is still a master when the command runs (a failover the client has
// not seen yet leaves a keyless command answered by a replica, without any
// MOVED). Both count in f->pending.
void Cluster::send_to_master(Fanout *f, size_t i, Node *n) {
  const char *role[] = {"ROLE"};
  const size_t role_len[] = {4};
  Command *check = client_.acquire_command();
  Command *child = client_.acquire_command();
  if (check == nullptr || child == nullptr || !encode_command(check->wire, 1, role, role_len) ||
      !child->wire.append(f->parent->wire.data(), f->parent->wire.size())) {
    if (check != nullptr) client_.release_unsubmitted(check);
    if (child != nullptr) client_.release_unsubmitted(child);
    f->status[i] = JR_ENOMEM;
    return;
  }
  check->cb = Fanout::role_done;
  check->userdata = new std::pair<Fanout *, size_t>(f, i);
  check->flags = kFlagDirect | kFlagInternal | kFlagNoRedirect | kFlagMasterFanout;
  check->deadline = f->parent->deadline;
  child->cb = Fanout::child_done;
  child->userdata = new std::pair<Fanout *, size_t>(f, i);
  // MOVED / ASK are followed (a keyed command: the slot's master answers,
  // as justredis does); the entry keeps this master's address.
  child->flags = kFlagDirect | kFlagInternal | kFlagMasterFanout;
  child->deadline = f->parent->deadline;
  f->pending += 2;
  client_.start_internal(check);
  client_.start_internal(child);
  n->conn->submit(check);
  n->conn->submit(child);
}

namespace {
// An entry that did not reach a master: retried on a fresher topology.
bool missed_master(const Fanout &f, size_t i) {
  if (f.demoted[i] != 0) return true;
  if (f.status[i] != JR_OK) return jr_err_unsent(f.status[i]) != 0 && f.status[i] != JR_ENOMEM;
  const jr_reply *r = f.replies[i];
  if (r == nullptr || r->type != JR_REPLY_ERROR) return false;
  std::string_view text(r->u.str, r->len);
  for (const char *p :
       {"MOVED ", "ASK ", "TRYAGAIN", "CLUSTERDOWN", "MASTERDOWN", "READONLY", "LOADING"})
    if (text.rfind(p, 0) == 0) return true;
  return false;
}
}  // namespace

// The masters of the current map: entries that reached one of them stay;
// entries of nodes that are not masters any more go; the masters without
// an entry (or whose entry missed) get the command now.
void Cluster::replan(Fanout *f) {
  std::vector<std::string> labels;
  std::vector<int> status;
  std::vector<jr_reply *> replies;
  std::vector<uint8_t> demoted;
  std::vector<std::pair<size_t, Node *>> send;
  std::vector<bool> kept(f->labels.size(), false);
  for (auto &n : nodes_) {
    if (!n->master) continue;
    size_t at = labels.size();
    labels.push_back(n->addr);
    demoted.push_back(0);
    size_t j = 0;
    while (j < f->labels.size() && (f->labels[j] != n->addr || kept[j])) j++;
    if (j < f->labels.size() && !missed_master(*f, j)) {
      kept[j] = true;
      status.push_back(f->status[j]);
      replies.push_back(f->replies[j]);
      continue;
    }
    status.push_back(JR_OK);
    replies.push_back(nullptr);
    send.emplace_back(at, n.get());
  }
  for (size_t j = 0; j < f->labels.size(); j++)
    if (!kept[j]) reply_release(f->replies[j]);
  f->labels.swap(labels);
  f->status.swap(status);
  f->replies.swap(replies);
  f->demoted.swap(demoted);
  f->pending = 1;  // until every part is sent: a part may complete at once
  for (auto &[i, n] : send) send_to_master(f, i, n);
  if (--f->pending == 0) masters_settled(f);
}

namespace {
// The nodes (indexes) that are masters of the map and have an entry of the
// fan-out: the slots they serve are answered for, by a reply or an error.
template <class Nodes>
std::vector<uint8_t> asked_masters(const Fanout &f, const Nodes &nodes) {
  std::vector<uint8_t> asked(nodes.size(), 0);
  for (size_t k = 0; k < nodes.size(); k++)
    asked[k] = nodes[k]->master &&
               std::find(f.labels.begin(), f.labels.end(), nodes[k]->addr) != f.labels.end();
  return asked;
}
}  // namespace

void Cluster::masters_settled(Fanout *f) {
  bool missed = false;
  for (size_t i = 0; i < f->labels.size() && !missed; i++) missed = missed_master(*f, i);
  // Slots no entry answers for: the map names no master for them (their
  // master left it and no replica has taken them yet; unassigned slots),
  // or one this round did not ask.
  std::vector<uint8_t> asked = asked_masters(*f, nodes_);
  bool uncovered = false;
  for (size_t s = 0; s < slots_.size() && !uncovered; s++)
    uncovered = slots_[s] < 0 || asked[static_cast<size_t>(slots_[s])] == 0;
  int64_t deadline = f->parent->deadline;
  if ((missed || uncovered) && f->rounds < 3 && !shutting_down_ &&
      (deadline == 0 || now_ms() < deadline)) {
    // The map this round used is stale (a failover, a migration): wait for
    // a fresh one, then send to the masters that were missed. Remember who
    // served each slot, to name the slots a later map has no master for.
    if (f->owner.empty()) f->owner.assign(slots_.size(), -1);
    for (size_t s = 0; s < slots_.size(); s++)
      if (slots_[s] >= 0 && nodes_[static_cast<size_t>(slots_[s])]->master) f->owner[s] = slots_[s];
    f->rounds++;
    replans_.push_back(f);
    refresh(missed ? "all-masters: a node is no longer a master"
                   : "all-masters: slots without a master");
    return;
  }
  masters_done(f);
}

void Cluster::masters_done(Fanout *f) {
  // A node that said it is a replica has no answer to give.
  for (size_t i = 0; i < f->labels.size(); i++) {
    if (f->demoted[i] == 0) continue;
    reply_release(f->replies[i]);
    f->replies[i] = nullptr;
    f->status[i] = JR_ECLUSTER;
  }
  // The slots no entry answers for get one that says so (JR_ECLUSTER, with
  // the ranges), under the address of their last known master (the seed's
  // when no map named one): the entries account for all 16384 slots, and a
  // caller never takes a partial fan-out for a complete one.
  std::vector<uint8_t> asked = asked_masters(*f, nodes_);
  auto gap = [&](size_t s) { return slots_[s] < 0 || asked[static_cast<size_t>(slots_[s])] == 0; };
  auto who = [&](size_t s) -> int32_t {
    if (slots_[s] >= 0) return slots_[s];
    return f->owner.empty() ? -1 : f->owner[s];
  };
  std::vector<std::pair<int32_t, std::string>> missing;  // node (or -1), "lo-hi, ..."
  for (size_t s = 0; s < slots_.size();) {
    if (!gap(s)) {
      s++;
      continue;
    }
    int32_t node = who(s);
    size_t e = s;
    while (e + 1 < slots_.size() && gap(e + 1) && who(e + 1) == node) e++;
    auto it = std::find_if(missing.begin(), missing.end(),
                           [&](const auto &m) { return m.first == node; });
    if (it == missing.end()) it = missing.insert(missing.end(), {node, std::string()});
    if (!it->second.empty()) it->second += ", ";
    it->second += std::to_string(s) + (e > s ? "-" + std::to_string(e) : std::string());
    s = e + 1;
  }
  if (!missing.empty()) f->notes.resize(f->labels.size());
  for (auto &[node, ranges] : missing) {
    f->labels.push_back(node >= 0 ? nodes_[static_cast<size_t>(node)]->addr
                                  : client_.seed().endpoint_name());
    f->status.push_back(JR_ECLUSTER);
    f->replies.push_back(nullptr);
    f->demoted.push_back(0);
    f->notes.push_back("no master reached for slots " + ranges +
                       " (a failover in progress, or unassigned slots)");
  }
  f->finish();
}

void Cluster::replan_waiting() {
  std::vector<Fanout *> list;
  list.swap(replans_);
  for (Fanout *f : list) replan(f);
}

namespace {
// [[address, role], ...] in one arena.
jr_reply *endpoint_rows(const std::vector<std::pair<std::string, std::string>> &rows) {
  Arena *a = arena_get();
  if (a == nullptr) return nullptr;
  std::vector<jr_reply> pairs(rows.size()), parts(rows.size() * 2);
  std::vector<jr_reply *> two(rows.size() * 2), ptrs(rows.size());
  for (size_t i = 0; i < rows.size(); i++) {
    const std::string *cols[2] = {&rows[i].first, &rows[i].second};
    for (size_t k = 0; k < 2; k++) {
      parts[i * 2 + k] = jr_reply{};
      parts[i * 2 + k].type = JR_REPLY_STRING;
      parts[i * 2 + k].len = cols[k]->size();
      parts[i * 2 + k].u.str = cols[k]->c_str();
      two[i * 2 + k] = &parts[i * 2 + k];
    }
    pairs[i] = jr_reply{};
    pairs[i].type = JR_REPLY_ARRAY;
    pairs[i].len = 2;
    pairs[i].u.elements = &two[i * 2];
    ptrs[i] = &pairs[i];
  }
  jr_reply top{};
  top.type = JR_REPLY_ARRAY;
  top.len = rows.size();
  top.u.elements = ptrs.data();
  jr_reply *root = copy_into(a, &top);
  if (root == nullptr) {
    arena_put(a);
    return nullptr;
  }
  a->set_refs(1);
  return root;
}

struct EndpointsQuery {
  Client *client;
  Command *parent;
  std::string host;  // of the node asked: a node that does not know its own address says ":port"
};

// CLUSTER NODES lines: "<id> <ip:port@cport[,host]> <flags> <master> ...".
void on_cluster_nodes(void *ud, int status, const jr_reply *reply) {
  auto *q = static_cast<EndpointsQuery *>(ud);
  Client *client = q->client;
  Command *parent = q->parent;
  std::string host = std::move(q->host);
  delete q;
  if (status != JR_OK || reply->type == JR_REPLY_ERROR) {
    if (reply != nullptr) reply->arena->ref();  // JR_EAUTH carries one too
    client->complete(parent, status, const_cast<jr_reply *>(reply));
    return;
  }
  std::vector<NodeRow> nodes;
  std::string why;
  if (parse_cluster_nodes(reply, host, nodes, why) != JR_OK) {
    client->emit(JR_EVENT_LOG, "cluster", why);
    client->complete(parent, JR_EPROTO, nullptr);
    return;
  }
  std::vector<std::pair<std::string, std::string>> rows;
  for (auto &n : nodes) rows.emplace_back(std::move(n.addr), n.master ? "master" : "replica");
  std::sort(rows.begin(), rows.end());
  jr_reply *out = endpoint_rows(rows);
  client->complete(parent, out != nullptr ? JR_OK : JR_ENOMEM, out);
}
}  // namespace

void Cluster::endpoints(Command *c) {
  if (!enabled_) {
    jr_reply *out = endpoint_rows({{client_.endpoints().front().display(), "standalone"}});
    client_.complete(c, out != nullptr ? JR_OK : JR_ENOMEM, out);
    return;
  }
  // Ask a live node for the whole membership (CLUSTER SLOTS omits replicas
  // that are still syncing).
  Connection *target = &client_.seed();
  for (auto &n : nodes_)
    if (n->master && n->conn->ready_now()) target = n->conn.get();
  c->state.store(CmdState::kWritten, std::memory_order_release);
  Command *q = client_.acquire_command();
  const char *argv[] = {"CLUSTER", "NODES"};
  const size_t lens[] = {7, 5};
  if (q == nullptr || !encode_command(q->wire, 2, argv, lens)) {
    if (q != nullptr) client_.release_unsubmitted(q);
    client_.complete(c, JR_ENOMEM, nullptr);
    return;
  }
  q->cb = on_cluster_nodes;
  q->userdata = new EndpointsQuery{&client_, c, target->endpoint().host};
  q->flags = kFlagDirect | kFlagInternal | kFlagNoRedirect;
  q->deadline = c->deadline != 0 ? c->deadline : deadline_after(now_ms(), 5000);
  client_.start_internal(q);
  target->submit(q);
}

void Cluster::to_node(Command *c, const std::string &addr) {
  c->flags |= kFlagNoRedirect;
  node(addr).submit(c);
}

// ---- Cluster calls ----------------------------------------------------------

void ClusterCall::run(Client &client) {
  client.arm_deadline(cmd->deadline);
  switch (kind) {
    case kAllMasters:
      client.cluster().all_masters(cmd);  // completes through the fan-out
      break;
    case kToNode:
      client.cluster().to_node(cmd, addr);
      break;
    case kEndpoints:
      client.cluster().endpoints(cmd);
      break;
  }
}

void ClusterCall::fail(Client &client, int status, const jr_reply *detail) {
  if (detail != nullptr) detail->arena->ref();
  client.complete(cmd, status, const_cast<jr_reply *>(detail));
}

}  // namespace jr
