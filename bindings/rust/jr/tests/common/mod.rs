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

/// A loopback port nobody listens on (a moment ago).
pub fn dead_endpoint() -> String {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    format!("127.0.0.1:{}", l.local_addr().unwrap().port())
}
