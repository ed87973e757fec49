//! [`Storage`]: Kubernetes' registry semantics over the Hive store, for every
//! registered kind. One key per object (`ResourceInfo::key`), the value an
//! rkyv [`Envelope`](super::envelope::Envelope), `resourceVersion` the key's
//! modification revision.
//!
//! The strategy of each call, as Kubernetes' generic registry and the kinds'
//! strategies do it:
//! - **create**: server-set metadata (uid, creationTimestamp, generation 1,
//!   a name from `generateName`), status reset for kinds with a status
//!   subresource, defaulting, validation (422 with every cause); one
//!   transaction that requires the key to be absent and, for namespaced
//!   kinds, the namespace to exist.
//! - **update**: compare-and-swap on the stored revision (409 when the
//!   caller's `resourceVersion` is stale); uid, creationTimestamp and
//!   deletionTimestamp kept; `status` kept for kinds with a status
//!   subresource; `generation` bumped only when something outside metadata
//!   and status changed; a no-op update writes nothing; removing the last
//!   finalizer of an object being deleted deletes it.
//! - **delete**: preconditions, then finalizers (plus the `orphan` /
//!   `foregroundDeletion` finalizer recording the propagation policy) or a
//!   grace period (a scheduled pod's `terminationGracePeriodSeconds`) mark the
//!   object with `deletionTimestamp`; otherwise it is removed.
//! - **list/watch**: label and field selectors evaluated on the archived
//!   envelope; list pages with limit/continue at one revision; watch from a
//!   revision with bookmarks, `ADDED`/`MODIFIED`/`DELETED` by what the
//!   selector saw before and after each change.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use futures::stream;
use hive_raftstore::watch::{CancelReason, WatchResponse};
use hive_raftstore::{
    prefix_end, Compare, CompareOp, CompareTarget, Consistency, DeleteRequest, KeyRange, KeyValue,
    LeaseId, PutRequest, RangeRequest, Revision, StoreError, TxnOp, TxnOpResponse, TxnRequest,
};
use rand::Rng;
use serde_json::Value;

use super::client::{
    DeleteOptions, DeleteOutcome, GetOptions, JsonList, ListOptions, ListPage, ObjectList, Patch,
    PatchOptions, PropagationPolicy, Subresource, WatchEvent, WatchOptions, WatchStream,
    WriteOptions,
};
use super::envelope::{self, envelope_of, Aligned, Selection};
use super::error::{ApiError, ApiResult, MODIFIED_MESSAGE};
use super::kv::{Kv, KvWatch};
use super::patch::{apply_patch, PatchApplier};
use crate::api::object::{ResourceInfo, DEPLOYMENT, NAMESPACE, REPLICA_SET, STATEFUL_SET};
use crate::api::{defaults, validate, LabelSelector, Object, Scale, Time};

/// Kinds whose `status` is a subresource: updates of the object keep the
/// stored status, and status updates change nothing else.
const STATUS_KINDS: &[&str] = &[
    "Pod",
    "Node",
    "Namespace",
    "Service",
    "PersistentVolume",
    "PersistentVolumeClaim",
    "Deployment",
    "ReplicaSet",
    "StatefulSet",
    "DaemonSet",
    "Job",
    "CronJob",
    "Ingress",
    "HorizontalPodAutoscaler",
];

/// Whether `info`'s status is a subresource.
pub fn has_status_subresource(info: &ResourceInfo) -> bool {
    STATUS_KINDS.contains(&info.kind)
}

/// Whether a create starts `info`'s objects from the kind's initial status
/// rather than the one given (every status-subresource kind but Node, whose
/// status the node agent sets on create).
pub fn resets_status_on_create(info: &ResourceInfo) -> bool {
    has_status_subresource(info) && info.kind != "Node"
}

/// Whether `info` has the scale subresource.
pub fn has_scale_subresource(info: &ResourceInfo) -> bool {
    [&DEPLOYMENT, &REPLICA_SET, &STATEFUL_SET].contains(&info)
}

/// The status a kind's create strategy starts an object with (`None`: none).
fn initial_status(info: &ResourceInfo) -> Option<Value> {
    match info.kind {
        "Pod" | "PersistentVolume" | "PersistentVolumeClaim" => {
            Some(serde_json::json!({"phase": "Pending"}))
        }
        "Namespace" => Some(serde_json::json!({"phase": "Active"})),
        _ => None,
    }
}

/// Characters of generated name suffixes (Kubernetes' `utilrand.String`
/// alphabet: no vowels, no confusable digits).
const SUFFIX_ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";

/// Attempts at an internal compare-and-swap loop (patch, unconditional
/// update, delete) before answering the last conflict.
const CAS_ATTEMPTS: usize = 16;

/// Kubernetes' cap on a generated name's prefix (63 - 5 random characters).
const MAX_GENERATE_PREFIX: usize = 58;

fn now() -> Time {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    Time::from_unix(i64::try_from(secs).unwrap_or(i64::MAX))
}

fn new_uid() -> String {
    uuid::Builder::from_random_bytes(rand::thread_rng().gen())
        .into_uuid()
        .to_string()
}

fn generated_name(prefix: &str) -> String {
    let mut rng = rand::thread_rng();
    let cut = prefix
        .char_indices()
        .take_while(|(i, _)| *i < MAX_GENERATE_PREFIX)
        .map(|(i, c)| i + c.len_utf8())
        .last()
        .unwrap_or(0);
    let mut name = prefix[..cut].to_owned();
    for _ in 0..5 {
        name.push(char::from(
            SUFFIX_ALPHABET[rng.gen_range(0..SUFFIX_ALPHABET.len())],
        ));
    }
    name
}

/// A resourceVersion as a revision (400 if it is not one).
fn parse_rv(rv: &str) -> ApiResult<u64> {
    rv.parse::<u64>().map_err(|_| {
        ApiError::bad_request(format!(
            "resourceVersion: Invalid value: {rv:?}: must be a decimal revision"
        ))
    })
}

fn to_value(object: &Object) -> ApiResult<Value> {
    object
        .to_json_value()
        .map_err(|e| ApiError::internal(format!("encoding an object: {e}")))
}

/// Decodes JSON of kind `info` (400 if it is not one, e.g. after a patch).
fn from_value(info: &'static ResourceInfo, mut value: Value) -> ApiResult<Object> {
    if let Some(m) = value.as_object_mut() {
        m.insert("apiVersion".into(), Value::String(info.api_version()));
        m.insert("kind".into(), Value::String(info.kind.to_owned()));
    }
    crate::api::decode::decode_value_as(info, value, false)
        .map(|(o, _)| o)
        .map_err(|e| ApiError::bad_request(e.to_string()))
}

/// The JSON of an object without metadata and status: what a change of
/// bumps `generation`.
fn spec_part(v: &Value) -> Value {
    let mut v = v.clone();
    if let Some(m) = v.as_object_mut() {
        m.remove("metadata");
        m.remove("status");
    }
    v
}

/// The continue token of a list page: Kubernetes' shape
/// (`{"v":"meta.k8s.io/v1","rv":N,"start":"key"}`, base64), plus how many keys
/// of the range remain from `start` at `rv`, so that a continued page need not
/// count the collection again (tokens without it are still accepted).
#[derive(serde::Serialize, serde::Deserialize)]
struct ContinueToken {
    v: String,
    rv: u64,
    start: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    remaining: Option<u64>,
}

/// Where a list continues: the revision it reads at, the first key, and (if
/// known) how many keys of the range remain from there.
#[derive(Debug, PartialEq)]
struct Continue {
    rv: u64,
    start: Vec<u8>,
    remaining: Option<u64>,
}

fn encode_continue(c: &Continue) -> String {
    let token = ContinueToken {
        v: "meta.k8s.io/v1".into(),
        rv: c.rv,
        start: String::from_utf8_lossy(&c.start).into_owned(),
        remaining: c.remaining,
    };
    let json = serde_json::to_vec(&token).unwrap_or_default();
    base64::engine::general_purpose::STANDARD.encode(json)
}

fn decode_continue(token: &str, prefix: &str) -> ApiResult<Continue> {
    let bad = || ApiError::bad_request(format!("continue key is not valid: {token}"));
    let raw = base64::engine::general_purpose::STANDARD
        .decode(token)
        .map_err(|_| bad())?;
    let t: ContinueToken = serde_json::from_slice(&raw).map_err(|_| bad())?;
    if t.v != "meta.k8s.io/v1" || !t.start.starts_with(prefix) {
        return Err(bad());
    }
    Ok(Continue {
        rv: t.rv,
        start: t.start.into_bytes(),
        remaining: t.remaining,
    })
}

fn delete_txn_if(key: &[u8], expected: Revision) -> TxnRequest {
    TxnRequest {
        compare: vec![Compare {
            key: key.to_vec(),
            op: CompareOp::Equal,
            target: CompareTarget::ModRevision(expected),
        }],
        success: vec![TxnOp::Delete(DeleteRequest {
            range: KeyRange::key(key.to_vec()),
            prev_kv: false,
        })],
        failure: vec![],
    }
}

fn put_txn_if(key: &[u8], expected: Revision, value: Vec<u8>) -> TxnRequest {
    TxnRequest {
        compare: vec![Compare {
            key: key.to_vec(),
            op: CompareOp::Equal,
            target: CompareTarget::ModRevision(expected),
        }],
        success: vec![TxnOp::Put(PutRequest {
            key: key.to_vec(),
            value,
            lease: LeaseId::NONE,
            prev_kv: false,
        })],
        failure: vec![],
    }
}

/// What a compare-and-swap write did.
enum Cas {
    Done(Revision),
    Lost,
}

/// The storage layer. Cheap to clone.
#[derive(Clone)]
pub struct Storage {
    kv: Kv,
    patcher: Option<Arc<dyn PatchApplier>>,
}

impl std::fmt::Debug for Storage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Storage").field("kv", &self.kv).finish()
    }
}

impl Storage {
    /// Storage over a store client.
    pub fn new(kv: impl Into<Kv>) -> Storage {
        Storage {
            kv: kv.into(),
            patcher: None,
        }
    }

    /// Installs the applier of strategic merge and apply patches.
    pub fn with_patch_applier(mut self, applier: Arc<dyn PatchApplier>) -> Storage {
        self.patcher = Some(applier);
        self
    }

    /// The store client underneath.
    pub fn kv(&self) -> &Kv {
        &self.kv
    }

    async fn read(&self, key: &[u8], consistency: Consistency) -> ApiResult<Option<KeyValue>> {
        let r = self
            .kv
            .range(
                RangeRequest {
                    range: KeyRange::key(key.to_vec()),
                    ..RangeRequest::default()
                },
                consistency,
            )
            .await?;
        Ok(r.kvs.into_iter().next())
    }

    async fn read_existing(
        &self,
        info: &'static ResourceInfo,
        namespace: &str,
        name: &str,
    ) -> ApiResult<KeyValue> {
        let key = info.key(namespace, name);
        self.read(key.as_bytes(), Consistency::Linearizable)
            .await?
            .ok_or_else(|| ApiError::not_found(info, name))
    }

    async fn cas(&self, key: &[u8], expected: Revision, value: Vec<u8>) -> ApiResult<Cas> {
        let t = self.kv.txn(put_txn_if(key, expected, value)).await?;
        Ok(if t.succeeded {
            Cas::Done(t.revision)
        } else {
            Cas::Lost
        })
    }

    // ---- get / list ---------------------------------------------------------------

    /// Reads one object.
    pub async fn get(
        &self,
        info: &'static ResourceInfo,
        namespace: &str,
        name: &str,
        opts: &GetOptions,
    ) -> ApiResult<Object> {
        let consistency = match opts.resource_version.as_str() {
            "0" => Consistency::Serializable,
            "" => Consistency::Linearizable,
            rv => {
                parse_rv(rv)?;
                Consistency::Linearizable
            }
        };
        let key = info.key(namespace, name);
        let kv = self
            .read(key.as_bytes(), consistency)
            .await?
            .ok_or_else(|| ApiError::not_found(info, name))?;
        envelope::decode(&kv.value, kv.mod_revision.0)
    }

    /// Lists objects.
    pub async fn list(
        &self,
        info: &'static ResourceInfo,
        namespace: &str,
        opts: &ListOptions,
    ) -> ApiResult<ObjectList> {
        self.list_as(info, namespace, opts, envelope::decode_archived)
            .await
    }

    /// Lists objects as the JSON a client receives (each with its
    /// resourceVersion), copied from the stored bytes rather than decoded and
    /// encoded again: what the REST edge sends for a list.
    pub async fn list_json(
        &self,
        info: &'static ResourceInfo,
        namespace: &str,
        opts: &ListOptions,
    ) -> ApiResult<JsonList> {
        self.list_as(info, namespace, opts, envelope::json_archived)
            .await
    }

    /// Lists objects, making each item with `item` from its archived envelope
    /// and resourceVersion.
    ///
    /// A page costs its own size, not the collection's: the store counts the
    /// range (for `remainingItemCount`) only on a first page cut by a limit,
    /// and the continue token carries the count on from there.
    async fn list_as<T>(
        &self,
        info: &'static ResourceInfo,
        namespace: &str,
        opts: &ListOptions,
        item: impl Fn(&envelope::ArchivedEnvelope, u64) -> ApiResult<T>,
    ) -> ApiResult<ListPage<T>> {
        let selection = Selection::parse(info, &opts.label_selector, &opts.field_selector)?;
        let prefix = info.key_prefix((!namespace.is_empty()).then_some(namespace));
        let end = prefix_end(prefix.as_bytes());
        let (mut start, mut revision, consistency, mut remaining) = if !opts.continue_.is_empty() {
            let c = decode_continue(&opts.continue_, &prefix)?;
            (
                c.start,
                Some(Revision(c.rv)),
                Consistency::Linearizable,
                c.remaining,
            )
        } else {
            let start = prefix.clone().into_bytes();
            match opts.resource_version.as_str() {
                "" => (start, None, Consistency::Linearizable, None),
                "0" => (start, None, Consistency::Serializable, None),
                rv => (
                    start,
                    Some(Revision(parse_rv(rv)?)),
                    Consistency::Linearizable,
                    None,
                ),
            }
        };
        let limit = opts.limit;
        // Kubernetes reports remainingItemCount only for unselective pages cut
        // by a limit; nothing else needs the range counted.
        let counts = limit > 0 && selection.is_everything();
        remaining = remaining.filter(|_| counts);
        let mut out = ListPage::default();
        loop {
            let want = if limit == 0 {
                0
            } else {
                // Read a little ahead: selectors may drop some of the page.
                (limit - out.items.len() as u64).max(if selection.is_everything() { 1 } else { 64 })
            };
            let resp = self
                .kv
                .range(
                    RangeRequest {
                        range: KeyRange {
                            start: start.clone(),
                            end: end.clone(),
                        },
                        revision,
                        limit: want,
                        skip_count: !counts || remaining.is_some(),
                        ..RangeRequest::default()
                    },
                    consistency,
                )
                .await?;
            if counts && remaining.is_none() {
                remaining = Some(resp.count);
            }
            let read_at = revision.unwrap_or(resp.revision);
            revision = Some(read_at);
            out.resource_version = read_at.0.to_string();
            let n = resp.kvs.len();
            for (i, kv) in resp.kvs.iter().enumerate() {
                remaining = remaining.map(|r| r.saturating_sub(1));
                let aligned = Aligned::new(&kv.value);
                let env = aligned.envelope()?;
                if selection.matches(env) {
                    out.items.push(item(env, kv.mod_revision.0)?);
                }
                if limit > 0 && out.items.len() as u64 == limit {
                    if i + 1 < n || resp.more {
                        let mut next = kv.key.clone();
                        next.push(0);
                        out.continue_ = encode_continue(&Continue {
                            rv: read_at.0,
                            start: next,
                            remaining,
                        });
                        out.remaining_item_count = remaining.and_then(|r| i64::try_from(r).ok());
                    }
                    return Ok(out);
                }
            }
            if !resp.more {
                return Ok(out);
            }
            match resp.kvs.last() {
                Some(kv) => {
                    start = kv.key.clone();
                    start.push(0);
                }
                None => return Ok(out),
            }
        }
    }

    // ---- create -------------------------------------------------------------------

    /// Creates an object (see the module documentation).
    pub async fn create(&self, mut object: Object, opts: &WriteOptions) -> ApiResult<Object> {
        let info = object.info();
        object.set_type_meta();
        let generate = {
            let meta = object.metadata_mut();
            if !info.namespaced {
                meta.namespace.clear();
            }
            meta.uid = crate::api::Uid(new_uid());
            meta.creation_timestamp = Some(now());
            meta.resource_version.clear();
            meta.self_link.clear();
            meta.generation = Some(1);
            meta.deletion_timestamp = None;
            meta.deletion_grace_period_seconds = None;
            meta.name.is_empty() && !meta.generate_name.is_empty()
        };
        if generate {
            let prefix = object.metadata().generate_name.clone();
            object.metadata_mut().name = generated_name(&prefix);
        }
        if resets_status_on_create(info) {
            let mut v = to_value(&object)?;
            if let Some(m) = v.as_object_mut() {
                match initial_status(info) {
                    Some(s) => m.insert("status".into(), s),
                    None => m.remove("status"),
                };
            }
            object = from_value(info, v)?;
        }
        defaults::default_object(&mut object);
        let errors = validate::validate_object(&object);
        if !errors.is_empty() {
            return Err(ApiError::invalid(info, &object.metadata().name, &errors));
        }
        let attempts = if generate { 5 } else { 1 };
        for attempt in 0..attempts {
            if attempt > 0 {
                let prefix = object.metadata().generate_name.clone();
                object.metadata_mut().name = generated_name(&prefix);
            }
            match self.insert(info, &object, opts).await {
                Err(ApiError::AlreadyExists { .. }) if attempt + 1 < attempts => continue,
                other => return other,
            }
        }
        Err(ApiError::internal("unreachable: create attempts exhausted"))
    }

    /// Writes a new object if its key is free and its namespace exists.
    async fn insert(
        &self,
        info: &'static ResourceInfo,
        object: &Object,
        opts: &WriteOptions,
    ) -> ApiResult<Object> {
        let meta = object.metadata();
        let key = info.key(&meta.namespace, &meta.name).into_bytes();
        let ns_key = (info.namespaced && info != &NAMESPACE)
            .then(|| NAMESPACE.key("", &meta.namespace).into_bytes());
        let json = to_value(object)?;
        let value = envelope::encode(&envelope_of(info, &json)?)?;
        let mut compare = vec![Compare {
            key: key.clone(),
            op: CompareOp::Equal,
            target: CompareTarget::ModRevision(Revision::ZERO),
        }];
        let mut failure = vec![TxnOp::Range(RangeRequest {
            range: KeyRange::key(key.clone()),
            count_only: true,
            ..RangeRequest::default()
        })];
        if let Some(ns_key) = &ns_key {
            compare.push(Compare {
                key: ns_key.clone(),
                op: CompareOp::Greater,
                target: CompareTarget::Version(0),
            });
            failure.push(TxnOp::Range(RangeRequest {
                range: KeyRange::key(ns_key.clone()),
                count_only: true,
                ..RangeRequest::default()
            }));
        }
        if opts.dry_run {
            // The same checks, read-only.
            let t = self
                .kv
                .txn(TxnRequest {
                    compare,
                    success: vec![],
                    failure,
                })
                .await?;
            if t.succeeded {
                return Ok(object.clone());
            }
            return Err(create_failure(info, object, &t.responses));
        }
        let t = self
            .kv
            .txn(TxnRequest {
                compare,
                success: vec![TxnOp::Put(PutRequest {
                    key,
                    value,
                    lease: LeaseId::NONE,
                    prev_kv: false,
                })],
                failure,
            })
            .await?;
        if !t.succeeded {
            return Err(create_failure(info, object, &t.responses));
        }
        let mut created = object.clone();
        created.metadata_mut().resource_version = t.revision.0.to_string();
        tracing::debug!(kind = info.kind, key = %object.key(), revision = t.revision.0, "created");
        Ok(created)
    }

    // ---- update -------------------------------------------------------------------

    /// Replaces an object (see the module documentation).
    pub async fn update(&self, object: Object, opts: &WriteOptions) -> ApiResult<Object> {
        self.update_part(object, Subresource::Main, opts).await
    }

    /// Replaces an object's status.
    pub async fn update_status(&self, object: Object, opts: &WriteOptions) -> ApiResult<Object> {
        self.update_part(object, Subresource::Status, opts).await
    }

    async fn update_part(
        &self,
        object: Object,
        part: Subresource,
        opts: &WriteOptions,
    ) -> ApiResult<Object> {
        let info = object.info();
        let meta = object.metadata();
        let (ns, name) = (
            if info.namespaced {
                meta.namespace.clone()
            } else {
                String::new()
            },
            meta.name.clone(),
        );
        let precondition = match meta.resource_version.as_str() {
            "" => None,
            rv => Some(parse_rv(rv)?),
        };
        let wanted = to_value(&object)?;
        for _ in 0..CAS_ATTEMPTS {
            let cur = self.read_existing(info, &ns, &name).await?;
            if let Some(rv) = precondition {
                if rv != cur.mod_revision.0 {
                    return Err(ApiError::conflict(info, &name, MODIFIED_MESSAGE));
                }
            }
            match self
                .write_over(info, &cur, wanted.clone(), part, opts)
                .await?
            {
                Some(done) => return Ok(done),
                None if precondition.is_some() => {
                    return Err(ApiError::conflict(info, &name, MODIFIED_MESSAGE))
                }
                None => continue,
            }
        }
        Err(ApiError::conflict(info, &name, MODIFIED_MESSAGE))
    }

    /// Writes `wanted` (JSON) over the stored `cur` as an update of `part`;
    /// `None` if `cur` is no longer the stored version.
    async fn write_over(
        &self,
        info: &'static ResourceInfo,
        cur: &KeyValue,
        wanted: Value,
        part: Subresource,
        opts: &WriteOptions,
    ) -> ApiResult<Option<Object>> {
        let old_obj = envelope::decode(&cur.value, cur.mod_revision.0)?;
        let old = to_value(&old_obj)?;
        let mut new = match part {
            Subresource::Main => wanted,
            Subresource::Status => {
                let mut v = old.clone();
                if let Some(m) = v.as_object_mut() {
                    match wanted.get("status") {
                        Some(s) => m.insert("status".into(), s.clone()),
                        None => m.remove("status"),
                    };
                }
                v
            }
        };
        if part == Subresource::Main && has_status_subresource(info) {
            if let Some(m) = new.as_object_mut() {
                match old.get("status") {
                    Some(s) => m.insert("status".into(), s.clone()),
                    None => m.remove("status"),
                };
            }
        }
        let mut object = from_value(info, new.clone())?;
        {
            let (om, m) = (old_obj.metadata(), object.metadata_mut());
            if m.name != om.name || (info.namespaced && m.namespace != om.namespace) {
                return Err(ApiError::bad_request(format!(
                    "the name or namespace of {} {:?} cannot change",
                    info.kind, om.name
                )));
            }
            m.namespace = om.namespace.clone();
            m.uid = om.uid.clone();
            m.creation_timestamp = om.creation_timestamp;
            m.deletion_timestamp = om.deletion_timestamp;
            m.deletion_grace_period_seconds = om.deletion_grace_period_seconds;
            m.generate_name = om.generate_name.clone();
            m.self_link.clear();
            m.resource_version = cur.mod_revision.0.to_string();
            m.generation = om.generation;
        }
        defaults::default_object(&mut object);
        new = to_value(&object)?;
        if spec_part(&new) != spec_part(&old) {
            let g = old_obj.metadata().generation.unwrap_or(0) + 1;
            object.metadata_mut().generation = Some(g);
            new = to_value(&object)?;
        }
        let errors = validate::validate_object(&object);
        if !errors.is_empty() {
            return Err(ApiError::invalid(info, &object.metadata().name, &errors));
        }
        if new == old || opts.dry_run {
            return Ok(Some(object));
        }
        let key = object.key().into_bytes();
        let m = object.metadata();
        if m.deletion_timestamp.is_some() && m.finalizers.is_empty() {
            let t = self.kv.txn(delete_txn_if(&key, cur.mod_revision)).await?;
            if !t.succeeded {
                return Ok(None);
            }
            tracing::debug!(kind = info.kind, name = %m.name, "last finalizer removed; deleted");
            object.metadata_mut().resource_version = t.revision.0.to_string();
            return Ok(Some(object));
        }
        let value = envelope::encode(&envelope_of(info, &new)?)?;
        match self.cas(&key, cur.mod_revision, value).await? {
            Cas::Done(rev) => {
                object.metadata_mut().resource_version = rev.0.to_string();
                Ok(Some(object))
            }
            Cas::Lost => Ok(None),
        }
    }

    // ---- patch --------------------------------------------------------------------

    /// Patches an object, retrying when it changed between read and write
    /// (unless the patch itself names a resourceVersion).
    pub async fn patch(
        &self,
        info: &'static ResourceInfo,
        namespace: &str,
        name: &str,
        patch: &Patch,
        opts: &PatchOptions,
    ) -> ApiResult<Object> {
        let write = WriteOptions {
            dry_run: opts.dry_run,
        };
        for _ in 0..CAS_ATTEMPTS {
            let cur = self.read_existing(info, namespace, name).await?;
            let current = to_value(&envelope::decode(&cur.value, cur.mod_revision.0)?)?;
            let patched = apply_patch(info, &current, patch, opts, self.patcher.as_deref())?;
            let rv_of = |v: &Value| {
                v.pointer("/metadata/resourceVersion")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_owned()
            };
            let asked = rv_of(&patched);
            if !asked.is_empty() && asked != cur.mod_revision.0.to_string() {
                return Err(ApiError::conflict(info, name, MODIFIED_MESSAGE));
            }
            let pinned = !asked.is_empty() && rv_of(patch_body(patch)) == asked;
            match self
                .write_over(info, &cur, patched, opts.subresource, &write)
                .await?
            {
                Some(o) => return Ok(o),
                None if pinned => return Err(ApiError::conflict(info, name, MODIFIED_MESSAGE)),
                None => continue,
            }
        }
        Err(ApiError::conflict(info, name, MODIFIED_MESSAGE))
    }

    // ---- delete -------------------------------------------------------------------

    /// Deletes or marks an object (see the module documentation).
    pub async fn delete(
        &self,
        info: &'static ResourceInfo,
        namespace: &str,
        name: &str,
        opts: &DeleteOptions,
    ) -> ApiResult<DeleteOutcome> {
        for _ in 0..CAS_ATTEMPTS {
            let cur = self.read_existing(info, namespace, name).await?;
            let mut object = envelope::decode(&cur.value, cur.mod_revision.0)?;
            let meta = object.metadata();
            if let Some(uid) = &opts.preconditions.uid {
                if &meta.uid.0 != uid {
                    return Err(ApiError::conflict(
                        info,
                        name,
                        format!(
                            "Precondition failed: UID in precondition: {uid}, UID in object meta: {}",
                            meta.uid
                        ),
                    ));
                }
            }
            if let Some(rv) = &opts.preconditions.resource_version {
                if rv != &meta.resource_version {
                    return Err(ApiError::conflict(
                        info,
                        name,
                        format!(
                            "Precondition failed: ResourceVersion in precondition: {rv}, \
                             ResourceVersion in object meta: {}",
                            meta.resource_version
                        ),
                    ));
                }
            }
            let grace = match (opts.grace_period_seconds, &object) {
                (Some(g), _) => g.max(0),
                (None, Object::Pod(p)) if !p.spec.node_name.is_empty() => {
                    p.spec.termination_grace_period_seconds.unwrap_or(30).max(0)
                }
                _ => 0,
            };
            let policy_finalizer = match opts.propagation_policy {
                Some(PropagationPolicy::Orphan) => Some("orphan"),
                Some(PropagationPolicy::Foreground) => Some("foregroundDeletion"),
                _ => None,
            };
            let m = object.metadata_mut();
            let mut changed = false;
            if let Some(f) = policy_finalizer {
                if !m.finalizers.iter().any(|x| x == f) {
                    m.finalizers.push(f.to_owned());
                    changed = true;
                }
            }
            let key = info.key(namespace, name).into_bytes();
            if m.finalizers.is_empty() && grace == 0 {
                if opts.dry_run {
                    return Ok(DeleteOutcome::Deleted(object));
                }
                let t = self.kv.txn(delete_txn_if(&key, cur.mod_revision)).await?;
                if !t.succeeded {
                    continue;
                }
                object.metadata_mut().resource_version = t.revision.0.to_string();
                tracing::debug!(kind = info.kind, name, "deleted");
                return Ok(DeleteOutcome::Deleted(object));
            }
            // Graceful: mark once; a shorter grace period moves the deadline
            // earlier, a longer one never later.
            let deadline = Time::from_unix(now().seconds.saturating_add(grace));
            let earlier = match m.deletion_timestamp {
                None => true,
                Some(t) => deadline < t,
            };
            if earlier {
                m.deletion_timestamp = Some(deadline);
                m.deletion_grace_period_seconds = Some(grace);
                changed = true;
            }
            if !changed || opts.dry_run {
                return Ok(DeleteOutcome::Pending(object));
            }
            let json = to_value(&object)?;
            let value = envelope::encode(&envelope_of(info, &json)?)?;
            match self.cas(&key, cur.mod_revision, value).await? {
                Cas::Done(rev) => {
                    object.metadata_mut().resource_version = rev.0.to_string();
                    return Ok(DeleteOutcome::Pending(object));
                }
                Cas::Lost => continue,
            }
        }
        Err(ApiError::conflict(info, name, MODIFIED_MESSAGE))
    }

    /// Deletes every selected object; answers them as deleted or marked.
    pub async fn delete_collection(
        &self,
        info: &'static ResourceInfo,
        namespace: &str,
        list_opts: &ListOptions,
        opts: &DeleteOptions,
    ) -> ApiResult<ObjectList> {
        let mut list_opts = list_opts.clone();
        let mut out = ObjectList::default();
        loop {
            let page = self.list(info, namespace, &list_opts).await?;
            out.resource_version = page.resource_version.clone();
            for o in page.items {
                let m = o.metadata();
                match self.delete(info, &m.namespace, &m.name, opts).await {
                    Ok(done) => out.items.push(done.object().clone()),
                    Err(e) if e.is_not_found() => {}
                    Err(e) => return Err(e),
                }
            }
            if page.continue_.is_empty() {
                return Ok(out);
            }
            list_opts.continue_ = page.continue_;
        }
    }

    // ---- scale --------------------------------------------------------------------

    /// The scale subresource of a Deployment, ReplicaSet or StatefulSet.
    pub async fn get_scale(
        &self,
        info: &'static ResourceInfo,
        namespace: &str,
        name: &str,
    ) -> ApiResult<Scale> {
        if !has_scale_subresource(info) {
            return Err(no_scale(info));
        }
        let cur = self.read_existing(info, namespace, name).await?;
        scale_of(&envelope::decode(&cur.value, cur.mod_revision.0)?)
    }

    /// Sets `spec.replicas` through the scale subresource.
    pub async fn update_scale(
        &self,
        info: &'static ResourceInfo,
        namespace: &str,
        name: &str,
        scale: &Scale,
        opts: &WriteOptions,
    ) -> ApiResult<Scale> {
        if !has_scale_subresource(info) {
            return Err(no_scale(info));
        }
        let replicas = scale.spec.replicas.unwrap_or(0);
        let precondition = match scale.metadata.resource_version.as_str() {
            "" => None,
            rv => Some(parse_rv(rv)?),
        };
        for _ in 0..CAS_ATTEMPTS {
            let cur = self.read_existing(info, namespace, name).await?;
            if precondition.is_some_and(|rv| rv != cur.mod_revision.0) {
                return Err(ApiError::conflict(info, name, MODIFIED_MESSAGE));
            }
            let mut v = to_value(&envelope::decode(&cur.value, cur.mod_revision.0)?)?;
            if let Some(spec) = v.get_mut("spec").and_then(Value::as_object_mut) {
                spec.insert("replicas".into(), Value::from(replicas));
            }
            match self
                .write_over(info, &cur, v, Subresource::Main, opts)
                .await?
            {
                Some(o) => return scale_of(&o),
                None if precondition.is_some() => {
                    return Err(ApiError::conflict(info, name, MODIFIED_MESSAGE))
                }
                None => continue,
            }
        }
        Err(ApiError::conflict(info, name, MODIFIED_MESSAGE))
    }

    // ---- watch --------------------------------------------------------------------

    /// Watches objects. With no resourceVersion (or `"0"`) the stream opens
    /// with an `ADDED` event per existing object, as Kubernetes' does.
    pub async fn watch(
        &self,
        info: &'static ResourceInfo,
        namespace: &str,
        opts: &WatchOptions,
    ) -> ApiResult<WatchStream> {
        let selection = Selection::parse(info, &opts.label_selector, &opts.field_selector)?;
        let prefix = info.key_prefix((!namespace.is_empty()).then_some(namespace));
        let range = KeyRange::prefix(prefix.into_bytes());
        let mut initial = VecDeque::new();
        let start = match opts.resource_version.as_str() {
            "" | "0" => {
                let list = self
                    .list(
                        info,
                        namespace,
                        &ListOptions {
                            label_selector: opts.label_selector.clone(),
                            field_selector: opts.field_selector.clone(),
                            resource_version: opts.resource_version.clone(),
                            ..ListOptions::default()
                        },
                    )
                    .await?;
                initial.extend(list.items.into_iter().map(WatchEvent::Added));
                parse_rv(&list.resource_version)? + 1
            }
            rv => parse_rv(rv)? + 1,
        };
        let watch = self
            .kv
            .watch(range.clone(), Some(Revision(start)), opts.allow_bookmarks)
            .await?;
        let state = WatchState {
            kv: self.kv.clone(),
            watch,
            range,
            bookmarks: opts.allow_bookmarks,
            selection,
            next: Revision(start),
            pending: initial,
            done: false,
        };
        Ok(WatchStream::new(stream::unfold(
            state,
            |mut s| async move { s.next_event().await.map(|e| (e, s)) },
        )))
    }
}

/// The JSON body of a patch.
fn patch_body(patch: &Patch) -> &Value {
    match patch {
        Patch::Json(v) | Patch::Merge(v) | Patch::StrategicMerge(v) | Patch::Apply(v) => v,
    }
}

fn no_scale(info: &ResourceInfo) -> ApiError {
    ApiError::MethodNotAllowed {
        message: format!(
            "the server does not allow this method on {}/scale",
            info.plural
        ),
    }
}

/// The scale of a stored Deployment, ReplicaSet or StatefulSet.
fn scale_of(object: &Object) -> ApiResult<Scale> {
    let v = to_value(object)?;
    let m = object.metadata();
    let selector = v
        .pointer("/spec/selector")
        .cloned()
        .map(serde_json::from_value::<LabelSelector>)
        .transpose()
        .map_err(|e| ApiError::internal(format!("a stored selector does not decode: {e}")))?
        .map(|s| s.to_selector().map(|s| s.to_string()))
        .transpose()
        .map_err(|e| ApiError::internal(format!("a stored selector is invalid: {e}")))?
        .unwrap_or_default();
    let number = |p: &str| {
        v.pointer(p)
            .and_then(Value::as_i64)
            .and_then(|n| i32::try_from(n).ok())
    };
    Ok(Scale {
        api_version: "autoscaling/v1".into(),
        kind: "Scale".into(),
        metadata: crate::api::ObjectMeta {
            name: m.name.clone(),
            namespace: m.namespace.clone(),
            uid: m.uid.clone(),
            resource_version: m.resource_version.clone(),
            creation_timestamp: m.creation_timestamp,
            ..crate::api::ObjectMeta::default()
        },
        spec: crate::api::status::ScaleSpec {
            replicas: number("/spec/replicas"),
        },
        status: crate::api::status::ScaleStatus {
            replicas: number("/status/replicas").unwrap_or(0),
            selector,
        },
    })
}

/// Why a create transaction failed: the key was taken or the namespace is
/// missing (read from the failure branch's two counts).
fn create_failure(info: &ResourceInfo, object: &Object, responses: &[TxnOpResponse]) -> ApiError {
    let count = |i: usize| match responses.get(i) {
        Some(TxnOpResponse::Range(r)) => r.count,
        _ => 0,
    };
    let meta = object.metadata();
    if count(0) > 0 {
        ApiError::already_exists(info, &meta.name)
    } else {
        ApiError::not_found(&NAMESPACE, &meta.namespace)
    }
}

/// A watch being turned from store events into API events.
struct WatchState {
    kv: Kv,
    watch: KvWatch,
    range: KeyRange,
    bookmarks: bool,
    selection: Selection,
    /// The first revision not yet delivered (where to resume).
    next: Revision,
    pending: VecDeque<WatchEvent>,
    done: bool,
}

impl WatchState {
    async fn next_event(&mut self) -> Option<ApiResult<WatchEvent>> {
        loop {
            if let Some(e) = self.pending.pop_front() {
                return Some(Ok(e));
            }
            if self.done {
                return None;
            }
            let resp = match self.watch.recv().await {
                Some(Ok(r)) => r,
                Some(Err(e)) => {
                    self.done = true;
                    return Some(Err(ApiError::from(e)));
                }
                None => {
                    self.done = true;
                    return Some(Err(ApiError::Unavailable {
                        message: format!(
                            "the watch ended (member stopping); resume from resourceVersion {}",
                            self.next.0.saturating_sub(1)
                        ),
                    }));
                }
            };
            match resp {
                WatchResponse::Events { revision, events } => {
                    for e in &events {
                        match self.translate(revision, e) {
                            Ok(Some(ev)) => self.pending.push_back(ev),
                            Ok(None) => {}
                            Err(err) => {
                                self.done = true;
                                return Some(Err(err));
                            }
                        }
                    }
                    self.next = revision.next();
                }
                WatchResponse::Progress { revision } => {
                    self.next = self.next.max(revision.next());
                    if self.bookmarks {
                        self.pending.push_back(WatchEvent::Bookmark {
                            resource_version: revision.0.to_string(),
                        });
                    }
                }
                WatchResponse::Canceled { reason } => match reason {
                    CancelReason::Slow { resume_from } => {
                        // Too slow for the hub's queue: carry on from where it
                        // stopped, without a gap.
                        tracing::debug!(resume_from = resume_from.0, "slow watch resumed");
                        match self
                            .kv
                            .watch(self.range.clone(), Some(resume_from), self.bookmarks)
                            .await
                        {
                            Ok(w) => {
                                self.watch = w;
                                self.next = resume_from;
                            }
                            Err(e) => {
                                self.done = true;
                                return Some(Err(ApiError::from(e)));
                            }
                        }
                    }
                    CancelReason::Compacted { compacted } => {
                        self.done = true;
                        return Some(Err(ApiError::from(StoreError::Compacted { compacted })));
                    }
                    CancelReason::Requested | CancelReason::Unencodable { .. } => {
                        self.done = true;
                        return Some(Err(ApiError::internal(format!(
                            "the store ended the watch: {reason:?}"
                        ))));
                    }
                },
            }
        }
    }

    /// The API event one store event is, under this watch's selectors.
    fn translate(
        &self,
        revision: Revision,
        e: &hive_raftstore::watch::SharedEvent,
    ) -> ApiResult<Option<WatchEvent>> {
        let wire = e
            .archived()
            .map_err(|err| ApiError::internal(err.to_string()))?;
        let ev = &wire.event;
        let prev = ev
            .prev_kv
            .as_ref()
            .map(|p| Aligned::new(p.value.as_slice()));
        let prev_env = match &prev {
            Some(a) => Some(a.envelope()?),
            None => None,
        };
        let created = ev.kv.version.to_native() == 1;
        // Without selectors a put is a create exactly when it is the key's
        // first version (its previous value may be compacted away).
        let was = if self.selection.is_everything() {
            matches!(ev.kind, hive_raftstore::ArchivedEventKind::Delete) || !created
        } else {
            prev_env.is_some_and(|env| self.selection.matches(env))
        };
        let rv = revision.0;
        match ev.kind {
            hive_raftstore::ArchivedEventKind::Delete => match prev_env {
                Some(env) if was => Ok(Some(WatchEvent::Deleted(envelope::decode_archived(
                    env, rv,
                )?))),
                _ => Ok(None),
            },
            hive_raftstore::ArchivedEventKind::Put => {
                let cur = Aligned::new(ev.kv.value.as_slice());
                let env = cur.envelope()?;
                let is = self.selection.matches(env);
                Ok(match (was && !created, is) {
                    (true, true) => Some(WatchEvent::Modified(envelope::decode_archived(env, rv)?)),
                    (false, true) => Some(WatchEvent::Added(envelope::decode_archived(env, rv)?)),
                    (true, false) => Some(WatchEvent::Deleted(envelope::decode_archived(env, rv)?)),
                    (false, false) => None,
                })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A continue token carries the remaining count on, and a token without
    /// one (Kubernetes' own shape, or an older Hive's) is still accepted, with
    /// the count left to be read again.
    #[test]
    fn continue_tokens_carry_the_remaining_count_and_accept_tokens_without_it() {
        let c = Continue {
            rv: 7,
            start: b"/registry/pods/a/b\0".to_vec(),
            remaining: Some(99),
        };
        let token = encode_continue(&c);
        assert_eq!(decode_continue(&token, "/registry/pods/").ok(), Some(c));
        let plain = base64::engine::general_purpose::STANDARD
            .encode(br#"{"v":"meta.k8s.io/v1","rv":7,"start":"/registry/pods/a"}"#);
        assert_eq!(
            decode_continue(&plain, "/registry/pods/").ok(),
            Some(Continue {
                rv: 7,
                start: b"/registry/pods/a".to_vec(),
                remaining: None,
            })
        );
        assert!(decode_continue(&token, "/registry/secrets/").is_err());
    }
}
