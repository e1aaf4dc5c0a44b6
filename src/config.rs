//! `.dorameter.toml`: defaults for flags, below flags and env vars in
//! precedence (flag > env var > config file > CI-derived > built-in).
//! Unknown keys are rejected so a typo never silently does nothing, and every
//! value is typed: a bad enum or duration fails at load with the file and
//! line, never later under a flag's name. Each value keeps its span, so
//! [`crate::settings`] can name `.dorameter.toml line 4 bands` as its origin.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Deserializer};
use toml::Spanned;

use crate::event::{LeadTimeFrom, LeadTimeSource};
use crate::git::SubjectPattern;
use crate::render::Format;
use crate::{Error, Result};

pub const FILE_NAME: &str = ".dorameter.toml";

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// `sqlite:PATH` or `postgres://…`.
    pub store: Option<Spanned<String>>,
    /// Sink specs (`datadog`, `webhook:URL`, `devlake:URL`, `cloudwatch`), used when no
    /// `--sink` flag or `DORAMETER_SINKS` is given.
    pub sinks: Option<Spanned<Vec<String>>>,
    pub format: Option<Spanned<Format>>,
    /// `service = "api"`, or `[[service]]` tables: TOML gives the one key
    /// either shape; [`load`] splits it into `service` and `services`.
    #[serde(rename = "service", default)]
    service_key: Option<Spanned<ServiceKey>>,
    #[serde(skip)]
    pub service: Option<Spanned<String>>,
    /// `[[service]]`: what is known per service (SPEC §11).
    #[serde(skip)]
    pub services: Vec<ServiceTable>,
    pub env: Option<Spanned<String>>,
    pub bands: Option<Spanned<BandsName>>,
    pub window: Option<Spanned<Span>>,
    pub attribution_window: Option<Spanned<Span>>,
    pub lead_time_from: Option<Spanned<LeadTimeFrom>>,
    pub lead_time_source: Option<Spanned<LeadTimeSource>>,
    pub max_commits: Option<Spanned<MaxCommits>>,
    pub team: Option<Spanned<String>>,
    /// `[classify]`: how deployments are classified (SPEC §3).
    pub classify: Option<Classify>,
    /// `[incident_import]`: how `incident import` reads its sources.
    pub incident_import: Option<IncidentImport>,
}

impl Config {
    /// Splits the `service` key into the default service and the
    /// `[[service]]` tables.
    fn split_service(&mut self) {
        match self.service_key.take() {
            None => {}
            Some(k) => {
                let span = k.span();
                match k.into_inner() {
                    ServiceKey::Name(n) => self.service = Some(Spanned::new(span, n)),
                    ServiceKey::Tables(t) => self.services = t,
                }
            }
        }
    }
}

/// The `service` key: a name, or `[[service]]` tables.
#[derive(Clone, Debug)]
enum ServiceKey {
    Name(String),
    Tables(Vec<ServiceTable>),
}

impl<'de> Deserialize<'de> for ServiceKey {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = ServiceKey;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a service name (service = \"api\") or [[service]] tables")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> std::result::Result<ServiceKey, E> {
                Ok(ServiceKey::Name(v.to_string()))
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                seq: A,
            ) -> std::result::Result<ServiceKey, A::Error> {
                Vec::deserialize(serde::de::value::SeqAccessDeserializer::new(seq))
                    .map(ServiceKey::Tables)
            }
        }
        d.deserialize_any(V)
    }
}

/// One `[[service]]` table.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServiceTable {
    pub name: String,
    /// PagerDuty service ids whose incidents are this service's.
    #[serde(default)]
    pub pagerduty: Vec<String>,
    /// In a monorepo: the paths whose commits are this service's changes
    /// (`crate::git::PathFilter`).
    pub paths: Option<Vec<String>>,
}

/// `[incident_import]`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IncidentImport {
    /// A source's severity (PagerDuty priority or urgency, a label, GitLab's
    /// severity) → the severity recorded; others are kept as they are.
    #[serde(default)]
    pub severity: std::collections::BTreeMap<String, String>,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Classify {
    /// A regular expression over commit subjects that marks a rollforward;
    /// an empty string turns subject matching off.
    pub rollforward_subject: Option<Spanned<RollforwardSubject>>,
}

/// A compiled rollforward subject pattern, or `None`: turned off.
#[derive(Clone, Debug, PartialEq)]
pub struct RollforwardSubject(pub Option<SubjectPattern>);

impl<'de> Deserialize<'de> for RollforwardSubject {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        if s.is_empty() {
            return Ok(RollforwardSubject(None));
        }
        SubjectPattern::new(&s)
            .map(|p| RollforwardSubject(Some(p)))
            .map_err(|e| {
                serde::de::Error::custom(format!(
                    "rollforward_subject is not a valid regular expression ({e}); e.g. '(?i)^(revert|hotfix)', or \"\" to turn subject matching off"
                ))
            })
    }
}

/// A loaded config file: the values, and where they came from.
#[derive(Clone, Debug, Default)]
pub struct Loaded {
    pub config: Config,
    /// The file, when there is one.
    pub path: Option<PathBuf>,
    /// Its text, to turn a value's byte span into a line number.
    text: String,
}

impl Loaded {
    /// The 1-based line a span starts on.
    pub fn line_of(&self, span: std::ops::Range<usize>) -> usize {
        let end = span.start.min(self.text.len());
        self.text.as_bytes()[..end]
            .iter()
            .filter(|b| **b == b'\n')
            .count()
            + 1
    }
}

/// A band table name that exists (`classic`, `dora-2021`, …).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BandsName(pub String);

impl<'de> Deserialize<'de> for BandsName {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        match crate::metrics::band_table(&s) {
            Some(_) => Ok(BandsName(s)),
            None => Err(serde::de::Error::custom(format!(
                "unknown band table '{s}'; bands is one of: {}",
                crate::metrics::band_table_names().join(", ")
            ))),
        }
    }
}

/// A duration such as `30d`, `24h`, `90m` (the rules of [`crate::time::parse_duration`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Span(pub chrono::Duration);

impl<'de> Deserialize<'de> for Span {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        // `window = 30` (a TOML integer) gets the same "no unit" answer as "30".
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Text(String),
            Number(i64),
        }
        let s = match Raw::deserialize(d)? {
            Raw::Text(s) => s,
            Raw::Number(n) => n.to_string(),
        };
        crate::time::parse_duration("the value", &s)
            .map(Span)
            .map_err(|_| {
                let t = s.trim();
                serde::de::Error::custom(if !t.is_empty() && t.chars().all(|c| c.is_ascii_digit()) {
                    format!(
                        "the duration '{s}' has no unit; write \"{t}d\" for days, \"{t}h\" for hours, \"{t}m\" for minutes"
                    )
                } else {
                    format!(
                        "invalid duration '{s}'; give a positive number with a unit: 30d, 24h, 90m, 2w or 45s"
                    )
                })
            })
    }
}

/// At least one commit per deployment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MaxCommits(pub usize);

impl<'de> Deserialize<'de> for MaxCommits {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        match usize::deserialize(d)? {
            0 => Err(serde::de::Error::custom(
                "max_commits must be at least 1, e.g. 5000",
            )),
            n => Ok(MaxCommits(n)),
        }
    }
}

impl<'de> Deserialize<'de> for Format {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Format::parse(&s).ok_or_else(|| {
            let all: Vec<&str> = Format::ALL.iter().map(|f| f.as_str()).collect();
            serde::de::Error::custom(format!(
                "invalid format '{s}'; format is one of {}",
                all.join(", ")
            ))
        })
    }
}

/// Loads `explicit` (which must exist) or the first `.dorameter.toml` in
/// `search` (which may not).
pub fn load(explicit: Option<&Path>, search: &[PathBuf]) -> Result<Loaded> {
    let path = match explicit {
        Some(p) => p.to_path_buf(),
        None => match search
            .iter()
            .map(|d| d.join(FILE_NAME))
            .find(|p| p.is_file())
        {
            Some(p) => p,
            None => return Ok(Loaded::default()),
        },
    };
    let text = std::fs::read_to_string(&path).map_err(|e| {
        Error::usage_hint(
            format!("cannot read config file {}: {e}", path.display()),
            "fix the path given to --config (DORAMETER_CONFIG)",
        )
    })?;
    let mut config: Config = toml::from_str(&text).map_err(|e| {
        Error::usage_hint(
            format!("invalid config file {}: {}", path.display(), e.to_string().trim_end()),
            "fix the file (keys: store, sinks, format, service, env, bands, window, attribution_window, lead_time_from, lead_time_source, max_commits, team, [classify] rollforward_subject, [[service]] name, pagerduty and paths, [incident_import] severity) or pass another with --config",
        )
    })?;
    config.split_service();
    let mut names: Vec<&str> = Vec::new();
    for t in &config.services {
        let bad = |why: String| {
            Error::usage_hint(
                format!("invalid config file {}: {why}", path.display()),
                "give each [[service]] table its own name = \"…\"",
            )
        };
        if t.name.trim().is_empty() {
            return Err(bad("a [[service]] has an empty name".into()));
        }
        if names.contains(&t.name.as_str()) {
            return Err(bad(format!("[[service]] '{}' is listed twice", t.name)));
        }
        names.push(&t.name);
    }
    let severities = config.incident_import.iter().flat_map(|i| &i.severity);
    if let Some((k, v)) = severities
        .into_iter()
        .find(|(k, v)| k.trim().is_empty() || v.trim().is_empty())
    {
        return Err(Error::usage_hint(
            format!(
                "invalid config file {}: [incident_import] severity maps '{k}' to '{v}': a severity cannot be empty",
                path.display()
            ),
            "map each source severity to a name, e.g. severity = { P1 = \"sev1\" }",
        ));
    }
    Ok(Loaded {
        config,
        path: Some(path),
        text,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_documented_rollforward_subject_is_the_default() {
        let doc = include_str!("../docs/configuration.md");
        let line = doc
            .lines()
            .find(|l| l.starts_with("rollforward_subject = "))
            .expect("docs/configuration.md shows rollforward_subject");
        let c: Config = toml::from_str(&format!("[classify]\n{line}\n")).unwrap();
        let p = c
            .classify
            .unwrap()
            .rollforward_subject
            .unwrap()
            .into_inner();
        assert_eq!(p.0.unwrap().as_str(), SubjectPattern::DEFAULT);
        let off: Config = toml::from_str("[classify]\nrollforward_subject = \"\"\n").unwrap();
        assert_eq!(
            off.classify
                .unwrap()
                .rollforward_subject
                .unwrap()
                .into_inner()
                .0,
            None
        );
    }

    #[test]
    fn service_is_a_name_or_service_tables() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join(FILE_NAME);
        std::fs::write(
            &p,
            "[[service]]\nname = \"api\"\npagerduty = [\"PIJ90N7\"]\n\n[[service]]\nname = \"web\"\n\n[incident_import]\nseverity = { high = \"sev1\" }\n",
        )
        .unwrap();
        let c = load(None, &[dir.path().to_path_buf()]).unwrap().config;
        assert!(c.service.is_none());
        let names: Vec<(&str, &[String])> = c
            .services
            .iter()
            .map(|t| (t.name.as_str(), t.pagerduty.as_slice()))
            .collect();
        assert_eq!(
            names,
            [("api", &["PIJ90N7".to_string()][..]), ("web", &[][..])]
        );
        assert_eq!(
            c.incident_import
                .unwrap()
                .severity
                .get("high")
                .map(String::as_str),
            Some("sev1")
        );
        // A typo inside a table names the key and its line.
        std::fs::write(&p, "[[service]]\nname = \"api\"\npagerdutty = [\"P1\"]\n").unwrap();
        let e = load(None, &[dir.path().to_path_buf()])
            .unwrap_err()
            .to_string();
        assert!(e.contains("pagerdutty") && e.contains("line 3"), "{e}");
        // Two tables of one name, a table without one.
        for (text, words) in [
            (
                "[[service]]\nname = \"api\"\n[[service]]\nname = \"api\"\n",
                "listed twice",
            ),
            ("[[service]]\nname = \"\"\n", "empty name"),
        ] {
            std::fs::write(&p, text).unwrap();
            let e = load(None, &[dir.path().to_path_buf()])
                .unwrap_err()
                .to_string();
            assert!(e.contains(words), "{e}");
        }
        // Neither a name nor tables.
        std::fs::write(&p, "service = 3\n").unwrap();
        let e = load(None, &[dir.path().to_path_buf()])
            .unwrap_err()
            .to_string();
        assert!(e.contains("service name"), "{e}");
    }

    #[test]
    fn rejects_unknown_keys_with_the_file_and_line() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join(FILE_NAME);
        std::fs::write(&p, "service = \"api\"\nsevrice = \"typo\"\n").unwrap();
        let e = load(None, &[dir.path().to_path_buf()])
            .unwrap_err()
            .to_string();
        assert!(
            e.contains(".dorameter.toml") && e.contains("sevrice") && e.contains("line 2"),
            "{e}"
        );
        std::fs::write(&p, "service = \"api\"\nmax_commits = 10\n").unwrap();
        let loaded = load(None, &[dir.path().to_path_buf()]).unwrap();
        let c = &loaded.config;
        assert_eq!(
            (
                c.service.as_ref().map(|s| s.get_ref().as_str()),
                c.max_commits.as_ref().map(|n| n.get_ref().0),
                loaded.path.clone()
            ),
            (Some("api"), Some(10), Some(p))
        );
        let span = c.max_commits.as_ref().unwrap().span();
        assert_eq!(loaded.line_of(span), 2);
        assert!(load(Some(&dir.path().join("missing.toml")), &[]).is_err());
    }

    #[test]
    fn bad_enums_and_durations_fail_at_load_with_file_and_line() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join(FILE_NAME);
        for (text, line, words) in [
            (
                "service = \"api\"\n\n\nbands = \"dora-2025\"\n",
                "line 4",
                "dora-2025",
            ),
            ("window = \"30 days\"\n", "line 1", "30 days"),
            ("\nformat = \"htlm\"\n", "line 2", "htlm"),
            ("lead_time_from = \"merger\"\n", "line 1", "merger"),
            ("max_commits = 0\n", "line 1", "at least 1"),
            ("attribution_window = \"-1h\"\n", "line 1", "-1h"),
            (
                "window = \"30\"\n",
                "line 1",
                "'30' has no unit; write \"30d\"",
            ),
            ("\nwindow = 30\n", "line 2", "'30' has no unit"),
        ] {
            std::fs::write(&p, text).unwrap();
            let e = load(None, &[dir.path().to_path_buf()])
                .unwrap_err()
                .to_string();
            assert!(
                e.contains(".dorameter.toml") && e.contains(line) && e.contains(words),
                "{text:?}: {e}"
            );
        }
    }
}
