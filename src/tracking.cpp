// SPDX-License-Identifier: MIT
// CLIENT TRACKING and the invalidations: see tracking.hpp.
#include "tracking.hpp"

#include <string_view>
#include <vector>

#include "cluster/cluster.hpp"
#include "interpret.hpp"
#include "loop/client.hpp"

namespace jr {

namespace {
// The userdata of a tracking request: which one it was.
struct TrackingReq {
  Tracking *t;
  uint64_t seq;
  bool last;                   // the CLIENT TRACKING on (the off before it only clears)
  Connection *node = nullptr;  // cluster: the node connection (seq: its epoch)
  uint64_t gen = 0;            // cluster, RESP2: the Invalidator's generation it redirected to
};

std::string failure_text(int status, const jr_reply *reply) {
  return status != JR_OK    ? std::string(jr_strerror(status))
         : reply != nullptr ? std::string(reply->u.str, reply->len)
                            : std::string("no reply");
}
}  // namespace

Tracking::Tracking(Client &client, ClientCache &cache)
    : client_(client), cache_(cache), resp3_(client.opts().protocol == 3) {}

Tracking::~Tracking() = default;

void Tracking::shutdown() {
  stopped_ = true;
  if (inv_) inv_->conn().shutdown();
  for (auto &inv : node_invs_) inv->conn().shutdown();
  cache_.set_live(false);
}

void Tracking::set_endpoints(const std::vector<Endpoint> &eps) {
  if (inv_) inv_->conn().set_endpoints(eps);
}

void Tracking::data_ready(Connection &conn) {
  conn.cache_tracked = false;
  if (client_.cluster().enabled()) return;  // tracked per node
  data_ = &conn;
  data_epoch_ = conn.epoch();
  seq_++;
  cache_.set_live(false);
  if (resp3_) {
    enable();
    return;
  }
  // RESP2: a cluster would make this invalidation connection useless (it
  // has one per node): it waits for the detection's answer.
  if (!client_.cluster().detected()) {
    start_pending_ = true;
    return;
  }
  start_resp2();
}

void Tracking::start_resp2() {
  start_pending_ = false;
  if (data_ == nullptr || stopped_) return;
  if (!inv_) inv_ = std::make_unique<Invalidator>(*this, client_, client_.endpoints(), nullptr);
  if (inv_->subscribed()) {
    enable();
  } else if (!inv_->conn().active()) {
    inv_->conn().connect_now();
  }
}

void Tracking::data_lost(Connection &conn) {
  conn.cache_tracked = false;
  // A cluster's seed connection serves no keyed read: the nodes count.
  if (client_.cluster().enabled()) return;
  if (data_ != &conn) return;
  data_ = nullptr;
  start_pending_ = false;
  seq_++;
  off("the data connection was lost");
}

void Tracking::off(const std::string &why) {
  bool was = cache_.live();
  if (data_ != nullptr) data_->cache_tracked = false;
  cache_.set_live(false);  // flushed: everything, and the reads in flight
  if (was && client_.log_on())
    client_.log(JR_LOG_INFO, JR_EVENT_LOG, "", "client-side cache flushed: " + why);
}

std::vector<std::string> Tracking::tracking_on(int64_t redirect) const {
  std::vector<std::string> on{"CLIENT", "TRACKING", "on"};
  if (redirect >= 0) on.insert(on.end(), {"REDIRECT", std::to_string(redirect)});
  const auto &prefixes = cache_.config().prefixes;
  if (!prefixes.empty()) {
    on.emplace_back("BCAST");
    for (const std::string &p : prefixes) {
      if (p.empty()) continue;  // "": every key (BCAST without PREFIX)
      on.emplace_back("PREFIX");
      on.push_back(p);
    }
  }
  return on;
}

void Tracking::enable() {
  // A cluster's reads go to the nodes' connections (node_ready).
  if (data_ == nullptr || stopped_ || client_.cluster().enabled()) return;
  if (!resp3_) {
    // Re-pointing the redirect of a connection already tracking (the
    // invalidation connection was replaced): off first, as the server
    // refuses a prefix it already has.
    send(*data_, {"CLIENT", "TRACKING", "off"}, false);
    send(*data_, tracking_on(inv_->id()), true);
    return;
  }
  send(*data_, tracking_on(-1), true);
}

void Tracking::send(Connection &conn, const std::vector<std::string> &args, bool last,
                    Connection *node, uint64_t gen) {
  Command *c = client_.acquire_command();
  if (c == nullptr) return;  // out of memory: no caching
  std::vector<const char *> argv;
  std::vector<size_t> lens;
  for (const std::string &a : args) {
    argv.push_back(a.data());
    lens.push_back(a.size());
  }
  auto *req =
      new (std::nothrow) TrackingReq{this, node != nullptr ? conn.epoch() : seq_, last, node, gen};
  if (req == nullptr || !encode_command(c->wire, argv.size(), argv.data(), lens.data())) {
    delete req;
    client_.release_unsubmitted(c);
    return;
  }
  c->cb = on_tracking_reply;
  c->userdata = req;
  c->flags = kFlagInternal | kFlagDirect;
  client_.start_internal(c);
  conn.submit(c);
}

void Tracking::on_tracking_reply(void *ud, int status, const jr_reply *reply) {
  auto *req = static_cast<TrackingReq *>(ud);
  Tracking *t = req->t;
  bool ignore_off = !req->last;  // the off before an on: its answer says nothing
  if (req->node != nullptr) {
    Connection *n = req->node;
    uint64_t epoch = req->seq;
    uint64_t gen = req->gen;
    delete req;
    if (!ignore_off) t->node_tracked(*n, epoch, gen, status, reply);
    return;
  }
  bool current = req->seq == t->seq_;
  delete req;
  if (ignore_off || !current || t->stopped_) return;
  if (status != JR_OK || reply == nullptr || reply->type == JR_REPLY_ERROR) {
    t->client_.emit(
        JR_EVENT_LOG, "",
        "client-side caching off: CLIENT TRACKING failed: " + failure_text(status, reply));
    return;
  }
  if (t->data_ == nullptr || t->data_->epoch() != t->data_epoch_ || !t->data_->ready_now()) return;
  if (!t->resp3_ && (!t->inv_ || !t->inv_->subscribed())) return;
  // Live on a standalone server only: until the cluster detection has
  // answered (its CLUSTER SLOTS is written after this), it decides.
  t->tracked_seq_ = t->seq_;
  t->detection_done();
}

void Tracking::detection_done() {
  if (stopped_ || !client_.cluster().detected()) return;  // asked again when it is
  if (client_.cluster().enabled()) {
    // Tracked per node: the cache is live, and a read fills only from a
    // tracked node connection (Connection::submit).
    cache_.set_live(true);
    return;
  }
  if (start_pending_) start_resp2();
  if (tracked_seq_ != seq_ || data_ == nullptr || !data_->ready_now() ||
      data_->epoch() != data_epoch_)
    return;
  data_->cache_tracked = true;
  cache_.set_live(true);
}

// ---- Cluster: tracking per node -----------------------------------------------------

void Tracking::node_ready(Connection &conn) {
  conn.cache_tracked = false;
  if (stopped_) return;
  if (resp3_) {
    track_node(conn);
    return;
  }
  Invalidator &inv = node_invalidator(conn);
  if (inv.subscribed()) {
    track_node(conn);
  } else if (!inv.conn().active()) {
    inv.conn().connect_now();  // invalidator_subscribed() tracks the node
  }
}

Invalidator &Tracking::node_invalidator(Connection &conn) {
  for (auto &inv : node_invs_)
    if (inv->node() == &conn) return *inv;
  // The node connection's endpoint (it has one: Cluster::node).
  node_invs_.push_back(
      std::make_unique<Invalidator>(*this, client_, std::vector<Endpoint>{conn.endpoint()}, &conn));
  return *node_invs_.back();
}

void Tracking::track_node(Connection &conn) {
  if (resp3_) {
    send(conn, tracking_on(-1), true, &conn);
    return;
  }
  Invalidator &inv = node_invalidator(conn);
  // A new redirect on a connection that may still track (its invalidation
  // connection was replaced): off first, as for the standalone one.
  send(conn, {"CLIENT", "TRACKING", "off"}, false, &conn, inv.generation());
  send(conn, tracking_on(inv.id()), true, &conn, inv.generation());
}

void Tracking::node_tracked(Connection &conn, uint64_t epoch, uint64_t gen, int status,
                            const jr_reply *reply) {
  if (stopped_) return;
  if (status != JR_OK || reply == nullptr || reply->type == JR_REPLY_ERROR) {
    client_.emit(JR_EVENT_LOG, conn.endpoint_name(),
                 "client-side caching: CLIENT TRACKING failed on a node (its reads are not "
                 "cached): " +
                     failure_text(status, reply));
    return;
  }
  // Only in the session that asked: a replaced connection asks again.
  if (conn.epoch() != epoch || !conn.ready_now()) return;
  if (!resp3_) {
    // RESP2: only while the invalidation connection it redirected to is
    // still the subscribed one.
    const Invalidator &inv = node_invalidator(conn);
    if (!inv.subscribed() || inv.generation() != gen) return;
  }
  conn.cache_tracked = true;
}

void Tracking::node_lost(Connection &conn) {
  conn.cache_tracked = false;
  if (stopped_) return;
  // What it read is not tracked any more, and invalidations meant for it
  // may be lost: everything goes (simplest correct choice), and the reads
  // in flight will not fill.
  flush_all("a cluster node's connection was lost (" + conn.endpoint_name() + ")");
}

void Tracking::topology_changed(const char *why) {
  if (stopped_) return;
  flush_all(std::string("cluster slots moved (") + why + ")");
}

void Tracking::flush_all(const std::string &why) {
  auto before = cache_.counts();
  cache_.flush();
  if (before.entries > 0 && client_.log_on())
    client_.log(JR_LOG_INFO, JR_EVENT_LOG, "", "client-side cache flushed: " + why);
}

// An invalidation's keys (all: a flush, e.g. after FLUSHALL) leave the cache.
void Tracking::apply(const std::vector<std::string_view> &keys, bool all) {
  if (all) {
    cache_.flush();
  } else {
    cache_.invalidate(keys);
  }
}

bool Tracking::data_push(Connection &conn, jr_reply *reply) {
  std::vector<std::string_view> keys;
  bool all = false;
  std::string why;
  int rc = parse_invalidation(reply, true, keys, &all, why);
  if (rc == 0) return false;
  if (rc == 1) {
    apply(keys, all);
    reply_release(reply);
    return true;
  }
  reply_release(reply);
  // A malformed invalidation: what it meant to drop is unknown.
  conn.protocol_error("client-side caching: " + why);
  return true;
}

void Tracking::invalidator_subscribed(Invalidator &inv) {
  if (stopped_) return;
  if (inv.node() == nullptr) {
    enable();
    return;
  }
  if (inv.node()->ready_now()) track_node(*inv.node());
}

void Tracking::invalidator_lost(Invalidator &inv, bool was_subscribed) {
  if (inv.node() == nullptr) {
    seq_++;  // a tracking request in flight redirects to the lost connection
    off("the invalidation connection was lost");
    return;
  }
  // The node's tracking redirects to a connection that is gone: its
  // invalidations are lost from now on. Nothing filled from that node
  // unless it was subscribed (a reconnect attempt that fails again is
  // nothing new).
  inv.node()->cache_tracked = false;
  if (was_subscribed && !stopped_)
    flush_all("a cluster node's invalidation connection was lost (" + inv.node()->endpoint_name() +
              ")");
}

// ---- RESP2: an invalidation connection ---------------------------------------------

Invalidator::Invalidator(Tracking &t, Client &client, const std::vector<Endpoint> &eps,
                         Connection *node)
    : t_(t),
      client_(client),
      node_(node),
      conn_(std::make_unique<Connection>(client, eps, Connection::Role::kPush)) {
  conn_->set_push(this);
}

Invalidator::~Invalidator() = default;

void Invalidator::on_ready(Connection &conn) {
  const char *id[] = {"CLIENT", "ID"};
  const size_t id_lens[] = {6, 2};
  conn.write_raw(2, id, id_lens);
  const char *sub[] = {"SUBSCRIBE", "__redis__:invalidate"};
  const size_t sub_lens[] = {9, 20};
  conn.write_raw(2, sub, sub_lens);
  want_id_ = want_sub_ = true;
}

void Invalidator::on_push(Connection &conn, jr_reply *reply) {
  if (want_id_) {
    want_id_ = false;
    if (reply->type != JR_REPLY_INTEGER) {
      reply_release(reply);
      client_.emit(JR_EVENT_LOG, conn.endpoint_name(), "client-side caching off: CLIENT ID failed");
      conn.protocol_error("client-side caching: CLIENT ID did not answer an integer");
      return;
    }
    id_ = reply->u.integer;
    reply_release(reply);
    return;
  }
  if (want_sub_) {
    PushMsg m;
    std::string why;
    bool ok = parse_push(reply, true, m, why) == JR_OK && m.type == PushMsg::kSubscribe;
    reply_release(reply);
    if (!ok) {
      conn.protocol_error("client-side caching: SUBSCRIBE __redis__:invalidate failed");
      return;
    }
    want_sub_ = false;
    subscribed_ = true;
    t_.invalidator_subscribed(*this);
    return;
  }
  std::vector<std::string_view> keys;
  bool all = false;
  std::string why;
  int rc = parse_invalidation(reply, false, keys, &all, why);
  if (rc == 1) t_.apply(keys, all);
  reply_release(reply);
  if (rc < 0) conn.protocol_error("client-side caching: " + why);
  // rc == 0: a pong or another message: nothing to do.
}

void Invalidator::on_lost(Connection &) {
  bool was = subscribed_;
  subscribed_ = false;
  want_id_ = want_sub_ = false;
  id_ = -1;
  gen_++;
  t_.invalidator_lost(*this, was);
}

bool Invalidator::wants_connection(const Connection &) const {
  // A node's: while its node connection is in use (a node gone from the
  // cluster, idle, is not called forever); node_ready connects it again.
  return !t_.stopped() && (node_ == nullptr || node_->active());
}

bool Invalidator::awaiting_reply(const Connection &) const {
  return want_id_ || want_sub_;
}

}  // namespace jr
