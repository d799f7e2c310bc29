// SPDX-License-Identifier: MIT
// RESP3 attributes ('|' frames) removed from the byte stream before
// hiredis's reader sees it: hiredis 1.2.0 has no case for '|' in its type
// byte switch and fails the whole stream with "Protocol error, got "|" as
// reply type byte" (at the top level and inside an aggregate alike).
//
// An attribute is metadata about the item that follows it (the spec: "the
// attribute type is exactly like the Map type, but the client should not
// consider such a map part of the reply"); it may come before a reply, a
// push, or any element of an aggregate, and does not count as an element.
// libjr does not deliver attributes (JR_REPLY_ATTR is reserved): the caller
// sees the value that follows.
//
// The filter follows the frame structure byte by byte (type bytes, length
// lines, bulk payloads skipped by their length, aggregate counts on a stack)
// with the rules hiredis applies to the same bytes, so that it and hiredis
// agree on where every item starts. Outside an attribute every byte is kept
// as it arrives (nothing is held back); on anything hiredis would reject (an
// unknown type byte, a malformed or out-of-range length, a 9th level of
// nesting) the filter stops looking and passes the rest through for hiredis
// to reject. Inside an attribute, where hiredis never sees the bytes, the
// filter judges them itself with libjr's limits: max_bulk_len for a string,
// max_elements for a count (a map's and an attribute's count twice), the
// bytes of one attribute against max_reply_bytes, and the attribute with
// everything in it within the 8 levels of nesting a reply may have.
//
// RESP3 blob errors ('!<len>\r\n<bytes>\r\n'), which hiredis 1.2 does not
// parse either, go to hiredis as bulk strings ('$': the same length rules
// and limits) and are made error replies again by the reader: the filter
// counts the bulk strings it hands over and remembers which of them were
// blob errors (take_blob_error), and hiredis builds the strings in the
// same order.
#ifndef JR_SRC_RESP_ATTRIBUTES_HPP
#define JR_SRC_RESP_ATTRIBUTES_HPP

#include <cstddef>
#include <cstdint>
#include <vector>

namespace jr {

class AttributeFilter {
 public:
  struct Limits {
    int64_t max_bulk_len;
    int64_t max_elements;
    size_t max_bytes;  // of one attribute, everything in it included
  };
  // Receives the runs of bytes that are not part of an attribute, in order.
  // Returns 0, or an error code that stops the scan (and is returned by it).
  using Keep = int (*)(void *ctx, const char *p, size_t n);

  // Scans the next n bytes of the stream. The runs before a bad attribute
  // are kept; then it returns JR_EPROTO or JR_ETOOBIG (error() says why),
  // and so does every later call until reset().
  int scan(const char *in, size_t n, const Limits &limits, Keep keep, void *ctx) noexcept;
  void reset() noexcept { *this = AttributeFilter(); }
  // The reader built its n-th bulk string (1-based, counted since reset()):
  // true when it was a blob error. Called for every one, in order.
  [[nodiscard]] bool take_blob_error(uint64_t n) noexcept {
    if (blob_head_ == blob_errors_.size() || blob_errors_[blob_head_] != n) return false;
    if (++blob_head_ == blob_errors_.size()) {
      blob_errors_.clear();
      blob_head_ = 0;
    }
    return true;
  }
  [[nodiscard]] const char *error() const noexcept { return error_; }
  // True between two top-level items (a reply or a push): no attribute
  // being skipped or waiting for the item it describes, nothing given up on.
  [[nodiscard]] bool at_boundary() const noexcept {
    return state_ == State::kType && depth_ == 0 && attr_base_ < 0 && !hdr_attr_ && !item_owed_;
  }
  // Attributes removed so far (tests).
  [[nodiscard]] uint64_t removed() const noexcept { return removed_; }

  static constexpr int kMaxDepth = 8;  // kMaxReplyDepth (reply.hpp)

 private:
  enum class State : uint8_t {
    kType,   // the next byte is an item's type byte
    kLine,   // a simple line (+ - : , _ # (): up to CRLF
    kLen,    // a length line ($ = * ~ > % |)
    kLenLF,  // its CR was seen: LF must follow
    kBulk,   // a bulk's payload and CRLF, skipped by length
    kPass,   // given up: hiredis rejects what comes (everything kept)
    kFailed  // a bad attribute: nothing more is kept
  };
  enum class Kind : uint8_t { kBulk, kAggregate, kAttribute };
  struct Frame {
    uint64_t left;  // items still to come
    bool attr;
  };

  [[nodiscard]] bool dropping() const noexcept { return attr_base_ >= 0 || hdr_attr_; }
  int bad(int code, const char *msg) noexcept;
  // A length line that hiredis would reject: given up on outside an
  // attribute, an error inside one.
  int malformed(const char *msg) noexcept;
  int on_type(char c) noexcept;
  int on_length() noexcept;
  void item_done() noexcept;

  Limits lim_{};  // of the scan() in progress
  State state_ = State::kType;
  Kind kind_ = Kind::kBulk;
  uint64_t mult_ = 1;       // a map's and an attribute's count is of pairs
  bool hdr_attr_ = false;   // reading an attribute's '|' length line
  bool item_owed_ = false;  // a top-level attribute ended: its item is next
  bool cr_ = false;         // kLine: the last byte was CR
  bool neg_ = false;        // kLen: a '-' came first
  bool zero_ = false;       // kLen: the first digit was 0
  int digits_ = 0;          // kLen
  uint64_t value_ = 0;      // kLen
  uint64_t bulk_left_ = 0;  // kBulk: payload and CRLF still to come
  Frame stack_[kMaxDepth]{};
  int depth_ = 0;
  int attr_base_ = -1;     // the outermost attribute's frame, -1: none
  size_t attr_bytes_ = 0;  // bytes of the attribute being removed
  uint64_t removed_ = 0;
  bool blob_ = false;                  // the bulk being read is a blob error ('!')
  bool counted_ = false;               // ... or a bulk string ('$'): hiredis makes a STRING of it
  bool rewrite_ = false;               // its '!' goes to hiredis as '$'
  uint64_t bulks_ = 0;                 // bulk strings ('$' and '!') handed to hiredis
  std::vector<uint64_t> blob_errors_;  // which of them are blob errors, in order
  size_t blob_head_ = 0;               // the first not taken yet
  int code_ = 0;
  const char *error_ = "";
};

}  // namespace jr

#endif  // JR_SRC_RESP_ATTRIBUTES_HPP
