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
