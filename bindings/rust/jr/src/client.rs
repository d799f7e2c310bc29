// SPDX-License-Identifier: MIT
//! The client, database views, callbacks and futures.
use std::ffi::{c_int, c_void};
use std::future::Future;
use std::os::fd::RawFd;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::pin::Pin;
use std::ptr::{self, NonNull};
use std::sync::{Arc, RwLock};
use std::task::{Context, Poll};
use std::time::Duration;

use jr_sys as sys;

use crate::args::ArgBuf;
use crate::error::{check, Error, Result};
use crate::options::{millis, EventFn, Options};
use crate::reply::{result_from, Reply};
use crate::slot::{self, Slot};
use crate::tx::{Message, Monitor, Subscriber, Transaction, Watch};

/// Names a submitted command for [`Client::cancel`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct RequestId(pub u64);

/// The deadline of one command.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Timeout {
    /// The client's `command_timeout_ms` (default 5 s).
    #[default]
    Default,
    /// No deadline.
    Never,
    After(Duration),
}

impl From<Duration> for Timeout {
    fn from(d: Duration) -> Timeout {
        Timeout::After(d)
    }
}

impl Timeout {
    pub(crate) fn ms(self) -> i64 {
        match self {
            Timeout::Default => -1,
            Timeout::Never => 0,
            // 0 would mean "none": a zero deadline is the shortest one.
            Timeout::After(d) => millis(d).max(1),
        }
    }
}

/// Where commands go: the client's default database or a view.
#[derive(Clone, Copy)]
pub(crate) struct Target {
    client: *mut sys::jr_client,
    db: *mut sys::jr_db,
}

impl Target {
    /// # Safety
    /// `cb`/`ud` must follow the callback rule: on a negative return the
    /// callback is never called and the caller still owns `ud`.
    pub(crate) unsafe fn submit(
        self,
        args: &ArgBuf,
        timeout: Timeout,
        cb: sys::jr_reply_cb,
        ud: *mut c_void,
    ) -> (c_int, u64) {
        let mut id = 0u64;
        // SAFETY: the caller's contract; handles are alive (borrowed).
        let rc = unsafe {
            if self.db.is_null() {
                sys::jr_client_submit(
                    self.client,
                    args.len(),
                    args.argv(),
                    args.lens(),
                    timeout.ms(),
                    cb,
                    ud,
                    &mut id,
                )
            } else {
                sys::jr_db_submit(
                    self.db,
                    args.len(),
                    args.argv(),
                    args.lens(),
                    timeout.ms(),
                    cb,
                    ud,
                    &mut id,
                )
            }
        };
        (rc, id)
    }

    /// jr_client_submit_many / jr_db_submit_many with `cb` for every
    /// command; `argcs`, `argvs`, `argvlens`, `uds`, `rcs`, `ids` have one
    /// entry per command.
    ///
    /// # Safety
    /// As [`submit`](Self::submit), per command: where `rcs[i]` is 0 the
    /// callback will be called once with `uds[i]`; elsewhere never. Every
    /// `argvs[i]` / `argvlens[i]` is valid for `argcs[i]` entries.
    #[allow(clippy::too_many_arguments)]
    pub(crate) unsafe fn submit_many(
        self,
        argcs: &[usize],
        argvs: &[*const *const std::ffi::c_char],
        argvlens: &[*const usize],
        timeout: Timeout,
        cb: sys::jr_reply_cb,
        uds: &[*mut c_void],
        rcs: &mut [c_int],
        ids: &mut [u64],
    ) -> c_int {
        let n = argcs.len();
        assert!(
            argvs.len() == n && argvlens.len() == n && uds.len() == n,
            "submit_many: arrays of different lengths"
        );
        assert!(rcs.len() == n && ids.len() == n);
        // SAFETY: the caller's contract; handles are alive (borrowed).
        unsafe {
            if self.db.is_null() {
                sys::jr_client_submit_many(
                    self.client,
                    n,
                    argcs.as_ptr(),
                    argvs.as_ptr(),
                    argvlens.as_ptr(),
                    timeout.ms(),
                    cb,
                    uds.as_ptr(),
                    rcs.as_mut_ptr(),
                    ids.as_mut_ptr(),
                )
            } else {
                sys::jr_db_submit_many(
                    self.db,
                    n,
                    argcs.as_ptr(),
                    argvs.as_ptr(),
                    argvlens.as_ptr(),
                    timeout.ms(),
                    cb,
                    uds.as_ptr(),
                    rcs.as_mut_ptr(),
                    ids.as_mut_ptr(),
                )
            }
        }
    }

    fn call<A: AsRef<[u8]>>(self, args: &[A], timeout: Timeout) -> Result<Reply> {
        let buf = ArgBuf::new(args);
        let mut out: *mut sys::jr_reply = ptr::null_mut();
        // SAFETY: valid handles (the borrow of Client/Db keeps them alive),
        // argv valid for the call, out receives an owned reply.
        let rc = unsafe {
            if self.db.is_null() {
                sys::jr_client_call(
                    self.client,
                    buf.len(),
                    buf.argv(),
                    buf.lens(),
                    timeout.ms(),
                    &mut out,
                )
            } else {
                sys::jr_db_call(
                    self.db,
                    buf.len(),
                    buf.argv(),
                    buf.lens(),
                    timeout.ms(),
                    &mut out,
                )
            }
        };
        // SAFETY: out is null or owned by us; freed right after the copy.
        unsafe {
            let r = result_from(rc, out);
            sys::jr_reply_free(out);
            r
        }
    }

    fn submit_fn<A, F>(self, args: &[A], timeout: Timeout, f: F) -> Result<RequestId>
    where
        A: AsRef<[u8]>,
        F: FnOnce(Result<Reply>) + Send + 'static,
    {
        let buf = ArgBuf::new(args);
        let ud = Box::into_raw(Box::new(f)).cast::<c_void>();
        // SAFETY: on success the trampoline takes the box back exactly once.
        let (rc, id) = unsafe { self.submit(&buf, timeout, Some(trampoline::<F>), ud) };
        if rc < 0 {
            // SAFETY: refused: the callback will never run; we still own ud.
            drop(unsafe { Box::from_raw(ud.cast::<F>()) });
            return Err(Error::from_code(rc));
        }
        Ok(RequestId(id))
    }

    fn command<A: AsRef<[u8]>>(
        self,
        handle: &Arc<Handle>,
        args: &[A],
        timeout: Timeout,
    ) -> ReplyFuture {
        // The slot is the callback's userdata itself (as the `tokio`
        // feature's futures do): no boxed closure, no lock.
        let buf = ArgBuf::new(args);
        let slot = Arc::new(Slot::new());
        let ud = Arc::into_raw(slot.clone()).cast_mut().cast::<c_void>();
        // SAFETY: on success slot::on_reply takes the reference back
        // exactly once.
        let (rc, id) = unsafe { self.submit(&buf, timeout, Some(slot::on_reply), ud) };
        if rc < 0 {
            // SAFETY: refused: the callback never runs; the reference is
            // ours.
            drop(unsafe { Arc::from_raw(ud.cast_const().cast::<Slot>()) });
            // SAFETY: the slot's one completion (nobody else holds it).
            unsafe { slot.complete(Some(Err(Error::from_code(rc)))) };
            return ReplyFuture {
                slot,
                id: None,
                handle: None,
                taken: false,
            };
        }
        ReplyFuture {
            slot,
            id: Some(RequestId(id)),
            handle: Some(handle.clone()),
            taken: false,
        }
    }
}

/// The C callback of every closure submit: takes the box back, converts the
/// borrowed reply, runs the closure, and catches a panic (which must not
/// cross the C frame).
pub(crate) unsafe extern "C" fn trampoline<F>(
    ud: *mut c_void,
    status: c_int,
    reply: *const sys::jr_reply,
) where
    F: FnOnce(Result<Reply>) + Send + 'static,
{
    // SAFETY: ud is the Box<F> leaked by submit_fn, handed back exactly
    // once (libjr's callback rule); reply is valid during this call.
    let f = unsafe { Box::from_raw(ud.cast::<F>()) };
    let r = unsafe { result_from(status, reply) };
    let _scope = crate::cluster::CallbackScope::enter();
    let _ = catch_unwind(AssertUnwindSafe(move || f(r)));
}

/// A boxed FnOnce closure ready for a C callback slot: the C function, the
/// userdata, and how to drop the box when the call refuses it.
pub(crate) struct RawCallback {
    pub(crate) cb: sys::jr_reply_cb,
    pub(crate) ud: *mut c_void,
    drop_fn: unsafe fn(*mut c_void),
}

unsafe fn drop_box<F>(ud: *mut c_void) {
    // SAFETY: ud came from Box::<F>::into_raw in RawCallback::new.
    drop(unsafe { Box::from_raw(ud.cast::<F>()) });
}

impl RawCallback {
    pub(crate) fn new<F>(f: F) -> RawCallback
    where
        F: FnOnce(Result<Reply>) + Send + 'static,
    {
        RawCallback {
            cb: Some(trampoline::<F>),
            ud: Box::into_raw(Box::new(f)).cast::<c_void>(),
            drop_fn: drop_box::<F>,
        }
    }
    /// After the C call: on a negative code the callback will never run, so
    /// the box is dropped here and the error returned.
    pub(crate) fn settle(self, rc: c_int) -> Result<()> {
        if rc < 0 {
            // SAFETY: refused: libjr will never call back with ud.
            unsafe { (self.drop_fn)(self.ud) };
            return Err(Error::from_code(rc));
        }
        Ok(())
    }
}

macro_rules! command_methods {
    () => {
        /// Runs a command and waits for its reply (works in both dispatch
        /// modes; `Err(EMISUSE)` on libjr's loop thread, i.e. in a callback).
        pub fn call<A: AsRef<[u8]>>(&self, args: &[A]) -> Result<Reply> {
            self.target().call(args, Timeout::Default)
        }
        /// [`call`](Self::call) with a deadline.
        pub fn call_timeout<A: AsRef<[u8]>>(
            &self,
            args: &[A],
            timeout: impl Into<Timeout>,
        ) -> Result<Reply> {
            self.target().call(args, timeout.into())
        }
        /// Submits a command; `f` is called exactly once with its result, on
        /// libjr's loop thread (must not block) or in `dispatch` (poll mode).
        /// A panic in `f` is caught. On `Err` (refused, closed, full) `f` is
        /// dropped uncalled.
        pub fn submit<A, F>(&self, args: &[A], f: F) -> Result<RequestId>
        where
            A: AsRef<[u8]>,
            F: FnOnce(Result<Reply>) + Send + 'static,
        {
            self.target().submit_fn(args, Timeout::Default, f)
        }
        /// [`submit`](Self::submit) with a deadline.
        pub fn submit_timeout<A, F>(
            &self,
            args: &[A],
            timeout: impl Into<Timeout>,
            f: F,
        ) -> Result<RequestId>
        where
            A: AsRef<[u8]>,
            F: FnOnce(Result<Reply>) + Send + 'static,
        {
            self.target().submit_fn(args, timeout.into(), f)
        }
        /// [`call`](Self::call) with the reply converted to `T`
        /// ([`FromReply`](crate::FromReply)):
        /// `let v: Option<String> = client.call_as(&["GET", "k"])?`.
        pub fn call_as<T: crate::FromReply, A: AsRef<[u8]>>(&self, args: &[A]) -> Result<T> {
            self.call(args).and_then(T::from_reply)
        }
        /// Submits a command now and returns a future of its result (eager:
        /// many futures created in a row are pipelined). Dropping the future
        /// before its result arrived cancels the command (`jr_cancel`).
        pub fn command<A: AsRef<[u8]>>(&self, args: &[A]) -> ReplyFuture {
            self.target()
                .command(self.cancel_handle(), args, Timeout::Default)
        }
        /// [`command`](Self::command) with a deadline.
        pub fn command_timeout<A: AsRef<[u8]>>(
            &self,
            args: &[A],
            timeout: impl Into<Timeout>,
        ) -> ReplyFuture {
            self.target()
                .command(self.cancel_handle(), args, timeout.into())
        }
    };
}

/// A libjr client: one loop thread and one multiplexed connection.
/// `Send + Sync`: share it (e.g. in an `Arc`) and call it from any thread.
/// Dropping it completes every pending command (`ECLOSED`/`ESHUTDOWN`); do
/// not drop the last reference inside a callback (libjr refuses, and the
/// client then leaks).
pub struct Client {
    pub(crate) raw: NonNull<sys::jr_client>,
    _event: Option<Arc<Box<EventFn>>>,
    handle: Arc<Handle>,
}

/// What a [`ReplyFuture`] (which does not borrow the client) needs to
/// cancel its command when dropped: the client's handle while it lives.
/// The client's drop empties it (under the write lock) before
/// jr_client_free, so a future dropped later skips the cancel (the free
/// completes every command anyway) and none can call jr_cancel on a freed
/// client. The lock is held only around jr_cancel, which never blocks and
/// never runs a callback.
pub(crate) struct Handle {
    ptr: RwLock<*mut sys::jr_client>,
}

// SAFETY: the pointer is only used for jr_cancel (thread-safe) under the lock.
unsafe impl Send for Handle {}
unsafe impl Sync for Handle {}

impl Handle {
    fn cancel(&self, id: RequestId) {
        let p = self.ptr.read().unwrap_or_else(|e| e.into_inner());
        if !p.is_null() {
            // SAFETY: non-null: the client is alive (its drop nulls this
            // under the write lock first). Any id is accepted.
            unsafe { sys::jr_cancel(*p, id.0) };
        }
    }
}

// SAFETY: every jr_client call used through &self is documented thread-safe
// ("Thread: any, concurrently"); jr_dispatch is serialised by libjr itself;
// jr_client_free needs &mut (Drop).
unsafe impl Send for Client {}
unsafe impl Sync for Client {}

impl Client {
    /// Creates a client (connecting is lazy: the first command connects).
    pub fn new(opts: &Options) -> Result<Client> {
        if let Some(e) = &opts.error {
            return Err(e.clone());
        }
        let mut raw = ptr::null_mut();
        // SAFETY: opts is valid; libjr copies it.
        let rc = unsafe { sys::jr_client_new(opts.as_ptr(), &mut raw) };
        if rc == sys::JR_EINVAL && opts.resp3 && !crate::options::resp3_supported() {
            return Err(Error::with_detail(
                rc,
                "protocol=3 (RESP3) needs libjr built with hiredis >= 1.0; this \
                 libjr was built with hiredis 0.14 (RESP2 only)"
                    .into(),
            ));
        }
        check(rc)?;
        Ok(Client {
            raw: NonNull::new(raw).expect("jr_client_new returned JR_OK and NULL"),
            _event: opts.event.clone(),
            handle: Arc::new(Handle {
                ptr: RwLock::new(raw),
            }),
        })
    }

    /// A client of one endpoint (`"host:port"`) or URL (`redis://...`).
    pub fn connect(endpoint_or_url: &str) -> Result<Client> {
        let key = if endpoint_or_url.contains("://") {
            "url"
        } else {
            "endpoint"
        };
        Client::new(&Options::new().set(key, endpoint_or_url))
    }

    pub(crate) fn target(&self) -> Target {
        Target {
            client: self.raw.as_ptr(),
            db: ptr::null_mut(),
        }
    }

    fn cancel_handle(&self) -> &Arc<Handle> {
        &self.handle
    }

    command_methods!();

    /// Cancels a submitted command: it completes with `ECANCELED` (not yet
    /// written) or `EABANDONED` (written; its reply is dropped), unless its
    /// reply won the race. Returns false when it had already completed.
    pub fn cancel(&self, id: RequestId) -> Result<bool> {
        // SAFETY: valid handle.
        match unsafe { sys::jr_cancel(self.raw.as_ptr(), id.0) } {
            sys::JR_ENOENT => Ok(false),
            rc => check(rc).map(|_| true),
        }
    }

    /// A view of database `number` sharing this client's connection.
    pub fn db(&self, number: u32) -> Result<Db<'_>> {
        let n = c_int::try_from(number).map_err(|_| Error::from_code(sys::JR_EINVAL))?;
        let mut raw = ptr::null_mut();
        // SAFETY: valid handle; the Db borrows the client so it is freed first.
        check(unsafe { sys::jr_db_new(self.raw.as_ptr(), n, &mut raw) })?;
        Ok(Db {
            client: self,
            raw: NonNull::new(raw).expect("jr_db_new returned JR_OK and NULL"),
            number: n,
        })
    }

    /// A MULTI/EXEC transaction on the default database.
    pub fn multi(&self) -> Result<Transaction<'_>> {
        let mut m = ptr::null_mut();
        // SAFETY: valid handle.
        check(unsafe { sys::jr_multi_new(self.raw.as_ptr(), -1, &mut m) })?;
        Ok(Transaction::new(m))
    }

    /// WATCH `keys` on a dedicated connection of the default database.
    pub fn watch<A: AsRef<[u8]>>(&self, keys: &[A]) -> Result<Watch<'_>> {
        self.watch_db(-1, keys)
    }

    fn watch_db<A: AsRef<[u8]>>(&self, db: c_int, keys: &[A]) -> Result<Watch<'_>> {
        let buf = ArgBuf::new(keys);
        let mut w = ptr::null_mut();
        // SAFETY: valid handle; keys copied.
        check(unsafe {
            sys::jr_watch_new(
                self.raw.as_ptr(),
                db,
                buf.len(),
                buf.argv(),
                buf.lens(),
                &mut w,
            )
        })?;
        Ok(Watch::new(w))
    }

    /// A pub/sub subscriber whose handler gets every [`Message`]
    /// (`Message::Closed` last); panics in it are caught.
    pub fn subscriber<F>(&self, f: F) -> Result<Subscriber<'_>>
    where
        F: FnMut(Message) + Send + 'static,
    {
        Subscriber::create(self, f)
    }

    /// A MONITOR stream.
    pub fn monitor<F>(&self, f: F) -> Result<Monitor<'_>>
    where
        F: FnMut(Message) + Send + 'static,
    {
        Monitor::create(self, f)
    }

    /// Stops accepting commands and waits for the accepted ones (`None`:
    /// forever). Returns false on timeout.
    pub fn drain(&self, timeout: Option<Duration>) -> Result<bool> {
        let ms = timeout.map_or(-1, millis);
        // SAFETY: valid handle.
        match unsafe { sys::jr_client_drain(self.raw.as_ptr(), ms) } {
            sys::JR_ETIMEDOUT => Ok(false),
            rc => check(rc).map(|_| true),
        }
    }

    /// Poll mode: a descriptor that is readable while completions wait
    /// (`None` in loop mode).
    pub fn fd(&self) -> Option<RawFd> {
        // SAFETY: valid handle.
        let fd = unsafe { sys::jr_client_fd(self.raw.as_ptr()) };
        (fd >= 0).then_some(fd)
    }

    /// Poll mode: runs up to `max` waiting completions (0 = all) on this
    /// thread; returns how many ran.
    pub fn dispatch(&self, max: usize) -> usize {
        // SAFETY: valid handle; libjr serialises concurrent dispatchers.
        unsafe { sys::jr_dispatch(self.raw.as_ptr(), max) }
    }

    /// The raw handle, for calls this crate does not wrap.
    pub fn as_ptr(&self) -> *mut sys::jr_client {
        self.raw.as_ptr()
    }
}

struct SendPtr(*mut sys::jr_client);
// SAFETY: only moved to the thread that frees it.
unsafe impl Send for SendPtr {}

impl Drop for Client {
    fn drop(&mut self) {
        // Futures dropped from now on do not cancel (see Handle).
        *self.handle.ptr.write().unwrap_or_else(|e| e.into_inner()) = ptr::null_mut();
        // SAFETY: we own the handle and nothing else can call it now (&mut).
        let rc = unsafe { sys::jr_client_free(self.raw.as_ptr()) };
        if rc == sys::JR_EMISUSE {
            // The last reference died inside a libjr callback (e.g. an
            // Arc<Client> captured by a closure), where libjr cannot join its
            // own loop thread. Free it from a helper thread instead: that
            // waits for the running callback to return, as any free does.
            let p = SendPtr(self.raw.as_ptr());
            let _ = std::thread::Builder::new()
                .name("jr-client-free".into())
                .spawn(move || {
                    let p = p;
                    // SAFETY: sole owner; not on the loop thread.
                    unsafe { sys::jr_client_free(p.0) };
                });
        }
    }
}

/// A database view (`jr_db`): commands run in its database on the client's
/// shared connection.
pub struct Db<'c> {
    client: &'c Client,
    raw: NonNull<sys::jr_db>,
    number: c_int,
}

// SAFETY: jr_db_submit/jr_db_call are thread-safe like their client forms.
unsafe impl Send for Db<'_> {}
unsafe impl Sync for Db<'_> {}

impl<'c> Db<'c> {
    pub(crate) fn target(&self) -> Target {
        Target {
            client: self.client.raw.as_ptr(),
            db: self.raw.as_ptr(),
        }
    }

    command_methods!();

    fn cancel_handle(&self) -> &Arc<Handle> {
        &self.client.handle
    }

    /// The client this view belongs to.
    pub fn client(&self) -> &'c Client {
        self.client
    }

    /// A MULTI/EXEC transaction in this database.
    pub fn multi(&self) -> Result<Transaction<'c>> {
        let mut m = ptr::null_mut();
        // SAFETY: valid handle.
        check(unsafe { sys::jr_multi_new(self.client.raw.as_ptr(), self.number, &mut m) })?;
        Ok(Transaction::new(m))
    }

    /// WATCH `keys` on a dedicated connection of this database.
    pub fn watch<A: AsRef<[u8]>>(&self, keys: &[A]) -> Result<Watch<'c>> {
        self.client.watch_db(self.number, keys)
    }
}

impl Drop for Db<'_> {
    fn drop(&mut self) {
        // SAFETY: owned; the borrow guarantees the client is still alive.
        unsafe { sys::jr_db_free(self.raw.as_ptr()) }
    }
}

// ---- Futures -------------------------------------------------------------------------

/// The result of a command submitted by [`Client::command`]. The command is
/// already on its way when this exists; polling only waits. Works with any
/// executor, or [`block_on`](crate::block_on) / [`ReplyFuture::wait`].
///
/// Dropping it before the result arrived cancels the command (`jr_cancel`:
/// unsent, it never leaves; written, its reply is read and dropped), as
/// dropping a [`CmdFuture`](crate::aio::CmdFuture) of the `tokio` feature
/// does. The futures of a transaction, a WATCH connection and the cluster
/// calls have no request id in libjr and run to completion.
pub struct ReplyFuture {
    // The result and the waker, shared with the completion (crate::slot).
    slot: Arc<Slot>,
    id: Option<RequestId>,
    /// Set when dropping should cancel the command.
    handle: Option<Arc<Handle>>,
    /// The result was returned (by poll or try_take): the slot is spent.
    taken: bool,
}

impl Drop for ReplyFuture {
    fn drop(&mut self) {
        // close() also tells a completion still to come that nobody reads
        // its result (it skips the copy and the wake).
        let pending = self.slot.close();
        let (Some(handle), Some(id)) = (&self.handle, self.id) else {
            return;
        };
        if pending {
            // A completion that wins the race meanwhile makes this a
            // JR_ENOENT no-op (ids carry a generation: never a stranger's).
            handle.cancel(id);
        }
    }
}

impl ReplyFuture {
    /// The id for [`Client::cancel`] (`None` when the submit was refused).
    pub fn id(&self) -> Option<RequestId> {
        self.id
    }
    /// Blocks the calling thread until the result arrives.
    pub fn wait(self) -> Result<Reply> {
        crate::block_on(self)
    }
    /// The result if it has arrived (without waiting).
    pub fn try_take(&mut self) -> Option<Result<Reply>> {
        if self.taken {
            return None;
        }
        // SAFETY: &mut self: the one receiver, not after the result was
        // returned (taken).
        let r = unsafe { self.slot.try_take() }?;
        self.taken = true;
        Some(r)
    }

    /// A future completed by `Completer::complete` (transactions, WATCH
    /// connections, cluster calls: no request id, never cancelled).
    pub(crate) fn new_pending() -> (ReplyFuture, Completer) {
        let slot = Arc::new(Slot::new());
        (
            ReplyFuture {
                slot: slot.clone(),
                id: None,
                handle: None,
                taken: false,
            },
            Completer(slot),
        )
    }
}

impl std::fmt::Debug for ReplyFuture {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReplyFuture").field("id", &self.id).finish()
    }
}

impl Future for ReplyFuture {
    type Output = Result<Reply>;
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<Reply>> {
        // Polled again after its result was returned (by poll or try_take):
        // pending for ever, as before (the result is gone).
        if self.taken {
            return Poll::Pending;
        }
        // SAFETY: &mut self: the one receiver, not after Ready (taken).
        match unsafe { self.slot.poll(cx) } {
            Poll::Ready(r) => {
                self.taken = true;
                Poll::Ready(r)
            }
            Poll::Pending => Poll::Pending,
        }
    }
}

/// The completing side of [`ReplyFuture::new_pending`], cloned into a
/// callback and kept for a refused submit: the first `complete` wins, later
/// ones are no-ops.
#[derive(Clone)]
pub(crate) struct Completer(Arc<Slot>);

impl Completer {
    pub(crate) fn complete(&self, r: Result<Reply>) {
        self.0.complete_first(r);
    }
}
