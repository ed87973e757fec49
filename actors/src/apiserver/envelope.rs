//! How an API object is stored: an rkyv [`Envelope`] holding what selectors
//! look at (kind, namespace, name, labels, the kind's selectable fields) in
//! front of the object itself as Kubernetes JSON.
//!
//! Label and field selectors are evaluated on the archived envelope
//! ([`Selection::matches`]) without decoding the object: a watch filters every
//! event of its key range this way and decodes only what it delivers. The
//! object is JSON inside the archive (not an rkyv archive of the typed
//! object): the object model derives serde only, and the selectable parts
//! are all a selector needs.
//!
//! `metadata.resourceVersion` is not stored: it is the key's modification
//! revision, set when the object is read.

use std::borrow::Cow;

use rkyv::util::AlignedVec;
use rkyv::{Archive, Deserialize, Serialize};
use serde_json::Value;

use super::error::{ApiError, ApiResult};
use crate::api::object::ResourceInfo;
use crate::api::{FieldSelector, Labels, Object, Selector};

/// A key/value pair in an [`Envelope`].
#[derive(Archive, Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
pub struct Pair {
    /// The label key or field name.
    pub key: String,
    /// Its value.
    pub value: String,
}

/// What the store holds for one object.
#[derive(Archive, Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
pub struct Envelope {
    /// `group/version` or `v1`.
    pub api_version: String,
    /// The kind.
    pub kind: String,
    /// The namespace (empty for cluster-scoped kinds).
    pub namespace: String,
    /// The name.
    pub name: String,
    /// `metadata.uid`.
    pub uid: String,
    /// The labels, sorted by key.
    pub labels: Vec<Pair>,
    /// The kind's selectable fields besides `metadata.name` and
    /// `metadata.namespace`, sorted by field name, each as its string form.
    pub fields: Vec<Pair>,
    /// The object as Kubernetes JSON, without `resourceVersion`.
    pub json: Vec<u8>,
}

/// Where a selectable field is in an object's JSON and what it reads as when
/// absent (Go's zero value, as Kubernetes' field sets print it).
struct FieldSpec {
    name: &'static str,
    pointer: &'static str,
    zero: &'static str,
}

const fn field(name: &'static str, pointer: &'static str, zero: &'static str) -> FieldSpec {
    FieldSpec {
        name,
        pointer,
        zero,
    }
}

/// The selectable fields of each kind beyond `metadata.name` and
/// `metadata.namespace`, as Kubernetes' `GetAttrs`/field label conversion
/// functions define them.
fn kind_fields(kind: &str) -> &'static [FieldSpec] {
    const POD: &[FieldSpec] = &[
        field("spec.hostNetwork", "/spec/hostNetwork", "false"),
        field("spec.nodeName", "/spec/nodeName", ""),
        field("spec.restartPolicy", "/spec/restartPolicy", ""),
        field("spec.schedulerName", "/spec/schedulerName", ""),
        field("spec.serviceAccountName", "/spec/serviceAccountName", ""),
        field("status.nominatedNodeName", "/status/nominatedNodeName", ""),
        field("status.phase", "/status/phase", ""),
        field("status.podIP", "/status/podIP", ""),
    ];
    const NODE: &[FieldSpec] = &[field("spec.unschedulable", "/spec/unschedulable", "false")];
    const NAMESPACE: &[FieldSpec] = &[field("status.phase", "/status/phase", "")];
    const SECRET: &[FieldSpec] = &[field("type", "/type", "")];
    const EVENT: &[FieldSpec] = &[
        field(
            "involvedObject.apiVersion",
            "/involvedObject/apiVersion",
            "",
        ),
        field("involvedObject.fieldPath", "/involvedObject/fieldPath", ""),
        field("involvedObject.kind", "/involvedObject/kind", ""),
        field("involvedObject.name", "/involvedObject/name", ""),
        field("involvedObject.namespace", "/involvedObject/namespace", ""),
        field(
            "involvedObject.resourceVersion",
            "/involvedObject/resourceVersion",
            "",
        ),
        field("involvedObject.uid", "/involvedObject/uid", ""),
        field("reason", "/reason", ""),
        field("reportingComponent", "/reportingComponent", ""),
        field("source", "/source/component", ""),
        field("type", "/type", ""),
    ];
    const REPLICA_SET: &[FieldSpec] = &[field("status.replicas", "/status/replicas", "0")];
    const JOB: &[FieldSpec] = &[field("status.successful", "/status/succeeded", "0")];
    match kind {
        "Pod" => POD,
        "Node" => NODE,
        "Namespace" => NAMESPACE,
        "Secret" => SECRET,
        "Event" => EVENT,
        "ReplicaSet" => REPLICA_SET,
        "Job" => JOB,
        _ => &[],
    }
}

/// Every field a field selector may name for kind `info`.
pub fn selectable_fields(info: &ResourceInfo) -> Vec<&'static str> {
    let mut out = vec!["metadata.name", "metadata.namespace"];
    out.extend(kind_fields(info.kind).iter().map(|f| f.name));
    out
}

fn scalar(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// Builds the envelope of `object`, whose JSON form is `json` (the caller
/// usually has it already).
pub fn envelope_of(info: &ResourceInfo, json: &Value) -> ApiResult<Envelope> {
    let meta = json.get("metadata");
    let text = |ptr: &str| {
        meta.and_then(|m| m.pointer(ptr))
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_owned()
    };
    let mut labels: Vec<Pair> = meta
        .and_then(|m| m.get("labels"))
        .and_then(Value::as_object)
        .map(|l| {
            l.iter()
                .filter_map(|(k, v)| {
                    v.as_str().map(|v| Pair {
                        key: k.clone(),
                        value: v.to_owned(),
                    })
                })
                .collect()
        })
        .unwrap_or_default();
    labels.sort_by(|a, b| a.key.cmp(&b.key));
    let mut fields: Vec<Pair> = kind_fields(info.kind)
        .iter()
        .map(|f| Pair {
            key: f.name.to_owned(),
            value: json
                .pointer(f.pointer)
                .and_then(scalar)
                .unwrap_or_else(|| f.zero.to_owned()),
        })
        .collect();
    fields.sort_by(|a, b| a.key.cmp(&b.key));
    let mut body = json.clone();
    if let Some(m) = body.get_mut("metadata").and_then(Value::as_object_mut) {
        m.remove("resourceVersion");
    }
    Ok(Envelope {
        api_version: info.api_version(),
        kind: info.kind.to_owned(),
        namespace: text("/namespace"),
        name: text("/name"),
        uid: text("/uid"),
        labels,
        fields,
        json: serde_json::to_vec(&body)
            .map_err(|e| ApiError::internal(format!("encoding {}: {e}", info.kind)))?,
    })
}

/// Archives an envelope into the bytes the store keeps.
pub fn encode(envelope: &Envelope) -> ApiResult<Vec<u8>> {
    rkyv::to_bytes::<rkyv::rancor::Error>(envelope)
        .map(|b| b.to_vec())
        .map_err(|e| ApiError::internal(format!("archiving an object: {e}")))
}

/// The alignment archived envelopes are read at.
const ALIGN: usize = 16;

/// Stored bytes made readable in place: borrowed when already aligned for
/// rkyv, else copied once into an aligned buffer.
pub enum Aligned<'a> {
    /// The caller's bytes.
    Borrowed(&'a [u8]),
    /// A copy.
    Owned(AlignedVec<ALIGN>),
}

impl<'a> Aligned<'a> {
    /// Wraps `bytes`, copying only if they are misaligned.
    pub fn new(bytes: &'a [u8]) -> Self {
        if bytes.as_ptr().align_offset(ALIGN) == 0 {
            Aligned::Borrowed(bytes)
        } else {
            let mut v = AlignedVec::<ALIGN>::with_capacity(bytes.len());
            v.extend_from_slice(bytes);
            Aligned::Owned(v)
        }
    }

    /// The validated archived envelope (500 Internal if the bytes are not one).
    pub fn envelope(&self) -> ApiResult<&ArchivedEnvelope> {
        let bytes: &[u8] = match self {
            Aligned::Borrowed(b) => b,
            Aligned::Owned(v) => v.as_slice(),
        };
        rkyv::access::<ArchivedEnvelope, rkyv::rancor::Error>(bytes)
            .map_err(|e| ApiError::internal(format!("a stored object is corrupt: {e}")))
    }
}

/// Decodes the object in stored bytes and sets its resourceVersion.
pub fn decode(bytes: &[u8], resource_version: u64) -> ApiResult<Object> {
    let aligned = Aligned::new(bytes);
    decode_archived(aligned.envelope()?, resource_version)
}

/// Decodes the object in an archived envelope and sets its resourceVersion.
pub fn decode_archived(env: &ArchivedEnvelope, resource_version: u64) -> ApiResult<Object> {
    let mut object: Object = serde_json::from_slice(env.json.as_slice()).map_err(|e| {
        ApiError::internal(format!(
            "a stored {} {:?} does not decode: {e}",
            env.kind.as_str(),
            env.name.as_str()
        ))
    })?;
    object.metadata_mut().resource_version = resource_version.to_string();
    Ok(object)
}

/// The JSON a client receives for `object`: with its `apiVersion` and `kind`.
pub fn object_json_bytes(mut object: Object) -> ApiResult<Vec<u8>> {
    object.set_type_meta();
    serde_json::to_vec(&object)
        .map_err(|e| ApiError::internal(format!("encoding a {}: {e}", object.info().kind)))
}

/// The JSON a client receives for the object in an archived envelope, with
/// `resource_version` set: the stored JSON with `metadata.resourceVersion`
/// spliced in, without decoding it. Stored JSON that does not have the shape
/// the splice needs (type meta and a metadata object without a
/// resourceVersion) is decoded and encoded instead.
pub fn json_archived(env: &ArchivedEnvelope, resource_version: u64) -> ApiResult<Vec<u8>> {
    let json = env.json.as_slice();
    let Some(at) = resource_version_slot(json) else {
        return object_json_bytes(decode_archived(env, resource_version)?);
    };
    let field = format!("\"resourceVersion\":\"{resource_version}\"");
    let mut out = Vec::with_capacity(json.len() + field.len() + 1);
    out.extend_from_slice(&json[..at.offset]);
    out.extend_from_slice(field.as_bytes());
    if !at.empty {
        out.push(b',');
    }
    out.extend_from_slice(&json[at.offset..]);
    Ok(out)
}

/// Where `metadata.resourceVersion` goes in an object's JSON: just inside
/// the metadata object's brace.
#[derive(Debug, PartialEq)]
struct Slot {
    offset: usize,
    /// The metadata object has no members (no comma after the new one).
    empty: bool,
}

/// The slot for `metadata.resourceVersion` in `json`, if `json` is an
/// object with `apiVersion`, `kind` and a `metadata` object that has no
/// `resourceVersion`.
fn resource_version_slot(json: &[u8]) -> Option<Slot> {
    let top = members(json, skip_ws(json, 0))?;
    let has = |members: &[Member<'_>], key: &[u8]| members.iter().any(|m| m.key == key);
    if !has(&top, b"apiVersion") || !has(&top, b"kind") {
        return None;
    }
    let meta = top.iter().find(|m| m.key == b"metadata")?;
    let fields = members(json, meta.value)?;
    if has(&fields, b"resourceVersion") {
        return None;
    }
    Some(Slot {
        offset: meta.value + 1,
        empty: fields.is_empty(),
    })
}

/// One member of a JSON object: its key as written (escapes not undone) and
/// where its value starts.
struct Member<'a> {
    key: &'a [u8],
    value: usize,
}

/// The members of the JSON object starting at `open`, or `None` if there is
/// no well-formed object there.
fn members(json: &[u8], open: usize) -> Option<Vec<Member<'_>>> {
    if json.get(open) != Some(&b'{') {
        return None;
    }
    let mut out = Vec::new();
    let mut i = skip_ws(json, open + 1);
    if json.get(i) == Some(&b'}') {
        return Some(out);
    }
    loop {
        let key_end = string_end(json, i)?;
        let colon = skip_ws(json, key_end);
        if json.get(colon) != Some(&b':') {
            return None;
        }
        let value = skip_ws(json, colon + 1);
        out.push(Member {
            key: &json[i + 1..key_end - 1],
            value,
        });
        i = skip_ws(json, value_end(json, value)?);
        match json.get(i)? {
            b',' => i = skip_ws(json, i + 1),
            b'}' => return Some(out),
            _ => return None,
        }
    }
}

fn skip_ws(json: &[u8], mut i: usize) -> usize {
    while json.get(i).is_some_and(|b| b.is_ascii_whitespace()) {
        i += 1;
    }
    i
}

/// The index just past the string starting at `i` (its closing quote).
fn string_end(json: &[u8], i: usize) -> Option<usize> {
    if json.get(i) != Some(&b'"') {
        return None;
    }
    let mut j = i + 1;
    loop {
        // Strings are most of an object's bytes: jump to the next quote or escape.
        j += memchr::memchr2(b'"', b'\\', json.get(j..)?)?;
        match json[j] {
            b'"' => return Some(j + 1),
            _ => j += 2,
        }
    }
}

/// The index just past the JSON value starting at `i`.
fn value_end(json: &[u8], i: usize) -> Option<usize> {
    match json.get(i)? {
        b'"' => string_end(json, i),
        b'{' | b'[' => {
            let mut depth = 0usize;
            let mut j = i;
            loop {
                match json.get(j)? {
                    b'"' => {
                        j = string_end(json, j)?;
                        continue;
                    }
                    b'{' | b'[' => depth += 1,
                    b'}' | b']' => {
                        depth -= 1;
                        if depth == 0 {
                            return Some(j + 1);
                        }
                    }
                    _ => {}
                }
                j += 1;
            }
        }
        _ => {
            let mut j = i;
            while json
                .get(j)
                .is_some_and(|b| !matches!(b, b',' | b'}' | b']') && !b.is_ascii_whitespace())
            {
                j += 1;
            }
            (j > i).then_some(j)
        }
    }
}

/// The labels of an archived envelope, for selectors.
struct ArchivedLabels<'a>(&'a ArchivedEnvelope);

impl Labels for ArchivedLabels<'_> {
    fn label(&self, key: &str) -> Option<&str> {
        let labels = self.0.labels.as_slice();
        labels
            .binary_search_by(|p| p.key.as_str().cmp(key))
            .ok()
            .map(|i| labels[i].value.as_str())
    }
}

/// A label and a field selector, checked against the kind they select.
#[derive(Debug, Clone, Default)]
pub struct Selection {
    labels: Selector,
    fields: FieldSelector,
}

impl Selection {
    /// Parses both selectors (400 BadRequest on a syntax error or a field
    /// the kind does not support, worded as Kubernetes words it).
    pub fn parse(info: &ResourceInfo, labels: &str, fields: &str) -> ApiResult<Selection> {
        let labels = Selector::parse(labels).map_err(|e| ApiError::bad_request(e.to_string()))?;
        let fields =
            FieldSelector::parse(fields).map_err(|e| ApiError::bad_request(e.to_string()))?;
        if let Some(reqs) = fields.requirements() {
            let supported = selectable_fields(info);
            if let Some(bad) = reqs.iter().find(|r| !supported.contains(&r.field.as_str())) {
                return Err(ApiError::bad_request(format!(
                    "field label not supported: {}",
                    bad.field
                )));
            }
        }
        Ok(Selection { labels, fields })
    }

    /// Whether this selects everything.
    pub fn is_everything(&self) -> bool {
        self.labels.is_empty() && self.fields.is_empty()
    }

    /// Whether the archived object matches both selectors; reads only the
    /// envelope's labels and fields, never the object.
    pub fn matches(&self, env: &ArchivedEnvelope) -> bool {
        self.labels.matches(&ArchivedLabels(env))
            && self.fields.matches_with(|name| match name {
                "metadata.name" => Some(Cow::Borrowed(env.name.as_str())),
                "metadata.namespace" => Some(Cow::Borrowed(env.namespace.as_str())),
                other => {
                    let fields = env.fields.as_slice();
                    fields
                        .binary_search_by(|p| p.key.as_str().cmp(other))
                        .ok()
                        .map(|i| Cow::Borrowed(fields[i].value.as_str()))
                }
            })
    }

    /// Whether the stored bytes hold a matching object (false if they do not
    /// hold an envelope at all).
    pub fn matches_bytes(&self, bytes: &[u8]) -> bool {
        if self.is_everything() {
            return true;
        }
        let aligned = Aligned::new(bytes);
        aligned.envelope().is_ok_and(|env| self.matches(env))
    }

    /// The same decision made the slow way, on a decoded object (for the
    /// benchmark and as the test oracle).
    pub fn matches_object(&self, info: &ResourceInfo, object: &Object) -> bool {
        let Ok(json) = object.to_json_value() else {
            return false;
        };
        let Ok(env) = envelope_of(info, &json) else {
            return false;
        };
        self.matches_envelope(&env)
    }

    /// The same decision on an envelope that is not archived (the REST edge's
    /// watch fan-out keeps these for the objects it has seen).
    pub fn matches_envelope(&self, env: &Envelope) -> bool {
        let labels: std::collections::BTreeMap<String, String> = env
            .labels
            .iter()
            .map(|p| (p.key.clone(), p.value.clone()))
            .collect();
        self.labels.matches(&labels)
            && self.fields.matches_with(|name| match name {
                "metadata.name" => Some(Cow::Owned(env.name.clone())),
                "metadata.namespace" => Some(Cow::Owned(env.namespace.clone())),
                other => env
                    .fields
                    .iter()
                    .find(|p| p.key == other)
                    .map(|p| Cow::Owned(p.value.clone())),
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::object::{CONFIG_MAP, POD};

    fn pod(node: &str, phase: &str, app: &str) -> Object {
        let json = serde_json::json!({
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": "p", "namespace": "shop", "labels": {"app": app, "tier": "fe"},
                         "resourceVersion": "9"},
            "spec": {"nodeName": node, "containers": [{"name": "c", "image": "nginx"}]},
            "status": {"phase": phase}
        });
        serde_json::from_value(json).expect("a pod")
    }

    fn stored(object: &Object) -> Vec<u8> {
        let json = object.to_json_value().expect("json");
        encode(&envelope_of(object.info(), &json).expect("envelope")).expect("archive")
    }

    /// Selectors read labels and fields from the archive and agree with the
    /// same selectors on the decoded object, for matches and misses alike.
    #[test]
    fn selectors_on_the_archive_agree_with_selectors_on_the_object() {
        let objects = [
            pod("n1", "Running", "web"),
            pod("n2", "Pending", "web"),
            pod("", "Pending", "db"),
        ];
        let selections = [
            ("", "spec.nodeName=n1"),
            ("app=web", "status.phase!=Running"),
            ("app in (db),tier", ""),
            ("!tier", ""),
            ("", "spec.nodeName="),
            ("", "metadata.namespace=shop,metadata.name=p"),
            ("", "spec.hostNetwork=false"),
        ];
        let mut hits = 0;
        for (l, f) in selections {
            let sel = Selection::parse(&POD, l, f).expect("selector");
            for o in &objects {
                let bytes = stored(o);
                let fast = sel.matches_bytes(&bytes);
                assert_eq!(fast, sel.matches_object(&POD, o), "{l:?} {f:?} on {o:?}");
                hits += usize::from(fast);
            }
        }
        // Per selection: n1 only; n2 only; the db pod; none; the unscheduled
        // pod; all three; all three.
        let expected = [1, 1, 1, 0, 1, 3, 3];
        assert_eq!(hits, expected.iter().sum::<usize>());
    }

    /// The stored object decodes back equal, with the key's revision as its
    /// resourceVersion (which is not stored).
    #[test]
    fn a_stored_object_decodes_with_its_revision() {
        let o = pod("n1", "Running", "web");
        let bytes = stored(&o);
        let env = Aligned::new(&bytes);
        assert!(!env
            .envelope()
            .expect("archived")
            .json
            .as_slice()
            .windows(15)
            .any(|w| w == b"resourceVersion"));
        let mut back = decode(&bytes, 42).expect("decodes");
        assert_eq!(back.metadata().resource_version, "42");
        back.metadata_mut().resource_version = "9".into();
        assert_eq!(back, o);
        // Misaligned bytes are copied, not refused.
        let mut shifted = vec![0u8];
        shifted.extend_from_slice(&bytes);
        assert_eq!(decode(&shifted[1..], 42).map(|_| ()), Ok(()));
        assert!(decode(b"not an envelope", 1).is_err());
    }

    /// The JSON spliced from the stored bytes is the JSON of the decoded
    /// object (type meta, resourceVersion and all), including when strings
    /// hold quotes, braces and the word metadata. JSON the splice cannot
    /// place a resourceVersion in safely is left to the decoding path.
    #[test]
    fn json_spliced_from_the_archive_equals_the_decoded_objects_json() {
        let mut tricky = pod("n1", "Running", "web");
        tricky.metadata_mut().annotations.insert(
            "note".into(),
            r#"a "quoted" {"metadata":{}} [x] \ end"#.into(),
        );
        let cm: Object = serde_json::from_value(serde_json::json!({
            "apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"},
            "data": {"metadata": "{\"resourceVersion\":\"1\"}"}
        }))
        .expect("a config map");
        for o in [pod("n1", "Running", "web"), tricky, cm] {
            let bytes = stored(&o);
            let aligned = Aligned::new(&bytes);
            let env = aligned.envelope().expect("archived");
            assert!(resource_version_slot(env.json.as_slice()).is_some());
            let spliced = json_archived(env, 42).expect("json");
            let decoded = object_json_bytes(decode(&bytes, 42).expect("decodes")).expect("json");
            let as_value = |b: &[u8]| serde_json::from_slice::<Value>(b).expect("valid JSON");
            assert_eq!(as_value(&spliced), as_value(&decoded), "{o:?}");
        }
        let untyped = br#"{"metadata":{"name":"p"},"spec":{}}"#;
        assert_eq!(resource_version_slot(untyped), None);
        assert_eq!(
            resource_version_slot(br#"{"apiVersion":"v1","kind":"Pod","metadata":{ }}"#),
            Some(Slot {
                offset: 44,
                empty: true
            })
        );
        assert_eq!(
            resource_version_slot(
                br#"{"apiVersion":"v1","kind":"P","metadata":{"resourceVersion":"1"}}"#
            ),
            None
        );
        assert_eq!(
            resource_version_slot(br#"{"apiVersion":"v1","kind":"P","metadata":{"#),
            None
        );
    }

    /// Unknown fields and bad syntax are refused with Kubernetes' words.
    #[test]
    fn bad_selectors_are_bad_requests() {
        let e = Selection::parse(&CONFIG_MAP, "", "spec.nodeName=x").expect_err("unsupported");
        assert_eq!(e.to_string(), "field label not supported: spec.nodeName");
        assert_eq!(e.code(), 400);
        assert!(Selection::parse(&POD, "a in (", "").is_err());
        assert!(Selection::parse(&POD, "", "nonsense").is_err());
    }
}
