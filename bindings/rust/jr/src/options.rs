// SPDX-License-Identifier: MIT
//! The options builder (`jr_options`), and libjr's table of option keys
//! ([`describe`]). Keys and defaults: jr.h.
use std::ffi::{c_char, c_int, c_void, CStr, CString};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::ptr::NonNull;
use std::sync::Arc;
use std::time::Duration;

use jr_sys as sys;

use crate::args::ArgBuf;
use crate::error::{check, Error, Result};

/// A connection event (`JR_EVENT_*`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Event {
    Connected,
    Disconnected,
    ConnectFailed,
    Log,
    Other(i32),
}

impl Event {
    fn from_raw(e: c_int) -> Event {
        match e {
            sys::JR_EVENT_CONNECTED => Event::Connected,
            sys::JR_EVENT_DISCONNECTED => Event::Disconnected,
            sys::JR_EVENT_CONNECT_FAILED => Event::ConnectFailed,
            sys::JR_EVENT_LOG => Event::Log,
            o => Event::Other(o),
        }
    }
}

/// One option key of libjr, from the table that `jr_options_set` checks
/// values against (`jr_options_describe`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OptionInfo {
    pub name: &'static str,
    /// `"int"`, `"bool"` (0 or 1), `"string"` or `"enum"` (one of the words
    /// the doc names).
    pub ty: &'static str,
    /// The range of an int or bool ([`Options::set_int`]); 0 and 0 for the
    /// others.
    pub min: i64,
    pub max: i64,
    /// The default as [`Options::set`] takes it (`""` when there is none).
    pub default: &'static str,
    pub doc: &'static str,
}

/// Every option key libjr knows, in libjr's order. Keys without a shorthand
/// on [`Options`] are set with [`Options::set`] / [`Options::set_int`].
///
/// ```
/// let max = jr::options::describe().find(|o| o.name == "max_connections").unwrap();
/// assert_eq!((max.ty, max.min), ("int", 1));
/// ```
pub fn describe() -> impl Iterator<Item = OptionInfo> {
    fn text(p: *const c_char) -> &'static str {
        if p.is_null() {
            return "";
        }
        // SAFETY: libjr's table holds static NUL-terminated text.
        unsafe { CStr::from_ptr(p) }.to_str().unwrap_or("")
    }
    (0..).map_while(|i| {
        let (mut name, mut ty, mut def, mut doc) = (
            std::ptr::null(),
            std::ptr::null(),
            std::ptr::null(),
            std::ptr::null(),
        );
        let (mut min, mut max) = (0i64, 0i64);
        // SAFETY: every out pointer is valid; the strings are static.
        let rc = unsafe {
            sys::jr_options_describe(
                i, &mut name, &mut ty, &mut min, &mut max, &mut def, &mut doc,
            )
        };
        (rc == sys::JR_OK).then(|| OptionInfo {
            name: text(name),
            ty: text(ty),
            min,
            max,
            default: text(def),
            doc: text(doc),
        })
    })
}

pub(crate) type EventFn = dyn Fn(Event, &str, &str) + Send + Sync + 'static;

/// Builds the options of a [`Client`](crate::Client).
///
/// Builder methods never fail on the spot: the first invalid key or value is
/// remembered and returned by `Client::new`. Use [`Options::try_set`] to
/// check a setting at once. [`Options::set`] / [`Options::set_int`] take any
/// key of jr.h, including those without a shorthand here (`"max_queued"`,
/// `"socket_timeout_ms"`, `"cluster"`, ...).
///
/// TLS: keys `tls`, `tls_verify`, `tls_ca_file`, `tls_ca_dir`,
/// `tls_cert_file`, `tls_key_file` and `tls_server_name` (shorthands below);
/// a `rediss://` URL turns `tls` on. The server certificate and host name
/// are verified by default. TLS files that cannot be used make
/// `Client::new` fail with [`code::ETLS`](crate::code::ETLS); a failed
/// handshake fails commands with `ECONNECT` (the event hook gets the
/// verification error).
///
/// ```no_run
/// let opts = jr::Options::new()
///     .endpoint("redis.example:6380")
///     .tls(true)
///     .tls_ca_file("/etc/redis/ca.crt")
///     .tls_cert("client.crt", "client.key"); // mutual TLS
/// # let _ = opts;
/// ```
///
/// ```no_run
/// let opts = jr::Options::new()
///     .endpoint("127.0.0.1:6379")
///     .command_timeout(std::time::Duration::from_secs(2));
/// let client = jr::Client::new(&opts)?;
/// # Ok::<(), jr::Error>(())
/// ```
pub struct Options {
    raw: NonNull<sys::jr_options>,
    pub(crate) event: Option<Arc<Box<EventFn>>>,
    pub(crate) error: Option<Error>,
    /// `protocol` 3 was asked for (key or URL): says why `Client::new`
    /// fails on a libjr without RESP3.
    pub(crate) resp3: bool,
    /// Every key set, with its value (the test checks them against libjr).
    #[cfg(test)]
    log: Vec<(String, Set)>,
}

#[cfg(test)]
#[derive(Debug, PartialEq)]
enum Set {
    Text(String),
    Int(i64),
}

// SAFETY: a jr_options is plain data; it is used by one thread at a time
// (through &mut self, or &self for jr_client_new, which only reads it).
unsafe impl Send for Options {}
unsafe impl Sync for Options {}

impl Default for Options {
    fn default() -> Self {
        Options::new()
    }
}

impl Drop for Options {
    fn drop(&mut self) {
        // SAFETY: owned, freed once.
        unsafe { sys::jr_options_free(self.raw.as_ptr()) }
    }
}

fn cstring(s: &str) -> Result<CString> {
    CString::new(s).map_err(|_| Error::from_code(sys::JR_EINVAL))
}

impl Options {
    pub fn new() -> Options {
        // SAFETY: no preconditions; NULL only when out of memory.
        let raw = unsafe { sys::jr_options_new() };
        Options {
            raw: NonNull::new(raw).expect("jr_options_new: out of memory"),
            event: None,
            error: None,
            resp3: false,
            #[cfg(test)]
            log: Vec::new(),
        }
        .remember_log()
    }

    /// libjr's leveled logs go to the [`log`](https://docs.rs/log) facade
    /// from every client (see [`Options::log_to_facade`]).
    fn remember_log(self) -> Self {
        self.log_to_facade(true)
    }

    /// On by default: libjr's leveled logs (`jr_options_set_log_cb`) go to
    /// the `log` facade with target `"jr"`: every state change of a
    /// connection, a pool, the cluster map and a subscription, at level
    /// `Error` (a component gave up: requests fail), `Warn` (a fault libjr
    /// recovers from), `Info` (a normal change: connected, a new cluster
    /// map) or `Debug` (details). The message is `"<endpoint or component>:
    /// <text>"`; it never holds a password or a URL's user information.
    ///
    /// The logger runs on libjr's loop thread: a record is only formatted
    /// when `log::log_enabled!(target: "jr", level)` says the logger wants
    /// it, but the logger itself must not block for long (every
    /// connection of the client waits meanwhile). `false` installs no hook.
    pub fn log_to_facade(self, on: bool) -> Self {
        let cb: sys::jr_log_cb = if on { Some(log_trampoline) } else { None };
        // SAFETY: valid handle; the trampoline uses no context.
        let rc = unsafe { sys::jr_options_set_log_cb(self.raw.as_ptr(), cb, std::ptr::null_mut()) };
        self.remember(check(rc))
    }

    /// Sets a string (or numeric-as-text) option now.
    pub fn try_set(&mut self, key: &str, value: &str) -> Result<()> {
        #[cfg(test)]
        self.log.push((key.to_owned(), Set::Text(value.to_owned())));
        match key {
            "protocol" => self.resp3 = value.trim() == "3",
            "url" => self.resp3 |= value.contains("protocol=3"),
            _ => {}
        }
        let (k, v) = (cstring(key)?, cstring(value)?);
        // SAFETY: valid handle and NUL-terminated strings (copied by libjr).
        check(unsafe { sys::jr_options_set(self.raw.as_ptr(), k.as_ptr(), v.as_ptr()) })
    }
    /// Sets a numeric option now.
    pub fn try_set_int(&mut self, key: &str, value: i64) -> Result<()> {
        #[cfg(test)]
        self.log.push((key.to_owned(), Set::Int(value)));
        if key == "protocol" {
            self.resp3 = value == 3;
        }
        let k = cstring(key)?;
        // SAFETY: valid handle and NUL-terminated key.
        check(unsafe { sys::jr_options_set_int(self.raw.as_ptr(), k.as_ptr(), value) })
    }

    fn remember(mut self, r: Result<()>) -> Self {
        if let Err(e) = r {
            self.error.get_or_insert(e);
        }
        self
    }
    /// Sets any key (see jr.h).
    pub fn set(mut self, key: &str, value: &str) -> Self {
        let r = self.try_set(key, value);
        self.remember(r)
    }
    pub fn set_int(mut self, key: &str, value: i64) -> Self {
        let r = self.try_set_int(key, value);
        self.remember(r)
    }
    /// Adds an endpoint: `"host:port"`, `"[v6]:port"`, `"host"` or a unix
    /// socket path. Repeatable.
    pub fn endpoint(self, ep: &str) -> Self {
        self.set("endpoint", ep)
    }
    /// `redis://[user[:pass]@]host[:port][/db]` or `unix:///path?db=N`.
    pub fn url(self, url: &str) -> Self {
        self.set("url", url)
    }
    pub fn username(self, user: &str) -> Self {
        self.set("username", user)
    }
    pub fn password(self, pass: &str) -> Self {
        self.set("password", pass)
    }
    pub fn database(self, db: u32) -> Self {
        self.set_int("database", i64::from(db))
    }
    pub fn client_name(self, name: &str) -> Self {
        self.set("client_name", name)
    }
    pub fn connect_timeout(self, t: Duration) -> Self {
        self.set_int("connect_timeout_ms", millis(t))
    }
    pub fn connect_retry(self, n: u32) -> Self {
        self.set_int("connect_retry", i64::from(n))
    }
    /// Default deadline of each command; `Duration::ZERO` means none.
    pub fn command_timeout(self, t: Duration) -> Self {
        self.set_int("command_timeout_ms", millis(t))
    }
    /// The protocol: 2 (RESP2, the default) or 3 (RESP3, one `HELLO 3` per
    /// connection): replies then have the RESP3 types ([`Reply::Map`],
    /// [`Reply::Set`], [`Reply::Double`]...), which a RESP2 connection never
    /// gives. Needs Redis >= 6 (an older server fails the handshake with
    /// [`ErrorKind::Auth`](crate::ErrorKind::Auth)) and a libjr built with
    /// hiredis >= 1.0: with hiredis 0.14 `Client::new` fails with
    /// `InvalidArgument` and says so ([`resp3_supported`] tells beforehand).
    /// `redis://...?protocol=3` does the same.
    ///
    /// [`Reply::Map`]: crate::Reply::Map
    /// [`Reply::Set`]: crate::Reply::Set
    /// [`Reply::Double`]: crate::Reply::Double
    pub fn protocol(self, version: u8) -> Self {
        self.set_int("protocol", i64::from(version))
    }
    /// Client-side caching (`client_cache_bytes`): reads of known keys
    /// (GET, MGET, HGET, HGETALL, SMEMBERS, ...) are answered from a local
    /// cache of this many bytes (LRU), without a round trip; the server
    /// keeps it right with CLIENT TRACKING invalidations (RESP3 pushes
    /// with [`protocol`](Self::protocol) 3, or with RESP2 a redirect to a
    /// connection of libjr's own, so a hiredis 0.14 libjr caches too). A
    /// hit counts in [`Stats::cache_hits`](crate::Stats::cache_hits), not
    /// as a request. A read just after this client's own write may see
    /// the old value until the server's invalidation arrives. A cluster
    /// is cached with protocol 3 only. 0 (the default): no cache.
    ///
    /// ```no_run
    /// let opts = jr::Options::new()
    ///     .endpoint("127.0.0.1:6379")
    ///     .client_cache(64 << 20)
    ///     .client_cache_prefix("user:")
    ///     .client_cache_ttl(std::time::Duration::from_secs(30));
    /// # let _ = opts;
    /// ```
    pub fn client_cache(self, bytes: u64) -> Self {
        let bytes = i64::try_from(bytes).unwrap_or(i64::MAX);
        self.set_int("client_cache_bytes", bytes)
    }
    /// Broadcast mode (`client_cache_prefix`, CLIENT TRACKING BCAST): only
    /// keys under these prefixes are cached, and the server invalidates
    /// every key under them (`""`: every key). Repeatable. Without it, the
    /// keys read are tracked one by one.
    pub fn client_cache_prefix(self, prefix: &str) -> Self {
        self.set("client_cache_prefix", prefix)
    }
    /// A cached entry older than this is not used (`client_cache_ttl_ms`,
    /// default 60 s): a safety net for an invalidation lost unnoticed.
    /// `Duration::ZERO` means no limit; a shorter time than a millisecond
    /// is one.
    pub fn client_cache_ttl(self, ttl: Duration) -> Self {
        let ms = if ttl.is_zero() { 0 } else { millis(ttl).max(1) };
        self.set_int("client_cache_ttl_ms", ms)
    }
    /// Adds a Redis Sentinel (`"host:port"`, `"[v6]:port"`; port 26379 when
    /// left out). Repeatable: libjr asks them in turn for the master named
    /// by [`sentinel_master`](Self::sentinel_master), confirms it with ROLE
    /// before any command is written, and follows failovers
    /// (`+switch-master`). No sentinel answering, an unknown master name or
    /// a sentinel that answers nonsense: commands fail with
    /// [`ErrorKind::Connect`](crate::ErrorKind::Connect), and the error's
    /// detail gives each sentinel's reason. TLS to the sentinels when
    /// [`tls`](Self::tls) is on. A `redis-sentinel://` URL sets the same.
    ///
    /// ```no_run
    /// let opts = jr::Options::new()
    ///     .sentinel("10.0.0.1:26379")
    ///     .sentinel("10.0.0.2:26379")
    ///     .sentinel_master("mymaster")
    ///     .sentinel_password("sentinel-secret")
    ///     .password("master-secret");
    /// # let _ = opts;
    /// ```
    pub fn sentinel(self, address: &str) -> Self {
        self.set("sentinel", address)
    }
    /// The master's name as the sentinels know it (`sentinel monitor
    /// <name> ...`).
    pub fn sentinel_master(self, name: &str) -> Self {
        self.set("sentinel_master", name)
    }
    /// ACL user name for the sentinels (they may have their own ACL; the
    /// master's credentials are [`username`](Self::username) and
    /// [`password`](Self::password)).
    pub fn sentinel_username(self, user: &str) -> Self {
        self.set("sentinel_username", user)
    }
    /// Password for the sentinels (`requirepass` of a sentinel); never logged.
    pub fn sentinel_password(self, pass: &str) -> Self {
        self.set("sentinel_password", pass)
    }
    /// TLS on every connection (`tls`).
    pub fn tls(self, on: bool) -> Self {
        self.set_int("tls", i64::from(on))
    }
    /// `false` disables certificate and host name verification (testing
    /// only).
    pub fn tls_verify(self, on: bool) -> Self {
        self.set_int("tls_verify", i64::from(on))
    }
    /// Trusted CAs (a PEM file) instead of the system store.
    pub fn tls_ca_file(self, path: &str) -> Self {
        self.set("tls_ca_file", path)
    }
    /// Trusted CAs (a hashed certificate folder) instead of the system store.
    pub fn tls_ca_dir(self, path: &str) -> Self {
        self.set("tls_ca_dir", path)
    }
    /// A client certificate and its key (mutual TLS).
    pub fn tls_cert(self, cert_file: &str, key_file: &str) -> Self {
        self.set("tls_cert_file", cert_file)
            .set("tls_key_file", key_file)
    }
    /// The name for SNI and verification instead of the endpoint's host.
    pub fn tls_server_name(self, name: &str) -> Self {
        self.set("tls_server_name", name)
    }
    /// `dispatch=poll`: completions run in [`Client::dispatch`](crate::Client::dispatch).
    pub fn poll_mode(self) -> Self {
        self.set("dispatch", "poll")
    }
    /// A command sent on every new connection after AUTH.
    pub fn connect_command<A: AsRef<[u8]>>(self, args: &[A]) -> Self {
        let buf = ArgBuf::new(args);
        // SAFETY: argv/lens are valid for args.len() entries; copied by libjr.
        let rc = unsafe {
            sys::jr_options_add_connect_command(
                self.raw.as_ptr(),
                buf.len(),
                buf.argv(),
                buf.lens(),
            )
        };
        self.remember(check(rc))
    }
    /// A hook for connection events, called on libjr's loop thread (must not
    /// block). Panics in it are caught.
    pub fn on_event<F>(mut self, f: F) -> Self
    where
        F: Fn(Event, &str, &str) + Send + Sync + 'static,
    {
        let boxed: Arc<Box<EventFn>> = Arc::new(Box::new(f));
        let ctx = Arc::as_ptr(&boxed) as *mut c_void;
        // SAFETY: ctx stays valid while any Client made from these options
        // lives: each Client keeps a clone of the Arc.
        let rc =
            unsafe { sys::jr_options_set_event_cb(self.raw.as_ptr(), Some(event_trampoline), ctx) };
        self.event = Some(boxed);
        self.remember(check(rc))
    }

    pub(crate) fn as_ptr(&self) -> *const sys::jr_options {
        self.raw.as_ptr()
    }
}

/// Whether this libjr speaks RESP3 (`protocol` 3): it was built with
/// hiredis >= 1.0. Asks libjr itself, by making (and freeing at once) a
/// client with `protocol` 3, which connects to nothing.
pub fn resp3_supported() -> bool {
    let mut o = Options::new().log_to_facade(false).set_int("protocol", 3);
    o = o.endpoint("127.0.0.1:1");
    if o.error.is_some() {
        return false;
    }
    let mut raw = std::ptr::null_mut();
    // SAFETY: valid options; a client made here is freed at once.
    let rc = unsafe { sys::jr_client_new(o.as_ptr(), &mut raw) };
    if rc == sys::JR_OK {
        // SAFETY: ours, not on a loop thread (no callback runs here).
        unsafe { sys::jr_client_free(raw) };
    }
    rc == sys::JR_OK
}

pub(crate) fn millis(t: Duration) -> i64 {
    i64::try_from(t.as_millis()).unwrap_or(i64::MAX)
}

unsafe extern "C" fn event_trampoline(
    ctx: *mut c_void,
    event: c_int,
    endpoint: *const c_char,
    detail: *const c_char,
) {
    // SAFETY: ctx is the Arc'd box kept alive by every Client (on_event).
    let f = unsafe { &*(ctx as *const Box<EventFn>) };
    let text = |p: *const c_char| {
        if p.is_null() {
            String::new()
        } else {
            // SAFETY: libjr passes NUL-terminated text valid for this call.
            unsafe { CStr::from_ptr(p) }.to_string_lossy().into_owned()
        }
    };
    let (ep, det) = (text(endpoint), text(detail));
    let _scope = crate::cluster::CallbackScope::enter();
    let _ = catch_unwind(AssertUnwindSafe(|| f(Event::from_raw(event), &ep, &det)));
}

/// The `log` level of a `JR_LOG_*` level (an unknown one is `Trace`).
pub(crate) fn log_level(level: c_int) -> log::Level {
    match level {
        sys::JR_LOG_ERROR => log::Level::Error,
        sys::JR_LOG_WARN => log::Level::Warn,
        sys::JR_LOG_INFO => log::Level::Info,
        sys::JR_LOG_DEBUG => log::Level::Debug,
        _ => log::Level::Trace,
    }
}

/// The log hook: runs on libjr's loop thread. Formats nothing unless the
/// logger wants the record; a panic (the logger's) stops here, never
/// unwinding into C.
unsafe extern "C" fn log_trampoline(
    _ctx: *mut c_void,
    level: c_int,
    _event: c_int,
    endpoint: *const c_char,
    text: *const c_char,
) {
    let level = log_level(level);
    // The static level filter first (one load); the logger's own enabled()
    // is user code, so inside the catch.
    if level > log::max_level() {
        return;
    }
    let _ = catch_unwind(AssertUnwindSafe(|| {
        if !log::log_enabled!(target: "jr", level) {
            return;
        }
        let cstr = |p: *const c_char| {
            if p.is_null() {
                std::borrow::Cow::Borrowed("")
            } else {
                // SAFETY: libjr passes NUL-terminated text valid for this call.
                unsafe { CStr::from_ptr(p) }.to_string_lossy()
            }
        };
        let _scope = crate::cluster::CallbackScope::enter();
        log::log!(target: "jr", level, "{}: {}", cstr(endpoint), cstr(text));
    }));
}

/// The shorthands of [`Options`] checked against libjr's option table:
/// each sets keys libjr knows, with a value of the key's type and in its
/// range; every key a shorthand of this file sets is tried here; and every
/// libjr key has a shorthand or a reason in `NOT_EXPOSED`. A key libjr adds
/// fails this test until the binding decides.
#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    /// libjr keys without a shorthand, and why: [`Options::set`] and
    /// [`Options::set_int`] reach each of them.
    const NOT_EXPOSED: &[(&str, &str)] = &[
        ("socket_timeout_ms", "tuning: set_int"),
        ("silence_timeout_ms", "tuning: set_int"),
        ("recv_buffer_size", "tuning: set_int"),
        ("tcp_keepalive_s", "tuning: set_int"),
        ("tcp_nodelay", "tuning: set_int"),
        ("max_bulk_len", "reader limit: set_int"),
        ("max_elements", "reader limit: set_int"),
        ("max_reply_bytes", "reader limit: set_int"),
        ("max_queued", "back-pressure: set_int"),
        ("max_queued_bytes", "back-pressure: set_int"),
        ("max_connections", "pool size: set_int"),
        ("call_spin_us", "tuning of Client::call: set_int"),
        ("loop_spin_us", "tuning: set_int"),
        (
            "ready_batch",
            "only with a ready hook, which the binding does not install",
        ),
        ("read_from_replicas", "cluster and Sentinel reads: set_int"),
        ("cluster", "cluster detection: set"),
    ];

    /// Each shorthand, called with a value libjr accepts.
    fn shorthands() -> Vec<(&'static str, Options)> {
        let o = Options::new;
        vec![
            ("endpoint", o().endpoint("127.0.0.1:6380")),
            ("url", o().url("redis://127.0.0.1:6380/2")),
            ("username", o().username("user")),
            ("password", o().password("secret")),
            ("database", o().database(2)),
            ("client_name", o().client_name("app")),
            (
                "connect_timeout",
                o().connect_timeout(Duration::from_millis(1500)),
            ),
            ("connect_retry", o().connect_retry(2)),
            ("command_timeout", o().command_timeout(Duration::ZERO)),
            ("tls", o().tls(true)),
            ("tls_verify", o().tls_verify(false)),
            ("tls_ca_file", o().tls_ca_file("/etc/ca.pem")),
            ("tls_ca_dir", o().tls_ca_dir("/etc/ssl/certs")),
            ("tls_cert", o().tls_cert("client.crt", "client.key")),
            ("tls_server_name", o().tls_server_name("redis.example")),
            ("poll_mode", o().poll_mode()),
            ("protocol", o().protocol(3)),
            (
                "sentinel",
                o().sentinel("127.0.0.1:26379").sentinel("[::1]:26380"),
            ),
            ("sentinel_master", o().sentinel_master("mymaster")),
            ("sentinel_username", o().sentinel_username("watcher")),
            ("sentinel_password", o().sentinel_password("secret")),
            ("client_cache", o().client_cache(1 << 20)),
            (
                "client_cache_prefix",
                o().client_cache_prefix("user:").client_cache_prefix(""),
            ),
            (
                "client_cache_ttl",
                o().client_cache_ttl(Duration::from_millis(1500)),
            ),
        ]
    }

    /// The keys this file passes to set / set_int as literals (outside
    /// this test module).
    fn keys_in_source() -> Vec<&'static str> {
        let src = include_str!("options.rs");
        let src = &src[..src.find("\nmod tests {").expect("the tests module")];
        let mut keys = Vec::new();
        for pat in ["set(\"", "set_int(\""] {
            let mut rest = src;
            while let Some(at) = rest.find(pat) {
                rest = &rest[at + pat.len()..];
                keys.push(&rest[..rest.find('"').expect("closing quote")]);
            }
        }
        keys
    }

    /// `client_cache_ttl`: zero is libjr's "no limit", anything shorter
    /// than a millisecond is one (not zero, which would mean no limit).
    #[test]
    fn client_cache_ttl_maps_to_milliseconds() {
        for (ttl, want) in [
            (Duration::ZERO, 0),
            (Duration::from_micros(1), 1),
            (Duration::from_millis(1500), 1500),
        ] {
            let o = Options::new().client_cache_ttl(ttl);
            let want = vec![("client_cache_ttl_ms".to_owned(), Set::Int(want))];
            assert_eq!(o.log, want, "{ttl:?}");
        }
        let o = Options::new().client_cache(u64::MAX);
        assert!(o.error.is_none(), "{:?}", o.error);
    }

    #[test]
    fn shorthands_match_libjr_option_table() {
        let lib: BTreeMap<&str, OptionInfo> = describe().map(|o| (o.name, o)).collect();
        assert!(!lib.is_empty(), "describe() is empty");
        let mut reached: BTreeMap<String, &str> = BTreeMap::new();
        for (method, opts) in shorthands() {
            assert!(
                opts.error.is_none(),
                "{method}: libjr said {:?}",
                opts.error
            );
            assert!(!opts.log.is_empty(), "{method} sets no key");
            for (key, set) in &opts.log {
                reached.insert(key.clone(), method);
                let Some(info) = lib.get(key.as_str()) else {
                    panic!("{method} sets {key:?}, which libjr does not know");
                };
                match (set, info.ty) {
                    (Set::Int(v), "int" | "bool") => assert!(
                        (info.min..=info.max).contains(v),
                        "{method} sets {key}={v}: libjr's range is {}..{}",
                        info.min,
                        info.max
                    ),
                    (Set::Text(_), "string") => {}
                    // The doc of an enum names each word as "word: meaning".
                    (Set::Text(v), "enum") => assert!(
                        info.doc.contains(&format!("{v}:")),
                        "{method} sets {key}={v:?}, a word libjr's doc does not name: {}",
                        info.doc
                    ),
                    (set, ty) => panic!("{method} sets {key} as {set:?}; libjr's type is {ty}"),
                }
            }
        }
        for key in keys_in_source() {
            assert!(
                reached.contains_key(key),
                "a shorthand sets {key:?} but shorthands() calls none that does"
            );
        }
        let not_exposed: BTreeMap<&str, &str> = NOT_EXPOSED.iter().copied().collect();
        for name in lib.keys() {
            match (reached.get(*name), not_exposed.get(name)) {
                (Some(m), Some(why)) => panic!("{name} is set by {m} but in NOT_EXPOSED ({why})"),
                (None, None) => {
                    panic!("libjr key {name} has no shorthand: add one, or a reason in NOT_EXPOSED")
                }
                _ => {}
            }
        }
        for name in not_exposed.keys() {
            assert!(
                lib.contains_key(name),
                "NOT_EXPOSED lists {name}, unknown to libjr"
            );
        }
    }
}
