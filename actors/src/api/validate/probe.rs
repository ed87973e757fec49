//! Probe and lifecycle-hook validation (core's `validateProbe` and
//! `validateHandler`): exactly one handler, sane timings, ports by number or
//! name.

use super::helpers::{validate_nonnegative, validate_port_num_or_name};
use crate::api::core::{ExecAction, HTTPGetAction, LifecycleHandler, Probe};
use crate::api::validation::{
    is_valid_port_num, regex_error, BadValue, FieldError, FieldErrors, FieldPath,
};

#[derive(Clone, Copy, PartialEq, Eq)]
/// Which of a container's probes is being validated.
pub(super) enum ProbeKind {
    /// `livenessProbe`.
    Liveness,
    /// `readinessProbe`.
    Readiness,
    /// `startupProbe`.
    Startup,
}

pub(super) fn validate_probe(
    probe: Option<&Probe>,
    kind: ProbeKind,
    container: &FieldPath,
) -> FieldErrors {
    let mut errs = FieldErrors::new();
    let Some(probe) = probe else {
        return errs;
    };
    let path = container.child(match kind {
        ProbeKind::Liveness => "livenessProbe",
        ProbeKind::Readiness => "readinessProbe",
        ProbeKind::Startup => "startupProbe",
    });
    let handlers = Handlers {
        exec: probe.exec.as_ref(),
        http_get: probe.http_get.as_ref(),
        tcp_socket: probe.tcp_socket.as_ref().map(|t| &t.port),
        grpc: probe.grpc.as_ref().map(|g| g.port),
        sleep: None,
    };
    errs.extend(handlers.validate(None, &path));
    for (field, value) in [
        ("initialDelaySeconds", probe.initial_delay_seconds),
        ("timeoutSeconds", probe.timeout_seconds),
        ("periodSeconds", probe.period_seconds),
        ("successThreshold", probe.success_threshold),
        ("failureThreshold", probe.failure_threshold),
    ] {
        errs.extend(validate_nonnegative(i64::from(value), &path.child(field)));
    }
    if let Some(grace) = probe.termination_grace_period_seconds {
        if kind == ProbeKind::Readiness {
            errs.push(FieldError::invalid(
                &path.child("terminationGracePeriodSeconds"),
                grace,
                "must not be set for readinessProbes",
            ));
        } else if grace <= 0 {
            errs.push(FieldError::invalid(
                &path.child("terminationGracePeriodSeconds"),
                grace,
                "must be greater than 0",
            ));
        }
    }
    if kind != ProbeKind::Readiness && probe.success_threshold != 1 {
        errs.push(FieldError::invalid(
            &path.child("successThreshold"),
            probe.success_threshold,
            "must be 1",
        ));
    }
    errs
}

pub(super) fn validate_lifecycle_handler(
    handler: &LifecycleHandler,
    grace: Option<i64>,
    path: &FieldPath,
) -> FieldErrors {
    Handlers {
        exec: handler.exec.as_ref(),
        http_get: handler.http_get.as_ref(),
        tcp_socket: handler.tcp_socket.as_ref().map(|t| &t.port),
        grpc: None,
        sleep: handler.sleep.as_ref().map(|s| s.seconds),
    }
    .validate(grace, path)
}

/// The handler fields a probe or hook may set (core's `commonHandler`).
struct Handlers<'a> {
    exec: Option<&'a ExecAction>,
    http_get: Option<&'a HTTPGetAction>,
    tcp_socket: Option<&'a crate::api::intstr::IntOrString>,
    grpc: Option<i32>,
    sleep: Option<i64>,
}

impl Handlers<'_> {
    fn validate(&self, grace: Option<i64>, path: &FieldPath) -> FieldErrors {
        let mut errs = FieldErrors::new();
        let mut count = 0;
        let mut one = |field: &str, errs: &mut FieldErrors| {
            if count > 0 {
                errs.push(FieldError::forbidden(
                    &path.child(field),
                    "may not specify more than 1 handler type",
                ));
                false
            } else {
                count += 1;
                true
            }
        };
        if let Some(exec) = self.exec {
            if one("exec", &mut errs) && exec.command.is_empty() {
                errs.push(FieldError::required(
                    &path.child("exec").child("command"),
                    "",
                ));
            }
        }
        if let Some(http) = self.http_get {
            if one("httpGet", &mut errs) {
                let hp = path.child("httpGet");
                if http.path.is_empty() {
                    errs.push(FieldError::required(&hp.child("path"), ""));
                }
                errs.extend(validate_port_num_or_name(&http.port, &hp.child("port")));
                if !["HTTP", "HTTPS"].contains(&http.scheme.as_str()) {
                    errs.push(FieldError::not_supported(
                        &hp.child("scheme"),
                        &http.scheme,
                        &["HTTP", "HTTPS"],
                    ));
                }
                for header in &http.http_headers {
                    if !is_http_header_name(&header.name) {
                        errs.push(FieldError::invalid(
                            &hp.child("httpHeaders"),
                            &header.name,
                            regex_error(
                                "a valid HTTP header must consist of alphanumeric characters or '-'",
                                "[-A-Za-z0-9]+",
                                &["X-Header-Name"],
                            ),
                        ));
                    }
                }
            }
        }
        if let Some(port) = self.tcp_socket {
            if one("tcpSocket", &mut errs) {
                errs.extend(validate_port_num_or_name(
                    port,
                    &path.child("tcpSocket").child("port"),
                ));
            }
        }
        if let Some(port) = self.grpc {
            if one("grpc", &mut errs) {
                for msg in is_valid_port_num(i64::from(port)) {
                    errs.push(FieldError::invalid(
                        &path.child("grpc").child("port"),
                        port,
                        msg,
                    ));
                }
            }
        }
        if let Some(seconds) = self.sleep {
            if one("sleep", &mut errs) {
                let grace = grace.unwrap_or(30);
                if seconds <= 0 || seconds > grace {
                    errs.push(FieldError::invalid(
                        &path.child("sleep"),
                        BadValue::Int(seconds),
                        format!("must be greater than 0 and less than terminationGracePeriodSeconds ({grace})"),
                    ));
                }
            }
        }
        if count == 0 {
            errs.push(FieldError::required(path, "must specify a handler type"));
        }
        errs
    }
}

fn is_http_header_name(name: &str) -> bool {
    !name.is_empty() && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
}
