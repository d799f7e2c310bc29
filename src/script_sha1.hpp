// SPDX-License-Identifier: MIT
// The SHA-1 of a Lua script, as EVALSHA names it (the EVAL -> EVALSHA
// cache). Computed by OpenSSL's libcrypto; not used for anything security
// related.
#ifndef JR_SRC_SCRIPT_SHA1_HPP
#define JR_SRC_SCRIPT_SHA1_HPP

#include <cstddef>

namespace jr {

// Writes the 40 lowercase hex digits of SHA1(data) to hex (no NUL).
// Returns false (hex untouched) only if libcrypto fails (out of memory, or
// a provider configuration without SHA-1). Thread-safe.
[[nodiscard]] bool script_sha1_hex(const void *data, size_t len, char hex[40]) noexcept;

}  // namespace jr

#endif  // JR_SRC_SCRIPT_SHA1_HPP
