// SPDX-License-Identifier: MIT
#include "resp/encoder.hpp"

#include <cstdlib>

#include "saturate.hpp"

namespace jr {

bool Buffer::reserve(size_t n) noexcept {
  if (n <= cap_) return true;
  if (n > static_cast<size_t>(PTRDIFF_MAX)) return false;  // no object is larger
  size_t cap = cap_ < 64 ? 64 : cap_;
  while (cap < n) cap = cap <= SIZE_MAX / 2 ? cap * 2 : n;  // never wraps to 0
  void *p = std::realloc(data_, cap);
  if (p == nullptr) return false;
  data_ = static_cast<char *>(p);
  cap_ = cap;
  return true;
}

namespace {

inline size_t digits(size_t v) noexcept {
  size_t n = 1;
  while (v >= 10) {
    v /= 10;
    n++;
  }
  return n;
}

// Writes prefix, v in decimal and CRLF at p; returns the end.
inline char *put_header(char *p, char prefix, size_t v) noexcept {
  *p++ = prefix;
  size_t n = digits(v);
  char *end = p + n;
  do {
    *--end = static_cast<char>('0' + v % 10);
    v /= 10;
  } while (v != 0);
  p += n;
  *p++ = '\r';
  *p++ = '\n';
  return p;
}

inline size_t arg_len(const char *const *argv, const size_t *argvlen, size_t i) noexcept {
  return argvlen != nullptr ? argvlen[i] : std::strlen(argv[i]);
}

}  // namespace

size_t encoded_size(size_t argc, const char *const *argv, const size_t *argvlen) noexcept {
  size_t total = 3 + digits(argc);
  for (size_t i = 0; i < argc; i++) {
    size_t len = arg_len(argv, argvlen, i);
    total = sat_add(total, sat_add(3 + digits(len) + 2, len));
  }
  return total;
}

bool check_argv(size_t argc, const char *const *argv, const size_t *argvlen,
                size_t *encoded) noexcept {
  if (argc == 0 || argv == nullptr) return false;
  for (size_t i = 0; i < argc; i++) {
    if (argv[i] == nullptr) return false;
    if (argvlen != nullptr && argvlen[i] > static_cast<size_t>(PTRDIFF_MAX)) return false;
  }
  if (encoded != nullptr) *encoded = encoded_size(argc, argv, argvlen);
  return true;
}

bool encode_command(Buffer &out, size_t argc, const char *const *argv,
                    const size_t *argvlen) noexcept {
  size_t n = encoded_size(argc, argv, argvlen);
  if (n == SIZE_MAX) return false;  // cannot be; check_argv refuses it first
  char *p = out.grow(n);
  if (p == nullptr) return false;
  p = put_header(p, '*', argc);
  for (size_t i = 0; i < argc; i++) {
    size_t len = arg_len(argv, argvlen, i);
    p = put_header(p, '$', len);
    if (len > 0) std::memcpy(p, argv[i], len);
    p += len;
    *p++ = '\r';
    *p++ = '\n';
  }
  return true;
}

}  // namespace jr
