// SPDX-License-Identifier: MIT
//! Redis Cluster calls (jr.h "Redis Cluster") and credential rotation.
//!
//! libjr discovers a cluster by itself and routes every command by its key's
//! slot; these calls are for what routing cannot express: the topology
//! ([`Client::endpoints`]), a command on every master
//! ([`Client::call_all_masters`]) and a command on one chosen node
//! ([`Client::call_to`]). All of them work on a standalone server too, except
//! the all-masters calls, which fail there with [`code::ECLUSTER`].
use std::cell::Cell;
use std::ffi::{c_int, c_void, CString};
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use jr_sys as sys;

use crate::args::ArgBuf;
use crate::client::{Client, RawCallback, ReplyFuture, Timeout};
use crate::error::{check, code, Error, Result};
use crate::reply::Reply;

/// One node of [`Client::endpoints`]: its address (`"host:port"`) and role
/// (`"master"`, `"replica"`, or `"standalone"` for a server outside a
/// cluster). Credentials never appear.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Node {
    pub address: String,
    pub role: String,
}

impl Node {
    /// Parses the raw reply of `jr_client_endpoints` (`[[address, role],
    /// ...]`, as given to [`Client::submit_endpoints`]'s closure);
    /// `Err(EPROTO)` for another shape.
    pub fn list(reply: Reply) -> Result<Vec<Node>> {
        rows(reply)?
            .into_iter()
            .map(|(address, role)| {
                let role = role.as_str().ok_or_else(malformed)?.to_owned();
                Ok(Node { address, role })
            })
            .collect()
    }
}

/// One master's answer to [`Client::call_all_masters`]: its address and its
/// own result. A node that failed (connection lost, timeout, ...) has an
/// [`Error::Library`] with that code; a command the node rejected has an
/// [`Error::Server`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NodeReply {
    pub address: String,
    pub result: Result<Reply>,
}

impl NodeReply {
    /// Parses the raw reply of `jr_client_submit_all_masters` (`[[address,
    /// reply], ...]`, a node's failure being an error element that starts
    /// with the libjr code name: `"JR_ECONNLOST: ..."`); `Err(EPROTO)` for
    /// another shape.
    pub fn list(reply: Reply) -> Result<Vec<NodeReply>> {
        Ok(rows(reply)?
            .into_iter()
            .map(|(address, answer)| {
                let result = match answer {
                    Reply::Error(text) => {
                        let name = text.split(':').next().unwrap_or("");
                        match code_of_name(name) {
                            Some(c) => Err(Error::from_code(c)),
                            None => Err(Error::Server(text)),
                        }
                    }
                    r => Ok(r),
                };
                NodeReply { address, result }
            })
            .collect())
    }
}

fn malformed() -> Error {
    Error::from_code(code::EPROTO)
}

/// `[[address, x], ...]` as (address, x) pairs.
fn rows(reply: Reply) -> Result<Vec<(String, Reply)>> {
    reply
        .into_array()
        .ok_or_else(malformed)?
        .into_iter()
        .map(|row| {
            let mut pair = row.into_array().ok_or_else(malformed)?.into_iter();
            let (Some(addr), Some(x), None) = (pair.next(), pair.next(), pair.next()) else {
                return Err(malformed());
            };
            let addr = addr.as_str().ok_or_else(malformed)?.to_owned();
            Ok((addr, x))
        })
        .collect()
}

/// The `JR_E*` code named `name` (`"JR_ECONNLOST"`).
fn code_of_name(name: &str) -> Option<i32> {
    if !name.starts_with("JR_E") {
        return None;
    }
    (1..=64)
        .map(|c| -c)
        .find(|&c| Error::from_code(c).name() == name)
}

/// A [`ReplyFuture`] whose reply is parsed into a `T` (the typed results of
/// [`Client::endpoints_future`] and [`Client::command_all_masters`]). Eager,
/// like `ReplyFuture`: the request is on its way when this exists.
pub struct MapFuture<T> {
    inner: ReplyFuture,
    map: fn(Reply) -> Result<T>,
}

/// The future of [`Client::endpoints_future`].
pub type EndpointsFuture = MapFuture<Vec<Node>>;
/// The future of [`Client::command_all_masters`].
pub type AllMastersFuture = MapFuture<Vec<NodeReply>>;

impl<T> MapFuture<T> {
    /// Blocks the calling thread until the result arrives.
    pub fn wait(self) -> Result<T> {
        crate::block_on(self)
    }
}

impl<T> std::fmt::Debug for MapFuture<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MapFuture").finish_non_exhaustive()
    }
}

impl<T> Future for MapFuture<T> {
    type Output = Result<T>;
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<T>> {
        let map = self.map;
        match Pin::new(&mut self.inner).poll(cx) {
            Poll::Ready(r) => Poll::Ready(r.and_then(map)),
            Poll::Pending => Poll::Pending,
        }
    }
}

// ---- Blocking waits -------------------------------------------------------------------

thread_local! {
    static IN_CALLBACK: Cell<u32> = const { Cell::new(0) };
}

/// Marks the current thread as running a libjr callback (the binding's
/// trampolines hold one while user code runs).
pub(crate) struct CallbackScope;

impl CallbackScope {
    pub(crate) fn enter() -> CallbackScope {
        IN_CALLBACK.with(|c| c.set(c.get() + 1));
        CallbackScope
    }
}

impl Drop for CallbackScope {
    fn drop(&mut self) {
        IN_CALLBACK.with(|c| c.set(c.get() - 1));
    }
}

fn in_callback() -> bool {
    IN_CALLBACK.with(|c| c.get() > 0)
}

#[repr(C)]
struct PollFd {
    fd: c_int,
    events: i16,
    revents: i16,
}

extern "C" {
    fn poll(fds: *mut PollFd, nfds: u64, timeout: c_int) -> c_int;
}

impl Client {
    /// The blocking form of a request: refuses with `EMISUSE` inside a
    /// callback (the loop thread, or a `dispatch`), where waiting would
    /// deadlock; in poll mode it runs completions (`dispatch`) on this
    /// thread while it waits.
    fn wait_for<T>(&self, start: impl FnOnce() -> MapFuture<T>) -> Result<T> {
        if in_callback() {
            return Err(Error::from_code(code::EMISUSE));
        }
        let mut fut = start();
        let Some(fd) = self.fd() else {
            return fut.wait();
        };
        loop {
            if let Some(r) = fut.inner.try_take() {
                return r.and_then(fut.map);
            }
            let mut p = PollFd {
                fd,
                events: 1, // POLLIN
                revents: 0,
            };
            // SAFETY: one valid pollfd; a failure (EINTR) only loops again.
            unsafe { poll(&mut p, 1, 100) };
            self.dispatch(0);
        }
    }

    /// Submits through `submit(cb, ud)` with the future's completion.
    fn future_of<T>(
        &self,
        map: fn(Reply) -> Result<T>,
        submit: impl FnOnce(sys::jr_reply_cb, *mut c_void) -> c_int,
    ) -> MapFuture<T> {
        let (inner, shared) = ReplyFuture::new_pending();
        let s2 = shared.clone();
        let cb = RawCallback::new(move |r| s2.complete(r));
        let rc = submit(cb.cb, cb.ud);
        if let Err(e) = cb.settle(rc) {
            shared.complete(Err(e));
        }
        MapFuture { inner, map }
    }

    fn callback<F>(
        &self,
        f: F,
        submit: impl FnOnce(sys::jr_reply_cb, *mut c_void) -> c_int,
    ) -> Result<()>
    where
        F: FnOnce(Result<Reply>) + Send + 'static,
    {
        let cb = RawCallback::new(f);
        let rc = submit(cb.cb, cb.ud);
        cb.settle(rc)
    }

    // ---- endpoints ----

    /// The nodes libjr knows: one `{address, "standalone"}` for a standalone
    /// server; every master and replica of a cluster. Blocks (see
    /// [`call_all_masters`](Self::call_all_masters) for the rules).
    pub fn endpoints(&self) -> Result<Vec<Node>> {
        self.wait_for(|| self.endpoints_future())
    }
    /// [`endpoints`](Self::endpoints) as a future.
    pub fn endpoints_future(&self) -> EndpointsFuture {
        let raw = self.as_ptr();
        // SAFETY: valid handle; the callback follows the callback rule.
        self.future_of(Node::list, |cb, ud| unsafe {
            sys::jr_client_endpoints(raw, cb, ud)
        })
    }
    /// [`endpoints`](Self::endpoints) with a closure, called once with the
    /// raw `[[address, role], ...]` reply ([`Node::list`] parses it).
    pub fn submit_endpoints<F>(&self, f: F) -> Result<()>
    where
        F: FnOnce(Result<Reply>) + Send + 'static,
    {
        let raw = self.as_ptr();
        // SAFETY: as endpoints_future.
        self.callback(f, |cb, ud| unsafe { sys::jr_client_endpoints(raw, cb, ud) })
    }

    // ---- all masters ----

    /// Runs a command on every master and waits: one [`NodeReply`] per
    /// master, a node's failure being its own `result` rather than a failure
    /// of the call. On a standalone server: `Err` with [`code::ECLUSTER`].
    ///
    /// Like every blocking call here it returns `EMISUSE` inside a libjr
    /// callback, and in poll mode it runs completions on this thread
    /// (`dispatch`) while it waits.
    pub fn call_all_masters<A: AsRef<[u8]>>(&self, args: &[A]) -> Result<Vec<NodeReply>> {
        self.wait_for(|| self.command_all_masters(args))
    }
    /// [`call_all_masters`](Self::call_all_masters) with a deadline.
    pub fn call_all_masters_timeout<A: AsRef<[u8]>>(
        &self,
        args: &[A],
        timeout: impl Into<Timeout>,
    ) -> Result<Vec<NodeReply>> {
        let t = timeout.into();
        self.wait_for(|| self.command_all_masters_timeout(args, t))
    }
    /// [`call_all_masters`](Self::call_all_masters) as an eager future.
    pub fn command_all_masters<A: AsRef<[u8]>>(&self, args: &[A]) -> AllMastersFuture {
        self.command_all_masters_timeout(args, Timeout::Default)
    }
    /// [`command_all_masters`](Self::command_all_masters) with a deadline.
    pub fn command_all_masters_timeout<A: AsRef<[u8]>>(
        &self,
        args: &[A],
        timeout: impl Into<Timeout>,
    ) -> AllMastersFuture {
        let (buf, ms, raw) = (ArgBuf::new(args), timeout.into().ms(), self.as_ptr());
        // SAFETY: valid handle; argv valid for the call (copied by libjr).
        self.future_of(NodeReply::list, |cb, ud| unsafe {
            sys::jr_client_submit_all_masters(raw, buf.len(), buf.argv(), buf.lens(), ms, cb, ud)
        })
    }
    /// [`call_all_masters`](Self::call_all_masters) with a closure, called
    /// once with the raw `[[address, reply], ...]` reply
    /// ([`NodeReply::list`] parses it).
    pub fn submit_all_masters<A, F>(&self, args: &[A], f: F) -> Result<()>
    where
        A: AsRef<[u8]>,
        F: FnOnce(Result<Reply>) + Send + 'static,
    {
        self.submit_all_masters_timeout(args, Timeout::Default, f)
    }
    /// [`submit_all_masters`](Self::submit_all_masters) with a deadline.
    pub fn submit_all_masters_timeout<A, F>(
        &self,
        args: &[A],
        timeout: impl Into<Timeout>,
        f: F,
    ) -> Result<()>
    where
        A: AsRef<[u8]>,
        F: FnOnce(Result<Reply>) + Send + 'static,
    {
        let (buf, ms, raw) = (ArgBuf::new(args), timeout.into().ms(), self.as_ptr());
        // SAFETY: as command_all_masters_timeout.
        self.callback(f, |cb, ud| unsafe {
            sys::jr_client_submit_all_masters(raw, buf.len(), buf.argv(), buf.lens(), ms, cb, ud)
        })
    }

    // ---- one node ----

    /// Runs a command on one node (`"host:port"`) and waits, without
    /// following redirections (a cluster node may answer `MOVED`). Works on
    /// a standalone server (its own address). `Err(EINVAL)` for an address
    /// that does not parse.
    pub fn call_to<A: AsRef<[u8]>>(&self, node: &str, args: &[A]) -> Result<Reply> {
        self.wait_for(|| self.to_node(node, args, Timeout::Default))
    }
    /// [`call_to`](Self::call_to) with a deadline.
    pub fn call_to_timeout<A: AsRef<[u8]>>(
        &self,
        node: &str,
        args: &[A],
        timeout: impl Into<Timeout>,
    ) -> Result<Reply> {
        let t = timeout.into();
        self.wait_for(|| self.to_node(node, args, t))
    }
    /// [`call_to`](Self::call_to) as an eager future.
    pub fn command_to<A: AsRef<[u8]>>(&self, node: &str, args: &[A]) -> ReplyFuture {
        self.to_node(node, args, Timeout::Default).inner
    }
    /// [`command_to`](Self::command_to) with a deadline.
    pub fn command_to_timeout<A: AsRef<[u8]>>(
        &self,
        node: &str,
        args: &[A],
        timeout: impl Into<Timeout>,
    ) -> ReplyFuture {
        self.to_node(node, args, timeout.into()).inner
    }
    /// [`call_to`](Self::call_to) with a closure (same rules as
    /// [`submit`](Self::submit)).
    pub fn submit_to<A, F>(&self, node: &str, args: &[A], f: F) -> Result<()>
    where
        A: AsRef<[u8]>,
        F: FnOnce(Result<Reply>) + Send + 'static,
    {
        self.submit_to_timeout(node, args, Timeout::Default, f)
    }
    /// [`submit_to`](Self::submit_to) with a deadline.
    pub fn submit_to_timeout<A, F>(
        &self,
        node: &str,
        args: &[A],
        timeout: impl Into<Timeout>,
        f: F,
    ) -> Result<()>
    where
        A: AsRef<[u8]>,
        F: FnOnce(Result<Reply>) + Send + 'static,
    {
        let node = CString::new(node).map_err(|_| Error::from_code(code::EINVAL))?;
        let (buf, ms, raw) = (ArgBuf::new(args), timeout.into().ms(), self.as_ptr());
        // SAFETY: valid handle, NUL-terminated address, argv valid for the
        // call (libjr copies both).
        self.callback(f, |cb, ud| unsafe {
            sys::jr_client_submit_to(
                raw,
                node.as_ptr(),
                buf.len(),
                buf.argv(),
                buf.lens(),
                ms,
                cb,
                ud,
            )
        })
    }

    fn to_node<A: AsRef<[u8]>>(&self, node: &str, args: &[A], t: Timeout) -> MapFuture<Reply> {
        let Ok(node) = CString::new(node) else {
            return self.future_of(Ok, |_, _| code::EINVAL);
        };
        let (buf, ms, raw) = (ArgBuf::new(args), t.ms(), self.as_ptr());
        // SAFETY: as submit_to_timeout.
        self.future_of(Ok, |cb, ud| unsafe {
            sys::jr_client_submit_to(
                raw,
                node.as_ptr(),
                buf.len(),
                buf.argv(),
                buf.lens(),
                ms,
                cb,
                ud,
            )
        })
    }

    // ---- credentials ----

    /// Rotates the credentials: every connection made from now on
    /// (reconnects, pooled, pub/sub and cluster node connections) sends AUTH
    /// with these (`username` `None`: password-only AUTH). Connections
    /// already authenticated are not touched. `Err(EINVAL)` for text with a
    /// NUL byte, `Err(ECLOSED)` after `drain`.
    pub fn set_auth(&self, username: Option<&str>, password: &str) -> Result<()> {
        let nul = |_| Error::from_code(code::EINVAL);
        let user = username.map(CString::new).transpose().map_err(nul)?;
        let pass = CString::new(password).map_err(nul)?;
        // SAFETY: valid handle and NUL-terminated strings (copied by libjr).
        check(unsafe {
            sys::jr_client_set_auth(
                self.as_ptr(),
                user.as_ref().map_or(std::ptr::null(), |u| u.as_ptr()),
                pass.as_ptr(),
            )
        })
    }
}
