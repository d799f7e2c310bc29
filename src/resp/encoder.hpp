// SPDX-License-Identifier: MIT
// argv -> RESP2 multi-bulk request.
#ifndef JR_SRC_RESP_ENCODER_HPP
#define JR_SRC_RESP_ENCODER_HPP

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <utility>

namespace jr {

// A growable byte buffer that keeps its capacity across clear() so that a
// recycled command or connection buffer does not allocate in steady state.
class Buffer {
 public:
  Buffer() = default;
  ~Buffer() { std::free(data_); }
  Buffer(const Buffer &) = delete;
  Buffer &operator=(const Buffer &) = delete;
  Buffer(Buffer &&o) noexcept : data_(o.data_), size_(o.size_), cap_(o.cap_) {
    o.data_ = nullptr;
    o.size_ = o.cap_ = 0;
  }

  [[nodiscard]] char *data() noexcept { return data_; }
  [[nodiscard]] const char *data() const noexcept { return data_; }
  [[nodiscard]] size_t size() const noexcept { return size_; }
  [[nodiscard]] size_t capacity() const noexcept { return cap_; }
  [[nodiscard]] bool empty() const noexcept { return size_ == 0; }
  void clear() noexcept { size_ = 0; }
  // Frees the storage when it grew past `keep` bytes.
  void shrink(size_t keep) noexcept {
    if (cap_ > keep) {
      std::free(data_);
      data_ = nullptr;
      size_ = cap_ = 0;
    }
  }
  bool reserve(size_t n) noexcept;
  // Returns a pointer to n writable bytes at the end (size grows by n).
  char *grow(size_t n) noexcept {
    if (n > cap_ - size_) {
      if (n > SIZE_MAX - size_ || !reserve(size_ + n)) return nullptr;
    }
    char *p = data_ + size_;
    size_ += n;
    return p;
  }
  bool append(const char *p, size_t n) noexcept {
    char *d = grow(n);
    if (d == nullptr) return false;
    if (n > 0) std::memcpy(d, p, n);
    return true;
  }
  void swap(Buffer &o) noexcept {
    std::swap(data_, o.data_);
    std::swap(size_, o.size_);
    std::swap(cap_, o.cap_);
  }

 private:
  char *data_ = nullptr;
  size_t size_ = 0;
  size_t cap_ = 0;
};

// Returns the number of bytes the encoding of argv takes; SIZE_MAX when
// that does not fit in a size_t (it saturates, never wraps).
size_t encoded_size(size_t argc, const char *const *argv, const size_t *argvlen) noexcept;
// Checks the arguments of a command as a caller passed them: argc > 0,
// argv and every argv[i] not NULL, and every length one an object can have
// (at most PTRDIFF_MAX; argvlen NULL: NUL-terminated). Nothing past a NULL
// entry or a bad length is read. On success *encoded (may be NULL) is
// encoded_size(). Returns true if valid.
bool check_argv(size_t argc, const char *const *argv, const size_t *argvlen,
                size_t *encoded) noexcept;
// Appends the RESP encoding of argv to out. Returns false on OOM.
bool encode_command(Buffer &out, size_t argc, const char *const *argv,
                    const size_t *argvlen) noexcept;

}  // namespace jr

#endif  // JR_SRC_RESP_ENCODER_HPP
