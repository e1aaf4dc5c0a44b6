//! Time and duration parsing shared by every flag that takes one.
//!
//! Times accept RFC 3339 (`2026-11-20T02:00:00Z`, any offset) or unix seconds
//! (`1795140000`). Durations accept `90s`, `45m`, `24h`, `30d`, `2w`, or a
//! bare number of seconds. Values that parse but cannot be real (before 2000,
//! more than a day in the future) are rejected: they are almost always a unit
//! mix-up (milliseconds for seconds) or a broken clock, and silently storing
//! them would poison every metric.

use chrono::{DateTime, Duration, TimeZone, Utc};

use crate::{Error, Result};

/// The earliest instant we accept: nothing was deployed with dorameter before it.
pub const EARLIEST_UNIX: i64 = 946_684_800; // 2000-01-01T00:00:00Z

/// How far in the future a time may lie before we call it garbage.
pub const FUTURE_TOLERANCE: Duration = Duration::hours(24);

/// Later than any event: "recorded at any time" in timeline queries.
pub const END_OF_TIME: DateTime<Utc> = DateTime::<Utc>::from_timestamp(253_402_300_799, 0)
    .expect("9999-12-31T23:59:59Z is a valid instant");

/// Parses a time given to `flag`, checked against `now`.
pub fn parse_time(flag: &str, value: &str, now: DateTime<Utc>) -> Result<DateTime<Utc>> {
    let raw = value.trim();
    let parsed = if !raw.is_empty() && raw.bytes().all(|b| b.is_ascii_digit()) {
        raw.parse::<i64>()
            .ok()
            .and_then(|secs| Utc.timestamp_opt(secs, 0).single())
    } else {
        DateTime::parse_from_rfc3339(raw)
            .ok()
            .map(|t| t.with_timezone(&Utc))
    };
    let Some(t) = parsed else {
        return Err(Error::usage_hint(
            format!("invalid time for {flag}: '{value}'"),
            format!(
                "give {flag} as RFC 3339 (e.g. 2026-11-20T02:00:00Z) or unix seconds (e.g. 1795140000)"
            ),
        ));
    };
    if t.timestamp() < EARLIEST_UNIX {
        return Err(Error::usage_hint(
            format!("time for {flag} is before 2000: '{value}'"),
            format!("{flag} takes unix seconds, not milliseconds or a relative offset"),
        ));
    }
    if t > now + FUTURE_TOLERANCE {
        return Err(Error::usage_hint(
            format!(
                "time for {flag} is in the future: '{value}' is after {}",
                format_time(now)
            ),
            format!(
                "check {flag} and this machine's clock; unix seconds, not milliseconds, are expected"
            ),
        ));
    }
    Ok(t)
}

/// Parses a duration given to `flag` (`30d`, `24h`, `90m`, `2w`, `45s`).
/// A bare number is refused (SPEC §4): `--window 30` meant 30 days far more
/// often than 30 seconds, and silently measuring 30 seconds is a wrong number.
pub fn parse_duration(flag: &str, value: &str) -> Result<Duration> {
    let raw = value.trim();
    let bad = || {
        Error::usage_hint(
            format!("invalid duration for {flag}: '{value}'"),
            format!("give {flag} as a positive number with a unit: 30d, 24h, 90m, 2w or 45s"),
        )
    };
    let split = raw.find(|c: char| !c.is_ascii_digit()).unwrap_or(raw.len());
    let (num, unit) = raw.split_at(split);
    let n: i64 = num.parse().map_err(|_| bad())?;
    if unit.is_empty() {
        return Err(Error::usage_hint(
            format!("the duration '{value}' given to {flag} has no unit"),
            format!(
                "give {flag} a unit: {n}d for days, {n}h for hours, {n}m for minutes, {n}s for seconds"
            ),
        ));
    }
    let secs_per = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        "w" => 7 * 86_400,
        _ => return Err(bad()),
    };
    let secs = n.checked_mul(secs_per).ok_or_else(bad)?;
    // More than ~100 years is a typo, and keeps chrono far from overflow.
    if secs <= 0 || secs > 100 * 366 * 86_400 {
        return Err(bad());
    }
    Ok(Duration::seconds(secs))
}

/// RFC 3339 with `Z`, to the second (SPEC §4: times to the second).
pub fn format_time(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// Milliseconds since the epoch: how the stores keep instants.
pub fn to_millis(t: DateTime<Utc>) -> i64 {
    t.timestamp_millis()
}

pub fn from_millis(ms: i64) -> DateTime<Utc> {
    Utc.timestamp_millis_opt(ms)
        .single()
        .unwrap_or(DateTime::<Utc>::MIN_UTC)
}

/// Human form of a number of seconds: `45s`, `12m`, `3.5h`, `2.1d`.
pub fn humanize_seconds(secs: f64) -> String {
    let a = secs.abs();
    if a < 60.0 {
        format!("{secs:.0}s")
    } else if a < 3600.0 {
        format!("{:.1}m", secs / 60.0)
    } else if a < 86_400.0 {
        format!("{:.1}h", secs / 3600.0)
    } else {
        format!("{:.1}d", secs / 86_400.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-11-22T12:00:00Z")
            .unwrap()
            .with_timezone(&Utc)
    }

    #[test]
    fn parses_rfc3339_with_offsets_and_unix_seconds() {
        let a = parse_time("--x", "2026-11-20T03:00:00+01:00", now()).unwrap();
        let b = parse_time("--x", "1795140000", now()).unwrap();
        assert_eq!(a, b);
        assert_eq!(format_time(a), "2026-11-20T02:00:00Z");
    }

    #[test]
    fn rejects_garbage_milliseconds_and_future() {
        for bad in ["yesterday", "", "2026-13-45T00:00:00Z", "-5", "12.5"] {
            let e = parse_time("--started-at", bad, now()).unwrap_err();
            assert!(e.to_string().contains("--started-at"), "{e}");
        }
        let e = parse_time("--x", "1795140000000", now()).unwrap_err();
        assert!(e.to_string().contains("future"), "{e}");
        let e = parse_time("--x", "9999-01-01T00:00:00Z", now()).unwrap_err();
        assert!(e.to_string().contains("future"), "{e}");
        let e = parse_time("--x", "1999-12-31T23:59:59Z", now()).unwrap_err();
        assert!(e.to_string().contains("before 2000"), "{e}");
        assert!(parse_time("--x", "2026-11-23T11:00:00Z", now()).is_ok());
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("--w", "30d").unwrap(), Duration::days(30));
        assert_eq!(parse_duration("--w", "24h").unwrap(), Duration::hours(24));
        assert_eq!(parse_duration("--w", "2w").unwrap(), Duration::days(14));
        assert_eq!(parse_duration("--w", "90s").unwrap(), Duration::seconds(90));
        // A bare number needs a unit (SPEC §4): `--window 30` is not 30 seconds.
        let e = parse_duration("--window", "30").unwrap_err();
        assert!(
            e.to_string().contains("no unit") && e.hint().unwrap().contains("30d"),
            "{e}"
        );
        for bad in [
            "",
            "d",
            "0d",
            "-3d",
            "3y",
            "1.5d",
            "99999999999999999d",
            "30",
            "24",
        ] {
            assert!(parse_duration("--w", bad).is_err(), "{bad}");
        }
    }
}
