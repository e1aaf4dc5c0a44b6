//! The metrics report as text, Markdown, Prometheus exposition and CSV.
//! (JSON is the `Report` value itself.)

use super::escape::{csv, markdown, prometheus_label, terminal};
use crate::metrics::{Level, Report};
use crate::time::humanize_seconds;

/// One row per metric: name, shown value, level, detail. Every text
/// format (and the HTML dashboard's cards) shows these.
pub(super) struct Row {
    pub key: &'static str,
    pub title: &'static str,
    pub value: Option<f64>,
    pub unit: &'static str,
    pub level: Option<Level>,
    pub detail: String,
}

pub(super) fn rows(r: &Report) -> Vec<Row> {
    let m = &r.metrics;
    let df = &m.deployment_frequency;
    let lt = &m.lead_time_for_changes;
    let cfr = &m.change_failure_rate;
    let ttr = &m.time_to_restore;
    let fd = &m.failed_deployment_recovery_time;
    let rw = &m.rework_rate;
    let secs = |v: Option<f64>| v.map_or("-".to_string(), humanize_seconds);
    vec![
        Row {
            key: "deployment_frequency",
            title: "Deployment frequency",
            value: df.value,
            unit: "per_day",
            level: df.level,
            detail: super::count(df.deployments, "deployment"),
        },
        Row {
            key: "lead_time_for_changes",
            title: "Lead time for changes",
            value: lt.value,
            unit: "seconds",
            level: lt.level,
            detail: format!(
                "p95 {} · mean {} · {}{}",
                secs(lt.p95),
                secs(lt.mean),
                super::count(lt.changes, "change"),
                match lt.deployments_without_history {
                    0 => String::new(),
                    n => format!(
                        " · {n} of {} deployments not counted (history missing, e.g. a shallow clone)",
                        df.deployments
                    ),
                }
            ),
        },
        Row {
            key: "change_failure_rate",
            title: "Change failure rate",
            value: cfr.value,
            unit: "percent",
            level: cfr.level,
            detail: format!(
                "{} of {} failed",
                cfr.failed_deployments,
                super::count(cfr.total_deployments, "deployment")
            ),
        },
        Row {
            key: "time_to_restore",
            title: "Time to restore",
            value: ttr.value,
            unit: "seconds",
            level: ttr.level,
            detail: format!(
                "p95 {} · {} resolved · {} open",
                secs(ttr.p95),
                ttr.incidents,
                ttr.open_incidents
            ),
        },
        Row {
            key: "failed_deployment_recovery_time",
            title: "Failed deployment recovery",
            value: fd.value,
            unit: "seconds",
            level: fd.level,
            detail: format!(
                "p95 {} · {} failed · {} not yet recovered",
                secs(fd.p95),
                fd.failed_deployments,
                fd.unrecovered_deployments
            ),
        },
        Row {
            key: "rework_rate",
            title: "Rework rate",
            value: rw.value,
            unit: "percent",
            level: None,
            detail: format!(
                "{} of {} remediated an earlier one",
                rw.remediation_deployments,
                super::count(rw.total_deployments, "deployment")
            ),
        },
    ]
}

/// A metric's value with its unit, for people; `no data` for none.
pub(super) fn shown(value: Option<f64>, unit: &str) -> String {
    match (value, unit) {
        (None, _) => "no data".into(),
        (Some(v), "seconds") => humanize_seconds(v),
        (Some(v), "percent") => format!("{v:.2}%"),
        (Some(v), _) => format!("{v:.2}/day"),
    }
}

fn level_str(l: Option<Level>) -> &'static str {
    l.map_or("-", Level::as_str)
}

fn emoji(l: Option<Level>) -> &'static str {
    match l {
        Some(Level::Elite) => "🟢 elite",
        Some(Level::High) => "🔵 high",
        Some(Level::Medium) => "🟡 medium",
        Some(Level::Low) => "🔴 low",
        None => "⚪ n/a",
    }
}

/// The reports as aligned text; `store` names the store when there is
/// nothing to show.
pub fn report_table(reports: &[Report], store: &str) -> String {
    if reports.len() > 1 {
        return summary(reports, false);
    }
    let mut out = String::new();
    for (i, r) in reports.iter().enumerate() {
        if i > 0 {
            out.push('\n');
        }
        out.push_str(&format!(
            "{} / {}  {} → {} ({} days, bands {})\n",
            terminal(&r.service),
            terminal(&r.env),
            super::human_time(&r.window.start),
            super::human_time(&r.window.end),
            r.window.days,
            r.bands
        ));
        let mut table = vec![vec![
            "metric".into(),
            "value".into(),
            "level".into(),
            "detail".into(),
        ]];
        for row in rows(r) {
            table.push(vec![
                row.title.into(),
                shown(row.value, row.unit),
                level_str(row.level).into(),
                row.detail,
            ]);
        }
        out.push_str(&super::columns(&table));
    }
    if reports.is_empty() {
        out.push_str(&format!(
            "no deployments or incidents recorded in {} yet\n",
            super::escape::terminal(store)
        ));
    }
    out
}

/// Several services: one row per service+env, each banded metric's value
/// with its level, then rework; Markdown or aligned text. The details of
/// one are `report --service`'s.
fn summary(reports: &[Report], as_markdown: bool) -> String {
    let first = &reports[0];
    let mut header = vec!["service".to_string(), "env".to_string()];
    header.extend(rows(first).iter().map(|row| match row.key {
        "lead_time_for_changes" => "Lead time p50".to_string(),
        "time_to_restore" => "Time to restore p50".to_string(),
        "failed_deployment_recovery_time" => "Recovery p50".to_string(),
        _ => row.title.to_string(),
    }));
    let mut table = vec![header];
    for r in reports {
        let (service, env) = if as_markdown {
            (markdown(&r.service), markdown(&r.env))
        } else {
            (terminal(&r.service), terminal(&r.env))
        };
        let mut line = vec![service, env];
        for row in rows(r) {
            let value = shown(row.value, row.unit);
            line.push(match (row.key, row.level, as_markdown) {
                ("rework_rate", _, _) | (_, None, _) => value,
                (_, level, true) => format!("{value} {}", emoji(level)),
                (_, level, false) => format!("{value} {}", level_str(level)),
            });
        }
        table.push(line);
    }
    let window = format!(
        "{} → {} ({} days, bands {})",
        super::human_time(&first.window.start),
        super::human_time(&first.window.end),
        first.window.days,
        first.bands
    );
    let mut services: Vec<&str> = reports.iter().map(|r| r.service.as_str()).collect();
    services.dedup();
    let what = super::count(services.len() as u64, "service");
    if !as_markdown {
        return format!(
            "{what}  {window}\n{}dorameter report --service NAME (--env ENV) shows one in detail\n",
            super::columns(&table)
        );
    }
    let mut out = format!("### DORA metrics: {what}\n\n{window}\n\n");
    for (i, row) in table.iter().enumerate() {
        out.push_str(&format!("| {} |\n", row.join(" | ")));
        if i == 0 {
            out.push_str(&format!("|{}\n", "---|".repeat(row.len())));
        }
    }
    out.push_str("\n`dorameter report --service NAME` shows one in detail.\n");
    out
}

/// The reports of consecutive buckets (`report --by`): one table per
/// service+env, a row per bucket, a column per metric; Markdown or aligned
/// text.
pub fn series_table(series: &[Vec<Report>], by: &str, as_markdown: bool) -> String {
    let mut out = String::new();
    for buckets in series {
        let Some(first) = buckets.first() else {
            continue;
        };
        let mut table = vec![
            std::iter::once(by.to_string())
                .chain(rows(first).iter().map(|row| row.title.to_string()))
                .collect::<Vec<String>>(),
        ];
        for r in buckets {
            table.push(
                std::iter::once(super::human_time(&r.window.start))
                    .chain(rows(r).iter().map(|row| shown(row.value, row.unit)))
                    .collect(),
            );
        }
        if as_markdown {
            out.push_str(&format!(
                "### DORA metrics by {by}: {} ({})\n\nbands `{}`\n\n",
                markdown(&first.service),
                markdown(&first.env),
                first.bands
            ));
            for (i, row) in table.iter().enumerate() {
                out.push_str(&format!("| {} |\n", row.join(" | ")));
                if i == 0 {
                    out.push_str(&format!("|{}\n", "---|".repeat(row.len())));
                }
            }
        } else {
            out.push_str(&format!(
                "{} / {}  by {by} (bands {})\n",
                terminal(&first.service),
                terminal(&first.env),
                first.bands
            ));
            out.push_str(&super::columns(&table));
        }
        out.push('\n');
    }
    out
}

pub fn report_markdown(reports: &[Report]) -> String {
    if reports.len() > 1 {
        return summary(reports, true);
    }
    let mut out = String::new();
    for r in reports {
        out.push_str(&format!(
            "### DORA metrics: {} ({})\n\n{} → {} · {} days · bands `{}`\n\n| Metric | Value | Level | Detail |\n|---|---|---|---|\n",
            markdown(&r.service),
            markdown(&r.env),
            super::human_time(&r.window.start),
            super::human_time(&r.window.end),
            r.window.days,
            r.bands
        ));
        for row in rows(r) {
            let level = if row.key == "rework_rate" {
                "not banded"
            } else {
                emoji(row.level)
            };
            out.push_str(&format!(
                "| {} | {} | {} | {} |\n",
                row.title,
                shown(row.value, row.unit),
                level,
                row.detail
            ));
        }
        out.push('\n');
    }
    out
}

pub fn report_prometheus(reports: &[Report]) -> String {
    let mut out = String::new();
    let mut families: Vec<(String, &'static str, Vec<String>)> = Vec::new();
    let mut add = |name: String, help: &'static str, sample: String| {
        if let Some(f) = families.iter_mut().find(|f| f.0 == name) {
            f.2.push(sample);
        } else {
            families.push((name, help, vec![sample]));
        }
    };
    for r in reports {
        let labels = format!(
            "service=\"{}\",env=\"{}\"",
            prometheus_label(&r.service),
            prometheus_label(&r.env)
        );
        let m = &r.metrics;
        let mut gauge = |name: &str, help: &'static str, v: Option<f64>| {
            if let Some(v) = v {
                add(
                    format!("dora_{name}"),
                    help,
                    format!("dora_{name}{{{labels}}} {v}"),
                );
            }
        };
        gauge(
            "deployment_frequency_per_day",
            "Successful deployments per day in the window.",
            m.deployment_frequency.value,
        );
        // A count over the window, not a counter: a `_total` name would
        // make Prometheus (and `promtool check metrics`) expect one.
        gauge(
            "deployments",
            "Successful deployments in the window.",
            Some(m.deployment_frequency.deployments as f64),
        );
        gauge(
            "lead_time_for_changes_p50_seconds",
            "Median commit-to-deploy lead time.",
            m.lead_time_for_changes.p50,
        );
        gauge(
            "lead_time_for_changes_p95_seconds",
            "95th percentile commit-to-deploy lead time.",
            m.lead_time_for_changes.p95,
        );
        gauge(
            "change_failure_rate_percent",
            "Failed deployments as a percentage of deployments.",
            m.change_failure_rate.value,
        );
        gauge(
            "time_to_restore_p50_seconds",
            "Median time to restore service.",
            m.time_to_restore.p50,
        );
        gauge(
            "open_incidents",
            "Incidents started in the window and not resolved.",
            Some(m.time_to_restore.open_incidents as f64),
        );
        gauge(
            "failed_deployment_recovery_time_p50_seconds",
            "Median failed deployment recovery time.",
            m.failed_deployment_recovery_time.p50,
        );
        gauge(
            "rework_rate_percent",
            "Remediation deployments as a percentage of deployments.",
            m.rework_rate.value,
        );
        for row in rows(r) {
            if let Some(level) = row.level {
                add(
                    "dora_level".into(),
                    "Band level per metric: 4 elite, 3 high, 2 medium, 1 low.",
                    format!(
                        "dora_level{{{labels},metric=\"{}\",level=\"{}\",bands=\"{}\"}} {}",
                        row.key,
                        level.as_str(),
                        prometheus_label(&r.bands),
                        level.score()
                    ),
                );
            }
        }
    }
    for (name, help, samples) in families {
        out.push_str(&format!("# HELP {name} {help}\n# TYPE {name} gauge\n"));
        for s in samples {
            out.push_str(&s);
            out.push('\n');
        }
    }
    out
}

pub fn report_csv(reports: &[Report]) -> String {
    let mut out =
        String::from("service,env,window_start,window_end,bands,metric,value,unit,level\n");
    for r in reports {
        for row in rows(r) {
            out.push_str(&format!(
                "{},{},{},{},{},{},{},{},{}\n",
                csv(&r.service),
                csv(&r.env),
                r.window.start,
                r.window.end,
                csv(&r.bands),
                row.key,
                row.value.map(|v| v.to_string()).unwrap_or_default(),
                row.unit,
                row.level.map(Level::as_str).unwrap_or("")
            ));
        }
    }
    out
}
