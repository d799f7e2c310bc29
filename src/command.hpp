// SPDX-License-Identifier: MIT
// A command object: what one accepted request carries from the submitting
// thread through the inbox to a connection's FIFO and back as a completion,
// the intrusive lists that queue it (alone, or in the inbox in order with
// control tasks, loop/task.hpp), and the slab that pools it.
#ifndef JR_SRC_COMMAND_HPP
#define JR_SRC_COMMAND_HPP

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "jr/jr.h"
#include "resp/encoder.hpp"
#include "saturate.hpp"

namespace jr {

int64_t now_ms() noexcept;
int64_t now_ns() noexcept;  // CLOCK_MONOTONIC in ns (now_ms's clock)

enum class CmdState : uint8_t { kFree, kPending, kWritten, kDone };

enum CmdFlags : uint8_t {
  kFlagDirect = 1,       // complete on the loop thread even in poll mode (jr_client_call)
  kFlagBlocking = 2,     // runs on a dedicated pooled connection
  kFlagInternal = 4,     // sent by libjr itself (UNWATCH, ...)
  kFlagWatch = 8,        // the WATCH that starts a lease
  kFlagAsking = 16,      // cluster ASK: send ASKING first
  kFlagNoRedirect = 32,  // sent to a chosen node: do not follow MOVED/ASK
  // Part of an all-masters fan-out (its ROLE check or its command): its
  // node is its target. MOVED/ASK are followed; anything else (TRYAGAIN,
  // an unreachable node) goes back to the fan-out, which re-plans.
  kFlagMasterFanout = 64,
  kFlagCacheHit = 128,  // answered from the client-side cache: reply holds it until routed
};

struct Tx;
struct Lease;
struct ScriptCall;
struct CacheFill;
class Connection;

// What the loop thread's inbox queues, in the order it was submitted: a
// request (Command) or a control task (loop/task.hpp). One link and one
// kind bit, so a task posted after a thread's requests (a WATCH release, a
// subscription change) runs after them.
struct Queued {
  Queued *next = nullptr;  // intrusive link (inbox, cluster hold, FIFO, completions)
  bool is_task = false;
};

// One accepted request. Pooled: its buffer keeps its capacity across uses.
struct Command : Queued {
  Buffer wire;  // the RESP encoding
  jr_reply_cb cb = nullptr;
  void *userdata = nullptr;
  int db = 0;
  uint8_t flags = 0;
  int64_t deadline = 0;   // now_ms() based; 0 = none
  int64_t submit_ns = 0;  // now_ns() at the submit (latency statistics)
  uint32_t index = 0;
  std::atomic<uint32_t> gen{0};
  std::atomic<CmdState> state{CmdState::kFree};
  // References: one for the completion, one while in a connection's FIFO.
  std::atomic<int> holds{0};
  int status = 0;              // poll mode: kept until dispatched
  jr_reply *reply = nullptr;   // poll mode: kept until dispatched
  Lease *lease = nullptr;      // runs on a leased (WATCH) connection
  Connection *conn = nullptr;  // where it was written (blocking cancel)
  // Extensions of a request, each its own type, owned by its module; null
  // for a plain request.
  ScriptCall *script = nullptr;  // EVAL sent as EVALSHA (scripts.hpp)
  Tx *tx = nullptr;              // MULTI/EXEC (tx.hpp; wire holds the whole block)
  CacheFill *fill = nullptr;     // a cacheable read's token (cache.hpp): may fill on completion
  int64_t charged = 0;           // bytes counted against max_queued_bytes
  uint8_t redirects = 0;         // cluster redirections and retries so far
  bool counted = false;          // counted against max_queued (user commands only)
  // Cold, at the end (the hot fields keep their cache lines): when its
  // bytes were queued for the socket (the trace hook only), and why a
  // library error happened (the endpoint and the cause; set on errors only,
  // cleared after that completion's callback).
  int64_t write_ns = 0;
  std::string detail;

  [[nodiscard]] jr_req_id id() const noexcept {
    return (static_cast<uint64_t>(gen.load(std::memory_order_relaxed)) << 32) | index;
  }
};

// Intrusive FIFO list of T (a Queued): commands, or the inbox's mix.
template <class T>
struct QueuedList {
  T *head = nullptr;
  T *tail = nullptr;
  size_t size = 0;
  [[nodiscard]] bool empty() const noexcept { return head == nullptr; }
  void push_back(T *c) noexcept {
    c->next = nullptr;
    if (tail != nullptr) {
      tail->next = c;
    } else {
      head = c;
    }
    tail = c;
    size++;
  }
  void push_front(T *c) noexcept {
    c->next = head;
    head = c;
    if (tail == nullptr) tail = c;
    size++;
  }
  T *pop_front() noexcept {
    T *c = head;
    if (c == nullptr) return nullptr;
    head = static_cast<T *>(c->next);
    if (head == nullptr) tail = nullptr;
    c->next = nullptr;
    size--;
    return c;
  }
  void append(QueuedList &o) noexcept {
    if (o.head == nullptr) return;
    if (tail != nullptr) {
      tail->next = o.head;
    } else {
      head = o.head;
    }
    tail = o.tail;
    size += o.size;
    o.head = o.tail = nullptr;
    o.size = 0;
  }
  bool remove(T *c) noexcept {
    T *prev = nullptr;
    for (T *it = head; it != nullptr; prev = it, it = static_cast<T *>(it->next)) {
      if (it != c) continue;
      if (prev != nullptr) {
        prev->next = it->next;
      } else {
        head = static_cast<T *>(it->next);
      }
      if (tail == it) tail = prev;
      it->next = nullptr;
      size--;
      return true;
    }
    return false;
  }
};

using CmdList = QueuedList<Command>;
using Inbox = QueuedList<Queued>;

// Slab of commands with stable addresses, indexed for jr_cancel.
class CommandPool {
 public:
  CommandPool() { local_.reserve(kLocalMax); }
  ~CommandPool();
  // Any thread; loop: the caller is the loop thread, which keeps a private
  // free list (no lock per command on its own submits and completions).
  Command *acquire(bool loop) noexcept;  // nullptr on OOM
  void release(Command *c, bool loop) noexcept;
  Command *lookup(uint32_t index) const noexcept;

 private:
  static constexpr uint32_t kChunk = 256;
  static constexpr uint32_t kMaxChunks = 1u << 16;
  static constexpr size_t kLocalMax = 1024;
  std::vector<Command *> local_;  // the loop thread's
  std::mutex mu_;
  std::vector<Command *> free_;
  uint32_t nchunks_ = 0;
  std::unique_ptr<std::atomic<Command *>[]> chunks_ { new std::atomic<Command *>[ kMaxChunks ]() };
};

}  // namespace jr

#endif  // JR_SRC_COMMAND_HPP
