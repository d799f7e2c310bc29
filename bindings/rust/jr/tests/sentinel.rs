// SPDX-License-Identifier: MIT
//! Redis Sentinel through the typed options: a master and one sentinel
//! (`redis-server <conf> --sentinel`, with `requirepass`) of the test's
//! own, on free loopback ports, stopped by PID.
mod common;

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::RedisServer;
use jr::{Client, ErrorKind, Options};

const SENTINEL_PASS: &str = "sentinel-Secret-42";

struct Sentinel {
    port: u16,
    child: Child,
    dir: std::path::PathBuf,
}

impl Sentinel {
    fn start(master_port: u16) -> Sentinel {
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let dir =
            std::env::temp_dir().join(format!("jr-rs-sentinel-{}-{port}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let conf = dir.join("sentinel.conf");
        std::fs::write(
            &conf,
            format!(
                "port {port}\nbind 127.0.0.1\ndir {}\nrequirepass {SENTINEL_PASS}\n\
                 sentinel monitor mymaster 127.0.0.1 {master_port} 1\n\
                 sentinel down-after-milliseconds mymaster 1000\n",
                dir.display()
            ),
        )
        .unwrap();
        let child = Command::new("redis-server")
            .arg(&conf)
            .arg("--sentinel")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server --sentinel");
        let s = Sentinel { port, child, dir };
        // Ready when it names the master.
        let probe = Client::new(
            &Options::new()
                .endpoint(&s.endpoint())
                .password(SENTINEL_PASS)
                .log_to_facade(false),
        )
        .unwrap();
        let t0 = Instant::now();
        loop {
            let r = probe.call(&["SENTINEL", "get-master-addr-by-name", "mymaster"]);
            if matches!(&r, Ok(jr::Reply::Array(a)) if a.len() == 2) {
                return s;
            }
            assert!(t0.elapsed() < Duration::from_secs(10), "sentinel: {r:?}");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn endpoint(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }
}

impl Drop for Sentinel {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

#[test]
fn sentinel_options_find_the_master() {
    let master = RedisServer::start(&[]);
    let sentinel = Sentinel::start(master.port);
    let base = || {
        Options::new()
            // A sentinel that is down first: libjr asks the next one.
            .sentinel(&common::dead_endpoint())
            .sentinel(&sentinel.endpoint())
            .connect_retry(0)
            .connect_timeout(Duration::from_secs(2))
    };

    // Right name and the sentinel's password: commands reach the master.
    let c = Client::new(
        &base()
            .sentinel_master("mymaster")
            .sentinel_password(SENTINEL_PASS),
    )
    .unwrap();
    c.call(&["SET", "rs:sentinel", "via sentinel"]).unwrap();
    assert_eq!(
        master.cmd(None, "GET rs:sentinel"),
        "$12\r\nvia sentinel\r\n"
    );
    let eps: Vec<String> = c
        .endpoint_stats()
        .unwrap()
        .into_iter()
        .filter(|e| e.completed > 0)
        .map(|e| e.endpoint)
        .collect();
    assert_eq!(eps, [master.endpoint()]);

    // The same with a user name ("default" is the sentinel's requirepass user).
    let c = Client::new(
        &base()
            .sentinel_master("mymaster")
            .sentinel_username("default")
            .sentinel_password(SENTINEL_PASS),
    )
    .unwrap();
    c.call(&["PING"]).unwrap();

    // A wrong master name, or no password for the sentinel: a clear
    // connect error, not a hang. libjr gives no jr_error_detail for a
    // failed discovery (yet); the reason of each sentinel comes with the
    // CONNECT_FAILED event on endpoint "sentinel".
    for (what, opts, why) in [
        (
            "wrong master name",
            base()
                .sentinel_master("nosuchmaster")
                .sentinel_password(SENTINEL_PASS),
            "nosuchmaster",
        ),
        (
            "no sentinel password",
            base().sentinel_master("mymaster"),
            "NOAUTH",
        ),
    ] {
        let events = Arc::new(Mutex::new(Vec::new()));
        let ev = events.clone();
        let opts = opts.on_event(move |e, endpoint, detail| {
            if e == jr::Event::ConnectFailed && endpoint == "sentinel" {
                ev.lock().unwrap().push(detail.to_owned());
            }
        });
        let c = Client::new(&opts).unwrap();
        let t0 = Instant::now();
        let e = c.call(&["PING"]).unwrap_err();
        assert_eq!(e.kind(), Some(ErrorKind::Connect), "{what}: {e:?}");
        assert!(e.is_unsent(), "{what}: {e:?}");
        assert!(t0.elapsed() < Duration::from_secs(10), "{what}");
        let events = events.lock().unwrap().clone();
        assert!(
            events
                .iter()
                .any(|d| d.contains(why) && d.contains(&sentinel.endpoint())),
            "{what}: no CONNECT_FAILED naming {why} and the sentinel: {events:?}"
        );
        assert!(
            !events.iter().any(|d| d.contains(SENTINEL_PASS)),
            "{what}: the password leaked: {events:?}"
        );
    }
}
