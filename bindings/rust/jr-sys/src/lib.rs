// SPDX-License-Identifier: MIT
//! Raw declarations of libjr's C ABI (`include/jr/jr.h`), written by hand
//! (no bindgen). Declarations only: the safe API is the `jr` crate.
//!
//! The contract of every function is the comment above it in `jr.h`; the
//! rules that matter most here:
//! - a submit that returns a negative code never calls its callback; one that
//!   returns `JR_OK` calls it exactly once;
//! - a `*const jr_reply` passed to a callback is borrowed until the callback
//!   returns (`jr_reply_dup` keeps it);
//! - `jr_client_free` must not be called from a callback or the loop thread.
#![allow(non_camel_case_types)]
#![no_std]

use core::ffi::{c_char, c_int, c_uint, c_void};

macro_rules! opaque {
    ($($name:ident),*) => {$(
        /// An opaque libjr handle.
        #[repr(C)]
        pub struct $name {
            _p: [u8; 0],
            _m: core::marker::PhantomData<(*mut u8, core::marker::PhantomPinned)>,
        }
    )*};
}
opaque!(jr_options, jr_client, jr_db, jr_reply, jr_multi, jr_watch, jr_sub, jr_monitor);

// The sized structs of jr.h (docs/abi.md: `size` first, grow-only).
// tests/abi.rs checks each field's C offset and type against jr.h.
macro_rules! sized {
    ($name:ident { $($field:ident: $ty:ty),* $(,)? }) => {
        /// A sized struct of jr.h: set `size` to `size_of::<Self>()`.
        #[repr(C)]
        #[derive(Clone, Copy, Debug)]
        pub struct $name {
            $(pub $field: $ty),*
        }
    };
}
sized!(jr_stats {
    size: usize,
    submitted: u64,
    completed: u64,
    server_errors: u64,
    library_errors: u64,
    timeouts: u64,
    cancels: u64,
    in_flight: u64,
    queued: u64,
    bytes_written: u64,
    bytes_read: u64,
    connects: u64,
    disconnects: u64,
    redirects: u64,
    cache_hits: u64,
    cache_misses: u64,
    cache_invalidations: u64,
    connect_failures: u64,
});
sized!(jr_endpoint_stats {
    size: usize,
    endpoint: *const c_char,
    connections: u64,
    completed: u64,
    server_errors: u64,
    library_errors: u64,
    bytes_written: u64,
    bytes_read: u64,
    connects: u64,
    disconnects: u64,
    connect_failures: u64,
    redirects: u64,
});
sized!(jr_trace {
    size: usize,
    command: *const c_char,
    command_len: usize,
    endpoint: *const c_char,
    db: c_int,
    status: c_int,
    reply_type: c_int,
    submit_ns: u64,
    write_ns: u64,
    reply_ns: u64,
    reply_bytes: u64,
});

pub type jr_req_id = u64;

pub const JR_OK: c_int = 0;
pub const JR_EINVAL: c_int = -1;
pub const JR_ENOMEM: c_int = -2;
pub const JR_ECLOSED: c_int = -3;
pub const JR_ECONNECT: c_int = -4;
pub const JR_ECONNLOST: c_int = -5;
pub const JR_ETIMEDOUT: c_int = -6;
pub const JR_EQUEUETIMEOUT: c_int = -7;
pub const JR_EPROTO: c_int = -8;
pub const JR_ETOOBIG: c_int = -9;
pub const JR_EREFUSED: c_int = -10;
pub const JR_ECANCELED: c_int = -11;
pub const JR_EABANDONED: c_int = -12;
pub const JR_EAUTH: c_int = -13;
pub const JR_ESHUTDOWN: c_int = -14;
pub const JR_EMISUSE: c_int = -15;
pub const JR_ENOENT: c_int = -16;
pub const JR_EINTERNAL: c_int = -17;
pub const JR_EFULL: c_int = -18;
pub const JR_EDISCARDED: c_int = -19;
pub const JR_EWATCH: c_int = -20;
pub const JR_EPOOLTIMEOUT: c_int = -21;
pub const JR_ECROSSSLOT: c_int = -22;
pub const JR_ECLUSTER: c_int = -23;
pub const JR_EFORKED: c_int = -24;
pub const JR_ETLS: c_int = -25;

pub const JR_EVENT_CONNECTED: c_int = 1;
pub const JR_EVENT_DISCONNECTED: c_int = 2;
pub const JR_EVENT_CONNECT_FAILED: c_int = 3;
pub const JR_EVENT_LOG: c_int = 4;
pub const JR_EVENT_STATE: c_int = 5;
pub const JR_LOG_ERROR: c_int = 1;
pub const JR_LOG_WARN: c_int = 2;
pub const JR_LOG_INFO: c_int = 3;
pub const JR_LOG_DEBUG: c_int = 4;

pub const JR_SUB_LOST: c_int = 1;
pub const JR_SUB_RESUBSCRIBED: c_int = 2;
pub const JR_SUB_CHANNELS: c_int = 0;
pub const JR_SUB_PATTERNS: c_int = 1;
pub const JR_SUB_SHARDED: c_int = 2;

pub const JR_REPLY_STRING: c_int = 1;
pub const JR_REPLY_ARRAY: c_int = 2;
pub const JR_REPLY_INTEGER: c_int = 3;
pub const JR_REPLY_NIL: c_int = 4;
pub const JR_REPLY_STATUS: c_int = 5;
pub const JR_REPLY_ERROR: c_int = 6;
// RESP3 (option protocol=3, libjr built with hiredis 1.x); hiredis's numbers.
pub const JR_REPLY_DOUBLE: c_int = 7;
pub const JR_REPLY_BOOL: c_int = 8;
pub const JR_REPLY_MAP: c_int = 9;
pub const JR_REPLY_SET: c_int = 10;
pub const JR_REPLY_ATTR: c_int = 11;
pub const JR_REPLY_PUSH: c_int = 12;
pub const JR_REPLY_BIGNUM: c_int = 13;
pub const JR_REPLY_VERB: c_int = 14;

/// Completion callback: `status == 0` with a borrowed reply, or a negative
/// library error with a null reply.
pub type jr_reply_cb =
    Option<unsafe extern "C" fn(userdata: *mut c_void, status: c_int, reply: *const jr_reply)>;
/// Pub/sub and MONITOR message callback.
pub type jr_message_cb =
    Option<unsafe extern "C" fn(userdata: *mut c_void, status: c_int, msg: *const jr_reply)>;
/// Ready hook: once per batch of completions, on the loop thread.
pub type jr_ready_cb = Option<unsafe extern "C" fn(ctx: *mut c_void)>;
/// Starts the loop thread: some thread must call `run(arg)`; returns 0, or
/// non-zero if it cannot.
pub type jr_thread_starter = Option<
    unsafe extern "C" fn(
        ctx: *mut c_void,
        run: unsafe extern "C" fn(arg: *mut c_void),
        arg: *mut c_void,
    ) -> c_int,
>;
/// Connection event hook (loop thread; must not block).
pub type jr_event_cb = Option<
    unsafe extern "C" fn(
        ctx: *mut c_void,
        event: c_int,
        endpoint: *const c_char,
        detail: *const c_char,
    ),
>;
/// Leveled log hook (loop thread; must not block).
pub type jr_log_cb = Option<
    unsafe extern "C" fn(
        ctx: *mut c_void,
        level: c_int,
        event: c_int,
        endpoint: *const c_char,
        text: *const c_char,
    ),
>;
/// Trace hook: one call per completed request (loop thread).
pub type jr_trace_cb = Option<unsafe extern "C" fn(ctx: *mut c_void, trace: *const jr_trace)>;

extern "C" {
    pub fn jr_client_stats(client: *mut jr_client, out: *mut jr_stats) -> c_int;
    pub fn jr_client_endpoint_stats(
        client: *mut jr_client,
        index: usize,
        out: *mut jr_endpoint_stats,
    ) -> c_int;
    pub fn jr_client_latency(client: *mut jr_client, percentile: f64, ns_out: *mut u64) -> c_int;
    pub fn jr_client_latency_bucket(
        client: *mut jr_client,
        index: usize,
        upper_ns: *mut u64,
        count: *mut u64,
    ) -> c_int;
    pub fn jr_client_stats_text(client: *mut jr_client, buf: *mut c_char, len: usize) -> i64;
    pub fn jr_options_set_log_cb(opts: *mut jr_options, cb: jr_log_cb, ctx: *mut c_void) -> c_int;
    pub fn jr_options_set_trace_cb(
        opts: *mut jr_options,
        cb: jr_trace_cb,
        ctx: *mut c_void,
    ) -> c_int;
    pub fn jr_error_detail() -> *const c_char;

    pub fn jr_strerror(code: c_int) -> *const c_char;
    pub fn jr_err_name(code: c_int) -> *const c_char;
    pub fn jr_err_unsent(code: c_int) -> c_int;

    pub fn jr_version() -> c_uint;
    pub fn jr_version_string() -> *const c_char;

    pub fn jr_options_new() -> *mut jr_options;
    pub fn jr_options_free(opts: *mut jr_options);
    pub fn jr_options_set(opts: *mut jr_options, key: *const c_char, value: *const c_char)
        -> c_int;
    pub fn jr_options_set_int(opts: *mut jr_options, key: *const c_char, value: i64) -> c_int;
    pub fn jr_options_describe(
        index: usize,
        name: *mut *const c_char,
        type_: *mut *const c_char,
        min: *mut i64,
        max: *mut i64,
        def: *mut *const c_char,
        doc: *mut *const c_char,
    ) -> c_int;
    pub fn jr_options_add_connect_command(
        opts: *mut jr_options,
        argc: usize,
        argv: *const *const c_char,
        argvlen: *const usize,
    ) -> c_int;
    pub fn jr_options_set_event_cb(
        opts: *mut jr_options,
        cb: jr_event_cb,
        ctx: *mut c_void,
    ) -> c_int;
    pub fn jr_options_set_ready_cb(
        opts: *mut jr_options,
        cb: jr_ready_cb,
        ctx: *mut c_void,
    ) -> c_int;
    pub fn jr_options_set_thread_starter(
        opts: *mut jr_options,
        start: jr_thread_starter,
        ctx: *mut c_void,
    ) -> c_int;

    pub fn jr_client_new(opts: *const jr_options, out: *mut *mut jr_client) -> c_int;
    pub fn jr_client_drain(client: *mut jr_client, timeout_ms: i64) -> c_int;
    pub fn jr_client_free(client: *mut jr_client) -> c_int;
    pub fn jr_client_submit(
        client: *mut jr_client,
        argc: usize,
        argv: *const *const c_char,
        argvlen: *const usize,
        timeout_ms: i64,
        cb: jr_reply_cb,
        userdata: *mut c_void,
        id_out: *mut jr_req_id,
    ) -> c_int;
    /// Since 0.2.
    pub fn jr_client_submit_many(
        client: *mut jr_client,
        n: usize,
        argcs: *const usize,
        argvs: *const *const *const c_char,
        argvlens: *const *const usize,
        timeout_ms: i64,
        cb: jr_reply_cb,
        userdatas: *const *mut c_void,
        rcs: *mut c_int,
        ids: *mut jr_req_id,
    ) -> c_int;
    pub fn jr_cancel(client: *mut jr_client, id: jr_req_id) -> c_int;
    pub fn jr_client_set_auth(
        client: *mut jr_client,
        username: *const c_char,
        password: *const c_char,
    ) -> c_int;
    pub fn jr_client_submit_all_masters(
        client: *mut jr_client,
        argc: usize,
        argv: *const *const c_char,
        argvlen: *const usize,
        timeout_ms: i64,
        cb: jr_reply_cb,
        userdata: *mut c_void,
    ) -> c_int;
    pub fn jr_client_submit_to(
        client: *mut jr_client,
        endpoint: *const c_char,
        argc: usize,
        argv: *const *const c_char,
        argvlen: *const usize,
        timeout_ms: i64,
        cb: jr_reply_cb,
        userdata: *mut c_void,
    ) -> c_int;
    pub fn jr_client_endpoints(
        client: *mut jr_client,
        cb: jr_reply_cb,
        userdata: *mut c_void,
    ) -> c_int;
    pub fn jr_client_call(
        client: *mut jr_client,
        argc: usize,
        argv: *const *const c_char,
        argvlen: *const usize,
        timeout_ms: i64,
        out: *mut *mut jr_reply,
    ) -> c_int;
    pub fn jr_refusal_reason(name: *const c_char, len: usize) -> *const c_char;

    pub fn jr_client_fd(client: *mut jr_client) -> c_int;
    pub fn jr_dispatch(client: *mut jr_client, max: usize) -> usize;

    pub fn jr_db_new(client: *mut jr_client, number: c_int, out: *mut *mut jr_db) -> c_int;
    pub fn jr_db_free(db: *mut jr_db);
    pub fn jr_db_submit(
        db: *mut jr_db,
        argc: usize,
        argv: *const *const c_char,
        argvlen: *const usize,
        timeout_ms: i64,
        cb: jr_reply_cb,
        userdata: *mut c_void,
        id_out: *mut jr_req_id,
    ) -> c_int;
    /// Since 0.2.
    pub fn jr_db_submit_many(
        db: *mut jr_db,
        n: usize,
        argcs: *const usize,
        argvs: *const *const *const c_char,
        argvlens: *const *const usize,
        timeout_ms: i64,
        cb: jr_reply_cb,
        userdatas: *const *mut c_void,
        rcs: *mut c_int,
        ids: *mut jr_req_id,
    ) -> c_int;
    pub fn jr_db_call(
        db: *mut jr_db,
        argc: usize,
        argv: *const *const c_char,
        argvlen: *const usize,
        timeout_ms: i64,
        out: *mut *mut jr_reply,
    ) -> c_int;

    pub fn jr_multi_new(client: *mut jr_client, db: c_int, out: *mut *mut jr_multi) -> c_int;
    pub fn jr_multi_add(
        multi: *mut jr_multi,
        argc: usize,
        argv: *const *const c_char,
        argvlen: *const usize,
        cb: jr_reply_cb,
        userdata: *mut c_void,
    ) -> c_int;
    pub fn jr_multi_exec(
        multi: *mut jr_multi,
        timeout_ms: i64,
        exec_cb: jr_reply_cb,
        userdata: *mut c_void,
    ) -> c_int;
    pub fn jr_multi_discard(multi: *mut jr_multi);

    pub fn jr_watch_new(
        client: *mut jr_client,
        db: c_int,
        nkeys: usize,
        keys: *const *const c_char,
        keylens: *const usize,
        out: *mut *mut jr_watch,
    ) -> c_int;
    pub fn jr_watch_submit(
        watch: *mut jr_watch,
        argc: usize,
        argv: *const *const c_char,
        argvlen: *const usize,
        timeout_ms: i64,
        cb: jr_reply_cb,
        userdata: *mut c_void,
    ) -> c_int;
    pub fn jr_watch_multi(watch: *mut jr_watch, out: *mut *mut jr_multi) -> c_int;
    pub fn jr_watch_free(watch: *mut jr_watch);

    pub fn jr_sub_new(
        client: *mut jr_client,
        cb: jr_message_cb,
        userdata: *mut c_void,
        out: *mut *mut jr_sub,
    ) -> c_int;
    pub fn jr_sub_subscribe(
        sub: *mut jr_sub,
        pattern: c_int,
        n: usize,
        names: *const *const c_char,
        lens: *const usize,
    ) -> c_int;
    pub fn jr_sub_unsubscribe(
        sub: *mut jr_sub,
        pattern: c_int,
        n: usize,
        names: *const *const c_char,
        lens: *const usize,
    ) -> c_int;
    pub fn jr_sub_ping(sub: *mut jr_sub, text: *const c_char, len: usize) -> c_int;
    pub fn jr_sub_free(sub: *mut jr_sub);

    pub fn jr_monitor_new(
        client: *mut jr_client,
        cb: jr_message_cb,
        userdata: *mut c_void,
        out: *mut *mut jr_monitor,
    ) -> c_int;
    pub fn jr_monitor_free(monitor: *mut jr_monitor);

    pub fn jr_reply_get_type(reply: *const jr_reply) -> c_int;
    pub fn jr_reply_str(reply: *const jr_reply, len: *mut usize) -> *const c_char;
    pub fn jr_reply_integer(reply: *const jr_reply) -> i64;
    pub fn jr_reply_len(reply: *const jr_reply) -> usize;
    pub fn jr_reply_double(reply: *const jr_reply) -> f64;
    pub fn jr_reply_verb_format(reply: *const jr_reply) -> *const c_char;
    pub fn jr_reply_element(reply: *const jr_reply, index: usize) -> *const jr_reply;
    pub fn jr_reply_dup(reply: *const jr_reply) -> *mut jr_reply;
    pub fn jr_reply_free(reply: *mut jr_reply);
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;

    #[test]
    fn links_and_reports_a_version() {
        let v = unsafe { core::ffi::CStr::from_ptr(jr_version_string()) };
        assert!(!v.to_bytes().is_empty());
        assert!(unsafe { jr_version() } >= 0x000100);
        let name = unsafe { core::ffi::CStr::from_ptr(jr_err_name(JR_ECONNLOST)) };
        assert_eq!(name.to_bytes(), b"JR_ECONNLOST");
        assert_eq!(unsafe { jr_err_unsent(JR_ECANCELED) }, 1);
        assert_eq!(unsafe { jr_err_unsent(JR_ETIMEDOUT) }, 0);
    }
}
