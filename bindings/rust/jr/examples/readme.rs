// SPDX-License-Identifier: MIT
//! The README example. Run it against the redis-server of REDIS_URL
//! (default redis://127.0.0.1:6379):
//!   cargo run --example readme
use std::time::Duration;

fn main() -> Result<(), jr::Error> {
    let url = std::env::var("REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into());
    let client = jr::Client::new(
        &jr::Options::new()
            .url(&url)
            .command_timeout(Duration::from_secs(2)),
    )?;

    client.call(&["SET", "greeting", "hello"])?;
    let r = client.call(&["GET", "greeting"])?;
    println!("{r:?}"); // Bulk("hello")
                       // Typed (jr::FromReply): nil is None.
    let v: Option<String> = client.call_as(&["GET", "greeting"])?;
    println!("{v:?}"); // Some("hello")

    // Eager futures: all of them leave in one write (automatic pipelining).
    let futures: Vec<_> = (0..100)
        .map(|_| client.command(&["INCR", "counter"]))
        .collect();
    for f in futures {
        f.wait()?; // or .await in any executor
    }
    // An explicit pipeline: one call into libjr, one write, results in order
    // (each its own Result); `.query_async(&client).await` with `tokio`.
    let replies = jr::pipe()
        .cmd(&["INCR", "counter"])
        .cmd(&["GET", "counter"])
        .query(&client);
    println!("{:?}", replies[1]); // Ok(Bulk("..."))

    // A closure, called exactly once on libjr's loop thread (must not block).
    client.submit(&["GET", "greeting"], |r| println!("callback: {r:?}"))?;

    // Two kinds of errors.
    match client.call(&["LPUSH", "greeting", "x"]) {
        Err(jr::Error::Server(msg)) => println!("server said: {msg}"), // WRONGTYPE ...
        Err(jr::Error::Library {
            kind,
            unsent,
            message,
            ..
        }) => {
            println!("libjr: {kind:?} {message}; safe to retry: {unsent}")
        }
        Err(e) => println!("{e}"),
        Ok(r) => println!("{r:?}"),
    }

    // Transactions, WATCH and pub/sub.
    let mut tx = client.multi()?;
    let n = tx.queue(&["INCR", "counter"])?; // a future per command
    tx.queue(&["SET", "k", "v"])?;
    tx.exec().wait()?; // the raw EXEC reply
    println!("{:?}", n.wait()?);

    let mut w = client.watch(&["balance"])?; // optimistic locking
    let v: i64 = w
        .command(&["GET", "balance"])
        .wait()?
        .as_str()
        .unwrap_or("0")
        .parse()
        .unwrap_or(0);
    let mut tx = w.multi()?;
    tx.queue(&["SET", "balance", &(v + 1).to_string()])?;
    match tx.exec().wait() {
        Err(e) if e.kind() == Some(jr::ErrorKind::Watch) => println!("changed meanwhile: retry"),
        r => println!("{r:?}"),
    }
    drop(w);

    let mut sub = client.subscriber(|m| {
        if let jr::Message::Message { channel, payload } = m {
            println!("{channel:?}: {payload:?}");
        }
    })?;
    sub.subscribe(&["news"])?;
    drop(sub);

    // Database views share the connection.
    let db3 = client.db(3)?;
    db3.call(&["SET", "k", "in db 3"])?;
    Ok(())
}
