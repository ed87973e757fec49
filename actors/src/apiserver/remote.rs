//! The [`ApiClient`] over QUIC: [`ApiQuicServer`] serves a process's
//! [`Storage`] as two hive-transport services, [`RemoteApiClient`] calls them
//! from another process with the same semantics as the local client.
//!
//! Messages are rkyv archives; objects inside them travel as their Kubernetes
//! JSON (the object model derives serde, not rkyv), errors as a `Status` in
//! JSON, which [`ApiError`] converts from without loss. A watch is a server
//! stream: a `Created` item once the watch is registered (so every write
//! acknowledged afterwards is delivered), then one item per event, and
//! heartbeats while it is quiet so that either side notices the other going.
//!
//! Service ids are in the `AP` block (`0x4150_xxxx`), beside the store's
//! `ST` and Raft's `RA` blocks.

use std::time::Duration;

use futures::future::BoxFuture;
use futures::{stream, FutureExt};
use hive_transport::{
    Call, Endpoint, EndpointConfig, Identity, MemberName, ResponseStream, Router, RpcError,
    Service, ServiceError, ServiceId, StreamSink,
};
use rkyv::{Archive, Deserialize, Serialize};

use super::client::{
    ApiClient, DeleteOptions, DeleteOutcome, GetOptions, ListOptions, ObjectList, Patch,
    PatchOptions, Preconditions, PropagationPolicy, Subresource, WatchEvent, WatchOptions,
    WatchStream, WriteOptions,
};
use super::error::{ApiError, ApiResult};
use super::storage::Storage;
use crate::api::object::{lookup_resource, ResourceInfo};
use crate::api::{Object, Scale, Status};

/// Which objects a call is about.
#[derive(Archive, Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// API group.
    pub group: String,
    /// Version.
    pub version: String,
    /// Plural resource name.
    pub resource: String,
    /// Namespace (empty: cluster-scoped, or all namespaces for collections).
    pub namespace: String,
    /// Name (empty for collections).
    pub name: String,
}

/// [`ListOptions`] on the wire.
#[derive(Archive, Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
pub struct WireList {
    /// Label selector.
    pub label_selector: String,
    /// Field selector.
    pub field_selector: String,
    /// Limit.
    pub limit: u64,
    /// Continue token.
    pub continue_: String,
    /// resourceVersion.
    pub resource_version: String,
}

/// [`DeleteOptions`] on the wire.
#[derive(Archive, Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
pub struct WireDelete {
    /// Grace period.
    pub grace_period_seconds: Option<i64>,
    /// `Orphan`, `Background`, `Foreground` or empty.
    pub propagation_policy: String,
    /// uid precondition.
    pub uid: Option<String>,
    /// resourceVersion precondition.
    pub resource_version: Option<String>,
    /// Dry run.
    pub dry_run: bool,
}

/// One unary API call.
#[derive(Archive, Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
pub enum ApiRequest {
    /// `get`.
    Get {
        /// The object.
        target: Target,
        /// resourceVersion.
        resource_version: String,
    },
    /// `list`.
    List {
        /// The collection.
        target: Target,
        /// Options.
        opts: WireList,
    },
    /// `create`, `update` or `update_status` of the object in `json`.
    Write {
        /// [`VERB_CREATE`], [`VERB_UPDATE`] or [`VERB_UPDATE_STATUS`].
        verb: u8,
        /// The object as JSON.
        json: Vec<u8>,
        /// Dry run.
        dry_run: bool,
    },
    /// `patch`.
    Patch {
        /// The object.
        target: Target,
        /// 0 JSON patch, 1 merge, 2 strategic merge, 3 apply.
        patch_type: u8,
        /// The patch as JSON.
        body: Vec<u8>,
        /// Dry run.
        dry_run: bool,
        /// Patch the status subresource.
        status: bool,
        /// Field manager.
        field_manager: String,
        /// Force.
        force: bool,
    },
    /// `delete`.
    Delete {
        /// The object.
        target: Target,
        /// Options.
        opts: WireDelete,
    },
    /// `delete_collection`.
    DeleteCollection {
        /// The collection.
        target: Target,
        /// What to select.
        list: WireList,
        /// How to delete.
        opts: WireDelete,
    },
    /// `get_scale`.
    GetScale {
        /// The object.
        target: Target,
    },
    /// `update_scale`.
    UpdateScale {
        /// The object.
        target: Target,
        /// The Scale as JSON.
        json: Vec<u8>,
        /// Dry run.
        dry_run: bool,
    },
}

/// The answer to an [`ApiRequest`].
#[derive(Archive, Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
pub enum ApiReply {
    /// One object as JSON.
    Object(Vec<u8>),
    /// A page of objects, each as JSON.
    List {
        /// Revision read at.
        resource_version: String,
        /// Continue token.
        continue_: String,
        /// Remaining count.
        remaining_item_count: Option<i64>,
        /// Objects as JSON.
        items: Vec<Vec<u8>>,
    },
    /// A delete that removed the object (its last state as JSON).
    Deleted(Vec<u8>),
    /// A delete that marked the object (as JSON).
    Pending(Vec<u8>),
    /// A Scale as JSON.
    Scale(Vec<u8>),
    /// The call failed: a `Status` as JSON.
    Error(Vec<u8>),
}

/// A watch request.
#[derive(Archive, Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
pub struct WatchRequest {
    /// The collection.
    pub target: Target,
    /// Label selector.
    pub label_selector: String,
    /// Field selector.
    pub field_selector: String,
    /// resourceVersion.
    pub resource_version: String,
    /// Bookmarks wanted.
    pub allow_bookmarks: bool,
}

/// One item of a watch stream.
#[derive(Archive, Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
pub enum WatchItem {
    /// The watch is registered.
    Created,
    /// ADDED, with the object as JSON.
    Added(Vec<u8>),
    /// MODIFIED.
    Modified(Vec<u8>),
    /// DELETED.
    Deleted(Vec<u8>),
    /// BOOKMARK at a resourceVersion.
    Bookmark(String),
    /// The watch failed or could not start: a `Status` as JSON; nothing follows.
    Error(Vec<u8>),
    /// Nothing happened for a while; the server is alive.
    Heartbeat,
}

/// The unary API service.
#[derive(Debug)]
pub struct ApiCall;
impl Service for ApiCall {
    const NAME: &'static str = "api.call";
    const ID: ServiceId = ServiceId(0x4150_0001);
    type Request = ApiRequest;
    type Response = ApiReply;
}

/// The watch service (a server stream of [`WatchItem`]s).
#[derive(Debug)]
pub struct ApiWatch;
impl Service for ApiWatch {
    const NAME: &'static str = "api.watch";
    const ID: ServiceId = ServiceId(0x4150_0002);
    type Request = WatchRequest;
    type Response = WatchItem;
}

// ---- conversions ----------------------------------------------------------------------

fn target(info: &ResourceInfo, namespace: &str, name: &str) -> Target {
    Target {
        group: info.group.to_owned(),
        version: info.version.to_owned(),
        resource: info.plural.to_owned(),
        namespace: namespace.to_owned(),
        name: name.to_owned(),
    }
}

fn resolve(t: &Target) -> ApiResult<&'static ResourceInfo> {
    lookup_resource(&t.group, &t.version, &t.resource).ok_or_else(|| ApiError::NotFound {
        group: t.group.clone(),
        resource: t.resource.clone(),
        name: String::new(),
    })
}

fn wire_list(o: &ListOptions) -> WireList {
    WireList {
        label_selector: o.label_selector.clone(),
        field_selector: o.field_selector.clone(),
        limit: o.limit,
        continue_: o.continue_.clone(),
        resource_version: o.resource_version.clone(),
    }
}

fn list_opts(w: WireList) -> ListOptions {
    ListOptions {
        label_selector: w.label_selector,
        field_selector: w.field_selector,
        limit: w.limit,
        continue_: w.continue_,
        resource_version: w.resource_version,
    }
}

fn wire_delete(o: &DeleteOptions) -> WireDelete {
    WireDelete {
        grace_period_seconds: o.grace_period_seconds,
        propagation_policy: o
            .propagation_policy
            .map(|p| p.as_str().to_owned())
            .unwrap_or_default(),
        uid: o.preconditions.uid.clone(),
        resource_version: o.preconditions.resource_version.clone(),
        dry_run: o.dry_run,
    }
}

fn delete_opts(w: WireDelete) -> ApiResult<DeleteOptions> {
    Ok(DeleteOptions {
        grace_period_seconds: w.grace_period_seconds,
        propagation_policy: match w.propagation_policy.as_str() {
            "" => None,
            p => Some(PropagationPolicy::parse(p)?),
        },
        preconditions: Preconditions {
            uid: w.uid,
            resource_version: w.resource_version,
        },
        dry_run: w.dry_run,
    })
}

fn json<T: serde::Serialize>(v: &T) -> ApiResult<Vec<u8>> {
    serde_json::to_vec(v).map_err(|e| ApiError::internal(format!("encoding JSON: {e}")))
}

fn object(bytes: &[u8]) -> ApiResult<Object> {
    serde_json::from_slice(bytes).map_err(|e| ApiError::bad_request(format!("an object: {e}")))
}

fn status_bytes(e: &ApiError) -> Vec<u8> {
    serde_json::to_vec(&e.to_status()).unwrap_or_default()
}

fn error_of(bytes: &[u8]) -> ApiError {
    match serde_json::from_slice::<Status>(bytes) {
        Ok(s) => ApiError::from_status(&s),
        Err(e) => ApiError::internal(format!("an unreadable error from the API server: {e}")),
    }
}

// ---- server ---------------------------------------------------------------------------

/// Serves a [`Storage`] to [`RemoteApiClient`]s. Cheap to clone.
#[derive(Clone, Debug)]
pub struct ApiQuicServer {
    storage: Storage,
    heartbeat: Duration,
}

impl ApiQuicServer {
    /// A server over `storage`; quiet watches get a heartbeat every
    /// `heartbeat`.
    pub fn new(storage: Storage, heartbeat: Duration) -> Self {
        ApiQuicServer { storage, heartbeat }
    }

    /// The handlers, for an endpoint's router.
    pub fn router(&self) -> Router {
        let unary = self.clone();
        let watch = self.clone();
        Router::new()
            .unary::<ApiCall, _, _>(move |call: Call<ApiCall>| {
                let s = unary.clone();
                async move {
                    let req = call.received().deserialize()?;
                    Ok(s.handle(req).await.unwrap_or_else(|e| {
                        tracing::debug!(error = %e, "api call failed");
                        ApiReply::Error(status_bytes(&e))
                    }))
                }
            })
            .server_stream::<ApiWatch, _, _>(move |call, sink| {
                let s = watch.clone();
                async move { s.serve_watch(call, sink).await }
            })
    }

    /// Adds the API services to a running endpoint.
    ///
    /// # Panics
    /// If the endpoint serves them already.
    pub fn serve(&self, endpoint: &Endpoint) {
        endpoint.add_services(self.router());
    }

    async fn handle(&self, req: ApiRequest) -> ApiResult<ApiReply> {
        let s = &self.storage;
        Ok(match req {
            ApiRequest::Get {
                target,
                resource_version,
            } => {
                let info = resolve(&target)?;
                let o = s
                    .get(
                        info,
                        &target.namespace,
                        &target.name,
                        &GetOptions { resource_version },
                    )
                    .await?;
                ApiReply::Object(json(&o)?)
            }
            ApiRequest::List { target, opts } => {
                let info = resolve(&target)?;
                let l = s.list(info, &target.namespace, &list_opts(opts)).await?;
                list_reply(l)?
            }
            ApiRequest::Write {
                verb,
                json: body,
                dry_run,
            } => {
                let o = object(&body)?;
                let opts = WriteOptions { dry_run };
                let out = match verb {
                    VERB_CREATE => s.create(o, &opts).await?,
                    VERB_UPDATE => s.update(o, &opts).await?,
                    VERB_UPDATE_STATUS => s.update_status(o, &opts).await?,
                    v => return Err(ApiError::bad_request(format!("unknown write verb {v}"))),
                };
                ApiReply::Object(json(&out)?)
            }
            ApiRequest::Patch {
                target,
                patch_type,
                body,
                dry_run,
                status,
                field_manager,
                force,
            } => {
                let info = resolve(&target)?;
                let value: serde_json::Value = serde_json::from_slice(&body)
                    .map_err(|e| ApiError::bad_request(format!("the patch is not JSON: {e}")))?;
                let patch = match patch_type {
                    0 => Patch::Json(value),
                    1 => Patch::Merge(value),
                    2 => Patch::StrategicMerge(value),
                    3 => Patch::Apply(value),
                    t => return Err(ApiError::bad_request(format!("unknown patch type {t}"))),
                };
                let opts = PatchOptions {
                    dry_run,
                    subresource: if status {
                        Subresource::Status
                    } else {
                        Subresource::Main
                    },
                    field_manager,
                    force,
                };
                let o = s
                    .patch(info, &target.namespace, &target.name, &patch, &opts)
                    .await?;
                ApiReply::Object(json(&o)?)
            }
            ApiRequest::Delete { target, opts } => {
                let info = resolve(&target)?;
                match s
                    .delete(info, &target.namespace, &target.name, &delete_opts(opts)?)
                    .await?
                {
                    DeleteOutcome::Deleted(o) => ApiReply::Deleted(json(&o)?),
                    DeleteOutcome::Pending(o) => ApiReply::Pending(json(&o)?),
                }
            }
            ApiRequest::DeleteCollection { target, list, opts } => {
                let info = resolve(&target)?;
                let l = s
                    .delete_collection(
                        info,
                        &target.namespace,
                        &list_opts(list),
                        &delete_opts(opts)?,
                    )
                    .await?;
                list_reply(l)?
            }
            ApiRequest::GetScale { target } => {
                let info = resolve(&target)?;
                let sc = s.get_scale(info, &target.namespace, &target.name).await?;
                ApiReply::Scale(json(&sc)?)
            }
            ApiRequest::UpdateScale {
                target,
                json: body,
                dry_run,
            } => {
                let info = resolve(&target)?;
                let scale: Scale = serde_json::from_slice(&body)
                    .map_err(|e| ApiError::bad_request(format!("a Scale: {e}")))?;
                let sc = s
                    .update_scale(
                        info,
                        &target.namespace,
                        &target.name,
                        &scale,
                        &WriteOptions { dry_run },
                    )
                    .await?;
                ApiReply::Scale(json(&sc)?)
            }
        })
    }

    async fn serve_watch(
        &self,
        call: Call<ApiWatch>,
        mut sink: StreamSink<WatchItem>,
    ) -> Result<(), ServiceError> {
        let req = call.received().deserialize()?;
        let opened = match resolve(&req.target) {
            Ok(info) => {
                self.storage
                    .watch(
                        info,
                        &req.target.namespace,
                        &WatchOptions {
                            label_selector: req.label_selector,
                            field_selector: req.field_selector,
                            resource_version: req.resource_version,
                            allow_bookmarks: req.allow_bookmarks,
                        },
                    )
                    .await
            }
            Err(e) => Err(e),
        };
        let mut w = match opened {
            Ok(w) => w,
            Err(e) => {
                // The client may be gone already; nothing more to do either way.
                let _ = sink.send(&WatchItem::Error(status_bytes(&e))).await;
                return Ok(());
            }
        };
        if sink.send(&WatchItem::Created).await.is_err() {
            return Ok(());
        }
        loop {
            let item = match tokio::time::timeout(self.heartbeat, w.next()).await {
                Err(_) => WatchItem::Heartbeat,
                Ok(None) => return Ok(()),
                Ok(Some(Err(e))) => {
                    let _ = sink.send(&WatchItem::Error(status_bytes(&e))).await;
                    return Ok(());
                }
                Ok(Some(Ok(ev))) => match watch_item(&ev) {
                    Ok(item) => item,
                    Err(e) => {
                        let _ = sink.send(&WatchItem::Error(status_bytes(&e))).await;
                        return Ok(());
                    }
                },
            };
            if sink.send(&item).await.is_err() {
                return Ok(()); // the client left; dropping `w` ends the watch
            }
        }
    }
}

fn list_reply(l: ObjectList) -> ApiResult<ApiReply> {
    Ok(ApiReply::List {
        resource_version: l.resource_version,
        continue_: l.continue_,
        remaining_item_count: l.remaining_item_count,
        items: l.items.iter().map(json).collect::<ApiResult<_>>()?,
    })
}

fn watch_item(ev: &WatchEvent) -> ApiResult<WatchItem> {
    Ok(match ev {
        WatchEvent::Added(o) => WatchItem::Added(json(o)?),
        WatchEvent::Modified(o) => WatchItem::Modified(json(o)?),
        WatchEvent::Deleted(o) => WatchItem::Deleted(json(o)?),
        WatchEvent::Bookmark { resource_version } => WatchItem::Bookmark(resource_version.clone()),
    })
}

// ---- client ---------------------------------------------------------------------------

/// Limits of a [`RemoteApiClient`].
#[derive(Clone, Debug)]
pub struct RemoteApiOptions {
    /// Bound on one call (a write that hits it has an unknown outcome: 504).
    pub call_timeout: Duration,
    /// A watch stream silent for this long (no event, no heartbeat) is taken
    /// for lost; keep it well above the server's heartbeat.
    pub watch_idle_timeout: Duration,
}

impl Default for RemoteApiOptions {
    fn default() -> Self {
        RemoteApiOptions {
            call_timeout: Duration::from_secs(15),
            watch_idle_timeout: Duration::from_secs(10),
        }
    }
}

/// The [`ApiClient`] for components in other processes. Cheap to clone.
#[derive(Clone, Debug)]
pub struct RemoteApiClient {
    endpoint: Endpoint,
    server: MemberName,
    opts: RemoteApiOptions,
}

fn rpc_error(e: RpcError) -> ApiError {
    match e {
        RpcError::DeadlineExceeded => ApiError::Timeout {
            message: "the API server did not answer in time; the outcome is unknown".into(),
        },
        e if e.is_retryable() => ApiError::Unavailable {
            message: format!("the API server is unreachable: {e}"),
        },
        e => ApiError::internal(format!("calling the API server: {e}")),
    }
}

/// The verbs of [`ApiRequest::Write`].
const VERB_CREATE: u8 = 0;
const VERB_UPDATE: u8 = 1;
const VERB_UPDATE_STATUS: u8 = 2;

impl RemoteApiClient {
    /// Sends `object` for `verb`; the kind travels in the JSON (the server decodes by it).
    async fn write(&self, verb: u8, mut object: Object, opts: WriteOptions) -> ApiResult<Object> {
        object.set_type_meta();
        let req = ApiRequest::Write {
            verb,
            json: json(&object)?,
            dry_run: opts.dry_run,
        };
        self.call_object(req).await
    }

    /// A client calling the API server `server` (already known to
    /// `endpoint`'s peers) through `endpoint`.
    pub fn new(endpoint: Endpoint, server: MemberName, opts: RemoteApiOptions) -> Self {
        RemoteApiClient {
            endpoint,
            server,
            opts,
        }
    }

    /// Binds a client endpoint for `identity` and makes a client of the API
    /// server `server` at `addr`. Must be called inside a tokio runtime.
    pub fn connect(
        identity: &Identity,
        config: EndpointConfig,
        server: MemberName,
        addr: std::net::SocketAddr,
        opts: RemoteApiOptions,
    ) -> Result<Self, hive_transport::EndpointError> {
        let endpoint = Endpoint::bind(identity, config, Router::new())?;
        endpoint.add_peer(server.clone(), addr);
        Ok(Self::new(endpoint, server, opts))
    }

    async fn call(&self, req: ApiRequest) -> ApiResult<ApiReply> {
        let reply = self
            .endpoint
            .call::<ApiCall>(&self.server, &req, self.opts.call_timeout)
            .await
            .map_err(rpc_error)?
            .deserialize()
            .map_err(|e| ApiError::internal(format!("an unreadable answer: {e}")))?;
        match reply {
            ApiReply::Error(status) => Err(error_of(&status)),
            other => Ok(other),
        }
    }

    async fn call_object(&self, req: ApiRequest) -> ApiResult<Object> {
        match self.call(req).await? {
            ApiReply::Object(b) => object(&b),
            other => Err(unexpected(&other)),
        }
    }

    async fn call_list(&self, req: ApiRequest) -> ApiResult<ObjectList> {
        match self.call(req).await? {
            ApiReply::List {
                resource_version,
                continue_,
                remaining_item_count,
                items,
            } => Ok(ObjectList {
                resource_version,
                continue_,
                remaining_item_count,
                items: items.iter().map(|b| object(b)).collect::<ApiResult<_>>()?,
            }),
            other => Err(unexpected(&other)),
        }
    }

    async fn call_scale(&self, req: ApiRequest) -> ApiResult<Scale> {
        match self.call(req).await? {
            ApiReply::Scale(b) => serde_json::from_slice(&b)
                .map_err(|e| ApiError::internal(format!("an unreadable Scale: {e}"))),
            other => Err(unexpected(&other)),
        }
    }

    async fn open_watch(&self, req: WatchRequest) -> ApiResult<WatchStream> {
        let idle = self.opts.watch_idle_timeout;
        let opened = async {
            let mut s = self
                .endpoint
                .server_stream::<ApiWatch>(&self.server, &req)
                .await
                .map_err(rpc_error)?;
            match s.next().await {
                Some(Ok(first)) => match first.deserialize() {
                    Ok(WatchItem::Created) => Ok(s),
                    Ok(WatchItem::Error(st)) => Err(error_of(&st)),
                    Ok(other) => Err(ApiError::internal(format!("a watch began with {other:?}"))),
                    Err(e) => Err(ApiError::internal(e.to_string())),
                },
                Some(Err(e)) => Err(rpc_error(e)),
                None => Err(ApiError::Unavailable {
                    message: "the API server ended the watch before confirming it".into(),
                }),
            }
        };
        let s = tokio::time::timeout(self.opts.call_timeout, opened)
            .await
            .map_err(|_| ApiError::Timeout {
                message: "the API server did not confirm the watch in time".into(),
            })??;
        Ok(WatchStream::new(stream::unfold(
            Some(s),
            move |state: Option<ResponseStream<WatchItem>>| async move {
                let mut s = state?;
                loop {
                    let item = match tokio::time::timeout(idle, s.next()).await {
                        Err(_) => {
                            let e = ApiError::Unavailable {
                                message: format!("nothing from the API server for {idle:?}"),
                            };
                            return Some((Err(e), None));
                        }
                        Ok(None) => return None,
                        Ok(Some(Err(e))) => return Some((Err(rpc_error(e)), None)),
                        Ok(Some(Ok(item))) => item,
                    };
                    let event = match item.deserialize() {
                        Ok(WatchItem::Heartbeat | WatchItem::Created) => continue,
                        Ok(WatchItem::Added(b)) => object(&b).map(WatchEvent::Added),
                        Ok(WatchItem::Modified(b)) => object(&b).map(WatchEvent::Modified),
                        Ok(WatchItem::Deleted(b)) => object(&b).map(WatchEvent::Deleted),
                        Ok(WatchItem::Bookmark(rv)) => Ok(WatchEvent::Bookmark {
                            resource_version: rv,
                        }),
                        Ok(WatchItem::Error(st)) => return Some((Err(error_of(&st)), None)),
                        Err(e) => Err(ApiError::internal(e.to_string())),
                    };
                    let next = if event.is_ok() { Some(s) } else { None };
                    return Some((event, next));
                }
            },
        )))
    }
}

fn unexpected(reply: &ApiReply) -> ApiError {
    ApiError::internal(format!("an unexpected answer: {reply:?}"))
}

fn patch_parts(patch: &Patch) -> (u8, &serde_json::Value) {
    match patch {
        Patch::Json(v) => (0, v),
        Patch::Merge(v) => (1, v),
        Patch::StrategicMerge(v) => (2, v),
        Patch::Apply(v) => (3, v),
    }
}

impl ApiClient for RemoteApiClient {
    fn get<'a>(
        &'a self,
        resource: &'static ResourceInfo,
        namespace: &'a str,
        name: &'a str,
        opts: GetOptions,
    ) -> BoxFuture<'a, ApiResult<Object>> {
        self.call_object(ApiRequest::Get {
            target: target(resource, namespace, name),
            resource_version: opts.resource_version,
        })
        .boxed()
    }

    fn list<'a>(
        &'a self,
        resource: &'static ResourceInfo,
        namespace: &'a str,
        opts: ListOptions,
    ) -> BoxFuture<'a, ApiResult<ObjectList>> {
        self.call_list(ApiRequest::List {
            target: target(resource, namespace, ""),
            opts: wire_list(&opts),
        })
        .boxed()
    }

    fn watch<'a>(
        &'a self,
        resource: &'static ResourceInfo,
        namespace: &'a str,
        opts: WatchOptions,
    ) -> BoxFuture<'a, ApiResult<WatchStream>> {
        self.open_watch(WatchRequest {
            target: target(resource, namespace, ""),
            label_selector: opts.label_selector,
            field_selector: opts.field_selector,
            resource_version: opts.resource_version,
            allow_bookmarks: opts.allow_bookmarks,
        })
        .boxed()
    }

    fn create<'a>(
        &'a self,
        object: Object,
        opts: WriteOptions,
    ) -> BoxFuture<'a, ApiResult<Object>> {
        self.write(VERB_CREATE, object, opts).boxed()
    }

    fn update<'a>(
        &'a self,
        object: Object,
        opts: WriteOptions,
    ) -> BoxFuture<'a, ApiResult<Object>> {
        self.write(VERB_UPDATE, object, opts).boxed()
    }

    fn update_status<'a>(
        &'a self,
        object: Object,
        opts: WriteOptions,
    ) -> BoxFuture<'a, ApiResult<Object>> {
        self.write(VERB_UPDATE_STATUS, object, opts).boxed()
    }

    fn patch<'a>(
        &'a self,
        resource: &'static ResourceInfo,
        namespace: &'a str,
        name: &'a str,
        patch: Patch,
        opts: PatchOptions,
    ) -> BoxFuture<'a, ApiResult<Object>> {
        async move {
            let (patch_type, body) = patch_parts(&patch);
            let req = ApiRequest::Patch {
                target: target(resource, namespace, name),
                patch_type,
                body: json(body)?,
                dry_run: opts.dry_run,
                status: opts.subresource == Subresource::Status,
                field_manager: opts.field_manager,
                force: opts.force,
            };
            self.call_object(req).await
        }
        .boxed()
    }

    fn delete<'a>(
        &'a self,
        resource: &'static ResourceInfo,
        namespace: &'a str,
        name: &'a str,
        opts: DeleteOptions,
    ) -> BoxFuture<'a, ApiResult<DeleteOutcome>> {
        async move {
            let req = ApiRequest::Delete {
                target: target(resource, namespace, name),
                opts: wire_delete(&opts),
            };
            match self.call(req).await? {
                ApiReply::Deleted(b) => Ok(DeleteOutcome::Deleted(object(&b)?)),
                ApiReply::Pending(b) => Ok(DeleteOutcome::Pending(object(&b)?)),
                other => Err(unexpected(&other)),
            }
        }
        .boxed()
    }

    fn delete_collection<'a>(
        &'a self,
        resource: &'static ResourceInfo,
        namespace: &'a str,
        list_opts: ListOptions,
        opts: DeleteOptions,
    ) -> BoxFuture<'a, ApiResult<ObjectList>> {
        self.call_list(ApiRequest::DeleteCollection {
            target: target(resource, namespace, ""),
            list: wire_list(&list_opts),
            opts: wire_delete(&opts),
        })
        .boxed()
    }

    fn get_scale<'a>(
        &'a self,
        resource: &'static ResourceInfo,
        namespace: &'a str,
        name: &'a str,
    ) -> BoxFuture<'a, ApiResult<Scale>> {
        self.call_scale(ApiRequest::GetScale {
            target: target(resource, namespace, name),
        })
        .boxed()
    }

    fn update_scale<'a>(
        &'a self,
        resource: &'static ResourceInfo,
        namespace: &'a str,
        name: &'a str,
        scale: Scale,
        opts: WriteOptions,
    ) -> BoxFuture<'a, ApiResult<Scale>> {
        async move {
            let req = ApiRequest::UpdateScale {
                target: target(resource, namespace, name),
                json: json(&scale)?,
                dry_run: opts.dry_run,
            };
            self.call_scale(req).await
        }
        .boxed()
    }
}
