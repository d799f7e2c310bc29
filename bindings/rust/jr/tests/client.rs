// SPDX-License-Identifier: MIT
mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use common::{client, dead_endpoint, endpoint, opts};
use jr::{code, Client, Error, Options, Reply, Timeout};

#[test]
fn call_returns_owned_typed_replies() {
    let c = client();
    assert_eq!(
        c.call(&["SET", "rs:k", "hello"]).unwrap(),
        Reply::Status("OK".into())
    );
    let r = c.call(&["GET", "rs:k"]).unwrap();
    assert_eq!(r, Reply::Bulk(b"hello".to_vec()));
    assert_eq!(r.as_str(), Some("hello"));
    assert!(c.call(&["GET", "rs:missing"]).unwrap().is_nil());
    c.call(&["DEL", "rs:n"]).unwrap();
    assert_eq!(
        c.call(&["INCRBY", "rs:n", "41"]).unwrap().as_int(),
        Some(41)
    );
    c.call(&["DEL", "rs:list"]).unwrap();
    c.call(&["RPUSH", "rs:list", "a", "b", "c"]).unwrap();
    let arr = c.call(&["LRANGE", "rs:list", "0", "-1"]).unwrap();
    let items: Vec<&str> = arr
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r.as_str().unwrap())
        .collect();
    assert_eq!(items, ["a", "b", "c"]);
}

#[test]
fn binary_arguments_and_many_arguments() {
    let c = client();
    let key: &[u8] = b"rs:\0bin";
    let value: &[u8] = b"a\0b\r\nc\xff";
    c.call(&[b"SET".as_ref(), key, value]).unwrap();
    assert_eq!(
        c.call(&[b"GET".as_ref(), key])
            .unwrap()
            .into_bytes()
            .unwrap(),
        value
    );
    let mut args: Vec<String> = vec!["RPUSH".into(), "rs:long".into()];
    args.extend((0..40).map(|i| i.to_string()));
    c.call(&["DEL", "rs:long"]).unwrap();
    assert_eq!(c.call(&args).unwrap(), Reply::Integer(40));
    c.call(&["SET", "rs:empty", ""]).unwrap();
    assert_eq!(c.call(&["STRLEN", "rs:empty"]).unwrap(), Reply::Integer(0));
}

#[test]
fn server_error_is_the_server_kind() {
    let c = client();
    c.call(&["SET", "rs:str", "x"]).unwrap();
    match c.call(&["LPUSH", "rs:str", "y"]) {
        Err(e @ Error::Server(_)) => {
            assert_eq!(e.server_kind(), Some("WRONGTYPE"));
            assert_eq!(e.code(), None);
            assert_eq!(e.name(), "server");
            assert!(!e.is_unsent());
        }
        other => panic!("expected a server error, got {other:?}"),
    }
    assert_eq!(c.call(&["PING"]).unwrap().as_str(), Some("PONG"));
}

#[test]
fn wrong_password_error_shows_the_servers_text() {
    // A handshake the server refuses: EAUTH (unsent), with the server's own
    // text in `detail` and in the Display text.
    let s = common::RedisServer::start(&["--requirepass", "right"]);
    let c = Client::new(
        &Options::new()
            .endpoint(&s.endpoint())
            .password("wrong")
            .connect_retry(0),
    )
    .unwrap();
    let from_call = c.call(&["PING"]).unwrap_err();
    let from_future = c.command(&["PING"]).wait().unwrap_err();
    for e in [from_call, from_future] {
        assert_eq!(e.code(), Some(code::EAUTH), "{e:?}");
        assert!(e.is_unsent());
        // jr_error_detail: "handshake with 127.0.0.1:N: WRONGPASS ...".
        let d = e.detail().unwrap_or("");
        assert!(d.contains(&s.endpoint()), "{e:?}");
        assert!(d.contains("WRONGPASS"), "{e:?}");
        assert!(!d.contains("wrong "), "the password leaked: {e:?}");
        assert!(e.to_string().contains("WRONGPASS"), "{e}");
    }
}

#[test]
fn library_error_carries_code_unsent_and_text() {
    let dead = dead_endpoint();
    let c = Client::new(
        &Options::new()
            .endpoint(&dead)
            .connect_retry(0)
            .connect_timeout(Duration::from_millis(300)),
    )
    .unwrap();
    match c.call(&["PING"]) {
        Err(Error::Library {
            kind,
            unsent,
            message,
            detail,
        }) => {
            assert_eq!(kind, jr::ErrorKind::Connect);
            assert_eq!(kind.code(), code::ECONNECT);
            // The endpoint and the cause (jr_error_detail).
            let d = detail.unwrap_or_default();
            assert!(d.contains(&format!("connect {dead}")), "{d}");
            assert!(d.contains("ECONNREFUSED"), "{d}");
            assert!(unsent);
            assert!(!message.is_empty());
        }
        other => panic!("expected ECONNECT, got {other:?}"),
    }
    // The same from a callback (the future's completion) and in Display.
    let e = c.command(&["PING"]).wait().unwrap_err();
    assert_eq!(e.name(), "JR_ECONNECT");
    let text = e.to_string();
    assert!(text.contains("JR_ECONNECT"), "{text}");
    assert!(
        text.contains(&dead) && text.contains("ECONNREFUSED"),
        "{text}"
    );
}

#[test]
fn timeout_may_have_run() {
    let c = client();
    // Connected first: under load, connecting alone can outlast the 50 ms
    // deadline below, and the PING then times out unsent (EQUEUETIMEOUT).
    c.call(&["PING"]).unwrap();
    let sleeping = c.command_timeout(&["DEBUG", "SLEEP", "0.3"], Duration::from_secs(5));
    let e = c
        .call_timeout(&["PING"], Duration::from_millis(50))
        .unwrap_err();
    assert_eq!(e.code(), Some(code::ETIMEDOUT));
    assert!(!e.is_unsent());
    assert!(sleeping.wait().is_ok());
}

#[test]
fn options_errors_surface_at_client_new() {
    let e = Client::new(&Options::new().set("no_such_key", "1"))
        .err()
        .unwrap();
    assert_eq!(e.code(), Some(code::ENOENT));
    let e = Client::new(&opts().set("dispatch", "sideways"))
        .err()
        .unwrap();
    assert_eq!(e.code(), Some(code::EINVAL));
    let mut o = Options::new();
    assert_eq!(
        o.try_set("nope", "x").unwrap_err().code(),
        Some(code::ENOENT)
    );
    let e = Client::new(&opts().connect_command(&["SELECT", "1"]))
        .err()
        .unwrap();
    assert_eq!(e.code(), Some(code::EREFUSED));
}

#[test]
fn connect_command_client_name_and_events() {
    let events = Arc::new(AtomicUsize::new(0));
    let ev2 = events.clone();
    let c = Client::new(
        &opts()
            .client_name("rs-client")
            .connect_command(&["SET", "rs:on-connect", "yes"])
            .on_event(move |ev, endpoint, _detail| {
                if ev == jr::Event::Connected && !endpoint.is_empty() {
                    ev2.fetch_add(1, Ordering::SeqCst);
                }
            }),
    )
    .unwrap();
    assert_eq!(
        c.call(&["CLIENT", "GETNAME"]).unwrap().as_str(),
        Some("rs-client")
    );
    assert_eq!(
        c.call(&["GET", "rs:on-connect"]).unwrap().as_str(),
        Some("yes")
    );
    assert!(events.load(Ordering::SeqCst) >= 1);
}

#[test]
fn connect_by_url_with_database() {
    let c = Client::connect(&format!("redis://{}/3", endpoint())).unwrap();
    c.call(&["SET", "rs:url", "three"]).unwrap();
    let c0 = client();
    let db3 = c0.db(3).unwrap();
    assert_eq!(
        db3.call(&["GET", "rs:url"]).unwrap().as_str(),
        Some("three")
    );
}

#[test]
fn callbacks_run_once_in_order() {
    let c = client();
    c.call(&["DEL", "rs:cb"]).unwrap();
    let (tx, rx) = mpsc::channel();
    for i in 0..500i64 {
        let tx = tx.clone();
        c.submit(&["INCR", "rs:cb"], move |r| {
            tx.send((i, r)).unwrap();
        })
        .unwrap();
    }
    drop(tx);
    let mut n = 0;
    for (i, r) in rx.iter() {
        assert_eq!(r.unwrap(), Reply::Integer(i + 1));
        n += 1;
    }
    assert_eq!(n, 500); // every sender (one per closure) was dropped: freed
}

#[test]
fn refused_submit_drops_the_closure_uncalled() {
    let c = client();
    let token = Arc::new(());
    let t2 = token.clone();
    let e = c
        .submit(&["SELECT", "1"], move |_| {
            let _keep = &t2;
            panic!("must not run");
        })
        .unwrap_err();
    assert_eq!(e.code(), Some(code::EREFUSED));
    assert_eq!(Arc::strong_count(&token), 1);
    assert!(jr::refusal_reason("SELECT").is_some());
    assert!(jr::refusal_reason("GET").is_none());
    // A refused future is ready with the error.
    let mut f = c.command(&["SUBSCRIBE", "x"]);
    assert!(f.id().is_none());
    assert_eq!(
        f.try_take().unwrap().unwrap_err().code(),
        Some(code::EREFUSED)
    );
}

#[test]
fn a_panicking_callback_does_not_take_the_loop_down() {
    let c = client();
    c.submit(&["PING"], |_| panic!("boom (expected in this test)"))
        .unwrap();
    let (tx, rx) = mpsc::channel();
    c.submit(&["PING"], move |r| tx.send(r).unwrap()).unwrap();
    assert!(rx.recv_timeout(Duration::from_secs(5)).unwrap().is_ok());
    assert!(c.call(&["PING"]).is_ok());
}

#[test]
fn futures_pipeline_in_order_from_many_threads() {
    let c = Arc::new(client());
    let mut hs = Vec::new();
    for t in 0..4 {
        let c = c.clone();
        hs.push(thread::spawn(move || {
            let key = format!("rs:fut:{t}");
            c.call(&["DEL", &key]).unwrap();
            let fs: Vec<_> = (0..1000).map(|_| c.command(&["INCR", &key])).collect();
            for (i, f) in fs.into_iter().enumerate() {
                assert_eq!(f.wait().unwrap(), Reply::Integer(i as i64 + 1));
            }
        }));
    }
    for h in hs {
        h.join().unwrap();
    }
}

#[test]
fn futures_work_with_block_on_and_join_by_hand() {
    let c = client();
    let a = c.command(&["SET", "rs:ba", "1"]);
    let b = c.command(&["GET", "rs:ba"]);
    let (ra, rb) = jr::block_on(async { (a.await, b.await) });
    assert_eq!(ra.unwrap().as_str(), Some("OK"));
    assert_eq!(rb.unwrap().as_str(), Some("1"));
    // Dropping a future before it completes is fine.
    for _ in 0..100 {
        drop(c.command(&["PING"]));
    }
    assert!(c.call(&["PING"]).is_ok());
}

#[test]
fn cancel_before_the_write() {
    let c = client();
    let sleeping = c.command_timeout(&["DEBUG", "SLEEP", "0.3"], Duration::from_secs(5));
    thread::sleep(Duration::from_millis(50));
    let f = c.command_timeout(&["INCR", "rs:cancelled"], Duration::from_secs(5));
    let id = f.id().unwrap();
    assert!(c.cancel(id).unwrap());
    let code = f.wait().unwrap_err().code().unwrap();
    assert!(
        code == code::ECANCELED || code == code::EABANDONED,
        "{code}"
    );
    assert!(!c.cancel(id).unwrap());
    assert!(sleeping.wait().is_ok());
}

#[test]
fn database_views() {
    let c = client();
    let db5 = c.db(5).unwrap();
    let db6 = c.db(6).unwrap();
    db5.call(&["SET", "rs:db", "five"]).unwrap();
    db6.call(&["SET", "rs:db", "six"]).unwrap();
    let f5 = db5.command(&["GET", "rs:db"]);
    let f6 = db6.command(&["GET", "rs:db"]);
    assert_eq!(f5.wait().unwrap().as_str(), Some("five"));
    assert_eq!(f6.wait().unwrap().as_str(), Some("six"));
    let (tx, rx) = mpsc::channel();
    db6.submit(&["GET", "rs:db"], move |r| tx.send(r).unwrap())
        .unwrap();
    assert_eq!(rx.recv().unwrap().unwrap().as_str(), Some("six"));
    thread::scope(|s| {
        s.spawn(|| assert!(db5.call(&["PING"]).is_ok()));
    });
}

#[test]
fn poll_mode_runs_callbacks_in_dispatch() {
    let c = Client::new(&opts().poll_mode()).unwrap();
    let fd = c.fd().expect("poll mode has an fd");
    assert!(fd >= 0);
    let me = thread::current().id();
    let seen = Arc::new(Mutex::new(Vec::new()));
    for _ in 0..10 {
        let seen = seen.clone();
        c.submit(&["PING"], move |r| {
            seen.lock()
                .unwrap()
                .push((thread::current().id(), r.unwrap()));
        })
        .unwrap();
    }
    let deadline = Instant::now() + Duration::from_secs(5);
    while seen.lock().unwrap().len() < 10 && Instant::now() < deadline {
        c.dispatch(0);
        thread::sleep(Duration::from_millis(1));
    }
    let seen = seen.lock().unwrap();
    assert_eq!(seen.len(), 10);
    assert!(seen
        .iter()
        .all(|(t, r)| *t == me && r.as_str() == Some("PONG")));
    // call() works in poll mode without dispatching.
    assert!(c.call(&["PING"]).is_ok());
    assert!(client().fd().is_none());
}

#[test]
fn drop_completes_pending_commands_once() {
    let c = client();
    c.call(&["PING"]).unwrap();
    let _sleep = c.command_timeout(&["DEBUG", "SLEEP", "0.2"], Duration::from_secs(5));
    let calls = Arc::new(AtomicUsize::new(0));
    for _ in 0..50 {
        let calls = calls.clone();
        c.submit(&["PING"], move |_| {
            calls.fetch_add(1, Ordering::SeqCst);
        })
        .unwrap();
    }
    let fs: Vec<_> = (0..50).map(|_| c.command(&["PING"])).collect();
    drop(c);
    assert_eq!(calls.load(Ordering::SeqCst), 50);
    for mut f in fs {
        match f.try_take().expect("completed at drop") {
            Ok(_) => {}
            Err(e) => assert!(
                e.code() == Some(code::ESHUTDOWN) || e.code() == Some(code::ECLOSED),
                "{e:?}"
            ),
        }
    }
}

#[test]
fn drain_waits_then_refuses() {
    let c = client();
    let fs: Vec<_> = (0..100).map(|_| c.command(&["PING"])).collect();
    assert!(c.drain(Some(Duration::from_secs(5))).unwrap());
    for f in fs {
        assert!(f.wait().is_ok());
    }
    assert_eq!(c.call(&["PING"]).unwrap_err().code(), Some(code::ECLOSED));
}

#[test]
fn call_inside_a_callback_is_misuse_not_a_deadlock() {
    let c = Arc::new(client());
    let (tx, rx) = mpsc::channel();
    let c2 = c.clone();
    c.submit(&["PING"], move |_| {
        let r = c2.call(&["PING"]);
        drop(c2); // before the test can drop its own reference
        tx.send(r).unwrap();
    })
    .unwrap();
    let r = rx.recv_timeout(Duration::from_secs(5)).unwrap();
    assert_eq!(r.unwrap_err().code(), Some(code::EMISUSE));
}

#[test]
fn version_and_timeout_kinds() {
    assert!(!jr::version().is_empty());
    let c = client();
    assert!(c.call_timeout(&["PING"], Timeout::Never).is_ok());
    assert!(c.call_timeout(&["PING"], Timeout::Default).is_ok());
}

#[test]
fn last_client_reference_dropped_inside_a_callback_still_frees_it() {
    let c = Arc::new(client());
    c.call(&["PING"]).unwrap();
    let later = c.command_timeout(&["DEBUG", "SLEEP", "0.1"], Duration::from_secs(5));
    let behind = c.command_timeout(&["PING"], Duration::from_secs(5));
    let c2 = c.clone();
    c.submit(&["PING"], move |_| {
        thread::sleep(Duration::from_millis(20)); // let the test drop its reference first
        drop(c2); // the last one: jr_client_free says EMISUSE here
    })
    .unwrap();
    drop(c);
    // The client is freed from a helper thread: everything completes.
    let _ = later.wait();
    let r = behind.wait();
    assert!(
        r.is_ok() || r.as_ref().unwrap_err().code() == Some(code::ESHUTDOWN),
        "{r:?}"
    );
}

#[test]
fn typed_replies_with_call_as() {
    let c = client();
    c.call(&["DEL", "rs:typed", "rs:typed:h", "rs:typed:n"])
        .unwrap();
    let v: Option<String> = c.call_as(&["GET", "rs:typed"]).unwrap();
    assert_eq!(v, None);
    c.call(&["SET", "rs:typed", "hello"]).unwrap();
    let v: Option<String> = c.call_as(&["GET", "rs:typed"]).unwrap();
    assert_eq!(v.as_deref(), Some("hello"));
    let n: i64 = c.call_as(&["INCRBY", "rs:typed:n", "5"]).unwrap();
    assert_eq!(n, 5);
    let n: u32 = c.call_as(&["GET", "rs:typed:n"]).unwrap(); // bulk "5"
    assert_eq!(n, 5);
    c.call(&["HSET", "rs:typed:h", "a", "1", "b", "2"]).unwrap();
    let h: std::collections::HashMap<String, i64> = c.call_as(&["HGETALL", "rs:typed:h"]).unwrap();
    assert_eq!((h["a"], h["b"], h.len()), (1, 2, 2));
    let e = c.call_as::<i64, _>(&["GET", "rs:typed"]).unwrap_err();
    assert_eq!(e.name(), "conversion", "{e:?}");
    assert!(e.to_string().contains("\"hello\""), "{e}");
    // A server error stays a server error.
    let e = c
        .call_as::<i64, _>(&["LPUSH", "rs:typed", "x"])
        .unwrap_err();
    assert!(matches!(e, Error::Server(_)), "{e:?}");
    // Through a future too.
    let v: Option<String> = c
        .command(&["GET", "rs:typed"])
        .wait()
        .unwrap()
        .convert()
        .unwrap();
    assert_eq!(v.as_deref(), Some("hello"));
    assert_eq!(
        format!("{:?}", c.call(&["GET", "rs:typed"]).unwrap()),
        "Bulk(\"hello\")"
    );
}

#[test]
fn dropping_a_reply_future_cancels_its_command() {
    let c = client();
    c.call(&["DEL", "rs:rf:list"]).unwrap();
    // A BLPOP waiting on its dedicated connection; dropped, it must not take
    // the element pushed afterwards.
    // The same in a database view.
    let db = c.db(3).unwrap();
    db.call(&["DEL", "rs:rf:list"]).unwrap();
    for on_db in [false, true] {
        let f = if on_db {
            db.command_timeout(&["BLPOP", "rs:rf:list", "0"], Timeout::Never)
        } else {
            c.command_timeout(&["BLPOP", "rs:rf:list", "0"], Timeout::Never)
        };
        thread::sleep(Duration::from_millis(100));
        drop(f);
        thread::sleep(Duration::from_millis(50));
        let (push, len) = (["RPUSH", "rs:rf:list", "x"], ["LLEN", "rs:rf:list"]);
        let len = if on_db {
            db.call(&push).unwrap();
            thread::sleep(Duration::from_millis(50));
            db.call(&len).unwrap()
        } else {
            c.call(&push).unwrap();
            thread::sleep(Duration::from_millis(50));
            c.call(&len).unwrap()
        };
        assert_eq!(
            len,
            Reply::Integer(1),
            "db view: {on_db}: the BLPOP took it"
        );
    }

    // A completed future is not cancelled (its id is spent); a future that
    // outlives its client does not touch the freed client.
    let f = c.command(&["PING"]);
    assert_eq!(f.wait().unwrap(), Reply::Status("PONG".into()));
    let other = client();
    let f = other.command_timeout(&["BLPOP", "rs:rf:none", "0"], Timeout::Never);
    thread::sleep(Duration::from_millis(50));
    drop(db);
    drop(other);
    drop(f);
}

#[test]
fn dropped_futures_count_as_cancels() {
    let c = client();
    c.call(&["PING"]).unwrap();
    let before = c.stats().unwrap();
    let blocked = c.command_timeout(&["BLPOP", "rs:rf:never", "0"], Timeout::Never);
    thread::sleep(Duration::from_millis(50));
    drop(blocked);
    let t0 = Instant::now();
    while c.stats().unwrap().cancels == before.cancels {
        assert!(
            t0.elapsed() < Duration::from_secs(5),
            "the drop never cancelled"
        );
        thread::sleep(Duration::from_millis(5));
    }
    let st = c.stats().unwrap();
    assert_eq!(st.cancels, before.cancels + 1, "{st:?}");
    assert_eq!(st.completed, before.completed + 1, "{st:?}");
}
