/* SPDX-License-Identifier: MIT */
/* C side of the Go binding; see shim.h. */
#include "shim.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

struct jr_go_batch {
  jr_go_done *items;
  size_t n;
  size_t cap;
};

struct jr_go_client {
  jr_client *c;
  int wake_fd;
  int want_events;  /* queue the event callback's events */
  int constructing; /* jr_client_new runs (atomic) */
  char *why;        /* the reason it logged (under mu) */
  int stop;
  pthread_mutex_t mu; /* events and stop */
  jr_go_event *ev_head;
  jr_go_event *ev_tail;
  jr_go_batch batch;
  /* Loop delivery: the Go client's cgo.Handle (0 until set), and the batch
   * Go is running (new completions are recorded into `batch` meanwhile). */
  uintptr_t owner;
  int loop;
  jr_go_batch running;
};

/* Exported by client.go. */
extern void jrGoReady(uintptr_t owner, jr_go_done *items, size_t n);
extern void jrGoStartLoop(uintptr_t g, uintptr_t run, uintptr_t arg);

/* The batch of the thread currently inside jr_dispatch / jr_client_free for
 * a Go client. Poll-mode callbacks run on exactly that thread. */
static __thread jr_go_batch *tls_batch;

/* Completions that arrived on an unexpected thread (a contract break):
 * kept here and handed to the next dispatcher round instead of being lost
 * (any dispatcher's: the handle identifies its owner). */
static pthread_mutex_t stray_mu = PTHREAD_MUTEX_INITIALIZER;
static jr_go_batch stray;
static int stray_pending;

static void take_stray(jr_go_batch *b);

static void batch_push(jr_go_batch *b, const jr_go_done *d) {
  if (b->n == b->cap) {
    size_t cap = b->cap != 0 ? b->cap * 2 : 1024;
    jr_go_done *items = realloc(b->items, cap * sizeof *items);
    if (items == NULL) abort(); /* as Go itself does when out of memory */
    b->items = items;
    b->cap = cap;
  }
  b->items[b->n++] = *d;
}

static char *dup_text(const char *s);

/* Fills *d from a completion. owned: r is the caller's reference (a
 * jr_client_call's reply), kept in d->reply or released here; otherwise r
 * is borrowed (a callback's) and duplicated when d keeps it. */
static void fill(jr_go_done *d, uintptr_t handle, int status, const jr_reply *r, int kind,
                 int owned) {
  memset(d, 0, sizeof *d);
  d->handle = handle;
  d->status = status;
  if (status < 0) {
    /* Only on failure: the success path allocates nothing. */
    const char *detail = jr_error_detail();
    if (detail != NULL) d->detail = dup_text(detail);
  }
  d->kind = kind;
  d->type = jr_reply_get_type(r);
  if (r != NULL) {
    d->str = jr_reply_str(r, &d->len);
    d->integer = jr_reply_integer(r);
    /* Aggregates (ARRAY, MAP, SET, PUSH) and VERB (its format) are read
     * from the reply; the other types are a string and an integer. */
    int scalar = d->type != JR_REPLY_ARRAY && d->type != JR_REPLY_MAP && d->type != JR_REPLY_SET &&
                 d->type != JR_REPLY_PUSH && d->type != JR_REPLY_VERB;
    if (kind == JR_GO_COMMAND && scalar && d->len <= JR_GO_INLINE) {
      if (d->str != NULL) memcpy(d->inl, d->str, d->len);
      d->str = NULL;
      if (owned) jr_reply_free((jr_reply *)r);
    } else {
      d->reply = owned ? (jr_reply *)r : jr_reply_dup(r);
      if (!scalar) d->len = jr_reply_len(r);
    }
  }
}

static void record(uintptr_t handle, int status, const jr_reply *r, int kind) {
  jr_go_done d;
  fill(&d, handle, status, r, kind, 0);
  if (tls_batch != NULL) {
    batch_push(tls_batch, &d);
  } else {
    pthread_mutex_lock(&stray_mu);
    batch_push(&stray, &d);
    __atomic_store_n(&stray_pending, 1, __ATOMIC_RELEASE);
    pthread_mutex_unlock(&stray_mu);
  }
}

static void command_trampoline(void *ud, int status, const jr_reply *r) {
  record((uintptr_t)ud, status, r, JR_GO_COMMAND);
}

static void message_trampoline(void *ud, int status, const jr_reply *r) {
  record((uintptr_t)ud, status, r, JR_GO_MESSAGE);
}

#define ARGV_STACK 16

/* Builds argv pointing into buf; returns NULL when out of memory. */
static const char **argv_of(const char *buf, const size_t *lens, size_t argc, const char **stackv) {
  const char **argv = argc <= ARGV_STACK ? stackv : malloc(argc * sizeof *argv);
  if (argv == NULL) return NULL;
  size_t off = 0;
  for (size_t i = 0; i < argc; i++) {
    argv[i] = buf + off;
    off += lens[i];
  }
  return argv;
}

static void argv_done(const char **argv, const char **stackv) {
  if (argv != stackv) free((void *)argv);
}

static void wake(jr_go_client *g) {
  uint64_t one = 1;
  ssize_t n;
  do {
    n = write(g->wake_fd, &one, sizeof one);
  } while (n < 0 && errno == EINTR);
}

static char *dup_text(const char *s) {
  if (s == NULL) s = "";
  size_t n = strlen(s) + 1;
  char *d = malloc(n);
  if (d != NULL) memcpy(d, s, n);
  return d;
}

/* Loop thread: queue the event and wake the dispatcher (never calls Go:
 * a slow Go handler cannot hold up the loop). */
static void queue_event(jr_go_client *g, int level, int event, const char *endpoint,
                        const char *detail) {
  jr_go_event *e = malloc(sizeof *e);
  if (e == NULL) return;
  e->level = level;
  e->event = event;
  e->endpoint = dup_text(endpoint);
  e->detail = dup_text(detail);
  e->next = NULL;
  pthread_mutex_lock(&g->mu);
  if (g->ev_tail != NULL) {
    g->ev_tail->next = e;
  } else {
    g->ev_head = e;
  }
  g->ev_tail = e;
  pthread_mutex_unlock(&g->mu);
  wake(g);
}

static void event_trampoline(void *ctx, int event, const char *endpoint, const char *detail) {
  jr_go_client *g = ctx;
  if (event == JR_EVENT_LOG && __atomic_load_n(&g->constructing, __ATOMIC_ACQUIRE)) {
    /* jr_client_new is running: keep what it says (why it refuses). */
    char *why = dup_text(detail);
    pthread_mutex_lock(&g->mu);
    free(g->why);
    g->why = why;
    pthread_mutex_unlock(&g->mu);
  }
  if (g->want_events) queue_event(g, 0, event, endpoint, detail);
}

static void log_trampoline(void *ctx, int level, int event, const char *endpoint,
                           const char *text) {
  queue_event(ctx, level, event, endpoint, text);
}

/* Loop delivery: libjr runs in loop mode on a goroutine's thread (see
 * go_starter), where tls_batch is g->batch for good: the callbacks record
 * their completions there, and libjr's ready hook hands each batch to Go
 * (one entry into Go, one call back to C to send what its callbacks
 * submitted). The batch is swapped out first: what completes while Go runs
 * it (a cancel from a callback, say) is recorded into the other buffer,
 * and the hook runs again for it. */
static __thread uintptr_t tls_delivering; /* the owner whose batch runs here */

static void batch_release(jr_go_batch *b) {
  for (size_t i = 0; i < b->n; i++) {
    jr_reply_free(b->items[i].reply);
    free(b->items[i].detail);
  }
  b->n = 0;
}

static void ready_trampoline(void *ctx) {
  jr_go_client *g = ctx;
  uintptr_t owner = __atomic_load_n(&g->owner, __ATOMIC_ACQUIRE);
  if (owner == 0) return; /* no command can have been submitted yet */
  jr_go_batch run = g->batch;
  g->batch = g->running;
  take_stray(&run);
  if (run.n > 0) {
    uintptr_t prev = tls_delivering;
    tls_delivering = owner;
    jrGoReady(owner, run.items, run.n);
    tls_delivering = prev;
    batch_release(&run);
  }
  g->running = run;
}

uintptr_t jr_go_delivering(void) {
  return tls_delivering;
}

void jr_go_set_owner(jr_go_client *g, uintptr_t owner) {
  __atomic_store_n(&g->owner, owner, __ATOMIC_RELEASE);
}

/* Runs up to max (0: all) queued completions into g's batch, with any
 * strays; returns the batch. */
static size_t dispatch_batch(jr_go_client *g, size_t max, jr_go_done **items) {
  tls_batch = &g->batch;
  jr_dispatch(g->c, max);
  tls_batch = NULL;
  take_stray(&g->batch);
  *items = g->batch.items;
  return g->batch.n;
}

/* Sleeps until one of the n descriptors is readable. */
static void wait_readable(struct pollfd *p, nfds_t n) {
  for (;;) {
    for (nfds_t i = 0; i < n; i++) p[i].revents = 0;
    int rc = poll(p, n, -1);
    if (rc >= 0 || errno != EINTR) return;
  }
}

static void drain_wake(jr_go_client *g) {
  uint64_t v;
  ssize_t n;
  do {
    n = read(g->wake_fd, &v, sizeof v);
  } while (n < 0 && errno == EINTR);
}

static int stopping_of(jr_go_client *g) {
  pthread_mutex_lock(&g->mu);
  int stop = g->stop;
  pthread_mutex_unlock(&g->mu);
  return stop;
}

int jr_go_wait_events(jr_go_client *g) {
  struct pollfd p = {.fd = g->wake_fd, .events = POLLIN};
  wait_readable(&p, 1);
  drain_wake(g);
  return stopping_of(g);
}

/* Loop delivery: libjr's loop runs on a goroutine's own thread (see
 * jrGoStartLoop), so its calls into Go are plain cgo callbacks; on a thread
 * Go did not create each one would set up and tear down an M (needm/dropm:
 * signal masks and stacks, several system calls). */
static int go_starter(void *ctx, void (*run)(void *), void *arg) {
  jrGoStartLoop((uintptr_t)ctx, (uintptr_t)run, (uintptr_t)arg);
  return 0;
}

void jr_go_run_loop(uintptr_t g, uintptr_t run, uintptr_t arg) {
  tls_batch = &((jr_go_client *)g)->batch;
  ((void (*)(void *))run)((void *)arg);
  tls_batch = NULL;
}

int jr_go_client_new(jr_options *opts, int with_events, int with_log, int loop_delivery,
                     jr_go_client **out, char **why) {
  *out = NULL;
  *why = NULL;
  jr_go_client *g = calloc(1, sizeof *g);
  if (g == NULL) return JR_ENOMEM;
  g->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (g->wake_fd < 0) {
    free(g);
    return JR_ENOMEM;
  }
  pthread_mutex_init(&g->mu, NULL);
  int rc = JR_OK;
  jr_options *own = NULL;
  if (opts == NULL) opts = own = jr_options_new();
  if (opts == NULL) rc = JR_ENOMEM;
  g->loop = loop_delivery;
  g->want_events = with_events;
  if (rc == JR_OK) rc = jr_options_set(opts, "dispatch", loop_delivery ? "loop" : "poll");
  /* Always: jr_client_new says why it refuses through it. */
  if (rc == JR_OK) rc = jr_options_set_event_cb(opts, event_trampoline, g);
  if (rc == JR_OK && with_log) rc = jr_options_set_log_cb(opts, log_trampoline, g);
  if (rc == JR_OK && loop_delivery) rc = jr_options_set_ready_cb(opts, ready_trampoline, g);
  if (rc == JR_OK && loop_delivery) rc = jr_options_set_thread_starter(opts, go_starter, g);
  __atomic_store_n(&g->constructing, 1, __ATOMIC_RELEASE);
  if (rc == JR_OK) rc = jr_client_new(opts, &g->c);
  __atomic_store_n(&g->constructing, 0, __ATOMIC_RELEASE);
  jr_options_free(own);
  if (rc != JR_OK) {
    *why = g->why;
    jr_go_events_free(g->ev_head);
    close(g->wake_fd);
    pthread_mutex_destroy(&g->mu);
    free(g);
    return rc;
  }
  pthread_mutex_lock(&g->mu);
  free(g->why);
  g->why = NULL;
  pthread_mutex_unlock(&g->mu);
  *out = g;
  return JR_OK;
}

jr_client *jr_go_client_raw(jr_go_client *g) {
  return g->c;
}

static void take_stray(jr_go_batch *b) {
  if (!__atomic_load_n(&stray_pending, __ATOMIC_ACQUIRE)) return;
  pthread_mutex_lock(&stray_mu);
  __atomic_store_n(&stray_pending, 0, __ATOMIC_RELAXED);
  for (size_t i = 0; i < stray.n; i++) batch_push(b, &stray.items[i]);
  stray.n = 0;
  pthread_mutex_unlock(&stray_mu);
}

size_t jr_go_wait(jr_go_client *g, size_t max, jr_go_done **items, int *stopping) {
  /* Busy: completions are already queued, no need to sleep in poll. */
  size_t n = dispatch_batch(g, max, items);
  if (n == 0) {
    struct pollfd p[2] = {{.fd = jr_client_fd(g->c), .events = POLLIN},
                          {.fd = g->wake_fd, .events = POLLIN}};
    wait_readable(p, 2);
    if (p[1].revents != 0) drain_wake(g);
    n = dispatch_batch(g, max, items);
  }
  *stopping = stopping_of(g);
  return n;
}

void jr_go_batch_release(jr_go_client *g) {
  batch_release(&g->batch);
}

void jr_go_stop(jr_go_client *g) {
  pthread_mutex_lock(&g->mu);
  g->stop = 1;
  pthread_mutex_unlock(&g->mu);
  wake(g);
}

size_t jr_go_client_free(jr_go_client *g, jr_go_done **items) {
  /* Poll mode: the final completions run here. Loop delivery: on the loop
   * thread, into g->batch; what no hook ran is returned here. */
  if (!g->loop) tls_batch = &g->batch;
  jr_client_free(g->c);
  tls_batch = NULL;
  g->c = NULL;
  take_stray(&g->batch);
  *items = g->batch.items;
  return g->batch.n;
}

void jr_go_destroy(jr_go_client *g) {
  jr_go_batch_release(g);
  free(g->batch.items);
  free(g->running.items);
  jr_go_events_free(jr_go_take_events(g));
  close(g->wake_fd);
  pthread_mutex_destroy(&g->mu);
  free(g);
}

jr_go_event *jr_go_take_events(jr_go_client *g) {
  pthread_mutex_lock(&g->mu);
  jr_go_event *e = g->ev_head;
  g->ev_head = g->ev_tail = NULL;
  pthread_mutex_unlock(&g->mu);
  return e;
}

void jr_go_events_free(jr_go_event *e) {
  while (e != NULL) {
    jr_go_event *next = e->next;
    free(e->endpoint);
    free(e->detail);
    free(e);
    e = next;
  }
}

/* ---- Flat-buffer forms ------------------------------------------------------ */

int jr_go_submit(jr_go_client *g, jr_db *db, const char *buf, const size_t *lens, size_t argc,
                 int64_t timeout_ms, uintptr_t handle, jr_req_id *id_out) {
  const char *stackv[ARGV_STACK];
  const char **argv = argv_of(buf, lens, argc, stackv);
  if (argv == NULL) return JR_ENOMEM;
  int rc = db != NULL ? jr_db_submit(db, argc, argv, lens, timeout_ms, command_trampoline,
                                     (void *)handle, id_out)
                      : jr_client_submit(g->c, argc, argv, lens, timeout_ms, command_trampoline,
                                         (void *)handle, id_out);
  argv_done(argv, stackv);
  return rc;
}

int jr_go_call(jr_go_client *g, jr_db *db, const char *buf, const size_t *lens, size_t argc,
               int64_t timeout_ms, jr_go_done *out) {
  const char *stackv[ARGV_STACK];
  const char **argv = argv_of(buf, lens, argc, stackv);
  if (argv == NULL) return JR_ENOMEM;
  jr_reply *r = NULL;
  int rc = db != NULL ? jr_db_call(db, argc, argv, lens, timeout_ms, &r)
                      : jr_client_call(g->c, argc, argv, lens, timeout_ms, &r);
  argv_done(argv, stackv);
  fill(out, 0, rc, r, JR_GO_COMMAND, 1);
  return rc;
}

void jr_go_done_release(jr_go_done *d) {
  jr_reply_free(d->reply);
  free(d->detail);
  d->reply = NULL;
  d->detail = NULL;
}

int jr_go_submit_argv(jr_go_client *g, jr_db *db, const char **argv, const size_t *lens,
                      size_t argc, int64_t timeout_ms, uintptr_t handle, jr_req_id *id_out) {
  return db != NULL ? jr_db_submit(db, argc, argv, lens, timeout_ms, command_trampoline,
                                   (void *)handle, id_out)
                    : jr_client_submit(g->c, argc, argv, lens, timeout_ms, command_trampoline,
                                       (void *)handle, id_out);
}

/* The argv and argvlen arrays of n commands laid out back to back in buf /
 * lens (argcs[i] arguments each), and their userdatas (handles), in one
 * allocation: f->mem, to free. Returns 0, or JR_ENOMEM. */
typedef struct {
  void *mem;
  const char *const *const *argvs;
  const size_t *const *argvlens;
  void *const *uds;
} flat_cmds;

static int flat_cmds_of(flat_cmds *f, const char *buf, const size_t *lens, const size_t *argcs,
                        size_t n, const uintptr_t *handles) {
  size_t total = 0;
  for (size_t i = 0; i < n; i++) total += argcs[i];
  /* Every argv pointer, then the n argv and argvlen arrays, then the n
   * userdatas. */
  void *mem = malloc((total + 3 * n + 1) * sizeof(void *));
  if (mem == NULL) return JR_ENOMEM;
  const char **flat = mem;
  const char ***argvs = (const char ***)(flat + total);
  const size_t **argvlens = (const size_t **)(argvs + n);
  void **uds = (void **)(argvlens + n);
  const char **p = flat;
  for (size_t i = 0; i < n; i++) {
    argvs[i] = p;
    argvlens[i] = lens;
    uds[i] = (void *)handles[i];
    for (size_t k = 0; k < argcs[i]; k++) {
      *p++ = buf;
      buf += lens[k];
    }
    lens += argcs[i];
  }
  f->mem = mem;
  f->argvs = (const char *const *const *)argvs;
  f->argvlens = (const size_t *const *)argvlens;
  f->uds = (void *const *)uds;
  return 0;
}

/* Commands [from, to) that jr_*_submit_many did not take: each gets rc. */
static void refuse_all(int *rcs, jr_req_id *ids, size_t from, size_t to, int rc) {
  for (size_t i = from; i < to; i++) {
    rcs[i] = rc;
    ids[i] = 0;
  }
}

void jr_go_submit_many(jr_go_client *g, const char *buf, const size_t *lens, const size_t *argcs,
                       const int64_t *timeouts, const uintptr_t *handles, size_t n, int *rcs,
                       jr_req_id *ids) {
  flat_cmds f;
  if (flat_cmds_of(&f, buf, lens, argcs, n, handles) != 0) {
    refuse_all(rcs, ids, 0, n, JR_ENOMEM);
    return;
  }
  /* One jr_client_submit_many per run of equal timeouts: in order, and the
   * loop thread woken once per run. */
  for (size_t i = 0; i < n;) {
    size_t j = i + 1;
    while (j < n && timeouts[j] == timeouts[i]) j++;
    int rc = jr_client_submit_many(g->c, j - i, argcs + i, f.argvs + i, f.argvlens + i, timeouts[i],
                                   command_trampoline, f.uds + i, rcs + i, ids + i);
    if (rc < 0) refuse_all(rcs, ids, i, j, rc);
    i = j;
  }
  free(f.mem);
}

int jr_go_pipeline(jr_go_client *g, jr_db *db, const char *buf, const size_t *lens,
                   const size_t *argcs, size_t n, int64_t timeout_ms, const uintptr_t *handles,
                   int *rcs, jr_req_id *ids) {
  flat_cmds f;
  if (flat_cmds_of(&f, buf, lens, argcs, n, handles) != 0) {
    refuse_all(rcs, ids, 0, n, JR_ENOMEM);
    return JR_ENOMEM;
  }
  int rc = db != NULL ? jr_db_submit_many(db, n, argcs, f.argvs, f.argvlens, timeout_ms,
                                          command_trampoline, f.uds, rcs, ids)
                      : jr_client_submit_many(g->c, n, argcs, f.argvs, f.argvlens, timeout_ms,
                                              command_trampoline, f.uds, rcs, ids);
  free(f.mem);
  if (rc < 0) refuse_all(rcs, ids, 0, n, rc);
  return rc;
}

size_t jr_go_cancel_many(jr_go_client *g, const jr_req_id *ids, size_t n) {
  size_t cancelled = 0;
  for (size_t i = 0; i < n; i++)
    if (ids[i] != 0 && jr_cancel(g->c, ids[i]) == JR_OK) cancelled++;
  return cancelled;
}

int jr_go_options_connect_command(jr_options *o, const char *buf, const size_t *lens, size_t argc) {
  const char *stackv[ARGV_STACK];
  const char **argv = argv_of(buf, lens, argc, stackv);
  if (argv == NULL) return JR_ENOMEM;
  int rc = jr_options_add_connect_command(o, argc, argv, lens);
  argv_done(argv, stackv);
  return rc;
}

/* ---- Transactions, WATCH, pub/sub, MONITOR ---------------------------------- */

/* Runs the completions a call makes inline into a fresh batch. */
static jr_go_batch *capture_begin(jr_go_batch **prev) {
  jr_go_batch *b = calloc(1, sizeof *b);
  if (b == NULL) abort();
  *prev = tls_batch;
  tls_batch = b;
  return b;
}

static jr_go_batch *capture_end(jr_go_batch *b, jr_go_batch *prev) {
  tls_batch = prev;
  if (b->n == 0) {
    free(b);
    return NULL;
  }
  return b;
}

size_t jr_go_captured(jr_go_batch *b, jr_go_done **items) {
  *items = b->items;
  return b->n;
}

void jr_go_captured_free(jr_go_batch *b) {
  if (b == NULL) return;
  batch_release(b);
  free(b->items);
  free(b);
}

int jr_go_multi_add(jr_multi *m, const char *buf, const size_t *lens, size_t argc,
                    uintptr_t handle) {
  const char *stackv[ARGV_STACK];
  const char **argv = argv_of(buf, lens, argc, stackv);
  if (argv == NULL) return JR_ENOMEM;
  int rc = jr_multi_add(m, argc, argv, lens, command_trampoline, (void *)handle);
  argv_done(argv, stackv);
  return rc;
}

int jr_go_multi_exec(jr_multi *m, int64_t timeout_ms, uintptr_t handle, jr_go_batch **captured) {
  jr_go_batch *prev;
  jr_go_batch *b = capture_begin(&prev);
  int rc = jr_multi_exec(m, timeout_ms, command_trampoline, (void *)handle);
  *captured = capture_end(b, prev);
  return rc;
}

void jr_go_multi_discard(jr_multi *m, jr_go_batch **captured) {
  jr_go_batch *prev;
  jr_go_batch *b = capture_begin(&prev);
  jr_multi_discard(m);
  *captured = capture_end(b, prev);
}

int jr_go_watch_new(jr_client *c, int db, const char *buf, const size_t *lens, size_t n,
                    jr_watch **out) {
  const char *stackv[ARGV_STACK];
  const char **keys = argv_of(buf, lens, n, stackv);
  if (keys == NULL) return JR_ENOMEM;
  int rc = jr_watch_new(c, db, n, keys, lens, out);
  argv_done(keys, stackv);
  return rc;
}

int jr_go_watch_submit(jr_watch *w, const char *buf, const size_t *lens, size_t argc,
                       int64_t timeout_ms, uintptr_t handle) {
  const char *stackv[ARGV_STACK];
  const char **argv = argv_of(buf, lens, argc, stackv);
  if (argv == NULL) return JR_ENOMEM;
  int rc = jr_watch_submit(w, argc, argv, lens, timeout_ms, command_trampoline, (void *)handle);
  argv_done(argv, stackv);
  return rc;
}

int jr_go_sub_new(jr_client *c, uintptr_t handle, jr_sub **out) {
  return jr_sub_new(c, message_trampoline, (void *)handle, out);
}

int jr_go_sub_names(jr_sub *s, int subscribe, int pattern, const char *buf, const size_t *lens,
                    size_t n) {
  const char *stackv[ARGV_STACK];
  const char **names = n != 0 ? argv_of(buf, lens, n, stackv) : stackv;
  if (names == NULL) return JR_ENOMEM;
  int rc = subscribe ? jr_sub_subscribe(s, pattern, n, names, lens)
                     : jr_sub_unsubscribe(s, pattern, n, names, lens);
  if (n != 0) argv_done(names, stackv);
  return rc;
}

int jr_go_monitor_new(jr_client *c, uintptr_t handle, jr_monitor **out) {
  return jr_monitor_new(c, message_trampoline, (void *)handle, out);
}

/* ---- Redis Cluster calls ------------------------------------------------------ */

int jr_go_submit_all_masters(jr_go_client *g, const char *buf, const size_t *lens, size_t argc,
                             int64_t timeout_ms, uintptr_t handle) {
  const char *stackv[ARGV_STACK];
  const char **argv = argv_of(buf, lens, argc, stackv);
  if (argv == NULL) return JR_ENOMEM;
  int rc = jr_client_submit_all_masters(g->c, argc, argv, lens, timeout_ms, command_trampoline,
                                        (void *)handle);
  argv_done(argv, stackv);
  return rc;
}

int jr_go_submit_to(jr_go_client *g, const char *node, const char *buf, const size_t *lens,
                    size_t argc, int64_t timeout_ms, uintptr_t handle) {
  const char *stackv[ARGV_STACK];
  const char **argv = argv_of(buf, lens, argc, stackv);
  if (argv == NULL) return JR_ENOMEM;
  int rc = jr_client_submit_to(g->c, node, argc, argv, lens, timeout_ms, command_trampoline,
                               (void *)handle);
  argv_done(argv, stackv);
  return rc;
}

int jr_go_endpoints(jr_go_client *g, uintptr_t handle) {
  return jr_client_endpoints(g->c, command_trampoline, (void *)handle);
}
