//! Kubernetes' protobuf encoding of built-in objects, decoded into the JSON the same
//! object has.
//!
//! kubectl's `create` subcommands (and every client-go typed clientset) send bodies as
//! `application/vnd.kubernetes.protobuf`: the four magic bytes `k8s\0`, then a
//! `runtime.Unknown` envelope whose `typeMeta` names the kind and whose `raw` holds the
//! object's own message from the API's `generated.proto`. Hive keeps objects as JSON,
//! so [`decode`] turns such a body into a JSON value, with apiVersion and kind set,
//! that then takes exactly the path a JSON body takes (defaulting, validation,
//! unknown-field warnings).
//!
//! The mapping is driven by [`schema`], a table generated from Kubernetes' own
//! definitions (`tools/k8s-proto-schema.py`), and follows apimachinery's JSON forms:
//! `Time` and `MicroTime` become RFC 3339 strings (the zero time, sent as an empty
//! message, is left out), `Quantity` its string, `IntOrString` a number or a string,
//! `RawExtension` and `FieldsV1` the JSON they carry, `bytes` base64, maps objects,
//! inlined members (`json:",inline"`, e.g. a Volume's source) merged into their
//! parent, and the zero value of a Go value-typed `omitempty` scalar (which Go's
//! marshaller always sends) left out, so the result is the JSON Kubernetes itself
//! would write for the object. Fields the table does not know are skipped, as
//! Kubernetes skips them.
//! Nothing here panics on any input: truncated or malformed bytes give a
//! [`ProtobufError`] naming the field path.

mod schema;

use base64::Engine as _;
use serde_json::{Map, Value};

use crate::api::time::{MicroTime, Time};

/// The media type Kubernetes clients send protobuf bodies as.
pub const MEDIA_TYPE: &str = "application/vnd.kubernetes.protobuf";

/// The four bytes every Kubernetes protobuf body starts with.
const MAGIC: &[u8; 4] = b"k8s\0";

/// Messages nest at most this deep (Kubernetes' own types nest about 12 deep).
const MAX_DEPTH: usize = 64;

/// One protobuf message of the schema.
#[derive(Debug)]
pub struct Message {
    /// The message's name, its proto package without `k8s.io.` (`api.core.v1.Pod`).
    pub name: &'static str,
    /// Its fields, by number.
    pub fields: &'static [Field],
}

/// One field of a [`Message`].
#[derive(Debug)]
pub struct Field {
    /// The field number on the wire.
    pub number: u32,
    /// The JSON name (empty for an inlined member).
    pub json: &'static str,
    /// Single, repeated, a map or inlined.
    pub label: Label,
    /// The value's type (a map's value type).
    pub ty: Ty,
    /// A value-typed Go scalar with `omitempty`: Go's marshaller always sends it, Go's
    /// JSON leaves its zero value out, and so does this decoder.
    pub omit_zero: bool,
}

/// How often a field occurs and where its value goes.
#[derive(Debug, Clone, Copy)]
pub enum Label {
    /// At most one value (the last one on the wire wins).
    Single,
    /// A JSON array.
    Repeated,
    /// A JSON object keyed by entries of the given key type.
    Map(Ty),
    /// A message whose fields are members of the parent's JSON object.
    Inline,
}

/// A field's value type.
#[derive(Debug, Clone, Copy)]
pub enum Ty {
    /// `string`.
    Str,
    /// `bytes`, base64 in JSON.
    Bytes,
    /// `bool`.
    Bool,
    /// `int32`.
    I32,
    /// `int64`.
    I64,
    /// `uint32`.
    U32,
    /// `uint64`.
    U64,
    /// `double`.
    F64,
    /// `float`.
    F32,
    /// A message of the schema, by name.
    Msg(&'static str),
}

/// Why a protobuf body could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProtobufError {
    /// Where in the object (`spec.template.spec.containers`), empty at the envelope.
    pub path: String,
    /// What was wrong.
    pub reason: String,
}

impl std::fmt::Display for ProtobufError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.path.is_empty() {
            f.write_str(&self.reason)
        } else {
            write!(f, "{}: {}", self.path, self.reason)
        }
    }
}

impl std::error::Error for ProtobufError {}

fn error(path: &str, reason: impl Into<String>) -> ProtobufError {
    ProtobufError {
        path: path.to_owned(),
        reason: reason.into(),
    }
}

/// Decodes a Kubernetes protobuf body (`k8s\0` + `runtime.Unknown`) into the object's
/// JSON, `apiVersion` and `kind` first.
pub fn decode(body: &[u8]) -> Result<Value, ProtobufError> {
    let Some(envelope) = body.strip_prefix(MAGIC) else {
        return Err(error(
            "",
            "the body does not start with the Kubernetes protobuf magic \"k8s\\0\"",
        ));
    };
    let unknown = Envelope::read(envelope)?;
    if !unknown.content_encoding.is_empty() {
        return Err(error(
            "",
            format!(
                "content encoding {:?} is not supported",
                unknown.content_encoding
            ),
        ));
    }
    if !unknown.content_type.is_empty() && unknown.content_type != MEDIA_TYPE {
        return Err(error(
            "",
            format!(
                "the envelope holds content type {:?}, expected {MEDIA_TYPE}",
                unknown.content_type
            ),
        ));
    }
    if unknown.kind.is_empty() {
        return Err(error("", "the envelope names no kind (typeMeta.kind)"));
    }
    let name = message_name(&unknown.api_version, &unknown.kind).ok_or_else(|| {
        error(
            "",
            format!(
                "no protobuf message is known for {} {}",
                unknown.api_version, unknown.kind
            ),
        )
    })?;
    let message = lookup(&name).ok_or_else(|| {
        error(
            "",
            format!(
                "kind {} of {} cannot be decoded from protobuf",
                unknown.kind, unknown.api_version
            ),
        )
    })?;
    let mut object = Map::new();
    object.insert("apiVersion".into(), Value::String(unknown.api_version));
    object.insert("kind".into(), Value::String(unknown.kind));
    decode_into(unknown.raw, message, &mut object, "", 0)?;
    Ok(Value::Object(object))
}

/// The fields of `runtime.Unknown` Hive reads.
#[derive(Default)]
struct Envelope<'a> {
    api_version: String,
    kind: String,
    raw: &'a [u8],
    content_encoding: String,
    content_type: String,
}

impl<'a> Envelope<'a> {
    fn read(bytes: &'a [u8]) -> Result<Envelope<'a>, ProtobufError> {
        let mut out = Envelope::default();
        let mut r = Reader::new(bytes);
        while let Some((number, value)) = r.next_field("")? {
            match (number, value) {
                (1, Wire::Bytes(meta)) => {
                    let mut m = Reader::new(meta);
                    while let Some((n, v)) = m.next_field("typeMeta")? {
                        match (n, v) {
                            (1, Wire::Bytes(b)) => {
                                out.api_version = utf8(b, "typeMeta.apiVersion")?
                            }
                            (2, Wire::Bytes(b)) => out.kind = utf8(b, "typeMeta.kind")?,
                            _ => {}
                        }
                    }
                }
                (2, Wire::Bytes(b)) => out.raw = b,
                (3, Wire::Bytes(b)) => out.content_encoding = utf8(b, "contentEncoding")?,
                (4, Wire::Bytes(b)) => out.content_type = utf8(b, "contentType")?,
                _ => {}
            }
        }
        Ok(out)
    }
}

/// The schema message of a built-in kind: `apps/v1` `Deployment` is
/// `api.apps.v1.Deployment`; DeleteOptions is apimachinery's wherever it is sent.
fn message_name(api_version: &str, kind: &str) -> Option<String> {
    if kind == "DeleteOptions" {
        return Some("apimachinery.pkg.apis.meta.v1.DeleteOptions".to_owned());
    }
    let (group, version) = api_version.rsplit_once('/').unwrap_or(("", api_version));
    let package = match group {
        "" => "core",
        "apps" | "batch" | "autoscaling" => group,
        _ => group.strip_suffix(".k8s.io")?.split('.').next()?,
    };
    Some(format!("api.{package}.{version}.{kind}"))
}

fn lookup(name: &str) -> Option<&'static Message> {
    schema::MESSAGES
        .binary_search_by(|m| m.name.cmp(name))
        .ok()
        .map(|i| &schema::MESSAGES[i])
}

/// One field's value as it is on the wire.
#[derive(Clone, Copy)]
enum Wire<'a> {
    Varint(u64),
    Fixed64(u64),
    Fixed32(u32),
    Bytes(&'a [u8]),
}

/// Reads fields off a message's bytes.
struct Reader<'a> {
    bytes: &'a [u8],
}

impl<'a> Reader<'a> {
    fn new(bytes: &'a [u8]) -> Self {
        Reader { bytes }
    }

    fn varint(&mut self, path: &str) -> Result<u64, ProtobufError> {
        let mut value = 0u64;
        for i in 0..10 {
            let Some((&byte, rest)) = self.bytes.split_first() else {
                return Err(error(path, "truncated varint"));
            };
            self.bytes = rest;
            value |= u64::from(byte & 0x7f) << (7 * i);
            if byte & 0x80 == 0 {
                return Ok(value);
            }
        }
        Err(error(path, "varint longer than 10 bytes"))
    }

    fn take(&mut self, n: usize, path: &str) -> Result<&'a [u8], ProtobufError> {
        if self.bytes.len() < n {
            return Err(error(
                path,
                format!("truncated: {n} bytes announced, {} left", self.bytes.len()),
            ));
        }
        let (head, rest) = self.bytes.split_at(n);
        self.bytes = rest;
        Ok(head)
    }

    /// The next field's number and value, or `None` at the end of the message.
    fn next_field(&mut self, path: &str) -> Result<Option<(u32, Wire<'a>)>, ProtobufError> {
        if self.bytes.is_empty() {
            return Ok(None);
        }
        let key = self.varint(path)?;
        let number = u32::try_from(key >> 3)
            .ok()
            .filter(|&n| n > 0)
            .ok_or_else(|| error(path, format!("invalid field number {}", key >> 3)))?;
        let value = match key & 7 {
            0 => Wire::Varint(self.varint(path)?),
            1 => Wire::Fixed64(u64::from_le_bytes(
                self.take(8, path)?.try_into().expect("8 bytes"),
            )),
            2 => {
                let len = usize::try_from(self.varint(path)?)
                    .map_err(|_| error(path, "length does not fit in memory"))?;
                Wire::Bytes(self.take(len, path)?)
            }
            5 => Wire::Fixed32(u32::from_le_bytes(
                self.take(4, path)?.try_into().expect("4 bytes"),
            )),
            other => {
                return Err(error(
                    path,
                    format!("field {number} has unsupported wire type {other}"),
                ))
            }
        };
        Ok(Some((number, value)))
    }
}

fn utf8(bytes: &[u8], path: &str) -> Result<String, ProtobufError> {
    String::from_utf8(bytes.to_vec()).map_err(|_| error(path, "string is not valid UTF-8"))
}

fn child(path: &str, name: &str) -> String {
    if path.is_empty() {
        name.to_owned()
    } else {
        format!("{path}.{name}")
    }
}

/// Decodes `bytes`, a `message`, adding its fields to `object`.
fn decode_into(
    bytes: &[u8],
    message: &Message,
    object: &mut Map<String, Value>,
    path: &str,
    depth: usize,
) -> Result<(), ProtobufError> {
    if depth > MAX_DEPTH {
        return Err(error(path, "messages nest too deep"));
    }
    let mut reader = Reader::new(bytes);
    while let Some((number, wire)) = reader.next_field(path)? {
        let Some(field) = message.fields.iter().find(|f| f.number == number) else {
            continue;
        };
        let here = match field.label {
            Label::Inline => path.to_owned(),
            _ => child(path, field.json),
        };
        let path = here.as_str();
        match field.label {
            Label::Single => match value(field.ty, wire, path, depth)? {
                Some(value) if !(field.omit_zero && is_zero(&value)) => {
                    object.insert(field.json.to_owned(), value);
                }
                _ => {
                    object.remove(field.json);
                }
            },
            Label::Repeated => {
                let list = object
                    .entry(field.json)
                    .or_insert_with(|| Value::Array(Vec::new()));
                let Value::Array(list) = list else {
                    return Err(error(path, "field given both as a list and as a value"));
                };
                match (wire, packed_width(field.ty)) {
                    (Wire::Bytes(packed), Some(width)) => {
                        let mut r = Reader::new(packed);
                        while !r.bytes.is_empty() {
                            let item = match width {
                                0 => Wire::Varint(r.varint(path)?),
                                4 => Wire::Fixed32(u32::from_le_bytes(
                                    r.take(4, path)?.try_into().expect("4 bytes"),
                                )),
                                _ => Wire::Fixed64(u64::from_le_bytes(
                                    r.take(8, path)?.try_into().expect("8 bytes"),
                                )),
                            };
                            list.extend(value(field.ty, item, path, depth)?);
                        }
                    }
                    _ => list.push(value(field.ty, wire, path, depth)?.unwrap_or(Value::Null)),
                }
            }
            Label::Map(key_ty) => {
                let Wire::Bytes(entry) = wire else {
                    return Err(error(path, "map entry is not length-delimited"));
                };
                let (mut key, mut val) = (None, None);
                let mut r = Reader::new(entry);
                while let Some((n, w)) = r.next_field(path)? {
                    match n {
                        1 => key = value(key_ty, w, path, depth)?,
                        2 => val = value(field.ty, w, path, depth)?,
                        _ => {}
                    }
                }
                let key = match key {
                    None => String::new(),
                    Some(Value::String(s)) => s,
                    Some(other) => other.to_string(),
                };
                let map = object
                    .entry(field.json)
                    .or_insert_with(|| Value::Object(Map::new()));
                let Value::Object(map) = map else {
                    return Err(error(path, "field given both as a map and as a value"));
                };
                map.insert(key, val.unwrap_or_else(|| zero(field.ty)));
            }
            Label::Inline => {
                let (Ty::Msg(name), Wire::Bytes(b)) = (field.ty, wire) else {
                    return Err(error(path, "inlined member is not a message"));
                };
                let inner =
                    lookup(name).ok_or_else(|| error(path, format!("unknown message {name}")))?;
                decode_into(b, inner, object, path, depth + 1)?;
            }
        }
    }
    Ok(())
}

/// How a packed repeated scalar is laid out: `Some(0)` varints, `Some(4|8)` fixed.
fn packed_width(ty: Ty) -> Option<u8> {
    match ty {
        Ty::Bool | Ty::I32 | Ty::I64 | Ty::U32 | Ty::U64 => Some(0),
        Ty::F32 => Some(4),
        Ty::F64 => Some(8),
        Ty::Str | Ty::Bytes | Ty::Msg(_) => None,
    }
}

/// Whether a scalar is its type's zero value.
fn is_zero(value: &Value) -> bool {
    match value {
        Value::String(s) => s.is_empty(),
        Value::Bool(b) => !b,
        Value::Number(n) => n.as_f64() == Some(0.0),
        _ => false,
    }
}

/// A map value's JSON when its entry carries none (proto's default).
fn zero(ty: Ty) -> Value {
    match ty {
        Ty::Str | Ty::Bytes => Value::String(String::new()),
        Ty::Bool => Value::Bool(false),
        Ty::I32 | Ty::I64 | Ty::U32 | Ty::U64 => Value::from(0),
        Ty::F32 | Ty::F64 => Value::from(0.0),
        Ty::Msg(_) => Value::Object(Map::new()),
    }
}

fn mismatch(path: &str, ty: Ty, wire: Wire<'_>) -> ProtobufError {
    let expected = match ty {
        Ty::Str => "a string".to_owned(),
        Ty::Bytes => "bytes".to_owned(),
        Ty::Bool => "a bool".to_owned(),
        Ty::I32 | Ty::I64 | Ty::U32 | Ty::U64 => "an integer".to_owned(),
        Ty::F32 | Ty::F64 => "a floating-point number".to_owned(),
        Ty::Msg(name) => format!("a {} message", name.rsplit('.').next().unwrap_or(name)),
    };
    let found = match wire {
        Wire::Varint(_) => "a varint",
        Wire::Fixed64(_) => "a 64-bit value",
        Wire::Fixed32(_) => "a 32-bit value",
        Wire::Bytes(_) => "a length-delimited value",
    };
    error(path, format!("expected {expected}, found {found}"))
}

/// One value as JSON; `None` for a value JSON leaves out (the zero `Time`).
fn value(ty: Ty, wire: Wire<'_>, path: &str, depth: usize) -> Result<Option<Value>, ProtobufError> {
    Ok(Some(match (ty, wire) {
        (Ty::Str, Wire::Bytes(b)) => Value::String(utf8(b, path)?),
        (Ty::Bytes, Wire::Bytes(b)) => {
            Value::String(base64::engine::general_purpose::STANDARD.encode(b))
        }
        (Ty::Bool, Wire::Varint(v)) => Value::Bool(v != 0),
        // int32 is sign-extended to 64 bits on the wire; truncation recovers it.
        (Ty::I32, Wire::Varint(v)) => Value::from(v as i32),
        (Ty::I64, Wire::Varint(v)) => Value::from(v as i64),
        (Ty::U32, Wire::Varint(v)) => Value::from(v as u32),
        (Ty::U64, Wire::Varint(v)) => Value::from(v),
        (Ty::F64, Wire::Fixed64(v)) => number(f64::from_bits(v), path)?,
        (Ty::F32, Wire::Fixed32(v)) => number(f64::from(f32::from_bits(v)), path)?,
        (Ty::Msg(name), Wire::Bytes(b)) => return message(name, b, path, depth + 1),
        _ => return Err(mismatch(path, ty, wire)),
    }))
}

fn number(v: f64, path: &str) -> Result<Value, ProtobufError> {
    serde_json::Number::from_f64(v)
        .map(Value::Number)
        .ok_or_else(|| error(path, format!("{v} has no JSON form")))
}

/// A message as JSON: the types apimachinery writes in a form of their own, the rest
/// as objects.
fn message(
    name: &str,
    bytes: &[u8],
    path: &str,
    depth: usize,
) -> Result<Option<Value>, ProtobufError> {
    let fields = || scalar_fields(bytes, path);
    Ok(Some(match name {
        "apimachinery.pkg.apis.meta.v1.Time" | "apimachinery.pkg.apis.meta.v1.MicroTime" => {
            if bytes.is_empty() {
                return Ok(None);
            }
            let f = fields()?;
            let seconds = f.varint(1) as i64;
            let nanos = f.varint(2) as i32;
            // RFC 3339's range: 0001-01-01 to 9999-12-31.
            if !(-62_135_596_800..=253_402_300_799).contains(&seconds)
                || !(0..1_000_000_000).contains(&nanos)
            {
                return Err(error(
                    path,
                    format!("time {seconds}s {nanos}ns is out of range"),
                ));
            }
            if name.ends_with("MicroTime") {
                let micros = seconds * 1_000_000 + i64::from(nanos / 1_000);
                Value::String(MicroTime::from_unix_micros(micros).to_string())
            } else {
                Value::String(Time::from_unix(seconds).to_string())
            }
        }
        "apimachinery.pkg.api.resource.Quantity" => Value::String(fields()?.string(1, path)?),
        "apimachinery.pkg.util.intstr.IntOrString" => {
            let f = fields()?;
            if f.varint(1) == 1 {
                Value::String(f.string(3, path)?)
            } else {
                Value::from(f.varint(2) as i32)
            }
        }
        "apimachinery.pkg.runtime.RawExtension" | "apimachinery.pkg.apis.meta.v1.FieldsV1" => {
            let raw = fields()?.bytes(1);
            if raw.is_empty() {
                return Ok(None);
            }
            serde_json::from_slice(raw)
                .map_err(|e| error(path, format!("embedded raw value is not JSON: {e}")))?
        }
        _ => {
            let message =
                lookup(name).ok_or_else(|| error(path, format!("unknown message {name}")))?;
            let mut object = Map::new();
            decode_into(bytes, message, &mut object, path, depth)?;
            Value::Object(object)
        }
    }))
}

/// The last value of each field of a small message, for the types decoded by hand.
struct ScalarFields<'a> {
    fields: Vec<(u32, Wire<'a>)>,
}

fn scalar_fields<'a>(bytes: &'a [u8], path: &str) -> Result<ScalarFields<'a>, ProtobufError> {
    let mut fields = Vec::new();
    let mut r = Reader::new(bytes);
    while let Some(field) = r.next_field(path)? {
        fields.push(field);
    }
    Ok(ScalarFields { fields })
}

impl<'a> ScalarFields<'a> {
    fn last(&self, number: u32) -> Option<Wire<'a>> {
        self.fields
            .iter()
            .rev()
            .find(|(n, _)| *n == number)
            .map(|(_, w)| *w)
    }

    fn varint(&self, number: u32) -> u64 {
        match self.last(number) {
            Some(Wire::Varint(v)) => v,
            _ => 0,
        }
    }

    fn bytes(&self, number: u32) -> &'a [u8] {
        match self.last(number) {
            Some(Wire::Bytes(b)) => b,
            _ => &[],
        }
    }

    fn string(&self, number: u32, path: &str) -> Result<String, ProtobufError> {
        utf8(self.bytes(number), path)
    }
}

#[cfg(test)]
mod tests;
