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
    let v: Option<Vec<u8>> = client.get("greeting").await?; // None: no such key
    let n = client.cmd(&["INCRBY", "n", "5"]).await?.as_int(); // any command: a Reply
    println!("{v:?} {n:?}");

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
    assert_eq!(e.code(), Some(jr::code::ETIMEDOUT));
    Ok(())
}
