//! Decoding a manifest (JSON or YAML) into a typed [`Object`], reporting
//! unknown fields the way the Kubernetes API server does.
//!
//! The steps follow Kubernetes: YAML is first turned into JSON-shaped data;
//! `apiVersion` and `kind` pick the type; the typed decode then records every
//! field the type does not know, by path (`spec.template.spec.containers[0].foo`).
//! Under strict field validation unknown fields are an error
//! (`strict decoding error: unknown field "spec.foo"`), otherwise warnings.
//!
//! Deliberate differences: a `null` value anywhere is treated as absent before
//! the typed decode (Go's decoder leaves a field at its zero value on `null`,
//! which is the same outcome), so an unknown field whose value is `null` is
//! not reported; duplicate keys keep the last value without a warning. YAML
//! is read as Kubernetes reads it (YAML 1.1 scalars, see [`super::yaml`]),
//! and of a YAML stream only the first document is decoded, as the API
//! server does.

use std::fmt;

use serde_json::Value;

use super::object::{lookup_kind, Object, ResourceInfo};

/// The wire format of a manifest.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Format {
    /// `application/json`.
    Json,
    /// `application/yaml`: one document.
    Yaml,
}

/// A problem with a manifest that does not stop it from being accepted.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Warning {
    /// A field the kind does not have, by path, e.g. `spec.replica`.
    UnknownField(String),
}

impl fmt::Display for Warning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Warning::UnknownField(path) => write!(f, "unknown field {path:?}"),
        }
    }
}

/// Why a manifest could not be decoded. Messages follow the API server's.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// The bytes are not well-formed JSON or YAML.
    #[error("couldn't get version/kind; json parse error: {0}")]
    Syntax(String),
    /// The document is not a JSON object (a list, a string, empty...).
    #[error("couldn't get version/kind; json parse error: expected an object")]
    NotAnObject,
    /// `apiVersion` is missing or empty.
    #[error("Object 'apiVersion' is missing in '{0}'")]
    MissingApiVersion(String),
    /// `kind` is missing or empty.
    #[error("Object 'Kind' is missing in '{0}'")]
    MissingKind(String),
    /// Hive serves no such kind in that version.
    #[error("no kind {kind:?} is registered for version {api_version:?}")]
    UnknownKind {
        /// The document's `apiVersion`.
        api_version: String,
        /// The document's `kind`.
        kind: String,
    },
    /// A field has the wrong type or an unparsable value.
    #[error("{kind} in version {version:?} cannot be handled as a {kind}: {path}: {message}")]
    Invalid {
        /// The kind being decoded.
        kind: String,
        /// Its version.
        version: String,
        /// The path of the offending field, e.g. `spec.replicas`.
        path: String,
        /// What was wrong.
        message: String,
    },
    /// Strict field validation found unknown fields.
    #[error("strict decoding error: {}", join_warnings(.0))]
    Strict(Vec<Warning>),
}

fn join_warnings(warnings: &[Warning]) -> String {
    warnings
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

/// The longest snippet of a document quoted in a missing-kind error.
const SNIPPET_MAX: usize = 200;

/// Decodes one manifest into a typed object.
///
/// Returns the object and the unknown-field warnings; with `strict`, unknown
/// fields are an error instead ([`DecodeError::Strict`]). The object is not
/// defaulted or validated.
pub fn decode_object(
    bytes: &[u8],
    format: Format,
    strict: bool,
) -> Result<(Object, Vec<Warning>), DecodeError> {
    let mut value = parse_value(bytes, format)?;
    if !value.is_object() {
        return Err(DecodeError::NotAnObject);
    }
    strip_nulls(&mut value);
    let info = resolve_kind(&value, bytes)?;
    decode_value_as(info, value, strict)
}

/// Decodes a JSON value already known to be of kind `info`.
pub fn decode_value_as(
    info: &ResourceInfo,
    mut value: Value,
    strict: bool,
) -> Result<(Object, Vec<Warning>), DecodeError> {
    strip_nulls(&mut value);
    let mut warnings = Vec::new();
    let mut track = serde_path_to_error::Track::new();
    let result = {
        let mut on_unknown = |path: serde_ignored::Path<'_>| {
            warnings.push(Warning::UnknownField(render_ignored_path(&path)));
        };
        let ignoring = serde_ignored::Deserializer::new(value, &mut on_unknown);
        let tracked = serde_path_to_error::Deserializer::new(ignoring, &mut track);
        Object::deserialize_as(info, tracked)
    };
    let object = result.map_err(|e| DecodeError::Invalid {
        kind: info.kind.to_owned(),
        version: info.version.to_owned(),
        path: render_error_path(&track.path()),
        message: e.to_string(),
    })?;
    if strict && !warnings.is_empty() {
        return Err(DecodeError::Strict(warnings));
    }
    Ok((object, warnings))
}

fn parse_value(bytes: &[u8], format: Format) -> Result<Value, DecodeError> {
    match format {
        Format::Json => {
            serde_json::from_slice(bytes).map_err(|e| DecodeError::Syntax(e.to_string()))
        }
        Format::Yaml => {
            let text =
                std::str::from_utf8(bytes).map_err(|e| DecodeError::Syntax(e.to_string()))?;
            super::yaml::first_document(text).map_err(|e| DecodeError::Syntax(e.to_string()))
        }
    }
}

fn resolve_kind(value: &Value, bytes: &[u8]) -> Result<&'static ResourceInfo, DecodeError> {
    let snippet = || {
        let text = String::from_utf8_lossy(bytes);
        text.chars().take(SNIPPET_MAX).collect::<String>()
    };
    let api_version = value
        .get("apiVersion")
        .and_then(Value::as_str)
        .unwrap_or("");
    let kind = value.get("kind").and_then(Value::as_str).unwrap_or("");
    if kind.is_empty() {
        return Err(DecodeError::MissingKind(snippet()));
    }
    if api_version.is_empty() {
        return Err(DecodeError::MissingApiVersion(snippet()));
    }
    lookup_kind(api_version, kind).ok_or_else(|| DecodeError::UnknownKind {
        api_version: api_version.to_owned(),
        kind: kind.to_owned(),
    })
}

/// Removes every `null` object member, recursively (see the module notes).
fn strip_nulls(value: &mut Value) {
    match value {
        Value::Object(map) => {
            map.retain(|_, v| !v.is_null());
            for v in map.values_mut() {
                strip_nulls(v);
            }
        }
        Value::Array(items) => items.iter_mut().for_each(strip_nulls),
        _ => {}
    }
}

/// Renders a `serde_ignored` path as Kubernetes does: fields joined by `.`,
/// list indexes in brackets.
fn render_ignored_path(path: &serde_ignored::Path<'_>) -> String {
    let mut out = String::new();
    push_ignored(path, &mut out);
    out
}

fn push_ignored(path: &serde_ignored::Path<'_>, out: &mut String) {
    use serde_ignored::Path;
    match path {
        Path::Root => {}
        Path::Seq { parent, index } => {
            push_ignored(parent, out);
            out.push_str(&format!("[{index}]"));
        }
        Path::Map { parent, key } => {
            push_ignored(parent, out);
            if !out.is_empty() {
                out.push('.');
            }
            out.push_str(key);
        }
        Path::Some { parent }
        | Path::NewtypeStruct { parent }
        | Path::NewtypeVariant { parent } => {
            push_ignored(parent, out);
        }
    }
}

fn render_error_path(path: &serde_path_to_error::Path) -> String {
    use serde_path_to_error::Segment;
    let mut out = String::new();
    for segment in path.iter() {
        match segment {
            Segment::Seq { index } => out.push_str(&format!("[{index}]")),
            Segment::Map { key } | Segment::Enum { variant: key } => {
                if !out.is_empty() {
                    out.push('.');
                }
                out.push_str(key);
            }
            Segment::Unknown => {}
        }
    }
    out
}
