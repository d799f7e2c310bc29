// SPDX-License-Identifier: MIT
#include "conn/tls.hpp"

#include <arpa/inet.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "options.hpp"

namespace jr {

namespace {
std::string ssl_errors(const char *what) {
  std::string out = what;
  unsigned long e;
  char buf[256];
  while ((e = ERR_get_error()) != 0) {
    int reason = ERR_GET_REASON(e);
    if (ERR_GET_LIB(e) == ERR_LIB_SSL && reason >= SSL_AD_REASON_OFFSET &&
        reason < SSL_AD_REASON_OFFSET + 256) {
      // An alert from the server: say which, in words ("certificate
      // required" when mutual TLS wants a client certificate).
      // OpenSSL's reason text is "tlsv13 alert certificate required".
      const char *text = ERR_reason_error_string(e);
      std::string desc =
          text != nullptr ? text : SSL_alert_desc_string_long(reason - SSL_AD_REASON_OFFSET);
      size_t at = desc.find("alert ");
      if (at != std::string::npos) desc.erase(0, at + 6);
      out += ": the server sent the alert \"" + desc + "\"";
      continue;
    }
    ERR_error_string_n(e, buf, sizeof buf);
    out += ": ";
    out += buf;
  }
  return out;
}

bool is_ip(const std::string &host) {
  unsigned char buf[16];
  return inet_pton(AF_INET, host.c_str(), buf) == 1 || inet_pton(AF_INET6, host.c_str(), buf) == 1;
}
}  // namespace

std::unique_ptr<TlsContext> TlsContext::create(const Options &o, std::string &error) {
  std::unique_ptr<TlsContext> t(new TlsContext());
  t->ctx_ = SSL_CTX_new(TLS_client_method());
  if (t->ctx_ == nullptr) {
    error = ssl_errors("SSL_CTX_new");
    return nullptr;
  }
  SSL_CTX_set_min_proto_version(t->ctx_, TLS1_2_VERSION);
  t->verify_ = o.tls_verify;
  t->server_name_ = o.tls_server_name;
  if (o.tls_verify) {
    SSL_CTX_set_verify(t->ctx_, SSL_VERIFY_PEER, nullptr);
    if (!o.tls_ca_file.empty() || !o.tls_ca_dir.empty()) {
      if (SSL_CTX_load_verify_locations(
              t->ctx_, o.tls_ca_file.empty() ? nullptr : o.tls_ca_file.c_str(),
              o.tls_ca_dir.empty() ? nullptr : o.tls_ca_dir.c_str()) != 1) {
        error = ssl_errors("loading tls_ca_file / tls_ca_dir");
        return nullptr;
      }
    } else if (SSL_CTX_set_default_verify_paths(t->ctx_) != 1) {
      error = ssl_errors("loading the system CA store");
      return nullptr;
    }
  } else {
    SSL_CTX_set_verify(t->ctx_, SSL_VERIFY_NONE, nullptr);
  }
  if (!o.tls_cert_file.empty() || !o.tls_key_file.empty()) {
    if (SSL_CTX_use_certificate_chain_file(t->ctx_, o.tls_cert_file.c_str()) != 1) {
      error = ssl_errors("loading tls_cert_file");
      return nullptr;
    }
    const std::string &key = o.tls_key_file.empty() ? o.tls_cert_file : o.tls_key_file;
    if (SSL_CTX_use_PrivateKey_file(t->ctx_, key.c_str(), SSL_FILETYPE_PEM) != 1 ||
        SSL_CTX_check_private_key(t->ctx_) != 1) {
      error = ssl_errors("loading tls_key_file");
      return nullptr;
    }
  }
  return t;
}

TlsContext::~TlsContext() {
  if (ctx_ != nullptr) SSL_CTX_free(ctx_);
}

TlsSession::TlsSession(const TlsContext &ctx, const std::string &host) {
  ssl_ = SSL_new(ctx.ctx());
  rbio_ = BIO_new(BIO_s_mem());
  wbio_ = BIO_new(BIO_s_mem());
  if (ssl_ == nullptr || rbio_ == nullptr || wbio_ == nullptr) {
    if (rbio_ != nullptr) BIO_free(rbio_);
    if (wbio_ != nullptr) BIO_free(wbio_);
    if (ssl_ != nullptr) SSL_free(ssl_);
    ssl_ = nullptr;
    error_ = "out of memory";
    return;
  }
  SSL_set_bio(ssl_, rbio_, wbio_);  // the SSL owns both now
  SSL_set_connect_state(ssl_);
  const std::string &name = ctx.server_name().empty() ? host : ctx.server_name();
  if (!is_ip(name)) SSL_set_tlsext_host_name(ssl_, name.c_str());
  if (ctx.verify()) {
    X509_VERIFY_PARAM *param = SSL_get0_param(ssl_);
    if (is_ip(name)) {
      X509_VERIFY_PARAM_set1_ip_asc(param, name.c_str());
    } else {
      SSL_set1_host(ssl_, name.c_str());
    }
  }
}

TlsSession::~TlsSession() {
  if (ssl_ != nullptr) SSL_free(ssl_);
}

void TlsSession::set_error(const char *what) {
  long v = ssl_ != nullptr ? SSL_get_verify_result(ssl_) : X509_V_OK;
  if (v != X509_V_OK) {
    error_ = std::string(what) +
             ": certificate verification failed: " + X509_verify_cert_error_string(v);
    ERR_clear_error();
  } else {
    error_ = ssl_errors(what);
  }
}

int TlsSession::handshake() {
  ERR_clear_error();
  int rc = SSL_do_handshake(ssl_);
  if (rc == 1) return 1;
  int err = SSL_get_error(ssl_, rc);
  if (err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE) return 0;
  set_error("tls handshake");
  return -1;
}

bool TlsSession::feed(const char *data, size_t len) {
  return BIO_write(rbio_, data, static_cast<int>(len)) == static_cast<int>(len);
}

int TlsSession::read(char *buf, size_t cap) {
  ERR_clear_error();
  int n = SSL_read(ssl_, buf, static_cast<int>(cap));
  if (n > 0) return n;
  int err = SSL_get_error(ssl_, n);
  if (err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE) return 0;
  if (err == SSL_ERROR_ZERO_RETURN) {
    error_ = "tls: the server closed the session";
  } else {
    set_error("tls read");
  }
  return -1;
}

bool TlsSession::write(const char *data, size_t len) {
  ERR_clear_error();
  while (len > 0) {
    int n = SSL_write(ssl_, data, static_cast<int>(len > (1u << 30) ? (1u << 30) : len));
    if (n <= 0) {
      set_error("tls write");
      return false;
    }
    data += n;
    len -= static_cast<size_t>(n);
  }
  return true;
}

bool TlsSession::pending() const {
  return BIO_ctrl_pending(wbio_) > 0;
}

bool TlsSession::drain(Buffer &out) {
  size_t n = BIO_ctrl_pending(wbio_);
  if (n == 0) return true;
  char *p = out.grow(n);
  if (p == nullptr) return false;
  return BIO_read(wbio_, p, static_cast<int>(n)) == static_cast<int>(n);
}

}  // namespace jr
