//! `metav1.Status`: the body of every API error (and of a successful delete
//! answered without the object), in Kubernetes' JSON shape, so the REST edge
//! can serialize it as it is and clients read it as they read Kubernetes'.

use serde::{Deserialize, Serialize};

use super::meta::Uid;

/// The result of an operation that did not return an object
/// (`metav1.Status`), most often an error.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Status {
    /// Always `Status`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub kind: String,
    /// Always `v1`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub api_version: String,
    /// Only `resourceVersion`/`continue` are ever set; kept for shape.
    #[serde(default)]
    pub metadata: ListMeta,
    /// `Success` or `Failure`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub status: String,
    /// A human-readable description.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub message: String,
    /// A machine-readable reason (`NotFound`, `Conflict`, `Invalid`, ...).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub reason: String,
    /// What the reason is about.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub details: Option<StatusDetails>,
    /// The HTTP status code.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub code: i32,
}

fn is_zero(v: &i32) -> bool {
    *v == 0
}

/// Which object a [`Status`] is about, and the individual causes
/// (`metav1.StatusDetails`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StatusDetails {
    /// The object's name, if one is concerned.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name: String,
    /// The object's group.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub group: String,
    /// The object's kind (or resource, for NotFound and AlreadyExists).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub kind: String,
    /// The object's uid, for a delete.
    #[serde(default, skip_serializing_if = "Uid::is_empty")]
    pub uid: Uid,
    /// Every individual problem, e.g. each invalid field.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub causes: Vec<StatusCause>,
    /// Seconds after which a client may retry.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_after_seconds: Option<i32>,
}

/// One problem behind a [`Status`] (`metav1.StatusCause`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StatusCause {
    /// Machine-readable kind, e.g. `FieldValueInvalid`.
    #[serde(rename = "reason", default, skip_serializing_if = "String::is_empty")]
    pub reason: String,
    /// Human-readable description.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub message: String,
    /// The field concerned, e.g. `spec.containers[0].name`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub field: String,
}

/// The metadata of a list or a Status (`metav1.ListMeta`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ListMeta {
    /// The store revision the list was read at.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub resource_version: String,
    /// Where the next page starts, if the list was cut by a limit.
    #[serde(rename = "continue", default, skip_serializing_if = "String::is_empty")]
    pub continue_: String,
    /// How many items were left out (an estimate in Kubernetes; exact here).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remaining_item_count: Option<i64>,
}

/// `autoscaling/v1` `Scale`: the scale subresource of Deployments,
/// ReplicaSets and StatefulSets.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Scale {
    /// `autoscaling/v1`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub api_version: String,
    /// `Scale`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub kind: String,
    /// The scaled object's metadata (name, namespace, uid, resourceVersion).
    #[serde(default)]
    pub metadata: super::meta::ObjectMeta,
    /// The desired replicas.
    #[serde(default)]
    pub spec: ScaleSpec,
    /// The observed replicas and the pod selector.
    #[serde(default)]
    pub status: ScaleStatus,
}

/// The desired state of a [`Scale`].
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ScaleSpec {
    /// Desired number of replicas.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replicas: Option<i32>,
}

/// The observed state of a [`Scale`].
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ScaleStatus {
    /// Observed number of replicas.
    #[serde(default)]
    pub replicas: i32,
    /// The pods' label selector in string form.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub selector: String,
}

impl Status {
    /// A failure with `code`, `reason` and `message`.
    pub fn failure(code: i32, reason: &str, message: impl Into<String>) -> Status {
        Status {
            kind: "Status".to_owned(),
            api_version: "v1".to_owned(),
            metadata: ListMeta::default(),
            status: "Failure".to_owned(),
            message: message.into(),
            reason: reason.to_owned(),
            details: None,
            code,
        }
    }

    /// A success, e.g. the answer to a delete.
    pub fn success(details: Option<StatusDetails>) -> Status {
        Status {
            kind: "Status".to_owned(),
            api_version: "v1".to_owned(),
            status: "Success".to_owned(),
            details,
            ..Status::default()
        }
    }
}
