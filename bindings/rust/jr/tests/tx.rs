// SPDX-License-Identifier: MIT
mod common;

use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use common::client;
use jr::{code, Error, Message, Reply};

#[test]
fn transaction_queues_and_execs() {
    let c = client();
    c.call(&["DEL", "rs:tx:n", "rs:tx:s"]).unwrap();
    let mut tx = c.multi().unwrap();
    let incr = tx.queue(&["INCR", "rs:tx:n"]).unwrap();
    let (send, recv) = std::sync::mpsc::channel();
    tx.add(&["SET", "rs:tx:s", "v"], move |r| send.send(r).unwrap())
        .unwrap();
    let bad = tx.queue(&["LPUSH", "rs:tx:s", "x"]).unwrap(); // WRONGTYPE at run time
    let get = tx.queue(&["GET", "rs:tx:s"]).unwrap();
    let exec = tx.exec().wait().unwrap().into_array().unwrap();
    assert_eq!(exec.len(), 4);
    assert!(matches!(exec[2], Reply::Error(_)));
    assert_eq!(incr.wait().unwrap(), Reply::Integer(1));
    assert_eq!(recv.recv().unwrap().unwrap().as_str(), Some("OK"));
    assert_eq!(bad.wait().unwrap_err().server_kind(), Some("WRONGTYPE"));
    assert_eq!(get.wait().unwrap().as_str(), Some("v"));
}

#[test]
fn transaction_refuses_and_aborts() {
    let c = client();
    let mut tx = c.multi().unwrap();
    let e = tx.queue(&["WATCH", "k"]).unwrap_err();
    assert_eq!(e.code(), Some(code::EREFUSED));
    let ok = tx.queue(&["SET", "rs:tx:abort", "1"]).unwrap();
    let wrong = tx.queue(&["NOSUCHCOMMAND"]).unwrap();
    assert!(matches!(tx.exec().wait(), Err(Error::Server(_))));
    assert_eq!(ok.wait().unwrap_err().server_kind(), Some("EXECABORT"));
    assert!(matches!(wrong.wait(), Err(Error::Server(_))));
    assert!(c.call(&["GET", "rs:tx:abort"]).unwrap().is_nil());
}

#[test]
fn transaction_discard_and_drop() {
    let c = client();
    let mut tx = c.multi().unwrap();
    let a = tx.queue(&["SET", "rs:tx:d", "1"]).unwrap();
    tx.discard();
    let b = {
        let mut tx = c.multi().unwrap();
        tx.queue(&["SET", "rs:tx:d", "2"]).unwrap()
    }; // dropped unexecuted: discarded
    for f in [a, b] {
        let e = f.wait().unwrap_err();
        assert_eq!(e.code(), Some(code::EDISCARDED));
        assert!(e.is_unsent());
    }
    assert!(c.call(&["GET", "rs:tx:d"]).unwrap().is_nil());
}

#[test]
fn transaction_in_a_database_view() {
    let c = client();
    let db = c.db(7).unwrap();
    let mut tx = db.multi().unwrap();
    tx.queue(&["SET", "rs:tx:db", "seven"]).unwrap();
    tx.exec().wait().unwrap();
    assert_eq!(
        db.call(&["GET", "rs:tx:db"]).unwrap().as_str(),
        Some("seven")
    );
    assert!(c.call(&["GET", "rs:tx:db"]).unwrap().is_nil());
}

#[test]
fn watch_commits_or_fails_with_ewatch() {
    let c = client();
    c.call(&["SET", "rs:w", "10"]).unwrap();
    {
        let mut w = c.watch(&["rs:w"]).unwrap();
        let v: i64 = w
            .command(&["GET", "rs:w"])
            .wait()
            .unwrap()
            .as_str()
            .unwrap()
            .parse()
            .unwrap();
        let mut tx = w.multi().unwrap();
        tx.queue(&["SET", "rs:w", &(v + 1).to_string()]).unwrap();
        tx.exec().wait().unwrap();
        assert_eq!(w.multi().err().unwrap().code(), Some(code::EMISUSE));
    }
    assert_eq!(c.call(&["GET", "rs:w"]).unwrap().as_str(), Some("11"));
    {
        let mut w = c.watch(&["rs:w"]).unwrap();
        w.command(&["GET", "rs:w"]).wait().unwrap();
        c.call(&["SET", "rs:w", "changed"]).unwrap();
        let mut tx = w.multi().unwrap();
        let set = tx.queue(&["SET", "rs:w", "12"]).unwrap();
        assert_eq!(tx.exec().wait().unwrap_err().code(), Some(code::EWATCH));
        assert_eq!(set.wait().unwrap_err().code(), Some(code::EWATCH));
    }
    assert_eq!(c.call(&["GET", "rs:w"]).unwrap().as_str(), Some("changed"));
}

#[derive(Default)]
struct Inbox {
    got: Mutex<Vec<Message>>,
    cv: Condvar,
}

impl Inbox {
    fn push(&self, m: Message) {
        self.got.lock().unwrap().push(m);
        self.cv.notify_all();
    }
    fn wait(&self, pred: impl Fn(&[Message]) -> bool) -> bool {
        let deadline = Instant::now() + Duration::from_secs(5);
        let mut g = self.got.lock().unwrap();
        while !pred(&g) {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return false;
            }
            g = self.cv.wait_timeout(g, left).unwrap().0;
        }
        true
    }
}

fn count(ms: &[Message], f: impl Fn(&Message) -> bool) -> usize {
    ms.iter().filter(|m| f(m)).count()
}

#[test]
fn pubsub_delivers_messages_and_closes_last() {
    let c = client();
    let inbox = Arc::new(Inbox::default());
    let i2 = inbox.clone();
    {
        let mut sub = c.subscriber(move |m| i2.push(m)).unwrap();
        sub.subscribe(&["rs:ch1", "rs:ch2"]).unwrap();
        sub.psubscribe(&["rs:p*"]).unwrap();
        assert!(inbox.wait(|ms| count(
            ms,
            |m| matches!(m, Message::Confirm { kind, .. } if kind == "subscribe" || kind == "psubscribe")
        ) == 3));
        assert!(c.call(&["PUBLISH", "rs:ch1", "hello"]).unwrap().as_int() >= Some(1));
        c.call(&["PUBLISH", "rs:pattern", "world"]).unwrap();
        sub.ping(b"are you there").unwrap();
        assert!(
            inbox.wait(|ms| ms.iter().any(|m| matches!(m, Message::Pong(_)))
                && ms.iter().any(|m| matches!(m, Message::PMessage { .. })))
        );
        sub.unsubscribe::<&str>(&[]).unwrap();
        sub.punsubscribe::<&str>(&[]).unwrap();
    }
    assert!(inbox.wait(|ms| ms.last() == Some(&Message::Closed)));
    let ms = inbox.got.lock().unwrap();
    assert!(ms.contains(&Message::Message {
        channel: b"rs:ch1".to_vec(),
        payload: b"hello".to_vec()
    }));
    assert!(ms.contains(&Message::PMessage {
        pattern: b"rs:p*".to_vec(),
        channel: b"rs:pattern".to_vec(),
        payload: b"world".to_vec()
    }));
    assert!(ms.contains(&Message::Pong(b"are you there".to_vec())));
    assert_eq!(count(&ms, |m| *m == Message::Closed), 1);
}

#[test]
fn sharded_channels_and_refused_names() {
    let c = client();
    let inbox = Arc::new(Inbox::default());
    let i2 = inbox.clone();
    {
        let mut sub = c.subscriber(move |m| i2.push(m)).unwrap();
        sub.ssubscribe(&["rs:shard"]).unwrap();
        assert!(inbox.wait(|ms| ms.contains(&Message::Confirm {
            kind: "ssubscribe".into(),
            name: b"rs:shard".to_vec(),
            count: 1
        })));
        assert_eq!(
            c.call(&["SPUBLISH", "rs:shard", "sharded"])
                .unwrap()
                .as_int(),
            Some(1)
        );
        assert!(inbox.wait(|ms| ms.contains(&Message::SMessage {
            channel: b"rs:shard".to_vec(),
            payload: b"sharded".to_vec()
        })));
        sub.sunsubscribe::<&str>(&[]).unwrap();
        assert!(inbox.wait(|ms| ms
            .iter()
            .any(|m| matches!(m, Message::Confirm { kind, .. } if kind == "sunsubscribe"))));
    }
    assert!(inbox.wait(|ms| ms.last() == Some(&Message::Closed)));
    // A name the ACL forbids: Refused, and not subscribed.
    c.call(&[
        "ACL",
        "SETUSER",
        "rs-lim",
        "on",
        ">pw",
        "~*",
        "resetchannels",
        "&ok:*",
        "+@all",
    ])
    .unwrap();
    let lim = jr::Client::new(&common::opts().username("rs-lim").password("pw")).unwrap();
    let inbox = Arc::new(Inbox::default());
    let i2 = inbox.clone();
    let mut sub = lim.subscriber(move |m| i2.push(m)).unwrap();
    sub.ssubscribe(&["no:shard"]).unwrap();
    assert!(inbox.wait(|ms| ms.iter().any(|m| matches!(m,
        Message::Refused { kind, name, error }
            if kind == "ssubscribe" && name == b"no:shard" && error.starts_with("NOPERM")))));
    drop(sub);
    c.call(&["ACL", "DELUSER", "rs-lim"]).unwrap();
}

#[test]
fn monitor_sees_commands() {
    let c = client();
    let inbox = Arc::new(Inbox::default());
    let i2 = inbox.clone();
    {
        let _mon = c.monitor(move |m| i2.push(m)).unwrap();
        let deadline = Instant::now() + Duration::from_secs(5);
        let seen = |ms: &[Message]| {
            ms.iter()
                .any(|m| matches!(m, Message::Monitor(l) if l.contains("rs-monitor-marker")))
        };
        loop {
            c.call(&["ECHO", "rs-monitor-marker"]).unwrap();
            if seen(&inbox.got.lock().unwrap()) || Instant::now() > deadline {
                break;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        assert!(seen(&inbox.got.lock().unwrap()));
    }
    assert!(inbox.wait(|ms| ms.last() == Some(&Message::Closed)));
}
