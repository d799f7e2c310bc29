// SPDX-License-Identifier: MIT
//! Pipelined GET throughput through the Rust binding, closed loop, like
//! bench/jr-benchmark's harness mode (`--depth` commands in flight on the one
//! shared connection, every completion resubmits its slot).
//!
//!   cargo run --offline --release --example bench -- \
//!       [--endpoint 127.0.0.1:6379] [--depth 256] [--secs 2] [--size 3] \
//!       [--mode callback|future|both]
//!
//! callback: `Client::submit` closures resubmit from libjr's loop thread (the
//!           same model as `jr-benchmark --threads 0`).
//! future:   one thread keeps a window of `depth` eager `ReplyFuture`s:
//!           wait for the oldest, submit a new one.
//! Prints one line per mode:
//!   client=rust-callback op=GET size=3 depth=256 ops=N secs=S ops_per_s=R errors=E
use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use jr::{Client, Options};

const KEY: &str = "jr:bench:key";

struct Stats {
    ops: AtomicU64,
    errors: AtomicU64,
    stop: AtomicBool,
    inflight: Mutex<usize>,
    idle: Condvar,
}

fn slot(c: Arc<Client>, st: Arc<Stats>) {
    let c2 = c.clone();
    let submitted = c.submit(&["GET", KEY], move |r| {
        if r.is_err() {
            st.errors.fetch_add(1, Ordering::Relaxed);
        }
        st.ops.fetch_add(1, Ordering::Relaxed);
        if !st.stop.load(Ordering::Relaxed) {
            slot(c2, st);
        } else {
            let mut n = st.inflight.lock().unwrap();
            *n -= 1;
            if *n == 0 {
                st.idle.notify_all();
            }
        }
    });
    if submitted.is_err() {
        panic!("submit failed: {submitted:?}");
    }
}

fn run_callback(c: &Arc<Client>, depth: usize, secs: f64) -> (u64, f64, u64) {
    let st = Arc::new(Stats {
        ops: AtomicU64::new(0),
        errors: AtomicU64::new(0),
        stop: AtomicBool::new(false),
        inflight: Mutex::new(depth),
        idle: Condvar::new(),
    });
    let t0 = Instant::now();
    for _ in 0..depth {
        slot(c.clone(), st.clone());
    }
    std::thread::sleep(Duration::from_secs_f64(secs));
    let ops = st.ops.load(Ordering::Relaxed);
    let elapsed = t0.elapsed().as_secs_f64();
    st.stop.store(true, Ordering::Relaxed);
    let mut n = st.inflight.lock().unwrap();
    while *n > 0 {
        n = st.idle.wait(n).unwrap();
    }
    (ops, elapsed, st.errors.load(Ordering::Relaxed))
}

fn run_future(c: &Client, depth: usize, secs: f64) -> (u64, f64, u64) {
    let mut window: VecDeque<_> = (0..depth).map(|_| c.command(&["GET", KEY])).collect();
    let (mut ops, mut errors) = (0u64, 0u64);
    let t0 = Instant::now();
    let end = t0 + Duration::from_secs_f64(secs);
    loop {
        let f = window.pop_front().unwrap();
        if f.wait().is_err() {
            errors += 1;
        }
        ops += 1;
        if ops % 1024 == 0 && Instant::now() >= end {
            break;
        }
        window.push_back(c.command(&["GET", KEY]));
    }
    let elapsed = t0.elapsed().as_secs_f64();
    for f in window {
        let _ = f.wait();
    }
    (ops, elapsed, errors)
}

fn main() {
    let mut endpoint = std::env::var("JR_BENCH_ENDPOINT").unwrap_or("127.0.0.1:6379".into());
    let (mut depth, mut secs, mut size, mut mode) = (256usize, 2.0f64, 3usize, "both".to_string());
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut v = || args.next().expect("missing value");
        match a.as_str() {
            "--endpoint" => endpoint = v(),
            "--depth" => depth = v().parse().expect("--depth N"),
            "--secs" => secs = v().parse().expect("--secs S"),
            "--size" => size = v().parse().expect("--size N"),
            "--mode" => mode = v(),
            _ => {
                eprintln!("usage: bench [--endpoint H:P] [--depth N] [--secs S] [--size N] [--mode callback|future|both]");
                std::process::exit(2);
            }
        }
    }
    let c = Arc::new(Client::new(&Options::new().endpoint(&endpoint)).expect("client"));
    c.call(&["SET", KEY, &"x".repeat(size)]).expect("SET");
    // Warm up the connection and the allocator.
    run_future(&c, depth, 0.2);
    let modes: Vec<&str> = match mode.as_str() {
        "both" => vec!["callback", "future"],
        m => vec![m],
    };
    for m in modes {
        let (ops, elapsed, errors) = match m {
            "callback" => run_callback(&c, depth, secs),
            "future" => run_future(&c, depth, secs),
            other => panic!("unknown mode {other}"),
        };
        println!(
            "client=rust-{m} op=GET size={size} depth={depth} ops={ops} secs={elapsed:.3} \
             ops_per_s={:.0} errors={errors}",
            ops as f64 / elapsed
        );
    }
}
