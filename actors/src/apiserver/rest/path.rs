//! Kubernetes resource URLs, parsed into what they name.
//!
//! `/api/v1/...` is the core group, `/apis/<group>/<version>/...` every other group.
//! Below the group-version come, for namespaced kinds,
//! `namespaces/<ns>/<resource>[/<name>[/<subresource>]]`, and for every kind
//! `<resource>[/<name>[/<subresource>]]` (for a namespaced kind, the list across all
//! namespaces). `namespaces/<name>[/<sub>]` itself is the Namespace object.

use crate::api::convert::{converts, lookup_alternate, storage_of};
use crate::api::object::{lookup_resource, ResourceInfo};

use super::status::RestError;

/// What a resource URL names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    /// `/api` or `/apis`: the group list.
    Root {
        /// `true` for `/api` (the core group), `false` for `/apis`.
        core: bool,
    },
    /// `/apis/<group>`: one group's versions.
    Group(String),
    /// `/api/v1` or `/apis/<group>/<version>`: a group-version's resources.
    GroupVersion {
        /// The group (`""` for core).
        group: String,
        /// The version.
        version: String,
    },
    /// A resource collection, an object, or an object's subresource.
    Resource(Target),
}

/// The resource, namespace, name and subresource a URL addresses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// The kind at the URL's version: the stored kind itself ([`Target::info`]), or an
    /// alternate version that bodies and answers are converted from and to
    /// ([`crate::api::convert`]).
    pub served: &'static ResourceInfo,
    /// The namespace, when the URL names one (`None`: all namespaces, or cluster-scoped).
    pub namespace: Option<String>,
    /// The object's name, when the URL names one.
    pub name: Option<String>,
    /// `status`, `scale`, ... when the URL names a subresource.
    pub subresource: Option<String>,
}

impl Target {
    /// The kind as stored.
    pub fn info(&self) -> &'static ResourceInfo {
        storage_of(self.served)
    }

    /// Whether the URL names a version other than the stored one.
    pub fn converts(&self) -> bool {
        converts(self.served)
    }
}

/// The subresources of a Namespace, which share their URL shape with a namespace's
/// collections.
const NAMESPACE_SUBRESOURCES: [&str; 2] = ["status", "finalize"];

/// Parses a path that starts with `/api` or `/apis` (query string removed).
pub fn parse(path: &str) -> Result<Route, RestError> {
    let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
    let (group, version, rest) = match segments.as_slice() {
        ["api"] => return Ok(Route::Root { core: true }),
        ["apis"] => return Ok(Route::Root { core: false }),
        ["apis", group] => return Ok(Route::Group((*group).to_owned())),
        ["api", version, rest @ ..] => ("", *version, rest),
        ["apis", group, version, rest @ ..] => (*group, *version, rest),
        _ => return Err(RestError::no_route(path)),
    };
    if rest.is_empty() {
        return Ok(Route::GroupVersion {
            group: group.to_owned(),
            version: version.to_owned(),
        });
    }
    if rest.iter().any(|s| s.is_empty()) {
        return Err(RestError::no_route(path));
    }
    // The kind at the URL's version.
    let lookup = |plural: &str| {
        lookup_resource(group, version, plural)
            .or_else(|| lookup_alternate(group, version, plural))
            .ok_or_else(|| RestError::no_route(path))
    };
    let owned = |s: &&str| (*s).to_owned();
    let target = match rest {
        // namespaces/<ns>/<resource>[/<name>[/<sub>]] for a namespaced resource
        ["namespaces", ns, plural, tail @ ..] => {
            match lookup(plural) {
                Ok(served) if served.namespaced => {
                    if tail.len() > 2 {
                        return Err(RestError::no_route(path));
                    }
                    Target {
                        served,
                        namespace: Some((*ns).to_owned()),
                        name: tail.first().map(owned),
                        subresource: tail.get(1).map(owned),
                    }
                }
                // namespaces/<name>/<subresource> (status, finalize)
                _ if group.is_empty()
                    && tail.is_empty()
                    && NAMESPACE_SUBRESOURCES.contains(plural) =>
                {
                    Target {
                        served: lookup("namespaces")?,
                        namespace: None,
                        name: Some((*ns).to_owned()),
                        subresource: Some((*plural).to_owned()),
                    }
                }
                Ok(_) | Err(_) => return Err(RestError::no_route(path)),
            }
        }
        [plural, tail @ ..] => {
            if tail.len() > 2 {
                return Err(RestError::no_route(path));
            }
            Target {
                served: lookup(plural)?,
                namespace: None,
                name: tail.first().map(owned),
                subresource: tail.get(1).map(owned),
            }
        }
        [] => return Err(RestError::no_route(path)),
    };
    Ok(Route::Resource(target))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::object::{DEPLOYMENT, NAMESPACE, NODE, POD};

    fn target(path: &str) -> Target {
        match parse(path) {
            Ok(Route::Resource(t)) => t,
            other => panic!("{path}: {other:?}"),
        }
    }

    /// Namespaced and cluster-wide collections, objects and subresources resolve to
    /// their kind, namespace, name and subresource.
    #[test]
    fn resource_urls_name_kind_namespace_name_and_subresource() {
        let t = target("/api/v1/namespaces/shop/pods");
        assert_eq!(
            (t.info(), t.namespace.as_deref(), t.name),
            (&POD, Some("shop"), None)
        );
        let t = target("/api/v1/pods");
        assert_eq!((t.info(), t.namespace), (&POD, None));
        let t = target("/apis/apps/v1/namespaces/shop/deployments/web/scale");
        assert_eq!(t.info(), &DEPLOYMENT);
        assert_eq!(t.name.as_deref(), Some("web"));
        assert_eq!(t.subresource.as_deref(), Some("scale"));
        let t = target("/api/v1/nodes/n1/status");
        assert_eq!((t.info(), t.name.as_deref()), (&NODE, Some("n1")));
        assert_eq!(t.subresource.as_deref(), Some("status"));
    }

    /// `namespaces/<name>` is the Namespace itself, with or without a subresource.
    #[test]
    fn namespace_urls_are_namespaces_not_prefixes() {
        let t = target("/api/v1/namespaces");
        assert_eq!((t.info(), t.name), (&NAMESPACE, None));
        let t = target("/api/v1/namespaces/shop");
        assert_eq!((t.info(), t.name.as_deref()), (&NAMESPACE, Some("shop")));
        let t = target("/api/v1/namespaces/shop/status");
        assert_eq!(t.info(), &NAMESPACE);
        assert_eq!(t.name.as_deref(), Some("shop"));
        assert_eq!(t.subresource.as_deref(), Some("status"));
    }

    /// Discovery URLs are told apart from resource URLs.
    #[test]
    fn discovery_urls_are_recognised() {
        assert_eq!(parse("/api"), Ok(Route::Root { core: true }));
        assert_eq!(parse("/apis/"), Ok(Route::Root { core: false }));
        assert_eq!(parse("/apis/apps"), Ok(Route::Group("apps".into())));
        assert_eq!(
            parse("/apis/apps/v1"),
            Ok(Route::GroupVersion {
                group: "apps".into(),
                version: "v1".into()
            })
        );
    }

    /// Unknown resources, wrong groups, cluster-scoped kinds under a namespace and
    /// over-long paths are 404s, never a guess.
    #[test]
    fn unknown_or_malformed_urls_are_not_found() {
        for bad in [
            "/api/v1/widgets",
            "/apis/apps/v1/pods",
            "/api/v1/namespaces/shop/nodes",
            "/api/v1/namespaces/shop/pods/p/status/extra",
            "/api/v1/pods//x",
            "/apis/apps/v2/deployments",
            "/other",
        ] {
            let e = parse(bad).expect_err(bad);
            assert_eq!(e.code(), 404, "{bad}");
        }
    }
}
