//! Test bodies written once against `dyn ApiClient`, run by every client.

use std::collections::BTreeSet;
use std::sync::Arc;

use hive_actors::api::object::{CONFIG_MAP, DEPLOYMENT, NAMESPACE};
use hive_actors::api::Object;
use hive_actors::apiserver::{
    retry_on_conflict, ApiClient, ApiError, DeleteOptions, DeleteOutcome, GetOptions, ListOptions,
    Patch, PatchOptions, WatchEvent, WatchOptions,
};
use hive_raftstore::Revision;

use super::*;

/// Create, read, list with selectors and pages, watch (ADDED, MODIFIED,
/// DELETED in order, with resourceVersions), stale update, patch, finalizers
/// and delete, and the errors Kubernetes gives for each misuse.
pub async fn crud_watch_and_conflicts(c: &dyn ApiClient) {
    // A namespaced object needs its namespace.
    let e = c
        .create(config_map("shop", "a", &[], &[]), Default::default())
        .await
        .expect_err("no namespace yet");
    assert_eq!(e, ApiError::not_found(&NAMESPACE, "shop"));
    let ns = c
        .create(namespace("shop"), Default::default())
        .await
        .expect("namespace");
    assert!(!ns.metadata().uid.is_empty());

    let mut w = c
        .watch(&CONFIG_MAP, "shop", WatchOptions::default())
        .await
        .expect("watch");

    let a = c
        .create(
            config_map("shop", "a", &[("k", "1")], &[("app", "web")]),
            Default::default(),
        )
        .await
        .expect("create a");
    let m = a.metadata();
    assert!(!m.uid.is_empty() && m.creation_timestamp.is_some());
    assert_eq!(m.generation, Some(1));
    let rv_a: u64 = m.resource_version.parse().expect("numeric resourceVersion");
    let e = c
        .create(config_map("shop", "a", &[], &[]), Default::default())
        .await
        .expect_err("taken");
    assert_eq!(e, ApiError::already_exists(&CONFIG_MAP, "a"));
    assert_eq!(e.code(), 409);

    let mut gen = config_map("shop", "", &[], &[("app", "db")]);
    gen.metadata_mut().generate_name = "gen-".into();
    let g = c
        .create(gen, Default::default())
        .await
        .expect("generateName");
    let gname = g.metadata().name.clone();
    assert!(gname.starts_with("gen-") && gname.len() == 9, "{gname}");

    let got = c
        .get(&CONFIG_MAP, "shop", "a", GetOptions::default())
        .await
        .expect("get");
    assert_eq!(got, a);
    let e = c
        .get(&CONFIG_MAP, "shop", "nope", GetOptions::default())
        .await
        .expect_err("absent");
    assert!(e.is_not_found());

    // Update: stale resourceVersion conflicts, current one wins.
    let mut upd = got.clone();
    if let Object::ConfigMap(cm) = &mut upd {
        cm.data.insert("k".into(), "2".into());
    }
    let b = c
        .update(upd.clone(), Default::default())
        .await
        .expect("update");
    assert_eq!(data_of(&b)["k"], "2");
    let rv_b: u64 = b.metadata().resource_version.parse().expect("rv");
    assert!(rv_b > rv_a);
    assert_eq!(b.metadata().generation, Some(2), "data changed");
    let e = c
        .update(upd, Default::default())
        .await
        .expect_err("stale resourceVersion");
    assert!(e.is_conflict(), "{e}");
    assert_eq!(e.code(), 409);

    // A no-op update writes nothing.
    let same = c
        .update(b.clone(), Default::default())
        .await
        .expect("no-op");
    assert_eq!(
        same.metadata().resource_version,
        b.metadata().resource_version
    );

    let p = c
        .patch(
            &CONFIG_MAP,
            "shop",
            "a",
            Patch::Merge(serde_json::json!({"data": {"k": null, "m": "3"}})),
            PatchOptions::default(),
        )
        .await
        .expect("merge patch");
    assert_eq!(
        data_of(&p).into_iter().collect::<Vec<_>>(),
        vec![("m".to_owned(), "3".to_owned())]
    );

    // Finalizers hold a delete until they are removed.
    let mut fin = p.clone();
    fin.metadata_mut().finalizers = vec!["hive.test/hold".into()];
    let fin = c
        .update(fin, Default::default())
        .await
        .expect("add finalizer");
    let pending = c
        .delete(&CONFIG_MAP, "shop", "a", DeleteOptions::default())
        .await
        .expect("delete");
    let DeleteOutcome::Pending(marked) = pending else {
        panic!("a finalizer must hold the object, got {pending:?}");
    };
    assert!(marked.metadata().deletion_timestamp.is_some());
    assert!(marked.metadata().resource_version != fin.metadata().resource_version);
    let still = c
        .get(&CONFIG_MAP, "shop", "a", GetOptions::default())
        .await
        .expect("still there");
    let mut release = still.clone();
    release.metadata_mut().finalizers.clear();
    c.update(release, Default::default())
        .await
        .expect("remove the last finalizer");
    let e = c
        .get(&CONFIG_MAP, "shop", "a", GetOptions::default())
        .await
        .expect_err("gone with its last finalizer");
    assert!(e.is_not_found());

    // The watch saw every change of every object, in order.
    let mut seen = Vec::new();
    while seen.len() < 7 {
        let e = next_change(&mut w).await.expect("watch event");
        seen.push(describe(&e));
    }
    let kinds: Vec<(&str, &str)> = seen
        .iter()
        .map(|(t, n, _)| (*t, if n == &gname { "gen" } else { n.as_str() }))
        .collect();
    assert_eq!(
        kinds,
        vec![
            ("ADDED", "a"),
            ("ADDED", "gen"),
            ("MODIFIED", "a"),
            ("MODIFIED", "a"),
            ("MODIFIED", "a"),
            ("MODIFIED", "a"),
            ("DELETED", "a"),
        ]
    );
    assert_eq!(seen[0].2, rv_a.to_string());
    let rvs: Vec<u64> = seen
        .iter()
        .map(|(_, _, rv)| rv.parse().expect("rv"))
        .collect();
    assert!(
        rvs.windows(2).all(|p| p[0] < p[1]),
        "revisions increase: {rvs:?}"
    );
    // The update, the patch, the finalizer and the delete mark were each a
    // MODIFIED; the no-op update was nothing; the last finalizer's removal
    // was the DELETED.

    // Lists: selectors and pages at one revision.
    for i in 0..5 {
        let app = if i % 2 == 0 { "web" } else { "db" };
        c.create(
            config_map("shop", &format!("p{i}"), &[], &[("app", app)]),
            Default::default(),
        )
        .await
        .expect("create");
    }
    let web = c
        .list(
            &CONFIG_MAP,
            "shop",
            ListOptions {
                label_selector: "app=web".into(),
                ..Default::default()
            },
        )
        .await
        .expect("list");
    let names: Vec<_> = web
        .items
        .iter()
        .map(|o| o.metadata().name.clone())
        .collect();
    assert_eq!(names, ["p0", "p2", "p4"]);
    let by_name = c
        .list(
            &CONFIG_MAP,
            "",
            ListOptions {
                field_selector: "metadata.name=p3".into(),
                ..Default::default()
            },
        )
        .await
        .expect("field selector across namespaces");
    assert_eq!(by_name.items.len(), 1);
    // Pages of 2: each says how many follow, and the JSON form of each page is
    // the same page.
    let mut pages = Vec::new();
    let mut remaining = Vec::new();
    let mut opts = ListOptions {
        limit: 2,
        ..Default::default()
    };
    loop {
        let page = c
            .list(&CONFIG_MAP, "shop", opts.clone())
            .await
            .expect("page");
        let json = c
            .list_json(&CONFIG_MAP, "shop", opts.clone())
            .await
            .expect("page as JSON");
        assert_eq!(
            (
                &json.resource_version,
                &json.continue_,
                json.remaining_item_count
            ),
            (
                &page.resource_version,
                &page.continue_,
                page.remaining_item_count
            )
        );
        let as_json = |o: &Object| {
            let mut o = o.clone();
            o.set_type_meta();
            o.to_json_value().expect("json")
        };
        let parsed: Vec<serde_json::Value> = json
            .items
            .iter()
            .map(|b| serde_json::from_slice(b).expect("valid JSON"))
            .collect();
        assert_eq!(parsed, page.items.iter().map(as_json).collect::<Vec<_>>());
        pages.push(
            page.items
                .iter()
                .map(|o| o.metadata().name.clone())
                .collect::<Vec<_>>(),
        );
        remaining.push(page.remaining_item_count);
        if page.continue_.is_empty() {
            break;
        }
        opts.continue_ = page.continue_;
    }
    let all: Vec<String> = pages.concat();
    assert_eq!(pages.len(), 3, "{pages:?}");
    assert_eq!(remaining, [Some(4), Some(2), None]);
    assert_eq!(all.len(), 6, "p0..p4 and the generated one: {all:?}");
    let e = c
        .list(
            &CONFIG_MAP,
            "shop",
            ListOptions {
                field_selector: "spec.nodeName=x".into(),
                ..Default::default()
            },
        )
        .await
        .expect_err("ConfigMaps have no spec.nodeName");
    assert_eq!(e.code(), 400);

    // deletecollection with a selector.
    let gone = c
        .delete_collection(
            &CONFIG_MAP,
            "shop",
            ListOptions {
                label_selector: "app=db".into(),
                ..Default::default()
            },
            DeleteOptions::default(),
        )
        .await
        .expect("deletecollection");
    let gone: BTreeSet<String> = gone
        .items
        .iter()
        .map(|o| o.metadata().name.clone())
        .collect();
    assert_eq!(
        gone,
        [gname.clone(), "p1".into(), "p3".into()]
            .into_iter()
            .collect()
    );

    // Invalid objects list every cause with its path.
    let e = c
        .create(
            config_map("shop", "Bad_Name", &[("bad key!", "v")], &[]),
            Default::default(),
        )
        .await
        .expect_err("invalid");
    let ApiError::Invalid { causes, .. } = &e else {
        panic!("expected Invalid, got {e:?}");
    };
    let fields: Vec<&str> = causes.iter().map(|c| c.field.as_str()).collect();
    assert!(fields.contains(&"metadata.name"), "{fields:?}");
    assert!(fields.iter().any(|f| f.starts_with("data")), "{fields:?}");
    assert_eq!(e.code(), 422);

    // Scale is only for kinds that have it.
    let e = c
        .get_scale(&CONFIG_MAP, "shop", "p0")
        .await
        .expect_err("no scale");
    assert_eq!(e.code(), 405);
    let e = c
        .get_scale(&DEPLOYMENT, "shop", "nope")
        .await
        .expect_err("absent");
    assert!(e.is_not_found());
}

/// `writers` tasks each append their id `per_writer` times to one object's
/// annotation through get + update with retry-on-conflict; every append is
/// applied exactly once.
pub async fn concurrent_writers(c: Arc<dyn ApiClient>, writers: usize, per_writer: usize) {
    ensure_namespace(c.as_ref(), "race").await;
    c.create(config_map("race", "counter", &[], &[]), Default::default())
        .await
        .expect("create");
    let mut tasks = Vec::new();
    for w in 0..writers {
        let c = c.clone();
        tasks.push(tokio::spawn(async move {
            for i in 0..per_writer {
                let entry = format!("{w}.{i}");
                retry_on_conflict(1000, || async {
                    let mut o = c
                        .get(&CONFIG_MAP, "race", "counter", GetOptions::default())
                        .await?;
                    let log = o
                        .metadata_mut()
                        .annotations
                        .entry("log".into())
                        .or_default();
                    if !log.is_empty() {
                        log.push(',');
                    }
                    log.push_str(&entry);
                    c.update(o, Default::default()).await
                })
                .await
                .expect("update applied within the retries");
            }
        }));
    }
    for t in tasks {
        t.await.expect("writer");
    }
    let o = c
        .get(&CONFIG_MAP, "race", "counter", GetOptions::default())
        .await
        .expect("get");
    let log = o
        .metadata()
        .annotations
        .get("log")
        .cloned()
        .unwrap_or_default();
    let entries: Vec<&str> = log.split(',').collect();
    let unique: BTreeSet<&str> = entries.iter().copied().collect();
    assert_eq!(
        entries.len(),
        writers * per_writer,
        "every update once: {log}"
    );
    assert_eq!(unique.len(), writers * per_writer, "no update twice: {log}");
    // Each writer's entries are in its own order.
    for w in 0..writers {
        let mine: Vec<&str> = entries
            .iter()
            .copied()
            .filter(|e| e.split('.').next() == Some(&w.to_string()))
            .collect();
        let expected: Vec<String> = (0..per_writer).map(|i| format!("{w}.{i}")).collect();
        assert_eq!(mine, expected);
    }
}

/// A watch from a compacted resourceVersion fails with 410 Expired, and a
/// list at one too; a resourceVersion in the future is 504 Too large.
pub async fn compacted_history_is_expired(c: &dyn ApiClient, kv: &hive_actors::apiserver::Kv) {
    ensure_namespace(c, "old").await;
    let first = c
        .create(
            config_map("old", "x", &[("v", "1")], &[]),
            Default::default(),
        )
        .await
        .expect("create");
    let rv1: u64 = first.metadata().resource_version.parse().expect("rv");
    let mut o = first.clone();
    for v in 2..5 {
        if let Object::ConfigMap(cm) = &mut o {
            cm.data.insert("v".into(), v.to_string());
        }
        o = c.update(o, Default::default()).await.expect("update");
    }
    let now: u64 = o.metadata().resource_version.parse().expect("rv");
    kv.compact(Revision(now)).await.expect("compact");
    let e = c
        .watch(
            &CONFIG_MAP,
            "old",
            WatchOptions {
                resource_version: rv1.to_string(),
                ..Default::default()
            },
        )
        .await
        .map(|_| ())
        .expect_err("compacted");
    assert_eq!((e.code(), e.reason()), (410, "Expired"), "{e}");
    let e = c
        .list(
            &CONFIG_MAP,
            "old",
            ListOptions {
                resource_version: rv1.to_string(),
                ..Default::default()
            },
        )
        .await
        .expect_err("compacted");
    assert_eq!(e.code(), 410);
    let e = c
        .list(
            &CONFIG_MAP,
            "old",
            ListOptions {
                resource_version: (now + 1000).to_string(),
                ..Default::default()
            },
        )
        .await
        .expect_err("future");
    assert_eq!(e.code(), 504, "{e}");
    // From the current revision on, the watch works and sees the next change.
    let mut w = c
        .watch(
            &CONFIG_MAP,
            "old",
            WatchOptions {
                resource_version: now.to_string(),
                allow_bookmarks: true,
                ..Default::default()
            },
        )
        .await
        .expect("watch from now");
    if let Object::ConfigMap(cm) = &mut o {
        cm.data.insert("v".into(), "after".into());
    }
    c.update(o, Default::default()).await.expect("update");
    let e = next_change(&mut w).await.expect("event");
    assert_eq!(describe(&e).0, "MODIFIED");
    match e {
        WatchEvent::Modified(o) => assert_eq!(data_of(&o)["v"], "after"),
        other => panic!("{other:?}"),
    }
    // Bookmarks arrive on a quiet watch.
    loop {
        if let WatchEvent::Bookmark { resource_version } = next_event(&mut w).await.expect("ok") {
            assert!(resource_version.parse::<u64>().expect("rv") > now);
            break;
        }
    }
}
