// SPDX-License-Identifier: MIT
//! Heap allocations the binding makes per command, counted by a global
//! allocator (Rust's allocations on every thread, libjr's loop thread
//! included; libjr's own C allocations are not counted). A GET of a bulk
//! string costs two: the completion slot shared by the future and the
//! callback, and the value's `Vec`. A third (a boxed closure, a lock's
//! state) would be a regression of the hot path of bench/peers.sh.
mod common;

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

use common::client;

struct Counting;

static ALLOCS: AtomicUsize = AtomicUsize::new(0);

// SAFETY: forwards to the system allocator; only counts.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        ALLOCS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: the caller's contract, passed on.
        unsafe { System.alloc(l) }
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        // SAFETY: as above.
        unsafe { System.dealloc(p, l) }
    }
    unsafe fn realloc(&self, p: *mut u8, l: Layout, n: usize) -> *mut u8 {
        ALLOCS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: as above.
        unsafe { System.realloc(p, l, n) }
    }
}

#[global_allocator]
static A: Counting = Counting;

/// Allocations per run of `f(n)`, with the cost of one run of `f(small)`
/// taken off (setup); the mean over the difference, rounded up.
fn per_op(mut f: impl FnMut(usize)) -> f64 {
    let (small, big) = (200, 2200);
    f(small); // warm: the client's pools, the thread's first allocations
    let a0 = ALLOCS.load(Ordering::SeqCst);
    f(small);
    let a1 = ALLOCS.load(Ordering::SeqCst);
    f(big);
    let a2 = ALLOCS.load(Ordering::SeqCst);
    ((a2 - a1) as f64 - (a1 - a0) as f64) / (big - small) as f64
}

// One test function: the counter is global, a concurrent test would count
// into it.
#[test]
fn allocations_per_command() {
    let c = client();
    let key = "rs:alloc:v";
    c.call(&["SET", key, &"x".repeat(1000)]).unwrap();

    // The runtime-free future (Client::command), awaited in one block_on.
    let n = per_op(|n| {
        jr::block_on(async {
            for _ in 0..n {
                let r = c.command(&["GET", key]).await.unwrap();
                assert_eq!(r.as_bytes().map(<[u8]>::len), Some(1000));
            }
        })
    });
    println!("command GET: {n:.2} allocations per command");
    assert!(
        n <= 2.05,
        "command GET: {n:.2} allocations per command (2 expected)"
    );

    // The callback API: the boxed closure and the value.
    let n = per_op(|n| {
        for _ in 0..n {
            let (tx, rx) = std::sync::mpsc::sync_channel(1);
            c.submit(&["GET", key], move |r| tx.send(r.is_ok()).unwrap())
                .unwrap();
            assert!(rx.recv().unwrap());
        }
    });
    println!("submit GET: {n:.2} allocations per command (channel included)");

    // The `tokio` feature's future, awaited without a runtime (the futures
    // need none): the slot and the value, converted to Option<Vec<u8>>
    // and to Option<String> without a copy.
    #[cfg(feature = "tokio")]
    {
        let n = per_op(|n| {
            jr::block_on(async {
                for _ in 0..n {
                    let v: Option<Vec<u8>> = c.get(key).await.unwrap();
                    assert_eq!(v.map(|v| v.len()), Some(1000));
                }
            })
        });
        println!("aio get::<Option<Vec<u8>>>: {n:.2} allocations per command");
        assert!(
            n <= 2.05,
            "aio GET: {n:.2} allocations per command (2 expected)"
        );
        let n = per_op(|n| {
            jr::block_on(async {
                for _ in 0..n {
                    let v: Option<String> = c.get(key).await.unwrap();
                    assert_eq!(v.map(|v| v.len()), Some(1000));
                }
            })
        });
        println!("aio get::<Option<String>>: {n:.2} allocations per command");
        assert!(
            n <= 2.05,
            "aio GET as String: {n:.2} allocations per command (2 expected)"
        );
        let n = per_op(|n| {
            jr::block_on(async {
                for _ in 0..n {
                    c.set(key, "y".repeat(1000)).await.unwrap();
                }
            })
        });
        // The argument's String (the test's own) and the slot.
        println!("aio set: {n:.2} allocations per command (the value's String included)");
        assert!(
            n <= 2.05,
            "aio SET: {n:.2} allocations per command (2 expected)"
        );
    }
}
