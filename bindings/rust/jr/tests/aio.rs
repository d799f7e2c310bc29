// SPDX-License-Identifier: MIT
//! The async API (feature `tokio`) on tokio's multi-thread runtime, against
//! the redis-server of JR_TEST_ENDPOINT.
mod common;

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use common::client;
use jr::{code, Client, Error, Reply};

fn assert_send<T: Send>(t: T) -> T {
    t
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn get_set_cmd() {
    let c = client();
    assert_send(c.set("rs:aio:a", "hello")).await.unwrap();
    assert_eq!(
        c.get::<Option<Vec<u8>>>("rs:aio:a").await.unwrap(),
        Some(b"hello".to_vec())
    );
    c.cmd(&["DEL", "rs:aio:missing"]).await.unwrap();
    assert_eq!(
        c.get::<Option<Vec<u8>>>("rs:aio:missing").await.unwrap(),
        None
    );
    assert_eq!(
        c.cmd(&["ECHO", "x"]).await.unwrap(),
        Reply::Bulk(b"x".to_vec())
    );
    // Typed (FromReply), as a redis-rs user writes it.
    let v: Option<String> = c.get("rs:aio:a").await.unwrap();
    assert_eq!(v.as_deref(), Some("hello"));
    let v: Option<String> = c.get("rs:aio:missing").await.unwrap();
    assert_eq!(v, None);
    c.cmd(&["DEL", "rs:aio:n"]).await.unwrap();
    let n: i64 = c.cmd_as(&["INCRBY", "rs:aio:n", "3"]).await.unwrap();
    assert_eq!(n, 3);
    let n: Option<u64> = c.get("rs:aio:n").await.unwrap();
    assert_eq!(n, Some(3));
    let e = c.get::<i64>("rs:aio:a").await.unwrap_err();
    assert!(matches!(e, Error::Conversion(_)), "{e:?}");
    let db = c.db(4).unwrap();
    db.set("rs:aio:db", "two").await.unwrap();
    assert_eq!(
        db.get::<Option<Vec<u8>>>("rs:aio:db").await.unwrap(),
        Some(b"two".to_vec())
    );
    assert_eq!(c.get::<Option<Vec<u8>>>("rs:aio:db").await.unwrap(), None);
}

async fn get_set_tasks(tasks: usize, rounds: usize) {
    let c = Arc::new(client());
    let handles: Vec<_> = (0..tasks)
        .map(|t| {
            let c = c.clone();
            tokio::spawn(async move {
                for r in 0..rounds {
                    let key = format!("rs:aio:t{tasks}:{t}");
                    let val = format!("{t}:{r}");
                    c.set(&key, &val).await.unwrap();
                    assert_eq!(
                        c.get::<Option<Vec<u8>>>(&key).await.unwrap(),
                        Some(val.into_bytes())
                    );
                }
            })
        })
        .collect();
    for h in handles {
        h.await.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn tasks_64() {
    get_set_tasks(64, 50).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn tasks_1024() {
    get_set_tasks(1024, 10).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_and_library_errors() {
    let c = client();
    c.set("rs:aio:str", "x").await.unwrap();
    // A server error reply is Error::Server, for cmd and typed methods.
    let e = c.cmd(&["LPUSH", "rs:aio:str", "y"]).await.unwrap_err();
    assert_eq!(e.server_kind(), Some("WRONGTYPE"), "{e}");
    c.cmd(&["DEL", "rs:aio:list"]).await.unwrap();
    c.cmd(&["RPUSH", "rs:aio:list", "y"]).await.unwrap();
    assert!(matches!(
        c.get::<Option<Vec<u8>>>("rs:aio:list").await,
        Err(Error::Server(_))
    ));
    // A refused submit is a library error, ready at once, unsent.
    let f = c.cmd(&["SELECT", "1"]);
    assert_eq!(f.id(), None);
    let e = f.await.unwrap_err();
    assert_eq!(e.code(), Some(code::EREFUSED));
    assert!(e.is_unsent());
    let none: [&str; 0] = [];
    assert_eq!(c.cmd(&none).await.unwrap_err().code(), Some(code::EINVAL));
    // A client that cannot connect: ECONNECT, unsent.
    let dead = Client::new(
        &jr::Options::new()
            .endpoint(&common::dead_endpoint())
            .connect_retry(0)
            .connect_timeout(Duration::from_millis(300)),
    )
    .unwrap();
    let e = dead.get::<Option<Vec<u8>>>("k").await.unwrap_err();
    assert_eq!(e.code(), Some(code::ECONNECT), "{e}");
    assert!(e.is_unsent());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deadline_is_a_library_timeout() {
    let c = client();
    c.cmd(&["PING"]).await.unwrap();
    // BLPOP blocks (on a dedicated connection) past its 100 ms deadline.
    let t0 = Instant::now();
    let e = c
        .cmd_timeout(&["BLPOP", "rs:aio:never", "0"], Duration::from_millis(100))
        .await
        .unwrap_err();
    assert_eq!(e.code(), Some(code::ETIMEDOUT), "{e}");
    assert!(!e.is_unsent());
    assert!(t0.elapsed() < Duration::from_secs(3));
}

async fn blmove_clients(c: &Client) -> usize {
    let list = c.cmd(&["CLIENT", "LIST"]).await.unwrap();
    let text = String::from_utf8(list.into_bytes().unwrap()).unwrap();
    text.lines().filter(|l| l.contains("cmd=blmove")).count()
}

async fn wait_for_blmove_clients(c: &Client, want: usize) {
    let t0 = Instant::now();
    while blmove_clients(c).await != want {
        assert!(
            t0.elapsed() < Duration::from_secs(5),
            "still not {want} BLMOVE clients"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Dropping a pending future cancels its command on the server side too:
/// a written BLMOVE is abandoned (libjr closes its connection), so it does
/// not take the element pushed afterwards.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn drop_cancels_the_command() {
    let c = client();
    // On a database view too (its ids are the client's).
    let db = c.db(4).unwrap();
    let (src, dst) = ("rs:aio:src", "rs:aio:dst");
    for on_db in [true, false] {
        let run = |args: &[&str]| if on_db { db.cmd(args) } else { c.cmd(args) };
        run(&["DEL", src, dst]).await.unwrap();
        let blmove = ["BLMOVE", src, dst, "LEFT", "LEFT", "0"];
        let f = if on_db {
            db.cmd_timeout(&blmove, jr::Timeout::Never)
        } else {
            c.cmd_timeout(&blmove, jr::Timeout::Never)
        };
        wait_for_blmove_clients(&c, 1).await;
        drop(f);
        wait_for_blmove_clients(&c, 0).await;
        run(&["RPUSH", src, "x"]).await.unwrap();
        let len = run(&["LLEN", src]).await.unwrap().as_int();
        assert_eq!(len, Some(1), "on_db={on_db}");
    }
    let f = c.cmd_timeout(&["BLPOP", "rs:aio:src2", "0"], jr::Timeout::Never);
    let id = f.id().unwrap();
    drop(f);
    // Its completion (EABANDONED) was delivered: nothing left to cancel.
    let t0 = Instant::now();
    while c.cancel(id).unwrap() {
        assert!(t0.elapsed() < Duration::from_secs(5));
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// Polls a future once and then drops it.
struct PollOnce<F>(Option<F>);
impl<F: Future + Unpin> Future for PollOnce<F> {
    type Output = bool;
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<bool> {
        let mut f = self.0.take().unwrap();
        Poll::Ready(Pin::new(&mut f).poll(cx).is_ready())
    }
}

/// Many futures dropped at random points (before any poll, after one poll,
/// by a tokio timeout, by losing a select), on many tasks, while others
/// complete: the survivors get their own values, the client keeps working,
/// and (debug builds) every slot is freed once the client is: each command's
/// one completion ran and released its reference. The runtime-free
/// `ReplyFuture` (`client.command`) shares the slot: dropped too.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn drop_at_random_points_under_load() {
    let c = Arc::new(client());
    let handles: Vec<_> = (0..64u64)
        .map(|t| {
            let c = c.clone();
            tokio::spawn(async move {
                let key = format!("rs:aio:drop:{t}");
                let val = format!("v{t}");
                c.set(&key, &val).await.unwrap();
                let mut rng = t.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
                for _ in 0..200 {
                    rng ^= rng << 13;
                    rng ^= rng >> 7;
                    rng ^= rng << 17;
                    match rng % 7 {
                        0 => drop(c.get::<Option<Vec<u8>>>(&key)),
                        1 => {
                            PollOnce(Some(c.get::<Option<Vec<u8>>>(&key))).await;
                        }
                        2 => {
                            let d = Duration::from_micros(rng % 300);
                            if let Ok(r) = tokio::time::timeout(d, c.get::<Option<Vec<u8>>>(&key)).await {
                                assert_eq!(r.unwrap(), Some(val.clone().into_bytes()));
                            }
                        }
                        3 => {
                            tokio::select! {
                                r = c.get::<Option<Vec<u8>>>(&key) => assert_eq!(r.unwrap(), Some(val.clone().into_bytes())),
                                r = c.cmd(&["ECHO", &val]) => assert_eq!(r.unwrap(), Reply::Bulk(val.clone().into_bytes())),
                            }
                        }
                        4 => assert_eq!(c.get::<Option<Vec<u8>>>(&key).await.unwrap(), Some(val.clone().into_bytes())),
                        5 => {
                            let d = Duration::from_micros(rng % 300);
                            if let Ok(r) = tokio::time::timeout(d, c.command(&["GET", &key])).await {
                                assert_eq!(r.unwrap(), Reply::Bulk(val.clone().into_bytes()));
                            }
                        }
                        _ => {
                            let f = c.command(&["GET", &key]);
                            if rng % 2 == 0 {
                                drop(f);
                            } else {
                                assert_eq!(f.await.unwrap(), Reply::Bulk(val.clone().into_bytes()));
                            }
                        }
                    }
                }
            })
        })
        .collect();
    for h in handles {
        h.await.unwrap();
    }
    assert_eq!(
        c.cmd(&["PING"]).await.unwrap(),
        Reply::Status("PONG".into())
    );
    // Free the client off the runtime's threads (it waits for its loop).
    let c = Arc::try_unwrap(c).ok().expect("tasks are done");
    tokio::task::spawn_blocking(move || drop(c)).await.unwrap();
    if let Some(n) = jr::aio::live_slots() {
        // Other tests of this binary may run meanwhile: wait for them to
        // go quiet rather than expect 0 at once.
        let t0 = Instant::now();
        while jr::aio::live_slots() != Some(0) {
            assert!(t0.elapsed() < Duration::from_secs(20), "{n} slots leaked");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

/// The async pipeline: results in order (a refused command in its place);
/// dropping the future cancels its pending commands (a written BLMOVE is
/// abandoned, so it does not take the element pushed afterwards), every
/// callback still arrives once (debug builds: no batch left behind).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pipeline_query_async_and_drop_cancel() {
    let c = client();
    let r = jr::pipe()
        .cmd(&["SET", "rs:aio:p", "1"])
        .cmd(&["SELECT", "1"])
        .cmd(&["INCR", "rs:aio:p"])
        .query_async(&c)
        .await;
    assert_eq!(r[0], Ok(Reply::Status("OK".into())));
    assert_eq!(r[1].as_ref().unwrap_err().code(), Some(code::EREFUSED));
    assert_eq!(r[2], Ok(Reply::Integer(2)));

    let (src, dst) = ("rs:aio:psrc", "rs:aio:pdst");
    c.cmd(&["DEL", src, dst]).await.unwrap();
    let mut p = jr::pipe();
    p.timeout(jr::Timeout::Never)
        .cmd(&["SET", "rs:aio:p", "x"])
        .cmd(&["BLMOVE", src, dst, "LEFT", "LEFT", "0"])
        .cmd(&["GET", "rs:aio:p"]);
    let f = assert_send(p.query_async(&c));
    // Pending (the BLMOVE): a timeout drops it.
    assert!(tokio::time::timeout(Duration::from_millis(200), f)
        .await
        .is_err());
    wait_for_blmove_clients(&c, 0).await;
    c.cmd(&["RPUSH", src, "y"]).await.unwrap();
    assert_eq!(c.cmd(&["LLEN", src]).await.unwrap().as_int(), Some(1));
    // Dropped before any poll, after one, at random points of a batch.
    for i in 0..200u64 {
        let mut p = jr::pipe();
        for k in 0..(i % 17) {
            p.cmd(&["ECHO", &k.to_string()]);
        }
        match i % 3 {
            0 => drop(p.query_async(&c)),
            1 => {
                PollOnce(Some(p.query_async(&c))).await;
            }
            _ => {
                let d = Duration::from_micros(i * 5);
                if let Ok(r) = tokio::time::timeout(d, p.query_async(&c)).await {
                    assert_eq!(r.len() as u64, i % 17);
                }
            }
        }
    }
    tokio::task::spawn_blocking(move || drop(c)).await.unwrap();
    if jr::aio::live_slots().is_some() {
        let t0 = Instant::now();
        while jr::aio::live_slots() != Some(0) {
            assert!(t0.elapsed() < Duration::from_secs(20), "batches leaked");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}
