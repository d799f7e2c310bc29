// SPDX-License-Identifier: MIT
// Static text for libjr's result codes (jr_strerror, jr_err_name, jr_err_unsent).
#include "jr/jr.h"

namespace {

// What a code says about the command that ended with it (its callback's
// status, or what a submit or call function returned for it).
enum Sent : unsigned char {
  kNever,   // not a command's outcome (JR_OK, JR_ENOENT, JR_ETLS): unsent 0
  kMaybe,   // the command may have reached the server: unsent 0
  kUnsent,  // it certainly did not: unsent 1
};

struct ErrInfo {
  const char *name;
  const char *text;
  Sent sent;
};

// Indexed by -code. Codes are fixed: only append.
constexpr ErrInfo kErrors[] = {
    {"JR_OK", "success", kNever},
    {"JR_EINVAL", "invalid argument (nothing was sent)", kUnsent},
    // A refused submit sent nothing, but a command whose reply could not be
    // stored (the reader ran out of memory) or whose fan-out could not be
    // assembled did reach the server: as an outcome, "may have run".
    {"JR_ENOMEM",
     "out of memory (a refused call sent nothing; a command that completes with it may have run)",
     kMaybe},
    {"JR_ECLOSED", "client closed or draining (the command was not sent)", kUnsent},
    {"JR_ECONNECT", "could not connect to the server (the command was not sent)", kUnsent},
    {"JR_ECONNLOST",
     "connection lost after the command was written (it may have run on the server)", kMaybe},
    {"JR_ETIMEDOUT", "timed out waiting for the reply (the command may have run on the server)",
     kMaybe},
    {"JR_EQUEUETIMEOUT", "timed out before the command could be written (it was not sent)",
     kUnsent},
    {"JR_EPROTO",
     "malformed reply from the server; the connection was reset (the command may have run)",
     kMaybe},
    {"JR_ETOOBIG",
     "reply larger than the configured limits; the connection was reset (the command may have "
     "run)",
     kMaybe},
    {"JR_EREFUSED", "command refused by libjr on this handle (see jr_refusal_reason; not sent)",
     kUnsent},
    {"JR_ECANCELED", "cancelled before it was written (the command was not sent)", kUnsent},
    {"JR_EABANDONED",
     "cancelled after it was written; its reply will be dropped (the command may have run)",
     kMaybe},
    {"JR_EAUTH",
     "the connection handshake (AUTH, CLIENT SETNAME, connect commands) failed (not sent)",
     kUnsent},
    {"JR_ESHUTDOWN", "client freed while the command was in flight (it may have run)", kMaybe},
    // An outcome of jr_client_call on the loop thread, jr_watch_submit after
    // jr_watch_multi, and each queued command of a jr_multi_exec whose WATCH
    // was freed: in every case nothing was sent.
    {"JR_EMISUSE",
     "API misuse (for example a blocking call from a libjr callback; nothing was sent)", kUnsent},
    {"JR_ENOENT", "no such request or key", kNever},
    {"JR_EINTERNAL", "internal error in libjr (the command may have run)", kMaybe},
    {"JR_EFULL", "too many commands queued (max_queued); the command was not sent", kUnsent},
    {"JR_EDISCARDED", "transaction discarded before EXEC (nothing ran)", kUnsent},
    {"JR_EWATCH", "transaction aborted: watched key changed (nothing ran)", kUnsent},
    {"JR_EPOOLTIMEOUT",
     "no pooled connection became free before the deadline (the command was not sent)", kUnsent},
    {"JR_ECROSSSLOT",
     "the command's keys are in different cluster slots and it cannot be split (not sent)",
     kUnsent},
    {"JR_ECLUSTER",
     "not possible in this cluster mode: all-masters needs a Redis Cluster, a cluster has only "
     "database 0 (not sent)",
     kUnsent},
    {"JR_EFORKED",
     "the client belongs to the parent process (fork): create a new client (not sent)", kUnsent},
    {"JR_ETLS", "the TLS configuration is unusable (CA, certificate or key files)", kNever},
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
  return e != nullptr && e->sent == kUnsent ? 1 : 0;
}

JR_API unsigned jr_version(void) {
  return JR_VERSION_HEX;
}

JR_API const char *jr_version_string(void) {
  return JR_VERSION_STRING;
}

}  // extern "C"
