//! The store's client API over QUIC, for components in other processes.
//!
//! What lives here: the typed hive-transport services that expose a member's shard
//! ([`services`], messages in [`wire`]); [`StoreServer`], which serves them on a member's
//! endpoint from the member's local shard; and [`RemoteStore`], a client with the same
//! methods and meaning as the in-process [`crate::Store`], plus [`RemoteWatch`], its
//! watch stream.
//!
//! The server never proxies: a member that does not lead answers `NotLeader` with the
//! leader's address (the one the shard membership records, where the leader serves this
//! API on the endpoint it speaks Raft on), and the client goes there. Linearizable reads
//! pass the member's read barrier (read index) first; writes are proposed through the
//! shard actor exactly as `Store` proposes them. Watches are served by whichever member
//! the client asks, from that member's hub: each item carries one revision's events as
//! the hub's encoded `SharedEvent` bytes, unchanged.
//!
//! What does not live here: reconnecting watches (a lost stream is surfaced to the caller
//! with the revision to resume from, as etcd's API does), and key-to-shard routing (a
//! `RemoteStore` talks to one shard).

mod client;
mod server;
mod watch;
pub mod wire;

pub use client::{RemoteOptions, RemoteStore};
pub use server::{StoreServer, StoreServerOptions};
pub use watch::RemoteWatch;
pub use wire::{MemberAddr, MemberRole, MemberStatus};

/// The services of the store's client API, one per operation. Ids are in the `ST` block
/// (`0x5354_xxxx`), beside the Raft services' `RA` block.
pub mod services {
    use hive_transport::{Service, ServiceId};

    use super::wire::{
        AddMemberMsg, CompactMsg, LeaseGrantMsg, LeaseGranted, LeaseMsg, MemberStatus, RangeMsg,
        RemoveMemberMsg, Reply, StatusMsg, TxnMsg, WatchItem, WatchMsg,
    };
    use crate::types::{RangeResponse, Revision, TxnResponse};

    /// Declares a zero-sized service type.
    macro_rules! service {
        ($(#[$doc:meta])* $name:ident, $wire:literal, $id:literal, $req:ty, $resp:ty) => {
            $(#[$doc])*
            #[derive(Debug)]
            pub struct $name;
            impl Service for $name {
                const NAME: &'static str = $wire;
                const ID: ServiceId = ServiceId($id);
                type Request = $req;
                type Response = $resp;
            }
        };
    }

    service!(
        /// Read keys, linearizably (read index on the leader) or from the member's state.
        Range, "store.range", 0x5354_0001, RangeMsg, Reply<RangeResponse>
    );
    service!(
        /// Run a transaction (puts, deletes and compare-and-swaps are transactions).
        Txn, "store.txn", 0x5354_0002, TxnMsg, Reply<TxnResponse>
    );
    service!(
        /// Grant a lease.
        LeaseGrant, "store.lease_grant", 0x5354_0003, LeaseGrantMsg, Reply<LeaseGranted>
    );
    service!(
        /// Keep a lease alive on the leader; answers its TTL in milliseconds.
        LeaseKeepAlive, "store.lease_keep_alive", 0x5354_0004, LeaseMsg, Reply<u64>
    );
    service!(
        /// Revoke a lease, deleting its keys in one revision.
        LeaseRevoke, "store.lease_revoke", 0x5354_0005, LeaseMsg, Reply<Revision>
    );
    service!(
        /// Discard history below a revision.
        Compact, "store.compact", 0x5354_0006, CompactMsg, Reply<Revision>
    );
    service!(
        /// Watch a key range: a server stream of [`WatchItem`]s.
        Watch, "store.watch", 0x5354_0007, WatchMsg, WatchItem
    );
    service!(
        /// The answering member's view of its shard (never redirected).
        Status, "store.member_status", 0x5354_0008, StatusMsg, Reply<MemberStatus>
    );
    service!(
        /// Add a member (learner, then voter).
        AddMember, "store.add_member", 0x5354_0009, AddMemberMsg, Reply<()>
    );
    service!(
        /// Remove a member.
        RemoveMember, "store.remove_member", 0x5354_000a, RemoveMemberMsg, Reply<()>
    );
}
