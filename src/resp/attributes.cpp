// SPDX-License-Identifier: MIT
#include "resp/attributes.hpp"

#include <climits>
#include <cstring>

#include "jr/jr.h"

namespace jr {

int AttributeFilter::bad(int code, const char *msg) noexcept {
  state_ = State::kFailed;
  code_ = code;
  error_ = msg;
  return code;
}

int AttributeFilter::malformed(const char *msg) noexcept {
  if (dropping()) return bad(JR_EPROTO, msg);
  state_ = State::kPass;  // hiredis rejects the same line
  return 0;
}

int AttributeFilter::on_type(char c) noexcept {
  mult_ = 1;
  blob_ = c == '!';
  counted_ = c == '$' || c == '!';
  if (depth_ == 0 && !dropping()) item_owed_ = c == '|';
  switch (c) {
    case '+':
    case '-':
    case ':':
    case ',':
    case '_':
    case '#':
    case '(':
      state_ = State::kLine;
      cr_ = false;
      return 0;
    case '!':
      // A blob error: a bulk string for hiredis (scan() writes '$').
      rewrite_ = !dropping();
      [[fallthrough]];
    case '$':
    case '=':
      kind_ = Kind::kBulk;
      break;
    case '%':
      mult_ = 2;
      [[fallthrough]];
    case '*':
    case '~':
    case '>':
      kind_ = Kind::kAggregate;
      break;
    case '|':
      if (depth_ >= kMaxDepth)
        return bad(JR_EPROTO, "protocol error: an attribute nested deeper than 8 aggregates");
      if (!dropping()) {
        attr_bytes_ = 0;
        removed_++;
      }
      hdr_attr_ = true;
      kind_ = Kind::kAttribute;
      mult_ = 2;
      break;
    default:
      // hiredis 1.2 knows no other type byte (the streamed types
      // included): it fails the stream at this byte.
      if (dropping()) return bad(JR_EPROTO, "protocol error: bad type byte in an attribute");
      state_ = State::kPass;
      return 0;
  }
  state_ = State::kLen;
  neg_ = false;
  zero_ = false;
  digits_ = 0;
  value_ = 0;
  return 0;
}

// An item that is not an attribute ended: it counts against its parent's
// elements, and a parent with none left ends too. An attribute's frame
// ending does not count: the item it describes comes next.
void AttributeFilter::item_done() noexcept {
  state_ = State::kType;
  while (depth_ > 0) {
    Frame &f = stack_[depth_ - 1];
    if (--f.left > 0) return;
    depth_--;
    if (f.attr) {
      if (attr_base_ == depth_) attr_base_ = -1;
      return;
    }
  }
}

// The length line is complete. hiredis's rules (string2ll: an optional '-',
// no leading zero, no overflow; then -1 or >= 0, and an aggregate's count
// at most its maxelements, INT_MAX in libjr).
int AttributeFilter::on_length() noexcept {
  if (digits_ == 0 || (neg_ && value_ != 1) || value_ > static_cast<uint64_t>(INT64_MAX))
    return malformed("protocol error: bad length line in an attribute");
  bool nil = neg_;
  state_ = State::kType;
  switch (kind_) {
    case Kind::kBulk:
      // hiredis would take "$-1" for a nil: a blob error has a length.
      if (nil && blob_) return bad(JR_EPROTO, "protocol error: blob error of length -1");
      if (nil) {
        item_done();
        return 0;
      }
      if (!dropping() && counted_) {
        bulks_++;
        if (blob_) {
          try {
            blob_errors_.push_back(bulks_);
          } catch (...) {
            return bad(JR_ENOMEM, "out of memory");
          }
        }
      }
      if (dropping()) {
        if (value_ > static_cast<uint64_t>(lim_.max_bulk_len))
          return bad(JR_ETOOBIG, "bulk string in an attribute longer than max_bulk_len");
        if (value_ + 2 > lim_.max_bytes - attr_bytes_)
          return bad(JR_ETOOBIG, "attribute larger than max_reply_bytes");
      }
      bulk_left_ = value_ + 2;  // hiredis skips the 2 bytes after it unread
      state_ = State::kBulk;
      return 0;
    case Kind::kAggregate: {
      if (nil) {
        item_done();
        return 0;
      }
      if (value_ > static_cast<uint64_t>(INT_MAX))
        return malformed("protocol error: attribute with an aggregate longer than INT_MAX");
      uint64_t count = value_ * mult_;
      if (dropping() && count > static_cast<uint64_t>(lim_.max_elements))
        return bad(JR_ETOOBIG, "attribute with an aggregate longer than max_elements");
      // hiredis's reader refuses a 9th level (reply.cpp's create_array).
      if (depth_ >= kMaxDepth)
        return malformed("protocol error: an attribute nested deeper than 8 aggregates");
      if (count == 0) {
        item_done();
        return 0;
      }
      stack_[depth_++] = Frame{count, false};
      return 0;
    }
    case Kind::kAttribute: {
      if (nil || value_ > static_cast<uint64_t>(INT_MAX))
        return bad(JR_EPROTO, "protocol error: bad attribute length");
      uint64_t count = value_ * 2;
      if (count > static_cast<uint64_t>(lim_.max_elements))
        return bad(JR_ETOOBIG, "attribute longer than max_elements");
      hdr_attr_ = false;
      if (count > 0) {
        if (attr_base_ < 0) attr_base_ = depth_;
        stack_[depth_++] = Frame{count, true};
      }
      return 0;
    }
  }
  return 0;
}

int AttributeFilter::scan(const char *in, size_t n, const Limits &limits, Keep keep,
                          void *ctx) noexcept {
  if (state_ == State::kFailed) return code_;
  lim_ = limits;
  size_t run = 0;  // start of the bytes to keep that were not handed over yet
  size_t i = 0;
  while (i < n && state_ != State::kPass) {
    size_t start = i;
    bool drop = dropping();
    int rc = 0;
    switch (state_) {
      case State::kType:
        rc = on_type(in[i++]);
        drop = dropping();  // an attribute's '|' is its own first byte
        if (rewrite_) {
          // A blob error's '!': what came before it, then '$' in its place.
          rewrite_ = false;
          static constexpr char kDollar = '$';
          int k = start > run ? keep(ctx, in + run, start - run) : 0;
          if (k == 0) k = keep(ctx, &kDollar, 1);
          if (k != 0) return k;
          run = i;
        }
        break;
      case State::kLine: {
        if (cr_ && in[i] == '\n') {
          i++;
          item_done();
          break;
        }
        cr_ = false;
        const void *cr = std::memchr(in + i, '\r', n - i);
        if (cr == nullptr) {
          i = n;
          break;
        }
        size_t j = static_cast<size_t>(static_cast<const char *>(cr) - in);
        if (j + 1 == n) {
          cr_ = true;
          i = n;
        } else if (in[j + 1] == '\n') {
          i = j + 2;
          item_done();
        } else {
          i = j + 1;
        }
        break;
      }
      case State::kLen: {
        char c = in[i++];
        if (c == '\r') {
          state_ = State::kLenLF;
        } else if (c == '-' && digits_ == 0 && !neg_) {
          neg_ = true;
        } else if (c >= '0' && c <= '9' && !zero_ && digits_ < 19) {
          if (digits_ == 0 && c == '0') zero_ = true;
          value_ = value_ * 10 + static_cast<uint64_t>(c - '0');
          digits_++;
        } else {
          rc = malformed("protocol error: bad length line in an attribute");
        }
        break;
      }
      case State::kLenLF:
        rc = in[i++] == '\n' ? on_length()
                             : malformed("protocol error: bad length line in an attribute");
        break;
      case State::kBulk: {
        uint64_t take = n - i < bulk_left_ ? n - i : bulk_left_;
        i += static_cast<size_t>(take);
        bulk_left_ -= take;
        if (bulk_left_ == 0) item_done();
        break;
      }
      case State::kPass:
      case State::kFailed:
        break;
    }
    if (rc != 0) {
      // Nothing of the bad attribute is kept: what came before it is.
      if (start > run && keep(ctx, in + run, start - run) != 0) return rc;
      return rc;
    }
    if (drop) {
      if (start > run) {
        int k = keep(ctx, in + run, start - run);
        if (k != 0) return k;
      }
      run = i;
      attr_bytes_ += i - start;
      if (attr_bytes_ > lim_.max_bytes) {
        bad(JR_ETOOBIG, "attribute larger than max_reply_bytes");
        return code_;
      }
    }
  }
  if (n > run) return keep(ctx, in + run, n - run);
  return 0;
}

}  // namespace jr
