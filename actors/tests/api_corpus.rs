//! The manifest corpus (`tests/corpus/*.yaml`): realistic manifests of every
//! kind Hive serves, each of which must decode strictly, keep every field it
//! was given, default idempotently, validate cleanly, survive a JSON round
//! trip, and match Kubernetes' own schema (k8s-openapi, 1.32) field for field.

mod api_support;

use std::collections::BTreeSet;

use api_support::{
    contained_in, corpus_files, decode_strict, json_diff, k8s_openapi_round_trip, load, prepare,
};
use hive_actors::api::{validate, Format, Object, RESOURCES};

/// Runs `check` on every corpus manifest and reports every failure at once.
fn for_each_manifest(check: impl Fn(&api_support::Manifest) -> Result<(), String>) {
    let files = corpus_files();
    let failures: Vec<String> = files
        .iter()
        .map(|path| load(path))
        .filter_map(|m| {
            check(&m)
                .err()
                .map(|e| format!("{}: {e}", m.path.display()))
        })
        .collect();
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

fn decoded_and_prepared(m: &api_support::Manifest) -> Result<Object, String> {
    let mut object = decode_strict(&m.bytes, Format::Yaml)?;
    prepare(&mut object);
    Ok(object)
}

/// The corpus is large enough and covers every registered kind.
#[test]
fn corpus_has_thirty_manifests_covering_every_kind() {
    let files = corpus_files();
    assert!(files.len() >= 30, "only {} manifests", files.len());
    let kinds: BTreeSet<String> = files
        .iter()
        .map(|p| load(p).json["kind"].as_str().unwrap_or_default().to_owned())
        .collect();
    for info in RESOURCES.iter() {
        assert!(
            kinds.contains(info.kind),
            "no manifest of kind {}",
            info.kind
        );
    }
}

/// Every manifest decodes under strict field validation, and its JSON
/// keeps every non-empty field of the input unchanged.
#[test]
fn corpus_manifests_decode_strictly_and_keep_every_field() {
    for_each_manifest(|m| {
        let object = decode_strict(&m.bytes, Format::Yaml)?;
        let out = serde_json::to_value(&object).map_err(|e| e.to_string())?;
        let diffs = contained_in(&m.json, &out);
        if diffs.is_empty() {
            Ok(())
        } else {
            Err(diffs.join("; "))
        }
    });
}

/// The same manifests sent as JSON decode to the same objects.
#[test]
fn corpus_manifests_decode_the_same_from_json_and_yaml() {
    for_each_manifest(|m| {
        let from_yaml = decode_strict(&m.bytes, Format::Yaml)?;
        let json = serde_json::to_vec(&m.json).map_err(|e| e.to_string())?;
        let from_json = decode_strict(&json, Format::Json)?;
        if from_yaml == from_json {
            Ok(())
        } else {
            Err("YAML and JSON decode differently".to_owned())
        }
    });
}

/// After defaulting, every manifest passes validation with no error.
#[test]
fn corpus_manifests_validate_after_defaulting() {
    for_each_manifest(|m| {
        let object = decoded_and_prepared(m)?;
        let errs = validate::validate_object(&object);
        if errs.is_empty() {
            Ok(())
        } else {
            Err(errs.to_string())
        }
    });
}

/// Defaulting twice changes nothing more than defaulting once, and a
/// defaulted object survives encoding to JSON and strict decoding.
#[test]
fn defaulted_corpus_objects_are_stable_and_round_trip_through_json() {
    for_each_manifest(|m| {
        let object = decoded_and_prepared(m)?;
        let mut again = object.clone();
        hive_actors::api::defaults::default_object(&mut again);
        if again != object {
            return Err("defaulting is not idempotent".to_owned());
        }
        let json = serde_json::to_vec(&object).map_err(|e| e.to_string())?;
        let back = decode_strict(&json, Format::Json)?;
        if back != object {
            return Err("JSON round trip changed the object".to_owned());
        }
        Ok(())
    });
}

/// Our JSON, as decoded and as defaulted, reads into k8s-openapi's types
/// and writes back identically: no field is misnamed, mistyped or invented.
#[test]
fn corpus_json_matches_kubernetes_schema_exactly() {
    for_each_manifest(|m| {
        let decoded = decode_strict(&m.bytes, Format::Yaml)?;
        let defaulted = decoded_and_prepared(m)?;
        for (stage, object) in [("decoded", decoded), ("defaulted", defaulted)] {
            let ours = serde_json::to_value(&object).map_err(|e| e.to_string())?;
            let mut theirs = k8s_openapi_round_trip(object.info().kind, &ours)
                .map_err(|e| format!("{stage}: k8s-openapi rejects our JSON: {e}"))?;
            forget_embedded_type_meta(&ours, &mut theirs);
            let diffs = json_diff(&ours, &theirs);
            if !diffs.is_empty() {
                return Err(format!("{stage}: {}", diffs.join("; ")));
            }
        }
        Ok(())
    });
}

/// k8s-openapi writes `apiVersion` and `kind` on every resource it
/// serializes, even a StatefulSet's embedded claim templates, where
/// Kubernetes (and we) leave them as given.
fn forget_embedded_type_meta(ours: &serde_json::Value, theirs: &mut serde_json::Value) {
    let Some(claims) = theirs
        .pointer_mut("/spec/volumeClaimTemplates")
        .and_then(|v| v.as_array_mut())
    else {
        return;
    };
    for (i, claim) in claims.iter_mut().enumerate() {
        let Some(claim) = claim.as_object_mut() else {
            continue;
        };
        for field in ["apiVersion", "kind"] {
            let pointer = format!("/spec/volumeClaimTemplates/{i}/{field}");
            if ours.pointer(&pointer).is_none() {
                claim.remove(field);
            }
        }
    }
}

/// Storage keys follow Kubernetes' etcd layout for every corpus object.
#[test]
fn corpus_objects_have_kubernetes_style_storage_keys() {
    for_each_manifest(|m| {
        let object = decoded_and_prepared(m)?;
        let meta = object.metadata();
        let info = object.info();
        let expected = if info.namespaced {
            format!(
                "/registry/{}/{}/{}",
                info.storage_prefix, meta.namespace, meta.name
            )
        } else {
            format!("/registry/{}/{}", info.storage_prefix, meta.name)
        };
        if object.key() == expected {
            Ok(())
        } else {
            Err(format!("key {} != {expected}", object.key()))
        }
    });
}
