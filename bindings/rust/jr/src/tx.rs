// SPDX-License-Identifier: MIT
//! MULTI/EXEC transactions, WATCH, pub/sub and MONITOR.
use std::ffi::{c_int, c_void};
use std::marker::PhantomData;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::ptr;

use jr_sys as sys;

use crate::args::ArgBuf;
use crate::client::{Client, RawCallback, ReplyFuture, Timeout};
use crate::error::{check, Error, Result};
use crate::reply::Reply;

/// A MULTI/EXEC transaction being built (`jr_multi`).
///
/// Commands queued with [`add`](Self::add) / [`queue`](Self::queue) are
/// sent, contiguously, by [`exec`](Self::exec). Each completes once: with its
/// own element of the EXEC reply (`Err(Error::Server)` if it failed at run
/// time), an `EXECABORT` server error, `EWATCH` (a watched key changed), or a
/// library error. Dropping a transaction that was not executed discards it
/// (`EDISCARDED`).
pub struct Transaction<'c> {
    raw: *mut sys::jr_multi,
    _client: PhantomData<&'c Client>,
}

// SAFETY: a jr_multi is used by one thread at a time (&mut self / self); it
// may move between threads.
unsafe impl Send for Transaction<'_> {}

impl<'c> Transaction<'c> {
    pub(crate) fn new(raw: *mut sys::jr_multi) -> Transaction<'c> {
        Transaction {
            raw,
            _client: PhantomData,
        }
    }

    /// Queues a command; `f` gets its result once (on libjr's thread, or in
    /// `dispatch`). Fails with `EREFUSED` for MULTI, WATCH, SUBSCRIBE...
    pub fn add<A, F>(&mut self, args: &[A], f: F) -> Result<()>
    where
        A: AsRef<[u8]>,
        F: FnOnce(Result<Reply>) + Send + 'static,
    {
        let buf = ArgBuf::new(args);
        let cb = RawCallback::new(f);
        // SAFETY: valid handle; argv valid for the call; on success the
        // trampoline takes the box back exactly once.
        let rc =
            unsafe { sys::jr_multi_add(self.raw, buf.len(), buf.argv(), buf.lens(), cb.cb, cb.ud) };
        cb.settle(rc)
    }

    /// Queues a command and returns the future of its own result.
    pub fn queue<A: AsRef<[u8]>>(&mut self, args: &[A]) -> Result<ReplyFuture> {
        let (fut, shared) = ReplyFuture::new_pending();
        self.add(args, move |r| shared.complete(r))?;
        Ok(fut)
    }

    /// Sends MULTI, the commands and EXEC. The future holds the raw EXEC
    /// reply (an array); `Err(Error::Server)` on EXECABORT, `EWATCH` when a
    /// watched key changed.
    pub fn exec(self) -> ReplyFuture {
        self.exec_timeout(Timeout::Default)
    }

    /// [`exec`](Self::exec) with a deadline.
    pub fn exec_timeout(mut self, timeout: impl Into<Timeout>) -> ReplyFuture {
        let raw = std::mem::replace(&mut self.raw, ptr::null_mut());
        let (fut, shared) = ReplyFuture::new_pending();
        let s2 = shared.clone();
        let cb = RawCallback::new(move |r| s2.complete(r));
        // SAFETY: the handle is consumed by jr_multi_exec whatever it returns.
        let rc = unsafe { sys::jr_multi_exec(raw, timeout.into().ms(), cb.cb, cb.ud) };
        if let Err(e) = cb.settle(rc) {
            // Every queued command already got the error; exec_cb never runs.
            shared.complete(Err(e));
        }
        fut
    }

    /// Discards the transaction now: every queued command gets `EDISCARDED`.
    pub fn discard(mut self) {
        let raw = std::mem::replace(&mut self.raw, ptr::null_mut());
        // SAFETY: owned handle, consumed.
        unsafe { sys::jr_multi_discard(raw) }
    }
}

impl Drop for Transaction<'_> {
    fn drop(&mut self) {
        if !self.raw.is_null() {
            // SAFETY: owned handle, not yet executed.
            unsafe { sys::jr_multi_discard(self.raw) }
        }
    }
}

/// A conditional transaction (`jr_watch`): WATCH on a dedicated pooled
/// connection, reads on it, then [`multi`](Self::multi) for the transaction
/// that ends the watch (its commands fail with `EWATCH` if a watched key
/// changed). Dropping it releases the connection.
pub struct Watch<'c> {
    raw: *mut sys::jr_watch,
    _client: PhantomData<&'c Client>,
}

// SAFETY: as Transaction.
unsafe impl Send for Watch<'_> {}

impl<'c> Watch<'c> {
    pub(crate) fn new(raw: *mut sys::jr_watch) -> Watch<'c> {
        Watch {
            raw,
            _client: PhantomData,
        }
    }

    /// Runs a command on the watched connection; `f` gets its result once.
    pub fn submit<A, F>(&mut self, args: &[A], f: F) -> Result<()>
    where
        A: AsRef<[u8]>,
        F: FnOnce(Result<Reply>) + Send + 'static,
    {
        let buf = ArgBuf::new(args);
        let cb = RawCallback::new(f);
        // SAFETY: valid handle; as Transaction::add.
        let rc = unsafe {
            sys::jr_watch_submit(
                self.raw,
                buf.len(),
                buf.argv(),
                buf.lens(),
                Timeout::Default.ms(),
                cb.cb,
                cb.ud,
            )
        };
        cb.settle(rc)
    }

    /// Runs a command on the watched connection; the future of its result.
    pub fn command<A: AsRef<[u8]>>(&mut self, args: &[A]) -> ReplyFuture {
        let (fut, shared) = ReplyFuture::new_pending();
        let s2 = shared.clone();
        if let Err(e) = self.submit(args, move |r| s2.complete(r)) {
            shared.complete(Err(e));
        }
        fut
    }

    /// The transaction that ends the watch (once: `EMISUSE` the second time).
    pub fn multi(&mut self) -> Result<Transaction<'c>> {
        let mut m = ptr::null_mut();
        // SAFETY: valid handle.
        check(unsafe { sys::jr_watch_multi(self.raw, &mut m) })?;
        Ok(Transaction::new(m))
    }
}

impl Drop for Watch<'_> {
    fn drop(&mut self) {
        // SAFETY: owned handle.
        unsafe { sys::jr_watch_free(self.raw) }
    }
}

/// One pub/sub or MONITOR delivery.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Message {
    /// A message on a subscribed channel.
    Message { channel: Vec<u8>, payload: Vec<u8> },
    /// A message matching a subscribed pattern.
    PMessage {
        pattern: Vec<u8>,
        channel: Vec<u8>,
        payload: Vec<u8>,
    },
    /// A message on a subscribed sharded channel (SPUBLISH).
    SMessage { channel: Vec<u8>, payload: Vec<u8> },
    /// A confirmation: "subscribe", "psubscribe", "ssubscribe",
    /// "unsubscribe", "punsubscribe" or "sunsubscribe", the name, and the
    /// server's count for the connection, as Redis sent it (channels +
    /// patterns of the shared connection, or the node's sharded channels).
    Confirm {
        kind: String,
        name: Vec<u8>,
        count: i64,
    },
    /// The server refused a name ("subscribe", "psubscribe" or
    /// "ssubscribe"; e.g. NOPERM from ACL channel rules): it is not
    /// subscribed.
    Refused {
        kind: String,
        name: Vec<u8>,
        error: String,
    },
    /// The answer of [`Subscriber::ping`].
    Pong(Vec<u8>),
    /// A MONITOR line.
    Monitor(String),
    /// A connection was lost, or a sharded channel's slot is moving
    /// (messages may be missed).
    Lost,
    /// Every channel, pattern and sharded channel is subscribed again.
    Resubscribed,
    /// The last delivery: the subscriber (monitor) is gone.
    Closed,
    /// Anything else (a reply libjr may add later).
    Other(Reply),
}

fn bytes(r: Option<&Reply>) -> Vec<u8> {
    r.and_then(Reply::as_bytes)
        .map(<[u8]>::to_vec)
        .unwrap_or_default()
}

impl Message {
    fn from_parts(status: c_int, r: Result<Reply>) -> Message {
        match status {
            sys::JR_SUB_LOST => return Message::Lost,
            sys::JR_SUB_RESUBSCRIBED => return Message::Resubscribed,
            sys::JR_ECLOSED => return Message::Closed,
            _ => {}
        }
        let r = match r {
            Ok(r) => r,
            Err(Error::Server(m)) => return Message::Other(Reply::Error(m)),
            Err(_) => return Message::Other(Reply::Nil),
        };
        if let Reply::Status(line) = r {
            return Message::Monitor(line);
        }
        let a = match r.as_array() {
            Some(a) if !a.is_empty() => a,
            _ => return Message::Other(r),
        };
        let kind = a[0].as_str().unwrap_or("").to_string();
        match (kind.as_str(), a.len()) {
            ("message", 3) => Message::Message {
                channel: bytes(a.get(1)),
                payload: bytes(a.get(2)),
            },
            ("pmessage", 4) => Message::PMessage {
                pattern: bytes(a.get(1)),
                channel: bytes(a.get(2)),
                payload: bytes(a.get(3)),
            },
            ("smessage", 3) => Message::SMessage {
                channel: bytes(a.get(1)),
                payload: bytes(a.get(2)),
            },
            ("pong", _) => Message::Pong(bytes(a.get(1))),
            ("subscribe" | "psubscribe" | "ssubscribe", 3) if matches!(a[2], Reply::Error(_)) => {
                Message::Refused {
                    name: bytes(a.get(1)),
                    error: match &a[2] {
                        Reply::Error(e) => e.clone(),
                        _ => String::new(),
                    },
                    kind,
                }
            }
            (
                "subscribe" | "psubscribe" | "ssubscribe" | "unsubscribe" | "punsubscribe"
                | "sunsubscribe",
                3,
            ) => Message::Confirm {
                name: bytes(a.get(1)),
                count: a[2].as_int().unwrap_or(0),
                kind,
            },
            _ => Message::Other(r),
        }
    }
}

/// The C message callback: converts, calls the handler (panics caught), and
/// frees it after the last delivery (`JR_ECLOSED`).
unsafe extern "C" fn message_trampoline<F>(
    ud: *mut c_void,
    status: c_int,
    msg: *const sys::jr_reply,
) where
    F: FnMut(Message) + Send + 'static,
{
    let f = ud.cast::<F>();
    // SAFETY: msg is valid during this call; status 0 carries a reply.
    let r = if status == 0 {
        unsafe { crate::reply::result_from(0, msg) }
    } else {
        Ok(Reply::Nil)
    };
    let m = Message::from_parts(status, r);
    // SAFETY: ud is the Box<F> leaked by new_handler; libjr calls it from one
    // thread at a time and never after JR_ECLOSED.
    let scope = crate::cluster::CallbackScope::enter();
    let _ = catch_unwind(AssertUnwindSafe(|| unsafe { (*f)(m) }));
    drop(scope);
    if status == sys::JR_ECLOSED {
        // SAFETY: the last call: take the box back.
        drop(unsafe { Box::from_raw(f) });
    }
}

fn new_handler<F>(f: F) -> (sys::jr_message_cb, *mut c_void)
where
    F: FnMut(Message) + Send + 'static,
{
    (
        Some(message_trampoline::<F>),
        Box::into_raw(Box::new(f)).cast::<c_void>(),
    )
}

unsafe fn drop_handler<F>(ud: *mut c_void) {
    // SAFETY: refused by libjr: never called; we own the box.
    drop(unsafe { Box::from_raw(ud.cast::<F>()) });
}

/// A pub/sub subscriber (`jr_sub`). All subscribers of a client share one
/// subscription connection. Its handler gets every [`Message`] (on libjr's
/// thread, must not block; or in `dispatch`), `Message::Closed` last after
/// the subscriber is dropped.
pub struct Subscriber<'c> {
    raw: *mut sys::jr_sub,
    _client: PhantomData<&'c Client>,
}

// SAFETY: one thread at a time (&mut self); movable.
unsafe impl Send for Subscriber<'_> {}

impl<'c> Subscriber<'c> {
    pub(crate) fn create<F>(client: &'c Client, f: F) -> Result<Subscriber<'c>>
    where
        F: FnMut(Message) + Send + 'static,
    {
        let (cb, ud) = new_handler(f);
        let mut raw = ptr::null_mut();
        // SAFETY: valid client; the handler box is owned by libjr on success.
        let rc = unsafe { sys::jr_sub_new(client.as_ptr(), cb, ud, &mut raw) };
        if rc < 0 {
            // SAFETY: refused: never called.
            unsafe { drop_handler::<F>(ud) };
            return Err(Error::from_code(rc));
        }
        Ok(Subscriber {
            raw,
            _client: PhantomData,
        })
    }

    fn names<A: AsRef<[u8]>>(&mut self, sub: bool, p: c_int, names: &[A]) -> Result<()> {
        let buf = ArgBuf::new(names);
        // SAFETY: valid handle; names copied by libjr.
        check(unsafe {
            if sub {
                sys::jr_sub_subscribe(self.raw, p, buf.len(), buf.argv(), buf.lens())
            } else {
                sys::jr_sub_unsubscribe(self.raw, p, buf.len(), buf.argv(), buf.lens())
            }
        })
    }
    pub fn subscribe<A: AsRef<[u8]>>(&mut self, channels: &[A]) -> Result<()> {
        self.names(true, sys::JR_SUB_CHANNELS, channels)
    }
    pub fn psubscribe<A: AsRef<[u8]>>(&mut self, patterns: &[A]) -> Result<()> {
        self.names(true, sys::JR_SUB_PATTERNS, patterns)
    }
    /// Sharded channels (SSUBSCRIBE): subscribed on the node that serves
    /// each channel's slot, and again on the new node when the slot moves.
    pub fn ssubscribe<A: AsRef<[u8]>>(&mut self, channels: &[A]) -> Result<()> {
        self.names(true, sys::JR_SUB_SHARDED, channels)
    }
    /// An empty slice: every channel of this subscriber.
    pub fn unsubscribe<A: AsRef<[u8]>>(&mut self, channels: &[A]) -> Result<()> {
        self.names(false, sys::JR_SUB_CHANNELS, channels)
    }
    /// An empty slice: every pattern of this subscriber.
    pub fn punsubscribe<A: AsRef<[u8]>>(&mut self, patterns: &[A]) -> Result<()> {
        self.names(false, sys::JR_SUB_PATTERNS, patterns)
    }
    /// An empty slice: every sharded channel of this subscriber.
    pub fn sunsubscribe<A: AsRef<[u8]>>(&mut self, channels: &[A]) -> Result<()> {
        self.names(false, sys::JR_SUB_SHARDED, channels)
    }
    /// Answered by a `Message::Pong(text)`.
    pub fn ping(&mut self, text: &[u8]) -> Result<()> {
        // SAFETY: valid handle; text copied.
        check(unsafe { sys::jr_sub_ping(self.raw, text.as_ptr().cast(), text.len()) })
    }
}

impl Drop for Subscriber<'_> {
    fn drop(&mut self) {
        // SAFETY: owned handle; the handler gets Message::Closed later.
        unsafe { sys::jr_sub_free(self.raw) }
    }
}

/// A MONITOR stream (`jr_monitor`): the handler gets a `Message::Monitor`
/// line per command the server runs, `Message::Closed` last.
pub struct Monitor<'c> {
    raw: *mut sys::jr_monitor,
    _client: PhantomData<&'c Client>,
}

// SAFETY: movable; no methods besides Drop.
unsafe impl Send for Monitor<'_> {}
unsafe impl Sync for Monitor<'_> {}

impl<'c> Monitor<'c> {
    pub(crate) fn create<F>(client: &'c Client, f: F) -> Result<Monitor<'c>>
    where
        F: FnMut(Message) + Send + 'static,
    {
        let (cb, ud) = new_handler(f);
        let mut raw = ptr::null_mut();
        // SAFETY: as Subscriber::create.
        let rc = unsafe { sys::jr_monitor_new(client.as_ptr(), cb, ud, &mut raw) };
        if rc < 0 {
            // SAFETY: refused: never called.
            unsafe { drop_handler::<F>(ud) };
            return Err(Error::from_code(rc));
        }
        Ok(Monitor {
            raw,
            _client: PhantomData,
        })
    }
}

impl Drop for Monitor<'_> {
    fn drop(&mut self) {
        // SAFETY: owned handle.
        unsafe { sys::jr_monitor_free(self.raw) }
    }
}
