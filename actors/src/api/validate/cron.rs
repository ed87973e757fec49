//! Cron schedules as CronJobs write them, checked the way Kubernetes' cron
//! library (robfig/cron's standard parser) checks them, with its messages.

use crate::api::validation::{FieldError, FieldErrors, FieldPath};

/// One field of a schedule: its bounds and, for months and weekdays, names.
struct Bounds {
    min: u32,
    max: u32,
    names: &'static [&'static str],
}

const MINUTES: Bounds = Bounds {
    min: 0,
    max: 59,
    names: &[],
};
const HOURS: Bounds = Bounds {
    min: 0,
    max: 23,
    names: &[],
};
const DOM: Bounds = Bounds {
    min: 1,
    max: 31,
    names: &[],
};
const MONTHS: Bounds = Bounds {
    min: 1,
    max: 12,
    names: &[
        "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
    ],
};
const DOW: Bounds = Bounds {
    min: 0,
    max: 6,
    names: &["sun", "mon", "tue", "wed", "thu", "fri", "sat"],
};

/// Every problem with a CronJob `schedule`, reported at `path`.
pub(super) fn validate_schedule(schedule: &str, path: &FieldPath) -> FieldErrors {
    let mut errs = FieldErrors::new();
    if let Err(msg) = parse_standard(schedule) {
        errs.push(FieldError::invalid(path, schedule, msg));
    }
    if schedule.contains("TZ") {
        errs.push(FieldError::invalid(
            path,
            schedule,
            "cannot use TZ or CRON_TZ in schedule, use timeZone field instead",
        ));
    }
    errs
}

/// Parses a standard five-field schedule or a descriptor such as `@daily`.
fn parse_standard(spec: &str) -> Result<(), String> {
    let mut spec = spec.trim();
    if spec.is_empty() {
        return Err("empty spec string".to_owned());
    }
    if let Some(rest) = spec
        .strip_prefix("TZ=")
        .or_else(|| spec.strip_prefix("CRON_TZ="))
    {
        let Some((_, after)) = rest.split_once(' ') else {
            return Err(format!(
                "provided bad location {rest}: unknown time zone {rest}"
            ));
        };
        spec = after.trim();
    }
    if let Some(descriptor) = spec.strip_prefix('@') {
        return match descriptor {
            "yearly" | "annually" | "monthly" | "weekly" | "daily" | "midnight" | "hourly" => {
                Ok(())
            }
            d if d.starts_with("every ") => {
                let duration = &d["every ".len()..];
                if is_go_duration(duration) {
                    Ok(())
                } else {
                    Err(format!(
                        "failed to parse duration {spec}: time: invalid duration {duration:?}"
                    ))
                }
            }
            _ => Err(format!("unrecognized descriptor: {spec}")),
        };
    }
    let fields: Vec<&str> = spec.split_whitespace().collect();
    if fields.len() != 5 {
        return Err(format!(
            "expected exactly 5 fields, found {}: [{}]",
            fields.len(),
            fields.join(" ")
        ));
    }
    for (field, bounds) in fields.iter().zip([MINUTES, HOURS, DOM, MONTHS, DOW]) {
        for range in field.split(',') {
            parse_range(range, &bounds)?;
        }
    }
    Ok(())
}

fn parse_range(expr: &str, bounds: &Bounds) -> Result<(), String> {
    let range_and_step: Vec<&str> = expr.split('/').collect();
    let low_and_high: Vec<&str> = range_and_step[0].split('-').collect();
    let (start, end) = if low_and_high[0] == "*" || low_and_high[0] == "?" {
        (bounds.min, bounds.max)
    } else {
        let start = parse_int_or_name(low_and_high[0], bounds.names)?;
        let end = match low_and_high.len() {
            1 => start,
            2 => parse_int_or_name(low_and_high[1], bounds.names)?,
            _ => return Err(format!("too many hyphens: {expr}")),
        };
        (start, end)
    };
    match range_and_step.len() {
        1 => {}
        2 => {
            let step = parse_int(range_and_step[1])?;
            if step == 0 {
                return Err(format!("step of range should be a positive number: {expr}"));
            }
        }
        _ => return Err(format!("too many slashes: {expr}")),
    }
    if start < bounds.min {
        return Err(format!(
            "beginning of range ({start}) below minimum ({}): {expr}",
            bounds.min
        ));
    }
    if end > bounds.max {
        return Err(format!(
            "end of range ({end}) above maximum ({}): {expr}",
            bounds.max
        ));
    }
    if start > end {
        return Err(format!(
            "beginning of range ({start}) beyond end of range ({end}): {expr}"
        ));
    }
    Ok(())
}

fn parse_int_or_name(expr: &str, names: &[&str]) -> Result<u32, String> {
    let lower = expr.to_ascii_lowercase();
    if let Some(i) = names.iter().position(|n| *n == lower) {
        let offset = if names.len() == 12 { 1 } else { 0 };
        return u32::try_from(i)
            .map(|i| i + offset)
            .map_err(|e| e.to_string());
    }
    parse_int(expr)
}

fn parse_int(expr: &str) -> Result<u32, String> {
    let digits = expr.strip_prefix('+').unwrap_or(expr);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        if expr.starts_with('-') && expr[1..].bytes().all(|b| b.is_ascii_digit()) && expr.len() > 1
        {
            return Err(format!("negative number ({expr}) not allowed: {expr}"));
        }
        return Err(format!(
            "failed to parse int from {expr}: strconv.Atoi: parsing {expr:?}: invalid syntax"
        ));
    }
    digits.parse::<u32>().map_err(|_| {
        format!(
            "failed to parse int from {expr}: strconv.Atoi: parsing {expr:?}: value out of range"
        )
    })
}

/// Whether `s` is a Go duration such as `1h30m` or `90s`.
fn is_go_duration(s: &str) -> bool {
    let mut rest = s;
    if rest == "0" {
        return true;
    }
    if rest.is_empty() {
        return false;
    }
    while !rest.is_empty() {
        let num_len = rest
            .bytes()
            .take_while(|b| b.is_ascii_digit() || *b == b'.')
            .count();
        if num_len == 0 {
            return false;
        }
        rest = &rest[num_len..];
        let unit = ["ns", "us", "µs", "ms", "s", "m", "h"]
            .iter()
            .filter(|u| rest.starts_with(*u))
            .max_by_key(|u| u.len());
        match unit {
            Some(u) => rest = &rest[u.len()..],
            None => return false,
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::parse_standard;

    /// Schedules real CronJobs use parse; malformed ones give robfig's message.
    #[test]
    fn schedules_parse_like_robfig_cron() {
        for ok in [
            "*/5 * * * *",
            "0 3 * * 1-5",
            "30 2 1 jan,jul *",
            "@hourly",
            "@every 1h30m",
            "0 0 * * SUN",
        ] {
            assert_eq!(parse_standard(ok), Ok(()), "{ok}");
        }
        assert_eq!(
            parse_standard("* * * *"),
            Err("expected exactly 5 fields, found 4: [* * * *]".to_owned())
        );
        assert_eq!(
            parse_standard("70 * * * *"),
            Err("end of range (70) above maximum (59): 70".to_owned())
        );
        assert!(parse_standard("x * * * *").is_err());
        assert!(parse_standard("*/0 * * * *").is_err());
        assert!(parse_standard("1-2-3 * * * *").is_err());
    }
}
