// SPDX-License-Identifier: MIT
//! The example of README.md's "Async on tokio" section (test.sh runs it and
//! checks that README.md shows this file).
use std::sync::Arc;
use std::time::Duration;

#[tokio::main]
async fn main() -> jr::Result<()> {
    let url = std::env::var("REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into());
    let client = Arc::new(jr::Client::connect(&url)?);
    client.set("greeting", "hello").await?;
    let v: Option<String> = client.get("greeting").await?; // None: no such key
    let n: i64 = client.cmd_as(&["INCRBY", "n", "5"]).await?; // any FromReply type
    let r = client.cmd(&["LRANGE", "no:such:list", "0", "-1"]).await?; // a jr::Reply
    println!("{v:?} {n} {r:?}");

    // Many tasks, one multiplexed connection: the commands they submit
    // meanwhile leave in one write (automatic pipelining).
    let tasks: Vec<_> = (0..64)
        .map(|i| {
            let c = client.clone();
            tokio::spawn(async move { c.set(format!("k{i}"), "v").await })
        })
        .collect();
    for t in tasks {
        t.await.expect("task")?;
    }

    // A deadline is a library error; dropping a pending future cancels it.
    let e = client
        .cmd_timeout(&["BLPOP", "no:such:list", "0"], Duration::from_millis(100))
        .await
        .unwrap_err();
    assert_eq!(e.kind(), Some(jr::ErrorKind::TimedOut));
    Ok(())
}
