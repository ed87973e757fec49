//! The key index: every retained version of every key, oldest first.
//!
//! A version is an `Arc<KeyValue>` shared with the watch history, so a value is stored
//! once however many places refer to it. A tombstone (the mark a delete leaves) is a
//! version whose `version` is 0, as in etcd: its `kv` carries only the key and the
//! deleting revision, which is exactly what a delete event's `kv` is.

use std::collections::BTreeMap;
use std::ops::Bound;
use std::sync::Arc;

use crate::types::{KeyRange, KeyValue, Revision};

/// One retained version of a key; a tombstone when `version == 0`.
pub(super) type Version = Arc<KeyValue>;

/// Whether this version marks a delete rather than holding a value.
pub(super) fn is_tombstone(v: &KeyValue) -> bool {
    v.version == 0
}

/// Every retained version of every key.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(super) struct KeyIndex {
    keys: BTreeMap<Vec<u8>, Vec<Version>>,
}

/// The live version among `versions` as of `rev`, if the key existed then.
fn visible_at(versions: &[Version], rev: Revision) -> Option<&Version> {
    let newer = versions.partition_point(|v| v.mod_revision <= rev);
    let v = versions.get(newer.checked_sub(1)?)?;
    (!is_tombstone(v)).then_some(v)
}

/// `range` as bounds over the index; an inverted range yields an empty interval
/// (BTreeMap panics on inverted bounds, so they never reach it).
fn bounds(range: &KeyRange) -> (Bound<&[u8]>, Bound<&[u8]>) {
    let start = range.start.as_slice();
    if range.end.is_empty() {
        (Bound::Included(start), Bound::Included(start))
    } else if range.end == [0] {
        (Bound::Included(start), Bound::Unbounded)
    } else if range.end.as_slice() <= start {
        (Bound::Included(start), Bound::Excluded(start))
    } else {
        (
            Bound::Included(start),
            Bound::Excluded(range.end.as_slice()),
        )
    }
}

impl KeyIndex {
    /// The newest version of `key`, if it is live.
    pub(super) fn latest(&self, key: &[u8]) -> Option<&Version> {
        let v = self.keys.get(key)?.last()?;
        (!is_tombstone(v)).then_some(v)
    }

    /// The live versions of the keys in `range` as of `rev`, in key order.
    pub(super) fn visible<'a>(
        &'a self,
        range: &'a KeyRange,
        rev: Revision,
    ) -> impl Iterator<Item = &'a Version> + 'a {
        self.keys
            .range::<[u8], _>(bounds(range))
            .filter_map(move |(_, versions)| visible_at(versions, rev))
    }

    /// Appends a version; the caller guarantees it is newer than every version of its key.
    pub(super) fn push(&mut self, version: Version) {
        let versions = self.keys.entry(version.key.clone()).or_default();
        debug_assert!(versions
            .last()
            .is_none_or(|v| v.mod_revision < version.mod_revision));
        versions.push(version);
    }

    /// Forgets every version older than what a read at `rev` needs: per key, keeps the
    /// newest version at or below `rev` (dropped too if it is a tombstone) and all newer.
    pub(super) fn compact(&mut self, rev: Revision) {
        self.keys.retain(|_, versions| {
            let newer = versions.partition_point(|v| v.mod_revision <= rev);
            if let Some(base) = newer.checked_sub(1) {
                let keep_from = if is_tombstone(&versions[base]) {
                    newer
                } else {
                    base
                };
                versions.drain(..keep_from);
            }
            !versions.is_empty()
        });
    }

    /// Every key with its retained versions, in key order (for snapshots).
    pub(super) fn iter(&self) -> impl Iterator<Item = (&Vec<u8>, &Vec<Version>)> {
        self.keys.iter()
    }

    /// Builds an index from keys in strictly ascending order (for snapshot restore).
    pub(super) fn from_sorted(keys: BTreeMap<Vec<u8>, Vec<Version>>) -> Self {
        KeyIndex { keys }
    }
}
