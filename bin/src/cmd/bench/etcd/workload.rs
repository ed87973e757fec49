//! The bench workload against a local etcd, through the `etcd-client` crate over
//! plaintext gRPC on loopback.
//!
//! Clients share connections the way etcd's own `benchmark` tool does (`--conns`,
//! `--clients`, which etcd's performance guide runs at one connection per ten clients):
//! `ceil(clients / clients_per_connection)` [`Client`]s are connected, each one HTTP/2
//! connection, and client `i` puts through its own `KvClient` on connection
//! `i % connections`. Every connection goes to the leader, as Hive's store handle does.

use std::time::Duration;

use super::{EtcdCluster, EtcdMeasured};
use crate::cmd::bench::load::{Load, PutClient};
use anyhow::{anyhow, Context as _};
use etcd_client::{Client, ConnectOptions, KvClient};

/// How many connections `clients` clients share.
pub fn connections_for(clients: usize, clients_per_connection: usize) -> usize {
    clients.div_ceil(clients_per_connection.max(1)).max(1)
}

struct EtcdPutter {
    kv: KvClient,
}

impl PutClient for EtcdPutter {
    async fn put(&mut self, key: String, value: Vec<u8>) -> Result<(), String> {
        self.kv
            .put(key, value, None)
            .await
            .map(|_| ())
            .map_err(|e| e.to_string())
    }
}

fn connect_options() -> ConnectOptions {
    ConnectOptions::new()
        .with_connect_timeout(Duration::from_secs(5))
        .with_timeout(Duration::from_secs(10))
}

/// The client URL of the member that currently leads.
async fn leader_url(cluster: &EtcdCluster) -> anyhow::Result<String> {
    let urls = cluster.client_urls();
    for url in &urls {
        let mut c = Client::connect([url.as_str()], Some(connect_options()))
            .await
            .with_context(|| format!("connecting to etcd at {url}"))?;
        let status = c
            .status()
            .await
            .with_context(|| format!("etcd status at {url}"))?;
        let me = status.header().map(|h| h.member_id());
        if status.leader() != 0 && Some(status.leader()) == me {
            return Ok(url.clone());
        }
    }
    Err(anyhow!("no etcd member among {urls:?} says it leads"))
}

/// `clients` clients putting `value_size`-byte values to random keys for `duration`
/// after a warm-up of a fifth of it: the same [`Load`] the Hive side runs.
pub async fn run_case(
    cluster: &EtcdCluster,
    clients: usize,
    value_size: usize,
    duration: Duration,
    clients_per_connection: usize,
) -> anyhow::Result<EtcdMeasured> {
    let url = leader_url(cluster).await?;
    let connections = connections_for(clients, clients_per_connection);
    let mut conns = Vec::with_capacity(connections);
    for _ in 0..connections {
        conns.push(
            Client::connect([url.as_str()], Some(connect_options()))
                .await
                .with_context(|| format!("connecting to etcd at {url}"))?,
        );
    }
    let putters = (0..clients)
        .map(|i| EtcdPutter {
            kv: conns[i % connections].kv_client(),
        })
        .collect();
    let measured = Load::spawn(putters, value_size).run(duration).await?;
    Ok(EtcdMeasured {
        connections,
        measured,
    })
}

#[cfg(test)]
mod tests {
    use super::super::tests::{etcd_or_skip, runtime};
    use super::super::EtcdOptions;
    use super::*;

    /// At a tiny size the harness really measures etcd: puts were acknowledged by it,
    /// none failed, and the clients shared the connections they were meant to.
    #[test]
    fn etcd_puts_are_measured_at_a_tiny_size() {
        let Some(binary) = etcd_or_skip("the etcd workload") else {
            return;
        };
        let parent = tempfile::tempdir().unwrap();
        let (m, stored) = runtime()
            .block_on(async {
                let cluster =
                    EtcdCluster::start(parent.path(), &EtcdOptions::new(binary, 1)).await?;
                let m = run_case(&cluster, 4, 64, Duration::from_millis(300), 2).await?;
                let url = &cluster.client_urls()[0];
                let mut c = Client::connect([url.as_str()], None).await?;
                let only_count = etcd_client::GetOptions::new()
                    .with_prefix()
                    .with_count_only();
                let stored = c.get("/bench/", Some(only_count)).await?.count();
                anyhow::Ok((m, stored))
            })
            .unwrap();
        assert!(stored > 0, "etcd holds no /bench/ keys after the run");
        assert_eq!(m.connections, 2);
        assert!(m.measured.puts > 0, "{m:?}");
        assert_eq!(m.measured.errors, 0, "{m:?}");
        assert!(
            m.measured.puts_per_sec > 0.0 && m.measured.latency.p50_ms > 0.0,
            "{m:?}"
        );
    }

    #[test]
    fn clients_share_connections_ten_to_one_by_default_and_never_zero() {
        assert_eq!(connections_for(1, 10), 1);
        assert_eq!(connections_for(64, 10), 7);
        assert_eq!(connections_for(1000, 10), 100);
        assert_eq!(connections_for(8, 0), 8);
    }
}
