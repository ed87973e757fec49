//! Validation of the kinds that route traffic: Service and Endpoints (core),
//! EndpointSlice (`discovery/validation`) and Ingress
//! (`networking/validation`).

use std::collections::BTreeSet;
use std::net::IpAddr;

use super::container::PORT_PROTOCOLS;
use super::helpers::{
    invalid_each, is_ip, json_value, required_enum, validate_port_num_or_name, NameRule,
    INVALID_IP_MSG,
};
use super::meta::validate_object_meta;
use crate::api::core::{EndpointAddress, Endpoints, Service, ServicePort};
use crate::api::discovery::EndpointSlice;
use crate::api::intstr::IntOrString;
use crate::api::networking::{Ingress, IngressBackend};
use crate::api::validation::{
    is_dns1035_label, is_dns1123_label, is_dns1123_subdomain, is_qualified_name,
    is_valid_port_name, is_valid_port_num, regex_error, validate_labels, BadValue, FieldError,
    FieldErrors, FieldPath,
};

const KUBELET_PORT: i32 = 10250;

fn metadata() -> FieldPath {
    FieldPath::new("metadata")
}

/// A Service (core's `ValidateService`).
pub(super) fn validate_service(svc: &Service) -> FieldErrors {
    let mut errs = validate_object_meta(&svc.metadata, true, NameRule::Dns1035Label, &metadata());
    let spec = &svc.spec;
    let sp = FieldPath::new("spec");
    let headless = spec.cluster_ip == "None";
    if spec.ports.is_empty() && !headless && spec.type_ != "ExternalName" {
        errs.push(FieldError::required(&sp.child("ports"), ""));
    }
    match spec.type_.as_str() {
        "LoadBalancer" | "NodePort" => {
            if headless {
                errs.push(FieldError::invalid(
                    &sp.child("clusterIPs").index(0),
                    "None",
                    format!("may not be set to 'None' for {} services", spec.type_),
                ));
            }
            if spec.type_ == "LoadBalancer" {
                for (i, port) in spec.ports.iter().enumerate() {
                    if port.port == KUBELET_PORT {
                        errs.push(FieldError::invalid(
                            &sp.child("ports").index(i),
                            port.port,
                            format!("may not expose port {KUBELET_PORT} externally since it is used by kubelet"),
                        ));
                    }
                }
            }
        }
        "ExternalName" => {
            if !spec.cluster_ips.is_empty() {
                errs.push(FieldError::forbidden(
                    &sp.child("clusterIPs"),
                    "may not be set for ExternalName services",
                ));
            }
            if !spec.ip_families.is_empty() {
                errs.push(FieldError::forbidden(
                    &sp.child("ipFamilies"),
                    "may not be set for ExternalName services",
                ));
            }
            if spec.ip_family_policy.is_some() {
                errs.push(FieldError::forbidden(
                    &sp.child("ipFamilyPolicy"),
                    "may not be set for ExternalName services",
                ));
            }
            let cname = spec
                .external_name
                .strip_suffix('.')
                .unwrap_or(&spec.external_name);
            if cname.is_empty() {
                errs.push(FieldError::required(&sp.child("externalName"), ""));
            } else {
                errs.extend(invalid_each(
                    &sp.child("externalName"),
                    cname,
                    is_dns1123_subdomain(cname),
                ));
            }
        }
        _ => {}
    }
    let pp = sp.child("ports");
    let mut names = BTreeSet::new();
    for (i, port) in spec.ports.iter().enumerate() {
        errs.extend(validate_service_port(
            port,
            spec.ports.len() > 1,
            &mut names,
            &pp.index(i),
        ));
    }
    errs.extend(validate_labels(&spec.selector, &sp.child("selector")));
    match spec.session_affinity.as_str() {
        "" => errs.push(FieldError::required(&sp.child("sessionAffinity"), "")),
        "ClientIP" => {
            let cp = sp.child("sessionAffinityConfig");
            let timeout = spec
                .session_affinity_config
                .as_ref()
                .and_then(|c| c.client_ip.as_ref())
                .and_then(|c| c.timeout_seconds);
            match timeout {
                None => errs.push(FieldError::required(
                    &cp.child("clientIP").child("timeoutSeconds"),
                    "when session affinity type is ClientIP",
                )),
                Some(t) if !(1..=86400).contains(&t) => errs.push(FieldError::invalid(
                    &cp.child("clientIP").child("timeoutSeconds"),
                    t,
                    "must be greater than 0 and less than 86400",
                )),
                Some(_) => {}
            }
        }
        "None" => {
            if spec.session_affinity_config.is_some() {
                errs.push(FieldError::forbidden(
                    &sp.child("sessionAffinityConfig"),
                    "must not be set when session affinity is None",
                ));
            }
        }
        other => errs.push(FieldError::not_supported(
            &sp.child("sessionAffinity"),
            other,
            &["ClientIP", "None"],
        )),
    }
    if !spec.cluster_ip.is_empty() && !headless && !is_ip(&spec.cluster_ip) {
        errs.push(FieldError::invalid(
            &sp.child("clusterIP"),
            &spec.cluster_ip,
            INVALID_IP_MSG,
        ));
    }
    for (i, ip) in spec.cluster_ips.iter().enumerate() {
        if ip != "None" && !is_ip(ip) {
            errs.push(FieldError::invalid(
                &sp.child("clusterIPs").index(i),
                ip,
                INVALID_IP_MSG,
            ));
        }
    }
    if let Some(first) = spec.cluster_ips.first() {
        if !spec.cluster_ip.is_empty() && first != &spec.cluster_ip {
            errs.push(FieldError::invalid(
                &sp.child("clusterIPs").index(0),
                first,
                "first value must match `clusterIP`",
            ));
        }
    }
    for (i, ip) in spec.external_ips.iter().enumerate() {
        let p = sp.child("externalIPs").index(i);
        if is_ip(ip) {
            errs.extend(validate_non_special_ip(ip, &p));
        } else {
            errs.push(FieldError::invalid(&p, ip, INVALID_IP_MSG));
        }
    }
    errs.extend(required_enum(
        &spec.type_,
        &["ClusterIP", "ExternalName", "LoadBalancer", "NodePort"],
        &sp.child("type"),
    ));
    if spec.type_ == "ClusterIP" {
        for (i, port) in spec.ports.iter().enumerate() {
            if port.node_port != 0 {
                errs.push(FieldError::forbidden(
                    &pp.index(i).child("nodePort"),
                    "may not be used when `type` is 'ClusterIP'",
                ));
            }
        }
    }
    let mut node_ports = BTreeSet::new();
    for (i, port) in spec.ports.iter().enumerate() {
        if port.node_port != 0 && !node_ports.insert((port.protocol.clone(), port.node_port)) {
            errs.push(FieldError::duplicate(
                &pp.index(i).child("nodePort"),
                port.node_port,
            ));
        }
    }
    let mut pairs = BTreeSet::new();
    for (i, port) in spec.ports.iter().enumerate() {
        if !pairs.insert((port.protocol.clone(), port.port)) {
            errs.push(FieldError::duplicate(
                &pp.index(i),
                BadValue::Json(format!(
                    "core.ServicePort{{Name:\"\", Protocol:\"{}\", AppProtocol:(*string)(nil), Port:{}, TargetPort:intstr.IntOrString{{Type:0, IntVal:0, StrVal:\"\"}}, NodePort:0}}",
                    port.protocol, port.port
                )),
            ));
        }
    }
    let externally_accessible = spec.type_ == "LoadBalancer"
        || spec.type_ == "NodePort"
        || (spec.type_ == "ClusterIP" && !spec.external_ips.is_empty());
    let ep = sp.child("externalTrafficPolicy");
    if !externally_accessible {
        if !spec.external_traffic_policy.is_empty() {
            errs.push(FieldError::invalid(
                &ep,
                &spec.external_traffic_policy,
                "may only be set for externally-accessible services",
            ));
        }
    } else {
        errs.extend(required_enum(
            &spec.external_traffic_policy,
            &["Cluster", "Local"],
            &ep,
        ));
    }
    let ip = sp.child("internalTrafficPolicy");
    match &spec.internal_traffic_policy {
        None if spec.type_ != "ExternalName" => errs.push(FieldError::required(&ip, "")),
        Some(policy) => errs.extend(required_enum(policy, &["Cluster", "Local"], &ip)),
        None => {}
    }
    errs
}

fn validate_service_port(
    port: &ServicePort,
    require_name: bool,
    names: &mut BTreeSet<String>,
    path: &FieldPath,
) -> FieldErrors {
    let mut errs = FieldErrors::new();
    let np = path.child("name");
    if require_name && port.name.is_empty() {
        errs.push(FieldError::required(&np, ""));
    } else if !port.name.is_empty() {
        errs.extend(invalid_each(&np, &port.name, is_dns1123_label(&port.name)));
        if !names.insert(port.name.clone()) {
            errs.push(FieldError::duplicate(&np, &port.name));
        }
    }
    for msg in is_valid_port_num(i64::from(port.port)) {
        errs.push(FieldError::invalid(&path.child("port"), port.port, msg));
    }
    errs.extend(required_enum(
        &port.protocol,
        &PORT_PROTOCOLS,
        &path.child("protocol"),
    ));
    let target = port.target_port.clone().unwrap_or(IntOrString::Int(0));
    errs.extend(validate_port_num_or_name(
        &target,
        &path.child("targetPort"),
    ));
    if let Some(app) = &port.app_protocol {
        errs.extend(invalid_each(
            &path.child("appProtocol"),
            app,
            is_qualified_name(app),
        ));
    }
    errs
}

/// core's `ValidateNonSpecialIP`.
fn validate_non_special_ip(ip: &str, path: &FieldPath) -> FieldErrors {
    let mut errs = FieldErrors::new();
    let Ok(addr) = ip.parse::<IpAddr>() else {
        errs.push(FieldError::invalid(path, ip, "must be a valid IP address"));
        return errs;
    };
    let msg = match addr {
        IpAddr::V4(v4) if v4.is_unspecified() => Some("may not be unspecified (0.0.0.0)"),
        IpAddr::V6(v6) if v6.is_unspecified() => Some("may not be unspecified (::)"),
        a if a.is_loopback() => Some("may not be in the loopback range (127.0.0.0/8, ::1/128)"),
        IpAddr::V4(v4) if v4.is_link_local() => {
            Some("may not be in the link-local range (169.254.0.0/16, fe80::/10)")
        }
        IpAddr::V6(v6) if (v6.segments()[0] & 0xffc0) == 0xfe80 => {
            Some("may not be in the link-local range (169.254.0.0/16, fe80::/10)")
        }
        IpAddr::V4(v4) if v4.octets()[..3] == [224, 0, 0] => {
            Some("may not be in the link-local multicast range (224.0.0.0/24, ff02::/10)")
        }
        IpAddr::V6(v6)
            if (v6.segments()[0] & 0xffc0) == 0xff00 && (v6.segments()[0] & 0x000f) == 2 =>
        {
            Some("may not be in the link-local multicast range (224.0.0.0/24, ff02::/10)")
        }
        _ => None,
    };
    if let Some(msg) = msg {
        errs.push(FieldError::invalid(path, ip, msg));
    }
    errs
}

/// An Endpoints object (core's `ValidateEndpoints`).
pub(super) fn validate_endpoints(ep: &Endpoints) -> FieldErrors {
    let mut errs =
        validate_object_meta(&ep.metadata, true, NameRule::Dns1123Subdomain, &metadata());
    let sp = FieldPath::new("subsets");
    for (i, subset) in ep.subsets.iter().enumerate() {
        let p = sp.index(i);
        if subset.addresses.is_empty() && subset.not_ready_addresses.is_empty() {
            errs.push(FieldError::required(
                &p,
                "must specify `addresses` or `notReadyAddresses`",
            ));
        }
        for (j, addr) in subset.addresses.iter().enumerate() {
            errs.extend(validate_endpoint_address(
                addr,
                &p.child("addresses").index(j),
            ));
        }
        for (j, addr) in subset.not_ready_addresses.iter().enumerate() {
            errs.extend(validate_endpoint_address(
                addr,
                &p.child("notReadyAddresses").index(j),
            ));
        }
        for (j, port) in subset.ports.iter().enumerate() {
            let pp = p.child("ports").index(j);
            if subset.ports.len() > 1 && port.name.is_empty() {
                errs.push(FieldError::required(&pp.child("name"), ""));
            } else if !port.name.is_empty() {
                errs.extend(invalid_each(
                    &pp.child("name"),
                    &port.name,
                    is_dns1123_label(&port.name),
                ));
            }
            for msg in is_valid_port_num(i64::from(port.port)) {
                errs.push(FieldError::invalid(&pp.child("port"), port.port, msg));
            }
            errs.extend(required_enum(
                &port.protocol,
                &PORT_PROTOCOLS,
                &pp.child("protocol"),
            ));
        }
    }
    errs
}

fn validate_endpoint_address(addr: &EndpointAddress, path: &FieldPath) -> FieldErrors {
    let mut errs = FieldErrors::new();
    let ip_path = path.child("ip");
    if !is_ip(&addr.ip) {
        errs.push(FieldError::invalid(&ip_path, &addr.ip, INVALID_IP_MSG));
    }
    if !addr.hostname.is_empty() {
        errs.extend(invalid_each(
            &path.child("hostname"),
            &addr.hostname,
            is_dns1123_label(&addr.hostname),
        ));
    }
    if let Some(node) = &addr.node_name {
        errs.extend(invalid_each(
            &path.child("nodeName"),
            node,
            is_dns1123_subdomain(node),
        ));
    }
    if is_ip(&addr.ip) {
        errs.extend(validate_non_special_ip(&addr.ip, &ip_path));
    }
    errs
}

/// An EndpointSlice (discovery's `ValidateEndpointSlice`).
pub(super) fn validate_endpoint_slice(slice: &EndpointSlice) -> FieldErrors {
    let mut errs = validate_object_meta(
        &slice.metadata,
        true,
        NameRule::Dns1123Subdomain,
        &metadata(),
    );
    errs.extend(required_enum(
        &slice.address_type,
        &["FQDN", "IPv4", "IPv6"],
        &FieldPath::new("addressType"),
    ));
    let ep = FieldPath::new("endpoints");
    if slice.endpoints.len() > 1000 {
        errs.push(FieldError::too_many(
            &ep,
            Some(slice.endpoints.len()),
            Some(1000),
        ));
    } else {
        for (i, endpoint) in slice.endpoints.iter().enumerate() {
            let p = ep.index(i);
            let ap = p.child("addresses");
            if endpoint.addresses.is_empty() {
                errs.push(FieldError::required(&ap, "must contain at least 1 address"));
            } else if endpoint.addresses.len() > 100 {
                errs.push(FieldError::too_many(
                    &ap,
                    Some(endpoint.addresses.len()),
                    Some(100),
                ));
            }
            for (j, address) in endpoint.addresses.iter().enumerate() {
                let msg = match slice.address_type.as_str() {
                    "IPv4" if address.parse::<std::net::Ipv4Addr>().is_err() => {
                        Some("must be a valid IPv4 address")
                    }
                    "IPv6" if address.parse::<std::net::Ipv6Addr>().is_err() => {
                        Some("must be a valid IPv6 address")
                    }
                    "FQDN" if !is_dns1123_subdomain(address.trim_end_matches('.')).is_empty() => {
                        Some("must be a valid fully qualified domain name")
                    }
                    _ => None,
                };
                if let Some(msg) = msg {
                    errs.push(FieldError::invalid(&ap.index(j), address, msg));
                }
            }
            if let Some(node) = &endpoint.node_name {
                errs.extend(invalid_each(
                    &p.child("nodeName"),
                    node,
                    is_dns1123_subdomain(node),
                ));
            }
            errs.extend(validate_labels(
                &endpoint.deprecated_topology,
                &p.child("deprecatedTopology"),
            ));
            if let Some(hostname) = &endpoint.hostname {
                errs.extend(invalid_each(
                    &p.child("hostname"),
                    hostname,
                    is_dns1123_label(hostname),
                ));
            }
        }
    }
    let pp = FieldPath::new("ports");
    let mut names = BTreeSet::new();
    for (i, port) in slice.ports.iter().enumerate() {
        let p = pp.index(i);
        let name = port.name.clone().unwrap_or_default();
        if !name.is_empty() {
            errs.extend(invalid_each(
                &p.child("name"),
                &name,
                is_dns1123_label(&name),
            ));
        }
        if !names.insert(name.clone()) {
            errs.push(FieldError::duplicate(&p.child("name"), name));
        }
        match &port.protocol {
            None => errs.push(FieldError::required(&p.child("protocol"), "")),
            Some(protocol) => errs.extend(required_enum(
                protocol,
                &PORT_PROTOCOLS,
                &p.child("protocol"),
            )),
        }
        if let Some(number) = port.port {
            for msg in is_valid_port_num(i64::from(number)) {
                errs.push(FieldError::invalid(&p.child("port"), number, msg));
            }
        }
        if let Some(app) = &port.app_protocol {
            errs.extend(invalid_each(
                &p.child("appProtocol"),
                app,
                is_qualified_name(app),
            ));
        }
    }
    errs
}

/// apimachinery's `IsWildcardDNS1123Subdomain`.
fn is_wildcard_dns1123_subdomain(value: &str) -> Vec<String> {
    let mut errs = Vec::new();
    if value.len() > 253 {
        errs.push("must be no more than 253 characters".to_owned());
    }
    let ok = value
        .strip_prefix("*.")
        .is_some_and(|rest| is_dns1123_subdomain(rest).is_empty());
    if !ok {
        errs.push(regex_error(
            "a wildcard DNS-1123 subdomain must start with '*.', followed by a valid DNS subdomain, which must consist of lower case alphanumeric characters, '-' or '.' and end with an alphanumeric character",
            "\\*\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*",
            &["*.example.com"],
        ));
    }
    errs
}

fn host_errors(host: &str) -> Vec<String> {
    if host.contains('*') {
        is_wildcard_dns1123_subdomain(host)
    } else {
        is_dns1123_subdomain(host)
    }
}

/// An Ingress (networking's `ValidateIngressCreate`).
pub(super) fn validate_ingress(ing: &Ingress) -> FieldErrors {
    let mut errs =
        validate_object_meta(&ing.metadata, true, NameRule::Dns1123Subdomain, &metadata());
    let sp = FieldPath::new("spec");
    let spec = ing.spec.clone().unwrap_or_default();
    if spec.rules.is_empty() && spec.default_backend.is_none() {
        errs.push(FieldError::invalid(
            &sp,
            json_value(&spec.rules),
            "either `defaultBackend` or `rules` must be specified",
        ));
    }
    if let Some(backend) = &spec.default_backend {
        errs.extend(validate_ingress_backend(
            backend,
            &sp.child("defaultBackend"),
        ));
    }
    let rp = sp.child("rules");
    for (i, rule) in spec.rules.iter().enumerate() {
        let p = rp.index(i);
        if !rule.host.is_empty() {
            if is_ip(&rule.host) {
                errs.push(FieldError::invalid(
                    &p.child("host"),
                    &rule.host,
                    "must be a DNS name, not an IP address",
                ));
            }
            errs.extend(invalid_each(
                &p.child("host"),
                &rule.host,
                host_errors(&rule.host),
            ));
        }
        if let Some(http) = &rule.http {
            let hp = p.child("http").child("paths");
            if http.paths.is_empty() {
                errs.push(FieldError::required(&hp, ""));
            }
            for (j, path) in http.paths.iter().enumerate() {
                let pp = hp.index(j);
                let Some(path_type) = &path.path_type else {
                    errs.push(FieldError::required(
                        &pp.child("pathType"),
                        "pathType must be specified",
                    ));
                    continue;
                };
                let path_field = pp.child("path");
                match path_type.as_str() {
                    "Exact" | "Prefix" => {
                        if !path.path.starts_with('/') {
                            errs.push(FieldError::invalid(
                                &path_field,
                                &path.path,
                                "must be an absolute path",
                            ));
                        }
                        for seq in ["//", "/./", "/../", "%2f", "%2F"] {
                            if path.path.contains(seq) {
                                errs.push(FieldError::invalid(
                                    &path_field,
                                    &path.path,
                                    format!("must not contain '{seq}'"),
                                ));
                            }
                        }
                        for suffix in ["/..", "/."] {
                            if path.path.ends_with(suffix) {
                                errs.push(FieldError::invalid(
                                    &path_field,
                                    &path.path,
                                    format!("cannot end with '{suffix}'"),
                                ));
                            }
                        }
                    }
                    "ImplementationSpecific" => {
                        if !path.path.is_empty() && !path.path.starts_with('/') {
                            errs.push(FieldError::invalid(
                                &path_field,
                                &path.path,
                                "must be an absolute path",
                            ));
                        }
                    }
                    other => errs.push(FieldError::not_supported(
                        &pp.child("pathType"),
                        other,
                        &["Exact", "ImplementationSpecific", "Prefix"],
                    )),
                }
                errs.extend(validate_ingress_backend(
                    &path.backend,
                    &pp.child("backend"),
                ));
            }
        }
    }
    let tp = sp.child("tls");
    for (i, tls) in spec.tls.iter().enumerate() {
        for (j, host) in tls.hosts.iter().enumerate() {
            errs.extend(invalid_each(
                &tp.index(i).child("hosts").index(j),
                host,
                host_errors(host),
            ));
        }
        if !tls.secret_name.is_empty() {
            errs.extend(invalid_each(
                &tp.index(i).child("secretName"),
                &tls.secret_name,
                is_dns1123_subdomain(&tls.secret_name),
            ));
        }
    }
    if let Some(class) = &spec.ingress_class_name {
        errs.extend(invalid_each(
            &sp.child("ingressClassName"),
            class,
            is_dns1123_subdomain(class),
        ));
        let annotation = ing.metadata.annotations.get("kubernetes.io/ingress.class");
        if !class.is_empty() && annotation.is_some_and(|a| !a.is_empty()) {
            errs.push(FieldError::invalid(
                &FieldPath::new("annotations").child("kubernetes.io/ingress.class"),
                annotation.map_or("", String::as_str),
                "must be empty when `ingressClassName` is set",
            ));
        }
    }
    errs
}

fn validate_ingress_backend(backend: &IngressBackend, path: &FieldPath) -> FieldErrors {
    let mut errs = FieldErrors::new();
    match (&backend.resource, &backend.service) {
        (Some(_), Some(_)) => errs.push(FieldError::invalid(
            path,
            "",
            "cannot set both resource and service backends",
        )),
        (Some(resource), None) => {
            let rp = path.child("resource");
            if resource.kind.is_empty() {
                errs.push(FieldError::required(&rp.child("kind"), ""));
            }
            if resource.name.is_empty() {
                errs.push(FieldError::required(&rp.child("name"), ""));
            }
        }
        (None, Some(service)) => {
            let np = path.child("service").child("name");
            if service.name.is_empty() {
                errs.push(FieldError::required(&np, ""));
            } else {
                errs.extend(invalid_each(
                    &np,
                    &service.name,
                    is_dns1035_label(&service.name),
                ));
            }
            let port = service.port.clone().unwrap_or_default();
            let pp = path.child("service").child("port");
            match (port.name.is_empty(), port.number == 0) {
                (false, false) => errs.push(FieldError::invalid(
                    path,
                    "",
                    "cannot set both port name & port number",
                )),
                (false, true) => errs.extend(invalid_each(
                    &pp.child("name"),
                    &port.name,
                    is_valid_port_name(&port.name),
                )),
                (true, false) => {
                    for msg in is_valid_port_num(i64::from(port.number)) {
                        errs.push(FieldError::invalid(&pp.child("number"), port.number, msg));
                    }
                }
                (true, true) => errs.push(FieldError::required(
                    path,
                    "port name or number is required",
                )),
            }
        }
        (None, None) => errs.push(FieldError::invalid(
            path,
            "",
            "resource or service backend is required",
        )),
    }
    errs
}
