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
};
}  // namespace

Tracking::Tracking(Client &client, ClientCache &cache)
    : client_(client), cache_(cache), resp3_(client.opts().protocol == 3) {}

Tracking::~Tracking() = default;

void Tracking::shutdown() {
  stopped_ = true;
  if (inv_) inv_->shutdown();
  cache_.set_live(false);
}

void Tracking::set_endpoints(const std::vector<Endpoint> &eps) {
  if (inv_) inv_->set_endpoints(eps);
}

void Tracking::data_ready(Connection &conn) {
  conn.cache_tracked = false;
  if (client_.cluster().enabled() && resp3_) return;  // tracked per node
  data_ = &conn;
  data_epoch_ = conn.epoch();
  seq_++;
  cache_.set_live(false);
  if (resp3_) {
    enable();
    return;
  }
  if (!inv_) {
    inv_ = std::make_unique<Connection>(client_, client_.endpoints(), Connection::Role::kPush);
    inv_->set_push(this);
  }
  if (subscribed_) {
    enable();
  } else if (!inv_->active()) {
    inv_->connect_now();
  }
}

void Tracking::data_lost(Connection &conn) {
  conn.cache_tracked = false;
  // A cluster's seed connection serves no keyed read: the nodes count.
  if (client_.cluster().enabled() && resp3_) return;
  if (data_ != &conn) return;
  data_ = nullptr;
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

void Tracking::enable() {
  if (data_ == nullptr || stopped_) return;
  if (client_.cluster().enabled()) {
    // A cluster's reads go to the nodes' connections (node_ready). RESP2
    // would need an invalidation connection per node: off there.
    if (!resp3_ && !refused_logged_)
      client_.emit(JR_EVENT_LOG, "", "client-side caching on a cluster needs protocol=3: off");
    refused_logged_ = true;
    return;
  }
  std::vector<std::string> on{"CLIENT", "TRACKING", "on"};
  if (!resp3_) {
    on.insert(on.end(), {"REDIRECT", std::to_string(redirect_id_)});
    // Re-pointing the redirect of a connection already tracking (the
    // invalidation connection was replaced): off first, as the server
    // refuses a prefix it already has.
    send(*data_, {"CLIENT", "TRACKING", "off"}, false);
  }
  const auto &prefixes = cache_.config().prefixes;
  if (!prefixes.empty()) {
    on.emplace_back("BCAST");
    for (const std::string &p : prefixes) {
      if (p.empty()) continue;  // "": every key (BCAST without PREFIX)
      on.emplace_back("PREFIX");
      on.push_back(p);
    }
  }
  send(*data_, on, true);
}

void Tracking::send(Connection &conn, const std::vector<std::string> &args, bool last,
                    Connection *node) {
  Command *c = client_.acquire_command();
  if (c == nullptr) return;  // out of memory: no caching
  std::vector<const char *> argv;
  std::vector<size_t> lens;
  for (const std::string &a : args) {
    argv.push_back(a.data());
    lens.push_back(a.size());
  }
  auto *req =
      new (std::nothrow) TrackingReq{this, node != nullptr ? conn.epoch() : seq_, last, node};
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
  if (req->node != nullptr) {
    Connection *n = req->node;
    uint64_t epoch = req->seq;
    delete req;
    t->node_tracked(*n, epoch, status, reply);
    return;
  }
  bool current = req->seq == t->seq_ && req->last;
  bool ignore_off = !req->last;
  delete req;
  if (ignore_off || !current || t->stopped_) return;
  if (status != JR_OK || reply == nullptr || reply->type == JR_REPLY_ERROR) {
    std::string why = status != JR_OK    ? std::string(jr_strerror(status))
                      : reply != nullptr ? std::string(reply->u.str, reply->len)
                                         : std::string("no reply");
    t->client_.emit(JR_EVENT_LOG, "", "client-side caching off: CLIENT TRACKING failed: " + why);
    return;
  }
  if (t->data_ == nullptr || t->data_->epoch() != t->data_epoch_ || !t->data_->ready_now()) return;
  if (!t->resp3_ && !t->subscribed_) return;
  // Live on a standalone server only: until the cluster detection has
  // answered (its CLUSTER SLOTS is written after this), it decides.
  t->tracked_seq_ = t->seq_;
  t->detection_done();
}

void Tracking::detection_done() {
  if (stopped_ || !client_.cluster().detected()) return;  // asked again when it is
  if (client_.cluster().enabled()) {
    if (resp3_) {
      // Tracked per node: the cache is live, and a read fills only from a
      // tracked node connection (Connection::submit).
      cache_.set_live(true);
      return;
    }
    enable();  // says why not, once
    return;
  }
  if (tracked_seq_ != seq_ || data_ == nullptr || !data_->ready_now() ||
      data_->epoch() != data_epoch_)
    return;
  data_->cache_tracked = true;
  cache_.set_live(true);
}

// ---- Cluster (RESP3): tracking per node --------------------------------------------

void Tracking::node_ready(Connection &conn) {
  conn.cache_tracked = false;
  if (stopped_ || !resp3_) return;
  std::vector<std::string> on{"CLIENT", "TRACKING", "on"};
  const auto &prefixes = cache_.config().prefixes;
  if (!prefixes.empty()) {
    on.emplace_back("BCAST");
    for (const std::string &p : prefixes) {
      if (p.empty()) continue;
      on.emplace_back("PREFIX");
      on.push_back(p);
    }
  }
  send(conn, on, true, &conn);
}

void Tracking::node_tracked(Connection &conn, uint64_t epoch, int status, const jr_reply *reply) {
  if (stopped_) return;
  if (status != JR_OK || reply == nullptr || reply->type == JR_REPLY_ERROR) {
    std::string why = status != JR_OK    ? std::string(jr_strerror(status))
                      : reply != nullptr ? std::string(reply->u.str, reply->len)
                                         : std::string("no reply");
    client_.emit(
        JR_EVENT_LOG, conn.endpoint_name(),
        "client-side caching: CLIENT TRACKING failed on a node (its reads are not cached): " + why);
    return;
  }
  // Only in the session that asked: a replaced connection asks again.
  if (conn.epoch() != epoch || !conn.ready_now()) return;
  conn.cache_tracked = true;
}

void Tracking::node_lost(Connection &conn) {
  conn.cache_tracked = false;
  if (stopped_ || !resp3_) return;
  // What it read is not tracked any more, and invalidations meant for it
  // may be lost: everything goes (simplest correct choice), and the reads
  // in flight will not fill.
  flush_all("a cluster node's connection was lost (" + conn.endpoint_name() + ")");
}

void Tracking::topology_changed(const char *why) {
  if (stopped_ || !resp3_) return;
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

// ---- RESP2: the invalidation connection -------------------------------------------

void Tracking::on_ready(Connection &conn) {
  const char *id[] = {"CLIENT", "ID"};
  const size_t id_lens[] = {6, 2};
  conn.write_raw(2, id, id_lens);
  const char *sub[] = {"SUBSCRIBE", "__redis__:invalidate"};
  const size_t sub_lens[] = {9, 20};
  conn.write_raw(2, sub, sub_lens);
  want_id_ = want_sub_ = true;
}

void Tracking::on_push(Connection &conn, jr_reply *reply) {
  if (want_id_) {
    want_id_ = false;
    if (reply->type != JR_REPLY_INTEGER) {
      reply_release(reply);
      client_.emit(JR_EVENT_LOG, "", "client-side caching off: CLIENT ID failed");
      conn.protocol_error("client-side caching: CLIENT ID did not answer an integer");
      return;
    }
    redirect_id_ = reply->u.integer;
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
    enable();
    return;
  }
  std::vector<std::string_view> keys;
  bool all = false;
  std::string why;
  int rc = parse_invalidation(reply, false, keys, &all, why);
  if (rc == 1) apply(keys, all);
  reply_release(reply);
  if (rc < 0) conn.protocol_error("client-side caching: " + why);
  // rc == 0: a pong or another message: nothing to do.
}

void Tracking::on_lost(Connection &) {
  subscribed_ = false;
  want_id_ = want_sub_ = false;
  redirect_id_ = -1;
  seq_++;  // a tracking request in flight redirects to the lost connection
  off("the invalidation connection was lost");
}

bool Tracking::wants_connection(const Connection &) const {
  return !stopped_;
}

bool Tracking::awaiting_reply(const Connection &) const {
  return want_id_ || want_sub_;
}

}  // namespace jr
