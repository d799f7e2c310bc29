// SPDX-License-Identifier: MIT
//! The tests talk to the redis-server named by JR_TEST_ENDPOINT
//! ("127.0.0.1:port"); bindings/rust/test.sh starts one.
#![allow(dead_code)]
use std::net::TcpListener;

pub fn endpoint() -> String {
    std::env::var("JR_TEST_ENDPOINT").expect(
        "set JR_TEST_ENDPOINT=127.0.0.1:<port> of a disposable redis-server \
         (bindings/rust/test.sh does this)",
    )
}

pub fn opts() -> jr::Options {
    jr::Options::new().endpoint(&endpoint())
}

pub fn client() -> jr::Client {
    jr::Client::new(&opts()).expect("client")
}

/// Says why a test skips, in the log of a passing run too (straight to
/// stderr: the test harness captures only the print macros).
pub fn skip(why: &str) {
    use std::io::Write;
    let _ = writeln!(std::io::stderr(), "{why}");
}

/// Whether a RESP3 test can run: this libjr speaks RESP3 (built with
/// hiredis >= 1.0). Without it the test says that it skips, unless
/// JR_EXPECT_RESP3=1 (scripts/test's run against the hiredis-1.2 libjr),
/// which fails it: a run against the wrong libjr cannot pass silently.
pub fn has_resp3(test: &str) -> bool {
    if jr::resp3_supported() {
        return true;
    }
    assert!(
        std::env::var("JR_EXPECT_RESP3").as_deref() != Ok("1"),
        "{test}: JR_EXPECT_RESP3=1, but this libjr was built without RESP3 (hiredis 0.14)"
    );
    skip(&format!(
        "{test}: SKIPPED: this libjr was built without RESP3 (hiredis 0.14)"
    ));
    false
}

/// A loopback port nobody listens on (a moment ago).
pub fn dead_endpoint() -> String {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    format!("127.0.0.1:{}", l.local_addr().unwrap().port())
}

/// A redis-server of the test's own (e.g. with `--requirepass`), on a free
/// loopback port; killed (by its PID) on drop.
pub struct RedisServer {
    pub port: u16,
    child: std::process::Child,
    dir: std::path::PathBuf,
}

impl RedisServer {
    pub fn start(extra: &[&str]) -> RedisServer {
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let dir = std::env::temp_dir().join(format!("jr-rs-test-{}-{port}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let child = std::process::Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .arg("--dir")
            .arg(&dir)
            .args(extra)
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("redis-server");
        let s = RedisServer { port, child, dir };
        for _ in 0..500 {
            let r = s.cmd(None, "PING");
            if r.contains("PONG") || r.contains("NOAUTH") {
                return s;
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        panic!("redis-server did not start");
    }

    pub fn endpoint(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// Runs an inline command on a side connection (after AUTH `auth`) and
    /// returns the raw reply bytes.
    pub fn cmd(&self, auth: Option<&str>, line: &str) -> String {
        use std::io::{Read, Write};
        let Ok(mut s) = std::net::TcpStream::connect(("127.0.0.1", self.port)) else {
            return String::new();
        };
        let mut msg = String::new();
        if let Some(a) = auth {
            msg += &format!("AUTH {a}\r\n");
        }
        msg += line;
        msg += "\r\n";
        if s.write_all(msg.as_bytes()).is_err() {
            return String::new();
        }
        let want = if auth.is_some() { 2 } else { 1 };
        s.set_read_timeout(Some(std::time::Duration::from_millis(300)))
            .unwrap();
        let mut out = Vec::new();
        let mut buf = [0u8; 4096];
        while out.iter().filter(|&&b| b == b'\n').count() < want {
            match s.read(&mut buf) {
                Ok(n) if n > 0 => out.extend_from_slice(&buf[..n]),
                _ => break,
            }
        }
        String::from_utf8_lossy(&out).into_owned()
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
