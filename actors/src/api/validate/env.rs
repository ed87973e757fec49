//! Environment validation (core's `ValidateEnv`, `ValidateEnvFrom` and the
//! selectors they use): variable names, `valueFrom` sources, downward API
//! field paths and config keys.

use super::helpers::invalid_each;
use crate::api::core::{EnvFromSource, EnvVar, ObjectFieldSelector, ResourceFieldSelector};
use crate::api::validation::{
    is_dns1123_subdomain, is_qualified_name, is_relaxed_env_var_name, regex_error, FieldError,
    FieldErrors, FieldPath, DNS1123_SUBDOMAIN_MAX_LENGTH,
};

/// Field paths the downward API exposes through environment variables.
const ENV_FIELD_PATHS: [&str; 9] = [
    "metadata.name",
    "metadata.namespace",
    "metadata.uid",
    "spec.nodeName",
    "spec.serviceAccountName",
    "status.hostIP",
    "status.hostIPs",
    "status.podIP",
    "status.podIPs",
];

/// Field paths the downward API exposes through volumes.
pub(super) const VOLUME_FIELD_PATHS: [&str; 5] = [
    "metadata.annotations",
    "metadata.labels",
    "metadata.name",
    "metadata.namespace",
    "metadata.uid",
];

/// Container resources the downward API exposes.
const RESOURCE_FIELD_PATHS: [&str; 6] = [
    "limits.cpu",
    "limits.ephemeral-storage",
    "limits.memory",
    "requests.cpu",
    "requests.ephemeral-storage",
    "requests.memory",
];

pub(super) fn validate_env(vars: &[EnvVar], path: &FieldPath) -> FieldErrors {
    let mut errs = FieldErrors::new();
    for (i, var) in vars.iter().enumerate() {
        let p = path.index(i);
        if var.name.is_empty() {
            errs.push(FieldError::required(&p.child("name"), ""));
        } else {
            errs.extend(invalid_each(
                &p.child("name"),
                &var.name,
                is_relaxed_env_var_name(&var.name),
            ));
        }
        errs.extend(validate_env_value_from(var, &p.child("valueFrom")));
    }
    errs
}

fn validate_env_value_from(var: &EnvVar, path: &FieldPath) -> FieldErrors {
    let mut errs = FieldErrors::new();
    let Some(from) = &var.value_from else {
        return errs;
    };
    let mut sources = 0;
    if let Some(f) = &from.field_ref {
        sources += 1;
        errs.extend(validate_object_field_selector(
            f,
            &ENV_FIELD_PATHS,
            &path.child("fieldRef"),
        ));
    }
    if let Some(r) = &from.resource_field_ref {
        sources += 1;
        errs.extend(validate_resource_field_selector(
            r,
            false,
            &path.child("resourceFieldRef"),
        ));
    }
    if let Some(r) = &from.config_map_key_ref {
        sources += 1;
        errs.extend(validate_key_selector(
            &r.name,
            &r.key,
            &path.child("configMapKeyRef"),
        ));
    }
    if let Some(r) = &from.secret_key_ref {
        sources += 1;
        errs.extend(validate_key_selector(
            &r.name,
            &r.key,
            &path.child("secretKeyRef"),
        ));
    }
    if sources == 0 {
        errs.push(FieldError::invalid(
            path,
            "",
            "must specify one of: `fieldRef`, `resourceFieldRef`, `configMapKeyRef` or `secretKeyRef`",
        ));
    } else if !var.value.is_empty() {
        errs.push(FieldError::invalid(
            path,
            "",
            "may not be specified when `value` is not empty",
        ));
    } else if sources > 1 {
        errs.push(FieldError::invalid(
            path,
            "",
            "may not have more than one field specified at a time",
        ));
    }
    errs
}

/// core's `validateObjectFieldSelector`.
pub(super) fn validate_object_field_selector(
    selector: &ObjectFieldSelector,
    supported: &[&str],
    path: &FieldPath,
) -> FieldErrors {
    let mut errs = FieldErrors::new();
    if selector.api_version.is_empty() {
        errs.push(FieldError::required(&path.child("apiVersion"), ""));
        return errs;
    }
    if selector.field_path.is_empty() {
        errs.push(FieldError::required(&path.child("fieldPath"), ""));
        return errs;
    }
    let field_path = selector.field_path.as_str();
    if let Some((base, subscript)) = split_subscripted_path(field_path) {
        match base {
            "metadata.annotations" => {
                errs.extend(invalid_each(
                    path,
                    subscript,
                    is_qualified_name(&subscript.to_lowercase()),
                ));
            }
            "metadata.labels" => {
                errs.extend(invalid_each(path, subscript, is_qualified_name(subscript)));
            }
            _ => errs.push(FieldError::invalid(
                path,
                base,
                "does not support subscript",
            )),
        }
    } else if !supported.contains(&field_path) {
        errs.push(FieldError::not_supported(
            &path.child("fieldPath"),
            field_path,
            supported,
        ));
    }
    errs
}

/// Splits `metadata.labels['app']` into the path and the subscript.
fn split_subscripted_path(field_path: &str) -> Option<(&str, &str)> {
    let inner = field_path.strip_suffix("']")?;
    let (base, subscript) = inner.split_once("['")?;
    Some((base, subscript))
}

/// core's `validateContainerResourceFieldSelector`.
pub(super) fn validate_resource_field_selector(
    selector: &ResourceFieldSelector,
    volume: bool,
    path: &FieldPath,
) -> FieldErrors {
    let mut errs = FieldErrors::new();
    if volume && selector.container_name.is_empty() {
        errs.push(FieldError::required(&path.child("containerName"), ""));
    }
    let hugepages = selector.resource.starts_with("limits.hugepages-")
        || selector.resource.starts_with("requests.hugepages-");
    if selector.resource.is_empty() {
        errs.push(FieldError::required(&path.child("resource"), ""));
    } else if !hugepages && !RESOURCE_FIELD_PATHS.contains(&selector.resource.as_str()) {
        errs.push(FieldError::not_supported(
            &path.child("resource"),
            &selector.resource,
            &RESOURCE_FIELD_PATHS,
        ));
    }
    errs
}

fn validate_key_selector(name: &str, key: &str, path: &FieldPath) -> FieldErrors {
    let mut errs = invalid_each(&path.child("name"), name, is_dns1123_subdomain(name));
    if key.is_empty() {
        errs.push(FieldError::required(&path.child("key"), ""));
    } else {
        errs.extend(invalid_each(
            &path.child("key"),
            key,
            is_config_map_key(key),
        ));
    }
    errs
}

pub(super) fn validate_env_from(sources: &[EnvFromSource], path: &FieldPath) -> FieldErrors {
    let mut errs = FieldErrors::new();
    for (i, source) in sources.iter().enumerate() {
        let p = path.index(i);
        if !source.prefix.is_empty() {
            errs.extend(invalid_each(
                &p.child("prefix"),
                &source.prefix,
                is_relaxed_env_var_name(&source.prefix),
            ));
        }
        let mut count = 0;
        if let Some(r) = &source.config_map_ref {
            count += 1;
            errs.extend(validate_env_source_name(&r.name, &p.child("configMapRef")));
        }
        if let Some(r) = &source.secret_ref {
            count += 1;
            errs.extend(validate_env_source_name(&r.name, &p.child("secretRef")));
        }
        if count == 0 {
            errs.push(FieldError::invalid(
                path,
                "",
                "must specify one of: `configMapRef` or `secretRef`",
            ));
        } else if count > 1 {
            errs.push(FieldError::invalid(
                path,
                "",
                "may not have more than one field specified at a time",
            ));
        }
    }
    errs
}

fn validate_env_source_name(name: &str, path: &FieldPath) -> FieldErrors {
    let name_path = path.child("name");
    if name.is_empty() {
        let mut errs = FieldErrors::new();
        errs.push(FieldError::required(&name_path, ""));
        errs
    } else {
        invalid_each(&name_path, name, is_dns1123_subdomain(name))
    }
}

/// apimachinery's `IsConfigMapKey`.
pub(super) fn is_config_map_key(value: &str) -> Vec<String> {
    let mut errs = Vec::new();
    if value.len() > DNS1123_SUBDOMAIN_MAX_LENGTH {
        errs.push(format!(
            "must be no more than {DNS1123_SUBDOMAIN_MAX_LENGTH} characters"
        ));
    }
    let valid = !value.is_empty()
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_'));
    if !valid {
        errs.push(regex_error(
            "a valid config key must consist of alphanumeric characters, '-', '_' or '.'",
            "[-._a-zA-Z0-9]+",
            &["key.name", "KEY_NAME", "key-name"],
        ));
    }
    match value {
        "." => errs.push("must not be '.'".to_owned()),
        ".." => errs.push("must not be '..'".to_owned()),
        v if v.starts_with("..") => errs.push("must not start with '..'".to_owned()),
        _ => {}
    }
    errs
}
