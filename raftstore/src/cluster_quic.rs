//! A QUIC network for [`LocalCluster`](crate::cluster::LocalCluster)s: every member
//! its own endpoint and certificate (one cluster CA), on loopback, at the same address
//! across restarts, as a real member keeps its address; optionally every member also
//! serves the store's client API ([`StoreServer`]) on its endpoint, for
//! [`RemoteStore`](crate::remote::RemoteStore) clients holding a certificate from the
//! same CA. Used by the QUIC tests and by `hive bench store --hive-client remote`. With
//! feature `faults`, one fault injector controls every member's endpoint.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use crate::cluster::{MemberNetwork, NetworkFactory, ServingNetworkFactory};
use crate::network::{QuicRaftNetwork, RaftRpcTimeouts};
use crate::remote::{StoreServer, StoreServerOptions};
use crate::shard::ShardSlot;
use crate::{NodeId, ShardId};
use hive_transport::{ClusterCa, EndpointConfig, Identity, MemberName, Role};
use parking_lot::Mutex;

/// Seed of the fault injector (the tests use no random faults; any seed replays them).
#[cfg(feature = "faults")]
pub const FAULT_SEED: u64 = 0x4849_5645;

/// The cluster CA, each member's certificate and address, and the shared fault filters.
pub struct QuicFabric {
    ca: ClusterCa,
    members: Mutex<HashMap<NodeId, (Identity, Option<SocketAddr>)>>,
    timeouts: RaftRpcTimeouts,
    /// The filters every member's endpoint consults.
    #[cfg(feature = "faults")]
    pub faults: hive_transport::faults::FaultInjector,
}

/// The member name of node `node` (its certificate's DNS name).
pub fn member_name(node: NodeId) -> MemberName {
    MemberName::new(format!("member-{}", node.0)).expect("valid member name")
}

impl QuicFabric {
    /// A new CA; Raft RPC deadlines follow `raft`'s timings.
    pub fn new(raft: &openraft::Config) -> Arc<Self> {
        Arc::new(QuicFabric {
            ca: ClusterCa::generate().expect("cluster CA"),
            members: Mutex::new(HashMap::new()),
            timeouts: RaftRpcTimeouts::from_raft_config(raft),
            #[cfg(feature = "faults")]
            faults: hive_transport::faults::FaultInjector::new(FAULT_SEED),
        })
    }

    /// What `LocalCluster` calls on a member's arbiter at every start of the member.
    pub fn factory(self: &Arc<Self>) -> NetworkFactory {
        let fabric = self.clone();
        Arc::new(move |node| fabric.start(node))
    }

    /// Like [`QuicFabric::factory`], and every member also serves the store's client
    /// API (`StoreServer`) for `shard` on its endpoint, from its own shard member.
    pub fn serving_factory(
        self: &Arc<Self>,
        shard: ShardId,
        opts: StoreServerOptions,
    ) -> ServingNetworkFactory {
        let fabric = self.clone();
        Arc::new(move |node, slot: ShardSlot| {
            let net = fabric.bind(node)?;
            let server = StoreServer::new(opts.clone());
            server.add_shard(shard, slot);
            server.serve(net.endpoint());
            member_network(net)
        })
    }

    /// Credentials from the cluster CA for a client process named `name`.
    pub fn client_identity(&self, name: &str) -> Identity {
        let name = MemberName::new(name).expect("valid client name");
        self.ca.issue(&name, Role::Member).expect("client identity")
    }

    /// Binds member `node`'s endpoint: on loopback port 0 the first time, on the same
    /// address afterwards.
    fn start(&self, node: NodeId) -> Result<MemberNetwork, String> {
        member_network(self.bind(node)?)
    }

    /// Binds member `node`'s Raft network (see [`QuicFabric::start`]).
    fn bind(&self, node: NodeId) -> Result<QuicRaftNetwork, String> {
        let (identity, known) = {
            let mut members = self.members.lock();
            if let Some((identity, addr)) = members.get(&node) {
                (identity.clone(), *addr)
            } else {
                let identity = self
                    .ca
                    .issue(&member_name(node), Role::Member)
                    .map_err(|e| e.to_string())?;
                members.insert(node, (identity.clone(), None));
                (identity, None)
            }
        };
        #[allow(unused_mut)]
        let mut config = EndpointConfig {
            listen: known.unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], 0))),
            // Default transport settings on purpose: a restarted member is reachable again
            // as soon as it dials (its fresh connection replaces the dead one), and at the
            // latest when the dead one idles out (5 s).
            connect_timeout: Duration::from_secs(2),
            seed: node.0,
            ..EndpointConfig::default()
        };
        #[cfg(feature = "faults")]
        {
            config.faults = Some(self.faults.clone());
        }
        let net =
            QuicRaftNetwork::bind(&identity, config, self.timeouts).map_err(|e| e.to_string())?;
        let addr = net.local_peer_addr().map_err(|e| e.to_string())?;
        if let Some((_, remembered)) = self.members.lock().get_mut(&node) {
            *remembered = Some(addr.addr);
        }
        Ok(net)
    }
}

/// A member's network over its QUIC endpoint.
fn member_network(net: QuicRaftNetwork) -> Result<MemberNetwork, String> {
    let addr = net.local_peer_addr().map_err(|e| e.to_string())?;
    Ok(MemberNetwork {
        addr: addr.to_string(),
        transport: Arc::new(net.clone()),
        inbox: Arc::new(net),
    })
}
