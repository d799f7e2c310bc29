// Static text for libjr's result codes (jr_strerror, jr_err_name, jr_err_unsent).
#include "jr/jr.h"

namespace {

struct ErrInfo {
  const char *name;
  const char *text;
  bool unsent;
};

// Indexed by -code. Codes are fixed: only append.
constexpr ErrInfo kErrors[] = {
    {"JR_OK", "success", false},
    {"JR_EINVAL", "invalid argument (nothing was sent)", true},
    {"JR_ENOMEM", "out of memory (nothing was sent)", true},
    {"JR_ECLOSED", "client closed or draining (the command was not sent)", true},
    {"JR_ECONNECT", "could not connect to the server (the command was not sent)", true},
    {"JR_ECONNLOST",
     "connection lost after the command was written (it may have run on the server)", false},
    {"JR_ETIMEDOUT", "timed out waiting for the reply (the command may have run on the server)",
     false},
    {"JR_EQUEUETIMEOUT", "timed out before the command could be written (it was not sent)", true},
    {"JR_EPROTO",
     "malformed reply from the server; the connection was reset (the command may have run)", false},
    {"JR_ETOOBIG",
     "reply larger than the configured limits; the connection was reset (the command may have "
     "run)",
     false},
    {"JR_EREFUSED", "command refused by libjr on this handle (see jr_refusal_reason; not sent)",
     true},
    {"JR_ECANCELED", "cancelled before it was written (the command was not sent)", true},
    {"JR_EABANDONED",
     "cancelled after it was written; its reply will be dropped (the command may have run)", false},
    {"JR_EAUTH",
     "the connection handshake (AUTH, CLIENT SETNAME, connect commands) failed (not sent)", true},
    {"JR_ESHUTDOWN", "client freed while the command was in flight (it may have run)", false},
    {"JR_EMISUSE", "API misuse (for example a blocking call from a libjr callback)", true},
    {"JR_ENOENT", "no such request or key", true},
    {"JR_EINTERNAL", "internal error in libjr", false},
    {"JR_EFULL", "too many commands queued (max_queued); the command was not sent", true},
    {"JR_EDISCARDED", "transaction discarded before EXEC (nothing ran)", true},
    {"JR_EWATCH", "transaction aborted: watched key changed (nothing ran)", true},
    {"JR_EPOOLTIMEOUT",
     "no pooled connection became free before the deadline (the command was not sent)", true},
    {"JR_ECROSSSLOT",
     "the command's keys are in different cluster slots and it cannot be split (not sent)", true},
    {"JR_ECLUSTER",
     "not possible in this cluster mode: all-masters needs a Redis Cluster, a cluster has only "
     "database 0 (not sent)",
     true},
    {"JR_EFORKED",
     "the client belongs to the parent process (fork): create a new client (not sent)", true},
    {"JR_ETLS", "the TLS configuration is unusable (CA, certificate or key files)", true},
};

constexpr int kCount = static_cast<int>(sizeof kErrors / sizeof kErrors[0]);

const ErrInfo *info(int code) {
  if (code > 0 || code <= -kCount) return nullptr;  // never negates INT_MIN
  return &kErrors[-code];
}

}  // namespace

extern "C" {

JR_API const char *jr_strerror(int code) {
  const ErrInfo *e = info(code);
  return e != nullptr ? e->text : "unknown libjr error code";
}

JR_API const char *jr_err_name(int code) {
  const ErrInfo *e = info(code);
  return e != nullptr ? e->name : "JR_E?";
}

JR_API int jr_err_unsent(int code) {
  const ErrInfo *e = info(code);
  return e != nullptr && code < 0 && e->unsent ? 1 : 0;
}

JR_API unsigned jr_version(void) {
  return JR_VERSION_HEX;
}

JR_API const char *jr_version_string(void) {
  return JR_VERSION_STRING;
}

}  // extern "C"
