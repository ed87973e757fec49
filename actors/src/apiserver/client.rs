//! [`ApiClient`]: the one way every component (controllers, scheduler, node
//! agent, the REST edge) reads and writes API objects, and the option and
//! result types of its calls.
//!
//! Two implementations share the same semantics: [`super::LocalApiClient`]
//! (in process, over the storage layer directly) and
//! [`super::RemoteApiClient`] (over QUIC to an [`super::ApiQuicServer`]).
//! Component code takes `impl ApiClient` or `Arc<dyn ApiClient>` and runs
//! unchanged against either.
//!
//! # The calls
//!
//! | call | Kubernetes verb | answers |
//! |---|---|---|
//! | [`get`](ApiClient::get) | get | the object |
//! | [`list`](ApiClient::list) | list (selectors, limit/continue, resourceVersion) | an [`ObjectList`] |
//! | [`list_json`](ApiClient::list_json) | list, as the REST edge sends it | a [`JsonList`] |
//! | [`watch`](ApiClient::watch) | watch (from a resourceVersion, bookmarks) | a [`WatchStream`] |
//! | [`create`](ApiClient::create) | create (uid, timestamps, generateName) | the stored object |
//! | [`update`](ApiClient::update) | update, compare-and-swap on `metadata.resourceVersion` | the stored object |
//! | [`update_status`](ApiClient::update_status) | update of the `status` subresource | the stored object |
//! | [`patch`](ApiClient::patch) | patch (JSON patch, merge patch) | the stored object |
//! | [`delete`](ApiClient::delete) | delete (grace, finalizers, preconditions) | a [`DeleteOutcome`] |
//! | [`delete_collection`](ApiClient::delete_collection) | deletecollection | what was deleted |
//! | [`get_scale`](ApiClient::get_scale), [`update_scale`](ApiClient::update_scale) | the `scale` subresource | a [`Scale`] |
//!
//! Every method returns a boxed `Send` future so that the trait is usable as
//! `dyn ApiClient` and from any task. `resourceVersion` is the store's
//! modification revision as an opaque decimal string.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use futures::future::BoxFuture;
use futures::stream::{BoxStream, Stream, StreamExt};
use futures::FutureExt;

use super::envelope;
use super::error::{ApiError, ApiResult};
use crate::api::object::ResourceInfo;
use crate::api::{Object, Scale};

/// How fresh a `get` must be.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GetOptions {
    /// `""`: the latest, read linearizably; `"0"`: any recent state (may be
    /// stale, served by whichever member answers); anything else is taken as
    /// "at least this revision" and read linearizably.
    pub resource_version: String,
}

/// What a `list` (or `delete_collection`) selects and how it pages.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListOptions {
    /// A label selector in string form (`app=web,tier in (fe,be)`).
    pub label_selector: String,
    /// A field selector in string form (`spec.nodeName=n1`); only the fields
    /// the kind supports (see [`super::envelope::selectable_fields`]).
    pub field_selector: String,
    /// At most this many items (0: all); the answer's `continue_` then says
    /// where the next page starts.
    pub limit: u64,
    /// The `continue_` of the previous page; the page is read at that page's
    /// revision.
    pub continue_: String,
    /// `""`: latest, linearizable; `"0"`: any recent state; otherwise exactly
    /// this revision (410 Expired if compacted, 504 if in the future).
    pub resource_version: String,
}

/// What a `watch` selects and from where it starts.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WatchOptions {
    /// A label selector in string form.
    pub label_selector: String,
    /// A field selector in string form.
    pub field_selector: String,
    /// Deliver every change after this revision; `""` or `"0"`: changes after
    /// now. A compacted revision fails with 410 Expired.
    pub resource_version: String,
    /// Whether to receive [`WatchEvent::Bookmark`]s.
    pub allow_bookmarks: bool,
}

/// Options of a create, update or status update.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WriteOptions {
    /// Run every check and answer the object that would be stored, without
    /// storing it.
    pub dry_run: bool,
}

/// Which part of an object a patch changes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum Subresource {
    /// The object (its `status` is kept as stored).
    #[default]
    Main,
    /// Only `status` (everything else is kept as stored).
    Status,
}

/// A patch, by content type.
#[derive(Debug, Clone, PartialEq)]
pub enum Patch {
    /// `application/json-patch+json` (RFC 6902): a list of operations.
    Json(serde_json::Value),
    /// `application/merge-patch+json` (RFC 7396).
    Merge(serde_json::Value),
    /// `application/strategic-merge-patch+json`: applied by a
    /// [`super::patch::PatchApplier`] if one is installed.
    StrategicMerge(serde_json::Value),
    /// `application/apply-patch+yaml` (server-side apply) as JSON: applied by a
    /// [`super::patch::PatchApplier`] if one is installed.
    Apply(serde_json::Value),
}

/// Options of a patch.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PatchOptions {
    /// See [`WriteOptions::dry_run`].
    pub dry_run: bool,
    /// The part of the object the patch applies to.
    pub subresource: Subresource,
    /// Server-side apply's field manager (for a `PatchApplier`).
    pub field_manager: String,
    /// Server-side apply's `force` (for a `PatchApplier`).
    pub force: bool,
}

/// What happens to an object's dependents when it is deleted. Recorded as
/// Kubernetes records it (the `orphan` / `foregroundDeletion` finalizers) for
/// the garbage collector to act on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PropagationPolicy {
    /// Dependents are left alone.
    Orphan,
    /// Delete now; the GC deletes dependents afterwards.
    Background,
    /// Delete dependents first; the object stays until they are gone.
    Foreground,
}

impl PropagationPolicy {
    /// Kubernetes' spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            PropagationPolicy::Orphan => "Orphan",
            PropagationPolicy::Background => "Background",
            PropagationPolicy::Foreground => "Foreground",
        }
    }

    /// Parses Kubernetes' spelling.
    pub fn parse(s: &str) -> ApiResult<PropagationPolicy> {
        match s {
            "Orphan" => Ok(PropagationPolicy::Orphan),
            "Background" => Ok(PropagationPolicy::Background),
            "Foreground" => Ok(PropagationPolicy::Foreground),
            other => Err(ApiError::bad_request(format!(
                "propagationPolicy: Unsupported value: {other:?}: supported values: \
                 \"Foreground\", \"Background\", \"Orphan\""
            ))),
        }
    }
}

/// Conditions a delete checks against the stored object.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Preconditions {
    /// The object's uid must be this.
    pub uid: Option<String>,
    /// The object's resourceVersion must be this.
    pub resource_version: Option<String>,
}

/// Options of a delete.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DeleteOptions {
    /// Seconds the object may take to go; `Some(0)` deletes at once. `None`:
    /// the kind's default (a scheduled pod's `terminationGracePeriodSeconds`;
    /// 0 for everything else).
    pub grace_period_seconds: Option<i64>,
    /// What happens to dependents; `None`: Background.
    pub propagation_policy: Option<PropagationPolicy>,
    /// Checked against the stored object (409 Conflict if they fail).
    pub preconditions: Preconditions,
    /// See [`WriteOptions::dry_run`].
    pub dry_run: bool,
}

/// The outcome of a delete.
#[derive(Debug, Clone, PartialEq)]
pub enum DeleteOutcome {
    /// The object is gone; this is its last state.
    Deleted(Object),
    /// The object stays, marked with `deletionTimestamp`, until its finalizers
    /// are removed or its grace period is over.
    Pending(Object),
}

impl DeleteOutcome {
    /// The object as deleted or as it stays.
    pub fn object(&self) -> &Object {
        match self {
            DeleteOutcome::Deleted(o) | DeleteOutcome::Pending(o) => o,
        }
    }
}

/// One page of a list, of typed objects ([`ObjectList`]) or of their JSON
/// ([`JsonList`]).
#[derive(Debug, Clone, PartialEq)]
pub struct ListPage<T> {
    /// The revision the list was read at.
    pub resource_version: String,
    /// Where the next page starts; empty on the last page.
    pub continue_: String,
    /// How many objects in the range come after this page, before selectors
    /// (set only when the page was cut by a limit).
    pub remaining_item_count: Option<i64>,
    /// The objects, in key order (namespace, then name).
    pub items: Vec<T>,
}

impl<T> Default for ListPage<T> {
    fn default() -> Self {
        ListPage {
            resource_version: String::new(),
            continue_: String::new(),
            remaining_item_count: None,
            items: Vec::new(),
        }
    }
}

impl<T> ListPage<T> {
    /// The same page with each item converted by `f`.
    pub fn try_map<U, E>(self, f: impl FnMut(T) -> Result<U, E>) -> Result<ListPage<U>, E> {
        Ok(ListPage {
            resource_version: self.resource_version,
            continue_: self.continue_,
            remaining_item_count: self.remaining_item_count,
            items: self.items.into_iter().map(f).collect::<Result<_, _>>()?,
        })
    }
}

/// One page of a list of typed objects.
pub type ObjectList = ListPage<Object>;

/// One page of a list as the JSON of each object (with its `apiVersion`,
/// `kind` and `resourceVersion`), ready to be sent as a list's items.
pub type JsonList = ListPage<Vec<u8>>;

/// One event of a watch.
#[derive(Debug, Clone, PartialEq)]
pub enum WatchEvent {
    /// The object was created, or (under a selector) started to match.
    Added(Object),
    /// The object changed and still matches.
    Modified(Object),
    /// The object was deleted, or (under a selector) stopped matching; the
    /// object as last seen.
    Deleted(Object),
    /// Every matching event up to `resource_version` has been delivered.
    Bookmark {
        /// The revision reached.
        resource_version: String,
    },
}

/// The events of one watch, in revision order. An `Err` item ends it (e.g.
/// 410 Expired when it cannot continue from where it is); dropping it ends
/// the watch.
pub struct WatchStream {
    inner: BoxStream<'static, ApiResult<WatchEvent>>,
}

impl fmt::Debug for WatchStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WatchStream").finish_non_exhaustive()
    }
}

impl WatchStream {
    /// Wraps any stream of events.
    pub fn new(inner: impl Stream<Item = ApiResult<WatchEvent>> + Send + 'static) -> Self {
        WatchStream {
            inner: inner.boxed(),
        }
    }

    /// The next event; `None` once the watch ended.
    pub async fn next(&mut self) -> Option<ApiResult<WatchEvent>> {
        self.inner.next().await
    }
}

impl Stream for WatchStream {
    type Item = ApiResult<WatchEvent>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.inner.as_mut().poll_next(cx)
    }
}

/// The API every component uses; see the module documentation.
///
/// `namespace` is ignored for cluster-scoped kinds; for namespaced kinds an
/// empty namespace in `list`, `watch` and `delete_collection` means every
/// namespace. Objects passed to `create`, `update` and `update_status` carry
/// their kind, namespace and name in themselves.
pub trait ApiClient: Send + Sync {
    /// Reads one object (404 NotFound if absent).
    fn get<'a>(
        &'a self,
        resource: &'static ResourceInfo,
        namespace: &'a str,
        name: &'a str,
        opts: GetOptions,
    ) -> BoxFuture<'a, ApiResult<Object>>;

    /// Lists objects (see [`ListOptions`]).
    fn list<'a>(
        &'a self,
        resource: &'static ResourceInfo,
        namespace: &'a str,
        opts: ListOptions,
    ) -> BoxFuture<'a, ApiResult<ObjectList>>;

    /// Lists objects as the JSON of each (see [`JsonList`]). The default
    /// encodes what [`ApiClient::list`] returns; a client that holds the
    /// stored JSON answers it without decoding the objects.
    fn list_json<'a>(
        &'a self,
        resource: &'static ResourceInfo,
        namespace: &'a str,
        opts: ListOptions,
    ) -> BoxFuture<'a, ApiResult<JsonList>> {
        async move {
            self.list(resource, namespace, opts)
                .await?
                .try_map(envelope::object_json_bytes)
        }
        .boxed()
    }

    /// Watches objects (see [`WatchOptions`]). Returns once the watch is
    /// registered: every write acknowledged afterwards is delivered.
    fn watch<'a>(
        &'a self,
        resource: &'static ResourceInfo,
        namespace: &'a str,
        opts: WatchOptions,
    ) -> BoxFuture<'a, ApiResult<WatchStream>>;

    /// Creates an object: defaults and validates it, sets uid,
    /// creationTimestamp and generation 1, makes a name from `generateName`
    /// if it has none. 409 AlreadyExists if the name is taken, 404 if its
    /// namespace does not exist, 422 Invalid with every field error.
    fn create<'a>(&'a self, object: Object, opts: WriteOptions)
        -> BoxFuture<'a, ApiResult<Object>>;

    /// Replaces an object. With `metadata.resourceVersion` set the write is a
    /// compare-and-swap (409 Conflict when stale); empty, it overwrites
    /// whatever is stored. `status` is kept as stored; `generation` is bumped
    /// only when the spec changed. Removing the last finalizer of an object
    /// being deleted deletes it.
    fn update<'a>(&'a self, object: Object, opts: WriteOptions)
        -> BoxFuture<'a, ApiResult<Object>>;

    /// Replaces only the `status` of an object (compare-and-swap as
    /// [`ApiClient::update`]); everything else is kept as stored.
    fn update_status<'a>(
        &'a self,
        object: Object,
        opts: WriteOptions,
    ) -> BoxFuture<'a, ApiResult<Object>>;

    /// Patches an object (or its status), retrying internally when the object
    /// changed between read and write, as Kubernetes does.
    fn patch<'a>(
        &'a self,
        resource: &'static ResourceInfo,
        namespace: &'a str,
        name: &'a str,
        patch: Patch,
        opts: PatchOptions,
    ) -> BoxFuture<'a, ApiResult<Object>>;

    /// Deletes an object, or marks it for deletion (finalizers, grace period).
    fn delete<'a>(
        &'a self,
        resource: &'static ResourceInfo,
        namespace: &'a str,
        name: &'a str,
        opts: DeleteOptions,
    ) -> BoxFuture<'a, ApiResult<DeleteOutcome>>;

    /// Deletes every object `list_opts` selects (each as by `delete`);
    /// answers the objects as deleted or marked.
    fn delete_collection<'a>(
        &'a self,
        resource: &'static ResourceInfo,
        namespace: &'a str,
        list_opts: ListOptions,
        opts: DeleteOptions,
    ) -> BoxFuture<'a, ApiResult<ObjectList>>;

    /// Reads the scale subresource of a Deployment, ReplicaSet or StatefulSet
    /// (405 MethodNotAllowed for other kinds).
    fn get_scale<'a>(
        &'a self,
        resource: &'static ResourceInfo,
        namespace: &'a str,
        name: &'a str,
    ) -> BoxFuture<'a, ApiResult<Scale>>;

    /// Sets `spec.replicas` through the scale subresource (compare-and-swap
    /// if `scale.metadata.resourceVersion` is set).
    fn update_scale<'a>(
        &'a self,
        resource: &'static ResourceInfo,
        namespace: &'a str,
        name: &'a str,
        scale: Scale,
        opts: WriteOptions,
    ) -> BoxFuture<'a, ApiResult<Scale>>;
}

/// Runs `op` until it does not fail with a `Conflict`, at most `attempts`
/// times (client-go's `RetryOnConflict`): `op` must re-read the object each
/// time. The last conflict is returned when attempts run out.
pub async fn retry_on_conflict<T, F, Fut>(attempts: usize, mut op: F) -> ApiResult<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = ApiResult<T>>,
{
    let mut left = attempts.max(1);
    loop {
        match op().await {
            Err(e) if e.is_conflict() && left > 1 => left -= 1,
            other => return other,
        }
    }
}
