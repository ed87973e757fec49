//! The ApiClient contract, run against every implementation: the in-process
//! client over the storage layer, and (same bodies) the client over QUIC.

mod api_client_common;

use api_client_common::{suite, *};

/// CRUD, selectors, pages, watch event order, conflicts, finalizers and the
/// error of each misuse, through the in-process client.
#[actix_rt::test]
async fn local_client_serves_crud_watch_and_conflicts() {
    let f = local().await;
    suite::crud_watch_and_conflicts(f.client.as_ref()).await;
}

/// 20 concurrent writers with retry-on-conflict: every update exactly once.
#[actix_rt::test]
async fn local_client_applies_each_of_twenty_concurrent_writers_updates_once() {
    let f = local().await;
    suite::concurrent_writers(f.client.clone(), 20, 5).await;
}

/// Compacted history is 410 Expired; a future revision 504; bookmarks flow.
#[actix_rt::test]
async fn local_client_reports_compacted_history_as_expired() {
    let f = local().await;
    suite::compacted_history_is_expired(f.client.as_ref(), &f.kv).await;
}

/// The same CRUD, watch and conflict sequence through the client over QUIC.
#[actix_rt::test]
async fn remote_client_serves_crud_watch_and_conflicts() {
    let f = remote().await;
    suite::crud_watch_and_conflicts(f.client.as_ref()).await;
}

/// 20 concurrent writers over QUIC: every update exactly once.
#[actix_rt::test]
async fn remote_client_applies_each_of_twenty_concurrent_writers_updates_once() {
    let f = remote().await;
    suite::concurrent_writers(f.client.clone(), 20, 5).await;
}

/// Expired, too-large and bookmarks over QUIC, as in process.
#[actix_rt::test]
async fn remote_client_reports_compacted_history_as_expired() {
    let f = remote().await;
    suite::compacted_history_is_expired(f.client.as_ref(), &f.kv).await;
}

#[path = "api_support/mod.rs"]
mod api_support;

/// Every corpus manifest, decoded, stored through the storage path and read
/// back, serializes to the same JSON as the input, except the fields the
/// server sets (uid, creationTimestamp, resourceVersion, generation, and the
/// status a create starts from for kinds with a status subresource).
#[actix_rt::test]
async fn every_corpus_manifest_is_stored_and_read_back_unchanged() {
    use hive_actors::api::Format;
    use hive_actors::apiserver::storage::resets_status_on_create;
    use hive_actors::apiserver::GetOptions;

    let f = local().await;
    let c = f.client.as_ref();
    let mut manifests: Vec<_> = api_support::corpus_files()
        .iter()
        .map(|p| {
            let m = api_support::load(p);
            let mut o = api_support::decode_strict(&m.bytes, Format::Yaml)
                .unwrap_or_else(|e| panic!("{}: {e}", m.path.display()));
            api_support::prepare(&mut o);
            (m.path, o)
        })
        .collect();
    // Namespaces first, so that every namespaced object has its namespace.
    manifests.sort_by_key(|(_, o)| o.info().kind != "Namespace");
    let strip = |o: &hive_actors::api::Object| {
        let mut v = o.to_json_value().expect("json");
        if let Some(m) = v["metadata"].as_object_mut() {
            for k in ["uid", "creationTimestamp", "resourceVersion", "generation"] {
                m.remove(k);
            }
        }
        if resets_status_on_create(o.info()) {
            if let Some(m) = v.as_object_mut() {
                m.remove("status");
            }
        }
        v
    };
    let mut failures = Vec::new();
    let mut namespaces_ready = false;
    for (path, object) in &manifests {
        let info = object.info();
        if info.kind != "Namespace" && !namespaces_ready {
            // The namespaces the other manifests use and no manifest creates.
            for ns in [
                "default",
                "shop",
                "monitoring",
                "kube-system",
                "kube-node-lease",
            ] {
                ensure_namespace(c, ns).await;
            }
            namespaces_ready = true;
        }
        let meta = object.metadata().clone();
        match c.create(object.clone(), Default::default()).await {
            Ok(_) => {}
            Err(e) => {
                failures.push(format!("{}: create: {e}", path.display()));
                continue;
            }
        }
        let back = c
            .get(info, &meta.namespace, &meta.name, GetOptions::default())
            .await
            .unwrap_or_else(|e| panic!("{}: get: {e}", path.display()));
        assert!(!back.metadata().uid.is_empty());
        let diff = api_support::json_diff(&strip(object), &strip(&back));
        if !diff.is_empty() {
            failures.push(format!("{}: {diff:?}", path.display()));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
