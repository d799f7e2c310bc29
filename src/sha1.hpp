// SPDX-License-Identifier: MIT
// SHA-1 (FIPS 180-4), for EVALSHA. Not used for anything security related.
#ifndef JR_SRC_SHA1_HPP
#define JR_SRC_SHA1_HPP

#include <cstddef>

namespace jr {

// Writes the 40 lowercase hex digits of SHA1(data) to hex (no NUL).
void sha1_hex(const void *data, size_t len, char hex[40]) noexcept;

}  // namespace jr

#endif  // JR_SRC_SHA1_HPP
