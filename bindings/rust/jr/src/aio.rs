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
//! An explicit pipeline, `jr::pipe().cmd(&[..]).cmd(&[..]).query_async(&client).await`
//! ([`Pipeline`](crate::Pipeline)), sends its commands in one libjr call and
//! returns each one's result, in order.
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
use std::ffi::c_void;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use jr_sys as sys;

use crate::args::ArgBuf;
use crate::client::{Client, Db, Target, Timeout};
use crate::convert::FromReply;
use crate::error::{Error, Result};
use crate::reply::Reply;
use crate::slot::{on_reply, on_reply_discard, Slot};

pub use crate::slot::live_slots;

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
    submit_with(client, target, args, timeout, convert, on_reply)
}

/// `submit` with the completion callback: `on_reply`, or `on_reply_discard`
/// when `convert` ignores a success's value.
fn submit_with<'a, A: AsRef<[u8]>, T>(
    client: &'a Client,
    target: Target,
    args: &[A],
    timeout: Timeout,
    convert: fn(Reply) -> Result<T>,
    cb: unsafe extern "C" fn(*mut c_void, std::ffi::c_int, *const sys::jr_reply),
) -> CmdFuture<'a, T> {
    let buf = ArgBuf::new(args);
    let slot = Arc::new(Slot::new());
    let ud = Arc::into_raw(slot.clone()).cast_mut().cast::<c_void>();
    // SAFETY: on success on_reply takes the reference back exactly once.
    let (rc, id) = unsafe { target.submit(&buf, timeout, Some(cb), ud) };
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
            // The OK is not copied: only an error is (on_reply_discard).
            submit_with(
                self.owner(),
                self.target(),
                &args,
                Timeout::Default,
                unit,
                on_reply_discard,
            )
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

/// The async pipeline (feature `tokio`), as redis-rs's `query_async`:
/// `let replies = jr::pipe().cmd(&["INCR", "n"]).cmd(&["GET", "k"]).query_async(&client).await;`
impl crate::Pipeline {
    /// Sends every command now (one libjr call, one write) and returns the
    /// future of their results, in order ([`submit`](crate::Pipeline::submit)).
    /// Dropping the future first cancels the commands still pending.
    pub fn query_async<'a>(
        &self,
        target: impl Into<crate::PipelineTarget<'a>>,
    ) -> crate::PipelineFuture<'a> {
        self.submit(target)
    }
}
