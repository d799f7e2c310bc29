// SPDX-License-Identifier: MIT
// Control tasks: work for the loop thread that is not a request on the wire
// (a WATCH lease's release, a subscription change, a monitor start or stop,
// new credentials, a failed transaction's callbacks, a cluster call to plan).
// A task rides the inbox in order with the requests the same thread
// submitted before it (Queued, command.hpp); each kind is its own subclass,
// next to the concept it serves. Allocated only on these control paths: a
// request never pays for one.
#ifndef JR_SRC_LOOP_TASK_HPP
#define JR_SRC_LOOP_TASK_HPP

#include <cstdint>

#include "command.hpp"
#include "jr/jr.h"

namespace jr {

class Client;

struct Task : Queued {
  // When the task may run relative to what the cluster detection holds.
  enum class Order : uint8_t {
    kNow,        // at once (subscriptions, monitors, credentials, tx failures)
    kDetection,  // waits for the cluster detection like a request (cluster calls)
    kBehind,     // always behind what the detection holds (a WATCH release)
  };

  Task() noexcept { is_task = true; }
  Task(const Task &) = delete;
  Task &operator=(const Task &) = delete;
  virtual ~Task() = default;

  [[nodiscard]] virtual Order order() const noexcept { return Order::kNow; }
  // A deadline (now_ms() based, 0 = none) while the cluster detection holds it.
  [[nodiscard]] virtual int64_t deadline() const noexcept { return 0; }
  // It carries an application's request (counted as submitted when the
  // loop takes the task in).
  [[nodiscard]] virtual bool carries_request() const noexcept { return false; }
  // Loop thread: takes effect. The client deletes the task afterwards.
  virtual void run(Client &client) = 0;
  // Loop thread: it will not be run normally (jr_client_free, a failed
  // cluster detection, a hold that timed out). A control task takes effect
  // anyway (a release still releases); one carrying a request completes it
  // with `status` (`detail`: the server's error reply, or NULL; ref taken
  // here). The client deletes the task afterwards.
  virtual void fail(Client &client, int status, const jr_reply *detail) {
    (void)status;
    (void)detail;
    run(client);
  }
};

}  // namespace jr

#endif  // JR_SRC_LOOP_TASK_HPP
