// SPDX-License-Identifier: MIT
//! The async API (cargo feature `tokio`): `client.get(key).await`.
//!
//! ```no_run
//! # async fn demo() -> jr::Result<()> {
//! use std::sync::Arc;
//! let client = Arc::new(jr::Client::connect("127.0.0.1:6379")?);
//! client.set("greeting", "hello").await?;
//! let v: Option<String> = client.get("greeting").await?;
//! assert_eq!(v.as_deref(), Some("hello"));
//! let n = client.cmd(&["INCRBY", "n", "5"]).await?.as_int();
//!
//! // Many tasks, one connection: what they submit meanwhile leaves in one write.
//! let tasks: Vec<_> = (0..64)
//!     .map(|i| {
//!         let c = client.clone();
//!         tokio::spawn(async move { c.set(format!("k{i}"), "v").await })
//!     })
//!     .collect();
//! for t in tasks {
//!     t.await.unwrap()?;
//! }
//! # let _ = n; Ok(()) }
//! ```
//!
//! Each method submits its command when it is called (eagerly, like
//! [`Client::command`]) and returns a [`CmdFuture`] that borrows the client.
//! The futures are `Send` and need no particular runtime: libjr's loop thread
//! stores the result in the future's slot and wakes the task's `Waker`
//! itself (no channel, no helper thread, no lock). Dropping a future that
//! has not completed cancels its command (`jr_cancel`): unsent, it never
//! leaves; written, its reply is read and dropped. Errors are the crate's
//! [`Error`]: a server error reply is `Error::Server`, a library failure
//! (timeout, lost connection) `Error::Library` with its [`ErrorKind`](crate::ErrorKind),
//! a reply of another shape than asked `Error::Conversion`.
use std::cell::UnsafeCell;
use std::ffi::{c_int, c_void};
use std::fmt;
use std::future::Future;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll, Waker};

use jr_sys as sys;

use crate::args::ArgBuf;
use crate::client::{Client, Db, Target, Timeout};
use crate::convert::FromReply;
use crate::error::{Error, Result};
use crate::reply::{result_from, Reply};

// ---- The slot: one request's result and waker, shared by the future and
// ---- libjr's completion callback.
//
// Ownership: an `Arc<Slot>` with two references, the future's and the
// callback's. The callback's reference is leaked into the C userdata at
// submit and taken back (and released) inside the callback, which libjr
// calls exactly once per accepted submit. Whoever releases last frees the
// slot, so neither side can see it freed under it.
//
// State (one atomic word):
//   WAKER   the waker cell holds the receiver's waker, published to the
//           completer. While WAKER is set only shared reads of the cell
//           happen (will_wake / wake_by_ref); the receiver writes the cell
//           only after it has cleared WAKER itself and seen DONE unset.
//   DONE    the completer has written the value cell (before setting DONE,
//           Release); the receiver reads it only after seeing DONE
//           (Acquire). After DONE the completer touches neither cell.
//   CLOSED  the future is gone (dropped before its result): the completer
//           skips copying the reply and waking.
//
// The race of drop against completion, the one the task asks about. The
// future's drop does `fetch_or(CLOSED)` and looks at the old value:
//   - DONE already set: the command completed; nothing to cancel (the value
//     is freed with the slot).
//   - DONE unset: the callback has not published yet. It may be running on
//     the loop thread right now, or not have started. Drop calls
//     jr_cancel(id). libjr answers 0 (the cancel is queued: the callback
//     runs once, later, with ECANCELED/EABANDONED or the reply if that won)
//     or JR_ENOENT (the command already completed: its callback ran or is
//     running). Either way the callback runs exactly once (libjr's callback
//     rule), and it owns its own reference: it sees CLOSED (or not; a stale
//     read only costs a useless copy and a wake of a waker that tolerates
//     it), publishes, and releases its reference, freeing the slot if the
//     future's is already gone. The id cannot name another command: libjr
//     ids carry a generation that changes when a command slot is reused, so
//     a late cancel of a finished command is JR_ENOENT, never a cancel of a
//     stranger. The drop never waits for the loop thread, so dropping a
//     future inside a libjr callback (on the loop thread) is fine too: the
//     cancel's completion runs after that callback returns.
pub(crate) struct Slot {
    state: AtomicUsize,
    waker: UnsafeCell<Option<Waker>>,
    value: UnsafeCell<Option<Result<Reply>>>,
}

const WAKER: usize = 1;
const DONE: usize = 2;
const CLOSED: usize = 4;

// SAFETY: the cells are only accessed under the protocol above (one writer
// at a time, hand-over by AcqRel atomics); Waker and Result<Reply> are Send.
unsafe impl Send for Slot {}
unsafe impl Sync for Slot {}

// Debug builds count live slots, so tests can prove that every callback
// ran and released its reference (no leak) once the client is freed.
#[cfg(debug_assertions)]
static LIVE_SLOTS: AtomicUsize = AtomicUsize::new(0);

/// Slots (futures' shared states) alive now: `Some` in debug builds only.
/// For tests: 0 once every future and its command are gone.
#[doc(hidden)]
pub fn live_slots() -> Option<usize> {
    #[cfg(debug_assertions)]
    return Some(LIVE_SLOTS.load(Ordering::SeqCst));
    #[cfg(not(debug_assertions))]
    None
}

#[cfg(debug_assertions)]
impl Drop for Slot {
    fn drop(&mut self) {
        LIVE_SLOTS.fetch_sub(1, Ordering::SeqCst);
    }
}

impl Slot {
    pub(crate) fn new() -> Slot {
        #[cfg(debug_assertions)]
        LIVE_SLOTS.fetch_add(1, Ordering::SeqCst);
        Slot {
            state: AtomicUsize::new(0),
            waker: UnsafeCell::new(None),
            value: UnsafeCell::new(None),
        }
    }

    /// Completer: true when the future is gone (its result is unwanted).
    pub(crate) fn is_closed(&self) -> bool {
        self.state.load(Ordering::Relaxed) & CLOSED != 0
    }

    /// Completer: publishes `value` (`None` when nobody will read it) and
    /// wakes the receiver's task if it waits.
    ///
    /// # Safety
    /// At most once per slot.
    pub(crate) unsafe fn complete(&self, value: Option<Result<Reply>>) {
        // SAFETY: only the completer writes the value cell, and only before
        // DONE; the receiver reads it only after DONE.
        unsafe { *self.value.get() = value };
        let prev = self.state.fetch_or(DONE, Ordering::AcqRel);
        if prev & (WAKER | CLOSED) == WAKER {
            // SAFETY: WAKER was set when DONE was published: the receiver
            // has stopped writing the cell (it clears WAKER first and then
            // sees DONE); shared reads only from here.
            if let Some(w) = unsafe { &*self.waker.get() } {
                w.wake_by_ref();
            }
        }
    }

    /// Receiver: the result if published, else registers the waker.
    ///
    /// # Safety
    /// One receiver (calls to poll/close are not concurrent with each
    /// other); not after it returned `Ready` or after `close`.
    pub(crate) unsafe fn poll(&self, cx: &mut Context<'_>) -> Poll<Result<Reply>> {
        let s = self.state.load(Ordering::Acquire);
        if s & DONE != 0 {
            return Poll::Ready(unsafe { self.take() });
        }
        if s & WAKER != 0 {
            // SAFETY: a shared read while WAKER is set (the completer may be
            // reading too; nobody writes).
            let same = unsafe { &*self.waker.get() }
                .as_ref()
                .map_or(false, |w| w.will_wake(cx.waker()));
            if same {
                return Poll::Pending;
            }
            // Take the cell back before writing it.
            if self.state.fetch_and(!WAKER, Ordering::AcqRel) & DONE != 0 {
                // Published meanwhile; the completer may still be reading
                // the cell: leave it alone.
                return Poll::Ready(unsafe { self.take() });
            }
        }
        // SAFETY: WAKER is clear and DONE was not set when we cleared or
        // saw it clear: the completer will not read the cell (it reads it
        // only if WAKER is set when it publishes).
        unsafe { *self.waker.get() = Some(cx.waker().clone()) };
        if self.state.fetch_or(WAKER, Ordering::AcqRel) & DONE != 0 {
            return Poll::Ready(unsafe { self.take() });
        }
        Poll::Pending
    }

    /// Receiver gives up: true when the result was not published yet (so
    /// the request should be cancelled).
    pub(crate) fn close(&self) -> bool {
        self.state.fetch_or(CLOSED, Ordering::AcqRel) & DONE == 0
    }

    /// SAFETY: DONE observed with Acquire; receiver only, once.
    unsafe fn take(&self) -> Result<Reply> {
        unsafe { (*self.value.get()).take() }
            .unwrap_or_else(|| Err(Error::from_code(sys::JR_EINTERNAL)))
    }
}

/// The C callback: takes the slot reference back, copies the borrowed reply
/// (unless the future is gone), publishes, wakes, releases the reference.
unsafe extern "C" fn on_reply(ud: *mut c_void, status: c_int, reply: *const sys::jr_reply) {
    // SAFETY: ud is the reference Arc::into_raw'd at submit, handed back
    // exactly once (libjr's callback rule).
    let slot = unsafe { Arc::from_raw(ud.cast_const().cast::<Slot>()) };
    // A panic (a waker's) must not unwind into C.
    let _ = catch_unwind(AssertUnwindSafe(|| {
        let value = if slot.is_closed() {
            None
        } else {
            // SAFETY: reply is valid during this call.
            Some(unsafe { result_from(status, reply) })
        };
        // SAFETY: the one completion of this slot.
        unsafe { slot.complete(value) };
    }));
}

/// A command's result: submitted already; `.await` waits for it. Dropping it
/// before it completes cancels the command. `Send`; borrows the client.
#[must_use = "the command was submitted; dropping the future cancels it"]
pub struct CmdFuture<'a, T = Reply> {
    client: &'a Client,
    id: u64,
    // None after Ready (or when the submit failed: then `early` holds why).
    slot: Option<Arc<Slot>>,
    early: Option<Error>,
    convert: fn(Reply) -> Result<T>,
}

impl<T> CmdFuture<'_, T> {
    /// The id libjr gave the command (`None` when the submit was refused).
    pub fn id(&self) -> Option<crate::RequestId> {
        self.slot.as_ref().map(|_| crate::RequestId(self.id))
    }
}

impl<T> fmt::Debug for CmdFuture<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CmdFuture").field("id", &self.id()).finish()
    }
}

// Not self-referential: moving it after a poll is fine.
impl<T> Unpin for CmdFuture<'_, T> {}

impl<T> Future for CmdFuture<'_, T> {
    type Output = Result<T>;
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<T>> {
        let this = &mut *self;
        let r = match &this.slot {
            // SAFETY: &mut self: the one receiver; slot is None after Ready.
            Some(slot) => match unsafe { slot.poll(cx) } {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(r) => r,
            },
            None => match this.early.take() {
                Some(e) => Err(e),
                None => panic!("jr::aio::CmdFuture polled after it completed"),
            },
        };
        this.slot = None;
        Poll::Ready(r.and_then(this.convert))
    }
}

impl<T> Drop for CmdFuture<'_, T> {
    fn drop(&mut self) {
        if let Some(slot) = self.slot.take() {
            if slot.close() {
                // See "The race of drop against completion" above. The
                // client outlives us (borrowed), so the handle is valid.
                // SAFETY: valid handle; any id is accepted.
                unsafe { sys::jr_cancel(self.client.raw.as_ptr(), self.id) };
            }
        }
    }
}

fn submit<'a, A: AsRef<[u8]>, T>(
    client: &'a Client,
    target: Target,
    args: &[A],
    timeout: Timeout,
    convert: fn(Reply) -> Result<T>,
) -> CmdFuture<'a, T> {
    let buf = ArgBuf::new(args);
    let slot = Arc::new(Slot::new());
    let ud = Arc::into_raw(slot.clone()).cast_mut().cast::<c_void>();
    // SAFETY: on success on_reply takes the reference back exactly once.
    let (rc, id) = unsafe { target.submit(&buf, timeout, Some(on_reply), ud) };
    if rc < 0 {
        // SAFETY: refused: the callback never runs; the reference is ours.
        drop(unsafe { Arc::from_raw(ud.cast_const().cast::<Slot>()) });
        return CmdFuture {
            client,
            id: 0,
            slot: None,
            early: Some(Error::from_code(rc)),
            convert,
        };
    }
    CmdFuture {
        client,
        id,
        slot: Some(slot),
        early: None,
        convert,
    }
}

fn reply(r: Reply) -> Result<Reply> {
    Ok(r)
}

fn unit(_: Reply) -> Result<()> {
    Ok(())
}

macro_rules! aio_methods {
    () => {
        /// Submits a command; `.await` its reply (cancelled if dropped
        /// first). Deadline: the client's `command_timeout_ms`.
        pub fn cmd<A: AsRef<[u8]>>(&self, args: &[A]) -> CmdFuture<'_, Reply> {
            submit(self.owner(), self.target(), args, Timeout::Default, reply)
        }
        /// [`cmd`](Self::cmd) with a deadline: past it the result is
        /// `Err(Error::Library { kind: ErrorKind::TimedOut, .. })` (`QueueTimeout`
        /// if it was never written).
        pub fn cmd_timeout<A: AsRef<[u8]>>(
            &self,
            args: &[A],
            timeout: impl Into<Timeout>,
        ) -> CmdFuture<'_, Reply> {
            submit(self.owner(), self.target(), args, timeout.into(), reply)
        }
        /// [`cmd`](Self::cmd) with the reply converted to `T`
        /// ([`FromReply`](crate::FromReply)):
        /// `let n: i64 = client.cmd_as(&["INCR", "n"]).await?`.
        pub fn cmd_as<T: FromReply, A: AsRef<[u8]>>(&self, args: &[A]) -> CmdFuture<'_, T> {
            submit(
                self.owner(),
                self.target(),
                args,
                Timeout::Default,
                T::from_reply,
            )
        }
        /// GET as any [`FromReply`](crate::FromReply) type:
        /// `let v: Option<String> = client.get("k").await?` (`None` for a
        /// missing key), or `Option<Vec<u8>>`, `Option<i64>`...
        /// With a turbofish: `client.get::<Option<String>>("k")`.
        pub fn get<T: FromReply>(&self, key: impl AsRef<[u8]>) -> CmdFuture<'_, T> {
            let args: [&[u8]; 2] = [b"GET", key.as_ref()];
            submit(
                self.owner(),
                self.target(),
                &args,
                Timeout::Default,
                T::from_reply,
            )
        }
        /// SET key value.
        pub fn set<K: AsRef<[u8]>, V: AsRef<[u8]>>(&self, key: K, value: V) -> CmdFuture<'_, ()> {
            let args: [&[u8]; 3] = [b"SET", key.as_ref(), value.as_ref()];
            submit(self.owner(), self.target(), &args, Timeout::Default, unit)
        }
    };
}

/// The async methods (feature `tokio`); see [`crate::aio`].
impl Client {
    fn owner(&self) -> &Client {
        self
    }
    aio_methods!();
}

/// The async methods in this database (feature `tokio`).
impl<'c> Db<'c> {
    fn owner(&self) -> &'c Client {
        self.client()
    }
    aio_methods!();
}

#[cfg(test)]
mod tests {
    //! The slot's state machine alone (no FFI): these run under Miri
    //! (`cargo +nightly miri test --features tokio --lib aio`).
    use super::*;
    use std::sync::atomic::AtomicUsize;
    use std::task::Wake;
    use std::thread;

    struct Count(AtomicUsize);
    impl Wake for Count {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
        fn wake_by_ref(self: &Arc<Self>) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }
    fn counter() -> (Arc<Count>, Waker) {
        let c = Arc::new(Count(AtomicUsize::new(0)));
        (c.clone(), Waker::from(c))
    }

    #[test]
    fn pending_then_complete_wakes_once() {
        let s = Slot::new();
        let (n, w) = counter();
        let mut cx = Context::from_waker(&w);
        assert!(unsafe { s.poll(&mut cx) }.is_pending());
        assert!(unsafe { s.poll(&mut cx) }.is_pending()); // same waker: kept
        unsafe { s.complete(Some(Ok(Reply::Integer(7)))) };
        assert_eq!(n.0.load(Ordering::SeqCst), 1);
        assert_eq!(
            unsafe { s.poll(&mut cx) },
            Poll::Ready(Ok(Reply::Integer(7)))
        );
    }

    #[test]
    fn complete_before_poll() {
        let s = Slot::new();
        unsafe { s.complete(Some(Err(Error::Server("ERR x".into())))) };
        let (n, w) = counter();
        let r = unsafe { s.poll(&mut Context::from_waker(&w)) };
        assert_eq!(r, Poll::Ready(Err(Error::Server("ERR x".into()))));
        assert_eq!(n.0.load(Ordering::SeqCst), 0);
        assert!(!s.close());
    }

    #[test]
    fn a_new_waker_replaces_the_old_one() {
        let s = Slot::new();
        let (n1, w1) = counter();
        let (n2, w2) = counter();
        assert!(unsafe { s.poll(&mut Context::from_waker(&w1)) }.is_pending());
        assert!(unsafe { s.poll(&mut Context::from_waker(&w2)) }.is_pending());
        unsafe { s.complete(Some(Ok(Reply::Nil))) };
        assert_eq!(n1.0.load(Ordering::SeqCst), 0);
        assert_eq!(n2.0.load(Ordering::SeqCst), 1);
    }

    #[test]
    fn closed_is_not_woken_and_asks_for_cancel() {
        let s = Slot::new();
        let (n, w) = counter();
        assert!(unsafe { s.poll(&mut Context::from_waker(&w)) }.is_pending());
        assert!(s.close());
        assert!(s.is_closed());
        unsafe { s.complete(None) };
        assert_eq!(n.0.load(Ordering::SeqCst), 0);
    }

    /// The completer on another thread against a receiver that polls with
    /// changing wakers and drops at a varying point; the slot is shared by
    /// Arc as in the binding. Miri checks the cells for data races and the
    /// Arc for use-after-free; natively it is a quick stress.
    fn start(go: &AtomicUsize) {
        go.fetch_add(1, Ordering::SeqCst);
        while go.load(Ordering::SeqCst) < 2 {
            thread::yield_now();
        }
    }

    #[test]
    fn completion_races_poll_and_drop() {
        let rounds = if cfg!(miri) { 40 } else { 5_000 };
        for i in 0..rounds {
            let slot = Arc::new(Slot::new());
            let theirs = slot.clone();
            // Both sides start together; the completer's delay sweeps the
            // window between the receiver's load and its registration.
            let go = Arc::new(AtomicUsize::new(0));
            let go2 = go.clone();
            let delay = (i * 7) % 64;
            let t = thread::spawn(move || {
                start(&go2);
                for _ in 0..delay {
                    std::hint::spin_loop();
                }
                let v = if theirs.is_closed() {
                    None
                } else {
                    Some(Ok(Reply::Bulk(vec![1, 2, 3])))
                };
                unsafe { theirs.complete(v) };
            });
            let (n, w) = counter();
            let (_, w2) = counter();
            let mut got = None;
            start(&go);
            for k in 0..(i % 4 + i / 3 % 2) {
                let wk = if k % 2 == 0 { &w } else { &w2 };
                if let Poll::Ready(r) = unsafe { slot.poll(&mut Context::from_waker(wk)) } {
                    got = Some(r);
                    break;
                }
                thread::yield_now();
            }
            if got.is_none() && i % 3 == 0 {
                slot.close(); // the future dropped
            } else if got.is_none() {
                // Wait like an executor: poll again after each wake.
                loop {
                    if let Poll::Ready(r) = unsafe { slot.poll(&mut Context::from_waker(&w)) } {
                        got = Some(r);
                        break;
                    }
                    let t0 = std::time::Instant::now();
                    while n.0.load(Ordering::SeqCst) == 0 {
                        let waited = t0.elapsed().as_secs();
                        assert!(waited < 10, "round {i}: a lost wake-up");
                        thread::yield_now();
                    }
                    n.0.store(0, Ordering::SeqCst);
                }
            }
            if let Some(r) = got {
                assert_eq!(r, Ok(Reply::Bulk(vec![1, 2, 3])));
            }
            drop(slot);
            t.join().unwrap();
        }
    }
}
