// SPDX-License-Identifier: MIT
//! Observability: the counters against what each test did, the latency
//! histogram against known delays (`DEBUG SLEEP`), the Prometheus text, and
//! libjr's logs through the `log` facade (levels, no credentials, a
//! panicking logger).
mod common;

use std::sync::Mutex;
use std::time::{Duration, Instant};

use common::{dead_endpoint, has_resp3, RedisServer};
use jr::{code, Client, Options};

/// Every record of target "jr": (level, message).
static RECORDS: Mutex<Vec<(log::Level, String)>> = Mutex::new(Vec::new());
/// A logger that panics on a record naming this text (proves the binding
/// catches it on the loop thread).
static PANIC_ON: Mutex<String> = Mutex::new(String::new());

struct TestLogger;

impl log::Log for TestLogger {
    fn enabled(&self, m: &log::Metadata<'_>) -> bool {
        m.target() == "jr"
    }
    fn log(&self, r: &log::Record<'_>) {
        if !self.enabled(r.metadata()) {
            return;
        }
        let msg = r.args().to_string();
        let bomb = PANIC_ON.lock().unwrap().clone();
        RECORDS.lock().unwrap().push((r.level(), msg.clone()));
        if !bomb.is_empty() && msg.contains(&bomb) {
            panic!("the test logger panics on {bomb}");
        }
    }
    fn flush(&self) {}
}

static LOGGER: TestLogger = TestLogger;

fn install_logger(max: log::LevelFilter) {
    let _ = log::set_logger(&LOGGER);
    log::set_max_level(max);
}

fn records_with(text: &str) -> Vec<(log::Level, String)> {
    RECORDS
        .lock()
        .unwrap()
        .iter()
        .filter(|(_, m)| m.contains(text))
        .cloned()
        .collect()
}

/// Waits until `f` holds (the loop thread counts after it completes).
fn eventually(what: &str, mut f: impl FnMut() -> bool) {
    let t0 = Instant::now();
    while !f() {
        assert!(t0.elapsed() < Duration::from_secs(5), "never: {what}");
        std::thread::sleep(Duration::from_millis(5));
    }
}

#[test]
fn counters_match_what_the_test_did() {
    let s = RedisServer::start(&["--enable-debug-command", "yes"]);
    let c = Client::new(&Options::new().endpoint(&s.endpoint())).unwrap();
    assert_eq!(c.stats().unwrap(), jr::Stats::default());
    assert!(c.endpoint_stats().unwrap().is_empty());

    // 100 pipelined commands, one server error, one deadline that passes.
    let futures: Vec<_> = (0..100)
        .map(|i| c.command(&["SET", "k", &i.to_string()]))
        .collect();
    for f in futures {
        f.wait().unwrap();
    }
    assert!(c.call(&["LPUSH", "k", "x"]).is_err()); // WRONGTYPE
    let e = c
        .call_timeout(&["DEBUG", "SLEEP", "0.2"], Duration::from_millis(30))
        .unwrap_err();
    assert_eq!(e.code(), Some(code::ETIMEDOUT));
    let id = c.call(&["CLIENT", "ID"]).unwrap().as_int().unwrap();
    let st = c.stats().unwrap();
    assert_eq!((st.submitted, st.completed), (103, 103), "{st:?}");
    assert_eq!((st.server_errors, st.library_errors), (1, 1), "{st:?}");
    assert_eq!((st.timeouts, st.cancels), (1, 0), "{st:?}");
    // `queued` drops when the loop thread releases a request, a moment
    // after the caller has its reply.
    assert_eq!(st.in_flight, 0, "{st:?}");
    assert!(st.queued <= 1, "{st:?}");
    assert_eq!(
        (st.connects, st.disconnects, st.redirects),
        (1, 0, 0),
        "{st:?}"
    );
    assert_eq!(st.connect_failures, 0);
    // 100 SETs of "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1..3\r\n<i>\r\n" at least.
    assert!(st.bytes_written > 100 * 25, "{st:?}");
    assert!(st.bytes_read >= 100 * 5, "{st:?}"); // +OK\r\n each

    // A kill: one disconnect, then one connect for the next command.
    let killer = Client::new(&Options::new().endpoint(&s.endpoint())).unwrap();
    killer
        .call(&["CLIENT", "KILL", "ID", &id.to_string()])
        .unwrap();
    eventually("the kill is seen", || c.stats().unwrap().disconnects == 1);
    // Past the DEBUG SLEEP above, so the PING is not queued behind it.
    c.call_timeout(&["PING"], Duration::from_secs(5)).unwrap();
    let st = c.stats().unwrap();
    assert_eq!((st.connects, st.disconnects), (2, 1), "{st:?}");
    assert_eq!(st.completed, 104, "{st:?}");
    eventually("every request released", || c.stats().unwrap().queued == 0);

    let eps = c.endpoint_stats().unwrap();
    assert_eq!(eps.len(), 1, "{eps:?}");
    let ep = &eps[0];
    assert_eq!(ep.endpoint, s.endpoint());
    assert_eq!(
        (ep.connects, ep.disconnects, ep.connections),
        (2, 1, 1),
        "{ep:?}"
    );
    assert_eq!(ep.server_errors, 1);
    assert!(
        ep.completed >= 103 && ep.completed <= st.completed,
        "{ep:?}"
    );
    assert_eq!(ep.bytes_written, st.bytes_written);

    // A dead endpoint: a connect failure, counted and attributed.
    let dead = dead_endpoint();
    let d = Client::new(&Options::new().endpoint(&dead).connect_retry(0)).unwrap();
    assert_eq!(d.call(&["PING"]).unwrap_err().code(), Some(code::ECONNECT));
    let st = d.stats().unwrap();
    assert_eq!(
        (st.completed, st.library_errors, st.connects),
        (1, 1, 0),
        "{st:?}"
    );
    assert_eq!(st.connect_failures, 1, "{st:?}");
    let eps = d.endpoint_stats().unwrap();
    assert_eq!(
        (eps[0].endpoint.as_str(), eps[0].connect_failures),
        (dead.as_str(), 1)
    );
}

#[test]
fn latency_histogram_sees_known_delays() {
    let s = RedisServer::start(&["--enable-debug-command", "yes"]);
    let c = Client::new(&Options::new().endpoint(&s.endpoint())).unwrap();
    assert_eq!(c.latency(50.0).unwrap(), None);
    assert_eq!(c.latency(101.0).unwrap_err().code(), Some(code::EINVAL));
    assert_eq!(c.latency(f64::NAN).unwrap_err().code(), Some(code::EINVAL));
    c.call(&["PING"]).unwrap(); // connected: the rest measure commands only
    for _ in 0..30 {
        c.call(&["PING"]).unwrap();
    }
    for _ in 0..4 {
        c.call(&["DEBUG", "SLEEP", "0.05"]).unwrap();
    }
    // 35 requests: 31 quick, 4 of at least 50 ms (>= 10%).
    let p50 = c.latency(50.0).unwrap().unwrap();
    let p95 = c.latency(95.0).unwrap().unwrap();
    assert!(p50 < Duration::from_millis(40), "p50 {p50:?}");
    assert!(p95 >= Duration::from_millis(50), "p95 {p95:?}");
    assert!(p95 < Duration::from_secs(2), "p95 {p95:?}");
    let buckets = c.latency_buckets().unwrap();
    assert_eq!(buckets.iter().map(|b| b.count).sum::<u64>(), 35);
    assert_eq!(buckets.last().unwrap().upper, None);
    let slow: u64 = buckets
        .iter()
        .filter(|b| b.upper.map_or(true, |u| u > Duration::from_millis(50)))
        .map(|b| b.count)
        .sum();
    assert_eq!(slow, 4, "{buckets:?}");
}

#[test]
fn prometheus_text() {
    let s = RedisServer::start(&[]);
    let c = Client::new(&Options::new().endpoint(&s.endpoint())).unwrap();
    for _ in 0..7 {
        c.call(&["PING"]).unwrap();
    }
    let text = c.stats_text().unwrap();
    let ep = format!("endpoint=\"{}\"", s.endpoint());
    assert!(text.contains("# TYPE "), "{text}");
    assert!(text.contains("jr_request_duration_seconds"), "{text}");
    // The per-endpoint completion count says 7.
    let line = text
        .lines()
        .find(|l| l.starts_with("jr_") && l.contains("completed") && l.contains(&ep))
        .unwrap_or_else(|| panic!("no completed series for {ep}:\n{text}"));
    assert!(line.ends_with(" 7"), "{line}");
}

#[test]
fn logs_reach_the_log_facade_without_credentials() {
    install_logger(log::LevelFilter::Trace);
    // A wrong password: the handshake fails; the logs say so, never with
    // the password.
    let secret = "s3cr3t-Hunter2";
    let s = RedisServer::start(&["--requirepass", "right"]);
    let c = Client::new(
        &Options::new()
            .url(&format!("redis://alice:{secret}@{}", s.endpoint()))
            .connect_retry(0),
    )
    .unwrap();
    assert!(c.call(&["PING"]).is_err());
    drop(c);
    let ok = RedisServer::start(&[]);
    let c = Client::new(&Options::new().endpoint(&ok.endpoint())).unwrap();
    c.call(&["PING"]).unwrap();
    drop(c);
    let all = RECORDS.lock().unwrap().clone();
    assert!(!all.is_empty());
    for (_, m) in &all {
        assert!(
            !m.contains(secret) && !m.contains("alice"),
            "a credential in {m:?}"
        );
    }
    let bad = records_with(&s.endpoint());
    assert!(
        bad.iter().any(|(l, _)| *l <= log::Level::Warn),
        "no warning or error about {}: {bad:?}",
        s.endpoint()
    );
    let good = records_with(&ok.endpoint());
    assert!(
        good.iter()
            .any(|(l, m)| *l == log::Level::Info && m.contains("connected")),
        "no Info 'connected' for {}: {good:?}",
        ok.endpoint()
    );

    // Below the logger's level nothing is formatted or delivered.
    log::set_max_level(log::LevelFilter::Warn);
    let quiet = RedisServer::start(&[]);
    let c = Client::new(&Options::new().endpoint(&quiet.endpoint())).unwrap();
    c.call(&["PING"]).unwrap();
    drop(c);
    assert_eq!(records_with(&quiet.endpoint()), vec![]);

    // Off for one client.
    log::set_max_level(log::LevelFilter::Trace);
    let off = RedisServer::start(&[]);
    let c = Client::new(
        &Options::new()
            .endpoint(&off.endpoint())
            .log_to_facade(false),
    )
    .unwrap();
    c.call(&["PING"]).unwrap();
    drop(c);
    assert_eq!(records_with(&off.endpoint()), vec![]);

    // A logger that panics on the loop thread: caught, the client works.
    let boom = RedisServer::start(&[]);
    *PANIC_ON.lock().unwrap() = boom.endpoint();
    let c = Client::new(&Options::new().endpoint(&boom.endpoint())).unwrap();
    c.call(&["PING"]).unwrap();
    c.call(&["PING"]).unwrap();
    drop(c);
    PANIC_ON.lock().unwrap().clear();
    assert!(!records_with(&boom.endpoint()).is_empty());
}

/// Client-side caching through the typed options: the first read of a key
/// fills the cache, the next ones are hits (`cache_hits`), and another
/// client's write invalidates the key (`cache_invalidations`), so the next
/// read is fresh. `protocol` 2: the invalidations come on a connection of
/// libjr's own; 3: as pushes on the shared connection.
fn client_cache_counts_hits_and_invalidations(protocol: u8) {
    let s = RedisServer::start(&[]);
    let c = Client::new(
        &Options::new()
            .endpoint(&s.endpoint())
            .protocol(protocol)
            .client_cache(1 << 20)
            .client_cache_ttl(Duration::from_secs(60)),
    )
    .unwrap();
    let writer = Client::new(&Options::new().endpoint(&s.endpoint())).unwrap();
    writer.call(&["SET", "cc:k", "v1"]).unwrap();
    let get = || -> String { c.call_as(&["GET", "cc:k"]).unwrap() };
    // The first read misses; it fills the cache once tracking is on.
    eventually("a cache hit", || {
        assert_eq!(get(), "v1");
        c.stats().unwrap().cache_hits > 0
    });
    let hits = c.stats().unwrap().cache_hits;
    assert_eq!(get(), "v1");
    assert_eq!(c.stats().unwrap().cache_hits, hits + 1, "a cached GET");
    // Another connection's write: the server invalidates the key.
    let inv = c.stats().unwrap().cache_invalidations;
    writer.call(&["SET", "cc:k", "v2"]).unwrap();
    eventually("the invalidation", || {
        c.stats().unwrap().cache_invalidations > inv
    });
    assert_eq!(get(), "v2", "a read after the invalidation");
    let st = c.stats().unwrap();
    assert!(
        st.cache_hits >= 2 && st.cache_misses >= 2 && st.cache_invalidations >= 1,
        "{st:?}"
    );
}

#[test]
fn client_cache_resp2() {
    client_cache_counts_hits_and_invalidations(2);
}

/// Skipped without RESP3 in libjr (failed with JR_EXPECT_RESP3=1).
#[test]
fn client_cache_resp3() {
    if has_resp3("client_cache_resp3") {
        client_cache_counts_hits_and_invalidations(3);
    }
}
