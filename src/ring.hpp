// SPDX-License-Identifier: MIT
// Ring: the growable ring buffer of a connection's FIFO of owed replies.
#ifndef JR_SRC_RING_HPP
#define JR_SRC_RING_HPP

#include <cstddef>
#include <vector>

namespace jr {

// A growable ring buffer (std::deque allocates as it moves).
template <typename T>
class Ring {
 public:
  [[nodiscard]] bool empty() const noexcept { return size_ == 0; }
  [[nodiscard]] size_t size() const noexcept { return size_; }
  T &operator[](size_t i) noexcept { return buf_[(head_ + i) & (buf_.size() - 1)]; }
  T &front() noexcept { return buf_[head_]; }
  T &back() noexcept { return (*this)[size_ - 1]; }
  void push_back(const T &v) {
    if (size_ == buf_.size()) grow();
    buf_[(head_ + size_) & (buf_.size() - 1)] = v;
    size_++;
  }
  T pop_front() noexcept {
    T v = buf_[head_];
    head_ = (head_ + 1) & (buf_.size() - 1);
    size_--;
    return v;
  }
  T pop_back() noexcept {
    T v = back();
    size_--;
    return v;
  }

 private:
  void grow() {
    std::vector<T> nb(buf_.empty() ? 64 : buf_.size() * 2);
    for (size_t i = 0; i < size_; i++) nb[i] = (*this)[i];
    buf_.swap(nb);
    head_ = 0;
  }
  std::vector<T> buf_;
  size_t head_ = 0;
  size_t size_ = 0;
};

}  // namespace jr

#endif  // JR_SRC_RING_HPP
