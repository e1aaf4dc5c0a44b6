//! The metrics per time bucket (UTC days, ISO weeks, calendar months) over a
//! report's window: the series behind the dashboard's trend charts. Each
//! point is exactly the report of its bucket's window: the same targeting,
//! the same facts and the same [`crate::metrics::compute`] as `report`.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Datelike, Duration, Months, NaiveDate, NaiveTime, TimeZone, Utc};
use serde::Serialize;

use super::report::{ReportRequest, input, report_of, targets};
use crate::metrics::{Metrics, Report, Window};
use crate::store::{ReadTx, ReportFacts, Store};
use crate::{Error, Result};

/// The most points one series may have: a day-by-day series of years is a
/// mistake (and as many store queries), not a chart.
pub const MAX_POINTS: usize = 1000;

/// How a window is cut into points.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Bucket {
    /// UTC calendar days.
    Day,
    /// ISO weeks: Monday 00:00 UTC to the next Monday.
    Week,
    /// UTC calendar months.
    Month,
}

impl Bucket {
    pub const ALL: [Bucket; 3] = [Bucket::Day, Bucket::Week, Bucket::Month];

    pub fn as_str(self) -> &'static str {
        match self {
            Bucket::Day => "day",
            Bucket::Week => "week",
            Bucket::Month => "month",
        }
    }

    /// The start of the bucket holding `t`.
    pub fn floor(self, t: DateTime<Utc>) -> DateTime<Utc> {
        let day = t.date_naive();
        let first = match self {
            Bucket::Day => day,
            Bucket::Week => day - Duration::days(i64::from(day.weekday().num_days_from_monday())),
            Bucket::Month => day.with_day(1).unwrap_or(day),
        };
        midnight(first)
    }

    /// Whether `w` is exactly one bucket, not a part cut by a window's end.
    pub fn is_whole(self, w: Window) -> bool {
        let start = self.floor(w.since);
        start == w.since && self.next(start) == w.until
    }

    /// The start of the bucket after the one starting at `start`.
    fn next(self, start: DateTime<Utc>) -> DateTime<Utc> {
        let day = start.date_naive();
        midnight(match self {
            Bucket::Day => day + Duration::days(1),
            Bucket::Week => day + Duration::days(7),
            Bucket::Month => day.checked_add_months(Months::new(1)).unwrap_or(day),
        })
    }
}

fn midnight(d: NaiveDate) -> DateTime<Utc> {
    Utc.from_utc_datetime(&d.and_time(NaiveTime::MIN))
}

impl fmt::Display for Bucket {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A bucket name that is not `day`, `week` or `month`.
#[derive(Debug, thiserror::Error)]
#[error("invalid bucket '{0}'; expected day, week or month")]
pub struct BadBucket(pub String);

impl FromStr for Bucket {
    type Err = BadBucket;
    fn from_str(s: &str) -> std::result::Result<Bucket, BadBucket> {
        Bucket::ALL
            .into_iter()
            .find(|b| b.as_str() == s)
            .ok_or_else(|| BadBucket(s.to_string()))
    }
}

/// A report request cut into buckets.
#[derive(Clone, Debug)]
pub struct SeriesRequest {
    /// What to report on, over which window (`[since, until)`).
    pub report: ReportRequest,
    pub by: Bucket,
}

/// The points of one service+env, oldest first.
#[derive(Clone, Debug, Serialize)]
pub struct Series {
    pub service: String,
    pub env: String,
    pub by: Bucket,
    pub points: Vec<Point>,
}

/// The metrics of one bucket, clipped to the request's window: the first
/// and last points may cover part of their bucket, and `start`/`end` say
/// which part.
#[derive(Clone, Debug, Serialize)]
pub struct Point {
    /// RFC 3339, inclusive.
    pub start: String,
    /// RFC 3339, exclusive.
    pub end: String,
    pub metrics: Metrics,
}

/// `window` cut at `by`'s boundaries, oldest first: whole buckets, except
/// that the first starts at `window.since` and the last ends at
/// `window.until`.
pub fn buckets(by: Bucket, window: Window) -> Vec<Window> {
    let mut out = Vec::new();
    let mut since = window.since;
    while since < window.until {
        let until = by.next(by.floor(since)).min(window.until);
        out.push(Window { since, until });
        since = until;
    }
    out
}

/// One series per service+env `req.report` asks for, on one snapshot. A
/// service or env with no event at all is [`Error::NoInput`], as for
/// `report`.
pub fn series(store: &mut dyn Store, req: &SeriesRequest) -> Result<Vec<Series>> {
    Ok(dashboard(store, req)?.series())
}

/// The reports over the whole window and their series, from one snapshot:
/// what the dashboard shows.
#[derive(Clone, Debug)]
pub struct Dashboard {
    pub by: Bucket,
    /// One per service+env, over the whole window.
    pub reports: Vec<Report>,
    /// Each service+env's buckets (aligned with `reports`), each the
    /// report of its part of the window.
    pub buckets: Vec<Vec<Report>>,
}

impl Dashboard {
    /// The buckets as series: each report's window and metrics, a point.
    pub fn series(&self) -> Vec<Series> {
        self.reports
            .iter()
            .zip(&self.buckets)
            .map(|(whole, buckets)| Series {
                service: whole.service.clone(),
                env: whole.env.clone(),
                by: self.by,
                points: buckets
                    .iter()
                    .map(|r| Point {
                        start: r.window.start.clone(),
                        end: r.window.end.clone(),
                        metrics: r.metrics.clone(),
                    })
                    .collect(),
            })
            .collect()
    }
}

/// [`crate::app::report::reports`] and [`series`] in one read of the
/// store, so the headline numbers and the charts agree even while deploy
/// jobs write. Each service+env's deployments and incidents are loaded
/// once (they are "any time"); only the lead-time samples are read per
/// bucket.
pub fn dashboard(store: &mut dyn Store, req: &SeriesRequest) -> Result<Dashboard> {
    let windows = buckets(req.by, req.report.window);
    if windows.len() > MAX_POINTS {
        return Err(Error::usage_hint(
            format!(
                "the window cuts into {} {}s (the first and last may be partial); a series has at most {MAX_POINTS} points",
                windows.len(),
                req.by
            ),
            "choose a shorter window or a longer bucket (week or month)",
        ));
    }
    let shown = store.describe();
    let r = &req.report;
    let mut out = Dashboard {
        by: req.by,
        reports: Vec::new(),
        buckets: Vec::new(),
    };
    store.read(&mut |tx| {
        out.reports.clear();
        out.buckets.clear();
        for (service, env) in targets(tx, r, &shown)? {
            let from = crate::metrics::earliest_cause(r.window.since, r.attribution_window);
            let facts = tx.report_facts(&service, &env, r.window, from)?;
            out.reports.push(report_of(
                r,
                &service,
                &env,
                &facts,
                &facts.lead_times,
                r.window,
            ));
            out.buckets
                .push(bucket_reports(tx, r, &service, &env, &facts, &windows)?);
        }
        Ok(())
    })?;
    Ok(out)
}

/// The report of each of `windows` for one service+env, from its facts
/// (loaded once, over a span that holds every window) and each window's
/// own lead-time samples: the points of a series, and the comment's weeks.
pub(crate) fn bucket_reports(
    tx: &dyn ReadTx,
    req: &ReportRequest,
    service: &str,
    env: &str,
    facts: &ReportFacts,
    windows: &[Window],
) -> Result<Vec<Report>> {
    // Which deployments failed does not depend on the window: worked out
    // once, not once per bucket (53 weeks of 100k deployments: 1.8 s).
    let marks = crate::metrics::marks(&input(req, service, env, facts, &[], req.window));
    let mut reports = Vec::with_capacity(windows.len());
    for &w in windows {
        let lead_times = tx.lead_times(service, env, w)?;
        let bucket = input(req, service, env, facts, &lead_times, w);
        reports.push(crate::metrics::compute_marked(&bucket, &marks).0);
    }
    Ok(reports)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    fn cut(by: Bucket, since: &str, until: &str) -> Vec<(String, String)> {
        buckets(
            by,
            Window {
                since: t(since),
                until: t(until),
            },
        )
        .into_iter()
        .map(|w| {
            (
                crate::time::format_time(w.since),
                crate::time::format_time(w.until),
            )
        })
        .collect()
    }

    fn pairs(v: &[(&str, &str)]) -> Vec<(String, String)> {
        v.iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect()
    }

    #[test]
    fn weeks_start_on_monday_and_the_ends_are_partial() {
        // 2026-03-01 is a Sunday: the first point is that one day.
        assert_eq!(
            cut(Bucket::Week, "2026-03-01T00:00:00Z", "2026-03-18T12:00:00Z"),
            pairs(&[
                ("2026-03-01T00:00:00Z", "2026-03-02T00:00:00Z"),
                ("2026-03-02T00:00:00Z", "2026-03-09T00:00:00Z"),
                ("2026-03-09T00:00:00Z", "2026-03-16T00:00:00Z"),
                ("2026-03-16T00:00:00Z", "2026-03-18T12:00:00Z"),
            ])
        );
        // A window starting on a Monday mid-day: the first week is cut at
        // the window's start, not the Monday's midnight.
        assert_eq!(
            cut(Bucket::Week, "2026-03-02T09:30:00Z", "2026-03-09T00:00:00Z"),
            pairs(&[("2026-03-02T09:30:00Z", "2026-03-09T00:00:00Z")])
        );
        // ISO weeks across a year end: Monday 2025-12-29 to Monday 2026-01-05.
        assert_eq!(
            cut(Bucket::Week, "2025-12-31T00:00:00Z", "2026-01-06T00:00:00Z"),
            pairs(&[
                ("2025-12-31T00:00:00Z", "2026-01-05T00:00:00Z"),
                ("2026-01-05T00:00:00Z", "2026-01-06T00:00:00Z"),
            ])
        );
        let w = |a, b| Window {
            since: t(a),
            until: t(b),
        };
        assert!(Bucket::Week.is_whole(w("2026-03-02T00:00:00Z", "2026-03-09T00:00:00Z")));
        assert!(!Bucket::Week.is_whole(w("2026-03-01T00:00:00Z", "2026-03-02T00:00:00Z")));
        assert!(!Bucket::Week.is_whole(w("2026-03-02T00:00:00Z", "2026-03-08T00:00:00Z")));
        assert!(Bucket::Month.is_whole(w("2024-02-01T00:00:00Z", "2024-03-01T00:00:00Z")));
        assert!(Bucket::Day.is_whole(w("2024-02-29T00:00:00Z", "2024-03-01T00:00:00Z")));
        assert_eq!(
            Bucket::Week.floor(t("2026-03-08T23:59:59Z")),
            t("2026-03-02T00:00:00Z")
        );
        assert_eq!(
            Bucket::Week.floor(t("2026-03-09T00:00:00Z")),
            t("2026-03-09T00:00:00Z")
        );
    }

    #[test]
    fn months_have_their_calendar_lengths() {
        assert_eq!(
            cut(
                Bucket::Month,
                "2024-01-15T06:00:00Z",
                "2024-04-02T00:00:00Z"
            ),
            pairs(&[
                ("2024-01-15T06:00:00Z", "2024-02-01T00:00:00Z"),
                // 2024 is a leap year.
                ("2024-02-01T00:00:00Z", "2024-03-01T00:00:00Z"),
                ("2024-03-01T00:00:00Z", "2024-04-01T00:00:00Z"),
                ("2024-04-01T00:00:00Z", "2024-04-02T00:00:00Z"),
            ])
        );
        let feb = buckets(
            Bucket::Month,
            Window {
                since: t("2026-02-01T00:00:00Z"),
                until: t("2026-08-01T00:00:00Z"),
            },
        );
        let days: Vec<f64> = feb.iter().map(Window::days).collect();
        assert_eq!(days, [28.0, 31.0, 30.0, 31.0, 30.0, 31.0]);
        assert_eq!(
            cut(
                Bucket::Month,
                "2025-12-20T00:00:00Z",
                "2026-01-10T00:00:00Z"
            ),
            pairs(&[
                ("2025-12-20T00:00:00Z", "2026-01-01T00:00:00Z"),
                ("2026-01-01T00:00:00Z", "2026-01-10T00:00:00Z"),
            ])
        );
    }

    #[test]
    fn days_are_utc_days_and_buckets_tile_the_window() {
        assert_eq!(
            cut(Bucket::Day, "2026-03-01T22:00:00Z", "2026-03-03T01:00:00Z"),
            pairs(&[
                ("2026-03-01T22:00:00Z", "2026-03-02T00:00:00Z"),
                ("2026-03-02T00:00:00Z", "2026-03-03T00:00:00Z"),
                ("2026-03-03T00:00:00Z", "2026-03-03T01:00:00Z"),
            ])
        );
        // Inside one bucket: one point, the window itself.
        assert_eq!(
            cut(
                Bucket::Month,
                "2026-03-05T00:00:00Z",
                "2026-03-06T00:00:00Z"
            ),
            pairs(&[("2026-03-05T00:00:00Z", "2026-03-06T00:00:00Z")])
        );
        // Every bucket starts where the previous ended, from since to until.
        for by in Bucket::ALL {
            let w = Window {
                since: t("2025-11-17T13:14:15Z"),
                until: t("2026-04-03T07:00:00Z"),
            };
            let b = buckets(by, w);
            assert_eq!((b[0].since, b[b.len() - 1].until), (w.since, w.until));
            assert!(b.windows(2).all(|p| p[0].until == p[1].since), "{by}");
            assert!(b.iter().all(|x| x.since < x.until), "{by}");
        }
    }

    #[test]
    fn bucket_names_parse_and_print() {
        for b in Bucket::ALL {
            assert_eq!(b.as_str().parse::<Bucket>().unwrap(), b);
            assert_eq!(serde_json::to_value(b).unwrap(), b.as_str());
        }
        let e = "weekly".parse::<Bucket>().unwrap_err().to_string();
        assert_eq!(e, "invalid bucket 'weekly'; expected day, week or month");
    }
}
