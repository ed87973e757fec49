//! Checkers: pure functions from a recorded run to a verdict.
//!
//! A workload records what clients asked and what they were told ([`history`]) and what
//! watchers received ([`watch`]); after the run the checkers decide whether the store
//! kept its promises: [`linearizable`] for the key-value register, [`watch`] for etcd's
//! watch guarantees. Checkers do no I/O and know nothing of clusters or the store crate;
//! their inputs are plain serde types so a failing run can be saved and re-checked.
//! Every checker can summarise itself as a [`CheckReport`].

use std::fmt;

use serde::{Deserialize, Serialize};

pub mod history;
pub mod linearizable;
pub mod watch;

/// One broken promise, in a form every checker shares.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReportedViolation {
    /// The property that failed, e.g. `linearizable` or the name of a watch guarantee.
    pub property: String,
    /// What it failed on: a key, a watcher, or `a vs b`.
    pub subject: String,
    /// A human explanation with the operations or revisions involved.
    pub detail: String,
}

/// The summary of one checker's run over one recording: what it looked at, and what it
/// found. A test asserts [`CheckReport::passed`] and prints the report when it fails.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckReport {
    /// Which checker produced this (`linearizability`, `watch`).
    pub name: String,
    /// Client operations examined.
    pub ops_checked: u64,
    /// Watch events examined.
    pub events_checked: u64,
    /// Every violation found; empty when the recording is correct.
    pub violations: Vec<ReportedViolation>,
    /// Set when the checker could not decide (search budget exhausted, malformed input):
    /// neither a pass nor a proven violation.
    pub inconclusive: Option<String>,
}

impl CheckReport {
    /// A report with nothing checked yet.
    pub fn new(name: impl Into<String>) -> Self {
        CheckReport {
            name: name.into(),
            ..CheckReport::default()
        }
    }

    /// True when the recording was checked completely and nothing was wrong.
    pub fn passed(&self) -> bool {
        self.violations.is_empty() && self.inconclusive.is_none()
    }
}

impl fmt::Display for CheckReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let verdict = if self.passed() {
            "ok"
        } else if self.violations.is_empty() {
            "INCONCLUSIVE"
        } else {
            "VIOLATED"
        };
        write!(
            f,
            "{}: {verdict} ({} ops, {} events checked, {} violations)",
            self.name,
            self.ops_checked,
            self.events_checked,
            self.violations.len()
        )?;
        if let Some(why) = &self.inconclusive {
            write!(f, "\n  inconclusive: {why}")?;
        }
        for v in &self.violations {
            write!(f, "\n  [{}] {}: {}", v.property, v.subject, v.detail)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A report with a violation neither passes nor hides the violation when printed.
    #[test]
    fn a_report_with_a_violation_fails_and_prints_it() {
        let mut report = CheckReport::new("watch");
        report.events_checked = 3;
        assert!(report.passed());
        report.violations.push(ReportedViolation {
            property: "reliable".into(),
            subject: "w1".into(),
            detail: "revision 4 missing".into(),
        });
        assert!(!report.passed());
        let text = report.to_string();
        assert!(
            text.contains("VIOLATED") && text.contains("revision 4 missing"),
            "{text}"
        );
    }
}
