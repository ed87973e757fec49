//! `batch/v1` validation (Kubernetes' `pkg/apis/batch/validation`): Jobs and
//! CronJobs.

use super::container::VolumeNames;
use super::cron::validate_schedule;
use super::helpers::{json_value, map_value, required_enum, validate_nonnegative, NameRule};
use super::meta::validate_object_meta;
use super::pod::validate_pod_template;
use crate::api::batch::{CronJob, Job, JobSpec};
use crate::api::selector::{LabelSelector, LabelSelectorValidationOptions};
use crate::api::validation::{is_dns1123_label, BadValue, FieldError, FieldErrors, FieldPath};

/// The longest CronJob name: its jobs get an 11-character suffix and must
/// stay within a 63-character DNS label.
const CRON_JOB_NAME_MAX: usize = 52;

/// A Job.
pub(super) fn validate_job(job: &Job) -> FieldErrors {
    let mut errs = validate_object_meta(
        &job.metadata,
        true,
        NameRule::Dns1123Subdomain,
        &FieldPath::new("metadata"),
    );
    let spec = &job.spec;
    let sp = FieldPath::new("spec");
    errs.extend(validate_job_spec_common(spec, &sp));
    // Hive's storage strategy generates the selector unless it is manual.
    let generated_later = spec.selector.is_none() && spec.manual_selector != Some(true);
    if !generated_later {
        match &spec.selector {
            None => errs.push(FieldError::required(&sp.child("selector"), "")),
            Some(s) => errs.extend(s.validate(
                LabelSelectorValidationOptions::default(),
                &sp.child("selector"),
            )),
        }
        if let Ok(selector) = LabelSelector::optional_to_selector(spec.selector.as_ref()) {
            if !selector.matches(&spec.template.metadata.labels) {
                errs.push(FieldError::invalid(
                    &sp.child("template").child("metadata").child("labels"),
                    map_value(&spec.template.metadata.labels),
                    "`selector` does not match template `labels`",
                ));
            }
        }
    }
    if spec.completion_mode.as_deref() == Some("Indexed") {
        if let Some(completions) = spec.completions.filter(|c| *c > 0) {
            let hostname = format!("{}-{}", job.metadata.name, completions - 1);
            if !is_dns1123_label(&hostname).is_empty() {
                errs.push(FieldError::invalid(
                    &FieldPath::new("metadata").child("name"),
                    &job.metadata.name,
                    format!("will not able to create pod with invalid DNS label: {hostname}"),
                ));
            }
        }
    }
    errs
}

/// batch's `validateJobSpec`: counts, deadlines, completion mode and the
/// pod template, whose restart policy must be OnFailure or Never.
fn validate_job_spec_common(spec: &JobSpec, path: &FieldPath) -> FieldErrors {
    let mut errs = FieldErrors::new();
    let counts = [
        ("parallelism", spec.parallelism.map(i64::from)),
        ("completions", spec.completions.map(i64::from)),
        ("activeDeadlineSeconds", spec.active_deadline_seconds),
        ("backoffLimit", spec.backoff_limit.map(i64::from)),
        (
            "ttlSecondsAfterFinished",
            spec.ttl_seconds_after_finished.map(i64::from),
        ),
    ];
    for (field, value) in counts {
        if let Some(value) = value {
            errs.extend(validate_nonnegative(value, &path.child(field)));
        }
    }
    if let Some(mode) = &spec.completion_mode {
        if mode != "NonIndexed" && mode != "Indexed" {
            errs.push(FieldError::not_supported(
                &path.child("completionMode"),
                mode,
                &["NonIndexed", "Indexed"],
            ));
        }
        if mode == "Indexed" && spec.completions.is_none() {
            errs.push(FieldError::required(
                &path.child("completions"),
                "when completion mode is Indexed",
            ));
        }
    }
    if let Some(policy) = &spec.pod_replacement_policy {
        errs.extend(required_enum(
            policy,
            &["TerminatingOrFailed", "Failed"],
            &path.child("podReplacementPolicy"),
        ));
    }
    let tp = path.child("template");
    errs.extend(validate_pod_template(
        &spec.template,
        &VolumeNames::new(),
        &tp,
    ));
    let rp = tp.child("spec").child("restartPolicy");
    match spec.template.spec.restart_policy.as_str() {
        "" | "Always" => errs.push(FieldError::required(
            &rp,
            "valid values: \"OnFailure\", \"Never\"",
        )),
        "OnFailure" | "Never" => {}
        other => errs.push(FieldError::not_supported(
            &rp,
            other,
            &["OnFailure", "Never"],
        )),
    }
    errs
}

/// A CronJob.
pub(super) fn validate_cron_job(cj: &CronJob) -> FieldErrors {
    let meta_path = FieldPath::new("metadata");
    let mut errs = validate_object_meta(&cj.metadata, true, NameRule::Dns1123Subdomain, &meta_path);
    let spec = &cj.spec;
    let sp = FieldPath::new("spec");
    if spec.schedule.is_empty() {
        errs.push(FieldError::required(&sp.child("schedule"), ""));
    } else {
        errs.extend(validate_schedule(&spec.schedule, &sp.child("schedule")));
    }
    if let Some(deadline) = spec.starting_deadline_seconds {
        errs.extend(validate_nonnegative(
            deadline,
            &sp.child("startingDeadlineSeconds"),
        ));
    }
    if let Some(tz) = &spec.time_zone {
        let valid = !tz.is_empty()
            && !tz.starts_with('/')
            && tz
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'/' | b'_' | b'-' | b'+'));
        if !valid {
            errs.push(FieldError::invalid(
                &sp.child("timeZone"),
                tz,
                format!("unknown time zone {tz}"),
            ));
        }
    }
    errs.extend(required_enum(
        &spec.concurrency_policy,
        &["Allow", "Forbid", "Replace"],
        &sp.child("concurrencyPolicy"),
    ));
    let jp = sp.child("jobTemplate");
    let job_spec = &spec.job_template.spec;
    errs.extend(validate_job_spec_common(job_spec, &jp.child("spec")));
    if let Some(selector) = &job_spec.selector {
        errs.push(FieldError::invalid(
            &jp.child("spec").child("selector"),
            json_value(selector),
            "`selector` will be auto-generated",
        ));
    }
    if job_spec.manual_selector == Some(true) {
        errs.push(FieldError::not_supported(
            &jp.child("spec").child("manualSelector"),
            BadValue::Bool(true),
            &["nil", "false"],
        ));
    }
    for (field, value) in [
        (
            "successfulJobsHistoryLimit",
            spec.successful_jobs_history_limit,
        ),
        ("failedJobsHistoryLimit", spec.failed_jobs_history_limit),
    ] {
        if let Some(value) = value {
            errs.extend(validate_nonnegative(i64::from(value), &sp.child(field)));
        }
    }
    if cj.metadata.name.len() > CRON_JOB_NAME_MAX {
        errs.push(FieldError::invalid(
            &meta_path.child("name"),
            &cj.metadata.name,
            "must be no more than 52 characters",
        ));
    }
    errs
}
