// SPDX-License-Identifier: MIT
// MULTI/EXEC and WATCH on the loop thread: a transaction (Tx) rides on one
// command object whose wire holds the whole block; a WATCH holds a pooled
// connection (Lease) until it is released. Their lifetime rules are here
// and in tx.cpp; capi/tx.cpp only checks arguments and maps handles.
#ifndef JR_SRC_TX_HPP
#define JR_SRC_TX_HPP

#include <cstddef>
#include <cstdint>
#include <vector>

#include "command.hpp"
#include "jr/jr.h"
#include "loop/task.hpp"

namespace jr {

class Pool;
class Connection;

// MULTI/EXEC: one command object carries the whole block; each queued
// command's callback is completed from the EXEC reply.
struct Tx {
  struct Item {
    jr_reply_cb cb;
    void *userdata;
  };
  std::vector<Item> items;
  std::vector<jr_reply *> queue_errors;  // per item: its error at queue time
  size_t seen = 0;                       // replies received so far
  bool malformed = false;                // MULTI not +OK, or a queued reply not +QUEUED / error
  bool watch = false;                    // a nil EXEC means a watched key changed
  jr_reply_cb exec_cb = nullptr;
  void *exec_userdata = nullptr;
  ~Tx();
};

// jr_multi_discard and a failed jr_multi_exec: every queued callback of tx
// completes with `code`, on the loop (never inside the call). Owns tx.
struct TxFail final : Task {
  TxFail(Tx *t, int c) noexcept : tx(t), code(c) {}
  ~TxFail() override;
  void run(Client &client) override;
  Tx *tx;
  int code;
};

// A dedicated pooled connection held by a WATCH handle.
struct Lease {
  Pool *pool = nullptr;  // where it asked for a connection
  Connection *conn = nullptr;
  CmdList pending;  // commands before the connection is granted
  bool requested = false;
  bool tracked = false;  // in Client::leases_ (freed with the client unless released)
  bool watched = false;
  uint64_t epoch = 0;  // connection epoch when WATCH was written
};

class Client;

// jr_watch_free: UNWATCH and return the lease's connection, in order with
// the lease's own commands (behind whatever the cluster detection holds).
struct WatchRelease final : Task {
  explicit WatchRelease(Lease *l) noexcept : lease(l) {}
  [[nodiscard]] Order order() const noexcept override { return Order::kBehind; }
  void run(Client &client) override;
  Lease *lease;
};

// The completion callback of a transaction's command object: completes each
// queued callback from the EXEC reply (or with the failure), then exec_cb.
void tx_deliver(void *userdata, int status, const jr_reply *reply);

// jr_multi_discard, a failed jr_multi_exec, jr_client_free: every queued
// callback of tx completes with `code` and tx is freed. On the loop like
// any completion (poll mode: through jr_dispatch), never inside the call,
// so a caller holding a lock its callbacks take cannot deadlock. `here`:
// on the calling thread (jr_client_free: the loop is gone); also when the
// loop cannot take the request (out of memory, a client used after fork).
void tx_fail(Client *impl, Tx *tx, int code, bool here);

}  // namespace jr

#endif  // JR_SRC_TX_HPP
