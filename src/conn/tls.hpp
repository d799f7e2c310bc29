// SPDX-License-Identifier: MIT
// TLS over libuv streams with OpenSSL memory BIOs: the socket carries
// ciphertext, the connection's reader and writer see plaintext.
#ifndef JR_SRC_CONN_TLS_HPP
#define JR_SRC_CONN_TLS_HPP

#include <memory>
#include <string>

#include "resp/encoder.hpp"

typedef struct ssl_ctx_st SSL_CTX;
typedef struct ssl_st SSL;
typedef struct bio_st BIO;

namespace jr {

struct Options;

class TlsContext {
 public:
  // Returns nullptr with `error` set when the configuration is unusable
  // (missing CA file, key not matching the certificate, ...).
  static std::unique_ptr<TlsContext> create(const Options &opts, std::string &error);
  ~TlsContext();
  SSL_CTX *ctx() const noexcept { return ctx_; }
  [[nodiscard]] bool verify() const noexcept { return verify_; }
  [[nodiscard]] const std::string &server_name() const noexcept { return server_name_; }

 private:
  TlsContext() = default;
  SSL_CTX *ctx_ = nullptr;
  bool verify_ = true;
  std::string server_name_;
};

class TlsSession {
 public:
  // host: the endpoint's host (a name or an address) for SNI and
  // certificate host/IP verification.
  TlsSession(const TlsContext &ctx, const std::string &host);
  ~TlsSession();
  TlsSession(const TlsSession &) = delete;
  TlsSession &operator=(const TlsSession &) = delete;

  [[nodiscard]] bool ok() const noexcept { return ssl_ != nullptr; }
  // 1: done, 0: needs more bytes from the server, -1: failed (error()).
  int handshake();
  bool feed(const char *data, size_t len);  // ciphertext in
  // Plaintext out: >0 bytes, 0 nothing yet, -1 failed / closed.
  int read(char *buf, size_t cap);
  bool write(const char *data, size_t len);  // plaintext in
  [[nodiscard]] bool pending() const;        // ciphertext to send?
  bool drain(Buffer &out);                   // ciphertext out
  [[nodiscard]] const std::string &error() const noexcept { return error_; }

 private:
  void set_error(const char *what);
  SSL *ssl_ = nullptr;
  BIO *rbio_ = nullptr;  // network -> SSL
  BIO *wbio_ = nullptr;  // SSL -> network
  std::string error_;
};

}  // namespace jr

#endif  // JR_SRC_CONN_TLS_HPP
