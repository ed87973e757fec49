//! Errors of the REST edge, answered as Kubernetes `Status` objects.
//!
//! Errors from the storage path arrive as [`ApiError`] and keep their `Status` as is;
//! the edge adds the failures only HTTP has (no route, bad credentials, a body too
//! large, a media type it cannot read or produce). kubectl prints
//! `Error from server (<reason>): <message>` from exactly these bodies.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};

use crate::api::{Status, StatusCause, StatusDetails};
use crate::apiserver::ApiError;

/// A failed REST request: a `Status` body and its HTTP code.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{} {}: {}", .status.code, .status.reason, .status.message)]
pub struct RestError {
    /// The body; its `code` is the HTTP status (boxed: errors travel far, cheaply).
    pub status: Box<Status>,
}

impl RestError {
    fn new(code: i32, reason: &str, message: impl Into<String>) -> RestError {
        RestError {
            status: Box::new(Status::failure(code, reason, message)),
        }
    }

    /// 400: the request cannot be decoded or makes no sense.
    pub fn bad_request(message: impl Into<String>) -> RestError {
        RestError::new(400, "BadRequest", message)
    }

    /// 401: no or wrong credentials.
    pub fn unauthorized() -> RestError {
        RestError::new(401, "Unauthorized", "Unauthorized")
    }

    /// 404 for a URL that names nothing Hive serves.
    pub fn no_route(path: &str) -> RestError {
        let mut e = RestError::new(
            404,
            "NotFound",
            format!("the server could not find the requested resource ({path})"),
        );
        e.status.details = Some(StatusDetails::default());
        e
    }

    /// 405: the verb is not served at this URL.
    pub fn method_not_allowed(message: impl Into<String>) -> RestError {
        RestError::new(405, "MethodNotAllowed", message)
    }

    /// 406: none of the accepted media types can be produced.
    pub fn not_acceptable(accept: &str) -> RestError {
        RestError::new(
            406,
            "NotAcceptable",
            format!("only the following media types are accepted: application/json, application/yaml (asked for {accept:?})"),
        )
    }

    /// 413: the body is larger than the server accepts.
    pub fn too_large(limit: usize) -> RestError {
        RestError::new(
            413,
            "RequestEntityTooLarge",
            format!("the request body is larger than the limit of {limit} bytes"),
        )
    }

    /// 429: the server is overloaded; the client retries after `retry_after` seconds
    /// (the response carries `Retry-After`).
    pub fn too_many_requests(retry_after: i32) -> RestError {
        let mut e = RestError::new(
            429,
            "TooManyRequests",
            "Too many requests, please try again later.",
        );
        e.status.details = Some(StatusDetails {
            retry_after_seconds: Some(retry_after),
            ..StatusDetails::default()
        });
        e
    }

    /// 409: a server-side apply would change fields other managers own.
    pub fn apply_conflict(conflicts: &[super::apply::Conflict]) -> RestError {
        let mut e = RestError::new(409, "Conflict", super::apply::conflict_message(conflicts));
        e.status.details = Some(StatusDetails {
            causes: conflicts
                .iter()
                .map(|c| StatusCause {
                    reason: "FieldManagerConflict".to_owned(),
                    message: format!("conflict with {}", c.manager_text()),
                    field: c.field.clone(),
                })
                .collect(),
            ..StatusDetails::default()
        });
        e
    }

    /// 415: a body in a media type this verb does not take.
    pub fn unsupported_media_type(content_type: &str) -> RestError {
        RestError::new(
            415,
            "UnsupportedMediaType",
            format!("the body of the request was in an unknown format - accepted media types include: application/json, application/yaml, application/vnd.kubernetes.protobuf, application/json-patch+json, application/merge-patch+json, application/strategic-merge-patch+json, application/apply-patch+yaml; got {content_type:?}"),
        )
    }

    /// 500: something failed inside the server.
    pub fn internal(message: impl Into<String>) -> RestError {
        RestError::new(500, "InternalError", message)
    }

    /// The HTTP status code.
    pub fn code(&self) -> u16 {
        u16::try_from(self.status.code).unwrap_or(500)
    }
}

impl From<ApiError> for RestError {
    fn from(e: ApiError) -> RestError {
        RestError {
            status: Box::new(e.to_status()),
        }
    }
}

impl ResponseError for RestError {
    fn status_code(&self) -> StatusCode {
        StatusCode::from_u16(self.code()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }

    fn error_response(&self) -> HttpResponse {
        let mut response = HttpResponse::build(self.status_code());
        response.content_type("application/json");
        let retry = self
            .status
            .details
            .as_ref()
            .and_then(|d| d.retry_after_seconds);
        if let Some(seconds) = retry {
            response.insert_header(("Retry-After", seconds.to_string()));
        }
        let body = serde_json::to_vec(&self.status).unwrap_or_else(|_| b"{}".to_vec());
        response.body(body)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::object::DEPLOYMENT;

    /// A storage error keeps its Status (reason, message, details) at the edge.
    #[test]
    fn storage_errors_keep_their_status() {
        let e = RestError::from(ApiError::not_found(&DEPLOYMENT, "web"));
        assert_eq!(e.code(), 404);
        let json = serde_json::to_value(&e.status).unwrap_or_default();
        assert_eq!(json["kind"], "Status");
        assert_eq!(json["status"], "Failure");
        assert_eq!(json["reason"], "NotFound");
        assert_eq!(json["message"], "deployments.apps \"web\" not found");
        assert_eq!(json["details"]["name"], "web");
        assert_eq!(json["details"]["group"], "apps");
    }

    /// Edge-only errors have Kubernetes' codes and reasons, and the response carries
    /// the Status as JSON.
    #[test]
    fn edge_errors_have_kubernetes_codes() {
        let cases = [
            (RestError::unauthorized(), 401, "Unauthorized"),
            (RestError::too_large(3 << 20), 413, "RequestEntityTooLarge"),
            (RestError::no_route("/api/v1/widgets"), 404, "NotFound"),
            (RestError::bad_request("x"), 400, "BadRequest"),
            (RestError::too_many_requests(1), 429, "TooManyRequests"),
            (
                RestError::unsupported_media_type("text/plain"),
                415,
                "UnsupportedMediaType",
            ),
        ];
        for (e, code, reason) in cases {
            assert_eq!(e.code(), code);
            assert_eq!(e.status.reason, reason);
            let response = e.error_response();
            assert_eq!(response.status().as_u16(), code);
            assert_eq!(
                response
                    .headers()
                    .get("content-type")
                    .and_then(|v| v.to_str().ok()),
                Some("application/json")
            );
        }
        let busy = RestError::too_many_requests(3).error_response();
        assert_eq!(
            busy.headers()
                .get("retry-after")
                .and_then(|v| v.to_str().ok()),
            Some("3")
        );
    }
}
