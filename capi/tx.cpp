// SPDX-License-Identifier: MIT
// extern "C" shims for transactions, WATCH, pub/sub and MONITOR.
#include "tx.hpp"

#include <cstring>
#include <new>
#include <string>

#include "capi.hpp"
#include "commands.hpp"
#include "options.hpp"
#include "pubsub.hpp"

struct jr_watch;

struct jr_multi {
  jr::Client *impl;
  int db;
  jr::Buffer wire;
  jr::Tx *tx;
  jr::Lease *lease;  // set for the transaction that ends a WATCH
  jr_client *owner;
  jr_watch *watch = nullptr;  // that WATCH, while both handles exist
  bool orphaned = false;      // its WATCH was freed first: it cannot run
};

struct jr_watch {
  jr::Client *impl;
  int db;
  jr::Lease *lease;
  bool multi_taken;
  jr_client *owner;
  jr_multi *multi = nullptr;  // the transaction taken from it, not executed yet
};

struct jr_sub {
  jr::Client *impl;
  jr::SubManager::Sub *sub;
  jr_client *owner;
};

struct jr_monitor {
  jr::Client *impl;
  jr::Monitor *monitor;
  jr_client *owner;
};

namespace {

size_t len_of(const char *const *argv, const size_t *lens, size_t i) {
  return lens != nullptr ? lens[i] : std::strlen(argv[i]);
}

bool valid_argv(size_t argc, const char *const *argv, const size_t *argvlen,
                size_t *encoded = nullptr) {
  return jr::check_argv(argc, argv, argvlen, encoded);
}

int resolve_db(jr::Client *c, int db) {
  return db < 0 ? c->opts().database : db;
}

void multi_fail(jr_multi *m, int code, bool here = false);

int multi_create(jr_client *owner, int db, jr::Lease *lease, bool watch, jr_multi **out) {
  auto *m = new jr_multi{owner->impl, db, jr::Buffer(), new jr::Tx(), lease, owner};
  m->tx->watch = watch;
  const char *argv[] = {"MULTI"};
  const size_t lens[] = {5};
  if (!jr::encode_command(m->wire, 1, argv, lens)) {
    delete m->tx;
    delete m;
    return JR_ENOMEM;
  }
  // Never executed when the client is freed: its callbacks get JR_ECLOSED.
  // jr_client_free runs them on its own thread (documented): the loop is gone.
  owner->track(m, [](void *h) { multi_fail(static_cast<jr_multi *>(h), JR_ECLOSED, true); });
  *out = m;
  return JR_OK;
}

// The two handles of a conditional transaction forget each other.
void multi_unlink(jr_multi *m) {
  if (m->watch != nullptr) m->watch->multi = nullptr;
  m->watch = nullptr;
}

bool post_op(jr::Client *impl, jr::Op op, void *obj, jr::Lease *lease = nullptr);

// Completes every queued callback with `code` and frees the handle. The
// callbacks run on the loop like any completion (poll mode: through
// jr_dispatch), never inside the call: a caller that holds a lock its
// callbacks take must not deadlock. `here`: on the calling thread, for
// jr_client_free (the loop is gone), and if the loop cannot take the
// request (out of memory, or a client used after fork()).
void multi_fail(jr_multi *m, int code, bool here) {
  multi_unlink(m);
  m->owner->untrack(m);
  if (!here) {
    auto *f = new (std::nothrow) jr::TxFail{m->tx, code};
    if (f != nullptr && post_op(m->impl, jr::Op::kTxFail, f)) {
      delete m;  // the Tx is the request's now
      return;
    }
    delete f;
  }
  for (auto &it : m->tx->items) it.cb(it.userdata, code, nullptr);
  delete m->tx;
  delete m;
}

// Posts a control request to the loop; false when the client is closing.
bool post_op(jr::Client *impl, jr::Op op, void *obj, jr::Lease *lease) {
  jr::Command *c = impl->acquire_command();
  if (c == nullptr) return false;
  c->op = op;
  c->obj = obj;
  c->lease = lease;
  return impl->submit_op(c) == JR_OK;
}

}  // namespace

extern "C" {

// ---- MULTI/EXEC ---------------------------------------------------------------

JR_API int jr_multi_new(jr_client *client, int db, jr_multi **out) {
  if (out == nullptr) return JR_EINVAL;
  *out = nullptr;
  if (client == nullptr) return JR_EINVAL;
  jr::Client *impl = jr_client_impl(client);
  if (resolve_db(impl, db) != 0 && impl->known_cluster()) return JR_ECLUSTER;
  return jr::guarded(
      [&] { return multi_create(client, resolve_db(impl, db), nullptr, false, out); });
}

JR_API int jr_multi_add(jr_multi *m, size_t argc, const char *const *argv, const size_t *argvlen,
                        jr_reply_cb cb, void *userdata) {
  size_t encoded = 0;
  if (m == nullptr || cb == nullptr || !valid_argv(argc, argv, argvlen, &encoded)) return JR_EINVAL;
  if (jr::classify(argc, argv, argvlen).cls == jr::CommandClass::kRefused) return JR_EREFUSED;
  // The whole block is one command at jr_multi_exec: refused there if over
  // the byte limit, so refused here before it is copied.
  if (m->impl->over_byte_limit(jr::sat_add(m->wire.size(), encoded))) return JR_EFULL;
  return jr::guarded([&] {
    m->tx->items.push_back(jr::Tx::Item{cb, userdata});
    m->tx->queue_errors.push_back(nullptr);
    if (!jr::encode_command(m->wire, argc, argv, argvlen)) {
      m->tx->items.pop_back();
      m->tx->queue_errors.pop_back();
      return JR_ENOMEM;
    }
    return JR_OK;
  });
}

JR_API int jr_multi_exec(jr_multi *m, int64_t timeout_ms, jr_reply_cb exec_cb, void *userdata) {
  if (m == nullptr) return JR_EINVAL;
  if (m->orphaned) {
    // Its WATCH is gone: the transaction cannot run as conditional.
    multi_fail(m, JR_EMISUSE);
    return JR_EMISUSE;
  }
  jr::Client *impl = m->impl;
  const char *argv[] = {"EXEC"};
  const size_t lens[] = {4};
  jr::Command *c = impl->acquire_command();
  if (c == nullptr || !jr::encode_command(m->wire, 1, argv, lens)) {
    if (c != nullptr) impl->release_unsubmitted(c);
    multi_fail(m, JR_ENOMEM);
    return JR_ENOMEM;
  }
  c->wire.swap(m->wire);
  m->tx->exec_cb = exec_cb;
  m->tx->exec_userdata = userdata;
  c->tx = m->tx;
  c->cb = jr::tx_deliver;
  c->userdata = m->tx;
  c->db = m->db;
  c->lease = m->lease;
  if (timeout_ms < 0) timeout_ms = impl->opts().command_timeout_ms;
  c->deadline = jr::deadline_after(jr::now_ms(), timeout_ms);
  int rc = impl->submit_op(c);
  if (rc != JR_OK) {
    multi_fail(m, rc);
    return rc;
  }
  multi_unlink(m);
  m->owner->untrack(m);
  delete m;  // the Tx now belongs to the command
  return JR_OK;
}

JR_API void jr_multi_discard(jr_multi *m) {
  if (m != nullptr) multi_fail(m, JR_EDISCARDED);
}

// ---- WATCH --------------------------------------------------------------------

JR_API int jr_watch_new(jr_client *client, int db, size_t nkeys, const char *const *keys,
                        const size_t *keylens, jr_watch **out) {
  if (out == nullptr) return JR_EINVAL;
  *out = nullptr;
  size_t encoded = 0;
  if (client == nullptr || !valid_argv(nkeys, keys, keylens, &encoded)) return JR_EINVAL;
  jr::Client *impl = jr_client_impl(client);
  if (impl->over_byte_limit(encoded)) return JR_EFULL;
  if (resolve_db(impl, db) != 0 && impl->known_cluster()) return JR_ECLUSTER;
  return jr::guarded([&] {
    std::vector<const char *> argv{"WATCH"};
    std::vector<size_t> lens{5};
    for (size_t i = 0; i < nkeys; i++) {
      argv.push_back(keys[i]);
      lens.push_back(len_of(keys, keylens, i));
    }
    jr::Command *c = impl->acquire_command();
    if (c == nullptr) return JR_ENOMEM;
    if (!jr::encode_command(c->wire, argv.size(), argv.data(), lens.data())) {
      impl->release_unsubmitted(c);
      return JR_ENOMEM;
    }
    auto *w = new jr_watch{impl, resolve_db(impl, db), new jr::Lease(), false, client};
    // The WATCH reply is checked by the transaction (EXEC); an error here
    // surfaces as a failed EXEC, so it needs no user callback.
    c->cb = [](void *, int, const jr_reply *) {};
    c->flags = jr::kFlagWatch | jr::kFlagInternal;
    c->lease = w->lease;
    c->db = w->db;
    c->deadline = jr::deadline_after(jr::now_ms(), impl->opts().command_timeout_ms);
    int rc = impl->submit_op(c);
    if (rc != JR_OK) {
      delete w->lease;
      delete w;
      return rc;
    }
    // Left open at jr_client_free: the client releases the lease itself.
    client->track(w, [](void *h) {
      auto *wh = static_cast<jr_watch *>(h);
      if (wh->multi != nullptr) wh->multi->watch = nullptr;
      delete wh;
    });
    *out = w;
    return JR_OK;
  });
}

JR_API int jr_watch_submit(jr_watch *w, size_t argc, const char *const *argv, const size_t *argvlen,
                           int64_t timeout_ms, jr_reply_cb cb, void *userdata) {
  size_t encoded = 0;
  if (w == nullptr || cb == nullptr || !valid_argv(argc, argv, argvlen, &encoded)) return JR_EINVAL;
  if (w->multi_taken) return JR_EMISUSE;
  if (jr::classify(argc, argv, argvlen).cls != jr::CommandClass::kNormal) return JR_EREFUSED;
  if (w->impl->over_byte_limit(encoded)) return JR_EFULL;
  return jr::guarded([&] {
    jr::Command *c = w->impl->acquire_command();
    if (c == nullptr) return JR_ENOMEM;
    if (!jr::encode_command(c->wire, argc, argv, argvlen)) {
      w->impl->release_unsubmitted(c);
      return JR_ENOMEM;
    }
    c->cb = cb;
    c->userdata = userdata;
    c->lease = w->lease;
    c->db = w->db;
    if (timeout_ms < 0) timeout_ms = w->impl->opts().command_timeout_ms;
    c->deadline = jr::deadline_after(jr::now_ms(), timeout_ms);
    return w->impl->submit_op(c);
  });
}

JR_API int jr_watch_multi(jr_watch *w, jr_multi **out) {
  if (out == nullptr) return JR_EINVAL;
  *out = nullptr;
  if (w == nullptr) return JR_EINVAL;
  if (w->multi_taken) return JR_EMISUSE;
  int rc = jr::guarded([&] { return multi_create(w->owner, w->db, w->lease, true, out); });
  if (rc == JR_OK) {
    w->multi_taken = true;
    w->multi = *out;
    (*out)->watch = w;
  }
  return rc;
}

JR_API void jr_watch_free(jr_watch *w) {
  if (w == nullptr) return;
  if (jr_multi *m = w->multi) {
    // Its transaction, not executed yet, loses the lease it would run on.
    m->watch = nullptr;
    m->lease = nullptr;
    m->orphaned = true;
  }
  if (!post_op(w->impl, jr::Op::kWatchRelease, nullptr, w->lease)) {
    // The client is closing: its shutdown releases every lease.
  }
  w->owner->untrack(w);
  delete w;
}

// ---- Pub/sub ------------------------------------------------------------------

JR_API int jr_sub_new(jr_client *client, jr_message_cb cb, void *userdata, jr_sub **out) {
  if (out == nullptr) return JR_EINVAL;
  *out = nullptr;
  if (client == nullptr || cb == nullptr) return JR_EINVAL;
  jr::Client *impl = jr_client_impl(client);
  return jr::guarded([&] {
    auto *s = new jr::SubManager::Sub();
    s->cb = cb;
    s->userdata = userdata;
    auto *r = new jr::SubManager::Request{jr::SubManager::Request::kNew, s, 0, {}};
    if (!post_op(impl, jr::Op::kSub, r)) {
      delete r;
      delete s;
      return JR_ECLOSED;
    }
    auto *h = new jr_sub{impl, s, client};
    client->track(h, [](void *p) { delete static_cast<jr_sub *>(p); });
    *out = h;
    return JR_OK;
  });
}

static int sub_request(jr_sub *sub, jr::SubManager::Request::Op kind, int pattern, size_t n,
                       const char *const *names, const size_t *lens) {
  if (sub == nullptr || (n > 0 && !valid_argv(n, names, lens))) return JR_EINVAL;
  if (kind == jr::SubManager::Request::kSubscribe && n == 0) return JR_EINVAL;
  if (pattern < JR_SUB_CHANNELS || pattern > JR_SUB_SHARDED) return JR_EINVAL;
  return jr::guarded([&] {
    auto *r = new jr::SubManager::Request{kind, sub->sub, pattern, {}};
    for (size_t i = 0; i < n; i++) r->names.emplace_back(names[i], len_of(names, lens, i));
    if (!post_op(sub->impl, jr::Op::kSub, r)) {
      delete r;
      return JR_ECLOSED;
    }
    return JR_OK;
  });
}

JR_API int jr_sub_subscribe(jr_sub *sub, int pattern, size_t n, const char *const *names,
                            const size_t *lens) {
  return sub_request(sub, jr::SubManager::Request::kSubscribe, pattern, n, names, lens);
}

JR_API int jr_sub_unsubscribe(jr_sub *sub, int pattern, size_t n, const char *const *names,
                              const size_t *lens) {
  return sub_request(sub, jr::SubManager::Request::kUnsubscribe, pattern, n, names, lens);
}

JR_API int jr_sub_ping(jr_sub *sub, const char *text, size_t len) {
  const char *names[] = {text != nullptr ? text : ""};
  const size_t lens[] = {text != nullptr ? len : 0};
  return sub_request(sub, jr::SubManager::Request::kPing, 0, 1, names, lens);
}

JR_API void jr_sub_free(jr_sub *sub) {
  if (sub == nullptr) return;
  auto *r =
      new (std::nothrow) jr::SubManager::Request{jr::SubManager::Request::kFree, sub->sub, 0, {}};
  if (r != nullptr && !post_op(sub->impl, jr::Op::kSub, r)) delete r;
  sub->owner->untrack(sub);
  delete sub;
}

// ---- Cluster -----------------------------------------------------------------

static int op_submit(jr_client *client, jr::Op op, void *obj, size_t argc, const char *const *argv,
                     const size_t *argvlen, int64_t timeout_ms, jr_reply_cb cb, void *userdata) {
  jr::Client *impl = jr_client_impl(client);
  if (argc > 0 && impl->over_byte_limit(jr::encoded_size(argc, argv, argvlen))) return JR_EFULL;
  jr::Command *c = impl->acquire_command();
  if (c == nullptr) return JR_ENOMEM;
  if (argc > 0 && !jr::encode_command(c->wire, argc, argv, argvlen)) {
    impl->release_unsubmitted(c);
    return JR_ENOMEM;
  }
  c->op = op;
  c->obj = obj;
  c->cb = cb;
  c->userdata = userdata;
  if (timeout_ms < 0) timeout_ms = impl->opts().command_timeout_ms;
  c->deadline = jr::deadline_after(jr::now_ms(), timeout_ms);
  return impl->submit_op(c);
}

JR_API int jr_client_submit_all_masters(jr_client *client, size_t argc, const char *const *argv,
                                        const size_t *argvlen, int64_t timeout_ms, jr_reply_cb cb,
                                        void *userdata) {
  if (client == nullptr || cb == nullptr || !valid_argv(argc, argv, argvlen)) return JR_EINVAL;
  if (jr::classify(argc, argv, argvlen).cls != jr::CommandClass::kNormal) return JR_EREFUSED;
  return jr::guarded([&] {
    return op_submit(client, jr::Op::kAllMasters, nullptr, argc, argv, argvlen, timeout_ms, cb,
                     userdata);
  });
}

JR_API int jr_client_submit_to(jr_client *client, const char *endpoint, size_t argc,
                               const char *const *argv, const size_t *argvlen, int64_t timeout_ms,
                               jr_reply_cb cb, void *userdata) {
  if (client == nullptr || endpoint == nullptr || cb == nullptr || !valid_argv(argc, argv, argvlen))
    return JR_EINVAL;
  jr::Endpoint ep;
  if (jr::parse_endpoint(endpoint, ep) != JR_OK) return JR_EINVAL;
  if (jr::classify(argc, argv, argvlen).cls != jr::CommandClass::kNormal) return JR_EREFUSED;
  return jr::guarded([&] {
    auto *addr = new std::string(ep.display());
    int rc =
        op_submit(client, jr::Op::kToNode, addr, argc, argv, argvlen, timeout_ms, cb, userdata);
    if (rc != JR_OK) delete addr;
    return rc;
  });
}

JR_API int jr_client_endpoints(jr_client *client, jr_reply_cb cb, void *userdata) {
  if (client == nullptr || cb == nullptr) return JR_EINVAL;
  return jr::guarded([&] {
    return op_submit(client, jr::Op::kEndpoints, nullptr, 0, nullptr, nullptr, 0, cb, userdata);
  });
}

// ---- Credentials ---------------------------------------------------------------

JR_API int jr_client_set_auth(jr_client *client, const char *username, const char *password) {
  if (client == nullptr || password == nullptr) return JR_EINVAL;
  return jr::guarded([&] {
    auto *cred = new jr::Credentials{username != nullptr ? username : "", password};
    if (!post_op(jr_client_impl(client), jr::Op::kSetAuth, cred)) {
      delete cred;
      return JR_ECLOSED;
    }
    return JR_OK;
  });
}

// ---- MONITOR -------------------------------------------------------------------

JR_API int jr_monitor_new(jr_client *client, jr_message_cb cb, void *userdata, jr_monitor **out) {
  if (out == nullptr) return JR_EINVAL;
  *out = nullptr;
  if (client == nullptr || cb == nullptr) return JR_EINVAL;
  jr::Client *impl = jr_client_impl(client);
  return jr::guarded([&] {
    auto *m = new jr::Monitor(*impl, cb, userdata);
    auto *r = new jr::MonitorRequest{jr::MonitorRequest::kStart, m};
    if (!post_op(impl, jr::Op::kMonitor, r)) {
      delete r;
      delete m;
      return JR_ECLOSED;
    }
    auto *h = new jr_monitor{impl, m, client};
    client->track(h, [](void *p) { delete static_cast<jr_monitor *>(p); });
    *out = h;
    return JR_OK;
  });
}

JR_API void jr_monitor_free(jr_monitor *mon) {
  if (mon == nullptr) return;
  auto *r = new (std::nothrow) jr::MonitorRequest{jr::MonitorRequest::kStop, mon->monitor};
  if (r != nullptr && !post_op(mon->impl, jr::Op::kMonitor, r)) delete r;
  mon->owner->untrack(mon);
  delete mon;
}

}  // extern "C"
