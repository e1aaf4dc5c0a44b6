//! An incident, as JSON and as text.

use serde::Serialize;

use super::escape::terminal;
use crate::event::Incident;
use crate::time::format_time;

#[derive(Clone, Debug, Serialize)]
pub struct IncidentView<'a> {
    pub id: &'a str,
    pub services: &'a [String],
    pub env: &'a str,
    pub started_at: String,
    pub detected_at: Option<String>,
    pub resolved_at: Option<String>,
    pub severity: Option<&'a str>,
    pub title: Option<&'a str>,
    pub cause: &'static str,
    pub deployment_id: Option<&'a str>,
    pub deployment_sha: Option<&'a str>,
    /// The deployment the incident is attributed to now (explicit link or
    /// the attribution window), `None` when none.
    pub attributed_deployment: Option<&'a str>,
    pub counts_as_change_failure: bool,
    pub warnings: &'a [String],
}

impl<'a> IncidentView<'a> {
    pub fn new(i: &'a Incident, attributed: Option<&'a str>, warnings: &'a [String]) -> Self {
        IncidentView {
            id: &i.id,
            services: &i.services,
            env: &i.env,
            started_at: format_time(i.started_at),
            detected_at: i.detected_at.map(format_time),
            resolved_at: i.resolved_at.map(format_time),
            severity: i.severity.as_deref(),
            title: i.title.as_deref(),
            cause: i.cause.as_str(),
            deployment_id: i.deployment_id.as_deref(),
            deployment_sha: i.deployment_sha.as_deref(),
            attributed_deployment: attributed,
            counts_as_change_failure: attributed.is_some() && i.cause.counts_as_change_failure(),
            warnings,
        }
    }
}

pub fn incident_table(v: &IncidentView<'_>) -> String {
    let services: Vec<String> = v.services.iter().map(|s| terminal(s)).collect();
    let rows = vec![
        vec!["incident".into(), terminal(v.id)],
        vec![
            "service".into(),
            format!("{} / {}", services.join(", "), terminal(v.env)),
        ],
        vec!["started".into(), super::human_time(&v.started_at)],
        vec![
            "resolved".into(),
            v.resolved_at
                .as_deref()
                .map_or_else(|| "open".into(), super::human_time),
        ],
        vec!["cause".into(), v.cause.to_string()],
        vec![
            "attributed to".into(),
            match v.attributed_deployment {
                Some(d) if v.counts_as_change_failure => {
                    format!("{} (counts as a change failure)", terminal(d))
                }
                Some(d) => format!(
                    "{} (cause {} does not count as a change failure)",
                    terminal(d),
                    v.cause
                ),
                None => "no deployment".into(),
            },
        ],
    ];
    super::columns(&rows)
}
