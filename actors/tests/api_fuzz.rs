//! Seeded random inputs for the manifest decoder: garbage bytes, random JSON
//! documents, and corpus manifests mutated structurally and textually. The
//! one invariant: decoding (then defaulting, validating and re-encoding
//! whatever decodes) never panics.
//!
//! A failure prints the seed and iteration; replay with
//! `HIVE_FUZZ_SEED=<seed> cargo test -p hive-actors --test api_fuzz`.
//! `HIVE_FUZZ_ITERS` sets the number of inputs (default 3000).

mod api_support;

use std::panic::{catch_unwind, AssertUnwindSafe};

use api_support::{corpus_files, load};
use hive_actors::api::{decode_object, defaults, validate, Format, RESOURCES};
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use serde_json::{Map, Value};

const DEFAULT_SEED: u64 = 0x5eed_1234_abcd;

fn env_u64(name: &str) -> Option<u64> {
    std::env::var(name).ok().and_then(|v| v.parse().ok())
}

/// Feeds one input through everything that consumes a manifest.
fn exercise(bytes: &[u8]) {
    for format in [Format::Json, Format::Yaml] {
        for strict in [false, true] {
            if let Ok((mut object, _)) = decode_object(bytes, format, strict) {
                let _ = validate::validate_object(&object);
                defaults::default_object(&mut object);
                let errors = validate::validate_object(&object);
                let _ = errors.to_string();
                let _ = serde_json::to_vec(&object);
                let _ = object.key();
            }
        }
    }
}

fn random_string(rng: &mut SmallRng) -> String {
    const PIECES: &[&str] = &[
        "",
        "a",
        "web",
        "Web",
        "-",
        ".",
        "..",
        "/",
        "%",
        "*",
        "0755",
        "yes",
        "~",
        "null",
        "1e3",
        "500m",
        "1Gi",
        "-1",
        "25%",
        "101%",
        "http",
        "TCP",
        "Always",
        "None",
        "é",
        "\u{0}",
        "\n",
        "'",
        "\"",
        ":",
        "#",
        "&a",
        "*a",
        "<<",
        "!!str",
        "[",
        "{",
        "2024-05-01T10:00:00Z",
        "9999999999999999999999",
    ];
    let n = rng.gen_range(0..4);
    (0..n)
        .map(|_| PIECES[rng.gen_range(0..PIECES.len())])
        .collect()
}

fn random_value(rng: &mut SmallRng, depth: u32) -> Value {
    let choice = if depth == 0 {
        rng.gen_range(0..5)
    } else {
        rng.gen_range(0..7)
    };
    match choice {
        0 => Value::Null,
        1 => Value::Bool(rng.gen()),
        2 => Value::from(rng.gen_range(-70_000i64..70_000)),
        3 => serde_json::Number::from_f64(rng.gen_range(-1e6..1e6))
            .map_or(Value::Null, Value::Number),
        4 => Value::String(random_string(rng)),
        5 => Value::Array(
            (0..rng.gen_range(0..4))
                .map(|_| random_value(rng, depth - 1))
                .collect(),
        ),
        _ => {
            const KEYS: &[&str] = &[
                "name",
                "image",
                "spec",
                "metadata",
                "containers",
                "ports",
                "containerPort",
                "replicas",
                "selector",
                "matchLabels",
                "template",
                "labels",
                "data",
                "type",
                "port",
                "targetPort",
                "resources",
                "limits",
                "cpu",
                "foo",
            ];
            let mut map = Map::new();
            for _ in 0..rng.gen_range(0..4) {
                let key = KEYS[rng.gen_range(0..KEYS.len())].to_owned();
                map.insert(key, random_value(rng, depth - 1));
            }
            Value::Object(map)
        }
    }
}

/// A random document, usually with a registered apiVersion and kind so the
/// typed decoders are reached.
fn random_document(rng: &mut SmallRng) -> Value {
    let mut doc = match random_value(rng, 4) {
        Value::Object(map) => map,
        _ => Map::new(),
    };
    if rng.gen_bool(0.8) {
        let info = RESOURCES[rng.gen_range(0..RESOURCES.len())];
        doc.insert("apiVersion".to_owned(), Value::String(info.api_version()));
        doc.insert("kind".to_owned(), Value::String(info.kind.to_owned()));
    }
    Value::Object(doc)
}

/// Changes one randomly chosen node of `value`.
fn mutate(rng: &mut SmallRng, value: &mut Value) {
    // Choose the node by walking down read-only, then edit it by pointer.
    let mut pointer = String::new();
    let mut cursor = &*value;
    while rng.gen_bool(0.75) {
        let next = match cursor {
            Value::Object(map) if !map.is_empty() => {
                let idx = rng.gen_range(0..map.len());
                map.iter()
                    .nth(idx)
                    .map(|(k, v)| (k.replace('~', "~0").replace('/', "~1"), v))
            }
            Value::Array(items) if !items.is_empty() => {
                let idx = rng.gen_range(0..items.len());
                items.get(idx).map(|v| (idx.to_string(), v))
            }
            _ => None,
        };
        let Some((segment, child)) = next else {
            break;
        };
        pointer.push('/');
        pointer.push_str(&segment);
        cursor = child;
    }
    let Some(node) = value.pointer_mut(&pointer) else {
        return;
    };
    match rng.gen_range(0..6) {
        0 => *node = random_value(rng, 2),
        1 => *node = Value::String(random_string(rng)),
        2 => {
            if let Value::Object(map) = node {
                if let Some(key) = map.keys().next().cloned() {
                    map.remove(&key);
                }
            }
        }
        3 => {
            if let Value::Array(items) = node {
                if let Some(first) = items.first().cloned() {
                    items.push(first);
                }
            }
        }
        4 => {
            if let Value::Object(map) = node {
                map.insert(random_string(rng), random_value(rng, 2));
            }
        }
        _ => *node = Value::from(rng.gen_range(-3i64..100_000)),
    }
}

/// Flips, inserts, deletes or truncates bytes of `text`.
fn mutate_text(rng: &mut SmallRng, text: &mut Vec<u8>) {
    for _ in 0..rng.gen_range(1..6) {
        if text.is_empty() {
            text.push(b'{');
        }
        let at = rng.gen_range(0..text.len());
        match rng.gen_range(0..5) {
            0 => text[at] = rng.gen(),
            1 => text.insert(at, b"-:{}[]'\"&*!|>#\n \t"[rng.gen_range(0..17)]),
            2 => {
                text.remove(at);
            }
            3 => text.truncate(at),
            _ => {
                let end = (at + rng.gen_range(1..40)).min(text.len());
                let chunk = text[at..end].to_vec();
                text.splice(at..at, chunk);
            }
        }
    }
}

/// Decoding garbage, random documents and mutated corpus manifests never
/// panics, in JSON or YAML, strict or not.
#[test]
fn decoding_random_and_mutated_manifests_never_panics() {
    let seed = env_u64("HIVE_FUZZ_SEED").unwrap_or(DEFAULT_SEED);
    let iterations = env_u64("HIVE_FUZZ_ITERS").unwrap_or(3000);
    let corpus: Vec<(Vec<u8>, Value)> = corpus_files()
        .iter()
        .map(|p| {
            let m = load(p);
            (m.bytes, m.json)
        })
        .collect();
    let mut rng = SmallRng::seed_from_u64(seed);
    for iteration in 0..iterations {
        let input: Vec<u8> = match rng.gen_range(0..5) {
            0 => (0..rng.gen_range(0..256)).map(|_| rng.gen()).collect(),
            1 => serde_json::to_vec(&random_document(&mut rng)).unwrap_or_default(),
            2 => {
                let (_, json) = &corpus[rng.gen_range(0..corpus.len())];
                let mut doc = json.clone();
                for _ in 0..rng.gen_range(1..4) {
                    mutate(&mut rng, &mut doc);
                }
                serde_json::to_vec(&doc).unwrap_or_default()
            }
            _ => {
                let (bytes, _) = &corpus[rng.gen_range(0..corpus.len())];
                let mut text = bytes.clone();
                mutate_text(&mut rng, &mut text);
                text
            }
        };
        let outcome = catch_unwind(AssertUnwindSafe(|| exercise(&input)));
        if let Err(panic) = outcome {
            eprintln!(
                "panic at iteration {iteration} with seed {seed}; replay: HIVE_FUZZ_SEED={seed} cargo test -p hive-actors --test api_fuzz\ninput: {:?}",
                String::from_utf8_lossy(&input)
            );
            std::panic::resume_unwind(panic);
        }
    }
}

/// Pathological YAML (deep nesting, alias bombs, huge numbers) is refused
/// or read without panicking or running away.
#[test]
fn pathological_yaml_is_handled() {
    let mut bomb = String::from("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\na0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
    for i in 1..9 {
        let p = i - 1;
        bomb.push_str(&format!(
            "a{i}: &a{i} [*a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}]\n"
        ));
    }
    let inputs = [
        bomb,
        "[".repeat(10_000),
        format!("apiVersion: v1\nkind: Pod\nmetadata: {}\n", "{a: ".repeat(200)),
        "apiVersion: v1\nkind: Pod\nspec: {containers: [{name: a, ports: [{containerPort: 99999999999999999999999}]}]}\n".to_owned(),
        "apiVersion: v1\nkind: Pod\nmetadata: {name: .inf}\n".to_owned(),
        "\u{feff}apiVersion: v1\nkind: Namespace\nmetadata: {name: x}\n".to_owned(),
    ];
    for input in inputs {
        exercise(input.as_bytes());
    }
    assert!(decode_object(b"\xff\xfe", Format::Yaml, false).is_err());
}
