// SPDX-License-Identifier: MIT
//! The completion slot of one submitted command: its result and its task's
//! waker, shared by the future ([`CmdFuture`](crate::aio::CmdFuture) of the
//! `tokio` feature, or the runtime-free [`ReplyFuture`](crate::ReplyFuture))
//! and libjr's completion callback ([`on_reply`]). One allocation per
//! command, no lock: the loop thread publishes the reply and wakes the
//! task's waker directly.
use std::cell::UnsafeCell;
use std::ffi::{c_int, c_void};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::ptr::NonNull;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll, Waker};

use jr_sys as sys;

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
// The value: a reply that needs the heap (a bulk string, an array...) is
// published as the libjr reply itself, retained (jr_reply_dup: O(1), a
// reference count), and copied into a `Reply` by the receiver when it takes
// it, on its own thread: the malloc and the copy of the bytes leave libjr's
// loop thread, which completes every command of the client one after the
// other (with many callers it is the serial part), for the callers' threads,
// which run in parallel, and the `Vec` is then allocated and freed on the same
// thread. Errors (their detail is readable only inside the callback) and
// replies without heap data (integers, nil) are converted in the callback.
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
    value: UnsafeCell<Option<Outcome>>,
}

/// What the completer publishes.
pub(crate) enum Outcome {
    /// A converted result.
    Done(Result<Reply>),
    /// A successful reply, retained, for the receiver to copy.
    Retained(Retained),
}

/// An owned libjr reply (a jr_reply_dup'd reference), freed on drop.
pub(crate) struct Retained(NonNull<sys::jr_reply>);

// SAFETY: jr.h: an owned reply may be read and freed on any thread.
unsafe impl Send for Retained {}

impl Drop for Retained {
    fn drop(&mut self) {
        // SAFETY: owned (from jr_reply_dup), freed once.
        unsafe { sys::jr_reply_free(self.0.as_ptr()) }
    }
}

const WAKER: usize = 1;
const DONE: usize = 2;
const CLOSED: usize = 4;
// complete_first has run (a slot completed by complete_first only).
const CLAIMED: usize = 8;

// SAFETY: the cells are only accessed under the protocol above (one writer
// at a time, hand-over by AcqRel atomics); Waker and Result<Reply> are Send.
unsafe impl Send for Slot {}
unsafe impl Sync for Slot {}

// Debug builds count live slots, so tests can prove that every callback
// ran and released its reference (no leak) once the client is freed.
#[cfg(debug_assertions)]
static LIVE_SLOTS: AtomicUsize = AtomicUsize::new(0);

/// Slots (futures' shared states: the `tokio` feature's and
/// [`ReplyFuture`](crate::ReplyFuture)'s) alive now: `Some` in debug builds only.
/// For tests: 0 once every future and its command are gone.
#[doc(hidden)]
#[cfg_attr(not(feature = "tokio"), allow(dead_code))]
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
        // SAFETY: the caller's contract, passed on.
        unsafe { self.publish(value.map(Outcome::Done)) }
    }

    /// [`complete`](Self::complete) with any [`Outcome`].
    ///
    /// # Safety
    /// At most once per slot (with `complete`).
    pub(crate) unsafe fn publish(&self, value: Option<Outcome>) {
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

    /// Completer, when a slot has several (a callback, and the refusal
    /// path of its submit): the first call publishes `r` (dropped if the
    /// future is gone) and wakes; later calls do nothing.
    pub(crate) fn complete_first(&self, r: Result<Reply>) {
        if self.state.fetch_or(CLAIMED, Ordering::AcqRel) & CLAIMED != 0 {
            return;
        }
        let value = if self.is_closed() { None } else { Some(r) };
        // SAFETY: CLAIMED was unset: this is the slot's one completion
        // (complete_first is its only completer).
        unsafe { self.complete(value) };
    }

    /// Receiver: the result if published (without registering a waker).
    ///
    /// # Safety
    /// As [`poll`](Self::poll).
    pub(crate) unsafe fn try_take(&self) -> Option<Result<Reply>> {
        if self.state.load(Ordering::Acquire) & DONE != 0 {
            // SAFETY: DONE seen with Acquire; the caller's contract.
            Some(unsafe { self.take() })
        } else {
            None
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
        match unsafe { (*self.value.get()).take() } {
            Some(o) => o.into_result(),
            None => Err(Error::from_code(sys::JR_EINTERNAL)),
        }
    }
}

/// The C callback: takes the slot reference back, copies the borrowed reply
/// (unless the future is gone), publishes, wakes, releases the reference.
pub(crate) unsafe extern "C" fn on_reply(
    ud: *mut c_void,
    status: c_int,
    reply: *const sys::jr_reply,
) {
    // SAFETY: the caller's (libjr's) contract, passed on.
    unsafe { complete_from::<false>(ud, status, reply) }
}

/// [`on_reply`] for a command whose reply's value nobody reads (a SET
/// awaited as `()`): a success is published as `Reply::Nil` without copying
/// the reply (no `String` for an `OK`); errors as [`on_reply`] does. Only
/// the async API (feature `tokio`) awaits replies as `()`.
#[cfg(feature = "tokio")]
pub(crate) unsafe extern "C" fn on_reply_discard(
    ud: *mut c_void,
    status: c_int,
    reply: *const sys::jr_reply,
) {
    // SAFETY: as on_reply.
    unsafe { complete_from::<true>(ud, status, reply) }
}

/// Whether a reply of type `ty`, as a `Reply`, holds heap data (so copying it
/// is worth moving off the loop thread).
fn needs_heap(ty: c_int) -> bool {
    !matches!(
        ty,
        sys::JR_REPLY_NIL | sys::JR_REPLY_INTEGER | sys::JR_REPLY_DOUBLE | sys::JR_REPLY_BOOL
    )
}

/// A completion's result as the completer publishes it: a success that
/// needs the heap retained (copied later by the receiver), the rest
/// converted (an error's detail is readable only now). `DISCARD`: a
/// success is `Reply::Nil`, not copied.
///
/// # Safety
/// Inside a jr_reply_cb, with its `status` and `reply`.
pub(crate) unsafe fn outcome_from<const DISCARD: bool>(
    status: c_int,
    reply: *const sys::jr_reply,
) -> Outcome {
    // SAFETY: reply is valid during the callback (null-safe accessor).
    let ty = unsafe { sys::jr_reply_get_type(reply) };
    let ok = status >= 0 && ty != sys::JR_REPLY_ERROR;
    if ok && DISCARD {
        Outcome::Done(Ok(Reply::Nil))
    } else if ok && needs_heap(ty) {
        // SAFETY: reply is valid during the callback; O(1).
        match NonNull::new(unsafe { sys::jr_reply_dup(reply) }) {
            Some(p) => Outcome::Retained(Retained(p)),
            // SAFETY: as below.
            None => Outcome::Done(unsafe { result_from(status, reply) }),
        }
    } else {
        // SAFETY: reply is valid during the callback.
        Outcome::Done(unsafe { result_from(status, reply) })
    }
}

impl Outcome {
    /// The result, copying a retained reply (on the receiver's thread).
    pub(crate) fn into_result(self) -> Result<Reply> {
        match self {
            Outcome::Done(r) => r,
            // SAFETY: an owned reply, valid until `raw` drops (after the
            // copy). A success (the completer retains no error reply).
            Outcome::Retained(raw) => Ok(unsafe { Reply::from_raw(raw.0.as_ptr()) }),
        }
    }
}

/// SAFETY: as a jr_reply_cb whose userdata is a leaked `Arc<Slot>`.
unsafe fn complete_from<const DISCARD: bool>(
    ud: *mut c_void,
    status: c_int,
    reply: *const sys::jr_reply,
) {
    // SAFETY: ud is the reference Arc::into_raw'd at submit, handed back
    // exactly once (libjr's callback rule).
    let slot = unsafe { Arc::from_raw(ud.cast_const().cast::<Slot>()) };
    // A panic (a waker's) must not unwind into C.
    let _ = catch_unwind(AssertUnwindSafe(|| {
        if slot.is_closed() {
            // SAFETY: the one completion of this slot.
            unsafe { slot.publish(None) };
            return;
        }
        // SAFETY: reply is valid during this call.
        let value = unsafe { outcome_from::<DISCARD>(status, reply) };
        // SAFETY: the one completion of this slot.
        unsafe { slot.publish(Some(value)) };
    }));
}

#[cfg(test)]
mod tests {
    //! The slot's state machine alone (no FFI): these run under Miri
    //! (`cargo +nightly miri test --lib slot`).
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

    #[test]
    fn complete_first_wins_and_try_take() {
        let s = Slot::new();
        let (n, w) = counter();
        assert_eq!(unsafe { s.try_take() }, None);
        assert!(unsafe { s.poll(&mut Context::from_waker(&w)) }.is_pending());
        s.complete_first(Ok(Reply::Integer(1)));
        s.complete_first(Ok(Reply::Integer(2))); // a no-op
        assert_eq!(n.0.load(Ordering::SeqCst), 1);
        assert_eq!(unsafe { s.try_take() }, Some(Ok(Reply::Integer(1))));
        // A closed slot drops the value (nobody reads it).
        let s = Slot::new();
        assert!(s.close());
        s.complete_first(Ok(Reply::Integer(3)));
        assert!(!s.close());
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
