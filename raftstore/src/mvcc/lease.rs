//! The lease table: which leases exist, their TTLs, and which live keys each one holds.
//!
//! Deadlines are not kept here (the store is clock-free and deterministic): the leader
//! tracks them from `Mvcc::leases` and proposes `LeaseExpire` when they pass.

use std::collections::{BTreeMap, BTreeSet};

use crate::types::LeaseId;

/// One granted lease.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(super) struct Lease {
    pub ttl_secs: u64,
    /// Live keys attached to this lease.
    pub keys: BTreeSet<Vec<u8>>,
}

/// Every granted lease, by id.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(super) struct Leases {
    map: BTreeMap<LeaseId, Lease>,
}

impl Leases {
    /// Whether `id` is granted.
    pub(super) fn contains(&self, id: LeaseId) -> bool {
        self.map.contains_key(&id)
    }

    /// Grants `id`; false if it already exists.
    pub(super) fn grant(&mut self, id: LeaseId, ttl_secs: u64) -> bool {
        if self.map.contains_key(&id) {
            return false;
        }
        self.map.insert(
            id,
            Lease {
                ttl_secs,
                keys: BTreeSet::new(),
            },
        );
        true
    }

    /// Removes `id`, returning what it held.
    pub(super) fn remove(&mut self, id: LeaseId) -> Option<Lease> {
        self.map.remove(&id)
    }

    /// Records that `key` is held by `id` (no-op for `LeaseId::NONE` or an unknown lease).
    pub(super) fn attach(&mut self, id: LeaseId, key: &[u8]) {
        if let Some(lease) = self.map.get_mut(&id) {
            lease.keys.insert(key.to_vec());
        }
    }

    /// Records that `key` is no longer held by `id`.
    pub(super) fn detach(&mut self, id: LeaseId, key: &[u8]) {
        if let Some(lease) = self.map.get_mut(&id) {
            lease.keys.remove(key);
        }
    }

    /// The lease `id`, if granted.
    pub(super) fn get(&self, id: LeaseId) -> Option<&Lease> {
        self.map.get(&id)
    }

    /// Every lease in id order.
    pub(super) fn iter(&self) -> impl Iterator<Item = (LeaseId, &Lease)> {
        self.map.iter().map(|(id, l)| (*id, l))
    }
}
