// SPDX-License-Identifier: MIT
//! bench/peers.sh's Rust driver: libjr's binding (`jr`), redis-rs (one
//! multiplexed tokio connection, cloned into every task) and fred (one
//! client), each used the way its README shows, on one tokio multi-thread
//! runtime (the default: one worker per core).
//!
//!   jr-peers --endpoint 127.0.0.1:6379 [--clients jr,redis-rs,fred]
//!            [--ops GET,SET] [--sizes 3,1000] [--callers 1,64,1024]
//!            [--pipeline 100] [--secs 1] [--warmup 0.2] [--reps 3] [--count N]
//!
//! A cell is (op, size, callers): `callers` tokio tasks each await one
//! command at a time for `secs` seconds after `warmup`. `--pipeline P` adds,
//! per (op, size), one cell of one task sending batches of P commands (each
//! client's explicit pipeline: `jr::pipe()` (one jr_client_submit_many
//! call, `query_async`) for jr, `redis::pipe()`, fred's `pipeline()`); its
//! p50 is a batch's. Clients take turns cell by
//! cell (interleaved), `reps` times. Prints one line per measurement:
//!   sample lang=rust client=jr op=GET size=3 callers=64 rep=1 ops_per_s=N p50_us=X errors=E cs_per_op=C cpu_us_per_op=U
//! (cs_per_op, cpu_us_per_op: the process's context switches and CPU time,
//! all threads, per command while measuring; getrusage).
//!
//! Clients: `jr` is the binding's async API (feature `tokio`,
//! `client.get::<Option<Vec<u8>>>(key).await`, as redis-rs's line below
//! asks for `Option<Vec<u8>>`); `jr-future` (not in the default list) its
//! runtime-free `client.command(&["GET", key]).await`; `jr-eager` (not in
//! the default list either) is `jr` with the batches of before `jr::pipe()`:
//! P eager futures (`client.get(key)`, P separate submits), awaited in order.
//!
//! `--count N`: each cell runs exactly N commands (shared by its callers;
//! no warm-up, no clock), for counting instructions or allocations per
//! command under valgrind: run with two counts and divide the difference.
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use fred::prelude::{Builder as FredBuilder, ClientLike, Config as FredConfig, KeysInterface};
use redis::AsyncCommands;

#[derive(Clone)]
enum Conn {
    /// jr's async API (feature `tokio`): `client.get(key).await`.
    Jr(Arc<jr::Client>),
    /// jr's runtime-free futures (`client.command(&[..]).await`).
    JrFuture(Arc<jr::Client>),
    /// `Jr` whose batches are P eager futures instead of `jr::pipe()`.
    JrEager(Arc<jr::Client>),
    RedisRs(redis::aio::MultiplexedConnection),
    Fred(fred::prelude::Client),
}

#[derive(Clone, Copy, PartialEq)]
enum Op {
    Get,
    Set,
}

impl Conn {
    /// One command; false on an error reply or a failure.
    async fn one(&mut self, op: Op, key: &str, val: &[u8]) -> bool {
        match self {
            Conn::Jr(c) | Conn::JrEager(c) => jr_one(c, op, key, val).await,
            Conn::JrFuture(c) => jr_future_one(c, op, key, val).await,
            Conn::RedisRs(c) => redis_rs_one(c, op, key, val).await,
            Conn::Fred(c) => fred_one(c, op, key, val).await,
        }
    }

    /// An explicit pipeline of `n` commands; false if any failed.
    async fn batch(&mut self, op: Op, key: &str, val: &[u8], n: usize) -> bool {
        match self {
            Conn::Jr(c) => {
                let mut p = jr::pipe();
                for _ in 0..n {
                    match op {
                        Op::Get => p.cmd(&[b"GET".as_slice(), key.as_bytes()]),
                        Op::Set => p.cmd(&[b"SET".as_slice(), key.as_bytes(), val]),
                    };
                }
                let r = p.query_async(&**c).await;
                r.len() == n
                    && r.iter().all(|x| match op {
                        Op::Get => matches!(x, Ok(jr::Reply::Bulk(_))),
                        Op::Set => x.is_ok(),
                    })
            }
            Conn::JrEager(c) => {
                let mut ok = true;
                match op {
                    Op::Get => {
                        let futs: Vec<_> = (0..n).map(|_| c.get::<Option<Vec<u8>>>(key)).collect();
                        for f in futs {
                            ok &= matches!(f.await, Ok(Some(_)));
                        }
                    }
                    Op::Set => {
                        let futs: Vec<_> = (0..n).map(|_| c.set(key, val)).collect();
                        for f in futs {
                            ok &= f.await.is_ok();
                        }
                    }
                }
                ok
            }
            Conn::JrFuture(c) => {
                let futs: Vec<_> = (0..n)
                    .map(|_| match op {
                        Op::Get => c.command(&[b"GET".as_slice(), key.as_bytes()]),
                        Op::Set => c.command(&[b"SET".as_slice(), key.as_bytes(), val]),
                    })
                    .collect();
                let mut ok = true;
                for f in futs {
                    ok &= matches!(f.await, Ok(jr::Reply::Bulk(_)) | Ok(jr::Reply::Status(_)));
                }
                ok
            }
            Conn::RedisRs(c) => {
                let mut p = redis::pipe();
                for _ in 0..n {
                    match op {
                        Op::Get => p.get(key),
                        Op::Set => p.set(key, val),
                    };
                }
                match op {
                    Op::Get => p
                        .query_async::<Vec<Option<Vec<u8>>>>(c)
                        .await
                        .map(|v| v.len() == n && v.iter().all(|x| x.is_some()))
                        .unwrap_or(false),
                    Op::Set => p.query_async::<()>(c).await.is_ok(),
                }
            }
            Conn::Fred(c) => {
                let p = c.pipeline();
                for _ in 0..n {
                    let r = match op {
                        Op::Get => p.get::<(), _>(key).await,
                        Op::Set => {
                            p.set::<(), _, _>(key, val.to_vec(), None, None, false)
                                .await
                        }
                    };
                    if r.is_err() {
                        return false;
                    }
                }
                match op {
                    Op::Get => p
                        .all::<Vec<Option<fred::bytes::Bytes>>>()
                        .await
                        .map(|v| v.len() == n && v.iter().all(|x| x.is_some()))
                        .unwrap_or(false),
                    Op::Set => p.all::<Vec<fred::prelude::Value>>().await.is_ok(),
                }
            }
        }
    }
}

// One command of each client, a function each: a task's loop awaits its
// client's future in place (no box, no copy of the largest client's future
// per command; see `cell`).
async fn jr_one(c: &jr::Client, op: Op, key: &str, val: &[u8]) -> bool {
    match op {
        Op::Get => matches!(c.get::<Option<Vec<u8>>>(key).await, Ok(Some(_))),
        Op::Set => c.set(key, val).await.is_ok(),
    }
}

async fn jr_future_one(c: &jr::Client, op: Op, key: &str, val: &[u8]) -> bool {
    let r = match op {
        Op::Get => c.command(&[b"GET".as_slice(), key.as_bytes()]).await,
        Op::Set => c.command(&[b"SET".as_slice(), key.as_bytes(), val]).await,
    };
    matches!(r, Ok(jr::Reply::Bulk(_)) | Ok(jr::Reply::Status(_)))
}

async fn redis_rs_one(
    c: &mut redis::aio::MultiplexedConnection,
    op: Op,
    key: &str,
    val: &[u8],
) -> bool {
    match op {
        Op::Get => matches!(c.get::<_, Option<Vec<u8>>>(key).await, Ok(Some(_))),
        Op::Set => c.set::<_, _, ()>(key, val).await.is_ok(),
    }
}

async fn fred_one(c: &fred::prelude::Client, op: Op, key: &str, val: &[u8]) -> bool {
    match op {
        Op::Get => matches!(
            c.get::<Option<fred::bytes::Bytes>, _>(key).await,
            Ok(Some(_))
        ),
        Op::Set => c
            .set::<(), _, _>(key, val.to_vec(), None, None, false)
            .await
            .is_ok(),
    }
}

struct Args {
    endpoint: String,
    clients: Vec<String>,
    ops: Vec<String>,
    sizes: Vec<usize>,
    callers: Vec<usize>,
    pipeline: usize,
    secs: f64,
    warmup: f64,
    reps: usize,
    count: u64,
}

fn parse_args() -> Result<Args, String> {
    let mut a = Args {
        endpoint: "127.0.0.1:6379".into(),
        clients: vec!["jr".into(), "redis-rs".into(), "fred".into()],
        ops: vec!["GET".into(), "SET".into()],
        sizes: vec![3, 1000],
        callers: vec![1, 64, 1024],
        pipeline: 100,
        secs: 1.0,
        warmup: 0.2,
        reps: 3,
        count: 0,
    };
    let list = |v: &str| -> Vec<String> {
        v.split(',')
            .filter(|s| !s.is_empty())
            .map(String::from)
            .collect()
    };
    let nums = |v: &str| -> Result<Vec<usize>, String> {
        list(v)
            .iter()
            .map(|s| s.parse().map_err(|_| format!("not a number: {s}")))
            .collect()
    };
    let mut it = std::env::args().skip(1);
    while let Some(k) = it.next() {
        let v = it.next().ok_or_else(|| format!("{k} needs a value"))?;
        match k.as_str() {
            "--endpoint" => a.endpoint = v,
            "--clients" => a.clients = list(&v),
            "--ops" => a.ops = list(&v),
            "--sizes" => a.sizes = nums(&v)?,
            "--callers" => a.callers = nums(&v)?,
            "--pipeline" => a.pipeline = v.parse().map_err(|_| format!("bad --pipeline {v}"))?,
            "--secs" => a.secs = v.parse().map_err(|_| format!("bad --secs {v}"))?,
            "--warmup" => a.warmup = v.parse().map_err(|_| format!("bad --warmup {v}"))?,
            "--reps" => a.reps = v.parse().map_err(|_| format!("bad --reps {v}"))?,
            "--count" => a.count = v.parse().map_err(|_| format!("bad --count {v}"))?,
            _ => return Err(format!("unknown argument {k}")),
        }
    }
    for c in &a.clients {
        if !["jr", "jr-future", "jr-eager", "redis-rs", "fred"].contains(&c.as_str()) {
            return Err(format!(
                "unknown client {c} (jr, jr-future, jr-eager, redis-rs, fred)"
            ));
        }
    }
    for o in &a.ops {
        if o != "GET" && o != "SET" {
            return Err(format!("unknown op {o} (GET, SET)"));
        }
    }
    Ok(a)
}

async fn connect(name: &str, endpoint: &str) -> Result<Conn, String> {
    match name {
        "jr" => Ok(Conn::Jr(Arc::new(
            jr::Client::connect(endpoint).map_err(|e| format!("jr: {e}"))?,
        ))),
        "jr-future" => Ok(Conn::JrFuture(Arc::new(
            jr::Client::connect(endpoint).map_err(|e| format!("jr: {e}"))?,
        ))),
        "jr-eager" => Ok(Conn::JrEager(Arc::new(
            jr::Client::connect(endpoint).map_err(|e| format!("jr: {e}"))?,
        ))),
        "redis-rs" => {
            let c =
                redis::Client::open(format!("redis://{endpoint}/")).map_err(|e| e.to_string())?;
            Ok(Conn::RedisRs(
                c.get_multiplexed_async_connection()
                    .await
                    .map_err(|e| format!("redis-rs: {e}"))?,
            ))
        }
        "fred" => {
            let cfg =
                FredConfig::from_url(&format!("redis://{endpoint}/")).map_err(|e| e.to_string())?;
            let c = FredBuilder::from_config(cfg)
                .build()
                .map_err(|e| e.to_string())?;
            c.init().await.map_err(|e| format!("fred: {e}"))?;
            Ok(Conn::Fred(c))
        }
        _ => Err(format!("unknown client {name}")),
    }
}

/// The process's context switches (voluntary + involuntary) and CPU time
/// (user + system, in us), all threads.
fn usage() -> (f64, f64) {
    // SAFETY: getrusage fills the zeroed struct it is given.
    let mut u: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut u) };
    let us = |t: libc::timeval| t.tv_sec as f64 * 1e6 + t.tv_usec as f64;
    (
        (u.ru_nvcsw + u.ru_nivcsw) as f64,
        us(u.ru_utime) + us(u.ru_stime),
    )
}

/// What one cell measured.
struct Measured {
    ops_per_s: f64,
    p50_us: f64,
    errors: u64,
    cs_per_op: f64,
    cpu_us_per_op: f64,
}

/// Runs one cell.
async fn cell(
    conn: &Conn,
    op: Op,
    size: usize,
    callers: usize,
    pipeline: usize,
    secs: f64,
    warmup: f64,
    count: u64,
) -> Measured {
    let key: Arc<str> = match op {
        Op::Get => format!("peers:get:{size}").into(),
        Op::Set => format!("peers:set:{size}").into(),
    };
    let val: Arc<[u8]> = vec![b'x'; size].into();
    let measuring = Arc::new(AtomicBool::new(false));
    let stop = Arc::new(AtomicBool::new(false));
    let per = if pipeline > 0 { pipeline } else { 1 };
    // --count: the batches (or commands) left to start; i64::MAX: by time.
    let left = Arc::new(AtomicI64::new(if count > 0 {
        count.div_ceil(per as u64) as i64
    } else {
        i64::MAX
    }));
    let tasks: Vec<_> = (0..callers)
        .map(|_| {
            let (mut conn, key, val) = (conn.clone(), key.clone(), val.clone());
            let (measuring, stop, left) = (measuring.clone(), stop.clone(), left.clone());
            tokio::spawn(async move {
                // The loop, once per client: each awaits its own future in
                // place (a boxed `dyn Future` would copy the largest
                // client's future, fred's, for every command of every
                // client).
                macro_rules! drive {
                    ($call:expr) => {{
                        let mut lat: Vec<u32> = Vec::with_capacity(4096);
                        let mut errors = 0u64;
                        while !stop.load(Ordering::Relaxed)
                            && left.fetch_sub(1, Ordering::Relaxed) > 0
                        {
                            let t0 = Instant::now();
                            let ok = $call.await;
                            if measuring.load(Ordering::Relaxed) {
                                lat.push(t0.elapsed().as_nanos().min(u32::MAX as u128) as u32);
                                errors += u64::from(!ok);
                            }
                        }
                        (lat, errors)
                    }};
                }
                match &mut conn {
                    c if pipeline > 0 => drive!(c.batch(op, &key, &val, pipeline)),
                    Conn::Jr(c) | Conn::JrEager(c) => drive!(jr_one(c, op, &key, &val)),
                    Conn::JrFuture(c) => drive!(jr_future_one(c, op, &key, &val)),
                    Conn::RedisRs(c) => drive!(redis_rs_one(c, op, &key, &val)),
                    Conn::Fred(c) => drive!(fred_one(c, op, &key, &val)),
                }
            })
        })
        .collect();
    let mut all = Vec::new();
    let mut errors = 0;
    let (t0, u0, u1, elapsed);
    if count > 0 {
        measuring.store(true, Ordering::Relaxed);
        t0 = Instant::now();
        u0 = usage();
        for t in tasks {
            let (lat, e) = t.await.expect("a bench task panicked");
            all.extend(lat);
            errors += e;
        }
        u1 = usage();
        elapsed = t0.elapsed().as_secs_f64();
    } else {
        tokio::time::sleep(Duration::from_secs_f64(warmup)).await;
        measuring.store(true, Ordering::Relaxed);
        t0 = Instant::now();
        u0 = usage();
        tokio::time::sleep(Duration::from_secs_f64(secs)).await;
        measuring.store(false, Ordering::Relaxed);
        u1 = usage();
        elapsed = t0.elapsed().as_secs_f64();
        stop.store(true, Ordering::Relaxed);
        for t in tasks {
            let (lat, e) = t.await.expect("a bench task panicked");
            all.extend(lat);
            errors += e;
        }
    }
    let n = all.len();
    let p50 = if n == 0 {
        f64::NAN
    } else {
        let (_, m, _) = all.select_nth_unstable(n / 2);
        f64::from(*m) / 1000.0
    };
    let ops = ((n * per) as f64).max(1.0);
    Measured {
        ops_per_s: (n * per) as f64 / elapsed,
        p50_us: p50,
        errors,
        cs_per_op: (u1.0 - u0.0) / ops,
        cpu_us_per_op: (u1.1 - u0.1) / ops,
    }
}

fn main() {
    let a = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("jr-peers: {e}");
            std::process::exit(2);
        }
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    rt.block_on(async {
        let mut conns = Vec::new();
        for name in &a.clients {
            match connect(name, &a.endpoint).await {
                Ok(c) => conns.push((name.clone(), c)),
                Err(e) => {
                    eprintln!("jr-peers: {e}");
                    std::process::exit(1);
                }
            }
        }
        // The GET keys, written once by the first client.
        for &size in &a.sizes {
            let val = vec![b'x'; size];
            let mut c = conns[0].1.clone();
            if !c.one(Op::Set, &format!("peers:get:{size}"), &val).await {
                eprintln!("jr-peers: cannot SET peers:get:{size}");
                std::process::exit(1);
            }
        }
        let mut cells = Vec::new();
        for op in &a.ops {
            for &size in &a.sizes {
                for &callers in &a.callers {
                    cells.push((op.clone(), size, callers, 0));
                }
                if a.pipeline > 0 {
                    cells.push((op.clone(), size, 1, a.pipeline));
                }
            }
        }
        for rep in 1..=a.reps {
            for (op, size, callers, pipe) in &cells {
                for (name, conn) in &conns {
                    let o = if op == "GET" { Op::Get } else { Op::Set };
                    let m = cell(conn, o, *size, *callers, *pipe, a.secs, a.warmup, a.count).await;
                    let callers = if *pipe > 0 {
                        format!("{callers}x{pipe}")
                    } else {
                        callers.to_string()
                    };
                    println!(
                        "sample lang=rust client={name} op={op} size={size} callers={callers} \
                         rep={rep} ops_per_s={:.0} p50_us={:.1} errors={} cs_per_op={:.2} \
                         cpu_us_per_op={:.2}",
                        m.ops_per_s, m.p50_us, m.errors, m.cs_per_op, m.cpu_us_per_op
                    );
                }
            }
        }
    });
}
