//! Applying a [`Patch`] to an object's JSON: RFC 6902 JSON patches and
//! RFC 7396 merge patches here (with the `json-patch` crate); strategic
//! merge and server-side apply through a [`PatchApplier`] the REST edge may
//! install on the storage layer.

use serde_json::Value;

use super::client::{Patch, PatchOptions};
use super::error::{ApiError, ApiResult};
use crate::api::object::ResourceInfo;

/// Applies the patch types the storage layer does not know itself.
pub trait PatchApplier: Send + Sync {
    /// The patched JSON of `current` (kind `info`), or `None` if this applier
    /// does not handle `patch`'s type either (answered 415).
    fn apply(
        &self,
        info: &'static ResourceInfo,
        current: &Value,
        patch: &Patch,
        opts: &PatchOptions,
    ) -> Option<ApiResult<Value>>;
}

/// `current` with `patch` applied; `extra` handles what is not built in.
pub fn apply_patch(
    info: &'static ResourceInfo,
    current: &Value,
    patch: &Patch,
    opts: &PatchOptions,
    extra: Option<&dyn PatchApplier>,
) -> ApiResult<Value> {
    match patch {
        Patch::Json(ops) => {
            let ops: json_patch::Patch = serde_json::from_value(ops.clone()).map_err(|e| {
                ApiError::bad_request(format!("the JSON patch is not a list of operations: {e}"))
            })?;
            let mut doc = current.clone();
            json_patch::patch(&mut doc, &ops).map_err(|e| {
                ApiError::bad_request(format!("the JSON patch does not apply: {e}"))
            })?;
            Ok(doc)
        }
        Patch::Merge(p) => {
            if !p.is_object() {
                return Err(ApiError::bad_request("a merge patch must be a JSON object"));
            }
            let mut doc = current.clone();
            json_patch::merge(&mut doc, p);
            Ok(doc)
        }
        Patch::StrategicMerge(_) | Patch::Apply(_) => extra
            .and_then(|a| a.apply(info, current, patch, opts))
            .unwrap_or_else(|| {
                Err(ApiError::UnsupportedMediaType {
                    message: format!("the patch type is not supported for {} here", info.plural),
                })
            }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::object::CONFIG_MAP;
    use serde_json::json;

    /// JSON patches and merge patches change exactly what they say; a failed
    /// test op and a non-object merge patch are bad requests; strategic
    /// merge without an applier is 415.
    #[test]
    fn json_and_merge_patches_apply() {
        let cur = json!({"data": {"a": "1", "b": "2"}, "metadata": {"name": "c"}});
        let o = PatchOptions::default();
        let p = Patch::Json(json!([
            {"op": "replace", "path": "/data/a", "value": "9"},
            {"op": "remove", "path": "/data/b"}
        ]));
        let out = apply_patch(&CONFIG_MAP, &cur, &p, &o, None).expect("applies");
        assert_eq!(out["data"], json!({"a": "9"}));
        let p = Patch::Merge(json!({"data": {"b": null, "c": "3"}}));
        let out = apply_patch(&CONFIG_MAP, &cur, &p, &o, None).expect("applies");
        assert_eq!(out["data"], json!({"a": "1", "c": "3"}));
        let bad = Patch::Json(json!([{"op": "test", "path": "/data/a", "value": "x"}]));
        assert_eq!(
            apply_patch(&CONFIG_MAP, &cur, &bad, &o, None).map_err(|e| e.code()),
            Err(400)
        );
        let bad = Patch::Merge(json!([1]));
        assert_eq!(
            apply_patch(&CONFIG_MAP, &cur, &bad, &o, None).map_err(|e| e.code()),
            Err(400)
        );
        let smp = Patch::StrategicMerge(json!({}));
        assert_eq!(
            apply_patch(&CONFIG_MAP, &cur, &smp, &o, None).map_err(|e| e.code()),
            Err(415)
        );
    }
}
