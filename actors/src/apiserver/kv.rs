//! [`Kv`]: the store the storage layer writes to, either in process
//! ([`hive_raftstore::Store`]) or over QUIC ([`RemoteStore`]); both have the
//! same methods and meaning, this only puts them behind one type.

use hive_raftstore::remote::{RemoteStore, RemoteWatch};
use hive_raftstore::watch::{WatchReceiver, WatchResponse};
use hive_raftstore::{
    Consistency, KeyRange, RangeRequest, RangeResponse, Revision, Store, StoreResult, TxnRequest,
    TxnResponse,
};

/// A store client.
#[derive(Clone)]
pub enum Kv {
    /// The in-process client.
    Local(Store),
    /// The client for other processes.
    Remote(RemoteStore),
}

impl std::fmt::Debug for Kv {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Kv::Local(_) => f.write_str("Kv::Local"),
            Kv::Remote(r) => write!(f, "Kv::Remote({r:?})"),
        }
    }
}

impl From<Store> for Kv {
    fn from(s: Store) -> Kv {
        Kv::Local(s)
    }
}

impl From<RemoteStore> for Kv {
    fn from(s: RemoteStore) -> Kv {
        Kv::Remote(s)
    }
}

/// A watch on either client.
#[derive(Debug)]
pub enum KvWatch {
    /// In process.
    Local(WatchReceiver),
    /// Over QUIC.
    Remote(RemoteWatch),
}

impl KvWatch {
    /// The next response; `None` once the watch ended.
    pub async fn recv(&mut self) -> Option<StoreResult<WatchResponse>> {
        match self {
            KvWatch::Local(rx) => rx.recv().await.map(Ok),
            KvWatch::Remote(w) => w.recv().await,
        }
    }
}

impl Kv {
    /// Runs a transaction.
    pub async fn txn(&self, t: TxnRequest) -> StoreResult<TxnResponse> {
        match self {
            Kv::Local(s) => s.txn(t).await,
            Kv::Remote(s) => s.txn(t).await,
        }
    }

    /// Reads keys.
    pub async fn range(&self, r: RangeRequest, c: Consistency) -> StoreResult<RangeResponse> {
        match self {
            Kv::Local(s) => s.range(r, c).await,
            Kv::Remote(s) => s.range(r, c).await,
        }
    }

    /// Watches a range from `start` (`None`: from now).
    pub async fn watch(
        &self,
        range: KeyRange,
        start: Option<Revision>,
        progress_notify: bool,
    ) -> StoreResult<KvWatch> {
        match self {
            Kv::Local(s) => s
                .watch(range, start, progress_notify)
                .await
                .map(KvWatch::Local),
            Kv::Remote(s) => s
                .watch(range, start, progress_notify)
                .await
                .map(KvWatch::Remote),
        }
    }

    /// Discards history below `revision`.
    pub async fn compact(&self, revision: Revision) -> StoreResult<()> {
        match self {
            Kv::Local(s) => s.compact(revision).await,
            Kv::Remote(s) => s.compact(revision).await,
        }
    }
}
