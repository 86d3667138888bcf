//! Pacing across instances through real Redis: two pacers (as two instances would) share one
//! number's and one account's bucket; together they never exceed the rate and use nearly all of it.

mod common;

use std::time::{Duration, Instant};

use switchboard_sender::pacing::{Bucket, Pacer, RedisPacer, Take};

async fn redis_pacer(prefix: &str) -> Pacer {
    let client = redis::Client::open(common::redis_url()).unwrap();
    Pacer::Redis(RedisPacer::new(client.get_connection_manager().await.unwrap(), prefix))
}

/// Takes tokens as fast as allowed for `run`, returning when each grant came back.
async fn drive(pacer: Pacer, buckets: Vec<Bucket>, start: Instant, run: Duration) -> Vec<Duration> {
    let mut grants = Vec::new();
    while start.elapsed() < run {
        match pacer.take(&buckets, 1, Duration::ZERO).await.unwrap() {
            Take::Granted(_) => grants.push(start.elapsed()),
            Take::Wait(w) => tokio::time::sleep(w.min(Duration::from_millis(50))).await,
        }
    }
    grants
}

#[tokio::test]
async fn invariant_3_pacing_two_instances_share_number_and_account_caps_through_redis() {
    let prefix = format!("sbtest:{}", uuid::Uuid::new_v4().simple());
    let (a, b) = (redis_pacer(&prefix).await, redis_pacer(&prefix).await);
    let run = Duration::from_secs(3);
    let start = Instant::now();
    // Number at 20/s under an account at 25/s, and a second number on the same account at 20/s:
    // the account (25/s) binds their sum.
    let n1 = vec![Bucket::new("number:+14155550100", 20.0), Bucket::new("account:AC1", 25.0)];
    let n2 = vec![Bucket::new("number:+14155550101", 20.0), Bucket::new("account:AC1", 25.0)];
    let tasks = [
        tokio::spawn(drive(a.clone(), n1.clone(), start, run)),
        tokio::spawn(drive(b.clone(), n1, start, run)),
        tokio::spawn(drive(a, n2.clone(), start, run)),
        tokio::spawn(drive(b, n2, start, run)),
    ];
    let mut per_number = Vec::new();
    for t in tasks {
        per_number.push(t.await.unwrap());
    }
    let number1 = per_number[0].len() + per_number[1].len();
    let number2 = per_number[2].len() + per_number[3].len();
    let account = number1 + number2;
    // Never over: at most rate × duration, plus the first token at t=0 (and 100 ms for the last
    // call in flight when the run ended).
    let secs = run.as_secs_f64() + 0.1;
    assert!(account as f64 <= 25.0 * secs + 1.0, "account took {account} in {secs} s");
    assert!(number1 as f64 <= 20.0 * secs + 1.0 && number2 as f64 <= 20.0 * secs + 1.0, "{number1} {number2}");
    // And the shared bucket does not starve anyone (how close to the cap it runs is a benchmark,
    // not a test: see docs/benchmarks.md).
    assert!(number1 > 0 && number2 > 0 && account as f64 >= 0.5 * 25.0 * run.as_secs_f64(), "{number1} {number2}");
}

#[tokio::test]
async fn a_multi_segment_message_holds_the_number_for_its_segments() {
    let prefix = format!("sbtest:{}", uuid::Uuid::new_v4().simple());
    let pacer = redis_pacer(&prefix).await;
    let number = [Bucket::new("number:+14155550100", 10.0)];
    assert_eq!(pacer.take(&number, 4, Duration::ZERO).await.unwrap(), Take::Granted(Duration::ZERO));
    match pacer.take(&number, 1, Duration::ZERO).await.unwrap() {
        Take::Wait(w) => assert!(w > Duration::from_millis(300) && w <= Duration::from_millis(400), "{w:?}"),
        Take::Granted(_) => panic!("4 segments at 10/s hold the number for 400 ms"),
    }
    // Asked ahead, the same store grants for the moment the tokens are due, never sooner.
    match pacer.take(&number, 1, Duration::from_millis(500)).await.unwrap() {
        Take::Granted(after) => {
            assert!(after > Duration::from_millis(300) && after <= Duration::from_millis(400), "{after:?}")
        }
        Take::Wait(w) => panic!("due within 500 ms, told to wait {w:?}"),
    }
    match pacer.take(&number, 1, Duration::from_millis(10)).await.unwrap() {
        Take::Wait(w) => assert!(w > Duration::from_millis(390) && w <= Duration::from_millis(490), "{w:?}"),
        Take::Granted(after) => panic!("due in ~500 ms, granted for {after:?}"),
    }
}
