// SPDX-License-Identifier: MIT
// extern "C" shims for MULTI/EXEC and WATCH: argument checks and the C
// handles (a transaction taken from a WATCH and the WATCH know each other
// while both exist). What a transaction does is src/tx.cpp's.
#include "tx.hpp"

#include <cstring>
#include <new>
#include <string>
#include <vector>

#include "capi.hpp"
#include "commands.hpp"
#include "options.hpp"

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

namespace {

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

// Completes every queued callback with `code` and frees the handle (the
// rule, on the loop or `here`, is jr::tx_fail's).
void multi_fail(jr_multi *m, int code, bool here) {
  multi_unlink(m);
  m->owner->untrack(m);
  jr::tx_fail(m->impl, m->tx, code, here);
  delete m;
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
  auto *r = new (std::nothrow) jr::WatchRelease(w->lease);
  if (r != nullptr && !w->impl->submit_task(r)) {
    // The client is closing: its shutdown releases every lease.
    delete r;
  }
  w->owner->untrack(w);
  delete w;
}

}  // extern "C"
