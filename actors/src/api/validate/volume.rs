//! Volume validation: the volumes of a pod (core's `ValidateVolumes`) and
//! the PersistentVolume and PersistentVolumeClaim kinds.

use super::container::{validate_local_descending_path, validate_path_no_backsteps, VolumeNames};
use super::env::{
    validate_object_field_selector, validate_resource_field_selector, VOLUME_FIELD_PATHS,
};
use super::helpers::{optional_enum, NameRule};
use super::meta::validate_object_meta;
use super::pod::validate_node_selector;
use crate::api::core::{
    DownwardAPIVolumeFile, KeyToPath, PersistentVolume, PersistentVolumeClaim,
    PersistentVolumeClaimSpec, Volume,
};
use crate::api::selector::LabelSelectorValidationOptions;
use crate::api::validation::{is_dns1123_label, FieldError, FieldErrors, FieldPath};

const FILE_MODE_ERROR_MSG: &str = "must be a number between 0 and 0777 (octal), both inclusive";
const ACCESS_MODES: [&str; 4] = [
    "ReadOnlyMany",
    "ReadWriteMany",
    "ReadWriteOnce",
    "ReadWriteOncePod",
];
const HOST_PATH_TYPES: [&str; 8] = [
    "",
    "BlockDevice",
    "CharDevice",
    "Directory",
    "DirectoryOrCreate",
    "File",
    "FileOrCreate",
    "Socket",
];

/// A pod's volumes; returns the names that mounts may refer to (only the
/// volumes without errors, as Kubernetes does) and the errors.
pub(super) fn validate_volumes(volumes: &[Volume], path: &FieldPath) -> (VolumeNames, FieldErrors) {
    let mut names = VolumeNames::new();
    let mut errs = FieldErrors::new();
    for (i, vol) in volumes.iter().enumerate() {
        let p = path.index(i);
        let name_path = p.child("name");
        let mut el = validate_volume_source(vol, &p);
        if vol.name.is_empty() {
            el.push(FieldError::required(&name_path, ""));
        } else {
            for msg in is_dns1123_label(&vol.name) {
                el.push(FieldError::invalid(&name_path, &vol.name, msg));
            }
        }
        if names.contains(&vol.name) {
            el.push(FieldError::duplicate(&name_path, &vol.name));
        }
        if el.is_empty() {
            names.insert(vol.name.clone());
        } else {
            errs.extend(el);
        }
    }
    (names, errs)
}

fn validate_volume_source(vol: &Volume, path: &FieldPath) -> FieldErrors {
    let mut errs = FieldErrors::new();
    let mut count = 0;
    let mut one = |field: &str, set: bool, errs: &mut FieldErrors| {
        if !set {
            return false;
        }
        if count > 0 {
            errs.push(FieldError::forbidden(
                &path.child(field),
                "may not specify more than 1 volume type",
            ));
            false
        } else {
            count += 1;
            true
        }
    };
    if one("emptyDir", vol.empty_dir.is_some(), &mut errs) {
        if let Some(limit) = vol.empty_dir.as_ref().and_then(|e| e.size_limit.as_ref()) {
            if limit.signum() < 0 {
                errs.push(FieldError::forbidden(
                    &path.child("emptyDir").child("sizeLimit"),
                    "SizeLimit field must be a valid resource quantity",
                ));
            }
        }
    }
    if let Some(hp) = &vol.host_path {
        if one("hostPath", true, &mut errs) {
            let p = path.child("hostPath");
            if hp.path.is_empty() {
                errs.push(FieldError::required(&p.child("path"), ""));
            } else {
                errs.extend(validate_path_no_backsteps(&hp.path, &p.child("path")));
                if let Some(t) = &hp.type_ {
                    if !HOST_PATH_TYPES.contains(&t.as_str()) {
                        errs.push(FieldError::not_supported(
                            &p.child("type"),
                            t,
                            &HOST_PATH_TYPES,
                        ));
                    }
                }
            }
        }
    }
    if let Some(secret) = &vol.secret {
        if one("secret", true, &mut errs) {
            let p = path.child("secret");
            if secret.secret_name.is_empty() {
                errs.push(FieldError::required(&p.child("secretName"), ""));
            }
            errs.extend(validate_mode(secret.default_mode, &p.child("defaultMode")));
            errs.extend(validate_items(&secret.items, &p.child("items")));
        }
    }
    if let Some(nfs) = &vol.nfs {
        if one("nfs", true, &mut errs) {
            let p = path.child("nfs");
            if nfs.server.is_empty() {
                errs.push(FieldError::required(&p.child("server"), ""));
            }
            if nfs.path.is_empty() {
                errs.push(FieldError::required(&p.child("path"), ""));
            } else if !nfs.path.starts_with('/') {
                errs.push(FieldError::invalid(
                    &p.child("path"),
                    &nfs.path,
                    "must be an absolute path",
                ));
            }
        }
    }
    if let Some(pvc) = &vol.persistent_volume_claim {
        if one("persistentVolumeClaim", true, &mut errs) && pvc.claim_name.is_empty() {
            errs.push(FieldError::required(
                &path.child("persistentVolumeClaim").child("claimName"),
                "",
            ));
        }
    }
    if let Some(dapi) = &vol.downward_api {
        if one("downwardAPI", true, &mut errs) {
            let p = path.child("downwardAPI");
            errs.extend(validate_mode(dapi.default_mode, &p.child("defaultMode")));
            for file in &dapi.items {
                errs.extend(validate_downward_api_file(file, &p));
            }
        }
    }
    if let Some(cm) = &vol.config_map {
        if one("configMap", true, &mut errs) {
            let p = path.child("configMap");
            if cm.name.is_empty() {
                errs.push(FieldError::required(&p.child("name"), ""));
            }
            errs.extend(validate_mode(cm.default_mode, &p.child("defaultMode")));
            errs.extend(validate_items(&cm.items, &p.child("items")));
        }
    }
    if let Some(projected) = &vol.projected {
        if one("projected", true, &mut errs) {
            let p = path.child("projected");
            errs.extend(validate_mode(
                projected.default_mode,
                &p.child("defaultMode"),
            ));
            errs.extend(validate_projection_sources(projected, &p));
        }
    }
    if let Some(csi) = &vol.csi {
        if one("csi", true, &mut errs) && csi.driver.is_empty() {
            errs.push(FieldError::required(&path.child("csi").child("driver"), ""));
        }
    }
    if count == 0 {
        errs.push(FieldError::required(path, "must specify a volume type"));
    }
    errs
}

fn validate_projection_sources(
    projected: &crate::api::core::ProjectedVolumeSource,
    path: &FieldPath,
) -> FieldErrors {
    let mut errs = FieldErrors::new();
    let mut all_paths = std::collections::BTreeSet::new();
    for (i, source) in projected.sources.iter().enumerate() {
        let sp = path.child("sources").index(i);
        let mut count = 0;
        let keyed = [
            (
                "secret",
                source.secret.as_ref().map(|s| (&s.name, &s.items)),
            ),
            (
                "configMap",
                source.config_map.as_ref().map(|c| (&c.name, &c.items)),
            ),
        ];
        for (field, entry) in keyed {
            let Some((name, items)) = entry else {
                continue;
            };
            count += 1;
            let pp = sp.child(field);
            if name.is_empty() {
                errs.push(FieldError::required(&pp.child("name"), ""));
            }
            for (j, item) in items.iter().enumerate() {
                errs.extend(validate_key_to_path(item, &pp.child("items").index(j)));
                if !item.path.is_empty() && !all_paths.insert(item.path.clone()) {
                    errs.push(FieldError::invalid(
                        path,
                        name,
                        "conflicting duplicate paths",
                    ));
                }
            }
        }
        if let Some(dapi) = &source.downward_api {
            count += 1;
            let pp = sp.child("downwardAPI");
            for file in &dapi.items {
                errs.extend(validate_downward_api_file(file, &pp));
                if !file.path.is_empty() && !all_paths.insert(file.path.clone()) {
                    errs.push(FieldError::invalid(path, "", "conflicting duplicate paths"));
                }
            }
        }
        if let Some(token) = &source.service_account_token {
            count += 1;
            let pp = sp.child("serviceAccountToken");
            let expiration = token.expiration_seconds.unwrap_or(3600);
            if expiration < 600 {
                errs.push(FieldError::invalid(
                    &pp.child("expirationSeconds"),
                    expiration,
                    "may not specify a duration less than 10 minutes",
                ));
            } else if expiration > 1 << 32 {
                errs.push(FieldError::invalid(
                    &pp.child("expirationSeconds"),
                    expiration,
                    "may not specify a duration larger than 2^32 seconds",
                ));
            }
            if token.path.is_empty() {
                errs.push(FieldError::required(&pp.child("path"), ""));
            } else {
                errs.extend(validate_local_non_reserved_path(
                    &token.path,
                    &pp.child("path"),
                ));
            }
        }
        if count > 1 {
            errs.push(FieldError::forbidden(
                &sp,
                "may not specify more than 1 volume type per source",
            ));
        }
    }
    errs
}

fn validate_mode(mode: Option<i32>, path: &FieldPath) -> FieldErrors {
    let mut errs = FieldErrors::new();
    if let Some(mode) = mode {
        if !(0..=0o777).contains(&mode) {
            errs.push(FieldError::invalid(path, mode, FILE_MODE_ERROR_MSG));
        }
    }
    errs
}

fn validate_items(items: &[KeyToPath], path: &FieldPath) -> FieldErrors {
    let mut errs = FieldErrors::new();
    for (i, item) in items.iter().enumerate() {
        errs.extend(validate_key_to_path(item, &path.index(i)));
    }
    errs
}

fn validate_key_to_path(item: &KeyToPath, path: &FieldPath) -> FieldErrors {
    let mut errs = FieldErrors::new();
    if item.key.is_empty() {
        errs.push(FieldError::required(&path.child("key"), ""));
    }
    if item.path.is_empty() {
        errs.push(FieldError::required(&path.child("path"), ""));
    }
    errs.extend(validate_local_non_reserved_path(
        &item.path,
        &path.child("path"),
    ));
    errs.extend(validate_mode(item.mode, &path.child("mode")));
    errs
}

/// core's `ValidateLocalNonReservedPath`.
fn validate_local_non_reserved_path(target: &str, path: &FieldPath) -> FieldErrors {
    let mut errs = validate_local_descending_path(target, path);
    if target.starts_with("..") {
        errs.push(FieldError::invalid(
            path,
            target,
            "must not start with '..'",
        ));
    }
    errs
}

fn validate_downward_api_file(file: &DownwardAPIVolumeFile, path: &FieldPath) -> FieldErrors {
    let mut errs = FieldErrors::new();
    if file.path.is_empty() {
        errs.push(FieldError::required(&path.child("path"), ""));
    }
    errs.extend(validate_local_non_reserved_path(
        &file.path,
        &path.child("path"),
    ));
    if let Some(field_ref) = &file.field_ref {
        errs.extend(validate_object_field_selector(
            field_ref,
            &VOLUME_FIELD_PATHS,
            &path.child("fieldRef"),
        ));
        if file.resource_field_ref.is_some() {
            errs.push(FieldError::invalid(
                path,
                "resource",
                "fieldRef and resourceFieldRef can not be specified simultaneously",
            ));
        }
    } else if let Some(resource_ref) = &file.resource_field_ref {
        errs.extend(validate_resource_field_selector(
            resource_ref,
            true,
            &path.child("resourceFieldRef"),
        ));
    } else {
        errs.push(FieldError::required(
            path,
            "one of fieldRef and resourceFieldRef is required",
        ));
    }
    errs.extend(validate_mode(file.mode, &path.child("mode")));
    errs
}

/// A PersistentVolume (core's `ValidatePersistentVolume`).
pub(super) fn validate_persistent_volume(pv: &PersistentVolume) -> FieldErrors {
    let mut errs = validate_object_meta(
        &pv.metadata,
        false,
        NameRule::Dns1123Subdomain,
        &FieldPath::new("metadata"),
    );
    let spec = &pv.spec;
    let sp = FieldPath::new("spec");
    errs.extend(validate_access_modes(
        &spec.access_modes,
        &sp.child("accessModes"),
        "",
    ));
    let cap = sp.child("capacity");
    if spec.capacity.is_empty() {
        errs.push(FieldError::required(&cap, ""));
    }
    match spec.capacity.get("storage") {
        Some(q) if q.signum() <= 0 => {
            errs.push(FieldError::invalid(
                &cap.key("storage"),
                q.to_string(),
                "must be greater than zero",
            ));
        }
        None if !spec.capacity.is_empty() => {
            errs.push(FieldError::not_supported(
                &cap,
                spec.capacity.keys().next().map_or("", String::as_str),
                &["storage"],
            ));
        }
        _ => {}
    }
    errs.extend(optional_enum(
        &spec.persistent_volume_reclaim_policy,
        &["Delete", "Recycle", "Retain"],
        &sp.child("persistentVolumeReclaimPolicy"),
    ));
    if let Some(mode) = &spec.volume_mode {
        errs.extend(optional_enum(
            mode,
            &["Block", "Filesystem"],
            &sp.child("volumeMode"),
        ));
    }
    if !spec.storage_class_name.is_empty() {
        for msg in crate::api::validation::is_dns1123_subdomain(&spec.storage_class_name) {
            errs.push(FieldError::invalid(
                &sp.child("storageClassName"),
                &spec.storage_class_name,
                msg,
            ));
        }
    }
    let sources = [
        ("hostPath", spec.host_path.is_some()),
        ("nfs", spec.nfs.is_some()),
        ("csi", spec.csi.is_some()),
        ("local", spec.local.is_some()),
    ];
    let mut count = 0;
    for (field, set) in sources {
        if !set {
            continue;
        }
        if count > 0 {
            errs.push(FieldError::forbidden(
                &sp.child(field),
                "may not specify more than 1 volume type",
            ));
        }
        count += 1;
    }
    if count == 0 {
        errs.push(FieldError::required(&sp, "must specify a volume type"));
    }
    if let Some(hp) = &spec.host_path {
        if hp.path.is_empty() {
            errs.push(FieldError::required(
                &sp.child("hostPath").child("path"),
                "",
            ));
        }
    }
    if let Some(local) = &spec.local {
        if local.path.is_empty() {
            errs.push(FieldError::required(&sp.child("local").child("path"), ""));
        }
        if spec.node_affinity.is_none() {
            errs.push(FieldError::required(
                &sp.child("nodeAffinity"),
                "Local volume requires node affinity",
            ));
        }
    }
    if let Some(required) = spec
        .node_affinity
        .as_ref()
        .and_then(|a| a.required.as_ref())
    {
        errs.extend(validate_node_selector(
            required,
            &sp.child("nodeAffinity").child("required"),
        ));
    }
    errs
}

fn validate_access_modes(modes: &[String], path: &FieldPath, required_detail: &str) -> FieldErrors {
    let mut errs = FieldErrors::new();
    if modes.is_empty() {
        errs.push(FieldError::required(path, required_detail));
    }
    for mode in modes {
        if !ACCESS_MODES.contains(&mode.as_str()) {
            errs.push(FieldError::not_supported(path, mode, &ACCESS_MODES));
        }
    }
    if modes.iter().any(|m| m == "ReadWriteOncePod") && modes.len() > 1 {
        errs.push(FieldError::forbidden(
            path,
            "may not use ReadWriteOncePod with other access modes",
        ));
    }
    errs
}

/// A PersistentVolumeClaim (core's `ValidatePersistentVolumeClaim`).
pub(super) fn validate_persistent_volume_claim(pvc: &PersistentVolumeClaim) -> FieldErrors {
    let mut errs = validate_object_meta(
        &pvc.metadata,
        true,
        NameRule::Dns1123Subdomain,
        &FieldPath::new("metadata"),
    );
    errs.extend(validate_persistent_volume_claim_spec(
        &pvc.spec,
        &FieldPath::new("spec"),
    ));
    errs
}

/// core's `ValidatePersistentVolumeClaimSpec`, also used for StatefulSet
/// claim templates.
pub(super) fn validate_persistent_volume_claim_spec(
    spec: &PersistentVolumeClaimSpec,
    path: &FieldPath,
) -> FieldErrors {
    let mut errs = validate_access_modes(
        &spec.access_modes,
        &path.child("accessModes"),
        "at least 1 access mode is required",
    );
    if let Some(selector) = &spec.selector {
        errs.extend(selector.validate(
            LabelSelectorValidationOptions::default(),
            &path.child("selector"),
        ));
    }
    let storage_path = path.child("resources").key("storage");
    match spec.resources.requests.get("storage") {
        None => errs.push(FieldError::required(&storage_path, "")),
        Some(q) if q.signum() <= 0 => {
            errs.push(FieldError::invalid(
                &storage_path,
                q.to_string(),
                "must be greater than zero",
            ));
        }
        Some(_) => {}
    }
    if let Some(mode) = &spec.volume_mode {
        errs.extend(optional_enum(
            mode,
            &["Block", "Filesystem"],
            &path.child("volumeMode"),
        ));
    }
    if let Some(class) = &spec.storage_class_name {
        if !class.is_empty() {
            for msg in crate::api::validation::is_dns1123_subdomain(class) {
                errs.push(FieldError::invalid(
                    &path.child("storageClassName"),
                    class,
                    msg,
                ));
            }
        }
    }
    errs
}
