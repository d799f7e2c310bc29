// SPDX-License-Identifier: MIT
// A small RESP3 parser of its own, for fuzz_reply's differential check: a
// recursive descent over the whole input written from the RESP3 spec, with
// no code shared with jr::ReplyReader (hiredis's reader behind libjr's
// AttributeFilter and limits). Where the spec leaves a choice, it makes the
// one libjr documents:
//   - a length is an optional '-' and digits without a leading zero (hiredis's
//     string2ll), -1 (nil, for every aggregate and bulk type) or 0..2^63-1;
//     an aggregate's count at most INT_MAX;
//   - at most 8 levels of aggregates (a 9th is refused; a nil is no level);
//   - ',' is "inf", "-inf", "nan", "-nan" (any case) or what strtod reads
//     whole as a finite number, under 326 bytes; '#' is t/T/f/F; '(' is
//     digits with an optional leading '-'; '_' is empty; '+' and '-' hold
//     no CR or LF; '=' has >= 4 bytes, the 4th a ':';
//   - a blob error ('!') is a bulk whose length is not -1, and an error
//     reply like '-' (its canonical text is the same);
//   - attributes ('|') are skipped wherever an item may start, and do not
//     count as an element; inside one, only the structure is checked (type
//     bytes, lengths, the limits), not what a line says;
//   - limits: a bulk longer than max_bulk_len or an aggregate (a map's
//     count twice) longer than max_elements fails on its header.
// At the end of the input it says whether the bytes stopped inside a reply,
// and when a failure is seen there: a length line of a reply that has not
// ended fails once 22 bytes without CRLF are there (libjr judges a pending
// header early); inside an attribute a length line fails at its first
// impossible byte.
// The result is a canonical text per reply, the same one fuzz_reply writes
// for libjr's trees.
#ifndef JR_FUZZ_RESP3_REF_HPP
#define JR_FUZZ_RESP3_REF_HPP

#include <strings.h>

#include <cctype>
#include <cinttypes>
#include <climits>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

namespace resp3ref {

struct Limits {
  int64_t max_bulk_len;
  int64_t max_elements;
};

enum class End { kClean, kPartial, kError };

struct Outcome {
  std::vector<std::string> replies;
  End end = End::kClean;
};

class Parser {
 public:
  Parser(const std::string &in, Limits lim) : s_(in), lim_(lim) {}

  Outcome run() {
    Outcome o;
    size_t p = 0;
    while (p < s_.size()) {
      std::string out;
      size_t q = p;
      St st = item(q, 0, false, &out);
      if (st == St::kMore) {
        o.end = End::kPartial;
        return o;
      }
      if (st == St::kErr) {
        o.end = End::kError;
        return o;
      }
      o.replies.push_back(out);
      p = q;
    }
    return o;
  }

 private:
  enum class St { kOk, kMore, kErr };
  static constexpr int kMaxDepth = 8;

  // A length line at p (after the type byte). strict: inside an attribute,
  // where an impossible byte fails at once.
  St length(size_t &p, bool strict, int64_t &v) const {
    size_t n = s_.size();
    if (strict) {
      bool neg = false, zero = false;
      int digits = 0;
      uint64_t x = 0;
      for (size_t i = p;; i++) {
        if (i >= n) return St::kMore;
        char c = s_[i];
        if (c == '\r') {
          if (i + 1 >= n) return St::kMore;
          if (s_[i + 1] != '\n') return St::kErr;
          if (digits == 0 || (neg && x != 1) || x > static_cast<uint64_t>(INT64_MAX))
            return St::kErr;
          v = neg ? -1 : static_cast<int64_t>(x);
          p = i + 2;
          return St::kOk;
        }
        if (c == '-' && i == p) {
          neg = true;
        } else if (c >= '0' && c <= '9' && !zero && digits < 19) {
          zero = digits == 0 && c == '0';
          x = x * 10 + static_cast<uint64_t>(c - '0');
          digits++;
        } else {
          return St::kErr;
        }
      }
    }
    size_t e = s_.find("\r\n", p);
    if (e == std::string::npos) return n - p >= 22 ? St::kErr : St::kMore;
    if (e - p > 20) return St::kErr;
    std::string t = s_.substr(p, e - p);
    if (!integer(t, v)) return St::kErr;
    if (v < -1) return St::kErr;
    p = e + 2;
    return St::kOk;
  }

  // Strict decimal: "0", or an optional '-' and digits without a leading
  // zero, in int64.
  static bool integer(const std::string &t, int64_t &v) {
    size_t i = 0;
    bool neg = false;
    if (t.empty()) return false;
    if (t[0] == '-') {
      neg = true;
      i = 1;
    }
    if (i >= t.size()) return false;
    if (t[i] == '0' && t.size() != 1) return false;
    uint64_t x = 0;
    for (; i < t.size(); i++) {
      if (t[i] < '0' || t[i] > '9') return false;
      uint64_t d = static_cast<uint64_t>(t[i] - '0');
      if (x > (UINT64_MAX - d) / 10) return false;
      x = x * 10 + d;
    }
    if (neg) {
      if (x > static_cast<uint64_t>(INT64_MAX) + 1) return false;
      v = x == static_cast<uint64_t>(INT64_MAX) + 1 ? INT64_MIN : -static_cast<int64_t>(x);
    } else {
      if (x > static_cast<uint64_t>(INT64_MAX)) return false;
      v = static_cast<int64_t>(x);
    }
    return true;
  }

  static bool valid_double(const std::string &t) {
    if (t.size() >= 326) return false;
    // Compared with their lengths: the text may hold NUL bytes.
    const char *c = t.c_str();
    for (const char *word : {"inf", "-inf", "nan", "-nan"})
      if (t.size() == std::strlen(word) && strncasecmp(c, word, t.size()) == 0) return true;
    if (t.empty()) return false;
    char *end = nullptr;
    double d = std::strtod(c, &end);
    return end == c + t.size() && std::isfinite(d);
  }

  // One item, attributes in front of it skipped. out: its canonical text
  // (nullptr inside an attribute).
  St item(size_t &p, int depth, bool in_attr, std::string *out) {
    size_t n = s_.size();
    for (;;) {
      if (p >= n) return St::kMore;
      if (s_[p] != '|') break;
      if (depth >= kMaxDepth) return St::kErr;
      p++;
      int64_t count = 0;
      St st = length(p, true, count);
      if (st != St::kOk) return st;
      if (count < 0 || count > INT_MAX) return St::kErr;
      if (count * 2 > lim_.max_elements) return St::kErr;
      for (int64_t i = 0; i < count * 2; i++) {
        st = item(p, depth + 1, true, nullptr);
        if (st != St::kOk) return st;
      }
    }
    char type = s_[p++];
    switch (type) {
      case '+':
      case '-':
      case ':':
      case ',':
      case '_':
      case '#':
      case '(': {
        size_t e = s_.find("\r\n", p);
        if (e == std::string::npos) return St::kMore;
        std::string t = s_.substr(p, e - p);
        p = e + 2;
        if (in_attr) return St::kOk;
        switch (type) {
          case '+':
          case '-':
            if (t.find_first_of("\r\n") != std::string::npos) return St::kErr;
            *out += type + t;
            break;
          case ':': {
            int64_t v = 0;
            if (!integer(t, v)) return St::kErr;
            *out += ":" + std::to_string(v);
            break;
          }
          case ',':
            if (!valid_double(t)) return St::kErr;
            *out += "," + t;
            break;
          case '_':
            if (!t.empty()) return St::kErr;
            *out += "_";
            break;
          case '#':
            if (t.size() != 1 || std::strchr("tTfF", t[0]) == nullptr) return St::kErr;
            *out += t[0] == 't' || t[0] == 'T' ? "#1" : "#0";
            break;
          case '(':
            for (size_t i = 0; i < t.size(); i++)
              if (!(i == 0 && t[0] == '-') && (t[i] < '0' || t[i] > '9')) return St::kErr;
            *out += "(" + t;
            break;
        }
        return St::kOk;
      }
      case '$':
      case '=':
      case '!': {
        int64_t len = 0;
        St st = length(p, in_attr, len);
        if (st != St::kOk) return st;
        if (len == -1 && type == '!') return St::kErr;
        if (len == -1) {
          if (!in_attr) *out += "_";
          return St::kOk;
        }
        if (len > lim_.max_bulk_len) return St::kErr;
        if (n - p < static_cast<uint64_t>(len) + 2) return St::kMore;
        std::string t = s_.substr(p, static_cast<size_t>(len));
        p += static_cast<size_t>(len) + 2;  // the 2 bytes after it are not read
        if (in_attr) return St::kOk;
        if (type == '!') {
          *out += "-" + t;
        } else if (type == '=') {
          if (t.size() < 4 || t[3] != ':') return St::kErr;
          *out += "=" + t.substr(0, 3) + ":" + std::to_string(t.size() - 4) + ":" + t.substr(4);
        } else {
          *out += "$" + std::to_string(t.size()) + ":" + t;
        }
        return St::kOk;
      }
      case '*':
      case '%':
      case '~':
      case '>': {
        int64_t count = 0;
        St st = length(p, in_attr, count);
        if (st != St::kOk) return st;
        if (count == -1) {
          if (!in_attr) *out += "_";
          return St::kOk;
        }
        if (count > INT_MAX || depth >= kMaxDepth) return St::kErr;
        int64_t elements = type == '%' ? count * 2 : count;
        if (elements > lim_.max_elements) return St::kErr;
        if (!in_attr) *out += std::string(1, type) + std::to_string(elements) + "[";
        for (int64_t i = 0; i < elements; i++) {
          st = item(p, depth + 1, in_attr, out);
          if (st != St::kOk) return st;
          if (!in_attr && i + 1 < elements) *out += ",";
        }
        if (!in_attr) *out += "]";
        return St::kOk;
      }
      default:
        return St::kErr;
    }
  }

  const std::string &s_;
  Limits lim_;
};

inline Outcome parse(const std::string &in, Limits lim) {
  return Parser(in, lim).run();
}

}  // namespace resp3ref

#endif  // JR_FUZZ_RESP3_REF_HPP
