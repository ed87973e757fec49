//! The store's client API over QUIC, for components in other processes.
//!
//! What lives here: the typed hive-transport services that expose a member's shard
//! ([`services`], messages in [`wire`]); [`StoreServer`], which serves them on a member's
//! endpoint from the member's local shard; and [`RemoteStore`], a client with the same
//! methods and meaning as the in-process [`crate::Store`], plus [`RemoteWatch`], one of
//! its watches.
//!
//! The server never proxies: a member that does not lead answers `NotLeader` with the
//! leader's address (the one the shard membership records, where the leader serves this
//! API on the endpoint it speaks Raft on), and the client goes there. Linearizable reads
//! pass the member's read barrier (read index) first; writes are proposed through the
//! shard actor exactly as `Store` proposes them. Watches are served by whichever member
//! the client asks, from that member's hub.
//!
//! # The watch protocol: sessions
//!
//! Watches travel on *watch sessions*, etcd's watch stream with many watch ids: one
//! hive-transport bidi stream ([`services::WatchSession`]) per session, opened by
//! `Open { shard }`, carrying any number of watches. The client names each watch with its
//! own id and sends `Create` and `Cancel` batches on the same stream; the member answers
//! a `Create` batch with one `Created` item (each watch's first revision, or why not),
//! then sends items naming the watches they are for: `Events` (one revision's events,
//! sent once for every watch of the session that got the very same events — watches of
//! one range at one cursor), `Progress`, `Canceled` (one watch ends: requested, slow with
//! its resume point, compacted, unencodable), one `Heartbeat` per quiet session, and
//! `Failed` when the member stops serving the whole session. Each watch still has its
//! own hub registration, cursor, history catch-up, compaction error, slow cancel and
//! resume point; only the stream, the task and the heartbeat are shared.
//!
//! Why a bidi stream rather than a session stream plus unary create/cancel calls naming
//! it: creations and cancellations then ride the session itself, in order with its
//! items (a `Created` always precedes the watch's first events, a `Canceled(Requested)`
//! ends its items, with no session registry or cross-stream race on the member),
//! batched by the client's writer into one frame per wake-up, and bounded by the same
//! QUIC flow control; a session ends with its stream, so nothing outlives a vanished
//! client. `RemoteStore` keeps `watch_sessions` sessions per member (one by default) and
//! spreads its watches over them; the member's side is in `session.rs`, the client's in
//! `watch.rs`.
//!
//! What does not live here: reconnecting watches (a lost session is surfaced to each of
//! its watches with the revision to resume from, as etcd's API does), and key-to-shard
//! routing (a `RemoteStore` talks to one shard).

mod client;
mod server;
mod session;
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
        RemoveMemberMsg, Reply, SessionItem, SessionRequest, StatusMsg, TxnMsg,
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
    service!(
        /// A watch session: a bidi stream carrying many watches, [`SessionRequest`]s in
        /// and [`SessionItem`]s out. (`0x5354_0007` was the stream-per-watch service it
        /// replaced; the id is not reused.)
        WatchSession, "store.watch_session", 0x5354_000b, SessionRequest, SessionItem
    );
}
