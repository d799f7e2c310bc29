// SPDX-License-Identifier: MIT
//! The Redis Cluster calls, credential rotation and TLS options, against a
//! standalone server (JR_TEST_ENDPOINT, or servers of the tests' own).
mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Condvar, Mutex};
use std::time::Duration;

use common::{client, endpoint, opts, RedisServer};
use jr::{code, Client, Error, Event, Node, NodeReply, Options, Reply};

fn bulk(s: &str) -> Reply {
    Reply::Bulk(s.as_bytes().to_vec())
}

#[test]
fn endpoints_of_a_standalone_server() {
    let c = client();
    let nodes = c.endpoints().unwrap();
    assert_eq!(
        nodes,
        [Node {
            address: endpoint(),
            role: "standalone".into()
        }]
    );
    assert_eq!(jr::block_on(c.endpoints_future()).unwrap(), nodes);
    assert_eq!(c.endpoints_future().wait().unwrap(), nodes);
    // The closure gets the raw [[address, role]] reply.
    let (tx, rx) = mpsc::channel();
    c.submit_endpoints(move |r| tx.send(r).unwrap()).unwrap();
    let raw = rx.recv_timeout(Duration::from_secs(5)).unwrap().unwrap();
    assert_eq!(
        raw,
        Reply::Array(vec![Reply::Array(vec![
            bulk(&endpoint()),
            bulk("standalone")
        ])])
    );
    assert_eq!(Node::list(raw).unwrap(), nodes);
}

#[test]
fn blocking_calls_dispatch_in_poll_mode() {
    let c = Client::new(&opts().poll_mode()).unwrap();
    let nodes = c.endpoints().unwrap();
    assert_eq!(nodes.len(), 1);
    assert_eq!(nodes[0].role, "standalone");
    assert_eq!(
        c.call_to(&endpoint(), &["ECHO", "poll"]).unwrap().as_str(),
        Some("poll")
    );
    let err = c.call_all_masters(&["PING"]).unwrap_err();
    assert_eq!(err.code(), Some(code::ECLUSTER));
}

#[test]
fn all_masters_is_a_cluster_error_on_a_standalone_server() {
    let c = client();
    let err = c.call_all_masters(&["DBSIZE"]).unwrap_err();
    assert_eq!(err.code(), Some(code::ECLUSTER));
    assert_eq!(err.name(), "JR_ECLUSTER");
    assert!(err.is_unsent());
    let err = c
        .call_all_masters_timeout(&["DBSIZE"], Duration::from_secs(1))
        .unwrap_err();
    assert_eq!(err.code(), Some(code::ECLUSTER));
    let err = c.command_all_masters(&["DBSIZE"]).wait().unwrap_err();
    assert_eq!(err.code(), Some(code::ECLUSTER));
    let (tx, rx) = mpsc::channel();
    c.submit_all_masters(&["DBSIZE"], move |r| tx.send(r).unwrap())
        .unwrap();
    let r = rx.recv_timeout(Duration::from_secs(5)).unwrap();
    assert_eq!(r.unwrap_err().code(), Some(code::ECLUSTER));
    // Refused before anything is sent; the closure is dropped uncalled.
    let called = Arc::new(AtomicUsize::new(0));
    let c2 = called.clone();
    let err = c
        .submit_all_masters(&["SUBSCRIBE", "x"], move |_| {
            c2.fetch_add(1, Ordering::SeqCst);
        })
        .unwrap_err();
    assert_eq!(err.code(), Some(code::EREFUSED));
    assert_eq!(
        c.command_all_masters(&["SUBSCRIBE", "x"])
            .wait()
            .unwrap_err()
            .code(),
        Some(code::EREFUSED)
    );
    assert_eq!(called.load(Ordering::SeqCst), 0);
    assert_eq!(c.call(&["PING"]).unwrap().as_str(), Some("PONG"));
}

#[test]
fn node_replies_parse_node_failures_as_library_errors() {
    let raw = Reply::Array(vec![
        Reply::Array(vec![bulk("10.0.0.1:7000"), Reply::Integer(3)]),
        Reply::Array(vec![
            bulk("10.0.0.2:7000"),
            Reply::Error("JR_ECONNLOST: connection lost after the write".into()),
        ]),
        Reply::Array(vec![
            bulk("10.0.0.3:7000"),
            Reply::Error("ERR unknown command".into()),
        ]),
    ]);
    let got = NodeReply::list(raw).unwrap();
    assert_eq!(got.len(), 3);
    assert_eq!(got[0].address, "10.0.0.1:7000");
    assert_eq!(got[0].result, Ok(Reply::Integer(3)));
    assert_eq!(
        got[1].result.as_ref().unwrap_err().code(),
        Some(code::ECONNLOST)
    );
    assert_eq!(
        got[2].result,
        Err(Error::Server("ERR unknown command".into()))
    );
    // Another shape is a protocol error.
    let bad = NodeReply::list(Reply::Integer(1)).unwrap_err();
    assert_eq!(bad.code(), Some(code::EPROTO));
    let bad = Node::list(Reply::Array(vec![Reply::Array(vec![bulk("a")])])).unwrap_err();
    assert_eq!(bad.code(), Some(code::EPROTO));
}

#[test]
fn submit_to_the_servers_own_address() {
    let c = client();
    let node = endpoint(); // "127.0.0.1:port"
    assert_eq!(
        c.call_to(&node, &["SET", "rs:cl:to", "v1"])
            .unwrap()
            .as_str(),
        Some("OK")
    );
    assert_eq!(c.call(&["GET", "rs:cl:to"]).unwrap().as_str(), Some("v1"));
    assert_eq!(
        c.command_to(&node, &["GET", "rs:cl:to"])
            .wait()
            .unwrap()
            .as_str(),
        Some("v1")
    );
    assert_eq!(
        jr::block_on(c.command_to_timeout(&node, &["GET", "rs:cl:to"], Duration::from_secs(1)))
            .unwrap()
            .as_str(),
        Some("v1")
    );
    assert!(c
        .call_to_timeout(&node, &["PING"], Duration::from_secs(1))
        .is_ok());
    let (tx, rx) = mpsc::channel();
    c.submit_to(&node, &["INCRBY", "rs:cl:n", "0"], move |r| {
        tx.send(r).unwrap()
    })
    .unwrap();
    let r = rx.recv_timeout(Duration::from_secs(5)).unwrap().unwrap();
    assert!(r.as_int().is_some());
    // A server error is a server error, as for any command.
    match c.call_to(&node, &["NOSUCHCOMMAND"]) {
        Err(Error::Server(m)) => assert!(m.contains("unknown command"), "{m}"),
        other => panic!("expected a server error, got {other:?}"),
    }
    // Addresses that do not parse (or carry a NUL) are refused at the call.
    for bad in ["", "127.0.0.1:1\0"] {
        assert_eq!(
            c.call_to(bad, &["PING"]).unwrap_err().code(),
            Some(code::EINVAL)
        );
        assert_eq!(
            c.command_to(bad, &["PING"]).wait().unwrap_err().code(),
            Some(code::EINVAL)
        );
        assert_eq!(
            c.submit_to(bad, &["PING"], |_| {}).unwrap_err().code(),
            Some(code::EINVAL)
        );
    }
}

#[test]
fn blocking_cluster_calls_inside_a_callback_are_misuse_not_a_deadlock() {
    let c = Arc::new(client());
    let (tx, rx) = mpsc::channel();
    let c2 = c.clone();
    c.submit(&["PING"], move |_| {
        let a = c2.endpoints().map(|_| ());
        let b = c2.call_to(&endpoint(), &["PING"]).map(|_| ());
        let d = c2.call_all_masters(&["PING"]).map(|_| ());
        drop(c2);
        tx.send([a, b, d]).unwrap();
    })
    .unwrap();
    for r in rx.recv_timeout(Duration::from_secs(5)).unwrap() {
        assert_eq!(r.unwrap_err().code(), Some(code::EMISUSE));
    }
    // The future forms are fine there.
    let (tx, rx) = mpsc::channel();
    let c2 = c.clone();
    c.submit(&["PING"], move |_| {
        let f = c2.endpoints_future();
        drop(c2);
        tx.send(f).unwrap();
    })
    .unwrap();
    let f = rx.recv_timeout(Duration::from_secs(5)).unwrap();
    assert_eq!(f.wait().unwrap().len(), 1);
}

/// Counts disconnects (for a reconnect the test can wait for).
#[derive(Default)]
struct Disconnects {
    n: Mutex<usize>,
    cv: Condvar,
}

impl Disconnects {
    fn hook(self: &Arc<Self>) -> impl Fn(Event, &str, &str) + Send + Sync + 'static {
        let me = self.clone();
        move |ev, _, _| {
            if ev == Event::Disconnected {
                *me.n.lock().unwrap() += 1;
                me.cv.notify_all();
            }
        }
    }
    fn wait(&self, n: usize) {
        let g = self.n.lock().unwrap();
        let (g, _) = self
            .cv
            .wait_timeout_while(g, Duration::from_secs(5), |k| *k < n)
            .unwrap();
        assert!(*g >= n, "no disconnect seen");
    }
}

#[test]
fn set_auth_rotates_the_credentials_of_new_connections() {
    let s = RedisServer::start(&["--requirepass", "old-secret"]);
    let dis = Arc::new(Disconnects::default());
    let c = Client::new(
        &Options::new()
            .endpoint(&s.endpoint())
            .password("old-secret")
            .connect_retry(0)
            .on_event(dis.hook()),
    )
    .unwrap();
    let id = c.call(&["CLIENT", "ID"]).unwrap().as_int().unwrap();
    // Rotate on the server; the live connection stays authenticated.
    let r = s.cmd(Some("old-secret"), "CONFIG SET requirepass new-secret");
    assert!(r.ends_with("+OK\r\n"), "{r:?}");
    c.set_auth(None, "new-secret").unwrap();
    assert_eq!(c.call(&["CLIENT", "ID"]).unwrap().as_int(), Some(id));
    // Drop it from a side connection: the reconnect uses the new password.
    let r = s.cmd(Some("new-secret"), &format!("CLIENT KILL ID {id}"));
    assert!(r.ends_with(":1\r\n"), "{r:?}");
    dis.wait(1);
    assert_eq!(c.call(&["PING"]).unwrap().as_str(), Some("PONG"));
    let id2 = c.call(&["CLIENT", "ID"]).unwrap().as_int().unwrap();
    assert_ne!(id2, id);
    // With a user name (AUTH default <password>).
    s.cmd(Some("new-secret"), "CONFIG SET requirepass third");
    c.set_auth(Some("default"), "third").unwrap();
    s.cmd(Some("third"), &format!("CLIENT KILL ID {id2}"));
    dis.wait(2);
    assert_eq!(
        c.call(&["ACL", "WHOAMI"]).unwrap().as_str(),
        Some("default")
    );
    // Text libjr cannot pass on.
    assert_eq!(
        c.set_auth(None, "a\0b").unwrap_err().code(),
        Some(code::EINVAL)
    );
    assert_eq!(
        c.set_auth(Some("u\0"), "x").unwrap_err().code(),
        Some(code::EINVAL)
    );
}

#[test]
fn without_set_auth_the_reconnect_fails_with_eauth() {
    let s = RedisServer::start(&["--requirepass", "old-secret"]);
    let dis = Arc::new(Disconnects::default());
    let c = Client::new(
        &Options::new()
            .endpoint(&s.endpoint())
            .password("old-secret")
            .connect_retry(0)
            .on_event(dis.hook()),
    )
    .unwrap();
    let id = c.call(&["CLIENT", "ID"]).unwrap().as_int().unwrap();
    s.cmd(Some("old-secret"), "CONFIG SET requirepass new-secret");
    s.cmd(Some("new-secret"), &format!("CLIENT KILL ID {id}"));
    dis.wait(1);
    let err = c.call(&["PING"]).unwrap_err();
    assert_eq!(err.code(), Some(code::EAUTH));
    assert!(err.is_unsent());
    c.set_auth(None, "new-secret").unwrap();
    assert_eq!(c.call(&["PING"]).unwrap().as_str(), Some("PONG"));
}

#[test]
fn tls_options_reach_the_core() {
    // Files that cannot be used: an error at creation.
    let err = Client::new(&opts().tls(true).tls_ca_file("/nonexistent/jr-ca.crt"))
        .err()
        .expect("a bad CA file is an error");
    assert_eq!(err.code(), Some(code::ETLS));
    assert_eq!(err.name(), "JR_ETLS");
    let err = Client::new(
        &opts()
            .tls(true)
            .tls_cert("/nonexistent/c.crt", "/nonexistent/c.key"),
    )
    .err()
    .expect("a bad certificate file is an error");
    assert_eq!(err.code(), Some(code::ETLS));
    // TLS to a plain-TCP server: the handshake fails, commands get ECONNECT.
    let failed = Arc::new(AtomicUsize::new(0));
    let f2 = failed.clone();
    let c = Client::new(
        &opts()
            .tls(true)
            .tls_verify(false)
            .tls_server_name("localhost")
            .connect_retry(0)
            .connect_timeout(Duration::from_millis(300))
            .on_event(move |ev, _, _| {
                if ev == Event::ConnectFailed {
                    f2.fetch_add(1, Ordering::SeqCst);
                }
            }),
    )
    .unwrap();
    assert_eq!(c.call(&["PING"]).unwrap_err().code(), Some(code::ECONNECT));
    assert!(failed.load(Ordering::SeqCst) >= 1);
    // rediss:// turns TLS on (the same failure); set() takes every key.
    let u = Client::new(
        &Options::new()
            .url(&format!("rediss://{}", endpoint()))
            .set_int("tls_verify", 0)
            .connect_retry(0)
            .connect_timeout(Duration::from_millis(300)),
    )
    .unwrap();
    assert_eq!(u.call(&["PING"]).unwrap_err().code(), Some(code::ECONNECT));
    let mut any = Options::new();
    any.try_set("tls", "1").unwrap();
    any.try_set("tls_ca_dir", "/etc/ssl/certs").unwrap();
    any.try_set("tls_server_name", "x").unwrap();
    assert_eq!(
        any.try_set("no_such_key", "1").unwrap_err().code(),
        Some(code::ENOENT)
    );
}

/// A CA, a server certificate for localhost/127.0.0.1 and a client
/// certificate, made with the openssl command (false when it cannot).
fn make_certs(dir: &std::path::Path) -> bool {
    let script = "openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.crt -days 2 \
        -subj /CN=jr-rs-ca && \
        openssl req -newkey rsa:2048 -nodes -keyout server.key -out server.csr -subj /CN=localhost && \
        printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\\n' > san.cnf && \
        openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial \
        -out server.crt -days 2 -extfile san.cnf && \
        openssl req -newkey rsa:2048 -nodes -keyout client.key -out client.csr -subj /CN=jr-client && \
        openssl x509 -req -in client.csr -CA ca.crt -CAkey ca.key -CAcreateserial \
        -out client.crt -days 2";
    std::process::Command::new("sh")
        .arg("-c")
        .arg(script)
        .current_dir(dir)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .map(|s| s.success())
        .unwrap_or(false)
}

#[test]
fn mutual_tls_through_the_shorthands() {
    let dir = std::env::temp_dir().join(format!("jr-rs-tls-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    if !make_certs(&dir) {
        eprintln!("skipped: openssl could not make test certificates");
        return;
    }
    let f = |n: &str| dir.join(n).to_str().unwrap().to_owned();
    let tls_port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
        .to_string();
    let _s = RedisServer::start(&[
        "--tls-port",
        &tls_port,
        "--tls-cert-file",
        &f("server.crt"),
        "--tls-key-file",
        &f("server.key"),
        "--tls-ca-cert-file",
        &f("ca.crt"),
        "--tls-auth-clients",
        "yes",
    ]);
    let ep = format!("127.0.0.1:{tls_port}");
    let c = Client::new(
        &Options::new()
            .endpoint(&ep)
            .tls(true)
            .tls_ca_file(&f("ca.crt"))
            .tls_cert(&f("client.crt"), &f("client.key"))
            .tls_server_name("localhost"),
    )
    .unwrap();
    assert_eq!(c.call(&["PING"]).unwrap().as_str(), Some("PONG"));
    assert_eq!(c.endpoints().unwrap()[0].role, "standalone");
    assert_eq!(
        c.call_to(&ep, &["ECHO", "over-tls"]).unwrap().as_str(),
        Some("over-tls")
    );
    // Without the client certificate the server refuses the handshake.
    let anon = Client::new(
        &Options::new()
            .endpoint(&ep)
            .tls(true)
            .tls_ca_file(&f("ca.crt"))
            .connect_retry(0),
    )
    .unwrap();
    assert!(anon.call(&["PING"]).is_err());
    let _ = std::fs::remove_dir_all(&dir);
}
