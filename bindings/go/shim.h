/* SPDX-License-Identifier: MIT */
/* C side of the Go binding: completions are recorded into a batch by a C
 * trampoline, and Go reads the batch. By default the callbacks run in
 * jr_dispatch on the dispatcher goroutine's thread, and Go reads the batch
 * after the call returns. With loop delivery they run on libjr's loop
 * thread, which is a goroutine's own (a thread starter), and the ready hook
 * passes each batch to Go (jrGoReady). Either way no thread Go does not
 * know ever enters Go. */
#ifndef JR_GO_SHIM_H
#define JR_GO_SHIM_H

#include <jr/jr.h>
#include <stddef.h>
#include <stdint.h>

/* One completion or message. reply is an owned reference (jr_reply_dup) or
 * NULL; str/len/integer are pre-read so that scalars need no call. A
 * command's scalar reply (a string of up to JR_GO_INLINE bytes, an integer,
 * nil) is copied instead, strings into inl (reply and str NULL): no
 * reference to take and drop. */
#define JR_GO_INLINE 32
typedef struct jr_go_done {
  uintptr_t handle; /* the Go handle passed as userdata */
  jr_reply *reply;
  const char *str;
  size_t len;
  int64_t integer;
  int32_t status;
  int32_t type;
  int32_t kind; /* JR_GO_COMMAND or JR_GO_MESSAGE */
  int32_t pad_;
  char inl[JR_GO_INLINE];
  /* A library error's detail (jr_error_detail: the endpoint and the cause),
   * copied while the callback runs; NULL on success or without one. Freed
   * with the batch. */
  char *detail;
} jr_go_done;

#define JR_GO_COMMAND 0
#define JR_GO_MESSAGE 1

/* A connection event (level 0, from the event callback) or a log line
 * (level JR_LOG_*, from the log hook). */
typedef struct jr_go_event {
  int level;
  int event;
  char *endpoint;
  char *detail;
  struct jr_go_event *next;
} jr_go_event;

typedef struct jr_go_client jr_go_client;

/* Creates the companion and the client (dispatch=poll is forced). opts may
 * be NULL. with_events: queue connection events; with_log: install the log
 * hook and queue its lines. When jr_client_new fails, *why is the reason it
 * logged (malloc'd, for the caller to free) or NULL. */
int jr_go_client_new(jr_options *opts, int with_events, int with_log, int loop_delivery,
                     jr_go_client **out, char **why);
void jr_go_set_owner(jr_go_client *g, uintptr_t owner);
/* Runs libjr's loop (the run/arg a thread starter was given). */
void jr_go_run_loop(uintptr_t g, uintptr_t run, uintptr_t arg);
uintptr_t jr_go_delivering(void);
int jr_go_wait_events(jr_go_client *g);
jr_client *jr_go_client_raw(jr_go_client *g);

/* Dispatcher: waits until completions are queued (or jr_go_wake), runs up to
 * max of them into the batch; *items / *stopping are set. Returns the count. */
size_t jr_go_wait(jr_go_client *g, size_t max, jr_go_done **items, int *stopping);
/* Releases the replies of the batch and empties it. */
void jr_go_batch_release(jr_go_client *g);
/* Asks the dispatcher to return (stopping = 1). */
void jr_go_stop(jr_go_client *g);
/* Frees the client (the dispatcher must have returned); its final
 * completions are put into the batch (*items, returned count). */
size_t jr_go_client_free(jr_go_client *g, jr_go_done **items);
/* Releases the batch and the companion (after jr_go_client_free). */
void jr_go_destroy(jr_go_client *g);
/* Takes the queued connection events (a list to free with jr_go_events_free). */
jr_go_event *jr_go_take_events(jr_go_client *g);
void jr_go_events_free(jr_go_event *e);

/* Submits argc arguments laid out back to back in buf (lens[i] bytes each).
 * db may be NULL (the client's default database). */
int jr_go_submit(jr_go_client *g, jr_db *db, const char *buf, const size_t *lens, size_t argc,
                 int64_t timeout_ms, uintptr_t handle, jr_req_id *id_out);
/* Runs a command and waits for it on the calling thread (jr_client_call:
 * a short spin, then a futex the loop thread wakes): the completion is
 * filled into *out (its handle 0), to release with jr_go_done_release.
 * Returns the call's status (also out->status). */
int jr_go_call(jr_go_client *g, jr_db *db, const char *buf, const size_t *lens, size_t argc,
               int64_t timeout_ms, jr_go_done *out);
void jr_go_done_release(jr_go_done *d);
/* jr_go_submit with the arguments where they are (argv[i], lens[i]): the
 * caller pinned them for the time of the call (libjr copies them). */
int jr_go_submit_argv(jr_go_client *g, jr_db *db, const char **argv, const size_t *lens,
                      size_t argc, int64_t timeout_ms, uintptr_t handle, jr_req_id *id_out);
/* Submits n commands at once (client database): command i has argcs[i]
 * arguments, all laid out back to back in buf / lens; rcs[i] and ids[i] get
 * each outcome. */
void jr_go_submit_many(jr_go_client *g, const char *buf, const size_t *lens, const size_t *argcs,
                       const int64_t *timeouts, const uintptr_t *handles, size_t n, int *rcs,
                       jr_req_id *ids);
/* An explicit pipeline (jr_client_submit_many, or jr_db_submit_many when db
 * is not NULL): command i has argcs[i] arguments, all laid out back to back
 * in buf / lens; its userdata is handles[i]; rcs[i] and ids[i] get each
 * outcome. Returns the number accepted, or a negative code (then rcs[i] is
 * that code for every i). */
int jr_go_pipeline(jr_go_client *g, jr_db *db, const char *buf, const size_t *lens,
                   const size_t *argcs, size_t n, int64_t timeout_ms, const uintptr_t *handles,
                   int *rcs, jr_req_id *ids);
/* jr_cancel for each of ids[0..n) that is not 0; returns how many it cancelled. */
size_t jr_go_cancel_many(jr_go_client *g, const jr_req_id *ids, size_t n);
int jr_go_options_connect_command(jr_options *o, const char *buf, const size_t *lens, size_t argc);

/* ---- Transactions, WATCH, pub/sub, MONITOR (flat-buffer forms) ---------- */

/* Completions that a call runs inline (jr_multi_discard, a failed
 * jr_multi_exec) are captured into a batch of their own: read it with
 * jr_go_captured and free it with jr_go_captured_free (NULL: none). */
typedef struct jr_go_batch jr_go_batch;
size_t jr_go_captured(jr_go_batch *b, jr_go_done **items);
void jr_go_captured_free(jr_go_batch *b);

int jr_go_multi_add(jr_multi *m, const char *buf, const size_t *lens, size_t argc,
                    uintptr_t handle);
int jr_go_multi_exec(jr_multi *m, int64_t timeout_ms, uintptr_t handle, jr_go_batch **captured);
void jr_go_multi_discard(jr_multi *m, jr_go_batch **captured);
int jr_go_watch_new(jr_client *c, int db, const char *buf, const size_t *lens, size_t n,
                    jr_watch **out);
int jr_go_watch_submit(jr_watch *w, const char *buf, const size_t *lens, size_t argc,
                       int64_t timeout_ms, uintptr_t handle);
int jr_go_sub_new(jr_client *c, uintptr_t handle, jr_sub **out);
int jr_go_sub_names(jr_sub *s, int subscribe, int pattern, const char *buf, const size_t *lens,
                    size_t n);
int jr_go_monitor_new(jr_client *c, uintptr_t handle, jr_monitor **out);

/* ---- Redis Cluster calls (flat-buffer forms; completions as commands) ---- */

int jr_go_submit_all_masters(jr_go_client *g, const char *buf, const size_t *lens, size_t argc,
                             int64_t timeout_ms, uintptr_t handle);
int jr_go_submit_to(jr_go_client *g, const char *node, const char *buf, const size_t *lens,
                    size_t argc, int64_t timeout_ms, uintptr_t handle);
int jr_go_endpoints(jr_go_client *g, uintptr_t handle);

#endif /* JR_GO_SHIM_H */
