//! The resource verbs: HTTP requests on Kubernetes URLs turned into [`ApiClient`]
//! calls, and their answers into Kubernetes' JSON (objects, lists, Tables, Status).
//!
//! The handler decodes and checks what only HTTP carries (the body's media type and
//! size, query parameters, the URL's namespace and name against the body's) and
//! leaves every storage rule to the client. Strategic merge patches are applied here,
//! as a read, a pure merge ([`super::strategic`]) and a compare-and-swap update,
//! retried when the object changed in between, as Kubernetes does.

use std::time::{SystemTime, UNIX_EPOCH};

use actix_web::http::header::ContentType;
use actix_web::http::Method;
use actix_web::{web, HttpRequest, HttpResponse};
use futures::StreamExt;
use serde_json::{json, Value};

use super::apply;
use super::discovery;
use super::path::{self, Route, Target};
use super::status::RestError;
use super::strategic;
use super::table::{self, IncludeObject};
use super::{RestState, MAX_BODY_BYTES};
use crate::api::decode::decode_value_as;
use crate::api::object::ResourceInfo;
use crate::api::{convert, protobuf};
use crate::api::{Object, Scale, Time};
use crate::apiserver::{
    DeleteOptions, GetOptions, JsonList, ListOptions, Patch, PatchOptions, PropagationPolicy,
    Subresource, WriteOptions,
};

/// How often a strategic merge patch is retried when the object changes under it.
const PATCH_ATTEMPTS: usize = 5;

/// A request's query parameters, in order.
#[derive(Debug, Default, Clone)]
pub struct Query(Vec<(String, String)>);

impl Query {
    /// Parses a query string; undecodable ones are 400.
    pub fn parse(query: &str) -> Result<Query, RestError> {
        web::Query::<Vec<(String, String)>>::from_query(query)
            .map(|q| Query(q.into_inner()))
            .map_err(|e| RestError::bad_request(format!("invalid query string: {e}")))
    }

    /// The first value of `key`.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// The first value of `key`, or `""`.
    pub fn str(&self, key: &str) -> String {
        self.get(key).unwrap_or("").to_owned()
    }

    /// Whether `key` is `true`/`1`.
    pub fn flag(&self, key: &str) -> bool {
        matches!(self.get(key), Some("true" | "1" | "True"))
    }

    /// `key` as an integer, 400 if it is not one.
    pub fn int(&self, key: &str) -> Result<Option<i64>, RestError> {
        self.get(key)
            .filter(|v| !v.is_empty())
            .map(|v| {
                v.parse::<i64>()
                    .map_err(|_| RestError::bad_request(format!("{key}: {v:?} is not an integer")))
            })
            .transpose()
    }

    /// Whether `dryRun=All` was asked for (any other value is 400).
    pub fn dry_run(&self) -> Result<bool, RestError> {
        match self.get("dryRun") {
            None | Some("") => Ok(false),
            Some("All") => Ok(true),
            Some(other) => Err(RestError::bad_request(format!(
                "dryRun: Unsupported value: {other:?}: supported values: \"All\""
            ))),
        }
    }
}

/// Now, at second precision.
pub fn now() -> Time {
    let seconds = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    Time::from_unix(i64::try_from(seconds).unwrap_or(i64::MAX))
}

fn header<'a>(req: &'a HttpRequest, name: &str) -> &'a str {
    req.headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
}

fn json_response(code: u16, value: &Value) -> HttpResponse {
    let status =
        actix_web::http::StatusCode::from_u16(code).unwrap_or(actix_web::http::StatusCode::OK);
    HttpResponse::build(status)
        .insert_header(ContentType::json())
        .body(value.to_string())
}

fn object_json(object: &Object) -> Result<Value, RestError> {
    let mut object = object.clone();
    object.set_type_meta();
    object
        .to_json_value()
        .map_err(|e| RestError::internal(format!("encoding the object: {e}")))
}

/// An object as the URL's version shows it (converted from the stored version when
/// the URL names an alternate one).
fn served_json(target: &Target, object: &Object) -> Result<Value, RestError> {
    Ok(convert::to_served(target.served, object_json(object)?))
}

/// Every request under `/api` and `/apis`.
pub async fn api(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<RestState>,
) -> Result<HttpResponse, RestError> {
    let route = path::parse(req.path())?;
    let query = Query::parse(req.query_string())?;
    match route {
        Route::Root { core } => {
            only_get(&req)?;
            if discovery::wants_aggregated(header(&req, "accept")) {
                return Ok(HttpResponse::Ok()
                    .content_type(discovery::AGGREGATED_MEDIA_TYPE)
                    .body(discovery::aggregated(core).to_string()));
            }
            let doc = if core {
                discovery::api_versions(req.connection_info().host())
            } else {
                discovery::api_group_list()
            };
            Ok(json_response(200, &doc))
        }
        Route::Group(group) => {
            only_get(&req)?;
            discovery::api_group(&group)
                .map(|d| json_response(200, &d))
                .ok_or_else(|| RestError::no_route(req.path()))
        }
        Route::GroupVersion { group, version } => {
            only_get(&req)?;
            discovery::api_resource_list(&group, &version)
                .map(|d| json_response(200, &d))
                .ok_or_else(|| RestError::no_route(req.path()))
        }
        Route::Resource(target) => resource(&req, payload, &state, target, query).await,
    }
}

fn only_get(req: &HttpRequest) -> Result<(), RestError> {
    if req.method() == Method::GET || req.method() == Method::HEAD {
        Ok(())
    } else {
        Err(RestError::method_not_allowed(format!(
            "{} is not allowed on {}",
            req.method(),
            req.path()
        )))
    }
}

async fn resource(
    req: &HttpRequest,
    payload: web::Payload,
    state: &RestState,
    target: Target,
    query: Query,
) -> Result<HttpResponse, RestError> {
    let sub = target.subresource.as_deref();
    if let Some(s) = sub {
        let served = discovery::subresources(target.info())
            .iter()
            .any(|d| d.name == s);
        if !served {
            return Err(RestError::no_route(req.path()));
        }
    }
    let method = req.method().clone();
    match (method, target.name.is_some()) {
        (Method::GET, true) => get(req, state, &target, &query).await,
        (Method::GET, false) if query.flag("watch") => {
            super::watch::serve(req, state, &target, &query).await
        }
        (Method::GET, false) => list(req, state, &target, &query).await,
        (Method::POST, false) => {
            let body = read_body(req, payload).await?;
            create(req, state, &target, &query, &body).await
        }
        (Method::PUT, true) => {
            let body = read_body(req, payload).await?;
            update(req, state, &target, &query, &body).await
        }
        (Method::PATCH, true) => {
            let body = read_body(req, payload).await?;
            patch(req, state, &target, &query, &body).await
        }
        (Method::DELETE, true) => {
            let body = read_body(req, payload).await?;
            delete(req, state, &target, &query, &body).await
        }
        (Method::DELETE, false) => {
            let body = read_body(req, payload).await?;
            delete_collection(req, state, &target, &query, &body).await
        }
        (method, _) => Err(RestError::method_not_allowed(format!(
            "{method} is not allowed on {}",
            req.path()
        ))),
    }
}

/// Reads the body, refusing more than [`MAX_BODY_BYTES`] with 413.
pub async fn read_body(req: &HttpRequest, mut payload: web::Payload) -> Result<Vec<u8>, RestError> {
    let declared = header(req, "content-length").parse::<usize>().ok();
    if declared.is_some_and(|n| n > MAX_BODY_BYTES) {
        return Err(RestError::too_large(MAX_BODY_BYTES));
    }
    let mut body = Vec::with_capacity(declared.unwrap_or(0).min(MAX_BODY_BYTES));
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|e| RestError::bad_request(format!("reading the body: {e}")))?;
        if body.len() + chunk.len() > MAX_BODY_BYTES {
            return Err(RestError::too_large(MAX_BODY_BYTES));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

fn namespace(target: &Target) -> &str {
    target.namespace.as_deref().unwrap_or("")
}

fn name(target: &Target) -> &str {
    target.name.as_deref().unwrap_or("")
}

fn wants_table(req: &HttpRequest) -> bool {
    table::wants_table(header(req, "accept"))
}

fn include_object(query: &Query) -> Result<IncludeObject, RestError> {
    IncludeObject::parse(query.get("includeObject").unwrap_or(""))
        .ok_or_else(|| RestError::bad_request("includeObject: must be None, Metadata or Object"))
}

async fn get(
    req: &HttpRequest,
    state: &RestState,
    target: &Target,
    query: &Query,
) -> Result<HttpResponse, RestError> {
    if target.subresource.as_deref() == Some("scale") {
        let scale = state
            .client
            .get_scale(target.info(), namespace(target), name(target))
            .await?;
        return scale_response(&scale);
    }
    let object = state
        .client
        .get(
            target.info(),
            namespace(target),
            name(target),
            GetOptions {
                resource_version: query.str("resourceVersion"),
            },
        )
        .await?;
    let value = object_json(&object)?;
    if wants_table(req) {
        let t = table::table(
            target.info(),
            std::slice::from_ref(&value),
            now(),
            include_object(query)?,
            value
                .pointer("/metadata/resourceVersion")
                .and_then(Value::as_str)
                .unwrap_or(""),
            "",
        );
        return Ok(json_response(200, &t));
    }
    Ok(json_response(
        200,
        &convert::to_served(target.served, value),
    ))
}

fn list_options(query: &Query) -> Result<ListOptions, RestError> {
    let limit = query.int("limit")?.unwrap_or(0);
    Ok(ListOptions {
        label_selector: query.str("labelSelector"),
        field_selector: query.str("fieldSelector"),
        limit: u64::try_from(limit).unwrap_or(0),
        continue_: query.str("continue"),
        resource_version: query.str("resourceVersion"),
    })
}

/// The `<Kind>List` of `items`.
pub fn list_json(
    info: &ResourceInfo,
    items: Vec<Value>,
    resource_version: &str,
    continue_token: &str,
    remaining: Option<i64>,
) -> Value {
    json!({
        "kind": format!("{}List", info.kind),
        "apiVersion": info.api_version(),
        "metadata": list_metadata(resource_version, continue_token, remaining),
        "items": items,
    })
}

/// A list's `metadata`.
fn list_metadata(resource_version: &str, continue_token: &str, remaining: Option<i64>) -> Value {
    let mut metadata = json!({ "resourceVersion": resource_version });
    if !continue_token.is_empty() {
        metadata["continue"] = json!(continue_token);
    }
    if let Some(n) = remaining {
        metadata["remainingItemCount"] = json!(n);
    }
    metadata
}

/// The `<Kind>List` body of a page whose items are JSON already: the items'
/// bytes are copied into the list, not parsed.
fn list_body(info: &ResourceInfo, page: &JsonList) -> Vec<u8> {
    let head = json!({
        "kind": format!("{}List", info.kind),
        "apiVersion": info.api_version(),
        "metadata": list_metadata(&page.resource_version, &page.continue_, page.remaining_item_count),
    })
    .to_string();
    let items: usize = page.items.iter().map(|i| i.len() + 1).sum();
    let mut body = Vec::with_capacity(head.len() + items + 16);
    // `head` is a JSON object: reopen it to append the items.
    body.extend_from_slice(&head.as_bytes()[..head.len() - 1]);
    body.extend_from_slice(b",\"items\":[");
    for (i, item) in page.items.iter().enumerate() {
        if i > 0 {
            body.push(b',');
        }
        body.extend_from_slice(item);
    }
    body.extend_from_slice(b"]}");
    body
}

async fn list(
    req: &HttpRequest,
    state: &RestState,
    target: &Target,
    query: &Query,
) -> Result<HttpResponse, RestError> {
    let include = include_object(query)?;
    let namespace = namespace(target);
    let opts = list_options(query)?;
    let table = wants_table(req);
    if !table && !target.converts() {
        // The stored JSON is what the client gets: copy it, do not decode it.
        let page = state
            .client
            .list_json(target.info(), namespace, opts)
            .await?;
        return Ok(HttpResponse::Ok()
            .insert_header(ContentType::json())
            .body(list_body(target.served, &page)));
    }
    let page = state.client.list(target.info(), namespace, opts).await?;
    let items = page
        .items
        .iter()
        .map(object_json)
        .collect::<Result<Vec<_>, _>>()?;
    if table {
        let t = table::table(
            target.info(),
            &items,
            now(),
            include,
            &page.resource_version,
            &page.continue_,
        );
        return Ok(json_response(200, &t));
    }
    let items = items
        .into_iter()
        .map(|v| convert::to_served(target.served, v))
        .collect();
    Ok(json_response(
        200,
        &list_json(
            target.served,
            items,
            &page.resource_version,
            &page.continue_,
            page.remaining_item_count,
        ),
    ))
}

/// How a request body is encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum BodyFormat {
    Json,
    Yaml,
    /// Kubernetes' protobuf (`k8s\0` + `runtime.Unknown`), as typed clients send it.
    Protobuf,
}

/// The body's format from its `Content-Type` (JSON when absent); 415 for others.
fn body_format(req: &HttpRequest) -> Result<BodyFormat, RestError> {
    let content_type = header(req, "content-type");
    let media = content_type.split(';').next().unwrap_or("").trim();
    match media {
        "" | "application/json" | "*/*" => Ok(BodyFormat::Json),
        "application/yaml" | "application/x-yaml" | "text/yaml" => Ok(BodyFormat::Yaml),
        protobuf::MEDIA_TYPE => Ok(BodyFormat::Protobuf),
        _ => Err(RestError::unsupported_media_type(content_type)),
    }
}

/// How unknown fields are treated (`fieldValidation`), Kubernetes' default `Warn`.
fn strict(query: &Query) -> Result<bool, RestError> {
    match query.get("fieldValidation") {
        None | Some("" | "Warn" | "Ignore") => Ok(false),
        Some("Strict") => Ok(true),
        Some(other) => Err(RestError::bad_request(format!(
            "fieldValidation: Unsupported value: {other:?}: supported values: \"Ignore\", \"Strict\", \"Warn\""
        ))),
    }
}

/// Decodes a body into an object of `target`'s kind in `target`'s namespace. A body
/// without `apiVersion` and `kind` is taken as the URL's kind, as Kubernetes does
/// (the official clients leave them out).
fn decode_body(
    req: &HttpRequest,
    target: &Target,
    query: &Query,
    body: &[u8],
) -> Result<(Object, Vec<String>), RestError> {
    let mut value = parse_body_value(req, body)?;
    let Some(map) = value.as_object_mut() else {
        return Err(RestError::bad_request(
            "couldn't get version/kind; json parse error: expected an object",
        ));
    };
    let info = target.served;
    for (field, default) in [
        ("apiVersion", info.api_version()),
        ("kind", info.kind.to_owned()),
    ] {
        if map
            .get(field)
            .and_then(Value::as_str)
            .is_none_or(str::is_empty)
        {
            map.insert(field.to_owned(), Value::String(default));
        }
    }
    let api_version = map.get("apiVersion").and_then(Value::as_str).unwrap_or("");
    let kind = map.get("kind").and_then(Value::as_str).unwrap_or("");
    if api_version != info.api_version() || kind != info.kind {
        return Err(RestError::bad_request(format!(
            "the API version in the data ({api_version}) does not match the expected API version ({}) or the kind ({kind}) the expected kind ({})",
            info.api_version(),
            info.kind
        )));
    }
    let value = convert::from_served(info, value);
    let (mut object, warnings) = decode_value_as(target.info(), value, strict(query)?)
        .map_err(|e| RestError::bad_request(e.to_string()))?;
    place(target, &mut object)?;
    let ignore = query.get("fieldValidation") == Some("Ignore");
    let warnings = if ignore {
        Vec::new()
    } else {
        warnings.iter().map(ToString::to_string).collect()
    };
    Ok((object, warnings))
}

/// Puts the object in the URL's namespace (checking one it names itself) and, for a
/// URL with a name, checks the body's name.
fn place(target: &Target, object: &mut Object) -> Result<(), RestError> {
    let meta = object.metadata_mut();
    if target.info().namespaced {
        let url_ns = namespace(target);
        if meta.namespace.is_empty() {
            meta.namespace = url_ns.to_owned();
        } else if !url_ns.is_empty() && meta.namespace != url_ns {
            return Err(RestError::bad_request(
                "the namespace of the provided object does not match the namespace sent on the request",
            ));
        }
        if meta.namespace.is_empty() {
            return Err(RestError::bad_request(
                "a namespace must be given in the URL",
            ));
        }
    } else {
        meta.namespace.clear();
    }
    if let Some(url_name) = &target.name {
        if meta.name.is_empty() {
            meta.name = url_name.clone();
        } else if &meta.name != url_name {
            return Err(RestError::bad_request(format!(
                "the name of the object ({}) does not match the name on the URL ({url_name})",
                meta.name
            )));
        }
    }
    Ok(())
}

fn with_warnings(mut response: HttpResponse, warnings: &[String]) -> HttpResponse {
    for w in warnings {
        let text = format!("299 - {}", serde_json::to_string(w).unwrap_or_default());
        if let Ok(value) = actix_web::http::header::HeaderValue::from_str(&text) {
            response.headers_mut().append(
                actix_web::http::header::HeaderName::from_static("warning"),
                value,
            );
        }
    }
    response
}

async fn create(
    req: &HttpRequest,
    state: &RestState,
    target: &Target,
    query: &Query,
    body: &[u8],
) -> Result<HttpResponse, RestError> {
    if target.subresource.is_some() {
        return Err(RestError::method_not_allowed(
            "create is not allowed on a subresource",
        ));
    }
    let (mut object, warnings) = decode_body(req, target, query, body)?;
    track_update(req, query, None, &mut object)?;
    let created = state
        .client
        .create(
            object,
            WriteOptions {
                dry_run: query.dry_run()?,
            },
        )
        .await?;
    Ok(with_warnings(
        json_response(201, &served_json(target, &created)?),
        &warnings,
    ))
}

fn scale_response(scale: &Scale) -> Result<HttpResponse, RestError> {
    let mut scale = scale.clone();
    scale.api_version = "autoscaling/v1".to_owned();
    scale.kind = "Scale".to_owned();
    let value = serde_json::to_value(&scale)
        .map_err(|e| RestError::internal(format!("encoding the scale: {e}")))?;
    Ok(json_response(200, &value))
}

fn parse_scale(value: Value) -> Result<Scale, RestError> {
    serde_json::from_value::<Scale>(value)
        .map_err(|e| RestError::bad_request(format!("decoding the Scale: {e}")))
}

async fn update(
    req: &HttpRequest,
    state: &RestState,
    target: &Target,
    query: &Query,
    body: &[u8],
) -> Result<HttpResponse, RestError> {
    let dry_run = query.dry_run()?;
    if target.subresource.as_deref() == Some("scale") {
        let value = parse_body_value(req, body)?;
        let scale = state
            .client
            .update_scale(
                target.info(),
                namespace(target),
                name(target),
                parse_scale(value)?,
                WriteOptions { dry_run },
            )
            .await?;
        return scale_response(&scale);
    }
    let (mut object, warnings) = decode_body(req, target, query, body)?;
    if target.subresource.is_none() {
        // The object as it is now, to tell what this write changes.
        let old = state
            .client
            .get(
                target.info(),
                namespace(target),
                name(target),
                GetOptions::default(),
            )
            .await
            .ok();
        track_update(req, query, old.as_ref(), &mut object)?;
    }
    let opts = WriteOptions { dry_run };
    let stored = if target.subresource.as_deref() == Some("status") {
        state.client.update_status(object, opts).await?
    } else {
        state.client.update(object, opts).await?
    };
    Ok(with_warnings(
        json_response(200, &served_json(target, &stored)?),
        &warnings,
    ))
}

/// A body as a JSON value, from JSON, YAML or protobuf; patches (whose media types
/// name the patch kind) are JSON or YAML.
fn parse_body_value(req: &HttpRequest, body: &[u8]) -> Result<Value, RestError> {
    let format = if req.method() == Method::PATCH {
        let media = header(req, "content-type");
        if media
            .split(';')
            .next()
            .unwrap_or("")
            .trim()
            .ends_with("yaml")
        {
            BodyFormat::Yaml
        } else {
            BodyFormat::Json
        }
    } else {
        body_format(req)?
    };
    match format {
        BodyFormat::Yaml => {
            let text = std::str::from_utf8(body)
                .map_err(|e| RestError::bad_request(format!("the body is not UTF-8: {e}")))?;
            crate::api::yaml::first_document(text)
                .map_err(|e| RestError::bad_request(format!("decoding the YAML body: {e}")))
        }
        BodyFormat::Protobuf => protobuf::decode(body)
            .map_err(|e| RestError::bad_request(format!("decoding the protobuf body: {e}"))),
        BodyFormat::Json => serde_json::from_slice(body)
            .map_err(|e| RestError::bad_request(format!("decoding the JSON body: {e}"))),
    }
}

/// The kind of patch a `Content-Type` names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum PatchKind {
    Json,
    Merge,
    Strategic,
    Apply,
}

fn patch_kind(content_type: &str) -> Result<PatchKind, RestError> {
    match content_type.split(';').next().unwrap_or("").trim() {
        "application/json-patch+json" => Ok(PatchKind::Json),
        "application/merge-patch+json" => Ok(PatchKind::Merge),
        "application/strategic-merge-patch+json" => Ok(PatchKind::Strategic),
        "application/apply-patch+yaml" | "application/apply-patch+json" => Ok(PatchKind::Apply),
        _ => Err(RestError::unsupported_media_type(content_type)),
    }
}

async fn patch(
    req: &HttpRequest,
    state: &RestState,
    target: &Target,
    query: &Query,
    body: &[u8],
) -> Result<HttpResponse, RestError> {
    let kind = patch_kind(header(req, "content-type"))?;
    let value = parse_body_value(req, body)?;
    let dry_run = query.dry_run()?;
    let (ns, name) = (namespace(target), name(target));
    if target.subresource.as_deref() == Some("scale") {
        let current = state.client.get_scale(target.info(), ns, name).await?;
        let current = serde_json::to_value(&current)
            .map_err(|e| RestError::internal(format!("encoding the scale: {e}")))?;
        let patched = apply_plain(target.info(), kind, current, &value)?;
        let mut scale = parse_scale(patched)?;
        // A patch applies to the latest state; no stale-version check.
        scale.metadata.resource_version.clear();
        let stored = state
            .client
            .update_scale(target.info(), ns, name, scale, WriteOptions { dry_run })
            .await?;
        return scale_response(&stored);
    }
    let subresource = if target.subresource.as_deref() == Some("status") {
        Subresource::Status
    } else {
        Subresource::Main
    };
    let stored = match kind {
        PatchKind::Apply if target.converts() => {
            return Err(RestError::unsupported_media_type(&format!(
                "application/apply-patch+yaml at {} (server-side apply is served at {})",
                target.served.api_version(),
                target.info().api_version()
            )));
        }
        PatchKind::Apply => {
            return server_side_apply(state, target, query, &value, subresource, dry_run).await;
        }
        _ if kind == PatchKind::Strategic
            || target.converts()
            || (subresource == Subresource::Main && !field_manager(req, query).is_empty()) =>
        {
            let merge = |current: Value| apply_plain(target.info(), kind, current, &value);
            read_modify_write(req, state, target, query, subresource, dry_run, merge).await?
        }
        // A JSON or merge patch with no manager to record: storage applies it.
        _ => {
            let patch = match kind {
                PatchKind::Json => Patch::Json(value),
                _ => Patch::Merge(value),
            };
            let opts = PatchOptions {
                dry_run,
                subresource,
                field_manager: query.str("fieldManager"),
                force: query.flag("force"),
            };
            state
                .client
                .patch(target.info(), ns, name, patch, opts)
                .await?
        }
    };
    Ok(json_response(200, &served_json(target, &stored)?))
}

/// `current` with a patch of `kind` applied, by the same rules storage applies
/// ([`crate::apiserver::patch::apply_patch`]; strategic merge by [`strategic::apply`]).
fn apply_plain(
    info: &'static ResourceInfo,
    kind: PatchKind,
    current: Value,
    patch: &Value,
) -> Result<Value, RestError> {
    let patch = match kind {
        PatchKind::Strategic => {
            return strategic::apply(&current, patch)
                .map_err(|e| RestError::bad_request(e.to_string()))
        }
        PatchKind::Json => Patch::Json(patch.clone()),
        PatchKind::Merge | PatchKind::Apply => Patch::Merge(patch.clone()),
    };
    Ok(crate::apiserver::patch::apply_patch(
        info,
        &current,
        &patch,
        &PatchOptions::default(),
        None,
    )?)
}

/// A patch applied here rather than in storage (strategic merge, a patch at an
/// alternate version, or one whose manager is recorded by [`track_update`]): read,
/// merge (on the object as the URL's version shows it), compare-and-swap; again when
/// the object changed in between. A resourceVersion the patched object names is a
/// precondition, as in Kubernetes: one other than the version read is 409.
async fn read_modify_write(
    req: &HttpRequest,
    state: &RestState,
    target: &Target,
    query: &Query,
    subresource: Subresource,
    dry_run: bool,
    merge: impl Fn(Value) -> Result<Value, RestError>,
) -> Result<Object, RestError> {
    let (ns, name) = (namespace(target), name(target));
    let mut attempt = 0;
    loop {
        attempt += 1;
        let current = state
            .client
            .get(target.info(), ns, name, GetOptions::default())
            .await?;
        let rv = current.metadata().resource_version.clone();
        let merged = merge(served_json(target, &current)?)?;
        let asked = merged
            .pointer("/metadata/resourceVersion")
            .and_then(Value::as_str)
            .unwrap_or("");
        if !asked.is_empty() && asked != rv {
            return Err(RestError::from(crate::apiserver::ApiError::conflict(
                target.info(),
                name,
                "the object has been modified; please apply your changes to the latest version and try again",
            )));
        }
        let merged = convert::from_served(target.served, merged);
        let (mut object, _) = decode_value_as(target.info(), merged, false).map_err(|e| {
            RestError::bad_request(format!("the patched object does not decode: {e}"))
        })?;
        place(target, &mut object)?;
        if subresource == Subresource::Main {
            track_update(req, query, Some(&current), &mut object)?;
        }
        object.metadata_mut().resource_version = rv;
        let opts = WriteOptions { dry_run };
        let result = match subresource {
            Subresource::Status => state.client.update_status(object, opts).await,
            Subresource::Main => state.client.update(object, opts).await,
        };
        match result {
            Err(e) if e.is_conflict() && attempt < PATCH_ATTEMPTS => continue,
            other => return other.map_err(RestError::from),
        }
    }
}

/// The manager of a write: `fieldManager`, else the User-Agent up to its first `/`
/// (Kubernetes' default), at most 128 characters.
fn field_manager(req: &HttpRequest, query: &Query) -> String {
    let m = match query.get("fieldManager") {
        Some(m) if !m.is_empty() => m.to_owned(),
        _ => header(req, "user-agent")
            .split('/')
            .next()
            .unwrap_or("")
            .to_owned(),
    };
    m.chars().take(128).collect()
}

/// Records `object`'s write (over `old`, if it existed) as an `Update` by its
/// manager in its managedFields ([`apply::record_update`]).
fn track_update(
    req: &HttpRequest,
    query: &Query,
    old: Option<&Object>,
    object: &mut Object,
) -> Result<(), RestError> {
    let manager = field_manager(req, query);
    if manager.is_empty() {
        return Ok(());
    }
    let old = old.map(object_json).transpose()?;
    let mut new = object_json(object)?;
    let api_version = new
        .get("apiVersion")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_owned();
    apply::record_update(
        old.as_ref(),
        &mut new,
        &apply::UpdateRequest {
            manager: &manager,
            api_version: &api_version,
            now: serde_json::to_value(now()).unwrap_or(Value::Null),
        },
    );
    object.metadata_mut().managed_fields = new
        .pointer("/metadata/managedFields")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    Ok(())
}

/// Server-side apply: read, apply ([`apply::apply`]), then create or
/// compare-and-swap update; again when the object changed in between. Answers 201
/// when the apply created the object, as Kubernetes does.
async fn server_side_apply(
    state: &RestState,
    target: &Target,
    query: &Query,
    config: &Value,
    subresource: Subresource,
    dry_run: bool,
) -> Result<HttpResponse, RestError> {
    let (ns, name) = (namespace(target), name(target));
    let manager = query.str("fieldManager");
    let force = match query.get("force") {
        None | Some("" | "false" | "False" | "0") => false,
        Some("true" | "True" | "1") => true,
        Some(other) => {
            return Err(RestError::bad_request(format!(
                "force: Invalid value: {other:?}: must be true or false"
            )))
        }
    };
    let api_version = config
        .get("apiVersion")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_owned();
    let now = serde_json::to_value(now()).unwrap_or(Value::Null);
    let request = apply::ApplyRequest {
        manager: &manager,
        force,
        api_version: &api_version,
        now,
        subresource: match subresource {
            Subresource::Status => "status",
            Subresource::Main => "",
        },
    };
    let opts = WriteOptions { dry_run };
    let mut attempt = 0;
    loop {
        attempt += 1;
        let current = match state
            .client
            .get(target.info(), ns, name, GetOptions::default())
            .await
        {
            Ok(o) => Some(o),
            Err(crate::apiserver::ApiError::NotFound { .. })
                if subresource == Subresource::Main =>
            {
                None
            }
            Err(e) => return Err(e.into()),
        };
        let live = current.as_ref().map(object_json).transpose()?;
        let merged = apply::apply(live.as_ref(), config, &request).map_err(|e| match e {
            apply::ApplyError::Conflicts(c) => RestError::apply_conflict(&c),
            apply::ApplyError::BadRequest(m) => RestError::bad_request(m),
        })?;
        let (mut object, _) =
            decode_value_as(target.info(), merged, strict(query)?).map_err(|e| {
                RestError::bad_request(format!("the applied object does not decode: {e}"))
            })?;
        place(target, &mut object)?;
        let result = match current {
            None => state
                .client
                .create(object, opts.clone())
                .await
                .map(|o| (201, o)),
            Some(current) => {
                object.metadata_mut().resource_version =
                    current.metadata().resource_version.clone();
                match subresource {
                    Subresource::Status => state.client.update_status(object, opts.clone()).await,
                    Subresource::Main => state.client.update(object, opts.clone()).await,
                }
                .map(|o| (200, o))
            }
        };
        match result {
            Err(e)
                if (e.is_conflict()
                    || matches!(e, crate::apiserver::ApiError::AlreadyExists { .. }))
                    && attempt < PATCH_ATTEMPTS =>
            {
                continue
            }
            Err(e) => return Err(e.into()),
            Ok((code, stored)) => return Ok(json_response(code, &served_json(target, &stored)?)),
        }
    }
}

fn delete_options(
    req: &HttpRequest,
    query: &Query,
    body: &[u8],
) -> Result<DeleteOptions, RestError> {
    let body: Value = if body.iter().all(u8::is_ascii_whitespace) {
        json!({})
    } else {
        parse_body_value(req, body).map_err(|e| {
            RestError::bad_request(format!("decoding DeleteOptions: {}", e.status.message))
        })?
    };
    let grace = match query.int("gracePeriodSeconds")? {
        Some(g) => Some(g),
        None => body.get("gracePeriodSeconds").and_then(Value::as_i64),
    };
    let policy = match query
        .get("propagationPolicy")
        .or_else(|| body.get("propagationPolicy").and_then(Value::as_str))
    {
        Some(p) => Some(PropagationPolicy::parse(p)?),
        None => match body.get("orphanDependents").and_then(Value::as_bool) {
            Some(true) => Some(PropagationPolicy::Orphan),
            _ => None,
        },
    };
    let body_dry_run = body
        .get("dryRun")
        .and_then(Value::as_array)
        .is_some_and(|a| a.iter().any(|v| v == "All"));
    let mut opts = DeleteOptions {
        grace_period_seconds: grace,
        propagation_policy: policy,
        dry_run: query.dry_run()? || body_dry_run,
        ..DeleteOptions::default()
    };
    if let Some(pre) = body.get("preconditions") {
        opts.preconditions.uid = pre.get("uid").and_then(Value::as_str).map(str::to_owned);
        opts.preconditions.resource_version = pre
            .get("resourceVersion")
            .and_then(Value::as_str)
            .map(str::to_owned);
    }
    Ok(opts)
}

async fn delete(
    req: &HttpRequest,
    state: &RestState,
    target: &Target,
    query: &Query,
    body: &[u8],
) -> Result<HttpResponse, RestError> {
    if target.subresource.is_some() {
        return Err(RestError::method_not_allowed(
            "delete is not allowed on a subresource",
        ));
    }
    let opts = delete_options(req, query, body)?;
    let outcome = state
        .client
        .delete(target.info(), namespace(target), name(target), opts)
        .await?;
    Ok(json_response(200, &served_json(target, outcome.object())?))
}

async fn delete_collection(
    req: &HttpRequest,
    state: &RestState,
    target: &Target,
    query: &Query,
    body: &[u8],
) -> Result<HttpResponse, RestError> {
    let opts = delete_options(req, query, body)?;
    let gone = state
        .client
        .delete_collection(target.info(), namespace(target), list_options(query)?, opts)
        .await?;
    let items = gone
        .items
        .iter()
        .map(|o| served_json(target, o))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(json_response(
        200,
        &list_json(target.served, items, &gone.resource_version, "", None),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::object::{CONFIG_MAP, NAMESPACE};

    /// A list body spliced from items that are JSON already is the same
    /// document as the list built from parsed items, with and without a
    /// continue token, remaining count and items.
    #[test]
    fn a_list_of_json_items_is_the_same_document_as_a_list_of_values() {
        let items = vec![
            json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a"}}),
            json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "b"}}),
        ];
        for (items, continue_, remaining) in [
            (items.clone(), "token", Some(3)),
            (items, "", None),
            (Vec::new(), "", None),
        ] {
            let page = JsonList {
                resource_version: "12".into(),
                continue_: continue_.into(),
                remaining_item_count: remaining,
                items: items.iter().map(|v| v.to_string().into_bytes()).collect(),
            };
            let body: Value = serde_json::from_slice(&list_body(&CONFIG_MAP, &page)).expect("JSON");
            assert_eq!(
                body,
                list_json(&CONFIG_MAP, items, "12", continue_, remaining)
            );
        }
    }

    /// Query parameters parse, with 400 for malformed integers and dry-run values.
    #[test]
    fn query_parameters_are_checked() {
        let q = Query::parse("limit=5&watch=true&dryRun=All&labelSelector=app%3Dweb").expect("q");
        assert_eq!(q.int("limit").ok().flatten(), Some(5));
        assert!(q.flag("watch"));
        assert_eq!(q.dry_run().ok(), Some(true));
        assert_eq!(q.str("labelSelector"), "app=web");
        let bad = Query::parse("limit=x&dryRun=Some").expect("q");
        assert_eq!(bad.int("limit").map_err(|e| e.code()), Err(400));
        assert_eq!(bad.dry_run().map_err(|e| e.code()), Err(400));
    }

    /// The URL's namespace fills an empty one, a different one is 400, and a
    /// cluster-scoped object never keeps a namespace.
    #[test]
    fn objects_are_placed_in_the_urls_namespace() {
        let target = Target {
            served: &CONFIG_MAP,
            namespace: Some("shop".into()),
            name: Some("c".into()),
            subresource: None,
        };
        let mut cm = Object::from(crate::api::core::ConfigMap::default());
        place(&target, &mut cm).expect("placed");
        assert_eq!(cm.metadata().namespace, "shop");
        assert_eq!(cm.metadata().name, "c");
        cm.metadata_mut().namespace = "other".into();
        assert_eq!(place(&target, &mut cm).map_err(|e| e.code()), Err(400));
        cm.metadata_mut().namespace = "shop".into();
        cm.metadata_mut().name = "d".into();
        assert_eq!(place(&target, &mut cm).map_err(|e| e.code()), Err(400));
        let ns_target = Target {
            served: &NAMESPACE,
            namespace: None,
            name: None,
            subresource: None,
        };
        let mut ns = Object::from(crate::api::core::Namespace::default());
        ns.metadata_mut().namespace = "x".into();
        place(&ns_target, &mut ns).expect("placed");
        assert!(ns.metadata().namespace.is_empty());
    }

    /// Patch media types map to patch kinds; anything else is 415.
    #[test]
    fn patch_media_types_are_recognised() {
        assert_eq!(
            patch_kind("application/strategic-merge-patch+json").ok(),
            Some(PatchKind::Strategic)
        );
        assert_eq!(
            patch_kind("application/merge-patch+json; charset=utf-8").ok(),
            Some(PatchKind::Merge)
        );
        assert_eq!(
            patch_kind("application/json-patch+json").ok(),
            Some(PatchKind::Json)
        );
        assert_eq!(
            patch_kind("application/apply-patch+yaml").ok(),
            Some(PatchKind::Apply)
        );
        assert_eq!(patch_kind("text/plain").map_err(|e| e.code()), Err(415));
    }

    /// Delete options come from the query or the body; bad policies are 400.
    #[test]
    fn delete_options_come_from_query_and_body() {
        let req = actix_web::test::TestRequest::default().to_http_request();
        let q = Query::parse("gracePeriodSeconds=0").expect("q");
        let o = delete_options(
            &req,
            &q,
            br#"{"propagationPolicy":"Foreground","preconditions":{"uid":"u1"},"dryRun":["All"]}"#,
        )
        .expect("o");
        assert_eq!(o.grace_period_seconds, Some(0));
        assert_eq!(o.propagation_policy, Some(PropagationPolicy::Foreground));
        assert_eq!(o.preconditions.uid.as_deref(), Some("u1"));
        assert!(o.dry_run);
        let q = Query::parse("propagationPolicy=Sideways").expect("q");
        assert_eq!(
            delete_options(&req, &q, b"").map_err(|e| e.code()),
            Err(400)
        );
        assert_eq!(
            delete_options(&req, &Query::default(), b"{").map_err(|e| e.code()),
            Err(400)
        );
    }
}
