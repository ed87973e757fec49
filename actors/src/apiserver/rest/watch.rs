//! Watches over HTTP: `?watch=1` answered as a chunked stream of JSON watch events,
//! one per line (`{"type":"ADDED","object":{...}}`), as Kubernetes streams them.
//!
//! The stream ends when the client goes away, when `timeoutSeconds` (default 30
//! minutes) has passed, or after an `ERROR` event carrying the `Status` that ended
//! the watch (410 Expired when the client must relist). With a Table `Accept`
//! header each event's object is a one-row Table; only the first carries the
//! column definitions, as Kubernetes sends them.

use std::time::Duration;

use actix_web::{HttpRequest, HttpResponse};
use bytes::Bytes;
use futures::StreamExt;
use serde_json::{json, Value};

use super::handlers::{now, Query};
use super::path::Target;
use super::status::RestError;
use super::table::{self, IncludeObject};
use super::RestState;
use crate::api::object::ResourceInfo;
use crate::apiserver::{ApiResult, WatchEvent, WatchOptions};

/// The longest a watch runs when the client names no `timeoutSeconds`.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(1800);

/// How events are encoded for one watcher.
#[derive(Debug, Clone, Copy)]
pub struct Encoding {
    /// One-row Tables instead of objects.
    pub table: bool,
    /// What Table rows carry.
    pub include: IncludeObject,
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
            let object = json!({
                "kind": info.kind,
                "apiVersion": info.api_version(),
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

/// Serves `GET ...?watch=1` on `target`'s collection (or one object, with
/// `fieldSelector=metadata.name=<name>` as clients send it).
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
    };
    let opts = WatchOptions {
        label_selector: query.str("labelSelector"),
        field_selector: query.str("fieldSelector"),
        resource_version: query.str("resourceVersion"),
        allow_bookmarks: query.flag("allowWatchBookmarks"),
    };
    let info = target.info;
    let events = state
        .client
        .watch(info, target.namespace.as_deref().unwrap_or(""), opts)
        .await?;
    tracing::debug!(resource = info.plural, ?timeout, "REST watch started");
    // Encode each event; stop after the first error event.
    let body = events
        .enumerate()
        .scan(false, move |ended, (i, event)| {
            if *ended {
                return futures::future::ready(None);
            }
            *ended = event.is_err();
            let bytes = encode_event(info, &event, encoding, i == 0);
            futures::future::ready(Some(Ok::<Bytes, actix_web::Error>(bytes)))
        })
        .take_until(tokio::time::sleep(timeout));
    Ok(HttpResponse::Ok()
        .content_type("application/json")
        .streaming(body))
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
