//! A scenario of your own in a few lines: kill the leader every 2 s (restarting it a
//! second later) while the kv workload runs, then check linearizability.
//!
//! `cargo run -p hive-testkit --example kill_leader_every_2s`

use std::cell::Cell;
use std::time::Duration;

use hive_testkit::checker::linearizable::{check, Options};
use hive_testkit::harness::ClusterBackend;
use hive_testkit::workload::{KvOptions, KvWorkload, RunClock};
use hive_testkit::{LocalBackend, LocalOptions};

#[actix_rt::main]
async fn main() -> anyhow::Result<()> {
    let mut cluster = LocalBackend::start(3, LocalOptions::default()).await?;
    let client = cluster.client();
    let kv = KvWorkload::new(KvOptions::default(), RunClock::start());
    let stop = Cell::new(false);
    let nemesis = async {
        for _ in 0..4 {
            tokio::time::sleep(Duration::from_secs(2)).await;
            let leader = cluster.wait_for_leader(Duration::from_secs(10)).await?;
            cluster.kill(leader).await?;
            tokio::time::sleep(Duration::from_secs(1)).await;
            cluster.restart(leader).await?;
        }
        stop.set(true);
        anyhow::Ok(())
    };
    let (faults, ()) = futures::join!(nemesis, kv.run(&client, 1, &stop));
    faults?;
    let history = kv.history();
    let verdict = check(&history, &Options::default());
    println!("{}", verdict.report(&history));
    anyhow::ensure!(verdict.is_ok(), "not linearizable");
    Ok(())
}
