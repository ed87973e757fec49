//! The REST edge: Kubernetes' HTTP API over HTTPS, so kubectl and the official
//! client libraries drive Hive as they drive Kubernetes.
//!
//! What lives here: the actix-web server (HTTPS with rustls on the `ring` provider,
//! serving a certificate from the cluster CA, plus an optional plain listener on
//! loopback), authentication ([`auth`]), Kubernetes' URL layout ([`path`]),
//! discovery and version documents ([`discovery`]), the resource verbs over an
//! [`ApiClient`] ([`handlers`], [`watch`]), server-side printing ([`table`]),
//! strategic merge patch ([`strategic`]), server-side apply ([`apply`]), `Status`
//! errors ([`status`]), the admin kubeconfig ([`kubeconfig`]), the shared watch
//! fan-out ([`fanout`]) and the in-flight request limits ([`inflight`]).
//!
//! What does not: storage semantics (uid, resourceVersion CAS, selectors, watch
//! resumption), which belong to the [`ApiClient`] implementations; decoding and
//! validation rules (`crate::api`).

pub mod apply;
pub mod auth;
pub mod body;
pub mod discovery;
pub mod fanout;
pub mod handlers;
pub mod inflight;
pub mod kubeconfig;
pub mod openapi;
pub mod path;
pub mod status;
pub mod strategic;
pub mod table;
pub mod watch;

use std::net::{SocketAddr, TcpListener};
use std::sync::Arc;

use actix_web::dev::ServerHandle;
use actix_web::{web, App, HttpRequest, HttpResponse, HttpServer};
use hive_transport::Identity;
use rustls::server::WebPkiClientVerifier;
use rustls::RootCertStore;

use super::ApiClient;
pub use auth::Authenticator;
pub use kubeconfig::Kubeconfig;
use status::RestError;

/// The largest request body accepted (Kubernetes' limit is 3 MiB).
pub const MAX_BODY_BYTES: usize = 3 * 1024 * 1024;

/// Why the REST server could not start.
#[derive(Debug, thiserror::Error)]
pub enum RestServerError {
    /// The TLS configuration was refused.
    #[error("TLS configuration: {0}")]
    Tls(#[from] rustls::Error),
    /// The client-certificate verifier could not be built.
    #[error("client certificate verifier: {0}")]
    Verifier(#[from] rustls::server::VerifierBuilderError),
    /// A listener could not be bound.
    #[error("binding {addr}: {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// The OS error.
        source: std::io::Error,
    },
    /// The insecure listener was asked for on a non-loopback address.
    #[error("the insecure listener may only bind a loopback address, not {0}")]
    InsecureNotLoopback(SocketAddr),
}

/// How to run the REST edge.
pub struct RestConfig {
    /// The HTTPS address (port 0: any free port).
    pub listen: SocketAddr,
    /// The serving certificate and key, and the CA client certificates must chain to.
    pub identity: Identity,
    /// The accepted bearer tokens.
    pub auth: Authenticator,
    /// A plain-HTTP listener on loopback, whose requests are the admin's; only when
    /// asked for explicitly.
    pub insecure_listen: Option<SocketAddr>,
    /// The API behind the edge.
    pub client: Arc<dyn ApiClient>,
    /// Worker threads (each runs its own event loop).
    pub workers: usize,
}

/// Limits that protect the REST edge under load. The defaults are
/// kube-apiserver's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RestLimits {
    /// Non-mutating requests (GET, HEAD, ...) in flight at once, watches excepted;
    /// more are answered 429 with `Retry-After` (0: no limit).
    pub max_requests_inflight: usize,
    /// Mutating requests (POST, PUT, PATCH, DELETE) in flight at once (0: no limit).
    pub max_mutating_requests_inflight: usize,
    /// Events each resource's watch hub keeps: how far behind a REST watcher may
    /// fall before its stream is ended, and how far back a resume is served
    /// without a store watch of its own.
    pub watch_queue_events: usize,
}

impl Default for RestLimits {
    fn default() -> Self {
        RestLimits {
            max_requests_inflight: 400,
            max_mutating_requests_inflight: 200,
            watch_queue_events: 1024,
        }
    }
}

/// State shared by every handler.
pub struct RestState {
    /// The API behind the edge.
    pub client: Arc<dyn ApiClient>,
    /// The shared watch hubs, one per resource type watched.
    pub fanout: Arc<fanout::Fanout>,
}

/// A running REST edge.
#[derive(Debug)]
pub struct RestServer {
    /// The bound HTTPS address.
    pub addr: SocketAddr,
    /// The bound insecure address, if any.
    pub insecure_addr: Option<SocketAddr>,
    handle: ServerHandle,
}

impl RestServer {
    /// Binds the listeners and starts serving on the current actix/tokio runtime,
    /// with the default [`RestLimits`].
    pub fn start(config: RestConfig) -> Result<RestServer, RestServerError> {
        RestServer::start_with(config, RestLimits::default())
    }

    /// [`RestServer::start`] with the given limits.
    pub fn start_with(
        config: RestConfig,
        limits: RestLimits,
    ) -> Result<RestServer, RestServerError> {
        let tls = server_tls(&config.identity)?;
        let listener =
            TcpListener::bind(config.listen).map_err(|source| RestServerError::Bind {
                addr: config.listen,
                source,
            })?;
        let addr = listener
            .local_addr()
            .map_err(|source| RestServerError::Bind {
                addr: config.listen,
                source,
            })?;
        let insecure = match config.insecure_listen {
            Some(a) if !a.ip().is_loopback() => {
                return Err(RestServerError::InsecureNotLoopback(a))
            }
            Some(a) => {
                let l = TcpListener::bind(a)
                    .map_err(|source| RestServerError::Bind { addr: a, source })?;
                let bound = l
                    .local_addr()
                    .map_err(|source| RestServerError::Bind { addr: a, source })?;
                Some((l, bound))
            }
            None => None,
        };
        let state = web::Data::new(RestState {
            fanout: fanout::Fanout::new(config.client.clone(), limits.watch_queue_events),
            client: config.client,
        });
        let auth = web::Data::new(config.auth);
        let inflight = web::Data::new(inflight::Inflight::new(
            limits.max_requests_inflight,
            limits.max_mutating_requests_inflight,
        ));
        tracing::info!(?limits, "REST limits");
        let mut server = HttpServer::new(move || {
            App::new()
                .app_data(state.clone())
                .app_data(auth.clone())
                .app_data(inflight.clone())
                .wrap(actix_web::middleware::from_fn(inflight::middleware))
                .wrap(actix_web::middleware::from_fn(auth::middleware))
                .wrap(actix_web::middleware::from_fn(body::complete))
                .configure(routes)
        })
        .workers(config.workers.max(1))
        .disable_signals()
        .shutdown_timeout(2)
        .on_connect(auth::on_connect)
        .listen_rustls_0_23(listener, tls)
        .map_err(|source| RestServerError::Bind { addr, source })?;
        let mut insecure_addr = None;
        if let Some((l, bound)) = insecure {
            server = server.listen(l).map_err(|source| RestServerError::Bind {
                addr: bound,
                source,
            })?;
            insecure_addr = Some(bound);
            tracing::warn!(addr = %bound, "insecure REST listener: every request on it is the admin");
        }
        let server = server.run();
        let handle = server.handle();
        actix_web::rt::spawn(async move {
            if let Err(error) = server.await {
                tracing::error!(%error, "REST server failed");
            }
        });
        tracing::info!(%addr, "REST API listening");
        Ok(RestServer {
            addr,
            insecure_addr,
            handle,
        })
    }

    /// Stops accepting and finishes the requests in flight (up to 2 s).
    pub async fn stop(&self) {
        self.handle.stop(true).await;
    }
}

/// rustls server configuration: the `ring` provider, the identity's certificate,
/// client certificates optional but, when sent, verified against the cluster CA.
fn server_tls(identity: &Identity) -> Result<rustls::ServerConfig, RestServerError> {
    let provider = hive_transport::tls::provider();
    let mut roots = RootCertStore::empty();
    roots.add(identity.ca_cert().clone())?;
    let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider.clone())
        .allow_unauthenticated()
        .build()?;
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_client_cert_verifier(verifier)
        .with_single_cert(identity.cert_chain(), identity.private_key())?;
    Ok(config)
}

/// Every route of the REST edge.
fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/healthz", web::get().to(health))
        .route("/livez", web::get().to(health))
        .route("/readyz", web::get().to(health))
        .route("/version", web::get().to(version))
        .route("/version/", web::get().to(version))
        .route("/openapi/v3", web::get().to(openapi_root))
        .route(
            "/openapi/v3/{tail:.*}",
            web::get().to(openapi_group_version),
        )
        .route("/api", web::to(handlers::api))
        .route("/api/", web::to(handlers::api))
        .route("/api/{tail:.*}", web::to(handlers::api))
        .route("/apis", web::to(handlers::api))
        .route("/apis/", web::to(handlers::api))
        .route("/apis/{tail:.*}", web::to(handlers::api))
        .default_service(web::to(no_route));
}

async fn health() -> HttpResponse {
    HttpResponse::Ok().content_type("text/plain").body("ok")
}

async fn version() -> HttpResponse {
    HttpResponse::Ok().json(discovery::version_info())
}

async fn openapi_root() -> HttpResponse {
    HttpResponse::Ok().json(openapi::root())
}

async fn openapi_group_version(req: HttpRequest) -> Result<HttpResponse, RestError> {
    let rest = req.path().trim_start_matches("/openapi/v3/");
    let parts: Vec<&str> = rest.split('/').collect();
    let doc = match parts.as_slice() {
        ["api", version] => openapi::group_version_text("", version),
        ["apis", group, version] => openapi::group_version_text(group, version),
        _ => None,
    };
    doc.map(|d| HttpResponse::Ok().content_type("application/json").body(d))
        .ok_or_else(|| RestError::no_route(req.path()))
}

async fn no_route(req: HttpRequest) -> Result<HttpResponse, RestError> {
    Err(RestError::no_route(req.path()))
}
