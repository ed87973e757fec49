//! Shared set-up of the ApiClient tests: a one-member store, the clients
//! over it (in process, and over QUIC through an `ApiQuicServer`), and the
//! test bodies every client runs.

#![allow(dead_code)]

pub mod suite;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use hive_actors::api::{core, Object, ObjectMeta};
use hive_actors::apiserver::{
    ApiClient, ApiError, ApiResult, Kv, LocalApiClient, Storage, WatchEvent, WatchStream,
};
use hive_raftstore::cluster::{ClusterOptions, LocalCluster};

/// Raft timings short enough for tests, long enough for a loaded machine.
pub fn cluster_opts() -> ClusterOptions {
    let mut o = ClusterOptions::default();
    o.raft.heartbeat_interval = 50;
    o.raft.election_timeout_min = 300;
    o.raft.election_timeout_max = 600;
    o.tick = Duration::from_millis(20);
    o.progress_interval = Duration::from_millis(200);
    o
}

/// How long a test waits for something that should happen at once.
pub const WAIT: Duration = Duration::from_secs(15);

/// A running store and an API client over it.
pub struct Fixture {
    /// The client under test.
    pub client: Arc<dyn ApiClient>,
    /// The store client the API storage writes to (to compact, etc.).
    pub kv: Kv,
    /// Kept alive for the test (dropped after the client).
    pub cluster: LocalCluster,
    /// Anything else the fixture must keep alive (endpoints, servers).
    pub keep: Vec<Box<dyn std::any::Any>>,
    _dir: tempfile::TempDir,
}

/// A one-member store in a fresh directory.
pub async fn store() -> (tempfile::TempDir, LocalCluster) {
    let dir = tempfile::tempdir().expect("tempdir");
    let c = LocalCluster::start(dir.path(), 1, cluster_opts())
        .await
        .expect("cluster starts");
    (dir, c)
}

/// The in-process client over a one-member store.
pub async fn local() -> Fixture {
    let (dir, cluster) = store().await;
    let kv = Kv::from(cluster.store());
    let client = Arc::new(LocalApiClient::new(Storage::new(kv.clone())));
    Fixture {
        client,
        kv,
        cluster,
        keep: Vec::new(),
        _dir: dir,
    }
}

/// The client over QUIC: an `ApiQuicServer` on its own endpoint over the
/// same kind of store, and a client endpoint with a certificate from the
/// same cluster CA, both on loopback.
pub async fn remote() -> Fixture {
    use hive_actors::apiserver::{ApiQuicServer, RemoteApiClient, RemoteApiOptions};
    use hive_transport::{ClusterCa, Endpoint, EndpointConfig, MemberName, Role};

    let (dir, cluster) = store().await;
    let kv = Kv::from(cluster.store());
    let ca = ClusterCa::generate().expect("cluster CA");
    let server_name = MemberName::new("apiserver").expect("name");
    let server_id = ca
        .issue(&server_name, Role::Member)
        .expect("server identity");
    let client_id = ca
        .issue(&MemberName::new("controller").expect("name"), Role::Member)
        .expect("client identity");
    let loopback = EndpointConfig {
        listen: std::net::SocketAddr::from(([127, 0, 0, 1], 0)),
        ..EndpointConfig::default()
    };
    let server = ApiQuicServer::new(Storage::new(kv.clone()), Duration::from_millis(500));
    let server_ep =
        Endpoint::bind(&server_id, loopback.clone(), server.router()).expect("server endpoint");
    let addr = server_ep.local_addr().expect("server address");
    let client = RemoteApiClient::connect(
        &client_id,
        loopback,
        server_name,
        addr,
        RemoteApiOptions::default(),
    )
    .expect("client endpoint");
    Fixture {
        client: Arc::new(client),
        kv,
        cluster,
        keep: vec![Box::new(server_ep)],
        _dir: dir,
    }
}

/// A namespace object.
pub fn namespace(name: &str) -> Object {
    let mut ns = core::Namespace::default();
    ns.metadata.name = name.to_owned();
    Object::from(ns)
}

/// A ConfigMap with `data` and `labels`.
pub fn config_map(ns: &str, name: &str, data: &[(&str, &str)], labels: &[(&str, &str)]) -> Object {
    let mut cm = core::ConfigMap {
        metadata: ObjectMeta {
            name: name.to_owned(),
            namespace: ns.to_owned(),
            labels: labels
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
            ..ObjectMeta::default()
        },
        ..core::ConfigMap::default()
    };
    cm.data = data
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect::<BTreeMap<_, _>>();
    Object::from(cm)
}

/// The data of a ConfigMap object.
pub fn data_of(o: &Object) -> BTreeMap<String, String> {
    match o {
        Object::ConfigMap(cm) => cm.data.clone(),
        other => panic!("expected a ConfigMap, got {other:?}"),
    }
}

/// The next watch event, waiting at most [`WAIT`].
pub async fn next_event(w: &mut WatchStream) -> ApiResult<WatchEvent> {
    match tokio::time::timeout(WAIT, w.next()).await {
        Ok(Some(e)) => e,
        Ok(None) => panic!("the watch ended"),
        Err(_) => panic!("no watch event within {WAIT:?}"),
    }
}

/// The next event that is not a bookmark.
pub async fn next_change(w: &mut WatchStream) -> ApiResult<WatchEvent> {
    loop {
        match next_event(w).await? {
            WatchEvent::Bookmark { .. } => continue,
            e => return Ok(e),
        }
    }
}

/// `(type, name, resourceVersion)` of a watch event.
pub fn describe(e: &WatchEvent) -> (&'static str, String, String) {
    let (t, o) = match e {
        WatchEvent::Added(o) => ("ADDED", o),
        WatchEvent::Modified(o) => ("MODIFIED", o),
        WatchEvent::Deleted(o) => ("DELETED", o),
        WatchEvent::Bookmark { resource_version } => {
            return ("BOOKMARK", String::new(), resource_version.clone())
        }
    };
    (
        t,
        o.metadata().name.clone(),
        o.metadata().resource_version.clone(),
    )
}

/// Creates a namespace, tolerating that it exists.
pub async fn ensure_namespace(c: &dyn ApiClient, name: &str) {
    match c.create(namespace(name), Default::default()).await {
        Ok(_) | Err(ApiError::AlreadyExists { .. }) => {}
        Err(e) => panic!("creating namespace {name}: {e}"),
    }
}
