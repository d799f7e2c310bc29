// SPDX-License-Identifier: MIT
//! Explicit pipelines (`jr::pipe()`, jr_client_submit_many) without a
//! runtime, against the redis-server of JR_TEST_ENDPOINT.
mod common;

use std::time::Duration;

use common::client;
use jr::{code, Error, Reply};

#[test]
fn results_in_order() {
    let c = client();
    let mut p = jr::pipe();
    p.cmd(&["DEL", "rs:pipe:n"]);
    for _ in 0..200 {
        p.cmd(&["INCR", "rs:pipe:n"]);
    }
    // Binary-safe arguments, an empty one among them.
    p.cmd(&[&b"SET"[..], b"rs:pipe:bin", b"a\0b"])
        .cmd(&[&b"GET"[..], b"rs:pipe:bin"])
        .cmd(&["ECHO", ""]);
    assert_eq!(p.len(), 204);
    let r = p.query(&c);
    assert_eq!(r.len(), 204);
    assert!(r[0].is_ok());
    for (i, x) in r[1..201].iter().enumerate() {
        assert_eq!(x, &Ok(Reply::Integer(i as i64 + 1)), "command {}", i + 1);
    }
    assert_eq!(r[201], Ok(Reply::Status("OK".into())));
    assert_eq!(r[202], Ok(Reply::Bulk(b"a\0b".to_vec())));
    assert_eq!(r[203], Ok(Reply::Bulk(Vec::new())));
    // Reusable; an empty pipeline completes at once with no result.
    assert_eq!(p.query(&c).len(), 204);
    assert_eq!(c.call_as::<i64, _>(&["GET", "rs:pipe:n"]).unwrap(), 200);
    assert!(jr::pipe().query(&c).is_empty());
    p.clear();
    assert!(p.is_empty());
}

/// A command libjr refuses (rcs[i] != 0) gets its error, in its place, and
/// no callback; the ones around it run. A server error fails only its own.
#[test]
fn a_refused_command_in_the_middle() {
    let c = client();
    let none: [&str; 0] = [];
    let r = jr::pipe()
        .cmd(&["SET", "rs:pipe:r", "1"])
        .cmd(&["SELECT", "1"]) // refused: EREFUSED
        .cmd(&["INCR", "rs:pipe:r"])
        .cmd(&none) // argc 0: EINVAL
        .cmd(&["LPUSH", "rs:pipe:r", "x"]) // WRONGTYPE
        .cmd(&["GET", "rs:pipe:r"])
        .query(&c);
    assert_eq!(r.len(), 6);
    assert_eq!(r[0], Ok(Reply::Status("OK".into())));
    let e = r[1].as_ref().unwrap_err();
    assert_eq!(e.code(), Some(code::EREFUSED), "{e}");
    assert!(e.is_unsent());
    assert_eq!(r[2], Ok(Reply::Integer(2)));
    assert_eq!(r[3].as_ref().unwrap_err().code(), Some(code::EINVAL));
    assert!(matches!(&r[4], Err(Error::Server(m)) if m.starts_with("WRONGTYPE")));
    assert_eq!(r[5], Ok(Reply::Bulk(b"2".to_vec())));
    // All refused: every result is its error, at once.
    let r = jr::pipe()
        .cmd(&["SELECT", "1"])
        .cmd(&["SELECT", "2"])
        .query(&c);
    assert!(r
        .iter()
        .all(|x| x.as_ref().unwrap_err().code() == Some(code::EREFUSED)));
}

#[test]
fn on_a_database_view_with_a_deadline() {
    let c = client();
    let db = c.db(3).unwrap();
    let r = jr::pipe()
        .cmd(&["SET", "rs:pipe:db", "three"])
        .cmd(&["GET", "rs:pipe:db"])
        .query(&db);
    assert_eq!(r[1], Ok(Reply::Bulk(b"three".to_vec())));
    assert_eq!(
        c.call(&["EXISTS", "rs:pipe:db"]).unwrap(),
        Reply::Integer(0)
    );
    // The deadline applies to each command.
    let r = jr::pipe()
        .timeout(Duration::from_millis(100))
        .cmd(&["BLPOP", "rs:pipe:never", "0"])
        .cmd(&["PING"])
        .query(&c);
    assert_eq!(r[0].as_ref().unwrap_err().code(), Some(code::ETIMEDOUT));
    assert_eq!(r[1], Ok(Reply::Status("PONG".into())));
}

/// The future: eager (sent by `submit`), waited later, from another thread.
#[test]
fn submit_then_wait_on_another_thread() {
    let c = client();
    let mut p = jr::pipe();
    for i in 0..50 {
        p.cmd(&["ECHO", &i.to_string()]);
    }
    std::thread::scope(|s| {
        let f = p.submit(&c);
        assert_eq!(f.len(), 50);
        let r = s.spawn(move || f.wait()).join().unwrap();
        for (i, x) in r.iter().enumerate() {
            assert_eq!(x, &Ok(Reply::Bulk(i.to_string().into_bytes())));
        }
    });
}
