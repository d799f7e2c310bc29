// SPDX-License-Identifier: MIT
//! GET throughput of `--tasks` callers each doing one command at a time (the
//! auto-pipelining case) through three APIs, interleaved, medians of
//! `--runs`:
//!   aio       tokio tasks awaiting `client.get(key)` (feature `tokio`)
//!   future    tokio tasks awaiting the runtime-free `client.command(..)`
//!   callback  `--tasks` `Client::submit` closures resubmitting themselves
//!             from libjr's loop thread (no runtime at all)
//!
//!   cargo run --release --features tokio --example aio_bench -- \
//!       [--endpoint 127.0.0.1:6379] [--tasks 64] [--secs 1] [--runs 3] [--workers 2]
//! Prints one line per API (cpu_us_per_op: the whole process's CPU time,
//! loop thread and runtime workers included, per GET; median of the runs):
//!   api=aio op=GET size=3 tasks=64 median_ops_per_s=N cpu_us_per_op=C runs=a,b,c
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use jr::{Client, Options};

const KEY: &str = "jr:bench:aio";

/// This process's user+system CPU seconds (/proc/self/stat, 100 ticks/s).
fn cpu_secs() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the ")" that closes the command name; utime, stime are
    // the 14th and 15th fields overall.
    let rest = stat.rsplit(')').next().unwrap_or("");
    let f: Vec<&str> = rest.split_whitespace().collect();
    let tick = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    (tick(11) + tick(12)) / 100.0
}

fn tokio_run(
    rt: &tokio::runtime::Runtime,
    c: &Arc<Client>,
    tasks: usize,
    secs: f64,
    aio: bool,
) -> f64 {
    let ops = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let t0 = Instant::now();
    let handles: Vec<_> = (0..tasks)
        .map(|_| {
            let (c, ops, stop) = (c.clone(), ops.clone(), stop.clone());
            rt.spawn(async move {
                let mut n = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    if aio {
                        c.get::<Option<Vec<u8>>>(KEY).await.expect("GET");
                    } else {
                        c.command(&["GET", KEY]).await.expect("GET");
                    }
                    n += 1;
                }
                ops.fetch_add(n, Ordering::Relaxed);
            })
        })
        .collect();
    std::thread::sleep(Duration::from_secs_f64(secs));
    stop.store(true, Ordering::Relaxed);
    let elapsed = t0.elapsed().as_secs_f64();
    rt.block_on(async {
        for h in handles {
            h.await.unwrap();
        }
    });
    ops.load(Ordering::Relaxed) as f64 / elapsed
}

fn slot(c: Arc<Client>, ops: Arc<AtomicU64>, stop: Arc<AtomicBool>, live: Arc<AtomicU64>) {
    let c2 = c.clone();
    c.submit(&["GET", KEY], move |r| {
        r.expect("GET");
        ops.fetch_add(1, Ordering::Relaxed);
        if stop.load(Ordering::Relaxed) {
            live.fetch_sub(1, Ordering::SeqCst);
        } else {
            slot(c2, ops, stop, live);
        }
    })
    .expect("submit");
}

fn callback_run(c: &Arc<Client>, tasks: usize, secs: f64) -> f64 {
    let ops = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let live = Arc::new(AtomicU64::new(tasks as u64));
    let t0 = Instant::now();
    for _ in 0..tasks {
        slot(c.clone(), ops.clone(), stop.clone(), live.clone());
    }
    std::thread::sleep(Duration::from_secs_f64(secs));
    let n = ops.load(Ordering::Relaxed);
    let elapsed = t0.elapsed().as_secs_f64();
    stop.store(true, Ordering::Relaxed);
    while live.load(Ordering::SeqCst) > 0 {
        std::thread::sleep(Duration::from_millis(1));
    }
    n as f64 / elapsed
}

fn main() {
    let mut endpoint = std::env::var("JR_BENCH_ENDPOINT").unwrap_or("127.0.0.1:6379".into());
    let (mut tasks, mut secs, mut runs, mut workers) = (64usize, 1.0f64, 3usize, 2usize);
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut v = || args.next().expect("missing value");
        match a.as_str() {
            "--endpoint" => endpoint = v(),
            "--tasks" => tasks = v().parse().expect("--tasks N"),
            "--secs" => secs = v().parse().expect("--secs S"),
            "--runs" => runs = v().parse().expect("--runs N"),
            "--workers" => workers = v().parse().expect("--workers N"),
            _ => {
                eprintln!("usage: aio_bench [--endpoint H:P] [--tasks N] [--secs S] [--runs N] [--workers N]");
                std::process::exit(2);
            }
        }
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(workers)
        .build()
        .expect("runtime");
    let c = Arc::new(Client::new(&Options::new().endpoint(&endpoint)).expect("client"));
    c.call(&["SET", KEY, "abc"]).expect("SET");
    tokio_run(&rt, &c, tasks, 0.2, true); // warm-up
    let apis = ["aio", "future", "callback"];
    let mut results: Vec<Vec<(f64, f64)>> = vec![Vec::new(); apis.len()];
    for _ in 0..runs {
        for (i, api) in apis.iter().enumerate() {
            let (cpu0, t0) = (cpu_secs(), Instant::now());
            let r = match *api {
                "aio" => tokio_run(&rt, &c, tasks, secs, true),
                "future" => tokio_run(&rt, &c, tasks, secs, false),
                _ => callback_run(&c, tasks, secs),
            };
            let ops = r * t0.elapsed().as_secs_f64();
            results[i].push((r, (cpu_secs() - cpu0) * 1e6 / ops));
        }
    }
    let median = |mut v: Vec<f64>| {
        v.sort_by(|a, b| a.partial_cmp(b).unwrap());
        v[v.len() / 2]
    };
    for (api, rs) in apis.iter().zip(results) {
        let list: Vec<String> = rs.iter().map(|r| format!("{:.0}", r.0)).collect();
        println!(
            "api={api} op=GET size=3 tasks={tasks} median_ops_per_s={:.0} cpu_us_per_op={:.2} runs={}",
            median(rs.iter().map(|r| r.0).collect()),
            median(rs.iter().map(|r| r.1).collect()),
            list.join(",")
        );
    }
}
