//! Who is asking: authentication of REST requests.
//!
//! A request is authenticated by a bearer token the server knows, or by a client
//! certificate that chains to the cluster CA (checked during the TLS handshake; the
//! user is the certificate's name). Requests on the insecure listener, which binds
//! loopback only and exists only behind an explicit flag, are the admin. Health and
//! version endpoints answer anyone, as Kubernetes' do. Everything else without
//! credentials, or with a wrong token, is 401 Unauthorized.

use std::any::Any;
use std::collections::HashMap;
use std::sync::Arc;

use actix_web::body::MessageBody;
use actix_web::dev::{Extensions, ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use actix_web::{Error, HttpMessage};
use hive_transport::tls::cert_member_name;

use super::status::RestError;

/// An authenticated user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    /// The user's name (`admin`, or a certificate's member name).
    pub name: String,
    /// How the user was recognised.
    pub method: AuthMethod,
}

/// How a user was recognised.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthMethod {
    /// A bearer token.
    Token,
    /// A client certificate from the cluster CA.
    ClientCertificate,
    /// The insecure loopback listener.
    Insecure,
}

/// What the connection told about its peer, recorded when it was accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConnPeer {
    /// A TLS connection; the verified client certificate's name, if one was sent.
    Tls(Option<String>),
    /// A plain connection on the insecure listener.
    Insecure,
}

/// Records the peer of a new connection for the authenticator (actix-web's
/// `on_connect` hook).
pub fn on_connect(conn: &dyn Any, ext: &mut Extensions) {
    use actix_tls::accept::rustls_0_23::TlsStream;
    use actix_web::rt::net::TcpStream;
    if let Some(tls) = conn.downcast_ref::<TlsStream<TcpStream>>() {
        let name = tls
            .get_ref()
            .1
            .peer_certificates()
            .and_then(|chain| chain.first())
            .and_then(cert_member_name)
            .map(|n| n.to_string());
        ext.insert(ConnPeer::Tls(name));
    } else if conn.downcast_ref::<TcpStream>().is_some() {
        ext.insert(ConnPeer::Insecure);
    }
}

/// The credentials the server accepts.
#[derive(Debug, Clone, Default)]
pub struct Authenticator {
    tokens: Arc<HashMap<String, String>>,
}

impl Authenticator {
    /// Accepts each `(token, user name)` pair.
    pub fn new(tokens: impl IntoIterator<Item = (String, String)>) -> Authenticator {
        Authenticator {
            tokens: Arc::new(tokens.into_iter().collect()),
        }
    }

    /// The user behind a request's `Authorization` header and connection, if any.
    /// A presented but unknown token is refused even if a certificate was also sent,
    /// as Kubernetes does.
    pub fn authenticate(
        &self,
        authorization: Option<&str>,
        peer: Option<&ConnPeer>,
    ) -> Result<User, RestError> {
        if let Some(header) = authorization {
            let token = header
                .strip_prefix("Bearer ")
                .or_else(|| header.strip_prefix("bearer "))
                .map(str::trim)
                .ok_or_else(RestError::unauthorized)?;
            return match self.tokens.get(token) {
                Some(name) => Ok(User {
                    name: name.clone(),
                    method: AuthMethod::Token,
                }),
                None => Err(RestError::unauthorized()),
            };
        }
        match peer {
            Some(ConnPeer::Tls(Some(name))) => Ok(User {
                name: name.clone(),
                method: AuthMethod::ClientCertificate,
            }),
            Some(ConnPeer::Insecure) => Ok(User {
                name: "admin".to_owned(),
                method: AuthMethod::Insecure,
            }),
            _ => Err(RestError::unauthorized()),
        }
    }
}

/// Paths anyone may read.
pub fn is_public(path: &str) -> bool {
    matches!(path, "/healthz" | "/livez" | "/readyz" | "/version")
}

/// Middleware: authenticates every non-public request, or answers 401.
pub async fn middleware(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, Error> {
    if !is_public(req.path()) {
        let auth = req
            .app_data::<actix_web::web::Data<Authenticator>>()
            .cloned()
            .ok_or_else(|| RestError::internal("no authenticator configured"))?;
        let header = req
            .headers()
            .get("authorization")
            .map(|v| v.to_str().unwrap_or("invalid"));
        let peer = req.conn_data::<ConnPeer>();
        match auth.authenticate(header, peer) {
            Ok(user) => {
                tracing::trace!(user = %user.name, method = ?user.method, path = req.path(), "authenticated");
                req.extensions_mut().insert(user);
            }
            Err(e) => {
                tracing::debug!(path = req.path(), "unauthenticated request refused");
                return Err(e.into());
            }
        }
    }
    next.call(req).await
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A known token authenticates; an unknown or malformed one is 401 even with a
    /// certificate; a certificate alone authenticates as its name; nothing is 401.
    #[test]
    fn tokens_and_certificates_authenticate() {
        let auth = Authenticator::new([("s3cret".to_owned(), "admin".to_owned())]);
        let cert = ConnPeer::Tls(Some("m1".to_owned()));
        let user = auth
            .authenticate(Some("Bearer s3cret"), None)
            .expect("token");
        assert_eq!(
            (user.name.as_str(), user.method),
            ("admin", AuthMethod::Token)
        );
        for bad in ["Bearer wrong", "Basic YWRtaW4=", "s3cret"] {
            let e = auth.authenticate(Some(bad), Some(&cert)).expect_err(bad);
            assert_eq!(e.code(), 401);
        }
        let user = auth.authenticate(None, Some(&cert)).expect("cert");
        assert_eq!(
            (user.name.as_str(), user.method),
            ("m1", AuthMethod::ClientCertificate)
        );
        assert_eq!(
            auth.authenticate(None, Some(&ConnPeer::Tls(None)))
                .map_err(|e| e.code()),
            Err(401)
        );
        assert_eq!(
            auth.authenticate(None, None).map_err(|e| e.code()),
            Err(401)
        );
        let insecure = auth
            .authenticate(None, Some(&ConnPeer::Insecure))
            .expect("insecure");
        assert_eq!(insecure.method, AuthMethod::Insecure);
        assert!(is_public("/healthz") && !is_public("/api"));
    }
}
