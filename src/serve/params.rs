//! Query parameters of seed 000's endpoints: `project`, `environment`,
//! `timeRange=last7days|last30days|last90days|custom` with
//! `startDate`/`endDate`, and seed 001's `days`.

use std::collections::HashMap;

use chrono::{DateTime, Duration, NaiveDate, Utc};

use super::api::{ApiError, ApiResult};
use crate::metrics::Window;

pub type Query = HashMap<String, String>;

/// The time ranges seed 000 names, and the window each is.
pub const RANGES: &[(&str, i64)] = &[("last7days", 7), ("last30days", 30), ("last90days", 90)];

/// `project`, required.
pub fn project(q: &Query) -> ApiResult<String> {
    match q.get("project").map(|p| p.trim()) {
        Some(p) if !p.is_empty() => Ok(p.to_string()),
        _ => Err(ApiError::bad_request("the project parameter is required")
            .details(serde_json::json!({"parameter": "project"}))),
    }
}

/// `environment`, else production.
pub fn environment(q: &Query) -> String {
    q.get("environment")
        .map(|e| e.trim())
        .filter(|e| !e.is_empty())
        .unwrap_or(crate::settings::defaults::ENV)
        .to_string()
}

/// The window `[start, end)` that `timeRange` (else `default`) names at
/// `now`. `custom` takes `startDate` and `endDate` (default now) as RFC 3339
/// or a date; a date `endDate` includes that whole day. `startDate` alone
/// implies `custom`.
pub fn window(q: &Query, default: &str, now: DateTime<Utc>) -> ApiResult<Window> {
    let range = q.get("timeRange").map(String::as_str);
    let custom = q.contains_key("startDate") || q.contains_key("endDate");
    let range = match range {
        Some(r) => r,
        None if custom => "custom",
        None => default,
    };
    if range == "custom" {
        let since = date("startDate", q.get("startDate"), false, now)?
            .ok_or_else(|| ApiError::time_range("timeRange=custom needs startDate"))?;
        let until = date("endDate", q.get("endDate"), true, now)?.unwrap_or(now);
        if since >= until {
            return Err(ApiError::time_range(format!(
                "startDate ({}) is not before endDate ({})",
                crate::time::format_time(since),
                crate::time::format_time(until)
            )));
        }
        return Ok(Window { since, until });
    }
    if custom {
        return Err(ApiError::time_range(format!(
            "startDate and endDate need timeRange=custom, not {range}"
        )));
    }
    let days = RANGES
        .iter()
        .find(|(name, _)| *name == range)
        .map(|(_, d)| *d)
        .ok_or_else(|| {
            ApiError::time_range(format!("unknown timeRange '{range}'")).details(
                serde_json::json!({"allowed": ["last7days", "last30days", "last90days", "custom"]}),
            )
        })?;
    Ok(Window {
        since: now - Duration::days(days),
        until: now,
    })
}

/// Seed 001's `days` (default 30): the window ending now.
pub fn days(q: &Query, now: DateTime<Utc>) -> ApiResult<(i64, Window)> {
    let days = match q.get("days") {
        None => 30,
        Some(d) => d
            .trim()
            .parse::<i64>()
            .ok()
            .filter(|d| (1..=3650).contains(d))
            .ok_or_else(|| {
                ApiError::time_range(format!(
                    "days must be a whole number from 1 to 3650, not '{d}'"
                ))
            })?,
    };
    Ok((
        days,
        Window {
            since: now - Duration::days(days),
            until: now,
        },
    ))
}

/// A date or time parameter, between 2000 and a day after `now` as
/// `report --since/--until` take one; a date `endDate` is the end of its day.
fn date(
    name: &str,
    value: Option<&String>,
    end: bool,
    now: DateTime<Utc>,
) -> ApiResult<Option<DateTime<Utc>>> {
    let Some(v) = value.map(|v| v.trim()).filter(|v| !v.is_empty()) else {
        return Ok(None);
    };
    let parsed = DateTime::parse_from_rfc3339(v)
        .map(|t| t.with_timezone(&Utc))
        .ok()
        .or_else(|| {
            let d = NaiveDate::parse_from_str(v, "%Y-%m-%d").ok()?;
            let d = if end { d.succ_opt().unwrap_or(d) } else { d };
            Some(d.and_hms_opt(0, 0, 0)?.and_utc())
        });
    let Some(t) = parsed else {
        return Err(ApiError::time_range(format!(
            "{name} '{v}' is not an ISO 8601 date (2024-12-15) or time (2024-12-15T10:30:00Z)"
        )));
    };
    if t.timestamp() < crate::time::EARLIEST_UNIX {
        return Err(ApiError::time_range(format!("{name} '{v}' is before 2000")));
    }
    // A date endDate of today ends tomorrow at midnight: within the day.
    if t > now + crate::time::FUTURE_TOLERANCE {
        return Err(ApiError::time_range(format!(
            "{name} '{v}' is in the future (after {})",
            crate::time::format_time(now)
        )));
    }
    Ok(Some(t))
}

/// A boolean parameter: `true`/`1`/`yes` or `false`/`0`/`no`; absent is
/// false, anything else `INVALID_REQUEST`.
pub fn flag(q: &Query, name: &str) -> ApiResult<bool> {
    match q.get(name).map(|v| v.trim()) {
        None | Some("") | Some("false" | "0" | "no") => Ok(false),
        Some("true" | "1" | "yes") => Ok(true),
        Some(other) => Err(ApiError::bad_request(format!(
            "{name} takes true or false, not '{other}'"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(pairs: &[(&str, &str)]) -> Query {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn now() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-03-31T12:00:00Z")
            .unwrap()
            .with_timezone(&Utc)
    }

    #[test]
    fn named_ranges_end_now_and_custom_dates_include_their_end_day() {
        let w = window(&q(&[]), "last30days", now()).unwrap();
        assert_eq!((w.until - w.since).num_days(), 30);
        assert_eq!(w.until, now());
        let w = window(&q(&[("timeRange", "last7days")]), "last30days", now()).unwrap();
        assert_eq!((w.until - w.since).num_days(), 7);
        let w = window(
            &q(&[
                ("timeRange", "custom"),
                ("startDate", "2026-03-01"),
                ("endDate", "2026-03-15"),
            ]),
            "last30days",
            now(),
        )
        .unwrap();
        assert_eq!(crate::time::format_time(w.since), "2026-03-01T00:00:00Z");
        assert_eq!(crate::time::format_time(w.until), "2026-03-16T00:00:00Z");
        let w = window(
            &q(&[("startDate", "2026-03-01T06:00:00Z")]),
            "last30days",
            now(),
        )
        .unwrap();
        assert_eq!(w.until, now());
    }

    #[test]
    fn bad_ranges_are_invalid_time_range() {
        for bad in [
            q(&[("timeRange", "lastweek")]),
            q(&[("timeRange", "custom")]),
            q(&[("timeRange", "custom"), ("startDate", "yesterday")]),
            q(&[
                ("timeRange", "custom"),
                ("startDate", "2026-03-10"),
                ("endDate", "2026-03-01"),
            ]),
            q(&[("timeRange", "last7days"), ("startDate", "2026-03-01")]),
            q(&[("startDate", "2026-03-01"), ("endDate", "2030-01-01")]),
            q(&[("startDate", "1999-12-31")]),
        ] {
            let e = window(&bad, "last30days", now()).unwrap_err();
            assert_eq!(e.code, "INVALID_TIME_RANGE", "{bad:?}");
        }
        assert!(days(&q(&[("days", "0")]), now()).is_err());
        assert!(days(&q(&[("days", "x")]), now()).is_err());
        assert_eq!(days(&q(&[]), now()).unwrap().0, 30);
    }
}
