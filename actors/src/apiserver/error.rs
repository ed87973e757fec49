//! [`ApiError`]: every way an API call fails, one variant per Kubernetes
//! `Status` reason, convertible to and from [`Status`] without loss so that it
//! crosses the QUIC edge as a `Status` and the REST edge serializes it as is.
//!
//! Messages are worded as the Kubernetes API server words them
//! (`pods "web" not found`, `Operation cannot be fulfilled on ...`), so
//! `kubectl` prints what its users expect.

use hive_raftstore::StoreError;

use crate::api::object::ResourceInfo;
use crate::api::validation::FieldErrors;
use crate::api::{Status, StatusCause, StatusDetails};

/// A failed API call. Each variant is one Kubernetes `StatusReason`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ApiError {
    /// 400 `BadRequest`: the request itself is malformed (a bad selector,
    /// a bad continue token, a patch that does not apply).
    #[error("{message}")]
    BadRequest {
        /// What is wrong.
        message: String,
    },
    /// 404 `NotFound`.
    #[error("{} \"{name}\" not found", qualified(.group, .resource))]
    NotFound {
        /// The API group.
        group: String,
        /// The plural resource name, e.g. `pods`.
        resource: String,
        /// The object's name.
        name: String,
    },
    /// 409 `AlreadyExists`: a create found an object of that name.
    #[error("{} \"{name}\" already exists", qualified(.group, .resource))]
    AlreadyExists {
        /// The API group.
        group: String,
        /// The plural resource name.
        resource: String,
        /// The object's name.
        name: String,
    },
    /// 409 `Conflict`: a write raced another (stale `resourceVersion`, a
    /// failed precondition).
    #[error("Operation cannot be fulfilled on {} \"{name}\": {message}", qualified(.group, .resource))]
    Conflict {
        /// The API group.
        group: String,
        /// The plural resource name.
        resource: String,
        /// The object's name.
        name: String,
        /// Why, e.g. "the object has been modified; ...".
        message: String,
    },
    /// 422 `Invalid`: the object fails validation; one cause per field error.
    #[error("{} \"{name}\" is invalid: {}", qualified_kind(.group, .kind), render_causes(.causes))]
    Invalid {
        /// The API group.
        group: String,
        /// The kind, e.g. `Deployment`.
        kind: String,
        /// The object's name.
        name: String,
        /// Every field error, with its path.
        causes: Vec<StatusCause>,
    },
    /// 403 `Forbidden`: the operation is not allowed on this object (e.g.
    /// creating in a namespace being deleted).
    #[error("{} \"{name}\" is forbidden: {message}", qualified(.group, .resource))]
    Forbidden {
        /// The API group.
        group: String,
        /// The plural resource name.
        resource: String,
        /// The object's name.
        name: String,
        /// Why.
        message: String,
    },
    /// 405 `MethodNotAllowed`: e.g. scale on a kind without that subresource.
    #[error("{message}")]
    MethodNotAllowed {
        /// What was refused.
        message: String,
    },
    /// 410 `Expired`: the requested resourceVersion (or continue token) was
    /// compacted; relist.
    #[error("{message}")]
    Expired {
        /// Which revision was asked for and which is the oldest left.
        message: String,
    },
    /// 415 `UnsupportedMediaType`: e.g. a patch type this server does not apply.
    #[error("{message}")]
    UnsupportedMediaType {
        /// What is not supported.
        message: String,
    },
    /// 504 `Timeout` with cause `ResourceVersionTooLarge`: the requested
    /// resourceVersion is newer than the store.
    #[error("Too large resource version: {requested}, current: {current}")]
    ResourceVersionTooLarge {
        /// The revision asked for.
        requested: u64,
        /// The store's revision.
        current: u64,
    },
    /// 504 `Timeout`: the store did not answer in time; a write's outcome is
    /// unknown.
    #[error("{message}")]
    Timeout {
        /// What timed out.
        message: String,
    },
    /// 503 `ServiceUnavailable`: no store leader or member reachable; nothing
    /// was applied, so the call may be retried.
    #[error("{message}")]
    Unavailable {
        /// Why.
        message: String,
    },
    /// 500 `InternalError`: a bug or a corrupt stored object.
    #[error("Internal error occurred: {message}")]
    Internal {
        /// What went wrong.
        message: String,
    },
}

/// The result of an API call.
pub type ApiResult<T> = Result<T, ApiError>;

/// `pods` or `deployments.apps`, as Kubernetes' `GroupResource.String()`.
fn qualified(group: &str, resource: &str) -> String {
    if group.is_empty() {
        resource.to_owned()
    } else {
        format!("{resource}.{group}")
    }
}

/// `Pod` or `Deployment.apps`, as Kubernetes' `GroupKind.String()`.
fn qualified_kind(group: &str, kind: &str) -> String {
    qualified(group, kind)
}

/// apimachinery's `ErrorList.ToAggregate()` rendering: one error bare, more
/// in brackets joined by `, `.
fn render_causes(causes: &[StatusCause]) -> String {
    let one = |c: &StatusCause| {
        if c.field.is_empty() {
            c.message.clone()
        } else {
            format!("{}: {}", c.field, c.message)
        }
    };
    match causes {
        [c] => one(c),
        _ => format!(
            "[{}]",
            causes.iter().map(one).collect::<Vec<_>>().join(", ")
        ),
    }
}

/// The message Kubernetes gives a stale update.
pub const MODIFIED_MESSAGE: &str =
    "the object has been modified; please apply your changes to the latest version and try again";

impl ApiError {
    /// `NotFound` for an object of kind `info`.
    pub fn not_found(info: &ResourceInfo, name: &str) -> ApiError {
        ApiError::NotFound {
            group: info.group.to_owned(),
            resource: info.plural.to_owned(),
            name: name.to_owned(),
        }
    }

    /// `AlreadyExists` for an object of kind `info`.
    pub fn already_exists(info: &ResourceInfo, name: &str) -> ApiError {
        ApiError::AlreadyExists {
            group: info.group.to_owned(),
            resource: info.plural.to_owned(),
            name: name.to_owned(),
        }
    }

    /// `Conflict` for an object of kind `info`.
    pub fn conflict(info: &ResourceInfo, name: &str, message: impl Into<String>) -> ApiError {
        ApiError::Conflict {
            group: info.group.to_owned(),
            resource: info.plural.to_owned(),
            name: name.to_owned(),
            message: message.into(),
        }
    }

    /// `Invalid` listing every field error of an object of kind `info`.
    pub fn invalid(info: &ResourceInfo, name: &str, errors: &FieldErrors) -> ApiError {
        ApiError::Invalid {
            group: info.group.to_owned(),
            kind: info.kind.to_owned(),
            name: name.to_owned(),
            causes: errors
                .iter()
                .map(|e| StatusCause {
                    reason: e.kind.code().to_owned(),
                    message: e.body(),
                    field: e.field.clone(),
                })
                .collect(),
        }
    }

    /// `Forbidden` for an object of kind `info`.
    pub fn forbidden(info: &ResourceInfo, name: &str, message: impl Into<String>) -> ApiError {
        ApiError::Forbidden {
            group: info.group.to_owned(),
            resource: info.plural.to_owned(),
            name: name.to_owned(),
            message: message.into(),
        }
    }

    /// `BadRequest` with `message`.
    pub fn bad_request(message: impl Into<String>) -> ApiError {
        ApiError::BadRequest {
            message: message.into(),
        }
    }

    /// `InternalError` with `message`.
    pub fn internal(message: impl Into<String>) -> ApiError {
        ApiError::Internal {
            message: message.into(),
        }
    }

    /// The HTTP status code.
    pub fn code(&self) -> i32 {
        match self {
            ApiError::BadRequest { .. } => 400,
            ApiError::NotFound { .. } => 404,
            ApiError::AlreadyExists { .. } | ApiError::Conflict { .. } => 409,
            ApiError::Invalid { .. } => 422,
            ApiError::Forbidden { .. } => 403,
            ApiError::MethodNotAllowed { .. } => 405,
            ApiError::Expired { .. } => 410,
            ApiError::UnsupportedMediaType { .. } => 415,
            ApiError::ResourceVersionTooLarge { .. } | ApiError::Timeout { .. } => 504,
            ApiError::Unavailable { .. } => 503,
            ApiError::Internal { .. } => 500,
        }
    }

    /// The Kubernetes `StatusReason`.
    pub fn reason(&self) -> &'static str {
        match self {
            ApiError::BadRequest { .. } => "BadRequest",
            ApiError::NotFound { .. } => "NotFound",
            ApiError::AlreadyExists { .. } => "AlreadyExists",
            ApiError::Conflict { .. } => "Conflict",
            ApiError::Invalid { .. } => "Invalid",
            ApiError::Forbidden { .. } => "Forbidden",
            ApiError::MethodNotAllowed { .. } => "MethodNotAllowed",
            ApiError::Expired { .. } => "Expired",
            ApiError::UnsupportedMediaType { .. } => "UnsupportedMediaType",
            ApiError::ResourceVersionTooLarge { .. } | ApiError::Timeout { .. } => "Timeout",
            ApiError::Unavailable { .. } => "ServiceUnavailable",
            ApiError::Internal { .. } => "InternalError",
        }
    }

    /// Whether this is a `Conflict` (retry after re-reading the object).
    pub fn is_conflict(&self) -> bool {
        matches!(self, ApiError::Conflict { .. })
    }

    /// Whether this is a `NotFound`.
    pub fn is_not_found(&self) -> bool {
        matches!(self, ApiError::NotFound { .. })
    }

    /// Whether the call certainly changed nothing and may simply be repeated
    /// (`ServiceUnavailable`).
    pub fn is_retryable(&self) -> bool {
        matches!(self, ApiError::Unavailable { .. })
    }

    /// The error as Kubernetes' `Status` body.
    pub fn to_status(&self) -> Status {
        let mut status = Status::failure(self.code(), self.reason(), self.to_string());
        let details = |group: &str, kind: &str, name: &str| StatusDetails {
            name: name.to_owned(),
            group: group.to_owned(),
            kind: kind.to_owned(),
            ..StatusDetails::default()
        };
        status.details = match self {
            ApiError::NotFound {
                group,
                resource,
                name,
            }
            | ApiError::AlreadyExists {
                group,
                resource,
                name,
            }
            | ApiError::Conflict {
                group,
                resource,
                name,
                ..
            }
            | ApiError::Forbidden {
                group,
                resource,
                name,
                ..
            } => Some(details(group, resource, name)),
            ApiError::Invalid {
                group,
                kind,
                name,
                causes,
            } => Some(StatusDetails {
                causes: causes.clone(),
                ..details(group, kind, name)
            }),
            ApiError::ResourceVersionTooLarge { .. } => Some(StatusDetails {
                causes: vec![StatusCause {
                    reason: "ResourceVersionTooLarge".to_owned(),
                    message: "Too large resource version".to_owned(),
                    field: String::new(),
                }],
                retry_after_seconds: Some(1),
                ..StatusDetails::default()
            }),
            ApiError::Unavailable { .. } => Some(StatusDetails {
                retry_after_seconds: Some(1),
                ..StatusDetails::default()
            }),
            _ => None,
        };
        status
    }

    /// The error a `Status` stands for: the inverse of [`ApiError::to_status`].
    /// A reason this server never produces becomes `InternalError` carrying the
    /// original message.
    pub fn from_status(status: &Status) -> ApiError {
        let d = status.details.clone().unwrap_or_default();
        let message = status.message.clone();
        // The part of a Conflict/Forbidden message after the object's name.
        let tail = |sep: &str| {
            message
                .split_once(sep)
                .map(|(_, t)| t.to_owned())
                .unwrap_or_else(|| message.clone())
        };
        match status.reason.as_str() {
            "BadRequest" => ApiError::BadRequest { message },
            "NotFound" => ApiError::NotFound {
                group: d.group,
                resource: d.kind,
                name: d.name,
            },
            "AlreadyExists" => ApiError::AlreadyExists {
                group: d.group,
                resource: d.kind,
                name: d.name,
            },
            "Conflict" => ApiError::Conflict {
                message: tail("\": "),
                group: d.group,
                resource: d.kind,
                name: d.name,
            },
            "Invalid" => ApiError::Invalid {
                group: d.group,
                kind: d.kind,
                name: d.name,
                causes: d.causes,
            },
            "Forbidden" => ApiError::Forbidden {
                message: tail("\" is forbidden: "),
                group: d.group,
                resource: d.kind,
                name: d.name,
            },
            "MethodNotAllowed" => ApiError::MethodNotAllowed { message },
            "Expired" | "Gone" => ApiError::Expired { message },
            "UnsupportedMediaType" => ApiError::UnsupportedMediaType { message },
            "Timeout"
                if d.causes
                    .iter()
                    .any(|c| c.reason == "ResourceVersionTooLarge") =>
            {
                let numbers: Vec<u64> = message
                    .split(|c: char| !c.is_ascii_digit())
                    .filter_map(|n| n.parse().ok())
                    .collect();
                match numbers.as_slice() {
                    [requested, current] => ApiError::ResourceVersionTooLarge {
                        requested: *requested,
                        current: *current,
                    },
                    _ => ApiError::Timeout { message },
                }
            }
            "Timeout" => ApiError::Timeout { message },
            "ServiceUnavailable" => ApiError::Unavailable { message },
            "InternalError" => ApiError::Internal {
                message: message
                    .strip_prefix("Internal error occurred: ")
                    .unwrap_or(&message)
                    .to_owned(),
            },
            other => ApiError::Internal {
                message: format!("{other}: {message}"),
            },
        }
    }
}

impl From<StoreError> for ApiError {
    /// The API's view of a store failure. A `Conflict` reaching this point
    /// has lost the object's name; storage code maps CAS failures itself.
    fn from(e: StoreError) -> ApiError {
        match e {
            StoreError::Compacted { compacted } => ApiError::Expired {
                message: format!(
                    "too old resource version: the oldest available is {}",
                    compacted.0 + 1
                ),
            },
            StoreError::FutureRevision { requested, current } => {
                ApiError::ResourceVersionTooLarge {
                    requested: requested.0,
                    current: current.0,
                }
            }
            StoreError::NotLeader { .. } | StoreError::Unavailable(_) => ApiError::Unavailable {
                message: format!("the store is unavailable: {e}"),
            },
            StoreError::Timeout(_) | StoreError::Indeterminate(_) => ApiError::Timeout {
                message: format!(
                    "The request did not finish in time and may or may not have been applied: {e}"
                ),
            },
            StoreError::Conflict { .. }
            | StoreError::LeaseNotFound(_)
            | StoreError::LeaseExists(_)
            | StoreError::Invalid(_)
            | StoreError::Fatal(_) => ApiError::Internal {
                message: e.to_string(),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::object::{DEPLOYMENT, POD};
    use crate::api::validation::{FieldError, FieldPath};

    /// Every variant survives the trip through `Status` unchanged, and the
    /// `Status` carries Kubernetes' code, reason and wording.
    #[test]
    fn every_error_round_trips_through_status() {
        let mut errors = FieldErrors::new();
        errors.push(FieldError::required(
            &FieldPath::new("spec").child("selector"),
            "",
        ));
        errors.push(FieldError::invalid(
            &FieldPath::new("metadata").child("name"),
            "Bad_Name",
            "must be lowercase",
        ));
        let all = vec![
            ApiError::bad_request("unable to parse requirement"),
            ApiError::not_found(&DEPLOYMENT, "web"),
            ApiError::already_exists(&POD, "web"),
            ApiError::conflict(&POD, "web", MODIFIED_MESSAGE),
            ApiError::invalid(&DEPLOYMENT, "web", &errors),
            ApiError::forbidden(&POD, "web", "namespace shop is being terminated"),
            ApiError::MethodNotAllowed {
                message: "no scale".into(),
            },
            ApiError::Expired {
                message: "too old resource version: 3".into(),
            },
            ApiError::UnsupportedMediaType {
                message: "apply patches are not supported".into(),
            },
            ApiError::ResourceVersionTooLarge {
                requested: 90,
                current: 12,
            },
            ApiError::Timeout {
                message: "slow".into(),
            },
            ApiError::Unavailable {
                message: "no leader".into(),
            },
            ApiError::internal("corrupt object"),
        ];
        for e in all {
            let status = e.to_status();
            assert_eq!(status.code, e.code());
            assert_eq!(status.reason, e.reason());
            assert_eq!(status.status, "Failure");
            assert_eq!(ApiError::from_status(&status), e, "{status:?}");
        }
        assert_eq!(
            ApiError::not_found(&DEPLOYMENT, "web").to_string(),
            "deployments.apps \"web\" not found"
        );
        let invalid = ApiError::invalid(&DEPLOYMENT, "web", &errors);
        assert_eq!(
            invalid.to_string(),
            "Deployment.apps \"web\" is invalid: [spec.selector: Required value, \
             metadata.name: Invalid value: \"Bad_Name\": must be lowercase]"
        );
        let causes = invalid.to_status().details.map(|d| d.causes);
        assert_eq!(
            causes.map(|c| c.into_iter().map(|c| c.field).collect::<Vec<_>>()),
            Some(vec!["spec.selector".to_owned(), "metadata.name".to_owned()])
        );
    }

    /// Store failures become the API errors clients act on: compaction is
    /// 410 Expired, a missing leader 503, an unknown outcome 504.
    #[test]
    fn store_errors_map_to_api_errors() {
        use hive_raftstore::Revision;
        let e = ApiError::from(StoreError::Compacted {
            compacted: Revision(7),
        });
        assert_eq!((e.code(), e.reason()), (410, "Expired"));
        let e = ApiError::from(StoreError::Unavailable("down".into()));
        assert!(e.is_retryable());
        assert_eq!(e.code(), 503);
        let e = ApiError::from(StoreError::Timeout(std::time::Duration::from_secs(1)));
        assert_eq!((e.code(), e.reason()), (504, "Timeout"));
    }
}
