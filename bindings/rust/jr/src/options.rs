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
    /// Every key set, with its value (the test checks them against libjr).
    #[cfg(test)]
    log: Vec<(String, Set)>,
}

#[cfg(test)]
#[derive(Debug)]
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
            #[cfg(test)]
            log: Vec::new(),
        }
    }

    /// Sets a string (or numeric-as-text) option now.
    pub fn try_set(&mut self, key: &str, value: &str) -> Result<()> {
        #[cfg(test)]
        self.log.push((key.to_owned(), Set::Text(value.to_owned())));
        let (k, v) = (cstring(key)?, cstring(value)?);
        // SAFETY: valid handle and NUL-terminated strings (copied by libjr).
        check(unsafe { sys::jr_options_set(self.raw.as_ptr(), k.as_ptr(), v.as_ptr()) })
    }
    /// Sets a numeric option now.
    pub fn try_set_int(&mut self, key: &str, value: i64) -> Result<()> {
        #[cfg(test)]
        self.log.push((key.to_owned(), Set::Int(value)));
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
        (
            "protocol",
            "RESP3 replies (maps, sets, doubles) are not mapped to Rust values yet",
        ),
        ("client_cache_bytes", "client-side caching: set_int"),
        ("client_cache_prefix", "client-side caching: set"),
        ("client_cache_ttl_ms", "client-side caching: set_int"),
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
        ("read_from_replicas", "cluster reads: set_int"),
        ("cluster", "cluster detection: set"),
        ("sentinel", "Redis Sentinel: set (no shorthand yet)"),
        ("sentinel_master", "Redis Sentinel: set (no shorthand yet)"),
        (
            "sentinel_username",
            "Redis Sentinel: set (no shorthand yet)",
        ),
        (
            "sentinel_password",
            "Redis Sentinel: set (no shorthand yet)",
        ),
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
