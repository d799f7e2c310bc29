// SPDX-License-Identifier: MIT
//! Safe Rust binding of libjr, a pipelining, multiplexing Redis client core
//! with a stable C ABI (`jr.h`). Standard library only.
//!
//! ```no_run
//! let client = jr::Client::connect("127.0.0.1:6379")?;
//! client.call(&["SET", "greeting", "hello"])?;
//! assert_eq!(client.call(&["GET", "greeting"])?.as_str(), Some("hello"));
//!
//! // Eager futures: all 100 INCRs leave in one write.
//! let futures: Vec<_> = (0..100).map(|_| client.command(&["INCR", "n"])).collect();
//! for f in futures {
//!     f.wait()?;
//! }
//!
//! // An explicit pipeline: one call into libjr, one write, results in order.
//! let replies = jr::pipe().cmd(&["INCR", "n"]).cmd(&["GET", "n"]).query(&client);
//! assert_eq!(replies.len(), 2);
//!
//! match client.call(&["LPUSH", "greeting", "x"]) {
//!     Err(jr::Error::Server(msg)) => println!("the server said: {msg}"), // WRONGTYPE ...
//!     Err(jr::Error::Library { kind, unsent, message, .. }) => println!("{kind:?} {unsent} {message}"),
//!     Err(e) => println!("{e}"),
//!     Ok(r) => println!("{r:?}"),
//! }
//!
//! // Typed: FromReply converts a reply (nil is None).
//! let v: Option<String> = client.call_as(&["GET", "greeting"])?;
//! # Ok::<(), jr::Error>(())
//! ```
//!
//! With the cargo feature `tokio`, [`aio`] adds `client.get(key).await`,
//! `set`, `cmd`: `Send` futures woken from libjr's loop thread and
//! cancelled when dropped.
//!
//! Callbacks ([`Client::submit`]) run on libjr's loop thread (must not
//! block) or, with [`Options::poll_mode`], inside [`Client::dispatch`].
//! Panics in them are caught: a panic must not unwind into C.
#![deny(unsafe_op_in_unsafe_fn)]
#![allow(clippy::missing_safety_doc)]

#[cfg(feature = "tokio")]
pub mod aio;
mod args;
mod client;
mod cluster;
mod convert;
mod error;
pub mod options;
mod pipeline;
mod reply;
mod slot;
mod stats;
mod tx;

use std::ffi::CStr;
use std::future::Future;
use std::pin::pin;
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};
use std::thread::{self, Thread};

pub use client::{Client, Db, ReplyFuture, RequestId, Timeout};
pub use cluster::{AllMastersFuture, EndpointsFuture, MapFuture, Node, NodeReply};
pub use convert::FromReply;
pub use error::{code, Error, ErrorKind, Result};
pub use options::{resp3_supported, Event, Options};
pub use pipeline::{pipe, Pipeline, PipelineFuture, PipelineTarget};
pub use reply::Reply;
pub use stats::{EndpointStats, LatencyBucket, Stats};
pub use tx::{Message, Monitor, Subscriber, Transaction, Watch};

/// Re-export of the raw declarations.
pub use jr_sys as sys;

/// The library's version text ("0.1.0").
pub fn version() -> &'static str {
    // SAFETY: static NUL-terminated text.
    unsafe { CStr::from_ptr(sys::jr_version_string()) }
        .to_str()
        .unwrap_or("?")
}

/// Why libjr refuses a command (and which API to use instead), if it does.
pub fn refusal_reason(name: &str) -> Option<&'static str> {
    // SAFETY: name is valid for name.len() bytes; the result is static.
    let p = unsafe { sys::jr_refusal_reason(name.as_ptr().cast(), name.len()) };
    if p.is_null() {
        None
    } else {
        // SAFETY: static NUL-terminated text.
        unsafe { CStr::from_ptr(p) }.to_str().ok()
    }
}

struct ThreadWaker(Thread);

impl Wake for ThreadWaker {
    fn wake(self: Arc<Self>) {
        self.0.unpark();
    }
    fn wake_by_ref(self: &Arc<Self>) {
        self.0.unpark();
    }
}

/// Runs a future to completion on the calling thread (park/unpark). A tiny
/// executor for tests and simple programs; any executor works.
pub fn block_on<F: Future>(fut: F) -> F::Output {
    let waker = Waker::from(Arc::new(ThreadWaker(thread::current())));
    let mut cx = Context::from_waker(&waker);
    let mut fut = pin!(fut);
    loop {
        match fut.as_mut().poll(&mut cx) {
            Poll::Ready(v) => return v,
            Poll::Pending => thread::park(),
        }
    }
}
