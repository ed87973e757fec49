//! Watches over HTTP: `?watch=1` answered as a chunked stream of JSON watch events,
//! one per line (`{"type":"ADDED","object":{...}}`), as Kubernetes streams them.
//!
//! Watchers are fed by their resource's shared hub ([`super::fanout`]): one store
//! watch per resource type, each event encoded once. Only a resume from a revision
//! older than the hub's ring gets a store watch of its own.
//!
//! The stream ends when the client goes away, when `timeoutSeconds` (default 30
//! minutes) has passed, or after an `ERROR` event carrying the `Status` that ended
//! the watch (410 Expired when the client must relist). With a Table `Accept`
//! header each event's object is a one-row Table; only the first carries the
//! column definitions, as Kubernetes sends them.

use std::collections::VecDeque;
use std::time::Duration;

use actix_web::{HttpRequest, HttpResponse};
use bytes::Bytes;
use futures::StreamExt;
use serde_json::{json, Value};

use super::fanout::{Cursor, Filter, Format, JoinError, Next, SharedEvent};
use super::handlers::{now, Query};
use super::path::Target;
use super::status::RestError;
use super::table::{self, IncludeObject};
use super::RestState;
use crate::api::convert;
use crate::api::object::ResourceInfo;
use crate::apiserver::envelope::Selection;
use crate::apiserver::{ApiError, ApiResult, ListOptions, WatchEvent, WatchOptions};

/// The longest a watch runs when the client names no `timeoutSeconds`.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(1800);

/// How events are encoded for one watcher.
#[derive(Debug, Clone, Copy)]
pub struct Encoding {
    /// One-row Tables instead of objects.
    pub table: bool,
    /// What Table rows carry.
    pub include: IncludeObject,
    /// The version objects are shown at when the URL names one other than the
    /// stored one ([`crate::api::convert`]); `None`: as stored.
    pub served: Option<&'static ResourceInfo>,
}

/// Encodes one watch event as a line of JSON; `first` says whether it is the
/// stream's first (Tables carry their columns only there).
pub fn encode_event(
    info: &ResourceInfo,
    event: &ApiResult<WatchEvent>,
    encoding: Encoding,
    first: bool,
) -> Bytes {
    let (ty, object) = match event {
        Ok(WatchEvent::Added(o)) => ("ADDED", o),
        Ok(WatchEvent::Modified(o)) => ("MODIFIED", o),
        Ok(WatchEvent::Deleted(o)) => ("DELETED", o),
        Ok(WatchEvent::Bookmark { resource_version }) => {
            let shown = encoding.served.unwrap_or(info);
            let object = json!({
                "kind": shown.kind,
                "apiVersion": shown.api_version(),
                "metadata": {"resourceVersion": resource_version},
            });
            return line("BOOKMARK", &object);
        }
        Err(e) => return error_line(e.to_status()),
    };
    let mut object = object.clone();
    object.set_type_meta();
    let mut value = match object.to_json_value() {
        Ok(v) => v,
        Err(e) => {
            return error_line(RestError::internal(format!("encoding a watch event: {e}")).status)
        }
    };
    if encoding.table {
        let rv = value
            .pointer("/metadata/resourceVersion")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_owned();
        let mut t = table::table(
            info,
            std::slice::from_ref(&value),
            now(),
            encoding.include,
            &rv,
            "",
        );
        if !first {
            t["columnDefinitions"] = json!([]);
        }
        value = t;
    } else if let Some(served) = encoding.served {
        value = convert::to_served(served, value);
    }
    line(ty, &value)
}

fn error_line(status: impl serde::Serialize) -> Bytes {
    line(
        "ERROR",
        &serde_json::to_value(status).unwrap_or_else(|_| json!({})),
    )
}

fn line(ty: &str, object: &Value) -> Bytes {
    let mut text = json!({"type": ty, "object": object}).to_string();
    text.push('\n');
    Bytes::from(text)
}

/// A BOOKMARK at `rv` showing `served`'s kind and version.
fn bookmark_as(served: &ResourceInfo, rv: u64) -> Bytes {
    let object = json!({
        "kind": served.kind,
        "apiVersion": served.api_version(),
        "metadata": {"resourceVersion": rv.to_string()},
    });
    line("BOOKMARK", &object)
}

/// The annotation Kubernetes puts on the bookmark that ends a watch's initial events.
pub const INITIAL_EVENTS_END: &str = "k8s.io/initial-events-end";

/// The BOOKMARK that ends the initial events (`sendInitialEvents=true`) at `rv`.
pub fn initial_events_end(info: &ResourceInfo, rv: &str) -> Bytes {
    line(
        "BOOKMARK",
        &json!({
            "kind": info.kind,
            "apiVersion": info.api_version(),
            "metadata": {
                "resourceVersion": rv,
                "annotations": {INITIAL_EVENTS_END: "true"},
            },
        }),
    )
}

/// `sendInitialEvents`, checked against `resourceVersionMatch` and
/// `allowWatchBookmarks` with Kubernetes' validation messages.
fn send_initial_events(query: &Query) -> Result<Option<bool>, RestError> {
    let send = match query.get("sendInitialEvents") {
        None | Some("") => None,
        Some("true" | "1" | "True") => Some(true),
        Some("false" | "0" | "False") => Some(false),
        Some(other) => {
            return Err(RestError::bad_request(format!(
                "sendInitialEvents: Invalid value: {other:?}: must be true or false"
            )))
        }
    };
    let rv_match = query.get("resourceVersionMatch").unwrap_or("");
    match (send, rv_match) {
        (Some(_), "NotOlderThan") | (None, "") => {}
        (Some(_), _) => {
            return Err(RestError::bad_request(
                "resourceVersionMatch: Forbidden: sendInitialEvents requires setting resourceVersionMatch to NotOlderThan",
            ))
        }
        (None, _) => {
            return Err(RestError::bad_request(
                "resourceVersionMatch: Forbidden: resourceVersionMatch is forbidden for watch unless sendInitialEvents is provided",
            ))
        }
    }
    if send == Some(true) && !query.flag("allowWatchBookmarks") {
        return Err(RestError::bad_request(
            "allowWatchBookmarks: Forbidden: sendInitialEvents requires setting allowWatchBookmarks to true",
        ));
    }
    Ok(send)
}

/// A watcher fed by its resource's [`Hub`]: first its own initial lines, then the
/// hub's shared lines it selects.
struct Live {
    info: &'static ResourceInfo,
    /// The alternate version shown, if any (its bookmarks are this watcher's own).
    served: Option<&'static ResourceInfo>,
    cursor: Cursor,
    filter: Filter,
    format: Format,
    /// Whether the next object line is the stream's first (Tables' columns).
    first: bool,
    pending: VecDeque<Bytes>,
}

impl Live {
    async fn next_line(&mut self) -> Option<Bytes> {
        loop {
            if let Some(b) = self.pending.pop_front() {
                return Some(b);
            }
            match self.cursor.next().await {
                Next::Overflow => {
                    tracing::info!(
                        resource = self.info.plural,
                        "a REST watcher fell too far behind and is closed; its client resumes from the last resourceVersion it saw"
                    );
                    return None;
                }
                Next::Closed => return None,
                Next::Events(batch) => {
                    for e in batch {
                        if e.rv <= self.filter.after {
                            continue;
                        }
                        match &e.event {
                            SharedEvent::Bookmark(b) => {
                                if !self.filter.bookmarks {
                                    continue;
                                }
                                let bytes = match self.served {
                                    None => b.clone(),
                                    Some(served) => bookmark_as(served, e.rv),
                                };
                                self.pending.push_back(bytes);
                            }
                            SharedEvent::Object(o) => {
                                let Some(ty) = self.filter.decide(o) else {
                                    continue;
                                };
                                let bytes = match self.format {
                                    Format::Table(include) if self.first => {
                                        o.first_table_line(self.info, include, ty)
                                    }
                                    format => o.line(self.info, format, ty),
                                };
                                self.first = false;
                                self.pending.push_back(bytes);
                            }
                        }
                    }
                }
            }
        }
    }
}

/// Joins `info`'s hub after `after` (`None`: from now); `None` when the hub no
/// longer holds that revision.
async fn join(
    state: &RestState,
    info: &'static ResourceInfo,
    after: Option<u64>,
) -> Result<Option<Cursor>, RestError> {
    let mut attempts = 0;
    loop {
        attempts += 1;
        let hub = state.fanout.hub(info).await?;
        match hub.join(after) {
            Ok(c) => return Ok(Some(c)),
            Err(JoinError::TooOld) => return Ok(None),
            Err(JoinError::Closed) if attempts < 3 => continue,
            Err(JoinError::Closed) => {
                return Err(ApiError::Unavailable {
                    message: format!("the watch of {} keeps stopping; retry", info.plural),
                }
                .into())
            }
        }
    }
}

fn chunked(body: impl futures::Stream<Item = Bytes> + 'static, timeout: Duration) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/json")
        .streaming(
            body.map(Ok::<Bytes, actix_web::Error>)
                .take_until(tokio::time::sleep(timeout)),
        )
}

/// Serves `GET ...?watch=1` on `target`'s collection (or one object, with
/// `fieldSelector=metadata.name=<name>` as clients send it).
///
/// `resourceVersion` `""`/`"0"` (or `sendInitialEvents=true`) first sends an ADDED
/// event per object of a fresh list, then, with `sendInitialEvents=true`, a
/// BOOKMARK annotated `k8s.io/initial-events-end: "true"` at the list's revision;
/// then every change after it. A numbered `resourceVersion` sends every change
/// after it; a compacted one gets a 410 Expired ERROR event, as Kubernetes sends it.
pub async fn serve(
    req: &HttpRequest,
    state: &RestState,
    target: &Target,
    query: &Query,
) -> Result<HttpResponse, RestError> {
    let timeout = match query.int("timeoutSeconds")? {
        Some(s) if s > 0 => Duration::from_secs(u64::try_from(s).unwrap_or(1)),
        _ => DEFAULT_TIMEOUT,
    };
    let encoding = Encoding {
        table: table::wants_table(
            req.headers()
                .get("accept")
                .and_then(|v| v.to_str().ok())
                .unwrap_or(""),
        ),
        include: IncludeObject::parse(query.get("includeObject").unwrap_or("")).ok_or_else(
            || RestError::bad_request("includeObject: must be None, Metadata or Object"),
        )?,
        served: target.converts().then_some(target.served),
    };
    let format = match encoding {
        Encoding { table: true, .. } => Format::Table(encoding.include),
        Encoding {
            served: Some(served),
            ..
        } => Format::Served(served),
        _ => Format::Json,
    };
    let send_initial = send_initial_events(query)?;
    let info = target.info();
    let namespace = target.namespace.clone().filter(|_| info.namespaced);
    let ns = namespace.as_deref().unwrap_or("");
    let opts = WatchOptions {
        label_selector: query.str("labelSelector"),
        field_selector: query.str("fieldSelector"),
        resource_version: query.str("resourceVersion"),
        allow_bookmarks: query.flag("allowWatchBookmarks"),
    };
    let selection = Selection::parse(info, &opts.label_selector, &opts.field_selector)?;
    let numbered = match opts.resource_version.as_str() {
        "" | "0" => None,
        rv => Some(rv.parse::<u64>().map_err(|_| {
            RestError::from(ApiError::bad_request(format!(
                "resourceVersion: Invalid value: {rv:?}: must be a number"
            )))
        })?),
    };
    let initial = send_initial.unwrap_or(numbered.is_none());
    let mut filter = Filter {
        namespace: namespace.clone(),
        selection,
        after: 0,
        bookmarks: opts.allow_bookmarks,
    };
    let mut pending = VecDeque::new();
    let mut first = true;
    let cursor = if initial {
        // Join first, then list: every change after the list's revision is then
        // in the hub's stream, and the filter skips those the list already holds.
        let cursor = join(state, info, None).await?;
        let list = state
            .client
            .list(
                info,
                ns,
                ListOptions {
                    label_selector: opts.label_selector.clone(),
                    field_selector: opts.field_selector.clone(),
                    ..ListOptions::default()
                },
            )
            .await?;
        for o in list.items {
            pending.push_back(encode_event(
                info,
                &Ok(WatchEvent::Added(o)),
                encoding,
                first,
            ));
            first = false;
        }
        if send_initial == Some(true) {
            pending.push_back(initial_events_end(
                encoding.served.unwrap_or(info),
                &list.resource_version,
            ));
        }
        filter.after = list.resource_version.parse().unwrap_or(0);
        cursor
    } else {
        match numbered {
            Some(n) => {
                filter.after = n;
                join(state, info, Some(n)).await?
            }
            None => join(state, info, None).await?,
        }
    };
    let Some(cursor) = cursor else {
        return dedicated(state, info, ns, opts, encoding, timeout).await;
    };
    tracing::debug!(
        resource = info.plural,
        ?timeout,
        after = filter.after,
        "REST watch started"
    );
    let live = Live {
        info,
        served: encoding.served,
        cursor,
        filter,
        format,
        first,
        pending,
    };
    let body = futures::stream::unfold(
        live,
        |mut l| async move { l.next_line().await.map(|b| (b, l)) },
    );
    Ok(chunked(body, timeout))
}

/// A watch of its own on the store, for a resume older than the hub's ring: each
/// event is encoded for this watcher alone. A compacted start is answered as
/// Kubernetes answers it: 200 and one ERROR event with the 410 Expired Status.
async fn dedicated(
    state: &RestState,
    info: &'static ResourceInfo,
    ns: &str,
    opts: WatchOptions,
    encoding: Encoding,
    timeout: Duration,
) -> Result<HttpResponse, RestError> {
    tracing::debug!(resource = info.plural, rv = %opts.resource_version, "REST watch older than the hub: own store watch");
    let events = match state.client.watch(info, ns, opts).await {
        Ok(events) => events,
        Err(e @ ApiError::Expired { .. }) => {
            let body = futures::stream::iter([encode_event(info, &Err(e), encoding, true)]);
            return Ok(chunked(body, timeout));
        }
        Err(e) => return Err(e.into()),
    };
    // Encode each event; stop after the first error event.
    let body = events.enumerate().scan(false, move |ended, (i, event)| {
        if *ended {
            return futures::future::ready(None);
        }
        *ended = event.is_err();
        futures::future::ready(Some(encode_event(info, &event, encoding, i == 0)))
    });
    Ok(chunked(body, timeout))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::core::ConfigMap;
    use crate::api::object::{CONFIG_MAP, POD};
    use crate::api::Object;
    use crate::apiserver::ApiError;

    fn decode(bytes: &Bytes) -> Value {
        assert!(bytes.ends_with(b"\n"), "one event per line");
        serde_json::from_slice(bytes).unwrap_or(Value::Null)
    }

    /// Events are Kubernetes watch events: type and object with its kind.
    #[test]
    fn events_are_typed_json_lines() {
        let mut cm = ConfigMap::default();
        cm.metadata.name = "c".into();
        cm.metadata.resource_version = "7".into();
        let plain = Encoding {
            table: false,
            include: IncludeObject::Metadata,
            served: None,
        };
        let e = decode(&encode_event(
            &CONFIG_MAP,
            &Ok(WatchEvent::Modified(Object::from(cm.clone()))),
            plain,
            true,
        ));
        assert_eq!(e["type"], "MODIFIED");
        assert_eq!(e["object"]["kind"], "ConfigMap");
        assert_eq!(e["object"]["metadata"]["name"], "c");
        let b = decode(&encode_event(
            &POD,
            &Ok(WatchEvent::Bookmark {
                resource_version: "9".into(),
            }),
            plain,
            false,
        ));
        assert_eq!(b["type"], "BOOKMARK");
        assert_eq!(b["object"]["kind"], "Pod");
        assert_eq!(b["object"]["metadata"]["resourceVersion"], "9");
        let gone: ApiResult<WatchEvent> = Err(ApiError::Expired {
            message: "too old resource version: 1 (5)".into(),
        });
        let x = decode(&encode_event(&POD, &gone, plain, false));
        assert_eq!(x["type"], "ERROR");
        assert_eq!(x["object"]["code"], 410);
        assert_eq!(x["object"]["reason"], "Expired");
    }

    /// Table watchers get one-row Tables; columns only on the first event.
    #[test]
    fn table_events_carry_columns_once() {
        let mut cm = ConfigMap::default();
        cm.metadata.name = "c".into();
        let table = Encoding {
            table: true,
            include: IncludeObject::Metadata,
            served: None,
        };
        let first = decode(&encode_event(
            &CONFIG_MAP,
            &Ok(WatchEvent::Added(Object::from(cm.clone()))),
            table,
            true,
        ));
        assert_eq!(first["object"]["kind"], "Table");
        assert_eq!(first["object"]["rows"][0]["cells"][0], "c");
        assert_eq!(first["object"]["columnDefinitions"][0]["name"], "Name");
        let later = decode(&encode_event(
            &CONFIG_MAP,
            &Ok(WatchEvent::Deleted(Object::from(cm))),
            table,
            false,
        ));
        assert_eq!(later["type"], "DELETED");
        assert_eq!(later["object"]["columnDefinitions"], json!([]));
        assert_eq!(later["object"]["rows"][0]["cells"][0], "c");
    }
}
