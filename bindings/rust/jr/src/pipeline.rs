// SPDX-License-Identifier: MIT
//! Explicit pipelines: [`Pipeline`] on jr_client_submit_many.
use std::cell::UnsafeCell;
use std::ffi::{c_char, c_int, c_void};
use std::fmt;
use std::future::Future;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};

use jr_sys as sys;

use crate::client::{Client, Db, Target, Timeout};
use crate::error::{Error, Result};
use crate::reply::Reply;
use crate::slot::{outcome_from, Outcome, Slot};

/// A new, empty [`Pipeline`] (redis-rs's `redis::pipe()`).
pub fn pipe() -> Pipeline {
    Pipeline::new()
}

/// An explicit pipeline: many commands in one call (`jr_client_submit_many`),
/// one wake-up of libjr's loop thread, so the batch leaves in one write.
///
/// ```no_run
/// let client = jr::Client::connect("127.0.0.1:6379")?;
/// let replies = jr::pipe()
///     .cmd(&["SET", "k", "v"])
///     .cmd(&["INCR", "n"])
///     .cmd(&["GET", "k"])
///     .query(&client);
/// for r in replies {
///     println!("{:?}", r?);
/// }
/// # Ok::<(), jr::Error>(())
/// ```
///
/// The arguments are laid out once, in the [`Pipeline`]; `query` (or
/// [`submit`](Pipeline::submit), whose [`PipelineFuture`] any executor can
/// poll; `query_async` with the `tokio` feature) hands them to libjr in one
/// call, which copies them. Each command has its own result, in order: a
/// server error reply, or a command libjr refuses (`SELECT`, a command
/// over `max_queued_bytes`...), fails only its own, not the others. Not a
/// transaction (MULTI/EXEC: [`Client::multi`]).
///
/// Reusable: `query` does not consume it.
#[derive(Clone, Default)]
pub struct Pipeline {
    // Every argument's bytes, one after the other.
    bytes: Vec<u8>,
    // Each argument's length, in order.
    lens: Vec<usize>,
    // Each command's argument count.
    argcs: Vec<usize>,
    timeout: Timeout,
}

impl fmt::Debug for Pipeline {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Pipeline")
            .field("commands", &self.argcs.len())
            .field("bytes", &self.bytes.len())
            .field("timeout", &self.timeout)
            .finish()
    }
}

/// Where a pipeline goes: `&Client` or `&Db` (`From` both), so that
/// [`Pipeline::query`] takes either.
#[derive(Clone, Copy)]
pub struct PipelineTarget<'a> {
    target: Target,
    client: &'a Client,
}

impl fmt::Debug for PipelineTarget<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PipelineTarget")
    }
}

impl<'a> From<&'a Client> for PipelineTarget<'a> {
    fn from(c: &'a Client) -> PipelineTarget<'a> {
        PipelineTarget {
            target: c.target(),
            client: c,
        }
    }
}

impl<'a> From<&'a Db<'_>> for PipelineTarget<'a> {
    fn from(d: &'a Db<'_>) -> PipelineTarget<'a> {
        PipelineTarget {
            target: d.target(),
            client: d.client(),
        }
    }
}

impl Pipeline {
    /// An empty pipeline (deadline: the client's `command_timeout_ms`).
    pub fn new() -> Pipeline {
        Pipeline::default()
    }

    /// Appends a command (its arguments are copied now; binary safe).
    pub fn cmd<A: AsRef<[u8]>>(&mut self, args: &[A]) -> &mut Pipeline {
        for a in args {
            let a = a.as_ref();
            self.bytes.extend_from_slice(a);
            self.lens.push(a.len());
        }
        self.argcs.push(args.len());
        self
    }

    /// The deadline of each command (as [`Client::call_timeout`]'s).
    pub fn timeout(&mut self, timeout: impl Into<Timeout>) -> &mut Pipeline {
        self.timeout = timeout.into();
        self
    }

    /// How many commands it holds.
    pub fn len(&self) -> usize {
        self.argcs.len()
    }

    /// Whether it holds no command.
    pub fn is_empty(&self) -> bool {
        self.argcs.is_empty()
    }

    /// Removes every command (keeps the deadline and the buffers).
    pub fn clear(&mut self) {
        self.bytes.clear();
        self.lens.clear();
        self.argcs.clear();
    }

    /// Sends every command and waits for all the results, in order (a
    /// command libjr refused, e.g. a blocking one or over `max_queued_bytes`,
    /// has its error there; the others still ran). Blocks the calling thread:
    /// not on libjr's loop thread (in a callback), where the results could
    /// never arrive. In async code `.await` [`submit`](Self::submit).
    pub fn query<'a>(&self, target: impl Into<PipelineTarget<'a>>) -> Vec<Result<Reply>> {
        crate::block_on(self.submit(target))
    }

    /// Sends every command now (one libjr call) and returns the future of
    /// their results. Dropping it before they all arrived cancels those
    /// still pending (`jr_cancel`).
    pub fn submit<'a>(&self, target: impl Into<PipelineTarget<'a>>) -> PipelineFuture<'a> {
        let PipelineTarget { target, client } = target.into();
        let n = self.argcs.len();
        let batch = Batch::new(n);
        // The argument vectors: pointers into self.bytes / self.lens.
        let base = self.bytes.as_ptr();
        let mut off = 0usize;
        let ptrs: Vec<*const c_char> = self
            .lens
            .iter()
            .map(|&l| {
                // SAFETY: off + l <= bytes.len() (the lengths sum to it).
                let p = unsafe { base.add(off) }.cast::<c_char>();
                off += l;
                p
            })
            .collect();
        let mut argvs = Vec::with_capacity(n);
        let mut argvlens = Vec::with_capacity(n);
        let mut first = 0usize;
        for &argc in &self.argcs {
            // SAFETY: first + argc <= ptrs.len() (the counts sum to it);
            // add(len) is one past the end at most.
            argvs.push(unsafe { ptrs.as_ptr().add(first) });
            argvlens.push(unsafe { self.lens.as_ptr().add(first) });
            first += argc;
        }
        let uds: Vec<*mut c_void> = batch
            .cells
            .iter()
            .map(|c| (c as *const Cell).cast_mut().cast::<c_void>())
            .collect();
        let mut rcs = vec![0 as c_int; n];
        let mut ids = vec![0u64; n];
        // The callbacks' one reference to the batch, released by whoever
        // completes it (see Batch).
        let leaked = Arc::into_raw(batch.clone());
        // SAFETY: the arrays have n entries each, valid for the call (libjr
        // copies the arguments); where rcs[i] == 0 on_cell runs once with
        // uds[i], which points into the batch kept alive by `leaked`.
        let rc = unsafe {
            target.submit_many(
                &self.argcs,
                &argvs,
                &argvlens,
                self.timeout,
                Some(on_cell),
                &uds,
                &mut rcs,
                &mut ids,
            )
        };
        let mut refused = 0usize;
        for (i, cell) in batch.cells.iter().enumerate() {
            // The whole call refused (JR_EINVAL): every command; otherwise
            // those with rcs[i] != 0 (no callback for them).
            let code = if rc < 0 { rc } else { rcs[i] };
            if code != 0 {
                // SAFETY: no callback will write this cell; the receiver
                // reads it only after the batch is done (below, at the
                // earliest).
                unsafe { *cell.value.get() = Some(Outcome::Done(Err(Error::from_code(code)))) };
                refused += 1;
                ids[i] = 0;
            }
        }
        // Our guard (the +1 of Batch::new) and the refused commands.
        // SAFETY: leaked is the reference made above, released once.
        unsafe { Batch::settle(leaked, refused + 1) };
        PipelineFuture {
            client,
            ids,
            batch: Some(batch),
        }
    }
}

// ---- The batch: one completion counter and one slot for n commands.
//
// `remaining` starts at n + 1: one per command and a guard for the
// submitter. Each callback writes its own cell, then decrements (AcqRel);
// the submitter fills the refused commands' cells and subtracts them and
// its guard. Whoever brings it to 0 has seen every cell written (each write
// happens before its decrement; the last decrement acquires them all): it
// publishes the slot (Release: the receiver's Acquire of DONE makes the
// cells readable) and releases the callbacks' reference to the batch (one
// `Arc` reference for all of them, leaked at submit). A callback that is
// not the last touches nothing after its decrement. The slot is the
// single-command futures' (crate::slot): its waker protocol, CLOSED for a
// dropped future (the callbacks then skip the copy), its value unused.
struct Batch {
    slot: Slot,
    remaining: AtomicUsize,
    cells: Box<[Cell]>,
}

/// One command's result, written once (by its callback or, refused, by the
/// submitter) before the batch completes, read only after.
struct Cell {
    batch: *const Batch,
    value: UnsafeCell<Option<Outcome>>,
}

// SAFETY: the cells are written and read under the protocol above (one
// writer each, hand-over by AcqRel atomics); Outcome is Send.
unsafe impl Send for Batch {}
unsafe impl Sync for Batch {}

impl Batch {
    fn new(n: usize) -> Arc<Batch> {
        Arc::new_cyclic(|me| Batch {
            slot: Slot::new(),
            remaining: AtomicUsize::new(n + 1),
            cells: (0..n)
                .map(|_| Cell {
                    batch: me.as_ptr(),
                    value: UnsafeCell::new(None),
                })
                .collect(),
        })
    }

    /// Counts `k` completions; the last one completes the batch.
    ///
    /// # Safety
    /// `me` is the callbacks' leaked reference; after this call the caller
    /// must not touch the batch through it (it may be freed).
    unsafe fn settle(me: *const Batch, k: usize) {
        // SAFETY: alive: the leaked reference is released only below.
        let prev = unsafe { &*me }.remaining.fetch_sub(k, Ordering::AcqRel);
        if prev == k {
            // SAFETY: the leaked reference, taken back once (by the last).
            let me = unsafe { Arc::from_raw(me) };
            // A panic (a waker's) must not unwind into C, nor skip the
            // release of the reference.
            let _ = catch_unwind(AssertUnwindSafe(|| {
                // SAFETY: the last: every cell is written; the slot's one
                // completion.
                unsafe { me.slot.publish(None) }
            }));
        }
    }
}

/// The C callback of every command of a pipeline: `ud` is its cell.
unsafe extern "C" fn on_cell(ud: *mut c_void, status: c_int, reply: *const sys::jr_reply) {
    // SAFETY: ud is &batch.cells[i] of a batch kept alive by the callbacks'
    // reference until the last of them settles (libjr calls each once).
    let cell = unsafe { &*ud.cast_const().cast::<Cell>() };
    let batch = cell.batch;
    // A panic must not unwind into C; settle even then.
    let _ = catch_unwind(AssertUnwindSafe(|| {
        // SAFETY: alive (above).
        if !unsafe { &*batch }.slot.is_closed() {
            // SAFETY: inside the callback; this cell's one writer.
            let v = unsafe { outcome_from::<false>(status, reply) };
            unsafe { *cell.value.get() = Some(v) };
        }
    }));
    // SAFETY: one completion; the cell is not touched after it.
    unsafe { Batch::settle(batch, 1) };
}

/// The results of a submitted [`Pipeline`], in order. Borrows the client;
/// `Send`; works with any executor ([`block_on`](crate::block_on) too).
/// Dropping it before it completed cancels the commands still pending.
#[must_use = "the commands were submitted; dropping the future cancels them"]
pub struct PipelineFuture<'a> {
    client: &'a Client,
    // 0 for a refused command.
    ids: Vec<u64>,
    // None after Ready.
    batch: Option<Arc<Batch>>,
}

impl PipelineFuture<'_> {
    /// How many commands it waits for (all of the pipeline's).
    pub fn len(&self) -> usize {
        self.ids.len()
    }

    /// Whether the pipeline was empty.
    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }

    /// Blocks the calling thread until every result arrived.
    pub fn wait(self) -> Vec<Result<Reply>> {
        crate::block_on(self)
    }
}

impl fmt::Debug for PipelineFuture<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PipelineFuture")
            .field("commands", &self.ids.len())
            .finish()
    }
}

// Not self-referential.
impl Unpin for PipelineFuture<'_> {}

impl Future for PipelineFuture<'_> {
    type Output = Vec<Result<Reply>>;
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Vec<Result<Reply>>> {
        let batch = match &self.batch {
            Some(b) => b,
            None => panic!("jr::PipelineFuture polled after it completed"),
        };
        // SAFETY: &mut self: the one receiver; batch is None after Ready.
        if unsafe { batch.slot.poll(cx) }.is_pending() {
            return Poll::Pending;
        }
        let batch = self.batch.take().expect("checked above");
        let out = batch
            .cells
            .iter()
            .map(|c| {
                // SAFETY: DONE seen (Acquire): every cell written, and no
                // writer is left.
                match unsafe { (*c.value.get()).take() } {
                    Some(o) => o.into_result(),
                    None => Err(Error::from_code(sys::JR_EINTERNAL)),
                }
            })
            .collect();
        Poll::Ready(out)
    }
}

impl Drop for PipelineFuture<'_> {
    fn drop(&mut self) {
        let Some(batch) = self.batch.take() else {
            return;
        };
        if batch.slot.close() {
            // Not complete: cancel what is pending. A command that completed
            // meanwhile makes its cancel a JR_ENOENT no-op (ids carry a
            // generation). Each callback still runs once and the last
            // releases the batch.
            for &id in self.ids.iter().filter(|&&id| id != 0) {
                // SAFETY: the client outlives us (borrowed); any id is fine.
                unsafe { sys::jr_cancel(self.client.raw.as_ptr(), id) };
            }
        }
    }
}
