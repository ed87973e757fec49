//! Overload protection: a bounded number of requests in flight, as kube-apiserver's
//! `--max-requests-inflight` and `--max-mutating-requests-inflight` bound them.
//!
//! Every request under `/api` and `/apis` takes a permit from one of two pools, the
//! mutating one (POST, PUT, PATCH, DELETE) or the read-only one (everything else),
//! for as long as its handler runs. When its pool is empty the request is answered at
//! once with 429 `TooManyRequests`, a `Status` body and a `Retry-After` header, and
//! does no work. Watches are long-running and exempt, as in Kubernetes: they hold no
//! permit, so a thousand open watches never starve short requests.

use std::sync::Arc;

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::Method;
use actix_web::middleware::Next;
use actix_web::{web, Error, ResponseError};
use tokio::sync::Semaphore;

use super::status::RestError;

/// Seconds a refused client is told to wait (`Retry-After`), as Kubernetes says.
pub const RETRY_AFTER_SECONDS: i32 = 1;

/// The two pools of permits; a limit of 0 means unlimited.
#[derive(Debug, Clone)]
pub struct Inflight {
    read_only: Option<Arc<Semaphore>>,
    mutating: Option<Arc<Semaphore>>,
}

impl Inflight {
    /// Pools of `read_only` and `mutating` permits (0: no limit).
    pub fn new(read_only: usize, mutating: usize) -> Inflight {
        let pool = |n: usize| (n > 0).then(|| Arc::new(Semaphore::new(n)));
        Inflight {
            read_only: pool(read_only),
            mutating: pool(mutating),
        }
    }
}

/// Whether a request is exempt: not an API request, or a long-running watch.
fn exempt(req: &ServiceRequest) -> bool {
    let path = req.path();
    if !(path.starts_with("/api/") || path.starts_with("/apis/")) {
        return true;
    }
    if path.contains("/watch/") {
        return true;
    }
    req.query_string().split('&').any(|kv| {
        matches!(
            kv.split_once('=').unwrap_or((kv, "")),
            ("watch", "1" | "true" | "True")
        )
    })
}

fn is_mutating(method: &Method) -> bool {
    matches!(
        *method,
        Method::POST | Method::PUT | Method::PATCH | Method::DELETE
    )
}

/// Middleware: refuses a request with 429 when its pool has no permit left.
pub async fn middleware(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, Error> {
    let pool = if exempt(&req) {
        None
    } else {
        let limits = req.app_data::<web::Data<Inflight>>().cloned();
        limits.and_then(|l| {
            if is_mutating(req.method()) {
                l.mutating.clone()
            } else {
                l.read_only.clone()
            }
        })
    };
    let _permit = match pool {
        None => None,
        Some(pool) => match pool.try_acquire_owned() {
            Ok(p) => Some(p),
            Err(_) => {
                let mutating = is_mutating(req.method());
                tracing::debug!(
                    path = req.path(),
                    mutating,
                    "too many requests in flight; refused with 429"
                );
                let response = RestError::too_many_requests(RETRY_AFTER_SECONDS).error_response();
                return Ok(req.into_response(response).map_into_right_body());
            }
        },
    };
    next.call(req)
        .await
        .map(ServiceResponse::map_into_left_body)
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::test::TestRequest;

    /// Watches and non-API paths are exempt; everything else under /api counts.
    #[test]
    fn watches_and_health_checks_take_no_permit() {
        let cases = [
            ("/api/v1/pods?watch=1", true),
            ("/api/v1/pods?labelSelector=a&watch=true", true),
            ("/api/v1/watch/pods", true),
            ("/healthz", true),
            ("/api/v1/pods", false),
            ("/api/v1/pods?watch=false", false),
            ("/apis/apps/v1/deployments?limit=5", false),
        ];
        for (uri, want) in cases {
            let req = TestRequest::get().uri(uri).to_srv_request();
            assert_eq!(exempt(&req), want, "{uri}");
        }
    }

    /// A limit of 0 is no limit; others bound their pool.
    #[test]
    fn zero_means_unlimited() {
        let i = Inflight::new(0, 2);
        assert!(i.read_only.is_none());
        let pool = i.mutating.expect("a mutating pool");
        let a = pool.clone().try_acquire_owned();
        let b = pool.clone().try_acquire_owned();
        assert!(a.is_ok() && b.is_ok());
        assert!(pool.clone().try_acquire_owned().is_err());
        drop(a);
        assert!(pool.try_acquire_owned().is_ok());
    }
}
