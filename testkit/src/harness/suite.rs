//! The behaviour every [`ClusterBackend`] must show, as one test body any backend runs
//! in a line: `behaviour_suite(&mut backend).await?`. Each step waits on state (a
//! leader, a write going through) with generous deadlines, never on a fixed sleep, and
//! a failure names the step and what it waited for.

use std::future::Future;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context};
use hive_raftstore::NodeId;

use super::{Capability, ClusterBackend, KvClient};

/// Bound on any one wait of the suite.
const WAIT: Duration = Duration::from_secs(30);

/// Retries `op` until it succeeds or [`WAIT`] passes.
async fn eventually<T, E: std::fmt::Display, F: Future<Output = Result<T, E>>>(
    what: &str,
    mut op: impl FnMut() -> F,
) -> anyhow::Result<T> {
    let deadline = Instant::now() + WAIT;
    loop {
        let last = match tokio::time::timeout(Duration::from_secs(5), op()).await {
            Ok(Ok(v)) => return Ok(v),
            Ok(Err(e)) => e.to_string(),
            Err(_) => "no answer within 5s".to_string(),
        };
        if Instant::now() >= deadline {
            bail!("timed out after {WAIT:?} waiting until {what}; last error: {last}");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Waits until a member other than `old` leads.
async fn new_leader<B: ClusterBackend>(b: &B, old: NodeId) -> anyhow::Result<NodeId> {
    let deadline = Instant::now() + WAIT;
    loop {
        match b.leader().await {
            Some(l) if l != old => return Ok(l),
            _ if Instant::now() >= deadline => {
                bail!("no member but {old} leads within {WAIT:?}")
            }
            _ => tokio::time::sleep(Duration::from_millis(25)).await,
        }
    }
}

/// Writes `value` to `key` through a fresh client and reads it back.
async fn write_and_read<B: ClusterBackend>(b: &B, key: &str, value: &str) -> anyhow::Result<()> {
    let c = b.client();
    let rev = eventually(&format!("{key} = {value} is written"), || c.put(key, value)).await?;
    let got = eventually(&format!("{key} is read"), || c.get(key)).await?;
    let kv = got.ok_or_else(|| anyhow!("{key} is gone right after it was written"))?;
    if kv.value != value.as_bytes() || kv.mod_revision < rev {
        bail!(
            "{key} reads {:?} at revision {}, not {value:?} at {rev}",
            String::from_utf8_lossy(&kv.value),
            kv.mod_revision
        );
    }
    Ok(())
}

/// What every backend must do: elect a leader, serve writes and reads, survive killing
/// and restarting the leader, pausing it, isolating it, cutting it one way, and (where
/// supported) adding and removing a member — each time electing another leader or
/// serving writes again — and refuse to act on a member it does not know.
pub async fn behaviour_suite<B: ClusterBackend>(b: &mut B) -> anyhow::Result<()> {
    let members = b.members();
    if members.len() < 3 {
        bail!("the suite needs at least 3 members, not {}", members.len());
    }
    if b.running() != members {
        bail!("running {:?} is not every member {members:?}", b.running());
    }
    let leader = b.wait_for_leader(WAIT).await.context("first leader")?;
    write_and_read(b, "/suite/a", "1")
        .await
        .context("first write")?;

    // Unknown members are refused by name.
    let stranger = NodeId(999);
    let e = b
        .kill(stranger)
        .await
        .expect_err("killing an unknown member fails");
    if !e.to_string().contains("n999") && !e.to_string().contains("999") {
        bail!("the error for an unknown member does not name it: {e}");
    }

    if b.supports(Capability::Kill) {
        b.kill(leader).await.context("kill the leader")?;
        if b.running().contains(&leader) {
            bail!("{leader} still listed running after its kill");
        }
        let next = new_leader(b, leader).await.context("after the kill")?;
        write_and_read(b, "/suite/b", "2")
            .await
            .context("write with the old leader dead")?;
        b.restart(leader).await.context("restart")?;
        if !b.running().contains(&leader) {
            bail!("{leader} not listed running after its restart");
        }
        write_and_read(b, "/suite/c", "3")
            .await
            .context("write after the restart")?;
        tracing::info!(old = %leader, new = %next, "suite: kill and restart ok");
    }

    if b.supports(Capability::Pause) {
        let l = b.wait_for_leader(WAIT).await?;
        b.pause(l).await.context("pause the leader")?;
        let next = new_leader(b, l)
            .await
            .context("while the leader is paused")?;
        // No write while it is frozen: the in-process client has no per-member timeout
        // and would wait on the frozen member (a client of the process backend would not).
        b.resume(l).await.context("resume")?;
        write_and_read(b, "/suite/e", "5")
            .await
            .context("write after resume")?;
        tracing::info!(paused = %l, new = %next, "suite: pause and resume ok");
    }

    if b.supports(Capability::Network) {
        let l = b.wait_for_leader(WAIT).await?;
        b.isolate(l).context("isolate the leader")?;
        let next = new_leader(b, l)
            .await
            .context("while the leader is isolated")?;
        b.heal_network().context("heal")?;
        write_and_read(b, "/suite/f", "6")
            .await
            .context("write after healing")?;

        let l = b.wait_for_leader(WAIT).await?;
        for other in b.members() {
            if other != l {
                b.cut_one_way(l, other)
                    .context("cut the leader's outbound links")?;
            }
        }
        let after_cut = new_leader(b, l)
            .await
            .context("with the leader cut one way")?;
        b.heal_network().context("heal")?;
        write_and_read(b, "/suite/g", "7")
            .await
            .context("write after the one-way cut")?;

        let l = b.wait_for_leader(WAIT).await?;
        let rest: Vec<NodeId> = b.members().into_iter().filter(|n| *n != l).collect();
        b.partition(&[vec![l], rest])
            .context("leader in the minority")?;
        new_leader(b, l)
            .await
            .context("with the leader in the minority")?;
        b.heal_network().context("heal")?;
        write_and_read(b, "/suite/h", "8")
            .await
            .context("write after the partition")?;
        tracing::info!(isolated = %next, cut = %after_cut, "suite: partitions ok");
    }

    if b.supports(Capability::Membership) {
        let added = b.add_member().await.context("add a member")?;
        if !b.members().contains(&added) || b.members().len() != members.len() + 1 {
            bail!("{added} not listed after joining: {:?}", b.members());
        }
        write_and_read(b, "/suite/i", "9")
            .await
            .context("write with 4 members")?;
        b.remove_member(added).await.context("remove it")?;
        if b.members() != members {
            bail!(
                "members {:?} after removing {added}, not {members:?}",
                b.members()
            );
        }
        write_and_read(b, "/suite/j", "10")
            .await
            .context("write after removal")?;
    }

    b.heal_all().await.context("heal everything")?;
    write_and_read(b, "/suite/k", "11")
        .await
        .context("final write")?;
    Ok(())
}
