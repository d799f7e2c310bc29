// SPDX-License-Identifier: MIT
// MULTI/EXEC and WATCH on the loop thread: the transaction's replies
// (Connection::tx_reply) and their delivery to each queued callback
// (tx_deliver), a failed or discarded transaction (tx_fail), and a WATCH
// lease's life: requested by its first command, granted a pooled
// connection, released with UNWATCH by jr_watch_free.
#include "tx.hpp"

#include <algorithm>
#include <memory>
#include <new>
#include <string>

#include "conn/connection.hpp"
#include "interpret.hpp"
#include "loop/client.hpp"
#include "pool.hpp"

namespace jr {

// ---- MULTI/EXEC ------------------------------------------------------------------

Tx::~Tx() {
  for (jr_reply *r : queue_errors) reply_release(r);
}

void tx_deliver(void *userdata, int status, const jr_reply *reply) {
  auto *tx = static_cast<Tx *>(userdata);
  size_t n = tx->items.size();
  // A library error keeps its reply (JR_EAUTH: the server's error reply).
  auto fail_all = [&](int code, const jr_reply *detail = nullptr) {
    for (auto &it : tx->items) it.cb(it.userdata, code, detail);
    if (tx->exec_cb != nullptr) tx->exec_cb(tx->exec_userdata, code, detail);
  };
  ExecReply kind = status == JR_OK ? classify_exec(reply, n) : ExecReply::kInvalid;
  if (status != JR_OK) {
    fail_all(status, reply);
  } else if (kind == ExecReply::kResults) {
    for (size_t i = 0; i < n; i++)
      tx->items[i].cb(tx->items[i].userdata, JR_OK, reply->u.elements[i]);
    if (tx->exec_cb != nullptr) tx->exec_cb(tx->exec_userdata, JR_OK, reply);
  } else if (kind == ExecReply::kNil) {
    fail_all(tx->watch ? JR_EWATCH : JR_EPROTO);
  } else if (kind == ExecReply::kError) {
    // EXECABORT: the commands rejected at queue time get their own error;
    // the others get the EXEC error quoting the first of those.
    std::string first;
    for (size_t i = 0; i < n; i++) {
      if (tx->queue_errors[i] != nullptr) {
        first = "command " + std::to_string(i + 1) + ": " +
                std::string(tx->queue_errors[i]->u.str, tx->queue_errors[i]->len);
        break;
      }
    }
    std::string text(reply->u.str, reply->len);
    if (!first.empty()) text += " (" + first + ")";
    jr_reply *abort = make_reply(ReplyPart{JR_REPLY_ERROR, text, 0});
    for (size_t i = 0; i < n; i++) {
      if (tx->queue_errors[i] != nullptr) {
        tx->items[i].cb(tx->items[i].userdata, JR_OK, tx->queue_errors[i]);
      } else if (abort != nullptr) {
        tx->items[i].cb(tx->items[i].userdata, JR_OK, abort);
      } else {
        tx->items[i].cb(tx->items[i].userdata, JR_ENOMEM, nullptr);
      }
    }
    reply_release(abort);
    if (tx->exec_cb != nullptr) tx->exec_cb(tx->exec_userdata, JR_OK, reply);
  } else {
    fail_all(JR_EPROTO);
  }
  delete tx;
}

// A transaction's replies: +OK for MULTI, +QUEUED (or an error) per
// command, then the EXEC reply, which completes the command object.
void Session::tx_reply(Entry &e, jr_reply *reply) {
  Command *c = e.cmd;
  Tx *tx = c->tx;
  size_t idx = tx->seen++;
  size_t n = tx->items.size();
  if (idx < n + 1 && !queued_reply_ok(reply, idx)) tx->malformed = true;
  if (idx >= 1 && idx <= n && reply->type == JR_REPLY_ERROR) {
    tx->queue_errors[idx - 1] = reply;  // keeps the reference
    reply = nullptr;
  }
  if (idx < n + 1) {
    reply_release(reply);
    return;
  }
  fifo_.pop_front();
  if (c->state.load(std::memory_order_relaxed) == CmdState::kDone) {
    reply_release(reply);
  } else if (tx->malformed) {
    // MULTI not acknowledged or a command not queued: the EXEC reply cannot
    // be matched to the commands (they may have run on their own).
    reply_release(reply);
    host_.log("protocol error: a transaction's MULTI or queued replies are malformed");
    host_.complete(c, JR_EPROTO, nullptr);
  } else {
    host_.complete(c, JR_OK, reply);
  }
  host_.release_hold(c);  // the FIFO's
}

void tx_fail(Client *impl, Tx *tx, int code, bool here) {
  if (!here) {
    std::unique_ptr<TxFail> f(new (std::nothrow) TxFail(tx, code));
    if (f != nullptr) {
      if (impl->submit_task(f.get())) {
        (void)f.release();  // the Tx is the task's now
        return;
      }
      f->tx = nullptr;  // refused: completed here
    }
  }
  for (auto &it : tx->items) it.cb(it.userdata, code, nullptr);
  delete tx;
}

TxFail::~TxFail() {
  delete tx;
}

void TxFail::run(Client &client) {
  // Each queued callback completes like any command (loop mode: now, or
  // after the callback that asked; poll mode: through jr_dispatch).
  for (auto &it : tx->items) client.post(it.cb, it.userdata, code, nullptr);
}

// ---- WATCH leases ----------------------------------------------------------------

void Client::track_lease(Lease *l) {
  if (l->tracked) return;
  l->tracked = true;
  leases_.push_back(l);
}

void Client::lease_granted(Lease *l) {
  CmdList list = l->pending;
  l->pending = CmdList();
  while (Command *c = list.pop_front()) l->conn->submit(c);
}

namespace {
void unwatch_done(void *ud, int, const jr_reply *) {
  auto *l = static_cast<Lease *>(ud);
  // The connection returns to the pool once its FIFO is empty.
  if (l->conn != nullptr) l->conn->lease = nullptr;
  delete l;
}
}  // namespace

void WatchRelease::run(Client &client) {
  client.track_lease(lease);
  client.release_lease(lease);
}

// jr_watch_free, in order with the lease's own commands (route, hold).
void Client::release_lease(Lease *l) {
  bool keep = false;  // UNWATCH sent: its callback frees the lease
  leases_.erase(std::remove(leases_.begin(), leases_.end(), l), leases_.end());
  l->tracked = false;
  if (l->conn != nullptr) {
    // UNWATCH after whatever is still queued, then back to the pool.
    Connection *conn = l->conn;
    Command *u = acquire_command();
    const char *argv[] = {"UNWATCH"};
    const size_t lens[] = {7};
    if (u == nullptr || !encode_command(u->wire, 1, argv, lens)) {
      if (u != nullptr) release_unsubmitted(u);
      conn->lease = nullptr;
      conn->reset("out of memory releasing a WATCH connection");
    } else {
      u->cb = unwatch_done;
      u->userdata = l;
      u->flags = kFlagDirect | kFlagInternal;
      u->db = 0;
      u->holds.store(1);
      u->state.store(CmdState::kPending);
      unfinished_.fetch_add(1);
      conn->submit(u);
      keep = true;
    }
  } else {
    if (l->requested && l->pool != nullptr) l->pool->forget(l);
    while (Command *p = l->pending.pop_front()) complete(p, JR_ECLOSED, nullptr);
  }
  if (!keep) delete l;
}

}  // namespace jr
