// SPDX-License-Identifier: MIT
// Where a command's keys are and which hash slot they go to: CRC16 slots,
// the RESP request splitter, and the key positions of each command (the
// server's COMMAND table, and parsers for movable keys).
#ifndef JR_SRC_CLUSTER_KEYS_HPP
#define JR_SRC_CLUSTER_KEYS_HPP

#include <cstdint>
#include <cstring>
#include <functional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "jr/jr.h"

namespace jr {

// CRC16-CCITT (XMODEM) of the key's hash tag, mod 16384 (the cluster spec).
uint16_t key_slot(const char *key, size_t len) noexcept;

// Splits a RESP multi-bulk request into its arguments (views into wire).
// Returns false on a malformed buffer. `pos` is advanced past the command.
bool parse_request(const char *wire, size_t size, size_t &pos, std::vector<std::string_view> &args);

struct CommandSpec {
  int first = 0;
  int last = 0;
  int step = 0;
  bool movable = false;
  bool readonly = false;
};

// Key positions of a command: from the COMMAND table where it is static,
// from a parser of the documented syntax where keys are movable.
class KeyFinder {
 public:
  void load(const jr_reply *command_reply);  // the reply to COMMAND
  // Appends the indexes of args that are keys. Returns false for a command
  // the table does not know.
  bool keys(const std::vector<std::string_view> &args, std::vector<size_t> &out) const;
  [[nodiscard]] bool loaded() const noexcept { return !specs_.empty(); }
  [[nodiscard]] bool readonly(std::string_view name) const;

 private:
  void add(const jr_reply *entry);
  const CommandSpec *find(const std::vector<std::string_view> &args) const;
  const CommandSpec *lookup(std::string_view lower_name) const;
  struct Hash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const noexcept {
      return std::hash<std::string_view>{}(s);
    }
  };
  std::unordered_map<std::string, CommandSpec, Hash, std::equal_to<>> specs_;
};

// Case-insensitive: a equals the upper-case b.
inline bool ieq(std::string_view a, const char *b) {
  size_t n = std::strlen(b);
  if (a.size() != n) return false;
  for (size_t i = 0; i < n; i++) {
    char ch = a[i];
    if (ch >= 'a' && ch <= 'z') ch = static_cast<char>(ch - 32);
    if (ch != b[i]) return false;
  }
  return true;
}

}  // namespace jr

#endif  // JR_SRC_CLUSTER_KEYS_HPP
