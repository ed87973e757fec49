//! Transactions: compares, validation, and the put / delete / range ops of a branch.
//!
//! Validation happens before anything is written, so a failing transaction leaves no
//! trace: duplicate writes are checked in both branches (a malformed request, as etcd's
//! API layer does), lease existence and read revisions only in the branch that runs (as
//! etcd's applier does).

use std::cmp::Ordering;
use std::sync::Arc;

use super::index::Version;
use super::{HistEvent, Mvcc, Pending, RevisionBatch};
use crate::types::{
    ApplyError, CommandResponse, Compare, CompareOp, CompareTarget, KeyValue, LeaseId, PutRequest,
    Revision, TxnOp, TxnOpResponse, TxnRequest, TxnResponse,
};

/// Rejects a branch that writes a key twice: two puts of one key, or a put of a key that
/// a delete of the same branch covers (overlapping deletes are fine, as in etcd).
fn check_duplicates(ops: &[TxnOp]) -> Result<(), ApplyError> {
    let mut puts: Vec<&[u8]> = Vec::new();
    for op in ops {
        if let TxnOp::Put(put) = op {
            if puts.contains(&put.key.as_slice()) {
                return Err(ApplyError::DuplicateKey {
                    key: put.key.clone(),
                });
            }
            puts.push(&put.key);
        }
    }
    for op in ops {
        if let TxnOp::Delete(del) = op {
            if let Some(key) = puts.iter().find(|k| del.range.contains(k)) {
                return Err(ApplyError::DuplicateKey { key: key.to_vec() });
            }
        }
    }
    Ok(())
}

/// Whether `ord` (actual compared with expected) satisfies `op`.
fn op_holds(op: &CompareOp, ord: Ordering) -> bool {
    match op {
        CompareOp::Equal => ord == Ordering::Equal,
        CompareOp::NotEqual => ord != Ordering::Equal,
        CompareOp::Greater => ord == Ordering::Greater,
        CompareOp::Less => ord == Ordering::Less,
    }
}

impl Mvcc {
    /// Applies a transaction atomically at one revision.
    pub(super) fn apply_txn(
        &mut self,
        req: &TxnRequest,
    ) -> (CommandResponse, Option<RevisionBatch>) {
        if let Err(e) = check_duplicates(&req.success).and_then(|()| check_duplicates(&req.failure))
        {
            return (CommandResponse::Error(e), None);
        }
        let succeeded = req.compare.iter().all(|c| self.compare_holds(c));
        let ops = if succeeded {
            &req.success
        } else {
            &req.failure
        };
        if let Err(e) = self.check_ops(ops) {
            return (CommandResponse::Error(e), None);
        }
        let mut pending = Pending {
            rev: self.revision.next(),
            events: Vec::new(),
        };
        let responses = ops
            .iter()
            .map(|op| self.apply_op(&mut pending, op))
            .collect();
        let batch = self.commit(pending);
        let resp = TxnResponse {
            succeeded,
            responses,
            revision: self.revision,
        };
        (CommandResponse::Txn(resp), batch)
    }

    /// Evaluates one compare against the latest state. A missing key compares as zeros
    /// and no lease; a value compare on a missing key is always false (etcd: "nil ==
    /// empty string in grpc; no way to represent missing value").
    fn compare_holds(&self, c: &Compare) -> bool {
        let kv = self.index.latest(&c.key).map(|v| &**v);
        let ord = match &c.target {
            CompareTarget::Value(expected) => match kv {
                Some(kv) => kv.value.as_slice().cmp(expected.as_slice()),
                None => return false,
            },
            CompareTarget::Version(expected) => kv.map_or(0, |kv| kv.version).cmp(expected),
            CompareTarget::CreateRevision(expected) => kv
                .map_or(Revision::ZERO, |kv| kv.create_revision)
                .cmp(expected),
            CompareTarget::ModRevision(expected) => kv
                .map_or(Revision::ZERO, |kv| kv.mod_revision)
                .cmp(expected),
            CompareTarget::Lease(expected) => kv.map_or(LeaseId::NONE, |kv| kv.lease).cmp(expected),
        };
        op_holds(&c.op, ord)
    }

    /// Checks the ops that are about to run: leases exist, read revisions are readable.
    fn check_ops(&self, ops: &[TxnOp]) -> Result<(), ApplyError> {
        for op in ops {
            match op {
                TxnOp::Put(put) if !put.lease.is_none() && !self.leases.contains(put.lease) => {
                    return Err(ApplyError::LeaseNotFound { id: put.lease });
                }
                TxnOp::Range(range) => {
                    self.resolve_read(range.revision, self.revision)?;
                }
                _ => {}
            }
        }
        Ok(())
    }

    /// Runs one validated op; reads see the branch's earlier writes.
    fn apply_op(&mut self, pending: &mut Pending, op: &TxnOp) -> TxnOpResponse {
        match op {
            TxnOp::Range(req) => {
                let latest = pending.read_revision(self.revision);
                let at = match req.revision {
                    None | Some(Revision::ZERO) => latest,
                    Some(r) => r,
                };
                TxnOpResponse::Range(self.read_at(req, at, latest))
            }
            TxnOp::Put(req) => {
                let prev = self.put(pending, req);
                TxnOpResponse::Put {
                    prev_kv: prev.filter(|_| req.prev_kv).map(|v| KeyValue::clone(&v)),
                }
            }
            TxnOp::Delete(req) => {
                let latest = Revision(u64::MAX);
                let keys: Vec<Vec<u8>> = self
                    .index
                    .visible(&req.range, latest)
                    .map(|v| v.key.clone())
                    .collect();
                let deleted: Vec<Version> = keys
                    .iter()
                    .filter_map(|key| self.delete_key(pending, key))
                    .collect();
                let prev_kvs = if req.prev_kv {
                    deleted.iter().map(|v| KeyValue::clone(v)).collect()
                } else {
                    Vec::new()
                };
                TxnOpResponse::Delete {
                    deleted: deleted.len() as u64,
                    prev_kvs,
                }
            }
        }
    }

    /// Writes a new version of a key; a put after a delete starts a new generation.
    fn put(&mut self, pending: &mut Pending, req: &PutRequest) -> Option<Version> {
        let prev = self.index.latest(&req.key).cloned();
        let kv = Arc::new(KeyValue {
            key: req.key.clone(),
            value: req.value.clone(),
            create_revision: prev.as_ref().map_or(pending.rev, |p| p.create_revision),
            mod_revision: pending.rev,
            version: prev.as_ref().map_or(1, |p| p.version.saturating_add(1)),
            lease: req.lease,
        });
        if let Some(p) = &prev {
            self.leases.detach(p.lease, &req.key);
        }
        if !req.lease.is_none() {
            self.leases.attach(req.lease, &req.key);
        }
        self.index.push(Arc::clone(&kv));
        pending.events.push(HistEvent {
            kv,
            prev: prev.clone(),
        });
        prev
    }
}
