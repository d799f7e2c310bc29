// SPDX-License-Identifier: MIT
// jr.hpp: a header-only C++20 wrapper over the libjr C ABI (jr.h).
//
// Everything here forwards to jr.h; the C header stays the contract (threads,
// ownership, the exactly-once callback rule). This file only adds RAII,
// owned replies, exceptions, lambdas, std::future and coroutines.
//
// Install: libjr installs this header next to jr.h. Build with C++20 and
// link libjr:
//
//   c++ -std=c++20 app.cpp $(pkg-config --cflags --libs jr)
//
// Example (a running redis-server on 127.0.0.1:6379):
//
//   #include <jr/jr.hpp>
//   #include <iostream>
//
//   int main() {
//     jr::Client client(jr::Options().endpoint("127.0.0.1:6379"));
//     client.call({"SET", "greeting", "hello"});
//     std::cout << client.call({"GET", "greeting"}).str() << "\n";  // hello
//
//     // Pipelined: every send() goes out with the others in one write.
//     std::vector<std::future<jr::Reply>> futures;
//     for (int i = 0; i < 100; i++) futures.push_back(client.send({"INCR", "counter"}));
//     for (auto &f : futures) f.get();
//
//     // An explicit pipeline: one call, one wake-up of libjr's loop thread.
//     jr::Args cmds[] = {{"SET", "a", "1"}, {"INCR", "a"}, {"GET", "a"}};
//     for (auto &f : client.send_many(cmds)) f.get();
//
//     // A lambda, called once on libjr's loop thread (must not block).
//     client.submit({"GET", "greeting"}, [](jr::Result r) {
//       if (r.ok()) std::cout << r.reply().str() << "\n";
//     });
//
//     try {
//       client.call({"LPUSH", "greeting", "x"});  // WRONGTYPE
//     } catch (const jr::ServerError &e) {         // the server said no
//       std::cout << e.what() << "\n";
//     } catch (const jr::LibraryError &e) {        // timeout, connection lost, ...
//       std::cout << e.name() << " unsent=" << e.unsent() << "\n";
//     }
//   }
//
// Transactions and pub/sub:
//
//   jr::Transaction tx = client.multi();
//   auto n = tx.add({"INCR", "counter"});  // a future per command
//   tx.add({"SET", "k", "v"});
//   tx.exec().get();                        // the raw EXEC reply
//   std::cout << n.get().integer() << "\n";
//
//   jr::Subscriber sub = client.subscriber([](jr::Message m) {
//     if (m.kind() == "message") std::cout << m.channel() << ": " << m.payload() << "\n";
//   });
//   sub.subscribe({"news"});
//
// Redis Cluster (nothing to configure: libjr detects a cluster and routes by
// slot) and credential rotation:
//
//   for (const jr::Node &n : client.endpoints().get())  // {"10.0.0.1:7000", "master"}, ...
//     std::cout << n.address << " " << n.role << "\n";
//   for (const jr::NodeResult &r : client.send_all_masters({"DBSIZE"}).get())
//     if (r.result.ok()) std::cout << r.address << ": " << r.result.reply().integer() << "\n";
//   client.send_to("10.0.0.1:7000", {"INFO", "server"}).get();  // one node, no redirection
//   client.set_auth("user", "new-password");  // for every connection made from now on
//
// send_all_masters fails with JR_ECLUSTER on a standalone server;
// endpoints() and send_to work there too.
//
// A nil is not "": typed forms say which reply type they expect, and a
// missing key is std::nullopt.
//
//   jr::OptionalString v = client.call_as<jr::OptionalString>({"GET", "k"});
//   auto vs = client.call_as<std::vector<jr::OptionalString>>({"MGET", "a", "b"});
//
// Observability: counters, per-endpoint figures, latency percentiles and
// Prometheus text from any thread; a trace per request and leveled logs
// through std::function handlers that the clients keep alive.
//
//   jr::Client c(jr::Options()
//                    .on_log([](jr::LogLevel l, int, std::string_view ep, std::string_view text) {
//                      if (l <= jr::LogLevel::warn) std::cerr << ep << ": " << text << "\n";
//                    })
//                    .on_trace([](const jr::Trace &t) { /* t.command, t.latency() */ }));
//   jr::Stats s = c.stats();                   // s.completed, s.redirects, ...
//   auto p99 = c.latency(99);                  // std::optional<std::chrono::nanoseconds>
//   std::string metrics = c.stats_text();      // serve at /metrics
//
// Coroutines: `co_await client.async({"GET", "k"})` submits when the
// coroutine suspends and resumes it from the completion, that is on libjr's
// loop thread (loop mode) or inside Client::dispatch() (poll mode). Code after
// the co_await must therefore not block; call() from there fails with
// JR_EMISUSE. jr.hpp brings no task type: use your own (any coroutine type
// whose promise accepts awaitables).
//
// ThreadSanitizer and libstdc++: an exception that std::future::get()
// rethrows was made on the completion thread, and libstdc++'s exception
// reference count is not instrumented, so reading it after get() while the
// completion thread drops the last reference can be reported as a race (a
// false positive of any std::promise::set_exception across threads). Holding
// the state across the catch (f.share()) keeps the report away.
//
// Errors: ServerError (an error reply, e.g. "WRONGTYPE ...") and LibraryError
// (a negative JR_E* code with jr_strerror text, jr_err_unsent and, when
// libjr knows it, jr_error_detail's endpoint and cause) both derive from
// jr::Error. call(), future::get() and co_await throw them; the callback
// form gets a jr::Result that holds either a reply or the error.
#ifndef JR_JR_HPP
#define JR_JR_HPP

#include <jr/jr.h>

#include <chrono>
#include <concepts>
#include <coroutine>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <functional>
#include <future>
#include <initializer_list>
#include <iterator>
#include <memory>
#include <optional>
#include <ranges>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

namespace jr {

using RequestId = jr_req_id;

// Deadlines: default_timeout uses the client's command_timeout_ms; no_timeout
// waits forever.
inline constexpr std::chrono::milliseconds default_timeout{-1};
inline constexpr std::chrono::milliseconds no_timeout{0};

inline const char *version_string() noexcept {
  return jr_version_string();
}

// Why libjr refuses a command (and which API to use instead), or nullptr.
inline const char *refusal_reason(std::string_view name) noexcept {
  return jr_refusal_reason(name.data() != nullptr ? name.data() : "", name.size());
}

// ---- Errors ------------------------------------------------------------------

class Error : public std::runtime_error {
 public:
  enum class Kind { server, library };

  [[nodiscard]] Kind kind() const noexcept { return kind_; }
  [[nodiscard]] bool is_server() const noexcept { return kind_ == Kind::server; }
  [[nodiscard]] bool is_library() const noexcept { return kind_ == Kind::library; }
  // The JR_E* code of a library error; 0 for a server error.
  [[nodiscard]] int code() const noexcept { return code_; }
  // True when the command certainly did not reach the server (safe to retry).
  [[nodiscard]] bool unsent() const noexcept { return code_ < 0 && jr_err_unsent(code_) != 0; }
  // "JR_ECONNLOST", or "server" for a server error reply.
  [[nodiscard]] const char *name() const noexcept {
    return kind_ == Kind::server ? "server" : jr_err_name(code_);
  }

 protected:
  Error(Kind kind, int code, const std::string &what)
      : std::runtime_error(what), kind_(kind), code_(code) {}

 private:
  Kind kind_;
  int code_;
};

// The server answered with an error reply ("ERR ...", "WRONGTYPE ...").
class ServerError : public Error {
 public:
  explicit ServerError(const std::string &message) : Error(Kind::server, 0, message) {}
  // The first word of the message ("WRONGTYPE"), by Redis convention its kind.
  [[nodiscard]] std::string_view prefix() const noexcept {
    std::string_view m(what());
    return m.substr(0, m.find(' '));
  }
};

// libjr failed the command: timeout, connection lost, cancelled, refused...
// Two texts may come with the code, and what() shows both:
// - error_detail(): why, when libjr knows more than the code (jr_error_detail:
//   the endpoint and the cause, e.g. "connect 127.0.0.1:6379: ECONNREFUSED:
//   connection refused"); never contains credentials;
// - detail(): the server's error text, for JR_EAUTH from a handshake the
//   server refused ("WRONGPASS ...").
// what() is jr_strerror's text, then ": " and each of them that says
// something the other does not.
class LibraryError : public Error {
 public:
  explicit LibraryError(int code, std::string detail = {}, std::string error_detail = {})
      : Error(Kind::library, code, compose(code, detail, error_detail)),
        detail_(std::move(detail)),
        error_detail_(std::move(error_detail)) {}
  // The server's error text that came with the error, or "".
  [[nodiscard]] const std::string &detail() const noexcept { return detail_; }
  // libjr's account of the failure (jr_error_detail), or "".
  [[nodiscard]] const std::string &error_detail() const noexcept { return error_detail_; }

 private:
  static std::string compose(int code, const std::string &detail, const std::string &why) {
    std::string s(jr_strerror(code));
    if (!why.empty()) s += ": " + why;
    if (!detail.empty() && why.find(detail) == std::string::npos) s += ": " + detail;
    return s;
  }
  std::string detail_;
  std::string error_detail_;
};

// A reply accessor was used on a reply of another type.
class TypeError : public std::logic_error {
 public:
  using std::logic_error::logic_error;
};

namespace detail {
inline void check(int rc) {
  if (rc < 0) throw LibraryError(rc);
}
}  // namespace detail

// ---- Replies -------------------------------------------------------------------

enum class Type : int {
  none = 0,  // an empty Reply (a library error has no reply)
  string = JR_REPLY_STRING,
  array = JR_REPLY_ARRAY,
  integer = JR_REPLY_INTEGER,
  nil = JR_REPLY_NIL,
  status = JR_REPLY_STATUS,
  error = JR_REPLY_ERROR,
  // RESP3 (option protocol=3)
  double_ = JR_REPLY_DOUBLE,
  boolean = JR_REPLY_BOOL,
  map = JR_REPLY_MAP,
  set = JR_REPLY_SET,
  attr = JR_REPLY_ATTR,  // reserved: attributes are not delivered
  push = JR_REPLY_PUSH,  // never a command's reply
  bignum = JR_REPLY_BIGNUM,
  verb = JR_REPLY_VERB,
};

// An owned reply (or an element of one). Copying and taking elements are
// O(1): they retain the reply's storage (jr_reply_dup). A Reply may be read
// and destroyed on any thread, even after its client is gone.
class Reply {
 public:
  Reply() noexcept = default;
  // Takes ownership of an owned jr_reply (from jr_client_call or jr_reply_dup).
  static Reply adopt(jr_reply *r) noexcept { return Reply(r); }
  // Retains a borrowed reply (e.g. the one passed to a callback).
  static Reply dup(const jr_reply *r) noexcept { return Reply(jr_reply_dup(r)); }

  Reply(const Reply &o) noexcept : r_(jr_reply_dup(o.r_)) {}
  Reply(Reply &&o) noexcept : r_(std::exchange(o.r_, nullptr)) {}
  Reply &operator=(Reply o) noexcept {
    std::swap(r_, o.r_);
    return *this;
  }
  ~Reply() { jr_reply_free(r_); }

  [[nodiscard]] Type type() const noexcept { return static_cast<Type>(jr_reply_get_type(r_)); }
  [[nodiscard]] bool empty() const noexcept { return r_ == nullptr; }
  [[nodiscard]] bool is_string() const noexcept { return type() == Type::string; }
  [[nodiscard]] bool is_array() const noexcept { return type() == Type::array; }
  [[nodiscard]] bool is_integer() const noexcept { return type() == Type::integer; }
  [[nodiscard]] bool is_nil() const noexcept { return type() == Type::nil; }
  [[nodiscard]] bool is_status() const noexcept { return type() == Type::status; }
  [[nodiscard]] bool is_error() const noexcept { return type() == Type::error; }
  [[nodiscard]] bool is_double() const noexcept { return type() == Type::double_; }
  [[nodiscard]] bool is_bool() const noexcept { return type() == Type::boolean; }
  [[nodiscard]] bool is_map() const noexcept { return type() == Type::map; }
  [[nodiscard]] bool is_set() const noexcept { return type() == Type::set; }
  [[nodiscard]] bool is_bignum() const noexcept { return type() == Type::bignum; }
  [[nodiscard]] bool is_verb() const noexcept { return type() == Type::verb; }
  // An array, a set or a map (whose elements alternate keys and values).
  [[nodiscard]] bool is_aggregate() const noexcept {
    Type t = type();
    return t == Type::array || t == Type::set || t == Type::map || t == Type::push;
  }

  // Unchecked (C semantics): the bytes of a string, status or error reply
  // (empty for other types, nil included: use as_optional_string() where a
  // nil means something), the integer (0 for other types), the length of a
  // string or array.
  [[nodiscard]] std::string_view view() const noexcept {
    size_t len = 0;
    const char *s = jr_reply_str(r_, &len);
    return s != nullptr ? std::string_view(s, len) : std::string_view();
  }
  [[nodiscard]] std::string str() const { return std::string(view()); }
  [[nodiscard]] int64_t integer() const noexcept { return jr_reply_integer(r_); }
  [[nodiscard]] size_t size() const noexcept { return jr_reply_len(r_); }
  // A DOUBLE's value (0.0 for other types); a VERB's format ("txt", "mkd";
  // empty for other types). view() gives their text, as for BIGNUM.
  [[nodiscard]] double dbl() const noexcept { return jr_reply_double(r_); }
  [[nodiscard]] std::string_view verb_format() const noexcept {
    const char *f = jr_reply_verb_format(r_);
    return f != nullptr ? std::string_view(f) : std::string_view();
  }

  // Element i of an array (an empty Reply when out of range).
  [[nodiscard]] Reply operator[](size_t i) const noexcept {
    return Reply::dup(jr_reply_element(r_, i));
  }
  // Checked accessors: throw TypeError (or std::out_of_range) on a mismatch.
  [[nodiscard]] Reply at(size_t i) const {
    expect(is_aggregate(), "array");
    if (i >= size()) throw std::out_of_range("jr::Reply::at");
    return (*this)[i];
  }
  // A nil throws TypeError too: a missing key is not "" (see
  // as_optional_string()).
  [[nodiscard]] std::string as_string() const {
    if (is_nil()) throw TypeError("jr::Reply: nil, not a string (use as_optional_string)");
    expect(is_string() || is_status() || is_verb() || is_bignum(), "string");
    return str();
  }
  [[nodiscard]] double as_double() const {
    expect(is_double(), "double");
    return dbl();
  }
  [[nodiscard]] bool as_bool() const {
    expect(is_bool(), "bool");
    return integer() != 0;
  }
  // A map's pairs, in the server's order.
  [[nodiscard]] std::vector<std::pair<Reply, Reply>> as_map() const {
    expect(is_map(), "map");
    std::vector<std::pair<Reply, Reply>> out;
    out.reserve(size() / 2);
    for (size_t i = 0; i + 1 < size(); i += 2) out.emplace_back((*this)[i], (*this)[i + 1]);
    return out;
  }
  [[nodiscard]] int64_t as_integer() const {
    expect(is_integer(), "integer");
    return integer();
  }
  // An array's or a set's elements.
  [[nodiscard]] std::vector<Reply> as_array() const {
    expect(is_array() || is_set(), "array");
    return std::vector<Reply>(begin(), end());
  }
  // A string as an optional: nullopt for nil (GET on a missing key), ""
  // for an empty string.
  [[nodiscard]] std::optional<std::string> as_optional_string() const {
    if (is_nil()) return std::nullopt;
    return as_string();
  }
  // An array of strings that may hold nils (MGET, HMGET): nullopt for each
  // nil element.
  [[nodiscard]] std::vector<std::optional<std::string>> as_optional_strings() const {
    expect(is_array() || is_set(), "array");
    std::vector<std::optional<std::string>> out;
    out.reserve(size());
    for (const Reply &e : *this) out.push_back(e.as_optional_string());
    return out;
  }

  class iterator {
   public:
    using iterator_category = std::forward_iterator_tag;
    using value_type = Reply;
    using difference_type = std::ptrdiff_t;
    using pointer = void;
    using reference = Reply;
    iterator() noexcept = default;
    iterator(const jr_reply *r, size_t i) noexcept : r_(r), i_(i) {}
    Reply operator*() const noexcept { return Reply::dup(jr_reply_element(r_, i_)); }
    iterator &operator++() noexcept {
      ++i_;
      return *this;
    }
    iterator operator++(int) noexcept {
      iterator t = *this;
      ++i_;
      return t;
    }
    bool operator==(const iterator &o) const noexcept { return r_ == o.r_ && i_ == o.i_; }

   private:
    const jr_reply *r_ = nullptr;
    size_t i_ = 0;
  };
  [[nodiscard]] iterator begin() const noexcept { return iterator(r_, 0); }
  [[nodiscard]] iterator end() const noexcept { return iterator(r_, is_aggregate() ? size() : 0); }

  [[nodiscard]] const jr_reply *get() const noexcept { return r_; }
  // Gives up ownership (free with jr_reply_free).
  [[nodiscard]] jr_reply *release() noexcept { return std::exchange(r_, nullptr); }

 private:
  explicit Reply(jr_reply *r) noexcept : r_(r) {}
  void expect(bool ok, const char *what) const {
    if (!ok) throw TypeError(std::string("jr::Reply: not ") + what);
  }
  jr_reply *r_ = nullptr;
};

// What a completion carries: a reply (possibly a server error reply) or a
// library error.
class Result {
 public:
  Result(int status, Reply reply) noexcept : status_(status), reply_(std::move(reply)) {}
  // With libjr's account of a library error (jr_error_detail).
  Result(int status, Reply reply, std::string error_detail) noexcept
      : status_(status), reply_(std::move(reply)), error_detail_(std::move(error_detail)) {}
  // The Result of a completion callback's arguments, with jr_error_detail()
  // read there (it is valid only inside the callback). No allocation on
  // success.
  static Result of_completion(int status, const jr_reply *r) {
    const char *why = status < 0 ? jr_error_detail() : nullptr;
    return why != nullptr ? Result(status, Reply::dup(r), why) : Result(status, Reply::dup(r));
  }

  // 0, or the JR_E* code of a library error.
  [[nodiscard]] int status() const noexcept { return status_; }
  [[nodiscard]] bool ok() const noexcept { return status_ == JR_OK && !reply_.is_error(); }
  [[nodiscard]] bool is_server_error() const noexcept {
    return status_ == JR_OK && reply_.is_error();
  }
  [[nodiscard]] bool is_library_error() const noexcept { return status_ != JR_OK; }
  // Why libjr failed it, when it knows more than the code ("connect
  // 127.0.0.1:6379: ECONNREFUSED: connection refused"); "" otherwise.
  [[nodiscard]] const std::string &error_detail() const noexcept { return error_detail_; }
  // The raw reply: an error reply on a server error; empty on a library
  // error, except JR_EAUTH's (the server's error reply to the handshake).
  [[nodiscard]] const Reply &reply() const &noexcept { return reply_; }
  [[nodiscard]] Reply &&reply() &&noexcept { return std::move(reply_); }
  // The reply; throws ServerError or LibraryError.
  Reply value() const & {
    rethrow();
    return reply_;
  }
  Reply value() && {
    rethrow();
    return std::move(reply_);
  }
  // Throws the error, if any.
  void rethrow() const {
    if (status_ != JR_OK) throw library_error();
    if (reply_.is_error()) throw ServerError(reply_.str());
  }
  // The error as an exception_ptr (null when ok()).
  [[nodiscard]] std::exception_ptr exception() const {
    if (status_ != JR_OK) return std::make_exception_ptr(library_error());
    if (reply_.is_error()) return std::make_exception_ptr(ServerError(reply_.str()));
    return nullptr;
  }

 private:
  [[nodiscard]] LibraryError library_error() const {
    return LibraryError(status_, reply_.is_error() ? reply_.str() : std::string(), error_detail_);
  }
  int status_;
  Reply reply_;
  std::string error_detail_;
};

// ---- Arguments -----------------------------------------------------------------

template <class T>
concept StringLike = std::convertible_to<const T &, std::string_view>;

template <class R>
concept ArgRange = std::ranges::input_range<R> &&
    std::convertible_to<std::ranges::range_reference_t<R>, std::string_view>;

// A borrowed argument list: {"SET", key, value} or any range of string-like
// values (std::string, std::string_view, const char *). Binary safe. Only
// valid during the call it is passed to (libjr copies arguments).
//
// The braced form goes through a variadic constructor rather than an
// std::initializer_list on purpose: GCC 12 rejects an initializer_list
// temporary inside a co_await expression ("array used as initializer"), and
// this keeps `co_await client.async({"GET", "k"})` compiling there.
class Args {
 public:
  Args() noexcept = default;
  template <StringLike... A>
  Args(const A &...args) {  // NOLINT(google-explicit-constructor)
    (push(std::string_view(args)), ...);
  }
  template <ArgRange R>
  Args(const R &args) {  // NOLINT(google-explicit-constructor)
    assign(args);
  }
  Args(const Args &) = delete;
  Args &operator=(const Args &) = delete;

  [[nodiscard]] size_t size() const noexcept { return n_; }
  [[nodiscard]] const char *const *argv() const noexcept {
    return heap_argv_.empty() ? inline_argv_ : heap_argv_.data();
  }
  [[nodiscard]] const size_t *lens() const noexcept {
    return heap_lens_.empty() ? inline_lens_ : heap_lens_.data();
  }

 private:
  static constexpr size_t kInline = 16;
  template <class R>
  void assign(const R &args) {
    if constexpr (std::ranges::sized_range<R>) {
      if (std::ranges::size(args) > kInline) {
        heap_argv_.reserve(std::ranges::size(args));
        heap_lens_.reserve(std::ranges::size(args));
      }
    }
    for (auto &&a : args) push(std::string_view(a));
  }
  void push(std::string_view s) {
    const char *p = s.data() != nullptr ? s.data() : "";
    if (heap_argv_.empty() && n_ < kInline) {
      inline_argv_[n_] = p;
      inline_lens_[n_] = s.size();
    } else {
      if (heap_argv_.empty()) {
        heap_argv_.assign(inline_argv_, inline_argv_ + n_);
        heap_lens_.assign(inline_lens_, inline_lens_ + n_);
      }
      heap_argv_.push_back(p);
      heap_lens_.push_back(s.size());
    }
    n_++;
  }
  const char *inline_argv_[kInline];
  size_t inline_lens_[kInline];
  std::vector<const char *> heap_argv_;
  std::vector<size_t> heap_lens_;
  size_t n_ = 0;
};

namespace detail {

// An owned copy of an argument list (for awaitables, which submit later).
class OwnedArgs {
 public:
  explicit OwnedArgs(const Args &a) : lens_(a.lens(), a.lens() + a.size()) {
    size_t total = 0;
    for (size_t i = 0; i < a.size(); i++) total += a.lens()[i];
    buf_.reserve(total);
    for (size_t i = 0; i < a.size(); i++) buf_.append(a.argv()[i], a.lens()[i]);
  }
  // Fills argv (size() entries) with pointers into the buffer.
  void fill(std::vector<const char *> &argv) const {
    argv.resize(lens_.size());
    size_t off = 0;
    for (size_t i = 0; i < lens_.size(); i++) {
      argv[i] = buf_.data() + off;
      off += lens_[i];
    }
  }
  [[nodiscard]] size_t size() const noexcept { return lens_.size(); }
  [[nodiscard]] const size_t *lens() const noexcept { return lens_.data(); }

 private:
  std::string buf_;
  std::vector<size_t> lens_;
};

inline int64_t to_ms(std::chrono::milliseconds t) noexcept {
  return t.count();
}

// Text with a NUL byte cannot cross as a C string.
inline bool has_nul(std::string_view s) noexcept {
  return s.find('\0') != std::string_view::npos;
}

// The heap-allocated callable of one submit, freed by its one completion.
template <class F>
void callback_trampoline(void *ud, int status, const jr_reply *r) noexcept {
  std::unique_ptr<F> f(static_cast<F *>(ud));
  (*f)(Result::of_completion(status, r));
}

inline void promise_trampoline(void *ud, int status, const jr_reply *r) noexcept {
  std::unique_ptr<std::promise<Reply>> p(static_cast<std::promise<Reply> *>(ud));
  if (status != JR_OK) {
    p->set_exception(Result::of_completion(status, r).exception());
  } else if (jr_reply_get_type(r) == JR_REPLY_ERROR) {
    size_t len = 0;
    const char *s = jr_reply_str(r, &len);
    p->set_exception(std::make_exception_ptr(ServerError(std::string(s, len))));
  } else {
    p->set_value(Reply::dup(r));
  }
}

// Where commands go: a client or a database view. Both submit the same way.
struct Target {
  jr_client *client = nullptr;
  jr_db *db = nullptr;

  int submit(size_t argc, const char *const *argv, const size_t *lens, int64_t timeout_ms,
             jr_reply_cb cb, void *ud, jr_req_id *id) const noexcept {
    return db != nullptr ? jr_db_submit(db, argc, argv, lens, timeout_ms, cb, ud, id)
                         : jr_client_submit(client, argc, argv, lens, timeout_ms, cb, ud, id);
  }
  int submit_many(size_t n, const size_t *argcs, const char *const *const *argvs,
                  const size_t *const *lens, int64_t timeout_ms, jr_reply_cb cb, void *const *uds,
                  int *rcs) const noexcept {
    return db != nullptr
               ? jr_db_submit_many(db, n, argcs, argvs, lens, timeout_ms, cb, uds, rcs, nullptr)
               : jr_client_submit_many(client, n, argcs, argvs, lens, timeout_ms, cb, uds, rcs,
                                       nullptr);
  }
  int call(size_t argc, const char *const *argv, const size_t *lens, int64_t timeout_ms,
           jr_reply **out) const noexcept {
    return db != nullptr ? jr_db_call(db, argc, argv, lens, timeout_ms, out)
                         : jr_client_call(client, argc, argv, lens, timeout_ms, out);
  }
};

}  // namespace detail

namespace detail {

// How a request is routed (see jr.h "Redis Cluster").
enum class Route { command, all_masters, to_node, endpoints };

// A request an awaitable submits later: an owned copy of everything.
class Request {
 public:
  Request(Target t, const Args &args, std::chrono::milliseconds timeout,
          Route route = Route::command, std::string node = {})
      : target_(t), args_(args), timeout_(timeout), route_(route), node_(std::move(node)) {}

  int submit(jr_reply_cb cb, void *ud) const {
    std::vector<const char *> argv;
    args_.fill(argv);
    const int64_t ms = to_ms(timeout_);
    switch (route_) {
      case Route::all_masters:
        return jr_client_submit_all_masters(target_.client, args_.size(), argv.data(), args_.lens(),
                                            ms, cb, ud);
      case Route::to_node:
        if (has_nul(node_)) return JR_EINVAL;
        return jr_client_submit_to(target_.client, node_.c_str(), args_.size(), argv.data(),
                                   args_.lens(), ms, cb, ud);
      case Route::endpoints:
        return jr_client_endpoints(target_.client, cb, ud);
      case Route::command:
        break;
    }
    return target_.submit(args_.size(), argv.data(), args_.lens(), ms, cb, ud, nullptr);
  }

 private:
  Target target_;
  OwnedArgs args_;
  std::chrono::milliseconds timeout_;
  Route route_;
  std::string node_;
};

// What a completion becomes for a future or an awaitable of T (throws the
// error). Specialised for the typed cluster results below.
template <class T>
struct Convert;
template <>
struct Convert<Reply> {
  static Reply from(Result &&r) { return std::move(r).value(); }
};
// The typed forms of call_as / send_as / async_as. A nil is nullopt where
// the type can say so, and a TypeError where it cannot (std::string).
template <>
struct Convert<std::string> {
  static std::string from(Result &&r) { return std::move(r).value().as_string(); }
};
template <>
struct Convert<std::optional<std::string>> {
  static std::optional<std::string> from(Result &&r) {
    return std::move(r).value().as_optional_string();
  }
};
template <>
struct Convert<int64_t> {
  static int64_t from(Result &&r) { return std::move(r).value().as_integer(); }
};
template <>
struct Convert<std::optional<int64_t>> {
  static std::optional<int64_t> from(Result &&r) {
    Reply v = std::move(r).value();
    if (v.is_nil()) return std::nullopt;
    return v.as_integer();
  }
};
template <>
struct Convert<std::vector<std::optional<std::string>>> {
  static std::vector<std::optional<std::string>> from(Result &&r) {
    return std::move(r).value().as_optional_strings();
  }
};
template <>
struct Convert<std::vector<std::string>> {
  static std::vector<std::string> from(Result &&r) {
    std::vector<std::string> out;
    for (const Reply &e : std::move(r).value().as_array()) out.push_back(e.as_string());
    return out;
  }
};
// The types call_as / send_as / async_as take.
template <class T>
concept Convertible = requires(Result &&r) {
  { Convert<T>::from(std::move(r)) } -> std::same_as<T>;
};

// The promise of a std::future<T> (T other than Reply, which has
// promise_trampoline).
template <class T>
void typed_promise_trampoline(void *ud, int status, const jr_reply *r) noexcept {
  std::unique_ptr<std::promise<T>> p(static_cast<std::promise<T> *>(ud));
  try {
    p->set_value(Convert<T>::from(Result::of_completion(status, r)));
  } catch (...) {
    p->set_exception(std::current_exception());
  }
}

// A future of T for a request submitted with submit(cb, ud); a refused
// submit makes a ready future holding the LibraryError.
template <class T, class Submit>
std::future<T> future_of(Submit &&submit) {
  auto p = std::make_unique<std::promise<T>>();
  std::future<T> fut = p->get_future();
  int rc;
  if constexpr (std::is_same_v<T, Reply>) {
    rc = submit(&promise_trampoline, static_cast<void *>(p.get()));
  } else {
    rc = submit(&typed_promise_trampoline<T>, static_cast<void *>(p.get()));
  }
  if (rc != JR_OK) {
    p->set_exception(std::make_exception_ptr(LibraryError(rc)));
  } else {
    static_cast<void>(p.release());
  }
  return fut;
}

}  // namespace detail

// The awaitable of co_await client.async(...) (and of the cluster calls):
// submits in await_suspend and resumes the coroutine from the completion.
// Yields a T (a Reply for commands); throws ServerError / LibraryError.
template <class T>
class BasicAwaitable {
 public:
  explicit BasicAwaitable(detail::Request req) : req_(std::move(req)) {}
  BasicAwaitable(detail::Target t, const Args &args, std::chrono::milliseconds timeout)
      : req_(t, args, timeout) {}

  bool await_ready() const noexcept { return false; }
  bool await_suspend(std::coroutine_handle<> h) {
    handle_ = h;
    int rc = req_.submit(&BasicAwaitable::on_done, this);
    if (rc != JR_OK) {
      status_ = rc;
      return false;  // resume at once; await_resume throws
    }
    // From here the completion may already be running on another thread
    // and may have resumed (and destroyed) the coroutine: touch nothing.
    return true;
  }
  T await_resume() {
    return detail::Convert<T>::from(Result(status_, std::move(reply_), std::move(error_detail_)));
  }

 private:
  static void on_done(void *ud, int status, const jr_reply *r) noexcept {
    auto *self = static_cast<BasicAwaitable *>(ud);
    self->status_ = status;
    self->reply_ = Reply::dup(r);
    if (const char *why = status < 0 ? jr_error_detail() : nullptr) self->error_detail_ = why;
    self->handle_.resume();
  }
  detail::Request req_;
  std::coroutine_handle<> handle_;
  int status_ = JR_OK;
  Reply reply_;
  std::string error_detail_;
};

// co_await client.async({"GET", "k"}) yields a Reply.
using Awaitable = BasicAwaitable<Reply>;

// A string reply that may be nil (GET on a missing key): nullopt, not "".
using OptionalString = std::optional<std::string>;

namespace detail {

// The command methods shared by Client and Db.
template <class Derived>
class Commands {
 public:
  // Runs a command and waits for its reply. Throws ServerError on an error
  // reply, LibraryError otherwise (JR_EMISUSE on the loop thread).
  Reply call(const Args &args, std::chrono::milliseconds timeout = default_timeout) const {
    return try_call(args, timeout).value();
  }
  // As call(), but returns the error instead of throwing it.
  Result try_call(const Args &args, std::chrono::milliseconds timeout = default_timeout) const {
    jr_reply *out = nullptr;
    int rc = target().call(args.size(), args.argv(), args.lens(), to_ms(timeout), &out);
    const char *why = rc < 0 ? jr_error_detail() : nullptr;  // this thread's last call
    if (why != nullptr) return Result(rc, Reply::adopt(out), why);
    return Result(rc, Reply::adopt(out));
  }

  // Submits a command; `f(jr::Result)` is called exactly once, on libjr's
  // loop thread (loop mode, must not block) or in dispatch() (poll mode).
  // The callable is heap-allocated and freed after that call; it must not
  // throw (the trampoline is noexcept). Returns the id for cancel(); throws
  // LibraryError if the submit is refused (then f is never called).
  template <class F>
  requires std::invocable < std::decay_t<F>
  &, Result > RequestId submit(const Args &args, F &&f,
                               std::chrono::milliseconds timeout = default_timeout) const {
    using Fn = std::decay_t<F>;
    auto holder = std::make_unique<Fn>(std::forward<F>(f));
    RequestId id = 0;
    int rc = target().submit(args.size(), args.argv(), args.lens(), to_ms(timeout),
                             &callback_trampoline<Fn>, holder.get(), &id);
    check(rc);
    static_cast<void>(holder.release());  // owned by the completion now
    return id;
  }

  // Submits a command and returns its future. Errors (including a refused
  // submit) arrive through future::get().
  std::future<Reply> send(const Args &args,
                          std::chrono::milliseconds timeout = default_timeout) const {
    auto p = std::make_unique<std::promise<Reply>>();
    std::future<Reply> fut = p->get_future();
    int rc = target().submit(args.size(), args.argv(), args.lens(), to_ms(timeout),
                             &promise_trampoline, p.get(), nullptr);
    if (rc != JR_OK) {
      p->set_exception(std::make_exception_ptr(LibraryError(rc)));
    } else {
      static_cast<void>(p.release());
    }
    return fut;
  }

  // An explicit pipeline (jr_client_submit_many): every command in one
  // call, and libjr's loop thread woken once, so they leave together.
  // Future i is command i's, as send() makes it: a refused command's holds
  // its LibraryError, and the others still run.
  //
  //   jr::Args cmds[] = {{"SET", "k", "v"}, {"GET", "k"}};
  //   auto fs = client.send_many(cmds);  // fs[1].get().str() == "v"
  std::vector<std::future<Reply>> send_many(
      std::span<const Args> cmds, std::chrono::milliseconds timeout = default_timeout) const {
    size_t n = cmds.size();
    std::vector<std::future<Reply>> out;
    out.reserve(n);
    std::vector<std::unique_ptr<std::promise<Reply>>> ps(n);
    std::vector<size_t> argcs(n);
    std::vector<const char *const *> argvs(n);
    std::vector<const size_t *> lens(n);
    std::vector<void *> uds(n);
    std::vector<int> rcs(n, JR_EINVAL);
    for (size_t i = 0; i < n; i++) {
      ps[i] = std::make_unique<std::promise<Reply>>();
      out.push_back(ps[i]->get_future());
      argcs[i] = cmds[i].size();
      argvs[i] = cmds[i].argv();
      lens[i] = cmds[i].lens();
      uds[i] = ps[i].get();
    }
    if (n > 0) {
      int rc = target().submit_many(n, argcs.data(), argvs.data(), lens.data(), to_ms(timeout),
                                    &promise_trampoline, uds.data(), rcs.data());
      if (rc < 0) rcs.assign(n, rc);  // the call itself refused: nothing submitted
    }
    for (size_t i = 0; i < n; i++) {
      if (rcs[i] == JR_OK) {
        static_cast<void>(ps[i].release());  // owned by the completion now
      } else {
        ps[i]->set_exception(std::make_exception_ptr(LibraryError(rcs[i])));
      }
    }
    return out;
  }

  // co_await client.async({"GET", "k"}): see the top of this file.
  [[nodiscard]] Awaitable async(const Args &args,
                                std::chrono::milliseconds timeout = default_timeout) const {
    return Awaitable(target(), args, timeout);
  }

  // Typed forms: the reply converted to T, one of std::string,
  // std::optional<std::string> (OptionalString: nullopt for a nil),
  // int64_t, std::optional<int64_t>, std::vector<std::string> and
  // std::vector<std::optional<std::string>> (MGET). A reply of another type
  // throws TypeError (a nil as std::string too), errors as for call().
  //
  //   jr::OptionalString v = client.call_as<jr::OptionalString>({"GET", "k"});
  //   if (!v) ...  // no such key ("" is an empty value)
  template <Convertible T>
  T call_as(const Args &args, std::chrono::milliseconds timeout = default_timeout) const {
    return Convert<T>::from(try_call(args, timeout));
  }
  template <Convertible T>
  std::future<T> send_as(const Args &args,
                         std::chrono::milliseconds timeout = default_timeout) const {
    return future_of<T>([&](jr_reply_cb cb, void *ud) {
      return target().submit(args.size(), args.argv(), args.lens(), to_ms(timeout), cb, ud,
                             nullptr);
    });
  }
  template <Convertible T>
  [[nodiscard]] BasicAwaitable<T> async_as(
      const Args &args, std::chrono::milliseconds timeout = default_timeout) const {
    return BasicAwaitable<T>(target(), args, timeout);
  }

 private:
  [[nodiscard]] Target target() const noexcept {
    return static_cast<const Derived *>(this)->target_();
  }
};

}  // namespace detail

// ---- Transactions, WATCH, pub/sub, MONITOR ---------------------------------------

// A MULTI/EXEC transaction being built (jr_multi). Commands are queued with
// add() and sent, contiguously, by exec(). Each queued command completes
// once: with its own element of the EXEC reply (a ServerError if it failed
// at run time), an EXECABORT error, JR_EWATCH (a watched key changed), or a
// library error. Destroying a Transaction that was not executed discards it
// (its commands complete with JR_EDISCARDED). Use from one thread at a time.
class Transaction {
 public:
  Transaction(Transaction &&o) noexcept : m_(std::exchange(o.m_, nullptr)) {}
  Transaction &operator=(Transaction &&o) noexcept {
    std::swap(m_, o.m_);
    return *this;
  }
  Transaction(const Transaction &) = delete;
  Transaction &operator=(const Transaction &) = delete;
  ~Transaction() { jr_multi_discard(m_); }

  // Queues a command whose result goes to f(jr::Result) (same rules as
  // Client::submit). Throws LibraryError (JR_EREFUSED: MULTI, WATCH, ...).
  template <class F>
  requires std::invocable < std::decay_t<F>
  &, Result > Transaction &add(const Args &args, F &&f) {
    using Fn = std::decay_t<F>;
    auto holder = std::make_unique<Fn>(std::forward<F>(f));
    detail::check(jr_multi_add(live(), args.size(), args.argv(), args.lens(),
                               &detail::callback_trampoline<Fn>, holder.get()));
    static_cast<void>(holder.release());
    return *this;
  }
  // Queues a command and returns the future of its own result.
  std::future<Reply> add(const Args &args) {
    auto p = std::make_unique<std::promise<Reply>>();
    std::future<Reply> fut = p->get_future();
    detail::check(jr_multi_add(live(), args.size(), args.argv(), args.lens(),
                               &detail::promise_trampoline, p.get()));
    static_cast<void>(p.release());
    return fut;
  }
  // Sends MULTI, the commands and EXEC. The future holds the raw EXEC reply
  // (an array); it throws ServerError on EXECABORT, LibraryError otherwise
  // (JR_EWATCH when a watched key changed). The transaction is spent.
  std::future<Reply> exec(std::chrono::milliseconds timeout = default_timeout) {
    auto p = std::make_unique<std::promise<Reply>>();
    std::future<Reply> fut = p->get_future();
    int rc = jr_multi_exec(std::exchange(m_, nullptr), detail::to_ms(timeout),
                           &detail::promise_trampoline, p.get());
    if (rc != JR_OK) {
      p->set_exception(std::make_exception_ptr(LibraryError(rc)));
    } else {
      static_cast<void>(p.release());
    }
    return fut;
  }
  // Discards the transaction now (JR_EDISCARDED for every queued command).
  void discard() noexcept { jr_multi_discard(std::exchange(m_, nullptr)); }

  [[nodiscard]] bool valid() const noexcept { return m_ != nullptr; }

 private:
  friend class Client;
  friend class Db;
  friend class Watch;
  explicit Transaction(jr_multi *m) noexcept : m_(m) {}
  jr_multi *live() const {
    if (m_ == nullptr) throw LibraryError(JR_EINVAL);
    return m_;
  }
  jr_multi *m_;
};

// A conditional transaction (jr_watch): WATCH on a dedicated connection,
// reads with submit()/send(), then multi() for the transaction that ends
// the watch. If a watched key changed, its commands fail with JR_EWATCH.
// Destroying the Watch releases the connection. Use from one thread at a
// time.
class Watch {
 public:
  Watch(Watch &&o) noexcept : w_(std::exchange(o.w_, nullptr)) {}
  Watch &operator=(Watch &&o) noexcept {
    std::swap(w_, o.w_);
    return *this;
  }
  Watch(const Watch &) = delete;
  Watch &operator=(const Watch &) = delete;
  ~Watch() { jr_watch_free(w_); }

  // A command on the watched connection; f(jr::Result) once.
  template <class F>
  requires std::invocable < std::decay_t<F>
  &, Result >
         void submit(const Args &args, F &&f, std::chrono::milliseconds timeout = default_timeout) {
    using Fn = std::decay_t<F>;
    auto holder = std::make_unique<Fn>(std::forward<F>(f));
    detail::check(jr_watch_submit(w_, args.size(), args.argv(), args.lens(), detail::to_ms(timeout),
                                  &detail::callback_trampoline<Fn>, holder.get()));
    static_cast<void>(holder.release());
  }
  std::future<Reply> send(const Args &args, std::chrono::milliseconds timeout = default_timeout) {
    auto p = std::make_unique<std::promise<Reply>>();
    std::future<Reply> fut = p->get_future();
    int rc = jr_watch_submit(w_, args.size(), args.argv(), args.lens(), detail::to_ms(timeout),
                             &detail::promise_trampoline, p.get());
    if (rc != JR_OK) {
      p->set_exception(std::make_exception_ptr(LibraryError(rc)));
    } else {
      static_cast<void>(p.release());
    }
    return fut;
  }
  // The transaction that ends the watch (once; JR_EMISUSE the second time).
  Transaction multi() {
    jr_multi *m = nullptr;
    detail::check(jr_watch_multi(w_, &m));
    return Transaction(m);
  }

 private:
  friend class Client;
  explicit Watch(jr_watch *w) noexcept : w_(w) {}
  jr_watch *w_;
};

// One pub/sub or MONITOR delivery. status 0: reply is the message array
// (["message", channel, payload], ["pmessage", pattern, channel, payload],
// ["subscribe", name, count], ..., ["pong", text]) or, for MONITOR, a status
// line. JR_SUB_LOST / JR_SUB_RESUBSCRIBED: around a reconnect. JR_ECLOSED:
// the last one.
struct Message {
  int status = 0;
  Reply reply;

  [[nodiscard]] bool closed() const noexcept { return status == JR_ECLOSED; }
  [[nodiscard]] bool lost() const noexcept { return status == JR_SUB_LOST; }
  [[nodiscard]] bool resubscribed() const noexcept { return status == JR_SUB_RESUBSCRIBED; }
  // ["subscribe", name, error]: the server refused the name (e.g. NOPERM);
  // error() is its text.
  [[nodiscard]] bool refused() const noexcept {
    return reply.is_array() && reply.size() == 3 && reply[2].is_error();
  }
  [[nodiscard]] std::string error() const { return refused() ? reply[2].str() : std::string(); }
  // "message", "pmessage", "smessage", "subscribe", ..., "pong" (empty
  // otherwise).
  [[nodiscard]] std::string_view kind() const noexcept {
    return reply.is_array() ? reply[0].view() : std::string_view();
  }
  [[nodiscard]] std::string channel() const {
    return kind() == "pmessage" ? reply[2].str() : reply[1].str();
  }
  [[nodiscard]] std::string pattern() const {
    return kind() == "pmessage" ? reply[1].str() : std::string();
  }
  // The payload of a message or pong; a MONITOR line.
  [[nodiscard]] std::string payload() const {
    if (!reply.is_array()) return reply.str();
    return kind() == "pmessage" ? reply[3].str() : reply[kind() == "pong" ? 1 : 2].str();
  }
};

namespace detail {
// The heap-allocated handler of a subscriber or monitor: called for every
// delivery, freed after the last one (JR_ECLOSED).
template <class F>
void message_trampoline(void *ud, int status, const jr_reply *r) noexcept {
  auto *f = static_cast<F *>(ud);
  (*f)(Message{status, Reply::dup(r)});
  if (status == JR_ECLOSED) delete f;
}
}  // namespace detail

// A pub/sub subscriber (jr_sub). Its handler gets every Message on libjr's
// loop thread (or in dispatch()), and JR_ECLOSED last after the Subscriber
// is destroyed (or the client freed). Use from one thread at a time.
class Subscriber {
 public:
  Subscriber(Subscriber &&o) noexcept : s_(std::exchange(o.s_, nullptr)) {}
  Subscriber &operator=(Subscriber &&o) noexcept {
    std::swap(s_, o.s_);
    return *this;
  }
  Subscriber(const Subscriber &) = delete;
  Subscriber &operator=(const Subscriber &) = delete;
  ~Subscriber() { jr_sub_free(s_); }

  void subscribe(const Args &channels) { names(true, JR_SUB_CHANNELS, channels); }
  void psubscribe(const Args &patterns) { names(true, JR_SUB_PATTERNS, patterns); }
  // Sharded channels (SSUBSCRIBE): on the node of each channel's slot.
  void ssubscribe(const Args &channels) { names(true, JR_SUB_SHARDED, channels); }
  // No names: all of this subscriber's channels (patterns, sharded channels).
  void unsubscribe(const Args &channels = Args()) { names(false, JR_SUB_CHANNELS, channels); }
  void punsubscribe(const Args &patterns = Args()) { names(false, JR_SUB_PATTERNS, patterns); }
  void sunsubscribe(const Args &channels = Args()) { names(false, JR_SUB_SHARDED, channels); }
  void ping(std::string_view text = {}) {
    detail::check(jr_sub_ping(s_, text.data() != nullptr ? text.data() : "", text.size()));
  }

 private:
  friend class Client;
  explicit Subscriber(jr_sub *s) noexcept : s_(s) {}
  void names(bool sub, int pattern, const Args &a) {
    detail::check(sub ? jr_sub_subscribe(s_, pattern, a.size(), a.argv(), a.lens())
                      : jr_sub_unsubscribe(s_, pattern, a.size(), a.argv(), a.lens()));
  }
  jr_sub *s_;
};

// A MONITOR stream (jr_monitor): the handler gets one Message per command
// the server runs (a status line), JR_ECLOSED last.
class Monitor {
 public:
  Monitor(Monitor &&o) noexcept : m_(std::exchange(o.m_, nullptr)) {}
  Monitor &operator=(Monitor &&o) noexcept {
    std::swap(m_, o.m_);
    return *this;
  }
  Monitor(const Monitor &) = delete;
  Monitor &operator=(const Monitor &) = delete;
  ~Monitor() { jr_monitor_free(m_); }

 private:
  friend class Client;
  explicit Monitor(jr_monitor *m) noexcept : m_(m) {}
  jr_monitor *m_;
};

// ---- Options -------------------------------------------------------------------

// Connection events (JR_EVENT_*), on the loop thread; must not block.
using EventHandler =
    std::function<void(int event, std::string_view endpoint, std::string_view detail)>;

// The level of a log line (jr.h "Leveled logs").
enum class LogLevel : int {
  error = JR_LOG_ERROR,  // a component gave up: requests fail
  warn = JR_LOG_WARN,    // a fault libjr recovers from
  info = JR_LOG_INFO,    // a normal change of state
  debug = JR_LOG_DEBUG,  // details
};
inline const char *to_string(LogLevel l) noexcept {
  switch (l) {
    case LogLevel::error:
      return "error";
    case LogLevel::warn:
      return "warn";
    case LogLevel::info:
      return "info";
    case LogLevel::debug:
      return "debug";
  }
  return "?";
}

// A log line: its level, the JR_EVENT_* code (JR_EVENT_STATE for other
// state changes), the endpoint or component ("cluster", "pubsub", "pool",
// "monitor") and one line of text. Never contains credentials. The views
// are valid during the call only.
using LogHandler = std::function<void(LogLevel level, int event, std::string_view endpoint,
                                      std::string_view text)>;

// A completed request, as the trace hook sees it (jr_trace). Valid during
// the call only: copy what you keep. Times are CLOCK_MONOTONIC nanoseconds;
// a field libjr did not fill (an older library) is 0 / empty.
struct Trace {
  std::string_view command;   // the command's name only (first argument), never its arguments
  std::string_view endpoint;  // "host:port" that completed it; "" if none did
  int db = 0;
  int status = 0;            // as the completion gets it: 0 or a JR_E* code
  int reply_type = 0;        // a jr::Type value, 0 without a reply
  uint64_t submit_ns = 0;    // accepted (0 if not timed)
  uint64_t write_ns = 0;     // queued for the socket (0: never written)
  uint64_t reply_ns = 0;     // completed
  uint64_t reply_bytes = 0;  // bytes stored for the reply
  // From the submit to the completion (0 when the submit was not timed).
  [[nodiscard]] std::chrono::nanoseconds latency() const noexcept {
    return submit_ns != 0 && reply_ns >= submit_ns
               ? std::chrono::nanoseconds(static_cast<int64_t>(reply_ns - submit_ns))
               : std::chrono::nanoseconds(0);
  }
};

// Called on the loop thread for every request as it completes, before its
// completion; must not block and should be quick.
using TraceHandler = std::function<void(const Trace &)>;

namespace detail {
// The handlers set on an Options. Shared by every Client made from it, so
// each handler lives as long as the longest-lived of them (the client's
// loop thread, which calls them, is joined in ~Client first).
struct Hooks {
  std::shared_ptr<EventHandler> event;
  std::shared_ptr<LogHandler> log;
  std::shared_ptr<TraceHandler> trace;
};
}  // namespace detail

// One option key of libjr, from the table that jr_options_set checks values
// against (jr_options_describe).
struct OptionInfo {
  std::string_view name;
  std::string_view type;  // "int", "bool" (0 or 1), "string" or "enum" (a word doc names)
  int64_t min = 0;        // the range of an int or bool; 0 and 0 for the others
  int64_t max = 0;
  std::string_view def;  // the default as Options::set takes it ("" when there is none)
  std::string_view doc;
};

// Every option key libjr knows, in libjr's order (static text). Keys
// without a shorthand on Options are set with Options::set.
inline std::vector<OptionInfo> describe_options() {
  std::vector<OptionInfo> out;
  const char *name = nullptr, *type = nullptr, *def = nullptr, *doc = nullptr;
  int64_t min = 0, max = 0;
  for (size_t i = 0; jr_options_describe(i, &name, &type, &min, &max, &def, &doc) == JR_OK; i++)
    out.push_back({name, type, min, max, def, doc});
  return out;
}

// A builder for jr_options; keys and defaults are documented in jr.h and
// listed by describe_options().
// set(key, value) takes any key, including those without a shorthand here
// ("max_queued", "socket_timeout_ms", "cluster", ...). Setters throw
// LibraryError (JR_ENOENT unknown key, JR_EINVAL bad value).
//
// TLS (keys "tls", "tls_verify", "tls_ca_file", "tls_ca_dir",
// "tls_cert_file", "tls_key_file", "tls_server_name"; a rediss:// URL sets
// "tls"):
//
//   jr::Client c(jr::Options()
//                    .endpoint("redis.example:6380")
//                    .tls()                          // verified against the system CAs
//                    .tls_ca_file("/etc/redis/ca.crt")
//                    .tls_cert("client.crt", "client.key"));  // mutual TLS
//
// Unusable TLS files make the Client constructor throw LibraryError
// (JR_ETLS); a failed handshake fails commands with JR_ECONNECT (the event
// handler gets the verification error).
class Options {
 public:
  Options() : o_(jr_options_new()) {
    if (o_ == nullptr) throw std::bad_alloc();
  }
  Options(Options &&o) noexcept : o_(std::exchange(o.o_, nullptr)), hooks_(std::move(o.hooks_)) {}
  Options &operator=(Options &&o) noexcept {
    std::swap(o_, o.o_);
    std::swap(hooks_, o.hooks_);
    return *this;
  }
  Options(const Options &) = delete;
  Options &operator=(const Options &) = delete;
  ~Options() { jr_options_free(o_); }

  Options &set(std::string_view key, std::string_view value) & {
    detail::check(jr_options_set(o_, std::string(key).c_str(), std::string(value).c_str()));
    return *this;
  }
  Options &set(std::string_view key, int64_t value) & {
    detail::check(jr_options_set_int(o_, std::string(key).c_str(), value));
    return *this;
  }
  Options &&set(std::string_view key, std::string_view value) && {
    return std::move(set(key, value));
  }
  Options &&set(std::string_view key, int64_t value) && { return std::move(set(key, value)); }

  // Shorthands for common keys (chainable on temporaries too).
  decltype(auto) endpoint(std::string_view ep) & { return set("endpoint", ep); }
  decltype(auto) endpoint(std::string_view ep) && { return std::move(*this).set("endpoint", ep); }
  decltype(auto) url(std::string_view u) & { return set("url", u); }
  decltype(auto) url(std::string_view u) && { return std::move(*this).set("url", u); }
  decltype(auto) password(std::string_view p) & { return set("password", p); }
  decltype(auto) password(std::string_view p) && { return std::move(*this).set("password", p); }
  decltype(auto) database(int n) & { return set("database", int64_t{n}); }
  decltype(auto) database(int n) && { return std::move(*this).set("database", int64_t{n}); }
  decltype(auto) command_timeout(std::chrono::milliseconds t) & {
    return set("command_timeout_ms", int64_t{t.count()});
  }
  decltype(auto) command_timeout(std::chrono::milliseconds t) && {
    return std::move(*this).set("command_timeout_ms", int64_t{t.count()});
  }
  decltype(auto) connect_timeout(std::chrono::milliseconds t) & {
    return set("connect_timeout_ms", int64_t{t.count()});
  }
  decltype(auto) connect_timeout(std::chrono::milliseconds t) && {
    return std::move(*this).set("connect_timeout_ms", int64_t{t.count()});
  }
  // CLIENT SETNAME on every connection.
  decltype(auto) client_name(std::string_view n) & { return set("client_name", n); }
  decltype(auto) client_name(std::string_view n) && {
    return std::move(*this).set("client_name", n);
  }
  // 2 (RESP2, the default) or 3 (RESP3: maps, sets, doubles, booleans;
  // needs libjr built with hiredis >= 1.0).
  decltype(auto) protocol(int v) & { return set("protocol", int64_t{v}); }
  decltype(auto) protocol(int v) && { return std::move(*this).set("protocol", int64_t{v}); }
  // Client-side caching (jr.h "client_cache_bytes"): reads of known keys
  // are answered from a local cache of this many bytes, kept right by the
  // server's invalidations (CLIENT TRACKING); 0 = off (the default).
  // client_cache_prefix() switches to broadcast mode for those prefixes
  // (call once per prefix); client_cache_ttl() bounds an entry's age.
  decltype(auto) client_cache(size_t bytes) & {
    return set("client_cache_bytes", int64_t{static_cast<int64_t>(bytes)});
  }
  decltype(auto) client_cache(size_t bytes) && {
    return std::move(*this).set("client_cache_bytes", int64_t{static_cast<int64_t>(bytes)});
  }
  decltype(auto) client_cache_prefix(std::string_view prefix) & {
    return set("client_cache_prefix", prefix);
  }
  decltype(auto) client_cache_prefix(std::string_view prefix) && {
    return std::move(*this).set("client_cache_prefix", prefix);
  }
  decltype(auto) client_cache_ttl(std::chrono::milliseconds ttl) & {
    return set("client_cache_ttl_ms", int64_t{static_cast<int64_t>(ttl.count())});
  }
  decltype(auto) client_cache_ttl(std::chrono::milliseconds ttl) && {
    return std::move(*this).set("client_cache_ttl_ms", int64_t{static_cast<int64_t>(ttl.count())});
  }
  // Extra passes over the endpoints when connecting fails (with backoff).
  decltype(auto) connect_retry(int n) & { return set("connect_retry", int64_t{n}); }
  decltype(auto) connect_retry(int n) && {
    return std::move(*this).set("connect_retry", int64_t{n});
  }
  decltype(auto) username(std::string_view u) & { return set("username", u); }
  decltype(auto) username(std::string_view u) && { return std::move(*this).set("username", u); }
  // TLS on every connection (verification on unless tls_verify(false)).
  decltype(auto) tls(bool on = true) & { return set("tls", int64_t{on ? 1 : 0}); }
  decltype(auto) tls(bool on = true) && { return std::move(*this).set("tls", int64_t{on ? 1 : 0}); }
  // tls_verify(false) disables certificate and host name checks (testing only).
  decltype(auto) tls_verify(bool on) & { return set("tls_verify", int64_t{on ? 1 : 0}); }
  decltype(auto) tls_verify(bool on) && {
    return std::move(*this).set("tls_verify", int64_t{on ? 1 : 0});
  }
  // Trusted CAs instead of the system store: a PEM file, or a hashed folder.
  decltype(auto) tls_ca_file(std::string_view path) & { return set("tls_ca_file", path); }
  decltype(auto) tls_ca_file(std::string_view path) && {
    return std::move(*this).set("tls_ca_file", path);
  }
  decltype(auto) tls_ca_dir(std::string_view path) & { return set("tls_ca_dir", path); }
  decltype(auto) tls_ca_dir(std::string_view path) && {
    return std::move(*this).set("tls_ca_dir", path);
  }
  // A client certificate and its key (mutual TLS).
  Options &tls_cert(std::string_view cert_file, std::string_view key_file) & {
    return set("tls_cert_file", cert_file).set("tls_key_file", key_file);
  }
  Options &&tls_cert(std::string_view cert_file, std::string_view key_file) && {
    return std::move(tls_cert(cert_file, key_file));
  }
  // The name for SNI and verification instead of the endpoint's host.
  decltype(auto) tls_server_name(std::string_view name) & { return set("tls_server_name", name); }
  decltype(auto) tls_server_name(std::string_view name) && {
    return std::move(*this).set("tls_server_name", name);
  }
  // Redis Sentinel (jr.h "sentinel"): the master is asked of the sentinels
  // and followed across failovers. sentinel() adds one ("host:port",
  // "[v6]:port", or "host" for port 26379); call it once per sentinel, or
  // pass them all to sentinels(). sentinel_master() is the master's name as
  // the sentinels know it. sentinel_auth() sets the sentinels' own ACL user
  // and password (username() and password() are the master's). A URL does
  // the same: redis-sentinel://[[user]:pass@]h1[:p1][,h2...]/db#name.
  //
  //   jr::Client c(jr::Options()
  //                    .sentinels({"10.0.0.1:26379", "10.0.0.2:26379", "10.0.0.3"})
  //                    .sentinel_master("mymaster")
  //                    .sentinel_auth("sentinel-user", "sentinel-pass")
  //                    .password("master-pass"));
  decltype(auto) sentinel(std::string_view address) & { return set("sentinel", address); }
  decltype(auto) sentinel(std::string_view address) && {
    return std::move(*this).set("sentinel", address);
  }
  template <ArgRange R>
  Options &sentinels(const R &addresses) & {
    for (auto &&a : addresses) sentinel(std::string_view(a));
    return *this;
  }
  Options &sentinels(std::initializer_list<std::string_view> addresses) & {
    for (std::string_view a : addresses) sentinel(a);
    return *this;
  }
  template <ArgRange R>
  Options &&sentinels(const R &addresses) && {
    return std::move(sentinels(addresses));
  }
  Options &&sentinels(std::initializer_list<std::string_view> addresses) && {
    return std::move(sentinels(addresses));
  }
  decltype(auto) sentinel_master(std::string_view name) & { return set("sentinel_master", name); }
  decltype(auto) sentinel_master(std::string_view name) && {
    return std::move(*this).set("sentinel_master", name);
  }
  Options &sentinel_auth(std::string_view password) & { return set("sentinel_password", password); }
  Options &sentinel_auth(std::string_view username, std::string_view password) & {
    return set("sentinel_username", username).set("sentinel_password", password);
  }
  Options &&sentinel_auth(std::string_view password) && {
    return std::move(sentinel_auth(password));
  }
  Options &&sentinel_auth(std::string_view username, std::string_view password) && {
    return std::move(sentinel_auth(username, password));
  }

  // dispatch=poll: completions run in Client::dispatch() (see Client::fd()).
  decltype(auto) poll_mode() & { return set("dispatch", "poll"); }
  decltype(auto) poll_mode() && { return std::move(*this).set("dispatch", "poll"); }

  // A command sent on every new connection (jr_options_add_connect_command).
  Options &connect_command(const Args &args) & {
    detail::check(jr_options_add_connect_command(o_, args.size(), args.argv(), args.lens()));
    return *this;
  }
  Options &&connect_command(const Args &args) && { return std::move(connect_command(args)); }

  // Connection events. The handler is shared with every Client made from
  // these options and lives as long as the longest-lived of them.
  Options &on_event(EventHandler h) & {
    auto p = std::make_shared<EventHandler>(std::move(h));
    detail::check(jr_options_set_event_cb(o_, &Options::event_trampoline, p.get()));
    hooks_.event = std::move(p);
    return *this;
  }
  Options &&on_event(EventHandler h) && { return std::move(on_event(std::move(h))); }

  // Leveled logs (jr_options_set_log_cb): every state change of the
  // connections, pools, cluster map and subscriptions. Shared and kept
  // alive as on_event's handler; it must not block or throw.
  Options &on_log(LogHandler h) & {
    auto p = std::make_shared<LogHandler>(std::move(h));
    detail::check(jr_options_set_log_cb(o_, &Options::log_trampoline, p.get()));
    hooks_.log = std::move(p);
    return *this;
  }
  Options &&on_log(LogHandler h) && { return std::move(on_log(std::move(h))); }

  // The trace hook (jr_options_set_trace_cb): one Trace per completed
  // request, e.g. to make OpenTelemetry spans. Off by default. Shared and
  // kept alive as on_event's handler; it must not block or throw.
  Options &on_trace(TraceHandler h) & {
    auto p = std::make_shared<TraceHandler>(std::move(h));
    detail::check(jr_options_set_trace_cb(o_, &Options::trace_trampoline, p.get()));
    hooks_.trace = std::move(p);
    return *this;
  }
  Options &&on_trace(TraceHandler h) && { return std::move(on_trace(std::move(h))); }

  [[nodiscard]] const jr_options *get() const noexcept { return o_; }

 private:
  friend class Client;
  static void event_trampoline(void *ctx, int event, const char *endpoint,
                               const char *detail) noexcept {
    (*static_cast<EventHandler *>(ctx))(event, endpoint != nullptr ? endpoint : "",
                                        detail != nullptr ? detail : "");
  }
  static void log_trampoline(void *ctx, int level, int event, const char *endpoint,
                             const char *text) noexcept {
    (*static_cast<LogHandler *>(ctx))(static_cast<LogLevel>(level), event,
                                      endpoint != nullptr ? endpoint : "",
                                      text != nullptr ? text : "");
  }
  static void trace_trampoline(void *ctx, const jr_trace *t) noexcept {
    // Read only what the library filled (jr_trace grows like jr_stats).
    auto has = [t](size_t offset, size_t bytes) { return offset + bytes <= t->size; };
    Trace out;
    if (has(offsetof(jr_trace, command_len), sizeof t->command_len) && t->command != nullptr)
      out.command = std::string_view(t->command, t->command_len);
    if (has(offsetof(jr_trace, endpoint), sizeof t->endpoint) && t->endpoint != nullptr)
      out.endpoint = t->endpoint;
    if (has(offsetof(jr_trace, db), sizeof t->db)) out.db = t->db;
    if (has(offsetof(jr_trace, status), sizeof t->status)) out.status = t->status;
    if (has(offsetof(jr_trace, reply_type), sizeof t->reply_type)) out.reply_type = t->reply_type;
    if (has(offsetof(jr_trace, submit_ns), sizeof t->submit_ns)) out.submit_ns = t->submit_ns;
    if (has(offsetof(jr_trace, write_ns), sizeof t->write_ns)) out.write_ns = t->write_ns;
    if (has(offsetof(jr_trace, reply_ns), sizeof t->reply_ns)) out.reply_ns = t->reply_ns;
    if (has(offsetof(jr_trace, reply_bytes), sizeof t->reply_bytes))
      out.reply_bytes = t->reply_bytes;
    (*static_cast<TraceHandler *>(ctx))(out);
  }
  jr_options *o_;
  detail::Hooks hooks_;
};

// ---- Redis Cluster ------------------------------------------------------------------

// One node of Client::endpoints(): its address ("host:port") and role
// ("master", "replica", or "standalone" for a server outside a cluster).
// Credentials never appear.
struct Node {
  std::string address;
  std::string role;

  // Parses the raw reply of jr_client_endpoints ([[address, role], ...]);
  // throws TypeError on another shape.
  static std::vector<Node> list(const Reply &r) {
    std::vector<Node> out;
    for (const Reply &row : r.as_array())
      out.push_back({row.at(0).as_string(), row.at(1).as_string()});
    return out;
  }
  bool operator==(const Node &) const = default;
};

namespace detail {
// The JR_E* code whose name is `name` ("JR_ECONNLOST"), 0 if none.
inline int code_of_name(std::string_view name) noexcept {
  if (name.substr(0, 4) != "JR_E") return 0;
  for (int code = -1; code >= -64; code--)
    if (name == jr_err_name(code)) return code;
  return 0;
}
}  // namespace detail

// One master's answer to a command run on every master
// (Client::send_all_masters): its address and its own Result. A node that
// failed (connection lost, timeout, ...) has a library error Result with
// that code; a command the node rejected has a server error Result.
struct NodeResult {
  std::string address;
  Result result;

  // Parses the raw reply of jr_client_submit_all_masters ([[address, reply],
  // ...], a node's failure being an error reply that starts with the libjr
  // code name: "JR_ECONNLOST: ..."); throws TypeError on another shape.
  static std::vector<NodeResult> list(const Reply &r) {
    std::vector<NodeResult> out;
    for (const Reply &row : r.as_array()) {
      std::string address = row.at(0).as_string();
      Reply answer = row.at(1);
      int code = 0;
      if (answer.is_error()) {
        std::string_view text = answer.view();
        code = detail::code_of_name(text.substr(0, text.find(':')));
      }
      if (code != 0) {
        out.push_back({std::move(address), Result(code, Reply())});
      } else {
        out.push_back({std::move(address), Result(JR_OK, std::move(answer))});
      }
    }
    return out;
  }
};

namespace detail {
template <>
struct Convert<std::vector<Node>> {
  static std::vector<Node> from(Result &&r) { return Node::list(std::move(r).value()); }
};
template <>
struct Convert<std::vector<NodeResult>> {
  static std::vector<NodeResult> from(Result &&r) { return NodeResult::list(std::move(r).value()); }
};
}  // namespace detail

// co_await client.async_endpoints() / async_all_masters(...).
using NodesAwaitable = BasicAwaitable<std::vector<Node>>;
using AllMastersAwaitable = BasicAwaitable<std::vector<NodeResult>>;

// ---- Statistics (jr.h "Statistics") ----------------------------------------------

// The client's counters (jr_client_stats). Each is exact when read; a Stats
// read while commands run is not one instant across its fields.
struct Stats {
  uint64_t submitted = 0;       // requests the loop thread has taken in
  uint64_t completed = 0;       // requests completed (each exactly once)
  uint64_t server_errors = 0;   // completed with an error reply
  uint64_t library_errors = 0;  // completed with a JR_E* code
  uint64_t timeouts = 0;        // JR_ETIMEDOUT, JR_EQUEUETIMEOUT, JR_EPOOLTIMEOUT
  uint64_t cancels = 0;         // JR_ECANCELED, JR_EABANDONED
  uint64_t in_flight = 0;       // submitted - completed, now
  uint64_t queued = 0;          // accepted and not released (what max_queued counts)
  uint64_t bytes_written = 0;   // handed to the sockets
  uint64_t bytes_read = 0;      // read from the sockets
  uint64_t connects = 0;        // connections that finished their handshake
  uint64_t disconnects = 0;     // such connections lost or closed
  uint64_t redirects = 0;       // MOVED and ASK replies received
  uint64_t cache_hits = 0;      // client-side caching (0 until libjr has it)
  uint64_t cache_misses = 0;
  uint64_t cache_invalidations = 0;
  uint64_t connect_failures = 0;  // failed connect attempts (each retry counts)
};

// One endpoint's figures (jr_client_endpoint_stats).
struct EndpointStats {
  std::string endpoint;      // "host:port", "[v6]:port" or a unix path
  uint64_t connections = 0;  // its connections up now
  uint64_t completed = 0;    // requests completed by a connection to it
  uint64_t server_errors = 0;
  uint64_t library_errors = 0;
  uint64_t bytes_written = 0;
  uint64_t bytes_read = 0;
  uint64_t connects = 0;
  uint64_t disconnects = 0;
  uint64_t connect_failures = 0;
  uint64_t redirects = 0;  // MOVED and ASK replies it sent
};

// One bucket of the latency histogram (jr_client_latency_bucket): requests
// whose latency was below `upper` (and at or above the previous bucket's);
// the last bucket's upper is nanoseconds::max().
struct LatencyBucket {
  std::chrono::nanoseconds upper;
  uint64_t count = 0;
};

namespace detail {
inline std::chrono::nanoseconds ns_of(uint64_t ns) noexcept {
  return ns > static_cast<uint64_t>(std::chrono::nanoseconds::max().count())
             ? std::chrono::nanoseconds::max()
             : std::chrono::nanoseconds(static_cast<int64_t>(ns));
}
}  // namespace detail

// ---- Client and database views -------------------------------------------------

class Client;

// A database view (jr_db): commands run in database `number` on the shared
// connection. Destroy it before its Client.
class Db : public detail::Commands<Db> {
 public:
  Db(Db &&o) noexcept
      : client_(o.client_), db_(std::exchange(o.db_, nullptr)), number_(o.number_) {}
  Db &operator=(Db &&o) noexcept {
    std::swap(client_, o.client_);
    std::swap(db_, o.db_);
    std::swap(number_, o.number_);
    return *this;
  }
  Db(const Db &) = delete;
  Db &operator=(const Db &) = delete;
  ~Db() { jr_db_free(db_); }

  // Cancels a submitted command (see jr_cancel). Returns false when it has
  // already completed.
  bool cancel(RequestId id) const {
    int rc = jr_cancel(client_, id);
    if (rc == JR_ENOENT) return false;
    detail::check(rc);
    return true;
  }
  // A MULTI/EXEC transaction in this database.
  [[nodiscard]] Transaction multi() const {
    jr_multi *m = nullptr;
    detail::check(jr_multi_new(client_, number_, &m));
    return Transaction(m);
  }
  [[nodiscard]] int number() const noexcept { return number_; }
  [[nodiscard]] jr_db *get() const noexcept { return db_; }

 private:
  friend class Client;
  friend class detail::Commands<Db>;
  Db(jr_client *c, jr_db *db, int number) noexcept : client_(c), db_(db), number_(number) {}
  [[nodiscard]] detail::Target target_() const noexcept { return {client_, db_}; }
  jr_client *client_;
  jr_db *db_;
  int number_;
};

// The client (jr_client): one loop thread, one multiplexed connection. All
// command methods may be called from any thread concurrently. The destructor
// completes every pending command (JR_ECLOSED / JR_ESHUTDOWN) and must not
// run inside a libjr callback or concurrently with other calls.
class Client : public detail::Commands<Client> {
 public:
  Client() : Client(Options()) {}
  explicit Client(const Options &opts) : hooks_(opts.hooks_) {
    detail::check(jr_client_new(opts.get(), &c_));
  }
  Client(Client &&o) noexcept : c_(std::exchange(o.c_, nullptr)), hooks_(std::move(o.hooks_)) {}
  Client &operator=(Client &&o) noexcept {
    std::swap(c_, o.c_);
    std::swap(hooks_, o.hooks_);
    return *this;
  }
  Client(const Client &) = delete;
  Client &operator=(const Client &) = delete;
  ~Client() { static_cast<void>(jr_client_free(c_)); }

  // Frees the client now (see jr_client_free); throws LibraryError
  // (JR_EMISUSE) when called from a callback.
  void close() {
    detail::check(jr_client_free(c_));
    c_ = nullptr;
  }
  // Stops accepting commands and waits for the accepted ones. Returns false
  // on timeout.
  bool drain(std::chrono::milliseconds timeout = std::chrono::milliseconds(-1)) {
    int rc = jr_client_drain(c_, timeout.count());
    if (rc == JR_ETIMEDOUT) return false;
    detail::check(rc);
    return true;
  }
  // Cancels a submitted command (see jr_cancel). Returns false when it has
  // already completed.
  bool cancel(RequestId id) const {
    int rc = jr_cancel(c_, id);
    if (rc == JR_ENOENT) return false;
    detail::check(rc);
    return true;
  }
  // A view of database `number`.
  [[nodiscard]] Db db(int number) const {
    jr_db *d = nullptr;
    detail::check(jr_db_new(c_, number, &d));
    return Db(c_, d, number);
  }

  // A MULTI/EXEC transaction on the default database.
  [[nodiscard]] Transaction multi() const {
    jr_multi *m = nullptr;
    detail::check(jr_multi_new(c_, -1, &m));
    return Transaction(m);
  }
  // WATCH keys on a dedicated connection (db -1: the default database).
  [[nodiscard]] Watch watch(const Args &keys, int db = -1) const {
    jr_watch *w = nullptr;
    detail::check(jr_watch_new(c_, db, keys.size(), keys.argv(), keys.lens(), &w));
    return Watch(w);
  }
  // A subscriber whose handler f(jr::Message) runs for every delivery (on
  // the loop thread, must not block; or in dispatch()), JR_ECLOSED last; the
  // handler is freed after that.
  template <class F>
  requires std::invocable < std::decay_t<F>
  &, Message > [[nodiscard]] Subscriber subscriber(F &&f) const {
    using Fn = std::decay_t<F>;
    auto holder = std::make_unique<Fn>(std::forward<F>(f));
    jr_sub *s = nullptr;
    detail::check(jr_sub_new(c_, &detail::message_trampoline<Fn>, holder.get(), &s));
    static_cast<void>(holder.release());
    return Subscriber(s);
  }
  // A MONITOR stream; f(jr::Message) as for subscriber().
  template <class F>
  requires std::invocable < std::decay_t<F>
  &, Message > [[nodiscard]] Monitor monitor(F &&f) const {
    using Fn = std::decay_t<F>;
    auto holder = std::make_unique<Fn>(std::forward<F>(f));
    jr_monitor *m = nullptr;
    detail::check(jr_monitor_new(c_, &detail::message_trampoline<Fn>, holder.get(), &m));
    static_cast<void>(holder.release());
    return Monitor(m);
  }

  // ---- Redis Cluster (jr.h "Redis Cluster"); these work on a standalone
  // server too. Callbacks follow submit()'s rules; futures and awaitables
  // throw ServerError / LibraryError.

  // The nodes libjr knows: one {address, "standalone"} for a standalone
  // server, every master and replica of a cluster.
  [[nodiscard]] std::future<std::vector<Node>> endpoints() const {
    return detail::future_of<std::vector<Node>>(
        [&](jr_reply_cb cb, void *ud) { return jr_client_endpoints(c_, cb, ud); });
  }
  [[nodiscard]] NodesAwaitable async_endpoints() const {
    return NodesAwaitable(detail::Request(target_(), Args(), no_timeout, detail::Route::endpoints));
  }
  // f(jr::Result) with the raw reply (Node::list parses it).
  template <class F>
  requires std::invocable < std::decay_t<F>
  &, Result > void submit_endpoints(F &&f) const {
    submit_raw(std::forward<F>(f),
               [&](jr_reply_cb cb, void *ud) { return jr_client_endpoints(c_, cb, ud); });
  }

  // Runs a command on every master: one NodeResult per master, a node's
  // failure being its own Result rather than a failure of the call. On a
  // standalone server the call fails with JR_ECLUSTER.
  [[nodiscard]] std::future<std::vector<NodeResult>> send_all_masters(
      const Args &args, std::chrono::milliseconds timeout = default_timeout) const {
    return detail::future_of<std::vector<NodeResult>>([&](jr_reply_cb cb, void *ud) {
      return jr_client_submit_all_masters(c_, args.size(), args.argv(), args.lens(),
                                          detail::to_ms(timeout), cb, ud);
    });
  }
  [[nodiscard]] AllMastersAwaitable async_all_masters(
      const Args &args, std::chrono::milliseconds timeout = default_timeout) const {
    return AllMastersAwaitable(
        detail::Request(target_(), args, timeout, detail::Route::all_masters));
  }
  // f(jr::Result) with the raw [[address, reply], ...] (NodeResult::list
  // parses it).
  template <class F>
  requires std::invocable < std::decay_t<F>
  &, Result > void submit_all_masters(const Args &args, F &&f,
                                      std::chrono::milliseconds timeout = default_timeout) const {
    submit_raw(std::forward<F>(f), [&](jr_reply_cb cb, void *ud) {
      return jr_client_submit_all_masters(c_, args.size(), args.argv(), args.lens(),
                                          detail::to_ms(timeout), cb, ud);
    });
  }

  // Runs a command on one node ("host:port"), without following
  // redirections (a cluster node may answer MOVED). An address that does
  // not parse is JR_EINVAL: thrown by submit_to, delivered by the future
  // and the awaitable.
  [[nodiscard]] std::future<Reply> send_to(
      std::string_view node, const Args &args,
      std::chrono::milliseconds timeout = default_timeout) const {
    std::string n(node);
    return detail::future_of<Reply>([&](jr_reply_cb cb, void *ud) {
      if (detail::has_nul(n)) return JR_EINVAL;
      return jr_client_submit_to(c_, n.c_str(), args.size(), args.argv(), args.lens(),
                                 detail::to_ms(timeout), cb, ud);
    });
  }
  [[nodiscard]] Awaitable async_to(std::string_view node, const Args &args,
                                   std::chrono::milliseconds timeout = default_timeout) const {
    return Awaitable(
        detail::Request(target_(), args, timeout, detail::Route::to_node, std::string(node)));
  }
  template <class F>
  requires std::invocable < std::decay_t<F>
  &, Result > void submit_to(std::string_view node, const Args &args, F &&f,
                             std::chrono::milliseconds timeout = default_timeout) const {
    std::string n(node);
    submit_raw(std::forward<F>(f), [&](jr_reply_cb cb, void *ud) {
      if (detail::has_nul(n)) return JR_EINVAL;
      return jr_client_submit_to(c_, n.c_str(), args.size(), args.argv(), args.lens(),
                                 detail::to_ms(timeout), cb, ud);
    });
  }

  // Rotates the credentials: every connection made from now on
  // (reconnects, pooled, pub/sub and cluster node connections) sends AUTH
  // with these; connections already authenticated stay as they are. Throws
  // LibraryError (JR_EINVAL for text with a NUL byte, JR_ECLOSED).
  void set_auth(std::string_view password) const { set_auth_(nullptr, password); }
  void set_auth(std::string_view username, std::string_view password) const {
    set_auth_(&username, password);
  }

  // ---- Statistics (any thread, also inside callbacks). Throw
  // LibraryError (JR_EFORKED in a child after fork()).

  [[nodiscard]] Stats stats() const {
    jr_stats s{};
    s.size = sizeof s;
    detail::check(jr_client_stats(c_, &s));
    // Fields beyond what the library filled stay 0 (s was zeroed).
    return Stats{s.submitted,       s.completed,  s.server_errors, s.library_errors,
                 s.timeouts,        s.cancels,    s.in_flight,     s.queued,
                 s.bytes_written,   s.bytes_read, s.connects,      s.disconnects,
                 s.redirects,       s.cache_hits, s.cache_misses,  s.cache_invalidations,
                 s.connect_failures};
  }
  // Every endpoint libjr has tried, in the order it first did.
  [[nodiscard]] std::vector<EndpointStats> endpoint_stats() const {
    std::vector<EndpointStats> out;
    for (size_t i = 0;; i++) {
      jr_endpoint_stats e{};
      e.size = sizeof e;
      int rc = jr_client_endpoint_stats(c_, i, &e);
      if (rc == JR_ENOENT) break;
      detail::check(rc);
      out.push_back({e.endpoint != nullptr ? e.endpoint : "", e.connections, e.completed,
                     e.server_errors, e.library_errors, e.bytes_written, e.bytes_read, e.connects,
                     e.disconnects, e.connect_failures, e.redirects});
    }
    return out;
  }
  // The upper bound of the histogram bucket that holds `percentile` (0..100;
  // 50 = the median): at most 25% above the true latency;
  // nanoseconds::max() for the last bucket. nullopt before any request
  // completed; a percentile outside 0..100 throws LibraryError (JR_EINVAL).
  [[nodiscard]] std::optional<std::chrono::nanoseconds> latency(double percentile) const {
    uint64_t ns = 0;
    int rc = jr_client_latency(c_, percentile, &ns);
    if (rc == JR_ENOENT) return std::nullopt;
    detail::check(rc);
    return detail::ns_of(ns);
  }
  // The whole histogram, empty buckets included.
  [[nodiscard]] std::vector<LatencyBucket> latency_buckets() const {
    std::vector<LatencyBucket> out;
    for (size_t i = 0;; i++) {
      uint64_t upper = 0, count = 0;
      int rc = jr_client_latency_bucket(c_, i, &upper, &count);
      if (rc == JR_ENOENT) break;
      detail::check(rc);
      out.push_back({detail::ns_of(upper), count});
    }
    return out;
  }
  // The statistics in the Prometheus text exposition format (0.0.4), ready
  // to serve as they are.
  [[nodiscard]] std::string stats_text() const {
    std::string buf(4096, '\0');
    for (;;) {
      int64_t n = jr_client_stats_text(c_, buf.data(), buf.size());
      detail::check(static_cast<int>(n < 0 ? n : 0));
      if (static_cast<uint64_t>(n) < buf.size()) {
        buf.resize(static_cast<size_t>(n));
        return buf;
      }
      buf.resize(static_cast<size_t>(n) + 256);  // counters may grow between the calls
    }
  }

  // Poll mode: a descriptor readable while completions wait, and running
  // them on this thread (max 0 = all). fd() is -1 in loop mode.
  [[nodiscard]] int fd() const noexcept { return jr_client_fd(c_); }
  size_t dispatch(size_t max = 0) const noexcept { return jr_dispatch(c_, max); }

  [[nodiscard]] jr_client *get() const noexcept { return c_; }

 private:
  friend class detail::Commands<Client>;
  [[nodiscard]] detail::Target target_() const noexcept { return {c_, nullptr}; }
  // Submits through submit(cb, ud) with f as the one completion.
  template <class F, class Submit>
  void submit_raw(F &&f, Submit &&submit) const {
    using Fn = std::decay_t<F>;
    auto holder = std::make_unique<Fn>(std::forward<F>(f));
    detail::check(submit(&detail::callback_trampoline<Fn>, static_cast<void *>(holder.get())));
    static_cast<void>(holder.release());  // owned by the completion now
  }
  void set_auth_(const std::string_view *username, std::string_view password) const {
    if (detail::has_nul(password) || (username != nullptr && detail::has_nul(*username)))
      throw LibraryError(JR_EINVAL);
    std::string p(password), u(username != nullptr ? *username : std::string_view());
    detail::check(jr_client_set_auth(c_, username != nullptr ? u.c_str() : nullptr, p.c_str()));
  }
  jr_client *c_ = nullptr;
  detail::Hooks hooks_;  // outlives the loop thread: ~Client's body joins it
};

}  // namespace jr

#endif  // JR_JR_HPP
