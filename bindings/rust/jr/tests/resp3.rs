// SPDX-License-Identifier: MIT
//! RESP3 (`protocol` 3) against the redis-server of JR_TEST_ENDPOINT: each
//! RESP3 type mapped to its `Reply` variant and through `FromReply`. A libjr
//! built with hiredis 0.14 has no RESP3: those tests then say they skip
//! (or fail, with JR_EXPECT_RESP3=1), and the refusal itself is tested
//! instead.
#![allow(clippy::approx_constant)] // DEBUG PROTOCOL double is 3.141
mod common;

use std::collections::{BTreeMap, BTreeSet};

use common::{endpoint, has_resp3, opts, skip};
use jr::{Client, ErrorKind, Reply};

/// A RESP3 client, or None (and why) when this libjr lacks RESP3.
fn resp3_client(test: &str) -> Option<Client> {
    if !has_resp3(test) {
        return None;
    }
    Some(Client::new(&opts().protocol(3)).expect("a RESP3 client"))
}

fn bulk(s: &str) -> Reply {
    Reply::Bulk(s.as_bytes().to_vec())
}

#[test]
fn resp3_maps_sets_and_scalars() {
    let Some(c) = resp3_client("resp3_maps_sets_and_scalars") else {
        return;
    };
    c.call(&["DEL", "rs:r3:h", "rs:r3:s", "rs:r3:z"]).unwrap();
    c.call(&["HSET", "rs:r3:h", "a", "1", "b", "2"]).unwrap();
    let mut pairs = c
        .call(&["HGETALL", "rs:r3:h"])
        .unwrap()
        .as_map()
        .expect("HGETALL is a map in RESP3")
        .to_vec();
    pairs.sort_by(|x, y| x.0.as_bytes().cmp(&y.0.as_bytes()));
    assert_eq!(pairs, vec![(bulk("a"), bulk("1")), (bulk("b"), bulk("2"))]);
    let h: BTreeMap<String, i64> = c.call_as(&["HGETALL", "rs:r3:h"]).unwrap();
    assert_eq!((h["a"], h["b"]), (1, 2));

    c.call(&["SADD", "rs:r3:s", "x", "y"]).unwrap();
    let r = c.call(&["SMEMBERS", "rs:r3:s"]).unwrap();
    assert!(matches!(&r, Reply::Set(v) if v.len() == 2), "{r:?}");
    let s: BTreeSet<String> = r.convert().unwrap();
    assert_eq!(s.into_iter().collect::<Vec<_>>(), ["x", "y"]);

    c.call(&["ZADD", "rs:r3:z", "2.5", "m"]).unwrap();
    assert_eq!(
        c.call(&["ZSCORE", "rs:r3:z", "m"]).unwrap(),
        Reply::Double(2.5)
    );
    let score: f64 = c.call_as(&["ZSCORE", "rs:r3:z", "m"]).unwrap();
    assert_eq!(score, 2.5);
    assert_eq!(c.call(&["GET", "rs:r3:none"]).unwrap(), Reply::Nil);
}

/// Every type through `DEBUG PROTOCOL` (the server's own RESP3 samples).
#[test]
fn resp3_debug_protocol_types() {
    let Some(c) = resp3_client("resp3_debug_protocol_types") else {
        return;
    };
    let p = |t: &str| c.call(&["DEBUG", "PROTOCOL", t]).unwrap();
    assert_eq!(p("double"), Reply::Double(3.141));
    assert_eq!(p("true"), Reply::Bool(true));
    assert_eq!(p("false"), Reply::Bool(false));
    assert_eq!(p("null"), Reply::Nil);
    assert_eq!(
        p("bignum"),
        Reply::BigNumber("1234567999999999999999999999999999999".into())
    );
    assert_eq!(
        p("verbatim"),
        Reply::Verbatim {
            format: "txt".into(),
            text: "This is a verbatim\nstring".into()
        }
    );
    let m = p("map");
    let m = m.as_map().expect("a map");
    assert_eq!(m.len(), 3);
    assert_eq!(m[0], (Reply::Integer(0), Reply::Bool(false)));
    let s = p("set");
    assert!(matches!(&s, Reply::Set(v) if v.len() == 3), "{s:?}");
    // Through FromReply.
    let b: bool = p("true").convert().unwrap();
    assert!(b);
    let d: f64 = p("double").convert().unwrap();
    assert_eq!(d, 3.141);
    let v: String = p("verbatim").convert().unwrap();
    assert_eq!(v, "This is a verbatim\nstring");
    let big: i128 = p("bignum").convert().unwrap();
    assert_eq!(big, 1234567999999999999999999999999999999);
    let m: BTreeMap<i64, bool> = p("map").convert().unwrap();
    assert_eq!(m.len(), 3);
    assert!(format!("{:?}", p("verbatim")).contains("Verbatim { format: \"txt\""));
}

/// The same commands over RESP2 keep their RESP2 shapes.
#[test]
fn resp2_stays_resp2() {
    let c = Client::new(&opts().protocol(2)).unwrap();
    c.call(&["DEL", "rs:r2:h"]).unwrap();
    c.call(&["HSET", "rs:r2:h", "a", "1"]).unwrap();
    assert_eq!(
        c.call(&["HGETALL", "rs:r2:h"]).unwrap(),
        Reply::Array(vec![bulk("a"), bulk("1")])
    );
    assert_eq!(
        c.call(&["DEBUG", "PROTOCOL", "true"]).unwrap(),
        Reply::Integer(1)
    );
}

/// Without RESP3 in libjr, protocol 3 is refused at once, saying why.
#[test]
fn protocol_3_without_resp3_is_refused_clearly() {
    if jr::resp3_supported() {
        skip(
            "protocol_3_without_resp3_is_refused_clearly: SKIPPED: this libjr has RESP3 \
             (hiredis >= 1.0); the refusal is for hiredis 0.14 builds",
        );
        return;
    }
    for o in [
        opts().protocol(3),
        jr::Options::new().url(&format!("redis://{}/0?protocol=3", endpoint())),
    ] {
        let e = Client::new(&o).err().expect("refused");
        assert_eq!(e.kind(), Some(ErrorKind::InvalidArgument), "{e:?}");
        let text = e.to_string();
        assert!(
            text.contains("protocol=3") && text.contains("hiredis"),
            "{text}"
        );
    }
}
