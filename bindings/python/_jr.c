/* SPDX-License-Identifier: MIT */
/*
 * _jr: the CPython extension under the `jr` package (libjr's Python binding).
 *
 * One `Client` wraps one jr_client in poll dispatch mode: completions are
 * queued by libjr and run by Client.dispatch() on the thread that calls it
 * (asyncio: loop.add_reader(client.fileno(), client.dispatch)).
 *
 * Completion targets. Every submit takes a `target` that receives exactly one
 * value: the converted reply (bytes, int, None, list), a RedisReplyError
 * instance for a server error reply (also for JR_EAUTH with the server's
 * error reply: a refused handshake), or a RedisError instance for a library
 * error. If the target is an asyncio Future the value is set as its *result*
 * (never as its exception; the Python layer raises it), and a future that was
 * cancelled meanwhile is left alone. Any other target is called with the
 * value. The target is Py_INCREF'd at submit and released in the completion.
 *
 * Every libjr callback takes the GIL with PyGILState_Ensure: in normal
 * dispatch the thread already holds it (cheap), but the final completions of
 * jr_client_free run on the closing thread while close() has released the
 * GIL (releasing it there avoids the deadlock described in
 * docs: the loop thread may be waiting for work that needs the GIL).
 *
 * Only the Limited API (stable ABI) of CPython 3.11 is used.
 *
 * Child handles (Multi, Watch, Sub, Monitor) keep their Client alive and are
 * linked into it, so Client.close() ends each of them (discard, free) before
 * jr_client_free: no libjr handle outlives its client.
 */
#define PY_SSIZE_T_CLEAN
#ifndef Py_LIMITED_API
#define Py_LIMITED_API 0x030B0000 /* the stable ABI of CPython 3.11 */
#endif
#include <Python.h>
#include <errno.h>
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "jr/jr.h"

/* ---- Module state (set once by _init) -------------------------------------- */

static PyObject *ReplyErrorType = NULL; /* jr.RedisReplyError */
static PyObject *RedisErrorType = NULL; /* jr.RedisError(message, code, unsent) */
static PyObject *FutureType = NULL;     /* asyncio.Future */
static PyObject *InvalidStateType = NULL;
static PyObject *str_set_result = NULL;

static int check_init(void) {
  if (RedisErrorType == NULL) {
    PyErr_SetString(PyExc_RuntimeError, "_jr._init() was not called (import the jr package)");
    return -1;
  }
  return 0;
}

/* ---- Texts that reach Python ----------------------------------------------------
 *
 * libjr's texts are written for C callers; where one names a C function the
 * binding says what a Python user calls instead (tests/test_errors.py scans
 * every code's text and the refusal of every command the server knows). */

/* jr_strerror, with the C-only hint of JR_EREFUSED left out (the reason
 * follows it in the message). */
static const char *py_strerror(int code) {
  if (code == JR_EREFUSED) return "command refused by libjr (not sent)";
  return jr_strerror(code);
}

/* jr_refusal_reason, in terms of the jr package's API. */
static const char *py_refusal_reason(const char *name, size_t len) {
  static const struct {
    const char *name, *reason;
  } py[] = {
      {"AUTH",
       "AUTH is sent by libjr on every (re)connection: use the configuration keys "
       "'username' and 'password', or multiplexer.set_auth()"},
      {"SELECT",
       "SELECT is tracked by libjr for the shared connection: use "
       "multiplexer.database(n)"},
      {"QUIT", "QUIT would close the shared connection: use await multiplexer.aclose()"},
      {"MULTI",
       "transactions must not interleave with other callers: use "
       "database.multi() (async with db.multi() as tr: ...)"},
      {"EXEC", "transactions must not interleave with other callers: use database.multi()"},
      {"DISCARD",
       "transactions must not interleave with other callers: use database.multi() "
       "(leaving its block with an exception discards it)"},
      {"WATCH", "WATCH state belongs to one connection: use database.watch(*keys)"},
      {"UNWATCH",
       "WATCH state belongs to one connection: use database.watch(*keys) (leaving "
       "its block releases the keys)"},
      {"SUBSCRIBE", "subscriptions need their own connection: use multiplexer.pubsub()"},
      {"PSUBSCRIBE", "subscriptions need their own connection: use multiplexer.pubsub()"},
      {"SSUBSCRIBE", "subscriptions need their own connection: use multiplexer.pubsub()"},
      {"UNSUBSCRIBE", "subscriptions need their own connection: use multiplexer.pubsub()"},
      {"PUNSUBSCRIBE", "subscriptions need their own connection: use multiplexer.pubsub()"},
      {"SUNSUBSCRIBE", "subscriptions need their own connection: use multiplexer.pubsub()"},
      {"MONITOR", "MONITOR turns the connection into a stream: use multiplexer.monitor()"},
      {"HELLO",
       "HELLO changes the protocol of the shared connection: libjr negotiates it "
       "itself (configuration key 'protocol': 3 for RESP3; 'username' and "
       "'password' for AUTH)"},
  };
  const char *why = jr_refusal_reason(name, len);
  if (why == NULL) return NULL;
  for (size_t i = 0; i < sizeof py / sizeof py[0]; i++) {
    size_t n = strlen(py[i].name);
    if (n != len) continue;
    size_t j = 0;
    while (j < n && (name[j] & ~0x20) == py[i].name[j]) j++; /* A-Z: case-insensitive */
    if (j == n) return py[i].reason;
  }
  return why;
}

/* A RedisError instance for a libjr code, with `message` (or jr_strerror)
 * and libjr's detail (the endpoint and the cause: jr_error_detail, NULL if
 * none), which the exception shows after the message. */
static PyObject *lib_error_detail(int code, const char *message, const char *detail) {
  if (RedisErrorType == NULL) return PyErr_Format(PyExc_RuntimeError, "libjr error %d", code);
  return PyObject_CallFunction(RedisErrorType, "siiz",
                               message != NULL ? message : py_strerror(code), code,
                               jr_err_unsent(code), detail);
}

static PyObject *lib_error(int code, const char *message) {
  return lib_error_detail(code, message, NULL);
}

/* Raises RedisError for a code; returns NULL. */
static PyObject *raise_code(int code, const char *message) {
  PyObject *e = lib_error(code, message);
  if (e == NULL) return NULL;
  PyErr_SetObject((PyObject *)Py_TYPE(e), e);
  Py_DECREF(e);
  return NULL;
}

/* ---- Replies ------------------------------------------------------------------ */

static PyObject *convert(const jr_reply *r);

/* Converts elements [0, n) of an aggregate with a step of 1 (arrays, sets,
 * pushes) into a new list. */
static PyObject *convert_list(const jr_reply *r, size_t n) {
  PyObject *list = PyList_New((Py_ssize_t)n);
  if (list == NULL) return NULL;
  for (size_t i = 0; i < n; i++) {
    PyObject *item = convert(jr_reply_element(r, i));
    if (item == NULL || PyList_SetItem(list, (Py_ssize_t)i, item) < 0) {
      Py_DECREF(list);
      return NULL;
    }
  }
  return list;
}

/* RESP3 SET -> set; a list (the server's order) if an element is not
 * hashable (a nested array or map). */
static PyObject *convert_set(const jr_reply *r) {
  PyObject *list = convert_list(r, jr_reply_len(r));
  if (list == NULL) return NULL;
  PyObject *set = PySet_New(list);
  if (set == NULL && PyErr_ExceptionMatches(PyExc_TypeError)) {
    PyErr_Clear();
    return list;
  }
  Py_DECREF(list);
  return set;
}

/* RESP3 MAP (jr_reply_len counts keys and values) -> dict; a list of
 * [key, value] pairs (the server's order) if a key is not hashable. */
static PyObject *convert_map(const jr_reply *r) {
  size_t n = jr_reply_len(r) / 2;
  PyObject *pairs = PyList_New((Py_ssize_t)n);
  if (pairs == NULL) return NULL;
  for (size_t i = 0; i < n; i++) {
    PyObject *k = convert(jr_reply_element(r, 2 * i));
    PyObject *v = k != NULL ? convert(jr_reply_element(r, 2 * i + 1)) : NULL;
    PyObject *pair = v != NULL ? PyList_New(2) : NULL;
    if (pair == NULL) {
      Py_XDECREF(k);
      Py_XDECREF(v);
      Py_DECREF(pairs);
      return NULL;
    }
    PyList_SetItem(pair, 0, k);
    PyList_SetItem(pair, 1, v);
    PyList_SetItem(pairs, (Py_ssize_t)i, pair);
  }
  PyObject *d = PyDict_New();
  for (size_t i = 0; d != NULL && i < n; i++) {
    PyObject *pair = PyList_GetItem(pairs, (Py_ssize_t)i);
    if (PyDict_SetItem(d, PyList_GetItem(pair, 0), PyList_GetItem(pair, 1)) < 0) {
      Py_CLEAR(d);
      if (PyErr_ExceptionMatches(PyExc_TypeError)) {
        PyErr_Clear();
        return pairs;
      }
    }
  }
  Py_DECREF(pairs);
  return d;
}

/* RESP3 BIGNUM -> int (its decimal text). */
static PyObject *convert_bignum(const jr_reply *r) {
  size_t len = 0;
  const char *s = jr_reply_str(r, &len);
  char *z = PyMem_Malloc(len + 1); /* PyLong_FromString needs a NUL */
  if (z == NULL) return PyErr_NoMemory();
  if (len) memcpy(z, s, len);
  z[len] = 0;
  PyObject *n = PyLong_FromString(z, NULL, 10);
  PyMem_Free(z);
  return n;
}

/* A reply as a Python value. RESP2: bulk and status strings -> bytes,
 * integers -> int, nil -> None, arrays -> lists, error replies ->
 * RedisReplyError instances. RESP3 (protocol=3) adds: MAP -> dict, SET ->
 * set, DOUBLE -> float, BOOL -> bool, BIGNUM -> int, VERB -> str (its
 * format dropped), PUSH -> list; an ATTR (libjr skips attributes) -> None. */
static PyObject *convert(const jr_reply *r) {
  size_t len = 0;
  const char *s;
  PyObject *v;
  switch (jr_reply_get_type(r)) {
    case JR_REPLY_STRING:
    case JR_REPLY_STATUS:
      s = jr_reply_str(r, &len);
      return PyBytes_FromStringAndSize(s, (Py_ssize_t)len);
    case JR_REPLY_INTEGER:
      return PyLong_FromLongLong((long long)jr_reply_integer(r));
    case JR_REPLY_NIL:
      Py_RETURN_NONE;
    case JR_REPLY_ERROR: {
      s = jr_reply_str(r, &len);
      PyObject *text = PyUnicode_DecodeUTF8(s, (Py_ssize_t)len, "replace");
      if (text == NULL) return NULL;
      PyObject *e = PyObject_CallFunctionObjArgs(ReplyErrorType, text, NULL);
      Py_DECREF(text);
      return e;
    }
    case JR_REPLY_DOUBLE:
      return PyFloat_FromDouble(jr_reply_double(r));
    case JR_REPLY_BOOL:
      return PyBool_FromLong(jr_reply_integer(r) != 0);
    case JR_REPLY_BIGNUM:
      return convert_bignum(r);
    case JR_REPLY_VERB:
      s = jr_reply_str(r, &len);
      return PyUnicode_DecodeUTF8(s != NULL ? s : "", (Py_ssize_t)len, "replace");
    case JR_REPLY_ARRAY:
    case JR_REPLY_PUSH:
    case JR_REPLY_SET:
    case JR_REPLY_MAP: {
      if (Py_EnterRecursiveCall(" while converting a redis reply")) return NULL;
      int t = jr_reply_get_type(r);
      v = t == JR_REPLY_MAP   ? convert_map(r)
          : t == JR_REPLY_SET ? convert_set(r)
                              : convert_list(r, jr_reply_len(r));
      Py_LeaveRecursiveCall();
      return v;
    }
    default:
      /* JR_REPLY_ATTR (libjr skips attributes), or a type newer than this
       * extension: keep what text there is. */
      s = jr_reply_str(r, &len);
      if (s != NULL) return PyBytes_FromStringAndSize(s, (Py_ssize_t)len);
      Py_RETURN_NONE;
  }
}

/* A library error that carries the server's error reply (JR_EAUTH: the
 * server refused the connection's handshake, e.g. "WRONGPASS ..."): a
 * RedisReplyError with the server's text, as justredis raises it, with the
 * code and unsent attributes of a RedisError (the command never ran). */
static PyObject *server_refusal(int status, const jr_reply *reply) {
  PyObject *e = convert(reply);
  if (e == NULL) return NULL;
  PyObject *code = PyLong_FromLong(status);
  const char *d = jr_error_detail();
  PyObject *detail =
      d != NULL ? PyUnicode_DecodeUTF8(d, (Py_ssize_t)strlen(d), "replace") : Py_NewRef(Py_None);
  int bad = code == NULL || detail == NULL || PyObject_SetAttrString(e, "code", code) < 0 ||
            PyObject_SetAttrString(e, "unsent", jr_err_unsent(status) ? Py_True : Py_False) < 0 ||
            PyObject_SetAttrString(e, "detail", detail) < 0;
  Py_XDECREF(code);
  Py_XDECREF(detail);
  if (bad) Py_CLEAR(e);
  return e;
}

/* The value a completion delivers (new reference, never NULL unless out of
 * memory while building the error itself). */
static PyObject *completion_value(int status, const jr_reply *reply) {
  PyObject *v = status == JR_OK ? convert(reply)
                : jr_reply_get_type(reply) == JR_REPLY_ERROR
                    ? server_refusal(status, reply)
                    : lib_error_detail(status, NULL, jr_error_detail());
  if (v == NULL) {
    /* Conversion failed (MemoryError, recursion): deliver that exception. */
    PyObject *type, *value, *tb;
    PyErr_Fetch(&type, &value, &tb);
    PyErr_NormalizeException(&type, &value, &tb);
    Py_XDECREF(type);
    Py_XDECREF(tb);
    v = value;
  }
  return v;
}

/* Hands `value` (stolen) to `target` (borrowed). Never leaves an exception set. */
static void deliver(PyObject *target, PyObject *value) {
  if (value == NULL) {
    PyErr_Clear();
    value = Py_NewRef(Py_None);
  }
  PyObject *res;
  if (FutureType != NULL && PyObject_TypeCheck(target, (PyTypeObject *)FutureType)) {
    res = PyObject_CallMethodObjArgs(target, str_set_result, value, NULL);
    /* A future cancelled by its waiter: nobody wants the value. */
    if (res == NULL && PyErr_ExceptionMatches(InvalidStateType)) {
      PyErr_Clear();
      res = Py_NewRef(Py_None);
    }
  } else {
    res = PyObject_CallFunctionObjArgs(target, value, NULL);
  }
  if (res == NULL) {
    PyErr_WriteUnraisable(target);
  } else {
    Py_DECREF(res);
  }
  Py_DECREF(value);
}

/* jr_reply_cb: userdata is the target, owned; runs exactly once. */
static void reply_cb(void *userdata, int status, const jr_reply *reply) {
  PyGILState_STATE g = PyGILState_Ensure();
  PyObject *type, *value, *tb;
  PyErr_Fetch(&type, &value, &tb);
  PyObject *target = (PyObject *)userdata;
  deliver(target, completion_value(status, reply));
  Py_DECREF(target);
  PyErr_Restore(type, value, tb);
  PyGILState_Release(g);
}

/* jr_message_cb (pub/sub, MONITOR): userdata is a callable, owned, called as
 * cb(status, value) with status 0 (value: the converted message),
 * JR_SUB_LOST / JR_SUB_RESUBSCRIBED (value None), or a negative code (value:
 * a RedisError). JR_ECLOSED is the last call: the callable is released. */
static void message_cb(void *userdata, int status, const jr_reply *msg) {
  PyGILState_STATE g = PyGILState_Ensure();
  PyObject *type, *value, *tb;
  PyErr_Fetch(&type, &value, &tb);
  PyObject *cb = (PyObject *)userdata;
  PyObject *v;
  if (status == JR_OK) {
    v = completion_value(status, msg);
  } else if (status > 0) {
    v = Py_NewRef(Py_None);
  } else {
    v = lib_error(status, NULL);
  }
  if (v == NULL) {
    PyErr_Clear();
    v = Py_NewRef(Py_None);
  }
  PyObject *res = PyObject_CallFunction(cb, "iO", status, v);
  if (res == NULL) {
    PyErr_WriteUnraisable(cb);
  } else {
    Py_DECREF(res);
  }
  Py_DECREF(v);
  if (status == JR_ECLOSED) Py_DECREF(cb);
  PyErr_Restore(type, value, tb);
  PyGILState_Release(g);
}

/* ---- Logs ---------------------------------------------------------------------------
 *
 * libjr calls the log hook (jr_options_set_log_cb) on its loop thread, which
 * must never wait for the GIL (the thread holding it may be waiting for the
 * loop). So the hook only copies the line into this queue under a mutex that
 * is held for a few pointer moves, and writes the queue's eventfd when the
 * queue was empty; Client.logs() (on the asyncio loop, with the GIL: the jr
 * package's reader of Client.log_fileno()) takes the lines and hands them to
 * the `logging` module. At most LOG_MAX lines wait; beyond that lines are
 * counted as dropped, and the count is reported with the next batch. Lines
 * above max_level (libjr's levels: 1 error .. 4 debug; the jr package sets it
 * from the `jr` logger's level) are not queued. */

#define LOG_MAX 4096

typedef struct LogLine {
  struct LogLine *next;
  int level, event;
  char *endpoint, *text;
} LogLine;

typedef struct {
  pthread_mutex_t mu;
  LogLine *head, *tail;
  size_t n;
  unsigned long long dropped;
  int efd;
  int max_level; /* read by the loop thread, written by Python: atomic */
  int creating;  /* 1 during jr_client_new (event_cb below), atomic */
} LogQueue;

static LogQueue *logq_new(void) {
  LogQueue *q = calloc(1, sizeof *q);
  if (q == NULL) return NULL;
  q->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (q->efd < 0 || pthread_mutex_init(&q->mu, NULL) != 0) {
    if (q->efd >= 0) close(q->efd);
    free(q);
    return NULL;
  }
  __atomic_store_n(&q->max_level, JR_LOG_INFO, __ATOMIC_RELAXED);
  return q;
}

static void logline_free(LogLine *l) {
  free(l->endpoint);
  free(l->text);
  free(l);
}

/* Only after jr_client_free: nothing calls log_cb any more. */
static void logq_free(LogQueue *q) {
  if (q == NULL) return;
  for (LogLine *l = q->head, *next; l != NULL; l = next) {
    next = l->next;
    logline_free(l);
  }
  close(q->efd);
  pthread_mutex_destroy(&q->mu);
  free(q);
}

static char *dup_text(const char *s) {
  size_t n = s != NULL ? strlen(s) : 0;
  char *d = malloc(n + 1);
  if (d != NULL) {
    if (n) memcpy(d, s, n);
    d[n] = 0;
  }
  return d;
}

/* jr_log_cb: loop thread (or the thread in jr_client_new). No Python here. */
static void log_cb(void *ctx, int level, int event, const char *endpoint, const char *text) {
  LogQueue *q = ctx;
  if (level > __atomic_load_n(&q->max_level, __ATOMIC_RELAXED)) return;
  LogLine *l = malloc(sizeof *l);
  if (l != NULL) {
    l->next = NULL;
    l->level = level;
    l->event = event;
    l->endpoint = dup_text(endpoint);
    l->text = dup_text(text);
    if (l->endpoint == NULL || l->text == NULL) {
      logline_free(l);
      l = NULL;
    }
  }
  int wake = 0;
  pthread_mutex_lock(&q->mu);
  if (l == NULL || q->n >= LOG_MAX) {
    q->dropped++;
  } else {
    if (q->tail != NULL) {
      q->tail->next = l;
    } else {
      q->head = l;
    }
    q->tail = l;
    l = NULL;
    wake = q->n++ == 0;
  }
  pthread_mutex_unlock(&q->mu);
  if (l != NULL) logline_free(l);
  if (wake) {
    uint64_t one = 1;
    ssize_t w = write(q->efd, &one, sizeof one); /* non-blocking; EAGAIN: already readable */
    (void)w;
  }
}

/* jr_event_cb, for jr_client_new only: libjr 0.2 says why it refuses a
 * client (protocol=3 with hiredis 0.14) through the event callback alone,
 * on the caller's thread. Afterwards (the events the log hook gets too)
 * it returns at once. */
static void event_cb(void *ctx, int event, const char *endpoint, const char *detail) {
  LogQueue *q = ctx;
  if (!__atomic_load_n(&q->creating, __ATOMIC_RELAXED)) return;
  log_cb(ctx, JR_LOG_ERROR, event, endpoint, detail);
}

/* Takes every queued line: [(level, event, endpoint, text), ...], first a
 * warning row (JR_LOG_WARN, 0, "", "N libjr log lines dropped ...") if lines
 * were dropped. */
static PyObject *logq_take(LogQueue *q) {
  uint64_t v;
  ssize_t r = read(q->efd, &v, sizeof v); /* resets the eventfd */
  (void)r;
  pthread_mutex_lock(&q->mu);
  LogLine *l = q->head;
  unsigned long long dropped = q->dropped;
  q->head = q->tail = NULL;
  q->n = 0;
  q->dropped = 0;
  pthread_mutex_unlock(&q->mu);
  PyObject *list = PyList_New(0);
  if (list != NULL && dropped > 0) {
    PyObject *row = Py_BuildValue("(iisN)", JR_LOG_WARN, 0, "",
                                  PyUnicode_FromFormat("%llu libjr log lines dropped (more than "
                                                       "%d were waiting)",
                                                       dropped, LOG_MAX));
    if (row == NULL || PyList_Append(list, row) < 0) Py_CLEAR(list);
    Py_XDECREF(row);
  }
  while (l != NULL) {
    LogLine *next = l->next;
    if (list != NULL) {
      PyObject *row = Py_BuildValue(
          "(iiNN)", l->level, l->event,
          PyUnicode_DecodeUTF8(l->endpoint, (Py_ssize_t)strlen(l->endpoint), "replace"),
          PyUnicode_DecodeUTF8(l->text, (Py_ssize_t)strlen(l->text), "replace"));
      if (row == NULL || PyList_Append(list, row) < 0) Py_CLEAR(list);
      Py_XDECREF(row);
    }
    logline_free(l);
    l = next;
  }
  return list;
}

/* ---- Arguments ---------------------------------------------------------------------
 *
 * A command is a tuple (or list) of bytes, bytearray, str (UTF-8), int or
 * float (repr), the default encoder of the jr package done in C. bool and
 * every other type raise ValueError before anything is sent. */

#define ARGS_STACK 16

typedef struct {
  size_t argc;
  const char **argv;
  size_t *lens;
  PyObject **temps; /* owned strings created for int/float */
  size_t ntemps;
  const char *sargv[ARGS_STACK];
  size_t slens[ARGS_STACK];
  PyObject *stemps[ARGS_STACK];
} Args;

static void args_release(Args *a) {
  for (size_t i = 0; i < a->ntemps; i++) Py_DECREF(a->temps[i]);
  if (a->argv != a->sargv) PyMem_Free((void *)a->argv);
  if (a->lens != a->slens) PyMem_Free(a->lens);
  if (a->temps != a->stemps) PyMem_Free(a->temps);
}

static int arg_one(Args *a, size_t i, PyObject *o) {
  if (PyBytes_Check(o)) {
    char *s;
    Py_ssize_t n;
    if (PyBytes_AsStringAndSize(o, &s, &n) < 0) return -1;
    a->argv[i] = s;
    a->lens[i] = (size_t)n;
    return 0;
  }
  if (PyUnicode_Check(o)) {
    Py_ssize_t n;
    const char *s = PyUnicode_AsUTF8AndSize(o, &n);
    if (s == NULL) return -1;
    a->argv[i] = s;
    a->lens[i] = (size_t)n;
    return 0;
  }
  if (PyByteArray_Check(o)) {
    a->argv[i] = PyByteArray_AsString(o);
    a->lens[i] = (size_t)PyByteArray_Size(o);
    return 0;
  }
  PyObject *text = NULL;
  if (PyBool_Check(o)) {
    PyErr_SetString(PyExc_ValueError,
                    "bool is not a redis argument (send 0/1 or a string explicitly)");
    return -1;
  }
  if (PyLong_Check(o)) {
    text = PyObject_Str(o);
  } else if (PyFloat_Check(o)) {
    text = PyObject_Repr(o);
  } else {
    PyObject *name = PyType_GetName(Py_TYPE(o));
    PyErr_Format(PyExc_ValueError,
                 "%S is not a redis argument (use bytes, str, int or float, or an encoder)", name);
    Py_XDECREF(name);
    return -1;
  }
  if (text == NULL) return -1;
  a->temps[a->ntemps++] = text;
  Py_ssize_t n;
  const char *s = PyUnicode_AsUTF8AndSize(text, &n);
  if (s == NULL) return -1;
  a->argv[i] = s;
  a->lens[i] = (size_t)n;
  return 0;
}

/* Fills `a` from a tuple or list; on error raises and releases. */
static int args_from(Args *a, PyObject *seq) {
  memset(a, 0, sizeof *a);
  a->argv = a->sargv;
  a->lens = a->slens;
  a->temps = a->stemps;
  if (!PyTuple_Check(seq) && !PyList_Check(seq)) {
    PyErr_SetString(PyExc_TypeError, "command arguments must be a tuple or a list");
    return -1;
  }
  int tuple = PyTuple_Check(seq);
  Py_ssize_t n = tuple ? PyTuple_Size(seq) : PyList_Size(seq);
  if (n == 0) {
    raise_code(JR_EINVAL, "Empty command not allowed");
    return -1;
  }
  a->argc = (size_t)n;
  if (n > ARGS_STACK) {
    a->argv = PyMem_Malloc(sizeof(char *) * (size_t)n);
    a->lens = PyMem_Malloc(sizeof(size_t) * (size_t)n);
    a->temps = PyMem_Malloc(sizeof(PyObject *) * (size_t)n);
    if (a->argv == NULL || a->lens == NULL || a->temps == NULL) {
      if (a->argv == NULL) a->argv = a->sargv;
      if (a->lens == NULL) a->lens = a->slens;
      if (a->temps == NULL) a->temps = a->stemps;
      args_release(a);
      PyErr_NoMemory();
      return -1;
    }
  }
  for (Py_ssize_t i = 0; i < n; i++) {
    PyObject *item = tuple ? PyTuple_GetItem(seq, i) : PyList_GetItem(seq, i);
    if (item == NULL || arg_one(a, (size_t)i, item) < 0) {
      args_release(a);
      return -1;
    }
  }
  return 0;
}

/* Raises RedisError for a refused command with libjr's explanation. */
static PyObject *raise_submit(int rc, const Args *a) {
  if (rc == JR_EREFUSED && a != NULL && a->argc > 0) {
    const char *why = py_refusal_reason(a->argv[0], a->lens[0]);
    if (why == NULL && a->lens[0] == 6 && strncasecmp(a->argv[0], "CLIENT", 6) == 0)
      why = "CLIENT REPLY OFF/SKIP would desynchronise replies on the shared connection";
    if (why != NULL) {
      PyObject *msg = PyUnicode_FromFormat("%s: %s", py_strerror(rc), why);
      if (msg == NULL) return NULL;
      const char *m = PyUnicode_AsUTF8AndSize(msg, NULL);
      PyObject *r = m != NULL ? raise_code(rc, m) : NULL;
      Py_DECREF(msg);
      return r;
    }
  }
  return raise_code(rc, NULL);
}

static int64_t timeout_ms_from(PyObject *o) {
  if (o == NULL || o == Py_None) return -1;
  double s = PyFloat_AsDouble(o);
  if (s == -1.0 && PyErr_Occurred()) return INT64_MIN;
  if (s < 0) return -1;
  int64_t ms = (int64_t)(s * 1000.0 + 0.5);
  return ms == 0 && s > 0 ? 1 : ms;
}

/* ---- Client ------------------------------------------------------------------------------ */

typedef struct ChildObject ChildObject;

typedef struct {
  PyObject_HEAD jr_client *client;
  jr_db **dbs; /* views by database number, created on first use */
  size_t ndbs;
  ChildObject *children; /* open Multi/Watch/Sub/Monitor handles, newest first */
  int dispatching;
  LogQueue *logs; /* libjr's log lines; freed in dealloc (after jr_client_free) */
} ClientObject;

enum ChildKind { CHILD_MULTI, CHILD_WATCH, CHILD_SUB, CHILD_MONITOR };

struct ChildObject {
  PyObject_HEAD ClientObject *owner; /* strong reference */
  ChildObject *prev, *next;
  void *handle; /* NULL once ended */
  int kind;
  ChildObject *parent; /* Multi of a Watch: the watch (strong reference) */
  ChildObject *multi;  /* Watch: its pending multi (borrowed) */
};

static PyTypeObject *MultiType, *WatchType, *SubType, *MonitorType; /* set by PyInit__jr */

static void child_link(ClientObject *c, ChildObject *ch) {
  ch->owner = (ClientObject *)Py_NewRef((PyObject *)c);
  ch->prev = NULL;
  ch->next = c->children;
  if (c->children != NULL) c->children->prev = ch;
  c->children = ch;
}

static void child_unlink(ChildObject *ch) {
  if (ch->owner == NULL) return;
  if (ch->prev != NULL) {
    ch->prev->next = ch->next;
  } else if (ch->owner->children == ch) {
    ch->owner->children = ch->next;
  }
  if (ch->next != NULL) ch->next->prev = ch->prev;
  ch->prev = ch->next = NULL;
}

/* Ends a child's libjr handle (discard, free); safe to call twice. */
static void child_end(ChildObject *ch) {
  void *h = ch->handle;
  if (h == NULL) return;
  ch->handle = NULL;
  child_unlink(ch);
  switch (ch->kind) {
    case CHILD_MULTI:
      if (ch->parent != NULL && ch->parent->multi == ch) ch->parent->multi = NULL;
      jr_multi_discard((jr_multi *)h);
      break;
    case CHILD_WATCH:
      if (ch->multi != NULL) child_end(ch->multi);
      jr_watch_free((jr_watch *)h);
      break;
    case CHILD_SUB:
      jr_sub_free((jr_sub *)h);
      break;
    case CHILD_MONITOR:
      jr_monitor_free((jr_monitor *)h);
      break;
  }
}

static jr_client *client_get(ClientObject *self) {
  if (self->client == NULL) raise_code(JR_ECLOSED, "client closed");
  return self->client;
}

static int set_option(jr_options *o, const char *key, PyObject *value) {
  int rc;
  if (PyLong_Check(value)) {
    long long v = PyLong_AsLongLong(value);
    if (v == -1 && PyErr_Occurred()) return -1;
    rc = jr_options_set_int(o, key, (int64_t)v);
  } else if (PyUnicode_Check(value)) {
    const char *s = PyUnicode_AsUTF8AndSize(value, NULL);
    if (s == NULL) return -1;
    rc = jr_options_set(o, key, s);
  } else {
    PyErr_Format(PyExc_TypeError, "option %s: expected int or str", key);
    return -1;
  }
  if (rc != JR_OK) {
    PyObject *msg = PyUnicode_FromFormat("option %s: %s", key, py_strerror(rc));
    if (msg != NULL) {
      const char *m = PyUnicode_AsUTF8AndSize(msg, NULL);
      if (m != NULL) raise_code(rc, m);
      Py_DECREF(msg);
    }
    return -1;
  }
  return 0;
}

/* Client(options=(), connect_commands=()): options is a sequence of
 * (key, value) pairs for jr_options (dispatch is always "poll");
 * connect_commands a sequence of argument tuples run on every connection. */
static int Client_init(ClientObject *self, PyObject *args, PyObject *kwds) {
  static char *kwlist[] = {"options", "connect_commands", NULL};
  PyObject *options = NULL, *commands = NULL;
  if (!PyArg_ParseTupleAndKeywords(args, kwds, "|OO:Client", kwlist, &options, &commands))
    return -1;
  if (check_init() < 0) return -1;
  if (self->client != NULL) {
    PyErr_SetString(PyExc_RuntimeError, "Client already initialised");
    return -1;
  }
  jr_options *o = jr_options_new();
  if (o == NULL) {
    PyErr_NoMemory();
    return -1;
  }
  int ok = -1;
  PyObject *seq = NULL;
  if (options != NULL && options != Py_None) {
    seq = PySequence_Tuple(options);
    if (seq == NULL) goto out;
    for (Py_ssize_t i = 0; i < PyTuple_Size(seq); i++) {
      PyObject *pair = PyTuple_GetItem(seq, i);
      const char *key;
      PyObject *value;
      if (!PyArg_ParseTuple(pair, "sO:option", &key, &value)) goto out;
      if (set_option(o, key, value) < 0) goto out;
    }
    Py_CLEAR(seq);
  }
  if (commands != NULL && commands != Py_None) {
    seq = PySequence_Tuple(commands);
    if (seq == NULL) goto out;
    for (Py_ssize_t i = 0; i < PyTuple_Size(seq); i++) {
      Args a;
      if (args_from(&a, PyTuple_GetItem(seq, i)) < 0) goto out;
      int rc = jr_options_add_connect_command(o, a.argc, a.argv, a.lens);
      if (rc != JR_OK) raise_submit(rc, &a);
      args_release(&a);
      if (rc != JR_OK) goto out;
    }
    Py_CLEAR(seq);
  }
  if (jr_options_set(o, "dispatch", "poll") != JR_OK) {
    raise_code(JR_EINVAL, "option dispatch: poll mode unavailable");
    goto out;
  }
  if (self->logs == NULL && (self->logs = logq_new()) == NULL) {
    PyErr_SetFromErrno(PyExc_OSError);
    goto out;
  }
  if (jr_options_set_log_cb(o, log_cb, self->logs) != JR_OK ||
      jr_options_set_event_cb(o, event_cb, self->logs) != JR_OK) {
    raise_code(JR_EINVAL, "option log_cb refused");
    goto out;
  }
  {
    jr_client *c = NULL;
    __atomic_store_n(&self->logs->creating, 1, __ATOMIC_RELAXED);
    int rc = jr_client_new(o, &c);
    __atomic_store_n(&self->logs->creating, 0, __ATOMIC_RELAXED);
    if (rc != JR_OK) {
      /* libjr says why in its log (e.g. protocol=3 with hiredis 0.14): the
       * error lines logged meanwhile become the exception's detail. */
      PyObject *lines = logq_take(self->logs);
      PyObject *why = NULL;
      if (lines != NULL) {
        PyObject *texts = PyList_New(0);
        for (Py_ssize_t i = 0; texts != NULL && i < PyList_Size(lines); i++) {
          PyObject *row = PyList_GetItem(lines, i);
          if (PyLong_AsLong(PyTuple_GetItem(row, 0)) <= JR_LOG_WARN &&
              PyList_Append(texts, PyTuple_GetItem(row, 3)) < 0)
            Py_CLEAR(texts);
        }
        if (texts != NULL && PyList_Size(texts) > 0) {
          PyObject *sep = PyUnicode_FromString("; ");
          if (sep != NULL) why = PyUnicode_Join(sep, texts);
          Py_XDECREF(sep);
        }
        Py_XDECREF(texts);
        Py_DECREF(lines);
      }
      PyErr_Clear();
      const char *w = why != NULL ? PyUnicode_AsUTF8AndSize(why, NULL) : NULL;
      PyObject *e = lib_error_detail(rc, NULL, w);
      Py_XDECREF(why);
      if (e != NULL) {
        PyErr_SetObject((PyObject *)Py_TYPE(e), e);
        Py_DECREF(e);
      }
      goto out;
    }
    self->client = c;
  }
  ok = 0;
out:
  Py_XDECREF(seq);
  jr_options_free(o);
  return ok;
}

/* Frees everything; the GIL is released around jr_client_free. */
static int client_close(ClientObject *self) {
  if (self->client == NULL) return 0;
  if (self->dispatching) {
    raise_code(JR_EMISUSE, "close() called from a completion callback");
    return -1;
  }
  while (self->children != NULL) child_end(self->children);
  for (size_t i = 0; i < self->ndbs; i++) jr_db_free(self->dbs[i]);
  PyMem_Free(self->dbs);
  self->dbs = NULL;
  self->ndbs = 0;
  jr_client *c = self->client;
  self->client = NULL; /* calls made by the final callbacks see a closed client */
  int rc;
  self->dispatching = 1;
  Py_BEGIN_ALLOW_THREADS rc = jr_client_free(c);
  Py_END_ALLOW_THREADS self->dispatching = 0;
  if (rc != JR_OK) {
    self->client = c;
    raise_code(rc, NULL);
    return -1;
  }
  return 0;
}

static PyObject *Client_close(ClientObject *self, PyObject *Py_UNUSED(ignored)) {
  if (client_close(self) < 0) return NULL;
  Py_RETURN_NONE;
}

static void Client_dealloc(ClientObject *self) {
  if (self->client != NULL) {
    self->dispatching = 0;
    if (client_close(self) < 0) PyErr_WriteUnraisable((PyObject *)self);
  }
  if (self->client == NULL) { /* else it is still in use: leak the queue rather than free it */
    logq_free(self->logs);
    self->logs = NULL;
  }
  PyTypeObject *tp = Py_TYPE((PyObject *)self);
  PyObject_Free(self); /* PyType_GenericAlloc'd, not GC tracked: the default tp_free */
  Py_DECREF(tp);
}

static jr_db *client_db(ClientObject *self, long number) {
  if (number < 0 || number > INT32_MAX) {
    raise_code(JR_EINVAL, "invalid database number");
    return NULL;
  }
  size_t n = (size_t)number;
  if (n >= self->ndbs) {
    size_t cap = n + 1 < 16 ? 16 : n + 1;
    jr_db **d = PyMem_Realloc(self->dbs, cap * sizeof *d);
    if (d == NULL) {
      PyErr_NoMemory();
      return NULL;
    }
    for (size_t i = self->ndbs; i < cap; i++) d[i] = NULL;
    self->dbs = d;
    self->ndbs = cap;
  }
  if (self->dbs[n] == NULL) {
    int rc = jr_db_new(self->client, (int)number, &self->dbs[n]);
    if (rc != JR_OK) {
      raise_code(rc, NULL);
      return NULL;
    }
  }
  return self->dbs[n];
}

/* database(number): asks libjr for a view of that database now (and drops
 * it: submit makes its own), so that a number it refuses raises at once
 * (RedisError ECLUSTER: a Redis Cluster has only database 0, once libjr
 * knows it talks to one). */
static PyObject *Client_database(ClientObject *self, PyObject *arg) {
  jr_client *client = client_get(self);
  if (client == NULL) return NULL;
  long number = PyLong_AsLong(arg);
  if (number == -1 && PyErr_Occurred()) return NULL;
  if (number < 0 || number > INT32_MAX) return raise_code(JR_EINVAL, "invalid database number");
  jr_db *db = NULL;
  int rc = jr_db_new(client, (int)number, &db);
  if (rc != JR_OK) return raise_code(rc, NULL);
  jr_db_free(db);
  Py_RETURN_NONE;
}

/* submit(db, args, target, timeout=None) -> request id.
 * db: -1 for the client's default database. timeout: seconds, None for the
 * client default (none for blocking commands). */
static PyObject *Client_submit(ClientObject *self, PyObject *const *args, Py_ssize_t nargs) {
  if (nargs < 3 || nargs > 4) {
    PyErr_SetString(PyExc_TypeError, "submit(db, args, target, timeout=None)");
    return NULL;
  }
  jr_client *client = client_get(self);
  if (client == NULL) return NULL;
  long db = PyLong_AsLong(args[0]);
  if (db == -1 && PyErr_Occurred()) return NULL;
  int64_t timeout = timeout_ms_from(nargs > 3 ? args[3] : NULL);
  if (timeout == INT64_MIN) return NULL;
  jr_db *view = NULL;
  if (db >= 0 && (view = client_db(self, db)) == NULL) return NULL;
  Args a;
  if (args_from(&a, args[1]) < 0) return NULL;
  PyObject *target = args[2];
  Py_INCREF(target);
  jr_req_id id = 0;
  int rc = view != NULL
               ? jr_db_submit(view, a.argc, a.argv, a.lens, timeout, reply_cb, target, &id)
               : jr_client_submit(client, a.argc, a.argv, a.lens, timeout, reply_cb, target, &id);
  if (rc != JR_OK) {
    Py_DECREF(target);
    raise_submit(rc, &a);
    args_release(&a);
    return NULL;
  }
  args_release(&a);
  return PyLong_FromUnsignedLongLong((unsigned long long)id);
}

/* ---- Batches ------------------------------------------------------------------------------
 *
 * submit_many(db, commands, target, timeout=None) submits every command of
 * a list in one call and gives `target` one value when all have completed:
 * the list of their values (each as a single submit's target would get it;
 * a command refused or with bad arguments has that exception as its value:
 * the others still run). One target for the batch instead of one future per
 * command: that is what saves the per-command cost in asyncio (a future, a
 * set_result, a task wake-up each). */

typedef struct Batch Batch;
typedef struct {
  Batch *batch;
  Py_ssize_t index;
} BatchSlot;

struct Batch {
  PyObject *target; /* owned */
  PyObject *values; /* owned list, filled as commands complete */
  Py_ssize_t remaining;
  BatchSlot slots[]; /* one per command: the userdata of its callback */
};

/* One command (or the submitting call) is done with the batch: the last
 * delivers the list and frees it. */
static void batch_release(Batch *b) {
  if (--b->remaining == 0) {
    deliver(b->target, b->values); /* steals the list */
    Py_DECREF(b->target);
    PyMem_Free(b);
  }
}

/* Stores `value` (stolen; NULL: the current exception) in slot i, then
 * releases the slot's hold on the batch. */
static void batch_put(Batch *b, Py_ssize_t i, PyObject *value) {
  if (value == NULL) {
    PyObject *type, *tb;
    PyErr_Fetch(&type, &value, &tb);
    PyErr_NormalizeException(&type, &value, &tb);
    Py_XDECREF(type);
    Py_XDECREF(tb);
    if (value == NULL) value = Py_NewRef(Py_None);
  }
  PyList_SetItem(b->values, i, value);
  batch_release(b);
}

static void batch_cb(void *userdata, int status, const jr_reply *reply) {
  PyGILState_STATE g = PyGILState_Ensure();
  PyObject *type, *value, *tb;
  PyErr_Fetch(&type, &value, &tb);
  BatchSlot *slot = userdata;
  batch_put(slot->batch, slot->index, completion_value(status, reply));
  PyErr_Restore(type, value, tb);
  PyGILState_Release(g);
}

/* The exception a single submit would raise for rc, as a value. */
static PyObject *submit_error(int rc, const Args *a) {
  raise_submit(rc, a);
  return NULL; /* batch_put takes the exception */
}

/* The parallel arrays of one jr_client_submit_many call, in one block. */
typedef struct {
  size_t *argcs;
  const char *const **argvs;
  const size_t **lens;
  void **uds;
  int *rcs;
  jr_req_id *ids;
  Py_ssize_t *index; /* the command of each entry */
  void *block;
} Many;

static int many_alloc(Many *m, size_t n) {
  size_t each = sizeof(size_t) + sizeof(char **) + sizeof(size_t *) + sizeof(void *) + sizeof(int) +
                sizeof(jr_req_id) + sizeof(Py_ssize_t);
  char *p = PyMem_Malloc(n * each);
  if (p == NULL) return -1;
  m->block = p;
  /* 8-byte members first, the int array last (alignment). */
  m->argcs = (size_t *)p;
  p += n * sizeof(size_t);
  m->argvs = (const char *const **)p;
  p += n * sizeof(char **);
  m->lens = (const size_t **)p;
  p += n * sizeof(size_t *);
  m->uds = (void **)p;
  p += n * sizeof(void *);
  m->ids = (jr_req_id *)p;
  p += n * sizeof(jr_req_id);
  m->index = (Py_ssize_t *)p;
  p += n * sizeof(Py_ssize_t);
  m->rcs = (int *)p;
  return 0;
}

static void many_free(Many *m) {
  PyMem_Free(m->block);
}

/* submit_many(db, commands, target, timeout=None) -> [request id or 0, ...] */
static PyObject *Client_submit_many(ClientObject *self, PyObject *const *args, Py_ssize_t nargs) {
  if (nargs < 3 || nargs > 4) {
    PyErr_SetString(PyExc_TypeError, "submit_many(db, commands, target, timeout=None)");
    return NULL;
  }
  jr_client *client = client_get(self);
  if (client == NULL) return NULL;
  long db = PyLong_AsLong(args[0]);
  if (db == -1 && PyErr_Occurred()) return NULL;
  int64_t timeout = timeout_ms_from(nargs > 3 ? args[3] : NULL);
  if (timeout == INT64_MIN) return NULL;
  jr_db *view = NULL;
  if (db >= 0 && (view = client_db(self, db)) == NULL) return NULL;
  PyObject *seq = PySequence_Tuple(args[1]);
  if (seq == NULL) return NULL;
  Py_ssize_t n = PyTuple_Size(seq);
  PyObject *ids = PyList_New(n);
  PyObject *values = ids != NULL ? PyList_New(n) : NULL;
  Batch *b = values != NULL ? PyMem_Malloc(sizeof(Batch) + (size_t)n * sizeof(BatchSlot)) : NULL;
  if (b == NULL) {
    Py_XDECREF(values);
    Py_XDECREF(ids);
    Py_DECREF(seq);
    return values != NULL ? PyErr_NoMemory() : NULL;
  }
  for (Py_ssize_t i = 0; i < n; i++) {
    PyList_SetItem(values, i, Py_NewRef(Py_None));
    PyList_SetItem(ids, i, PyLong_FromLong(0));
  }
  b->target = Py_NewRef(args[2]);
  b->values = values;
  b->remaining = n + 1; /* + 1 until every command is submitted */
  /* The arguments of every command first (a bad one gets its exception as
   * its value), then one jr_*_submit_many for the others: libjr's loop
   * thread is woken once, and the batch goes out in one write. */
  Args *as = NULL;
  Many m = {0};
  if (n > 0 &&
      ((as = PyMem_Malloc((size_t)n * sizeof(Args))) == NULL || many_alloc(&m, (size_t)n) < 0)) {
    PyMem_Free(as);
    for (Py_ssize_t i = 0; i < n; i++) batch_put(b, i, PyErr_NoMemory());
    Py_DECREF(seq);
    batch_release(b);
    return ids;
  }
  size_t k = 0;
  for (Py_ssize_t i = 0; i < n; i++) {
    b->slots[i].batch = b;
    b->slots[i].index = i;
    if (args_from(&as[i], PyTuple_GetItem(seq, i)) < 0) {
      as[i].argc = 0; /* not submitted; nothing to release */
      batch_put(b, i, NULL);
      continue;
    }
    m.index[k] = i;
    m.argcs[k] = as[i].argc;
    m.argvs[k] = as[i].argv;
    m.lens[k] = as[i].lens;
    m.uds[k] = &b->slots[i];
    k++;
  }
  if (k > 0) {
    if (view != NULL) {
      jr_db_submit_many(view, k, m.argcs, m.argvs, m.lens, timeout, batch_cb, m.uds, m.rcs, m.ids);
    } else {
      jr_client_submit_many(client, k, m.argcs, m.argvs, m.lens, timeout, batch_cb, m.uds, m.rcs,
                            m.ids);
    }
  }
  for (size_t j = 0; j < k; j++) {
    Py_ssize_t i = m.index[j];
    if (m.rcs[j] != JR_OK) {
      batch_put(b, i, submit_error(m.rcs[j], &as[i]));
    } else {
      PyObject *idv = PyLong_FromUnsignedLongLong((unsigned long long)m.ids[j]);
      if (idv != NULL) {
        PyList_SetItem(ids, i, idv);
      } else {
        PyErr_Clear();
      }
    }
  }
  for (Py_ssize_t i = 0; i < n; i++)
    if (as[i].argc > 0) args_release(&as[i]);
  PyMem_Free(as);
  many_free(&m);
  Py_DECREF(seq);
  batch_release(b); /* the guard: delivers now if nothing was submitted */
  return ids;
}

/* cancel(id) -> bool: True if a cancel was queued (the target still gets
 * exactly one value: the cancel error, or the reply if it won the race). */
static PyObject *Client_cancel(ClientObject *self, PyObject *arg) {
  if (self->client == NULL) Py_RETURN_FALSE;
  unsigned long long id = PyLong_AsUnsignedLongLong(arg);
  if (id == (unsigned long long)-1 && PyErr_Occurred()) return NULL;
  return PyBool_FromLong(jr_cancel(self->client, (jr_req_id)id) == JR_OK);
}

/* ---- Cluster -------------------------------------------------------------------------------- */

/* endpoints(target): target gets [[address, role], ...] (role b"master",
 * b"replica" or b"standalone"). */
static PyObject *Client_endpoints(ClientObject *self, PyObject *target) {
  jr_client *c = client_get(self);
  if (c == NULL) return NULL;
  Py_INCREF(target);
  int rc = jr_client_endpoints(c, reply_cb, target);
  if (rc != JR_OK) {
    Py_DECREF(target);
    return raise_code(rc, NULL);
  }
  Py_RETURN_NONE;
}

/* submit_all_masters(args, target, timeout=None): target gets
 * [[address, reply or RedisReplyError], ...], or RedisError ECLUSTER on a
 * standalone server. */
static PyObject *Client_submit_all_masters(ClientObject *self, PyObject *const *args,
                                           Py_ssize_t nargs) {
  if (nargs < 2 || nargs > 3) {
    PyErr_SetString(PyExc_TypeError, "submit_all_masters(args, target, timeout=None)");
    return NULL;
  }
  jr_client *c = client_get(self);
  if (c == NULL) return NULL;
  int64_t timeout = timeout_ms_from(nargs > 2 ? args[2] : NULL);
  if (timeout == INT64_MIN) return NULL;
  Args a;
  if (args_from(&a, args[0]) < 0) return NULL;
  PyObject *target = Py_NewRef(args[1]);
  int rc = jr_client_submit_all_masters(c, a.argc, a.argv, a.lens, timeout, reply_cb, target);
  if (rc != JR_OK) {
    Py_DECREF(target);
    raise_submit(rc, &a);
    args_release(&a);
    return NULL;
  }
  args_release(&a);
  Py_RETURN_NONE;
}

/* A str argument without NUL bytes, as UTF-8 (borrowed from `o`). */
static const char *c_string(PyObject *o, const char *what) {
  if (!PyUnicode_Check(o)) {
    PyErr_Format(PyExc_TypeError, "%s must be a str", what);
    return NULL;
  }
  Py_ssize_t n;
  const char *s = PyUnicode_AsUTF8AndSize(o, &n);
  if (s == NULL) return NULL;
  if ((size_t)n != strlen(s)) {
    PyErr_Format(PyExc_ValueError, "%s must not contain NUL characters", what);
    return NULL;
  }
  return s;
}

/* submit_to(endpoint, args, target, timeout=None): runs on one node
 * ("host:port", "[v6]:port" or a unix socket path), no redirections. */
static PyObject *Client_submit_to(ClientObject *self, PyObject *const *args, Py_ssize_t nargs) {
  if (nargs < 3 || nargs > 4) {
    PyErr_SetString(PyExc_TypeError, "submit_to(endpoint, args, target, timeout=None)");
    return NULL;
  }
  jr_client *c = client_get(self);
  if (c == NULL) return NULL;
  const char *endpoint = c_string(args[0], "endpoint");
  if (endpoint == NULL) return NULL;
  int64_t timeout = timeout_ms_from(nargs > 3 ? args[3] : NULL);
  if (timeout == INT64_MIN) return NULL;
  Args a;
  if (args_from(&a, args[1]) < 0) return NULL;
  PyObject *target = Py_NewRef(args[2]);
  int rc = jr_client_submit_to(c, endpoint, a.argc, a.argv, a.lens, timeout, reply_cb, target);
  if (rc != JR_OK) {
    Py_DECREF(target);
    if (rc == JR_EINVAL) {
      raise_code(rc, "invalid server endpoint (use \"host:port\", \"[v6addr]:port\" or a path)");
    } else {
      raise_submit(rc, &a);
    }
    args_release(&a);
    return NULL;
  }
  args_release(&a);
  Py_RETURN_NONE;
}

/* set_auth(username, password): credentials of the connections made from
 * now on. username may be None. */
static PyObject *Client_set_auth(ClientObject *self, PyObject *const *args, Py_ssize_t nargs) {
  if (nargs != 2) {
    PyErr_SetString(PyExc_TypeError, "set_auth(username, password)");
    return NULL;
  }
  jr_client *c = client_get(self);
  if (c == NULL) return NULL;
  const char *user = NULL;
  if (args[0] != Py_None && (user = c_string(args[0], "username")) == NULL) return NULL;
  const char *password = c_string(args[1], "password");
  if (password == NULL) return NULL;
  int rc = jr_client_set_auth(c, user, password);
  if (rc != JR_OK) return raise_code(rc, NULL);
  Py_RETURN_NONE;
}

static PyObject *Client_fileno(ClientObject *self, PyObject *Py_UNUSED(ignored)) {
  jr_client *c = client_get(self);
  if (c == NULL) return NULL;
  return PyLong_FromLong(jr_client_fd(c));
}

/* dispatch(max=0) -> number of completions run. */
static PyObject *Client_dispatch(ClientObject *self, PyObject *const *args, Py_ssize_t nargs) {
  size_t max = 0;
  if (nargs > 0) {
    max = PyLong_AsSize_t(args[0]);
    if (max == (size_t)-1 && PyErr_Occurred()) return NULL;
  }
  if (self->client == NULL || self->dispatching) return PyLong_FromLong(0);
  Py_INCREF((PyObject *)self); /* a callback may drop the last other reference */
  self->dispatching = 1;
  size_t n = jr_dispatch(self->client, max);
  self->dispatching = 0;
  Py_DECREF((PyObject *)self);
  return PyLong_FromSize_t(n);
}

static PyObject *Client_get_closed(ClientObject *self, void *Py_UNUSED(closure)) {
  return PyBool_FromLong(self->client == NULL);
}

/* ---- Logs and statistics ----------------------------------------------------------------- */

/* log_fileno(): readable when log lines wait (Client.logs() takes them). */
static PyObject *Client_log_fileno(ClientObject *self, PyObject *Py_UNUSED(ignored)) {
  if (self->logs == NULL) return raise_code(JR_ECLOSED, "client not initialised");
  return PyLong_FromLong(self->logs->efd);
}

/* logs() -> [(level, event, endpoint, text), ...]: the lines libjr logged
 * since the last call (also after close()). */
static PyObject *Client_logs(ClientObject *self, PyObject *Py_UNUSED(ignored)) {
  if (self->logs == NULL) return PyList_New(0);
  return logq_take(self->logs);
}

/* set_log_level(level): queue libjr's lines of this level and more severe
 * (1 error, 2 warn, 3 info, 4 debug; 0 none). */
static PyObject *Client_set_log_level(ClientObject *self, PyObject *arg) {
  long level = PyLong_AsLong(arg);
  if (level == -1 && PyErr_Occurred()) return NULL;
  if (self->logs != NULL)
    __atomic_store_n(&self->logs->max_level,
                     (int)(level < 0   ? 0
                           : level > 4 ? 4
                                       : level),
                     __ATOMIC_RELAXED);
  Py_RETURN_NONE;
}

typedef struct {
  const char *name;
  size_t offset;
} CounterField;
#define FIELD(type, f) \
  { #f, offsetof(type, f) }
static const CounterField stats_fields[] = {
    FIELD(jr_stats, submitted),        FIELD(jr_stats, completed),
    FIELD(jr_stats, server_errors),    FIELD(jr_stats, library_errors),
    FIELD(jr_stats, timeouts),         FIELD(jr_stats, cancels),
    FIELD(jr_stats, in_flight),        FIELD(jr_stats, queued),
    FIELD(jr_stats, bytes_written),    FIELD(jr_stats, bytes_read),
    FIELD(jr_stats, connects),         FIELD(jr_stats, disconnects),
    FIELD(jr_stats, redirects),        FIELD(jr_stats, cache_hits),
    FIELD(jr_stats, cache_misses),     FIELD(jr_stats, cache_invalidations),
    FIELD(jr_stats, connect_failures), {NULL, 0},
};
static const CounterField endpoint_fields[] = {
    FIELD(jr_endpoint_stats, connections),
    FIELD(jr_endpoint_stats, completed),
    FIELD(jr_endpoint_stats, server_errors),
    FIELD(jr_endpoint_stats, library_errors),
    FIELD(jr_endpoint_stats, bytes_written),
    FIELD(jr_endpoint_stats, bytes_read),
    FIELD(jr_endpoint_stats, connects),
    FIELD(jr_endpoint_stats, disconnects),
    FIELD(jr_endpoint_stats, connect_failures),
    FIELD(jr_endpoint_stats, redirects),
    {NULL, 0},
};
#undef FIELD

/* Sets d[name] for each counter the library filled (a field beyond the
 * filled size is left out: an older libjr). -1 with an exception. */
static int fill_counters(PyObject *d, const CounterField *fields, const void *base, size_t filled) {
  for (const CounterField *f = fields; f->name != NULL; f++) {
    if (f->offset + sizeof(uint64_t) > filled) continue;
    uint64_t v;
    memcpy(&v, (const char *)base + f->offset, sizeof v);
    PyObject *n = PyLong_FromUnsignedLongLong((unsigned long long)v);
    int bad = n == NULL || PyDict_SetItemString(d, f->name, n) < 0;
    Py_XDECREF(n);
    if (bad) return -1;
  }
  return 0;
}

/* stats() -> {counter: int} (jr_client_stats). */
static PyObject *Client_stats(ClientObject *self, PyObject *Py_UNUSED(ignored)) {
  jr_client *c = client_get(self);
  if (c == NULL) return NULL;
  jr_stats st;
  memset(&st, 0, sizeof st);
  st.size = sizeof st;
  int rc = jr_client_stats(c, &st);
  if (rc != JR_OK) return raise_code(rc, NULL);
  PyObject *d = PyDict_New();
  if (d != NULL && fill_counters(d, stats_fields, &st, st.size) < 0) Py_CLEAR(d);
  return d;
}

/* endpoint_stats() -> [{'endpoint': str, counter: int, ...}, ...]
 * (jr_client_endpoint_stats, in libjr's order). */
static PyObject *Client_endpoint_stats(ClientObject *self, PyObject *Py_UNUSED(ignored)) {
  jr_client *c = client_get(self);
  if (c == NULL) return NULL;
  PyObject *list = PyList_New(0);
  if (list == NULL) return NULL;
  for (size_t i = 0;; i++) {
    jr_endpoint_stats st;
    memset(&st, 0, sizeof st);
    st.size = sizeof st;
    int rc = jr_client_endpoint_stats(c, i, &st);
    if (rc == JR_ENOENT) break;
    if (rc != JR_OK) {
      Py_DECREF(list);
      return raise_code(rc, NULL);
    }
    PyObject *d = PyDict_New();
    PyObject *ep = PyUnicode_FromString(st.endpoint != NULL ? st.endpoint : "");
    if (d == NULL || ep == NULL || PyDict_SetItemString(d, "endpoint", ep) < 0 ||
        fill_counters(d, endpoint_fields, &st, st.size) < 0 || PyList_Append(list, d) < 0) {
      Py_XDECREF(ep);
      Py_XDECREF(d);
      Py_DECREF(list);
      return NULL;
    }
    Py_DECREF(ep);
    Py_DECREF(d);
  }
  return list;
}

/* latency(percentile) -> ns (the upper bound of the bucket holding it;
 * None when it falls in the open last bucket or nothing completed yet). */
static PyObject *Client_latency(ClientObject *self, PyObject *arg) {
  jr_client *c = client_get(self);
  if (c == NULL) return NULL;
  double p = PyFloat_AsDouble(arg);
  if (p == -1.0 && PyErr_Occurred()) return NULL;
  uint64_t ns = 0;
  int rc = jr_client_latency(c, p, &ns);
  if (rc == JR_ENOENT || (rc == JR_OK && ns == UINT64_MAX)) Py_RETURN_NONE;
  if (rc == JR_EINVAL) {
    PyErr_SetString(PyExc_ValueError, "percentile must be in 0..100");
    return NULL;
  }
  if (rc != JR_OK) return raise_code(rc, NULL);
  return PyLong_FromUnsignedLongLong((unsigned long long)ns);
}

/* latency_buckets() -> [(upper_ns or None for the last, count), ...] */
static PyObject *Client_latency_buckets(ClientObject *self, PyObject *Py_UNUSED(ignored)) {
  jr_client *c = client_get(self);
  if (c == NULL) return NULL;
  PyObject *list = PyList_New(0);
  if (list == NULL) return NULL;
  for (size_t i = 0;; i++) {
    uint64_t upper = 0, count = 0;
    int rc = jr_client_latency_bucket(c, i, &upper, &count);
    if (rc == JR_ENOENT) break;
    if (rc != JR_OK) {
      Py_DECREF(list);
      return raise_code(rc, NULL);
    }
    PyObject *row = upper == UINT64_MAX ? Py_BuildValue("(OK)", Py_None, (unsigned long long)count)
                                        : Py_BuildValue("(KK)", (unsigned long long)upper,
                                                        (unsigned long long)count);
    if (row == NULL || PyList_Append(list, row) < 0) {
      Py_XDECREF(row);
      Py_DECREF(list);
      return NULL;
    }
    Py_DECREF(row);
  }
  return list;
}

/* stats_text() -> str: the Prometheus text (jr_client_stats_text). */
static PyObject *Client_stats_text(ClientObject *self, PyObject *Py_UNUSED(ignored)) {
  jr_client *c = client_get(self);
  if (c == NULL) return NULL;
  size_t cap = 8192;
  for (;;) {
    char *buf = PyMem_Malloc(cap);
    if (buf == NULL) return PyErr_NoMemory();
    int64_t n = jr_client_stats_text(c, buf, cap);
    if (n < 0) {
      PyMem_Free(buf);
      return raise_code((int)n, NULL);
    }
    if ((uint64_t)n < cap) {
      PyObject *text = PyUnicode_DecodeUTF8(buf, (Py_ssize_t)n, "replace");
      PyMem_Free(buf);
      return text;
    }
    PyMem_Free(buf);
    cap = (size_t)n + 1024; /* it may grow meanwhile: a new endpoint */
  }
}

/* ---- Multi ------------------------------------------------------------------------------- */

static ChildObject *child_new(PyTypeObject *tp, ClientObject *owner, int kind, void *handle) {
  ChildObject *ch = PyObject_New(ChildObject, tp);
  if (ch == NULL) return NULL;
  ch->owner = NULL;
  ch->prev = ch->next = NULL;
  ch->parent = ch->multi = NULL;
  ch->kind = kind;
  ch->handle = handle;
  child_link(owner, ch);
  return ch;
}

static void Child_dealloc(ChildObject *self) {
  child_end(self);
  Py_CLEAR(self->parent);
  Py_CLEAR(self->owner);
  PyTypeObject *tp = Py_TYPE((PyObject *)self);
  PyObject_Free(self);
  Py_DECREF(tp);
}

static void *child_handle(ChildObject *self, const char *what) {
  if (self->handle == NULL) {
    if (self->owner == NULL || self->owner->client == NULL) {
      raise_code(JR_ECLOSED, "client closed");
    } else {
      raise_code(JR_EMISUSE, what);
    }
  }
  return self->handle;
}

/* Client.multi(db) -> Multi. db -1: the client's default database. */
static PyObject *Client_multi(ClientObject *self, PyObject *arg) {
  jr_client *c = client_get(self);
  if (c == NULL) return NULL;
  long db = PyLong_AsLong(arg);
  if (db == -1 && PyErr_Occurred()) return NULL;
  if (db < -1 || db > INT32_MAX) return raise_code(JR_EINVAL, "invalid database number");
  jr_multi *m = NULL;
  int rc = jr_multi_new(c, (int)db, &m);
  if (rc != JR_OK) return raise_code(rc, NULL);
  ChildObject *ch = child_new(MultiType, self, CHILD_MULTI, m);
  if (ch == NULL) jr_multi_discard(m);
  return (PyObject *)ch;
}

/* Multi.add(args, target) */
static PyObject *Multi_add(ChildObject *self, PyObject *const *args, Py_ssize_t nargs) {
  if (nargs != 2) {
    PyErr_SetString(PyExc_TypeError, "add(args, target)");
    return NULL;
  }
  jr_multi *m = child_handle(self, "transaction already finished");
  if (m == NULL) return NULL;
  Args a;
  if (args_from(&a, args[0]) < 0) return NULL;
  PyObject *target = Py_NewRef(args[1]);
  int rc = jr_multi_add(m, a.argc, a.argv, a.lens, reply_cb, target);
  if (rc != JR_OK) {
    Py_DECREF(target);
    raise_submit(rc, &a);
    args_release(&a);
    return NULL;
  }
  args_release(&a);
  Py_RETURN_NONE;
}

/* Multi.exec(target=None, timeout=None): sends MULTI ... EXEC; target gets
 * the raw EXEC reply. The handle is finished afterwards. */
static PyObject *Multi_exec(ChildObject *self, PyObject *const *args, Py_ssize_t nargs) {
  if (nargs > 2) {
    PyErr_SetString(PyExc_TypeError, "exec(target=None, timeout=None)");
    return NULL;
  }
  jr_multi *m = child_handle(self, "transaction already finished");
  if (m == NULL) return NULL;
  int64_t timeout = timeout_ms_from(nargs > 1 ? args[1] : NULL);
  if (timeout == INT64_MIN) return NULL;
  PyObject *target = nargs > 0 && args[0] != Py_None ? Py_NewRef(args[0]) : NULL;
  self->handle = NULL; /* jr_multi_exec frees it, whatever it returns */
  child_unlink(self);
  if (self->parent != NULL && self->parent->multi == self) self->parent->multi = NULL;
  int rc = jr_multi_exec(m, timeout, target != NULL ? reply_cb : NULL, target);
  if (rc != JR_OK) {
    Py_XDECREF(target);
    return raise_code(rc, NULL);
  }
  Py_RETURN_NONE;
}

/* Multi.discard(): every queued target gets JR_EDISCARDED. */
static PyObject *Multi_discard(ChildObject *self, PyObject *Py_UNUSED(ignored)) {
  child_end(self);
  Py_RETURN_NONE;
}

static PyObject *Child_get_open(ChildObject *self, void *Py_UNUSED(closure)) {
  return PyBool_FromLong(self->handle != NULL);
}

/* ---- Watch ------------------------------------------------------------------------------- */

/* Client.watch(db, keys) -> Watch: sends WATCH keys on a dedicated connection. */
static PyObject *Client_watch(ClientObject *self, PyObject *const *args, Py_ssize_t nargs) {
  if (nargs != 2) {
    PyErr_SetString(PyExc_TypeError, "watch(db, keys)");
    return NULL;
  }
  jr_client *c = client_get(self);
  if (c == NULL) return NULL;
  long db = PyLong_AsLong(args[0]);
  if (db == -1 && PyErr_Occurred()) return NULL;
  if (db < -1 || db > INT32_MAX) return raise_code(JR_EINVAL, "invalid database number");
  Args a;
  if (args_from(&a, args[1]) < 0) return NULL;
  jr_watch *w = NULL;
  int rc = jr_watch_new(c, (int)db, a.argc, a.argv, a.lens, &w);
  args_release(&a);
  if (rc != JR_OK) return raise_code(rc, NULL);
  ChildObject *ch = child_new(WatchType, self, CHILD_WATCH, w);
  if (ch == NULL) jr_watch_free(w);
  return (PyObject *)ch;
}

/* Watch.submit(args, target, timeout=None): runs at once on the watched
 * connection. */
static PyObject *Watch_submit(ChildObject *self, PyObject *const *args, Py_ssize_t nargs) {
  if (nargs < 2 || nargs > 3) {
    PyErr_SetString(PyExc_TypeError, "submit(args, target, timeout=None)");
    return NULL;
  }
  jr_watch *w = child_handle(self, "watch already closed");
  if (w == NULL) return NULL;
  int64_t timeout = timeout_ms_from(nargs > 2 ? args[2] : NULL);
  if (timeout == INT64_MIN) return NULL;
  Args a;
  if (args_from(&a, args[0]) < 0) return NULL;
  PyObject *target = Py_NewRef(args[1]);
  int rc = jr_watch_submit(w, a.argc, a.argv, a.lens, timeout, reply_cb, target);
  if (rc != JR_OK) {
    Py_DECREF(target);
    raise_submit(rc, &a);
    args_release(&a);
    return NULL;
  }
  args_release(&a);
  Py_RETURN_NONE;
}

/* Watch.multi() -> Multi: the transaction that ends the watch. */
static PyObject *Watch_multi(ChildObject *self, PyObject *Py_UNUSED(ignored)) {
  jr_watch *w = child_handle(self, "watch already closed");
  if (w == NULL) return NULL;
  jr_multi *m = NULL;
  int rc = jr_watch_multi(w, &m);
  if (rc != JR_OK) {
    return raise_code(rc, rc == JR_EMISUSE ? "Already entered a multi phase of this watch" : NULL);
  }
  ChildObject *ch = child_new(MultiType, self->owner, CHILD_MULTI, m);
  if (ch == NULL) {
    jr_multi_discard(m);
    return NULL;
  }
  ch->parent = (ChildObject *)Py_NewRef((PyObject *)self);
  self->multi = ch;
  return (PyObject *)ch;
}

/* Watch.close(): UNWATCH and give the connection back. */
static PyObject *Watch_close(ChildObject *self, PyObject *Py_UNUSED(ignored)) {
  child_end(self);
  Py_RETURN_NONE;
}

/* ---- Pub/sub ----------------------------------------------------------------------------- */

/* Client.sub(callback) -> Sub; callback(status, value) as in message_cb. */
static PyObject *Client_sub(ClientObject *self, PyObject *cb) {
  jr_client *c = client_get(self);
  if (c == NULL) return NULL;
  if (!PyCallable_Check(cb)) {
    PyErr_SetString(PyExc_TypeError, "callback must be callable");
    return NULL;
  }
  jr_sub *s = NULL;
  Py_INCREF(cb);
  int rc = jr_sub_new(c, message_cb, cb, &s);
  if (rc != JR_OK) {
    Py_DECREF(cb);
    return raise_code(rc, NULL);
  }
  ChildObject *ch = child_new(SubType, self, CHILD_SUB, s);
  if (ch == NULL) jr_sub_free(s); /* the callback still gets its JR_ECLOSED */
  return (PyObject *)ch;
}

static PyObject *sub_names(ChildObject *self, PyObject *const *args, Py_ssize_t nargs, int add) {
  if (nargs != 2) {
    PyErr_SetString(PyExc_TypeError, "(kind, names)");
    return NULL;
  }
  jr_sub *s = child_handle(self, "subscriber closed");
  if (s == NULL) return NULL;
  /* 0 channels, 1 patterns (a bool works), 2 sharded channels. */
  long kind = PyLong_AsLong(args[0]);
  if (kind == -1 && PyErr_Occurred()) return NULL;
  if (kind < JR_SUB_CHANNELS || kind > JR_SUB_SHARDED) {
    PyErr_SetString(PyExc_ValueError, "kind: 0 channels, 1 patterns, 2 sharded channels");
    return NULL;
  }
  int pattern = (int)kind;
  Args a;
  if (args_from(&a, args[1]) < 0) return NULL;
  int rc = add ? jr_sub_subscribe(s, pattern, a.argc, a.argv, a.lens)
               : jr_sub_unsubscribe(s, pattern, a.argc, a.argv, a.lens);
  args_release(&a);
  if (rc != JR_OK) return raise_code(rc, NULL);
  Py_RETURN_NONE;
}

/* Sub.subscribe(kind, names) / Sub.unsubscribe(kind, names) */
static PyObject *Sub_subscribe(ChildObject *self, PyObject *const *args, Py_ssize_t nargs) {
  return sub_names(self, args, nargs, 1);
}

static PyObject *Sub_unsubscribe(ChildObject *self, PyObject *const *args, Py_ssize_t nargs) {
  return sub_names(self, args, nargs, 0);
}

/* Sub.ping(text=None) */
static PyObject *Sub_ping(ChildObject *self, PyObject *const *args, Py_ssize_t nargs) {
  jr_sub *s = child_handle(self, "subscriber closed");
  if (s == NULL) return NULL;
  const char *text = NULL;
  size_t len = 0;
  if (nargs > 0 && args[0] != Py_None) {
    if (!PyBytes_Check(args[0])) {
      PyErr_SetString(PyExc_TypeError, "ping text must be bytes");
      return NULL;
    }
    char *t;
    Py_ssize_t n;
    if (PyBytes_AsStringAndSize(args[0], &t, &n) < 0) return NULL;
    text = t;
    len = (size_t)n;
  }
  int rc = jr_sub_ping(s, text, len);
  if (rc != JR_OK) return raise_code(rc, NULL);
  Py_RETURN_NONE;
}

/* Sub.close() / Monitor.close(): the callback then gets JR_ECLOSED, last. */
static PyObject *Child_close(ChildObject *self, PyObject *Py_UNUSED(ignored)) {
  child_end(self);
  Py_RETURN_NONE;
}

/* Client.monitor(callback) -> Monitor */
static PyObject *Client_monitor(ClientObject *self, PyObject *cb) {
  jr_client *c = client_get(self);
  if (c == NULL) return NULL;
  if (!PyCallable_Check(cb)) {
    PyErr_SetString(PyExc_TypeError, "callback must be callable");
    return NULL;
  }
  jr_monitor *m = NULL;
  Py_INCREF(cb);
  int rc = jr_monitor_new(c, message_cb, cb, &m);
  if (rc != JR_OK) {
    Py_DECREF(cb);
    return raise_code(rc, NULL);
  }
  ChildObject *ch = child_new(MonitorType, self, CHILD_MONITOR, m);
  if (ch == NULL) jr_monitor_free(m);
  return (PyObject *)ch;
}

/* ---- Type tables ------------------------------------------------------------------------- */

static PyMethodDef Client_methods[] = {
    {"submit", (PyCFunction)(void (*)(void))Client_submit, METH_FASTCALL,
     "submit(db, args, target, timeout=None) -> request id"},
    {"submit_many", (PyCFunction)(void (*)(void))Client_submit_many, METH_FASTCALL,
     "submit_many(db, commands, target, timeout=None) -> [request id or 0, ...]; target gets "
     "the list of values once all completed"},
    {"cancel", (PyCFunction)Client_cancel, METH_O, "cancel(id) -> bool"},
    {"database", (PyCFunction)Client_database, METH_O,
     "database(number): the view of that database; RedisError if refused"},
    {"endpoints", (PyCFunction)Client_endpoints, METH_O,
     "endpoints(target): target gets [[address, role], ...]"},
    {"submit_all_masters", (PyCFunction)(void (*)(void))Client_submit_all_masters, METH_FASTCALL,
     "submit_all_masters(args, target, timeout=None)"},
    {"submit_to", (PyCFunction)(void (*)(void))Client_submit_to, METH_FASTCALL,
     "submit_to(endpoint, args, target, timeout=None)"},
    {"set_auth", (PyCFunction)(void (*)(void))Client_set_auth, METH_FASTCALL,
     "set_auth(username, password): credentials of connections made from now on"},
    {"fileno", (PyCFunction)Client_fileno, METH_NOARGS, "the completion eventfd"},
    {"dispatch", (PyCFunction)(void (*)(void))Client_dispatch, METH_FASTCALL,
     "dispatch(max=0) -> number of completions run"},
    {"close", (PyCFunction)Client_close, METH_NOARGS,
     "ends every handle and frees the client (pending targets get a RedisError)"},
    {"multi", (PyCFunction)Client_multi, METH_O, "multi(db) -> Multi"},
    {"watch", (PyCFunction)(void (*)(void))Client_watch, METH_FASTCALL, "watch(db, keys) -> Watch"},
    {"sub", (PyCFunction)Client_sub, METH_O, "sub(callback) -> Sub"},
    {"monitor", (PyCFunction)Client_monitor, METH_O, "monitor(callback) -> Monitor"},
    {"log_fileno", (PyCFunction)Client_log_fileno, METH_NOARGS,
     "an eventfd, readable when libjr log lines wait"},
    {"logs", (PyCFunction)Client_logs, METH_NOARGS,
     "logs() -> [(level, event, endpoint, text), ...] logged since the last call"},
    {"set_log_level", (PyCFunction)Client_set_log_level, METH_O,
     "set_log_level(n): keep libjr's lines of level <= n (1 error .. 4 debug, 0 none)"},
    {"stats", (PyCFunction)Client_stats, METH_NOARGS, "stats() -> {counter: int}"},
    {"endpoint_stats", (PyCFunction)Client_endpoint_stats, METH_NOARGS,
     "endpoint_stats() -> [{'endpoint': str, counter: int, ...}, ...]"},
    {"latency", (PyCFunction)Client_latency, METH_O, "latency(percentile) -> ns or None"},
    {"latency_buckets", (PyCFunction)Client_latency_buckets, METH_NOARGS,
     "latency_buckets() -> [(upper_ns or None, count), ...]"},
    {"stats_text", (PyCFunction)Client_stats_text, METH_NOARGS,
     "stats_text() -> the statistics in Prometheus text format"},
    {NULL, NULL, 0, NULL},
};

static PyGetSetDef Client_getset[] = {
    {"closed", (getter)Client_get_closed, NULL, "True after close()", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyType_Slot Client_slots[] = {
    {Py_tp_doc, "Client(options=(), connect_commands=()): a libjr client in poll dispatch mode"},
    {Py_tp_new, PyType_GenericNew},
    {Py_tp_init, Client_init},
    {Py_tp_dealloc, Client_dealloc},
    {Py_tp_methods, Client_methods},
    {Py_tp_getset, Client_getset},
    {0, NULL},
};

static PyType_Spec Client_spec = {
    "jr._jr.Client", sizeof(ClientObject), 0, Py_TPFLAGS_DEFAULT, Client_slots,
};

static PyGetSetDef Child_getset[] = {
    {"open", (getter)Child_get_open, NULL, "True until finished or closed", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyMethodDef Multi_methods[] = {
    {"add", (PyCFunction)(void (*)(void))Multi_add, METH_FASTCALL, "add(args, target)"},
    {"exec", (PyCFunction)(void (*)(void))Multi_exec, METH_FASTCALL,
     "exec(target=None, timeout=None)"},
    {"discard", (PyCFunction)Multi_discard, METH_NOARGS, "discard()"},
    {NULL, NULL, 0, NULL},
};

static PyMethodDef Watch_methods[] = {
    {"submit", (PyCFunction)(void (*)(void))Watch_submit, METH_FASTCALL,
     "submit(args, target, timeout=None)"},
    {"multi", (PyCFunction)Watch_multi, METH_NOARGS, "multi() -> Multi"},
    {"close", (PyCFunction)Watch_close, METH_NOARGS, "close()"},
    {NULL, NULL, 0, NULL},
};

static PyMethodDef Sub_methods[] = {
    {"subscribe", (PyCFunction)(void (*)(void))Sub_subscribe, METH_FASTCALL,
     "subscribe(kind, names): kind 0 channels, 1 patterns, 2 sharded channels"},
    {"unsubscribe", (PyCFunction)(void (*)(void))Sub_unsubscribe, METH_FASTCALL,
     "unsubscribe(kind, names)"},
    {"ping", (PyCFunction)(void (*)(void))Sub_ping, METH_FASTCALL, "ping(text=None)"},
    {"close", (PyCFunction)Child_close, METH_NOARGS, "close()"},
    {NULL, NULL, 0, NULL},
};

static PyMethodDef Monitor_methods[] = {
    {"close", (PyCFunction)Child_close, METH_NOARGS, "close()"},
    {NULL, NULL, 0, NULL},
};

#define CHILD_SPEC(var, name, methods)                                                             \
  static PyType_Slot var##_slots[] = {                                                             \
      {Py_tp_dealloc, Child_dealloc},                                                              \
      {Py_tp_methods, methods},                                                                    \
      {Py_tp_getset, Child_getset},                                                                \
      {0, NULL},                                                                                   \
  };                                                                                               \
  static PyType_Spec var##_spec = {                                                                \
      name,        sizeof(ChildObject), 0, Py_TPFLAGS_DEFAULT | Py_TPFLAGS_DISALLOW_INSTANTIATION, \
      var##_slots,                                                                                 \
  }

CHILD_SPEC(Multi, "jr._jr.Multi", Multi_methods);
CHILD_SPEC(Watch, "jr._jr.Watch", Watch_methods);
CHILD_SPEC(Sub, "jr._jr.Sub", Sub_methods);
CHILD_SPEC(Monitor, "jr._jr.Monitor", Monitor_methods);

/* ---- Module functions ---------------------------------------------------------------------- */

/* _init(RedisReplyError, RedisError, Future, InvalidStateError) */
static PyObject *mod_init(PyObject *Py_UNUSED(m), PyObject *args) {
  PyObject *re, *le, *fut, *inv;
  if (!PyArg_ParseTuple(args, "OOOO:_init", &re, &le, &fut, &inv)) return NULL;
  if (!PyType_Check(fut)) {
    PyErr_SetString(PyExc_TypeError, "Future must be a type");
    return NULL;
  }
  PyObject *old[4] = {ReplyErrorType, RedisErrorType, FutureType, InvalidStateType};
  ReplyErrorType = Py_NewRef(re);
  RedisErrorType = Py_NewRef(le);
  FutureType = Py_NewRef(fut);
  InvalidStateType = Py_NewRef(inv);
  for (int i = 0; i < 4; i++) Py_XDECREF(old[i]);
  Py_RETURN_NONE;
}

static PyObject *mod_strerror(PyObject *Py_UNUSED(m), PyObject *arg) {
  int code = PyLong_AsLong(arg);
  if (code == -1 && PyErr_Occurred()) return NULL;
  return PyUnicode_FromString(py_strerror(code));
}

static PyObject *mod_err_name(PyObject *Py_UNUSED(m), PyObject *arg) {
  int code = PyLong_AsLong(arg);
  if (code == -1 && PyErr_Occurred()) return NULL;
  return PyUnicode_FromString(jr_err_name(code));
}

static PyObject *mod_err_unsent(PyObject *Py_UNUSED(m), PyObject *arg) {
  int code = PyLong_AsLong(arg);
  if (code == -1 && PyErr_Occurred()) return NULL;
  return PyBool_FromLong(jr_err_unsent(code));
}

static PyObject *mod_refusal_reason(PyObject *Py_UNUSED(m), PyObject *arg) {
  if (!PyBytes_Check(arg)) {
    PyErr_SetString(PyExc_TypeError, "name must be bytes");
    return NULL;
  }
  char *name;
  Py_ssize_t n;
  if (PyBytes_AsStringAndSize(arg, &name, &n) < 0) return NULL;
  const char *r = py_refusal_reason(name, (size_t)n);
  if (r == NULL) Py_RETURN_NONE;
  return PyUnicode_FromString(r);
}

static PyObject *mod_version(PyObject *Py_UNUSED(m), PyObject *Py_UNUSED(ignored)) {
  return PyUnicode_FromString(jr_version_string());
}

/* options_describe() -> [(name, type, min, max, default, doc), ...]: libjr's
 * option table (jr_options_describe), in its order. */
static PyObject *mod_options_describe(PyObject *Py_UNUSED(m), PyObject *Py_UNUSED(ignored)) {
  PyObject *list = PyList_New(0);
  if (list == NULL) return NULL;
  const char *name, *type, *def, *doc;
  int64_t lo, hi;
  for (size_t i = 0; jr_options_describe(i, &name, &type, &lo, &hi, &def, &doc) == JR_OK; i++) {
    PyObject *row = Py_BuildValue("(ssLLss)", name, type, (long long)lo, (long long)hi, def, doc);
    if (row == NULL || PyList_Append(list, row) < 0) {
      Py_XDECREF(row);
      Py_DECREF(list);
      return NULL;
    }
    Py_DECREF(row);
  }
  return list;
}

static PyMethodDef module_methods[] = {
    {"_init", mod_init, METH_VARARGS,
     "_init(RedisReplyError, RedisError, Future, InvalidStateError)"},
    {"strerror", mod_strerror, METH_O, "jr_strerror(code), in Python terms"},
    {"err_name", mod_err_name, METH_O, "jr_err_name(code)"},
    {"err_unsent", mod_err_unsent, METH_O, "jr_err_unsent(code)"},
    {"refusal_reason", mod_refusal_reason, METH_O,
     "jr_refusal_reason(name) in Python terms, or None"},
    {"version", mod_version, METH_NOARGS, "libjr's run-time version string"},
    {"options_describe", mod_options_describe, METH_NOARGS,
     "libjr's option keys: [(name, type, min, max, default, doc), ...]"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module_def = {
    PyModuleDef_HEAD_INIT,
    "_jr",
    "libjr binding core (use the jr package)",
    -1,
    module_methods,
    NULL,
    NULL,
    NULL,
    NULL,
};

static int add_int(PyObject *m, const char *name, long v) {
  return PyModule_AddIntConstant(m, name, v);
}

static PyObject *new_type(PyObject *m, PyType_Spec *spec, const char *name) {
  PyObject *t = PyType_FromSpec(spec);
  if (t == NULL) return NULL;
  if (PyModule_AddObjectRef(m, name, t) < 0) {
    Py_DECREF(t);
    return NULL;
  }
  return t; /* the module keeps a reference too; this one lives in a static */
}

PyMODINIT_FUNC PyInit__jr(void) {
  str_set_result = PyUnicode_InternFromString("set_result");
  if (str_set_result == NULL) return NULL;
  PyObject *m = PyModule_Create(&module_def);
  if (m == NULL) return NULL;
  if (new_type(m, &Client_spec, "Client") == NULL ||
      (MultiType = (PyTypeObject *)new_type(m, &Multi_spec, "Multi")) == NULL ||
      (WatchType = (PyTypeObject *)new_type(m, &Watch_spec, "Watch")) == NULL ||
      (SubType = (PyTypeObject *)new_type(m, &Sub_spec, "Sub")) == NULL ||
      (MonitorType = (PyTypeObject *)new_type(m, &Monitor_spec, "Monitor")) == NULL)
    goto fail;
  static const struct {
    const char *name;
    long value;
  } codes[] = {
      {"OK", JR_OK},
      {"EINVAL", JR_EINVAL},
      {"ENOMEM", JR_ENOMEM},
      {"ECLOSED", JR_ECLOSED},
      {"ECONNECT", JR_ECONNECT},
      {"ECONNLOST", JR_ECONNLOST},
      {"ETIMEDOUT", JR_ETIMEDOUT},
      {"EQUEUETIMEOUT", JR_EQUEUETIMEOUT},
      {"EPROTO", JR_EPROTO},
      {"ETOOBIG", JR_ETOOBIG},
      {"EREFUSED", JR_EREFUSED},
      {"ECANCELED", JR_ECANCELED},
      {"EABANDONED", JR_EABANDONED},
      {"EAUTH", JR_EAUTH},
      {"ESHUTDOWN", JR_ESHUTDOWN},
      {"EMISUSE", JR_EMISUSE},
      {"ENOENT", JR_ENOENT},
      {"EINTERNAL", JR_EINTERNAL},
      {"EFULL", JR_EFULL},
      {"EDISCARDED", JR_EDISCARDED},
      {"EWATCH", JR_EWATCH},
      {"EPOOLTIMEOUT", JR_EPOOLTIMEOUT},
      {"ECROSSSLOT", JR_ECROSSSLOT},
      {"ECLUSTER", JR_ECLUSTER},
      {"EFORKED", JR_EFORKED},
      {"ETLS", JR_ETLS},
      {"SUB_LOST", JR_SUB_LOST},
      {"LOG_ERROR", JR_LOG_ERROR},
      {"LOG_WARN", JR_LOG_WARN},
      {"LOG_INFO", JR_LOG_INFO},
      {"LOG_DEBUG", JR_LOG_DEBUG},
      {"SUB_RESUBSCRIBED", JR_SUB_RESUBSCRIBED},
  };
  for (size_t i = 0; i < sizeof codes / sizeof codes[0]; i++)
    if (add_int(m, codes[i].name, codes[i].value) < 0) goto fail;
  if (PyModule_AddStringConstant(m, "HEADER_VERSION", JR_VERSION_STRING) < 0) goto fail;
  return m;
fail:
  Py_DECREF(m);
  return NULL;
}
