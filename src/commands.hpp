// SPDX-License-Identifier: MIT
// Which commands libjr refuses on a multiplexed handle, and why.
#ifndef JR_SRC_COMMANDS_HPP
#define JR_SRC_COMMANDS_HPP

#include <cstddef>

namespace jr {

enum class CommandClass {
  kNormal,
  kRefused,   // breaks multiplexing; reason says what to use instead
  kBlocking,  // may block the connection; needs a dedicated connection
};

struct Classification {
  CommandClass cls = CommandClass::kNormal;
  const char *reason = nullptr;
};

Classification classify(size_t argc, const char *const *argv, const size_t *argvlen) noexcept;
// Reason text for a command name alone (NULL when allowed).
const char *refusal_reason(const char *name, size_t len) noexcept;

}  // namespace jr

#endif  // JR_SRC_COMMANDS_HPP
