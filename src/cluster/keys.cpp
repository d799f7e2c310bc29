// SPDX-License-Identifier: MIT
#include "cluster/keys.hpp"

#include <cstring>

#include "interpret.hpp"
#include "resp/reply.hpp"

namespace jr {

// ---- Slots --------------------------------------------------------------------

namespace {

// CRC16-CCITT (XMODEM), one table lookup per byte.
struct Crc16Table {
  uint16_t t[256];
  constexpr Crc16Table() : t() {
    for (int i = 0; i < 256; i++) {
      uint16_t crc = static_cast<uint16_t>(i << 8);
      for (int b = 0; b < 8; b++)
        crc = (crc & 0x8000) != 0 ? static_cast<uint16_t>((crc << 1) ^ 0x1021)
                                  : static_cast<uint16_t>(crc << 1);
      t[i] = crc;
    }
  }
};
constexpr Crc16Table kCrc16;

uint16_t crc16(const char *buf, size_t len) noexcept {
  uint16_t crc = 0;
  for (size_t i = 0; i < len; i++)
    crc = static_cast<uint16_t>((crc << 8) ^
                                kCrc16.t[((crc >> 8) ^ static_cast<unsigned char>(buf[i])) & 0xff]);
  return crc;
}

// Lower-cases s into buf (n < size); returns the view, or an empty view
// when s does not fit (no command name is that long).
std::string_view lower_into(std::string_view s, char *buf, size_t size) {
  if (s.size() >= size) return {};
  for (size_t i = 0; i < s.size(); i++) {
    char ch = s[i];
    buf[i] = (ch >= 'A' && ch <= 'Z') ? static_cast<char>(ch + 32) : ch;
  }
  return std::string_view(buf, s.size());
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (char &ch : out)
    if (ch >= 'A' && ch <= 'Z') ch = static_cast<char>(ch + 32);
  return out;
}

int64_t to_int(std::string_view s, int64_t dflt) {
  if (s.empty() || s.size() > 18) return dflt;
  int64_t v = 0;
  for (char ch : s) {
    if (ch < '0' || ch > '9') return dflt;
    v = v * 10 + (ch - '0');
  }
  return v;
}

const jr_reply *el(const jr_reply *r, size_t i) {
  return r != nullptr && r->type == JR_REPLY_ARRAY && i < r->len ? r->u.elements[i] : nullptr;
}

}  // namespace

uint16_t key_slot(const char *key, size_t len) noexcept {
  // Hash only what is between the first '{' and the first '}' after it,
  // when that is not empty.
  for (size_t s = 0; s < len; s++) {
    if (key[s] != '{') continue;
    for (size_t e = s + 1; e < len; e++) {
      if (key[e] != '}') continue;
      if (e > s + 1) return crc16(key + s + 1, e - s - 1) & 16383;
      break;
    }
    break;
  }
  return crc16(key, len) & 16383;
}

bool parse_request(const char *wire, size_t size, size_t &pos,
                   std::vector<std::string_view> &args) {
  args.clear();
  auto number = [&](char prefix, size_t &out) {
    if (pos >= size || wire[pos] != prefix) return false;
    pos++;
    size_t v = 0;
    while (pos < size && wire[pos] != '\r') v = v * 10 + static_cast<size_t>(wire[pos++] - '0');
    if (pos + 1 >= size) return false;
    pos += 2;
    out = v;
    return true;
  };
  size_t argc = 0;
  if (!number('*', argc)) return false;
  for (size_t i = 0; i < argc; i++) {
    size_t len = 0;
    if (!number('$', len) || pos + len + 2 > size) return false;
    args.emplace_back(wire + pos, len);
    pos += len + 2;
  }
  return true;
}

// ---- Key positions -------------------------------------------------------------

void KeyFinder::add(const jr_reply *e) {
  CommandEntry entry;
  if (!parse_command_entry(e, entry)) return;  // a malformed entry: that command stays unknown
  CommandSpec spec;
  spec.movable = entry.movable;
  spec.readonly = entry.readonly;
  spec.first = entry.first;
  spec.last = entry.last;
  spec.step = entry.step;
  specs_[entry.name] = spec;
  const jr_reply *subs = entry.subcommands;
  for (size_t i = 0; subs != nullptr && i < subs->len; i++) add(el(subs, i));
}

void KeyFinder::load(const jr_reply *r) {
  for (size_t i = 0; r != nullptr && r->type == JR_REPLY_ARRAY && i < r->len; i++) add(el(r, i));
}

const CommandSpec *KeyFinder::lookup(std::string_view lower_name) const {
  auto it = specs_.find(lower_name);
  return it != specs_.end() ? &it->second : nullptr;
}

const CommandSpec *KeyFinder::find(const std::vector<std::string_view> &args) const {
  char buf[96];
  std::string_view name = lower_into(args[0], buf, 40);
  if (name.empty()) return nullptr;
  const CommandSpec *top = lookup(name);
  // Container commands (OBJECT, XINFO, MEMORY, ...) have no keys at the top
  // level: their subcommand ("object|encoding") says where the keys are.
  if ((top == nullptr || top->first <= 0) && args.size() >= 2 && args[1].size() < 48) {
    buf[name.size()] = '|';
    std::string_view sub = lower_into(args[1], buf + name.size() + 1, sizeof buf - name.size() - 1);
    if (!sub.empty()) {
      const CommandSpec *s = lookup(std::string_view(buf, name.size() + 1 + sub.size()));
      if (s != nullptr) return s;
    }
  }
  return top;
}

bool KeyFinder::readonly(std::string_view name) const {
  auto it = specs_.find(lower(name));
  return it != specs_.end() && it->second.readonly;
}

bool KeyFinder::keys(const std::vector<std::string_view> &args, std::vector<size_t> &out) const {
  size_t n = args.size();
  const std::string_view cmd = args[0];
  const CommandSpec *spec = find(args);
  if (spec != nullptr && !spec->movable) {
    // The common case: key positions straight from the COMMAND table.
    if (spec->first <= 0) return true;  // keyless
    int last = spec->last < 0 ? static_cast<int>(n) + spec->last : spec->last;
    int step = spec->step > 0 ? spec->step : 1;
    for (int i = spec->first; i <= last && i < static_cast<int>(n); i += step)
      out.push_back(static_cast<size_t>(i));
    return true;
  }
  // Commands whose keys move with their arguments: parse their syntax.
  auto numkeys_at = [&](size_t at, size_t from) {
    if (at >= n) return;
    int64_t k = to_int(args[at], 0);
    for (size_t i = 0; i < static_cast<size_t>(k) && from + i < n; i++) out.push_back(from + i);
  };
  if (ieq(cmd, "EVAL") || ieq(cmd, "EVALSHA") || ieq(cmd, "EVAL_RO") || ieq(cmd, "EVALSHA_RO") ||
      ieq(cmd, "FCALL") || ieq(cmd, "FCALL_RO")) {
    numkeys_at(2, 3);
    return true;
  }
  if (ieq(cmd, "ZUNIONSTORE") || ieq(cmd, "ZINTERSTORE") || ieq(cmd, "ZDIFFSTORE")) {
    if (n > 1) out.push_back(1);
    numkeys_at(2, 3);
    return true;
  }
  if (ieq(cmd, "ZUNION") || ieq(cmd, "ZINTER") || ieq(cmd, "ZDIFF") || ieq(cmd, "ZINTERCARD") ||
      ieq(cmd, "SINTERCARD") || ieq(cmd, "LMPOP") || ieq(cmd, "ZMPOP")) {
    numkeys_at(1, 2);
    return true;
  }
  if (ieq(cmd, "BLMPOP") || ieq(cmd, "BZMPOP")) {
    numkeys_at(2, 3);
    return true;
  }
  if (ieq(cmd, "XREAD") || ieq(cmd, "XREADGROUP")) {
    for (size_t i = 1; i < n; i++) {
      if (!ieq(args[i], "STREAMS")) continue;
      size_t rest = n - i - 1;
      for (size_t k = 0; k < rest / 2; k++) out.push_back(i + 1 + k);
      break;
    }
    return true;
  }
  if (ieq(cmd, "MIGRATE")) {
    if (n > 3 && !args[3].empty()) out.push_back(3);
    for (size_t i = 6; i < n; i++) {
      if (!ieq(args[i], "KEYS")) continue;
      for (size_t k = i + 1; k < n; k++) out.push_back(k);
      break;
    }
    return true;
  }
  if (spec == nullptr) {
    // Unknown here (the table is not loaded yet): assume the common shape.
    if (n > 1) out.push_back(1);
    return false;
  }
  if (spec->first <= 0) return true;  // keyless
  int last = spec->last < 0 ? static_cast<int>(n) + spec->last : spec->last;
  int step = spec->step > 0 ? spec->step : 1;
  for (int i = spec->first; i <= last && i < static_cast<int>(n); i += step)
    out.push_back(static_cast<size_t>(i));
  return true;
}

}  // namespace jr
