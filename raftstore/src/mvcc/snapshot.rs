//! The rkyv snapshot of an `Mvcc`: everything observable, validated on the way back in.
//!
//! Values are stored once: the snapshot holds every retained version per key, and the
//! history refers to them by (key index, revision) instead of repeating them. A delete's
//! or put's `prev_kv` is the key's previous retained version, so history is rebuilt
//! exactly. Restore checks the invariants the rest of the code relies on, so a corrupt
//! or hostile snapshot is an error, never a panic or a subtly wrong store.

use std::collections::BTreeMap;
use std::sync::Arc;

use super::history::{HistEvent, History};
use super::index::{is_tombstone, KeyIndex, Version};
use super::lease::Leases;
use super::Mvcc;
use crate::types::{KeyValue, LeaseId, Revision};

/// The snapshot layout this build writes and reads.
const FORMAT: u32 = 1;

/// Why a snapshot could not be written or restored.
#[derive(Debug, thiserror::Error)]
pub enum MvccError {
    /// The bytes are not a well-formed archive of a snapshot (or it could not be encoded,
    /// e.g. past rkyv's 2 GiB relative-pointer range).
    #[error("snapshot archive: {0}")]
    Archive(#[source] rkyv::rancor::Error),
    /// The snapshot was written in a layout this build does not read.
    #[error("snapshot format {found} is not supported (this build reads {supported})")]
    UnsupportedFormat { found: u32, supported: u32 },
    /// The archive is well-formed but breaks an invariant of the keyspace.
    #[error("snapshot is inconsistent: {0}")]
    Inconsistent(String),
}

#[derive(rkyv::Archive, rkyv::Serialize, rkyv::Deserialize)]
struct SnapshotV1 {
    format: u32,
    revision: u64,
    compacted: u64,
    /// Every key in ascending order with its retained versions, oldest first.
    keys: Vec<SnapKey>,
    /// One entry per revision `compacted+1 ..= revision`: the indices into `keys` of the
    /// keys it changed, in op order.
    history: Vec<Vec<u64>>,
    leases: Vec<SnapLease>,
}

#[derive(rkyv::Archive, rkyv::Serialize, rkyv::Deserialize)]
struct SnapKey {
    key: Vec<u8>,
    versions: Vec<SnapVersion>,
}

/// A version of a key; `version == 0` marks a tombstone.
#[derive(rkyv::Archive, rkyv::Serialize, rkyv::Deserialize)]
struct SnapVersion {
    mod_revision: u64,
    create_revision: u64,
    version: u64,
    lease: i64,
    value: Vec<u8>,
}

#[derive(rkyv::Archive, rkyv::Serialize, rkyv::Deserialize)]
struct SnapLease {
    id: i64,
    ttl_secs: u64,
}

/// Fails with an `Inconsistent` error unless `cond` holds.
fn ensure(cond: bool, what: impl FnOnce() -> String) -> Result<(), MvccError> {
    if cond {
        Ok(())
    } else {
        Err(MvccError::Inconsistent(what()))
    }
}

impl Mvcc {
    /// Encodes the whole keyspace (revision, compaction point, every retained version,
    /// history since compaction, leases) as an rkyv archive for a Raft snapshot.
    pub fn snapshot_bytes(&self) -> Result<Vec<u8>, MvccError> {
        let keys: Vec<SnapKey> = self
            .index
            .iter()
            .map(|(key, versions)| SnapKey {
                key: key.clone(),
                versions: versions
                    .iter()
                    .map(|v| SnapVersion {
                        mod_revision: v.mod_revision.0,
                        create_revision: v.create_revision.0,
                        version: v.version,
                        lease: v.lease.0,
                        value: v.value.clone(),
                    })
                    .collect(),
            })
            .collect();
        // An event whose key is missing from the index would break an invariant; it is
        // written as an out-of-range index so restore rejects the snapshot loudly.
        let history = self
            .history
            .iter()
            .map(|(_, events)| {
                events
                    .iter()
                    .map(|e| {
                        keys.binary_search_by(|k| k.key.as_slice().cmp(&e.kv.key))
                            .map_or(u64::MAX, |i| i as u64)
                    })
                    .collect()
            })
            .collect();
        let leases = self
            .leases
            .iter()
            .map(|(id, lease)| SnapLease {
                id: id.0,
                ttl_secs: lease.ttl_secs,
            })
            .collect();
        let snap = SnapshotV1 {
            format: FORMAT,
            revision: self.revision.0,
            compacted: self.compacted.0,
            keys,
            history,
            leases,
        };
        let bytes = rkyv::to_bytes::<rkyv::rancor::Error>(&snap).map_err(MvccError::Archive)?;
        Ok(bytes.into_vec())
    }

    /// Restores a keyspace from `snapshot_bytes` output. The bytes are validated
    /// (bytecheck, then the keyspace's invariants); they need no particular alignment.
    pub fn from_snapshot(bytes: &[u8]) -> Result<Mvcc, MvccError> {
        let mut aligned = rkyv::util::AlignedVec::<16>::with_capacity(bytes.len());
        aligned.extend_from_slice(bytes);
        let snap = rkyv::from_bytes::<SnapshotV1, rkyv::rancor::Error>(&aligned)
            .map_err(MvccError::Archive)?;
        drop(aligned);
        restore(snap)
    }
}

/// Rebuilds an `Mvcc` from a decoded snapshot, checking every invariant.
fn restore(snap: SnapshotV1) -> Result<Mvcc, MvccError> {
    if snap.format != FORMAT {
        return Err(MvccError::UnsupportedFormat {
            found: snap.format,
            supported: FORMAT,
        });
    }
    let revision = Revision(snap.revision);
    let compacted = Revision(snap.compacted);
    ensure(compacted <= revision, || {
        format!("compacted {compacted} above revision {revision}")
    })?;

    let mut leases = Leases::default();
    for l in &snap.leases {
        ensure(leases.grant(LeaseId(l.id), l.ttl_secs), || {
            format!("lease {} twice", l.id)
        })?;
    }

    let mut keys: Vec<(Vec<u8>, Vec<Version>)> = Vec::with_capacity(snap.keys.len());
    let mut versions_after_compaction = 0u64;
    for k in snap.keys {
        if let Some((last, _)) = keys.last() {
            ensure(*last < k.key, || "keys not strictly ascending".into())?;
        }
        let versions = restore_versions(&k.key, k.versions, revision, compacted)?;
        versions_after_compaction += versions
            .iter()
            .filter(|v| v.mod_revision > compacted)
            .count() as u64;
        if let Some(latest) = versions
            .last()
            .filter(|v| !is_tombstone(v) && !v.lease.is_none())
        {
            ensure(leases.contains(latest.lease), || {
                format!("key held by missing lease {}", latest.lease.0)
            })?;
            leases.attach(latest.lease, &k.key);
        }
        keys.push((k.key, versions));
    }

    let expected_batches = revision.0 - compacted.0;
    ensure(snap.history.len() as u64 == expected_batches, || {
        format!(
            "{} history batches for {expected_batches} revisions",
            snap.history.len()
        )
    })?;
    let mut history = History::starting_at(compacted.next());
    let mut events_total = 0u64;
    for (i, batch) in snap.history.iter().enumerate() {
        let rev = Revision(compacted.0 + 1 + i as u64);
        ensure(!batch.is_empty(), || {
            format!("revision {rev} has no events")
        })?;
        let mut events = Vec::with_capacity(batch.len());
        for (j, &key_idx) in batch.iter().enumerate() {
            ensure(!batch[..j].contains(&key_idx), || {
                format!("revision {rev} changes a key twice")
            })?;
            let (_, versions) = usize::try_from(key_idx)
                .ok()
                .and_then(|idx| keys.get(idx))
                .ok_or_else(|| MvccError::Inconsistent(format!("revision {rev} names no key")))?;
            let at = versions
                .binary_search_by(|v| v.mod_revision.cmp(&rev))
                .map_err(|_| {
                    MvccError::Inconsistent(format!("revision {rev} names a key not written then"))
                })?;
            let prev = at
                .checked_sub(1)
                .map(|p| &versions[p])
                .filter(|v| !is_tombstone(v))
                .cloned();
            events.push(HistEvent {
                kv: Arc::clone(&versions[at]),
                prev,
            });
        }
        events_total += events.len() as u64;
        history.push(rev, events.into_boxed_slice());
    }
    ensure(events_total == versions_after_compaction, || {
        format!("{events_total} history events for {versions_after_compaction} versions")
    })?;

    let index = KeyIndex::from_sorted(keys.into_iter().collect::<BTreeMap<_, _>>());
    Ok(Mvcc {
        revision,
        compacted,
        index,
        history,
        leases,
    })
}

/// Rebuilds one key's versions, checking they could have been produced by writes.
fn restore_versions(
    key: &[u8],
    snap: Vec<SnapVersion>,
    revision: Revision,
    compacted: Revision,
) -> Result<Vec<Version>, MvccError> {
    let bad = |what: &str| {
        MvccError::Inconsistent(format!("key {:?}: {what}", String::from_utf8_lossy(key)))
    };
    if snap.is_empty() {
        return Err(bad("no versions"));
    }
    let mut versions: Vec<Version> = Vec::with_capacity(snap.len());
    for v in snap {
        let kv = KeyValue {
            key: key.to_vec(),
            value: v.value,
            create_revision: Revision(v.create_revision),
            mod_revision: Revision(v.mod_revision),
            version: v.version,
            lease: LeaseId(v.lease),
        };
        if kv.mod_revision == Revision::ZERO || kv.mod_revision > revision {
            return Err(bad("version outside the revision range"));
        }
        if !versions.is_empty() && kv.mod_revision <= compacted {
            return Err(bad(
                "more than one version at or below the compaction point",
            ));
        }
        match versions.last() {
            Some(prev) if prev.mod_revision >= kv.mod_revision => {
                return Err(bad("versions out of order"))
            }
            Some(prev) if is_tombstone(prev) && is_tombstone(&kv) => {
                return Err(bad("two deletes in a row"))
            }
            None if is_tombstone(&kv) => return Err(bad("starts with a delete")),
            _ => {}
        }
        if !is_tombstone(&kv)
            && (kv.create_revision == Revision::ZERO || kv.create_revision > kv.mod_revision)
        {
            return Err(bad("create revision outside its range"));
        }
        versions.push(Arc::new(kv));
    }
    Ok(versions)
}
